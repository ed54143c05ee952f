"""GIFs as GIF sites make them: each style a named recipe (config as data) with one call.

    STYLES[name].make(frames, fps, out_path, start_sec=0.0) -> GifTruth

frames: (n, h, w, 3) uint8, consecutive video frames at the video's rate fps (the picture a
player shows, bars already cut off). The GIF covers those n frames; the truth says which
span of video time that is (start_sec + [0, n / fps), ending where the last frame shown ends), in
which direction and at what speed.

A style is four choices: timing (which video frame each GIF frame shows, for how long),
overlay (what the site draws over the picture), encoder (ffmpeg palettegen/paletteuse or
Pillow) and optimiser (gifsicle, ImageMagick), run as sites run them on the encoder's output.
Everything is deterministic: fixed positions and texts, Pillow's bundled font.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from demo_world.videos import ffmpeg_exe, run_ffmpeg

TIMINGS = ("forward", "reverse", "boomerang", "half_speed", "speed_ramp", "duplicated")
OVERLAYS = (None, "watermark", "sticker", "caption_over", "crop_caption")
# Optimiser commands as sites run them on an encoder's GIF: IN and OUT stand for the paths.
OPTIMISERS = {
    "gifsicle_O3": ("gifsicle", "-O3", "IN", "-o", "OUT"),
    "gifsicle_O3_lossy": ("gifsicle", "-O3", "--lossy=80", "--colors", "128", "IN", "-o", "OUT"),
    "gifsicle_lossy_64_colours": ("gifsicle", "-O3", "--lossy=80", "--colors", "64", "IN", "-o", "OUT"),
    "imagemagick_optimize": ("convert", "IN", "-layers", "Optimize", "OUT"),
    # Pixels within 3% of the shown ones turn transparent (ezgif's "optimize transparency" with fuzz):
    # on dithered footage only a fuzz leaves anything to make transparent.
    "imagemagick_transparency": ("convert", "IN", "-coalesce", "-fuzz", "3%", "-layers", "OptimizeTransparency",
                                 "OUT"),
    # Whole frames with a disposal method set: cleared to the background, or restored to what was shown
    # before, after showing (frame-cropping optimisations find nothing to cut on moving, dithered footage).
    "imagemagick_dispose_background": ("convert", "IN", "-coalesce", "-set", "dispose", "Background", "OUT"),
    "imagemagick_dispose_previous": ("convert", "IN", "-coalesce", "-set", "dispose", "Previous", "OUT"),
}
# Those that keep every shown pixel. ImageMagick re-quantises the frames it writes (on footage a fifth
# of the pixels move by a few levels), so none of its commands is.
LOSSLESS_OPTIMISERS = ("gifsicle_O3",)
WATERMARK_TEXT = "@gifsite"
BOX_TEXT = ("when you finally", "get it right")
CAPTION_TOP, CAPTION_BOTTOM = "WAIT FOR IT", "NAILED IT"
BAR_CAPTION = "me every monday"
RAMP_RATIO = 2.0  # speed_ramp: the GIF starts at 1x and slows to 1 / RAMP_RATIO x


@dataclass(frozen=True)
class GifTruth:
    """What a GIF shows of its video."""

    start_sec: float  # the covered span of video time, [start_sec, end_sec)
    end_sec: float
    direction: str  # "forward", "reverse" (the span played backwards), "boomerang" (forward then back)
    speed: float  # video seconds per GIF second (a ramp: at its start)
    end_speed: float  # the same at the GIF's end (== speed unless the speed ramps)
    num_frames: int  # GIF frames written (before an optimiser, which may merge or split them)
    duration_sec: float  # the GIF's play time, one loop
    video_frames: tuple[int, ...] = field(repr=False, default=())  # per GIF frame: which given frame it shows

    def as_dict(self) -> dict:
        return {"start_sec": round(self.start_sec, 4), "end_sec": round(self.end_sec, 4),
                "direction": self.direction, "speed": self.speed, "end_speed": self.end_speed,
                "num_frames": self.num_frames, "duration_sec": round(self.duration_sec, 4)}


@dataclass(frozen=True)
class GifStyle:
    name: str
    what: str
    timing: str = "forward"
    overlay: str | None = None
    encoder: str = "ffmpeg"  # "ffmpeg" (palettegen/paletteuse) or "pillow"
    optimiser: str | None = None  # a key of OPTIMISERS, run on the encoder's output
    width: int = 480  # GIF picture width (never above the frames' own width)
    gif_fps: float = 12.5  # GIF frames per second of video time at 1x
    grayscale: bool = False

    def __post_init__(self):
        if self.timing not in TIMINGS or self.overlay not in OVERLAYS or self.encoder not in ("ffmpeg", "pillow"):
            raise ValueError(f"style {self.name}: unknown timing, overlay or encoder")
        if self.optimiser is not None and self.optimiser not in OPTIMISERS:
            raise ValueError(f"style {self.name}: unknown optimiser {self.optimiser!r}")

    def make(self, frames: np.ndarray, fps: float, out_path: Path, start_sec: float = 0.0) -> GifTruth:
        """Write the GIF of `frames` (consecutive video frames at `fps`) to out_path, atomically."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) < 4:
            raise ValueError(f"frames must be (n >= 4, h, w, 3) RGB, got {frames.shape}")
        indices, rate, direction, speeds = _timing(self.timing, len(frames), fps, self.gif_fps)
        delays_cs = _delays_cs(len(indices), rate)
        pictures = [self.picture(frames[i], k, len(indices)) for k, i in enumerate(indices)]
        out_path = Path(out_path)
        partial = out_path.with_name(f".{out_path.name}.partial.gif")
        encoded = partial if self.optimiser is None else out_path.with_name(f".{out_path.name}.encoded.gif")
        try:
            if self.encoder == "ffmpeg":
                _ffmpeg_gif(pictures, rate, encoded)
            else:
                _pillow_gif(pictures, delays_cs, encoded)
            if self.optimiser is not None:
                tool, *args = OPTIMISERS[self.optimiser]
                run_ffmpeg([shutil.which(tool) or tool,
                            *[str(encoded) if a == "IN" else str(partial) if a == "OUT" else a for a in args]])
            os.replace(partial, out_path)
        finally:
            for leftover in (partial, encoded):
                leftover.unlink(missing_ok=True)
        used = sorted(set(indices))
        last_step = used[-1] - used[-2] if len(used) > 1 else 1
        # The span ends where the frame after the last one shown would start at the GIF's pace,
        # clipped to the frames given: a forward GIF of all n frames covers exactly [0, n / fps).
        end_frame = min(len(frames), used[-1] + max(1, last_step))
        return GifTruth(start_sec + used[0] / fps, start_sec + end_frame / fps, direction, speeds[0], speeds[1],
                        len(indices), sum(delays_cs) / 100, tuple(int(i) for i in indices))

    def picture(self, frame: np.ndarray, k: int, count: int) -> Image.Image:
        """GIF frame k of count: the video frame scaled (cropped) to the GIF, with the site's overlay."""
        picture = Image.fromarray(frame)
        if self.overlay == "crop_caption":  # a 70% crop a little right of and above the centre
            w, h = picture.size
            cw, ch = int(w * 0.7), int(h * 0.7)
            x, y = int((w - cw) * 0.6), int((h - ch) * 0.4)
            picture = picture.crop((x, y, x + cw, y + ch))
        width = min(self.width, picture.width) // 2 * 2
        height = max(2, round(width * picture.height / picture.width / 2) * 2)
        picture = picture.resize((width, height), Image.Resampling.LANCZOS)
        if self.grayscale:
            picture = picture.convert("L").convert("RGB")
        if self.overlay == "watermark":
            picture = _watermark(picture)
        elif self.overlay == "sticker":
            picture = _sticker(picture, k / max(1, count - 1))
        elif self.overlay == "caption_over":
            picture = _caption_over(picture)
        elif self.overlay == "crop_caption":
            picture = _with_bar(picture, BAR_CAPTION)
        return picture


