"""HTTP: the request handler, the threaded HTTP server and DemoSite, which routes requests
for one world and runs the server on a background thread."""
from __future__ import annotations

import collections
import math
import os
import re
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from demo_world.site.catalog import DemoWorld, GifEntry
from demo_world.site.faults import REDIRECT_LOOP_PREFIX, Fault, fault_response, parse_fault_spec, rewritten_page
from demo_world.site.pages import (
    document,
    error_document,
    escape,
    gif_article_html,
    gif_items_html,
    navigation_html,
    pagination_html,
    video_article_html,
)
from demo_world.site.responses import BytesBody, Response, html_response, media_response, redirect_response
from demo_world.site.urls import (
    category_path,
    gif_media_path,
    listing_path,
    private_gif_page_path,
    public_gif_page_path,
    video_content_type,
    video_media_path,
)

# Idle keep-alive connections are dropped after this, so a forgotten client can't pin a thread.
CONNECTION_IDLE_TIMEOUT_S = 30
SERVE_POLL_INTERVAL_S = 0.05

ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"


class DemoRequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 so clients get keep-alive, as from a real site; every response has a length.
    protocol_version = "HTTP/1.1"
    server_version = "gifrank-demo/1"
    timeout = CONNECTION_IDLE_TIMEOUT_S
    server: DemoHTTPServer

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
            response = rewritten_page(fault, site.route(unquote(url.path), parse_qs(url.query), self.headers))
        truncated = fault is not None and fault.kind == "truncate"
        self.drip_ms = fault.count if fault is not None and fault.kind == "drip" else 0
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
            if self.drip_ms:  # a byte at a time: every read the client makes gets something in time
                for i in range(len(chunk)):
                    if stopping.wait(self.drip_ms / 1000):
                        return bytes_sent
                    self.wfile.write(chunk[i:i + 1])
                    self.wfile.flush()
                    bytes_sent += 1
                continue
            self.wfile.write(chunk)
            bytes_sent += len(chunk)
        return bytes_sent


class DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Listen backlog: a crawler opening ~100 connections at once must not see refusals.
    request_queue_size = 256

    def __init__(self, address, site: DemoSite):
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

    def __init__(self, world_root: str | os.PathLike, host: str = "127.0.0.1", port: int = 0, page_size: int = 24,
                 latency_ms: float = 0, faults: dict[str, str] | None = None, private_gif_ids: Iterable[str] = (),
                 verbose: bool = False) -> None:
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

    def start(self) -> DemoSite:
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

    def __enter__(self) -> DemoSite:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("DemoSite not started")
        # server_bind sets these from the bound address
        return f"http://{self._server.server_name}:{self._server.server_port}"

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

    def video_media_path(self, video_id: str) -> str:
        """The video's media URL path, with its file's suffix (.mp4 for an unknown id)."""
        video = self.world.videos.get(video_id)
        return video_media_path(video_id, video.file.suffix.lower() if video else ".mp4")

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
            (re.compile(r"/media/videos/(?P<video_id>[^/.]+)(?P<suffix>\.(?:mp4|webm|mkv))"), self.video_media),
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

    def video_media(self, video_id, suffix, headers, **_) -> Response:
        video = self.world.videos.get(video_id)
        if video is None or video.file.suffix.lower() != suffix:  # one URL per video, its file's suffix
            return self.not_found(f"No video {video_id!r}{suffix}")
        return media_response(video.file, video_content_type(suffix), headers.get("Range"))
