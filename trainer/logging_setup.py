"""How a trainer process logs, set up by its entry point only (importing a module configures nothing):

    python -m trainer.task ...   # Vertex AI runs the trainer alone: trainer.task configures it
    gifrank train ...            # pipelines.cli configures the same, plus Beam's noise dropped

Our INFO lines, one format; TensorFlow's C++ start-up chatter and its Python loggers' INFO lines
say nothing a user can act on.
"""
from __future__ import annotations

import logging
import os

FORMAT = "%(asctime)s %(levelname)s %(message)s"
NOISY_LOGGERS = ("tensorflow", "absl")


def configure_logging() -> None:
    # Read by TensorFlow's C++ side when it loads: set before the first import of TensorFlow.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # force: an imported library may already have given the root logger a default handler.
    logging.basicConfig(level=logging.INFO, format=FORMAT, force=True)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
