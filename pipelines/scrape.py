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

The steps (build_pipeline); each that fetches or parses returns its output and its dead letters:

    seeds -> CrawlListings -> PagesToRead -> ReadGifPages --+
    metadata file -> ReadV2gMetadata -----------------------+-> DownloadMedia -> GifRows -> WriteScrapeTables
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
from collections.abc import Iterable, Iterator
from operator import itemgetter

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pvalue import PBegin, PCollection

from featurizer.dataset import tables
from featurizer.dataset.dead_letter_rows import subject
from featurizer.dataset.table_store import Snapshot
from featurizer.media.gif import MAX_GIF_BYTES
from featurizer.media.video import MAX_VIDEO_BYTES
from pipelines.scraping import v2g_metadata
from pipelines.scraping.known import known_gifs
from pipelines.scraping.sites.adapter import SiteAdapter
from pipelines.scraping.steps import (
    VIDEO_DOWNLOADERS,
    GifDownloader,
    GifPageScraper,
    ListingCrawler,
    ScrapeConfig,
    VideoDownloader,
)
from pipelines.scraping.web.client import FetchConfig
from pipelines.stage import Stage, StageRun
from pipelines.transforms.apply_worker import ApplyWorker
from pipelines.transforms.dead_letters import WriteDeadLetters
from pipelines.transforms.table_io import CommitTables, WriteTable, settled_values, table_snapshots

PIPELINE = "scrape"


class ScrapeOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        # Group by group, in the order `gifrank scrape --help` lists them.
        defaults = FetchConfig()
        _add_site_args(parser)
        _add_metadata_args(parser)
        _add_request_args(parser, defaults)
        _add_size_caps(parser, defaults)
        _add_crawl_args(parser, defaults)
        _add_run_bounds(parser)


def _add_site_args(parser: argparse.ArgumentParser) -> None:
    """What to scrape from a GIF site."""
    parser.add_argument("--seed", action="append", default=[], metavar="URL",
                        help="a listing page to crawl (repeatable); needs --site")
    parser.add_argument("--site", metavar="CONFIG",
                        help="site adapter: a bundled name (demo) or a YAML file of CSS selectors")


def _add_metadata_args(parser: argparse.ArgumentParser) -> None:
    """What to ingest from the published Video2GIF metadata, and how videos are fetched."""
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


def _add_request_args(parser: argparse.ArgumentParser, defaults: FetchConfig) -> None:
    """Where requests may go, how many at once, how fast, how long they may take, how often retried."""
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


def _add_size_caps(parser: argparse.ArgumentParser, defaults: FetchConfig) -> None:
    """The most a page, a GIF and a video may be."""
    parser.add_argument("--max-page-bytes", dest="max_page_bytes", type=int, default=defaults.max_page_bytes)
    parser.add_argument("--max-gif-bytes", dest="max_gif_bytes", type=int, default=MAX_GIF_BYTES,
                        help="the most a GIF may be, decompressed, as it streams in (default: %(default)s, what "
                             "align reads)")
    parser.add_argument("--max-media-bytes", dest="max_media_bytes", type=int, default=MAX_VIDEO_BYTES,
                        help="the most a video may be, decompressed, as it streams in (default: %(default)s)")


def _add_crawl_args(parser: argparse.ArgumentParser, defaults: FetchConfig) -> None:
    """How far a site is crawled, as whom, and whether the pages already stored are read again."""
    parser.add_argument("--max-listing-pages", dest="max_listing_pages", type=int, default=10_000,
                        help="listing pages followed per seed (default: %(default)s)")
    # Not dest user_agent: Beam's own --user_agent (for Google's services) has it, and would win.
    parser.add_argument("--user-agent", dest="http_user_agent", default=defaults.user_agent,
                        help="the User-Agent of the scrape's requests (default: %(default)s)")
    parser.add_argument("--rescrape-known", dest="rescrape_known", action="store_true",
                        help="read again the GIF pages already in the gifs table (default: only new pages; "
                             "listings are always read, to find them)")


