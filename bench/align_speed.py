"""Benchmark: alignment throughput against plain decoding, on a 7-minute video and on a turned HD source.

    .venv/bin/python -m bench.align_speed [--repeats 3] [--cases video_7min,turned_hd] [--out result.json]

Two cases, each a video and GIFs made from it (built once, cached in /tmp):
  video_7min   a demo-world video, 7 minutes of 640x360 at 25 fps, and its 10 GIFs;
  turned_hd    a phone-style source: 60 s of real 1280x720 footage (bigbuckbunny, looped under a slow pan
               so no loop repeats a picture) stored turned a quarter with a display matrix that shows it
               upright (demo_world.source_formats "turned_90"), and 3 GIFs of what players show.
For each case, in one run:
  decode-only   OpenCV VideoCapture reading every frame (the reference; it applies the display matrix too,
                so on the turned source it pays for the turn, as gifrank does),
  align         featurizer.align.aligner: index the video (decode at thumbnail size + hash) and
                align all its GIFs; matching timed on its own,
  gifrank align the command line end to end (process start included),
and for video_7min only, naive: imagehash.phash per frame in a Python loop over OpenCV frames.
Targets: align >= 1.0x decode-only (decode seconds / align seconds) in both cases; matching <= 5% of
the align time on video_7min. decode-only, align and the CLI run --repeats times, interleaved, case after
case (each align run indexes the video afresh and matches every GIF once); the report gives each run's
figures and their medians, since these machines are noisy, and CPU seconds beside wall seconds
(align_vs_decode_only_cpu: decode-only CPU seconds / align CPU seconds, all threads; on a loaded machine
the steadier of the two, as wall time is then the scheduler's share).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import imagehash
from PIL import Image

from bench.report import emit_json
from demo_world.gifmaker import render_gif
from demo_world.source_formats import encode_source
from demo_world.videos import ffmpeg_exe, footage_dir, run_ffmpeg
from demo_world.world import WorldConfig, build_world
from featurizer.align import aligner as align
from featurizer.media.gif import read_gif

WORLD = WorldConfig(seed=11, num_videos=1, min_duration_sec=420.0, max_duration_sec=420.0, width=640,
                    height=360, gifs_per_video_min=10, gifs_per_video_max=10)
CACHE = Path(tempfile.gettempdir()) / "gifrank-bench-align-world-7min"
TURNED_CACHE = Path(tempfile.gettempdir()) / "gifrank-bench-align-turned-hd"
TURNED_FOOTAGE = "bigbuckbunny.mp4"  # 1280x720, 25 fps, 5.28 s
TURNED_SEC = 60.0
TURNED_FPS = 25.0
# (start_sec, seconds) of the turned source's GIFs
TURNED_GIFS = ((7.4, 3.0), (23.2, 2.4), (41.6, 3.6))
GIF_STYLE = {"speed": 1.0, "fps": 10, "method": "ffmpeg", "crop": None, "width": 320, "height": 180,
             "mirror": False, "grayscale": False, "caption": None, "dither": "bayer", "bayer_scale": 3,
             "palette_stats": "full"}
CASES = ("video_7min", "turned_hd")


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


def world_case() -> dict:
    world = build_world(CACHE, WORLD)
    entry = world.videos[0]
    return {"video": world.video_path(entry["video_id"]), "gifs": [world.gif_path(g["gif_id"]) for g in world.gifs],
            "truth": [g["truth"]["start_sec"] for g in world.gifs],
            "about": {"size": f"{entry['width']}x{entry['height']}", "fps": entry["fps"],
                      "duration_sec": entry["duration_sec"]}}


def turned_case() -> dict:
    """The turned HD source and its GIFs, made once; manifest.json is written last."""
    manifest_path = TURNED_CACHE / "manifest.json"
    about = {"size": "1280x720 shown (stored 720x1280, display matrix turning it back)", "fps": TURNED_FPS,
             "duration_sec": TURNED_SEC, "footage": TURNED_FOOTAGE, "gifs": [list(g) for g in TURNED_GIFS]}
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("about") == about:
        manifest = json.loads(manifest_path.read_text())
    else:
        TURNED_CACHE.mkdir(parents=True, exist_ok=True)
        looped = TURNED_CACHE / "looped.mp4"
        # A pan with periods unrelated to the loop's keeps every loop's pictures distinct (GIFs match once).
        pan = "scale=1600:900,crop=1280:720:x='(iw-ow)*abs(mod(t/37\\,2)-1)':y='(ih-oh)*abs(mod(t/23\\,2)-1)'"
        print(f"[align_speed] making the turned HD source in {TURNED_CACHE}", file=sys.stderr)
        run_ffmpeg([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-stream_loop", "-1",
                    "-i", str(footage_dir() / TURNED_FOOTAGE), "-t", f"{TURNED_SEC}", "-vf", pan, "-an",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p", str(looped)])
        source = encode_source(looped, TURNED_CACHE, "turned_90", 1280, 720, TURNED_FPS, TURNED_SEC)
        looped.unlink()
        gifs = []
        for number, (start_sec, seconds) in enumerate(TURNED_GIFS):
            gif = TURNED_CACHE / f"g{number}.gif"
            start = round(start_sec * TURNED_FPS)
            # ffmpeg decodes the source as players show it: the GIFs are upright
            render_gif(source.path, gif, start, start + round(seconds * TURNED_FPS), TURNED_FPS, (1280, 720),
                       GIF_STYLE)
            gifs.append({"path": gif.name, "start_sec": start / TURNED_FPS})
        manifest = {"about": about, "video": source.path.name, "gifs": gifs}
        manifest_path.write_text(json.dumps(manifest, indent=1))
    return {"video": TURNED_CACHE / manifest["video"], "gifs": [TURNED_CACHE / g["path"] for g in manifest["gifs"]],
            "truth": [g["start_sec"] for g in manifest["gifs"]], "about": about}


def _children_cpu_sec() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(case: dict) -> dict:
    """One run of decode-only, align and the CLI: wall seconds (the target) and CPU seconds, all threads
    (steadier on a loaded machine, where wall time is the scheduler's share)."""
    video, gifs = case["video"], case["gifs"]
    cpu = time.process_time()
    frames, decode_sec = decode_only(video)
    decode_cpu = time.process_time() - cpu
    cpu = time.process_time()
    timing = library_align(video, gifs)
    align_cpu = time.process_time() - cpu
    align_sec = timing["index_sec"] + timing["match_sec"]
    cpu = _children_cpu_sec()
    cli_sec = cli_align(video, gifs)
    cli_cpu = _children_cpu_sec() - cpu
    errors = [abs(r.start_sec - truth) for r, truth in zip(timing["results"], case["truth"]) if r.aligned]
    return {
        "decode_only_sec": round(decode_sec, 3), "align_sec": round(align_sec, 3),
        "decode_only_opencv_fps": round(frames / decode_sec, 1),
        "align_fps": round(timing["frames"] / align_sec, 1),
        "align_vs_decode_only": round((timing["frames"] / align_sec) / (frames / decode_sec), 3),
        "index_sec": round(timing["index_sec"], 3), "match_sec": round(timing["match_sec"], 3),
        "match_share": round(timing["match_sec"] / align_sec, 4),
        "cli_wall_sec": round(cli_sec, 2), "cli_vs_decode_only": round(decode_sec / cli_sec, 3),
        "decode_only_cpu_sec": round(decode_cpu, 3), "align_cpu_sec": round(align_cpu, 3),
        "cli_cpu_sec": round(cli_cpu, 3),
        "align_vs_decode_only_cpu": round(decode_cpu / align_cpu, 3),
        "cli_vs_decode_only_cpu": round(decode_cpu / cli_cpu, 3),
        "frames": frames, "gifs_aligned": timing["aligned"],
        "start_mae_sec": round(sum(errors) / len(errors), 4) if errors else None,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of decode-only, align and the CLI")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--out", help="also write the JSON result here")
    args = parser.parse_args(argv)
    names = [name for name in args.cases.split(",") if name]
    if unknown := set(names) - set(CASES):
        parser.error(f"unknown cases {sorted(unknown)}; known: {', '.join(CASES)}")
    makers = {"video_7min": world_case, "turned_hd": turned_case}
    cases = {name: makers[name]() for name in names}

    runs: dict[str, list[dict]] = {name: [] for name in names}
    for _ in range(args.repeats):
        for name, case in cases.items():
            runs[name].append(measure(case))
    report: dict[str, Any] = {"cases": {}, "targets": "align_vs_decode_only >= 1.0 in every case, "
                                                      "match_share <= 0.05 on video_7min (medians)"}
    for name, case in cases.items():
        median = {key: statistics.median(values) for key in runs[name][0]
                  if (values := [run[key] for run in runs[name] if run[key] is not None])}
        about = {**case["about"], "frames": runs[name][0]["frames"], "gifs": len(case["gifs"])}
        report["cases"][name] = {"video": about, "median": median, "runs": runs[name]}
    if "video_7min" in cases:
        naive_frames, naive_sec = naive_phash(cases["video_7min"]["video"])
        seven = report["cases"]["video_7min"]
        seven["naive_imagehash_fps"] = round(naive_frames / naive_sec, 1)
        seven["align_vs_naive"] = round(seven["median"]["align_fps"] / (naive_frames / naive_sec), 1)
    emit_json(report, args.out)
    return report


if __name__ == "__main__":
    main()
