"""Training jobs end to end on tiny synthetic segments: export, determinism, resume after kill -9, averaging."""
import io
import json
import sys

import numpy as np
import pytest

from tests.killing import kill_when
from trainer.synthetic import SyntheticSegments
from trainer.task import main as train_main

FAST = ["--epochs", "2", "--progress", "log", "--hidden-units", "32,8", "--batch-pairs", "10"]


@pytest.fixture(scope="module")
def segments(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic") / "segments.parquet"
    SyntheticSegments(videos=12, segments_per_video=(8, 12), seed=1).write(str(path))
    return path


def train(segments, job, *extra):
    assert train_main(["--segments", str(segments), "--job-dir", str(job), *FAST, *extra]) == 0


def checkpoint(job, model=0, epoch=2):
    with np.load(job / "checkpoints" / f"model-{model}" / f"epoch-{epoch}.npz") as arrays:
        return {k: arrays[k] for k in arrays.files}


def numpy_scores(arrays, features, scale=1.0):
    """The scorer's forward pass by hand: relu(s x W1 + b1) -> relu(. W2 + b2) -> . W3 + b3."""
    w1, b1, w2, b2, w3, b3 = (arrays[f"model_{i}"] for i in range(6))
    hidden = np.maximum(0, np.maximum(0, scale * features @ w1 + b1) @ w2 + b2)
    return (hidden @ w3 + b3).reshape(-1)


def serve(job, **inputs):
    import tensorflow as tf

    signature = tf.saved_model.load(str(job / "model")).signatures["serving_default"]
    return signature(**{k: tf.constant(v) for k, v in inputs.items()})["score"].numpy()


def probe_features(n=5):
    return np.random.default_rng(9).uniform(0, 2, (n, 4096)).astype(np.float32)


def test_a_job_exports_a_savedmodel_that_scores_as_its_weights_say(segments, tmp_path, capsys):
    job = tmp_path / "job"
    train(segments, job)
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["skipped"] is False and printed["last_epoch"]["epoch"] == 2
    assert 0 <= printed["last_epoch"]["val_pairwise_accuracy"] <= 1
    features = probe_features()
    scores = serve(job, features=features)
    assert scores.shape == (5,) and scores.dtype == np.float32
    np.testing.assert_allclose(scores, numpy_scores(checkpoint(job), features), rtol=1e-4, atol=1e-4)
    import keras

    keras_scores = keras.saving.load_model(job / "model.keras").predict_on_batch({"features": features})
    np.testing.assert_allclose(np.reshape(keras_scores, -1), scores, rtol=1e-5, atol=1e-5)
    config = json.loads((job / "config.json").read_text())
    assert config["flags"]["loss"] == "adaptive_huber" and config["seed"] == 0
    assert config["tables_read"] == {"segments_files": [str(segments)]}
    done = json.loads((job / "done.json").read_text())
    assert [h["epoch"] for h in done["history"]] == [1, 2]
    assert list((job / "logs").glob("events.out.tfevents.*"))
    # A finished job, rerun, does nothing.
    train(segments, job)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["skipped"] is True


def test_same_seed_same_model_and_other_settings_refused_in_the_same_job_dir(segments, tmp_path):
    train(segments, tmp_path / "a")
    train(segments, tmp_path / "b")
    first, second = checkpoint(tmp_path / "a"), checkpoint(tmp_path / "b")
    assert all(np.array_equal(first[k], second[k]) for k in first)
    features = probe_features()
    np.testing.assert_array_equal(serve(tmp_path / "a", features=features), serve(tmp_path / "b", features=features))
    with pytest.raises(ValueError, match=r"other settings \(loss\)"):
        train(segments, tmp_path / "a", "--loss", "l2")


def test_a_mirrored_strategy_trains_the_same_model(segments, tmp_path):
    """MirroredStrategy over this machine's one device: its replica step and all-reduce give the
    default strategy's weights (the multi-GPU path, run where there is one device)."""
    train(segments, tmp_path / "default")
    train(segments, tmp_path / "mirrored", "--strategy", "mirrored")
    default, mirrored = checkpoint(tmp_path / "default"), checkpoint(tmp_path / "mirrored")
    assert sorted(default) == sorted(mirrored)
    for name in default:
        np.testing.assert_allclose(mirrored[name], default[name], rtol=1e-5, atol=1e-6)


def test_killed_mid_training_resumes_to_the_uninterrupted_weights(segments, tmp_path):
    argv = ["--segments", str(segments), "--epochs", "6", "--progress", "log", "--hidden-units", "32,8",
            "--batch-pairs", "10"]
    train_main([*argv, "--job-dir", str(tmp_path / "whole")])
    killed = tmp_path / "killed"
    kill_when("trainer.task", [*argv, "--job-dir", str(killed)],
              lambda: (killed / "checkpoints" / "model-0" / "epoch-2.npz").exists())
    assert not (killed / "done.json").exists()
    train_main([*argv, "--job-dir", str(killed)])
    whole, resumed = checkpoint(tmp_path / "whole", epoch=6), checkpoint(killed, epoch=6)
    assert sorted(whole) == sorted(resumed)
    assert all(np.array_equal(whole[k], resumed[k]) for k in whole)  # optimizer state and step count included


def test_model_averaging_exports_the_mean_score(segments, tmp_path):
    job = tmp_path / "job"
    train(segments, job, "--models", "2")
    features = probe_features()
    expected = (numpy_scores(checkpoint(job, 0), features) + numpy_scores(checkpoint(job, 1), features)) / 2
    np.testing.assert_allclose(serve(job, features=features), expected, rtol=1e-4, atol=1e-4)
    assert not all(np.array_equal(checkpoint(job, 0)[k], checkpoint(job, 1)[k]) for k in checkpoint(job, 0))


def test_input_scale_is_part_of_the_export(segments, tmp_path):
    job = tmp_path / "job"
    train(segments, job, "--input-scale", "0.25", "--epochs", "1")
    features = probe_features()
    np.testing.assert_allclose(serve(job, features=features), numpy_scores(checkpoint(job, epoch=1), features, 0.25),
                               rtol=1e-4, atol=1e-4)
    auto = tmp_path / "auto"
    train(segments, auto, "--input-scale", "auto", "--epochs", "1")
    import pyarrow.parquet as pq

    table = pq.read_table(segments, columns=["features", "split"])
    train_rows = np.stack([f for f, s in zip(table.column("features").to_numpy(zero_copy_only=False),
                                             table.column("split").to_pylist()) if s == "train"])
    assert json.loads((auto / "done.json").read_text())["input_scale"] == pytest.approx(1 / np.abs(train_rows).mean(),
                                                                                        rel=1e-5)


def test_standardization_is_part_of_the_export(segments, tmp_path):
    job = tmp_path / "job"
    train(segments, job, "--standardize", "--epochs", "1")
    import pyarrow.parquet as pq

    table = pq.read_table(segments, columns=["features", "split"])
    rows = np.stack(table.column("features").to_numpy(zero_copy_only=False))
    train_rows = rows[np.array(table.column("split").to_pylist()) == "train"].astype(np.float64)
    mean, std = train_rows.mean(0), np.maximum(train_rows.std(0), 1e-3)
    features = probe_features()
    expected = numpy_scores(checkpoint(job, epoch=1), ((features - mean) / std).astype(np.float32))
    np.testing.assert_allclose(serve(job, features=features), expected, rtol=1e-3, atol=1e-3)


def test_context_is_a_second_input(segments, tmp_path):
    from featurizer.labels.context import CONTEXT_SIZE

    job = tmp_path / "job"
    train(segments, job, "--context", "--epochs", "1")
    scores = serve(job, features=probe_features(3), context=np.zeros((3, CONTEXT_SIZE), np.float32))
    assert scores.shape == (3,)


@pytest.mark.parametrize("loss", ["l1", "l2", "huber", "video_agnostic", "classification"])
def test_every_loss_trains(segments, tmp_path, loss):
    train(segments, tmp_path / loss, "--loss", loss, "--epochs", "1")
    assert (tmp_path / loss / "model" / "saved_model.pb").exists()


def test_a_diverging_loss_stops_before_export(segments, tmp_path):
    from trainer.training import TrainingDiverged

    with pytest.raises(TrainingDiverged, match="Nothing was exported"):
        train(segments, tmp_path / "job", "--loss", "l2", "--learning-rate", "1e12", "--weight-decay", "0")
    assert not (tmp_path / "job" / "model").exists()


def test_an_empty_training_split_is_a_clear_error(tmp_path):
    path = tmp_path / "val_only.parquet"
    SyntheticSegments(videos=3, split_shares=(0.0, 1.0, 0.0), segments_per_video=(8, 8)).write(str(path))
    from trainer.data import DataError

    with pytest.raises(DataError, match="training split is empty|no training pairs"):
        train(path, tmp_path / "job")


def test_a_gs_job_dir_on_the_emulator(segments, gcs_bucket):
    import pyarrow.fs as pafs

    from featurizer.dataset.storage import open_file_system

    job = f"{gcs_bucket}/jobs/run1"
    assert train_main(["--segments", str(segments), "--job-dir", job, *FAST, "--epochs", "1"]) == 0
    fs, path = open_file_system(job)
    names = {i.path[len(path) + 1:] for i in fs.get_file_info(pafs.FileSelector(path, recursive=True))
             if i.type == pafs.FileType.File}
    assert {"config.json", "done.json", "model.keras", "model/saved_model.pb",
            "checkpoints/model-0/epoch-1.npz"} <= names
    with fs.open_input_stream(f"{path}/done.json") as f:
        assert json.load(io.TextIOWrapper(f))["history"][0]["epoch"] == 1
    assert train_main(["--segments", str(segments), "--job-dir", job, *FAST, "--epochs", "1"]) == 0  # skipped


def test_help_starts_without_tensorflow():
    import subprocess

    code = ("import sys; from trainer import task; task.build_parser(); "
            "print('tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_one_step_descends_the_papers_objective(segments, tmp_path):
    """One SGD step (no momentum, no dropout) moves the weights by -lr times the gradient of
    mean l2 rank loss + lambda ||W||^2 over the kernels, the gradient taken by an independent tape."""
    import tensorflow as tf

    from trainer.config import TrainConfig
    from trainer.training import Trainer

    lr, lam = 0.01, 0.05
    trainer = Trainer(TrainConfig(segments=str(segments), job_dir=str(tmp_path / "job"), loss="l2", momentum=0.0,
                                  learning_rate=lr, weight_decay=lam, input_dropout=0.0, hidden_dropout=0.0,
                                  hidden_units=(16, 4)))
    trainer._prepare()
    scorer, optimizer = trainer._new_model(0)
    before = [np.array(w) for w in scorer.get_weights()]
    rng = np.random.default_rng(4)
    batch = {"positive": rng.uniform(0, 1, (6, 4096)).astype(np.float32),
             "negative": rng.uniform(0, 1, (6, 4096)).astype(np.float32), "popularity": np.full(6, 0.5, np.float32)}
    loss = float(tf.function(trainer._train_step(scorer, optimizer, 0))(batch))

    weights = [tf.Variable(w) for w in before]

    def score(x):
        w1, b1, w2, b2, w3, b3 = weights
        return tf.reshape(tf.nn.relu(tf.nn.relu(x @ w1 + b1) @ w2 + b2) @ w3 + b3, [-1])

    with tf.GradientTape() as tape:
        rank = tf.reduce_mean(tf.square(tf.nn.relu(1 - score(batch["positive"]) + score(batch["negative"]))))
        objective = rank + lam * tf.add_n([tf.reduce_sum(tf.square(w)) for w in weights[::2]])
    gradients = tape.gradient(objective, weights)
    assert loss == pytest.approx(float(objective), rel=1e-5)
    for after, w, g in zip(scorer.get_weights(), before, gradients):
        np.testing.assert_allclose(after, w - lr * g.numpy(), rtol=1e-4, atol=1e-7)
