"""Shots -> segments -> labels, as the paper's section 4.1 does.

Shots are split into segments of at most `max_segment_sec` (a typical GIF's length)
and at least C3D's 16 input frames. A segment is positive when one GIF covers more
than 66% of it, negative when no GIF overlaps it at all, and ignored otherwise.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MIN_SEGMENT_FRAMES = 16  # C3D's clip length
POSITIVE_OVERLAP = 0.66  # the paper's threshold
POSITIVE, NEGATIVE, IGNORED = 1, 0, -1


@dataclass(frozen=True)
class Segment:
    index: int
    start_frame: int
    end_frame: int  # exclusive

    @property
    def num_frames(self) -> int:
        return self.end_frame - self.start_frame


@dataclass(frozen=True)
class GifSpan:
    """Where an aligned GIF lies in its video, and how popular it is."""

    gif_id: str
    start_frame: int
    end_frame: int  # exclusive
    popularity: float | None  # None: unknown (no views or no age)


@dataclass(frozen=True)
class LabelledSegment:
    segment: Segment
    label: int
    gif_ids: tuple[str, ...] = field(default_factory=tuple)  # GIFs covering it (positives) or overlapping it
    popularity: float | None = None  # a positive's most popular covering GIF's; None when none is known
    top_gif: str | None = None  # that GIF


def split_shot(start: int, end: int, max_frames: int, min_frames: int = MIN_SEGMENT_FRAMES) -> list[tuple[int, int]]:
    """Equal pieces of at most `max_frames` (but never under `min_frames`); [] for a shot too short."""
    length = end - start
    if length < min_frames:
        return []
    pieces = max(1, min(math.ceil(length / max_frames), length // min_frames))
    bounds = [start + round(i * length / pieces) for i in range(pieces + 1)]
    return list(zip(bounds, bounds[1:]))


def segments_from_shots(shots: Sequence[tuple[int, int]], fps: float, max_segment_sec: float = 6.0,
                        min_frames: int = MIN_SEGMENT_FRAMES) -> list[Segment]:
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    max_frames = max(min_frames, int(max_segment_sec * fps))
    pieces = [p for start, end in shots for p in split_shot(start, end, max_frames, min_frames)]
    return [Segment(i, start, end) for i, (start, end) in enumerate(pieces)]


def overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    return max(0, min(a_end, b_end) - max(a_start, b_start))


def label_segment(segment: Segment, gifs: Iterable[GifSpan]) -> LabelledSegment:
    overlapping = [(g, overlap(segment.start_frame, segment.end_frame, g.start_frame, g.end_frame)) for g in gifs]
    overlapping = [(g, o) for g, o in overlapping if o > 0]
    if not overlapping:
        return LabelledSegment(segment, NEGATIVE)
    covering = [g for g, o in overlapping if o / segment.num_frames > POSITIVE_OVERLAP]
    if covering:
        known = [g for g in covering if g.popularity is not None]
        top = max(known, key=lambda g: (g.popularity, g.gif_id)) if known else None
        return LabelledSegment(segment, POSITIVE, tuple(sorted(g.gif_id for g in covering)),
                               top.popularity if top else None, top.gif_id if top else None)
    return LabelledSegment(segment, IGNORED, tuple(sorted(g.gif_id for g, _ in overlapping)))


def label_segments(segments: Iterable[Segment], gifs: Sequence[GifSpan]) -> list[LabelledSegment]:
    return [label_segment(s, gifs) for s in segments]
