"""C3D as a RunInference model handler: snippets of 16 frames -> fc6, batched, on the worker's device.

Elements are (key, frames) with frames uint8 RGB (16, 128, 171, 3), C3D's resized
snippet; the handler subtracts the snippet mean, crops the centre 112x112 and, with
mirroring, also runs the left-right flipped clip. The inference is the mean fc6 of
the snippet (and its mirror image), float32 (4096,).
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from pipelines.workers import Progress


class C3DSnippetHandler(ModelHandler[np.ndarray, PredictionResult, Any]):
    def __init__(self, weights_path: str | None, mean_path: str | None, *, mirror: bool = True,
                 batch_size: int = 16):
        super().__init__()
        self._weights_path = weights_path
        self._mean_path = mean_path
        self._mirror = mirror
        self._batch_size = batch_size

    def load_model(self):
        from featurizer.c3d import load_c3d_extractor  # lazy: TensorFlow/Keras only where the model runs

        return load_c3d_extractor(self._weights_path, self._mean_path)

    def run_inference(self, batch: Sequence[np.ndarray], model, inference_args=None) -> Iterable[PredictionResult]:
        from featurizer.c3d.preprocess import CLIP_SHAPE, crop, to_channel_order, write_clip

        versions = (False, True) if self._mirror else (False,)
        clips = np.empty((len(batch) * len(versions), *CLIP_SHAPE), np.float32)
        mean_crop = crop(model.mean)
        for i, frames in enumerate(batch):
            window = to_channel_order(np.array(frames, np.uint8), model.channel_order)  # a copy: converted in place
            for v, mirrored in enumerate(versions):
                write_clip(window, mean_crop, clips[i * len(versions) + v], mirrored)
        fc6 = model.clip_features(clips, self._batch_size * len(versions))
        per_snippet = fc6.reshape(len(batch), len(versions), -1).mean(axis=1)
        Progress.record("c3d_snippets", len(batch), 0)
        return [PredictionResult(None, feature) for feature in per_snippet]

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self._batch_size}

    def get_metrics_namespace(self) -> str:
        return "gifrank.featurize.c3d"
