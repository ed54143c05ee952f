"""The featurize pipeline: videos with aligned GIFs -> the features table (once) and the labels table.

    gifrank featurize --dataset ./data [--c3d-weights c3d.pkl --c3d-mean mean.npy] [--fps 8] [--no-mirror]
    ... --runner DataflowRunner --c3d-accelerator "type:nvidia-l4;count:1;install-nvidia-driver"

Features are expensive and computed once: only videos whose features are missing for
this segmenter and extractor are decoded. One step does it all for a video (decode,
shots, segments, snippets, C3D through RunInference, batched across videos), so no
pixels cross a step boundary; only that step (and the write of its file, fused with
it) asks for an accelerator. Labels are cheap and recomputed every run from the gifs,
the alignments and the features' segment boundaries, without decoding anything.

Expected bad input (unreadable media, a video blob over MAX_VIDEO_BYTES, no aligned
GIF, no shot long enough) becomes a dead letter; anything else raises, so the runner
retries it and a failed job leaves the tables as they were. The tables are committed by
the pipeline's last step.

The steps (build_pipeline): VideoJobs (pipelines.transforms.video_jobs) joins GIFs and
alignments per video; SkipKnownFailures drops videos an earlier run found unusable for good;
FeaturizeVideos writes the missing features files (FindFinished, C3D, WriteFeatures);
ScoresBySource and LabelVideos label every video's segments from the features' boundaries.
The C3D settings are pipelines.feature_options' flags, shared with gifrank predict.
"""
from __future__ import annotations

import contextlib
import logging

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from featurizer.c3d.video_features import FeatureSettings
from featurizer.dataset import table_store, tables
from featurizer.dataset.dead_letter_rows import rows_for, subject
from featurizer.dataset.table_store import Snapshot
from featurizer.labels import popularity
from featurizer.labels.segment_labels import SplitRule, label_rows, parse_ratios, read_video_list, split_of
from featurizer.labels.video_jobs import VideoJob
from pipelines.feature_options import check_feature_options, feature_settings
from pipelines.stage import FeatureOptions, GroundTruthOptions, Stage, min_alignment_confidence
from pipelines.transforms.c3d_inference import C3DVideoHandler
from pipelines.transforms.dead_letters import WriteDeadLetters
from pipelines.transforms.progress import Progress
from pipelines.transforms.table_io import ADD, CommitTables, ReadTable, WriteTable, table_snapshots
from pipelines.transforms.video_jobs import VideoJobs

LOG = logging.getLogger("gifrank")
PIPELINE = "featurize"
NAMESPACE = f"gifrank.{PIPELINE}"
__all__ = ["run", "build_pipeline", "split_of", "parse_ratios"]
# Dead letters of input that fails the same way every time: not decoded again unless --retry-failed.
LASTING_KINDS = ("unreadable", "no_frames", "too_few_frames", "decompression_bomb", "too_long", "too_large",
                 "no_segments")
BOUNDARY_COLUMNS = [n for n in tables.FEATURES.schema.names if n != "features"]


