"""GIFs and alignments joined into per-video jobs, the step featurize and evaluate share.

    jobs = {"gifs": gif_rows, "alignments": alignment_rows} | "VideoJobs" >> VideoJobs(min_confidence)
    # -> (video_sha256, featurizer.labels.video_jobs.VideoJob), one per video with a GIF row

Each job is featurizer.labels.video_jobs.video_job of the video's rows, so the in-process
evaluation's video_jobs(gif_rows, alignment_rows) gives the same jobs.
"""
from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam

from featurizer.labels.video_jobs import DEFAULT_MIN_ALIGNMENT_CONFIDENCE, VideoJob, video_job


def _by_video(row: dict) -> tuple[str, dict]:
    return row["video_sha256"], row


def _job(keyed: tuple[str, dict], min_confidence: float) -> Iterator[tuple[str, VideoJob]]:
    video_sha256, grouped = keyed
    gifs = list(grouped["gifs"])
    if gifs:  # alignments whose GIF rows are gone make no job
        yield video_sha256, video_job(video_sha256, gifs, grouped["alignments"], min_confidence)


class VideoJobs(beam.PTransform):
    """{"gifs": gifs rows, "alignments": alignments rows} -> (video_sha256, VideoJob) of every
    video with at least one GIF row."""

    def __init__(self, min_confidence: float = DEFAULT_MIN_ALIGNMENT_CONFIDENCE):
        super().__init__()
        self._min_confidence = min_confidence

    def expand(self, rows):
        return ({"gifs": rows["gifs"] | "GifsByVideo" >> beam.Map(_by_video),
                 "alignments": rows["alignments"] | "AlignmentsByVideo" >> beam.Map(_by_video)}
                | "JoinByVideo" >> beam.CoGroupByKey()
                | "Jobs" >> beam.FlatMap(_job, self._min_confidence))
