"""Benchmark: C3D feature extraction, the bare model against the full featurize path.

    .venv/bin/python -m bench.c3d_speed [--backend tensorflow|jax] [--batch-size N] [--clips N]
        [--fps F] [--no-mirror] [--videos K] [--workers N] [--jit auto|on|off] [--video PATH]
        [--repeats N] [--out result.json]

In one run, on one device, with one model (random weights unless --weights/--mean are given):
  matmul peak   a large float32 matrix product in the same backend, best of 3 windows: what the
                device can do
  bare model    predict_on_batch on batches already in host memory, compiled, warm-up excluded;
                also as GFLOP/s from the exact per-clip FLOP count of the layer shapes
  producer      decoding and clip building alone (no model): how fast the model could be fed
  full path     extractor.videos_features on real videos (PyAV decode at 128x171, clips, model,
                segment means): --videos copies of one video, decoded at once (one by default;
                a GPU needs several); the video is synthesised and cached unless --video is given
Target: full path >= 0.8x bare model (decoding and clip building overlap the model).
Both clip counts are about --clips: the full path rounds up to whole segments. On a shared
machine, --repeats alternates bare and full path and reports medians.

Runs without TensorFlow when --backend jax (or KERAS_BACKEND=jax): the backend is chosen
before keras is first imported, and only the chosen backend's own package is imported.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import av
import numpy as np

from featurizer.media.video import probe_video

SEGMENT_FRAMES = 128  # 15 snippets a segment at stride 8, about Video2GIF's typical shot
SYNTHETIC_SIZE = (640, 360)  # (width, height): a common web video size
SYNTHETIC_FPS = 25
CACHE = Path(tempfile.gettempdir()) / "gifrank-bench-c3d"
MATMUL_WINDOWS, MATMUL_WINDOW_SEC = 3, 0.7  # the best window: a peak, robust to other load on the machine
TARGET_RATIO = 0.8


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("tensorflow", "jax"),
                        help="Keras backend (default: KERAS_BACKEND, else keras's own)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--clips", type=int, default=48, help="clips for the bare model and (about) the full path")
    parser.add_argument("--fps", type=float, help="full path: resample the video to this rate")
    parser.add_argument("--no-mirror", action="store_true", help="full path: no mirrored clips")
    parser.add_argument("--videos", type=int, default=1, help="full path: videos decoded at once")
    parser.add_argument("--workers", type=int, default=1, help="full path: threads building clips")
    parser.add_argument("--jit", choices=("auto", "on", "off"), default="auto",
                        help="XLA / jax.jit; auto is keras's choice (off for TensorFlow on a CPU, where it is slower)")
    parser.add_argument("--video", type=Path, help="a real video to featurize instead of the synthetic one")
    parser.add_argument("--weights", type=Path, help="published weights (default: random)")
    parser.add_argument("--mean", type=Path, help="the weights' snippet mean")
    parser.add_argument("--repeats", type=int, default=1,
                        help="bare and full path measured this many times, alternating; medians reported")
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    return parser.parse_args(argv)


# ---- the video ----------------------------------------------------------------------------

def synthetic_video(frames: int) -> Path:
    """A cached H.264 video of `frames` frames: a textured scene panning, with a moving block."""
    path = CACHE / f"pan-{SYNTHETIC_SIZE[0]}x{SYNTHETIC_SIZE[1]}-{SYNTHETIC_FPS}fps-{frames}.mp4"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    width, height = SYNTHETIC_SIZE
    rng = np.random.default_rng(0)
    # Smooth texture twice the frame size: panning across it gives real motion vectors.
    texture = rng.integers(0, 256, (height // 8, width // 4, 3), dtype=np.uint8).repeat(16, 0).repeat(8, 1)
    partial = path.with_suffix(".partial.mp4")
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(partial), "w") as container:
        stream = container.add_stream(codec, rate=SYNTHETIC_FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "23"}
        for index in range(frames):
            top = int((height / 2) * (1 + math.sin(index / 40)))
            left = (index * 3) % width
            frame = texture[top:top + height, left:left + width].copy()
            block = (index * 7) % (width - 64)
            frame[height // 3:height // 3 + 64, block:block + 64] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.rename(path)
    return path


def clips_per_segment(mirror: bool) -> int:
    return ((SEGMENT_FRAMES - 16) // 8 + 1) * (2 if mirror else 1)


def featurize_segments(video: Path, clips: int, mirror: bool, fps: float | None) -> list[tuple[int, int]]:
    """Consecutive segments covering about `clips` clips (fewer if the video is shorter).

    With resampling, a segment spans more decoded frames, so that it keeps SEGMENT_FRAMES.
    """
    info = probe_video(video)
    span = int(round(SEGMENT_FRAMES * max(1.0, info.fps / fps))) if fps else SEGMENT_FRAMES
    wanted = math.ceil(clips / clips_per_segment(mirror))
    available = (info.num_frames or int((info.duration_sec or 0) * info.fps)) // span
    return [(k * span, (k + 1) * span) for k in range(min(wanted, available))]


def synthetic_frames_for(clips: int, mirror: bool, fps: float | None) -> int:
    span = int(round(SEGMENT_FRAMES * max(1.0, SYNTHETIC_FPS / fps))) if fps else SEGMENT_FRAMES
    return math.ceil(clips / clips_per_segment(mirror)) * span


# ---- measurements -------------------------------------------------------------------------

def matmul_peak_gflops(keras, n: int) -> float:
    """float32 n x n products back to back, synchronised by reading one element back."""
    a = keras.random.normal((n, n), seed=1)
    b = keras.random.normal((n, n), seed=2)
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[0, 0])  # compile and warm up
    best = 0.0
    for _ in range(MATMUL_WINDOWS):
        products, start = 0, time.perf_counter()
        while time.perf_counter() - start < MATMUL_WINDOW_SEC:
            keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[0, 0])
            products += 1
        best = max(best, 2 * n ** 3 * products / (time.perf_counter() - start) / 1e9)
    return best


def bare_model_clips_per_sec(extractor, clip_shape, batch_size: int, clips: int) -> float:
    batch = np.random.default_rng(0).normal(0, 50, (batch_size, *clip_shape)).astype(np.float32)
    extractor.model.predict_on_batch(batch)  # compile and warm up
    calls = max(1, math.ceil(clips / batch_size))
    start = time.perf_counter()
    for _ in range(calls):
        extractor.model.predict_on_batch(batch)
    return calls * batch_size / (time.perf_counter() - start)


def producer_clips_per_sec(extractor, videos, options) -> float:
    start = time.perf_counter()
    clips = sum(len(ids) for _, ids in extractor.iter_clip_batches(videos, options))
    return clips / (time.perf_counter() - start)


def full_path_clips_per_sec(extractor, videos, options) -> tuple[float, int]:
    start = time.perf_counter()
    results = extractor.videos_features(videos, options)
    clips = sum(int(result.clip_counts.sum()) for result in results)
    return clips / (time.perf_counter() - start), clips


# ---- where it ran -------------------------------------------------------------------------

def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def model_device(keras, model) -> tuple[str, str]:
    """("cpu" or "gpu", a description) of the device holding the model's weights: where it runs."""
    value = model.weights[0].value
    if keras.backend.backend() == "jax":
        device = next(iter(value.devices()))
        if device.platform == "cpu":
            return "cpu", f"jax cpu: {cpu_name()}"
        return "gpu", f"jax {device.platform}: {device.device_kind}"
    if "GPU" in value.device.upper():
        import tensorflow as tf  # only reached on the TensorFlow backend
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        return "gpu", f"{value.device}: {details.get('device_name', 'GPU')}"
    return "cpu", f"{value.device}: {cpu_name()}"


