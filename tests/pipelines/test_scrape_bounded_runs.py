"""gifrank scrape --pages-per-run N: bounded runs, one after another, each committing; the same
tables as one run, every page read once, the runs' pages chosen by page key."""
import hashlib
import json

import pytest

from demo_world.site import DemoSite
from featurizer.dataset import table_store, tables
from featurizer.dataset.table_views import read_view_rows
from pipelines import scrape
from pipelines.stage import StageRun

pytestmark = pytest.mark.timeout(600)


def _scrape(site, dataset, *extra):
    return scrape.run(["--dataset", str(dataset), "--allow-host", "127.0.0.1", "--rate-limit", "0",
                       "--retries", "0", "--timeout", "2", "--concurrency", "8",
                       "--seed", f"{site.url}/gifs?page=1", "--site", "demo", *extra])


def _tables(dataset):
    def without_times(rows):
        return sorted(json.dumps({k: v for k, v in r.items() if k not in ("scraped_at", "failed_at")},
                                 default=str, sort_keys=True) for r in rows)
    return (without_times(table_store.read_rows(str(dataset), tables.GIFS)),
            without_times(read_view_rows(str(dataset), tables.DEADLETTER)))


def test_bounded_runs_make_the_tables_of_one_run_and_read_each_page_once(wide_world, tmp_path):
    with DemoSite(wide_world, page_size=5) as site:
        gif_ids = sorted(site.world.gifs)
        broken = gif_ids[3]
        site.set_fault(site.gif_page_path(broken), "404")
        pages = [site.url + site.gif_page_path(g) for g in gif_ids]
        one = _scrape(site, tmp_path / "one")
        before = {p: site.request_count(site.gif_page_path(g)) for p, g in zip(pages, gif_ids)}
        bounded = _scrape(site, tmp_path / "bounded", "--pages-per-run", "4")
        reads = {p: site.request_count(site.gif_page_path(g)) - before[p] for p, g in zip(pages, gif_ids)}

    assert _tables(tmp_path / "bounded") == _tables(tmp_path / "one")
    assert reads == {p: 1 for p in pages}  # the broken page too: once, not once a run
    # the runs' pages: the sha256 order of the page URLs, 4 at a time, then a run that finds none left
    by_key = sorted(pages, key=lambda url: int(hashlib.sha256(url.encode()).hexdigest()[:15], 16))
    assert len(bounded.runs) == 4 == len(pages) // 4 + 1  # 14 pages: 4, 4, 4, 2
    assert [run.counters.get("gif_pages_taken", 0) for run in bounded.runs] == [4, 4, 4, 2]
    assert [run.highest["page_key_taken"] for run in bounded.runs] == [
        scrape.page_key(by_key[i]) for i in (3, 7, 11, 13)]
    assert bounded.counters["gif_pages_taken"] == len(pages)
    assert bounded.counters["gif_page_ok"] == one.counters["gif_page_ok"] == len(pages) - 1
    assert bounded.counters["failed_gif_page_http_404"] == 1
    assert bounded.run_id == bounded.runs[-1].run_id
    # each run committed its own GIFs: one version of the gifs table a run
    assert table_store.table_info(str(tmp_path / "bounded"), tables.GIFS)["version"] == 3


def test_a_rerun_reads_only_what_failed(wide_world, tmp_path):
    with DemoSite(wide_world, page_size=5) as site:
        gif_id = sorted(site.world.gifs)[0]
        site.set_fault(site.gif_page_path(gif_id), "404")
        _scrape(site, tmp_path, "--pages-per-run", "5")
        again = _scrape(site, tmp_path, "--pages-per-run", "5")
    assert again.runs == ()  # one run: it took the one page that failed, fewer than 5
    assert again.counters["gif_pages_taken"] == 1 and again.counters["gif_pages_known"] == 13


def test_next_run_starts_above_the_highest_key_taken():
    opts = scrape.ScrapeOptions(["--pages-per-run", "3"])
    full = StageRun("r1", "d", {"gif_pages_taken": 3}, highest={"page_key_taken": 12345})
    assert scrape.next_run(opts, full) == ["--pages-after", "12345"]
    assert scrape.next_run(opts, StageRun("r2", "d", {"gif_pages_taken": 2}, highest={"page_key_taken": 9})) is None
    assert scrape.next_run(opts, StageRun("r3", "d", {})) is None  # built, not run (--dry_run)
    assert scrape.next_run(scrape.ScrapeOptions([]), full) is None  # unbounded: one run


@pytest.mark.parametrize("extra, message", [
    (["--pages-per-run", "-1"], "must be 0"),
    (["--pages-per-run", "5", "--v2g-metadata", "meta.txt"], "in a run of its own"),
])
def test_bad_bounds_are_refused(tmp_path, extra, message):
    with pytest.raises(ValueError, match=message):
        scrape.run(["--dataset", str(tmp_path), "--seed", "http://127.0.0.1:1/gifs", "--site", "demo", *extra])
