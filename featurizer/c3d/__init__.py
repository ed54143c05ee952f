"""C3D features for video segments, as Video2GIF computes them (mean fc6 over 16-frame snippets).

    extractor = load_c3d_extractor("c3d_model.pkl", "snipplet_mean.npy")
    result = extractor.video_features("video.mp4", [(0, 120), (120, 300)])
    result.features  # (2, 4096), named extractor.name

load_c3d(path) gives the bare Keras model: float32 (N, 16, 112, 112, 3) -> fc6 (N, 4096).
Modules: model (the network, Keras layers only, any backend), weights (reading the
published files, numpy and h5py), preprocess (frames -> clips, numpy and OpenCV),
extractor (segments of a video, decoding overlapped with the model).

Names are loaded on first use, so `featurizer.c3d.preprocess` or `.weights` can be
imported without Keras (and TensorFlow) coming along.
"""
import importlib

_WHERE = {
    "RANDOM_NAME": "extractor", "C3DFeatureExtractor": "extractor", "ClipOptions": "extractor",
    "SegmentFeatures": "extractor", "extractor_name": "extractor", "load_c3d_extractor": "extractor",
    "build_c3d": "model", "layer_flops": "model", "load_c3d": "model",
    "BGR": "preprocess", "CLIP_SHAPE": "preprocess", "RGB": "preprocess", "SNIPPET_FRAMES": "preprocess",
    "SNIPPET_STRIDE": "preprocess", "segment_clips": "preprocess", "snippet_starts": "preprocess",
    "WeightsError": "weights", "load_snippet_mean": "weights", "read_weights": "weights",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
