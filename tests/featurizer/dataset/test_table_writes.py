"""The one table writer: bucket rewrites (what WriteTable runs on workers) and write_rows, the same in one
process; tables of buckets == 0 take new files only."""
import pyarrow as pa
import pytest

from featurizer.dataset import table_store, tables
from featurizer.dataset.table_writes import BucketRewrite, every_row, rewrite_bucket, write_rows
from tests.rows import feature_rows

SPEC = tables.TableSpec(name="things", key=("id",), cluster_by="group", buckets=4, volatile=("seen",),
                        schema=pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("group", pa.string()),
                                          pa.field("value", pa.int64()), pa.field("seen", pa.int64())]))


def _row(i: int, value: int = 0, seen: int = 0) -> dict:
    return {"id": f"id{i:02d}", "group": f"g{i % 8}", "value": value, "seen": seen}


def _table(root: str) -> dict:
    return {r["id"]: (r["value"], r["seen"]) for r in table_store.read_rows(root, SPEC)}


def test_a_bucket_rewrite_writes_its_new_content_or_nothing(tmp_path):
    root, bucket = str(tmp_path), tables.bucket_of("g1", 4)
    first = rewrite_bucket(root, SPEC, bucket, [], [_row(1), _row(9)])
    [written] = first.add
    assert first.remove == () and first.changed and written.path.startswith(SPEC.bucket_file_prefix(bucket) + "-")
    assert SPEC.bucket_of_file(written.path) == bucket and written.rows == 2
    assert rewrite_bucket(root, SPEC, bucket, [written], [_row(9, seen=5)]) == BucketRewrite(bucket)  # volatile only
    settled = rewrite_bucket(root, SPEC, bucket, [written], [], settled={"id09"}, settle_fields=("id",))
    assert settled.remove == (written,) and [f.rows for f in settled.add] == [1]
    emptied = rewrite_bucket(root, SPEC, bucket, [written], [], replace_scope=every_row)
    assert (emptied.add, emptied.remove) == ((), (written,))


def test_write_rows_upserts_and_rewrites_only_the_buckets_it_changes(tmp_path):
    root = str(tmp_path)
    assert write_rows(root, SPEC, [_row(i) for i in range(16)]) == 0
    before = set(table_store.snapshot(root, SPEC).files)
    assert write_rows(root, SPEC, [_row(3, value=30), _row(5, seen=9)]) == 1
    after = set(table_store.snapshot(root, SPEC).files)
    assert len(after - before) == 1 and len(before - after) == 1  # bucket of row 3 only: row 5 changed nothing
    assert _table(root) == {**{f"id{i:02d}": (0, 0) for i in range(16)}, "id03": (30, 0)}
    assert write_rows(root, SPEC, [_row(3, value=30)]) is None  # nothing changed: no version


def test_write_rows_replaces_or_settles_old_rows(tmp_path):
    root = str(tmp_path)
    write_rows(root, SPEC, [_row(i) for i in range(6)])
    write_rows(root, SPEC, [_row(1, value=5)], settled=["id02", "id04"], settle_fields=("id",))
    assert _table(root) == {"id00": (0, 0), "id01": (5, 0), "id03": (0, 0), "id05": (0, 0)}
    assert write_rows(root, SPEC, [_row(7, value=7), _row(0, seen=3)], replace_scope=every_row, txn_id="r") == 2
    assert _table(root) == {"id00": (0, 0), "id07": (7, 0)}  # the whole new content; row 0's old self kept
    assert write_rows(root, SPEC, [_row(8)], replace_scope=every_row, txn_id="r") is None  # a retried commit


def test_features_files_are_written_once(tmp_path):
    root = str(tmp_path)
    assert write_rows(root, tables.FEATURES, feature_rows(1, 3) + feature_rows(2, 2)) == 0
    assert sorted(f.path for f in table_store.snapshot(root, tables.FEATURES).files) == sorted(
        tables.features_file_name(f"{v:064x}", r[0]["segmenter"], r[0]["feature_extractor"])
        for v, r in ((1, feature_rows(1, 1)), (2, feature_rows(2, 1))))
    assert write_rows(root, tables.FEATURES, feature_rows(3, 1)) == 1  # another video: a file added
    with pytest.raises(table_store.TableError, match="is committed already"):
        write_rows(root, tables.FEATURES, feature_rows(2, 2))
    with pytest.raises(table_store.TableError, match="written once"):
        write_rows(root, tables.FEATURES, feature_rows(4, 1), replace_scope=every_row)
    assert table_store.read_table(root, tables.FEATURES).num_rows == 6
