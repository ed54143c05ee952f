"""Local contrast: how much a video changes across a frame boundary, relative to how much it
changes nearby anyway.

For a boundary t (between frames t-1 and t) and a lag L, the *span* is the pair of frames
(s, e = s + L) centred on t, and the *across* change is the feature distance between them.
The *envelope* is what motion alone produces over the same lag next to the span, taken
from the lag-L pairs in the W frames before s and the W frames after e that lie in the same
shot as s (before) or as e (after), so that a boundary already found is not mistaken for
motion. Two readings of it:

  SECOND_LARGEST  the second largest distance on both sides together: a change must beat the
                  motion on both sides, but one outlier (another cut, one jump of a slowly
                  updating animation) is forgiven. Used for cuts, which nothing else vets.
  CALMER_SIDE     the largest distance on the calmer side: a change must stand out from at
                  least one side, so a dissolve into a panning shot still counts. Motion that
                  starts or stops then counts too, which the blend test (blend_residual)
                  rejects for gradual transitions.

    contrast = across / (envelope + floor)

A cut or a dissolve spanned by its lag stands out from its surroundings (contrast >> 1);
a pan, a zoom or flicker changes as much across the span as beside it (contrast ~ 1).
Everything is vectorised over all boundaries of a window at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from featurizer.shots.features import FrameFeatures, histogram_distance, thumbnail_distance


@dataclass(frozen=True)
class FeatureScale:
    """Per feature family: changes below `visible` never count as boundaries, and `floor` is
    added to the envelope so that a tiny change after frozen frames is not a huge ratio."""

    visible: float
    floor: float
    motion_exponent: float  # motion over k frame intervals is about k ** motion_exponent times one's


# Set from the demo world: 99% of its hard cuts move at least 0.28 of the histogram mass and
# 0.045 of mean luma (none less than 0.11 and 0.03), while the median frame-to-frame change
# inside shots is 0.008 and 0.005. Motion exponents from real footage (bikes, bigbuckbunny,
# carphone): changes over 2, 3, 4 frames are about 1.4, 1.9, 2.2 times one frame's in
# histograms, 1.8, 2.5, 3.1 times in thumbnails.
HISTOGRAM_SCALE = FeatureScale(visible=0.1, floor=0.05, motion_exponent=0.55)
THUMBNAIL_SCALE = FeatureScale(visible=0.02, floor=0.01, motion_exponent=0.85)
# Cuts: a lower floor. A cut in fast motion (bikes.mp4 frame 76: 0.23 of the mass moved beside
# 0.04 a frame of motion) stayed under the threshold by the floor alone, and `visible` keeps
# small changes out anyway. Gradual changes keep 0.05: less makes false dissolves of motion.
CUT_HISTOGRAM_SCALE = FeatureScale(visible=0.1, floor=0.02, motion_exponent=0.55)


def span_start(boundary, lag: int):
    """First frame s of the lag-long span (s, s + lag) centred on a boundary (or array of them):
    for lag 1 the two frames either side of it."""
    return boundary - 1 - (lag - 1) // 2


@dataclass(frozen=True)
class Spans:
    """The span (s, e) of every boundary t = 0..n-1 of a window at one lag."""

    starts: np.ndarray  # int64 (n,)
    ends: np.ndarray  # int64 (n,)
    valid: np.ndarray  # bool (n,): both frames inside the window

    @staticmethod
    def centred(num_frames: int, lag: int) -> Spans:
        starts = span_start(np.arange(num_frames), lag)
        ends = starts + lag
        return Spans(starts, ends, (starts >= 0) & (ends < num_frames))


def lag_distances(features: FrameFeatures, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """(histogram, thumbnail) distances between frames i and i + lag, for i = 0..n-lag-1."""
    h, g = features.histograms, features.thumbnails
    return histogram_distance(h[lag:], h[:-lag]), thumbnail_distance(g[lag:], g[:-lag])


SECOND_LARGEST = "second_largest"
CALMER_SIDE = "calmer_side"


def _envelope(distances: np.ndarray, spans: Spans, lag: int, width: int, kind: str,
              shots: np.ndarray, intervals: np.ndarray, motion_exponent: float) -> np.ndarray:
    """The envelope of every span (see the module docstring); -inf where there is too little
    motion context to judge (fewer than two pairs for SECOND_LARGEST, none for CALMER_SIDE).

    Where a variable-rate video dropped frames, pairs at one lag span different times, and
    motion grows with time: each pair's distance is scaled to the span's duration, by the
    ratio of their frame intervals to the power motion_exponent (at a constant rate all 1)."""
    num_pairs = len(distances)
    pad = lag + width  # room for the windows of spans at the window's edges
    padded = np.concatenate([np.full(pad, np.nan), distances, np.full(pad, np.nan)])
    padded_intervals = np.concatenate([np.ones(pad), intervals, np.ones(pad)])
    start_shot = np.concatenate([np.full(pad, -1), shots[:num_pairs], np.full(pad, -1)])
    end_shot = np.concatenate([np.full(pad, -1), shots[lag:lag + num_pairs], np.full(pad, -1)])
    windows = sliding_window_view(padded, width)
    last = len(windows) - 1
    first_before = np.clip(spans.starts - lag - width + 1 + pad, 0, last)  # pairs ending at or before s
    first_after = np.clip(spans.ends + pad, 0, last)  # pairs starting at or after e
    s = shots[np.clip(spans.starts, 0, len(shots) - 1)]
    e = shots[np.clip(spans.ends, 0, len(shots) - 1)]
    before, after = windows[first_before], windows[first_after]
    if np.any(intervals != lag):
        span_intervals = intervals[np.clip(spans.starts, 0, num_pairs - 1)][:, None].astype(np.float64)
        interval_windows = sliding_window_view(padded_intervals, width)
        before = before * (span_intervals / interval_windows[first_before]) ** motion_exponent
        after = after * (span_intervals / interval_windows[first_after]) ** motion_exponent
    before = np.where(sliding_window_view(start_shot, width)[first_before] == s[:, None], before, np.nan)
    after = np.where(sliding_window_view(end_shot, width)[first_after] == e[:, None], after, np.nan)
    before, after = np.nan_to_num(before, nan=-np.inf), np.nan_to_num(after, nan=-np.inf)
    if kind == SECOND_LARGEST:
        both = np.concatenate([before, after], axis=1)
        return -np.partition(-both, 1, axis=1)[:, 1]
    before_max, after_max = before.max(axis=1), after.max(axis=1)
    both_sides = np.isfinite(before_max) & np.isfinite(after_max)
    return np.where(both_sides, np.minimum(before_max, after_max), np.maximum(before_max, after_max))


def _family_contrast(distances: np.ndarray, spans: Spans, lag: int, width: int, envelope_kind: str,
                     shots: np.ndarray, intervals: np.ndarray, scale: FeatureScale) -> np.ndarray:
    across = np.where(spans.valid, distances[np.clip(spans.starts, 0, len(distances) - 1)], 0.0)
    envelope = _envelope(distances, spans, lag, width, envelope_kind, shots, intervals, scale.motion_exponent)
    judged = spans.valid & np.isfinite(envelope) & (across >= scale.visible)
    return np.where(judged, across / (np.where(judged, envelope, 0.0) + scale.floor), 0.0)


def contrast(features: FrameFeatures, lag: int, width: int, envelope_kind: str, shots: np.ndarray,
             histogram_scale: FeatureScale = HISTOGRAM_SCALE) -> tuple[np.ndarray, Spans]:
    """Contrast of every boundary of the window at one lag: the larger of the histogram's and
    the thumbnail's, since either alone can carry a boundary (palette change or layout change)."""
    spans = Spans.centred(len(features), lag)
    if len(features) <= lag:
        return np.zeros(len(features)), spans
    histogram_d, thumbnail_d = lag_distances(features, lag)
    intervals = features.intervals(lag)
    return np.maximum(
        _family_contrast(histogram_d, spans, lag, width, envelope_kind, shots, intervals, histogram_scale),
        _family_contrast(thumbnail_d, spans, lag, width, envelope_kind, shots, intervals, THUMBNAIL_SCALE),
    ), spans


