"""Simulated GIF makers: which moment of a video they pick, and how they render it.

Users prefer segments by a hidden rule, mean motion energy; a share of GIFs are outliers cut
at random. Rendering imitates GIF sites: 5-15 fps, at most 320 px wide, 256-colour palettes
with dithering from ffmpeg (palettegen/paletteuse) or Pillow, with optional crop, caption bar,
speed-up, mirroring and grayscale.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from demo_world.videos import decode_frames, ffmpeg_exe, run_ffmpeg

MAX_GIF_WIDTH = 320
GIF_WIDTHS = (320, 288, 256, 240, 200, 160)
GIF_FPS_CHOICES = ((10, 0.6), (15, 0.25), (5, 0.15))
SPEED_CHOICES = ((1.0, 0.75), (1.5, 0.15), (2.0, 0.10))
FFMPEG_DITHERS = ("bayer", "floyd_steinberg", "sierra2_4a", "none")
PILLOW_DITHERS = ("floyd_steinberg", "none")
PILLOW_QUANTIZERS = {"mediancut": Image.Quantize.MEDIANCUT, "maxcoverage": Image.Quantize.MAXCOVERAGE,
                     "fastoctree": Image.Quantize.FASTOCTREE}
CAPTIONS = ("WAIT FOR IT", "mood", "me on monday", "NOPE", "this is fine", "when the beat drops",
            "same", "I can't even", "plot twist", "every single time", "absolutely not", "YES")

MIN_GIF_SEC = 2.0
MAX_GIF_SEC = 6.0
CANDIDATES_PER_GIF = 12
# Hidden rule: rule_score = 1 - exp(-mean_motion_energy / MOTION_ENERGY_SCALE), in [0, 1).
MOTION_ENERGY_SIZE = (64, 36)
MOTION_ENERGY_SCALE = 0.02
# Softmax temperature over candidate rule scores: low enough that users mostly take the best.
CHOICE_TEMPERATURE = 0.05
VIEW_SCORE_SLOPE = 3.0
VIEW_NOISE_SIGMA = 0.4

RULE = {
    "name": "motion_energy",
    "definition": "mean over segment frames t (transition frames excluded) of mean |gray_t - gray_(t-1)| / 255 "
                  "in a 64x36 area-scaled decode; rule_score = 1 - exp(-energy / 0.02)",
    "views": "round(exp(video_popularity + 3.0 * rule_score + N(0, 0.4)))",
}


def _weighted_choice(rng: np.random.Generator, options):
    values, weights = zip(*options)
    return values[int(rng.choice(len(values), p=np.array(weights) / sum(weights)))]


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def sample_style(rng: np.random.Generator, video_width: int, video_height: int) -> dict:
    """Rendering choices of one simulated user."""
    method = "ffmpeg" if rng.random() < 0.6 else "pillow"
    crop = None
    source_w, source_h = video_width, video_height
    if rng.random() < 0.3:
        if rng.random() < 0.5:  # square crop, the usual "make it fit a chat bubble" edit
            source_w = source_h = _even(min(video_width, video_height) * rng.uniform(0.7, 1.0))
        else:
            share = rng.uniform(0.55, 0.9)
            source_w, source_h = _even(video_width * share), _even(video_height * share)
        crop = {"x": int(rng.integers(0, video_width - source_w + 1)),
                "y": int(rng.integers(0, video_height - source_h + 1)), "w": source_w, "h": source_h}
    width = min(int(rng.choice(GIF_WIDTHS)), _even(source_w), MAX_GIF_WIDTH)
    height = _even(width * source_h / source_w)
    caption = None
    if rng.random() < 0.3:
        caption = {"text": str(rng.choice(CAPTIONS)), "position": "bottom_bar",
                   "bar_height": _even(max(12, height * 0.2))}
    style = {
        "method": method,
        "dither": str(rng.choice(FFMPEG_DITHERS if method == "ffmpeg" else PILLOW_DITHERS)),
        "fps": _weighted_choice(rng, GIF_FPS_CHOICES),
        "width": width,
        "height": height,  # picture height; a caption bar adds bar_height below it
        "crop": crop,
        "caption": caption,
        "mirror": bool(rng.random() < 0.08),
        "grayscale": bool(rng.random() < 0.08),
        "speed": _weighted_choice(rng, SPEED_CHOICES),
    }
    if method == "ffmpeg":
        style["palette_stats"] = str(rng.choice(["full", "diff"]))
        if style["dither"] == "bayer":
            style["bayer_scale"] = int(rng.integers(1, 6))
    else:
        style["quantizer"] = str(rng.choice(sorted(PILLOW_QUANTIZERS)))
    return style


def sample_candidates(rng: np.random.Generator, num_frames: int, fps: float, count: int = CANDIDATES_PER_GIF):
    """Segments [start, end) of 2-6 s (shorter only if the video is) a user considers."""
    candidates = []
    for _ in range(count):
        length = min(num_frames, int(round(rng.uniform(MIN_GIF_SEC, MAX_GIF_SEC) * fps)))
        start = int(rng.integers(0, num_frames - length + 1))
        candidates.append((start, start + length))
    return candidates


def motion_energy(video_path: Path, picture: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """energy[t] = mean absolute gray difference between frames t-1 and t (energy[0] = 0), in [0, 1].

    picture (x, y, w, h): the area of the shown frame users see as the video (bars left out)."""
    gray = decode_frames(video_path, *MOTION_ENERGY_SIZE, gray=True, crop=picture).astype(np.float32)
    diffs = np.abs(np.diff(gray, axis=0)).mean(axis=(1, 2)) / 255.0
    return np.concatenate([[0.0], diffs])


def transition_frames(transitions: list[dict]) -> set[int]:
    """Frames whose difference to the previous frame comes from editing, not from motion."""
    frames = set()
    for transition in transitions:
        if transition["kind"] == "cut":
            frames.add(transition["frame"])
        else:
            frames.update(range(transition["start_frame"], transition["end_frame"] + 1))
    return frames


def rule_score(energy: np.ndarray, start: int, end: int, excluded: set[int]) -> float:
    frames = [t for t in range(start + 1, end) if t not in excluded]
    mean_energy = float(np.mean(energy[frames])) if frames else 0.0
    return round(1.0 - math.exp(-mean_energy / MOTION_ENERGY_SCALE), 4)


def choose_segment(candidates, scores, outlier: bool, uniform_draw: float) -> int:
    """Index of the chosen candidate: outliers take the first (a random segment); others sample a softmax."""
    if outlier:
        return 0
    weights = np.exp((np.array(scores) - max(scores)) / CHOICE_TEMPERATURE)
    cumulative = np.cumsum(weights / weights.sum())
    return min(int(np.searchsorted(cumulative, uniform_draw, side="right")), len(candidates) - 1)


def views_for(score: float, popularity: float, noise: float) -> int:
    return max(1, int(round(math.exp(popularity + VIEW_SCORE_SLOPE * score + noise))))


def gif_frame_indices(start: int, end: int, video_fps: float, speed: float, gif_fps: float) -> np.ndarray:
    """Video frames shown by the GIF: one every video_fps * speed / gif_fps frames of [start, end)."""
    step = video_fps * speed / gif_fps
    count = max(1, int(round((end - start) / step)))
    return start + np.floor(np.arange(count) * step + 1e-9).astype(int)


def frame_delays_cs(count: int, gif_fps: float) -> list[int]:
    """GIF delays are whole centiseconds; rounding the cumulative clock keeps the total duration exact."""
    clock = [round(k * 100 / gif_fps) for k in range(count + 1)]
    return [b - a for a, b in zip(clock, clock[1:])]


def render_gif(video_path: Path, out_path: Path, start_frame: int, end_frame: int,
               video_fps: float, video_size: tuple[int, int], style: dict,
               picture: tuple[int, int, int, int] | None = None) -> None:
    """Write the GIF of video frames [start_frame, end_frame) atomically.

    video_size: the size frames are decoded at; picture (x, y, w, h): the area of the shown frame
    cut out first (the picture inside pillarbox or letterbox bars), as a user's GIF tool sees it."""
    indices = gif_frame_indices(start_frame, end_frame, video_fps, style["speed"], style["fps"])
    segment = decode_frames(video_path, *video_size, start_frame=start_frame, end_frame=end_frame, fps=video_fps,
                            crop=picture)
    frames = segment[indices - start_frame]
    partial = out_path.with_name(f".{out_path.name}.partial")
    if style["method"] == "ffmpeg":
        _ffmpeg_gif(frames, style, partial)
    else:
        _pillow_gif(frames, style, partial)
    os.replace(partial, out_path)


