"""The demo GIF website, exercised over real HTTP on loopback with `requests` and parsel,
the way the crawler and its site adapter will use it."""
import http.client
import json
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from parsel import Selector
from PIL import Image

from demo_world.site import DemoSite, UnsatisfiableRange, build_parser, main, parse_byte_range

REPO_ROOT = Path(__file__).resolve().parents[2]
MP4_HEADER = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2mp41"
PAGE_SIZE = 4
PRIVATE_GIF_ID = "g00007"
GIF_COUNT = 11
TIMEOUT_S = 5

pytestmark = pytest.mark.timeout(30)


def write_gif(path: Path, colour: int):
    frames = [Image.new("P", (16, 12), colour), Image.new("P", (16, 12), colour + 1)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def write_fake_mp4(path: Path, size: int):
    filler = bytes(range(256)) * (size // 256 + 1)
    path.write_bytes((MP4_HEADER + filler)[:size])


def gif_entry(index: int) -> dict:
    return {
        "gif_id": f"g{index:05d}",
        "video_id": f"v{index % 2 + 1:04d}",
        "path": f"gifs/shared{index % 3}.gif",  # GIF entries share files, as in benchmarks
        "title": f"Moment {index} <b>&\"quoted\"",
        "views": 1234 * index,
        "upload_date": f"2026-01-{index % 4 + 1:02d}",
        "tags": ["cat", f"tag{index}"],
        "category": "Sports" if index % 2 else "Pets & Animals",
        "truth": {"start_sec": 1.0, "end_sec": 2.5},
    }


@pytest.fixture(scope="module")
def world_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("world")
    (root / "gifs").mkdir()
    (root / "videos").mkdir()
    for index in range(3):
        write_gif(root / "gifs" / f"shared{index}.gif", colour=index * 2)
    write_fake_mp4(root / "videos" / "v0001.mp4", 300_000)  # several stream chunks
    write_fake_mp4(root / "videos" / "v0002.mp4", 5_000)
    videos = [{"video_id": f"v{n:04d}", "path": f"videos/v{n:04d}.mp4", "title": f"Video {n} <&>",
               "category": "Sports", "tags": ["a"], "upload_date": "2025-03-01", "fps": 25.0,
               "num_frames": 1000, "duration_sec": 40.0, "width": 320, "height": 180}
              for n in (1, 2)]
    manifest = {"version": 1, "videos": videos, "gifs": [gif_entry(i) for i in range(GIF_COUNT)]}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture
def site(world_root):
    with DemoSite(world_root, page_size=PAGE_SIZE, private_gif_ids={PRIVATE_GIF_ID}) as demo:
        yield demo


def get(site: DemoSite, path: str, **kwargs) -> requests.Response:
    return requests.get(site.url + path, timeout=TIMEOUT_S, **kwargs)


def expected_listing_order() -> list[str]:
    entries = [gif_entry(i) for i in range(GIF_COUNT)]
    entries.sort(key=lambda e: e["gif_id"])
    entries.sort(key=lambda e: e["upload_date"], reverse=True)
    return [e["gif_id"] for e in entries]


# ---- pages ---------------------------------------------------------------------------------

def test_robots_txt_disallows_private(site):
    response = get(site, "/robots.txt")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text.splitlines() == ["User-agent: *", "Disallow: /private/"]


def test_root_redirects_to_first_listing_page(site):
    response = get(site, "/", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/gifs?page=1"


def test_listing_pagination_covers_every_gif_exactly_once_newest_first(site):
    hrefs, page_url, pages = [], site.url + "/gifs?page=1", 0
    while page_url:
        response = requests.get(page_url, timeout=TIMEOUT_S)
        assert response.status_code == 200
        page = Selector(text=response.text)
        hrefs += page.css("li.gif-item a.gif-link::attr(href)").getall()
        assert len(page.css("li.gif-item")) <= PAGE_SIZE
        assert bool(page.css('a[rel="prev"]')) == (pages > 0)
        next_href = page.css('a.next[rel="next"]::attr(href)').get()
        page_url = site.url + next_href if next_href else None
        pages += 1

    assert pages == -(-GIF_COUNT // PAGE_SIZE)
    expected = [site.gif_page_path(gif_id) for gif_id in expected_listing_order()]
    assert hrefs == expected
    assert f"/private/gif/{PRIVATE_GIF_ID}" in hrefs
    assert get(site, f"/gifs?page={pages + 1}").status_code == 404
    assert get(site, "/gifs?page=0").status_code == 404
    assert get(site, "/gifs?page=abc").status_code == 400


def test_category_page_lists_only_that_category(site):
    page = Selector(text=get(site, "/category/sports?page=1").text)
    titles = page.css("a.gif-link::text").getall()
    assert titles and all(int(title.split()[1]) % 2 == 1 for title in titles)
    assert get(site, "/category/no-such-category").status_code == 404


def test_gif_page_fields_parse_with_css_selectors(site):
    gif = gif_entry(3)
    response = get(site, site.gif_page_path(gif["gif_id"]))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    article = Selector(text=response.text).css("article.gif")
    assert article.attrib["data-gif-id"] == gif["gif_id"]
    assert article.css("h1.title::text").get() == gif["title"]
    assert article.css("img.gif-image::attr(src)").get() == site.gif_media_path(gif["gif_id"])
    assert article.css("img.gif-image::attr(alt)").get() == gif["title"]
    source = article.css("a.source-video")
    assert source.attrib["href"] == site.video_media_path(gif["video_id"])
    assert source.attrib["data-video-id"] == gif["video_id"]
    assert source.css("::text").get() == "Video 2 <&>"
    assert article.css("span.views::attr(data-views)").get() == str(gif["views"])
    assert article.css("span.views::text").get() == "3,702 views"
    assert article.css("time.uploaded::attr(datetime)").get() == gif["upload_date"]
    assert article.css("time.uploaded::text").get() == "Jan 4, 2026"
    assert article.css("ul.tags li.tag::text").getall() == gif["tags"]
    assert article.css("a.category::text").get() == "Sports"
    assert article.css("a.category::attr(href)").get() == "/category/sports"


def test_private_gif_page_is_served_despite_robots(site):
    response = get(site, f"/private/gif/{PRIVATE_GIF_ID}")
    assert response.status_code == 200
    article = Selector(text=response.text).css("article.gif")
    assert article.attrib["data-gif-id"] == PRIVATE_GIF_ID


def test_video_page_embeds_the_mp4(site):
    page = Selector(text=get(site, "/video/v0001").text)
    assert page.css("video source::attr(src)").get() == "/media/videos/v0001.mp4"
    assert page.css("video source::attr(type)").get() == "video/mp4"


@pytest.mark.parametrize("path", ["/gif/g99999", "/video/v9999", "/media/gifs/g99999.gif",
                                  "/media/videos/v9999.mp4", "/nothing/here"])
def test_unknown_paths_are_404(site, path):
    assert get(site, path).status_code == 404


@pytest.mark.parametrize("bad_gif_path", ["../outside.gif", "/etc/passwd"])
def test_manifest_paths_must_stay_inside_the_world(tmp_path, bad_gif_path):
    entry = dict(gif_entry(0), path=bad_gif_path)
    manifest = {"version": 1, "videos": [], "gifs": [entry]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="outside the world root"):
        DemoSite(tmp_path)


def test_manifest_rejects_duplicate_gif_ids(tmp_path):
    gifs = [gif_entry(0), gif_entry(0)]
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 1, "videos": [], "gifs": gifs}))
    with pytest.raises(ValueError, match="duplicate gif_id"):
        DemoSite(tmp_path)


# ---- media ---------------------------------------------------------------------------------

def test_media_bytes_equal_the_world_files(site, world_root):
    for index in (0, 3, 4):  # 0 and 3 share a file
        response = get(site, site.gif_media_path(f"g{index:05d}"))
        expected = (world_root / "gifs" / f"shared{index % 3}.gif").read_bytes()
        assert response.headers["Content-Type"] == "image/gif"
        assert response.headers["Content-Length"] == str(len(expected))
        assert response.content == expected
    video = get(site, site.video_media_path("v0001"))
    assert video.headers["Content-Type"] == "video/mp4"
    assert video.content == (world_root / "videos" / "v0001.mp4").read_bytes()
    assert video.content.startswith(MP4_HEADER)


def test_head_sends_headers_without_body(site, world_root):
    response = requests.head(site.url + site.video_media_path("v0001"), timeout=TIMEOUT_S)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == "300000"
    assert response.content == b""
    # The keep-alive connection must still be usable after a HEAD.
    with requests.Session() as session:
        session.head(site.url + "/robots.txt", timeout=TIMEOUT_S)
        assert session.get(site.url + "/robots.txt", timeout=TIMEOUT_S).status_code == 200


def test_video_range_requests(site, world_root):
    data = (world_root / "videos" / "v0001.mp4").read_bytes()
    path = site.video_media_path("v0001")
    partial = get(site, path, headers={"Range": "bytes=100-199"})
    assert partial.status_code == 206
    assert partial.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert partial.content == data[100:200]
    assert get(site, path, headers={"Range": "bytes=-10"}).content == data[-10:]
    assert get(site, path, headers={"Range": f"bytes={len(data)}-"}).status_code == 416


@pytest.mark.parametrize("header, expected", [
    (None, None), ("bytes=0-9", range(0, 10)), ("bytes=5-", range(5, 100)),
    ("bytes=-20", range(80, 100)), ("bytes=90-500", range(90, 100)),
    ("bytes=0-1,5-6", None), ("items=0-1", None), ("bytes=9-2", None),
])
def test_parse_byte_range(header, expected):
    assert parse_byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=-0"])
def test_parse_byte_range_unsatisfiable(header):
    with pytest.raises(UnsatisfiableRange):
        parse_byte_range(header, 100)


# ---- counters ------------------------------------------------------------------------------

def test_request_count_per_exact_path(site):
    media = site.gif_media_path("g00001")
    assert site.request_count() == 0
    for _ in range(3):
        get(site, media)
    get(site, "/gifs?page=2")
    assert site.request_count(media) == 3
    assert site.request_count("/gifs") == 1
    assert site.request_count(site.gif_media_path("g00002")) == 0
    assert site.request_count() == 4


# ---- faults --------------------------------------------------------------------------------

def test_latency_delays_every_response(world_root):
    with DemoSite(world_root, latency_ms=200) as slow_site:
        started = time.monotonic()
        assert get(slow_site, "/robots.txt").status_code == 200
        assert time.monotonic() - started >= 0.2


def test_slow_fault_delays_only_its_path(site):
    site.set_fault("/gif/g00001", "slow:300")
    started = time.monotonic()
    assert get(site, "/gif/g00001").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    get(site, "/gif/g00002")
    assert time.monotonic() - started < 0.3


@pytest.mark.parametrize("status", [404, 500])
def test_status_faults_apply_to_any_kind_of_path(site, status):
    for path in ("/robots.txt", "/gifs", "/gif/g00001", site.gif_media_path("g00001")):
        site.set_fault(path, str(status))
        assert get(site, path).status_code == status
    site.clear_faults()
    assert get(site, "/robots.txt").status_code == 200


def test_flaky500_fails_n_times_then_recovers(site):
    path = site.gif_media_path("g00002")
    site.set_fault(path, "flaky500:2")
    assert [get(site, path).status_code for _ in range(4)] == [500, 500, 200, 200]


def test_truncate_page_raises_chunked_encoding_error(site):
    site.set_fault("/gif/g00001", "truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(site, "/gif/g00001")


def test_truncate_media_sends_half_the_declared_length(site):
    path = site.video_media_path("v0001")
    site.set_fault(path, "truncate")
    with get(site, path, stream=True) as response:
        assert response.headers["Content-Length"] == "300000"
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for _ in response.iter_content(8192):
                pass
    # requests drops the last partial chunk; http.client reports exactly what arrived.
    address = urlsplit(site.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=TIMEOUT_S)
    try:
        connection.request("GET", path)
        with pytest.raises(http.client.IncompleteRead) as incomplete:
            connection.getresponse().read()
    finally:
        connection.close()
    assert len(incomplete.value.partial) == 150_000
    assert get(site, "/robots.txt").status_code == 200


def test_wrong_type_on_media_serves_html(site):
    path = site.gif_media_path("g00001")
    site.set_fault(path, "wrong_type")
    response = get(site, path)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert b"<html" in response.content


def test_wrong_type_on_page_serves_octet_stream(site):
    site.set_fault("/gif/g00001", "wrong_type")
    response = get(site, "/gif/g00001")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert len(response.content) == int(response.headers["Content-Length"]) > 0


def test_redirect_loop_exhausts_redirects(site):
    site.set_fault("/gif/g00001", "redirect_loop")
    with pytest.raises(requests.exceptions.TooManyRedirects):
        get(site, "/gif/g00001")
    first_hop = get(site, "/gif/g00001", allow_redirects=False)
    second_hop = get(site, first_hop.headers["Location"], allow_redirects=False)
    assert second_hop.status_code == 302
    assert second_hop.headers["Location"] == "/gif/g00001"


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/",
                                    "http://10.0.0.1/internal.gif"])
