"""Dataset tables in Beam pipelines: streamed reads, bucket rewrites spread over workers, one commit step.

    snapshots = table_snapshots(dataset, [tables.GIFS, ...])     # at construction: the versions read
    rows = p | ReadTable(dataset, tables.GIFS, snapshots["gifs"], columns=[...])
    actions = {"rows": new_rows} | WriteTable(dataset, tables.GIFS, snapshots["gifs"])
    actions | CommitTables(dataset, "scrape", run_id, snapshots)

Workers write Parquet files and emit file actions; CommitTables gathers every action
into one element once all writes have finished and commits each table in one
transaction, inside the pipeline, so a job commits whoever launched it and a retried
commit step does not commit twice (its transaction id is the run's).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import apache_beam as beam
from apache_beam.metrics import Metrics

from featurizer.dataset import table_store, table_writes, tables
from featurizer.dataset.storage import DatasetRoot
from featurizer.dataset.table_store import DataFile, Snapshot, TableCommit

LOG = logging.getLogger("gifrank")
ADD, REMOVE = "add", "remove"
DEAD_LETTER_TABLES = frozenset(spec.name for spec in tables.DEADLETTERS.values())


def table_snapshots(dataset: str, specs: Iterable[tables.TableSpec]) -> dict[str, Snapshot]:
    """Each table's files as the run reads them; its commit is checked against these versions."""
    root = DatasetRoot.open(dataset)
    return {spec.name: table_store.snapshot(root, spec) for spec in specs}


class ReadTable(beam.PTransform):
    """The rows of a table snapshot as dicts, streamed in record batches, one read task per file."""

    def __init__(self, root_uri: str, spec: tables.TableSpec, snapshot: Snapshot | None = None,
                 columns: Sequence[str] | None = None):
        super().__init__()
        self._root_uri = root_uri
        self._spec = spec
        self._snapshot = snapshot
        self._columns = list(columns) if columns else None

    def expand(self, pbegin):
        snapshot = self._snapshot or table_store.snapshot(self._root_uri, self._spec)
        return (pbegin
                | "ListFiles" >> beam.Create([f.path for f in snapshot.files])
                | "SpreadFiles" >> beam.Reshuffle()
                | "ReadFile" >> beam.FlatMap(_file_rows, self._root_uri, self._spec, self._columns))


def _file_rows(path: str, root_uri: str, spec: tables.TableSpec, columns):
    for batch in table_store.iter_file_batches(root_uri, spec, [path], columns):
        yield from tables.batch_to_rows(batch)


class _RewriteBucket(beam.DoFn):
    """(bucket, tagged items) -> the file actions that give the bucket its new rows
    (table_writes.rewrite_bucket); none when its content stays the same."""

    def __init__(self, root_uri: str, spec: tables.TableSpec, files: dict[int, list[DataFile]],
                 replace_scope, settle_fields: tuple[str, ...]):
        self._root_uri = root_uri
        self._spec = spec
        self._files = files
        self._replace_scope = replace_scope
        self._settle_fields = settle_fields
        self._rewritten = Metrics.counter("gifrank.tables", f"{spec.name}_buckets_rewritten")

    def process(self, keyed):
        bucket, items = keyed
        new, settled = [], set()
        for tag, value in items:
            (new.append if tag == "row" else settled.add)(value)
        rewrite = table_writes.rewrite_bucket(self._root_uri, self._spec, bucket, self._files.get(bucket, []), new,
                                              settled=settled, settle_fields=self._settle_fields,
                                              replace_scope=self._replace_scope)
        if rewrite.changed:
            self._rewritten.inc()
        for f in rewrite.remove:
            yield self._spec.name, REMOVE, f
        for f in rewrite.add:
            yield self._spec.name, ADD, f


