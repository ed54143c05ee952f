"""The C3D settings features depend on, as flags defined once for the commands that make features.

    add_feature_arguments(parser)                  # predict: on its argparse parser
    Stage(..., shared_options=(FeatureOptions,))   # featurize: pipelines.stage.FeatureOptions, Beam's view
    check_feature_options(flags)                   # --c3d-weights needs --c3d-mean
    settings = feature_settings(flags, batch_size=16, max_video_sec=600.0)

A ranker scores the features it learnt from, so featurize (making the training features) and
predict (featurizing a new video) must read these flags the same way: one definition, one
check, one conversion to featurizer.c3d.video_features.FeatureSettings. Free of Beam, so
`gifrank predict` starts without it.
"""
from __future__ import annotations

from typing import Any, Protocol

from featurizer.c3d.video_features import FeatureSettings


class FeatureFlags(Protocol):
    """Parsed feature flags: an argparse Namespace, or Beam's view of them (stage.FeatureOptions)."""

    c3d_weights: str | None
    c3d_mean: str | None
    fps: float | None
    snippet_stride: int
    mirror: bool
    max_segment_sec: float


def add_feature_arguments(parser: Any) -> None:
    """--c3d-weights, --c3d-mean, --fps, --snippet-stride, --no-mirror, --max-segment-sec, on an
    argparse parser (Beam's parser is one too)."""
    parser.add_argument("--c3d-weights", dest="c3d_weights",
                        help="C3D Sports-1M weights, a path or gs:// URI: the Video2GIF release's Lasagne "
                             "pickle or the Keras HDF5 port; without them C3D runs with random weights "
                             "(c3d-random), fit for tests and demos only")
    parser.add_argument("--c3d-mean", dest="c3d_mean",
                        help="the snippet mean (.npy, a path or gs:// URI) that goes with the weights")
    parser.add_argument("--fps", type=float, default=None,
                        help="resample frames to this rate before C3D (fewer snippets; default: native, "
                             "the video's own)")
    parser.add_argument("--snippet-stride", dest="snippet_stride", type=int, default=8,
                        help="frames between snippet starts; 8 overlaps snippets by half as Video2GIF "
                             "does, 16 halves the C3D work (default: %(default)s)")
    parser.add_argument("--no-mirror", dest="mirror", action="store_false",
                        help="skip the mirrored copy of each snippet (half the C3D work)")
    parser.add_argument("--max-segment-sec", dest="max_segment_sec", type=float, default=6.0,
                        help="longest segment, a typical GIF's length (default: %(default)s)")


def check_feature_options(flags: FeatureFlags) -> None:
    """Raises ValueError for feature flags that cannot work together."""
    if flags.c3d_weights and not flags.c3d_mean:
        raise ValueError("--c3d-weights needs --c3d-mean, the snippet mean the weights were trained with")


def feature_settings(flags: FeatureFlags, *, batch_size: int = FeatureSettings.batch_size,
                     max_video_sec: float | None) -> FeatureSettings:
    """The FeatureSettings of parsed feature flags. `batch_size` and `max_video_sec` are each
    command's own (how it runs, which videos it takes), not features' settings."""
    return FeatureSettings(max_segment_sec=flags.max_segment_sec, fps=flags.fps, stride=flags.snippet_stride,
                           mirror=flags.mirror, batch_size=batch_size, max_video_sec=max_video_sec)
