"""The training view: labelled segments joined with their features, in the segments schema.

    for batch in training_batches("./data"):          # pyarrow RecordBatches, tables.SEGMENTS
        ...

Streamed: one labels file at a time, and the features files of a few of its videos at a
time, so memory stays at a few videos' features whatever the dataset's size. Rows come
by labels bucket, then video: always in the same order for the same tables. Segments
without features (no snippet at the chosen --fps) are left out. The features come from
one feature extractor: the only one in the table, or the one asked for.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurizer.dataset import table_store
from featurizer.dataset.storage import DatasetRoot
from featurizer.dataset.tables import FEATURES, LABELS, SEGMENTS, features_file_key, features_files_of

VIDEOS_PER_READ = 16
_LABEL_COLUMNS = ["video_id", "segment_index", "start_frame", "end_frame", "start_sec", "end_sec", "fps",
                  "video_num_frames", "label", "gif_ids", "popularity", "popularity_raw", "popularity_source", "context",
                 "context_tags_from", "split"]


def feature_sets(root: DatasetRoot | str, features: table_store.Snapshot | None = None) -> dict[str, tuple[str, str]]:
    """Key hash -> (segmenter, feature_extractor) of each set of features in the table."""
    root = root if isinstance(root, DatasetRoot) else DatasetRoot.open(root)
    features = features or table_store.snapshot(root, FEATURES)
    first = {}
    for f in features.files:
        key = features_file_key(f.path)
        if key and key[1] not in first:
            first[key[1]] = f.path
    sets = {}
    for key, path in first.items():
        row = table_store.read_file(root, FEATURES, path, ["segmenter", "feature_extractor"]).slice(0, 1).to_pylist()
        if row:
            sets[key] = (row[0]["segmenter"], row[0]["feature_extractor"])
    return sets


def training_batches(root: DatasetRoot | str, feature_extractor: str | None = None, segmenter: str | None = None,
                     labels_version: int | None = None, features_version: int | None = None) -> Iterator[pa.RecordBatch]:
    """The view's rows, of the one feature set the table holds, or the one `feature_extractor`
    and `segmenter` name (either may be left out while it leaves one set)."""
    root = root if isinstance(root, DatasetRoot) else DatasetRoot.open(root)
    features = table_store.snapshot(root, FEATURES, features_version)
    labels = table_store.snapshot(root, LABELS, labels_version)
    sets = feature_sets(root, features)
    chosen = {k: v for k, v in sets.items() if segmenter in (None, v[0]) and feature_extractor in (None, v[1])}
    if not chosen:
        if feature_extractor is None and segmenter is None:
            return
        raise table_store.TableError(f"no features of segmenter {segmenter!r} and extractor {feature_extractor!r}; "
                                     f"the table has {_named(sets.values())}")
    if len(chosen) > 1:
        raise table_store.TableError(f"the features table holds several feature sets; choose one of "
                                     f"{_named(chosen.values())}")
    [(segmenter, extractor)] = chosen.values()
    files = {sha: f.path for sha, f in features_files_of(features.files, segmenter, extractor).items()}
    for labels_file in labels.files:
        table = table_store.read_file(root, LABELS, labels_file.path)
        table = table.filter(pc.equal(table.column("segmenter"), segmenter))
        videos = sorted(set(table.column("video_sha256").to_pylist()) & set(files))
        for start in range(0, len(videos), VIDEOS_PER_READ):
            chunk = videos[start:start + VIDEOS_PER_READ]
            batch = _joined(root, table, chunk, [files[v] for v in chunk], extractor)
            if batch.num_rows:
                yield from batch.to_batches()


def _named(sets) -> list[str]:
    return sorted(f"--segmenter {segmenter} --feature-extractor {extractor}" for segmenter, extractor in sets)


def _joined(root, labels: pa.Table, videos: list[str], paths: list[str], extractor: str) -> pa.Table:
    part = labels.filter(pc.is_in(labels.column("video_sha256"), pa.array(videos)))
    features = pa.concat_tables([table_store.read_file(root, FEATURES, p, ["video_sha256", "segment_index",
                                                                            "snippets", "features"])
                                 for p in paths])
    where = {(v, i): n for n, (v, i) in enumerate(zip(features.column("video_sha256").to_pylist(),
                                                     features.column("segment_index").to_pylist()))}
    snippets = features.column("snippets").to_numpy()
    index = np.array([where.get(k, -1) for k in zip(part.column("video_sha256").to_pylist(),
                                                     part.column("segment_index").to_pylist())], np.int64)
    keep = (index >= 0) & (snippets[np.maximum(index, 0)] > 0)
    part, index = part.filter(pa.array(keep)), index[keep]
    columns = {name: part.column(name) for name in _LABEL_COLUMNS}
    columns["features"] = features.column("features").take(pa.array(index))
    columns["feature_extractor"] = pa.array([extractor] * part.num_rows, pa.string())
    joined = pa.table([columns[name] for name in SEGMENTS.schema.names], schema=SEGMENTS.schema)
    return joined.sort_by([("video_id", "ascending"), ("segment_index", "ascending")])