# ---- run ------------------------------------------------------------------------------------

def run(args) -> dict:
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend  # read once, when keras is first imported
    import keras  # after the backend is chosen: importing keras fixes it

    from featurizer.c3d import CLIP_SHAPE, ClipOptions, layer_flops, load_c3d_extractor

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="C3D has no weights")  # random weights are the point here
        extractor = load_c3d_extractor(args.weights, args.mean)
    if args.jit != "auto":
        extractor.model.jit_compile = args.jit == "on"
    device_kind, device = model_device(keras, extractor.model)
    flops = layer_flops(extractor.model)
    gflop_per_clip = sum(flops.values()) / 1e9

    mirror = not args.no_mirror
    per_video = math.ceil(args.clips / args.videos)
    video = args.video or synthetic_video(synthetic_frames_for(per_video, mirror, args.fps))
    segments = featurize_segments(video, per_video, mirror, args.fps)
    if not segments:
        raise SystemExit(f"{video} is shorter than one {SEGMENT_FRAMES}-frame segment")
    videos = [(video, segments)] * args.videos
    options = ClipOptions(fps=args.fps, mirror=mirror, batch_size=args.batch_size, decoders=args.videos,
                          workers=args.workers)

    matmul = matmul_peak_gflops(keras, 4096 if device_kind == "cpu" else 8192)
    producer = producer_clips_per_sec(extractor, videos, options)
    # Alternating, so that load from elsewhere on the machine falls on both alike.
    bares, fulls = [], []
    for _ in range(args.repeats):
        bares.append(bare_model_clips_per_sec(extractor, CLIP_SHAPE, args.batch_size, args.clips))
        full_rate, full_clips = full_path_clips_per_sec(extractor, videos, options)
        fulls.append(full_rate)
    ratios = [full / bare for full, bare in zip(fulls, bares)]
    bare, full = float(np.median(bares)), float(np.median(fulls))
    return {
        "backend": keras.backend.backend(), "device": device, "jit_compile": bool(extractor.model.jit_compile),
        "model": extractor.name, "batch_size": args.batch_size, "videos": args.videos, "workers": args.workers,
        "mirror": mirror, "fps": args.fps, "video": str(video), "segments": len(segments) * args.videos,
        "gflop_per_clip": gflop_per_clip, "gflop_per_layer": {k: v / 1e9 for k, v in flops.items()},
        "matmul_peak_gflops": matmul, "bare_clips_per_sec": bare, "bare_gflops": bare * gflop_per_clip,
        "producer_clips_per_sec": producer, "full_path_clips": full_clips, "full_path_clips_per_sec": full,
        "full_over_bare": float(np.median(ratios)), "repeats": args.repeats,
        "bare_each": bares, "full_path_each": fulls, "full_over_bare_each": ratios,
    }


