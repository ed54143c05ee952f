"""The dataset's tables on disk: Delta Lake tables under ROOT/tables/<table>/, behind a small API.

Why Delta Lake: a commit is one atomic write of a log entry (on GCS a create-only
object), so a reader sees a table's old content or its new content, never a part; old
versions stay readable by number; Spark, BigQuery and DuckDB read the format. Nothing
outside this module imports `deltalake`.

How gifrank writes: workers (Beam or a notebook) write Parquet files with pyarrow into
the table's folder (`write_file`, content-addressed names, so a retried write makes the
same file), and one `commit` per table adds and removes files in one transaction. A
commit carries an app transaction id, so a retried commit step does not commit twice.
Files written by a run that never committed are not part of the table: readers go by
the log, never by listing the folder.

Runs at once: a run rewrites whole buckets from the version it read, so its commit is
refused (ConcurrentCommit) when another run has committed to one of those buckets since:
it would undo that run's rows, or, both adding to a bucket that was empty, store rows
twice. Delta's own checker refuses neither of those blind appends, hence the bucket
check in `commit_tables`.
"""
from __future__ import annotations

import hashlib
import posixpath
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from featurizer.dataset.storage import DatasetRoot, delta_storage_options
from featurizer.dataset.tables import VIEWS, TableSpec, batch_to_rows, fixed_size_columns

if TYPE_CHECKING:  # deltalake is imported where a table is opened: importing this module stays cheap
    from deltalake import DeltaTable
    from deltalake.transaction import AddAction, CommitProperties, RemoveAction

TABLES = "tables"
LOG_FOLDER = "_delta_log"
# Rows per record batch when streaming: 1,024 rows of 16 KB features are 16 MB.
BATCH_ROWS = 1024
# Parquet row groups: small enough that a streaming reader holds little, large enough to compress.
ROW_GROUP_ROWS = 1024
TXN_VERSION = 1  # each app transaction id is used by one commit only
# One app transaction per bucket a commit touches: Delta's conflict checker refuses a commit
# when one committed after its base carries the same app id (tests/featurizer/dataset).
BUCKET_LOCK = "gifrank-bucket-{:04d}"
# Commits landing between a table's check and its commit, none touching this run's buckets:
# each makes one more check and try; this many means the table is too busy to commit now.
COMMIT_ATTEMPTS = 10


class TableError(ValueError):
    """A table that cannot be read as asked (not a Delta table, an unknown version)."""


class ConcurrentCommit(TableError):
    """Another run committed to the buckets this run rewrites since this run read them. The
    commit is refused, so nothing is lost; a rerun reads the newer version and completes."""

    def __init__(self, conflict: str, committed: Sequence[str] = ()):
        super().__init__(conflict, tuple(committed))  # the args rebuild it when pickled
        self.conflict = conflict
        self.committed = tuple(committed)

    def __str__(self) -> str:
        noun = "table" if len(self.committed) == 1 else "tables"
        done = (f"this run committed {noun} {', '.join(self.committed)} and nothing else" if self.committed
                else "nothing of this run was committed")
        return f"{self.conflict}; {done}, nothing is lost: run the command again"


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


def table_uri(root: DatasetRoot, name: str) -> str:
    """The table's URI as delta-rs takes it (a local path, or gs://bucket/prefix/tables/name)."""
    uri = root.uri_of(TABLES, name)
    scheme, sep, rest = uri.partition("://")
    return f"gs://{rest}" if sep and scheme in ("gs", "gcs") else uri


def file_path(root: DatasetRoot, name: str, relative: str) -> str:
    """A table file's path for root.fs."""
    return root.join(TABLES, name, relative)


def _delta(root: DatasetRoot, name: str, version: int | None = None) -> DeltaTable:
    from deltalake import DeltaTable

    return DeltaTable(table_uri(root, name), version=version, storage_options=delta_storage_options(root))


def exists(root: DatasetRoot | str, name: str) -> bool:
    """Whether the table has a first commit (a log folder alone, left by a run killed while
    creating the table, is no table yet); later, once old log entries are cleaned up, a checkpoint."""
    root = DatasetRoot.of(root)
    return (root.exists(TABLES, name, LOG_FOLDER, f"{0:020d}.json")
            or root.exists(TABLES, name, LOG_FOLDER, "_last_checkpoint"))


def snapshot(root: DatasetRoot | str, spec: TableSpec, version: int | None = None) -> Snapshot:
    """The table's files at `version` (default: the latest); an empty snapshot when there is no table."""
    root = DatasetRoot.of(root)
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
    return Snapshot(spec.name, table.version(), _files_of(table))


