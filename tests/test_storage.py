"""Blob store and tables: content addressing, streaming commits, deterministic shards."""
import datetime as dt
import hashlib

import pyarrow.parquet as pq
import pytest

from featurizer import tables
from featurizer.blobs import BlobStore
from featurizer.storage import DatasetRoot


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


def _row(i):
    return {"pipeline": "scrape", "stage": "gif_page", "record_key": f"k{i:03d}", "url": f"http://x/{i}",
            "gif_id": None, "error_kind": "http_404", "message": "gone",
            "failed_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)}


def test_shards_are_deterministic_and_sorted(tmp_path):
    root = DatasetRoot.open(str(tmp_path))
    rows = [_row(i) for i in range(50)]
    paths = []
    for name, order in (("a", rows), ("b", rows[::-1])):
        path = root.join(name, "part.parquet")
        assert tables.write_shard(root, tables.DEADLETTER, path, order) == 50
        paths.append(path)
    a, b = (pq.read_table(p) for p in paths)
    assert a.equals(b)
    assert a.column("record_key").to_pylist() == sorted(r["record_key"] for r in rows)
    shards = {tables.shard_of(r["record_key"], 4) for r in rows}
    assert shards == {0, 1, 2, 3}
    assert tables.shard_of("k001", 4) == int(hashlib.sha1(b"k001").hexdigest()[:16], 16) % 4


def test_conform_refuses_unknown_columns():
    with pytest.raises(ValueError, match="no columns"):
        tables.GIFS.conform({"gif_id": "x", "colour": "red"})


def test_commit_staged_replaces_shards(tmp_path):
    root = DatasetRoot.open(str(tmp_path))
    spec = tables.DEADLETTER
    for run, n in (("r1", 3), ("r2", 2)):
        for i in range(n):
            tables.write_shard(root, spec, tables.staging_path(root, spec, run) + "/" + tables.shard_name(i, n),
                               [_row(i)])
    assert tables.commit_staged(root, spec, "r1") == 3
    assert len(tables.read_rows(root, spec)) == 3
    assert tables.commit_staged(root, spec, "r2") == 2
    assert [r["record_key"] for r in tables.read_rows(root, spec)] == ["k000", "k001"]
    assert not root.exists(tables.TABLES, spec.name, tables.STAGING, "r2")
    assert tables.read_table(root, tables.GIFS).num_rows == 0
