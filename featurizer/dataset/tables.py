"""Table schemas, defined once, and how each table's rows are laid out in files.

Tables are stored by featurizer.dataset.table_store (Delta Lake under ROOT/tables/<table>/);
this module only says what they hold:

- gifs, alignments, labels: rows hashed by `cluster_by` into `buckets` files; a run
  rewrites only the buckets it changes.
- features: one file per video, segmenter and feature extractor, written once: the
  expensive C3D rows are never rewritten.
- deadletter_<pipeline>: each pipeline's dead letters, its own table, so stages running
  at once never overwrite each other's.
- segments, deadletter: views, not stored (table_views): labels joined with features
  (training_view), and every pipeline's dead letters.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import pyarrow as pa

KEY_SEPARATOR = "\x1f"
_BUCKET_FILE = re.compile(r"^b(\d{4})of(\d{4})-")


@dataclass(frozen=True)
class TableSpec:
    """A table: its schema, its row key, and how rows are grouped into files.

    cluster_by: the column whose value picks a row's file; rows of one value share a
    file. buckets: files hashed by cluster_by (0: one file per value of the file_key
    columns, cluster_by first, named by them, written once and never rewritten).
    """

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    cluster_by: str = ""
    buckets: int = 1
    volatile: tuple[str, ...] = ()  # columns a rerun's equal row may differ in (a time stamp): the old row stays
    file_key: tuple[str, ...] = ()  # buckets == 0: the columns whose values name a row's file (file_name_of)

    def key_of(self, row: Mapping[str, Any]) -> str:
        return KEY_SEPARATOR.join("" if row.get(k) is None else str(row[k]) for k in self.key)

    def bucket_of(self, row: Mapping[str, Any]) -> int:
        return bucket_of(row.get(self.cluster_by) or "", self.buckets)

    def bucket_file_prefix(self, bucket: int) -> str:
        """Bucket files are named b<bucket>of<buckets>-<content hash>.parquet."""
        return f"b{bucket:04d}of{self.buckets:04d}"

    def bucket_of_file(self, path: str) -> int | None:
        """The bucket a file holds, read from its name (bucket_file_prefix); None for a file that
        is not one of this table's buckets (another tool's, or another bucket count's)."""
        match = _BUCKET_FILE.match(path)
        return int(match.group(1)) if match and int(match.group(2)) == self.buckets else None

    def file_name_of(self, row: Mapping[str, Any]) -> str:
        """The file a row of a table of buckets == 0 belongs in, named by its file_key values
        (value_file_name): which files exist says which values have rows."""
        if self.buckets or not self.file_key:
            raise ValueError(f"table {self.name!r} has no files named by their rows (buckets={self.buckets})")
        first, *rest = (str(row[c]) for c in self.file_key)
        return value_file_name(first, rest)

    def conform(self, row: Mapping[str, Any]) -> dict:
        """The row with exactly the schema's columns (missing ones None); refuses unknown columns."""
        unknown = set(row) - set(self.schema.names)
        if unknown:
            raise ValueError(f"table {self.name!r} has no columns {sorted(unknown)}")
        return {name: row.get(name) for name in self.schema.names}

    def same_row(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        """Equal but for the volatile columns."""
        return all(_equal(a.get(n), b.get(n)) for n in self.schema.names if n not in self.volatile)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is not None and b is not None and np.array_equal(a, b)
    return a == b


def bucket_of(value: str, buckets: int) -> int:
    """Stable across processes and Python versions (unlike hash())."""
    return int.from_bytes(hashlib.sha1(str(value).encode()).digest()[:8], "big") % max(1, buckets)


_UTC_MICROS = pa.timestamp("us", tz="UTC")

GIFS = TableSpec(
    name="gifs",
    key=("gif_id",),
    cluster_by="gif_id",
    buckets=16,
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
        pa.field("tags", pa.list_(pa.string())),  # the GIF's own
        pa.field("video_tags", pa.list_(pa.string())),  # the source video's, where the source gives them
        pa.field("category", pa.string()),
        pa.field("video_title", pa.string()),
        # From the published Video2GIF metadata (null for scraped GIFs unless the site says).
        pa.field("is_creative_commons", pa.bool_()),  # the source video's licence is Creative Commons
        pa.field("video_duration_sec", pa.float64()),  # the source video's length as published
        # The alignment published with the Video2GIF metadata, as given (null for scraped GIFs).
        pa.field("published_start_frame", pa.int32()),
        pa.field("published_end_frame", pa.int32()),
        pa.field("published_start_sec", pa.float64()),
        pa.field("published_end_sec", pa.float64()),
        pa.field("published_gif_age", pa.float64()),  # `gif_age` as published (unit not documented there)
        pa.field("scraped_at", _UTC_MICROS, nullable=False),
    ]),
)

