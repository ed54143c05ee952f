"""Reading published C3D Sports-1M weights into one layout: the one our Keras model uses.

Two publications of the same Caffe-trained network are read:

  Lasagne pickle  the file the Video2GIF code release loads (Lasagne Recipes' c3d_model.pkl):
                  a pickled list [conv1a W, b, conv2a W, b, ..., conv5b W, b, fc6 W, b, fc7 W, b,
                  fc8 W, b]; conv W is (out, in, t, h, w); fc6 W is (8192, 4096), its rows in
                  the channels-first (c, t, h, w) order of the flattened pool5.
  Keras HDF5      the c3d-keras port ("sports1M_weights_tf.h5" and its Theano-ordered sibling):
                  groups conv1, conv2, conv3a, ..., conv5b, fc6, fc7, fc8, each with a kernel and
                  a bias; the kernel is (t, h, w, in, out) in the TensorFlow layout or
                  (out, in, t, h, w) in the Theano layout, told apart by shape.

Our layout: conv kernels (t, h, w, in, out) applied as cross-correlation (what keras Conv3D
does), fc6 rows in the channels-last (t, h, w, c) order of the flattened pool5. fc7 and fc8
are not read: the features are fc6.

Filter orientation. Caffe and cuDNN cross-correlate; the Video2GIF release runs the pickle
through Conv3DDNNLayer with flip_filters=False, so its kernels are taken as they are. Keras
on Theano convolved (flipped the kernel), so a Theano-ordered HDF5 file's kernels are
flipped on reading. Both are defaults of a `flip_filters` argument, for files that differ.

This module reads files only (numpy and h5py): it builds no model.
"""
from __future__ import annotations

import hashlib
import importlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

# numpy's private modules that pickled arrays name; numpy's type stubs do not declare them.
_multiarray = importlib.import_module("numpy._core.multiarray")
_numeric = importlib.import_module("numpy._core.numeric")

# (name, input channels, filters) of the eight 3x3x3 convolutions, in order.
CONV_LAYERS = (
    ("conv1a", 3, 64), ("conv2a", 64, 128),
    ("conv3a", 128, 256), ("conv3b", 256, 256),
    ("conv4a", 256, 512), ("conv4b", 512, 512),
    ("conv5a", 512, 512), ("conv5b", 512, 512),
)
KERNEL_SIZE = 3
POOL5_SHAPE = (1, 4, 4, 512)  # (t, h, w, c) for a 16x112x112 input
FC6_UNITS = 4096
FC6_INPUTS = int(np.prod(POOL5_SHAPE))  # 8192
# Arrays in the Lasagne pickle before fc7: the conv layers' and fc6's (W, b) pairs.
LASAGNE_ARRAYS_USED = 2 * (len(CONV_LAYERS) + 1)
# Names the c3d-keras port gives our layers, where they differ.
KERAS_PORT_NAMES = {"conv1a": ("conv1a", "conv1"), "conv2a": ("conv2a", "conv2")}
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class WeightsError(ValueError):
    """A weights or mean file that is not the published C3D one."""


@dataclass
class C3DWeights:
    """Kernels and biases by layer name (CONV_LAYERS' names and "fc6"), in our layout."""
    layers: dict[str, tuple[np.ndarray, np.ndarray]]
    source_format: str  # "lasagne-pickle", "keras-hdf5-channels-last" or "keras-hdf5-channels-first"


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_weights(path, flip_filters: bool | None = None) -> C3DWeights:
    """Either published format, told apart by the file's first bytes (HDF5 has a signature)."""
    with open(path, "rb") as file:
        is_hdf5 = file.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
    if is_hdf5:
        return read_keras_hdf5(path, flip_filters)
    return read_lasagne_pickle(path, bool(flip_filters))


# ---- Lasagne pickle ----------------------------------------------------------------------

class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and nothing else: a downloaded pickle must not run code.

    Allows what Python 2 (numpy.core) and Python 3 (numpy._core, _codecs for protocol-2
    bytes) pickles of arrays refer to.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
        ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
        ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
        ("numpy.core.numeric", "_frombuffer"): _numeric._frombuffer,
        ("numpy._core.numeric", "_frombuffer"): _numeric._frombuffer,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise WeightsError(f"the pickle refers to {module}.{name}; only numpy arrays are read") from None


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    return text.encode(encoding)


