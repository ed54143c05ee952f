"""Training the Robust Deep RankNet: epochs over each epoch's pairs, checkpoints, validation, export.

Resumable and deterministic by construction: an epoch's pairs come from a seed of (seed,
model, epoch, video); dropout masks from a stateless seed of (seed, model, step); the
learning rate from the epoch; so a run resumed from the checkpoint after epoch e does
exactly what an uninterrupted run does from there. A killed run loses at most the epoch it
was in. TensorFlow's op determinism is on, so two runs on one CPU give the same weights.
"""
from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from trainer import losses
from trainer.config import LOSSES, RANKSVM, TrainConfig, learning_rate_at
from trainer.data import DataError, PairSettings, SegmentSource, VideoCounts, epoch_dataset
from trainer.job_dir import JobDir
from trainer.model import Architecture, averaged_scorer, build_scorer, dense_layers, training_scores, weight_decay_term
from trainer.pairwise import pairwise_accuracy
from trainer.scoring import KerasScorer, Scorer

if TYPE_CHECKING:  # TensorFlow loads when training starts, not when this module is imported
    import keras
    import tensorflow as tf

LOG = logging.getLogger("gifrank")
# Steps per compiled call, after which the losses are looked at (a wait for the device): often
# enough to stop soon after a NaN.
CHECK_EVERY_BATCHES = 50


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: nothing is exported."""


def pair_settings(config: TrainConfig) -> PairSettings:
    return PairSettings(seed=config.seed, negatives_per_video=config.negatives_per_video,
                        batch_pairs=config.batch_pairs, shuffle_buffer=config.shuffle_buffer,
                        video_agnostic=config.loss == "video_agnostic",
                        single_segments=config.loss == "classification")


def model_seed(config: TrainConfig, model: int) -> int:
    return config.seed * 1000 + model


def open_source(config: TrainConfig, versions: dict | None = None) -> SegmentSource:
    """The job's labelled segments (at `versions`, a resumed job's; default: the latest), with their
    context when the model takes it or the loss is the rankSVM's (it reads each video's category there)."""
    return SegmentSource.open(config.dataset, config.segments, config.context or config.loss == RANKSVM,
                              config.feature_extractor, config.segmenter, versions=versions)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gifrank")
    except PackageNotFoundError:
        return "unknown"


@dataclass
class TrainResult:
    job_dir: str
    model_dir: str
    skipped: bool  # the job had finished before: nothing was done
    history: list[dict]
    counts: dict


class Trainer:
    """One job: M models trained one after the other, averaged in the export."""

    def __init__(self, config: TrainConfig):
        if config.loss not in LOSSES:
            raise ValueError(f"--loss must be one of {', '.join(LOSSES)}, not {config.loss!r}")
        if config.models < 1 or config.epochs < 1 or config.batch_pairs < 1:
            raise ValueError("--models, --epochs and --batch-pairs must be at least 1")
        self.config = config
        self.job = JobDir(config.job_dir)
        self.source = open_source(config)

    def job_record(self) -> dict:
        return {"flags": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.config).items()},
                "tables_read": self.source.versions, "package_version": _package_version(), "seed": self.config.seed}

    def _check_job_dir(self) -> None:
        record, existing = self.job_record(), self.job.read_config()
        if existing is None:
            self.job.write_config(record)
            return
        ignored = {"job_dir", "progress"}
        differs = sorted(k for k in set(record["flags"]) | set(existing.get("flags", {}))
                         if k not in ignored and record["flags"].get(k) != existing["flags"].get(k))
        if differs:
            raise ValueError(f"{self.config.job_dir} holds a job with other settings ({', '.join(differs)}); rerun "
                             "it with its own flags to resume it, or give a new --job-dir")
        if existing.get("tables_read") != record["tables_read"]:
            if self.config.dataset is None:
                raise ValueError(f"{self.config.job_dir} was started on other segment files; give a new --job-dir")
            # Tables moved on since the job started: it goes on reading the versions it started on.
            self.source = open_source(self.config, versions=existing["tables_read"])
            LOG.info("train: resuming %s on the table versions it started on: %s", self.config.job_dir,
                     self.source.versions)

    def run(self) -> TrainResult:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        self._check_job_dir()
        if self.job.finished():
            LOG.info("train: %s has finished already (%s); nothing to do", self.config.job_dir, self.job.model.uri)
            return TrainResult(self.config.job_dir, self.job.model.uri, True, [], {})
        self._prepare()
        if self.config.loss == RANKSVM:
            scorer, history, counts = self._fit_ranksvm()
        else:
            history, scorers, counts = [], [], {}
            with tempfile.TemporaryDirectory(prefix="gifrank-train-logs-") as logs:
                writer = tf.summary.create_file_writer(logs)
                for model in range(self.config.models):
                    model_scorer, model_history, counts = self._train_model(model, writer, logs)
                    scorers.append(model_scorer)
                    history += model_history
                writer.close()
            scorer = averaged_scorer(scorers, self.arch)
        from trainer.export import export_model

        export_model(scorer, self.arch, self.job)
        self.job.write_done({"history": history, "counts": counts, "model_dir": self.job.model.uri,
                             "input_scale": self.arch.input_scale})
        LOG.info("train: exported %s", self.job.model.uri)
        return TrainResult(self.config.job_dir, self.job.model.uri, False, history, counts)

    def _prepare(self) -> None:
        self.statistics = self.source.statistics("train")
        self.arch = Architecture(context_dim=self.statistics.context_dim, hidden_units=tuple(self.config.hidden_units),
                                 input_dropout=self.config.input_dropout, hidden_dropout=self.config.hidden_dropout,
                                 input_scale=self._input_scale(), **self._standardization())
        self.strategy = _strategy(self.config.strategy)

    def _new_model(self, model: int) -> tuple[keras.Model, keras.optimizers.SGD]:
        """(Keras scorer, its SGD optimizer), built in the strategy's scope."""
        import keras

        with self.strategy.scope():
            scorer = build_scorer(self.arch, model_seed(self.config, model), name=f"scorer_{model}")
            optimizer = keras.optimizers.SGD(learning_rate=self.config.learning_rate, momentum=self.config.momentum,
                                             nesterov=True)
            optimizer.build(scorer.trainable_variables)
        return scorer, optimizer

    def _fit_ranksvm(self) -> tuple[keras.Model, list[dict], dict]:
        """(the rankSVM's Keras scorer, its one history record, counts)."""
        from trainer.ranksvm import fit_ranksvm, ranksvm_scorer

        started = time.perf_counter()
        weights, pairs = fit_ranksvm(self.source.videos("train"), self.arch, self.config.seed)
        scorer = ranksvm_scorer(weights, self.arch)
        accuracy, val_pairs = self.validation_accuracy(KerasScorer(scorer, "ranksvm"))
        record = {"model": 0, "pairs": sum(pairs.values()), "pairs_by_category": {str(c): n for c, n in pairs.items()},
                  "seconds": time.perf_counter() - started, "val_pairwise_accuracy": accuracy, "val_pairs": val_pairs}
        LOG.info("train: rankSVM val pairwise accuracy %s (%d pairs)", accuracy, val_pairs)
        return scorer, [record], {"pairs": record["pairs"]}

    def _input_scale(self) -> float:
        if self.config.input_scale == "auto":
            if self.statistics.mean_absolute == 0:
                raise DataError("the training features are all zero: nothing to scale by (--input-scale auto)")
            return 1.0 / self.statistics.mean_absolute
        try:
            return float(self.config.input_scale)
        except ValueError:
            raise ValueError(f"--input-scale takes a number or auto, not {self.config.input_scale!r}") from None

    def _standardization(self) -> dict:
        if not self.config.standardize:
            return {}
        return {"input_mean": tuple(self.statistics.mean.tolist()), "input_std": tuple(self.statistics.std.tolist())}

    def bare_step(self) -> Callable[[dict], tf.Tensor]:
        """The compiled training step of a fresh model, for benchmarks: step(batch) -> loss."""
        import tensorflow as tf

        self._prepare()
        return tf.function(self._train_step(*self._new_model(0), 0), reduce_retracing=True)

    # ---- one model -----------------------------------------------------------------------------
    def _train_model(self, model: int, writer: tf.summary.SummaryWriter,
                     logs: str) -> tuple[keras.Model, list[dict], dict]:
        """(model `model`'s Keras scorer, its epochs' records, the last epoch's counts); resumed from its
        last checkpoint."""
        import tensorflow as tf

        config = self.config
        scorer, optimizer = self._new_model(model)
        start = 0
        found = self.job.latest_checkpoint(model)
        if found is not None:
            start, arrays = found
            _restore(scorer, optimizer, arrays)
            LOG.info("train: model %d resumed after epoch %d", model, start)
        steps = _steps_in_one_call(self._train_step(scorer, optimizer, model), CHECK_EVERY_BATCHES)
        history: list[dict] = []
        counts = VideoCounts()
        validated = KerasScorer(scorer, f"model {model}")
        for epoch in range(start, config.epochs):
            optimizer.learning_rate.assign(learning_rate_at(config, epoch))
            counts = VideoCounts()
            dataset = self._distributed_epoch(model, epoch, counts)
            started = time.perf_counter()
            progress = _Progress(config.progress, f"model {model} epoch {epoch + 1}/{config.epochs}")
            losses_seen, batches = [], 0
            iterator = iter(dataset)
            while len(chunk := steps(iterator).numpy()):  # up to CHECK_EVERY_BATCHES steps in one call
                losses_seen.append(chunk)
                batches += len(chunk)
                self._check_finite(chunk, model, epoch, optimizer)
                progress.update(batches, float(chunk[-1]))
            if batches == 0:
                raise DataError("no training pairs: no video of split 'train' has both a positive and a negative "
                                f"segment ({counts.as_dict()})")
            total = float(np.concatenate(losses_seen).sum())
            seconds = time.perf_counter() - started
            accuracy, val_pairs = self.validation_accuracy(validated)
            record = {"model": model, "epoch": epoch + 1, "loss": total / batches, "pairs": counts.pairs,
                      "pairs_per_sec": counts.pairs / seconds, "learning_rate": learning_rate_at(config, epoch),
                      "val_pairwise_accuracy": accuracy, "val_pairs": val_pairs, **{
                          k: v for k, v in counts.as_dict().items() if k.startswith("skipped")}}
            progress.done(record)
            history.append(record)
            with writer.as_default(step=epoch + 1 + model * config.epochs):
                tf.summary.scalar(f"model_{model}/train_loss", record["loss"])
                tf.summary.scalar(f"model_{model}/learning_rate", record["learning_rate"])
                if accuracy is not None:
                    tf.summary.scalar(f"model_{model}/val_pairwise_accuracy", accuracy)
            writer.flush()
            self.job.upload_tree(logs, self.job.logs)
            self.job.save_checkpoint(model, epoch + 1, _state(scorer, optimizer))
        return scorer, history, counts.as_dict()

    def _distributed_epoch(self, model: int, epoch: int, counts: VideoCounts) -> tf.distribute.DistributedDataset:
        """The epoch's batches, each replica's share of --batch-pairs at a time. Our pipeline batches
        itself (distribute_datasets_from_function): experimental_distribute_dataset would rewrite
        its batching, and on one device made one batch of a whole shuffle block (measured)."""
        def replica_batches(context: tf.distribute.InputContext) -> tf.data.Dataset:
            settings = replace(pair_settings(self.config),
                               batch_pairs=context.get_per_replica_batch_size(self.config.batch_pairs))
            return epoch_dataset(self.source, settings, model, epoch, self.statistics.median_popularity,
                                 self.arch.context_dim, counts)

        return self.strategy.distribute_datasets_from_function(replica_batches)

    def _check_finite(self, recent: np.ndarray, model: int, epoch: int, optimizer: keras.optimizers.SGD) -> None:
        if not np.isfinite(recent).all():
            raise TrainingDiverged(
                f"model {model} epoch {epoch + 1} step {int(optimizer.iterations.numpy())}: the loss is not finite; "
                f"lower --learning-rate (now {learning_rate_at(self.config, epoch)}) or check the features. "
                "Nothing was exported.")

    def _train_step(self, scorer: keras.Model, optimizer: keras.optimizers.SGD,
                    model: int) -> Callable[[dict], tf.Tensor]:
        """step(batch) -> the batch's loss, summed over replicas, after one SGD update."""
        import tensorflow as tf

        config, arch, strategy = self.config, self.arch, self.strategy
        seed = model_seed(config, model)
        single = config.loss == "classification"

        def loss_of(batch: dict, step_seed: tf.Tensor) -> tf.Tensor:
            if single:
                scores = training_scores(scorer, arch, batch["features"], batch.get("context"), step_seed)
                per_example = losses.classification_loss(scores, batch["label"])
            else:
                both = tf.concat([batch["positive"], batch["negative"]], axis=0)
                context = (tf.concat([batch["positive_context"], batch["negative_context"]], axis=0)
                           if arch.context_dim else None)
                scores = training_scores(scorer, arch, both, context, step_seed)  # one pass: the same masks' draw
                positive, negative = tf.split(scores, 2)
                per_example = losses.pair_loss(config.loss, positive, negative, batch["popularity"],
                                               config.huber_delta)
            return tf.reduce_mean(per_example)

        variables = scorer.trainable_variables
        kernels = {id(layer.kernel) for layer in dense_layers(scorer)}

        def replica_step(batch: dict) -> tf.Tensor:
            # The dropout seed: the model's and the step's, so a resumed run draws the same masks.
            step_seed = tf.stack([tf.constant(seed, tf.int32), tf.cast(optimizer.iterations, tf.int32)])
            replica = tf.distribute.get_replica_context()
            step_seed += tf.stack([0, 1 << 24]) * replica.replica_id_in_sync_group
            share = 1.0 / strategy.num_replicas_in_sync  # replicas' gradients are summed
            with tf.GradientTape() as tape:
                rank_loss = loss_of(batch, step_seed) * share
            gradients = tape.gradient(rank_loss, variables)
            # Eq. 3's lambda ||W||^2 joins by its gradient, 2 lambda W on the kernels: as if in the tape,
            # without its backward pass (a fifth of the step's time on CPU).
            decay = 2.0 * config.weight_decay * share
            gradients = [g + decay * v if id(v) in kernels else g for g, v in zip(gradients, variables)]
            loss = rank_loss + config.weight_decay * weight_decay_term(scorer) * share  # before the update
            optimizer.apply_gradients(zip(gradients, variables))
            return loss

        def step(batch: dict) -> tf.Tensor:
            return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=(batch,)), axis=None)

        return step

    # ---- validation ------------------------------------------------------------------------------
    def validation_accuracy(self, scorer: Scorer, split: str = "val") -> tuple[float | None, int]:
        """Share of the split's pairs (every positive with every negative of its video) the scorer orders
        right, ties counted half; and how many pairs there were."""
        return pairwise_accuracy(lambda video: scorer.score(video.features, video.context), self.source.videos(split))


