"""The scrape pipeline end to end: the demo site on loopback, DirectRunner, real Parquet and blobs."""
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from demo_world.site import DemoSite
from featurizer.dataset import table_store, tables
from featurizer.dataset.blobs import BlobStore
from featurizer.dataset.table_views import read_view_rows
from pipelines import scrape
from pipelines.scraping import v2g_metadata as meta

pytestmark = pytest.mark.timeout(300)

GIF_LEVEL_STAGES = {"gif_page", "gif_media", "video_media"}


def _scrape(site, dataset, *extra, seed=True):
    args = ["--dataset", str(dataset), "--allow-host", "127.0.0.1", "--rate-limit", "0",
            "--retries", "1", "--retry-backoff", "0.05", "--timeout", "2", "--concurrency", "8"]
    if seed:
        args += ["--seed", f"{site.url}/gifs?page=1", "--site", "demo"]
    return scrape.run(args + list(extra))


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _rows(dataset, spec):
    return read_view_rows(str(dataset), spec)


def _without_times(rows):
    return sorted(json.dumps({k: v for k, v in r.items() if k not in ("scraped_at", "failed_at")},
                              default=str, sort_keys=True) for r in rows)


def test_every_public_gif_is_stored_with_its_fields(tiny_world, tmp_path):
    private = tiny_world.gifs[0]["gif_id"]
    with DemoSite(tiny_world.root, page_size=2, private_gif_ids=[private]) as site:
        result = _scrape(site, tmp_path)
        private_url = site.url + site.gif_page_path(private)
        page_url_of = {g["gif_id"]: site.url + site.gif_page_path(g["gif_id"]) for g in tiny_world.gifs}
    rows = {r["gif_id"]: r for r in _rows(tmp_path, tables.GIFS)}
    dead = _rows(tmp_path, tables.DEADLETTER)
    public = [g for g in tiny_world.gifs if g["gif_id"] != private]
    assert sorted(rows) == sorted(f"demo:{g['gif_id']}" for g in public)
    blobs = BlobStore(str(tmp_path))
    videos = {v["video_id"]: v for v in tiny_world.videos}
    for gif in public:
        row = rows[f"demo:{gif['gif_id']}"]
        assert row["page_url"] == page_url_of[gif["gif_id"]]
        assert (row["title"], row["views"], row["tags"], row["category"], row["video_id"]) == (
            gif["title"], gif["views"], gif["tags"], gif["category"], gif["video_id"])
        assert row["upload_date"] == dt.date.fromisoformat(gif["upload_date"])
        assert row["video_title"] == videos[gif["video_id"]]["title"]
        gif_file = tiny_world.root / gif["path"]
        assert row["gif_sha256"] == _sha256(gif_file) and row["gif_bytes"] == gif_file.stat().st_size
        assert blobs.open(row["gif_sha256"]).read() == gif_file.read_bytes()
        video_file = tiny_world.root / videos[gif["video_id"]]["path"]
        assert row["video_sha256"] == _sha256(video_file) and row["video_bytes"] == video_file.stat().st_size
    assert [(d["stage"], d["error_kind"], d["url"]) for d in dead] == [
        ("gif_page", "robots_disallowed", private_url)]
    assert len(rows) + len(dead) == len(tiny_world.gifs)  # nothing lost
    assert result.counters["gif_page_ok"] == len(public)
    assert result.counters["video_media_ok"] == len({g["video_id"] for g in public})
    assert result.counters["gif_bytes_fetched"] == sum(r["gif_bytes"] for r in rows.values())


def test_rerun_is_idempotent_and_fetches_no_blob_again(tiny_world, demo_site, tmp_path):
    _scrape(demo_site, tmp_path)
    gifs, dead = _rows(tmp_path, tables.GIFS), _rows(tmp_path, tables.DEADLETTER)
    media_paths = [demo_site.gif_media_path(g["gif_id"]) for g in tiny_world.gifs] + [
        demo_site.video_media_path(v["video_id"]) for v in tiny_world.videos]
    page_paths = [demo_site.gif_page_path(g["gif_id"]) for g in tiny_world.gifs]
    media_requests = sum(demo_site.request_count(p) for p in media_paths)
    page_requests = sum(demo_site.request_count(p) for p in page_paths)
    blob_count = BlobStore(str(tmp_path)).count()

    # A refresh: the listings are read, the GIF pages the table has are not, nothing changes.
    result = _scrape(demo_site, tmp_path)
    assert result.counters["gif_pages_known"] == len(gifs)
    assert sum(demo_site.request_count(p) for p in page_paths) == page_requests
    assert _rows(tmp_path, tables.GIFS) == gifs
    assert _without_times(_rows(tmp_path, tables.DEADLETTER)) == _without_times(dead)

    # --rescrape-known reads every page again and still fetches no blob.
    result = _scrape(demo_site, tmp_path, "--rescrape-known")
    assert sum(demo_site.request_count(p) for p in page_paths) == page_requests + len(gifs)
    assert _without_times(_rows(tmp_path, tables.GIFS)) == _without_times(gifs)
    assert _without_times(_rows(tmp_path, tables.DEADLETTER)) == _without_times(dead)
    assert sum(demo_site.request_count(p) for p in media_paths) == media_requests
    assert BlobStore(str(tmp_path)).count() == blob_count
    assert result.counters["gif_blobs_reused"] == len(gifs)
    assert result.counters.get("gif_bytes_fetched", 0) == 0
    assert result.counters.get("video_bytes_fetched", 0) == 0
    # The rerun changed only scrape times: every bucket was rewritten, nothing else (one file each).
    files = table_store.snapshot(str(tmp_path), tables.GIFS).files
    assert len(files) == len({f.path.split("-")[0] for f in files})


