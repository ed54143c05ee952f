"""featurizer.c3d: the importers against numpy forward passes in each file's own layout, and
the clip preparation against hand-computed numbers, both through the path featurize runs
(uint8 windows into the extractor's window model; the whole video path: test_video_features.py).

No published weights can be downloaded here, so weight files of the published shapes are
written from seeded random numbers: the Lasagne pickle in Python 2's format, and the Keras
HDF5 port in both its TensorFlow (channels-last) and Theano (channels-first) layouts.
"""
import hashlib

import av
import h5py
import keras
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from featurizer.c3d import (
    BGR,
    CLIP_SHAPE,
    RANDOM_NAME,
    RGB,
    WeightsError,
    layer_flops,
    load_c3d,
    load_c3d_extractor,
    load_snippet_mean,
    read_weights,
    snippet_starts,
)
from featurizer.c3d.extractor import C3DFeatureExtractor
from featurizer.c3d.preprocess import crop
from featurizer.c3d.video_decode import C3DFrames, decode_segments
from featurizer.c3d.weights import CONV_LAYERS, MEAN_SHAPE
from featurizer.labels.segments import Segment
from tests.python2_pickle import write_python2_pickle

# (out, in) of the convolutions; fc6..fc8 as (inputs, units): the published Sports-1M net.
CONV_SHAPES = [(filters, inputs) for _, inputs, filters in CONV_LAYERS]
DENSE_SHAPES = [(8192, 4096), (4096, 4096), (4096, 487)]
RELATIVE_TOLERANCE = 1e-4


# ---- published-shape weights from seeded random numbers -------------------------------------

@pytest.fixture(scope="module")
def lasagne_arrays():
    """[conv1a W, b, ..., fc8 W, b] as Lasagne holds them, float32; He-scaled so that
    activations neither die out nor blow up through eight layers."""
    rng = np.random.default_rng(7)

    def normal(shape, std):
        return rng.standard_normal(shape, np.float32) * np.float32(std)

    arrays = []
    for out, inputs in CONV_SHAPES:
        arrays += [normal((out, inputs, 3, 3, 3), np.sqrt(2 / (inputs * 27))), normal(out, 0.01)]
    fc6_inputs, fc6_units = DENSE_SHAPES[0]
    arrays += [normal((fc6_inputs, fc6_units), np.sqrt(2 / fc6_inputs)), normal(fc6_units, 0.01)]
    for inputs, units in DENSE_SHAPES[1:]:  # fc7, fc8: in the file, read by nothing
        arrays += [np.zeros((inputs, units), np.float32), np.zeros(units, np.float32)]
    assert all(array.dtype == np.float32 for array in arrays)
    return arrays


def channels_last_arrays(lasagne):
    """The same network in the TensorFlow layout: kernels (t, h, w, in, out), fc6 rows (t, h, w, c)."""
    arrays = [a.transpose(2, 3, 4, 1, 0) if a.ndim == 5 else a for a in lasagne]
    fc6 = 2 * len(CONV_SHAPES)
    arrays[fc6] = lasagne[fc6].reshape(512, 1, 4, 4, 4096).transpose(1, 2, 3, 0, 4).reshape(8192, 4096)
    return arrays


KERAS_PORT_LAYERS = ["conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b", "fc6", "fc7",
                     "fc8"]


def write_keras2_hdf5(path, arrays, layer_names=KERAS_PORT_LAYERS):
    """Keras 2 save_weights layout: group/name/kernel:0, weight_names attribute."""
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = [name.encode() for name in layer_names]
        for name, kernel, bias in zip(layer_names, arrays[::2], arrays[1::2]):
            group = file.create_group(name)
            group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
            group.create_dataset(f"{name}/kernel:0", data=kernel)
            group.create_dataset(f"{name}/bias:0", data=bias)


def write_keras1_theano_hdf5(path, arrays):
    """Keras 1 on Theano: name_W and name_b directly in each layer group, inside model_weights."""
    with h5py.File(path, "w") as file:
        root = file.create_group("model_weights")
        for name, kernel, bias in zip(KERAS_PORT_LAYERS, arrays[::2], arrays[1::2]):
            root.create_dataset(f"{name}/{name}_W", data=kernel)
            root.create_dataset(f"{name}/{name}_b", data=bias)


