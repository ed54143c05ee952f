"""Per-frame features for shot boundary detection: colour histograms and luma thumbnails.

Both are computed from small RGB frames (FEATURE_SIZE, scaled by the decoder), a whole
decoded batch at a time. The two complement each other: a histogram ignores where colours
are, so it barely moves under camera or object motion, but cannot tell apart two shots of
similar palette; a thumbnail sees layout, so it separates such shots but moves with motion.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FEATURE_SIZE = (64, 36)  # (width, height) of the decoded frames the features are made from
HISTOGRAM_LEVELS = 4  # per RGB channel: 4**3 = 64 joint bins
THUMB_BLOCK = 4  # the 64x36 luma is averaged over 4x4 blocks into a 16x9 thumbnail


@dataclass(frozen=True)
class FrameFeatures:
    """Features of consecutive frames first_frame, first_frame + 1, ... of one video."""

    fps: float  # the detectors' time scale: one frame interval is 1 / fps seconds (see driver.time_scale)
    first_frame: int
    histograms: np.ndarray  # float32 (n, 64): soft-binned joint RGB histogram, sums to 1
    thumbnails: np.ndarray  # float32 (n, 144): 16x9 luma in [0, 1], row-major (fewer blocks inside bars)
    times: np.ndarray  # float64 (n,): presentation times in seconds (the decoder's; frame / fps without one)

    def __len__(self) -> int:
        return len(self.histograms)

    def window(self, start: int, stop: int) -> FrameFeatures:
        """Frames [start, stop) of this window (indices relative to it)."""
        return FrameFeatures(self.fps, self.first_frame + start,
                             self.histograms[start:stop], self.thumbnails[start:stop], self.times[start:stop])

    @staticmethod
    def concatenate(parts: list[FrameFeatures]) -> FrameFeatures:
        """Consecutive windows joined into one."""
        return FrameFeatures(parts[0].fps, parts[0].first_frame,
                             np.concatenate([p.histograms for p in parts]),
                             np.concatenate([p.thumbnails for p in parts]),
                             np.concatenate([p.times for p in parts]))

    def intervals(self, lag: int) -> np.ndarray:
        """(n - lag,) how many frame intervals (1 / fps) lie between frames i and i + lag, at least 1:
        `lag` throughout at a constant rate, more across frames a variable-rate video dropped."""
        return np.maximum(1, np.round((self.times[lag:] - self.times[:-lag]) * self.fps)).astype(np.int64)


def _tent_weights(fine_levels: int, levels: int) -> np.ndarray:
    """(fine_levels, levels): how a fine bin's pixels split between the coarse bins around it."""
    fine_width = 256 // fine_levels
    centres = np.arange(fine_levels) * fine_width + (fine_width - 1) / 2.0
    position = centres * (levels - 1) / 255.0
    return np.maximum(0.0, 1.0 - np.abs(position[:, None] - np.arange(levels)[None, :])).astype(np.float32)


_FINE_LEVELS = 16
_TENT = _tent_weights(_FINE_LEVELS, HISTOGRAM_LEVELS)
_FINE_RANGES = [0, 256] * 3


def colour_histograms(frames: np.ndarray) -> np.ndarray:
    """(n, H, W, 3) uint8 RGB -> (n, 64) float32 joint histograms (4 levels per channel), summing to 1.

    Each pixel's weight is split linearly between the two nearest levels of every channel
    (soft binning). With hard bins a pixel near a bin edge flips bins on tiny changes, and
    at 64x36 the columns along an edge that moves by a fraction of a pixel flip together:
    a slowly panning test card then jumps like a cut every few frames. The split is done
    on a finer hard histogram (OpenCV's: it releases the GIL, so it runs beside the decoder
    thread) rather than per pixel, which is much faster.
    """
    n, height, width, _ = frames.shape
    cube = np.empty((n, _FINE_LEVELS, _FINE_LEVELS, _FINE_LEVELS), np.float32)
    for i, frame in enumerate(frames):
        cube[i] = cv2.calcHist([frame], [0, 1, 2], None, [_FINE_LEVELS] * 3, _FINE_RANGES)
    # One axis at a time, and einsum's own loops: BLAS (a matrix product) would spread this
    # over threads that spin between calls, taking the decoder's core.
    cube = np.einsum("nijk,kc->nijc", cube, _TENT)
    cube = np.einsum("nijc,jb->nibc", cube, _TENT)
    cube = np.einsum("nibc,ia->nabc", cube, _TENT)
    return cube.reshape(n, HISTOGRAM_LEVELS**3) / (height * width)