def _add_run_bounds(parser: argparse.ArgumentParser) -> None:
    """Bounded runs: the new GIF pages read N at a time, a run each."""
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


def page_key(page_url: str) -> int:
    """A GIF page's place in the order bounded runs read pages in: a hash, so each run's pages
    spread over the site's listings; 60 bits, so a Beam distribution (int64) carries it."""
    return int(hashlib.sha256(page_url.encode()).hexdigest()[:15], 16)


def next_run(opts: ScrapeOptions, last: StageRun) -> list[str] | None:
    """With --pages-per-run: another run while the last one took its whole share of new pages."""
    if not opts.pages_per_run or last.counters.get("gif_pages_taken", 0) < opts.pages_per_run:
        return None
    return ["--pages-after", str(last.highest["page_key_taken"])]


# What each step counts per output and names per failing element (ApplyWorker's measure and describe).

def _gif_link_counts(link: dict) -> dict:
    return {"gif_links_found": 1}


def _value_counts(record: dict) -> dict:
    """The values a record had nulled or clamped (featurizer.dataset.value_bounds), as counters."""
    return record.get("_counts", {})


def _gif_download_counts(record: dict) -> dict:
    fetched = record["_gif_fetched"]
    return {"gif_bytes_fetched": record["gif_bytes"] if fetched else 0, "gif_blobs_reused": 0 if fetched else 1}


def _video_download_counts(record: dict) -> dict:
    return {"video_bytes_fetched": record["video_bytes"] if record["_video_fetched"] else 0}


def _gif_subjects(record: dict) -> list[dict]:
    return [subject(url=record.get("gif_url"), gif_id=record.get("gif_id"))]


def _video_group_subjects(group: tuple[str, Iterable[dict]]) -> list[dict]:
    video_url, records = group
    return [subject(url=video_url, gif_id=r["gif_id"]) for r in records]


class CrawlListings(beam.PTransform):
    """Seed URLs -> (the distinct GIF page URLs their listing pages link to, dead letters).

    Each seed's listing pages are followed one after another (ListingCrawler); a listing page
    that fails is a dead letter, and the GIF pages found before it are kept.
    """

    def __init__(self, config: ScrapeConfig, concurrency: int):
        super().__init__()
        self._config = config
        self._concurrency = concurrency

    def expand(self, seeds: PCollection) -> tuple[PCollection, PCollection]:
        gif_links, dead = seeds | "Crawl" >> ApplyWorker(
            ListingCrawler(self._config), pipeline=PIPELINE, stage="listing", concurrency=self._concurrency,
            measure=_gif_link_counts)
        page_urls = (gif_links | "PageUrls" >> beam.Map(itemgetter("page_url"))
                     | "DistinctPages" >> beam.Distinct())
        return page_urls, dead


class _NewPages(beam.DoFn):
    """GIF page URLs not in the gifs table yet; the others are counted (gif_pages_known), not read."""

    def __init__(self, config: ScrapeConfig):
        self._config = config
        self._known = Metrics.counter(f"gifrank.{PIPELINE}", "gif_pages_known")

    def setup(self) -> None:
        self._pages = known_gifs(self._config.dataset, self._config.known_files).pages

    def process(self, page_url: str) -> Iterator[str]:
        if page_url in self._pages:
            self._known.inc()
        else:
            yield page_url


def _key_above(keyed: tuple[int, str], after: int) -> bool:
    return keyed[0] > after


class _TakePages(beam.DoFn):
    """The run's pages out of their (key, url) list, counted (gif_pages_taken); the highest key
    taken (page_key_taken) is where the next run starts."""

    def __init__(self) -> None:
        self._taken = Metrics.counter(f"gifrank.{PIPELINE}", "gif_pages_taken")
        self._key = Metrics.distribution(f"gifrank.{PIPELINE}", "page_key_taken")

    def process(self, smallest: list[tuple[int, str]]) -> Iterator[str]:
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

    def expand(self, page_urls: PCollection) -> PCollection:
        return (page_urls
                | "Keyed" >> beam.WithKeys(page_key)
                | "AfterLastRun" >> beam.Filter(_key_above, -1 if self._after is None else self._after)
                | "Smallest" >> beam.combiners.Top.Smallest(self._limit)
                | "Take" >> beam.ParDo(_TakePages()))


