"""Benchmark: GIFs made as GIF sites make them, from real footage in every container sources ship.

    .venv/bin/python -m bench.align_wild [--cache DIR] [--out FILE] [--quick] [--jobs N]

Real footage (bikes.mp4, ten seconds with five hard cuts; bigbuckbunny.mp4) is encoded in every
demo_world.source_formats container (H.264, phone videos stored turned with a display matrix,
pillarboxed and letterboxed HD, VP9, AV1, HEVC, variable frame rate). Each source is decoded as
a player shows it (ffmpeg applies the display matrix), its picture cut out of any bars, and from
that picture every demo_world.web_gifs style makes a GIF of a seeded random 1.5-3 s span (inside
a shot or across cuts): overlays (watermarks, stickers, captions), timing (boomerang, reverse,
half speed, speed ramps, duplicated frames), optimisers (gifsicle, ImageMagick). Each GIF is
aligned on its own source (featurizer.align: index_video once per source, align_gif per GIF).
Foreign GIFs (carphone, and each clip's GIFs on the other clip's sources) must not align.

Errors are start_sec and end_sec minus the truth (the span of video the GIF covers; for
reverse and boomerang GIFs the span too), pooled over start and end as bench.align_accuracy's
paper cross-check pools them. Sources and GIFs are built once, deterministically, under a cache
folder named by a hash of the settings and recipes; alignment runs each time.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.align_accuracy import Case, run_cases
from bench.report import emit_json
from demo_world import web_gifs
from demo_world.source_formats import SOURCE_FORMATS, SourceVideo, encode_source
from demo_world.videos import decode_frames, ffmpeg_exe, footage_dir, run_ffmpeg

BUILD_VERSION = 1
TARGETS = {"aligned_share_min": 0.97, "mean_error_sec_max": 0.10, "median_error_sec_max": 0.06,
           "foreign_accepted_max": 0}
WORK_WIDTH = 640  # the shown picture is decoded at most this wide; every style's GIF is narrower


@dataclass(frozen=True)
class Clip:
    file: str
    size: tuple[int, int]  # the footage's own (w, h)
    fps: float
    seconds: float | None  # keep only the first seconds in the sources


CLIPS = {
    "bikes": Clip("bikes.mp4", (640, 272), 25.0, 10.0),
    "bunny": Clip("bigbuckbunny.mp4", (1280, 720), 25.0, None),
    "carphone": Clip("carphone_pristine.mp4", (176, 144), 30000 / 1001, None),
}
SOURCE_CLIPS = ("bikes", "bunny")  # encoded in every container; carphone only makes foreign GIFs
FOREIGN_STYLES = ("plain_ffmpeg", "watermark", "caption_over", "crop_caption", "half_speed", "gifsicle_O3_lossy")
FULL = {"containers": tuple(SOURCE_FORMATS), "styles": tuple(web_gifs.STYLES), "clips": SOURCE_CLIPS,
        "spans_per_style": 1, "span_sec": (1.5, 3.0), "foreign_per_video": 2, "seed": 7}
QUICK = {"containers": ("h264", "letterbox_hd"), "styles": ("plain_ffmpeg", "plain_pillow", "watermark"),
         "clips": ("bikes",), "spans_per_style": 1, "span_sec": (1.5, 2.5), "foreign_per_video": 2, "seed": 7}


@dataclass
class WildCase(Case):
    style: str = ""
    container: str = ""
    clip: str = ""  # the clip the GIF was cut from
    foreign: bool = False
    truth_detail: dict | None = None


def settings_key(settings: dict) -> str:
    """Hash of the settings and of the recipes (styles, optimisers, containers) they name.

    Changing how a recipe renders without changing its fields: bump BUILD_VERSION."""
    recipes = {"styles": [repr(web_gifs.STYLES[name]) for name in settings["styles"]],
               "foreign_styles": [repr(web_gifs.STYLES[name]) for name in FOREIGN_STYLES],
               "optimisers": web_gifs.OPTIMISERS, "containers": {k: SOURCE_FORMATS[k] for k in settings["containers"]},
               "clips": {k: repr(CLIPS[k]) for k in CLIPS}}
    text = json.dumps({"version": BUILD_VERSION, "settings": settings, "recipes": recipes}, sort_keys=True,
                      default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def shown_picture(source: SourceVideo, fps: float) -> np.ndarray:
    """Every frame as a player shows it (display matrix applied), bars cut off, at most WORK_WIDTH wide,
    at a constant `fps` (a variable-rate source shows each frame until the next one)."""
    x, y, w, h = source.picture
    width = min(WORK_WIDTH, w) // 2 * 2
    height = max(2, round(width * h / w / 2) * 2)
    raw = run_ffmpeg([ffmpeg_exe(), "-v", "error", "-nostdin", "-threads", "1", "-i", str(source.path), "-vf",
                      f"fps={fps},crop={w}:{h}:{x}:{y},scale={width}:{height}:flags=area", "-f", "rawvideo",
                      "-pix_fmt", "rgb24", "-"])
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def _span(rng: np.random.Generator, count: int, fps: float, span_sec: tuple[float, float]) -> tuple[int, int]:
    length = min(count, int(round(rng.uniform(*span_sec) * fps)))
    start = int(rng.integers(0, count - length + 1))
    return start, start + length


def _make(style: str, frames: np.ndarray, fps: float, start: int, end: int, out: Path) -> dict:
    truth = web_gifs.STYLES[style].make(frames[start:end], fps, out, start_sec=start / fps)
    return truth.as_dict()


def _build_source(root: Path, settings: dict, clip_name: str, container: str) -> dict:
    """One source video and the GIFs of every style cut from it; kept in a done file, so a build resumes."""
    key = f"{clip_name}-{container}"
    done = root / "built" / f"{key}.json"
    if done.exists():
        return json.loads(done.read_text())
    clip = CLIPS[clip_name]
    source = encode_source(footage_dir() / clip.file, root / "videos", container, *clip.size, fps=clip.fps,
                           seconds=clip.seconds)
    frames = shown_picture(source, clip.fps)
    # Each source its own stream of spans: the same spans whatever order sources are built in.
    rng = np.random.default_rng([settings["seed"], list(CLIPS).index(clip_name), list(SOURCE_FORMATS).index(container)])
    rows = []
    for style in settings["styles"]:
        for copy in range(settings["spans_per_style"]):
            start, end = _span(rng, len(frames), clip.fps, settings["span_sec"])
            name = f"gifs/{key}-{style}-{copy}.gif"
            truth = _make(style, frames, clip.fps, start, end, root / name)
            rows.append({"gif": name, "video": key, "style": style, "container": container, "clip": clip_name,
                         "foreign": False, "truth": truth})
    built = {"video": key, "path": str(source.path.relative_to(root)), "rows": rows}
    done.parent.mkdir(parents=True, exist_ok=True)
    done.write_text(json.dumps(built, indent=1))
    return built


def _build_foreign(root: Path, settings: dict) -> list[dict]:
    """GIFs of carphone, cut from the original file: footage no source holds."""
    clip = CLIPS["carphone"]
    frames = decode_frames(footage_dir() / clip.file, *clip.size)
    rng = np.random.default_rng([settings["seed"], list(CLIPS).index("carphone")])
    made = []
    for style in FOREIGN_STYLES:
        start, end = _span(rng, len(frames), clip.fps, settings["span_sec"])
        name = f"gifs/carphone-{style}.gif"
        made.append({"gif": name, "style": style, "clip": "carphone",
                     "truth": _make(style, frames, clip.fps, start, end, root / name)})
    return made


def build(root: Path, settings: dict, jobs: int = 1, log=print) -> tuple[list[dict], dict[str, str]]:
    """The sources and GIFs (reused when root already holds them): (case rows, video key -> path).

    Paths in rows and videos are relative to root."""
    manifest = root / "manifest.json"
    if manifest.exists():
        built = json.loads(manifest.read_text())
        return built["cases"], built["videos"]
    (root / "gifs").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    sources = [(clip, container) for clip in settings["clips"] for container in settings["containers"]]
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
        foreign_job = pool.submit(_build_foreign, root, settings)
        futures = [pool.submit(_build_source, root, settings, clip, container) for clip, container in sources]
        per_source = []
        for future in futures:
            per_source.append(future.result())
            log(f"built {per_source[-1]['video']}: {len(per_source[-1]['rows'])} GIFs "
                f"({time.monotonic() - started:.0f} s)")
        foreign_gifs = foreign_job.result()
    rows = [row for built in per_source for row in built["rows"]]
    videos = {built["video"]: built["path"] for built in per_source}
    # Foreign GIFs on each source: carphone's, and (every other one) the other clip's GIFs in the same container.
    for k, (clip_name, container) in enumerate(sources):
        others = [row for row in rows if row["clip"] != clip_name and row["container"] == container]
        for j in range(settings["foreign_per_video"]):
            pick = others[(k + j) % len(others)] if others and j % 2 == 1 else foreign_gifs[(k + j) % len(foreign_gifs)]
            rows.append({"gif": pick["gif"], "video": f"{clip_name}-{container}", "style": pick["style"],
                         "container": container, "clip": pick["clip"], "foreign": True, "truth": None})
    manifest.write_text(json.dumps({"settings": settings, "cases": rows, "videos": videos}, indent=1, default=list))
    return rows, videos


def _cases(rows: list[dict], root: Path) -> list[WildCase]:
    cases = []
    for row in rows:
        truth = row["truth"]
        short = None if truth is None else {"start_sec": truth["start_sec"], "end_sec": truth["end_sec"]}
        cases.append(WildCase(str(root / row["gif"]), row["video"], [row["style"]], short, style=row["style"],
                              container=row["container"], clip=row["clip"], foreign=row["foreign"],
                              truth_detail=truth))
    return cases


# ---------------------------------------------------------------- reporting

def _abs_errors(cases: list[WildCase]) -> list[float]:
    return [abs(e) for c in cases if c.errors is not None for e in c.accepted_errors]


def _direction_right(case: WildCase) -> bool:
    return case.errors is not None and case.result["direction"] == case.truth_detail["direction"]


def _row(cases: list[WildCase]) -> dict:
    errors = _abs_errors(cases)
    aligned = sum(c.errors is not None for c in cases)
    return {"aligned": aligned, "total": len(cases), "share": round(aligned / max(1, len(cases)), 3),
            "direction_right": sum(_direction_right(c) for c in cases),
            "mean_error_sec": round(statistics.mean(errors), 3) if errors else None,
            "median_error_sec": round(statistics.median(errors), 3) if errors else None,
            "max_error_sec": round(max(errors), 3) if errors else None}


def summarize(cases: list[WildCase]) -> dict:
    positives = [c for c in cases if not c.foreign]
    foreign = [c for c in cases if c.foreign]
    overall = _row(positives)
    accepted = [c for c in foreign if c.result["aligned"]]
    met = {
        "aligned_share": overall["share"] >= TARGETS["aligned_share_min"],
        "mean_error": overall["mean_error_sec"] is not None
        and overall["mean_error_sec"] <= TARGETS["mean_error_sec_max"],
        "median_error": overall["median_error_sec"] is not None
        and overall["median_error_sec"] <= TARGETS["median_error_sec_max"],
        "foreign_accepted": len(accepted) <= TARGETS["foreign_accepted_max"],
    }
    aligned = [c for c in positives if c.errors is not None]
    worst = sorted(aligned, key=lambda c: -max(abs(e) for e in c.accepted_errors))[:12]
    return {
        "pairs": len(positives), "aligned": overall["aligned"], "unaligned": len(positives) - overall["aligned"],
        "aligned_share": overall["share"], "mean_error_sec": overall["mean_error_sec"],
        "median_error_sec": overall["median_error_sec"], "max_error_sec": overall["max_error_sec"],
        "foreign": len(foreign), "foreign_accepted": len(accepted),
        "targets": TARGETS, "met": met, "all_met": all(met.values()),
        "per_style": {s: _row([c for c in positives if c.style == s])
                      for s in dict.fromkeys(c.style for c in positives)},
        "per_container": {k: _row([c for c in positives if c.container == k])
                          for k in dict.fromkeys(c.container for c in positives)},
        "per_clip": {k: _row([c for c in positives if c.clip == k]) for k in dict.fromkeys(c.clip for c in positives)},
        "failures": [{"gif": Path(c.gif).name, "style": c.style, "container": c.container,
                      "truth": [round(c.truth["start_sec"], 2), round(c.truth["end_sec"], 2)],
                      "reason": c.result["reason"]} for c in positives if c.errors is None],
        "worst": [{"gif": Path(c.gif).name, "style": c.style, "container": c.container,
                   "truth": [round(c.truth["start_sec"], 2), round(c.truth["end_sec"], 2)],
                   "found": [round(c.result["start_sec"], 2), round(c.result["end_sec"], 2)],
                   "speed": round(c.result["speed"], 3), "confidence": round(c.result["confidence"], 3),
                   "direction": [c.truth_detail["direction"], c.result["direction"]]}
                  for c in worst],
        "cases": [{"gif": Path(c.gif).name, "video": c.video, "style": c.style, "container": c.container,
                   "clip": c.clip, "foreign": c.foreign, "truth": c.truth_detail, "aligned": c.result["aligned"],
                   "found": None if not c.result["aligned"] else [round(c.result["start_sec"], 3),
                                                                  round(c.result["end_sec"], 3)],
                   "speed": None if not c.result["aligned"] else round(c.result["speed"], 3),
                   "direction": c.result["direction"],
                   "confidence": round(c.result["confidence"], 3), "reason": c.result["reason"]} for c in cases],
        "foreign_accepted_cases": [{"gif": Path(c.gif).name, "video": c.video,
                                    "found": [round(c.result["start_sec"], 2), round(c.result["end_sec"], 2)],
                                    "confidence": round(c.result["confidence"], 3)} for c in accepted],
    }


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def tables(report: dict) -> str:
    lines = [f"wild set: {report['aligned']}/{report['pairs']} aligned ({report['aligned_share']:.1%}), "
             f"mean error {_fmt(report['mean_error_sec'])} s, median {_fmt(report['median_error_sec'])} s, "
             f"max {_fmt(report['max_error_sec'])} s; "
             f"foreign accepted {report['foreign_accepted']}/{report['foreign']}",
             "targets: aligned >= 97% {}, mean <= 0.10 s {}, median <= 0.06 s {}, foreign 0 {}".format(
                 *("met" if report["met"][k] else "NOT met"
                   for k in ("aligned_share", "mean_error", "median_error", "foreign_accepted")))]
    for title, key in (("style", "per_style"), ("container", "per_container"), ("clip", "per_clip")):
        lines += ["", f"{title:<32} {'aligned':>9} {'mean s':>7} {'median':>7} {'max':>7} {'direction':>9}"]
        for name, row in report[key].items():
            lines.append(f"{name:<32} {row['aligned']:>4}/{row['total']:<4} {_fmt(row['mean_error_sec']):>7} "
                         f"{_fmt(row['median_error_sec']):>7} {_fmt(row['max_error_sec']):>7} "
                         f"{row['direction_right']:>4}/{row['aligned']:<4}")
    if report["failures"]:
        lines += ["", "not aligned:"]
        lines += [f"  {f['gif']:<48} truth {f['truth'][0]:.2f}-{f['truth'][1]:.2f}: {f['reason']}"
                  for f in report["failures"]]
    if report["worst"]:
        lines += ["", "largest errors (aligned):"]
        lines += [f"  {w['gif']:<48} truth {w['truth'][0]:.2f}-{w['truth'][1]:.2f} found "
                  f"{w['found'][0]:.2f}-{w['found'][1]:.2f} speed {w['speed']:.2f} conf {w['confidence']:.2f} "
                  f"{w['direction'][0]}/{w['direction'][1]}"
                  for w in report["worst"]]
    if report["foreign_accepted_cases"]:
        lines += ["", "foreign GIFs accepted:"]
        lines += [f"  {f['gif']} on {f['video']} at {f['found'][0]:.2f}-{f['found'][1]:.2f} conf {f['confidence']:.2f}"
                  for f in report["foreign_accepted_cases"]]
    return "\n".join(lines)


def run(cache: Path | None = None, quick: bool = False, jobs: int = 1, log=print) -> dict:
    settings = QUICK if quick else FULL
    root = (cache or Path(tempfile.gettempdir())) / f"gifrank-bench-align-wild-{settings_key(settings)}"
    started = time.monotonic()
    rows, videos = build(root, settings, jobs, log)
    built = time.monotonic()
    cases = run_cases(_cases(rows, root), {key: root / path for key, path in videos.items()})
    report = summarize(cases)
    report["seconds"] = {"build": round(built - started, 1), "align": round(time.monotonic() - built, 1)}
    report["cache"] = str(root)
    return report


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="the folder under which sources and GIFs are built, in a folder "
                                                   "named by a hash of the settings (default: the temp dir)")
    parser.add_argument("--out", help="also write the JSON report here")
    parser.add_argument("--jobs", type=int, default=min(3, os.cpu_count() or 1),
                        help="sources built at once (each runs its own ffmpeg, gifsicle, ImageMagick)")
    parser.add_argument("--quick", action="store_true", help="a small subset: 2 containers, 3 styles, bikes only")
    args = parser.parse_args(argv)
    report = run(args.cache, args.quick, args.jobs, log=lambda text: print(text, file=sys.stderr))
    emit_json(report, args.out)
    print()
    print(tables(report))
    return report


if __name__ == "__main__":
    main()
    sys.exit(0)
