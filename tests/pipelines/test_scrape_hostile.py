"""The scrape against a hostile site (the demo site's faults on loopback), run as a user runs it
(`python -m pipelines.scrape`, its stderr read): servers that drip a byte a second, gzip bombs,
a 23-digit view count, a megabyte-long URL, a listing page of 10,000 links. Every GIF ends as a
row or a dead letter with its reason; nothing hangs; stderr stays readable."""
import json
import subprocess
import sys
import time

import pytest

from demo_world.site import DemoSite
from demo_world.site.urls import category_path
from featurizer.dataset import table_store, tables
from featurizer.dataset.table_views import read_view_rows

pytestmark = pytest.mark.timeout(300)

GIF_LEVEL_STAGES = {"gif_page", "gif_media", "video_media"}
DEADLINE_SEC = 3
# GIF index -> (where, fault, the dead letter's (stage, kind), or None: stored)
FAULTS = {
    0: ("page", "drip:1000", ("gif_page", "timeout")),
    1: ("media", "drip:1000", ("gif_media", "timeout")),
    2: ("page", "huge_views", None),
    3: ("page", "long_url:1000000", ("gif_page", "url_too_long")),
    4: ("media", "gzip_bomb:100", ("gif_media", "too_large")),  # 100 MiB inflated, over the GIF cap of 64
    5: ("page", "gzip_bomb:20", ("gif_page", "too_large")),  # 20 MiB inflated, over the 5 MiB page cap
}


def test_a_hostile_site_ends_in_rows_and_dead_letters_without_hanging(wide_world, tmp_path):
    gifs = json.loads((wide_world / "manifest.json").read_text())["gifs"]
    with DemoSite(wide_world, page_size=4) as site:
        for i, (where, spec, _expected) in FAULTS.items():
            path = site.gif_page_path(gifs[i]["gif_id"]) if where == "page" else site.gif_media_path(gifs[i]["gif_id"])
            site.set_fault(path, spec)
        site.set_fault("/gifs", "many_links:10000")  # every listing page: 10,000 more links to its own GIFs
        dripping_seed = site.url + category_path(gifs[6]["category"], 1)
        site.set_fault(category_path(gifs[6]["category"]), "drip:1000")  # a second seed whose listing drips
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "pipelines.scrape", "--dataset", str(tmp_path), "--site", "demo",
             "--seed", f"{site.url}/gifs?page=1", "--seed", dripping_seed, "--allow-host", "127.0.0.1",
             "--rate-limit", "0", "--retries", "1", "--retry-backoff", "0.05", "--timeout", "5",
             "--page-deadline", str(DEADLINE_SEC), "--media-deadline", str(DEADLINE_SEC), "--concurrency", "8"],
            capture_output=True, text=True, timeout=240)
        elapsed = time.monotonic() - started
        page_requests = {g["gif_id"]: site.request_count(site.gif_page_path(g["gif_id"])) for g in gifs}
    assert run.returncode == 0, run.stderr[-3000:]

    rows = {r["gif_id"].removeprefix("demo:"): r for r in table_store.read_rows(str(tmp_path), tables.GIFS)}
    dead = read_view_rows(str(tmp_path), tables.DEADLETTER)
    gif_dead = {}
    for d in dead:
        if d["stage"] in GIF_LEVEL_STAGES:
            native = (d["gif_id"] or d["url"]).removeprefix("demo:").split("?")[0].rsplit("/", 1)[-1]
            gif_dead[native.removesuffix(".gif")] = (d["stage"], d["error_kind"])
    expected_dead = {gifs[i]["gif_id"]: kind for i, (_w, _s, kind) in FAULTS.items() if kind}
    assert gif_dead == expected_dead
    assert sorted(rows) == sorted(g["gif_id"] for g in gifs if g["gif_id"] not in expected_dead)
    assert len(rows) + len(gif_dead) == len(gifs)  # inputs = rows + dead letters
    assert [(d["url"], d["error_kind"]) for d in dead if d["stage"] == "listing"] == [(dripping_seed, "timeout")]

    # The 23-digit view count is null, counted; the GIF is stored.
    assert rows[gifs[2]["gif_id"]]["views"] is None
    assert "nulled_views" in run.stderr
    # The megabyte-long URL: clipped in its dead letter, never in full on stderr.
    long_dead = next(d for d in dead if d["error_kind"] == "url_too_long")
    assert len(long_dead["url"]) <= 4096 and len(long_dead["message"]) <= 2000
    assert len(run.stderr) < 100_000 and "x" * 5000 not in run.stderr
    # 10,000 links with fragments are the listing's own pages: each read once (a dripping one twice).
    assert all(n == (2 if g == gifs[0]["gif_id"] else 1) for g, n in page_requests.items()), page_requests
    # While the drips were in flight, the progress said so, by URL.
    assert "in flight (oldest" in run.stderr
    # Each drip cost two deadlines and a backoff, not the 10,000 s its body takes.
    assert elapsed < 120


