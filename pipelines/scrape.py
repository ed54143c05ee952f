"""The scrape pipeline: GIF sites and the published Video2GIF metadata -> blobs + the gifs table.

    python -m pipelines.scrape --seed http://127.0.0.1:8000/gifs?page=1 --site demo \\
        --dataset ./data --allow-host 127.0.0.1
    gifrank scrape --v2g-metadata metadata.txt --video-url-template 'https://mirror/{youtube_id}.mp4' \\
        --dataset gs://bucket/v2g --runner DataflowRunner --project P --region R --setup_file ./setup.py

Every seed, listing page and GIF ends either in the gifs table or in the deadletter
table with its reason. Reruns are idempotent and incremental: ids are stable, rows are
merged by key, GIF pages already in the table are not read again (unless
--rescrape-known), and blobs already stored for a URL are not fetched again. With
--pages-per-run N the new pages are read N at a time, a pipeline run (and a commit) each.
"""
from __future__ import annotations

import dataclasses
import hashlib

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from featurizer.dataset import tables
from featurizer.dataset.dead_letter_rows import subject
from featurizer.media.gif import MAX_GIF_BYTES
from featurizer.media.video import MAX_VIDEO_BYTES
from pipelines.scraping import v2g_metadata
from pipelines.scraping.known import known_gifs
from pipelines.scraping.sites.adapter import SiteAdapter
from pipelines.scraping.steps import (VIDEO_DOWNLOADERS, GifDownloader, GifPageScraper, ListingCrawler, ScrapeConfig,
                                      VideoDownloader)
from pipelines.scraping.web.client import FetchConfig
from pipelines.stage import Stage
from pipelines.transforms.apply_worker import ApplyWorker
from pipelines.transforms.dead_letters import WriteDeadLetters
from pipelines.transforms.table_io import CommitTables, WriteTable, settled_values, table_snapshots

PIPELINE = "scrape"


class ScrapeOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        defaults = FetchConfig()
        parser.add_argument("--seed", action="append", default=[], metavar="URL",
                            help="a listing page to crawl (repeatable); needs --site")
        parser.add_argument("--site", metavar="CONFIG",
                            help="site adapter: a bundled name (demo) or a YAML file of CSS selectors")
        parser.add_argument("--v2g-metadata", dest="v2g_metadata", metavar="PATH",
                            help="the metadata file published with the Video2GIF dataset")
        parser.add_argument("--v2g-video-tags", dest="v2g_video_tags", metavar="PATH",
                            help="the dataset's video_tags.txt: each video's own tags, for its context")
        parser.add_argument("--video-url-template", dest="video_url_template", metavar="TEMPLATE",
                            help="where metadata videos are fetched from, e.g. 'https://mirror/{youtube_id}.mp4' "
                                 "(default: YouTube through yt-dlp)")
        parser.add_argument("--video-downloader", dest="video_downloader", default="auto",
                            choices=VIDEO_DOWNLOADERS,
                            help="auto: yt-dlp for YouTube URLs, plain HTTP for direct media URLs")
        parser.add_argument("--allow-host", dest="allow_host", action="append", default=[], metavar="HOST",
                            help="fetch from this host even though it resolves to a loopback/private address")
        parser.add_argument("--rate-limit", dest="rate_limit", type=float,
                            default=defaults.requests_per_sec_per_host,
                            help="requests per second per host, per worker process (default: %(default)s)")
        parser.add_argument("--concurrency", type=int, default=32,
                            help="requests in flight per worker process and step (default: %(default)s)")
        parser.add_argument("--timeout", type=float, default=defaults.timeout_sec,
                            help="connect/read timeout in seconds: each socket operation (default: %(default)s)")
        parser.add_argument("--page-deadline", dest="page_deadline", type=float, default=defaults.page_deadline_sec,
                            help="seconds for a whole page response, headers and body, however the server "
                                 "trickles it; then it is retried, and a dead letter 'timeout' (default: %(default)s)")
        parser.add_argument("--media-deadline", dest="media_deadline", type=float,
                            default=defaults.media_deadline_sec,
                            help="the same for a whole GIF or video download (default: %(default)s)")
        parser.add_argument("--retries", type=int, default=defaults.retries,
                            help="retries on 5xx, timeouts and broken bodies (default: %(default)s)")
        parser.add_argument("--retry-backoff", dest="retry_backoff", type=float, default=defaults.backoff_sec,
                            help="first retry waits this many seconds, doubling after (default: %(default)s)")
        parser.add_argument("--max-page-bytes", dest="max_page_bytes", type=int, default=defaults.max_page_bytes)
        parser.add_argument("--max-gif-bytes", dest="max_gif_bytes", type=int, default=MAX_GIF_BYTES,
                            help="the most a GIF may be, decompressed, as it streams in (default: %(default)s, what "
                                 "align reads)")
        parser.add_argument("--max-media-bytes", dest="max_media_bytes", type=int, default=MAX_VIDEO_BYTES,
                            help="the most a video may be, decompressed, as it streams in (default: %(default)s)")
        parser.add_argument("--max-listing-pages", dest="max_listing_pages", type=int, default=10_000,
                            help="listing pages followed per seed (default: %(default)s)")
        # Not dest user_agent: Beam's own --user_agent (for Google's services) has it, and would win.
        parser.add_argument("--user-agent", dest="http_user_agent", default=defaults.user_agent,
                            help="the User-Agent of the scrape's requests (default: %(default)s)")
        parser.add_argument("--rescrape-known", dest="rescrape_known", action="store_true",
                            help="read again the GIF pages already in the gifs table (default: only new pages; "
                                 "listings are always read, to find them)")
        parser.add_argument("--pages-per-run", dest="pages_per_run", type=int, default=0, metavar="N",
                            help="read at most N new GIF pages in one pipeline run, then run again for the next "
                                 "N until a run finds fewer: each run commits, and a DirectRunner run's memory "
                                 "grows with N, not with the site (default: 0, every new page in one run)")
        parser.add_argument("--pages-after", dest="pages_after", type=int, default=None, metavar="KEY",
                            help="with --pages-per-run: only pages whose page key (scrape.page_key) is above KEY; "
                                 "what each run passes the next")


