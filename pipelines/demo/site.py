"""The demo GIF website: serves a generated "demo world" over real HTTP on loopback.

The scraper and its site adapter are developed and tested against this site, so it has to
behave like a real one on the wire (keep-alive, Content-Length, HEAD, byte ranges, robots.txt)
and it has to misbehave on demand: per-path faults simulate the failures a crawler meets on the
open web (slow pages, 500s, truncated bodies, wrong content types, redirect tricks, endless
bodies).

World layout (all paths in the manifest are relative to the world root)::

    WORLD_ROOT/manifest.json  {"version": 1, "videos": [...], "gifs": [...]}

URL layout::

    /robots.txt                     disallows /private/
    /                               302 -> /gifs?page=1
    /gifs?page=N                    all GIFs, newest first
    /category/<slug>?page=N         GIFs of one category
    /gif/<gif_id>                   GIF page (/private/gif/<gif_id> for private GIFs)
    /video/<video_id>               watch page
    /media/gifs/<gif_id>.gif        GIF bytes
    /media/videos/<video_id>.mp4    video bytes (supports Range)
"""
from __future__ import annotations

import argparse
import collections
import datetime
import html
import json
import math
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, quote, unquote, urlsplit

MANIFEST_NAME = "manifest.json"
STREAM_CHUNK_BYTES = 64 * 1024
# What an "oversized" response claims, and the most it really sends before hanging up.
OVERSIZED_CLAIMED_BYTES = 4 * 1024**3
OVERSIZED_SENT_CAP_BYTES = 256 * 1024**2
WRONG_TYPE_PAGE_BYTES = 4096
# The second hop of a redirect_loop fault lives under this prefix, next to the faulted path.
REDIRECT_LOOP_PREFIX = "/redirect-loop"
# Idle keep-alive connections are dropped after this, so a forgotten client can't pin a thread.
CONNECTION_IDLE_TIMEOUT_S = 30
SERVE_POLL_INTERVAL_S = 0.05

ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"
MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PAGE_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:52rem;margin:1rem auto;padding:0 1rem}"
    "header a{margin-right:.8rem}ul.gif-list{line-height:1.7}"
    "img.gif-image{max-width:100%}ul.tags{padding:0}li.tag{display:inline;margin-right:.5rem}"
    "li.tag:before{content:'#'}nav.pagination a{margin:0 .5rem}"
)


# --------------------------------------------------------------------------------------------
# The world: manifest entries, validated and indexed once at startup.
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoEntry:
    video_id: str
    title: str
    file: Path
    width: int | None
    height: int | None


@dataclass(frozen=True)
class GifEntry:
    gif_id: str
    video_id: str
    title: str
    file: Path
    views: int
    uploaded: datetime.date
    tags: tuple[str, ...]
    category: str