def luma_thumbnails(frames: np.ndarray) -> np.ndarray:
    """(n, H, W, 3) uint8 RGB -> (n, (H // 4) * (W // 4)) float32 block-mean luma in [0, 1].

    Block means are linear in the pixels, so a dissolve stays a linear blend of its two
    shots in thumbnail space, which the gradual-transition test relies on. The frames are
    stacked into one tall image for OpenCV; H is a multiple of the block, so no block
    straddles two frames.
    """
    n, height, width, _ = frames.shape
    rows, cols = height // THUMB_BLOCK, width // THUMB_BLOCK
    cropped = frames[:, :rows * THUMB_BLOCK, :cols * THUMB_BLOCK]
    stacked = np.ascontiguousarray(cropped).reshape(-1, cols * THUMB_BLOCK, 3)
    luma = cv2.cvtColor(stacked, cv2.COLOR_RGB2GRAY)
    blocks = cv2.resize(luma, (cols, n * rows), interpolation=cv2.INTER_AREA)
    return blocks.reshape(n, rows * cols).astype(np.float32) / 255.0


# Bars are black: a row or column brighter than this (of 255) anywhere in the frames looked at is picture.
_BAR_LEVEL = 24
_MIN_PICTURE = 0.25  # bars leave at least this share of the width and of the height


def picture_box(frames: np.ndarray) -> tuple[slice, slice]:
    """(rows, columns) of the picture inside black bars that stay black in every one of the
    frames: letterbox or pillarbox, 4:3 or wide footage in a 16:9 frame as sites serve it.
    Bars would dilute every change by their share of the frame. They must be about as wide
    on both sides, as players centre the picture; otherwise, or when the frames are dark
    all over, the whole frame."""
    bright = frames.max(axis=(0, 3)) > _BAR_LEVEL  # (H, W)
    return _inside(bright.any(axis=1)), _inside(bright.any(axis=0))


def _inside(picture: np.ndarray) -> slice:
    """The span between equal bars along one axis, given which lines show picture."""
    lines = np.flatnonzero(picture)
    size = len(picture)
    if not len(lines):
        return slice(0, size)
    start, stop = int(lines[0]), int(lines[-1]) + 1
    centred = abs(start - (size - stop)) <= max(1, size // 32)
    return slice(start, stop) if centred and stop - start >= _MIN_PICTURE * size else slice(0, size)


def frame_features(frames: np.ndarray, fps: float, first_frame: int, times: np.ndarray | None = None) -> FrameFeatures:
    """Features of a batch of RGB frames (decoded at FEATURE_SIZE); times: their presentation
    times in seconds (default: evenly spaced at fps)."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected (n, H, W, 3) RGB frames, got {frames.shape}")
    if times is None:
        times = (first_frame + np.arange(len(frames))) / fps
    elif len(times) != len(frames):
        raise ValueError(f"{len(times)} times for {len(frames)} frames")
    return FrameFeatures(fps, first_frame, colour_histograms(frames), luma_thumbnails(frames),
                         np.asarray(times, np.float64))


def histogram_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Total variation between rows of two histogram arrays, in [0, 1].

    Total variation counts moved mass only; Hellinger or chi-square would blow up the
    near-empty bins that a few edge pixels drift into under motion.
    """
    return 0.5 * np.abs(a - b).sum(axis=-1)


def thumbnail_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute luma difference between rows of two thumbnail arrays, in [0, 1]."""
    return np.abs(a - b).mean(axis=-1)
