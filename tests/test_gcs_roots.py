"""gs:// dataset roots against a real GCS JSON API server on loopback (gcp-storage-emulator).

Folders on GCS are prefixes of object names: pyarrow makes marker objects for the
folders it is asked to create, and none for the rest, so both kinds are exercised.
"""
import hashlib
import os
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from featurizer import tables
from featurizer.blobs import INCOMING, BlobStore
from featurizer.storage import DatasetRoot
from tests.conftest import gif_rows_from_world
from tests.test_storage import _row as _dead_row

pytestmark = pytest.mark.timeout(120)


def _options(fs):
    """A GcsFileSystem's options (pyarrow shows them only in its pickling recipe)."""
    return fs.__reduce__()[1][0]


@pytest.fixture
def root(gcs_bucket):
    return DatasetRoot.open(gcs_bucket + "/datasets/v2g/")


def test_storage_emulator_host_points_gs_roots_at_the_emulator(gcs_bucket, root, monkeypatch):
    assert root.uri == gcs_bucket + "/datasets/v2g" and root.path == "gifrank-test/datasets/v2g"
    assert root.fs.type_name == "gcs"
    options = _options(root.fs)
    assert (options["scheme"], options["anonymous"]) == ("http", True)
    assert "http://" + options["endpoint_override"] == os.environ["STORAGE_EMULATOR_HOST"]
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "localhost:4443")  # no scheme: plain http, as Google's clients
    options = _options(DatasetRoot.open("gcs://b/p").fs)
    assert (options["scheme"], options["endpoint_override"], options["anonymous"]) == ("http", "localhost:4443", True)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    options = _options(DatasetRoot.open("gs://b/p").fs)  # the standard credentials chain, no endpoint
    assert (options["endpoint_override"], options["anonymous"]) == ("", False)


def test_root_folders_files_and_delete_tree(root):
    assert not root.exists() and root.list_files("tables") == []
    assert root.makedirs("tables", "gifs") == root.path + "/tables/gifs"
    assert root.exists("tables", "gifs") and root.list_files("tables", "gifs") == []
    for name in ("b.parquet", "a.parquet", "notes.txt", "_staging/r1/c.parquet"):
        with root.fs.open_output_stream(root.join("tables", "gifs", name)) as f:
            f.write(name.encode())
    assert root.list_files("tables", "gifs", suffix=".parquet") == [
        root.join("tables", "gifs", "a.parquet"), root.join("tables", "gifs", "b.parquet")]
    # _staging/r1 exists only as a prefix (no marker object), tables/gifs has a marker
    assert root.exists("tables", "gifs", "_staging", "r1")
    root.delete_tree("tables", "gifs", "_staging", "r1")
    assert not root.exists("tables", "gifs", "_staging")
    root.delete_tree("tables", "gifs", "_staging")  # gone already: nothing to do
    root.delete_tree("tables")
    assert not root.exists("tables") and root.list_files("tables", "gifs") == []


def test_blobs_stream_in_by_content_and_read_back(root):
    store = BlobStore(root)
    chunks = [b"GIF89a", bytes(range(256)) * 4096, b"x" * 300_000, b"tail"]  # > the client's 256 KiB upload buffer
    data = b"".join(chunks)
    with store.writer() as w:
        for c in chunks:
            w.write(c)
        sha, size = w.commit()
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert store.uri_of(sha) == f"{root.uri}/blobs/{sha[:2]}/{sha}"
    assert store.exists(sha) and store.count() == 1
    with store.open(sha) as f:
        assert f.read() == data
    with store.local_path(sha) as path, open(path, "rb") as f:  # a streamed temporary copy
        assert f.read() == data
    with pytest.raises(ValueError, match="more than"):
        store.read_bytes(sha, max_bytes=1000)

    assert store.put_bytes(data) == (sha, size)  # same content: the same blob, stored once
    small = store.put_bytes(b"GIF89a-small")
    assert store.read_bytes(small[0], max_bytes=1000) == b"GIF89a-small"

    def refuse(head):
        raise ValueError("not a GIF")

    with pytest.raises(ValueError, match="not a GIF"):
        with store.writer(refuse) as w:
            w.write(b"<html>" * 200)
    assert store.count() == 2
    assert root.list_files("blobs", INCOMING) == []  # no temporary object left behind


