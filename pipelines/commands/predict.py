"""`gifrank predict`: the best GIFs of any video.

    gifrank predict VIDEO [VIDEO ...] --model JOB/model [--top 3] [--out gifs/]
        [--c3d-weights c3d.pkl --c3d-mean mean.npy] [--fps 8] [--snippet-stride 16] [--no-mirror]

The videos of a dataset's catalogue are `gifrank predict-dataset` (pipelines.predict, a Beam
pipeline); `gifrank predict --dataset ...`, its old spelling, still runs it, with a notice
(pipelines.cli.DEPRECATED).

Each video is decoded once into shots and segments and featurized with C3D (the featurize
pipeline's path, featurizer.c3d.video_features); the ranker scores its segments; the top K
become GIFs (featurizer.gifs): at most 480 px wide, 10 to 15 fps, their own palette,
looping, each starting and ending inside its segment where the loop jumps least (never
across a shot). OUT/<stem>-<sha12>/predictions.json lists them: start_sec, end_sec, score,
the segment's own bounds, and the loop's jump against the segment's naive one.

A video's folder is its file name without the extension, then the first 12 hex digits of
its content's sha256 (clip-3f2a9c01b7e4): two clip.mp4 of different folders never share
one, and the same video gets the same folder on every run, from any path (the Beam
pipeline's OUT/<video_sha256>/ is the same idea). A run replaces its videos' folders whole;
a video given twice (or two copies of it) is done once. OUT/predictions.jsonl lists what
this run made (one line per video, with its folder), OUT/failed.jsonl the videos that could
not be made into GIFs: {"video", "kind", "message"}, each also one line on stderr; the others
still get their GIFs. Exit status: 0 when every video got its GIFs, 1 when some failed, 2
for bad arguments (a missing file, an --out that cannot be written: checked before any model
is loaded or any video decoded). Errors that are not a video's fault (a full disk, a bug)
stop the run.

Give the same C3D settings (weights, --fps, --snippet-stride, --no-mirror, --max-segment-sec)
the model was trained on: a ranker scores the features it learnt from. They are featurize's
flags (pipelines.feature_options), read the same way.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time

import numpy as np

from featurizer.c3d.video_features import LocalVideo, VideoFailure
from featurizer.c3d.weights import file_sha256
from featurizer.dataset.dead_letter_rows import error_kind, is_bad_input
from featurizer.dataset.storage import DatasetRoot, expand_patterns
from featurizer.gifs.best import write_best_gifs
from featurizer.media.errors import TOO_FEW_FRAMES, MediaError
from pipelines.feature_options import add_feature_arguments, check_feature_options, feature_settings

LOG = logging.getLogger("gifrank")
FOLDER_HASH_CHARS = 12  # 48 bits: two different videos of one name share a folder once in 10^14 pairs
PREDICTIONS = "predictions.jsonl"
FAILED = "failed.jsonl"
OUT_HELP = ("output folder, a path or gs:// URI (default: %(default)s): each video's GIFs and predictions.json "
            "in OUT/<its file name without extension>-<the first 12 hex of its sha256>/, the same on every run; "
            f"OUT/{PREDICTIONS} lists this run's videos, OUT/{FAILED} those that failed and why")
EXIT_STATUS = ("exit status: 0 when every video got its GIFs; 1 when some failed (each one also a line on stderr), "
               "the others still got theirs; 2 for bad arguments (a missing video, an --out that cannot be "
               "written), found before any work")
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gifrank predict", description="The best GIFs of videos, as GIF files "
                                     "and JSON (segments, scores, loop points).", epilog=EXIT_STATUS)
    parser.add_argument("videos", nargs="+", metavar="VIDEO",
                        help="video files, or glob patterns of them (quoted: 'clips/*.mp4', 'clips/**/*.mov')")
    parser.add_argument("--model", required=True, help="the exported ranker (JOB/model, or gifrank import-ranker's)")
    parser.add_argument("--top", type=int, default=3, help="GIFs per video (default: %(default)s)")
    parser.add_argument("--out", default="./gifs", help=OUT_HELP)
    add_feature_arguments(parser)
    return parser


def video_folder(path: str, video_sha256: str) -> str:
    """A video's folder under OUT: readable (its file name) and unique and stable (its content)."""
    return f"{os.path.splitext(os.path.basename(path))[0]}-{video_sha256[:FOLDER_HASH_CHARS]}"


def distinct_videos(paths: list[str]) -> list[tuple[str, str]]:
    """(path, sha256) of each video, in order, once per content: the first path given names it."""
    seen: dict[str, str] = {}
    for path in paths:
        try:
            sha = file_sha256(path)
        except OSError as exc:  # no permission, a read error: an argument this run cannot use
            raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
        if sha in seen:
            LOG.info("predict: %s: the same video as %s, done once", path, seen[sha])
        else:
            seen[sha] = path
    return [(path, sha) for sha, path in seen.items()]