def test_redirect_fault_points_at_the_given_url(site, target):
    path = site.gif_media_path("g00001")
    site.set_fault(path, f"redirect:{target}")
    response = get(site, path, allow_redirects=False)  # never follow: the target is off-limits
    assert response.status_code == 302
    assert response.headers["Location"] == target


def wait_for_thread_count(at_most: int, within_s: float) -> int:
    deadline = time.monotonic() + within_s
    while threading.active_count() > at_most and time.monotonic() < deadline:
        time.sleep(0.02)
    return threading.active_count()


def test_oversized_streams_until_client_hangs_up(site):
    threads_before = threading.active_count()
    path = site.gif_media_path("g00001")
    site.set_fault(path, "oversized")
    received = 0
    with get(site, path, stream=True) as response:
        assert response.headers["Content-Length"] == "4294967296"
        for chunk in response.iter_content(64 * 1024):
            received += len(chunk)
            if received >= 1024 * 1024:
                break
    assert received >= 1024 * 1024
    # The handler notices the hang-up and its thread ends; the server keeps serving.
    assert wait_for_thread_count(threads_before, within_s=5) <= threads_before
    assert get(site, "/robots.txt").status_code == 200


def test_faults_from_constructor_and_validation(world_root):
    with DemoSite(world_root, faults={"/robots.txt": "500"}) as faulty:
        assert get(faulty, "/robots.txt").status_code == 500
        for bad_spec in ("teapot", "slow:abc", "flaky500", "redirect:"):
            with pytest.raises(ValueError):
                faulty.set_fault("/robots.txt", bad_spec)
        with pytest.raises(ValueError):
            faulty.set_fault("/gifs?page=1", "500")