PAGE_FAULTS = {  # GIF page faults -> the dead letter's kind
    0: ("404", "http_404"), 1: ("500", "http_500"), 2: ("redirect_loop", "redirect_loop"),
    3: ("wrong_type", "wrong_content_type"), 4: ("slow:4000", "timeout"),
}
MEDIA_FAULTS = {  # GIF file faults
    5: ("truncate", "truncated"), 6: ("wrong_type", "not_a_gif"), 7: ("oversized", "too_large"),
    8: ("redirect:http://169.254.169.254/latest/meta-data/", "blocked_address"),
}
FLAKY = 9  # a 500 once, then fine: retried to success


def test_each_fault_ends_as_one_dead_letter_with_its_reason(wide_world, tmp_path):
    manifest = json.loads((wide_world / "manifest.json").read_text())
    gifs = manifest["gifs"]
    blocked_video = gifs[10]["video_id"]
    with DemoSite(wide_world, page_size=3, latency_ms=20) as site:
        for i, (spec, _kind) in PAGE_FAULTS.items():
            site.set_fault(site.gif_page_path(gifs[i]["gif_id"]), spec)
        for i, (spec, _kind) in MEDIA_FAULTS.items():
            site.set_fault(site.gif_media_path(gifs[i]["gif_id"]), spec)
        site.set_fault(site.gif_page_path(gifs[FLAKY]["gif_id"]), "flaky500:1")
        site.set_fault(site.video_media_path(blocked_video), "redirect:http://10.0.0.1/video.mp4")
        missing_listing = f"{site.url}/gifs?page=99"
        result = _scrape(site, tmp_path, "--seed", missing_listing, "--max-media-bytes", str(50 * 2**20))
        assert site.request_count(site.gif_page_path(gifs[FLAKY]["gif_id"])) == 2

    expected = {}
    for i, gif in enumerate(gifs):
        if i in PAGE_FAULTS:
            expected[gif["gif_id"]] = ("gif_page", PAGE_FAULTS[i][1])
        elif i in MEDIA_FAULTS:
            expected[gif["gif_id"]] = ("gif_media", MEDIA_FAULTS[i][1])
        elif gif["video_id"] == blocked_video:
            expected[gif["gif_id"]] = ("video_media", "blocked_address")
    rows = _rows(tmp_path, tables.GIFS)
    dead = _rows(tmp_path, tables.DEADLETTER)
    gif_dead = {}
    for d in dead:
        if d["stage"] in GIF_LEVEL_STAGES:
            native = (d["gif_id"] or d["url"]).rsplit("/", 1)[-1].removeprefix("demo:")
            gif_dead[native] = (d["stage"], d["error_kind"])
    assert gif_dead == expected
    assert sorted(r["gif_id"] for r in rows) == sorted(
        f"demo:{g['gif_id']}" for g in gifs if g["gif_id"] not in expected)
    assert len(rows) + len(gif_dead) == len(gifs)  # nothing lost
    listing_dead = [(d["url"], d["error_kind"]) for d in dead if d["stage"] == "listing"]
    assert listing_dead == [(missing_listing, "http_404")]
    assert result.counters["failed_gif_page_http_404"] == 1
    assert result.counters["failed_video_media_blocked_address"] == sum(
        1 for k in expected.values() if k[0] == "video_media")


def test_loopback_is_refused_unless_allowed(demo_site, tmp_path):
    scrape.run(["--dataset", str(tmp_path), "--seed", f"{demo_site.url}/gifs?page=1", "--site", "demo"])
    dead = _rows(tmp_path, tables.DEADLETTER)
    assert [(d["stage"], d["error_kind"]) for d in dead] == [("listing", "blocked_address")]
    assert "127.0.0.1" in dead[0]["message"]
    assert _rows(tmp_path, tables.GIFS) == []
    assert demo_site.request_count() == 0


