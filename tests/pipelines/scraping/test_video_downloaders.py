"""Video downloads through yt-dlp (video sites) and plain HTTP, into the blob store."""
import hashlib

import pytest

from featurizer.dataset.blobs import BlobStore
from pipelines.scraping.steps import choose_downloader, download_with_ytdlp, video_id_from_url
from pipelines.scraping.web.client import FetchConfig
from pipelines.scraping.web.errors import FetchError


def test_ytdlp_streams_a_video_into_the_blob_store(tiny_world, demo_site, tmp_path):
    video = tiny_world.videos[0]
    url = demo_site.url + demo_site.video_media_path(video["video_id"])
    store = BlobStore(str(tmp_path))
    with store.writer() as sink:
        download_with_ytdlp(url, sink, FetchConfig(allow_hosts=("127.0.0.1",), retries=0))
        sha, size = sink.commit()
    data = (tiny_world.root / video["path"]).read_bytes()
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))


def test_ytdlp_is_held_to_the_address_policy(demo_site, tmp_path):
    with BlobStore(str(tmp_path)).writer() as sink, pytest.raises(FetchError) as caught:
        download_with_ytdlp(demo_site.url + "/media/videos/x.mp4", sink, FetchConfig())
    assert caught.value.kind == "blocked_address"
    assert demo_site.request_count() == 0


def test_ytdlp_failure_is_a_fetch_error(demo_site, tmp_path):
    with BlobStore(str(tmp_path)).writer() as sink, pytest.raises(FetchError) as caught:
        download_with_ytdlp(demo_site.url + "/media/videos/absent.mp4", sink,
                            FetchConfig(allow_hosts=("127.0.0.1",), retries=0))
    assert caught.value.kind == "download_failed"


def test_ytdlp_is_held_to_the_media_deadline(tiny_world, demo_site, tmp_path):
    path = demo_site.video_media_path(tiny_world.videos[0]["video_id"])
    demo_site.set_fault(path, "drip:1000")  # a byte a second: every read in time, the download never done
    with BlobStore(str(tmp_path)).writer() as sink, pytest.raises(FetchError) as caught:
        download_with_ytdlp(demo_site.url + path, sink,
                            FetchConfig(allow_hosts=("127.0.0.1",), retries=0, timeout_sec=5, media_deadline_sec=4))
    assert caught.value.kind == "timeout" and "within 4 s" in str(caught.value)


@pytest.mark.parametrize("url, preference, expected", [
    ("https://www.youtube.com/watch?v=abc", "auto", "yt-dlp"),
    ("https://youtu.be/abc", "auto", "yt-dlp"),
    ("https://mirror.test/abc.mp4", "auto", "http"),
    ("https://mirror.test/abc.mp4", "yt-dlp", "yt-dlp"),
])
def test_downloader_choice(url, preference, expected):
    assert choose_downloader(url, preference) == expected


def test_video_ids_from_urls():
    assert video_id_from_url("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=3") == "dQw4w9WgXcQ"
    assert video_id_from_url("https://youtu.be/dQw4w9WgXcQ") == "dQw4w9WgXcQ"
    assert video_id_from_url("https://mirror.test/a.mp4") == hashlib.sha1(b"https://mirror.test/a.mp4").hexdigest()[:16]
