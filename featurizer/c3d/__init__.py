"""C3D features for video segments, as Video2GIF computes them (mean fc6 over 16-frame snippets).

    featurizer = VideoFeaturizer(load_c3d_extractor("c3d_model.pkl", "snipplet_mean.npy"))
    [result] = featurizer.featurize([LocalVideo("video.mp4")])
    result.segments, result.features  # the video's segments and their fc6 (n, 4096), named extractor.name

load_c3d(path) gives the bare Keras model: float32 (N, 16, 112, 112, 3) -> fc6 (N, 4096).
Modules: model (the network, Keras layers only, any backend), weights (reading the
published files, numpy and h5py), preprocess (the clips' constants and snippet sampling,
numpy only), extractor (the model with its snippet mean and name; uint8 16-frame windows ->
fc6, the crop, mean and mirror computed on the model's device), video_decode (one decode of
a video: shots, segments, C3D's frames) and video_features (VideoFeaturizer: videos ->
segment features, the featurize pipeline's one path).

Names are loaded on first use, so `featurizer.c3d.preprocess` or `.weights` can be
imported without Keras (and TensorFlow) coming along.
"""
import importlib

_WHERE = {
    "RANDOM_NAME": "extractor", "C3DFeatureExtractor": "extractor", "extractor_name": "extractor",
    "load_c3d_extractor": "extractor",
    "build_c3d": "model", "layer_flops": "model", "load_c3d": "model",
    "BGR": "preprocess", "CLIP_SHAPE": "preprocess", "RGB": "preprocess", "SNIPPET_FRAMES": "preprocess",
    "SNIPPET_STRIDE": "preprocess", "snippet_starts": "preprocess",
    "FeatureSettings": "video_features", "LocalVideo": "video_features", "VideoFailure": "video_features",
    "VideoFeatures": "video_features", "VideoFeaturizer": "video_features",
    "WeightsError": "weights", "load_snippet_mean": "weights", "read_weights": "weights",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