def read_lasagne_pickle(path, flip_filters: bool = False) -> C3DWeights:
    """The Video2GIF release's c3d_model.pkl (Python 2, so its strings are read as latin1)."""
    with open(path, "rb") as file:
        try:
            arrays = _NumpyOnlyUnpickler(file, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError) as error:
            raise WeightsError(f"{path}: not a readable pickle: {error}") from error
    if not isinstance(arrays, (list, tuple)) or len(arrays) < LASAGNE_ARRAYS_USED:
        found = f"a list of {len(arrays)}" if isinstance(arrays, (list, tuple)) else type(arrays).__name__
        raise WeightsError(f"{path}: expected a list of at least {LASAGNE_ARRAYS_USED} arrays "
                           f"(conv1a..conv5b and fc6 weights and biases), found {found}")
    layers = {}
    pairs = iter(arrays[:LASAGNE_ARRAYS_USED])
    for (name, inputs, filters), kernel, bias in zip(CONV_LAYERS, pairs, pairs):
        _check_shape(name, "weights (out, in, t, h, w)", kernel, (filters, inputs) + (KERNEL_SIZE,) * 3)
        layers[name] = (_channels_first_kernel_to_ours(kernel, flip_filters), _bias(name, bias, filters))
    fc6_kernel, fc6_bias = next(pairs), next(pairs)
    layers["fc6"] = _fc6(fc6_kernel, fc6_bias, rows_channels_first=True)
    return C3DWeights(layers, "lasagne-pickle")


# ---- Keras HDF5 --------------------------------------------------------------------------

def read_keras_hdf5(path, flip_filters: bool | None = None) -> C3DWeights:
    """The c3d-keras port, a weights file or a whole saved model, either kernel layout.

    flip_filters None: flip the Theano layout's kernels (Theano convolved), keep the
    TensorFlow layout's.
    """
    with h5py.File(path, "r") as file:
        root = file["model_weights"] if "model_weights" in file else file
        channels_first = _hdf5_channels_first(_hdf5_layer(root, CONV_LAYERS[0][0])[0])
        flip = channels_first if flip_filters is None else flip_filters
        layers = {}
        for name, inputs, filters in CONV_LAYERS:
            kernel, bias = _hdf5_layer(root, name)
            layers[name] = (_hdf5_conv_kernel(name, kernel, inputs, filters, channels_first, flip),
                            _bias(name, bias, filters))
        layers["fc6"] = _fc6(*_hdf5_layer(root, "fc6"), rows_channels_first=channels_first)
    layout = "channels-first" if channels_first else "channels-last"
    return C3DWeights(layers, f"keras-hdf5-{layout}")


def _hdf5_layer(root, name) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) of a layer group, told apart by rank: weight names vary across Keras versions."""
    group = next((root[candidate] for candidate in KERAS_PORT_NAMES.get(name, (name,)) if candidate in root), None)
    if group is None:
        raise WeightsError(f"{name}: no layer group {' or '.join(KERAS_PORT_NAMES.get(name, (name,)))} "
                           f"in the HDF5 file (found {sorted(root.keys())})")
    datasets = []
    group.visititems(lambda _, item: datasets.append(item) if isinstance(item, h5py.Dataset) else None)
    kernels = [d for d in datasets if d.ndim >= 2]
    biases = [d for d in datasets if d.ndim == 1]
    if len(kernels) != 1 or len(biases) != 1:
        raise WeightsError(f"{name}: expected one kernel and one bias, found datasets "
                           f"{[(d.name, d.shape) for d in datasets]}")
    return np.asarray(kernels[0], dtype=np.float32), np.asarray(biases[0], dtype=np.float32)


def _hdf5_channels_first(conv1a_kernel: np.ndarray) -> bool:
    """The layout, judged by conv1a's kernel: it cannot be read the wrong way round by mistake."""
    name, inputs, filters = CONV_LAYERS[0]
    channels_last = (KERNEL_SIZE,) * 3 + (inputs, filters)
    channels_first = (filters, inputs) + (KERNEL_SIZE,) * 3
    if conv1a_kernel.shape not in (channels_last, channels_first):
        raise WeightsError(f"{name}: kernel has shape {conv1a_kernel.shape}, expected {channels_last} "
                           f"(t, h, w, in, out) or {channels_first} (out, in, t, h, w)")
    return conv1a_kernel.shape == channels_first


