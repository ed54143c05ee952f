"""Benchmark: gifrank predict on a 5-minute video against featurizing it, and the loops it picks.

    .venv/bin/python -m bench.predict_speed [--minutes 5] [--fps 8] [--top 3] [--repeats 2] [--out F]

In one run, with one C3D (random weights) and one tiny exported ranker:
  featurize  VideoFeaturizer.featurize on the video: one decode (shots, segments, C3D's
             frames) and C3D, what the featurize pipeline does per video
  predict    pipelines.commands.predict.predict_video: the same, then scoring, one more
             decode of the chosen segments' frames, loop picking and GIF writing (and the
             file's sha256, which names its folder, and the GIFs' copy into it)
Target: predict <= 2x featurize. The video is the demo world's footage looped to --minutes
(real scenes and cuts). Loops: for every segment of the demo world's videos, the picked loop's
jump (last frame to first, 0 to 1) against the segment's own boundaries.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np

from bench.report import emit_json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--fps", type=float, default=8.0, help="C3D's frame rate, as the demo (default: 8)")
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out")
    return parser.parse_args(argv)


def looped_video(source: str, seconds: float, path: str) -> str:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", "-1", "-i", source,
                    "-t", f"{seconds:g}", "-c", "copy", path], check=True)
    return path


def loop_jumps(world, featurizer) -> dict:
    """The picked loop's jump against the naive one, over every segment of the world's videos."""
    from featurizer.c3d.video_features import LocalVideo
    from featurizer.gifs.best import segment_frames
    from featurizer.gifs.loops import seamless_loop
    from featurizer.gifs.writer import frame_step

    picked, naive = [], []
    for video in world.videos:
        path = str(world.video_path(video["video_id"]))
        [result] = featurizer.featurize([LocalVideo(path)])
        step = frame_step(result.fps)
        for frames in segment_frames(path, result.segments, step).values():
            loop = seamless_loop(frames)
            picked.append(loop.jump)
            naive.append(loop.naive_jump)
    picked, naive = np.array(picked), np.array(naive)
    return {"segments": len(picked), "mean_jump_picked": float(picked.mean()), "mean_jump_naive": float(naive.mean()),
            "median_jump_picked": float(np.median(picked)), "median_jump_naive": float(np.median(naive)),
            "share_of_segments_improved": float((picked < naive).mean())}


def run(args) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from demo_world.world import WorldConfig, build_world
    from featurizer.c3d import load_c3d_extractor
    from featurizer.c3d.video_features import FeatureSettings, LocalVideo, VideoFeaturizer
    from pipelines.commands.predict import predict_video
    from trainer.export import export_model
    from trainer.job_dir import JobDir
    from trainer.model import Architecture, build_scorer
    from trainer.scoring import open_scorer

    with tempfile.TemporaryDirectory(prefix="gifrank-bench-predict-") as work:
        world = build_world(os.path.join(work, "world"), WorldConfig(num_videos=6))
        video = looped_video(str(world.video_path(world.videos[0]["video_id"])), 60 * args.minutes,
                             os.path.join(work, "long.mp4"))
        arch = Architecture(hidden_units=(32, 8))
        job = JobDir(os.path.join(work, "job"))
        export_model(build_scorer(arch, 0), arch, job)
        ranker = open_scorer(job.model.uri)
        settings = FeatureSettings(fps=args.fps, stride=16, mirror=False, max_video_sec=None)
        featurizer = VideoFeaturizer(load_c3d_extractor(None, None), settings)
        featurizer.featurize([LocalVideo(video)])  # warm-up: the model's first calls compile
        times = {"featurize": [], "predict": []}
        for r in range(args.repeats):
            started = time.perf_counter()
            [result] = featurizer.featurize([LocalVideo(video)])
            times["featurize"].append(time.perf_counter() - started)
            started = time.perf_counter()
            predictions = predict_video(video, featurizer, ranker, args.top, os.path.join(work, f"out-{r}"))
            times["predict"].append(time.perf_counter() - started)
        median = {k: statistics.median(v) for k, v in times.items()}
        return {"video_sec": 60 * args.minutes, "segments": len(result.segments), "c3d_fps": args.fps,
                "top": args.top, "seconds_runs": times, "seconds_median": median,
                "predict_vs_featurize": median["predict"] / median["featurize"], "target": 2.0,
                "gifs": [{k: g[k] for k in ("start_sec", "end_sec", "loop_jump", "naive_loop_jump")}
                         for g in predictions["gifs"]],
                "loops_on_demo_world": loop_jumps(world, featurizer)}


def main(argv=None):
    args = parse_args(argv)
    emit_json(run(args), args.out)


if __name__ == "__main__":
    main()
