"""The catalogue predict pipeline: the best GIFs of every featurized video of a dataset.

    gifrank predict-dataset --dataset ./data --model JOB/model --top 3 --out ./gifs
    gifrank predict-dataset --dataset gs://b/v2g --model gs://b/jobs/run1/model --out gs://b/gifs \
        --runner DataflowRunner ...

The same as `gifrank predict VIDEO` does for a file, with the features the dataset has
already: each video's segments are scored with RunInference (one model per worker
machine), and its top K become GIFs (featurizer.gifs.best) under OUT/<video_sha256>/ with
their predictions.json; OUT/predictions.jsonl holds every video's, OUT/failed.jsonl the
videos that could not be made into GIFs, as {"video_sha256", "kind", "message"} like
`gifrank predict VIDEO`'s (a video blob over MAX_VIDEO_BYTES is refused by its size
before it is copied, `too_large`; a video whose blob is gone is `blob_missing`):
videos = predicted + failed. Any other error is no video's fault and fails the run.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from featurizer.dataset.dead_letter_rows import is_bad_input
from featurizer.dataset.feature_sets import choose_feature_set, read_segment_features
from featurizer.dataset.storage import DatasetRoot
from featurizer.labels.segments import Segment
from pipelines.stage import FeatureSetOptions, RankerRunOptions, Stage
from pipelines.transforms.ranker_inference import RankerHandler

LOG = logging.getLogger("gifrank")
PIPELINE = "predict"
FAILED = "failed"
BLOB_MISSING = "blob_missing"
NAMESPACE = f"gifrank.{PIPELINE}"
BOUNDS = ["segment_index", "start_frame", "end_frame", "start_sec", "end_sec", "fps"]  # what a GIF needs


class PredictOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--top", type=int, default=3, help="GIFs per video (default: %(default)s)")


def _read_features(item: tuple[str, str], dataset: str):
    """(video_sha256, features file) -> (video_sha256, {"features", "context", "video"}) of its segments
    with features."""
    sha, path = item
    stored = read_segment_features(dataset, path, BOUNDS)
    rows = stored.segments
    video = {"segments": [(r["segment_index"], r["start_frame"], r["end_frame"]) for r in rows],
             "seconds": [(r["start_sec"], r["end_sec"]) for r in rows], "fps": rows[0]["fps"] if rows else None}
    yield sha, {"features": stored.features, "context": stored.features[:, :0], "video": video}


class _WriteGifs(beam.DoFn):
    """(video_sha256, its scored segments) -> its predictions, GIFs written under OUT/<sha>/."""

    def __init__(self, dataset: str, out: str, top: int, model: str):
        self._dataset, self._out, self._top, self._model = dataset, out, top, model
        self._gifs = Metrics.counter(NAMESPACE, "gifs_written")
        self._videos = Metrics.counter(NAMESPACE, "videos_predicted")

    def process(self, keyed):
        sha, result = keyed
        try:
            predictions = self._write(sha, result)
        except FileNotFoundError as exc:  # features outlived their video's blob
            yield beam.pvalue.TaggedOutput(FAILED, {"video_sha256": sha, "kind": BLOB_MISSING, "message": str(exc)})
            return
        except Exception as exc:
            if not is_bad_input(exc):
                raise
            yield beam.pvalue.TaggedOutput(FAILED, {"video_sha256": sha, "kind": exc.kind, "message": str(exc)})
            return
        self._videos.inc()
        self._gifs.inc(len(predictions["gifs"]))
        yield predictions

    def _write(self, sha: str, result) -> dict:
        from featurizer.c3d.video_features import BlobVideo, NoSegments
        from featurizer.gifs.best import write_best_gifs

        video = result.example["video"]
        if not video["segments"]:
            raise NoSegments(f"video {sha}: no segment has features")
        segments = [Segment(*s) for s in video["segments"]]
        target = DatasetRoot.open(self._out)
        with tempfile.TemporaryDirectory(prefix="gifrank-predict-") as local, \
                BlobVideo(self._dataset, sha).local_path() as path:
            gifs = write_best_gifs(path, video["fps"], segments, video["seconds"], result.inference, self._top,
                                   local)
            predictions = {"video_sha256": sha, "model": self._model, "fps": video["fps"],
                           "segments": len(segments), "gifs": gifs, "folder": target.uri_of(sha)}
            with open(os.path.join(local, "predictions.json"), "w") as f:
                json.dump(predictions, f, indent=2)
            target.put_folder(local, sha)  # the video's old folder replaced whole
        return predictions


def _write_lines(_, items, out: str, name: str):
    lines = sorted(json.dumps(item, sort_keys=True) for item in items)
    DatasetRoot.open(out).write_bytes("".join(line + "\n" for line in lines).encode(), name)
    yield len(lines)


def build_pipeline(p: beam.Pipeline, opts: PredictOptions, dataset: str, run_id: str):
    run, features = opts.view_as(RankerRunOptions), opts.view_as(FeatureSetOptions)
    chosen = choose_feature_set(dataset, features.segmenter, features.feature_extractor)
    LOG.info("predict: %d videos of %s / %s", len(chosen.files), chosen.segmenter, chosen.feature_extractor)
    scored = (p | "Videos" >> beam.Create(sorted(chosen.files.items())) | "Spread" >> beam.Reshuffle()
              | "ReadFeatures" >> beam.FlatMap(_read_features, dataset)
              | "Score" >> RunInference(KeyedModelHandler(RankerHandler(run.model))))
    written, failures = (scored | "WriteGifs" >> beam.ParDo(_WriteGifs(dataset, run.out, opts.top, run.model))
                         .with_outputs(FAILED, main="written"))
    once = p | "Once" >> beam.Create([None])
    once | "WritePredictions" >> beam.FlatMap(_write_lines, beam.pvalue.AsList(written), run.out, "predictions.jsonl")
    once | "WriteFailed" >> beam.FlatMap(_write_lines, beam.pvalue.AsList(failures), run.out, "failed.jsonl")
    failures | "CountFailed" >> beam.Map(lambda _: Metrics.counter(NAMESPACE, "videos_failed").inc())
    return written, failures


def check_options(opts: PredictOptions, dataset: str) -> None:
    run = opts.view_as(RankerRunOptions)
    if not run.model or not run.out:
        raise ValueError("--model and --out are required")
    if opts.top < 1:
        raise ValueError("--top must be at least 1")


STAGE = Stage(
    name=PIPELINE, command="gifrank predict-dataset", options=PredictOptions, build=build_pipeline,
    check=check_options, shared_options=(FeatureSetOptions, RankerRunOptions), writes="out",
    description="The best GIFs of every featurized video of a dataset (a Beam pipeline): scored with RunInference, "
                "written as GIFs with predictions.json under OUT/<video_sha256>/, and OUT/predictions.jsonl.")
run = STAGE.run

if __name__ == "__main__":
    STAGE.main()
