"""The C3D feature extractor: the model with the snippet mean it expects and the name of the
features it makes, and the window model that takes decoded frames to fc6 on the model's device.

    extractor = load_c3d_extractor("c3d_model.pkl", "snipplet_mean.npy")  # or load_c3d_extractor(): random
    extractor.window_features(windows)   # uint8 RGB (n, 16, 128, 171, 3) -> fc6 (n, 4096)

window_features is what the featurize step runs (featurizer.c3d.video_features decodes the
video once and hands it 16-frame windows): the crop, the channel order, the mean
subtraction and the mirror image are Keras layers in front of the model, so only uint8
frames cross to the device. `model` is the bare network, float32 clips -> fc6.
"""
from __future__ import annotations

import numpy as np

from featurizer.c3d.model import load_c3d
from featurizer.c3d.preprocess import (
    CROP_LEFT,
    CROP_SIZE,
    CROP_TOP,
    RESIZED_HEIGHT,
    RESIZED_WIDTH,
    RGB,
    SNIPPET_FRAMES,
    WEIGHTS_CHANNEL_ORDER,
    crop,
)
from featurizer.c3d.quiet_start import import_tensorflow_quietly
from featurizer.c3d.weights import FC6_UNITS, MEAN_SHAPE, file_sha256, load_snippet_mean

import_tensorflow_quietly()  # before keras, which imports TensorFlow
import keras  # noqa: E402

RANDOM_NAME = "c3d-random"
WEIGHTS_NAME_PREFIX = "c3d-sports1m-"
NAME_HASH_CHARS = 12
DEFAULT_BATCH_SIZE = 16


class C3DFeatureExtractor:
    """A C3D model with the snippet mean it expects; `name` identifies the features it makes."""

    def __init__(self, model: keras.Model, mean: np.ndarray, name: str,
                 channel_order: str = WEIGHTS_CHANNEL_ORDER):
        if mean.shape != MEAN_SHAPE:
            raise ValueError(f"snippet mean must be {MEAN_SHAPE}, got {mean.shape}")
        self.model = model
        self.mean = mean
        self.name = name
        self.channel_order = channel_order
        self._mean_crop = np.ascontiguousarray(crop(mean))

    def window_features(self, windows: np.ndarray, mirror: bool = True,
                        batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """fc6 (n, 4096) of snippets given as decoded frames: uint8 RGB (n, 16, 128, 171, 3).

        Only the uint8 windows go to the model's device; the crop, the channel order, the
        mean subtraction and the mirror image are computed there (a quarter of the bytes of
        float32 clips cross to the device). With mirror, a snippet's feature is the mean of
        its clip's and its mirror image's fc6, so a segment's mean over its snippets weighs
        every clip alike, as Video2GIF's mean over all clips does.
        """
        model = self.window_model(mirror)
        features = np.empty((len(windows), FC6_UNITS), dtype=np.float32)
        for start in range(0, len(windows), batch_size):
            batch = windows[start:start + batch_size]
            fc6 = model.predict_on_batch(padded_batch(batch, batch_size))
            features[start:start + len(batch)] = np.asarray(fc6, np.float32)[:len(batch)]
        return features

    def window_model(self, mirror: bool = True) -> keras.Model:
        """The Keras model window_features runs, built once per mirror setting: uint8 windows
        (n, 16, 128, 171, 3) -> fc6 (n, 4096). Its jit_compile chooses XLA for it, apart from
        the bare model's."""
        cache = self.__dict__.setdefault("_window_models", {})
        if mirror not in cache:
            windows = keras.Input((SNIPPET_FRAMES, RESIZED_HEIGHT, RESIZED_WIDTH, 3), dtype="uint8", name="windows")
            clips = _WindowClips(self._mean_crop, self.channel_order, mirror, name="window_clips")(windows)
            fc6 = self.model(clips)
            if mirror:
                fc6 = _MeanOfMirrorImages(name="mean_of_mirror_images")(fc6)
            cache[mirror] = keras.Model(windows, fc6, name="c3d_windows_fc6")
        return cache[mirror]


class _WindowClips(keras.layers.Layer):
    """uint8 RGB windows (n, 16, 128, 171, 3) -> float32 clips (n, or 2n with mirror images after
    the originals) as the Video2GIF release makes them (featurizer.c3d.preprocess): centre crop,
    weights' channel order, snippet mean off; a mirror image is the clip flipped left-right."""

    def __init__(self, mean_crop: np.ndarray, channel_order: str, mirror: bool, **kwargs):
        super().__init__(**kwargs)
        self._mean_crop = np.asarray(mean_crop, np.float32)
        self._reverse_channels = channel_order != RGB
        self._mirror = mirror

    def call(self, windows):
        ops = keras.ops
        top, left = CROP_TOP, CROP_LEFT
        x = ops.cast(windows[:, :, top:top + CROP_SIZE, left:left + CROP_SIZE, :], "float32")
        if self._reverse_channels:
            x = ops.flip(x, axis=-1)
        x = x - ops.convert_to_tensor(self._mean_crop)
        if self._mirror:
            x = ops.concatenate([x, ops.flip(x, axis=3)], axis=0)
        return x

    def compute_output_shape(self, input_shape):
        return (None, SNIPPET_FRAMES, CROP_SIZE, CROP_SIZE, 3)


class _MeanOfMirrorImages(keras.layers.Layer):
    """fc6 of (originals, mirror images) stacked -> their mean, per snippet."""

    def call(self, fc6):
        return keras.ops.mean(keras.ops.reshape(fc6, (2, -1, FC6_UNITS)), axis=0)

    def compute_output_shape(self, input_shape):
        return (None, FC6_UNITS)


def padded_batch(batch: np.ndarray, batch_size: int) -> np.ndarray:
    """The batch grown to batch_size with zeros (dtype kept): a compiled model then sees one shape only."""
    if len(batch) == batch_size:
        return batch
    padded = np.zeros((batch_size, *batch.shape[1:]), dtype=batch.dtype)
    padded[:len(batch)] = batch
    return padded


def load_c3d_extractor(weights_path=None, mean_path=None, *, flip_filters: bool | None = None,
                       channel_order: str = WEIGHTS_CHANNEL_ORDER, seed: int = 0) -> C3DFeatureExtractor:
    """The extractor for published weights and their snippet mean, or a random one (warned).

    Named c3d-sports1m-<first 12 hex digits of the weights file's SHA-256>, or c3d-random.
    Without a mean file the mean is zero, which suits random weights only.
    """
    if weights_path is not None and mean_path is None:
        raise ValueError("the Sports-1M weights need the snippet mean they were trained with (mean_path)")
    model = load_c3d(weights_path, flip_filters=flip_filters, seed=seed)
    mean = np.zeros(MEAN_SHAPE, np.float32) if mean_path is None else load_snippet_mean(mean_path)
    return C3DFeatureExtractor(model, mean, extractor_name(weights_path), channel_order)


def extractor_name(weights_path=None) -> str:
    """c3d-sports1m-<first 12 hex digits of the weights file's SHA-256>, or c3d-random."""
    return RANDOM_NAME if weights_path is None else WEIGHTS_NAME_PREFIX + file_sha256(weights_path)[:NAME_HASH_CHARS]

