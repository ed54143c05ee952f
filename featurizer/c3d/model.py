"""The C3D network (Tran et al. 2015) up to fc6, in Keras 3 layers only.

Nothing here names a backend, so the same model runs on TensorFlow and on JAX.
"""
from __future__ import annotations

import warnings

import numpy as np

from featurizer.c3d.preprocess import CLIP_SHAPE
from featurizer.c3d.quiet_start import import_tensorflow_quietly
from featurizer.c3d.weights import CONV_LAYERS, FC6_UNITS, KERNEL_SIZE, C3DWeights, read_weights

import_tensorflow_quietly()  # before keras, which imports TensorFlow
import keras  # noqa: E402

# The max-pooling after a conv layer, (name, window = stride): pool1 keeps time whole, so
# that early layers do not merge frames too soon (C3D's finding).
POOLING_AFTER = {"conv1a": ("pool1", (1, 2, 2)), "conv2a": ("pool2", (2, 2, 2)), "conv3b": ("pool3", (2, 2, 2)),
                 "conv4b": ("pool4", (2, 2, 2)), "conv5b": ("pool5", (2, 2, 2))}


def build_c3d(seed: int | None = 0) -> keras.Model:
    """float32 (N, 16, 112, 112, 3) clips -> fc6 (N, 4096), after its ReLU.

    seed: He-normal initialisation from this seed; None leaves all weights zero, for a
    model whose weights are about to be loaded (random initialisation of 61M parameters
    is not free).
    """
    clips = keras.Input(CLIP_SHAPE, dtype="float32", name="clips")
    x = clips
    for index, (name, _, filters) in enumerate(CONV_LAYERS):
        x = keras.layers.Conv3D(filters, KERNEL_SIZE, padding="same", activation="relu", name=name,
                                kernel_initializer=_initializer(seed, index))(x)
        if name == "conv5b":
            # Caffe pools in ceil mode: the 7x7 map is padded to 8x8 on the right and bottom.
            # Zeros pad like Caffe's ignored border because the map is non-negative after ReLU.
            x = keras.layers.ZeroPadding3D(((0, 0), (0, 1), (0, 1)), name="pad5")(x)
        if name in POOLING_AFTER:
            pool_name, window = POOLING_AFTER[name]
            x = keras.layers.MaxPooling3D(window, strides=window, name=pool_name)(x)
    x = keras.layers.Flatten(name="flatten")(x)
    fc6 = keras.layers.Dense(FC6_UNITS, activation="relu", name="fc6",
                             kernel_initializer=_initializer(seed, len(CONV_LAYERS)))(x)
    return keras.Model(clips, fc6, name="c3d_fc6")


def _initializer(seed: int | None, layer_index: int):
    if seed is None:
        return "zeros"
    return keras.initializers.HeNormal(seed=seed * 1000 + layer_index)


def load_c3d(path=None, *, flip_filters: bool | None = None, seed: int = 0) -> keras.Model:
    """C3D with the published Sports-1M weights in `path` (Lasagne pickle or Keras HDF5).

    The model maps float32 (N, 16, 112, 112, 3) clips, channels last, BGR like the weights,
    mean-subtracted (see featurizer.c3d.preprocess), to fc6 (N, 4096).
    Without a path the weights are random (from `seed`), and a warning says so.
    flip_filters: see featurizer.c3d.weights; None takes each format's default.
    """
    if path is None:
        warnings.warn("C3D has no weights file: its features are random, fit for tests and "
                      "benchmarks only", UserWarning, stacklevel=2)
        return build_c3d(seed)
    model = build_c3d(seed=None)
    set_c3d_weights(model, read_weights(path, flip_filters))
    return model


def set_c3d_weights(model: keras.Model, weights: C3DWeights):
    for name, (kernel, bias) in weights.layers.items():
        model.get_layer(name).set_weights([kernel, bias])


def layer_flops(model: keras.Model) -> dict[str, int]:
    """Floating-point operations per clip of each conv and dense layer (2 per multiply-add).

    Biases, ReLUs and pooling are left out: together they are under 0.1% of the total.
    """
    flops = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv3D):
            outputs = int(np.prod(layer.output.shape[1:]))
            kernel_volume = int(np.prod(layer.kernel_size))
            flops[layer.name] = 2 * outputs * kernel_volume * layer.input.shape[-1]
        elif isinstance(layer, keras.layers.Dense):
            flops[layer.name] = 2 * layer.input.shape[-1] * layer.units
    return flops
