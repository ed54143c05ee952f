"""Blob store and tables: content addressing, streaming commits, deterministic files, Delta commits."""
import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurizer.dataset import table_store, tables
from featurizer.dataset.blobs import BlobStore
from tests.rows import dead_letter_row, write_table


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
    a = table_store.write_file(str(tmp_path), spec, tables.rows_to_arrow(spec, rows), spec.bucket_file_prefix(0))
    b = table_store.write_file(str(tmp_path), spec, tables.rows_to_arrow(spec, rows[::-1]), spec.bucket_file_prefix(0))
    assert a == b  # same rows in any order: the same bytes, so the same content-hashed name
    table = table_store.read_file(str(tmp_path), spec, a.path)
    assert table.column("record_key").to_pylist() == sorted(r["record_key"] for r in rows)
    assert {tables.bucket_of(r["record_key"], 4) for r in rows} == {0, 1, 2, 3}
    assert tables.bucket_of("k001", 4) == int(hashlib.sha1(b"k001").hexdigest()[:16], 16) % 4


def test_file_names_are_made_and_read_by_the_dataset_layer():
    """Bucket files b<bucket>of<buckets>-<hash>.parquet; a features file named by its video and set."""
    name = f"{tables.GIFS.bucket_file_prefix(3)}-0123456789abcdef01234567.parquet"
    assert name.startswith("b0003of0016-") and tables.GIFS.bucket_of_file(name) == 3
    assert tables.ALIGNMENTS.bucket_of_file(name) == 3  # 16 buckets too
    assert tables.LABELS.bucket_of_file(name) is None  # 32 buckets: not one of its files
    assert tables.GIFS.bucket_of_file("part-00000-of-00001.parquet") is None
    sha = "ab" * 32
    features = tables.features_file_name(sha, "s", "e")
    assert features == tables.FEATURES.file_name_of({"video_sha256": sha, "segmenter": "s", "feature_extractor": "e"})
    assert tables.features_file_key(features) == (sha, tables.features_key_hash("s", "e"))
    assert tables.features_file_key(name) is None
    with pytest.raises(ValueError, match="no files named by their rows"):
        tables.GIFS.file_name_of({"gif_id": "x"})


def test_conform_refuses_unknown_columns():
    with pytest.raises(ValueError, match="no columns"):
        tables.GIFS.conform({"gif_id": "x", "colour": "red"})


def test_commits_are_versions_and_a_stale_commit_is_refused(tmp_path):
    spec = tables.DEADLETTERS["scrape"]
    root = str(tmp_path)
    assert table_store.snapshot(root, spec).version is None
    assert table_store.read_table(root, spec).num_rows == 0
    v0 = write_table(root, spec, [dead_letter_row(i) for i in range(3)])
    first = table_store.snapshot(root, spec)
    v1 = write_table(root, spec, [dead_letter_row(i) for i in range(2)])
    assert (v0, v1) == (0, 1)
    assert [r["record_key"] for r in table_store.read_rows(root, spec)] == ["k000", "k001"]
    assert table_store.read_table(root, spec, version=0).num_rows == 3  # old versions stay readable
    # A writer that read version 0 and removes its file again after version 1 removed it: refused.
    late = table_store.write_file(root, spec, tables.rows_to_arrow(spec, [dead_letter_row(9)]),
                                  spec.bucket_file_prefix(0))
    with pytest.raises(table_store.ConcurrentCommit) as refused:
        table_store.commit(root, spec, first.version, [late], list(first.files), txn_id="late")
    assert str(refused.value) == ("table deadletter_scrape: another run committed bucket 0 since this run read "
                                  "version 0 (now version 1); nothing of this run was committed, nothing is lost: "
                                  "run the command again")
    assert table_store.snapshot(root, spec).version == 1
    [committed] = table_store.snapshot(root, spec).files
    on_disk = (tmp_path / "tables" / spec.name / committed.path).stat().st_size  # the size as the file system has it
    assert table_store.table_info(root, spec) == {"table": spec.name, "version": 1, "rows": 2, "files": 1,
                                                  "bytes": on_disk}