def category_slug(category: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", category.lower()).strip("-") or "uncategorized"


def _world_file(world_root: Path, relative_path: str, entry_id: str) -> Path:
    """Resolve a manifest path, refusing ones that escape the world (the server must never
    become a way to read arbitrary files). Checked lexically, so a world may symlink its
    media from a cache elsewhere."""
    file = Path(os.path.normpath(world_root / relative_path))
    if not file.is_relative_to(world_root):
        raise ValueError(f"{entry_id}: path {relative_path!r} is outside the world root")
    return file


def _require_keys(entry: dict, keys: tuple[str, ...], kind: str) -> None:
    missing = [key for key in keys if key not in entry]
    if missing:
        raise ValueError(f"manifest {kind} entry {entry!r:.200} lacks {missing}")


def _parse_video(entry: dict, world_root: Path) -> VideoEntry:
    _require_keys(entry, ("video_id", "path", "title"), "video")
    return VideoEntry(
        video_id=entry["video_id"],
        title=entry["title"],
        file=_world_file(world_root, entry["path"], entry["video_id"]),
        width=entry.get("width"),
        height=entry.get("height"),
    )


def _parse_gif(entry: dict, world_root: Path) -> GifEntry:
    _require_keys(entry, ("gif_id", "video_id", "path", "title", "views", "upload_date"), "gif")
    return GifEntry(
        gif_id=entry["gif_id"],
        video_id=entry["video_id"],
        title=entry["title"],
        file=_world_file(world_root, entry["path"], entry["gif_id"]),
        views=int(entry["views"]),
        uploaded=datetime.date.fromisoformat(entry["upload_date"]),
        tags=tuple(entry.get("tags", ())),
        category=entry.get("category") or "Uncategorized",
    )


def _index_by_id(entries: list, id_field: str) -> dict:
    index = {}
    for entry in entries:
        entry_id = getattr(entry, id_field)
        if entry_id in index:
            raise ValueError(f"manifest has duplicate {id_field} {entry_id!r}")
        index[entry_id] = entry
    return index


class DemoWorld:
    """The manifest of a demo world. Media files are not read here: they are streamed from
    disk per request, so many GIF entries may share one file and huge videos cost nothing."""

    def __init__(self, world_root: str | os.PathLike):
        self.root = Path(world_root).resolve()
        manifest = json.loads((self.root / MANIFEST_NAME).read_text(encoding="utf-8"))
        videos = [_parse_video(entry, self.root) for entry in manifest.get("videos", [])]
        gifs = [_parse_gif(entry, self.root) for entry in manifest.get("gifs", [])]
        self.videos: dict[str, VideoEntry] = _index_by_id(videos, "video_id")
        self.gifs: dict[str, GifEntry] = _index_by_id(gifs, "gif_id")
        self.gifs_newest_first: list[GifEntry] = sorted(
            gifs, key=lambda gif: (-gif.uploaded.toordinal(), gif.gif_id))
        self.category_names: dict[str, str] = {}
        self.gifs_by_category: dict[str, list[GifEntry]] = collections.defaultdict(list)
        for gif in self.gifs_newest_first:
            slug = category_slug(gif.category)
            self.category_names.setdefault(slug, gif.category)
            self.gifs_by_category[slug].append(gif)
        self.gifs_by_video: dict[str, list[GifEntry]] = collections.defaultdict(list)
        for gif in self.gifs_newest_first:
            self.gifs_by_video[gif.video_id].append(gif)


# --------------------------------------------------------------------------------------------
# URL layout.
# --------------------------------------------------------------------------------------------

def listing_path(page: int) -> str:
    return f"/gifs?page={page}"


def category_path(category: str, page: int | None = None) -> str:
    path = f"/category/{category_slug(category)}"
    return path if page is None else f"{path}?page={page}"


def public_gif_page_path(gif_id: str) -> str:
    return f"/gif/{quote(gif_id)}"


def private_gif_page_path(gif_id: str) -> str:
    return f"/private/gif/{quote(gif_id)}"


def video_page_path(video_id: str) -> str:
    return f"/video/{quote(video_id)}"


def gif_media_path(gif_id: str) -> str:
    return f"/media/gifs/{quote(gif_id)}.gif"


def video_media_path(video_id: str) -> str:
    return f"/media/videos/{quote(video_id)}.mp4"


# --------------------------------------------------------------------------------------------
# Responses: a status, headers and a body that is either in memory or streamed from a file.
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BytesBody:
    data: bytes

    @property
    def length(self) -> int:
        return len(self.data)

    def chunks(self, limit: int) -> Iterator[bytes]:
        yield self.data[:limit]


@dataclass(frozen=True)
class FileBody:
    file: Path
    start: int
    length: int

    def chunks(self, limit: int) -> Iterator[bytes]:
        remaining = min(limit, self.length)
        with self.file.open("rb") as stream:
            stream.seek(self.start)
            while remaining > 0:
                chunk = stream.read(min(STREAM_CHUNK_BYTES, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk


@dataclass(frozen=True)
class EndlessBody:
    """Claims `length` bytes but is only ever cut off by the client, shutdown or `cap`."""
    length: int
    cap: int

    def chunks(self, limit: int) -> Iterator[bytes]:
        filler = b"\0" * STREAM_CHUNK_BYTES
        for _ in range(min(limit, self.cap) // STREAM_CHUNK_BYTES):
            yield filler


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: BytesBody | FileBody | EndlessBody = BytesBody(b"")
    headers: tuple[tuple[str, str], ...] = ()


def redirect_response(location: str) -> Response:
    return Response(302, "text/plain; charset=utf-8", headers=(("Location", location),))


def html_response(document: str, status: int = 200) -> Response:
    return Response(status, "text/html; charset=utf-8", BytesBody(document.encode("utf-8")))


class UnsatisfiableRange(ValueError):
    pass


_SINGLE_BYTE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_byte_range(header: str | None, size: int) -> range | None:
    """The byte range a Range header asks for, or None to send the whole file.

    Malformed and multi-range headers are ignored (RFC 9110 allows serving the full
    representation instead); ranges starting past the end raise UnsatisfiableRange."""
    match = _SINGLE_BYTE_RANGE.fullmatch(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix_length = int(last)
        if suffix_length == 0 or size == 0:
            raise UnsatisfiableRange(header)
        return range(max(0, size - suffix_length), size)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise UnsatisfiableRange(header)
    stop = min(int(last) + 1, size) if last else size
    return range(start, stop)


def media_response(file: Path, content_type: str, range_header: str | None) -> Response:
    try:
        size = file.stat().st_size
    except OSError:
        return html_response(error_document(404, "Media file is missing"), 404)
    try:
        byte_range = parse_byte_range(range_header, size)
    except UnsatisfiableRange:
        return Response(416, content_type, headers=(("Content-Range", f"bytes */{size}"),))
    if byte_range is None:
        return Response(200, content_type, FileBody(file, 0, size),
                        (("Accept-Ranges", "bytes"),))
    content_range = f"bytes {byte_range.start}-{byte_range.stop - 1}/{size}"
    return Response(206, content_type, FileBody(file, byte_range.start, len(byte_range)),
                    (("Accept-Ranges", "bytes"), ("Content-Range", content_range)))


# --------------------------------------------------------------------------------------------
# HTML.
# --------------------------------------------------------------------------------------------

def escape(text) -> str:
    return html.escape(str(text), quote=True)


def human_date(day: datetime.date) -> str:
    return f"{MONTH_ABBREVIATIONS[day.month - 1]} {day.day}, {day.year}"


def views_text(views: int) -> str:
    return "1 view" if views == 1 else f"{views:,} views"


def document(title: str, main_html: str, nav_html: str = "") -> str:
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{escape(title)} - gifrank demo</title>\n<style>{PAGE_CSS}</style>\n</head>\n"
        f"<body>\n<header>{nav_html}</header>\n<main>\n{main_html}\n</main>\n</body>\n</html>\n"
    )


def error_document(status: int, message: str) -> str:
    return document(f"{status}", f"<h1 class=\"error\">{status}</h1>\n<p>{escape(message)}</p>")


def navigation_html(world: DemoWorld) -> str:
    links = [f'<a class="home" href="{listing_path(1)}">All GIFs</a>']
    links += [f'<a class="nav-category" href="/category/{slug}">{escape(name)}</a>'
              for slug, name in sorted(world.category_names.items())]
    return '<nav class="site-nav">' + " ".join(links) + "</nav>"


def gif_items_html(gifs: list[GifEntry], page_path_of) -> str:
    items = [f'<li class="gif-item"><a class="gif-link" href="{escape(page_path_of(gif.gif_id))}">'
             f"{escape(gif.title)}</a></li>" for gif in gifs]
    return '<ul class="gif-list">\n' + "\n".join(items) + "\n</ul>"


def pagination_html(page: int, total_pages: int, page_href_of) -> str:
    parts = []
    if page > 1:
        parts.append(f'<a class="prev" rel="prev" href="{page_href_of(page - 1)}">Previous</a>')
    parts.append(f'<span class="page-number">Page {page} of {total_pages}</span>')
    if page < total_pages:
        parts.append(f'<a class="next" rel="next" href="{page_href_of(page + 1)}">Next</a>')
    return '<nav class="pagination">' + " ".join(parts) + "</nav>"


def gif_article_html(gif: GifEntry, video: VideoEntry | None) -> str:
    title = escape(gif.title)
    video_id = escape(gif.video_id)
    video_title = escape(video.title if video else gif.video_id)
    tags = "".join(f'<li class="tag">{escape(tag)}</li>' for tag in gif.tags)
    category = escape(gif.category)
    return (
        f'<article class="gif" data-gif-id="{escape(gif.gif_id)}">\n'
        f'  <h1 class="title">{title}</h1>\n'
        f'  <img class="gif-image" src="{escape(gif_media_path(gif.gif_id))}" alt="{title}">\n'
        f'  <a class="source-video" href="{escape(video_media_path(gif.video_id))}"'
        f' data-video-id="{video_id}">{video_title}</a>\n'
        f'  <a class="watch" href="{escape(video_page_path(gif.video_id))}">Watch the video</a>\n'
        f'  <span class="views" data-views="{gif.views}">{views_text(gif.views)}</span>\n'
        f'  <time class="uploaded" datetime="{gif.uploaded.isoformat()}">'
        f"{human_date(gif.uploaded)}</time>\n"
        f'  <ul class="tags">{tags}</ul>\n'
        f'  <a class="category" href="{escape(category_path(gif.category))}">{category}</a>\n'
        "</article>"
    )


def video_article_html(video: VideoEntry) -> str:
    size_attributes = "".join(f' {name}="{value}"' for name, value
                              in (("width", video.width), ("height", video.height)) if value)
    source = escape(video_media_path(video.video_id))
    return (
        f'<article class="video" data-video-id="{escape(video.video_id)}">\n'
        f'  <h1 class="title">{escape(video.title)}</h1>\n'
        f'  <video controls{size_attributes}><source src="{source}" type="video/mp4"></video>\n'
        "</article>"
    )


# --------------------------------------------------------------------------------------------
# Faults.
# --------------------------------------------------------------------------------------------

FAULTS_WITHOUT_ARGUMENT = frozenset(
    {"404", "500", "truncate", "wrong_type", "redirect_loop", "oversized"})
FAULTS_WITH_COUNT = frozenset({"slow", "flaky500"})
FAULT_SPEC_HELP = ("slow:MS, 404, 500, flaky500:N, truncate, wrong_type, redirect_loop, "
                   "redirect:URL, oversized")


@dataclass(frozen=True)
class Fault:
    kind: str
    count: int = 0       # milliseconds for slow, failing requests for flaky500
    location: str = ""   # target of redirect


def parse_fault_spec(spec: str) -> Fault:
    kind, has_argument, argument = spec.partition(":")
    if kind in FAULTS_WITHOUT_ARGUMENT and not has_argument:
        return Fault(kind)
    if kind in FAULTS_WITH_COUNT and argument.isdigit():
        return Fault(kind, count=int(argument))
    if kind == "redirect" and argument:
        return Fault(kind, location=argument)
    raise ValueError(f"unknown fault spec {spec!r}; expected one of: {FAULT_SPEC_HELP}")


def is_media_path(path: str) -> bool:
    return path.startswith("/media/")


def wrong_type_response(path: str) -> Response:
    if is_media_path(path):
        # What a CDN login wall or soft error looks like: a 200 that is not the media.
        return html_response(document("Sign in", "<h1>Please sign in to continue</h1>"))
    return Response(200, "application/octet-stream", BytesBody(os.urandom(WRONG_TYPE_PAGE_BYTES)))


def fault_response(fault: Fault, hit_number: int, path: str) -> Response | None:
    """The response that replaces the normal one, or None when the fault only alters
    timing or delivery (slow, truncate) or has stopped firing (flaky500)."""
    if fault.kind in ("404", "500"):
        status = int(fault.kind)
        return html_response(error_document(status, f"Injected fault {fault.kind}"), status)
    if fault.kind == "flaky500" and hit_number <= fault.count:
        return html_response(error_document(500, "Injected flaky failure"), 500)
    if fault.kind == "wrong_type":
        return wrong_type_response(path)
    if fault.kind == "redirect_loop":
        return redirect_response(REDIRECT_LOOP_PREFIX + path)
    if fault.kind == "redirect":
        return redirect_response(fault.location)
    if fault.kind == "oversized":
        return Response(200, "application/octet-stream",
                        EndlessBody(OVERSIZED_CLAIMED_BYTES, OVERSIZED_SENT_CAP_BYTES))
    return None


# --------------------------------------------------------------------------------------------
# HTTP.
# --------------------------------------------------------------------------------------------

class DemoRequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 so clients get keep-alive, as from a real site; every response has a length.
    protocol_version = "HTTP/1.1"
    server_version = "gifrank-demo/1"
    timeout = CONNECTION_IDLE_TIMEOUT_S
    server: "DemoHTTPServer"

    def do_GET(self):
        self.respond()

    def do_HEAD(self):
        self.respond()

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        if self.server.site.verbose:
            super().log_message(format, *args)

    def respond(self):
        site = self.server.site
        url = urlsplit(self.path)
        site.record_request(url.path)
        site.pause(site.latency_ms)
        fault, hit_number = site.fault_for(url.path)
        if fault is not None and fault.kind == "slow":
            site.pause(fault.count)
        if site.stopping.is_set():
            # Woken from an injected delay by stop(): hang up like a server going down.
            self.close_connection = True
            return
        response = fault_response(fault, hit_number, url.path) if fault else None
        if response is None:
            response = site.route(unquote(url.path), parse_qs(url.query), self.headers)
        truncated = fault is not None and fault.kind == "truncate"
        self.send(response, response.body.length // 2 if truncated else response.body.length)

    def send(self, response: Response, send_limit: int):
        """Send the response, declaring the body's full length but writing at most
        `send_limit` bytes of it; a body cut short closes the connection, as a crashed
        server's would, so the client sees the truncation instead of waiting."""
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(response.body.length))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            if self.command == "HEAD":
                return
            bytes_sent = self.write_body(response.body, send_limit)
        except OSError:
            bytes_sent = -1
        if bytes_sent != response.body.length:
            self.close_connection = True

    def write_body(self, body, send_limit: int) -> int:
        stopping = self.server.site.stopping
        bytes_sent = 0
        for chunk in body.chunks(send_limit):
            if stopping.is_set():
                break
            self.wfile.write(chunk)
            bytes_sent += len(chunk)
        return bytes_sent


class DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Listen backlog: a crawler opening ~100 connections at once must not see refusals.
    request_queue_size = 256

    def __init__(self, address, site: "DemoSite"):
        self.site = site
        self.open_connections: set[socket.socket] = set()
        self.open_connections_lock = threading.Lock()
        super().__init__(address, DemoRequestHandler)

    def server_bind(self):
        # HTTPServer.server_bind looks up the host's FQDN, which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        connection, client_address = super().get_request()
        with self.open_connections_lock:
            self.open_connections.add(connection)
        return connection, client_address

    def shutdown_request(self, request):
        with self.open_connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def hang_up_open_connections(self):
        """Unblock handler threads stuck reading an idle keep-alive connection or writing to
        a client that stopped reading, so shutdown doesn't wait on them."""
        with self.open_connections_lock:
            connections = list(self.open_connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler

    def handle_error(self, request, client_address):
        # Clients hanging up mid-response are routine here (faults provoke it), so connection
        # errors stay quiet; anything else is a bug in the site and gets its traceback.
        if self.site.verbose or not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class DemoSite:
    """The demo GIF website for one world, served from a background thread.

    Thread-safe: faults can be changed and counters read while requests are in flight."""

    def __init__(self, world_root, host="127.0.0.1", port=0, page_size=24, latency_ms=0,
                 faults=None, private_gif_ids=(), verbose=False):
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self.world = DemoWorld(world_root)
        self.host = host
        self.port = port
        self.page_size = page_size
        self.latency_ms = latency_ms
        self.private_gif_ids = frozenset(private_gif_ids)
        self.verbose = verbose
        self.stopping = threading.Event()
        self.navigation = navigation_html(self.world)
        self._route_table = self._routes()
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._fault_hits: collections.Counter[str] = collections.Counter()
        self._requests_by_path: collections.Counter[str] = collections.Counter()
        self._request_times: list[float] = []
        self._server: DemoHTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        for path, spec in (faults or {}).items():
            self.set_fault(path, spec)

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> "DemoSite":
        if self._server is not None:
            raise RuntimeError("DemoSite already started")
        self._server = DemoHTTPServer((self.host, self.port), self)
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": SERVE_POLL_INTERVAL_S},
            name=f"demo-site-{self._server.server_port}", daemon=True)
        self._serve_thread.start()
        return self

    def stop(self):
        if self._server is None or self.stopping.is_set():
            return
        self.stopping.set()  # wakes handlers sleeping on injected latency, ends streams
        self._server.shutdown()
        self._server.hang_up_open_connections()
        self._server.server_close()
        self._serve_thread.join()

    def __enter__(self) -> "DemoSite":
        return self if self._server is not None else self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("DemoSite not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ---- faults and counters -------------------------------------------------------------

    def set_fault(self, path: str, spec: str):
        """Inject a fault on one exact URL path (no query); see FAULT_SPEC_HELP."""
        if not path.startswith("/") or "?" in path:
            raise ValueError(f"fault path must be a URL path without query, got {path!r}")
        fault = parse_fault_spec(spec)
        with self._lock:
            self._faults[path] = fault
            self._fault_hits[path] = 0

    def clear_faults(self):
        with self._lock:
            self._faults.clear()
            self._fault_hits.clear()

    def fault_for(self, path: str) -> tuple[Fault | None, int]:
        """The fault on `path` and how many requests (this one included) it has seen."""
        with self._lock:
            fault = self._faults.get(path)
            if fault is None and path.startswith(REDIRECT_LOOP_PREFIX):
                origin = path[len(REDIRECT_LOOP_PREFIX):]
                if getattr(self._faults.get(origin), "kind", None) == "redirect_loop":
                    return Fault("redirect", location=origin), 0
            if fault is None:
                return None, 0
            self._fault_hits[path] += 1
            return fault, self._fault_hits[path]

    def record_request(self, path: str):
        with self._lock:
            self._requests_by_path[path] += 1
            self._request_times.append(time.monotonic())

    def request_times(self) -> list[float]:
        """time.monotonic() of every request received, in arrival order (benchmarks check rate limits)."""
        with self._lock:
            return list(self._request_times)

    def request_count(self, path: str | None = None) -> int:
        """Requests received so far (any method, any outcome), in all or for one exact path."""
        with self._lock:
            if path is None:
                return sum(self._requests_by_path.values())
            return self._requests_by_path[path]

    def pause(self, milliseconds: float):
        if milliseconds > 0:
            self.stopping.wait(milliseconds / 1000)

    # ---- URL layout ------------------------------------------------------------------------

    def gif_page_path(self, gif_id: str) -> str:
        """The page path listings link to: /private/gif/<id> for private GIFs."""
        if gif_id in self.private_gif_ids:
            return private_gif_page_path(gif_id)
        return public_gif_page_path(gif_id)

    @staticmethod
    def gif_media_path(gif_id: str) -> str:
        return gif_media_path(gif_id)

    @staticmethod
    def video_media_path(video_id: str) -> str:
        return video_media_path(video_id)

    # ---- routing ---------------------------------------------------------------------------

    def route(self, path: str, query: dict[str, list[str]], headers) -> Response:
        for pattern, render in self._route_table:
            match = pattern.fullmatch(path)
            if match:
                return render(query=query, headers=headers, **match.groupdict())
        return self.not_found("No such page")

    def _routes(self):
        return (
            (re.compile(r"/"), lambda **_: redirect_response(listing_path(1))),
            (re.compile(r"/robots\.txt"), self.robots),
            (re.compile(r"/gifs"), self.all_gifs_page),
            (re.compile(r"/category/(?P<slug>[^/]+)"), self.category_page),
            (re.compile(r"(?:/private)?/gif/(?P<gif_id>[^/]+)"), self.gif_page),
            (re.compile(r"/video/(?P<video_id>[^/]+)"), self.video_page),
            (re.compile(r"/media/gifs/(?P<gif_id>[^/]+)\.gif"), self.gif_media),
            (re.compile(r"/media/videos/(?P<video_id>[^/]+)\.mp4"), self.video_media),
        )

    def not_found(self, message: str) -> Response:
        return html_response(error_document(404, message), 404)

    def robots(self, **_) -> Response:
        return Response(200, "text/plain; charset=utf-8", BytesBody(ROBOTS_TXT.encode()))

    def all_gifs_page(self, query, **_) -> Response:
        return self.listing_page("All GIFs", self.world.gifs_newest_first, query, listing_path)

    def category_page(self, slug, query, **_) -> Response:
        if slug not in self.world.category_names:
            return self.not_found(f"No category {slug!r}")
        name = self.world.category_names[slug]
        return self.listing_page(name, self.world.gifs_by_category[slug], query,
                                 lambda page: category_path(name, page))

    def listing_page(self, heading: str, gifs: list[GifEntry], query, page_href_of) -> Response:
        page_text = query.get("page", ["1"])[0]
        if not page_text.isdigit():
            return html_response(error_document(400, "page must be a positive integer"), 400)
        page = int(page_text)
        total_pages = max(1, math.ceil(len(gifs) / self.page_size))
        if not 1 <= page <= total_pages:
            return self.not_found(f"No page {page}; there are {total_pages}")
        page_gifs = gifs[(page - 1) * self.page_size: page * self.page_size]
        main_html = "\n".join((f"<h1>{escape(heading)}</h1>",
                               gif_items_html(page_gifs, self.gif_page_path),
                               pagination_html(page, total_pages, page_href_of)))
        return html_response(document(f"{heading}, page {page}", main_html, self.navigation))

    def gif_page(self, gif_id, **_) -> Response:
        gif = self.world.gifs.get(gif_id)
        if gif is None:
            return self.not_found(f"No GIF {gif_id!r}")
        article = gif_article_html(gif, self.world.videos.get(gif.video_id))
        return html_response(document(gif.title, article, self.navigation))

    def video_page(self, video_id, **_) -> Response:
        video = self.world.videos.get(video_id)
        if video is None:
            return self.not_found(f"No video {video_id!r}")
        main_html = (f"{video_article_html(video)}\n<h2>GIFs from this video</h2>\n"
                     f"{gif_items_html(self.world.gifs_by_video[video_id], self.gif_page_path)}")
        return html_response(document(video.title, main_html, self.navigation))

    def gif_media(self, gif_id, headers, **_) -> Response:
        gif = self.world.gifs.get(gif_id)
        if gif is None:
            return self.not_found(f"No GIF {gif_id!r}")
        return media_response(gif.file, "image/gif", headers.get("Range"))

    def video_media(self, video_id, headers, **_) -> Response:
        video = self.world.videos.get(video_id)
        if video is None:
            return self.not_found(f"No video {video_id!r}")
        return media_response(video.file, "video/mp4", headers.get("Range"))


# --------------------------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------------------------

def _fault_argument(text: str) -> tuple[str, str]:
    path, has_separator, spec = text.partition("=")
    if not has_separator or not path.startswith("/"):
        raise argparse.ArgumentTypeError(
            f"expected PATH=SPEC with PATH starting with '/', got {text!r}")
    try:
        parse_fault_spec(spec)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    return path, spec


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gifrank demo-site",
        description="Serve a demo GIF world (WORLD/manifest.json) as a small website over HTTP, "
                    "optionally with injected latency and faults, for crawling it with gifrank.",
        epilog="Fault specs: " + FAULT_SPEC_HELP + ". Example: "
               "--fault /gif/g00001=500 --fault /media/gifs/g00002.gif=truncate",
    )
    parser.add_argument("--world", default=Path("data/world"), type=Path, metavar="DIR",
                        help="world root directory containing manifest.json; the default world is "
                             "built there first if it has none (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: %(default)s, loopback only)")
    parser.add_argument("--port", type=int, default=8000,
                        help="port to bind; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--page-size", type=int, default=24, metavar="N",
                        help="GIFs per listing page (default: %(default)s)")
    parser.add_argument("--latency-ms", type=int, default=0, metavar="N",
                        help="delay every response by N milliseconds (default: %(default)s)")
    parser.add_argument("--fault", action="append", default=[], type=_fault_argument,
                        metavar="PATH=SPEC", help="inject a fault on an exact URL path; repeatable")
    parser.add_argument("--private-gif", action="append", default=[], metavar="GIF_ID",
                        help="list this GIF under /private/ (disallowed by robots.txt); repeatable")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not (args.world / "manifest.json").exists():
        from pipelines.demo.world import build_world  # lazy: only needed to build a missing world
        build_world(args.world)
    site = DemoSite(args.world, host=args.host, port=args.port, page_size=args.page_size,
                    latency_ms=args.latency_ms, faults=dict(args.fault),
                    private_gif_ids=args.private_gif, verbose=args.verbose)
    # `kill`/terminate() should shut down as cleanly as Ctrl-C.
    previous_sigterm_handler = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        with site:
            print(f"Serving demo site for {site.world.root} at {site.url}/ (Ctrl-C to stop)",
                  flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        print("Demo site stopped", flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm_handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
