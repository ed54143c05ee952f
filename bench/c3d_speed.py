"""Benchmark: C3D features as the featurize pipeline computes them, against the bare model.

    .venv/bin/python -m bench.c3d_speed [--backend tensorflow|jax] [--jit auto|on|off] [--batch-size 16]
        [--frames 400 | --video PATH] [--videos 1] [--decode-processes 0] [--fps F] [--no-mirror]
        [--repeats 3] [--snippet-elements] [--weights W --mean M] [--out result.json]

In one run, on one device, with one model (random weights unless --weights/--mean are given):
  matmul peak       a large float32 matrix product in the same backend, best of 3 windows: what
                    the device can do
  bare model        predict_on_batch on float32 clips already in host memory, as many clips per
                    call as the step's model calls take (--batch-size snippets, twice that with
                    mirror images), compiled, warm-up excluded; also as GFLOP/s from the exact
                    per-clip FLOP count of the layer shapes (model.layer_flops)
  one step          VideoFeaturizer.featurize, as the pipeline's C3D step runs it, on --videos
                    copies of one video in one call: decode once (shots, segments, C3D's frames,
                    --decode-processes worker processes), uint8 16-frame windows to the model,
                    which crops, subtracts the mean and mirrors on its device, segment means
  snippet elements  (--snippet-elements) gifrank 0.1's path: the same decode and segments, then
                    float32 clips built per snippet with numpy on the host (0.1's preparation,
                    kept here) and sent to the bare model in batches padded to one shape
Figures are clips (model inputs, mirror images included) per second. The video is synthesised
(640x360 H.264, --frames frames at 25 fps) and cached unless --video is given. Target: one step
>= 0.8x bare model. --repeats alternates the paths (one step, then the bare model) and reports
medians: one_step_vs_bare_model is the median of each repeat's ratio, the pairs measured back to
back (these machines are noisy); one_step_vs_bare_model_of_medians the ratio of the medians. The
figures go to stdout as JSON (and to --out); a summary to stderr.

Runs without TensorFlow when --backend jax (or KERAS_BACKEND=jax): the backend is chosen
before keras is first imported, and only the chosen backend's own package is imported.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import av
import numpy as np

from bench.report import emit_json

SYNTHETIC_SIZE = (640, 360)  # (width, height): a common web video size
SYNTHETIC_FPS = 25
WARM_UP_FRAMES = 48
CACHE = Path(tempfile.gettempdir()) / "gifrank-bench-c3d"
MATMUL_WINDOWS, MATMUL_WINDOW_SEC = 3, 0.7  # the best window: a peak, robust to other load on the machine
TARGET_RATIO = 0.8


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("tensorflow", "jax"),
                        help="Keras backend (default: KERAS_BACKEND, else keras's own)")
    parser.add_argument("--jit", choices=("auto", "on", "off"), default="auto",
                        help="XLA / jax.jit for both models; auto is keras's choice (off for TensorFlow on a CPU)")
    parser.add_argument("--batch-size", type=int, default=16, help="snippets per model call")
    parser.add_argument("--frames", type=int, default=400, help="frames of the synthetic video (25 fps)")
    parser.add_argument("--video", type=Path, help="a real video to featurize instead of the synthetic one")
    parser.add_argument("--videos", type=int, default=1, help="copies of the video in one featurize call")
    parser.add_argument("--decode-processes", type=int, default=0,
                        help="worker processes decoding beside the model (0: in the model's process)")
    parser.add_argument("--fps", type=float, help="resample to this rate before C3D")
    parser.add_argument("--no-mirror", action="store_true", help="no mirror images")
    parser.add_argument("--repeats", type=int, default=3, help="each path measured this many times, alternating")
    parser.add_argument("--snippet-elements", action="store_true", help="also measure gifrank 0.1's path")
    parser.add_argument("--weights", type=Path, help="published weights (default: random)")
    parser.add_argument("--mean", type=Path, help="the weights' snippet mean")
    parser.add_argument("--out", help="also write the JSON here")
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
    partial = path.with_suffix(f".{os.getpid()}.partial.mp4")
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(partial), "w") as container:
        stream = container.add_stream(codec, rate=SYNTHETIC_FPS)
        assert isinstance(stream, av.video.stream.VideoStream)  # a video codec gives one
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


def bare_model(extractor, clip_shape, batch_clips: int, clips: int) -> tuple[int, float]:
    """(clips, seconds) of predict_on_batch on one host batch, called for about `clips` clips."""
    batch = np.random.default_rng(0).normal(0, 50, (batch_clips, *clip_shape)).astype(np.float32)
    extractor.model.predict_on_batch(batch)  # compile and warm up
    calls = max(1, math.ceil(clips / batch_clips))
    start = time.perf_counter()
    for _ in range(calls):
        np.asarray(extractor.model.predict_on_batch(batch))
    return calls * batch_clips, time.perf_counter() - start


def one_step(featurizer, sources) -> tuple[int, float, list]:
    """(clips, seconds, results) of one featurize call."""
    start = time.perf_counter()
    results = featurizer.featurize(sources)
    elapsed = time.perf_counter() - start
    failed = [r for r in results if not hasattr(r, "snippets")]
    if failed:
        raise SystemExit(f"featurize failed: {failed[0]}")
    per_snippet = 2 if featurizer.settings.mirror else 1
    return sum(int(r.snippets.sum()) for r in results) * per_snippet, elapsed, results


def snippet_elements(extractor, video: str, settings, copies: int) -> tuple[int, float]:
    """gifrank 0.1's path: decode and segment, then numpy-built float32 clips per snippet batch."""
    from featurizer.c3d.extractor import padded_batch
    from featurizer.c3d.preprocess import CLIP_SHAPE, crop
    from featurizer.c3d.video_decode import decode_segments

    start = time.perf_counter()
    versions = 2 if settings.mirror else 1
    mean_crop = crop(extractor.mean)
    clips = 0
    for _ in range(copies):
        decoded = decode_segments(video, max_segment_sec=settings.max_segment_sec, c3d_fps=settings.fps)
        with decoded.frames:
            windows = [w for s in decoded.segments for w in decoded.frames.snippets(s, settings.stride)]
            for begin in range(0, len(windows), settings.batch_size):
                batch = windows[begin:begin + settings.batch_size]
                prepared = np.empty((len(batch) * versions, *CLIP_SHAPE), np.float32)
                for i, window in enumerate(batch):
                    host_clips(window, extractor.channel_order, mean_crop, prepared[i * versions:(i + 1) * versions])
                extractor.model.predict_on_batch(padded_batch(prepared, settings.batch_size * versions))
                clips += len(prepared)
    return clips, time.perf_counter() - start