@pytest.fixture(scope="module")
def weight_files(lasagne_arrays, tmp_path_factory):
    folder = tmp_path_factory.mktemp("c3d-weights")
    files = {"lasagne": folder / "c3d_model.pkl", "keras-tf": folder / "sports1M_weights_tf.h5",
             "keras-th": folder / "sports1M_weights_th.h5"}
    write_python2_pickle(files["lasagne"], lasagne_arrays)
    # The port's fc7 and fc8 are left out of its files: nothing reads them, and they are 150 MB.
    fc7 = 2 * len(CONV_SHAPES) + 2
    write_keras2_hdf5(files["keras-tf"], channels_last_arrays(lasagne_arrays)[:fc7])
    write_keras1_theano_hdf5(files["keras-th"], lasagne_arrays[:fc7])
    return files


@pytest.fixture(scope="module")
def clip():
    return np.random.default_rng(3).normal(0, 60, (1, *CLIP_SHAPE)).astype(np.float32)


# ---- numpy forward passes in the files' own layouts ---------------------------------------

def conv_channels_first(x, weights, bias, convolve):
    """x (c, t, h, w); weights (out, in, 3, 3, 3); 'same' padding; convolve flips the kernel.

    One output frame at a time, as a matrix product over all (in, dt, dh, dw) at once.
    """
    if convolve:
        weights = weights[:, :, ::-1, ::-1, ::-1]
    channels, t, h, w = x.shape
    windows = sliding_window_view(np.pad(x, ((0, 0), (1, 1), (1, 1), (1, 1))), (3, 3, 3), axis=(1, 2, 3))
    matrix = weights.reshape(weights.shape[0], -1)
    out = np.empty((weights.shape[0], t, h * w), np.float32)
    for frame in range(t):
        patches = windows[:, frame].transpose(0, 3, 4, 5, 1, 2).reshape(channels * 27, h * w)
        out[:, frame] = matrix @ patches
    return np.maximum(out + bias[:, None, None], 0).reshape(-1, t, h, w)


def pool_channels_first(x, window):
    c, t, h, w = x.shape
    pt, ph, pw = window
    return x.reshape(c, t // pt, pt, h // ph, ph, w // pw, pw).max(axis=(2, 4, 6))


def fc6_channels_first(clip_cthw, arrays, convolve):
    x = clip_cthw
    pools = {0: (1, 2, 2), 1: (2, 2, 2), 3: (2, 2, 2), 5: (2, 2, 2)}
    for index in range(8):
        x = conv_channels_first(x, arrays[2 * index], arrays[2 * index + 1], convolve)
        if index in pools:
            x = pool_channels_first(x, pools[index])
    x = pool_channels_first(np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1))), (2, 2, 2))
    return np.maximum(x.reshape(-1) @ arrays[16] + arrays[17], 0)


def conv_channels_last(x, kernel, bias):
    """x (t, h, w, c); kernel (3, 3, 3, in, out); cross-correlation, as TensorFlow computes it."""
    t, h, w, channels = x.shape
    windows = sliding_window_view(np.pad(x, ((1, 1), (1, 1), (1, 1), (0, 0))), (3, 3, 3), axis=(0, 1, 2))
    matrix = kernel.reshape(27 * channels, -1)
    out = np.empty((t, h * w, kernel.shape[-1]), np.float32)
    for frame in range(t):
        patches = windows[frame].transpose(0, 1, 3, 4, 5, 2).reshape(h * w, 27 * channels)
        out[frame] = patches @ matrix
    return np.maximum(out + bias, 0).reshape(t, h, w, -1)


def assert_close(ours, reference):
    assert (reference > 0).mean() > 0.2, "too few live units for the comparison to mean much"
    assert ours.shape == reference.shape
    error = np.abs(ours - reference).max() / np.abs(reference).max()
    assert error < RELATIVE_TOLERANCE, f"max error {error:.2e} of the largest feature"


# ---- importers --------------------------------------------------------------------------

GREY = 128  # every pixel of the window the clip is made from


