"""Blob store and tables: content addressing, streaming commits, deterministic files, Delta commits."""
import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurizer.dataset import table_store, tables
from featurizer.dataset.blobs import BlobStore
from tests.rows import dead_letter_row


def test_blob_is_named_by_sha256_and_streamed(tmp_path):
    store = BlobStore(str(tmp_path))
    chunks = [b"GIF89a", b"x" * 100_000, b"tail"]
    with store.writer() as w:
        for c in chunks:
            w.write(c)
        sha, size = w.commit()
    data = b"".join(chunks)
    assert sha == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert (tmp_path / "blobs" / sha[:2] / sha).read_bytes() == data
    assert store.exists(sha) and store.count() == 1


def test_validator_sees_first_bytes_and_refusal_stores_nothing(tmp_path):
    store = BlobStore(str(tmp_path))
    seen = []

    def refuse(head):
        seen.append(head)
        raise ValueError("not wanted")

    with pytest.raises(ValueError):
        with store.writer(refuse) as w:
            w.write(b"<html>")
            w.write(b"a" * 1000)
    assert seen[0].startswith(b"<html>aaa") and len(seen[0]) == 512
    assert store.count() == 0
    assert not list((tmp_path / "blobs" / "_incoming").iterdir())


def test_reset_discards_partial_download_and_short_bodies_are_validated(tmp_path):
    store = BlobStore(str(tmp_path))
    heads = []
    with store.writer(heads.append) as w:
        w.write(b"partial" * 200)
        w.reset()
        w.write(b"GIF89a-short")
        sha, size = w.commit()
    assert heads[-1] == b"GIF89a-short"
    assert size == 12 and sha == hashlib.sha256(b"GIF89a-short").hexdigest()
    assert store.put_bytes(b"GIF89a-short") == (sha, size)  # same content: one blob
    assert store.count() == 1


def test_bucket_files_are_deterministic_and_sorted(tmp_path):
    spec = tables.DEADLETTERS["scrape"]
    rows = [dead_letter_row(i) for i in range(50)]
    a = table_store.write_file(str(tmp_path), spec, tables.rows_to_arrow(spec, rows), "b0000of0001")
    b = table_store.write_file(str(tmp_path), spec, tables.rows_to_arrow(spec, rows[::-1]), "b0000of0001")
    assert a == b  # same rows in any order: the same bytes, so the same content-hashed name
    table = table_store.read_file(str(tmp_path), spec, a.path)
    assert table.column("record_key").to_pylist() == sorted(r["record_key"] for r in rows)
    assert {tables.bucket_of(r["record_key"], 4) for r in rows} == {0, 1, 2, 3}
    assert tables.bucket_of("k001", 4) == int(hashlib.sha1(b"k001").hexdigest()[:16], 16) % 4


def test_conform_refuses_unknown_columns():
    with pytest.raises(ValueError, match="no columns"):
        tables.GIFS.conform({"gif_id": "x", "colour": "red"})


def test_commits_are_versions_and_a_stale_commit_is_refused(tmp_path):
    from deltalake.exceptions import CommitFailedError

    spec = tables.DEADLETTERS["scrape"]
    root = str(tmp_path)
    assert table_store.snapshot(root, spec).version is None
    assert table_store.read_table(root, spec).num_rows == 0
    v0 = table_store.replace_table(root, spec, [dead_letter_row(i) for i in range(3)])
    first = table_store.snapshot(root, spec)
    v1 = table_store.replace_table(root, spec, [dead_letter_row(i) for i in range(2)])
    assert (v0, v1) == (0, 1)
    assert [r["record_key"] for r in table_store.read_rows(root, spec)] == ["k000", "k001"]
    assert table_store.read_table(root, spec, version=0).num_rows == 3  # old versions stay readable
    # A writer that read version 0 and removes its file again after version 1 removed it: refused.
    late = table_store.write_file(root, spec, tables.rows_to_arrow(spec, [dead_letter_row(9)]), "b0000of0001")
    with pytest.raises(CommitFailedError):
        table_store.commit(root, spec, first.version, [late], list(first.files), txn_id="late")
    assert table_store.snapshot(root, spec).version == 1
    [committed] = table_store.snapshot(root, spec).files
    on_disk = (tmp_path / "tables" / spec.name / committed.path).stat().st_size  # the size as the file system has it
    assert table_store.table_info(root, spec) == {"table": spec.name, "version": 1, "rows": 2, "files": 1,
                                                  "bytes": on_disk}