def _metadata_line(gif_id, gif_url, youtube_id, **values) -> bytes:
    from pipelines.scraping import v2g_metadata as meta

    fields = {n: "" for n in meta.FIELDS}
    fields.update(youtube_id=youtube_id, gif_id=gif_id, gif_url=gif_url, gif_start_frame="10", gif_end_frame="60",
                  gif_views="77", gif_age="12", gif_title=f"title {gif_id}")
    fields.update(values)
    return meta.SEPARATOR.join(fields[n] for n in meta.FIELDS).encode()


def test_a_hostile_metadata_file_ends_in_rows_and_dead_letters_naming_file_and_line(tiny_world, demo_site, tmp_path):
    from pipelines import scrape
    from pipelines.scraping import v2g_metadata as meta

    first, second = tiny_world.gifs[0], tiny_world.gifs[1]
    gif_url = demo_site.url + demo_site.gif_media_path(first["gif_id"])
    other_url = demo_site.url + demo_site.gif_media_path(second["gif_id"])
    lines = [
        meta.SEPARATOR.join(meta.FIELDS).encode(),                                     # 1: the header
        _metadata_line("ok", gif_url, first["video_id"], gif_views="1e30"),           # 2: views nulled
        _metadata_line("spans", other_url, second["video_id"], gif_start_frame="90", gif_end_frame="30",
                       gif_start_sec="inf", gif_end_sec="2"),                          # 3: spans nulled
        _metadata_line("latin1", gif_url, first["video_id"], gif_title="caf\xe9").replace(b"\xc3\xa9", b"\xe9"),
        _metadata_line("ok", gif_url, first["video_id"], gif_views="1e30"),           # 5: line 2 again
        _metadata_line("ok", other_url, first["video_id"]),                           # 6: line 2's id, another URL
        _metadata_line("words", gif_url, first["video_id"], gif_views="many"),        # 7: not a number
        b"",                                                                           # blank: not a record
        _metadata_line("x" * 300, gif_url, first["video_id"]),                        # 9: id too long
    ]
    path = tmp_path / "metadata.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    dataset = tmp_path / "ds"
    result = scrape.run(["--dataset", str(dataset), "--allow-host", "127.0.0.1", "--rate-limit", "0",
                         "--v2g-metadata", str(path), "--video-url-template",
                         demo_site.url + "/media/videos/{youtube_id}.mp4"])
    rows = {r["gif_id"]: r for r in table_store.read_rows(str(dataset), tables.GIFS)}
    dead = {d["record_key"]: (d["stage"], d["error_kind"], d["message"])
            for d in read_view_rows(str(dataset), tables.DEADLETTER)}
    assert sorted(rows) == ["v2g:ok", "v2g:spans"]
    assert rows["v2g:ok"]["views"] is None and rows["v2g:ok"]["gif_url"] == gif_url  # the earliest line kept
    assert rows["v2g:spans"]["published_start_frame"] is None and rows["v2g:spans"]["published_start_sec"] is None
    where = str(path)
    assert {k: v[:2] for k, v in dead.items()} == {
        f"{where}:4": ("metadata", "undecodable_bytes"), f"{where}:5": ("metadata_gif_id", "repeated_row"),
        f"{where}:6": ("metadata_gif_id", "conflicting_duplicate"), f"{where}:7": ("metadata", "malformed_row"),
        f"{where}:9": ("metadata", "id_too_long")}
    assert all(message.startswith(f"{where} line {key.rsplit(':', 1)[1]}: ") for key, (_s, _k, message) in dead.items())
    assert "gif_url" in dead[f"{where}:6"][2] and "line 2 kept" in dead[f"{where}:6"][2]
    assert len(rows) + len(dead) == len([line for line in lines[1:] if line])  # every line after the header
    assert result.counters["nulled_views"] == 2 and result.counters["nulled_published_frames"] == 1
    assert result.counters["nulled_published_secs"] == 1
