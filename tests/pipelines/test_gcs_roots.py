"""gs:// dataset roots against a real GCS server on loopback (fake-gcs-server, tests/fake_gcs.py).

Folders on GCS are prefixes of object names: pyarrow makes marker objects for the
folders it is asked to create, and none for the rest, so both kinds are exercised.
"""
import hashlib
import os

import pyarrow.parquet as pq
import pytest

from featurizer.dataset import table_store, table_views, tables
from featurizer.dataset.blobs import INCOMING, BlobStore
from featurizer.dataset.storage import DatasetRoot
from tests.rows import dead_letter_row as _dead_row
from tests.rows import gif_rows_from_world, write_table

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


def test_tables_commit_and_read_back(tiny_world, root, tmp_path):
    blobs = BlobStore(root)
    gifs = gif_rows_from_world(tiny_world, blobs)  # the world's GIFs and videos put into the gs:// blob store
    assert write_table(root, tables.GIFS, gifs) == 0
    read = table_store.read_table(root.uri, tables.GIFS).sort_by("gif_id")
    assert read.equals(tables.rows_to_arrow(tables.GIFS, gifs))
    assert table_store.table_info(root, tables.GIFS)["rows"] == len(gifs)

    # versions, old versions, stale commits refused; a local root given the same rows writes the same files
    spec = tables.DEADLETTERS["scrape"]
    dead = [_dead_row(i) for i in range(20)]
    write_table(root, spec, dead)
    first = table_store.snapshot(root, spec)
    write_table(root, spec, dead[:5])
    assert sorted(r["record_key"] for r in table_store.read_rows(root.uri, spec)) == [f"k{i:03d}" for i in range(5)]
    assert table_store.read_table(root, spec, version=first.version).num_rows == 20
    with pytest.raises(table_store.ConcurrentCommit):
        table_store.commit(root, spec, first.version, [], list(first.files), txn_id="stale")
    local = DatasetRoot.open(str(tmp_path))
    write_table(local, spec, dead[:5])
    remote_files = table_store.snapshot(root, spec).files
    assert remote_files == table_store.snapshot(local, spec).files
    for f in remote_files:
        with root.fs.open_input_stream(table_store.file_path(root, spec.name, f.path)) as data:
            assert data.read() == (tmp_path / "tables" / spec.name / f.path).read_bytes()
    assert table_store.read_table(root, tables.ALIGNMENTS).num_rows == 0


def test_scrape_pipeline_writes_a_gs_root(tiny_world, demo_site, gcs_bucket):
    from pipelines import scrape

    uri = gcs_bucket + "/scraped"
    scrape.run(["--dataset", uri, "--seed", f"{demo_site.url}/gifs?page=1", "--site", "demo",
                "--allow-host", "127.0.0.1", "--rate-limit", "0", "--retries", "1", "--timeout", "5"])
    rows = table_store.read_rows(uri, tables.GIFS)
    assert sorted(r["gif_id"] for r in rows) == sorted(f"demo:{g['gif_id']}" for g in tiny_world.gifs)
    assert table_views.read_view_rows(uri, tables.DEADLETTER) == []
    blobs = BlobStore(uri)
    for row in rows:
        gif = tiny_world.gif_path(row["gif_id"].split(":", 1)[1]).read_bytes()
        assert blobs.read_bytes(row["gif_sha256"], max_bytes=len(gif)) == gif
    assert blobs.count() == len(tiny_world.gifs) + len(tiny_world.videos)


@pytest.mark.filterwarnings("ignore:.*random")
def test_featurize_and_export_on_a_gs_root(tiny_world, gcs_bucket, tmp_path):
    """Features, labels and the training view on GCS; user files (C3D weights) read through GCS too."""
    import numpy as np

    from featurizer.c3d.weights import MEAN_SHAPE
    from featurizer.dataset.storage import local_copy
    from pipelines import featurize
    from pipelines.commands import tables as tables_cli
    from tests.rows import alignment_rows

    uri = gcs_bucket + "/featurized"
    root = DatasetRoot.open(uri)
    gifs = gif_rows_from_world(tiny_world, BlobStore(root))
    write_table(root, tables.GIFS, gifs)
    write_table(root, tables.ALIGNMENTS, alignment_rows(tiny_world, gifs))
    mean = tmp_path / "mean.npy"
    np.save(mean, np.full(MEAN_SHAPE, 100, np.float32))
    with root.fs.open_output_stream(root.join("inputs", "mean.npy")) as f:
        f.write(mean.read_bytes())
    with local_copy(uri + "/inputs/mean.npy") as copy:
        assert np.array_equal(np.load(copy), np.load(mean))
    with pytest.raises(FileNotFoundError, match="no such file"):
        featurize.run(["--dataset", uri, "--c3d-weights", uri + "/inputs/missing.h5", "--c3d-mean",
                       uri + "/inputs/mean.npy"])
    counters = featurize.run(["--dataset", uri, "--fps", "12.5", "--snippet-stride", "16", "--no-mirror"]).counters
    assert counters["videos_segmented"] == len(tiny_world.videos)
    assert len(table_store.snapshot(root, tables.FEATURES).files) == len(tiny_world.videos)
    labels = table_store.read_table(root, tables.LABELS)
    out = tmp_path / "segments.parquet"
    assert tables_cli.main(["--dataset", uri, "--export", "segments", "--out", str(out)]) == 0
    exported = pq.read_table(out)
    assert 0 < exported.num_rows <= labels.num_rows
    assert exported.schema.field("features").type == tables.SEGMENTS.schema.field("features").type