def _stage(root, spec, run_id, rows, num_shards):
    by_shard = {}
    for row in rows:
        by_shard.setdefault(tables.shard_of(spec.key_of(row), num_shards), []).append(row)
    for index, shard_rows in by_shard.items():
        path = tables.staging_path(root, spec, run_id) + "/" + tables.shard_name(index, num_shards)
        tables.write_shard(root, spec, path, shard_rows)
    return len(by_shard)


def test_tables_stage_commit_and_read_back(tiny_world, root, tmp_path):
    blobs = BlobStore(root)
    gifs = gif_rows_from_world(tiny_world, blobs)  # the world's GIFs and videos put into the gs:// blob store
    assert _stage(root, tables.GIFS, "r1", gifs, 3) == 3
    assert tables.commit_staged(root, tables.GIFS, "r1") == 3
    read = tables.read_table(root.uri, tables.GIFS).sort_by("gif_id")
    assert read.equals(tables.rows_to_arrow(tables.GIFS, gifs))
    assert not root.exists(tables.TABLES, "gifs", tables.STAGING, "r1")

    # a later run replaces every shard; a local root given the same rows writes the same files
    dead = [_dead_row(i) for i in range(20)]
    for run_id, rows in (("r1", dead), ("r2", dead[:5])):
        _stage(root, tables.DEADLETTER, run_id, rows, 4)
        tables.commit_staged(root, tables.DEADLETTER, run_id)
    assert sorted(r["record_key"] for r in tables.read_rows(root.uri, tables.DEADLETTER)) == [
        f"k{i:03d}" for i in range(5)]
    local = DatasetRoot.open(str(tmp_path))
    _stage(local, tables.DEADLETTER, "r2", dead[:5], 4)
    tables.commit_staged(local, tables.DEADLETTER, "r2")
    remote_files = tables.shard_files(root, tables.DEADLETTER)
    local_files = tables.shard_files(local, tables.DEADLETTER)
    assert [p.rsplit("/", 1)[1] for p in remote_files] == [p.rsplit("/", 1)[1] for p in local_files]
    for remote, there in zip(remote_files, local_files):
        with root.fs.open_input_stream(remote) as f:
            assert f.read() == Path(there).read_bytes()
    assert pq.read_table(remote_files[0], filesystem=root.fs).schema.equals(tables.DEADLETTER.schema)
    assert tables.read_table(root, tables.ALIGNMENTS).num_rows == 0
    everything = root.fs.get_file_info(pafs.FileSelector(root.join(tables.TABLES), recursive=True))
    assert [i.path for i in everything if i.type == pafs.FileType.File and f"/{tables.STAGING}/" in i.path] == []


def test_scrape_pipeline_writes_a_gs_root(tiny_world, demo_site, gcs_bucket):
    from pipelines import scrape

    uri = gcs_bucket + "/scraped"
    scrape.run(["--dataset", uri, "--seed", f"{demo_site.url}/gifs?page=1", "--site", "demo",
                "--allow-host", "127.0.0.1", "--rate-limit", "0", "--retries", "1", "--timeout", "5",
                "--num-shards", "2"])
    rows = tables.read_rows(uri, tables.GIFS)
    assert sorted(r["gif_id"] for r in rows) == sorted(f"demo:{g['gif_id']}" for g in tiny_world.gifs)
    assert tables.read_rows(uri, tables.DEADLETTER) == []
    blobs = BlobStore(uri)
    for row in rows:
        gif = tiny_world.gif_path(row["gif_id"].split(":", 1)[1]).read_bytes()
        assert blobs.read_bytes(row["gif_sha256"], max_bytes=len(gif)) == gif
    assert blobs.count() == len(tiny_world.gifs) + len(tiny_world.videos)
