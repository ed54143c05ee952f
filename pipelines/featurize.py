"""The featurize pipeline: videos with aligned GIFs -> labelled segments with C3D features.

    gifrank featurize --dataset ./data [--c3d-weights c3d.pkl --c3d-mean mean.npy] [--fps 8] [--no-mirror]
    ... --runner DataflowRunner --c3d-accelerator "type:nvidia-l4;count:1;install-nvidia-driver"

Per video, decode once: shots -> segments -> labels (from the alignments table) and
C3D's snippets. Only the C3D step (RunInference, batched) asks for an accelerator;
decoding and everything else run on CPU workers. Writes the segments table; a video
that cannot be read, or whose GIFs all failed to align, goes to the dead letters.
"""
from __future__ import annotations

import argparse
import hashlib
import warnings

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from featurizer import popularity, tables
from pipelines.c3d_inference import C3DSnippetHandler
from pipelines.failures import error_kind, rows_for, subject
from pipelines.runs import parse_stage_options, run_and_commit, stage_arg_parser
from pipelines.table_io import ReadTable, WriteRunResults
from pipelines.workers import Progress

PIPELINE = "featurize"
SPLITS = ("train", "val", "test")


class FeaturizeOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--max-segment-sec", dest="max_segment_sec", type=float, default=6.0,
                            help="longest segment, a typical GIF's length (default: %(default)s)")
        parser.add_argument("--c3d-weights", dest="c3d_weights",
                            help="C3D Sports-1M weights: the Video2GIF release's Lasagne pickle or the Keras "
                                 "HDF5 port; without them C3D runs with random weights (c3d-random)")
        parser.add_argument("--c3d-mean", dest="c3d_mean", help="the snippet mean (.npy) that goes with the weights")
        parser.add_argument("--fps", type=float, default=None,
                            help="resample frames to this rate before C3D (fewer snippets; default: native)")
        parser.add_argument("--snippet-stride", dest="snippet_stride", type=int, default=8,
                            help="frames between snippet starts; 8 overlaps snippets by half as Video2GIF "
                                 "does, 16 halves the C3D work (default: %(default)s)")
        parser.add_argument("--no-mirror", dest="mirror", action="store_false",
                            help="skip the mirrored copy of each snippet (half the C3D work)")
        parser.add_argument("--batch-size", dest="batch_size", type=int, default=16,
                            help="snippets per C3D call (default: %(default)s)")
        parser.add_argument("--c3d-accelerator", dest="c3d_accelerator",
                            help="Beam resource hint for the C3D step only, e.g. "
                                 "'type:nvidia-l4;count:1;install-nvidia-driver' on Dataflow")
        parser.add_argument("--split-ratios", dest="split_ratios", default="0.8,0.1,0.1",
                            help="train,val,test shares, assigned by a hash of video_id (default: %(default)s)")


def parse_ratios(text: str) -> tuple[float, float, float]:
    try:
        ratios = tuple(float(x) for x in text.split(","))
    except ValueError as exc:
        raise ValueError(f"--split-ratios must be three numbers, got {text!r}") from exc
    if len(ratios) != 3 or min(ratios) < 0 or abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(f"--split-ratios must be three non-negative shares summing to 1, got {text!r}")
    return ratios


def split_of(video_id: str, ratios: tuple[float, float, float]) -> str:
    """Deterministic: the same video is always in the same split, whatever else is in the dataset."""
    u = int.from_bytes(hashlib.sha1(video_id.encode()).digest()[:8], "big") / 2**64
    return SPLITS[0] if u < ratios[0] else SPLITS[1] if u < ratios[0] + ratios[1] else SPLITS[2]


def video_job(keyed) -> dict:
    """A video's GIF rows and alignments joined: what featurizing it needs."""
    video_sha256, grouped = keyed
    gifs = sorted(grouped["gifs"], key=lambda r: r["gif_id"])
    by_gif = {r["gif_id"]: r for r in gifs}
    aligned = sorted((a for a in grouped["alignments"] if a["gif_id"] in by_gif), key=lambda a: a["gif_id"])
    return {
        "video_sha256": video_sha256, "video_id": gifs[0]["video_id"], "video_url": gifs[0]["video_url"],
        "category": next((r["category"] for r in gifs if r.get("category")), None),
        "tags": sorted({t for r in gifs for t in (r.get("tags") or [])}),
        "spans": [(a["gif_id"], a["start_frame"], a["end_frame"], popularity.raw_score(by_gif[a["gif_id"]]))
                  for a in aligned],
    }


class NoAlignedGifs(ValueError):
    kind = "no_aligned_gifs"


class NoSegments(ValueError):
    kind = "no_segments"


