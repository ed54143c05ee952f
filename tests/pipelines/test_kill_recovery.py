"""kill -9 of scrape and align at any point: every table still reads, with its old content or its
new, never a part; the rerun ends where an uninterrupted run ends."""
import pytest

from demo_world.site import DemoSite
from featurizer.dataset import tables
from featurizer.dataset.blobs import INCOMING, BlobStore
from pipelines import align, scrape
from tests.killing import committed, contents, differing, kill_when, table_files
from tests.rows import gif_rows_from_world, write_table

pytestmark = pytest.mark.timeout(600)


def _scrape_args(site, root):
    return ["--dataset", str(root), "--seed", f"{site.url}/gifs?page=1", "--site", "demo", "--allow-host",
            "127.0.0.1", "--rate-limit", "0", "--retries", "1", "--timeout", "5", "--concurrency", "2"]


def _first_blob_stored(root):
    return any(p.parent.name != INCOMING for p in (root / "blobs").glob("*/*"))


SCRAPE_KILL_POINTS = {
    "among_the_downloads": _first_blob_stored,
    "after_a_gifs_file_before_its_commit": lambda root: bool(table_files(root, "gifs")),
    "after_the_gifs_commit": lambda root: committed(root, "gifs"),
}


@pytest.mark.parametrize("point", sorted(SCRAPE_KILL_POINTS))
def test_scrape_killed_then_rerun(tiny_world, tmp_path, point):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    # Slow responses keep the downloads going long enough to be killed in the middle of them.
    with DemoSite(tiny_world.root, page_size=2, latency_ms=150) as site:
        scrape.run(_scrape_args(site, whole))
        kill_when("pipelines.scrape", _scrape_args(site, killed), lambda: SCRAPE_KILL_POINTS[point](killed))
        after_kill = contents(killed)
        expected = contents(whole)
        for name, table in after_kill.items():
            assert table.num_rows == 0 or table.equals(expected[name]), name
        assert BlobStore(str(killed)).count() <= BlobStore(str(whole)).count()
        scrape.run(_scrape_args(site, killed))
    assert differing(expected, contents(killed)) == set()
    assert BlobStore(str(killed)).count() == BlobStore(str(whole)).count()


ALIGN_KILL_POINTS = {
    "after_an_alignments_file_before_its_commit": lambda root: bool(table_files(root, "alignments")),
    "after_the_alignments_commit": lambda root: committed(root, "alignments"),
}


@pytest.mark.parametrize("point", sorted(ALIGN_KILL_POINTS))
def test_align_killed_then_rerun(tiny_world, tmp_path, point):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for root in (whole, killed):
        write_table(root, tables.GIFS, gif_rows_from_world(tiny_world, BlobStore(str(root))))
    align.run(["--dataset", str(whole)])
    expected, before = contents(whole), contents(killed)
    kill_when("pipelines.align", ["--dataset", str(killed)], lambda: ALIGN_KILL_POINTS[point](killed))
    for name, table in contents(killed).items():
        assert table.equals(before[name]) or table.equals(expected[name]), name
    align.run(["--dataset", str(killed)])
    assert differing(expected, contents(killed)) == set()
