"""C3D as a RunInference model handler whose elements are whole videos: a video reference in,
its segments' features out (featurizer.c3d.video_features), so the step that holds the model also
decodes, and no pixels travel between workers.

RunInference keeps one model per process, shared by the process's threads, and batches
videos (`videos_per_batch`); the snippets of a batch's videos share model calls.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from featurizer.c3d.video_features import BlobVideo, FeatureSettings
from featurizer.labels.video_jobs import VideoJob


class C3DVideoHandler(ModelHandler[VideoJob, PredictionResult, Any]):
    """Elements: the VideoJobs of videos in `dataset`'s blob store (each result's example).
    Inference: VideoFeatures, or VideoFailure for expected bad input; other errors raise."""

    def __init__(self, weights_uri: str | None, mean_uri: str | None, settings: FeatureSettings, dataset: str, *,
                 videos_per_batch: int = 1, decode_processes: int = 0, model_copies: int = 0):
        super().__init__()
        self._weights_uri = weights_uri
        self._mean_uri = mean_uri
        self._settings = settings
        self._dataset = dataset
        self._videos_per_batch = max(1, videos_per_batch)
        self._decode_processes = decode_processes
        self._copies_per_machine = model_copies  # not _model_copies: ModelHandler has its own (int | None)

    def load_model(self):
        import contextlib

        # lazy: TensorFlow/Keras only where the model runs
        from featurizer.c3d import load_c3d_extractor
        from featurizer.c3d.video_features import VideoFeaturizer
        from featurizer.dataset.storage import local_copy

        # The weights are read through the dataset layer's filesystems (local, gs://), on the worker.
        with contextlib.ExitStack() as files:
            weights = files.enter_context(local_copy(self._weights_uri)) if self._weights_uri else None
            mean = files.enter_context(local_copy(self._mean_uri)) if self._mean_uri else None
            # Random weights: the launcher has said so once already.
            files.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", message="C3D has no weights file")
            extractor = load_c3d_extractor(weights, mean)
        return VideoFeaturizer(extractor, self._settings, self._decode_processes)

    def run_inference(self, batch: Sequence[VideoJob], model, inference_args=None) -> Iterable[PredictionResult]:
        results = model.featurize([BlobVideo(self._dataset, job.video_sha256) for job in batch])
        return [PredictionResult(job, result) for job, result in zip(batch, results)]

    def share_model_across_processes(self) -> bool:
        # With model_copies, Beam holds that many models per worker machine, shared by its processes
        # (one per GPU's worth of memory), instead of one per SDK process.
        return self._copies_per_machine > 0

    def model_copies(self) -> int:
        return max(1, self._copies_per_machine)

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self._videos_per_batch}

    def get_metrics_namespace(self) -> str:
        return "gifrank.featurize.c3d"