def test_a_retried_commit_commits_once(tmp_path):
    spec = tables.DEADLETTERS["align"]
    root = str(tmp_path)
    f = table_store.write_file(root, spec, tables.rows_to_arrow(spec, [dead_letter_row(1)]), spec.bucket_file_prefix(0))
    assert table_store.commit(root, spec, None, [f], txn_id="run-1") == 0
    assert table_store.commit(root, spec, None, [f], txn_id="run-1") is None
    assert table_store.commit(root, spec, 0, [], [], txn_id="run-2") is None  # nothing to commit: no version
    assert table_store.snapshot(root, spec).version == 0 and table_store.read_table(root, spec).num_rows == 1


def test_uncommitted_files_are_not_part_of_the_table(tmp_path):
    spec = tables.DEADLETTERS["align"]
    root = str(tmp_path)
    write_table(root, spec, [dead_letter_row(1)])
    table_store.write_file(root, spec, tables.rows_to_arrow(spec, [dead_letter_row(2), dead_letter_row(3)]),
                           spec.bucket_file_prefix(0))
    assert [r["record_key"] for r in table_store.read_rows(root, spec)] == ["k001"]


def test_features_round_trip_as_float32_arrays_and_stream_in_batches(tmp_path):
    rng = np.random.default_rng(0)
    rows = [{"video_sha256": f"{v:064x}", "segmenter": "s", "feature_extractor": "e", "segment_index": i,
             "start_frame": 16 * i, "end_frame": 16 * i + 16, "start_sec": i * 0.64, "end_sec": i * 0.64 + 0.64,
             "fps": 25.0, "video_num_frames": 400, "snippets": 1,
             "features": rng.standard_normal(tables.C3D_FEATURES).astype(np.float32)}
            for v in range(3) for i in range(5)]
    write_table(str(tmp_path), tables.FEATURES, rows)
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
    assert write_table(str(tmp_path), spec, [dead_letter_row(1)]) == 0


def test_new_columns_in_the_code_are_added_to_an_older_tables_schema(tmp_path):
    from deltalake import DeltaTable

    old = tables.TableSpec(name="t", key=("id",), cluster_by="id", schema=pa.schema([pa.field("id", pa.string(),
                                                                                                nullable=False)]))
    new = tables.TableSpec(name="t", key=("id",), cluster_by="id", schema=old.schema.append(pa.field("extra",
                                                                                                     pa.bool_())))
    write_table(str(tmp_path), old, [{"id": "a"}])
    assert table_store.read_table(str(tmp_path), new).to_pylist() == [{"id": "a", "extra": None}]
    write_table(str(tmp_path), new, [{"id": "b", "extra": True}])
    assert table_store.read_table(str(tmp_path), new).to_pylist() == [{"id": "b", "extra": True}]
    assert [f.name for f in DeltaTable(str(tmp_path / "tables" / "t")).schema().fields] == ["id", "extra"]


def test_columns_added_since_a_table_was_made_are_nullable():
    """Older rows of a table lack them, and a bucket rewrite carries older rows along."""
    added_since_delta_tables = {"gifs": ["video_tags", "is_creative_commons", "video_duration_sec"],
                                "labels": ["popularity_raw", "popularity_source", "context_tags_from"]}
    for name, columns in added_since_delta_tables.items():
        schema = tables.STORED_TABLES[name].schema
        assert all(schema.field(c).nullable for c in columns), name


# Concurrent runs: a table of 4 buckets; row i's bucket is bucket_of(f"g{i}", 4).
THINGS = tables.TableSpec(name="things", key=("id",), cluster_by="group", buckets=4,
                          schema=pa.schema([pa.field("id", pa.string(), nullable=False),
                                            pa.field("group", pa.string())]))
GROUP_OF_BUCKET = {tables.bucket_of(f"g{i}", 4): f"g{i}" for i in range(20)}


def _bucket_file(root, bucket: int, run: str) -> table_store.DataFile:
    """A file of `bucket` holding one row written by `run`, as a run's bucket rewrite makes it."""
    row = {"id": f"{run}-{bucket}", "group": GROUP_OF_BUCKET[bucket]}
    return table_store.write_file(str(root), THINGS, tables.rows_to_arrow(THINGS, [row]),
                                  THINGS.bucket_file_prefix(bucket))


def _ids(root, spec=THINGS, column="id") -> list[str]:
    return sorted(r[column] for r in table_store.read_rows(str(root), spec))