class PagesToRead(beam.PTransform):
    """GIF page URLs -> those this run reads, spread over workers.

    Only the pages the gifs table has not got (a refresh), unless `rescrape_known`; with
    `pages_per_run`, only that many of them, of smallest page key above `pages_after` (NextPages).
    """

    def __init__(self, config: ScrapeConfig, *, rescrape_known: bool = False, pages_per_run: int = 0,
                 pages_after: int | None = None):
        super().__init__()
        self._config = config
        self._rescrape_known = rescrape_known
        self._pages_per_run = pages_per_run
        self._pages_after = pages_after

    def expand(self, page_urls: PCollection) -> PCollection:
        if not self._rescrape_known:
            page_urls = page_urls | "NewPages" >> beam.ParDo(_NewPages(self._config))
        if self._pages_per_run:
            page_urls = page_urls | "NextPages" >> NextPages(self._pages_per_run, self._pages_after)
        return page_urls | "SpreadPages" >> beam.Reshuffle()


class ReadGifPages(beam.PTransform):
    """GIF page URLs -> (gif records with their pages' fields, nothing downloaded yet; dead letters)."""

    def __init__(self, config: ScrapeConfig, concurrency: int):
        super().__init__()
        self._config = config
        self._concurrency = concurrency

    def expand(self, page_urls: PCollection) -> tuple[PCollection, PCollection]:
        return page_urls | "Read" >> ApplyWorker(
            GifPageScraper(self._config), pipeline=PIPELINE, stage="gif_page", concurrency=self._concurrency,
            measure=_value_counts)


class NumberedLines(beam.PTransform):
    """(line number, bytes) of a text file's lines after its header, spread over workers: a line
    that is not UTF-8 is one record's dead letter, named by file and line, not the run's end."""

    def __init__(self, path: str, header_lines: int):
        super().__init__()
        self._path = path
        self._header_lines = header_lines

    def expand(self, pbegin: PBegin) -> PCollection:
        return (pbegin | "Path" >> beam.Create([self._path])
                | "Lines" >> beam.FlatMap(v2g_metadata.numbered_lines, self._header_lines)
                | "Spread" >> beam.Reshuffle())


class ReadVideoTags(beam.PTransform):
    """The dataset's video_tags.txt -> ((youtube_id, tags) pairs, dead letters naming file and line)."""

    def __init__(self, path: str):
        super().__init__()
        self._path = path

    def expand(self, pbegin: PBegin) -> tuple[PCollection, PCollection]:
        return (pbegin | "Lines" >> NumberedLines(self._path, header_lines=0)
                | "Parse" >> ApplyWorker(v2g_metadata.VideoTagRows(self._path), pipeline=PIPELINE,
                                         stage="video_tags"))


class OneRecordPerGifId(beam.PTransform):
    """Metadata records -> (the record of each gif_id's earliest line; a dead letter for each later line)."""

    def __init__(self, path: str):
        super().__init__()
        self._path = path

    def expand(self, records: PCollection) -> tuple[PCollection, PCollection]:
        return (records | "ByGifId" >> beam.WithKeys(itemgetter("gif_id")) | "GroupGifId" >> beam.GroupByKey()
                | "Earliest" >> ApplyWorker(v2g_metadata.OneRowPerGifId(self._path), pipeline=PIPELINE,
                                            stage="metadata_gif_id"))


