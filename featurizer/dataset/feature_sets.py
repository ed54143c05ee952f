"""Feature sets: which (segmenter, feature extractor) pairs the features table holds, the one a
command reads, and one video's stored segments with their fc6.

    chosen = choose_feature_set("./data", segmenter=None, feature_extractor=None)   # the only set
    video = read_segment_features("./data", chosen.files[video_sha256])
    video.segments[i], video.features[i]     # segment i with features, and its float32 fc6 (4096,)

The trainer (through the training view), the evaluation and `gifrank predict-dataset` read
features through this module, so they agree on which set is read and on which segments have
features: those with at least one snippet (segments too short for a snippet at the chosen
--fps are stored with zeros, and left out everywhere).
"""
from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from featurizer.dataset import table_store
from featurizer.dataset.storage import DatasetRoot
from featurizer.dataset.tables import FEATURES, features_file_key, features_files_of, fixed_size_matrix

# The columns of a segment's bounds, as the features table stores them.
BOUND_COLUMNS = ("segment_index", "start_frame", "end_frame", "start_sec", "end_sec", "fps", "video_num_frames")


class FeatureSetError(table_store.TableError):
    """The features table holds no set the names pick, or several."""


class NoFeaturesYet(FeatureSetError):
    """The features table holds no feature set at all, and none was named."""


@dataclass(frozen=True)
class FeatureSet:
    """One set of features: how the videos were segmented and featurized, and each video's file."""

    segmenter: str
    feature_extractor: str
    files: Mapping[str, str]  # video_sha256 -> its features file (a path in the features table)


def held_feature_sets(root: DatasetRoot | str,
                      features: table_store.Snapshot | None = None) -> list[tuple[str, str]]:
    """(segmenter, feature_extractor) of each set the features table holds (at `features`, default:
    the latest), sorted. A file's name says its set's hash; one file's first row names the set."""
    root = DatasetRoot.of(root)
    features = features or table_store.snapshot(root, FEATURES)
    first: dict[str, str] = {}
    for f in features.files:
        key = features_file_key(f.path)
        if key and key[1] not in first:
            first[key[1]] = f.path
    sets = []
    for path in first.values():
        rows = table_store.read_file(root, FEATURES, path, ["segmenter", "feature_extractor"]).slice(0, 1).to_pylist()
        if rows:
            sets.append((rows[0]["segmenter"], rows[0]["feature_extractor"]))
    return sorted(sets)


def choose_feature_set(root: DatasetRoot | str, segmenter: str | None = None, feature_extractor: str | None = None,
                       features: table_store.Snapshot | None = None) -> FeatureSet:
    """The one set the features table holds, or the one `segmenter` and `feature_extractor` name
    (either may be left out while it leaves one set). Raises FeatureSetError when none or several
    match (NoFeaturesYet when the table holds none and none was named)."""
    root = DatasetRoot.of(root)
    features = features or table_store.snapshot(root, FEATURES)
    held = held_feature_sets(root, features)
    chosen = [s for s in held if segmenter in (None, s[0]) and feature_extractor in (None, s[1])]
    if not held and segmenter is None and feature_extractor is None:
        raise NoFeaturesYet(f"{root.uri}: the features table holds no features yet; run gifrank featurize first")
    if not chosen:
        raise FeatureSetError(f"{root.uri}: no features of segmenter {segmenter!r} and extractor "
                              f"{feature_extractor!r}; the table has {_named(held) or 'none'}")
    if len(chosen) > 1:
        raise FeatureSetError(f"{root.uri}: the features table holds several feature sets; choose one of "
                              f"{_named(chosen)}")
    [(chosen_segmenter, extractor)] = chosen
    files = features_files_of(features.files, chosen_segmenter, extractor)
    return FeatureSet(chosen_segmenter, extractor, {sha: f.path for sha, f in sorted(files.items())})


def _named(sets: Iterable[tuple[str, str]]) -> str:
    return "; ".join(f"--segmenter {shlex.quote(s)} --feature-extractor {shlex.quote(e)}" for s, e in sets)


@dataclass(frozen=True, eq=False)  # arrays: no == of their own
class SegmentFeatures:
    """One video's segments that have features, in its file's order, and their fc6."""

    bounds: pa.Table  # of each segment with features: segment_index and the other BOUND_COLUMNS read
    stored_features: np.ndarray  # float32 (rows of the file, 4096), read-only: the file's, as Arrow decoded it
    stored_rows: np.ndarray  # int64 (n,): segment i's row in stored_features

    @cached_property
    def segments(self) -> list[dict[str, Any]]:
        """Each segment's bounds as a dict."""
        return self.bounds.to_pylist()

    @cached_property
    def features(self) -> np.ndarray:
        """float32 (n, 4096), read-only: row i is segment i's (a copy only when some segment has none)."""
        if len(self.stored_rows) == len(self.stored_features):
            return self.stored_features
        kept = self.stored_features[self.stored_rows]
        kept.setflags(write=False)
        return kept

    def index_of(self) -> dict[int, int]:
        """segment_index -> its row in `features`."""
        return {i: n for n, i in enumerate(self.bounds.column("segment_index").to_pylist())}


def read_segment_features(root: DatasetRoot | str, path: str,
                          bounds: Sequence[str] = BOUND_COLUMNS) -> SegmentFeatures:
    """One features file (a video's, of one set): its segments with snippets, their `bounds`
    (segment_index always; fewer columns read faster) and their fc6."""
    columns = ["segment_index", *(c for c in bounds if c != "segment_index")]
    table = table_store.read_file(root, FEATURES, path, [*columns, "snippets", "features"])
    rows = np.flatnonzero(table.column("snippets").to_numpy() > 0)
    stored = fixed_size_matrix(table.column("features").combine_chunks())
    stored.setflags(write=False)
    return SegmentFeatures(table.select(columns).take(pa.array(rows)), stored, rows)
