"""A dataset's test videos as the evaluation reads them: each video's segments (bounds, fc6,
context) and its ground truth (the aligned GIFs), one video at a time.

    chosen = ChosenVideos.of("./data", split="test")          # or test_set={"youtube id", ...}
    segments = read_segments("./data", chosen, label_rows)    # one video's
    truth = video_truth(video_job(sha, gifs, alignments), segments.num_frames, segments.fps)

The same functions serve `gifrank evaluate` (a Beam pipeline) and in-process evaluation, so
both read the same numbers. A video's ground truth is every GIF the labels trust: its
confident alignment, else the published one (featurizer.labels.segment_labels.video_job).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from evaluation.protocol import VideoTruth
from featurizer.dataset import table_store, tables
from featurizer.dataset.storage import DatasetRoot
from featurizer.dataset.training_view import feature_sets
from featurizer.labels.segment_labels import span_frames

LABEL_COLUMNS = ["video_sha256", "segmenter", "video_id", "segment_index", "start_frame", "end_frame", "fps",
                 "video_num_frames", "context", "split"]


@dataclass(frozen=True)
class ChosenVideos:
    """Which videos an evaluation scores, and with which features."""

    segmenter: str
    feature_extractor: str
    features_files: dict  # video_sha256 -> its features file's path
    split: str | None = "test"
    test_set: frozenset[str] | None = None  # video ids; when given, these instead of a split
    labels_version: int | None = None

    @classmethod
    def of(cls, dataset: str, split: str | None = "test", test_set: Iterable[str] | None = None,
           segmenter: str | None = None, feature_extractor: str | None = None) -> "ChosenVideos":
        root = DatasetRoot.open(dataset)
        labels = table_store.snapshot(root, tables.LABELS)
        if labels.version is None:
            raise ValueError(f"{dataset}: no labels table yet; run gifrank featurize first")
        chosen_segmenter, extractor, files = feature_set_files(dataset, segmenter, feature_extractor)
        return cls(chosen_segmenter, extractor, files, None if test_set is not None else split,
                   frozenset(test_set) if test_set is not None else None, labels.version)

    def video_count(self, dataset: str) -> int:
        """How many videos the labels table has for this evaluation (a cheap read of three columns)."""
        table = table_store.read_table(dataset, tables.LABELS, columns=["segmenter", "video_id", "split"],
                                       version=self.labels_version)
        return len({r["video_id"] for r in table.to_pylist() if self.wants(r)})

    def wants(self, row: dict) -> bool:
        """A labels row of a video this evaluation scores."""
        if row["segmenter"] != self.segmenter:
            return False
        return row["video_id"] in self.test_set if self.test_set is not None else row["split"] == self.split


def feature_set_files(dataset: str, segmenter: str | None = None,
                      feature_extractor: str | None = None) -> tuple[str, str, dict[str, str]]:
    """(segmenter, extractor, {video_sha256: features file}) of the one feature set the names pick."""
    root = DatasetRoot.open(dataset)
    features = table_store.snapshot(root, tables.FEATURES)
    every = feature_sets(root, features).values()
    sets = [s for s in every if segmenter in (None, s[0]) and feature_extractor in (None, s[1])]
    if len(sets) != 1:
        named = ", ".join(sorted(f"{s} / {e}" for s, e in every)) or "none"
        raise ValueError(f"{dataset}: {'no' if not sets else 'more than one'} feature set matches; give "
                         f"--segmenter and --feature-extractor (the table has: {named})")
    [(chosen_segmenter, extractor)] = sets
    files = tables.features_files_of(features.files, chosen_segmenter, extractor)
    return chosen_segmenter, extractor, {sha: f.path for sha, f in files.items()}


@dataclass(frozen=True)
class VideoSegments:
    video_sha256: str
    video_id: str
    num_frames: int
    fps: float
    bounds: tuple[tuple[int, int], ...]  # [start_frame, end_frame) per segment with features
    features: np.ndarray  # float32 (n, 4096)
    context: np.ndarray  # float32 (n, c)

    def model_inputs(self, with_context: bool) -> dict:
        return {"features": self.features, **({"context": self.context} if with_context else {})}


class NoFeatures(ValueError):
    """A chosen video has labels but no features of the chosen set."""


def read_segments(dataset: str, chosen: ChosenVideos, label_rows: Sequence[dict]) -> VideoSegments:
    """One video's segments, from its labels rows and its features file (segments without
    snippets have no features and are left out, as in training)."""
    rows = sorted(label_rows, key=lambda r: r["segment_index"])
    sha = rows[0]["video_sha256"]
    path = chosen.features_files.get(sha)
    if path is None:
        raise NoFeatures(f"video {rows[0]['video_id']}: no features of {chosen.feature_extractor}")
    features = table_store.read_file(dataset, tables.FEATURES, path, ["segment_index", "snippets", "features"])
    where = {i: n for n, i in enumerate(features.column("segment_index").to_pylist())}
    snippets = features.column("snippets").to_numpy()
    kept = [r for r in rows if r["segment_index"] in where and snippets[where[r["segment_index"]]] > 0]
    matrix = tables.fixed_size_matrix(features.column("features").combine_chunks())
    return VideoSegments(
        video_sha256=sha, video_id=rows[0]["video_id"], num_frames=int(rows[0]["video_num_frames"]),
        fps=float(rows[0]["fps"]), bounds=tuple((int(r["start_frame"]), int(r["end_frame"])) for r in kept),
        features=matrix[[where[r["segment_index"]] for r in kept]].astype(np.float32),
        context=np.array([r["context"] for r in kept], np.float32).reshape(len(kept), -1))


def video_truth(job: dict, num_frames: int, fps: float) -> VideoTruth:
    """The ground truth of a video job (video_job): its trusted GIFs' frame ranges, in GIF order."""
    return VideoTruth(job["video_id"], num_frames, tuple(span_frames(span, fps) for span in job["spans"]))