def _files_of(table: DeltaTable) -> tuple[DataFile, ...]:
    actions = pa.table(table.get_add_actions(flatten=True))
    paths = actions.column("path").to_pylist()
    sizes = actions.column("size_bytes").to_pylist()
    rows = actions.column("num_records").to_pylist() if "num_records" in actions.column_names else [0] * len(paths)
    return tuple(sorted((DataFile(p, int(s), int(r or 0)) for p, s, r in zip(paths, sizes, rows)),
                        key=lambda f: f.path))


def files_by_bucket(spec: TableSpec, files: Iterable[DataFile]) -> dict[int, list[DataFile]]:
    """Files of a bucketed table by the bucket each holds; a file of none of its buckets is an error."""
    by_bucket: dict[int, list[DataFile]] = {}
    for f in files:
        bucket = spec.bucket_of_file(f.path)
        if bucket is None:
            raise TableError(f"table {spec.name!r}: file {f.path} is not one of its {spec.buckets} buckets "
                             "(written by another tool, or with another bucket count)")
        by_bucket.setdefault(bucket, []).append(f)
    return by_bucket


def read_file(root: DatasetRoot | str, spec: TableSpec, path: str, columns: Sequence[str] | None = None) -> pa.Table:
    """One file of the table, in the spec's schema (fixed-size lists stay fixed-size)."""
    root = DatasetRoot.of(root)
    return pq.read_table(file_path(root, spec.name, path), filesystem=root.fs, schema=spec.schema,
                         columns=list(columns) if columns else None)