class FeaturizeVideo(beam.DoFn):
    """job -> segment rows (main), snippets ((video_id, segment, snippet), frames) and dead-letter rows.

    Snippets are emitted as they are read back, so the fused C3D step downstream
    keeps memory at a batch of snippets. A failing video becomes a dead-letter row here
    rather than through with_exception_handling, which would keep only the error's
    class name, not its kind (unreadable, no_frames, ...).
    """

    def __init__(self, dataset: str, opts: FeaturizeOptions, ratios):
        self._dataset = dataset
        self._max_segment_sec = opts.max_segment_sec
        self._fps = opts.fps
        self._stride = opts.snippet_stride
        self._ratios = ratios
        self._labels = {label: Metrics.counter(f"gifrank.{PIPELINE}", f"segments_{name}")
                        for label, name in ((1, "positive"), (0, "negative"), (-1, "ignored"))}
        self._snippets = Metrics.counter(f"gifrank.{PIPELINE}", "snippets")
        self._videos = Metrics.counter(f"gifrank.{PIPELINE}", "videos_segmented")
        self._failed = Metrics.counter(f"gifrank.{PIPELINE}", "videos_failed")

    def setup(self):
        from featurizer.blobs import BlobStore

        self._blobs = BlobStore(self._dataset)

    def process(self, job: dict, sorted_scores):
        try:
            yield from self._featurize(job, sorted_scores)
        except Exception as exc:  # noqa: BLE001 - the video's dead letter, with the error's own kind
            self._failed.inc()
            Progress.record("featurize_videos", 0, 1)
            yield beam.pvalue.TaggedOutput("deadletters", rows_for(
                PIPELINE, "video", [subject(url=job["video_url"])], error_kind(exc), str(exc))[0])

    def _featurize(self, job: dict, sorted_scores):
        from featurizer.context import context_vector
        from featurizer.segments import GifSpan
        from featurizer.video_segments import segment_video

        if not job["spans"]:
            raise NoAlignedGifs(f"video {job['video_id']}: none of its GIFs is aligned")
        spans = [GifSpan(g, s, e, popularity.normalised(raw, sorted_scores) or 0.0) for g, s, e, raw in job["spans"]]
        with self._blobs.local_path(job["video_sha256"]) as path:
            video = segment_video(path, spans, max_segment_sec=self._max_segment_sec, c3d_fps=self._fps)
        if not video.segments:
            video.frames.close()
            raise NoSegments(f"video {job['video_id']}: no shot of at least 16 frames "
                             f"({video.shots.num_frames} frames in all)")
        self._videos.inc()
        Progress.record("featurize_videos", 1, 0)
        with video.frames:
            fps, duration = video.shots.fps, video.shots.num_frames / video.shots.fps
            for labelled in video.segments:
                segment = labelled.segment
                snippets = list(video.frames.snippets(segment, self._stride))
                if not snippets:
                    yield beam.pvalue.TaggedOutput("deadletters", rows_for(
                        PIPELINE, "segment", [subject(url=f"{job['video_url']}#segment={segment.index}")],
                        "no_snippets", f"segment {segment.index} keeps under 16 frames at --fps {self._fps}")[0])
                    continue
                self._labels[labelled.label].inc()
                self._snippets.inc(len(snippets))
                yield {
                    "video_id": job["video_id"], "segment_index": segment.index,
                    "start_frame": segment.start_frame, "end_frame": segment.end_frame,
                    "start_sec": segment.start_frame / fps, "end_sec": segment.end_frame / fps,
                    "fps": fps, "video_num_frames": video.shots.num_frames, "label": labelled.label,
                    "gif_ids": list(labelled.gif_ids),
                    "popularity": labelled.popularity if labelled.label == 1 else None,
                    "context": context_vector(job["category"], job["tags"], segment.start_frame / fps, duration,
                                              segment.index).tolist(),
                    "split": split_of(job["video_id"], self._ratios),
                }
                for number, frames in enumerate(snippets):
                    yield beam.pvalue.TaggedOutput("snippets", ((job["video_id"], segment.index, number), frames))


def _segment_feature(keyed):
    """Mean fc6 over a segment's snippets, summed in snippet order so reruns give the same bits."""
    segment_key, numbered = keyed
    features = [f for _n, f in sorted(numbered, key=lambda item: item[0])]
    return segment_key, np.mean(np.stack(features), axis=0, dtype=np.float64).astype(np.float32)


def _with_features(keyed, extractor: str):
    _key, grouped = keyed
    rows, features = list(grouped["rows"]), list(grouped["features"])
    # No features: its video failed part-way, and the video's dead letter says why.
    return [tables.SEGMENTS.conform({**row, "features": features[0].tolist(), "feature_extractor": extractor})
            for row in rows if features]


