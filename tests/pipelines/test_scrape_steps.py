"""The scrape pipeline's steps one at a time: TestPipeline on DirectRunner, the demo site on loopback,
real blobs and Delta tables. Every input of a step ends as its output or as a dead letter."""
import hashlib
from collections import defaultdict

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from demo_world.site import DemoSite
from demo_world.site.urls import category_path
from featurizer.dataset import table_store, tables
from featurizer.dataset.blobs import BlobStore
from pipelines.scrape import (
    CrawlListings,
    DownloadMedia,
    OneRecordPerGifId,
    PagesToRead,
    ReadGifPages,
    ReadV2gMetadata,
    WriteScrapeTables,
    gif_row,
    page_key,
)
from pipelines.scraping import v2g_metadata as meta
from pipelines.scraping.sites.adapter import SiteAdapter
from pipelines.scraping.steps import ScrapeConfig
from pipelines.scraping.web.client import FetchConfig
from pipelines.stage import metrics_of
from pipelines.transforms.table_io import table_snapshots
from tests.rows import dead_letter_row, gif_rows_from_world, write_table

pytestmark = pytest.mark.timeout(120)


def _config(dataset, known_files=()) -> ScrapeConfig:
    fetch = FetchConfig(allow_hosts=("127.0.0.1",), requests_per_sec_per_host=None, retries=0, timeout_sec=2)
    return ScrapeConfig(dataset=str(dataset), fetch=fetch, site=SiteAdapter.read_config("demo"),
                        known_files=tuple(known_files))


def _run(p) -> tuple[dict, dict]:
    """Runs the pipeline: its scrape counters and distributions' maxima."""
    result = p.run()
    result.wait_until_finish()
    return metrics_of(result, "gifrank.scrape")


def _dead(dead):
    return dead | "DeadKinds" >> beam.Map(lambda d: (d["stage"], d["error_kind"], d["url"]))


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_crawl_listings_finds_each_gif_page_once_and_a_missing_listing_is_a_dead_letter(tiny_world, tmp_path):
    category = tiny_world.gifs[0]["category"]
    with DemoSite(tiny_world.root, page_size=2) as site:
        all_gifs, of_category = f"{site.url}/gifs?page=1", site.url + category_path(category, 1)
        missing = f"{site.url}/gifs?page=99"
        p = test_pipeline.TestPipeline()
        page_urls, dead = (p | beam.Create([all_gifs, of_category, missing])
                           | CrawlListings(_config(tmp_path), concurrency=4))
        # a GIF page linked from both listings is read once
        assert_that(page_urls, equal_to([site.url + site.gif_page_path(g["gif_id"]) for g in tiny_world.gifs]))
        assert_that(_dead(dead), equal_to([("listing", "http_404", missing)]), label="Dead")
        counters, _ = _run(p)
    in_category = sum(g["category"] == category for g in tiny_world.gifs)
    assert counters["gif_links_found"] == len(tiny_world.gifs) + in_category
    assert (counters["listing_ok"], counters["listing_failed"]) == (2, 1)


def test_pages_to_read_skips_stored_pages_and_bounds_a_run_by_page_key(tiny_world, tmp_path):
    pages = [f"http://site.test/gif/{i}" for i in range(8)]
    stored = gif_rows_from_world(tiny_world, BlobStore(str(tmp_path)))[:2]
    for row, page in zip(stored, pages):
        row["page_url"] = page
    write_table(tmp_path, tables.GIFS, stored)
    config = _config(tmp_path, [f.path for f in table_store.snapshot(str(tmp_path), tables.GIFS).files])
    new = pages[2:]
    by_key = sorted(new, key=page_key)
    after = page_key(by_key[0])  # the last run took the smallest key

    p = test_pipeline.TestPipeline()
    urls = p | beam.Create(pages)
    assert_that(urls | "AllNew" >> PagesToRead(config), equal_to(new), label="New")
    assert_that(urls | "Every" >> PagesToRead(config, rescrape_known=True), equal_to(pages), label="Rescrape")
    bounded = urls | "Bounded" >> PagesToRead(config, pages_per_run=2, pages_after=after)
    assert_that(bounded, equal_to(by_key[1:3]), label="NextTwo")
    counters, highest = _run(p)
    assert counters["gif_pages_known"] == 2 * len(stored)  # by the two steps that skip stored pages
    assert counters["gif_pages_taken"] == 2
    assert highest["page_key_taken"] == page_key(by_key[2])