def scrape_config(opts: ScrapeOptions, dataset: str) -> ScrapeConfig:
    if not opts.seed and not opts.v2g_metadata:
        raise ValueError("nothing to scrape: give --seed URL (with --site) or --v2g-metadata PATH")
    if opts.seed and not opts.site:
        raise ValueError("--seed needs --site CONFIG to know how to read the site")
    if opts.pages_per_run < 0:
        raise ValueError(f"--pages-per-run must be 0 (no bound) or more, not {opts.pages_per_run}")
    if opts.pages_per_run and opts.v2g_metadata:
        raise ValueError("--pages-per-run bounds the GIF pages of --seed listings; scrape --v2g-metadata in a run "
                         "of its own")
    for name, value in (("--timeout", opts.timeout), ("--page-deadline", opts.page_deadline),
                        ("--media-deadline", opts.media_deadline)):
        if not value > 0:
            raise ValueError(f"{name} must be a positive number of seconds, not {value}")
    if opts.video_url_template:
        try:
            opts.video_url_template.format(youtube_id="x")
        except (KeyError, IndexError) as exc:
            raise ValueError(f"--video-url-template may only use {{youtube_id}}: {exc}") from exc
    if opts.v2g_metadata:
        v2g_metadata.read_header(opts.v2g_metadata)  # a missing file or bad header: one line, now
    fetch = FetchConfig(
        user_agent=opts.http_user_agent, timeout_sec=opts.timeout, page_deadline_sec=opts.page_deadline,
        media_deadline_sec=opts.media_deadline, retries=opts.retries, backoff_sec=opts.retry_backoff,
        max_page_bytes=opts.max_page_bytes, max_media_bytes=opts.max_media_bytes,
        requests_per_sec_per_host=opts.rate_limit or None, allow_hosts=tuple(opts.allow_host),
        pool_size=opts.concurrency)
    site = SiteAdapter.read_config(opts.site) if opts.site else None  # shipped in the job, read once here
    if site is not None:
        SiteAdapter.load(site)  # a bad adapter is a clear error now, not on every worker
    return ScrapeConfig(dataset=dataset, fetch=fetch, site=site, max_listing_pages=opts.max_listing_pages,
                        max_gif_bytes=opts.max_gif_bytes, video_downloader=opts.video_downloader)


def _describe_record(record: dict, url_field: str) -> list[dict]:
    return [subject(url=record.get(url_field), gif_id=record.get("gif_id"))]


def _describe_video_group(group) -> list[dict]:
    video_url, records = group
    return [subject(url=video_url, gif_id=r["gif_id"]) for r in records]