def _not_refeaturized(keyed):
    _video_id, grouped = keyed
    return [] if any(True for _ in grouped["processed"]) else list(grouped["old"])


def build_pipeline(p: beam.Pipeline, opts: FeaturizeOptions, dataset: str, run_id: str, num_shards: int = 1):
    ratios = parse_ratios(opts.split_ratios)
    if opts.c3d_weights is None:
        warnings.warn("featurize: no --c3d-weights, C3D features are random (c3d-random)", UserWarning)
    from featurizer.c3d import extractor_name  # lazy: Keras/TensorFlow only for this command

    extractor = extractor_name(opts.c3d_weights)
    gifs = p | "ReadGifs" >> ReadTable(dataset, tables.GIFS)
    alignments = p | "ReadAlignments" >> ReadTable(dataset, tables.ALIGNMENTS)
    existing_segments = p | "ReadSegments" >> ReadTable(dataset, tables.SEGMENTS)

    sorted_scores = beam.pvalue.AsSingleton(
        gifs | "RawPopularity" >> beam.Map(popularity.raw_score) | "Scored" >> beam.Filter(lambda s: s is not None)
        | "AllScores" >> beam.combiners.ToList() | "Sort" >> beam.Map(sorted))
    jobs = (
        {"gifs": gifs | "GifsByVideo" >> beam.Map(lambda r: (r["video_sha256"], r)),
         "alignments": alignments | "AlignmentsByVideo" >> beam.Map(lambda a: (a["video_sha256"], a))}
        | "JoinByVideo" >> beam.CoGroupByKey()
        | "WithGifs" >> beam.Filter(lambda keyed: any(True for _ in keyed[1]["gifs"]))
        | "VideoJobs" >> beam.Map(video_job)
        | "SpreadVideos" >> beam.Reshuffle())
    outputs = jobs | "Featurize" >> beam.ParDo(FeaturizeVideo(dataset, opts, ratios), sorted_scores).with_outputs(
        "snippets", "deadletters", main="rows")
    handler = KeyedModelHandler(C3DSnippetHandler(opts.c3d_weights, opts.c3d_mean, mirror=opts.mirror,
                                                  batch_size=opts.batch_size))
    inference = RunInference(handler)
    if opts.c3d_accelerator:
        inference = inference.with_resource_hints(accelerator=opts.c3d_accelerator)
    features = (
        outputs.snippets
        | "C3D" >> inference
        | "BySegment" >> beam.Map(lambda kv: ((kv[0][0], kv[0][1]), (kv[0][2], kv[1].inference)))
        | "GroupSnippets" >> beam.GroupByKey()
        | "MeanFc6" >> beam.Map(_segment_feature))
    rows = (
        {"rows": outputs.rows | "KeyRows" >> beam.Map(lambda r: ((r["video_id"], r["segment_index"]), r)),
         "features": features}
        | "JoinFeatures" >> beam.CoGroupByKey()
        | "SegmentRows" >> beam.FlatMap(_with_features, extractor))
    dead = outputs.deadletters

    processed = jobs | "ProcessedVideos" >> beam.Map(lambda job: (job["video_id"], None))
    kept_segments = (
        {"old": existing_segments | "OldByVideo" >> beam.Map(lambda r: (r["video_id"], r)), "processed": processed}
        | "JoinProcessed" >> beam.CoGroupByKey() | "NotRefeaturized" >> beam.FlatMap(_not_refeaturized))
    settled = jobs | "SettledVideos" >> beam.Map(lambda job: {"video_url": job["video_url"]})
    {"rows": rows, "existing": kept_segments, "dead": dead, "settled": settled} | "WriteResults" >> WriteRunResults(
        PIPELINE, dataset, tables.SEGMENTS, run_id, num_shards, settled_fields=("video_url", "record_key"))
    return rows, dead


def build_arg_parser() -> argparse.ArgumentParser:
    return stage_arg_parser(
        "gifrank featurize",
        "Shots, segments, labels and C3D features for every video with aligned GIFs (a Beam pipeline) "
        "-> the segments table.", FeaturizeOptions)


def run(argv=None, save_main_session=True) -> dict[str, int]:
    options, opts, shared = parse_stage_options(argv, build_arg_parser(), FeaturizeOptions, save_main_session)
    parse_ratios(opts.split_ratios)
    if opts.c3d_weights and not opts.c3d_mean:
        raise ValueError("--c3d-weights needs --c3d-mean, the snippet mean the weights were trained with")
    _run_id, counters = run_and_commit(
        options, lambda p, run_id: build_pipeline(p, opts, shared.dataset, run_id, shared.num_shards),
        shared.dataset,
        (tables.SEGMENTS, tables.DEADLETTER), PIPELINE)
    return counters


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run()