def test_lasagne_pickle_full_forward_equals_numpy_channels_first(weight_files, lasagne_arrays, clip, tmp_path):
    """The clip goes through the path featurize runs: a uint8 window and the snippet mean, from
    which the window model prepares the clip (grey - (grey - clip)) on its own."""
    mean = np.zeros(MEAN_SHAPE, np.float32)
    crop(mean)[...] = GREY - clip[0]
    mean_path = tmp_path / "snipplet_mean.npy"
    np.save(mean_path, mean.transpose(3, 0, 1, 2))  # the release's (c, t, h, w) layout
    extractor = load_c3d_extractor(weight_files["lasagne"], mean_path)
    window = np.full((1, 16, 128, 171, 3), GREY, np.uint8)
    prepared = np.float32(GREY) - crop(mean)  # the clip the window model builds: the fixture's, to rounding
    np.testing.assert_allclose(prepared, clip[0], atol=1e-4)
    reference = fc6_channels_first(prepared.transpose(3, 0, 1, 2), lasagne_arrays, convolve=False)
    assert_close(extractor.window_features(window, mirror=False, batch_size=1)[0], reference)
    digest = hashlib.sha256(weight_files["lasagne"].read_bytes()).hexdigest()
    assert extractor.name == f"c3d-sports1m-{digest[:12]}"


# The full forward above proves the network's wiring; these prove each layer of the HDF5 port
# read at its published shape against numpy in the file's layout, on small inputs (fast).

def test_keras_hdf5_tensorflow_layout_layer_by_layer(weight_files, lasagne_arrays):
    model = load_c3d(weight_files["keras-tf"])
    file_arrays = channels_last_arrays(lasagne_arrays)
    rng = np.random.default_rng(11)
    for index, (name, inputs, _) in enumerate(CONV_LAYERS):
        x = rng.normal(0, 1, (2, 5, 5, inputs)).astype(np.float32)  # (t, h, w, c)
        reference = conv_channels_last(x, file_arrays[2 * index], file_arrays[2 * index + 1])
        assert_close(layer_output(model, name, x), reference)
    pool5 = rng.random((1, 4, 4, 512), np.float32)
    reference = np.maximum(pool5.reshape(-1) @ file_arrays[16] + file_arrays[17], 0)
    assert_close(layer_output(model, "fc6", pool5.reshape(-1)), reference)


def test_keras_hdf5_theano_layout_layer_by_layer(weight_files, lasagne_arrays):
    """Theano convolved, so the reference flips each kernel as Theano did; its flatten was (c, t, h, w)."""
    model = load_c3d(weight_files["keras-th"])
    rng = np.random.default_rng(12)
    for index, (name, inputs, _) in enumerate(CONV_LAYERS):
        x = rng.normal(0, 1, (inputs, 2, 5, 5)).astype(np.float32)  # (c, t, h, w)
        reference = conv_channels_first(x, lasagne_arrays[2 * index], lasagne_arrays[2 * index + 1], convolve=True)
        assert_close(layer_output(model, name, x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2), reference)
    pool5 = rng.random((512, 1, 4, 4), np.float32)
    reference = np.maximum(pool5.reshape(-1) @ lasagne_arrays[16] + lasagne_arrays[17], 0)
    assert_close(layer_output(model, "fc6", pool5.transpose(1, 2, 3, 0).reshape(-1)), reference)


def layer_output(model, name, x):
    return keras.ops.convert_to_numpy(model.get_layer(name)(x[None]))[0]


def test_hdf5_layouts_reported_and_only_theano_kernels_flipped_by_default(weight_files, lasagne_arrays):
    tensorflow = read_weights(weight_files["keras-tf"])
    theano = read_weights(weight_files["keras-th"])
    unflipped = read_weights(weight_files["keras-th"], flip_filters=False)
    assert tensorflow.source_format == "keras-hdf5-channels-last"
    assert theano.source_format == "keras-hdf5-channels-first"
    conv2a = lasagne_arrays[2].transpose(2, 3, 4, 1, 0)  # as written to both files
    np.testing.assert_array_equal(tensorflow.layers["conv2a"][0], conv2a)
    np.testing.assert_array_equal(theano.layers["conv2a"][0], conv2a[::-1, ::-1, ::-1])
    np.testing.assert_array_equal(unflipped.layers["conv2a"][0], conv2a)