class _NewPages(beam.DoFn):
    """GIF page URLs not in the gifs table yet; the others are counted (gif_pages_known), not read."""

    def __init__(self, config: ScrapeConfig):
        self._config = config
        self._known = Metrics.counter(f"gifrank.{PIPELINE}", "gif_pages_known")

    def setup(self):
        self._pages = known_gifs(self._config.dataset, self._config.known_files).pages

    def process(self, page_url: str):
        if page_url in self._pages:
            self._known.inc()
        else:
            yield page_url


def page_key(page_url: str) -> int:
    """A GIF page's place in the order bounded runs read pages in: a hash, so each run's pages
    spread over the site's listings; 60 bits, so a Beam distribution (int64) carries it."""
    return int(hashlib.sha256(page_url.encode()).hexdigest()[:15], 16)


class _TakePages(beam.DoFn):
    """The run's pages out of their (key, url) list, counted (gif_pages_taken); the highest key
    taken (page_key_taken) is where the next run starts."""

    def __init__(self):
        self._taken = Metrics.counter(f"gifrank.{PIPELINE}", "gif_pages_taken")
        self._key = Metrics.distribution(f"gifrank.{PIPELINE}", "page_key_taken")

    def process(self, smallest: list):
        for key, page_url in smallest:
            self._taken.inc()
            self._key.update(key)
            yield page_url


class NextPages(beam.PTransform):
    """The `limit` GIF pages of smallest page key above `after` (None: from the start): one bounded run's."""

    def __init__(self, limit: int, after: int | None):
        super().__init__()
        self._limit = limit
        self._after = after

    def expand(self, page_urls):
        after = -1 if self._after is None else self._after
        return (page_urls
                | "Keyed" >> beam.Map(lambda url: (page_key(url), url))
                | "AfterLastRun" >> beam.Filter(lambda keyed: keyed[0] > after)
                | "Smallest" >> beam.combiners.Top.Smallest(self._limit)
                | "Take" >> beam.ParDo(_TakePages()))


def next_run(opts: ScrapeOptions, last) -> list[str] | None:
    """With --pages-per-run: another run while the last one took its whole share of new pages."""
    if not opts.pages_per_run or last.counters.get("gif_pages_taken", 0) < opts.pages_per_run:
        return None
    return ["--pages-after", str(last.highest["page_key_taken"])]


def _gif_row(record: dict) -> dict:
    return tables.GIFS.conform({k: v for k, v in record.items() if not k.startswith("_")})


def _value_counts(record: dict) -> dict:
    """The values a record had nulled or clamped (featurizer.dataset.value_bounds), as counters."""
    return record.get("_counts", {})


class NumberedLines(beam.PTransform):
    """(line number, bytes) of a text file's lines after its header, spread over workers: a line
    that is not UTF-8 is one record's dead letter, named by file and line, not the run's end."""

    def __init__(self, path: str, header_lines: int):
        super().__init__()
        self._path = path
        self._header_lines = header_lines

    def expand(self, pbegin):
        return (pbegin | "Path" >> beam.Create([self._path])
                | "Lines" >> beam.FlatMap(v2g_metadata.numbered_lines, self._header_lines)
                | "Spread" >> beam.Reshuffle())


SETTLED_FIELDS = ("gif_id", "page_url", "gif_url", "video_url")


