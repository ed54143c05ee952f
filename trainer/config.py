"""A training job's configuration, as data: every flag of `gifrank train` is a field here.

Imports nothing heavy, so `gifrank train --help` starts without TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass

PAIR_LOSSES = ("l1", "l2", "huber", "adaptive_huber", "video_agnostic")
RANKSVM = "ranksvm"  # the domain-specific rankSVM baseline (trainer.ranksvm), not the network
LOSSES = PAIR_LOSSES + ("classification", RANKSVM)


@dataclass(frozen=True)
class TrainConfig:
    dataset: str | None = None
    segments: str | None = None
    job_dir: str = "./job"
    feature_extractor: str | None = None
    segmenter: str | None = None
    loss: str = "adaptive_huber"
    context: bool = False
    epochs: int = 25
    seed: int = 0
    models: int = 1
    learning_rate: float = 0.001
    lr_decay_every: int = 10  # epochs
    lr_decay_factor: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.001  # lambda on the squared Frobenius norm of the weights
    batch_pairs: int = 50
    negatives_per_video: int = 4
    huber_delta: float = 1.5
    input_dropout: float = 0.8
    hidden_dropout: float = 0.25
    hidden_units: tuple[int, ...] = (512, 128)
    input_scale: str = "1"  # a factor, or "auto": 1 / the training features' mean absolute value
    standardize: bool = False  # each feature less its training mean, over its training standard deviation
    shuffle_buffer: int = 2048
    strategy: str = "default"  # default | mirrored
    progress: str = "auto"  # auto (a bar on a terminal) | bar | log


def learning_rate_at(config: TrainConfig, epoch: int) -> float:
    return config.learning_rate * config.lr_decay_factor ** (epoch // config.lr_decay_every)
