"""TensorFlow's C++ start-up lines (oneDNN, CUDA probing) kept off the terminal.

TensorFlow 2.19+ logs them through absl before absl::InitializeLog is called, so
TF_CPP_MIN_LOG_LEVEL does not reach them (tensorflow/tensorflow#100442, open): "oneDNN
custom operations are on", "Could not find cuda drivers", "failed call to cuInit" on a
machine without a GPU. Nothing in them is for a gifrank user, so stderr is pointed at
/dev/null while TensorFlow is imported and looks for devices; Python errors still raise.
GIFRANK_TF_STARTUP_LOG=1 shows them.
"""
from __future__ import annotations

import os
import sys


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow (when it is Keras's backend) and enumerates its devices, silently."""
    if "tensorflow" in sys.modules or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    if os.environ.get("GIFRANK_TF_STARTUP_LOG") == "1":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    stderr_fd = 2  # the process's own stderr, where C++ logs go, whatever sys.stderr is (a notebook's)
    saved = os.dup(stderr_fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stderr_fd)
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe logs here, not at import
    finally:
        sys.stderr.flush()
        os.dup2(saved, stderr_fd)
        os.close(saved)
        os.close(devnull)
