"""Frames -> an animated GIF: at most 480 px wide, 10 to 15 fps, one palette learnt from the
clip's own colours (FFmpeg's palettegen and paletteuse), looping forever."""
from __future__ import annotations

import subprocess

import numpy as np

MAX_WIDTH = 480
MIN_FPS, MAX_FPS, TARGET_FPS = 10.0, 15.0, 12.5


def frame_step(video_fps: float) -> int:
    """Every how many video frames a GIF frame is taken, so the GIF runs at 10 to 15 fps (12.5
    where it can); a video slower than 10 fps keeps every frame."""
    step = max(1, round(video_fps / TARGET_FPS))
    while step > 1 and video_fps / step < MIN_FPS:
        step -= 1
    while video_fps / step > MAX_FPS:
        step += 1
    return step


def gif_size(width: int, height: int, max_width: int = MAX_WIDTH) -> tuple[int, int]:
    """At most max_width wide, the aspect kept, even sides."""
    scale = min(1.0, max_width / width)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def write_gif(frames: np.ndarray, fps: float, path: str, max_width: int = MAX_WIDTH) -> None:
    """frames: uint8 (n, H, W, 3) RGB."""
    import imageio_ffmpeg

    count, height, width, _ = frames.shape
    if not count:
        raise ValueError("no frames for the GIF")
    out_width, out_height = gif_size(width, height, max_width)
    graph = (f"scale={out_width}:{out_height}:flags=lanczos,split[a][b];[a]palettegen=stats_mode=diff[p];"
             "[b][p]paletteuse=dither=sierra2_4a:diff_mode=rectangle")
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-framerate", f"{fps:.6g}", "-i", "-", "-filter_complex", graph,
               "-loop", "0", "-f", "gif", path]
    result = subprocess.run(command, input=np.ascontiguousarray(frames).tobytes(), capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg could not write {path}: {result.stderr.decode(errors='replace')[-1000:]}")
