"""Pairwise accuracy: the share of a video's (GIF segment, other segment) pairs a scorer orders right.

    per_video = video_pairwise_accuracies(score, videos)   # {video_id: (right, pairs)}
    overall, pairs = pairwise_accuracy(score, videos)        # pooled over every pair
    low, high = bootstrap_interval(per_video, seed=0)        # 95% interval over videos

Pairs are formed within a video only, every positive with every negative; ties count half.
The interval resamples videos (not pairs), since pairs of one video are not independent.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

POSITIVE, NEGATIVE = 1, 0


def video_pairwise_accuracies(score: Callable, videos: Iterable) -> dict[str, tuple[float, int]]:
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


def pooled(per_video: dict[str, tuple[float, int]]) -> tuple[float | None, int]:
    right = sum(r for r, _ in per_video.values())
    pairs = sum(n for _, n in per_video.values())
    return (right / pairs if pairs else None), pairs


def pairwise_accuracy(score: Callable, videos: Iterable) -> tuple[float | None, int]:
    """(share of every video's pairs in order, the number of pairs); None when there are no pairs."""
    return pooled(video_pairwise_accuracies(score, videos))


def bootstrap_interval(per_video: dict[str, tuple[float, int]], level: float = 0.95, resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float] | None:
    """A percentile bootstrap interval of the pooled accuracy, resampling videos with replacement."""
    if not per_video:
        return None
    right = np.array([r for r, _ in per_video.values()])
    pairs = np.array([n for _, n in per_video.values()], np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(right), (resamples, len(right)))
    accuracies = right[draws].sum(1) / pairs[draws].sum(1)
    tail = (1 - level) / 2
    return float(np.quantile(accuracies, tail)), float(np.quantile(accuracies, 1 - tail))
