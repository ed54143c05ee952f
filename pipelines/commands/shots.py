"""`gifrank shots`: split a video into shots, printed as one JSON object.

    gifrank shots VIDEO [--detector cpd|kernel] [--cut-threshold RATIO] ...

    {"fps": 25.0, "num_frames": 250, "variable_frame_rate": false,
     "shots": [{"start_frame": 0, "end_frame": 30, "start_sec": 0.0, "end_sec": 1.2}, ...]}

Shots are [start_frame, end_frame) in decoding order (end exclusive), contiguous and covering
every frame, and [start_sec, end_sec) on the decoder's clock: the presentation time of the
shot's first frame and of the next shot's (the last shot ends one frame interval after the
last frame). Seconds come from the file's timestamps, so they are right where frame / fps is
wrong: a variable frame rate ("variable_frame_rate": true; "fps" is then the stream's average
rate). Exit status: 0 on success; 2 when the video cannot be read (a one-line message on
stderr, nothing on stdout) or the arguments are wrong.
"""
from __future__ import annotations

import argparse
import json
import sys

from featurizer.media.errors import MediaError
from featurizer.shots import DETECTORS, ChangePointDetector, KernelSegmentationDetector, detect_shots

EXIT_OK = 0
EXIT_FAILED = 2

# option dest -> (detector it tunes, that detector's field)
_KNOBS = {
    "cut_threshold": ("cpd", "cut_threshold"),
    "gradual_threshold": ("cpd", "gradual_threshold"),
    "max_transition_sec": ("cpd", "max_transition_sec"),
    "blend_tolerance": ("cpd", "blend_tolerance"),
    "kernel_penalty": ("kernel", "penalty"),
}


def build_parser() -> argparse.ArgumentParser:
    cpd_defaults, kernel_defaults = ChangePointDetector(), KernelSegmentationDetector()
    parser = argparse.ArgumentParser(
        prog="gifrank shots",
        description="Detect shot boundaries (cuts, dissolves, fades) and print the shots as JSON: "
                    "frames and seconds (from the video's timestamps) of each.",
        epilog="Exit status: 0 success; 2 video unreadable or bad arguments.")
    parser.add_argument("video", help="the video file")
    parser.add_argument("--detector", choices=("cpd", "kernel"), default="cpd",
                        help="cpd: local-contrast screening + kernel change points (default); "
                             "kernel: plain penalised kernel change-point detection")
    cpd = parser.add_argument_group("cpd detector")
    cpd.add_argument("--cut-threshold", type=float, metavar="RATIO",
                     help="how many times a frame-to-frame change must exceed nearby motion "
                          f"(default {cpd_defaults.cut_threshold})")
    cpd.add_argument("--gradual-threshold", type=float, metavar="RATIO",
                     help=f"the same for changes over several frames (default {cpd_defaults.gradual_threshold})")
    cpd.add_argument("--max-transition-sec", type=float, metavar="SEC",
                     help=f"longest dissolve or fade looked for (default {cpd_defaults.max_transition_sec})")
    cpd.add_argument("--blend-tolerance", type=float, metavar="R",
                     help="how far a gradual change may stray from a blend of its ends "
                          f"(default {cpd_defaults.blend_tolerance})")
    kernel = parser.add_argument_group("kernel detector")
    kernel.add_argument("--kernel-penalty", type=float, metavar="P",
                        help=f"penalty per change point (default {kernel_defaults.penalty})")
    parser.add_argument("--threads", type=int, default=0, help="decoder threads (default: FFmpeg's choice)")
    return parser


def _detector(opts):
    """The chosen detector with the knobs given; ValueError for a knob of another detector."""
    settings = {}
    for dest, (detector, field) in _KNOBS.items():
        value = getattr(opts, dest)
        if value is None:
            continue
        if detector != opts.detector:
            raise ValueError(f"--{dest.replace('_', '-')} applies to --detector {detector}, not {opts.detector}")
        settings[field] = value
    return DETECTORS[opts.detector](**settings)


def main(argv=None) -> int:
    parser = build_parser()
    try:
        opts = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_FAILED if exit_.code else EXIT_OK  # argparse exits 0 after --help, 2 on bad arguments
    try:
        detector = _detector(opts)
    except ValueError as error:
        print(f"gifrank shots: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    try:
        shots = detect_shots(opts.video, detector, threads=opts.threads or None)
    except (MediaError, OSError) as error:
        print(f"gifrank shots: error: cannot read video {opts.video}: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(shots.as_json()), flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
