"""The training view: labelled segments joined with their features, in the segments schema.

    for batch in training_batches("./data"):          # pyarrow RecordBatches, tables.SEGMENTS
        ...

Streamed: one labels file at a time, and the features files of a few of its videos at a
time, so memory stays at a few videos' features whatever the dataset's size. Rows come
by labels bucket, then video: always in the same order for the same tables. Segments
without features (no snippet at the chosen --fps) are left out. The features come from
one feature set (feature_sets.choose_feature_set): the only one in the table, or the one asked for.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurizer.dataset import table_store
from featurizer.dataset.feature_sets import NoFeaturesYet, choose_feature_set, read_segment_features
from featurizer.dataset.storage import DatasetRoot
from featurizer.dataset.tables import C3D_FEATURES, FEATURES, LABELS, SEGMENTS

VIDEOS_PER_READ = 16
_LABEL_COLUMNS = ["video_id", "segment_index", "start_frame", "end_frame", "start_sec", "end_sec", "fps",
                  "video_num_frames", "label", "gif_ids", "popularity", "popularity_raw", "popularity_source",
                  "context", "context_tags_from", "split"]


def training_batches(root: DatasetRoot | str, feature_extractor: str | None = None, segmenter: str | None = None,
                     labels_version: int | None = None,
                     features_version: int | None = None) -> Iterator[pa.RecordBatch]:
    """The view's rows, of the one feature set the table holds, or the one `feature_extractor`
    and `segmenter` name (either may be left out while it leaves one set). No features yet and
    no set named: no rows."""
    root = DatasetRoot.of(root)
    features = table_store.snapshot(root, FEATURES, features_version)
    labels = table_store.snapshot(root, LABELS, labels_version)
    try:
        chosen = choose_feature_set(root, segmenter, feature_extractor, features)
    except NoFeaturesYet:
        return
    for labels_file in labels.files:
        table = table_store.read_file(root, LABELS, labels_file.path)
        table = table.filter(pc.equal(table.column("segmenter"), chosen.segmenter))
        videos = sorted(set(table.column("video_sha256").to_pylist()) & set(chosen.files))
        for start in range(0, len(videos), VIDEOS_PER_READ):
            chunk = videos[start:start + VIDEOS_PER_READ]
            batch = _joined(root, table, {v: chosen.files[v] for v in chunk}, chosen.feature_extractor)
            if batch.num_rows:
                yield from batch.to_batches()


def _joined(root: DatasetRoot, labels: pa.Table, files: dict[str, str], extractor: str) -> pa.Table:
    """The labels rows of some videos joined with their features (`files`: video_sha256 -> features file)."""
    part = labels.filter(pc.is_in(labels.column("video_sha256"), pa.array(list(files))))
    where: dict[tuple[str, int], int] = {}  # (video, segment_index) -> its row in the videos' features, joined
    chunks, offset = [], 0
    for video, path in files.items():
        read = read_segment_features(root, path, bounds=["segment_index"])
        where.update({(video, i): offset + row for i, row in zip(read.bounds.column("segment_index").to_pylist(),
                                                                   read.stored_rows.tolist())})
        # Arrow arrays over the files' decoded memory: the take below is the one copy of the features.
        chunks.append(pa.FixedSizeListArray.from_arrays(pa.array(read.stored_features.reshape(-1)), C3D_FEATURES))
        offset += len(read.stored_features)
    index = np.array([where.get(k, -1) for k in zip(part.column("video_sha256").to_pylist(),
                                                     part.column("segment_index").to_pylist())], np.int64)
    keep = index >= 0
    part, index = part.filter(pa.array(keep)), index[keep]
    columns = {name: part.column(name) for name in _LABEL_COLUMNS}
    columns["features"] = pa.chunked_array(chunks, SEGMENTS.schema.field("features").type).take(pa.array(index))
    columns["feature_extractor"] = pa.array([extractor] * part.num_rows, pa.string())
    joined = pa.table([columns[name] for name in SEGMENTS.schema.names], schema=SEGMENTS.schema)
    return joined.sort_by([("video_id", "ascending"), ("segment_index", "ascending")])