def main(argv=None) -> int:
    argv = list(argv or [])
    args = build_parser().parse_args(argv)
    if args.top < 1:
        raise ValueError("--top must be at least 1")
    check_feature_options(args)
    paths = expand_patterns(args.videos)
    for video in paths:
        if not os.path.isfile(video):
            raise FileNotFoundError(f"{video}: no such file")
    out = DatasetRoot.open(args.out)
    out.check_writable()  # before the model loads or a frame is decoded: a bad --out costs nothing
    videos = distinct_videos(paths)
    from evaluation.baselines import open_scorer
    from featurizer.c3d import load_c3d_extractor
    from featurizer.c3d.video_features import VideoFeaturizer

    ranker = open_scorer(args.model)
    if ranker.widths()[1]:
        raise ValueError(f"{args.model} takes context (trained with --context): predict scores features alone")
    # No length cap (featurize's --max-video-sec): a user's own video is taken whatever its length.
    settings = feature_settings(args, max_video_sec=None)
    featurizer = VideoFeaturizer(load_c3d_extractor(args.c3d_weights, args.c3d_mean), settings)
    predicted, failed = predict_videos(videos, featurizer, ranker, args.top, out)
    out.write_bytes(json_lines(predicted), PREDICTIONS)
    failures = out.write_bytes(json_lines(failed), FAILED)
    if failed:
        LOG.warning("predict: %d of %d videos failed, listed in %s", len(failed), len(videos), failures)
        return 1
    return 0


def predict_videos(videos: list[tuple[str, str]], featurizer, ranker, top: int, out: DatasetRoot):
    """Each (path, sha256)'s GIFs -> (their predictions, failed.jsonl's records). A video's own fault
    (an error with a `kind`) is its record and a line on stderr; any other error stops the run."""
    predicted, failed = [], []
    for number, (video, sha) in enumerate(videos, 1):
        LOG.info("predict: [%d/%d] %s: shots, segments, C3D", number, len(videos), video)
        started = time.perf_counter()
        try:
            predictions = predict_video(video, featurizer, ranker, top, out.uri, sha)
        except Exception as exc:
            if not is_bad_input(exc):
                raise  # not the video's fault (a full disk, a bug)
            failed.append(failure_record(video, exc))
            LOG.warning("predict: [%d/%d] %s: no GIFs (%s): %s", number, len(videos), video, failed[-1]["kind"],
                        failed[-1]["message"])
            continue
        predicted.append(predictions)
        LOG.info("predict: [%d/%d] %s: %d GIFs in %.1f s -> %s", number, len(videos), video,
                 len(predictions["gifs"]), time.perf_counter() - started, predictions["folder"])
    return predicted, failed


def failure_record(path: str, error: BaseException) -> dict:
    """A failed.jsonl line: the video (absolute, as predictions.jsonl names it), why (`kind`), and the
    error's message on one line, less the path it starts with."""
    kind = error_kind(error)
    text = getattr(error, "detail", None) or str(error)  # a MediaError's detail is without its path and kind
    message = " ".join(text.split()).removeprefix(f"{path}: ").removesuffix(f" [{kind}]")
    return {"video": os.path.abspath(path), "kind": kind, "message": message}


def json_lines(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def predict_video(path: str, featurizer, ranker, top: int, out: str, video_sha256: str | None = None) -> dict:
    """Featurizes, scores and writes the top GIFs of one video into OUT/<video_folder>/; returns what
    predictions.json says. A video that cannot become GIFs raises an error with its `kind`.

    The GIFs are made in a temporary folder and copied into place once all are written: a video
    that fails half-way leaves no folder, and OUT may be a gs:// URI."""
    [result] = featurizer.featurize([LocalVideo(path)])
    if isinstance(result, VideoFailure):
        raise MediaError(result.kind, path, result.message)
    usable = np.flatnonzero(result.snippets > 0).tolist()
    if not usable:
        raise MediaError(TOO_FEW_FRAMES, path, "no segment keeps a C3D snippet at these settings")
    scores = ranker.score(result.features[usable])
    video_sha256 = video_sha256 or file_sha256(path)
    target = DatasetRoot.open(out)
    name = video_folder(path, video_sha256)
    with tempfile.TemporaryDirectory(prefix="gifrank-predict-") as local:
        gifs = write_best_gifs(path, result.fps, [result.segments[i] for i in usable],
                               [result.seconds[i] for i in usable], scores, top, local)
        predictions = {"video": os.path.abspath(path), "video_sha256": video_sha256, "model": ranker.uri,
                       "fps": result.fps, "num_frames": result.num_frames, "segments": len(result.segments),
                       "gifs": gifs, "folder": target.uri_of(name)}
        with open(os.path.join(local, "predictions.json"), "w") as f:
            json.dump(predictions, f, indent=2)
        target.put_folder(local, name)
    return predictions