def _hdf5_conv_kernel(name, kernel, inputs, filters, channels_first, flip) -> np.ndarray:
    if channels_first:
        _check_shape(name, "kernel (out, in, t, h, w)", kernel, (filters, inputs) + (KERNEL_SIZE,) * 3)
        return _channels_first_kernel_to_ours(kernel, flip)
    _check_shape(name, "kernel (t, h, w, in, out)", kernel, (KERNEL_SIZE,) * 3 + (inputs, filters))
    return _flipped(kernel) if flip else np.ascontiguousarray(kernel, dtype=np.float32)


# ---- shared conversions ------------------------------------------------------------------

def _check_shape(name: str, what: str, array, expected: tuple[int, ...]):
    shape = tuple(np.shape(array))
    if shape != expected:
        raise WeightsError(f"{name}: {what} has shape {shape}, expected {expected}")


def _bias(name: str, bias, units: int) -> np.ndarray:
    _check_shape(name, "bias", bias, (units,))
    return np.asarray(bias, dtype=np.float32)


def _flipped(kernel: np.ndarray) -> np.ndarray:
    """(t, h, w, in, out) reversed in t, h and w: a convolution's kernel as a cross-correlation's."""
    return np.ascontiguousarray(kernel[::-1, ::-1, ::-1], dtype=np.float32)


def _channels_first_kernel_to_ours(kernel: np.ndarray, flip: bool) -> np.ndarray:
    ours = np.transpose(np.asarray(kernel, dtype=np.float32), (2, 3, 4, 1, 0))
    return _flipped(ours) if flip else np.ascontiguousarray(ours)


def _fc6(kernel, bias, rows_channels_first: bool) -> tuple[np.ndarray, np.ndarray]:
    """fc6 with its rows in our (t, h, w, c) flatten order."""
    _check_shape("fc6", "weights (inputs, units)", kernel, (FC6_INPUTS, FC6_UNITS))
    kernel = np.asarray(kernel, dtype=np.float32)
    if rows_channels_first:
        t, h, w, c = POOL5_SHAPE
        kernel = kernel.reshape(c, t, h, w, FC6_UNITS).transpose(1, 2, 3, 0, 4).reshape(FC6_INPUTS, FC6_UNITS)
    return np.ascontiguousarray(kernel), _bias("fc6", bias, FC6_UNITS)


# ---- snippet mean ------------------------------------------------------------------------

MEAN_SHAPE = (16, 128, 171, 3)  # (t, h, w, c), channels in the weights' order (BGR for Caffe's)


def load_snippet_mean(path) -> np.ndarray:
    """The per-pixel snippet mean C3D was trained with, as float32 (16, 128, 171, 3).

    Accepts the Lasagne Recipes' snipplet_mean.npy (3, 16, 128, 171) and channels-last
    (16, 128, 171, 3), either with a leading batch axis of 1. Channels stay in the file's
    order, which is the weights' (BGR).
    """
    mean = np.load(Path(path), allow_pickle=False)
    if mean.ndim == 5 and mean.shape[0] == 1:
        mean = mean[0]
    channels_first = (MEAN_SHAPE[3],) + MEAN_SHAPE[:3]
    if mean.shape == channels_first:
        mean = mean.transpose(1, 2, 3, 0)
    elif mean.shape != MEAN_SHAPE:
        raise WeightsError(f"snippet mean {path}: shape {mean.shape} is neither {MEAN_SHAPE} (t, h, w, c) "
                           f"nor {channels_first} (c, t, h, w)")
    return np.ascontiguousarray(mean, dtype=np.float32)