# ---- server behaviour ----------------------------------------------------------------------

def test_serves_a_hundred_concurrent_connections(world_root):
    with DemoSite(world_root, latency_ms=300) as slow_site:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=100) as pool:
            statuses = list(pool.map(lambda _: get(slow_site, "/gifs?page=1").status_code,
                                     range(100)))
        elapsed = time.monotonic() - started
        assert statuses == [200] * 100
        assert elapsed < 5  # one at a time would take 30 s
        assert slow_site.request_count("/gifs") == 100


def test_port_zero_picks_distinct_free_ports(world_root):
    with DemoSite(world_root) as first, DemoSite(world_root) as second:
        assert first.url != second.url
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", first.url)


def test_stop_is_prompt_with_slow_and_oversized_responses_in_flight(world_root):
    demo = DemoSite(world_root, faults={"/gif/g00001": "slow:20000",
                                        "/media/gifs/g00001.gif": "oversized"}).start()
    slow_client_errors = []

    def fetch_slow_page():
        try:
            requests.get(demo.url + "/gif/g00001", timeout=TIMEOUT_S)
        except requests.RequestException as error:
            slow_client_errors.append(error)

    slow_client = threading.Thread(target=fetch_slow_page, daemon=True)
    slow_client.start()
    unread = requests.get(demo.url + "/media/gifs/g00001.gif", stream=True, timeout=TIMEOUT_S)
    time.sleep(0.2)  # let the slow request arrive and the oversized one fill the socket buffers
    started = time.monotonic()
    demo.stop()
    assert time.monotonic() - started < 2
    unread.close()
    slow_client.join(TIMEOUT_S)
    # The in-flight slow request is dropped, not answered, as a server going down would.
    assert isinstance(slow_client_errors[0], requests.ConnectionError)


# ---- command line --------------------------------------------------------------------------

def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--world", "--port", "--host", "--latency-ms", "--page-size", "--fault"):
        assert option in help_text
    assert build_parser().prog == "gifrank demo-site"


def test_cli_rejects_bad_fault(world_root, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--world", str(world_root), "--fault", "/robots.txt=teapot"])
    assert exit_info.value.code == 2


def test_cli_serves_until_terminated(world_root):
    command = [sys.executable, "-m", "demo_world.site", "--world", str(world_root),
               "--port", "0", "--page-size", "3", "--fault", "/robots.txt=500"]
    server = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+", server.stdout.readline()).group(0)
        page = Selector(text=requests.get(url + "/gifs?page=1", timeout=TIMEOUT_S).text)
        assert len(page.css("li.gif-item")) == 3
        assert requests.get(url + "/robots.txt", timeout=TIMEOUT_S).status_code == 500
    finally:
        server.terminate()
        server.wait(TIMEOUT_S)
    assert server.returncode == 0
    server.stdout.close()