def _delays_cs(count: int, rate: float) -> list[int]:
    """Whole-centisecond delays for `count` frames at `rate` per second, the clock rounded, not each delay."""
    clock = [round(k * 100 / rate) for k in range(count + 1)]
    return [b - a for a, b in zip(clock, clock[1:])]


def _timing(timing: str, n: int, fps: float, gif_fps: float):
    """(video frame per GIF frame, GIF frames per second, direction, (start speed, end speed))."""
    step = fps / gif_fps  # video frames per GIF frame at 1x
    forward = [int(np.floor(k * step + 1e-9)) for k in range(max(2, int(round(n / step))))]
    forward = [i for i in forward if i < n]
    if timing == "forward":
        return forward, gif_fps, "forward", (1.0, 1.0)
    if timing == "reverse":
        return forward[::-1], gif_fps, "reverse", (1.0, 1.0)
    if timing == "boomerang":  # forward, then back without repeating either turning frame: a seamless loop
        frames = forward + forward[-2:0:-1]
        return frames, gif_fps, "boomerang", (1.0, 1.0)
    if timing == "half_speed":  # every video frame, each shown twice as long as in the video
        frames = list(range(n))
        return frames, fps / 2, "forward", (0.5, 0.5)
    if timing == "duplicated":  # the 1x frames, each written twice at half the delay
        frames = [i for i in forward for _ in range(2)]
        return frames, 2 * gif_fps, "forward", (1.0, 1.0)
    # speed_ramp: constant GIF delay; the video advance per GIF frame falls linearly from step
    # to step / RAMP_RATIO over the covered frames, as "slow-mo at the end" edits do.
    position, frames = 0.0, []
    while int(position + 1e-9) < n:
        frames.append(int(position + 1e-9))
        progress = position / max(1, n - 1)
        position += step * (1 - progress * (1 - 1 / RAMP_RATIO))
    return frames, gif_fps, "forward", (1.0, 1 / RAMP_RATIO)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(6, size))


