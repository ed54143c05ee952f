"""Evaluating a ranker on a dataset's test videos, in this process (`gifrank evaluate` does the
same as a Beam pipeline, through the same functions), and writing a run's outputs:

    OUT/per_video.parquet   video_id, nmsd, average_precision, frames, gifs, segments
    OUT/metrics.json        mean nMSD and mAP with intervals over videos, counts, exclusions

    results, excluded = evaluate_in_process(Ranker("JOB/model"), "./data", ChosenVideos.of("./data"))
    bound, _ = evaluate_in_process(None, "./data", ChosenVideos.of("./data"))  # the approximate upper bound
    metrics = write_outputs("eval/", results, excluded, {"model": "JOB/model"})
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
import pyarrow as pa

from evaluation.protocol import ALPHA, Excluded, VideoResult, VideoTruth, bound_video, evaluate_video
from evaluation.summary import summarize
from evaluation.videos import ChosenVideos, NoFeatures, VideoSegments, read_segments
from featurizer.dataset import table_store, tables
from featurizer.dataset.storage import DatasetRoot
from featurizer.labels.video_jobs import DEFAULT_MIN_ALIGNMENT_CONFIDENCE, VideoJob, video_jobs

PER_VIDEO_SCHEMA = pa.schema([
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("nmsd", pa.float64(), nullable=False),
    pa.field("average_precision", pa.float64(), nullable=False),
    pa.field("frames", pa.int64(), nullable=False),
    pa.field("gifs", pa.int64(), nullable=False),
    pa.field("segments", pa.int64(), nullable=False),
    pa.field("segment_bounds", pa.list_(pa.list_(pa.int64(), 2)), nullable=False),  # [start_frame, end_frame)
    pa.field("segment_scores", pa.list_(pa.float64()), nullable=False),
])


class SegmentScorer(Protocol):
    """What scores a video's segments: trainer.export.Ranker, evaluation.baselines.RandomScorer."""

    context_dim: int  # 0: scores features alone

    def score(self, features: np.ndarray, context: np.ndarray | None = None) -> np.ndarray: ...


def ground_truth(job: VideoJob, num_frames: int, fps: float) -> VideoTruth:
    """The ground truth of a video job: its trusted GIFs' frame ranges, in GIF order."""
    return VideoTruth(job.video_id, num_frames, tuple(span.frames(fps) for span in job.spans))


def scored_video(segments: VideoSegments, scores: Sequence[float] | np.ndarray | None, job: VideoJob | None,
                 alpha: float = ALPHA) -> VideoResult:
    """One video's result from its segments' scores and its video job (None: no GIF row); raises
    Excluded. Scores None: the approximate upper bound (the video's GIFs against each other)."""
    if job is None:
        raise Excluded(segments.video_id, "no aligned GIF")
    truth = ground_truth(job, segments.num_frames, segments.fps)
    return bound_video(truth, alpha) if scores is None else evaluate_video(truth, segments.bounds, scores, alpha)


def segment_scores(ranker: SegmentScorer | None, segments: VideoSegments) -> Sequence[float] | np.ndarray | None:
    """The ranker's score of each segment; None (the upper bound) without a ranker. No segment:
    no scores, whatever the ranker, so the video is excluded as the pipeline excludes it."""
    if not segments.bounds:
        return []
    if ranker is None:
        return None
    return ranker.score(**segments.model_inputs(ranker.context_dim > 0))


def evaluate_in_process(ranker: SegmentScorer | None, dataset: str, chosen: ChosenVideos,
                        min_confidence: float = DEFAULT_MIN_ALIGNMENT_CONFIDENCE,
                        alpha: float = ALPHA) -> tuple[list[VideoResult], list[tuple[str, str]]]:
    """(results, [(video_id, why excluded)]) of every chosen video, one video at a time; `ranker`
    None: the approximate upper bound."""
    root = DatasetRoot.open(dataset)
    labels: dict[str, list[dict]] = defaultdict(list)
    for row in table_store.read_rows(root, tables.LABELS):
        if chosen.wants(row):
            labels[row["video_sha256"]].append(row)
    jobs = {job.video_sha256: job for job in video_jobs(
        (r for r in table_store.read_rows(root, tables.GIFS) if r["video_sha256"] in labels),
        (r for r in table_store.read_rows(root, tables.ALIGNMENTS) if r["video_sha256"] in labels),
        min_confidence)}
    results: list[VideoResult] = []
    excluded: list[tuple[str, str]] = []
    for sha in sorted(labels):
        try:
            segments = read_segments(dataset, chosen, labels[sha])
            results.append(scored_video(segments, segment_scores(ranker, segments), jobs.get(sha), alpha=alpha))
        except Excluded as exc:
            excluded.append((exc.video_id, exc.reason))
        except NoFeatures:
            excluded.append((labels[sha][0]["video_id"], "no features"))
    return results, excluded


def per_video_table(results: Iterable[VideoResult]) -> pa.Table:
    rows = sorted((r.as_dict() for r in results), key=lambda r: r["video_id"])
    return pa.Table.from_pylist(rows, schema=PER_VIDEO_SCHEMA)


def write_outputs(out: str, results: list[VideoResult], excluded: list[tuple[str, str]], info: dict,
                  seed: int = 0) -> dict:
    """Writes OUT/per_video.parquet and OUT/metrics.json (local or gs://); returns the metrics."""
    import pyarrow.parquet as pq

    metrics = {**info, **summarize(results, excluded, seed)}
    where = DatasetRoot.open(out)
    where.make_parent_dir(where.join("metrics.json"))
    with where.fs.open_output_stream(where.join("per_video.parquet")) as sink:
        pq.write_table(per_video_table(results), sink)
    with where.fs.open_output_stream(where.join("metrics.json")) as sink:
        sink.write(json.dumps(metrics, indent=2, sort_keys=True).encode())
    return metrics