def caption_bar(text: str, width: int, bar_height: int) -> Image.Image:
    """Black bar with centred white text, shrinking the font until the text fits."""
    bar = Image.new("RGB", (width, bar_height), "black")
    draw = ImageDraw.Draw(bar)
    size = max(6, int(bar_height * 0.75))
    while True:
        font = ImageFont.load_default(size=size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if right - left <= width - 4 or size <= 6:
            break
        size -= 1
    draw.text(((width - (right - left)) / 2 - left, (bar_height - (bottom - top)) / 2 - top), text,
              fill="white", font=font)
    return bar


def _ffmpeg_gif(frames: np.ndarray, style: dict, out_path: Path) -> None:
    count, height, width, _ = frames.shape
    chain = []
    if style["crop"]:
        crop = style["crop"]
        chain.append(f"crop={crop['w']}:{crop['h']}:{crop['x']}:{crop['y']}")
    chain.append(f"scale={style['width']}:{style['height']}:flags=lanczos")
    if style["mirror"]:
        chain.append("hflip")
    if style["grayscale"]:
        chain.append("hue=s=0")
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-filter_threads", "1",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(style["fps"]), "-i", "-"]
    caption_path = None
    graph = f"[0:v]{','.join(chain)}"
    if style["caption"]:
        bar_height = style["caption"]["bar_height"]
        caption_path = out_path.with_name(out_path.name + ".caption.png")
        caption_bar(style["caption"]["text"], style["width"], bar_height).save(caption_path)
        cmd += ["-i", str(caption_path)]
        graph += f",pad=iw:ih+{bar_height}:0:0:black[picture];[picture][1:v]overlay=0:{style['height']}"
    dither = f"dither={style['dither']}"
    if style["dither"] == "bayer":
        dither += f":bayer_scale={style['bayer_scale']}"
    graph += (f",split[a][b];[a]palettegen=max_colors=256:stats_mode={style['palette_stats']}[palette];"
              f"[b][palette]paletteuse={dither}[gif]")
    cmd += ["-filter_complex", graph, "-map", "[gif]", "-loop", "0", "-f", "gif", str(out_path)]
    try:
        run_ffmpeg(cmd, stdin=frames.tobytes())
    finally:
        if caption_path is not None:
            caption_path.unlink(missing_ok=True)


def _pillow_gif(frames: np.ndarray, style: dict, out_path: Path) -> None:
    pictures = []
    for array in frames:
        picture = Image.fromarray(array)
        if style["crop"]:
            crop = style["crop"]
            picture = picture.crop((crop["x"], crop["y"], crop["x"] + crop["w"], crop["y"] + crop["h"]))
        picture = picture.resize((style["width"], style["height"]), Image.Resampling.LANCZOS)
        if style["mirror"]:
            picture = ImageOps.mirror(picture)
        if style["grayscale"]:
            picture = picture.convert("L").convert("RGB")
        if style["caption"]:
            bar = caption_bar(style["caption"]["text"], style["width"], style["caption"]["bar_height"])
            canvas = Image.new("RGB", (style["width"], style["height"] + bar.height))
            canvas.paste(picture, (0, 0))
            canvas.paste(bar, (0, style["height"]))
            picture = canvas
        pictures.append(picture)
    palette = _global_palette(pictures, PILLOW_QUANTIZERS[style["quantizer"]])
    dither = Image.Dither.FLOYDSTEINBERG if style["dither"] == "floyd_steinberg" else Image.Dither.NONE
    indexed = [picture.quantize(palette=palette, dither=dither) for picture in pictures]
    delays_ms = [cs * 10 for cs in frame_delays_cs(len(indexed), style["fps"])]
    indexed[0].save(out_path, format="GIF", save_all=True, append_images=indexed[1:],
                    duration=delays_ms, loop=0)


def _global_palette(pictures: list[Image.Image], method) -> Image.Image:
    """One 256-colour palette for the whole GIF, learnt from a strip of up to 16 frames."""
    sample = pictures[:: max(1, len(pictures) // 16)][:16]
    strip = Image.new("RGB", (sample[0].width, sample[0].height * len(sample)))
    for i, picture in enumerate(sample):
        strip.paste(picture, (0, i * picture.height))
    return strip.quantize(colors=256, method=method)
