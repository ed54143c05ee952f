"""Entry point of a training job: `python -m trainer.task` (Vertex AI's convention) or `gifrank train`.

    gifrank train --dataset ./data --job-dir ./job [--loss adaptive_huber] [--epochs 25] [--context]
    python -m trainer.task --segments gs://bucket/exports/segments/ --job-dir gs://bucket/jobs/run1 --models 3

Trains on split `train`, validates on `val` each epoch; rerunning a killed job's command
resumes it from its last checkpoint, and rerunning a finished one does nothing.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence

from trainer.config import LOSSES, TrainConfig

HELP = {
    "dataset": "dataset root (folder or gs://): its labelled segments with features, as the dataset layer serves them",
    "segments": "instead of --dataset: Parquet shards in the segments schema: a file, a folder (its .parquet "
                "files, recursively) or a glob pattern (*, ?, [...], ** for any folders; quote it), local or gs://",
    "job_dir": "where checkpoints, logs, config.json and the exported model go (folder or gs://)",
    "feature_extractor": "with --dataset: whose features, when the dataset holds several feature sets",
    "segmenter": "with --dataset: whose segments, when the dataset holds several",
    "loss": "rank loss: l1, l2, huber (delta 1.5), adaptive_huber (delta 1.5 + p), or the baselines "
            "video_agnostic (pairs across videos) and classification (logistic, single segments); ranksvm: "
            "the domain-specific rankSVM baseline instead of the network (a linear SVM per video category, C = 1)",
    "context": "concatenate the context features (category, tags, position) to the C3D features",
    "epochs": "epochs over the training pairs", "seed": "seed of initialisation, pair sampling, shuffling, dropout",
    "models": "models trained from different initialisations; the export averages their scores",
    "learning_rate": "SGD's initial learning rate", "lr_decay_every": "divide the learning rate every N epochs...",
    "lr_decay_factor": "...by this factor", "momentum": "Nesterov momentum",
    "weight_decay": "lambda: the squared Frobenius norm of the weights, times this, is added to the loss",
    "batch_pairs": "pairs per batch (segments: twice as many for classification)",
    "negatives_per_video": "k: negatives sampled per video each epoch, paired with every positive",
    "huber_delta": "delta of the Huber losses (adaptive: delta + p)",
    "input_dropout": "probability of dropping an input unit", "hidden_dropout": "the same after the first hidden layer",
    "input_scale": "features are multiplied by this before the network (and in the export, so serving takes raw "
                   "fc6): a number, or auto, 1 / the training features' mean absolute value, for features far "
                   "from Sports-1M fc6's scale such as random C3D weights'",
    "standardize": "standardise each feature by the training split's mean and standard deviation, inside the model "
                   "(serving takes raw fc6): for features without Sports-1M's calibration, such as random C3D weights'",
    "hidden_units": "units of the hidden layers, comma-separated", "shuffle_buffer": "pairs mixed across videos",
    "strategy": "tf.distribute strategy: default (one device) or mirrored (every GPU of the machine)",
    "progress": "auto: a progress bar on a terminal, log lines elsewhere",
}
CHOICES = {"loss": LOSSES, "strategy": ("default", "mirrored"), "progress": ("auto", "bar", "log")}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gifrank train", description=__doc__.strip().splitlines()[0])
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        default = field.default
        if field.type in ("bool", bool):
            parser.add_argument(flag, dest=field.name, action="store_true", help=HELP[field.name])
        elif field.name == "hidden_units":
            parser.add_argument(flag, dest=field.name, default=",".join(map(str, TrainConfig.hidden_units)),
                                type=lambda text: tuple(int(u) for u in text.split(",")),
                                help=HELP[field.name] + " (default: %(default)s)")
        else:
            kind = {"int": int, "float": float}.get(str(field.type), str)
            parser.add_argument(flag, dest=field.name, type=kind, default=default, choices=CHOICES.get(field.name),
                                help=HELP[field.name] + (" (default: %(default)s)" if default is not None else ""))
    return parser


def config_from(argv: Sequence[str]) -> TrainConfig:
    return TrainConfig(**vars(build_parser().parse_args(argv)))


def main(argv: Sequence[str] | None = None) -> int:
    config = config_from(sys.argv[1:] if argv is None else argv)
    from trainer.training import Trainer  # after --help: TensorFlow loads only for a real run

    result = Trainer(config).run()
    last = result.history[-1] if result.history else None
    print(json.dumps({"job_dir": result.job_dir, "model_dir": result.model_dir, "skipped": result.skipped,
                      "last_epoch": last}))
    return 0


if __name__ == "__main__":  # Vertex AI's entry point: the trainer alone, nothing of pipelines
    from trainer.logging_setup import configure_logging

    configure_logging()
    sys.exit(main())