@pytest.fixture(params=["local", "gcs"])
def any_root(request, tmp_path) -> str:
    """A dataset root on a local disk, or on GCS (the emulator): Delta's commits rely on the store's
    create-only writes of log entries, which differ."""
    return request.getfixturevalue("gcs_bucket") + "/data" if request.param == "gcs" else str(tmp_path)


def test_two_first_commits_of_one_bucket_one_wins_of_other_buckets_both(tmp_path):
    same, other = tmp_path / "same", tmp_path / "other"
    for root in (same, other):
        assert table_store.commit(str(root), THINGS, None, [_bucket_file(root, 1, "a")], txn_id="a") == 0
    # Both runs found no table; the second adds to the bucket the first filled: refused, not stored twice.
    with pytest.raises(table_store.ConcurrentCommit, match="^table things: another run committed bucket 1 since "
                                                           "this run found no table .now version 0.; nothing of"):
        table_store.commit(str(same), THINGS, None, [_bucket_file(same, 1, "b")], txn_id="b")
    assert _ids(same) == ["a-1"] and table_store.snapshot(str(same), THINGS).version == 0
    # Another bucket: no conflict, both runs' rows are kept.
    assert table_store.commit(str(other), THINGS, None, [_bucket_file(other, 2, "b")], txn_id="b") == 1
    assert _ids(other) == ["a-1", "b-2"]


def _commit_between_check_and_commit(monkeypatch, root, bucket: int, run: str):
    """Another run's commit of `bucket`, landing after this run's commit of the table was checked
    and before it is made: the race no check can see."""
    real = table_store._add_new_columns
    racer = {"pending": True}

    def then_commit(latest, spec):
        if racer.pop("pending", False):
            table_store.commit(str(root), THINGS, latest.version(), [_bucket_file(root, bucket, run)], txn_id=run)
        return real(latest, spec)

    monkeypatch.setattr(table_store, "_add_new_columns", then_commit)


def test_a_commit_racing_another_on_its_bucket_is_refused_by_the_bucket_lock(any_root, monkeypatch):
    root = any_root
    table_store.commit(root, THINGS, None, [_bucket_file(root, 0, "first")], txn_id="first")
    _commit_between_check_and_commit(monkeypatch, root, 3, "racer")
    # Two blind appends to bucket 3, empty when both read: Delta's checker alone would take both.
    with pytest.raises(table_store.ConcurrentCommit, match="another run committed bucket 3 since this run read "
                                                           "version 0 .now version 1."):
        table_store.commit(root, THINGS, 0, [_bucket_file(root, 3, "late")], txn_id="late")
    assert _ids(root) == ["first-0", "racer-3"]
    assert table_store.commit(root, THINGS, 1, [_bucket_file(root, 3, "late")], txn_id="late") == 2
    assert _ids(root) == ["first-0", "late-3", "racer-3"]  # the rerun: read version 1, rewrote nothing of it


def test_a_commit_racing_another_on_other_buckets_commits(tmp_path, monkeypatch):
    first = [_bucket_file(tmp_path, b, "first") for b in (0, 2)]
    table_store.commit(str(tmp_path), THINGS, None, first, txn_id="first")
    racer = _bucket_file(tmp_path, 0, "racer")
    table_store.commit(str(tmp_path), THINGS, 0, [racer], [first[0]], txn_id="racer")  # rewrites bucket 0
    _commit_between_check_and_commit(monkeypatch, tmp_path, 1, "other")
    # Rewrites bucket 2 from version 0: Delta refuses a commit after another one's remove, whichever
    # file; the bucket check finds nothing of this run's buckets changed, and the commit goes through.
    assert table_store.commit(str(tmp_path), THINGS, 0, [_bucket_file(tmp_path, 2, "late")], [first[1]],
                              txn_id="late") == 3
    assert _ids(tmp_path) == ["late-2", "other-1", "racer-0"]


def test_a_run_refused_on_a_later_table_commits_none_of_its_tables(tmp_path):
    dead = tables.DEADLETTERS["scrape"]
    root = str(tmp_path)
    write_table(root, dead, [dead_letter_row(1)])
    read = table_store.snapshot(root, dead)
    write_table(root, dead, [dead_letter_row(2)])  # another run, since this run read
    mine = table_store.write_file(root, dead, tables.rows_to_arrow(dead, [dead_letter_row(3)]),
                                  dead.bucket_file_prefix(0))
    commits = [table_store.TableCommit(THINGS, None, (_bucket_file(tmp_path, 1, "run"),)),
               table_store.TableCommit(dead, read.version, (mine,), read.files)]
    with pytest.raises(table_store.ConcurrentCommit, match="nothing of this run was committed"):
        table_store.commit_tables(root, commits, txn_id="run")
    assert table_store.snapshot(root, THINGS).version is None  # checked before anything was committed


