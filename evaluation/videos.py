"""A dataset's test videos as the evaluation reads them: each video's segments (bounds, fc6,
context), one video at a time.

    chosen = ChosenVideos.of("./data", split="test")          # or test_set={"youtube id", ...}
    segments = read_segments("./data", chosen, label_rows)    # one video's

The same functions serve `gifrank evaluate` (a Beam pipeline) and in-process evaluation, so
both read the same numbers. A video's ground truth comes from its video job
(featurizer.labels.video_jobs; evaluation.evaluate.ground_truth).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from featurizer.dataset import table_store, tables
from featurizer.dataset.feature_sets import choose_feature_set, read_segment_features
from featurizer.dataset.storage import DatasetRoot

LABEL_COLUMNS = ["video_sha256", "segmenter", "video_id", "segment_index", "start_frame", "end_frame", "fps",
                 "video_num_frames", "context", "split"]


@dataclass(frozen=True)
class ChosenVideos:
    """Which videos an evaluation scores, and with which features."""

    segmenter: str
    feature_extractor: str
    features_files: Mapping[str, str]  # video_sha256 -> its features file's path
    split: str | None = "test"
    test_set: frozenset[str] | None = None  # video ids; when given, these instead of a split
    labels_version: int | None = None

    @classmethod
    def of(cls, dataset: str, split: str | None = "test", test_set: Iterable[str] | None = None,
           segmenter: str | None = None, feature_extractor: str | None = None) -> ChosenVideos:
        """The test videos (`split`'s, or `test_set`'s) of the one feature set the names pick
        (feature_sets.choose_feature_set, whose FeatureSetError says why none or several)."""
        root = DatasetRoot.open(dataset)
        labels = table_store.snapshot(root, tables.LABELS)
        if labels.version is None:
            raise ValueError(f"{dataset}: no labels table yet; run gifrank featurize first")
        chosen = choose_feature_set(root, segmenter, feature_extractor)
        return cls(chosen.segmenter, chosen.feature_extractor, chosen.files, None if test_set is not None else split,
                   frozenset(test_set) if test_set is not None else None, labels.version)

    def video_count(self, dataset: str) -> int:
        """How many videos the labels table has for this evaluation (a cheap read of three columns)."""
        table = table_store.read_table(dataset, tables.LABELS, columns=["segmenter", "video_id", "split"],
                                       version=self.labels_version)
        return len({r["video_id"] for r in table.to_pylist() if self.wants(r)})

    def wants(self, row: Mapping[str, Any]) -> bool:
        """A labels row of a video this evaluation scores."""
        if row["segmenter"] != self.segmenter:
            return False
        return row["video_id"] in self.test_set if self.test_set is not None else row["split"] == self.split


@dataclass(frozen=True)
class VideoSegments:
    video_sha256: str
    video_id: str
    num_frames: int
    fps: float
    bounds: tuple[tuple[int, int], ...]  # [start_frame, end_frame) per segment with features
    features: np.ndarray  # float32 (n, 4096)
    context: np.ndarray  # float32 (n, c)

    def model_inputs(self, with_context: bool) -> dict[str, np.ndarray]:
        return {"features": self.features, **({"context": self.context} if with_context else {})}


class NoFeatures(ValueError):
    """A chosen video has labels but no features of the chosen set."""


def read_segments(dataset: str, chosen: ChosenVideos, label_rows: Sequence[Mapping[str, Any]]) -> VideoSegments:
    """One video's segments, from its labels rows and its features file (segments without
    snippets have no features and are left out, as in training)."""
    rows = sorted(label_rows, key=lambda r: r["segment_index"])
    sha = rows[0]["video_sha256"]
    path = chosen.features_files.get(sha)
    if path is None:
        raise NoFeatures(f"video {rows[0]['video_id']}: no features of {chosen.feature_extractor}")
    stored = read_segment_features(dataset, path, bounds=["segment_index"])  # the labels give the rest
    where = stored.index_of()
    kept = [r for r in rows if r["segment_index"] in where]
    return VideoSegments(
        video_sha256=sha, video_id=rows[0]["video_id"], num_frames=int(rows[0]["video_num_frames"]),
        fps=float(rows[0]["fps"]), bounds=tuple((int(r["start_frame"]), int(r["end_frame"])) for r in kept),
        features=stored.features[[where[r["segment_index"]] for r in kept]].astype(np.float32),
        context=np.array([r["context"] for r in kept], np.float32).reshape(len(kept), -1))

