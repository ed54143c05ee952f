"""Benchmark: the featurize pipeline's one GPU step against the bare model, and against the path it replaced.

    .venv/bin/python -m bench.featurize_speed [--frames 400] [--batch-size 16] [--no-mirror] [--fps F]
        [--videos 1] [--decode-processes 0] [--repeats 3] [--out result.json]

In one run, on one device, with one random-weights C3D:
  bare model        predict_on_batch on float32 clips already in memory: what the model alone does
  one step          VideoFeaturizer.featurize, as the pipeline's RunInference step runs it: decode,
                    shots, segments, uint8 windows to the model, which crops, subtracts the mean and
                    mirrors on the device (the --videos copies of one video in one call)
  snippet elements  the path of gifrank 0.1: decode and segment the same way, then each snippet
                    built into float32 clips with numpy (preprocess.write_clip) and sent to the model
                    as it was by the per-snippet RunInference step (the Beam transport left out)
Figures are clips (model inputs, mirror images included) per second; one step and snippet
elements featurize the same segments of the same decode. Targets: one step >= 0.8x bare model
on a GPU; one step no slower than snippet elements on a CPU. --repeats alternates the paths and
reports medians (these machines are noisy).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np

from bench.c3d_speed import cpu_name, synthetic_video
from bench.report import emit_json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=400, help="frames of the synthetic video (25 fps)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-mirror", action="store_true")
    parser.add_argument("--fps", type=float, help="resample to this rate before C3D")
    parser.add_argument("--videos", type=int, default=1, help="videos in one featurize call")
    parser.add_argument("--decode-processes", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out")
    return parser.parse_args(argv)


def snippet_elements_clips(extractor, video: str, settings) -> tuple[int, float]:
    """gifrank 0.1's path: decode and segment, then numpy-built float32 clips per snippet batch."""
    from featurizer.c3d.preprocess import CLIP_SHAPE, crop, to_channel_order, write_clip
    from featurizer.c3d.video_decode import decode_segments

    start = time.perf_counter()
    decoded = decode_segments(video, max_segment_sec=settings.max_segment_sec, c3d_fps=settings.fps)
    versions = (False, True) if settings.mirror else (False,)
    mean_crop = crop(extractor.mean)
    clips = 0
    with decoded.frames:
        windows = [w for s in decoded.segments for w in decoded.frames.snippets(s, settings.stride)]
        for begin in range(0, len(windows), settings.batch_size):
            batch = windows[begin:begin + settings.batch_size]
            prepared = np.empty((len(batch) * len(versions), *CLIP_SHAPE), np.float32)
            for i, frames in enumerate(batch):
                window = to_channel_order(np.array(frames, np.uint8), extractor.channel_order)
                for v, mirrored in enumerate(versions):
                    write_clip(window, mean_crop, prepared[i * len(versions) + v], mirrored)
            extractor.clip_features(prepared, settings.batch_size * len(versions))
            clips += len(prepared)
    return clips, time.perf_counter() - start


def one_step_clips(featurizer, sources) -> tuple[int, float]:
    start = time.perf_counter()
    results = featurizer.featurize(sources)
    elapsed = time.perf_counter() - start
    per_snippet = 2 if featurizer.settings.mirror else 1
    return sum(int(r.snippets.sum()) for r in results) * per_snippet, elapsed


def bare_model_clips(extractor, batch_size: int, clips: int) -> tuple[int, float]:
    from featurizer.c3d.preprocess import CLIP_SHAPE

    batch = np.random.default_rng(0).standard_normal((batch_size, *CLIP_SHAPE)).astype(np.float32)
    extractor.clip_features(batch, batch_size)  # compile and warm up
    calls = max(1, clips // batch_size)
    start = time.perf_counter()
    for _ in range(calls):
        extractor.clip_features(batch, batch_size)
    return calls * batch_size, time.perf_counter() - start


def run(args) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=".*random")
    from featurizer.c3d import load_c3d_extractor
    from featurizer.c3d.video_features import FeatureSettings, LocalVideo, VideoFeaturizer

    extractor = load_c3d_extractor()
    settings = FeatureSettings(fps=args.fps, mirror=not args.no_mirror, batch_size=args.batch_size)
    video = str(synthetic_video(args.frames))
    featurizer = VideoFeaturizer(extractor, settings, args.decode_processes)
    sources = [LocalVideo(video)] * args.videos
    one_step_clips(featurizer, sources[:1])  # warm up: compiles the window model
    runs = {"bare_model": [], "one_step": [], "snippet_elements": []}
    clips_seen = {}
    for _ in range(args.repeats):
        for name, measure in (("one_step", lambda: one_step_clips(featurizer, sources)),
                              ("snippet_elements", lambda: snippet_elements_clips(extractor, video, settings)),
                              ("bare_model", lambda: bare_model_clips(extractor, settings.batch_size,
                                                                      clips_seen.get("one_step", 64)))):
            clips, seconds = measure()
            clips_seen[name] = clips
            runs[name].append(clips / seconds)
    featurizer.close()
    median = {name: statistics.median(values) for name, values in runs.items()}
    import keras

    return {
        "device": cpu_name(), "backend": keras.backend.backend(), "video_frames": args.frames,
        "videos_per_call": args.videos, "decode_processes": args.decode_processes, "mirror": settings.mirror,
        "fps": args.fps, "batch_size": args.batch_size, "clips": clips_seen,
        "clips_per_sec_runs": runs, "clips_per_sec_median": median,
        "one_step_vs_bare_model": median["one_step"] / median["bare_model"],
        "one_step_vs_snippet_elements": median["one_step"] / median["snippet_elements"],
    }


def main(argv=None):
    args = parse_args(argv)
    emit_json(run(args), args.out)


if __name__ == "__main__":
    main()
