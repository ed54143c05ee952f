"""Pairwise accuracy, on scores whose orderings are counted by hand."""
from types import SimpleNamespace

import numpy as np
import pytest

from trainer.pairwise import pairwise_accuracy, pooled, video_pairwise_accuracies


def video(video_id, labels, scores):
    return SimpleNamespace(video_id=video_id, labels=np.array(labels, np.int8), scores=np.array(scores, np.float32))


VIDEOS = [
    # positives score 3 and 1; negatives 2, 0, 1 (and an ignored 9): pairs (3>2, 3>0, 3>1, 1<2, 1>0, 1=1) = 4.5 of 6
    video("a", [1, 1, 0, 0, 0, -1], [3.0, 1.0, 2.0, 0.0, 1.0, 9.0]),
    video("b", [1, 0], [0.0, 5.0]),  # 0 of 1
    video("c", [0, 0], [1.0, 2.0]),  # no positive: no pairs
]


def test_pairs_within_each_video_ties_half():
    per_video = video_pairwise_accuracies(lambda v: v.scores, VIDEOS)
    assert per_video == {"a": (4.5, 6), "b": (0.0, 1)}
    assert pooled(per_video) == (pytest.approx(4.5 / 7), 7)
    assert pairwise_accuracy(lambda v: v.scores, VIDEOS[2:]) == (None, 0)
