"""The evaluate pipeline: an exported ranker scored on a dataset's test videos, as the paper does.

    gifrank evaluate --model JOB/model --dataset ./data --split test --out eval/
    gifrank evaluate --model JOB/model --dataset gs://b/v2g --test-set testset.txt --out gs://b/eval/ \
        --runner DataflowRunner ...

Every segment of every chosen video is scored with RunInference (one model per worker
machine); segment scores are spread to frames; each video gets nMSD (alpha = 0.5, mean over
its GIFs) and AP against the aligned GIFs (evaluation.protocol). OUT/per_video.parquet and
OUT/metrics.json (evaluation.evaluate) and OUT/report/ (evaluation.report) are written last,
from every video's result: the
same numbers as evaluation.evaluate.evaluate_in_process. Videos the protocol cannot score
are excluded and counted with their reason: chosen videos = results + exclusions.
`--model random[:seed]` scores at random; `--model upper-bound` scores no segment and gives
the paper's approximate upper bound (each video's GIFs against each other; two GIFs needed).
"""
from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from evaluation.baselines import is_upper_bound
from evaluation.evaluate import scored_video, write_outputs
from evaluation.intervals import format_estimate
from evaluation.protocol import ALPHA, Excluded
from evaluation.videos import LABEL_COLUMNS, ChosenVideos, NoFeatures, read_segments
from featurizer.dataset import tables
from featurizer.labels.segment_labels import read_video_list
from pipelines.stage import FeatureSetOptions, GroundTruthOptions, RankerRunOptions, Stage, min_alignment_confidence
from pipelines.transforms.ranker_inference import RankerHandler
from pipelines.transforms.table_io import ReadTable, table_snapshots
from pipelines.transforms.video_jobs import VideoJobs

LOG = logging.getLogger("gifrank")
PIPELINE = "evaluate"
NAMESPACE = f"gifrank.{PIPELINE}"


class EvaluateOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--split", default="test", help="the split evaluated (default: %(default)s)")
        parser.add_argument("--test-set", dest="test_set", metavar="FILE",
                            help="evaluate the videos this file lists (one id a line: the Video2GIF dataset's "
                                 "testset.txt) instead of --split")
        parser.add_argument("--alpha", type=float, default=ALPHA,
                            help="nMSD's recall of each GIF (default: %(default)s, as the paper)")
        parser.add_argument("--bootstrap-seed", dest="bootstrap_seed", type=int, default=0,
                            help="of the bootstrap intervals (default: %(default)s)")


class _ReadVideo(beam.DoFn):
    """(video_sha256, its labels rows) -> (video_sha256, {"features", "context", "segments"}), or an exclusion."""

    def __init__(self, dataset: str, chosen: ChosenVideos):
        self._dataset, self._chosen = dataset, chosen
        self._videos = Metrics.counter(NAMESPACE, "videos_chosen")
        self._excluded = Metrics.counter(NAMESPACE, "videos_excluded")

    def process(self, keyed):
        sha, rows = keyed
        rows = list(rows)
        self._videos.inc()
        try:
            segments = read_segments(self._dataset, self._chosen, rows)
        except NoFeatures:
            segments = None
        if segments is None or not segments.bounds:
            reason = "no features" if segments is None else "no scored segment"
            self._excluded.inc()
            yield beam.pvalue.TaggedOutput("excluded", (rows[0]["video_id"], reason))
        else:
            yield sha, {"features": segments.features, "context": segments.context, "segments": segments}


class _Evaluate(beam.DoFn):
    """(video_sha256, {"scored", "jobs"}) -> the video's VideoResult, or (video_id, reason) excluded.
    "jobs": its VideoJob (none: the video has no GIF row)."""

    def __init__(self, alpha: float):
        self._alpha = alpha
        self._results = Metrics.counter(NAMESPACE, "videos_evaluated")
        self._excluded = Metrics.counter(NAMESPACE, "videos_excluded")

    def process(self, keyed):
        _sha, grouped = keyed
        scored, jobs = list(grouped["scored"]), list(grouped["jobs"])
        for result in scored[:1]:  # none: the video was not chosen, or was excluded when read
            try:
                outcome = scored_video(result.example["segments"], result.inference, jobs[0] if jobs else None,
                                       self._alpha)
                self._results.inc()
            except Excluded as exc:
                self._excluded.inc()
                outcome = beam.pvalue.TaggedOutput("excluded", (exc.video_id, exc.reason))
            yield outcome


