"""Rows into a table: the one way gifrank changes a table's rows, in Beam or in one process.

    rewrite = rewrite_bucket(root, tables.GIFS, bucket, old_files, rows)   # one bucket's new file
    version = write_rows(root, tables.GIFS, rows)                          # rows upserted, committed
    version = write_rows(root, tables.GIFS, rows, replace_scope=every_row) # rows as the whole content

A bucketed table's rows are upserted by key, a bucket at a time: the bucket's old rows, less
those the run replaces or settles, plus the new rows, written as one new file when that
differs from the old content (an old row equal to its new one but for volatile columns
stays as it was). pipelines.transforms.table_io.WriteTable runs rewrite_bucket on workers,
one bucket each; write_rows runs the same rewrites in this process and commits them
(notebooks, tests, benchmarks). Files of a table of buckets == 0 are written once, never
rewritten: write_rows adds new ones only.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from featurizer.dataset import table_store
from featurizer.dataset.storage import DatasetRoot
from featurizer.dataset.table_store import DataFile, TableError
from featurizer.dataset.tables import TableSpec, batch_to_rows, rows_to_arrow

Row = Mapping[str, Any]
# Which old rows a run's rows replace whole (all of them are dropped, the run's rows are their new content).
ReplaceScope = Callable[[Row], bool]


def every_row(row: Row) -> bool:
    """replace_scope for rows that are a table's whole new content."""
    return True


@dataclass(frozen=True)
class BucketRewrite:
    """The file actions that give one bucket its new rows: none when its content stays the same."""

    bucket: int
    add: tuple[DataFile, ...] = ()
    remove: tuple[DataFile, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.add or self.remove)


def rewrite_bucket(root: DatasetRoot | str, spec: TableSpec, bucket: int, old_files: Sequence[DataFile],
                   rows: Iterable[Row], *, settled: Collection[Any] = (), settle_fields: Sequence[str] = (),
                   replace_scope: ReplaceScope | None = None) -> BucketRewrite:
    """One bucket's new content, written as one new file: its old rows (from `old_files`) less those
    in `replace_scope` and those whose `settle_fields` hold a `settled` value, with `rows` upserted
    by key. The same key twice in `rows`: one wins, whatever the order they came in."""
    old_table = (pa.concat_tables([table_store.read_file(root, spec, f.path) for f in old_files])
                 if old_files else spec.schema.empty_table())
    old_rows = batch_to_rows(old_table)
    old_by_key = {spec.key_of(r): r for r in old_rows}
    merged = {spec.key_of(r): r for r in old_rows
              if not (replace_scope is not None and replace_scope(r))
              and not any(r.get(f) in settled for f in settle_fields)}
    for row in sorted(rows, key=lambda r: (spec.key_of(r), repr(sorted(r.items(), key=lambda kv: kv[0])))):
        key, old = spec.key_of(row), old_by_key.get(spec.key_of(row))
        merged[key] = old if old is not None and spec.same_row(old, row) else spec.conform(row)
    table = rows_to_arrow(spec, merged.values())
    if len(old_files) <= 1 and table.equals(old_table):
        return BucketRewrite(bucket)
    added = (table_store.write_file(root, spec, table, spec.bucket_file_prefix(bucket)),) if table.num_rows else ()
    return BucketRewrite(bucket, added, tuple(old_files))


def write_rows(root: DatasetRoot | str, spec: TableSpec, rows: Iterable[Row], *,
               replace_scope: ReplaceScope | None = None, settled: Collection[Any] = (),
               settle_fields: Sequence[str] = (), txn_id: str | None = None) -> int | None:
    """Writes `rows` into the table's latest version, as WriteTable and CommitTables do in a
    pipeline, and commits; returns the new version, or None when nothing changed.

    Bucketed tables: the buckets the rows fall in are rewritten (rewrite_bucket), and with
    `replace_scope` or `settled` every bucket holding files. Tables of buckets == 0: one new
    file per file_key value (TableSpec.file_name_of) is added; their files are written once,
    so a file committed already, or old rows to replace or settle, are refused."""
    root = DatasetRoot.of(root)
    read = table_store.snapshot(root, spec)
    if spec.buckets == 0:
        added = _new_named_files(root, spec, read, rows, replacing=replace_scope is not None or bool(settled))
        return table_store.commit(root, spec, read.version, added, (), txn_id)
    old = table_store.files_by_bucket(spec, read.files)
    by_bucket: dict[int, list[Row]] = {}
    for row in rows:
        by_bucket.setdefault(spec.bucket_of(row), []).append(row)
    touched = set(by_bucket) | (set(old) if replace_scope is not None or (settled and settle_fields) else set())
    rewrites = [rewrite_bucket(root, spec, b, old.get(b, []), by_bucket.get(b, []), settled=settled,
                               settle_fields=settle_fields, replace_scope=replace_scope) for b in sorted(touched)]
    return table_store.commit(root, spec, read.version, [f for r in rewrites for f in r.add],
                              [f for r in rewrites for f in r.remove], txn_id)


def _new_named_files(root: DatasetRoot, spec: TableSpec, read: table_store.Snapshot, rows: Iterable[Row],
                     replacing: bool) -> list[DataFile]:
    if replacing and read.files:
        raise TableError(f"table {spec.name!r}: its files are written once, never rewritten: rows can only be "
                         "added to it, not replace or settle its rows")
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(spec.file_name_of(row), []).append(row)
    committed = {f.path for f in read.files}
    written = []
    for name, members in sorted(groups.items()):
        if name in committed:
            raise TableError(f"table {spec.name!r}: file {name} is committed already, and its files are "
                             "written once, never rewritten")
        written.append(table_store.write_named_file(root, spec, rows_to_arrow(spec, members), name))
    return written