ALIGNMENTS = TableSpec(
    name="alignments",
    key=("gif_id",),
    cluster_by="gif_id",
    buckets=16,
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
        pa.field("direction", pa.string()),  # forward, reverse, boomerang, reverse-forward (null: older aligner)
        pa.field("distance_mean", pa.float64()),  # Hamming distance of fitted frame pairs (bits of 64)
        pa.field("distance_median", pa.float64()),
        pa.field("video_fps", pa.float64(), nullable=False),
        pa.field("video_num_frames", pa.int32(), nullable=False),
        pa.field("aligner", pa.string(), nullable=False),  # algorithm name and version
    ]),
)

C3D_FEATURES = 4096  # fc6

_SEGMENT_BOUNDS = [
    pa.field("segment_index", pa.int32(), nullable=False),
    pa.field("start_frame", pa.int32(), nullable=False),
    pa.field("end_frame", pa.int32(), nullable=False),  # exclusive
    pa.field("start_sec", pa.float64(), nullable=False),
    pa.field("end_sec", pa.float64(), nullable=False),
    pa.field("fps", pa.float32(), nullable=False),
    pa.field("video_num_frames", pa.int32(), nullable=False),
]

# A positive's popularity, from its most popular covering GIF: p normalised among its source's
# GIFs, null when unknown (no views or no age; the trainer substitutes the median, not 0).
_POPULARITY = [
    pa.field("popularity", pa.float32()),
    pa.field("popularity_raw", pa.float32()),  # log(1 + views / age in days), Khosla et al.
    pa.field("popularity_source", pa.string()),  # the source p was normalised in (a site adapter's name)
]

# The training view: labelled segments joined with their features (not stored; see training_view).
SEGMENTS = TableSpec(
    name="segments",
    key=("video_id", "segment_index"),
    schema=pa.schema([
        pa.field("video_id", pa.string(), nullable=False),
        *_SEGMENT_BOUNDS,
        pa.field("label", pa.int8(), nullable=False),  # 1 positive, 0 negative, -1 ignored
        pa.field("gif_ids", pa.list_(pa.string()), nullable=False),
        *_POPULARITY,
        pa.field("features", pa.list_(pa.float32(), C3D_FEATURES), nullable=False),
        pa.field("context", pa.list_(pa.float32()), nullable=False),
        pa.field("context_tags_from", pa.string()),
        pa.field("split", pa.string(), nullable=False),  # train | val | test, from a hash of video_id
        pa.field("feature_extractor", pa.string(), nullable=False),  # name and weights fingerprint
    ]),
)


# Shots (featurizer.shots), their split into segments (featurizer.labels.segments), and the segments'
# seconds, from the decoder's timestamps. v3: shots from 64x36 frames scaled from the decoded picture,
# as `gifrank shots` finds them (v2 scaled them down from C3D's 171x128 frames, which added false
# cuts); v2: seconds from timestamps (v1 divided frame numbers by the nominal rate).
SEGMENTER_VERSION = "changepoint-v3"


