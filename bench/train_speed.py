"""Benchmark: the trainer's pairs/s with its own input pipeline against a bare compiled training step.

    .venv/bin/python -m bench.train_speed [--videos 600] [--positives 6] [--epochs 4] [--repeats 3] [--out F]

In one run, with one model and batch (50 pairs):
  bare step     the trainer's compiled step on one batch of tensors already in memory
  full trainer  Trainer.run: Parquet shards -> streamed videos -> sampled pairs mixed in blocks (a
                thread reading ahead) -> tf.data (gather, batch, prefetch) -> the same step, 50 steps
                to a compiled call; pairs/s over each epoch's training loop after the first
Target: full trainer >= 0.8x the bare step. --repeats alternates the two and reports medians.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from bench.report import emit_json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=600)
    parser.add_argument("--positives", type=int, default=6, help="positives per video (x 4 negatives: pairs)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-pairs", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bare-steps", type=int, default=200)
    parser.add_argument("--out")
    return parser.parse_args(argv)


def bare_step_pairs_per_sec(trainer, batch_pairs: int, steps: int) -> float:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    batch = {"positive": tf.constant(rng.uniform(0, 2, (batch_pairs, 4096)).astype(np.float32)),
             "negative": tf.constant(rng.uniform(0, 2, (batch_pairs, 4096)).astype(np.float32)),
             "popularity": tf.constant(rng.uniform(0, 1, batch_pairs).astype(np.float32))}
    step = trainer.bare_step()
    float(step(batch))  # compile
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(batch)
    float(loss)
    return steps * batch_pairs / (time.perf_counter() - start)


def full_trainer_pairs_per_sec(segments: str, work: str, args, run: int) -> tuple[float, dict]:
    from trainer.config import TrainConfig
    from trainer.training import Trainer

    config = TrainConfig(segments=segments, job_dir=os.path.join(work, f"job-{run}"), epochs=args.epochs,
                         batch_pairs=args.batch_pairs, progress="log")
    result = Trainer(config).run()
    rates = [h["pairs_per_sec"] for h in result.history]
    return statistics.median(rates[1:] or rates), result.history[-1]  # the first epoch includes tracing


def run(args) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from trainer.config import TrainConfig
    from trainer.synthetic import SyntheticSegments
    from trainer.training import Trainer

    with tempfile.TemporaryDirectory(prefix="gifrank-bench-train-") as work:
        segments = os.path.join(work, "segments.parquet")
        rows = SyntheticSegments(videos=args.videos, positives_per_video=args.positives,
                                 segments_per_video=(24, 24), split_shares=(0.8, 0.1, 0.1)).write(segments)
        probe = Trainer(TrainConfig(segments=segments, job_dir=os.path.join(work, "probe"),
                                    batch_pairs=args.batch_pairs))
        runs = {"bare_step": [], "full_trainer": []}
        last = None
        for r in range(args.repeats):
            rate, last = full_trainer_pairs_per_sec(segments, work, args, r)
            runs["full_trainer"].append(rate)
            runs["bare_step"].append(bare_step_pairs_per_sec(probe, args.batch_pairs, args.bare_steps))
        median = {k: statistics.median(v) for k, v in runs.items()}
        return {"segments_rows": rows, "pairs_per_epoch": last["pairs"], "batch_pairs": args.batch_pairs,
                "epochs": args.epochs, "pairs_per_sec_runs": runs, "pairs_per_sec_median": median,
                "full_vs_bare": median["full_trainer"] / median["bare_step"], "target": 0.8,
                "cpu_count": os.cpu_count()}


def main(argv=None):
    args = parse_args(argv)
    emit_json(run(args), args.out)


if __name__ == "__main__":
    main()