def report(result: dict) -> str:
    layers = ", ".join(f"{name} {gflop:.2f}" for name, gflop in result["gflop_per_layer"].items())
    return "\n".join([
        f"backend {result['backend']}, jit_compile={result['jit_compile']}, device {result['device']}",
        f"model {result['model']}, batch {result['batch_size']}, mirror {result['mirror']}, fps {result['fps']}, "
        f"videos decoded at once {result['videos']}, clip workers {result['workers']}",
        f"C3D to fc6: {result['gflop_per_clip']:.3f} GFLOP per clip ({layers})",
        f"matmul peak (float32):  {result['matmul_peak_gflops']:9.1f} GFLOP/s",
        f"bare model:             {result['bare_clips_per_sec']:9.2f} clips/s  = {result['bare_gflops']:.1f} GFLOP/s "
        f"({result['bare_gflops'] / result['matmul_peak_gflops']:.0%} of the matmul peak)",
        f"producer (no model):    {result['producer_clips_per_sec']:9.2f} clips/s",
        f"full path:              {result['full_path_clips_per_sec']:9.2f} clips/s  "
        f"({result['full_path_clips']} clips, {result['segments']} segments, {result['videos']} x {result['video']})",
        f"full path / bare:       {result['full_over_bare']:9.2f}   (target >= {TARGET_RATIO}; median of "
        f"{result['repeats']}: {', '.join(f'{r:.2f}' for r in result['full_over_bare_each'])})",
    ])


def main(argv=None):
    args = parse_args(argv)
    result = run(args)
    print(report(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
