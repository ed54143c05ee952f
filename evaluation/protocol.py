"""The paper's protocol for one test video: segment scores spread to frames, then nMSD over
its GIFs and AP against their union, as the Video2GIF dataset's own example evaluates.

    result = evaluate_video(VideoTruth("v1", 900, [(120, 180)]), [(0, 100), (100, 200)], [0.3, 0.9])
    result.nmsd, result.average_precision
    bound = bound_video(truth)   # the approximate upper bound: its GIFs scored against each other

A video the protocol cannot score is excluded with its reason (counted, never dropped
silently): no aligned GIF, no scored segment, GIFs that cover every frame; for the bound,
one GIF only.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from evaluation.metrics import average_precision, nmsd

ALPHA = 0.5  # the share of a GIF the summary must recall (section 5)


@dataclass(frozen=True)
class VideoTruth:
    """What users made of a test video: its aligned GIFs as [start_frame, end_frame) ranges."""

    video_id: str
    num_frames: int
    gifs: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class VideoResult:
    video_id: str
    nmsd: float
    average_precision: float
    frames: int
    gifs: int
    segments: int
    segment_bounds: tuple[tuple[int, int], ...] = ()  # [start_frame, end_frame) of each scored segment
    segment_scores: tuple[float, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)


class Excluded(ValueError):
    """The video cannot be scored by the protocol; the message says why."""

    def __init__(self, video_id: str, reason: str):
        super().__init__(f"{video_id}: {reason}")
        self.video_id, self.reason = video_id, reason


def frame_scores(num_frames: int, segments: Sequence[tuple[int, int]], scores: Sequence[float] | np.ndarray
                 ) -> np.ndarray:
    """Each frame gets the score of its segment (the best, where segments overlap); frames in no
    segment get the lowest score, below every segment's."""
    values = np.asarray(scores, np.float64).reshape(-1)
    if len(values) != len(segments):
        raise ValueError(f"{len(values)} scores for {len(segments)} segments")
    if not len(values):
        raise ValueError("no segments to spread over the frames")
    lowest = values.min() - 1.0
    frames = np.full(num_frames, -np.inf)
    for (start, end), score in zip(segments, values):
        window = frames[max(0, start):min(num_frames, end)]
        np.maximum(window, score, out=window)
    frames[np.isneginf(frames)] = lowest
    return frames


def gif_frames(truth: VideoTruth) -> list[np.ndarray]:
    """One 0/1 array over the video's frames per GIF (ranges clipped to the video)."""
    labels = []
    for start, end in truth.gifs:
        label = np.zeros(truth.num_frames)
        label[max(0, start):min(truth.num_frames, end)] = 1
        labels.append(label)
    return labels


def _checked_gif_frames(truth: VideoTruth) -> list[np.ndarray]:
    if not truth.gifs:
        raise Excluded(truth.video_id, "no aligned GIF")
    labels = [label for label in gif_frames(truth) if 0 < label.sum()]
    if len(labels) < len(truth.gifs):
        raise Excluded(truth.video_id, "a GIF lies outside the video's frames")
    if any(label.all() for label in labels):
        raise Excluded(truth.video_id, "a GIF covers every frame: nothing to rank")
    return labels


def evaluate_video(truth: VideoTruth, segments: Sequence[tuple[int, int]], scores: Sequence[float] | np.ndarray,
                   alpha: float = ALPHA) -> VideoResult:
    """nMSD (mean over the video's GIFs) and AP (against their union) of one video; raises
    Excluded when the protocol cannot score it."""
    labels = _checked_gif_frames(truth)
    if not len(segments):
        raise Excluded(truth.video_id, "no scored segment")
    frames = frame_scores(truth.num_frames, segments, scores)
    return VideoResult(truth.video_id, nmsd(labels, frames, alpha), average_precision(np.max(labels, axis=0), frames),
                       truth.num_frames, len(truth.gifs), len(segments),
                       tuple((int(a), int(b)) for a, b in segments), tuple(float(x) for x in scores))


def bound_video(truth: VideoTruth, alpha: float = ALPHA) -> VideoResult:
    """The paper's approximate upper bound (section 5.1) on one video: each GIF, as the scores
    (1 on its frames, 0 elsewhere), evaluated against the video's other GIFs; the means over its
    GIFs. Our tables record no GIF's creator, so every GIF counts as another user's; a video
    needs two GIFs."""
    labels = _checked_gif_frames(truth)
    if len(labels) < 2:
        raise Excluded(truth.video_id, "one GIF: no other user's to score it against")
    nmsds, precisions = [], []
    for i, label in enumerate(labels):
        others = labels[:i] + labels[i + 1:]
        nmsds.append(nmsd(others, label, alpha))
        precisions.append(average_precision(np.max(others, axis=0), label))
    return VideoResult(truth.video_id, float(np.mean(nmsds)), float(np.mean(precisions)), truth.num_frames,
                       len(truth.gifs), 0)
