"""Benchmark: scrape throughput with injected latency, concurrent vs one request at a time.

    .venv/bin/python -m bench.scrape_throughput [--pages 1000] [--baseline-pages 100] [--latency-ms 100]

Both runs are in one process against the same demo site with the same latency. The
concurrent run is the Beam pipeline (DirectRunner); the baseline calls the same units
of work (pipelines.scraping.steps) in a plain loop, one request at a time, with no Beam
overhead, on fewer pages (at 100 ms a request, 1,000 pages would take minutes).
Pages/s is compared. The per-host rate limit is set high and checked against the
site's own request log: no one-second window may see more requests than it allows.
"""
from __future__ import annotations

import argparse
import bisect
import logging
import tempfile
import time
from pathlib import Path

from bench.report import emit_json
from demo_world.replicate import replicate_world
from demo_world.site import DemoSite
from demo_world.world import WorldConfig, build_world
from featurizer.dataset import table_store, tables
from pipelines import scrape
from pipelines.scraping.steps import GifDownloader, GifPageScraper, ListingCrawler, ScrapeConfig, VideoDownloader
from pipelines.scraping.web.client import FetchConfig

CACHE = Path(tempfile.gettempdir()) / "gifrank-bench-world"


def max_requests_per_window(times: list[float], window_sec: float = 1.0) -> int:
    times = sorted(times)
    return max((bisect.bisect_right(times, t + window_sec) - i for i, t in enumerate(times)), default=0)


def pipeline_scrape(seed: str, dataset: Path, concurrency: int, rate_limit: float) -> int:
    scrape.run(["--seed", seed, "--site", "demo", "--dataset", str(dataset), "--allow-host", "127.0.0.1",
                "--rate-limit", str(rate_limit), "--concurrency", str(concurrency)])
    return table_store.read_table(str(dataset), tables.GIFS).num_rows


def one_at_a_time_scrape(seed: str, dataset: Path, rate_limit: float) -> int:
    """The same workers the pipeline runs, called in a loop: one request at a time."""
    config = ScrapeConfig(dataset=str(dataset), site="demo", fetch=FetchConfig(
        allow_hosts=("127.0.0.1",), requests_per_sec_per_host=rate_limit))
    crawl, pages, gifs, videos = (ListingCrawler(config), GifPageScraper(config), GifDownloader(config),
                                  VideoDownloader(config))
    for worker in (crawl, pages, gifs, videos):
        worker.setup()
    by_video: dict[str, list[dict]] = {}
    for link in crawl(seed):
        for record in pages(link["page_url"]):
            for with_gif in gifs(record):
                by_video.setdefault(with_gif["video_url"], []).append(with_gif)
    return sum(len(list(videos(group))) for group in by_video.items())


def timed(world_root: Path, num_pages: int, latency_ms: int, workdir: Path, scrape_fn, **kwargs) -> dict:
    world = replicate_world(world_root, workdir / f"site-{num_pages}", num_pages)
    dataset = workdir / f"data-{scrape_fn.__name__}"
    with DemoSite(world, page_size=50, latency_ms=latency_ms) as site:
        start = time.perf_counter()
        gifs_stored = scrape_fn(f"{site.url}/gifs?page=1", dataset, **kwargs)
        elapsed = time.perf_counter() - start
        times = site.request_times()
    return {
        "gif_pages": num_pages, "gifs_stored": gifs_stored, "seconds": round(elapsed, 2),
        "pages_per_sec": round(gifs_stored / elapsed, 2), "requests": len(times),
        "max_requests_in_1s": max_requests_per_window(times), **kwargs,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--baseline-pages", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--rate-limit", type=float, default=1000.0, help="requests/s per host, set high")
    parser.add_argument("--out", help="also write the JSON result here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    world = build_world(CACHE, WorldConfig.tiny())
    with tempfile.TemporaryDirectory(prefix="gifrank-bench-") as tmp:
        work = Path(tmp)
        concurrent = timed(world.root, args.pages, args.latency_ms, work, pipeline_scrape,
                           concurrency=args.concurrency, rate_limit=args.rate_limit)
        one_at_a_time = timed(world.root, args.baseline_pages, args.latency_ms, work, one_at_a_time_scrape,
                              rate_limit=args.rate_limit)
    report = {
        "latency_ms": args.latency_ms, "rate_limit_per_host": args.rate_limit,
        "concurrent": concurrent, "one_at_a_time": one_at_a_time,
        "speedup": round(concurrent["pages_per_sec"] / one_at_a_time["pages_per_sec"], 1),
        "rate_limit_respected": concurrent["max_requests_in_1s"] <= args.rate_limit,
        "target": "speedup >= 20 with the rate limit respected",
    }
    emit_json(report, args.out)
    return report


if __name__ == "__main__":
    main()
