"""What a player shows: a video's picture turned and flipped by the container's display matrix.

    transform = DisplayTransform.of_frame(frame)      # a decoded PyAV frame's display matrix
    shown = transform.apply(picture)                  # (H, W) or (H, W, C), as players show it
    stored = transform.stored_size((width, height))   # the decoded size that shows as (width, height)

Phones store what they film as the sensor sees it and write a display matrix (rotation by
90, 180 or 270 degrees, sometimes a flip) for players to apply. PyAV hands over the stored
picture; FFmpeg's command line and OpenCV turn it (OpenCV ignores the flips). The rule
below is FFmpeg's autorotation, and tests hold it against the ffmpeg command line's frames.
Matrices of other angles are taken at the nearest right angle: a few degrees of tilt is no
reason to refuse a video, and no source we know writes one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MATRIX_ENTRIES = 9  # 3x3 int32, row major: a b u / c d v / x y w (a..d in 16.16 fixed point)


@dataclass(frozen=True)
class DisplayTransform:
    """A right-angle turn and flips, as a transpose of the stored picture's axes then flips."""

    swap_axes: bool = False  # a quarter turn: rows become columns
    flip_rows: bool = False  # upside down
    flip_cols: bool = False  # left to right

    @classmethod
    def of_matrix(cls, matrix: Any) -> DisplayTransform:
        """From FFmpeg's display matrix: a point (p, q) of the stored picture shows at
        (a p + c q, b p + d q), up to a shift."""
        entries = np.asarray(matrix, np.int64).reshape(-1)
        if entries.size != MATRIX_ENTRIES:
            raise ValueError(f"a display matrix has {MATRIX_ENTRIES} entries, not {entries.size}")
        a, b, _u, c, d = (int(v) for v in entries[:5])
        if abs(a) + abs(d) >= abs(b) + abs(c):  # mostly upright: columns stay columns
            return cls(swap_axes=False, flip_rows=d < 0, flip_cols=a < 0)
        return cls(swap_axes=True, flip_rows=b < 0, flip_cols=c < 0)

    @classmethod
    def of_frame(cls, frame: Any) -> DisplayTransform:
        """A decoded PyAV frame's display matrix (FFmpeg copies the stream's onto its frames)."""
        from av.sidedata.sidedata import Type

        side_data = frame.side_data.get(Type.DISPLAYMATRIX)
        if side_data is None:
            return IDENTITY
        return cls.of_matrix(np.frombuffer(bytes(memoryview(side_data)), "<i4"))

    def stored_size(self, shown: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the stored picture that shows at `shown` (width, height)."""
        return (shown[1], shown[0]) if self.swap_axes else shown

    def shown_size(self, stored: tuple[int, int]) -> tuple[int, int]:
        """(width, height) a stored picture of `stored` (width, height) shows at."""
        return self.stored_size(stored)  # a transpose is its own inverse

    def apply(self, picture: np.ndarray) -> np.ndarray:
        """The picture (H, W[, C]) as shown: a view where it can be one."""
        if self.swap_axes:
            picture = picture.swapaxes(0, 1)
        if self.flip_rows:
            picture = picture[::-1]
        if self.flip_cols:
            picture = picture[:, ::-1]
        return picture


IDENTITY = DisplayTransform()
