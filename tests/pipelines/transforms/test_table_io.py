"""Tables in Beam pipelines: bucket rewrites touch only what changed, settled rows go, one idempotent commit."""
import apache_beam as beam
import apache_beam.testing.util
import pyarrow as pa
import pytest

from featurizer.dataset import table_store, tables
from featurizer.dataset.tables import TableSpec, bucket_of
from pipelines.stage import cause_in
from pipelines.transforms.dead_letters import WriteDeadLetters
from pipelines.transforms.table_io import CommitTables, ReadTable, WriteTable, table_snapshots
from tests.rows import dead_letter_row, write_table

SPEC = TableSpec(name="things", key=("id",), cluster_by="group", buckets=4, volatile=("seen",),
                 schema=pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("group", pa.string()),
                                   pa.field("value", pa.int64()), pa.field("seen", pa.int64())]))


def _row(i, value=0, seen=0, group=None):
    return {"id": f"id{i:02d}", "group": group or f"g{i % 8}", "value": value, "seen": seen}


def _write(root, rows, *, settled=None, replace_scope=None, run_id="r1", snapshots=None):
    """One pipeline run writing `rows` into SPEC (having read `snapshots`, default: the latest);
    returns the committed version (None: nothing changed)."""
    root = str(root)
    snapshots = snapshots or table_snapshots(root, [SPEC])
    with beam.Pipeline("DirectRunner") as p:
        inputs = {"rows": p | "Rows" >> beam.Create(rows)}
        if settled is not None:
            inputs["settled"] = p | "Settled" >> beam.Create(settled)
        actions = inputs | WriteTable(root, SPEC, snapshots[SPEC.name], replace_scope=replace_scope,
                                      settle_fields=("id",) if settled is not None else ())
        actions | CommitTables(root, "test", run_id, snapshots, [SPEC])
    version = table_store.snapshot(root, SPEC).version
    return None if version == snapshots[SPEC.name].version else version


def _table(root):
    return {r["id"]: (r["value"], r["seen"]) for r in table_store.read_rows(str(root), SPEC)}


def test_first_write_and_upserts_rewrite_only_the_buckets_they_change(tmp_path):
    assert _write(tmp_path, [_row(i) for i in range(16)]) == 0
    before = table_store.snapshot(str(tmp_path), SPEC)
    assert len(before.files) == len({bucket_of(f"g{i}", 4) for i in range(8)})
    assert _write(tmp_path, [_row(3, value=30)], run_id="r2") == 1
    after = table_store.snapshot(str(tmp_path), SPEC)
    changed_bucket = SPEC.bucket_file_prefix(bucket_of("g3", 4))
    assert {f for f in before.files if not f.path.startswith(changed_bucket)} <= set(after.files)
    assert len(set(after.files) - set(before.files)) == 1  # one bucket rewritten
    assert _table(tmp_path) == {**{f"id{i:02d}": (0, 0) for i in range(16)}, "id03": (30, 0)}


def test_equal_rows_but_for_volatile_columns_change_nothing(tmp_path):
    _write(tmp_path, [_row(i, seen=1) for i in range(6)])
    assert _write(tmp_path, [_row(i, seen=2) for i in range(6)], run_id="r2") is None  # no new version
    assert table_store.snapshot(str(tmp_path), SPEC).version == 0
    assert set(v for v in _table(tmp_path).values()) == {(0, 1)}  # the old rows stayed


def test_settled_rows_are_dropped_and_others_kept(tmp_path):
    _write(tmp_path, [_row(i) for i in range(6)])
    _write(tmp_path, [_row(1, value=5)], settled=["id01", "id02", "id04"], run_id="r2")
    assert _table(tmp_path) == {"id00": (0, 0), "id01": (5, 0), "id03": (0, 0), "id05": (0, 0)}


def test_replace_scope_replaces_the_rows_in_scope_only(tmp_path):
    _write(tmp_path, [_row(i, group="a") for i in range(3)] + [_row(i, group="b") for i in range(3, 6)])
    _write(tmp_path, [_row(0, value=9, group="a")], replace_scope=lambda r: r["group"] == "a", run_id="r2")
    assert _table(tmp_path) == {"id00": (9, 0), "id03": (0, 0), "id04": (0, 0), "id05": (0, 0)}


def test_a_retried_commit_step_commits_once(tmp_path):
    assert _write(tmp_path, [_row(1)], run_id="same") == 0
    # The same run again (a retried job): its transaction id is in the log, nothing is committed twice.
    assert _write(tmp_path, [_row(1, value=7)], run_id="same") is None
    assert _table(tmp_path) == {"id01": (0, 0)} and table_store.snapshot(str(tmp_path), SPEC).version == 0


