"""The dataset's tables on disk: Delta Lake tables under ROOT/tables/<table>/, behind a small API.

Why Delta Lake: a commit is one atomic write of a log entry (on GCS a create-only
object), so a reader sees a table's old content or its new content, never a part; a
stale commit (one whose read files another commit removed meanwhile) is refused; old
versions stay readable by number; Spark, BigQuery and DuckDB read the format. Nothing
outside this module imports `deltalake`.

How gifrank writes: workers (Beam or a notebook) write Parquet files with pyarrow into
the table's folder (`write_file`, content-addressed names, so a retried write makes the
same file), and one `commit` per table adds and removes files in one transaction. A
commit carries an app transaction id, so a retried commit step does not commit twice.
Files written by a run that never committed are not part of the table: readers go by
the log, never by listing the folder.
"""
from __future__ import annotations

import hashlib
import posixpath
import time
import uuid
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from featurizer.dataset.storage import DatasetRoot, delta_storage_options
from featurizer.dataset.tables import (DEADLETTER, DEADLETTERS, SEGMENTS, TableSpec, batch_to_rows, features_file_name,
                                       fixed_size_columns, rows_to_arrow)

TABLES = "tables"
LOG_FOLDER = "_delta_log"
# Rows per record batch when streaming: 1,024 rows of 16 KB features are 16 MB.
BATCH_ROWS = 1024
# Parquet row groups: small enough that a streaming reader holds little, large enough to compress.
ROW_GROUP_ROWS = 1024
TXN_VERSION = 1  # each app transaction id is used by one commit only


class TableError(ValueError):
    """A table that cannot be read as asked (not a Delta table, an unknown version)."""


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a table: its path relative to the table's folder."""

    path: str
    size: int
    rows: int


@dataclass(frozen=True)
class Snapshot:
    """A table at one version: the files that make it up. version None: the table does not exist yet."""

    table: str
    version: int | None
    files: tuple[DataFile, ...] = ()

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)


def _root(root: DatasetRoot | str) -> DatasetRoot:
    return root if isinstance(root, DatasetRoot) else DatasetRoot.open(root)


def table_uri(root: DatasetRoot, name: str) -> str:
    """The table's URI as delta-rs takes it (a local path, or gs://bucket/prefix/tables/name)."""
    uri = root.uri_of(TABLES, name)
    scheme, sep, rest = uri.partition("://")
    return f"gs://{rest}" if sep and scheme in ("gs", "gcs") else uri


def file_path(root: DatasetRoot, name: str, relative: str) -> str:
    """A table file's path for root.fs."""
    return root.join(TABLES, name, relative)


def _delta(root: DatasetRoot, name: str, version: int | None = None):
    from deltalake import DeltaTable

    return DeltaTable(table_uri(root, name), version=version, storage_options=delta_storage_options(root))


def exists(root: DatasetRoot | str, name: str) -> bool:
    """Whether the table has a first commit (a log folder alone, left by a run killed while
    creating the table, is no table yet); later, once old log entries are cleaned up, a checkpoint."""
    root = _root(root)
    return (root.exists(TABLES, name, LOG_FOLDER, f"{0:020d}.json")
            or root.exists(TABLES, name, LOG_FOLDER, "_last_checkpoint"))


