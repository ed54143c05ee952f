"""The part of a frame that shows the picture: bars removed, in GIFs and in videos.

GIF makers pad the video picture with uniform bars (letterboxing to a fixed canvas) or
burn a caption into a bar below or above it. Both are static while the picture moves,
so runs of static rows (columns) at the canvas edges are cut off. Static picture
content at an edge (a still sky) is cut too; the aligner therefore also tries the whole
canvas and keeps whichever matches the video better.

Videos have bars of their own: YouTube pillarboxes 4:3 footage into HD frames and letterboxes
wide films, and a GIF made from such a video may keep the bars or not. A video's bars are
uniform and static over the whole video, so only those are cut there (a caption-like static
edge in a video is picture).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A row or column is static when its pixels' temporal standard deviation averages below this
# (GIF dithering of a static bar stays exactly constant; moving video is far above it).
STATIC_STD = 2.0
# A row or column is a uniform bar when, in addition, its pixels' spatial std averages below this.
UNIFORM_STD = 4.0
# Never cut more than this share of the canvas height or width (a 2.35:1 picture
# letterboxed into a square canvas loses 57% of the height to bars).
MAX_CUT_SHARE = 0.7
# The picture must move this much (mean temporal std) for static edges to be told apart.
MOVING_STD = 4.0
MIN_BAR_PIXELS = 2


@dataclass(frozen=True)
class Box:
    top: int
    bottom: int  # exclusive
    left: int
    right: int  # exclusive

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    def take(self, frames: np.ndarray) -> np.ndarray:
        return frames[:, self.top:self.bottom, self.left:self.right]


def whole(frames: np.ndarray) -> Box:
    return Box(0, frames.shape[1], 0, frames.shape[2])


def _edge_run(flags: np.ndarray) -> tuple[int, int]:
    """Lengths of the runs of True at the start and at the end of flags."""
    if flags.all():
        return len(flags), len(flags)
    head = int(np.argmin(flags))
    tail = int(np.argmin(flags[::-1]))
    return head, tail


def _cut(flags: np.ndarray) -> tuple[int, int]:
    """(start, stop) keeping the middle once edge runs of flagged lines are dropped."""
    n = len(flags)
    head, tail = _edge_run(flags)
    head = head if head >= MIN_BAR_PIXELS else 0
    tail = tail if tail >= MIN_BAR_PIXELS else 0
    if head + tail > MAX_CUT_SHARE * n:
        return 0, n
    return head, n - tail


def gif_picture_box(luma: np.ndarray) -> Box:
    """Where the moving picture sits in (k, H, W) uint8 luma frames of a GIF."""
    frames = luma.astype(np.float32)
    temporal = _std(frames, "kij->ij")  # (H, W)
    row_static = temporal.mean(axis=1) < STATIC_STD
    moving = bool((~row_static).any()) and temporal[~row_static].mean() >= MOVING_STD
    col_static = temporal.mean(axis=0) < STATIC_STD
    row_uniform = row_static & (_std(frames, "kij->ki").mean(axis=0) < UNIFORM_STD)
    col_uniform = col_static & (_std(frames, "kij->kj").mean(axis=0) < UNIFORM_STD)
    # Caption bars hold text, so only uniformity can tell bars from a still picture; static
    # edges are cut as caption bars only when the rest of the picture visibly moves.
    top, bottom = _cut(row_static if moving else row_uniform)
    left, right = _cut(col_uniform)
    return Box(top, bottom, left, right)


def video_picture_box(luma: np.ndarray) -> Box:
    """Where the picture sits in (k, H, W) uint8 luma frames sampled across a whole video: edges
    that are uniform and static in every sample are bars."""
    frames = luma.astype(np.float32)
    temporal = _std(frames, "kij->ij")
    row_uniform = (temporal.mean(axis=1) < STATIC_STD) & (_std(frames, "kij->ki").mean(axis=0) < UNIFORM_STD)
    col_uniform = (temporal.mean(axis=0) < STATIC_STD) & (_std(frames, "kij->kj").mean(axis=0) < UNIFORM_STD)
    top, bottom = _cut(row_uniform)
    left, right = _cut(col_uniform)
    return Box(top, bottom, left, right)


def _std(frames: np.ndarray, reduction: str) -> np.ndarray:
    """Standard deviation over the axes `reduction` (an einsum spec over 'kij') drops, from sums
    of values and of squares: a few times faster than ndarray.std at GIF sizes."""
    total = np.einsum(reduction, frames)
    squares = np.einsum(reduction.replace("->", ",kij->"), frames, frames)
    count = frames.size / total.size
    mean = total / count
    return np.sqrt(np.maximum(squares / count - mean * mean, 0.0))