def host_clips(window: np.ndarray, channel_order: str, mean_crop: np.ndarray, out: np.ndarray) -> None:
    """0.1's preparation of one snippet (16, 128, 171, 3) uint8 RGB into out (1 or 2 clips, float32):
    centre crop in the weights' channel order, snippet mean off; out[1], if any, its mirror image."""
    from featurizer.c3d.preprocess import RGB, crop

    cropped = crop(window)
    if channel_order != RGB:
        cropped = cropped[..., ::-1]
    np.subtract(cropped, mean_crop, out=out[0], dtype=np.float32)
    if len(out) == 2:
        np.copyto(out[1], out[0][:, :, ::-1])


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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from featurizer.c3d import CLIP_SHAPE, layer_flops, load_c3d_extractor  # imports keras: after the backend
    from featurizer.c3d.video_features import FeatureSettings, LocalVideo, VideoFeaturizer

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="C3D has no weights")  # random weights are the point here
        extractor = load_c3d_extractor(args.weights, args.mean)
    mirror = not args.no_mirror
    settings = FeatureSettings(fps=args.fps, mirror=mirror, batch_size=args.batch_size, max_video_sec=None)
    if args.jit != "auto":
        for model in (extractor.model, extractor.window_model(mirror)):
            model.jit_compile = args.jit == "on"
    device_kind, device = model_device(keras, extractor.model)
    flops = layer_flops(extractor.model)
    gflop_per_clip = sum(flops.values()) / 1e9
    batch_clips = args.batch_size * (2 if mirror else 1)  # what one model call of the step takes

    video = str(args.video or synthetic_video(args.frames))
    sources = [LocalVideo(video)] * args.videos
    featurizer = VideoFeaturizer(extractor, settings, args.decode_processes)
    try:
        # Warm-up: compiles the window model and starts the decoding processes.
        featurizer.featurize([LocalVideo(str(synthetic_video(WARM_UP_FRAMES)))] * max(1, args.videos))
        matmul = matmul_peak_gflops(keras, 4096 if device_kind == "cpu" else 8192)
        runs: dict[str, list[float]] = {"one_step": [], "bare_model": []}
        if args.snippet_elements:
            runs["snippet_elements"] = []
        clips = {}
        # Alternating, so that load from elsewhere on the machine falls on all alike.
        for _ in range(args.repeats):
            step_clips, seconds, results = one_step(featurizer, sources)
            clips["one_step"] = step_clips
            runs["one_step"].append(step_clips / seconds)
            n, seconds = bare_model(extractor, CLIP_SHAPE, batch_clips, step_clips)
            clips["bare_model"] = n
            runs["bare_model"].append(n / seconds)
            if args.snippet_elements:
                n, seconds = snippet_elements(extractor, video, settings, args.videos)
                clips["snippet_elements"] = n
                runs["snippet_elements"].append(n / seconds)
    finally:
        featurizer.close()
    median = {name: statistics.median(values) for name, values in runs.items()}
    # Each repeat's one step over the bare model just before it: load from elsewhere on the machine
    # drifts, and a pair measured back to back shares most of it.
    paired = [step / bare for step, bare in zip(runs["one_step"], runs["bare_model"])]
    result = {
        "backend": keras.backend.backend(), "device": device,
        "jit_compile": bool(extractor.window_model(mirror).jit_compile), "model": extractor.name,
        "batch_size": args.batch_size, "bare_batch_clips": batch_clips, "mirror": mirror, "fps": args.fps,
        "videos": args.videos, "decode_processes": args.decode_processes, "video": video,
        "cpu_count": os.cpu_count(),
        "segments": sum(len(r.segments) for r in results), "snippets": int(sum(r.snippets.sum() for r in results)),
        "clips": clips, "gflop_per_clip": gflop_per_clip, "gflop_per_layer": {k: v / 1e9 for k, v in flops.items()},
        "matmul_peak_gflops": matmul,
        "bare_model_clips_per_sec": median["bare_model"], "bare_model_gflops": median["bare_model"] * gflop_per_clip,
        "one_step_clips_per_sec": median["one_step"], "one_step_gflops": median["one_step"] * gflop_per_clip,
        "one_step_vs_bare_model": statistics.median(paired), "target": TARGET_RATIO,
        "one_step_vs_bare_model_each": paired,
        "one_step_vs_bare_model_of_medians": median["one_step"] / median["bare_model"],
        "repeats": args.repeats, "clips_per_sec_runs": runs,
    }
    if args.snippet_elements:
        result["snippet_elements_clips_per_sec"] = median["snippet_elements"]
        result["one_step_vs_snippet_elements"] = median["one_step"] / median["snippet_elements"]
    return result