def snapshot(root: DatasetRoot | str, spec: TableSpec, version: int | None = None) -> Snapshot:
    """The table's files at `version` (default: the latest); an empty snapshot when there is no table."""
    root = _root(root)
    if not exists(root, spec.name):
        legacy = [p for p in root.list_files(TABLES, spec.name, suffix=".parquet")
                  if posixpath.basename(p).startswith("part-")]  # the shards of gifrank 0.1
        if legacy:
            raise TableError(f"{root.uri_of(TABLES, spec.name)} holds Parquet files but no Delta log: a dataset "
                             "written by gifrank before its tables became Delta tables; rebuild it")
        if version is not None:
            raise TableError(f"table {spec.name!r} does not exist, so it has no version {version}")
        return Snapshot(spec.name, None)
    try:
        table = _delta(root, spec.name, version)
    except Exception as exc:  # deltalake raises its own error types for a missing version
        if version is not None:
            raise TableError(f"table {spec.name!r} has no version {version}: {exc}") from exc
        raise
    actions = pa.table(table.get_add_actions(flatten=True))
    paths = actions.column("path").to_pylist()
    sizes = actions.column("size_bytes").to_pylist()
    rows = actions.column("num_records").to_pylist() if "num_records" in actions.column_names else [0] * len(paths)
    files = tuple(sorted((DataFile(p, int(s), int(r or 0)) for p, s, r in zip(paths, sizes, rows)),
                         key=lambda f: f.path))
    return Snapshot(spec.name, table.version(), files)


def read_file(root: DatasetRoot | str, spec: TableSpec, path: str, columns: Sequence[str] | None = None) -> pa.Table:
    """One file of the table, in the spec's schema (fixed-size lists stay fixed-size)."""
    root = _root(root)
    return pq.read_table(file_path(root, spec.name, path), filesystem=root.fs, schema=spec.schema,
                         columns=list(columns) if columns else None)