def test_a_run_that_loses_a_race_on_a_later_table_names_the_tables_it_committed(tmp_path, monkeypatch):
    dead = tables.DEADLETTERS["scrape"]
    root = str(tmp_path)
    table_store.commit(root, THINGS, None, [_bucket_file(tmp_path, 0, "first")], txn_id="first")
    ours = [table_store.TableCommit(dead, None, (table_store.write_file(
                root, dead, tables.rows_to_arrow(dead, [dead_letter_row(1)]), dead.bucket_file_prefix(0)),)),
            table_store.TableCommit(THINGS, 0, (_bucket_file(tmp_path, 3, "run"),))]
    _commit_between_check_and_commit(monkeypatch, tmp_path, 3, "racer")
    with pytest.raises(table_store.ConcurrentCommit) as refused:
        table_store.commit_tables(root, ours, txn_id="run")
    assert str(refused.value).endswith("(now version 1); this run committed table deadletter_scrape and nothing "
                                       "else, nothing is lost: run the command again")
    assert _ids(tmp_path) == ["first-0", "racer-3"] and _ids(tmp_path, dead, "record_key") == ["k001"]


def test_features_files_added_by_two_runs_are_one_file(tmp_path):
    rows = [{"video_sha256": "ab" * 32, "segmenter": "s", "feature_extractor": "e", "segment_index": 0,
             "start_frame": 0, "end_frame": 16, "start_sec": 0.0, "end_sec": 0.64, "fps": 25.0,
             "video_num_frames": 16, "snippets": 1, "features": np.zeros(tables.C3D_FEATURES, np.float32)}]
    name = tables.features_file_name("ab" * 32, "s", "e")
    f = table_store.write_named_file(str(tmp_path), tables.FEATURES, tables.rows_to_arrow(tables.FEATURES, rows), name)
    assert table_store.commit(str(tmp_path), tables.FEATURES, None, [f], txn_id="a") == 0
    assert table_store.commit(str(tmp_path), tables.FEATURES, None, [f], txn_id="b") == 1  # no bucket to conflict in
    assert table_store.snapshot(str(tmp_path), tables.FEATURES).files == (f,)
    assert table_store.read_table(str(tmp_path), tables.FEATURES).num_rows == 1


def _first_commits(roots: list[str], run: str, barrier, results) -> None:
    """One process's first commit of bucket 1 of THINGS in each root, each at the same moment as another's."""
    for root in roots:
        f = _bucket_file(root, 1, run)
        barrier.wait()
        try:
            results.put((root, run, table_store.commit(root, THINGS, None, [f], txn_id=run)))
        except table_store.ConcurrentCommit as exc:
            results.put((root, run, str(exc)))


def test_first_commits_of_one_bucket_in_two_processes_store_it_once(any_root):
    """Two processes create the table at the same moment, again and again: delta-rs commits a
    create that lost the race on top of the winner's unless told not to retry."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # deltalake's runtime does not survive a fork
    roots = [f"{any_root}/t{trial}" for trial in range(8)]  # nearly every one races for version 0 (measured)
    barrier, results = context.Barrier(2), context.Queue()
    processes = [context.Process(target=_first_commits, args=(roots, run, barrier, results)) for run in "ab"]
    for process in processes:
        process.start()
    outcomes: dict[str, dict] = {}
    for _ in range(2 * len(roots)):
        root, run, result = results.get(timeout=120)
        outcomes.setdefault(root, {})[run] = result
    for process in processes:
        process.join(timeout=60)
    refusals = set()
    for root, outcome in outcomes.items():
        [winner] = [run for run, result in outcome.items() if result == 0]
        refusals |= {result for result in outcome.values() if result != 0}
        assert _ids(root) == [f"{winner}-1"], outcome
    assert refusals == {"table things: another run committed bucket 1 since this run found no table (now version 0); "
                        "nothing of this run was committed, nothing is lost: run the command again"}
