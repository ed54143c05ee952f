"""Source videos as the web ships them: the same footage in the containers and shapes sources use.

Phones store the sensor's picture turned and add a display matrix; YouTube serves older 4:3 footage
pillarboxed in HD and wide films letterboxed; yt-dlp downloads VP9 WebM, AV1 and HEVC; phones and
screen recorders write variable frame rates. `encode_source` makes one of these from any video
with the ffmpeg command line, and says where the picture sits in the frame a player shows.

    SOURCE_FORMATS   the names, each a way sources ship video
    encode_source(footage, out_dir, name, fps=25.0) -> SourceVideo
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from demo_world.videos import DETERMINISTIC_FLAGS, ffmpeg_exe, run_ffmpeg

HD = (1280, 720)
# name -> (suffix, what it is)
SOURCE_FORMATS = {
    "h264": (".mp4", "H.264 in MP4, as most sites serve it"),
    "turned_90": (".mp4", "H.264 stored turned a quarter clockwise with a display matrix that turns it back, "
                          "as phones record"),
    "turned_270": (".mp4", "stored turned the other way, display matrix turning it back"),
    "pillarbox_hd": (".mp4", "the picture cut to 4:3 and pillarboxed into 1280x720, as YouTube serves old footage"),
    "letterbox_hd": (".mp4", "the picture letterboxed into 1280x720 (a wide film on a 16:9 frame; a narrower one "
                             "windowboxed)"),
    "vp9": (".webm", "VP9 in WebM, as yt-dlp downloads from YouTube"),
    "av1": (".mkv", "AV1 (SVT-AV1) in Matroska"),
    "hevc": (".mp4", "HEVC (x265) in MP4, tagged hvc1 as Apple devices write it"),
    "vfr": (".mp4", "variable frame rate: frames dropped irregularly, timestamps kept, as phones write"),
}


@dataclass(frozen=True)
class SourceVideo:
    path: Path
    name: str  # a key of SOURCE_FORMATS
    shown_size: tuple[int, int]  # (w, h) of the frame a player shows
    picture: tuple[int, int, int, int]  # (x, y, w, h): the footage inside the shown frame (bars excluded)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def encode_source(footage: Path, out_dir: Path, name: str, width: int, height: int, fps: float = 25.0,
                  seconds: float | None = None) -> SourceVideo:
    """`footage` (any video ffmpeg reads) as source format `name`, its picture width x height as shown.

    width, height: the footage's own size (the caller knows it; the bars are added around it).
    seconds: keep only the first seconds. Deterministic: bit-exact flags, one thread.
    """
    if name not in SOURCE_FORMATS:
        raise ValueError(f"unknown source format {name!r}; known: {', '.join(SOURCE_FORMATS)}")
    suffix = SOURCE_FORMATS[name][0]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{Path(footage).stem}-{name}{suffix}"
    trim = ["-t", f"{seconds}"] if seconds else []
    filters = [f"fps={fps}"]
    picture = (0, 0, width, height)
    shown = (width, height)
    if name == "pillarbox_hd":
        crop_w = _even(min(width, height * 4 / 3))
        filters += [f"crop={crop_w}:{height}", f"scale={_even(HD[1] * 4 / 3)}:{HD[1]}:flags=lanczos",
                    f"pad={HD[0]}:{HD[1]}:(ow-iw)/2:0:black"]
        inner_w = _even(HD[1] * 4 / 3)
        picture, shown = ((HD[0] - inner_w) // 2, 0, inner_w, HD[1]), HD
    elif name == "letterbox_hd":
        # Fit inside the HD frame: bars above and below a wide picture (and at the sides too for one
        # narrower than 16:9, which ffmpeg's pad would otherwise refuse).
        scale = min(HD[0] / width, HD[1] / height)
        inner_w, inner_h = _even(width * scale), _even(height * scale)
        filters += [f"scale={inner_w}:{inner_h}:flags=lanczos", f"pad={HD[0]}:{HD[1]}:(ow-iw)/2:(oh-ih)/2:black"]
        picture, shown = ((HD[0] - inner_w) // 2, (HD[1] - inner_h) // 2, inner_w, inner_h), HD
    elif name in ("turned_90", "turned_270"):
        # Stored turned one way; the matrix (counter-clockwise degrees) turns it back for display.
        filters.append("transpose=clock" if name == "turned_90" else "transpose=cclock")
    elif name == "vfr":
        # Drop frames in an irregular pattern, keep the survivors' timestamps: gaps of 1-3 frames.
        filters.append("select='not(eq(mod(n\\,7)\\,3))*not(eq(mod(n\\,11)\\,5))*not(eq(mod(n\\,13)\\,8))'")
    codec = {
        "vp9": ["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "34", "-deadline", "realtime", "-cpu-used", "8",
                "-row-mt", "0"],
        "av1": ["-c:v", "libsvtav1", "-crf", "38", "-preset", "12"],
        "hevc": ["-c:v", "libx265", "-crf", "26", "-preset", "ultrafast", "-tag:v", "hvc1",
                 "-x265-params", "log-level=error:pools=1:frame-threads=1"],
    }.get(name, ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23"])
    rate = ["-fps_mode", "vfr"] if name == "vfr" else []
    partial = path.with_name(path.name + ".partial" + suffix)
    stored = partial if name not in ("turned_90", "turned_270") else path.with_name(path.name + ".stored" + suffix)
    run_ffmpeg([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-i", str(footage), *trim,
                "-vf", ",".join(filters), "-an", *codec, "-pix_fmt", "yuv420p", "-threads", "1", *rate,
                *DETERMINISTIC_FLAGS, str(stored)])
    if stored != partial:
        rotation = "90" if name == "turned_90" else "-90"
        run_ffmpeg([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-display_rotation", rotation, "-i", str(stored),
                    "-c", "copy", *DETERMINISTIC_FLAGS, str(partial)])
        stored.unlink()
    os.replace(partial, path)
    return SourceVideo(path, name, shown, picture)