class ReadV2gMetadata(beam.PTransform):
    """The published Video2GIF metadata file -> (gif records, one per gif_id; dead letters naming file and line).

    Videos are fetched from `video_url_template` (None: YouTube); with `video_tags_path` (the
    dataset's video_tags.txt), each record carries its video's own tags.
    """

    def __init__(self, path: str, video_url_template: str | None = None, video_tags_path: str | None = None):
        super().__init__()
        self._path = path
        self._video_url_template = video_url_template or v2g_metadata.YOUTUBE_WATCH_URL
        self._video_tags_path = video_tags_path

    def expand(self, pbegin: PBegin) -> tuple[PCollection, PCollection]:
        dead: list[PCollection] = []
        side_inputs: tuple = ()
        if self._video_tags_path:
            video_tags, bad = pbegin | "VideoTags" >> ReadVideoTags(self._video_tags_path)
            side_inputs = (beam.pvalue.AsDict(video_tags),)
            dead.append(bad)
        parse = v2g_metadata.MetadataRows(self._path, v2g_metadata.read_header(self._path), self._video_url_template)
        rows, bad = (pbegin | "Lines" >> NumberedLines(self._path, header_lines=1)
                     | "Parse" >> ApplyWorker(parse, pipeline=PIPELINE, stage="metadata", side_inputs=side_inputs,
                                              measure=_value_counts))
        dead.append(bad)
        records, bad = rows | "OneRecordPerGifId" >> OneRecordPerGifId(self._path)
        dead.append(bad)
        return records, dead | "DeadLetters" >> beam.Flatten()


class DownloadGifs(beam.PTransform):
    """Gif records -> (each with its GIF stored as a blob, gif_sha256 and gif_bytes; dead letters).
    A GIF whose URL the dataset holds a blob for is not fetched again (gif_blobs_reused)."""

    def __init__(self, config: ScrapeConfig, concurrency: int):
        super().__init__()
        self._config = config
        self._concurrency = concurrency

    def expand(self, records: PCollection) -> tuple[PCollection, PCollection]:
        return records | "Download" >> ApplyWorker(
            GifDownloader(self._config), pipeline=PIPELINE, stage="gif_media", concurrency=self._concurrency,
            describe=_gif_subjects, measure=_gif_download_counts)


class DownloadVideos(beam.PTransform):
    """Gif records -> (each with its video stored as a blob, video_sha256, video_bytes and scraped_at;
    dead letters): the records of one video URL are grouped, so it is fetched once."""

    def __init__(self, config: ScrapeConfig, concurrency: int):
        super().__init__()
        self._config = config
        self._concurrency = concurrency

    def expand(self, records: PCollection) -> tuple[PCollection, PCollection]:
        return (records | "ByVideoUrl" >> beam.WithKeys(itemgetter("video_url")) | "GroupVideo" >> beam.GroupByKey()
                | "Download" >> ApplyWorker(
                    VideoDownloader(self._config), pipeline=PIPELINE, stage="video_media",
                    concurrency=self._concurrency, describe=_video_group_subjects, measure=_video_download_counts))


class DownloadMedia(beam.PTransform):
    """Gif records -> (the records with their GIF and video stored; dead letters)."""

    def __init__(self, config: ScrapeConfig, concurrency: int):
        super().__init__()
        self._config = config
        self._concurrency = concurrency

    def expand(self, records: PCollection) -> tuple[PCollection, PCollection]:
        # No grouping by gif_id here, so downloads start while pages are still being read:
        # a GIF listed twice is stored once (content addressing) and its rows merge by key on write.
        with_gifs, gif_dead = records | "DownloadGifs" >> DownloadGifs(self._config, self._concurrency)
        complete, video_dead = with_gifs | "DownloadVideos" >> DownloadVideos(self._config, self._concurrency)
        return complete, (gif_dead, video_dead) | "DeadLetters" >> beam.Flatten()


def gif_row(record: dict) -> dict:
    """A complete record as a gifs-table row: what rode along for the steps (`_counts`, ...) dropped."""
    return tables.GIFS.conform({k: v for k, v in record.items() if not k.startswith("_")})