class WriteTable(beam.PTransform):
    """Rows into a bucketed table, rewriting only the buckets they change -> file actions.

    Input: {"rows": new rows (upserted by key), "settled" (optional): values; an old row
    whose `settle_fields` hold one of them is dropped}. With `replace_scope(row) -> bool`,
    the old rows in scope are all replaced: the run's rows are their whole new content.
    Output: (table, "add" | "remove", DataFile) for CommitTables. Each bucket is rewritten
    on a worker by table_writes.rewrite_bucket, as table_writes.write_rows does in one process.
    """

    def __init__(self, root_uri: str, spec: tables.TableSpec, snapshot: Snapshot, *, replace_scope=None,
                 settle_fields: tuple[str, ...] = ()):
        super().__init__()
        if spec.buckets < 1:
            raise ValueError(f"table {spec.name!r} is not bucketed: its files are written by the pipeline")
        self._root_uri = root_uri
        self._spec = spec
        self._snapshot = snapshot
        self._replace_scope = replace_scope
        self._settle_fields = settle_fields

    def expand(self, pcolls):
        spec = self._spec
        files = table_store.files_by_bucket(spec, self._snapshot.files)
        tagged = [pcolls["rows"] | "BucketRows" >> beam.Map(lambda r: (spec.bucket_of(r), ("row", r)))]
        if "settled" in pcolls and files:  # nothing stored yet: nothing to settle, nothing to shuffle
            # A settled value may name a row of any bucket: every bucket with files hears of it.
            buckets = sorted(files)
            tagged.append(pcolls["settled"] | "DistinctSettled" >> beam.Distinct()
                          | "ToBuckets" >> beam.FlatMap(lambda v: [(b, ("settle", v)) for b in buckets]))
        if self._replace_scope is not None:
            tagged.append(pcolls["rows"].pipeline | "OldBuckets" >> beam.Create([(b, ("touch", None)) for b in files]))
        return (tagged | "Tagged" >> beam.Flatten() | "GroupBuckets" >> beam.GroupByKey()
                | "RewriteBuckets" >> beam.ParDo(_RewriteBucket(
                    self._root_uri, spec, files, self._replace_scope, self._settle_fields)))


class CommitTables(beam.PTransform):
    """Every file action of the run -> one element -> one transaction per table, in `order`,
    dead-letter tables first.

    Runs after every write has finished (it waits for all actions). Every table's commit
    is checked against the version the run read before any is committed: another run
    that committed to the same buckets since refuses this run's commit whole
    (table_store.ConcurrentCommit; nothing is lost, a rerun completes). Each carries the
    run's transaction id, so a retried step commits nothing twice. Output: {table: new
    version or None}.
    """

    def __init__(self, root_uri: str, pipeline: str, run_id: str, snapshots: dict[str, Snapshot],
                 order: Sequence[tables.TableSpec]):
        super().__init__()
        self._root_uri = root_uri
        self._txn_id = f"gifrank-{pipeline}-{run_id}"
        self._versions = {name: s.version for name, s in snapshots.items()}
        # Dead letters first: a run cut short after them (refused in a race, or killed) has settled
        # dead letters of records it did not store, which its rerun reads again; cut short after its
        # rows, it would leave dead letters of records now stored, which a rerun skips (scrape, align).
        self._order = sorted(order, key=lambda spec: spec.name not in DEAD_LETTER_TABLES)

    def expand(self, actions):
        return (actions
                | "Gather" >> beam.CombineGlobally(beam.combiners.ToListCombineFn())
                | "Commit" >> beam.Map(self._commit))

    def _commit(self, actions: list) -> dict:
        root = DatasetRoot.open(self._root_uri)
        unknown = {name for name, _kind, _f in actions} - {spec.name for spec in self._order}
        if unknown:
            raise ValueError(f"file actions for tables this run does not commit: {sorted(unknown)}")
        commits = [TableCommit(spec, self._versions.get(spec.name), _files(actions, spec, ADD),
                               _files(actions, spec, REMOVE)) for spec in self._order]
        committed = table_store.commit_tables(root, commits, self._txn_id)
        for c in commits:
            if committed[c.spec.name] is not None:
                Metrics.counter("gifrank.tables", f"{c.spec.name}_files_added").inc(len(c.add))
                Metrics.counter("gifrank.tables", f"{c.spec.name}_files_removed").inc(len(c.remove))
                LOG.info("committed %s version %d: %d files added, %d removed", c.spec.name, committed[c.spec.name],
                         len(c.add), len(c.remove))
        return committed


def _files(actions: list, spec: tables.TableSpec, kind: str) -> tuple[DataFile, ...]:
    return tuple(sorted((f for name, k, f in actions if name == spec.name and k == kind), key=lambda f: f.path))


def settled_values(rows, fields: tuple[str, ...], label: str = "Settled"):
    """The values of `fields` in `rows`: what a run settles in its dead letters."""
    return rows | label >> beam.FlatMap(lambda r: [r[f] for f in fields if r.get(f)])
