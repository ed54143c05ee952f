"""`gifrank predict`: the best GIFs of any video.

    gifrank predict VIDEO [VIDEO ...] --model JOB/model [--top 3] [--out gifs/]
        [--c3d-weights c3d.pkl --c3d-mean mean.npy] [--fps 8] [--snippet-stride 16] [--no-mirror]
    gifrank predict --dataset ROOT --model JOB/model --out gifs/ [Beam options]   (pipelines.predict)

Each video is decoded once into shots and segments and featurized with C3D (the featurize
pipeline's path, featurizer.c3d.video_features); the ranker scores its segments; the top K
become GIFs (featurizer.gifs): at most 480 px wide, 10 to 15 fps, their own palette,
looping, each starting and ending inside its segment where the loop jumps least (never
across a shot). OUT/<video>/predictions.json lists them: start_sec, end_sec, score, the
segment's own bounds, and the loop's jump against the segment's naive one.

Give the same C3D settings (weights, --fps, --snippet-stride, --no-mirror) the model was
trained on: a ranker scores the features it learnt from.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import time

import numpy as np

from featurizer.c3d.video_features import FeatureSettings, LocalVideo, VideoFailure
from featurizer.gifs.best import write_best_gifs

LOG = logging.getLogger("gifrank")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gifrank predict", description="The best GIFs of videos, as GIF files "
                                     "and JSON (segments, scores, loop points).")
    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="video files")
    parser.add_argument("--model", required=True, help="the exported ranker (JOB/model, or gifrank import-ranker's)")
    parser.add_argument("--top", type=int, default=3, help="GIFs per video (default: %(default)s)")
    parser.add_argument("--out", default="./gifs", help="output folder (default: %(default)s)")
    parser.add_argument("--c3d-weights", help="C3D weights (default: random, fit for demos only)")
    parser.add_argument("--c3d-mean", help="the snippet mean that goes with --c3d-weights")
    parser.add_argument("--fps", type=float, help="frames per second C3D sees (default: the video's own)")
    parser.add_argument("--snippet-stride", type=int, default=8, help="frames between snippets (default: 8)")
    parser.add_argument("--no-mirror", dest="mirror", action="store_false", help="no mirrored snippets")
    parser.add_argument("--max-segment-sec", type=float, default=6.0, help="longest segment (default: 6)")
    return parser


def main(argv=None) -> int:
    argv = list(argv or [])
    if any(a == "--dataset" or a.startswith("--dataset=") for a in argv):  # a catalogue: the Beam pipeline
        from pipelines.predict import run

        run(argv)
        return 0
    args = build_parser().parse_args(argv)
    if args.top < 1:
        raise ValueError("--top must be at least 1")
    if args.c3d_weights and not args.c3d_mean:
        raise ValueError("--c3d-weights needs --c3d-mean")
    for video in args.videos:
        if not os.path.isfile(video):
            raise FileNotFoundError(f"{video}: no such file")
    from evaluation.baselines import open_scorer
    from featurizer.c3d import load_c3d_extractor
    from featurizer.c3d.video_features import VideoFeaturizer

    ranker = open_scorer(args.model)
    if ranker.widths()[1]:
        raise ValueError(f"{args.model} takes context (trained with --context): predict scores features alone")
    settings = FeatureSettings(max_segment_sec=args.max_segment_sec, fps=args.fps, stride=args.snippet_stride,
                               mirror=args.mirror, max_video_sec=None)
    featurizer = VideoFeaturizer(load_c3d_extractor(args.c3d_weights, args.c3d_mean), settings)
    for number, video in enumerate(args.videos, 1):
        LOG.info("predict: [%d/%d] %s: shots, segments, C3D", number, len(args.videos), video)
        started = time.perf_counter()
        predictions = predict_video(video, featurizer, ranker, args.top, args.out)
        LOG.info("predict: [%d/%d] %s: %d GIFs in %.1f s -> %s", number, len(args.videos), video,
                 len(predictions["gifs"]), time.perf_counter() - started, predictions["folder"])
    return 0


def predict_video(path: str, featurizer, ranker, top: int, out: str) -> dict:
    """Featurizes, scores and writes the top GIFs of one video; returns what predictions.json says."""
    [result] = featurizer.featurize([LocalVideo(path)])
    if isinstance(result, VideoFailure):
        raise ValueError(f"{path}: {result.message} ({result.kind})")
    usable = np.flatnonzero(result.snippets > 0).tolist()
    if not usable:
        raise ValueError(f"{path}: no segment keeps a C3D snippet at these settings")
    scores = ranker.score(result.features[usable])
    folder = os.path.join(out, os.path.splitext(os.path.basename(path))[0])
    gifs = write_best_gifs(path, result.fps, [result.segments[i] for i in usable],
                           [result.seconds[i] for i in usable], scores, top, folder)
    predictions = {"video": os.path.abspath(path), "model": ranker.uri, "fps": result.fps,
                   "num_frames": result.num_frames, "segments": len(result.segments), "gifs": gifs,
                   "folder": folder}
    with open(os.path.join(folder, "predictions.json"), "w") as f:
        json.dump(predictions, f, indent=2)
    return predictions