class FeaturizeOptions(PipelineOptions):
    """How featurize runs; the settings its features depend on are FeatureOptions (predict's too)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--batch-size", dest="batch_size", type=int, default=16,
                            help="snippets per C3D call (default: %(default)s)")
        parser.add_argument("--videos-per-batch", dest="videos_per_batch", type=int, default=4,
                            help="videos per RunInference batch: their snippets share model batches, and a GPU "
                                 "wants several decoded at once (default: %(default)s)")
        parser.add_argument("--decode-processes", dest="decode_processes", type=int, default=0,
                            help="processes decoding videos beside the model; 0 decodes in the model's "
                                 "thread (default: %(default)s)")
        parser.add_argument("--c3d-model-copies", dest="c3d_model_copies", type=int, default=0,
                            help="C3D models per worker machine, shared by its processes (RunInference's "
                                 "model_copies); 0: one per process (default: %(default)s)")
        parser.add_argument("--c3d-accelerator", dest="c3d_accelerator",
                            help="Beam resource hint for the C3D step only, e.g. "
                                 "'type:nvidia-l4;count:1;install-nvidia-driver' on Dataflow")
        parser.add_argument("--split-ratios", dest="split_ratios", default="0.8,0.1,0.1",
                            help="train,val,test shares, assigned by a hash of video_id (default: %(default)s)")
        parser.add_argument("--split-by", dest="split_by", choices=("hash", "published"), default="hash",
                            help="hash: every video by a hash of its id; published: the videos of --test-videos in "
                                 "test, the rest hashed into train and val (default: %(default)s)")
        parser.add_argument("--test-videos", dest="test_videos", metavar="FILE",
                            help="with --split-by published: the test videos' ids, one a line (the Video2GIF "
                                 "dataset's testset.txt), a path or gs:// URI")
        parser.add_argument("--max-video-sec", dest="max_video_sec", type=float, default=600.0,
                            help="longer videos are not decoded but dead-lettered (too_long), so one long upload "
                                 "cannot fill a worker's disk (default: %(default)s, as the paper's collection)")
        parser.add_argument("--retry-failed", dest="retry_failed", action="store_true",
                            help="decode again videos whose earlier dead letter says they cannot be used")


def settings_of(opts: PipelineOptions) -> FeatureSettings:
    """The run's FeatureSettings: the feature flags, with featurize's batch size and length cap
    (predict takes the same flags and no cap)."""
    run = opts.view_as(FeaturizeOptions)
    return feature_settings(opts.view_as(FeatureOptions), batch_size=run.batch_size, max_video_sec=run.max_video_sec)


# --- Small functions of the steps (module level: Beam pickles them) ---

def _source_score(gif: dict) -> tuple[str, float | None]:
    return gif["source"], popularity.raw_score(gif)


def _scored(source_score: tuple[str, float | None]) -> bool:
    return source_score[1] is not None


def _sorted_scores(source: str, scores) -> tuple[str, list[float]]:
    return source, sorted(scores)


def _is_lasting(dead_letter: dict) -> bool:
    return dead_letter["stage"] == "video" and dead_letter["error_kind"] in LASTING_KINDS


def _url_and_kind(dead_letter: dict) -> tuple[str, str]:
    return dead_letter["url"], dead_letter["error_kind"]


def _not_known_bad(keyed: tuple[str, VideoJob], known_bad: dict[str, str], retry: bool) -> bool:
    return retry or keyed[1].video_url not in known_bad


def _not_in(keyed: tuple[str, VideoJob], videos: frozenset[str]) -> bool:
    return keyed[0] not in videos


def _by_video(row: dict) -> tuple[str, dict]:
    return row["video_sha256"], row


class _ByAlignment(beam.PartitionFn):
    """Partition 1: a video with a span to label from; 0: none of its GIFs is placed."""

    def partition_for(self, element, num_partitions, *args, **kwargs) -> int:  # element: (video_sha256, job)
        return 1 if element[1].spans else 0


def _counted(keyed: tuple[str, VideoJob]) -> tuple[str, VideoJob]:
    """The job, its GIFs whose alignment is too unsure for labels counted."""
    job = keyed[1]
    Metrics.counter(NAMESPACE, "gifs_alignment_below_min_confidence").inc(job.low_confidence_gifs)
    Metrics.counter(NAMESPACE, "gifs_without_trusted_span").inc(len(job.untrusted_gifs))
    return keyed


def _no_aligned_gifs(keyed: tuple[str, VideoJob]) -> dict:
    job = keyed[1]
    return rows_for(PIPELINE, "video", [subject(url=job.video_url)], "no_aligned_gifs",
                    f"video {job.video_id}: none of its GIFs is aligned (confidently enough) or has a "
                    "published alignment")[0]


def _video_url(keyed: tuple[str, VideoJob]) -> str:
    return keyed[1].video_url


def _segment_dead_letters(job: VideoJob, rows, fps) -> list[dict]:
    """A segment with no snippet at this --fps: its dead letter (its record is the segment, its url the video's)."""
    return [rows_for(PIPELINE, "segment", [{**subject(url=job.video_url),
                                            "record_key": f"{job.video_url}#segment={r['segment_index']}"}],
                     "no_snippets", f"segment {r['segment_index']} keeps no frame at --fps {fps}")[0]
            for r in rows if r["snippets"] == 0]


# --- The DoFns ---

class _FindFinished(beam.DoFn):
    """Jobs whose features file a crashed run already wrote: reused (not decoded again), else to compute."""

    def __init__(self, dataset: str, segmenter: str, extractor: str):
        self._dataset, self._segmenter, self._extractor = dataset, segmenter, extractor
        self._reused = Metrics.counter(NAMESPACE, "videos_reused_from_unfinished_run")

    def process(self, keyed: tuple[str, VideoJob]):
        sha = keyed[0]
        name = tables.features_file_name(sha, self._segmenter, self._extractor)
        found = table_store.named_file(self._dataset, tables.FEATURES, name)
        if found is None:
            yield beam.pvalue.TaggedOutput("todo", keyed)
            return
        self._reused.inc()
        yield tables.FEATURES.name, ADD, found
        for row in tables.batch_to_rows(table_store.read_file(self._dataset, tables.FEATURES, name, BOUNDARY_COLUMNS)):
            yield beam.pvalue.TaggedOutput("boundaries", row)


class _WriteFeatures(beam.DoFn):
    """A video's features -> its file (a file action), its boundary rows, its dead letters."""

    def __init__(self, dataset: str, segmenter: str, extractor: str):
        self._dataset, self._segmenter, self._extractor = dataset, segmenter, extractor
        self._videos = Metrics.counter(NAMESPACE, "videos_segmented")
        self._failed = Metrics.counter(NAMESPACE, "videos_failed")
        self._snippets = Metrics.counter(NAMESPACE, "snippets")
        self._segments = Metrics.counter(NAMESPACE, "segments_featurized")

    def process(self, keyed):
        from featurizer.c3d.video_features import VideoFailure

        _sha, result = keyed
        job, video = result.example, result.inference
        if isinstance(video, VideoFailure):
            self._failed.inc()
            Progress.record("featurize_videos", 0, 1)
            yield beam.pvalue.TaggedOutput("deadletters", rows_for(
                PIPELINE, "video", [subject(url=job.video_url)], video.kind,
                f"video {job.video_id}: {video.message}")[0])
            return
        rows = video.feature_rows(job.video_sha256, self._segmenter, self._extractor)
        name = tables.features_file_name(job.video_sha256, self._segmenter, self._extractor)
        written = table_store.write_named_file(self._dataset, tables.FEATURES,
                                               tables.rows_to_arrow(tables.FEATURES, rows), name)
        self._videos.inc()
        self._segments.inc(len(rows))
        self._snippets.inc(int(video.snippets.sum()))
        Progress.record("featurize_videos", 1, 0)
        yield tables.FEATURES.name, ADD, written
        for row in rows:
            yield beam.pvalue.TaggedOutput("boundaries", {k: row[k] for k in BOUNDARY_COLUMNS})


class _LabelVideo(beam.DoFn):
    """(video_sha256, {"jobs", "boundaries"}) -> the video's label rows (none without both), and the
    dead letters of its segments without features: both follow from the features table alone, so a
    rerun gives them whatever earlier runs did or did not finish."""

    def __init__(self, split_rule: SplitRule, fps):
        self._split_rule = split_rule
        self._fps = fps
        self._labels = {label: Metrics.counter(NAMESPACE, f"segments_{name}")
                        for label, name in ((1, "positive"), (0, "negative"), (-1, "ignored"))}

    def process(self, keyed, scores_by_source):
        _sha, grouped = keyed
        jobs, boundaries = list(grouped["jobs"]), list(grouped["boundaries"])
        if not jobs or not boundaries:
            return
        rows, dropped = label_rows(jobs[0], boundaries, scores_by_source, self._split_rule)
        for name, count in sorted(dropped.items()):
            Metrics.counter(NAMESPACE, name).inc(count)
        for row in rows:
            self._labels[row["label"]].inc()
            yield row
        for dead in _segment_dead_letters(jobs[0], boundaries, self._fps):
            yield beam.pvalue.TaggedOutput("deadletters", dead)


# --- The steps ---

class ScoresBySource(beam.PTransform):
    """gifs rows -> (source, the sorted raw popularity scores of its GIFs): popularity is normalised
    among one source's GIFs, every GIF of the table counted."""

    def expand(self, gifs):
        return (gifs | "RawPopularity" >> beam.Map(_source_score) | "Scored" >> beam.Filter(_scored)
                | "BySource" >> beam.GroupByKey() | "Sort" >> beam.MapTuple(_sorted_scores))


class SkipKnownFailures(beam.PTransform):
    """{"jobs": (video_sha256, job), "dead_letters": the run's dead-letter rows} -> the jobs whose
    video no dead letter says fails every time (LASTING_KINDS); every job with `retry`."""

    def __init__(self, retry: bool):
        super().__init__()
        self._retry = retry

    def expand(self, inputs):
        known_bad = beam.pvalue.AsDict(inputs["dead_letters"] | "LastingFailures" >> beam.Filter(_is_lasting)
                                       | "FailedUrls" >> beam.Map(_url_and_kind))
        return inputs["jobs"] | "NotKnownBad" >> beam.Filter(_not_known_bad, known_bad, self._retry)


class FeaturizeVideos(beam.PTransform):
    """(video_sha256, job) -> {"actions": features files to commit, "boundaries": their rows without
    fc6, "deadletters": videos that could not be featurized}, for the videos not in `featurized`.

    A features file a crashed run left is reused; the others are decoded and run through C3D
    (RunInference with `handler`). Only the C3D step and the write ask for `accelerator`."""

    def __init__(self, dataset: str, segmenter: str, extractor: str, featurized: frozenset[str],
                 handler: KeyedModelHandler, accelerator: str | None = None):
        super().__init__()
        self._dataset, self._segmenter, self._extractor = dataset, segmenter, extractor
        self._featurized, self._handler, self._accelerator = featurized, handler, accelerator

    def expand(self, jobs):
        finished = (jobs | "NotFeaturized" >> beam.Filter(_not_in, self._featurized)
                    | "SpreadVideos" >> beam.Reshuffle()
                    | "FindFinished" >> beam.ParDo(_FindFinished(self._dataset, self._segmenter, self._extractor))
                    .with_outputs("todo", "boundaries", main="actions"))
        inference = RunInference(self._handler)
        write = beam.ParDo(_WriteFeatures(self._dataset, self._segmenter, self._extractor))
        if self._accelerator:
            # The write too: with the same hint it fuses with the model step, so only features leave it.
            inference = inference.with_resource_hints(accelerator=self._accelerator)
            write = write.with_resource_hints(accelerator=self._accelerator)
        computed = (finished.todo | "C3D" >> inference
                    | "WriteFeatures" >> write.with_outputs("boundaries", "deadletters", main="actions"))
        return {"actions": (finished.actions, computed.actions) | "AllFeaturesFiles" >> beam.Flatten(),
                "boundaries": (finished.boundaries, computed.boundaries) | "AllNewBoundaries" >> beam.Flatten(),
                "deadletters": computed.deadletters}


class LabelVideos(beam.PTransform):
    """{"jobs": (video_sha256, job), "boundaries": features rows without fc6, "scores_by_source":
    ScoresBySource's} -> {"labels": labels rows, "deadletters": segments without snippets}."""

    def __init__(self, split_rule: SplitRule, fps: float | None):
        super().__init__()
        self._split_rule, self._fps = split_rule, fps

    def expand(self, inputs):
        labelled = (
            {"jobs": inputs["jobs"], "boundaries": inputs["boundaries"] | "BoundsByVideo" >> beam.Map(_by_video)}
            | "JoinBoundaries" >> beam.CoGroupByKey()
            | "Label" >> beam.ParDo(_LabelVideo(self._split_rule, self._fps),
                                    beam.pvalue.AsDict(inputs["scores_by_source"]))
            .with_outputs("deadletters", main="labels"))
        return {"labels": labelled.labels, "deadletters": labelled.deadletters}


def extractor_id(opts: PipelineOptions) -> str:
    """The name the run's features go by: the weights' fingerprint and how snippets are sampled."""
    from featurizer.c3d.extractor import extractor_name  # lazy: Keras/TensorFlow only for this command
    from featurizer.dataset.storage import local_copy

    weights_uri = opts.view_as(FeatureOptions).c3d_weights
    with local_copy(weights_uri) if weights_uri else contextlib.nullcontext() as weights:
        return settings_of(opts).extractor_id(extractor_name(weights))


def feature_set_of(argv) -> tuple[str, str]:
    """(segmenter, feature extractor) of a featurize command line: the feature set it makes."""
    opts = PipelineOptions(list(argv))
    return settings_of(opts).segmenter, extractor_id(opts)


def split_rule(opts: FeaturizeOptions) -> SplitRule:
    ratios = parse_ratios(opts.split_ratios)
    if opts.split_by == "published":
        if not opts.test_videos:
            raise ValueError("--split-by published needs --test-videos FILE, the published test videos")
        return SplitRule(ratios, read_video_list(opts.test_videos))  # read once here, shipped in the job
    if opts.test_videos:
        raise ValueError("--test-videos goes with --split-by published")
    return SplitRule(ratios)


def c3d_handler(opts: FeaturizeOptions, dataset: str) -> KeyedModelHandler:
    features = opts.view_as(FeatureOptions)
    return KeyedModelHandler(C3DVideoHandler(features.c3d_weights, features.c3d_mean, settings_of(opts), dataset,
                                             videos_per_batch=opts.videos_per_batch,
                                             decode_processes=opts.decode_processes,
                                             model_copies=opts.c3d_model_copies))


def build_pipeline(p: beam.Pipeline, opts: FeaturizeOptions, dataset: str, run_id: str):
    rule = split_rule(opts)
    features = opts.view_as(FeatureOptions)
    if features.c3d_weights is None:
        LOG.warning("featurize: no --c3d-weights, so C3D's features are random (c3d-random), fit for tests "
                    "and demos only")
    segmenter, extractor = settings_of(opts).segmenter, extractor_id(opts)
    dead_spec = tables.DEADLETTERS[PIPELINE]
    snapshots = table_snapshots(dataset, (tables.GIFS, tables.ALIGNMENTS, tables.FEATURES, tables.LABELS, dead_spec))
    done = tables.features_files_of(snapshots[tables.FEATURES.name].files, segmenter, extractor)

    gifs = p | "ReadGifs" >> ReadTable(dataset, tables.GIFS, snapshots[tables.GIFS.name])
    alignments = p | "ReadAlignments" >> ReadTable(dataset, tables.ALIGNMENTS, snapshots[tables.ALIGNMENTS.name])
    earlier_dead = p | "ReadDeadLetters" >> ReadTable(dataset, dead_spec, snapshots[dead_spec.name])
    existing_boundaries = p | "ReadFeatureBounds" >> ReadTable(
        dataset, tables.FEATURES, Snapshot(tables.FEATURES.name, None, tuple(done.values())), columns=BOUNDARY_COLUMNS)

    jobs = ({"gifs": gifs, "alignments": alignments} | "VideoJobs" >> VideoJobs(min_alignment_confidence(opts))
            | "CountUntrustedGifs" >> beam.Map(_counted))
    unaligned, aligned = jobs | "ByAlignment" >> beam.Partition(_ByAlignment(), 2)
    decided = {"jobs": aligned, "dead_letters": earlier_dead} | "SkipKnownFailures" >> SkipKnownFailures(
        opts.retry_failed)
    featurized = decided | "FeaturizeVideos" >> FeaturizeVideos(
        dataset, segmenter, extractor, frozenset(done), c3d_handler(opts, dataset), opts.c3d_accelerator)
    boundaries = (existing_boundaries, featurized["boundaries"]) | "AllBoundaries" >> beam.Flatten()
    scores_by_source = gifs | "ScoresBySource" >> ScoresBySource()
    labelled = ({"jobs": jobs, "boundaries": boundaries, "scores_by_source": scores_by_source}
                | "LabelVideos" >> LabelVideos(rule, features.fps))

    dead = ((unaligned | "NoAlignedGifs" >> beam.Map(_no_aligned_gifs), labelled["deadletters"],
             featurized["deadletters"]) | "AllDeadLetters" >> beam.Flatten())
    # Every video decided again this run; those skipped as known bad keep their dead letters.
    settled = (unaligned, decided) | "Decided" >> beam.Flatten() | "DecidedUrls" >> beam.Map(_video_url)
    actions = (
        featurized["actions"],
        {"rows": labelled["labels"]} | "WriteLabels" >> WriteTable(
            dataset, tables.LABELS, snapshots[tables.LABELS.name], replace_scope=lambda r: r["segmenter"] == segmenter),
        {"dead": dead, "settled": settled} | "WriteDeadLetters" >> WriteDeadLetters(
            dataset, PIPELINE, snapshots[dead_spec.name]))
    actions | "AllActions" >> beam.Flatten() | "Commit" >> CommitTables(
        dataset, PIPELINE, run_id, snapshots, (tables.FEATURES, tables.LABELS, dead_spec))
    return labelled["labels"], dead


def check_options(opts: FeaturizeOptions, dataset: str) -> None:
    split_rule(opts)
    check_feature_options(opts.view_as(FeatureOptions))


STAGE = Stage(
    name=PIPELINE, command="gifrank featurize", options=FeaturizeOptions, build=build_pipeline, check=check_options,
    shared_options=(GroundTruthOptions, FeatureOptions),
    description="C3D features of every video with aligned GIFs that has none yet, and the labels of all their "
                "segments (a Beam pipeline) -> the features and labels tables.")
run = STAGE.run

if __name__ == "__main__":
    STAGE.main()
