"""Pairwise accuracy: the share of a video's (GIF segment, other segment) pairs a scorer orders right.

    per_video = video_pairwise_accuracies(score, videos)   # {video_id: (right, pairs)}
    overall, pairs = pairwise_accuracy(score, videos)        # pooled over every pair

Pairs are formed within a video only, every positive with every negative; ties count half.
The trainer validates with it each epoch, the demo and the benchmarks report it; its interval
over videos is the evaluation's (evaluation.intervals.bootstrap_interval). Imports nothing but
NumPy, so that everything above the trainer may use it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

import numpy as np
from numpy.typing import ArrayLike

POSITIVE, NEGATIVE = 1, 0  # segment labels (trainer.data's)

PerVideo = dict[str, tuple[float, int]]  # video_id -> (pairs ordered right, ties half; pairs)


class LabelledVideo(Protocol):
    """What pairing needs of a video: its id and its segments' labels (trainer.data.Video has them)."""

    @property
    def video_id(self) -> str: ...

    @property
    def labels(self) -> np.ndarray: ...


V = TypeVar("V", bound=LabelledVideo)


def video_pairwise_accuracies(score: Callable[[V], ArrayLike], videos: Iterable[V]) -> PerVideo:
    """`score(video)` -> its segments' scores; per video with both labels: (pairs right, pairs)."""
    results = {}
    for video in videos:
        positive, negative = video.labels == POSITIVE, video.labels == NEGATIVE
        if not positive.any() or not negative.any():
            continue
        scores = np.asarray(score(video), np.float64).reshape(-1)
        difference = scores[positive][:, None] - scores[negative][None, :]
        results[video.video_id] = (float((difference > 0).sum() + 0.5 * (difference == 0).sum()), difference.size)
    return results


def pooled(per_video: PerVideo) -> tuple[float | None, int]:
    right = sum(r for r, _ in per_video.values())
    pairs = sum(n for _, n in per_video.values())
    return (right / pairs if pairs else None), pairs


def pairwise_accuracy(score: Callable[[V], ArrayLike], videos: Iterable[V]) -> tuple[float | None, int]:
    """(share of every video's pairs in order, the number of pairs); None when there are no pairs."""
    return pooled(video_pairwise_accuracies(score, videos))