def build_pipeline(p: beam.Pipeline, opts: ScrapeOptions, dataset: str, run_id: str):
    """Adds the scrape to `p`; returns the PCollections of gif rows and dead-letter rows."""
    conc = opts.concurrency
    dead_spec = tables.DEADLETTERS[PIPELINE]
    snapshots = table_snapshots(dataset, (tables.GIFS, dead_spec))
    # what the table holds, looked up by each worker in the files of the version this run read
    config = dataclasses.replace(scrape_config(opts, dataset),
                                 known_files=tuple(f.path for f in snapshots[tables.GIFS.name].files))
    records, dead = [], []

    if opts.seed:
        gif_links, bad = (
            p | "Seeds" >> beam.Create(sorted(set(opts.seed)))
            | "CrawlListings" >> ApplyWorker(ListingCrawler(config), pipeline=PIPELINE, stage="listing",
                                               concurrency=conc, measure=lambda link: {"gif_links_found": 1}))
        dead.append(bad)
        page_urls = (gif_links | "PageUrls" >> beam.Map(lambda link: link["page_url"])
                     | "DistinctPages" >> beam.Distinct())
        if not opts.rescrape_known:  # a refresh reads only the pages the table has not got
            page_urls = page_urls | "NewPages" >> beam.ParDo(_NewPages(config))
        if opts.pages_per_run:
            page_urls = page_urls | "NextPages" >> NextPages(opts.pages_per_run, opts.pages_after)
        page_urls = page_urls | "SpreadPages" >> beam.Reshuffle()
        page_records, bad = page_urls | "ScrapeGifPages" >> ApplyWorker(
            GifPageScraper(config), pipeline=PIPELINE, stage="gif_page", concurrency=conc, measure=_value_counts)
        records.append(page_records)
        dead.append(bad)

    if opts.v2g_metadata:
        template = opts.video_url_template or v2g_metadata.YOUTUBE_WATCH_URL
        side_inputs = ()
        if opts.v2g_video_tags:
            tag_rows, bad = (p | "VideoTagLines" >> NumberedLines(opts.v2g_video_tags, header_lines=0)
                             | "ParseVideoTags" >> ApplyWorker(v2g_metadata.VideoTagRows(opts.v2g_video_tags),
                                                               pipeline=PIPELINE, stage="video_tags"))
            side_inputs = (beam.pvalue.AsDict(tag_rows),)
            dead.append(bad)
        meta_rows, bad = (
            p | "MetadataLines" >> NumberedLines(opts.v2g_metadata, header_lines=1)
            | "ParseMetadata" >> ApplyWorker(
                v2g_metadata.MetadataRows(opts.v2g_metadata, v2g_metadata.read_header(opts.v2g_metadata), template),
                pipeline=PIPELINE, stage="metadata", side_inputs=side_inputs, measure=_value_counts))
        dead.append(bad)
        # A gif_id on several lines: the earliest line is the record, the others dead letters.
        meta_records, bad = (
            meta_rows | "ByGifId" >> beam.Map(lambda r: (r["gif_id"], r)) | "GroupGifId" >> beam.GroupByKey()
            | "OneRowPerGifId" >> ApplyWorker(v2g_metadata.OneRowPerGifId(opts.v2g_metadata), pipeline=PIPELINE,
                                              stage="metadata_gif_id"))
        records.append(meta_records)
        dead.append(bad)

    # No grouping by gif_id here, so downloads start while pages are still being read:
    # a GIF listed twice is stored once (content addressing) and its rows merge by key on write.
    with_gifs, bad = records | "AllRecords" >> beam.Flatten() | "DownloadGifs" >> ApplyWorker(
        GifDownloader(config), pipeline=PIPELINE, stage="gif_media", concurrency=conc,
        describe=lambda r: _describe_record(r, "gif_url"),
        measure=lambda r: {"gif_bytes_fetched": r["gif_bytes"] if r["_gif_fetched"] else 0,
                           "gif_blobs_reused": 0 if r["_gif_fetched"] else 1})
    dead.append(bad)
    complete, bad = (
        with_gifs | "ByVideoUrl" >> beam.Map(lambda r: (r["video_url"], r))
        | "GroupVideo" >> beam.GroupByKey()
        | "DownloadVideos" >> ApplyWorker(
            VideoDownloader(config), pipeline=PIPELINE, stage="video_media", concurrency=conc,
            describe=_describe_video_group,
            measure=lambda r: {"video_bytes_fetched": r["video_bytes"] if r["_video_fetched"] else 0}))
    dead.append(bad)

    gif_rows = complete | "GifRows" >> beam.Map(_gif_row)
    dead_rows = dead | "AllDeadLetters" >> beam.Flatten()
    actions = (
        {"rows": gif_rows} | "WriteGifs" >> WriteTable(config.dataset, tables.GIFS, snapshots[tables.GIFS.name]),
        {"dead": dead_rows, "settled": settled_values(gif_rows, SETTLED_FIELDS)}
        | "WriteDeadLetters" >> WriteDeadLetters(config.dataset, PIPELINE, snapshots[dead_spec.name]))
    actions | "AllActions" >> beam.Flatten() | "Commit" >> CommitTables(
        config.dataset, PIPELINE, run_id, snapshots, (tables.GIFS, dead_spec))
    return gif_rows, dead_rows


STAGE = Stage(
    name=PIPELINE, command="gifrank scrape", options=ScrapeOptions, build=build_pipeline, check=scrape_config,
    next_run=next_run,
    description="Scrape GIFs and their source videos from GIF sites or the published Video2GIF metadata into a "
                "dataset (a Beam pipeline; DirectRunner unless --runner says otherwise).")
run = STAGE.run

if __name__ == "__main__":
    STAGE.main()