def shot_of_frame(num_frames: int, boundaries) -> np.ndarray:
    """Index of the shot each frame falls in, given sorted boundaries (first frames of shots)."""
    return np.searchsorted(np.asarray(boundaries, dtype=np.int64), np.arange(num_frames), side="right")


def blend_residual(thumbnails: np.ndarray, start: int, end: int) -> float:
    """How far frames start+1..end-1 are from mixes of frame start, frame end and a flat
    frame, relative to the distance between start and end: 0 for a perfect dissolve or
    fade, the larger the less the span looks like one.

    Thumbnails are linear in the pixels, so a dissolve's frames are (1 - a) * first + a * last,
    a fade's are a * first + b * flat (black or white), and a fade out and in passes through
    flat frames; both shots' own motion meanwhile adds a little. A pan or zoom instead
    passes through frames that no such mix looks like.
    """
    first, last = thumbnails[start].astype(np.float64), thumbnails[end].astype(np.float64)
    length = float(np.linalg.norm(last - first))
    if length == 0.0:
        return np.inf  # nothing changes across the span: no transition to explain
    inner = thumbnails[start + 1:end].astype(np.float64)
    if len(inner) == 0:
        return 0.0
    basis = np.stack([first, last, np.ones_like(first)], axis=1)
    weights, *_ = np.linalg.lstsq(basis, inner.T, rcond=None)
    residuals = np.linalg.norm(inner.T - basis @ weights, axis=0)
    return float(residuals.mean() / length)