def test_a_retried_commit_commits_once(tmp_path):
    spec = tables.DEADLETTERS["align"]
    root = str(tmp_path)
    f = table_store.write_file(root, spec, tables.rows_to_arrow(spec, [dead_letter_row(1)]), "b0000of0001")
    assert table_store.commit(root, spec, None, [f], txn_id="run-1") == 0
    assert table_store.commit(root, spec, None, [f], txn_id="run-1") is None
    assert table_store.commit(root, spec, 0, [], [], txn_id="run-2") is None  # nothing to commit: no version
    assert table_store.snapshot(root, spec).version == 0 and table_store.read_table(root, spec).num_rows == 1


def test_uncommitted_files_are_not_part_of_the_table(tmp_path):
    spec = tables.DEADLETTERS["align"]
    root = str(tmp_path)
    table_store.replace_table(root, spec, [dead_letter_row(1)])
    table_store.write_file(root, spec, tables.rows_to_arrow(spec, [dead_letter_row(2), dead_letter_row(3)]), "b0000of0001")
    assert [r["record_key"] for r in table_store.read_rows(root, spec)] == ["k001"]


def test_features_round_trip_as_float32_arrays_and_stream_in_batches(tmp_path):
    rng = np.random.default_rng(0)
    rows = [{"video_sha256": f"{v:064x}", "segmenter": "s", "feature_extractor": "e", "segment_index": i,
             "start_frame": 16 * i, "end_frame": 16 * i + 16, "start_sec": i * 0.64, "end_sec": i * 0.64 + 0.64,
             "fps": 25.0, "video_num_frames": 400, "snippets": 1,
             "features": rng.standard_normal(tables.C3D_FEATURES).astype(np.float32)}
            for v in range(3) for i in range(5)]
    table_store.replace_table(str(tmp_path), tables.FEATURES, rows)
    assert len(table_store.snapshot(str(tmp_path), tables.FEATURES).files) == 3  # one file per video
    batches = list(table_store.iter_batches(str(tmp_path), tables.FEATURES, batch_rows=4))
    assert max(b.num_rows for b in batches) <= 4 and sum(b.num_rows for b in batches) == 15
    assert batches[0].schema.field("features").type == pa.list_(pa.float32(), tables.C3D_FEATURES)
    back = {(r["video_sha256"], r["segment_index"]): r["features"] for b in batches for r in tables.batch_to_rows(b)}
    for row in rows:
        got = back[(row["video_sha256"], row["segment_index"])]
        assert got.dtype == np.float32 and np.array_equal(got, row["features"])


def test_a_dataset_of_the_old_layout_is_a_clear_error(tmp_path):
    folder = tmp_path / "tables" / "gifs"
    folder.mkdir(parents=True)
    pq.write_table(tables.GIFS.schema.empty_table(), folder / "part-00000-of-00001.parquet")
    with pytest.raises(table_store.TableError, match="no Delta log"):
        table_store.snapshot(str(tmp_path), tables.GIFS)


def test_a_log_folder_without_a_first_commit_is_no_table_yet(tmp_path):
    spec = tables.DEADLETTERS["align"]
    (tmp_path / "tables" / spec.name / "_delta_log").mkdir(parents=True)  # a run killed creating the table
    assert table_store.snapshot(str(tmp_path), spec).version is None
    assert table_store.replace_table(str(tmp_path), spec, [dead_letter_row(1)]) == 0


def test_new_columns_in_the_code_are_added_to_an_older_tables_schema(tmp_path):
    from deltalake import DeltaTable

    old = tables.TableSpec(name="t", key=("id",), cluster_by="id", schema=pa.schema([pa.field("id", pa.string(),
                                                                                                nullable=False)]))
    new = tables.TableSpec(name="t", key=("id",), cluster_by="id", schema=old.schema.append(pa.field("extra",
                                                                                                     pa.bool_())))
    table_store.replace_table(str(tmp_path), old, [{"id": "a"}])
    assert table_store.read_table(str(tmp_path), new).to_pylist() == [{"id": "a", "extra": None}]
    table_store.replace_table(str(tmp_path), new, [{"id": "b", "extra": True}])
    assert table_store.read_table(str(tmp_path), new).to_pylist() == [{"id": "b", "extra": True}]
    assert [f.name for f in DeltaTable(str(tmp_path / "tables" / "t")).schema().fields] == ["id", "extra"]


def test_columns_added_since_a_table_was_made_are_nullable():
    """Older rows of a table lack them, and a bucket rewrite carries older rows along."""
    added_since_delta_tables = {"gifs": ["video_tags", "is_creative_commons", "video_duration_sec"],
                                "labels": ["popularity_raw", "popularity_source", "context_tags_from"]}
    for name, columns in added_since_delta_tables.items():
        schema = tables.STORED_TABLES[name].schema
        assert all(schema.field(c).nullable for c in columns), name
