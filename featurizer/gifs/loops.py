"""Where a GIF starts and ends inside its segment, so that it loops without a visible jump.

A looping GIF shows its last frame, then its first again: the jump between them is what a
viewer sees. Among the spans of a segment's frames at least `min_share` of it long, the
chosen one has the smallest jump (mean absolute difference of small gray thumbnails,
0 to 1); the naive loop, the segment's own first and last frames, is measured the same way.
A span inside a segment never crosses a shot boundary: segments lie within shots.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THUMB = 32  # thumbnail side: coarse enough to ignore noise, fine enough to see a cut or a pan


@dataclass(frozen=True)
class LoopChoice:
    start: int  # first frame of the GIF, an index into the segment's frames
    stop: int  # one past its last
    jump: float  # the chosen loop's last-to-first difference
    naive_jump: float  # the segment's own last-to-first difference


def thumbnails(frames: np.ndarray) -> np.ndarray:
    """(n, H, W, 3) uint8 -> (n, THUMB*THUMB) float32 gray in [0, 1], by block means."""
    gray = frames.astype(np.float32).mean(axis=3) / 255.0
    n, height, width = gray.shape
    rows = np.linspace(0, height, THUMB + 1).astype(int)
    cols = np.linspace(0, width, THUMB + 1).astype(int)
    rows, cols = np.maximum.accumulate(rows), np.maximum.accumulate(cols)
    summed = np.add.reduceat(np.add.reduceat(gray, rows[:-1], axis=1), cols[:-1], axis=2)
    areas = np.outer(np.diff(rows), np.diff(cols)).astype(np.float32)
    return (summed / np.maximum(areas, 1)).reshape(n, -1)


def seamless_loop(frames: np.ndarray, min_share: float = 0.6, min_frames: int = 2) -> LoopChoice:
    """The span of `frames` (a segment's, in order) whose loop jumps least; ties go to the longer."""
    n = len(frames)
    if n < 1:
        raise ValueError("no frames to loop")
    thumbs = thumbnails(frames)
    # jump[i, j]: from frame j (the GIF's last) back to frame i (its first)
    jump = np.abs(thumbs[:, None, :] - thumbs[None, :, :]).mean(axis=2)
    shortest = min(n, max(min_frames, int(np.ceil(min_share * n))))
    first, last = np.triu_indices(n)
    keep = last - first + 1 >= shortest
    first, last = first[keep], last[keep]
    # the least jump; among equal ones the longer span, then the earlier
    best = np.lexsort((first, first - last, jump[first, last]))[0]
    return LoopChoice(int(first[best]), int(last[best]) + 1, float(jump[first[best], last[best]]),
                      float(jump[0, n - 1]))