def test_read_table_streams_every_row_of_a_snapshot(tmp_path):
    _write(tmp_path, [_row(i, value=i) for i in range(40)])
    snapshot = table_store.snapshot(str(tmp_path), SPEC)
    with beam.Pipeline("DirectRunner") as p:
        values = p | ReadTable(str(tmp_path), SPEC, snapshot, columns=["value"]) | beam.Map(lambda r: r["value"])
        beam.testing.util.assert_that(values, beam.testing.util.equal_to(list(range(40))))


def test_a_file_of_another_bucket_count_is_a_clear_error(tmp_path):
    _write(tmp_path, [_row(1)])
    other = TableSpec(name=SPEC.name, key=SPEC.key, cluster_by=SPEC.cluster_by, buckets=8, schema=SPEC.schema)
    with pytest.raises(table_store.TableError, match="not one of its 8 buckets"):
        with beam.Pipeline("DirectRunner") as p:
            {"rows": p | beam.Create([_row(2)])} | WriteTable(str(tmp_path), other,
                                                              table_store.snapshot(str(tmp_path), other))


def test_runs_that_read_one_version_and_write_one_bucket_one_commits_and_a_rerun_completes(tmp_path):
    _write(tmp_path, [_row(i) for i in range(8)])
    read = table_snapshots(str(tmp_path), [SPEC])  # two runs read version 0
    same_bucket = next(i for i in range(8, 64) if bucket_of(f"g{i % 8}", 4) == bucket_of("g1", 4))
    assert _write(tmp_path, [_row(1, value=5)], run_id="r2", snapshots=read) == 1
    # The second run's rows would replace the bucket the first just rewrote: refused, its error found in Beam's.
    with pytest.raises(Exception) as refused:
        _write(tmp_path, [_row(same_bucket, value=7)], run_id="r3", snapshots=read)
    assert str(cause_in(refused.value, table_store.ConcurrentCommit)) == (
        f"table things: another run committed bucket {bucket_of('g1', 4)} since this run read version 0 (now "
        "version 1); nothing of this run was committed, nothing is lost: run the command again")
    assert table_store.snapshot(str(tmp_path), SPEC).version == 1
    assert _write(tmp_path, [_row(same_bucket, value=7)], run_id="r3") == 2  # the rerun reads version 1
    assert _table(tmp_path) == {**{f"id{i:02d}": (0, 0) for i in range(8)}, "id01": (5, 0),
                                f"id{same_bucket:02d}": (7, 0)}


def test_a_run_refused_after_a_commit_has_committed_its_dead_letters_only_and_a_rerun_completes(
        tmp_path, monkeypatch):
    root, dead = str(tmp_path), tables.DEADLETTERS["scrape"]
    _write(tmp_path, [_row(i) for i in range(8)])
    write_table(root, dead, [{**dead_letter_row(9), "record_key": "id09"}])  # id09 failed before

    def store_row_9(run_id):  # id09 succeeds: its row is stored, its dead letter settled
        snapshots = table_snapshots(root, [SPEC, dead])
        with beam.Pipeline("DirectRunner") as p:
            rows = p | "Rows" >> beam.Create([_row(9, value=9)])
            actions = ({"rows": rows} | WriteTable(root, SPEC, snapshots[SPEC.name]),
                       {"dead": p | "NoDead" >> beam.Create([]), "settled": rows | beam.Map(lambda r: r["id"])}
                       | WriteDeadLetters(root, "scrape", snapshots[dead.name]))
            actions | beam.Flatten() | CommitTables(root, "test", run_id, snapshots, [SPEC, dead])

    real = table_store._add_new_columns

    def racer_commits_first(latest, spec):  # another run, between this run's check of SPEC and its commit
        if spec.name == SPEC.name and not raced:
            raced.append(True)
            racer = table_store.write_file(root, SPEC, tables.rows_to_arrow(SPEC, [_row(17)]),
                                           SPEC.bucket_file_prefix(bucket_of("g1", 4)))  # row 9's bucket
            table_store.commit(root, SPEC, latest.version(), [racer], txn_id="racer")
        return real(latest, spec)

    raced = []
    monkeypatch.setattr(table_store, "_add_new_columns", racer_commits_first)
    with pytest.raises(Exception) as refused:
        store_row_9("r2")
    assert str(cause_in(refused.value, table_store.ConcurrentCommit)).endswith(
        "this run committed table deadletter_scrape and nothing else, nothing is lost: run the command again")
    assert table_store.read_rows(root, dead) == [] and "id09" not in _table(tmp_path)  # to be read again
    store_row_9("r3")  # the rerun
    assert _table(tmp_path) == {**{f"id{i:02d}": (0, 0) for i in range(8)}, "id09": (9, 0), "id17": (0, 0)}

