"""The paper's metrics (section 5.1) per video, with the conventions of the evaluation code
published with the Video2GIF dataset (`v2g_evaluation`), so figures compare with the paper's:

    nmsd(gif_ground_truths, frame_scores, alpha=0.5, mode="mean")   # lower is better
    average_precision(y_true, y_score, interpolate=True)             # higher is better

nMSD (Eq. 4), for one GIF g of a video of |v| frames: the threshold t is the (1 - alpha)
percentile of the scores of g's frames (numpy's linear interpolation), the summary is every
frame scoring at least t, and

    nMSD = (|frames scoring >= t| - alpha |g|) / (|v| - alpha |g|)

A video with several GIFs takes the mean over them (mode "best": the minimum).

AP: precision and recall at each distinct score threshold, from the lowest threshold (recall
1) to the highest, then (recall 0, precision 1); interpolated, each precision is the best at
that recall or more; AP is the plain mean of the precisions where recall changes (tied
scores are one threshold, so a tie that recalls several positives counts once). Labels all
1: AP is 1.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

MODES = ("mean", "best")


def _scores(values: ArrayLike, name: str) -> np.ndarray:
    scores = np.asarray(values).reshape(-1)
    if not np.issubdtype(scores.dtype, np.number) or not np.isfinite(scores).all():
        raise ValueError(f"{name} must be finite numbers")
    return scores


def _labels(values: ArrayLike, length: int, what: str) -> np.ndarray:
    labels = np.asarray(values).reshape(-1)
    if len(labels) != length:
        raise ValueError(f"{what} has {len(labels)} values for {length} scores")
    if not set(np.unique(labels).tolist()) <= {0, 1}:
        raise ValueError(f"{what} may hold only 0 and 1")
    return labels


def nmsd(gif_ground_truths: Sequence[ArrayLike], frame_scores: ArrayLike, alpha: float = 0.5,
         mode: str = "mean") -> float:
    """Normalised meaningful summary duration of one video: `gif_ground_truths` holds a 0/1 array
    per GIF over the video's frames, `frame_scores` a score per frame."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], not {alpha}")
    scores = _scores(frame_scores, "frame scores")
    if not len(gif_ground_truths):
        raise ValueError("no ground-truth GIF for the video")
    values = []
    for i, truth in enumerate(gif_ground_truths):
        labels = _labels(truth, len(scores), f"ground truth of GIF {i}")
        inside = scores[labels == 1]
        if len(inside) in (0, len(scores)):
            raise ValueError(f"ground truth of GIF {i} marks {'no' if not len(inside) else 'every'} frame")
        threshold = np.percentile(inside, 100 * (1 - alpha))
        least = alpha * len(inside)  # the share of the GIF the summary must hold, in frames
        values.append((np.count_nonzero(scores >= threshold) - least) / (len(scores) - least))
    return float(np.mean(values) if mode == "mean" else np.min(values))


def average_precision(y_true: ArrayLike, y_score: ArrayLike, interpolate: bool = True) -> float:
    """Average precision of scores against 0/1 labels (the conventions above)."""
    scores = _scores(y_score, "scores")
    labels = _labels(y_true, len(scores), "labels")
    if not labels.any():
        raise ValueError("no positive label: average precision is undefined")
    if labels.all():
        return 1.0
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    ends = np.append(np.flatnonzero(np.diff(ranked)), len(ranked) - 1)  # the last item of each tied score
    true_positives = np.cumsum(labels[order])[ends]
    precision = true_positives / (ends + 1.0)
    recall = true_positives / true_positives[-1]
    precision = np.append(precision[::-1], 1.0)
    recall = np.append(recall[::-1], 0.0).astype(np.float32)
    if interpolate:
        precision = np.maximum.accumulate(precision)
    return float(np.mean(precision[np.flatnonzero(np.diff(recall))]))
