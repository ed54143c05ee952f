"""How sure a figure is: bootstrap intervals over videos, and a paired test of two methods.

    mean_interval({video: value}, seed=0)             -> Estimate(mean, low, high, videos)
    paired_comparison({video: a}, {video: b}, seed=0)  -> on the videos both scored
    bootstrap_interval({video: (right, pairs)}, seed=0) -> (low, high) of a pooled pairwise accuracy

Videos are the unit resampled: a video's frames and pairs are not independent. The paper
reports neither; scipy does the statistics.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95
RESAMPLES = 9999


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float | None  # the interval; None with fewer than two videos
    high: float | None
    videos: int

    def as_dict(self) -> dict:
        return asdict(self)


def mean_interval(per_video: dict[str, float], level: float = LEVEL, seed: int = 0) -> Estimate:
    """The mean over videos with a percentile bootstrap interval (videos resampled with replacement)."""
    if not per_video:
        raise ValueError("no videos to average")
    values = np.asarray(list(per_video.values()), np.float64)
    if len(values) < 2 or np.all(values == values[0]):
        spread = None if len(values) < 2 else float(values[0])
        return Estimate(float(values.mean()), spread, spread, len(values))
    result = stats.bootstrap((values,), np.mean, confidence_level=level, n_resamples=RESAMPLES, method="percentile",
                             rng=np.random.default_rng(seed))
    interval = result.confidence_interval
    return Estimate(float(values.mean()), float(interval.low), float(interval.high), len(values))


def format_estimate(estimate: dict | None, percent: bool = False) -> str:
    """An Estimate's dict as text: "0.4412 [0.4301, 0.4530]", or "44.12% [43.01, 45.30]"."""
    if estimate is None:
        return "n/a"
    scale, mean = (100, "{:.2f}%") if percent else (1, "{:.4f}")
    text = mean.format(scale * estimate["mean"])
    if estimate["low"] is None:
        return text
    bound = "{:.2f}" if percent else "{:.4f}"
    return f"{text} [{bound.format(scale * estimate['low'])}, {bound.format(scale * estimate['high'])}]"


@dataclass(frozen=True)
class PairedComparison:
    videos: int
    mean_a: float
    mean_b: float
    difference: Estimate  # of a - b, over the videos both have
    p_value: float  # Wilcoxon signed-rank, two-sided: are a and b the same on these videos?

    def as_dict(self) -> dict:
        return {**asdict(self), "difference": self.difference.as_dict()}


def paired_comparison(a: dict[str, float], b: dict[str, float], level: float = LEVEL,
                      seed: int = 0) -> PairedComparison:
    """Two methods' per-video figures compared on the videos both scored."""
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ValueError("the two methods share no video")
    first, second = (np.array([m[v] for v in shared], np.float64) for m in (a, b))
    differences = first - second
    if np.all(differences == 0):
        p_value = 1.0
    else:
        p_value = float(stats.wilcoxon(first, second, zero_method="zsplit").pvalue)
    return PairedComparison(len(shared), float(first.mean()), float(second.mean()),
                            mean_interval(dict(zip(shared, differences)), level, seed), p_value)


def bootstrap_interval(per_video: dict[str, tuple[float, int]], level: float = 0.95, resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float] | None:
    """A percentile bootstrap interval of a pooled pairwise accuracy (trainer.pairwise's per-video
    (pairs right, pairs)), resampling videos with replacement: pairs of one video are not independent."""
    if not per_video:
        return None
    right = np.array([r for r, _ in per_video.values()])
    pairs = np.array([n for _, n in per_video.values()], np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(right), (resamples, len(right)))
    accuracies = right[draws].sum(1) / pairs[draws].sum(1)
    tail = (1 - level) / 2
    return float(np.quantile(accuracies, tail)), float(np.quantile(accuracies, 1 - tail))
