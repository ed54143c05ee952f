"""Benchmark: alignment throughput against plain decoding, on one 5-minute 640x360 25 fps video.

    .venv/bin/python -m bench.align_speed [--repeats 3] [--out result.json]

In one run, on the same video and its 10 GIFs (a demo-world video, cached in /tmp):
  decode-only   OpenCV VideoCapture reading every frame (the reference),
  align         featurizer.align.aligner: index the video (decode at reduced size + hash) and
                align all 10 GIFs; matching timed on its own,
  gifrank align the command line end to end (process start included),
  naive         imagehash.phash per frame in a Python loop over OpenCV frames.
Targets: align >= 0.85x decode-only frames/s; matching <= 5% of the align time.
The first three run --repeats times, interleaved (each align run indexes the video afresh and
matches every GIF once); the report gives each run's figures and their medians, since these
machines are noisy.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import imagehash
from PIL import Image

from bench.report import emit_json
from demo_world.world import WorldConfig, build_world
from featurizer.align import aligner as align
from featurizer.media.gif import read_gif

WORLD = WorldConfig(seed=11, num_videos=1, min_duration_sec=300.0, max_duration_sec=300.0, width=640,
                    height=360, gifs_per_video_min=10, gifs_per_video_max=10)
CACHE = Path(tempfile.gettempdir()) / "gifrank-bench-align-world"


def decode_only(video: Path) -> tuple[int, float]:
    start = time.perf_counter()
    capture = cv2.VideoCapture(str(video))
    frames = 0
    while capture.grab():
        capture.retrieve()
        frames += 1
    capture.release()
    return frames, time.perf_counter() - start


def naive_phash(video: Path) -> tuple[int, float]:
    start = time.perf_counter()
    capture = cv2.VideoCapture(str(video))
    frames = 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        imagehash.phash(Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        frames += 1
    capture.release()
    return frames, time.perf_counter() - start


def library_align(video: Path, gifs: list[Path]) -> dict:
    gif_frames = [read_gif(g) for g in gifs]  # decoded up front: matching is timed on its own
    start = time.perf_counter()
    index = align.index_video(str(video))
    indexed = time.perf_counter()
    results = [align.align_gif(index, g) for g in gif_frames]
    matched = time.perf_counter()
    return {"index_sec": indexed - start, "match_sec": matched - indexed, "frames": index.num_frames,
            "aligned": sum(r.aligned for r in results), "results": results}


def cli_align(video: Path, gifs: list[Path]) -> float:
    command = [sys.executable, "-m", "pipelines.cli", "align", "--video", str(video)]
    for gif in gifs:
        command += ["--gif", str(gif)]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of decode-only, align and the CLI")
    parser.add_argument("--out", help="also write the JSON result here")
    args = parser.parse_args(argv)
    world = build_world(CACHE, WORLD)
    video_entry = world.videos[0]
    video = world.video_path(video_entry["video_id"])
    gifs = [world.gif_path(g["gif_id"]) for g in world.gifs]

    runs = []
    for _ in range(args.repeats):
        frames, decode_sec = decode_only(video)
        timing = library_align(video, gifs)
        align_sec = timing["index_sec"] + timing["match_sec"]
        cli_sec = cli_align(video, gifs)
        errors = [abs(r.start_sec - g["truth"]["start_sec"])
                  for r, g in zip(timing["results"], world.gifs) if r.aligned]
        runs.append({
            "decode_only_opencv_fps": round(frames / decode_sec, 1),
            "align_fps": round(timing["frames"] / align_sec, 1),
            "align_vs_decode_only": round((timing["frames"] / align_sec) / (frames / decode_sec), 3),
            "index_sec": round(timing["index_sec"], 3), "match_sec": round(timing["match_sec"], 3),
            "match_share": round(timing["match_sec"] / align_sec, 4),
            "cli_wall_sec": round(cli_sec, 2), "cli_vs_decode_only": round(decode_sec / cli_sec, 3),
            "gifs_aligned": timing["aligned"],
            "start_mae_sec": round(sum(errors) / len(errors), 4) if errors else None,
        })
    naive_frames, naive_sec = naive_phash(video)
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0] if runs[0][key] is not None}
    report = {
        "video": {"frames": frames, "size": f"{video_entry['width']}x{video_entry['height']}",
                  "fps": video_entry["fps"], "gifs": len(gifs)},
        "median": median,
        "runs": runs,
        "naive_imagehash_fps": round(naive_frames / naive_sec, 1),
        "align_vs_naive": round(median["align_fps"] / (naive_frames / naive_sec), 1),
        "targets": "align_vs_decode_only >= 0.85 and match_share <= 0.05 (medians)",
    }
    emit_json(report, args.out)
    return report


if __name__ == "__main__":
    main()