def small_published_prefix(count):
    """The first `count` layers' (W, b) at their published Lasagne shapes, zeros."""
    arrays = []
    for out, inputs in CONV_SHAPES[:count]:
        arrays += [np.zeros((out, inputs, 3, 3, 3), np.float32), np.zeros(out, np.float32)]
    return arrays


def test_lasagne_wrong_shape_names_the_layer_and_shapes(tmp_path):
    arrays = small_published_prefix(3) + [np.zeros((256, 128, 3, 3, 3), np.float32), np.zeros(256, np.float32)]
    arrays += [np.zeros(1, np.float32)] * (22 - len(arrays))
    path = tmp_path / "bad.pkl"
    write_python2_pickle(path, arrays)
    with pytest.raises(WeightsError, match=r"conv3b: .*\(256, 128, 3, 3, 3\).*expected \(256, 256, 3, 3, 3\)"):
        read_weights(path)


def test_lasagne_too_few_arrays_is_refused(tmp_path):
    path = tmp_path / "short.pkl"
    write_python2_pickle(path, small_published_prefix(2))
    with pytest.raises(WeightsError, match="at least 18 arrays"):
        read_weights(path)


def test_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"cos\nsystem\n(S'echo owned'\ntR.")
    with pytest.raises(WeightsError, match="os.system"):
        read_weights(path)


def test_hdf5_wrong_shape_names_the_layer_and_shapes(tmp_path):
    arrays = [a.transpose(2, 3, 4, 1, 0) if a.ndim == 5 else a for a in small_published_prefix(4)]
    arrays += [np.zeros((3, 3, 3, 256, 256), np.float32), np.zeros(512, np.float32)]
    path = tmp_path / "bad.h5"
    write_keras2_hdf5(path, arrays, KERAS_PORT_LAYERS[:5])
    with pytest.raises(WeightsError, match=r"conv4a: .*\(3, 3, 3, 256, 256\).*expected \(3, 3, 3, 256, 512\)"):
        read_weights(path)


def test_hdf5_missing_layer_is_named(tmp_path):
    path = tmp_path / "partial.h5"
    write_keras2_hdf5(path, small_published_prefix(1), KERAS_PORT_LAYERS[:1])
    with pytest.raises(WeightsError, match="conv2a: no layer group conv2a or conv2"):
        read_weights(path)


def test_snippet_mean_accepted_in_both_layouts(tmp_path):
    mean = np.random.default_rng(1).random(MEAN_SHAPE, np.float32)
    np.save(tmp_path / "cl.npy", mean[None])
    np.save(tmp_path / "cf.npy", mean.transpose(3, 0, 1, 2))
    np.testing.assert_array_equal(load_snippet_mean(tmp_path / "cl.npy"), mean)
    np.testing.assert_array_equal(load_snippet_mean(tmp_path / "cf.npy"), mean)
    np.save(tmp_path / "bad.npy", mean[:, :112, :112])
    with pytest.raises(WeightsError, match=r"\(16, 112, 112, 3\)"):
        load_snippet_mean(tmp_path / "bad.npy")


def test_weights_without_their_mean_are_refused(weight_files):
    with pytest.raises(ValueError, match="snippet mean"):
        load_c3d_extractor(weight_files["lasagne"])


def test_without_weights_features_are_random_and_named_so():
    with pytest.warns(UserWarning, match="random"):
        extractor = load_c3d_extractor(seed=5)
    assert extractor.name == RANDOM_NAME == "c3d-random"
    assert extractor.model.output_shape == (None, 4096)


def test_flops_per_clip_from_layer_shapes():
    flops = layer_flops(tiny_stand_in_for_shapes())
    assert flops == {"conv": 2 * (16 * 112 * 112 * 8) * 27 * 3, "dense": 2 * 8 * 4096}


def tiny_stand_in_for_shapes():
    clips = keras.Input(CLIP_SHAPE)
    x = keras.layers.Conv3D(8, 3, padding="same", name="conv")(clips)
    x = keras.layers.GlobalMaxPooling3D()(x)
    return keras.Model(clips, keras.layers.Dense(4096, name="dense")(x))


# ---- clip preparation ---------------------------------------------------------------------