def _metadata_line(gif_id, gif_url, youtube_id, start_frame=10, views=77):
    values = {n: "" for n in meta.FIELDS}
    values.update(youtube_id=youtube_id, is_creative_commons="1", gif_id=gif_id, gif_url=gif_url,
                  gif_start_frame=str(start_frame), gif_end_frame=str(start_frame + 50),
                  gif_start_sec="0.4", gif_end_sec="2.4", gif_title=f"title {gif_id}", gif_views=str(views),
                  gif_age="12", video_title="a video", video_category="Sports")
    return meta.SEPARATOR.join(values[n] for n in meta.FIELDS)


def test_metadata_ingest_with_missing_gif_and_missing_video(tiny_world, demo_site, tmp_path):
    site = demo_site.url
    first, second = tiny_world.gifs[0], tiny_world.gifs[1]
    lines = [
        meta.SEPARATOR.join(meta.FIELDS),
        _metadata_line("ok1", site + demo_site.gif_media_path(first["gif_id"]), first["video_id"], 10, 5),
        _metadata_line("ok2", site + demo_site.gif_media_path(second["gif_id"]), second["video_id"], 20, 6),
        _metadata_line("nogif", site + "/media/gifs/absent.gif", first["video_id"]),
        _metadata_line("novideo", site + demo_site.gif_media_path(first["gif_id"]), "absent-video"),
        "broken;\tline",
    ]
    path = tmp_path / "metadata.txt"
    path.write_text("\n".join(lines) + "\n")
    tags = tmp_path / "video_tags.txt"
    tags.write_text(f"{first['video_id']};\t cats; slow motion\nno tags here\n")
    dataset = tmp_path / "ds"
    _scrape(demo_site, dataset, "--v2g-metadata", str(path), "--v2g-video-tags", str(tags),
            "--video-url-template", site + "/media/videos/{youtube_id}.mp4", seed=False)
    rows = {r["gif_id"]: r for r in _rows(dataset, tables.GIFS)}
    dead = {d["gif_id"] or d["stage"]: (d["stage"], d["error_kind"]) for d in _rows(dataset, tables.DEADLETTER)}
    assert sorted(rows) == ["v2g:ok1", "v2g:ok2"]
    assert dead == {"v2g:nogif": ("gif_media", "http_404"), "v2g:novideo": ("video_media", "http_404"),
                    "metadata": ("metadata", "malformed_row"), "video_tags": ("video_tags", "malformed_row")}
    for row in rows.values():  # the file lists the first GIF's video only
        assert row["video_tags"] == (["cats", "slow motion"] if row["video_id"] == first["video_id"] else None)
    assert rows["v2g:ok1"]["is_creative_commons"] is True
    ok1 = rows["v2g:ok1"]
    assert (ok1["published_start_frame"], ok1["published_end_frame"], ok1["views"]) == (10, 60, 5)
    assert (ok1["published_start_sec"], ok1["published_end_sec"], ok1["published_gif_age"]) == (0.4, 2.4, 12.0)
    assert ok1["video_id"] == first["video_id"] and ok1["source"] == "v2g-metadata"
    video_file = tiny_world.root / next(v["path"] for v in tiny_world.videos if v["video_id"] == first["video_id"])
    assert ok1["video_sha256"] == _sha256(video_file)
    assert len(rows) + len(dead) == len(lines) - 1 + 1  # every data line accounted for (and the bad tags line)


def test_bad_options_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="nothing to scrape"):
        scrape.run(["--dataset", str(tmp_path)])
    with pytest.raises(ValueError, match="--site"):
        scrape.run(["--dataset", str(tmp_path), "--seed", "http://example.test/"])
    with pytest.raises(ValueError, match="youtube_id"):
        scrape.run(["--dataset", str(tmp_path), "--v2g-metadata", "m.txt", "--video-url-template", "x/{id}"])


def test_rerun_settles_earlier_dead_letters(tiny_world, demo_site, tmp_path):
    gif = tiny_world.gifs[0]
    demo_site.set_fault(demo_site.gif_page_path(gif["gif_id"]), "404")
    _scrape(demo_site, tmp_path)
    dead = _rows(tmp_path, tables.DEADLETTER)
    assert [(d["stage"], d["error_kind"]) for d in dead] == [("gif_page", "http_404")]
    assert len(_rows(tmp_path, tables.GIFS)) == len(tiny_world.gifs) - 1

    demo_site.clear_faults()
    _scrape(demo_site, tmp_path)
    assert _rows(tmp_path, tables.DEADLETTER) == []
    assert len(_rows(tmp_path, tables.GIFS)) == len(tiny_world.gifs)
