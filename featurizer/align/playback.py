"""How a GIF plays the span it shows: forward, reversed, or in two pieces (a boomerang, a speed ramp).

Each piece is a run of GIF frames that one constant-speed line places: forward, or reversed (its
frames taken last to first on a time axis running back from its end, so the same forward line
fit applies). A boomerang is a forward piece followed by a reversed one; a rewind-then-play GIF
the opposite; a speed ramp two forward pieces at different speeds. Pieces of one GIF must join:
where one leaves the video, the next picks up.

Numpy only: the aligner fits and checks the lines; this module says which frames, on which
time axis, and whether fitted pieces join.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FORWARD, REVERSE, BOOMERANG, REWIND_THEN_PLAY = "forward", "reverse", "boomerang", "reverse-forward"
# The fewest GIF frames (of those matched) a piece may have: fewer give no line to trust.
MIN_PIECE_FRAMES = 5
# Where two pieces meet, the video moments they reach may differ by this many video frames
# (a boomerang app repeats or skips the turning frame; speed ramps blend).
JOIN_TOLERANCE_FRAMES = 3


@dataclass(frozen=True)
class Piece:
    """GIF frames [first, stop) (of the matched ones) played forward or reversed."""

    first: int
    stop: int
    reversed: bool
    frames: np.ndarray  # (m,) GIF frame indices in the order the line is fitted
    times: np.ndarray  # (m,) seconds on the fitted time axis, increasing
    origin: float  # where the piece starts on the fitted time axis
    start: float  # when the piece starts playing, in GIF seconds
    duration: float  # seconds the piece plays
    last_shown: float  # seconds the last frame of the fitted order is on screen

    @classmethod
    def of(cls, starts: np.ndarray, ends: np.ndarray, first: int, stop: int, reversed_: bool) -> Piece:
        """starts, ends: when each matched GIF frame comes on screen and leaves it. A piece followed
        by another lasts until the next one starts (frames between matched ones are its own)."""
        until = float(ends[stop - 1] if stop == len(starts) else starts[stop])
        duration = until - float(starts[first])
        if not reversed_:
            return cls(first, stop, False, np.arange(first, stop), starts[first:stop], float(starts[first]),
                       float(starts[first]), duration, float(ends[stop - 1] - starts[stop - 1]))
        frames = np.arange(stop - 1, first - 1, -1)
        return cls(first, stop, True, frames, until - ends[frames], 0.0, float(starts[first]), duration,
                   float(ends[first] - starts[first]))

    def video_line(self, speed: float, offset: float) -> tuple[float, float]:
        """(a, b): the piece's fitted line as the video moment a + b * t at GIF playback time t."""
        if not self.reversed:
            return offset, speed
        return offset + speed * (self.start + self.duration), -speed  # fitted time = the piece's end - t

    def video_moments(self, speed: float, offset: float) -> tuple[float, float]:
        """The video moments the piece's line reaches when the piece starts and ends playing."""
        a, b = self.video_line(speed, offset)
        return a + b * self.start, a + b * (self.start + self.duration)


def meeting_time(first: tuple[float, float], second: tuple[float, float]) -> float | None:
    """The GIF playback time at which two pieces' video lines (video_line's (a, b)) reach the same
    video moment: where a boomerang turns or a ramp changes speed. None for parallel lines."""
    (a1, b1), (a2, b2) = first, second
    return None if abs(b1 - b2) < 1e-9 else (a2 - a1) / (b1 - b2)


def direction(pieces: list[Piece]) -> str:
    kinds = tuple(piece.reversed for piece in pieces)
    if kinds == (True,):
        return REVERSE
    if kinds == (False, True):
        return BOOMERANG
    if kinds == (True, False):
        return REWIND_THEN_PLAY
    return FORWARD


def split_points(fitting: np.ndarray) -> list[int]:
    """Where a GIF whose one line fits only a run of its frames may change piece: the ends of the
    longest run of fitting frames (inside the GIF, leaving MIN_PIECE_FRAMES on either side)."""
    k = len(fitting)
    best, run_start, best_run = 0, None, (0, 0)
    for i, fits in enumerate(np.append(fitting, False)):
        if fits and run_start is None:
            run_start = i
        elif not fits and run_start is not None:
            if i - run_start > best:
                best, best_run = i - run_start, (run_start, i)
            run_start = None
    return [point for point in best_run if MIN_PIECE_FRAMES <= point <= k - MIN_PIECE_FRAMES]


def joined(first: tuple[float, float], second: tuple[float, float], between: tuple[float, float],
           frame_interval: float) -> bool:
    """Whether the second piece's video line (video_line's (a, b)) picks up where the first leaves
    the video: somewhere in `between` (GIF seconds from the first piece's last matched frame to the
    second's first; the GIF's frames between them were not matched), the two lines reach video
    moments no more than JOIN_TOLERANCE_FRAMES apart."""
    gaps = [abs((first[0] + first[1] * t) - (second[0] + second[1] * t)) for t in between]
    crossing = ((first[0] + first[1] * between[0]) - (second[0] + second[1] * between[0])) * \
               ((first[0] + first[1] * between[1]) - (second[0] + second[1] * between[1])) <= 0
    return crossing or min(gaps) <= JOIN_TOLERANCE_FRAMES * frame_interval
