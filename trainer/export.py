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

from trainer.job_dir import JobDir
from trainer.model import Architecture


def serving_module(scorer, arch: Architecture):
    import tensorflow as tf

    features = tf.TensorSpec([None, arch.feature_dim], tf.float32, name="features")
    module = tf.Module()
    module.scorer = scorer  # tracks the variables
    if arch.context_dim:
        context = tf.TensorSpec([None, arch.context_dim], tf.float32, name="context")

        @tf.function(input_signature=[features, context])
        def serve(features, context):
            return {"score": tf.reshape(scorer({"features": features, "context": context}, training=False), [-1])}
    else:
        @tf.function(input_signature=[features])
        def serve(features):
            return {"score": tf.reshape(scorer({"features": features}, training=False), [-1])}
    module.serve = serve
    return module


def export_model(scorer, arch: Architecture, job: JobDir) -> None:
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