def _steps_in_one_call(step: Callable[[dict], tf.Tensor], most: int) -> Callable[[Any], tf.Tensor]:
    """steps(iterator) -> the losses of up to `most` training steps, run in one compiled call (as
    Keras's steps_per_execution): Python is not woken per step, so it never waits on the GIL held
    by the thread reading ahead; fewer than `most` losses: the epoch ended."""
    import tensorflow as tf

    @tf.function
    def steps(iterator: Any) -> tf.Tensor:  # a distributed dataset's iterator
        losses = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        for i in tf.range(most):
            batch = iterator.get_next_as_optional()
            if not batch.has_value():
                break
            losses = losses.write(i, step(batch.get_value()))
        return losses.stack()

    return steps


def _state(scorer: keras.Model, optimizer: keras.optimizers.SGD) -> dict:
    arrays = {f"model_{i}": w for i, w in enumerate(scorer.get_weights())}
    arrays.update({f"optimizer_{i}": np.asarray(v.numpy()) for i, v in enumerate(optimizer.variables)})
    return arrays


def _restore(scorer: keras.Model, optimizer: keras.optimizers.SGD, arrays: dict) -> None:
    weights = [arrays[f"model_{i}"] for i in range(len(scorer.get_weights()))]
    scorer.set_weights(weights)
    for i, variable in enumerate(optimizer.variables):
        variable.assign(arrays[f"optimizer_{i}"])


def _strategy(name: str) -> tf.distribute.Strategy:
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    raise ValueError(f"--strategy must be default or mirrored, not {name!r}")


class _Progress:
    """A progress bar on a terminal (Keras's), plain log lines elsewhere."""

    def __init__(self, mode: str, title: str):
        self.title = title
        self.bar = None
        if mode == "bar" or (mode == "auto" and sys.stderr.isatty()):
            import keras

            self.bar = keras.utils.Progbar(None, stateful_metrics=["loss"], unit_name="batch")
        self.last_log = time.monotonic()

    def update(self, batches: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(batches, [("loss", loss)])
        elif time.monotonic() - self.last_log > 10:
            self.last_log = time.monotonic()
            LOG.info("train: %s: %d batches, loss %.4f", self.title, batches, loss)

    def done(self, record: dict) -> None:
        accuracy = record["val_pairwise_accuracy"]
        LOG.info("train: %s: loss %.4f, %d pairs (%.0f/s), val pairwise accuracy %s", self.title, record["loss"],
                 record["pairs"], record["pairs_per_sec"], "n/a" if accuracy is None else f"{accuracy:.4f}")

