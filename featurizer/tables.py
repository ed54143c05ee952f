"""Table schemas, defined once, and their Parquet shards under ROOT/tables/<table>/.

A table is a set of shards `part-NNNNN-of-MMMMM.parquet`; a row's shard is a stable
hash of its key and rows are sorted by key inside a shard, so the same rows always
give the same files. Writers stage shards under `_staging/<run_id>/` and
`commit_staged` swaps them in once the whole run has succeeded.
"""
from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from featurizer.storage import DatasetRoot

TABLES = "tables"
STAGING = "_staging"
KEY_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: pa.Schema
    key: tuple[str, ...]

    def key_of(self, row: Mapping[str, Any]) -> str:
        return KEY_SEPARATOR.join("" if row.get(k) is None else str(row[k]) for k in self.key)

    def conform(self, row: Mapping[str, Any]) -> dict:
        """The row with exactly the schema's columns (missing ones None); refuses unknown columns."""
        unknown = set(row) - set(self.schema.names)
        if unknown:
            raise ValueError(f"table {self.name!r} has no columns {sorted(unknown)}")
        return {name: row.get(name) for name in self.schema.names}


_UTC_MICROS = pa.timestamp("us", tz="UTC")

GIFS = TableSpec(
    name="gifs",
    key=("gif_id",),
    schema=pa.schema([
        pa.field("gif_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # site adapter name or "v2g-metadata"
        pa.field("page_url", pa.string()),
        pa.field("gif_url", pa.string(), nullable=False),
        pa.field("gif_sha256", pa.string(), nullable=False),
        pa.field("gif_bytes", pa.int64(), nullable=False),
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("video_url", pa.string(), nullable=False),
        pa.field("video_sha256", pa.string(), nullable=False),
        pa.field("video_bytes", pa.int64(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("views", pa.int64()),
        pa.field("upload_date", pa.date32()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("category", pa.string()),
        pa.field("video_title", pa.string()),
        # The alignment published with the Video2GIF metadata, as given (null for scraped GIFs).
        pa.field("published_start_frame", pa.int32()),
        pa.field("published_end_frame", pa.int32()),
        pa.field("published_start_sec", pa.float64()),
        pa.field("published_end_sec", pa.float64()),
        pa.field("published_gif_age", pa.float64()),  # `gif_age` as published (unit not documented there)
        pa.field("scraped_at", _UTC_MICROS, nullable=False),
    ]),
)

DEADLETTER = TableSpec(
    name="deadletter",
    key=("pipeline", "stage", "record_key"),
    schema=pa.schema([
        pa.field("pipeline", pa.string(), nullable=False),  # e.g. "scrape"
        pa.field("stage", pa.string(), nullable=False),  # e.g. "gif_page", "video_media"
        pa.field("record_key", pa.string(), nullable=False),  # what failed: a gif_id, else a URL
        pa.field("url", pa.string()),
        pa.field("gif_id", pa.string()),
        pa.field("error_kind", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("failed_at", _UTC_MICROS, nullable=False),
    ]),
)

ALIGNMENTS = TableSpec(
    name="alignments",
    key=("gif_id",),
    schema=pa.schema([
        pa.field("gif_id", pa.string(), nullable=False),
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("gif_sha256", pa.string(), nullable=False),
        pa.field("video_sha256", pa.string(), nullable=False),
        pa.field("start_sec", pa.float64(), nullable=False),
        pa.field("end_sec", pa.float64(), nullable=False),
        pa.field("start_frame", pa.int32(), nullable=False),
        pa.field("end_frame", pa.int32(), nullable=False),  # exclusive
        pa.field("speed", pa.float64(), nullable=False),  # video seconds per GIF second
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("inlier_share", pa.float64(), nullable=False),  # share of GIF frames that fit
        pa.field("mirrored", pa.bool_(), nullable=False),
        pa.field("crop", pa.list_(pa.int32())),  # [x, y, w, h] in video pixels, null when uncropped
        pa.field("distance_mean", pa.float64()),  # Hamming distance of fitted frame pairs (bits of 64)
        pa.field("distance_median", pa.float64()),
        pa.field("video_fps", pa.float64(), nullable=False),
        pa.field("video_num_frames", pa.int32(), nullable=False),
        pa.field("aligner", pa.string(), nullable=False),  # algorithm name and version
    ]),
)

C3D_FEATURES = 4096  # fc6

SEGMENTS = TableSpec(
    name="segments",
    key=("video_id", "segment_index"),
    schema=pa.schema([
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("segment_index", pa.int32(), nullable=False),
        pa.field("start_frame", pa.int32(), nullable=False),
        pa.field("end_frame", pa.int32(), nullable=False),  # exclusive
        pa.field("start_sec", pa.float64(), nullable=False),
        pa.field("end_sec", pa.float64(), nullable=False),
        pa.field("fps", pa.float32(), nullable=False),
        pa.field("video_num_frames", pa.int32(), nullable=False),
        pa.field("label", pa.int8(), nullable=False),  # 1 positive, 0 negative, -1 ignored
        pa.field("gif_ids", pa.list_(pa.string()), nullable=False),
        pa.field("popularity", pa.float32()),  # of the positive's most popular covering GIF
        pa.field("features", pa.list_(pa.float32(), C3D_FEATURES), nullable=False),
        pa.field("context", pa.list_(pa.float32()), nullable=False),
        pa.field("split", pa.string(), nullable=False),  # train | val | test, from a hash of video_id
        pa.field("feature_extractor", pa.string(), nullable=False),  # name and weights fingerprint
    ]),
)

ALL_TABLES = {spec.name: spec for spec in (GIFS, ALIGNMENTS, SEGMENTS, DEADLETTER)}


def shard_of(key: str, num_shards: int) -> int:
    """Stable across processes and Python versions (unlike hash())."""
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") % num_shards


def shard_name(index: int, num_shards: int) -> str:
    return f"part-{index:05d}-of-{num_shards:05d}.parquet"


def table_path(root: DatasetRoot, spec: TableSpec, *parts: str) -> str:
    return root.join(TABLES, spec.name, *parts)


def shard_files(root: DatasetRoot, spec: TableSpec) -> list[str]:
    return [p for p in root.list_files(TABLES, spec.name, suffix=".parquet")
            if posixpath.basename(p).startswith("part-")]


def rows_to_arrow(spec: TableSpec, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    ordered = sorted((spec.conform(r) for r in rows), key=spec.key_of)
    return pa.Table.from_pylist(ordered, schema=spec.schema)


def write_shard(root: DatasetRoot, spec: TableSpec, path: str, rows: Iterable[Mapping[str, Any]]) -> int:
    table = rows_to_arrow(spec, rows)
    root.make_parent_dir(path)
    pq.write_table(table, path, filesystem=root.fs)
    return table.num_rows


def read_shard(root: DatasetRoot, spec: TableSpec, path: str, columns: list[str] | None = None) -> pa.Table:
    return pq.read_table(path, filesystem=root.fs, schema=spec.schema, columns=columns)


def read_table(root: DatasetRoot | str, spec: TableSpec, columns: list[str] | None = None) -> pa.Table:
    """The whole table (all shards), or some of its columns; empty with the schema when there are no shards."""
    root = root if isinstance(root, DatasetRoot) else DatasetRoot.open(root)
    parts = [read_shard(root, spec, p, columns) for p in shard_files(root, spec)]
    if parts:
        return pa.concat_tables(parts)
    empty = spec.schema.empty_table()
    return empty.select(columns) if columns else empty


def read_rows(root: DatasetRoot | str, spec: TableSpec) -> list[dict]:
    return read_table(root, spec).to_pylist()


def staging_path(root: DatasetRoot, spec: TableSpec, run_id: str) -> str:
    return table_path(root, spec, STAGING, run_id)


def commit_staged(root: DatasetRoot, spec: TableSpec, run_id: str) -> int:
    """Replaces the table's shards with those staged by run `run_id`; returns the shard count.

    The swap is not atomic across files; the window is the time to move a few files.
    """
    staged = root.list_files(TABLES, spec.name, STAGING, run_id, suffix=".parquet")
    for old in shard_files(root, spec):
        root.fs.delete_file(old)
    for path in staged:
        root.fs.move(path, table_path(root, spec, posixpath.basename(path)))
    root.delete_tree(TABLES, spec.name, STAGING, run_id)
    return len(staged)
