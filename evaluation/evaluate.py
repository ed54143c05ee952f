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
from collections.abc import Iterable

import pyarrow as pa

from evaluation.protocol import ALPHA, Excluded, VideoResult, bound_video, evaluate_video
from evaluation.summary import summarize
from evaluation.videos import ChosenVideos, NoFeatures, VideoSegments, read_segments, video_truth
from featurizer.dataset import table_store, tables
from featurizer.dataset.storage import DatasetRoot
from featurizer.labels.segment_labels import DEFAULT_MIN_ALIGNMENT_CONFIDENCE, video_job

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


def scored_video(segments: VideoSegments, scores, job: dict | None, alpha: float = ALPHA) -> VideoResult:
    """One video's result from its segments' scores and its video job (None: no GIF row); raises
    Excluded. Scores None: the approximate upper bound (the video's GIFs against each other)."""
    if job is None:
        raise Excluded(segments.video_id, "no aligned GIF")
    truth = video_truth(job, segments.num_frames, segments.fps)
    return bound_video(truth, alpha) if scores is None else evaluate_video(truth, segments.bounds, scores, alpha)


def evaluate_in_process(ranker, dataset: str, chosen: ChosenVideos,
                        min_confidence: float = DEFAULT_MIN_ALIGNMENT_CONFIDENCE,
                        alpha: float = ALPHA) -> tuple[list[VideoResult], list[tuple[str, str]]]:
    """(results, [(video_id, why excluded)]) of every chosen video, one video at a time; `ranker`
    None: the approximate upper bound."""
    root = DatasetRoot.open(dataset)
    labels: dict[str, list[dict]] = defaultdict(list)
    for row in table_store.read_rows(root, tables.LABELS):
        if chosen.wants(row):
            labels[row["video_sha256"]].append(row)
    gifs, alignments = defaultdict(list), defaultdict(list)
    for row in table_store.read_rows(root, tables.GIFS):
        if row["video_sha256"] in labels:
            gifs[row["video_sha256"]].append(row)
    for row in table_store.read_rows(root, tables.ALIGNMENTS):
        if row["video_sha256"] in labels:
            alignments[row["video_sha256"]].append(row)
    results, excluded = [], []
    for sha in sorted(labels):
        try:
            segments = read_segments(dataset, chosen, labels[sha])
            job = video_job(sha, gifs[sha], alignments[sha], min_confidence) if gifs[sha] else None
            # no segment: excluded as the pipeline excludes it, whatever scores (or the bound)
            scores = ([] if not segments.bounds else None if ranker is None
                      else ranker.score(**segments.model_inputs(ranker.context_dim > 0)))
            results.append(scored_video(segments, scores, job, alpha=alpha))
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