def iter_file_batches(root: DatasetRoot | str, spec: TableSpec, paths: Iterable[str],
                      columns: Sequence[str] | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches of the given files, streamed: a few batches in memory at a time."""
    root = _root(root)
    paths = [file_path(root, spec.name, p) for p in paths]
    if not paths:
        return
    dataset = pads.dataset(paths, schema=spec.schema, format="parquet", filesystem=root.fs)
    # Four files decoded ahead: a features file is one video, often a single batch (bench.table_scale).
    yield from dataset.to_batches(columns=list(columns) if columns else None, batch_size=batch_rows,
                                  batch_readahead=2, fragment_readahead=4)


def iter_batches(root: DatasetRoot | str, spec: TableSpec, columns: Sequence[str] | None = None,
                 version: int | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """The table's rows as record batches, streamed, at `version` (default: the latest)."""
    root = _root(root)
    if spec.name == DEADLETTER.name:
        for dead in DEADLETTERS.values():
            yield from iter_batches(root, dead, columns, None, batch_rows)
        return
    if spec.name == SEGMENTS.name:
        from featurizer.dataset.training_view import training_batches

        for batch in training_batches(root):
            yield batch.select(columns) if columns else batch
        return
    files = snapshot(root, spec, version).files
    yield from iter_file_batches(root, spec, [f.path for f in files], columns, batch_rows)


def read_table(root: DatasetRoot | str, spec: TableSpec, columns: Sequence[str] | None = None,
               version: int | None = None) -> pa.Table:
    """The whole table, or some of its columns: for small tables and tests (stream big ones)."""
    schema = spec.schema if not columns else pa.schema([spec.schema.field(c) for c in columns])
    batches = list(iter_batches(root, spec, columns, version))
    return pa.Table.from_batches(batches, schema=schema)


def read_rows(root: DatasetRoot | str, spec: TableSpec) -> list[dict]:
    return batch_to_rows(read_table(root, spec))


def parquet_options(schema: pa.Schema) -> dict:
    """How gifrank writes Parquet. Feature vectors skip dictionary encoding (4,096 distinct floats a
    row overflow the dictionary page, which then falls back to plain after all) and are stored
    byte-stream-split: 36% smaller and 4x faster to encode than pyarrow's defaults (bench.table_scale),
    and faster to decode, which the trainer's reads feel."""
    fixed = fixed_size_columns(schema)
    return {"compression": "zstd", "use_dictionary": [n for n in schema.names if n not in fixed],
            "column_encoding": {f"{n}.list.element": "BYTE_STREAM_SPLIT" for n in fixed} or None}


def parquet_bytes(table: pa.Table) -> bytes:
    """The table as Parquet (parquet_options)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, **parquet_options(table.schema))
    return sink.getvalue().to_pybytes()


def write_file(root: DatasetRoot | str, spec: TableSpec, table: pa.Table, prefix: str) -> DataFile:
    """Writes `table` as a new file of the table's folder, named `<prefix>-<content hash>.parquet`.

    The same rows give the same bytes and so the same name: a retried or repeated write
    makes the same file. The file is complete or absent: on a local disk it is written
    aside and renamed into place; an object store shows an object only once uploaded.
    """
    data = _encoded(spec, table)
    return _write_whole(_root(root), spec, f"{prefix}-{hashlib.sha256(data).hexdigest()[:24]}.parquet", data,
                        table.num_rows)


def named_file(root: DatasetRoot | str, spec: TableSpec, name: str) -> DataFile | None:
    """A complete file already in the table's folder (committed or not), or None."""
    root = _root(root)
    info = root.fs.get_file_info(file_path(root, spec.name, name))
    if info.type != pafs.FileType.File:
        return None
    metadata = pq.read_metadata(file_path(root, spec.name, name), filesystem=root.fs)
    return DataFile(name, int(info.size), metadata.num_rows)


def write_named_file(root: DatasetRoot | str, spec: TableSpec, table: pa.Table, name: str) -> DataFile:
    """Writes `table` as the file `name` (a name derived from what the rows are, not their bytes)."""
    return _write_whole(_root(root), spec, name, _encoded(spec, table), table.num_rows)


def _encoded(spec: TableSpec, table: pa.Table) -> bytes:
    return parquet_bytes(table.cast(spec.schema) if table.schema != spec.schema else table)


def _write_whole(root: DatasetRoot, spec: TableSpec, name: str, data: bytes, rows: int) -> DataFile:
    path = file_path(root, spec.name, name)
    root.make_parent_dir(path)
    if root.fs.type_name in ("gcs", "s3"):
        with root.fs.open_output_stream(path) as out:
            out.write(data)
        return DataFile(name, len(data), rows)
    aside = posixpath.join(posixpath.dirname(path), f".{uuid.uuid4().hex}.tmp")
    with root.fs.open_output_stream(aside) as out:
        out.write(data)
    root.fs.move(aside, path)
    return DataFile(name, len(data), rows)


def commit(root: DatasetRoot | str, spec: TableSpec, read_version: int | None, add: Sequence[DataFile],
           remove: Sequence[DataFile] = (), txn_id: str | None = None) -> int | None:
    """Adds and removes files in one transaction; returns the new version, or None when nothing changed
    or `txn_id` was committed already (a retried commit).

    read_version: the version the writer read (None: there was no table). A commit whose
    removed files another commit removed since is refused (deltalake's CommitFailedError),
    so a stale writer never undoes a newer one.
    """
    from deltalake import Schema as DeltaSchema
    from deltalake.transaction import (AddAction, CommitProperties, RemoveAction, Transaction,
                                       create_table_with_add_actions)

    root = _root(root)
    if not add and not remove:
        return None
    now_ms = int(time.time() * 1000)
    adds = [AddAction(f.path, f.size, {}, now_ms, True, f'{{"numRecords": {f.rows}}}') for f in add]
    removes = [RemoveAction(f.path, True, now_ms, f.size, {}) for f in remove]
    properties = CommitProperties(app_transactions=[Transaction(txn_id, TXN_VERSION)]) if txn_id else None
    if exists(root, spec.name):
        latest = _delta(root, spec.name)
        if txn_id and latest.transaction_version(txn_id) is not None:
            return None
        if _add_new_columns(latest, spec, read_version):
            base = _delta(root, spec.name)  # the version after the schema change, which read_version was
        else:
            base = latest if read_version is None else _delta(root, spec.name, read_version)
        if read_version is None and removes:
            raise TableError(f"table {spec.name!r}: files to remove, but the writer read no table")
        base.create_write_transaction([*adds, *removes], mode="append", schema=DeltaSchema.from_arrow(spec.schema),
                                      commit_properties=properties)
    else:
        if removes:
            raise TableError(f"table {spec.name!r} does not exist: nothing to remove")
        create_table_with_add_actions(table_uri(root, spec.name), DeltaSchema.from_arrow(spec.schema), adds,
                                      mode="error", name=spec.name, storage_options=delta_storage_options(root),
                                      commit_properties=properties)
    return _delta(root, spec.name).version()


def _add_new_columns(latest, spec: TableSpec, read_version: int | None) -> bool:
    """Columns the code's schema has and the table's log does not (a newer gifrank) are added to
    the table's schema first, so every reader of the format sees them; older rows read them as
    null. A commit after a schema change cannot be checked against an older version, so the
    change is made only when nothing was committed since the writer read (else a clear error)."""
    from deltalake import Schema as DeltaSchema

    known = {field.name for field in latest.schema().fields}
    missing = [f for f in DeltaSchema.from_arrow(spec.schema).fields if f.name not in known]
    if not missing:
        return False
    if read_version is not None and latest.version() != read_version:
        raise TableError(f"table {spec.name!r} changed since this run read it (version {read_version}, now "
                         f"{latest.version()}) and needs new columns: run again")
    latest.alter.add_columns(missing)
    return True


def table_info(root: DatasetRoot | str, spec: TableSpec, version: int | None = None) -> dict:
    shot = snapshot(root, spec, version)
    return {"table": spec.name, "version": shot.version, "rows": shot.rows, "files": len(shot.files),
            "bytes": shot.bytes}


def write_single_file(batches: Iterable[pa.RecordBatch], schema: pa.Schema, uri: str) -> int:
    """Record batches, streamed into one Parquet file at `uri` (a path or gs:// URI); returns rows written."""
    from featurizer.dataset.storage import open_file_system

    fs, path = open_file_system(uri)
    parent = posixpath.dirname(path)
    if parent and fs.type_name not in ("gcs", "s3"):
        fs.create_dir(parent, recursive=True)
    rows = 0
    with fs.open_output_stream(path) as sink, pq.ParquetWriter(sink, schema, **parquet_options(schema)) as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def replace_table(root: DatasetRoot | str, spec: TableSpec, rows: Iterable[dict], txn_id: str | None = None) -> int | None:
    """Makes `rows` the table's whole content in one commit (for notebooks, tests and benchmarks;
    pipelines write through pipelines.transforms.table_io). Returns the new version."""
    root = _root(root)
    groups: dict = {}
    for row in rows:
        group = ((row["video_sha256"], row["segmenter"], row["feature_extractor"]) if spec.buckets == 0
                 else spec.bucket_of(row))
        groups.setdefault(group, []).append(row)
    added = []
    for group, members in sorted(groups.items()):
        table = rows_to_arrow(spec, members)
        added.append(write_named_file(root, spec, table, features_file_name(*group)) if spec.buckets == 0
                     else write_file(root, spec, table, spec.bucket_file_prefix(group)))
    old = snapshot(root, spec)
    keep = {f.path for f in added}
    return commit(root, spec, old.version, added, [f for f in old.files if f.path not in keep], txn_id)


DEFAULT_RETAIN_HOURS = 168  # a week, Delta Lake's own default


def vacuum(root: DatasetRoot | str, spec: TableSpec, retain_hours: float = DEFAULT_RETAIN_HOURS,
           keep_versions: Sequence[int] = (), dry_run: bool = False) -> list[str]:
    """Deletes the table's files no version needs: those removed more than `retain_hours` ago
    (older versions then stop being readable, except `keep_versions`: those a training run
    recorded), and those no commit ever added (a killed run's). Returns the files deleted
    (or that would be, with dry_run)."""
    root = _root(root)
    if not exists(root, spec.name):
        return []
    return sorted(_delta(root, spec.name).vacuum(
        retention_hours=int(retain_hours), dry_run=dry_run, enforce_retention_duration=False, full=True,
        keep_versions=list(keep_versions) or None))