def _fit_font(draw: ImageDraw.ImageDraw, text: str, size: int, max_width: int, stroke: int = 0):
    while True:
        font = _font(size)
        box = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
        if box[2] - box[0] <= max_width or size <= 6:
            return font, box
        size -= 1


def _watermark(picture: Image.Image) -> Image.Image:
    """An opaque "@gifsite" logo in the bottom-right corner and a translucent dark text box over the
    picture's bottom-left quarter, white text in it (static: the same on every frame)."""
    w, h = picture.size
    layer = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    box = (int(w * 0.04), int(h * 0.5), int(w * 0.54), int(h * 0.96))  # ~1/4 of the picture
    draw.rectangle(box, fill=(0, 0, 0, 140))
    line_h = (box[3] - box[1]) // 3
    for row, text in enumerate(BOX_TEXT):
        font, _ = _fit_font(draw, text, int(line_h * 0.8), box[2] - box[0] - 8)
        draw.text((box[0] + 6, box[1] + line_h // 2 + row * line_h), text, font=font, fill=(255, 255, 255, 255))
    shown = Image.alpha_composite(picture.convert("RGBA"), layer).convert("RGB")
    draw = ImageDraw.Draw(shown)
    font, (left, top, right, bottom) = _fit_font(draw, WATERMARK_TEXT, max(8, h // 12), w // 3)
    x, y = w - (right - left) - 6 - left, h - (bottom - top) - 6 - top
    draw.rectangle((x + left - 3, y + top - 2, x + right + 3, y + bottom + 2), fill=(20, 20, 20))
    draw.text((x, y), WATERMARK_TEXT, font=font, fill=(255, 214, 0))
    return shown


def _sticker(picture: Image.Image, progress: float) -> Image.Image:
    """A small opaque sticker (a yellow smiley, 1/6 of the height) crossing the picture left to right."""
    w, h = picture.size
    size = max(8, h // 6)
    x = int(4 + progress * (w - size - 8))
    y = int(h * 0.15 + (h * 0.5) * abs(progress - 0.5))  # a shallow V: down then up again
    shown = picture.copy()
    draw = ImageDraw.Draw(shown)
    draw.ellipse((x, y, x + size, y + size), fill=(255, 210, 0), outline=(120, 60, 0), width=max(1, size // 12))
    eye = max(1, size // 10)
    for ex in (x + size * 0.33, x + size * 0.67):
        draw.ellipse((ex - eye, y + size * 0.35 - eye, ex + eye, y + size * 0.35 + eye), fill=(40, 20, 0))
    draw.arc((x + size * 0.25, y + size * 0.35, x + size * 0.75, y + size * 0.8), 20, 160, fill=(40, 20, 0),
             width=max(1, size // 12))
    return shown


def _caption_over(picture: Image.Image) -> Image.Image:
    """Meme text, white with a black outline, over the picture's top and bottom."""
    w, h = picture.size
    shown = picture.copy()
    draw = ImageDraw.Draw(shown)
    stroke = max(1, h // 80)
    for text, top in ((CAPTION_TOP, True), (CAPTION_BOTTOM, False)):
        font, (left, t, right, b) = _fit_font(draw, text, max(8, h // 8), w - 8, stroke)
        x = (w - (right - left)) / 2 - left
        y = (h * 0.03 - t) if top else (h * 0.97 - b)
        draw.text((x, y), text, font=font, fill="white", stroke_width=stroke, stroke_fill="black")
    return shown


def _with_bar(picture: Image.Image, text: str) -> Image.Image:
    """The picture above a white caption bar (1/5 of its height) with black text."""
    w, h = picture.size
    bar_h = max(12, h // 5 // 2 * 2)
    canvas = Image.new("RGB", (w, h + bar_h), "white")
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    font, (left, top, right, bottom) = _fit_font(draw, text, int(bar_h * 0.7), w - 8)
    draw.text(((w - (right - left)) / 2 - left, h + (bar_h - (bottom - top)) / 2 - top), text, font=font,
              fill="black")
    return canvas


def _ffmpeg_gif(pictures: list[Image.Image], rate: float, out: Path) -> None:
    """ffmpeg's palettegen/paletteuse, the two-pass recipe sites and tutorials use.

    Frame N is stamped at round(N * 100 / rate) centiseconds, the clock _delays_cs rounds."""
    w, h = pictures[0].size
    graph = (f"[0:v]setpts='round(N*{100 / rate:.9f})/(100*TB)',split[a][b];"
             "[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=sierra2_4a[gif]")
    raw = b"".join(np.asarray(p, dtype=np.uint8).tobytes() for p in pictures)
    run_ffmpeg([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-filter_threads", "1", "-f", "rawvideo",
                "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate", f"{rate:.9f}", "-i", "-",
                "-filter_complex", graph, "-map", "[gif]", "-fps_mode", "passthrough", "-loop", "0",
                "-f", "gif", str(out)], stdin=raw)


def _pillow_gif(pictures: list[Image.Image], delays_cs: list[int], out: Path) -> None:
    """Pillow: one adaptive palette learnt from a strip of frames, Floyd-Steinberg dithering.

    Pillow merges a frame identical to the previous one into it (delays summed), as it would for
    any site using it; the duplicated style therefore belongs to the ffmpeg encoder."""
    strip_frames = pictures[:: max(1, len(pictures) // 12)]
    w, h = strip_frames[0].size
    strip = Image.new("RGB", (w, h * len(strip_frames)))
    for k, picture in enumerate(strip_frames):
        strip.paste(picture, (0, k * h))
    palette = strip.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    indexed = [p.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG) for p in pictures]
    indexed[0].save(out, format="GIF", save_all=True, append_images=indexed[1:],
                    duration=[cs * 10 for cs in delays_cs], loop=0)


STYLES: dict[str, GifStyle] = {style.name: style for style in (
    GifStyle("plain_ffmpeg", "ffmpeg palettegen/paletteuse, 12.5 fps, 480 px wide"),
    GifStyle("plain_pillow", "Pillow, one median-cut palette, Floyd-Steinberg", encoder="pillow", width=400),
    GifStyle("watermark", "corner site logo plus a translucent dark text box over a quarter of the picture",
             overlay="watermark", width=400),
    GifStyle("moving_sticker", "an opaque smiley sticker crossing the picture", overlay="sticker",
             encoder="pillow", width=360),
    GifStyle("caption_over", "white outlined meme text over the picture's top and bottom", overlay="caption_over"),
    GifStyle("crop_caption", "a 70% crop of the picture with a white caption bar below", overlay="crop_caption",
             width=320),
    GifStyle("boomerang", "forward then backward (Instagram Boomerang), turning frames not repeated",
             timing="boomerang", width=360),
    GifStyle("reverse", "the span played backwards", timing="reverse", width=400),
    GifStyle("half_speed", "slow motion: every video frame, each shown twice as long", timing="half_speed",
             width=400),
    GifStyle("speed_ramp", f"1x slowing linearly to 1/{RAMP_RATIO:g}x (\"slow-mo at the end\")",
             timing="speed_ramp", encoder="pillow", width=400),
    GifStyle("duplicated_frames", "each frame written twice at half the delay, as some converters do",
             timing="duplicated", width=400),
    GifStyle("gifsicle_O3_lossy", "gifsicle -O3 --lossy=80 --colors 128 on ffmpeg's GIF",
             optimiser="gifsicle_O3_lossy"),
    GifStyle("imagemagick_optimize", "ImageMagick convert -layers Optimize on ffmpeg's GIF",
             optimiser="imagemagick_optimize", width=400),
    GifStyle("imagemagick_transparency", "ImageMagick -coalesce -fuzz 3% -layers OptimizeTransparency",
             optimiser="imagemagick_transparency", width=400),
    GifStyle("imagemagick_dispose_background", "ImageMagick: every frame disposed to the background",
             optimiser="imagemagick_dispose_background", width=360),
    GifStyle("imagemagick_dispose_previous", "ImageMagick: every frame restored to the previous after showing",
             optimiser="imagemagick_dispose_previous", encoder="pillow", width=320),
    GifStyle("grayscale", "grayscale, Pillow", encoder="pillow", grayscale=True, width=360),
)}