def iter_file_batches(root: DatasetRoot | str, spec: TableSpec, paths: Iterable[str],
                      columns: Sequence[str] | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches of the given files, streamed: a few batches in memory at a time."""
    root = DatasetRoot.of(root)
    paths = [file_path(root, spec.name, p) for p in paths]
    if not paths:
        return
    dataset = pads.dataset(paths, schema=spec.schema, format="parquet", filesystem=root.fs)
    # Four files decoded ahead: a features file is one video, often a single batch (bench.table_scale).
    yield from dataset.to_batches(columns=list(columns) if columns else None, batch_size=batch_rows,
                                  batch_readahead=2, fragment_readahead=4)


def iter_batches(root: DatasetRoot | str, spec: TableSpec, columns: Sequence[str] | None = None,
                 version: int | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """The stored table's rows as record batches, streamed, at `version` (default: the latest).
    Views are not stored: featurizer.dataset.table_views reads them."""
    if spec.name in VIEWS:
        raise TableError(f"{spec.name} is a view, not a stored table: read it through featurizer.dataset.table_views")
    root = DatasetRoot.of(root)
    files = snapshot(root, spec, version).files
    yield from iter_file_batches(root, spec, [f.path for f in files], columns, batch_rows)


def read_table(root: DatasetRoot | str, spec: TableSpec, columns: Sequence[str] | None = None,
               version: int | None = None) -> pa.Table:
    """The whole table, or some of its columns: for small tables and tests (stream big ones)."""
    schema = spec.schema if not columns else pa.schema([spec.schema.field(c) for c in columns])
    batches = list(iter_batches(root, spec, columns, version))
    return pa.Table.from_batches(batches, schema=schema)


def read_rows(root: DatasetRoot | str, spec: TableSpec) -> list[dict[str, Any]]:
    """The whole stored table's rows as dicts (tables.batch_to_rows): for small tables and tests."""
    return batch_to_rows(read_table(root, spec))


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
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
    return _write_whole(DatasetRoot.of(root), spec, f"{prefix}-{hashlib.sha256(data).hexdigest()[:24]}.parquet", data,
                        table.num_rows)


def named_file(root: DatasetRoot | str, spec: TableSpec, name: str) -> DataFile | None:
    """A complete file already in the table's folder (committed or not), or None."""
    root = DatasetRoot.of(root)
    info = root.fs.get_file_info(file_path(root, spec.name, name))
    if info.type != pafs.FileType.File:
        return None
    metadata = pq.read_metadata(file_path(root, spec.name, name), filesystem=root.fs)
    return DataFile(name, int(info.size), metadata.num_rows)


def write_named_file(root: DatasetRoot | str, spec: TableSpec, table: pa.Table, name: str) -> DataFile:
    """Writes `table` as the file `name` (a name derived from what the rows are, not their bytes)."""
    return _write_whole(DatasetRoot.of(root), spec, name, _encoded(spec, table), table.num_rows)


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


@dataclass(frozen=True)
class TableCommit:
    """One table's part of a run's commit: the version the run read (None: no table) and its file actions."""

    spec: TableSpec
    read_version: int | None
    add: tuple[DataFile, ...] = ()
    remove: tuple[DataFile, ...] = ()


def commit(root: DatasetRoot | str, spec: TableSpec, read_version: int | None, add: Sequence[DataFile],
           remove: Sequence[DataFile] = (), txn_id: str | None = None) -> int | None:
    """Adds and removes files in one transaction; returns the new version, or None when nothing changed
    or `txn_id` was committed already (a retried commit). Refused as commit_tables says."""
    return commit_tables(root, [TableCommit(spec, read_version, tuple(add), tuple(remove))], txn_id)[spec.name]


def commit_tables(root: DatasetRoot | str, commits: Sequence[TableCommit],
                  txn_id: str | None = None) -> dict[str, int | None]:
    """A run's commit: each table's adds and removes in one transaction, in order. Returns each
    table's new version, or None when nothing changed or `txn_id` was committed already.

    A table's commit is refused (ConcurrentCommit) when another commit, since the version the
    run read, added or removed a file of a bucket this commit adds or removes. Every table is
    checked before any is committed, so a refused run commits nothing; only a run that loses
    a race between that check and a later table's commit has committed the earlier tables
    (the error names them; a rerun completes, as after a run killed between its commits).
    """
    root = DatasetRoot.of(root)
    pending = [c for c in commits if c.add or c.remove]
    read = {c.spec.name: _read_files(root, c) for c in pending}
    versions: dict[str, int | None] = {c.spec.name: None for c in commits}
    done: list[str] = []  # tables holding this run's commit
    try:
        for c in pending:
            latest = _delta(root, c.spec.name) if exists(root, c.spec.name) else None
            if latest is not None and _committed(latest, txn_id):
                done.append(c.spec.name)  # by an earlier try of this commit step
            else:
                _check(c, read[c.spec.name], latest)
        for c in pending:
            if c.spec.name not in done:
                versions[c.spec.name] = _commit_table(root, c, read[c.spec.name], txn_id)
                done.append(c.spec.name)
    except ConcurrentCommit as exc:
        if done:
            raise ConcurrentCommit(exc.conflict, done) from None  # the same conflict, told whole
        raise
    return versions


def _read_files(root: DatasetRoot, c: TableCommit) -> tuple[DataFile, ...]:
    """The files the run read: what its bucket check compares the latest files with. Tables of
    buckets == 0 are checked without them (_conflict)."""
    if c.remove and c.read_version is None:
        raise TableError(f"table {c.spec.name!r}: files to remove, but the writer read no table")
    if c.spec.buckets == 0 or c.read_version is None:
        return ()
    return snapshot(root, c.spec, c.read_version).files


def _committed(table: DeltaTable, txn_id: str | None) -> bool:
    return txn_id is not None and txn_id != "" and table.transaction_version(txn_id) is not None


def _check(c: TableCommit, read: Sequence[DataFile], latest: DeltaTable | None) -> None:
    """Raises ConcurrentCommit when the table changed, since the run read it, where this commit writes."""
    if latest is None or not (c.spec.buckets or c.remove):
        return  # no table: no commit since; files added to a table of buckets == 0: see _conflict
    conflict = _conflict(c, read, _files_of(latest))
    if conflict:
        since = "found no table" if c.read_version is None else f"read version {c.read_version}"
        raise ConcurrentCommit(f"table {c.spec.name}: another run {conflict} since this run {since} "
                               f"(now version {latest.version()})")


def _conflict(c: TableCommit, read: Sequence[DataFile], latest: Sequence[DataFile]) -> str:
    """What another run changed that this commit would overwrite or duplicate ("": nothing)."""
    spec, latest_paths = c.spec, {f.path for f in latest}
    if spec.buckets == 0:
        # Files named by what they hold (one video's features), never rewritten: the same file
        # added by two runs is one file in Delta's log replay, so only a removed file can conflict.
        gone = sorted(f.path for f in c.remove if f.path not in latest_paths)
        return f"removed files {', '.join(gone)}" if gone else ""
    read_paths = {f.path for f in read}
    changed = [f for f in (*read, *latest) if (f.path in read_paths) != (f.path in latest_paths)]
    buckets = sorted(set(files_by_bucket(spec, changed)) & set(_buckets(c)))
    return (f"committed bucket{'s' if len(buckets) > 1 else ''} {', '.join(map(str, buckets))}"
            if buckets else "")


def _buckets(c: TableCommit) -> list[int]:
    """The buckets a commit locks (none for buckets == 0, as _conflict says)."""
    return sorted(files_by_bucket(c.spec, (*c.add, *c.remove))) if c.spec.buckets else []


def _commit_table(root: DatasetRoot, c: TableCommit, read: Sequence[DataFile], txn_id: str | None) -> int | None:
    """One table's commit, checked against the latest version, based on it, and locking its buckets:
    a commit landing after the check is one Delta's conflict checker sees."""
    from deltalake import Schema as DeltaSchema
    from deltalake.exceptions import CommitFailedError

    spec = c.spec
    if not exists(root, spec.name) and _create(root, c, txn_id):
        return 0
    actions = _actions(c)
    for _attempt in range(COMMIT_ATTEMPTS):
        latest = _delta(root, spec.name)
        if _committed(latest, txn_id):
            return None
        _check(c, read, latest)
        if _add_new_columns(latest, spec):
            continue  # checked and committed against the table with its new columns
        try:
            latest.create_write_transaction(actions, mode="append", schema=DeltaSchema.from_arrow(spec.schema),
                                            commit_properties=_properties(c, txn_id, latest.version() + 1))
        except CommitFailedError:
            continue  # a commit landed after `latest`: the next check says whether it wrote these buckets
        return _delta(root, spec.name).version()
    raise ConcurrentCommit(f"table {spec.name}: other runs kept committing to it while this run tried "
                           f"{COMMIT_ATTEMPTS} times")


def _create(root: DatasetRoot, c: TableCommit, txn_id: str | None) -> bool:
    """The table's first commit: creates it with the adds; False when another run created it first.

    No commit retries: delta-rs would commit a create that lost the race for version 0 as
    version 1, adds and all, with no conflict check (two first scrapes stored every GIF twice);
    without, it fails, and the commit goes on against the winner's table like any other.
    """
    from deltalake import Schema as DeltaSchema
    from deltalake.transaction import create_table_with_add_actions

    spec = c.spec
    if c.remove:
        raise TableError(f"table {spec.name!r} does not exist: nothing to remove")
    try:
        create_table_with_add_actions(table_uri(root, spec.name), DeltaSchema.from_arrow(spec.schema), _add_actions(c),
                                      mode="error", name=spec.name, storage_options=delta_storage_options(root),
                                      commit_properties=_properties(c, txn_id, 0, retries=0))
    except Exception:  # deltalake's errors for "exists" and for a lost race differ: the log says which
        if not exists(root, spec.name):
            raise
        return False
    return True


def _actions(c: TableCommit) -> list[AddAction | RemoveAction]:
    from deltalake.transaction import RemoveAction

    now_ms = int(time.time() * 1000)
    return [*_add_actions(c, now_ms), *(RemoveAction(f.path, True, now_ms, f.size, {}) for f in c.remove)]


def _add_actions(c: TableCommit, now_ms: int | None = None) -> list[AddAction]:
    from deltalake.transaction import AddAction

    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return [AddAction(f.path, f.size, {}, now_ms, True, f'{{"numRecords": {f.rows}}}') for f in c.add]


def _properties(c: TableCommit, txn_id: str | None, version: int, retries: int | None = None) -> CommitProperties:
    """The run's transaction id and one lock per bucket, versioned by the version the commit makes."""
    from deltalake.transaction import CommitProperties, Transaction

    transactions = [Transaction(txn_id, TXN_VERSION)] if txn_id else []
    transactions += [Transaction(BUCKET_LOCK.format(b), version) for b in _buckets(c)]
    return CommitProperties(app_transactions=transactions or None, max_commit_retries=retries)


def _add_new_columns(latest: DeltaTable, spec: TableSpec) -> bool:
    """Columns the code's schema has and the table's log does not (a newer gifrank) are added to
    the table's schema first, so every reader of the format sees them; older rows read them as
    null. The commit is then based on the altered version, checked like any other."""
    from deltalake import Schema as DeltaSchema

    known = {field.name for field in latest.schema().fields}
    missing = [f for f in DeltaSchema.from_arrow(spec.schema).fields if f.name not in known]
    if not missing:
        return False
    latest.alter.add_columns(missing)
    return True


def table_info(root: DatasetRoot | str, spec: TableSpec, version: int | None = None) -> dict[str, Any]:
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


DEFAULT_RETAIN_HOURS = 168  # a week, Delta Lake's own default


def vacuum(root: DatasetRoot | str, spec: TableSpec, retain_hours: float = DEFAULT_RETAIN_HOURS,
           keep_versions: Sequence[int] = (), dry_run: bool = False) -> list[str]:
    """Deletes the table's files no version needs: those removed more than `retain_hours` ago
    (older versions then stop being readable, except `keep_versions`: those a training run
    recorded), and those no commit ever added (a killed run's). Returns the files deleted
    (or that would be, with dry_run)."""
    root = DatasetRoot.of(root)
    if not exists(root, spec.name):
        return []
    return sorted(_delta(root, spec.name).vacuum(
        retention_hours=int(retain_hours), dry_run=dry_run, enforce_retention_duration=False, full=True,
        keep_versions=list(keep_versions) or None))