def test_snippet_starts_every_8_frames_while_16_fit():
    assert snippet_starts(16).tolist() == [0]
    assert snippet_starts(23).tolist() == [0]
    assert snippet_starts(24).tolist() == [0, 8]
    assert snippet_starts(47).tolist() == [0, 8, 16, 24]
    with pytest.raises(ValueError, match="15 frames is shorter"):
        snippet_starts(15)


def position_frames(count):
    """RGB frames at 128x171 whose pixel (y, x) of frame t is (R, G, B) = (t, y, x mod 256)."""
    t, y, x = np.meshgrid(np.arange(count), np.arange(128), np.arange(171), indexing="ij")
    return np.stack([t, y, x % 256], axis=-1).astype(np.uint8)


def segment_windows(frames, stride=8):
    """The 16-frame windows featurize reads for a segment of these frames (C3DFrames.snippets)."""
    store = C3DFrames()
    store.append(frames, np.arange(len(frames)))
    store.finish()
    with store:
        return np.stack(list(store.snippets(Segment(0, 0, len(frames)), stride)))


def window_clips(windows, mean, mirror, channel_order=BGR):
    """The clips the extractor's window model builds from uint8 windows (originals, then mirror
    images): its window_clips layer, in front of a small stand-in for C3D."""
    extractor = C3DFeatureExtractor(tiny_stand_in_for_shapes(), mean, "stand-in", channel_order)
    layer = extractor.window_model(mirror).get_layer("window_clips")
    return keras.ops.convert_to_numpy(layer(windows))


def test_clip_is_bgr_mean_subtracted_centre_crop():
    frames = position_frames(24)
    mean = np.full(MEAN_SHAPE, 10, np.float32)
    mean[3, 8, 29] = (1, 2, 3)  # BGR at frame 3 of the snippet, the crop's top-left pixel
    clips = window_clips(segment_windows(frames), mean, mirror=False)
    assert clips.shape == (2, 16, 112, 112, 3)
    # snippet 1 starts at frame 8; crop's top-left is (y, x) = (8, 29); BGR = (x, y, t) - mean
    assert clips[1, 0, 0, 0].tolist() == [29 - 10, 8 - 10, 8 - 10]
    assert clips[1, 3, 0, 0].tolist() == [29 - 1, 8 - 2, 11 - 3]
    assert clips[1, 15, 111, 111].tolist() == [140 - 10, 119 - 10, 23 - 10]


def test_mirrored_clip_follows_its_snippet_flipped_left_right():
    frames = position_frames(16)
    clips = window_clips(segment_windows(frames), np.zeros(MEAN_SHAPE, np.float32), mirror=True)
    assert clips.shape == (2, 16, 112, 112, 3)
    assert clips[1, 0, 0, 0].tolist() == [140, 8, 0]  # left edge of the mirror: the crop's last column
    np.testing.assert_array_equal(clips[1], clips[0][:, :, ::-1])


def test_rgb_order_keeps_channels():
    clips = window_clips(segment_windows(position_frames(16)), np.zeros(MEAN_SHAPE, np.float32), mirror=False,
                         channel_order=RGB)
    assert clips[0, 5, 0, 0].tolist() == [5, 8, 29]


def test_frames_of_other_sizes_are_resized_to_128x171(tmp_path):
    """A 640x360 video, losslessly encoded in one colour: featurize's decode stores its frames at
    128x171 and the clips keep the colour exactly."""
    path = tmp_path / "flat.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "bgr0"
        for _ in range(16):
            frame = av.VideoFrame.from_ndarray(np.full((360, 640, 3), (200, 100, 50), np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    video = decode_segments(str(path))
    with video.frames:
        assert video.segments == [Segment(0, 0, 16)]
        windows = np.stack(list(video.frames.snippets(video.segments[0])))
    assert windows.shape == (1, 16, 128, 171, 3)
    clips = window_clips(windows, np.zeros(MEAN_SHAPE, np.float32), mirror=False, channel_order=BGR)
    assert np.all(clips[0] == np.array([50, 100, 200], np.float32))


def test_clip_preparation_leaves_the_window_untouched():
    windows = position_frames(16)[None]
    before = windows.copy()
    window_clips(windows, np.ones(MEAN_SHAPE, np.float32), mirror=True)
    np.testing.assert_array_equal(windows, before)
