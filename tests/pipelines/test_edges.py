"""Bad input at the edges of the system, through the command line a user types: a site adapter
with a bad selector, a dataset root that cannot be written, a disk that fills while a table is
written. Each is a clear one-line error (exit status 2), and no table is left half-written.
(A metadata file with broken rows: tests/pipelines/test_scrape.py, a dead letter per row.)"""
import errno

import pytest

from featurizer.dataset import table_store, tables
from featurizer.dataset.blobs import BlobStore
from pipelines.cli import main as gifrank
from tests.rows import gif_rows_from_world, write_table

pytestmark = pytest.mark.timeout(300)


def test_a_site_adapter_with_a_bad_selector_stops_before_anything_runs(demo_site, tmp_path, capsys):
    adapter = tmp_path / "bad.yaml"
    adapter.write_text("name: bad\nlisting: {gif_links: 'a[[', next_page: 'a.next'}\n"
                       "gif_page: {fields: {gif_url: {css: img}, video_url: {css: a}}}\n")
    status = gifrank(["scrape", "--dataset", str(tmp_path / "data"), "--seed", f"{demo_site.url}/gifs?page=1",
                      "--site", str(adapter), "--allow-host", "127.0.0.1"])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2 and error.startswith("gifrank scrape: error:") and "a[[" in error
    assert demo_site.request_count() == 0 and not (tmp_path / "data" / "tables").exists()


def test_a_dataset_root_that_cannot_be_written_is_a_clear_error(tmp_path, capsys):
    # /proc refuses new folders even to root, as a bucket refuses a writer without permission.
    status = gifrank(["align-dataset", "--dataset", "/proc/gifrank-data"])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2 and error.startswith("gifrank align-dataset: error: /proc/gifrank-data: cannot write here")


def test_a_full_disk_while_writing_a_table_leaves_the_table_as_it_was(tiny_world, tmp_path, monkeypatch, capsys):
    root = tmp_path / "data"
    write_table(root, tables.GIFS, gif_rows_from_world(tiny_world, BlobStore(str(root))))
    before = table_store.snapshot(str(root), tables.ALIGNMENTS)
    write_file = table_store.write_file

    def disk_full(root_uri, spec, table, prefix):
        if spec.name == tables.ALIGNMENTS.name:
            raise OSError(errno.ENOSPC, "No space left on device", f"{root_uri}/tables/{spec.name}")
        return write_file(root_uri, spec, table, prefix)

    monkeypatch.setattr(table_store, "write_file", disk_full)
    status = gifrank(["align-dataset", "--dataset", str(root)])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2 and "No space left on device" in error and "nothing was committed" in error
    assert table_store.snapshot(str(root), tables.ALIGNMENTS) == before  # no new version, no part of one
    monkeypatch.setattr(table_store, "write_file", write_file)
    assert gifrank(["align-dataset", "--dataset", str(root)]) == 0  # the disk has room again: the run completes
    assert table_store.snapshot(str(root), tables.ALIGNMENTS).version is not None
