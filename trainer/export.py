"""The trained scorer as a SavedModel (what RunInference and `gifrank predict` load) and a .keras file.

    loaded = tf.saved_model.load("JOB/model")
    loaded.signatures["serving_default"](features=tf.zeros([3, 4096]))["score"]   # float32 [3]

The signature takes `features` (float32 [batch, 4096]) and, when the model uses context,
`context` (float32 [batch, c]); it returns `score` (float32 [batch]). With model averaging
the graph averages the models' scores. TensorFlow writes the SavedModel to local disk; it is
then copied to the job's model folder (local or gs://) through pyarrow.
"""
from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from trainer.job_dir import JobDir
from trainer.model import Architecture

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


def serving_module(scorer: keras.Model, arch: Architecture) -> tf.Module:
    """A tf.Module serving the Keras scorer: serve(features[, context]) -> {"score": [batch]}."""
    import tensorflow as tf

    features = tf.TensorSpec([None, arch.feature_dim], tf.float32, name="features")
    module = tf.Module()
    module.scorer = scorer  # tracks the variables
    if arch.context_dim:
        context = tf.TensorSpec([None, arch.context_dim], tf.float32, name="context")

        @tf.function(input_signature=[features, context])
        def serve(features: tf.Tensor, context: tf.Tensor) -> dict:
            return {"score": tf.reshape(scorer({"features": features, "context": context}, training=False), [-1])}
    else:
        @tf.function(input_signature=[features])
        def serve(features: tf.Tensor) -> dict:
            return {"score": tf.reshape(scorer({"features": features}, training=False), [-1])}
    module.serve = serve
    return module


def export_model(scorer: keras.Model, arch: Architecture, job: JobDir) -> None:
    """The Keras scorer (any of trainer.model's or trainer.ranksvm's) as JOB/model and JOB/model.keras."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="gifrank-export-") as local:
        saved = os.path.join(local, "model")
        module = serving_module(scorer, arch)
        tf.saved_model.save(module, saved, signatures={"serving_default": module.serve})
        keras_file = os.path.join(local, "model.keras")
        scorer.save(keras_file)
        with open(keras_file, "rb") as f:
            JobDir.write_bytes(job.keras_file, "", f.read())
        JobDir.upload_tree(saved, job.model)


class Ranker:
    """An exported ranker, loaded: `score(features[, context])` -> a score per segment (a trainer.scoring.Scorer).

    Loaded with tf.saved_model.load (Keras 3's load_model refuses SavedModel folders), from a
    local folder or gs:// (copied to local disk first: TensorFlow's gs:// cannot reach an emulator).
    """

    def __init__(self, uri: str):
        import pyarrow.fs as pafs
        import tensorflow as tf

        from featurizer.dataset.storage import DatasetRoot

        self.uri = uri
        source = DatasetRoot.open(uri)
        if not source.exists("saved_model.pb"):
            raise FileNotFoundError(f"{uri}: no SavedModel here (an exported model folder holds saved_model.pb; "
                                    "gifrank train writes it to JOB/model)")
        self._local = tempfile.TemporaryDirectory(prefix="gifrank-ranker-")
        if source.fs.type_name == "local":
            path = source.path
        else:
            path = self._local.name
            pafs.copy_files(source.path, path, source_filesystem=source.fs,
                            destination_filesystem=pafs.LocalFileSystem())
        self._serve = tf.saved_model.load(path).signatures["serving_default"]
        inputs = self._serve.structured_input_signature[1]
        if "features" not in inputs or "score" not in self._serve.structured_outputs:
            raise ValueError(f"{uri}: serving_default takes {sorted(inputs)} and returns "
                             f"{sorted(self._serve.structured_outputs)}, not features -> score")
        self.feature_dim: int = int(inputs["features"].shape[-1])
        self.context_dim: int = int(inputs["context"].shape[-1]) if "context" in inputs else 0

    def widths(self) -> tuple[int, int]:
        """(feature width, context width; 0 without context): a method, so shared proxies of the model have it."""
        return self.feature_dim, self.context_dim

    def score(self, features: ArrayLike, context: ArrayLike | None = None, batch: int = 4096) -> np.ndarray:
        import tensorflow as tf

        rows = np.asarray(features, np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.feature_dim:
            raise ValueError(f"{self.uri} scores {self.feature_dim}-d features, not {rows.shape[1:]}")
        per_segment = None
        if self.context_dim:
            if context is None or np.shape(context)[1:] != (self.context_dim,):
                raise ValueError(f"{self.uri} also takes {self.context_dim}-d context per segment "
                                 f"(gifrank train --context), not {None if context is None else np.shape(context)[1:]}")
            per_segment = np.asarray(context, np.float32)
        scores = []
        for start in range(0, len(rows), batch):
            inputs = {"features": tf.constant(rows[start:start + batch])}
            if per_segment is not None:
                inputs["context"] = tf.constant(per_segment[start:start + batch])
            scores.append(self._serve(**inputs)["score"].numpy())
        return np.concatenate(scores) if scores else np.zeros(0, np.float32)
