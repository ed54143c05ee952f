"""The scrape stage's units of work, free of Beam so they also run in a notebook.

Each is a small class with one call signature, `worker(element, ...) -> iterable of
records`, plus setup() for what a process shares (one HTTP client per process, so the
per-host rate limit holds across every step running there).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

from featurizer.dataset.blobs import BlobStore
from featurizer.dataset.dead_letter_rows import Failed, is_bad_input, subject
from featurizer.dataset.value_bounds import MAX_URL_CHARS, URL_TOO_LONG, OutOfBounds, bound_gif_record, shown
from featurizer.media import sniff
from featurizer.media.gif import MAX_GIF_BYTES
from pipelines.scraping.known import known_gifs
from pipelines.scraping.sites.adapter import SiteAdapter
from pipelines.scraping.web.client import FetchConfig, HttpClient
from pipelines.scraping.web.errors import BAD_URL, TIMEOUT, WRONG_CONTENT_TYPE, FetchError
from pipelines.scraping.web.policy import AddressPolicy

YOUTUBE_HOSTS = ("youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be")
VIDEO_DOWNLOADERS = ("auto", "http", "yt-dlp")


@dataclass(frozen=True)
class ScrapeConfig:
    """Everything a worker needs, picklable, so Beam can ship it to remote workers."""

    dataset: str
    fetch: FetchConfig = field(default_factory=FetchConfig)
    site: dict | str | None = None  # the adapter's configuration (or a bundled name or YAML path)
    max_listing_pages: int = 10_000
    # A GIF's cap, far below a video's (fetch.max_media_bytes): counted after decompression, as it streams in.
    max_gif_bytes: int = MAX_GIF_BYTES
    video_downloader: str = "auto"
    known_files: tuple[str, ...] = ()  # the gifs table's files the run read: what is stored already


_clients: dict[FetchConfig, HttpClient] = {}
_clients_lock = threading.Lock()


def shared_client(config: FetchConfig) -> HttpClient:
    """One client per process and config: its connection pools and rate limiter are shared."""
    with _clients_lock:
        if config not in _clients:
            _clients[config] = HttpClient(config)
        return _clients[config]


def stable_id(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def video_id_from_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.hostname in YOUTUBE_HOSTS:
        if parsed.hostname == "youtu.be":
            return parsed.path.strip("/")
        ids = parse_qs(parsed.query).get("v")
        if ids:
            return ids[0]
    return stable_id(url)


class _Worker:
    def __init__(self, config: ScrapeConfig):
        self.config = config

    def setup(self) -> None:
        self.client = shared_client(self.config.fetch)
        self.adapter = SiteAdapter.load(self.config.site) if self.config.site else None
        self.blobs = BlobStore(self.config.dataset)

    @property
    def site_adapter(self) -> SiteAdapter:
        """The site's adapter: the steps that read the site's pages need ScrapeConfig.site."""
        if self.adapter is None:
            raise RuntimeError("no site adapter: ScrapeConfig.site is not set")
        return self.adapter

    def fetch_html(self, url: str) -> str:
        page = self.client.fetch_page(url)
        if "html" not in (page.content_type or "").lower():
            raise FetchError(WRONG_CONTENT_TYPE, url, f"expected an HTML page, got {page.content_type!r}")
        return page.text


class ListingCrawler(_Worker):
    """seed URL -> {"page_url", "listing_url"} for every GIF page linked from the seed's listing pages.

    Follows next-page links one page at a time (each depends on the last). A listing
    page that fails becomes a dead letter; GIF pages found before it are kept.
    """

    def __call__(self, seed_url: str) -> Iterator:
        seen_listings: set[str] = set()
        url: str | None = seed_url
        while url and len(seen_listings) < self.config.max_listing_pages:
            if url in seen_listings:
                return  # pagination that loops back: every page was already read
            seen_listings.add(url)
            try:
                listing = self.site_adapter.parse_listing(self.fetch_html(url), url)
            except Exception as exc:
                if not is_bad_input(exc):
                    raise
                yield Failed((subject(url=url),), exc)  # this listing page's dead letter
                return
            for page_url in listing.gif_page_urls:
                if len(page_url) > MAX_URL_CHARS:
                    yield Failed((subject(url=page_url),), OutOfBounds(
                        URL_TOO_LONG, f"a link on {shown(url)} is {len(page_url):,} characters, more than "
                                      f"{MAX_URL_CHARS:,}"))
                else:
                    yield {"page_url": page_url, "listing_url": url}
            for href in listing.bad_links:
                yield Failed((subject(url=href),),
                             FetchError(BAD_URL, shown(href), f"a link on {shown(url)} is no URL"))
            url = listing.next_page_url


class GifPageScraper(_Worker):
    """GIF page URL -> gif record with the page's fields (nothing downloaded yet), its values in
    bounds (featurizer.dataset.value_bounds); `_counts` holds the nulled and clamped ones."""

    def __call__(self, page_url: str) -> Iterator[dict]:
        adapter = self.site_adapter
        fields, unreadable = adapter.read_gif_page(self.fetch_html(page_url), page_url)
        native_id = fields.pop("gif_id", None) or stable_id(page_url)
        record = {
            "gif_id": f"{adapter.name}:{native_id}",
            "source": adapter.name,
            "page_url": page_url,
            **fields,
        }
        record["video_id"] = record.get("video_id") or video_id_from_url(record["video_url"])
        bounded = bound_gif_record(record)
        yield {**bounded.record, "_counts": {**{f"nulled_{name}": 1 for name in unreadable}, **bounded.counters()}}


def _require_gif(url: str):
    def validate(head: bytes) -> None:
        if not sniff.is_gif(head):
            raise FetchError("not_a_gif", url, f"body does not start like a GIF: {head[:16]!r}")
    return validate


def _require_video(url: str):
    def validate(head: bytes) -> None:
        if sniff.video_container(head) is None:
            raise FetchError("not_a_video", url, f"body does not start like a video container: {head[:16]!r}")
    return validate


class _BlobDownloader(_Worker):
    """Downloads a URL into the blob store unless this dataset already holds its blob."""

    def setup(self) -> None:
        super().setup()
        self.known_blobs = known_gifs(self.config.dataset, self.config.known_files).blobs

    def store(self, url: str, validate, downloader: str = "http",
              max_bytes: int | None = None) -> tuple[str, int, bool]:
        """(sha256, size, fetched): `fetched` is False when the stored blob was reused."""
        known = self.known_blobs.get(url)
        if known and self.blobs.exists(known[0]):
            return known[0], known[1], False
        with self.blobs.writer(validate) as sink:
            if downloader == "yt-dlp":
                download_with_ytdlp(url, sink, self.config.fetch)
            else:
                self.client.download(url, sink, max_bytes)
            sha, size = sink.commit()
        return sha, size, True


class GifDownloader(_BlobDownloader):
    """gif record -> the record with gif_sha256 and gif_bytes, the GIF stored as a blob."""

    def __call__(self, record: dict) -> Iterator[dict]:
        sha, size, fetched = self.store(record["gif_url"], _require_gif(record["gif_url"]),
                                        max_bytes=self.config.max_gif_bytes)
        yield {**record, "gif_sha256": sha, "gif_bytes": size, "_gif_fetched": fetched}


class VideoDownloader(_BlobDownloader):
    """(video_url, gif records) -> each record with video_sha256 and video_bytes; the video fetched once."""

    def __call__(self, video_group: tuple[str, Iterable[dict]]) -> Iterator[dict]:
        video_url, records = video_group
        downloader = choose_downloader(video_url, self.config.video_downloader)
        sha, size, fetched = self.store(video_url, _require_video(video_url), downloader)
        scraped_at = dt.datetime.now(dt.timezone.utc)
        for i, record in enumerate(sorted(records, key=lambda r: r["gif_id"])):
            yield {**record, "video_sha256": sha, "video_bytes": size, "scraped_at": scraped_at,
                   "_video_fetched": fetched and i == 0}


def choose_downloader(url: str, preference: str) -> str:
    if preference not in VIDEO_DOWNLOADERS:
        raise ValueError(f"video downloader must be one of {VIDEO_DOWNLOADERS}, got {preference!r}")
    if preference != "auto":
        return preference
    return "yt-dlp" if urlparse(url).hostname in YOUTUBE_HOSTS else "http"


def download_with_ytdlp(url: str, sink, fetch: FetchConfig) -> None:
    """Video pages (YouTube and the many sites yt-dlp knows) through yt-dlp, streamed into `sink`.

    yt-dlp runs as a process of its own, into a temporary folder (it may merge formats), and
    the file is then streamed into the sink in chunks. A process, because yt-dlp does its own
    networking: killing it is the one way to hold its download to a deadline (the media
    deadline for each of its attempts). Only the first URL is checked against the address
    policy: yt-dlp's own requests are beyond it.
    """
    AddressPolicy(fetch.allow_hosts).check(url)
    deadline_sec = fetch.media_deadline_sec * (fetch.retries + 1)
    with tempfile.TemporaryDirectory(prefix="gifrank-ytdlp-") as tmp:
        command = [sys.executable, "-m", "yt_dlp", "--quiet", "--no-warnings", "--no-progress", "--no-playlist",
                   "--output", os.path.join(tmp, "video.%(ext)s"), "--format", "best[ext=mp4]/best",
                   "--socket-timeout", str(fetch.timeout_sec), "--retries", str(fetch.retries),
                   "--max-filesize", str(fetch.max_media_bytes), "--user-agent", fetch.user_agent, "--", url]
        try:
            done = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=deadline_sec)
        except subprocess.TimeoutExpired:
            raise FetchError(TIMEOUT, url, f"yt-dlp: no complete download within {deadline_sec:g} s") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            raise FetchError("download_failed", url, f"yt-dlp: {shown(last, 300)}")
        files = [os.path.join(tmp, f) for f in os.listdir(tmp) if not f.endswith((".part", ".ytdl"))]
        if not files:
            raise FetchError("too_large", url,
                             f"yt-dlp stored nothing (larger than {fetch.max_media_bytes} bytes?)")
        with open(files[0], "rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                sink.write(chunk)