def _write(_, results, excluded, out: str, info: dict, seed: int):
    from evaluation.report import write_run_report

    metrics = write_outputs(out, list(results), list(excluded), info, seed)
    metrics["report"] = write_run_report(out, info["dataset"], info["model"])
    LOG.info("evaluate: %d videos, mean nMSD %s, mAP %s; %d excluded; %s (report: %s)", metrics["videos"],
             format_estimate(metrics["nmsd"]), format_estimate(metrics["map"]), metrics["videos_excluded"], out,
             metrics["report"])
    yield metrics


def chosen_videos(opts: EvaluateOptions, dataset: str) -> ChosenVideos:
    test_set = read_video_list(opts.test_set) if opts.test_set else None
    features = opts.view_as(FeatureSetOptions)
    chosen = ChosenVideos.of(dataset, opts.split, test_set, features.segmenter, features.feature_extractor)
    if not chosen.video_count(dataset):
        what = f"of --test-set {opts.test_set}" if test_set is not None else f"of split {opts.split!r}"
        raise ValueError(f"{dataset}: no labelled video {what} (segmenter {chosen.segmenter}): nothing to evaluate")
    return chosen


def build_pipeline(p: beam.Pipeline, opts: EvaluateOptions, dataset: str, run_id: str):
    chosen = chosen_videos(opts, dataset)
    run = opts.view_as(RankerRunOptions)
    snapshots = table_snapshots(dataset, (tables.GIFS, tables.ALIGNMENTS, tables.LABELS))
    min_confidence = min_alignment_confidence(opts)
    info = {"model": run.model, "dataset": dataset, "run_id": run_id, "alpha": opts.alpha,
            "split": chosen.split, "test_set": opts.test_set, "segmenter": chosen.segmenter,
            "feature_extractor": chosen.feature_extractor, "min_alignment_confidence": min_confidence,
            "tables_read": {name: s.version for name, s in snapshots.items()}}

    label_rows = (p | "ReadLabels" >> ReadTable(dataset, tables.LABELS, snapshots[tables.LABELS.name],
                                                 columns=LABEL_COLUMNS)
                  | "Chosen" >> beam.Filter(chosen.wants)
                  | "LabelsByVideo" >> beam.Map(lambda r: (r["video_sha256"], r)) | "GroupLabels" >> beam.GroupByKey())
    read = label_rows | "ReadVideos" >> beam.ParDo(_ReadVideo(dataset, chosen)).with_outputs("excluded", main="videos")
    if is_upper_bound(run.model):  # no model: each video's GIFs are scored against each other
        scored = read.videos | "NoScores" >> beam.MapTuple(lambda sha, video: (sha, PredictionResult(video, None)))
    else:
        scored = read.videos | "Score" >> RunInference(KeyedModelHandler(RankerHandler(run.model)))
    gifs = p | "ReadGifs" >> ReadTable(dataset, tables.GIFS, snapshots[tables.GIFS.name])
    alignments = p | "ReadAlignments" >> ReadTable(dataset, tables.ALIGNMENTS, snapshots[tables.ALIGNMENTS.name])
    jobs = {"gifs": gifs, "alignments": alignments} | "VideoJobs" >> VideoJobs(min_confidence)
    evaluated = ({"scored": scored, "jobs": jobs} | "JoinTruth" >> beam.CoGroupByKey()
                 | "Evaluate" >> beam.ParDo(_Evaluate(opts.alpha)).with_outputs("excluded", main="results"))
    excluded = (read.excluded, evaluated.excluded) | "AllExcluded" >> beam.Flatten()
    return (p | "Once" >> beam.Create([None])
            | "WriteOutputs" >> beam.FlatMap(_write, beam.pvalue.AsList(evaluated.results),
                                             beam.pvalue.AsList(excluded), run.out, info, opts.bootstrap_seed))


def check_options(opts: EvaluateOptions, dataset: str) -> None:
    run = opts.view_as(RankerRunOptions)
    if not run.model:
        raise ValueError("--model is required: the exported ranker (JOB/model), random[:seed] or upper-bound")
    if not run.out:
        raise ValueError("--out is required: where per_video.parquet and metrics.json go")
    if not 0 < opts.alpha <= 1:
        raise ValueError(f"--alpha must be in (0, 1], not {opts.alpha}")


STAGE = Stage(
    name=PIPELINE, command="gifrank evaluate", options=EvaluateOptions, build=build_pipeline, check=check_options,
    shared_options=(GroundTruthOptions, FeatureSetOptions, RankerRunOptions), writes="out",
    description="Scores a ranker on a dataset's test videos (a Beam pipeline): nMSD and mAP as the paper, per "
                "video and overall with intervals -> OUT/per_video.parquet, OUT/metrics.json. "
                "gifrank compare RUN [RUN ...] [--names ...] [--out DIR] puts runs side by side "
                "as the paper's Table 2.")
run = STAGE.run

if __name__ == "__main__":
    STAGE.main()
