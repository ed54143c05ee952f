"""Scorers beside trained rankers, with the same call: score(features[, context]) -> scores.

    open_scorer("JOB/model")     # an exported ranker (trainer.export.Ranker)
    open_scorer("random")        # the paper's chance level; "random:7" seeds it

and one evaluation that scores no segment: --model upper-bound, the paper's approximate upper
bound (users' GIFs scored against each other's: evaluation.protocol.bound_video).

A random segment score is a function of the segment's features and the seed (a hash), not
of the order or the batches segments come in, so a pipeline gives the same numbers as a loop.
"""
from __future__ import annotations

import hashlib

import numpy as np

RANDOM = "random"
UPPER_BOUND = "upper-bound"


def is_upper_bound(model: str) -> bool:
    return model == UPPER_BOUND


class RandomScorer:
    def __init__(self, seed: int = 0, feature_dim: int = 4096):
        self.seed, self.feature_dim, self.context_dim = seed, feature_dim, 0
        self.uri = f"{RANDOM}:{seed}"

    def widths(self) -> tuple[int, int]:
        return self.feature_dim, self.context_dim

    def score(self, features, context=None) -> np.ndarray:
        features = np.ascontiguousarray(features, np.float32)
        prefix = str(self.seed).encode() + b":"
        digests = (hashlib.blake2b(prefix + row.tobytes(), digest_size=8).digest() for row in features)
        return np.array([int.from_bytes(d, "big") / 2**64 for d in digests], np.float32)


def open_scorer(model: str):
    """A scorer by name: "random[:seed]", else the exported ranker at that path or URI."""
    if is_upper_bound(model):
        raise ValueError(f"{UPPER_BOUND} scores no segment: it is an evaluation "
                         f"(gifrank evaluate --model {UPPER_BOUND})")
    name, _, seed = model.partition(":")
    if name == RANDOM:
        try:
            return RandomScorer(int(seed or 0))
        except ValueError:
            raise ValueError(f"--model random takes an integer seed (random:7), not {seed!r}") from None
    from trainer.export import Ranker  # lazy: TensorFlow only for trained models

    return Ranker(model)
