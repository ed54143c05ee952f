"""gifrank refresh: scrape -> align -> featurize of what is new, day after day, killed anywhere."""
import socket

import pytest

from demo_world.replicate import subset_world
from demo_world.site import DemoSite
from featurizer.dataset.blobs import INCOMING
from pipelines import refresh
from tests.killing import committed, contents, differing, kill_when, table_files

pytestmark = [pytest.mark.timeout(1200), pytest.mark.filterwarnings("ignore:.*random")]

# The CPU's knobs, as `make demo` uses them.
FAST = ["--fps", "12.5", "--snippet-stride", "16", "--no-mirror", "--batch-size", "4"]


def _args(site, root):
    return ["--dataset", str(root), "--seed", f"{site.url}/gifs?page=1", "--site", "demo", "--allow-host",
            "127.0.0.1", "--rate-limit", "0", "--retries", "1", "--timeout", "5", "--concurrency", "2", *FAST]


def _refresh(site, root):
    runs = refresh.run(_args(site, root), save_main_session=False)
    return {stage.name: stage_run.counters for stage, stage_run in zip(refresh.STAGES, runs)}


def _content(root):
    return contents(root, drop=("failed_at", "scraped_at"))


@pytest.fixture(scope="module")
def port():
    """One port for every site of this module: URLs, and so keys, name it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def whole(tiny_world, port, tmp_path_factory):
    """One refresh of the whole site, uninterrupted: what every other run must end with."""
    root = tmp_path_factory.mktemp("whole") / "data"
    with DemoSite(tiny_world.root, port=port, page_size=2) as site:
        _refresh(site, root)
    return _content(root)


def test_day_after_day_each_refresh_touches_only_what_is_new(tiny_world, port, whole, tmp_path):
    first_video = tiny_world.videos[0]["video_id"]
    yesterday = subset_world(tiny_world.root, tmp_path / "yesterday",
                             [g["gif_id"] for g in tiny_world.gifs if g["video_id"] == first_video])
    old_gifs = sum(g["video_id"] == first_video for g in tiny_world.gifs)
    root = tmp_path / "data"
    with DemoSite(yesterday, port=port, page_size=2) as site:
        day1 = _refresh(site, root)
    assert day1["align"]["gifs_aligned"] == old_gifs and day1["featurize"]["videos_segmented"] == 1

    with DemoSite(tiny_world.root, port=port, page_size=2) as site:
        day2 = _refresh(site, root)
        assert day2["scrape"]["gif_pages_known"] == old_gifs  # yesterday's pages are not read again
        assert day2["scrape"]["gif_page_ok"] == len(tiny_world.gifs) - old_gifs
        assert day2["align"]["gifs_aligned"] == len(tiny_world.gifs) - old_gifs
        assert day2["featurize"]["videos_segmented"] == len(tiny_world.videos) - 1
        assert differing(whole, _content(root)) == set()  # the dataset one refresh of today's site makes

        media = [site.gif_media_path(g["gif_id"]) for g in tiny_world.gifs] + [
            site.video_media_path(v["video_id"]) for v in tiny_world.videos]
        fetched = sum(site.request_count(p) for p in media)
        day3 = _refresh(site, root)  # nothing new
        assert sum(site.request_count(p) for p in media) == fetched
    assert day3["scrape"]["gif_pages_known"] == len(tiny_world.gifs) and "gif_page_ok" not in day3["scrape"]
    assert day3["align"].get("gifs_aligned", 0) == 0 and day3["featurize"].get("videos_segmented", 0) == 0
    assert differing(whole, _content(root)) == set()


def _blob_stored(root):
    return any(p.parent.name != INCOMING for p in (root / "blobs").glob("*/*"))


KILL_POINTS = {
    "scrape_among_the_downloads": _blob_stored,
    "align_after_the_gifs_commit": lambda root: committed(root, "gifs"),
    "featurize_after_the_alignments_commit": lambda root: committed(root, "alignments"),
    "featurize_after_a_features_file_before_its_commit": lambda root: bool(table_files(root, "features")),
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_a_refresh_killed_anywhere_then_rerun_ends_as_an_uninterrupted_one(tiny_world, port, whole, tmp_path, point):
    root = tmp_path / "data"
    with DemoSite(tiny_world.root, port=port, page_size=2, latency_ms=50) as site:
        kill_when("pipelines.refresh", _args(site, root), lambda: KILL_POINTS[point](root))
        _refresh(site, root)
    assert differing(whole, _content(root)) == set()
