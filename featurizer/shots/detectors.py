"""Shot boundary detectors: interchangeable algorithms over a window of frame features.

A detector sees FrameFeatures of consecutive frames and returns the boundaries it finds in
them (window-relative indices of the first frame of each new shot). It never decodes video:
featurizer.shots.driver feeds it overlapping windows and keeps the boundaries in each
window's middle, where the detector saw `context_frames` of video on both sides.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from featurizer.shots.contrast import (
    CALMER_SIDE,
    CUT_HISTOGRAM_SCALE,
    HISTOGRAM_SCALE,
    SECOND_LARGEST,
    blend_residual,
    contrast,
    shot_of_frame,
    span_start,
)
from featurizer.shots.features import FrameFeatures, histogram_distance

# Two boundaries closer than this are one event seen twice (a local maximum test's radius).
_CUT_RADIUS = 2
# A frame whose brightest thumbnail pixel is under this (0..1, about 25 of 255) is dark all over.
_DARK_LUMA = 0.1


class ShotDetector(Protocol):
    name: str

    def context_frames(self, fps: float) -> int:
        """How many frames either side of a boundary its decision depends on."""

    def detect(self, features: FrameFeatures) -> list[int]:
        """Sorted window-relative indices of the first frames of new shots."""


def _seconds_to_frames(seconds: float, fps: float, minimum: int) -> int:
    return max(minimum, round(seconds * fps))


def _local_maxima(score: np.ndarray, threshold: float, radius: int) -> np.ndarray:
    """Indices with score >= threshold that are the first maximum within +-radius."""
    padded = np.concatenate([np.full(radius, -np.inf), score, np.full(radius, -np.inf)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1)
    is_max = (score >= windows.max(axis=1)) & (score > windows[:, :radius].max(axis=1))
    return np.flatnonzero(is_max & (score >= threshold))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _unit_spread(block: np.ndarray) -> np.ndarray:
    """Centre a feature block and scale its total spread to 1, so families weigh alike."""
    centred = block - block.mean(axis=0)
    spread = np.sqrt((centred**2).sum())
    return centred / spread if spread > 0 else centred


@dataclass(frozen=True)
class _GradualCandidate:
    boundary: int
    lag: int
    score: float


@dataclass(frozen=True)
class ChangePointDetector:
    """Multiple change-point detection in two stages: local contrast screening finds where
    the video changes more than its own motion explains, at several time scales; kernel
    change-point optimisation (least squares, exact) places each gradual change within its window.

    Cuts are changes between adjacent frames (lag 1). Gradual transitions (dissolves, fades)
    are changes over longer lags in spans free of cuts, and must also look like a blend of
    the frames at the span's ends, which motion does not.
    """

    name = "cpd"
    cut_threshold: float = 2.5
    gradual_threshold: float = 3.5
    max_transition_sec: float = 1.2  # the longest dissolve or fade looked for
    motion_context_sec: float = 0.32  # envelope width for cuts; enough to see a few motion steps
    blend_tolerance: float = 0.35
    lag_count: int = 6  # lags from 2 frames to the longest transition, geometrically spaced
    return_sec: float = 2.0  # how far either side of a gradual change colours are looked for coming back
    return_ratio: float = 0.15  # colours this close (of the change across) are the same view again

    def __post_init__(self):
        positive = ("cut_threshold", "gradual_threshold", "max_transition_sec", "motion_context_sec", "blend_tolerance",
                    "return_sec", "return_ratio")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lag_count < 1:
            raise ValueError("lag_count must be at least 1")

    def _cut_context(self, fps: float) -> int:
        return _seconds_to_frames(self.motion_context_sec, fps, minimum=4)

    def _lags(self, fps: float) -> list[int]:
        longest = _seconds_to_frames(self.max_transition_sec, fps, minimum=3)
        return sorted(set(np.round(np.geomspace(2, longest, self.lag_count)).astype(int).tolist()))

    def _return_frames(self, fps: float) -> int:
        return _seconds_to_frames(self.return_sec, fps, minimum=1)

    def context_frames(self, fps: float) -> int:
        # A gradual decision reaches half a span, then an envelope as wide as the span (or the
        # return test's reach), and depends on cuts found within the cut context (two passes) of that.
        longest = self._lags(fps)[-1]
        context = self._cut_context(fps)
        return longest // 2 + longest + max(longest, self._return_frames(fps)) + 2 * (context + _CUT_RADIUS) + 1

    def detect(self, features: FrameFeatures) -> list[int]:
        if len(features) < 2:
            return []
        cuts = self._cuts(features)
        gradual = self._gradual(features, cuts)
        return _join_fades(cuts, gradual, _dark(features), self._lags(features.fps)[-1])

    def _cuts(self, features: FrameFeatures) -> list[int]:
        """Lag-1 contrast peaks. The second pass discounts the cuts of the first from the
        envelopes, so a cut next to another (a very short shot) is judged by motion alone.
        The envelope takes the second largest nearby step, so one other cut or one jump of a
        slowly updating animation does not mask a cut either."""
        width = self._cut_context(features.fps)
        cuts: list[int] = []
        for _ in range(2):
            score, _spans = contrast(features, 1, width, SECOND_LARGEST, shot_of_frame(len(features), cuts),
                                     CUT_HISTOGRAM_SCALE)
            found = _local_maxima(score, self.cut_threshold, _CUT_RADIUS).tolist()
            # A shot of one frame is one transition's mixed frame (a fast fade, a blended field), not
            # a shot: the second pass adds no cut next to one of the first.
            cuts = sorted(set(cuts) | {b for b in found if b - 1 not in cuts and b + 1 not in cuts})
        return cuts

    def _gradual(self, features: FrameFeatures, cuts: list[int]) -> list[int]:
        """Runs of high contrast at some lag; in each, the strongest lag whose span also looks
        like a blend gives the transition (a long lag may straddle motion beside a dissolve
        that a shorter lag, spanning only the dissolve, avoids)."""
        lags = self._lags(features.fps)
        scores = self._gradual_contrast(features, lags, shot_of_frame(len(features), cuts))
        candidates = []
        for start, stop in _runs(scores.max(axis=0) >= self.gradual_threshold):
            candidate = self._run_candidate(features, scores[:, start:stop], lags, start, stop, cuts)
            if candidate is not None:
                candidates.append(candidate)
        return _distinct(candidates, cuts)

    def _run_candidate(self, features: FrameFeatures, run: np.ndarray, lags: list[int],
                       start: int, stop: int, cuts: list[int]) -> _GradualCandidate | None:
        """The transition in one run of high contrast (frames [start, stop), `run` its
        (lags, stop - start) contrast): taken at the strongest lag whose span, at that lag's
        peak, passes the blend test; placed by a change-point fit over the run."""
        for lag_index in np.argsort(-run.max(axis=1)):
            peak = start + int(np.argmax(run[lag_index]))
            score, lag = float(run[lag_index].max()), lags[lag_index]
            if score < self.gradual_threshold:
                return None
            first = span_start(peak, lag)
            if blend_residual(features.thumbnails, first, first + lag) <= self.blend_tolerance:
                if self._returns(features, first, first + lag, cuts):
                    return None
                boundary = _place_change(features, start - lag // 2 - _CUT_RADIUS, stop + lag // 2 + _CUT_RADIUS)
                return _GradualCandidate(boundary, lag, score)
        return None

    def _returns(self, features: FrameFeatures, first: int, last: int, cuts: list[int]) -> bool:
        """Whether the colours after the span [first, last] come back to those of the same shot
        before it: something passed in front of the camera and left (which the blend test
        cannot tell from a dissolve), rather than a new shot coming in. Judged on histograms
        (a moving camera still shows the same colours) and only where they changed across."""
        histograms, reach, lag = features.histograms, self._return_frames(features.fps), last - first
        across = float(histogram_distance(histograms[first], histograms[last]))
        if across < HISTOGRAM_SCALE.visible:
            return False
        shot_start = max([0, first - reach] + [cut for cut in cuts if cut <= first])
        shot_end = min([len(features), last + reach + 1] + [cut for cut in cuts if cut > last])
        before = histograms[shot_start:max(shot_start, first - lag // 2 + 1)]
        after = histograms[min(shot_end, last + lag // 2):shot_end]
        if not len(before) or not len(after):
            return False
        closest = histogram_distance(before[:, None], after[None]).min()
        return bool(closest < self.return_ratio * across)

    def _gradual_contrast(self, features: FrameFeatures, lags: list[int], shots: np.ndarray) -> np.ndarray:
        """(lags, n) contrast of every boundary at every lag, zero where the span holds a cut.
        The envelope is at least as wide as the lag, to sample the motion over that lag fairly."""
        cut_context = self._cut_context(features.fps)
        scores = np.zeros((len(lags), len(features)))
        for row, lag in enumerate(lags):
            score, spans = contrast(features, lag, max(cut_context, lag), CALMER_SIDE, shots)
            inside = spans.valid.copy()
            inside[spans.valid] = shots[spans.starts[spans.valid]] == shots[spans.ends[spans.valid]]
            scores[row] = np.where(inside, score, 0.0)
        return scores


def _dark(features: FrameFeatures) -> np.ndarray:
    """Frames dark all over, like the middle of a fade through black."""
    return features.thumbnails.max(axis=1) < _DARK_LUMA


def _join_fades(cuts: list[int], gradual: list[int], dark: np.ndarray, longest_lag: int) -> list[int]:
    """A fade out and the fade in after it, with dark frames between, are one transition:
    the screening sees each half as a change (a fade out over a frame or two as a cut), so
    replace such pairs by one boundary in the middle of the dark frames. Two cuts with dark
    frames between stay apart: that is a dark shot."""
    joined: list[int] = []
    fading: list[bool] = []  # whether joined[i] is or holds a gradual boundary
    for boundary, is_gradual in sorted([(c, False) for c in cuts] + [(g, True) for g in gradual]):
        if (joined and (is_gradual or fading[-1]) and boundary - joined[-1] <= longest_lag
                and dark[joined[-1]:boundary].any()):
            dark_frames = joined[-1] + np.flatnonzero(dark[joined[-1]:boundary])
            joined[-1], fading[-1] = int(dark_frames[len(dark_frames) // 2]), True
        else:
            joined.append(boundary)
            fading.append(is_gradual)
    return joined


def _place_change(features: FrameFeatures, start: int, stop: int) -> int:
    """The single change point of frames [start, stop) that best splits them in two
    (kernel change-point detection, linear kernel: least squares), exact."""
    start, stop = max(0, start), min(len(features), stop)
    if stop - start < 4:
        return (start + stop) // 2
    signal = np.hstack([_unit_spread(features.histograms[start:stop].astype(np.float64)),
                        _unit_spread(features.thumbnails[start:stop].astype(np.float64))])
    return start + _best_split(signal)


def _best_split(signal: np.ndarray) -> int:
    """The k in [1, n) whose two segments signal[:k], signal[k:] leave the least squared
    deviation from their means: what ruptures.KernelCPD(kernel="linear", min_size=1) finds
    for one change point (checked equal), without importing it and scipy.stats (a second)."""
    n = len(signal)
    sums = np.cumsum(signal, axis=0)
    left, right = sums[:-1], sums[-1] - sums[:-1]
    sizes = np.arange(1, n)
    # The squared deviation is the total sum of squares less |segment sum|^2 / size per segment.
    explained = (left**2).sum(axis=1) / sizes + (right**2).sum(axis=1) / (n - sizes)
    return int(np.argmax(explained)) + 1


def _distinct(candidates: list[_GradualCandidate], cuts: list[int]) -> list[int]:
    """Strongest first, drop gradual boundaries within half a lag of a cut or of a stronger
    gradual one: a transition seen by two runs of the screening, or a cut's long-lag echo."""
    kept: list[_GradualCandidate] = []
    for candidate in sorted(candidates, key=lambda c: -c.score):
        reach = candidate.lag // 2 + 1
        if any(abs(candidate.boundary - cut) <= reach for cut in cuts):
            continue
        if any(abs(candidate.boundary - other.boundary) <= max(reach, other.lag // 2 + 1) for other in kept):
            continue
        kept.append(candidate)
    return [c.boundary for c in kept]


@dataclass(frozen=True)
class KernelSegmentationDetector:
    """Plain kernel change-point detection (Gaussian kernel, penalised, PELT) over the joined
    features of each window: the textbook formulation of shot detection as multiple
    change-point detection, kept for comparison. One penalty cannot tell motion from a shot
    change: low enough to find cuts between similar shots, it cuts moving shots into pieces."""

    name = "kernel"
    penalty: float = 20.0
    bandwidth_gamma: float = 0.5
    min_shot_frames: int = 2

    def __post_init__(self):
        if not (self.penalty > 0 and self.bandwidth_gamma > 0 and self.min_shot_frames >= 1):
            raise ValueError("penalty and bandwidth_gamma must be positive, min_shot_frames at least 1")

    def context_frames(self, fps: float) -> int:
        return _seconds_to_frames(2.0, fps, minimum=16)

    def detect(self, features: FrameFeatures) -> list[int]:
        import ruptures  # lazily: it loads scipy.stats, about a second

        if len(features) < 2 * self.min_shot_frames:
            return []
        signal = np.hstack([np.sqrt(features.histograms), features.thumbnails]).astype(np.float64)
        algorithm = ruptures.KernelCPD(kernel="rbf", params={"gamma": self.bandwidth_gamma},
                                       min_size=self.min_shot_frames)
        return [int(b) for b in algorithm.fit(signal).predict(pen=self.penalty)[:-1]]


DETECTORS = {detector.name: detector for detector in (ChangePointDetector, KernelSegmentationDetector)}
