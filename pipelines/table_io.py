"""Reading and writing dataset tables in pipelines: merged by key, sharded deterministically, committed at the end.

A run stages its shards under ROOT/tables/<table>/_staging/<run_id>/; the launcher calls
`commit_staged` after the pipeline has finished, so a failed run leaves the table as it was.
"""
from __future__ import annotations

import apache_beam as beam

from featurizer import tables
from featurizer.storage import DatasetRoot


class ReadTable(beam.PTransform):
    """The table's current rows (one read task per shard)."""

    def __init__(self, root_uri: str, spec: tables.TableSpec):
        super().__init__()
        self._root_uri = root_uri
        self._spec = spec

    def expand(self, pbegin):
        files = tables.shard_files(DatasetRoot.open(self._root_uri), self._spec)
        return (pbegin
                | "ListShards" >> beam.Create(files)
                | "ReadShard" >> beam.FlatMap(_read_shard_rows, self._root_uri, self._spec))


def _read_shard_rows(path: str, root_uri: str, spec: tables.TableSpec):
    return tables.read_shard(DatasetRoot.open(root_uri), spec, path).to_pylist()


class _WriteShard(beam.DoFn):
    def __init__(self, root_uri: str, spec: tables.TableSpec, run_id: str, num_shards: int):
        self._root_uri = root_uri
        self._spec = spec
        self._run_id = run_id
        self._num_shards = num_shards

    def process(self, shard_rows):
        index, rows = shard_rows
        root = DatasetRoot.open(self._root_uri)
        path = tables.staging_path(root, self._spec, self._run_id) + "/" + tables.shard_name(index, self._num_shards)
        yield self._spec.name, tables.write_shard(root, self._spec, path, rows)


class WriteTable(beam.PTransform):
    """Stages `rows` as the table's new content, merged with `existing` rows by key.

    Input: (new rows, existing rows). New rows replace existing rows with the same key.
    Output: (table name, rows written) per shard.
    """

    def __init__(self, root_uri: str, spec: tables.TableSpec, run_id: str, num_shards: int = 1):
        super().__init__()
        self._root_uri = root_uri
        self._spec = spec
        self._run_id = run_id
        self._num_shards = num_shards

    def expand(self, pcolls):
        new, existing = pcolls
        key_of = self._spec.key_of
        num_shards = self._num_shards
        merged = (
            {"new": new | "KeyNew" >> beam.Map(lambda r: (key_of(r), r)),
             "old": existing | "KeyOld" >> beam.Map(lambda r: (key_of(r), r))}
            | "JoinByKey" >> beam.CoGroupByKey()
            | "NewestWins" >> beam.Map(_newest)
        )
        return (
            merged
            | "KeyByShard" >> beam.Map(lambda r: (tables.shard_of(key_of(r), num_shards), r))
            | "GroupShards" >> beam.GroupByKey()
            | "WriteShards" >> beam.ParDo(_WriteShard(self._root_uri, self._spec, self._run_id, num_shards))
        )


def _newest(keyed):
    _key, grouped = keyed
    new, old = list(grouped["new"]), list(grouped["old"])
    if len(new) > 1:
        # The same key twice in one run: keep one, deterministically.
        new.sort(key=repr)
    return (new or old)[0]


class WriteRunResults(beam.PTransform):
    """A run's results: its rows merged into `spec`, its dead letters into the deadletter table.

    Input: {"rows": new rows, "existing": the table's rows to keep, "dead": new dead
    letters, "settled" (optional): more records this run decided}. Earlier dead letters
    of `pipeline` are dropped when this run settled their record: their record_key is
    one of `settled_fields` of a new row, a new dead letter or a settled record.
    """

    def __init__(self, pipeline: str, root_uri: str, spec: tables.TableSpec, run_id: str, num_shards: int,
                 settled_fields: tuple[str, ...]):
        super().__init__()
        self._pipeline = pipeline
        self._root_uri = root_uri
        self._spec = spec
        self._run_id = run_id
        self._num_shards = num_shards
        self._settled_fields = settled_fields

    def expand(self, pcolls):
        from pipelines.deadletters import StillCurrentDeadLetters

        rows, dead = pcolls["rows"], pcolls["dead"]
        existing_dead = rows.pipeline | "ReadDeadLetters" >> ReadTable(self._root_uri, tables.DEADLETTER)
        settled = (rows, dead, *([pcolls["settled"]] if "settled" in pcolls else [])) | "Settled" >> beam.Flatten()
        current_dead = (existing_dead, settled) | "StillCurrent" >> StillCurrentDeadLetters(
            self._pipeline, self._settled_fields)
        (rows, pcolls["existing"]) | f"Write{self._spec.name.title()}" >> WriteTable(
            self._root_uri, self._spec, self._run_id, self._num_shards)
        (dead, current_dead) | "WriteDeadLetters" >> WriteTable(
            self._root_uri, tables.DEADLETTER, self._run_id, self._num_shards)


def commit(root_uri: str, run_id: str, specs) -> dict[str, int]:
    """Swaps in every staged table of run `run_id`; returns shard counts by table."""
    root = DatasetRoot.open(root_uri)
    return {spec.name: tables.commit_staged(root, spec, run_id) for spec in specs}