def summary(result: dict) -> str:
    layers = ", ".join(f"{name} {gflop:.2f}" for name, gflop in result["gflop_per_layer"].items())
    lines = [
        f"backend {result['backend']}, jit_compile={result['jit_compile']}, device {result['device']}",
        f"model {result['model']}, batch {result['batch_size']} snippets ({result['bare_batch_clips']} clips), "
        f"mirror {result['mirror']}, fps {result['fps']}, {result['videos']} x {result['video']}, "
        f"decode processes {result['decode_processes']}",
        f"C3D to fc6: {result['gflop_per_clip']:.3f} GFLOP per clip ({layers})",
        f"matmul peak (float32): {result['matmul_peak_gflops']:9.1f} GFLOP/s",
        f"bare model:            {result['bare_model_clips_per_sec']:9.2f} clips/s = "
        f"{result['bare_model_gflops']:.1f} GFLOP/s ({result['bare_model_gflops'] / result['matmul_peak_gflops']:.0%}"
        " of the matmul peak)",
        f"one step:              {result['one_step_clips_per_sec']:9.2f} clips/s = {result['one_step_gflops']:.1f} "
        f"GFLOP/s ({result['clips']['one_step']} clips, {result['snippets']} snippets, {result['segments']} segments)",
    ]
    if "snippet_elements_clips_per_sec" in result:
        lines.append(f"snippet elements:      {result['snippet_elements_clips_per_sec']:9.2f} clips/s "
                     f"(one step / snippet elements {result['one_step_vs_snippet_elements']:.2f})")
    each = ", ".join(f"{r:.2f}" for r in result["one_step_vs_bare_model_each"])
    lines.append(f"one step / bare model: {result['one_step_vs_bare_model']:9.2f}   (target >= {TARGET_RATIO}; "
                 f"median of {result['repeats']} pairs: {each}; medians' ratio "
                 f"{result['one_step_vs_bare_model_of_medians']:.2f})")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    result = run(args)
    emit_json(result, args.out)
    print(summary(result), file=sys.stderr)


if __name__ == "__main__":
    main()