SETTLED_FIELDS = ("gif_id", "page_url", "gif_url", "video_url")


class WriteScrapeTables(beam.PTransform):
    """{"gifs": gif rows, "dead": dead-letter rows} -> the gifs table and the scrape's dead letters,
    committed in one last step (CommitTables): a run that fails changes neither.

    An earlier dead letter of a record this run stored (by gif_id or URL) is settled: dropped.
    """

    def __init__(self, dataset: str, run_id: str, snapshots: dict[str, Snapshot]):
        super().__init__()
        self._dataset = dataset
        self._run_id = run_id
        self._snapshots = snapshots

    def expand(self, pcolls: dict[str, PCollection]) -> PCollection:
        gif_rows, dead_rows = pcolls["gifs"], pcolls["dead"]
        dead_spec = tables.DEADLETTERS[PIPELINE]
        actions = (
            {"rows": gif_rows} | "WriteGifs" >> WriteTable(self._dataset, tables.GIFS,
                                                           self._snapshots[tables.GIFS.name]),
            {"dead": dead_rows, "settled": settled_values(gif_rows, SETTLED_FIELDS)}
            | "WriteDeadLetters" >> WriteDeadLetters(self._dataset, PIPELINE, self._snapshots[dead_spec.name]))
        return actions | "AllActions" >> beam.Flatten() | "Commit" >> CommitTables(
            self._dataset, PIPELINE, self._run_id, self._snapshots, (tables.GIFS, dead_spec))


def build_pipeline(p: beam.Pipeline, opts: ScrapeOptions, dataset: str,
                   run_id: str) -> tuple[PCollection, PCollection]:
    """Adds the scrape to `p`; returns the PCollections of gif rows and dead-letter rows."""
    snapshots = table_snapshots(dataset, (tables.GIFS, tables.DEADLETTERS[PIPELINE]))
    # what the table holds, looked up by each worker in the files of the version this run read
    config = dataclasses.replace(scrape_config(opts, dataset),
                                 known_files=tuple(f.path for f in snapshots[tables.GIFS.name].files))
    records: list[PCollection] = []
    dead: list[PCollection] = []
    if opts.seed:
        page_urls, bad = (p | "Seeds" >> beam.Create(sorted(set(opts.seed)))
                          | "CrawlListings" >> CrawlListings(config, opts.concurrency))
        dead.append(bad)
        page_records, bad = (
            page_urls
            | "PagesToRead" >> PagesToRead(config, rescrape_known=opts.rescrape_known,
                                           pages_per_run=opts.pages_per_run, pages_after=opts.pages_after)
            | "ReadGifPages" >> ReadGifPages(config, opts.concurrency))
        records.append(page_records)
        dead.append(bad)
    if opts.v2g_metadata:
        meta_records, bad = p | "ReadV2gMetadata" >> ReadV2gMetadata(
            opts.v2g_metadata, opts.video_url_template, opts.v2g_video_tags)
        records.append(meta_records)
        dead.append(bad)
    complete, bad = records | "AllRecords" >> beam.Flatten() | "DownloadMedia" >> DownloadMedia(
        config, opts.concurrency)
    dead.append(bad)
    gif_rows = complete | "GifRows" >> beam.Map(gif_row)
    dead_rows = dead | "AllDeadLetters" >> beam.Flatten()
    {"gifs": gif_rows, "dead": dead_rows} | "WriteScrapeTables" >> WriteScrapeTables(dataset, run_id, snapshots)
    return gif_rows, dead_rows


STAGE = Stage(
    name=PIPELINE, command="gifrank scrape", options=ScrapeOptions, build=build_pipeline, check=scrape_config,
    next_run=next_run,
    description="Scrape GIFs and their source videos from GIF sites or the published Video2GIF metadata into a "
                "dataset (a Beam pipeline; DirectRunner unless --runner says otherwise).")
run = STAGE.run

if __name__ == "__main__":
    STAGE.main()
