"""The exported ranker as a RunInference model handler: a video's segments in, their scores out.

Beam's TensorFlow handler loads through tf.keras.models.load_model, which Keras 3 refuses for
SavedModel folders (apache/beam#30616), and needs tensorflow_hub; this one loads with
tf.saved_model.load (trainer.export.Ranker). Any scorer --model names serves (random[:seed]
too: evaluation.baselines.open_scorer). A batch's videos are scored in one call, and one
model serves every process of a worker machine.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from trainer.scoring import Scorer


class RankerHandler(ModelHandler[dict, PredictionResult, Scorer]):
    """Elements: {"features": (n, 4096)[, "context": (n, c)]}, one video's segments; inference: (n,) scores."""

    def __init__(self, model_uri: str, *, videos_per_batch: int = 16):
        super().__init__()
        self._model_uri = model_uri
        self._videos_per_batch = max(1, videos_per_batch)

    def load_model(self) -> Scorer:
        from evaluation.baselines import open_scorer

        return open_scorer(self._model_uri)

    def run_inference(self, batch: Sequence[dict], model: Scorer,
                      inference_args: dict[str, Any] | None = None) -> Iterable[PredictionResult]:
        sizes = [len(e["features"]) for e in batch]
        _, context_dim = model.widths()  # the model may be a proxy of one shared by the machine's processes
        context = np.concatenate([e["context"] for e in batch]) if context_dim else None
        scores = model.score(np.concatenate([e["features"] for e in batch]), context)
        return [PredictionResult(e, part) for e, part in zip(batch, np.split(scores, np.cumsum(sizes)[:-1]))]

    def share_model_across_processes(self) -> bool:
        return True

    def batch_elements_kwargs(self) -> dict[str, Any]:
        return {"min_batch_size": 1, "max_batch_size": self._videos_per_batch}

    def get_metrics_namespace(self) -> str:
        return "gifrank.evaluate.ranker"