def test_read_gif_pages_yields_each_page_record_or_its_dead_letter(tiny_world, tmp_path):
    gifs = tiny_world.gifs
    with DemoSite(tiny_world.root, page_size=2) as site:
        broken = site.url + site.gif_page_path(gifs[0]["gif_id"])
        site.set_fault(site.gif_page_path(gifs[0]["gif_id"]), "404")
        p = test_pipeline.TestPipeline()
        records, dead = (p | beam.Create([site.url + site.gif_page_path(g["gif_id"]) for g in gifs])
                         | ReadGifPages(_config(tmp_path), concurrency=4))
        fields = records | beam.Map(lambda r: (r["gif_id"], r["title"], r["video_id"], r["page_url"]))
        assert_that(fields, equal_to([(f"demo:{g['gif_id']}", g["title"], g["video_id"],
                                       site.url + site.gif_page_path(g["gif_id"])) for g in gifs[1:]]))
        assert_that(_dead(dead), equal_to([("gif_page", "http_404", broken)]), label="Dead")
        counters, _ = _run(p)
    assert (counters["gif_page_ok"], counters["gif_page_failed"]) == (len(gifs) - 1, 1)


def _metadata_line(gif_id, gif_url, youtube_id, **values):
    fields = {n: "" for n in meta.FIELDS}
    fields.update(youtube_id=youtube_id, gif_id=gif_id, gif_url=gif_url, gif_start_frame="10", gif_end_frame="60",
                  gif_views="77", gif_title=f"title {gif_id}")
    fields.update(values)
    return meta.SEPARATOR.join(fields[n] for n in meta.FIELDS)


def test_read_v2g_metadata_keeps_each_gif_ids_earliest_line_and_names_every_other_line(tmp_path):
    lines = [
        meta.SEPARATOR.join(meta.FIELDS),                                  # 1: the header
        _metadata_line("a", "http://m.test/a.gif", "vid1"),                # 2
        _metadata_line("a", "http://m.test/a.gif", "vid1"),                # 3: line 2 again
        _metadata_line("a", "http://m.test/other.gif", "vid1"),            # 4: line 2's id, another URL
        "not;\ta row",                                                     # 5
        _metadata_line("b", "http://m.test/b.gif", "vid2", gif_views="1e30"),  # 6: views nulled
    ]
    path, tags = tmp_path / "metadata.txt", tmp_path / "video_tags.txt"
    path.write_text("\n".join(lines) + "\n")
    tags.write_text("vid1;\t cats; slow motion\nno tags here\n")
    where = str(path)

    expected_records = [("v2g:a", "http://m.test/a.gif", "http://m.test/vid1.mp4", 77, ["cats", "slow motion"]),
                        ("v2g:b", "http://m.test/b.gif", "http://m.test/vid2.mp4", None, None)]
    expected_line_dead = [(f"{where}:3", "metadata_gif_id", "repeated_row"),
                          (f"{where}:4", "metadata_gif_id", "conflicting_duplicate"),
                          (f"{where}:5", "metadata", "malformed_row")]
    assert len(expected_records) + len(expected_line_dead) == len(lines) - 1  # every line after the header

    p = test_pipeline.TestPipeline()
    records, dead = p | ReadV2gMetadata(where, "http://m.test/{youtube_id}.mp4", str(tags))
    assert_that(records | beam.Map(lambda r: (r["gif_id"], r["gif_url"], r["video_url"], r["views"],
                                              r["video_tags"])), equal_to(expected_records))
    assert_that(dead | beam.Map(lambda d: (d["record_key"], d["stage"], d["error_kind"])),
                equal_to([*expected_line_dead, (f"{tags}:2", "video_tags", "malformed_row")]), label="Dead")
    counters, _ = _run(p)
    assert counters["nulled_views"] == 1