# The expensive half: segment boundaries and fc6, keyed by the video's content and how they were made.
FEATURES = TableSpec(
    name="features",
    key=("video_sha256", "segmenter", "feature_extractor", "segment_index"),
    cluster_by="video_sha256",
    buckets=0,
    file_key=("video_sha256", "segmenter", "feature_extractor"),
    schema=pa.schema([
        pa.field("video_sha256", pa.string(), nullable=False),
        pa.field("segmenter", pa.string(), nullable=False),  # version and settings of shots and segments
        pa.field("feature_extractor", pa.string(), nullable=False),  # name, weights fingerprint, sampling
        *_SEGMENT_BOUNDS,
        pa.field("snippets", pa.int32(), nullable=False),  # snippets averaged; 0: no frame kept, no features
        # Mean fc6; zeros when snippets is 0 (not null: pyarrow cannot read back null fixed-size lists).
        pa.field("features", pa.list_(pa.float32(), C3D_FEATURES), nullable=False),
    ]),
)

# The cheap half: recomputed from gifs, alignments and the features' boundaries, without decoding.
LABELS = TableSpec(
    name="labels",
    key=("video_sha256", "segmenter", "segment_index"),
    cluster_by="video_sha256",
    buckets=32,
    schema=pa.schema([
        pa.field("video_sha256", pa.string(), nullable=False),
        pa.field("segmenter", pa.string(), nullable=False),
        pa.field("video_id", pa.string(), nullable=False),
        *_SEGMENT_BOUNDS,
        pa.field("label", pa.int8(), nullable=False),  # 1 positive, 0 negative, -1 ignored
        pa.field("gif_ids", pa.list_(pa.string()), nullable=False),
        *_POPULARITY,
        pa.field("context", pa.list_(pa.float32()), nullable=False),
        # video | gifs | none: whose tags the context has (null in rows labelled before it existed:
        # a column added to a table is nullable, since older rows lack it).
        pa.field("context_tags_from", pa.string()),
        pa.field("split", pa.string(), nullable=False),  # train | val | test
    ]),
)

DEADLETTER_SCHEMA = pa.schema([
    pa.field("pipeline", pa.string(), nullable=False),  # e.g. "scrape"
    pa.field("stage", pa.string(), nullable=False),  # e.g. "gif_page", "video_media"
    pa.field("record_key", pa.string(), nullable=False),  # what failed: a gif_id, else a URL
    pa.field("url", pa.string()),
    pa.field("gif_id", pa.string()),
    pa.field("error_kind", pa.string(), nullable=False),
    pa.field("message", pa.string(), nullable=False),
    pa.field("failed_at", _UTC_MICROS, nullable=False),
])



class _TableFile(Protocol):
    @property
    def path(self) -> str: ...


_F = TypeVar("_F", bound=_TableFile)
_FEATURES_FILE = re.compile(r"^v-([0-9a-f]{64})-([0-9a-f]{12})\.parquet$")


def value_file_name(first: str, rest: Sequence[str]) -> str:
    """A file of a table of buckets == 0: v-<first value>-<hash of the others>.parquet."""
    return f"v-{first}-{_values_hash(rest)}.parquet"


def _values_hash(values: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(values).encode()).hexdigest()[:12]


def features_key_hash(segmenter: str, feature_extractor: str) -> str:
    return _values_hash((segmenter, feature_extractor))


def features_file_name(video_sha256: str, segmenter: str, feature_extractor: str) -> str:
    """One features file per video, segmenter and extractor, named by them: a rerun after a crash finds it,
    and which videos have features is known from the table's file list alone."""
    return FEATURES.file_name_of({"video_sha256": video_sha256, "segmenter": segmenter,
                                  "feature_extractor": feature_extractor})


