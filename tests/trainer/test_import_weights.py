"""The Video2GIF release's ranker weights, from generated files of its shapes, against a numpy forward pass."""
import numpy as np
import pytest

from tests.python2_pickle import write_python2_npz
from trainer.import_weights import WeightsShapeError, import_video2gif_weights, read_video2gif_weights

SHAPES = [(4096, 512), (512,), (512, 128), (128,), (128, 1), (1,)]


def release_file(path, shapes=SHAPES):
    """An npz as the release's Python 2 code wrote it: the parameter list pickled into arr_0."""
    rng = np.random.default_rng(4)
    params = [(rng.standard_normal(shape) * 0.05).astype(np.float32) for shape in shapes]
    write_python2_npz(path, params)
    return params


def test_imported_export_scores_as_the_numpy_forward_pass(tmp_path):
    params = release_file(tmp_path / "video2gif_weights.npz")
    assert sum(p.size for p in params) == 2_163_457
    model_dir = import_video2gif_weights(str(tmp_path / "video2gif_weights.npz"), str(tmp_path / "job"))
    import tensorflow as tf

    features = np.random.default_rng(5).uniform(0, 3, (4, 4096)).astype(np.float32)
    w1, b1, w2, b2, w3, b3 = params
    expected = (np.maximum(0, np.maximum(0, features @ w1 + b1) @ w2 + b2) @ w3 + b3).reshape(-1)
    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    np.testing.assert_allclose(serve(features=tf.constant(features))["score"].numpy(), expected, rtol=1e-4, atol=1e-4)


def test_wrong_shapes_name_the_layer(tmp_path):
    release_file(tmp_path / "bad.npz", SHAPES[:2] + [(512, 64), (64,)] + SHAPES[4:])
    with pytest.raises(WeightsShapeError, match=r"layer hidden_2: W is \(512, 64\), expected \(512, 128\)"):
        read_video2gif_weights(str(tmp_path / "bad.npz"))
    release_file(tmp_path / "short.npz", SHAPES[:4])
    with pytest.raises(WeightsShapeError, match="holds 4 arrays"):
        read_video2gif_weights(str(tmp_path / "short.npz"))


def test_the_python2_pickle_needs_bytes_encoding(tmp_path):
    params = release_file(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz", allow_pickle=True) as npz, pytest.raises(UnicodeError):
        npz["arr_0"]  # Python 3's default decodes Python 2 str as ASCII: the array bytes are not
    assert all(np.array_equal(a, b) for a, b in zip(read_video2gif_weights(str(tmp_path / "w.npz")), params))