def test_one_record_per_gif_id_keeps_the_earliest_line():
    records = [{"gif_id": "v2g:a", "title": "late", "_line": 9}, {"gif_id": "v2g:a", "title": "early", "_line": 2},
               {"gif_id": "v2g:b", "title": "only", "_line": 5}]
    with test_pipeline.TestPipeline() as p:
        kept, dead = p | beam.Create(records) | OneRecordPerGifId("m.txt")
        assert_that(kept | beam.Map(lambda r: (r["gif_id"], r["title"])), equal_to([("v2g:a", "early"),
                                                                                    ("v2g:b", "only")]))
        assert_that(dead | beam.Map(lambda d: (d["record_key"], d["gif_id"], d["error_kind"])),
                    equal_to([("m.txt:9", "v2g:a", "conflicting_duplicate")]), label="Dead")


def test_download_media_stores_each_blob_once_and_a_missing_one_is_a_dead_letter(tiny_world, tmp_path):
    gifs_of = defaultdict(list)
    for gif in tiny_world.gifs:
        gifs_of[gif["video_id"]].append(gif)
    video_id, shared = next((v, g) for v, g in gifs_of.items() if len(g) >= 2)
    first, second = shared[:2]
    with DemoSite(tiny_world.root) as site:
        video_url = site.url + site.video_media_path(video_id)

        def record(gif_id, gif_url, video_url):
            return {"gif_id": f"demo:{gif_id}", "gif_url": gif_url, "video_url": video_url}

        records = [
            record(first["gif_id"], site.url + site.gif_media_path(first["gif_id"]), video_url),
            record(second["gif_id"], site.url + site.gif_media_path(second["gif_id"]), video_url),
            record("nogif", site.url + "/media/gifs/absent.gif", video_url),
            record("novideo", site.url + site.gif_media_path(first["gif_id"]), site.url + "/media/videos/absent.mp4"),
        ]
        p = test_pipeline.TestPipeline()
        complete, dead = p | beam.Create(records) | DownloadMedia(_config(tmp_path), concurrency=4)
        assert_that(complete | beam.Map(lambda r: (r["gif_id"], r["gif_sha256"], r["video_sha256"])), equal_to([
            (f"demo:{g['gif_id']}", _sha256(tiny_world.gif_path(g["gif_id"])), _sha256(tiny_world.video_path(video_id)))
            for g in (first, second)]))
        assert_that(dead | beam.Map(lambda d: (d["stage"], d["error_kind"], d["gif_id"])), equal_to([
            ("gif_media", "http_404", "demo:nogif"), ("video_media", "http_404", "demo:novideo")]), label="Dead")
        counters, _ = _run(p)
        video_requests = site.request_count(site.video_media_path(video_id))
    assert video_requests == 1  # the records of one video fetch it once
    assert counters["video_bytes_fetched"] == tiny_world.video_path(video_id).stat().st_size
    # first's GIF twice (its own record and novideo's): both downloaded, one blob
    assert counters["gif_bytes_fetched"] == 2 * tiny_world.gif_path(first["gif_id"]).stat().st_size + (
        tiny_world.gif_path(second["gif_id"]).stat().st_size)
    assert BlobStore(str(tmp_path)).count() == 3


def _write(dataset, run_id, gif_rows, dead_rows):
    snapshots = table_snapshots(str(dataset), (tables.GIFS, tables.DEADLETTERS["scrape"]))
    with test_pipeline.TestPipeline() as p:
        {"gifs": p | "Gifs" >> beam.Create(gif_rows), "dead": p | "Dead" >> beam.Create(dead_rows)} | (
            WriteScrapeTables(str(dataset), run_id, snapshots))


def test_write_scrape_tables_commits_rows_and_settles_the_dead_letters_of_stored_records(tiny_world, tmp_path):
    rows = [gif_row(r) for r in gif_rows_from_world(tiny_world, BlobStore(str(tmp_path)))]
    settled, other = dead_letter_row(0), dead_letter_row(1)
    settled["url"] = rows[0]["gif_url"]  # the GIF failed once, then was stored
    _write(tmp_path, "run1", [], [settled, other])
    assert table_store.read_rows(str(tmp_path), tables.GIFS) == []
    assert len(table_store.read_rows(str(tmp_path), tables.DEADLETTERS["scrape"])) == 2

    _write(tmp_path, "run2", rows, [])
    stored = table_store.read_rows(str(tmp_path), tables.GIFS)
    assert sorted(r["gif_id"] for r in stored) == sorted(r["gif_id"] for r in rows)
    assert [d["record_key"] for d in table_store.read_rows(str(tmp_path), tables.DEADLETTERS["scrape"])] == [
        other["record_key"]]