def features_files_of(files: Iterable[_F], segmenter: str, feature_extractor: str) -> dict[str, _F]:
    """video_sha256 -> its features file among `files` (table files, with .path) for one segmenter
    and extractor: which videos have features, from the names alone."""
    wanted = features_key_hash(segmenter, feature_extractor)
    found: dict[str, _F] = {}
    for f in files:
        key = features_file_key(f.path)
        if key and key[1] == wanted:
            found[key[0]] = f
    return found


def features_file_key(name: str) -> tuple[str, str] | None:
    """(video_sha256, key hash) of a features file's name; None for another file."""
    match = _FEATURES_FILE.match(name)
    return (match.group(1), match.group(2)) if match else None


DEADLETTER_PREFIX = "deadletter_"


def deadletter_spec(pipeline: str) -> TableSpec:
    """The dead-letter table of one pipeline: deadletter_<pipeline>. One bucket: a run settles
    earlier dead letters by record_key or by url, which may lie anywhere in the table."""
    return TableSpec(name=f"{DEADLETTER_PREFIX}{pipeline}", key=("pipeline", "stage", "record_key"),
                     cluster_by="record_key", buckets=1, volatile=("failed_at",), schema=DEADLETTER_SCHEMA)


PIPELINES = ("scrape", "align", "featurize")
DEADLETTERS = {p: deadletter_spec(p) for p in PIPELINES}
# Every pipeline's dead letters together (a view over the deadletter_<pipeline> tables).
DEADLETTER = TableSpec(name="deadletter", key=("pipeline", "stage", "record_key"), schema=DEADLETTER_SCHEMA)
STORED_TABLES = {spec.name: spec for spec in (GIFS, ALIGNMENTS, FEATURES, LABELS, *DEADLETTERS.values())}
VIEWS = {SEGMENTS.name: SEGMENTS, DEADLETTER.name: DEADLETTER}


def fixed_size_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if pa.types.is_fixed_size_list(f.type)]


def rows_to_arrow(spec: TableSpec, rows: Iterable[Mapping[str, Any]], schema: pa.Schema | None = None) -> pa.Table:
    """Rows (dicts) as a table of the spec's schema, sorted by key. Fixed-size float columns take
    numpy arrays (or None) and are built from one contiguous float32 buffer, never Python floats."""
    schema = schema or spec.schema
    ordered = sorted((spec.conform(r) for r in rows), key=spec.key_of)
    arrays = []
    for field in schema:
        values = [r[field.name] for r in ordered]
        if pa.types.is_fixed_size_list(field.type):
            arrays.append(fixed_size_array(values, field.type))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def fixed_size_array(values: list, type_: pa.FixedSizeListType) -> pa.FixedSizeListArray:
    size = type_.list_size
    valid = np.array([v is not None for v in values], bool)
    flat = np.zeros((len(values), size), np.float32)
    for i in np.flatnonzero(valid):
        flat[i] = values[i]
    mask = None if valid.all() else pa.array(~valid)
    return pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), size, mask=mask)


def batch_to_rows(batch: pa.RecordBatch | pa.Table) -> list[dict]:
    """Rows as dicts; fixed-size float columns as float32 numpy arrays (None where null)."""
    fixed = [n for n in fixed_size_columns(batch.schema)]
    rows = batch.drop_columns(fixed).to_pylist() if fixed else batch.to_pylist()
    for name in fixed:
        column = batch.column(name)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        matrix = fixed_size_matrix(column)
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        for i, row in enumerate(rows):
            row[name] = matrix[i] if valid[i] else None
    return rows


def fixed_size_matrix(column: pa.FixedSizeListArray) -> np.ndarray:
    """(n, size) float32 view of a fixed-size list column (nulls as whatever the buffer holds)."""
    size = column.type.list_size
    values = column.values.slice(column.offset * size, len(column) * size)  # nulls keep their slots
    return np.asarray(values.to_numpy(zero_copy_only=False), np.float32).reshape(len(column), size)
