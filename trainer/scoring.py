"""What scores segments, as one interface: `score(features[, context])` -> a score per segment.

    scorer = open_scorer("JOB/model")    # an exported ranker (trainer.export.Ranker)
    scorer = open_scorer("random:7")     # the paper's chance level, seeded
    scorer = KerasScorer(model)          # a Keras scorer in memory (training's validation)
    scorer.widths()                      # (feature width, context width; 0 without context)

Every scorer fits the Scorer protocol, so validation, evaluation, RunInference and
`gifrank predict` take any of them. TensorFlow is imported only to load an exported ranker.

A random segment score is a function of the segment's features and the seed (a hash), not
of the order or the batches segments come in, so a pipeline gives the same numbers as a loop.
"""
from __future__ import annotations

import hashlib
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

RANDOM = "random"


class Scorer(Protocol):
    """A ranker as the evaluation and prediction use it."""

    @property
    def uri(self) -> str:
        """Where it comes from: an export's folder, or random:SEED."""
        ...

    @property
    def context_dim(self) -> int:
        """The context width it takes per segment; 0: none."""
        ...

    def widths(self) -> tuple[int, int]:
        """(feature width, context width): a method, so that proxies of a model shared by a machine's
        processes (RunInference) have it."""
        ...

    def score(self, features: ArrayLike, context: ArrayLike | None = None) -> np.ndarray:
        """Scores of segments (n, feature width), with their context (n, context width) when it takes one."""
        ...


class RandomScorer:
    def __init__(self, seed: int = 0, feature_dim: int = 4096):
        self.seed, self.feature_dim, self.context_dim = seed, feature_dim, 0
        self.uri = f"{RANDOM}:{seed}"

    def widths(self) -> tuple[int, int]:
        return self.feature_dim, self.context_dim

    def score(self, features: ArrayLike, context: ArrayLike | None = None) -> np.ndarray:
        rows = np.ascontiguousarray(features, np.float32)
        prefix = str(self.seed).encode() + b":"
        digests = (hashlib.blake2b(prefix + row.tobytes(), digest_size=8).digest() for row in rows)
        return np.array([int.from_bytes(d, "big") / 2**64 for d in digests], np.float32)


class KerasScorer:
    """A Keras scorer in memory (trainer.model's network, its average, the rankSVM's model), scored in
    batches without dropout; its widths are its inputs'."""

    def __init__(self, model: Any, uri: str = "", batch: int = 4096):
        self.model, self.uri, self.batch = model, uri, batch
        shapes = {name: int(tensor.shape[-1]) for name, tensor in model.input.items()}
        self.feature_dim, self.context_dim = shapes["features"], shapes.get("context", 0)

    def widths(self) -> tuple[int, int]:
        return self.feature_dim, self.context_dim

    def score(self, features: ArrayLike, context: ArrayLike | None = None) -> np.ndarray:
        inputs = {"features": np.asarray(features, np.float32)}
        if self.context_dim:
            if context is None:
                raise ValueError(f"{self.uri or 'the model'} also takes {self.context_dim}-d context per segment")
            inputs["context"] = np.asarray(context, np.float32)
        n = len(inputs["features"])
        return np.concatenate([np.asarray(self.model.predict_on_batch({k: v[i:i + self.batch]
                                                                         for k, v in inputs.items()})).reshape(-1)
                               for i in range(0, n, self.batch)] or [np.zeros(0, np.float32)])


def open_scorer(model: str) -> Scorer:
    """A scorer by name: "random[:seed]", else the exported ranker at that path or URI."""
    name, _, seed = model.partition(":")
    if name == RANDOM:
        try:
            return RandomScorer(int(seed or 0))
        except ValueError:
            raise ValueError(f"--model random takes an integer seed (random:7), not {seed!r}") from None
    from trainer.export import Ranker  # lazy: TensorFlow only for trained models

    return Ranker(model)
