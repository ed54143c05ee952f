"""Tests for pipelines.scraping.web against an in-process loopback HTTP server (no traffic leaves 127.0.0.1)."""
import hashlib
import os
import pickle
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
import urllib3.util.connection

from pipelines.scraping.web import errors, policy, ratelimit
from pipelines.scraping.web.client import FetchConfig, HttpClient
from pipelines.scraping.web.errors import FetchError
from pipelines.scraping.web.policy import AddressPolicy
from pipelines.scraping.web.ratelimit import HostRateLimiter
from pipelines.scraping.web.robots import RobotsCache

pytestmark = pytest.mark.timeout(20)

Respond = Callable[[BaseHTTPRequestHandler], None]


# ---------------------------------------------------------------- loopback server


class LoopbackServer:
    """HTTP/1.1 server on 127.0.0.1:<free port>; each path answers with a configured responder."""

    def __init__(self):
        self.routes: dict[str, Respond] = {}
        self.hits: Counter[str] = Counter()
        self.stopping = threading.Event()  # wakes stalled responders at teardown
        self._hits_lock = threading.Lock()
        self._httpd = _QuietThreadingServer(("127.0.0.1", 0), _handler_for(self))
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def record_hit(self, path: str) -> None:
        with self._hits_lock:
            self.hits[path] += 1

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()


class _QuietThreadingServer(ThreadingHTTPServer):
    request_queue_size = 128  # many concurrent connects in the concurrency tests
    block_on_close = False  # don't wait for responders still stalled or streaming at teardown

    def handle_error(self, request, client_address):
        pass  # clients hanging up on endless or oversized bodies is expected


def _handler_for(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            path = self.path.split("?")[0]
            server.record_hit(path)
            server.routes.get(path, status_only(404))(self)

        def log_message(self, *args):
            pass

    return Handler


def send_head(handler, status: int, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()


def serve_bytes(body: bytes, content_type: str = "text/html; charset=utf-8", status: int = 200) -> Respond:
    def respond(handler):
        send_head(handler, status, {"Content-Type": content_type, "Content-Length": str(len(body))})
        handler.wfile.write(body)

    return respond


def status_only(status: int) -> Respond:
    return serve_bytes(b"", status=status)


def redirect_to(location: str) -> Respond:
    def respond(handler):
        send_head(handler, 302, {"Location": location, "Content-Length": "0"})

    return respond


def fail_then(failures: int, failure: Respond, success: Respond) -> Respond:
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def respond(handler):
        with lock:
            calls["n"] += 1
            call = calls["n"]
        (failure if call <= failures else success)(handler)

    return respond


def truncated_body(declared: int, sent: int) -> Respond:
    def respond(handler):
        send_head(handler, 200, {"Content-Type": "image/gif", "Content-Length": str(declared)})
        handler.wfile.write(b"x" * sent)
        handler.wfile.flush()
        handler.close_connection = True  # hang up before the declared length

    return respond


def endless_body(server: LoopbackServer, headers: dict[str, str], status: int = 200) -> Respond:
    def respond(handler):
        send_head(handler, status, {"Content-Type": "video/mp4", "Connection": "close", **headers})
        handler.close_connection = True
        chunk = b"z" * 65536
        sent = 0
        while not server.stopping.is_set() and sent < 2**30:  # the bound only guards a broken client
            handler.wfile.write(chunk)  # raises once the client hangs up
            sent += len(chunk)

    return respond


def stall_before_headers(server: LoopbackServer, seconds: float) -> Respond:
    def respond(handler):
        server.stopping.wait(seconds)
        serve_bytes(b"late")(handler)

    return respond


def stall_mid_body(server: LoopbackServer, seconds: float) -> Respond:
    def respond(handler):
        send_head(handler, 200, {"Content-Type": "image/gif", "Content-Length": "100"})
        handler.wfile.write(b"x" * 10)
        handler.wfile.flush()
        server.stopping.wait(seconds)
        handler.close_connection = True

    return respond


def slow(seconds: float, respond: Respond) -> Respond:
    def slow_respond(handler):
        time.sleep(seconds)
        respond(handler)

    return slow_respond


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def server():
    loopback = LoopbackServer()
    yield loopback
    loopback.stop()


@pytest.fixture
def make_client():
    clients = []

    def make(**overrides) -> HttpClient:
        settings: dict[str, Any] = dict(
            allow_hosts=("127.0.0.1",),
            timeout_sec=2.0,
            retries=2,
            backoff_sec=0.001,
            requests_per_sec_per_host=None,
            obey_robots=False,
        )
        settings.update(overrides)
        client = HttpClient(FetchConfig(**settings))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def connect_log(monkeypatch) -> list[tuple[str, int]]:
    """Every (host, port) urllib3 opens a socket to."""
    attempts = []
    real_create_connection = urllib3.util.connection.create_connection

    def recording_create_connection(address, *args, **kwargs):
        attempts.append(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", recording_create_connection)
    return attempts


class ChunkSink:
    def __init__(self):
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.chunks.append(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


class ResettableSink(ChunkSink):
    def __init__(self):
        super().__init__()
        self.resets = 0

    def reset(self) -> None:
        self.chunks.clear()
        self.resets += 1


def fetch_error(call: Callable[[], object]) -> FetchError:
    with pytest.raises(FetchError) as raised:
        call()
    return raised.value


# ---------------------------------------------------------------- errors


def test_fetch_error_has_kind_url_status_and_survives_pickling():
    error = FetchError(errors.http_status_kind(404), "http://a.example/x", "HTTP 404 Not Found", status=404)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.kind, copy.url, copy.status, str(copy)) == ("http_404", "http://a.example/x", 404, str(error))
    assert "http://a.example/x" in str(error) and "404" in str(error)


# ---------------------------------------------------------------- address policy


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.1:8080/", "private"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fd00::1]/", "private"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://100.64.0.1/", "not a globally routable"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 in decimal, resolved by getaddrinfo
        ("http://localhost:8000/", "loopback"),
    ],
)
def test_policy_blocks_non_global_addresses(url, reason):
    error = fetch_error(lambda: AddressPolicy().check(url))
    assert error.kind == errors.BLOCKED_ADDRESS
    assert reason in str(error)


def test_policy_message_names_the_address_a_name_resolved_to(monkeypatch):
    monkeypatch.setattr(policy, "_resolve", lambda host, port: ["93.184.216.34", "169.254.169.254"])
    error = fetch_error(lambda: AddressPolicy().check("http://metadata.example/"))
    assert "metadata.example resolves to 169.254.169.254" in str(error) and "link-local" in str(error)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.gif", "gopher://example.com/"])
def test_policy_refuses_non_http_schemes(url):
    assert fetch_error(lambda: AddressPolicy().check(url)).kind == errors.BAD_SCHEME


def test_policy_reports_unresolvable_names_as_dns(monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    assert fetch_error(lambda: AddressPolicy().check("http://nope.invalid/")).kind == errors.DNS


def test_policy_allows_global_addresses_and_allow_listed_hosts():
    AddressPolicy().check("http://93.184.216.34/a.gif")
    AddressPolicy().check("https://[2606:4700:4700::1111]/")
    AddressPolicy().check("http://[::ffff:93.184.216.34]/")
    AddressPolicy(allow_hosts=("127.0.0.1",)).check("http://127.0.0.1:8080/")
    AddressPolicy(allow_hosts=("127.0.0.1:8080",)).check("http://127.0.0.1:8080/")
    error = fetch_error(lambda: AddressPolicy(allow_hosts=("127.0.0.1:8080",)).check("http://127.0.0.1:9090/"))
    assert error.kind == errors.BLOCKED_ADDRESS


# ---------------------------------------------------------------- redirects


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/"])
def test_redirect_to_internal_address_is_refused_without_connecting(server, make_client, connect_log, target):
    server.routes["/robots.txt"] = status_only(404)
    server.routes["/go"] = redirect_to(target)
    client = make_client(obey_robots=True)
    error = fetch_error(lambda: client.fetch_page(server.url("/go")))
    assert (error.kind, error.url) == (errors.BLOCKED_ADDRESS, target)
    assert {host for host, _ in connect_log} == {"127.0.0.1"}


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_name_that_resolves_differently_at_connect_time_is_refused(server, make_client, monkeypatch, scheme):
    # DNS rebinding: the check sees a public address, the connection then reaches loopback.
    # (For https the refusal comes before the TLS handshake, so the plain-HTTP server is fine.)
    monkeypatch.setattr(policy, "_resolve", lambda host, port: ["93.184.216.34"])
    server.routes["/page"] = serve_bytes(b"secret")
    client = make_client(allow_hosts=())
    error = fetch_error(lambda: client.fetch_page(f"{scheme}://localhost:{server.port}/page"))
    assert error.kind == errors.BLOCKED_ADDRESS and "127.0.0.1" in str(error)
    assert server.hits["/page"] == 0


def test_redirects_are_followed(server, make_client):
    server.routes["/old"] = redirect_to("/new")
    server.routes["/new"] = serve_bytes(b"<p>moved</p>")
    page = make_client().fetch_page(server.url("/old"))
    assert (page.url, page.final_url, page.status, page.text) == (
        server.url("/old"), server.url("/new"), 200, "<p>moved</p>")
    assert page.content_type == "text/html"


def test_redirect_body_is_not_read(server, make_client):
    server.routes["/old"] = endless_body(server, {"Location": "/new"}, status=302)
    server.routes["/new"] = serve_bytes(b"ok")
    assert make_client().fetch_page(server.url("/old")).text == "ok"


def test_redirect_loop(server, make_client):
    server.routes["/a"] = redirect_to("/b")
    server.routes["/b"] = redirect_to("/a")
    assert fetch_error(lambda: make_client().fetch_page(server.url("/a"))).kind == errors.REDIRECT_LOOP


def test_too_many_redirects(server, make_client):
    for hop in range(10):
        server.routes[f"/hop{hop}"] = redirect_to(f"/hop{hop + 1}")
    error = fetch_error(lambda: make_client(max_redirects=3).fetch_page(server.url("/hop0")))
    assert error.kind == errors.TOO_MANY_REDIRECTS
    assert sum(server.hits.values()) == 4  # the original request and 3 redirects


# ---------------------------------------------------------------- retries and statuses


def test_flaky_500_is_retried_until_success(server, make_client):
    server.routes["/flaky"] = fail_then(2, status_only(500), serve_bytes(b"finally"))
    assert make_client(retries=3).fetch_page(server.url("/flaky")).text == "finally"
    assert server.hits["/flaky"] == 3


def test_persistent_500_becomes_http_500_after_retries(server, make_client):
    server.routes["/broken"] = status_only(500)
    error = fetch_error(lambda: make_client(retries=2).fetch_page(server.url("/broken")))
    assert (error.kind, error.status) == ("http_500", 500)
    assert server.hits["/broken"] == 3


def test_404_is_not_retried(server, make_client):
    error = fetch_error(lambda: make_client(retries=3).fetch_page(server.url("/missing")))
    assert (error.kind, error.status) == ("http_404", 404)
    assert server.hits["/missing"] == 1


def test_connection_refused_is_a_connection_error(make_client):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    error = fetch_error(lambda: make_client(retries=1).fetch_page(f"http://127.0.0.1:{port}/"))
    assert error.kind == errors.CONNECTION


def test_no_response_in_time_is_a_timeout_after_retries(server, make_client):
    server.routes["/slow"] = stall_before_headers(server, 10)
    error = fetch_error(lambda: make_client(timeout_sec=0.2, retries=1).fetch_page(server.url("/slow")))
    assert error.kind == errors.TIMEOUT
    assert server.hits["/slow"] == 2


def test_body_that_stalls_is_a_timeout_after_retries(server, make_client):
    server.routes["/stall"] = stall_mid_body(server, 10)
    sink = ResettableSink()
    error = fetch_error(lambda: make_client(timeout_sec=0.2, retries=1).download(server.url("/stall"), sink))
    assert error.kind == errors.TIMEOUT
    assert server.hits["/stall"] == 2 and sink.resets == 1


# ---------------------------------------------------------------- truncated and oversized bodies


def test_truncated_download_is_retried_with_sink_reset(server, make_client):
    server.routes["/cut.gif"] = truncated_body(declared=200_000, sent=100_000)
    sink = ResettableSink()
    error = fetch_error(lambda: make_client(retries=2).download(server.url("/cut.gif"), sink))
    assert error.kind == errors.TRUNCATED
    assert server.hits["/cut.gif"] == 3 and sink.resets == 2


def test_truncated_download_into_sink_without_reset_is_not_retried(server, make_client):
    server.routes["/cut.gif"] = truncated_body(declared=200_000, sent=100_000)
    error = fetch_error(lambda: make_client(retries=2).download(server.url("/cut.gif"), ChunkSink()))
    assert error.kind == errors.TRUNCATED
    assert server.hits["/cut.gif"] == 1


def test_truncated_page_is_retried_then_reported(server, make_client):
    server.routes["/cut.html"] = truncated_body(declared=5000, sent=100)
    assert fetch_error(lambda: make_client(retries=1).fetch_page(server.url("/cut.html"))).kind == errors.TRUNCATED
    assert server.hits["/cut.html"] == 2


def test_declared_oversized_body_is_refused_before_reading(server, make_client):
    server.routes["/huge.mp4"] = endless_body(server, {"Content-Length": str(10 * 2**30)})
    sink = ResettableSink()
    error = fetch_error(lambda: make_client().download(server.url("/huge.mp4"), sink, max_bytes=2**20))
    assert error.kind == errors.TOO_LARGE and "Content-Length" in str(error)
    assert sink.chunks == [] and sink.resets == 0


def test_endless_body_is_cut_off_at_the_limit(server, make_client):
    server.routes["/endless.mp4"] = endless_body(server, {})
    sink = ResettableSink()
    error = fetch_error(lambda: make_client().download(server.url("/endless.mp4"), sink, max_bytes=2**20))
    assert error.kind == errors.TOO_LARGE
    assert 0 < len(sink.data) <= 2**20
    assert server.hits["/endless.mp4"] == 1  # too_large is final, not retried


def test_page_larger_than_max_page_bytes_is_too_large(server, make_client):
    server.routes["/big.html"] = serve_bytes(b"a" * 5000)
    error = fetch_error(lambda: make_client(max_page_bytes=4000).fetch_page(server.url("/big.html")))
    assert error.kind == errors.TOO_LARGE


# ---------------------------------------------------------------- downloads and pages


def test_download_streams_chunks_into_the_sink(server, make_client):
    body = os.urandom(300 * 1024 + 7)
    server.routes["/clip.gif"] = serve_bytes(body, content_type="image/gif")
    sink = ChunkSink()
    result = make_client().download(server.url("/clip.gif"), sink)
    assert len(sink.chunks) > 1 and max(map(len, sink.chunks)) <= 64 * 1024
    assert hashlib.sha256(sink.data).hexdigest() == hashlib.sha256(body).hexdigest()
    assert (result.url, result.final_url, result.content_type, result.num_bytes) == (
        server.url("/clip.gif"), server.url("/clip.gif"), "image/gif", len(body))


def test_page_text_uses_the_declared_charset(server, make_client):
    server.routes["/latin1"] = serve_bytes("café".encode("latin-1"), content_type="text/html; charset=ISO-8859-1")
    assert make_client().fetch_page(server.url("/latin1")).text == "café"


# ---------------------------------------------------------------- robots.txt


def test_robots_disallow_is_obeyed_for_pages_and_redirect_targets(server, make_client):
    server.routes["/robots.txt"] = serve_bytes(b"User-agent: *\nDisallow: /private\n", content_type="text/plain")
    server.routes["/public"] = serve_bytes(b"hello")
    server.routes["/private"] = serve_bytes(b"secret")
    server.routes["/to-private"] = redirect_to("/private")
    client = make_client(obey_robots=True)
    assert client.fetch_page(server.url("/public")).text == "hello"
    assert fetch_error(lambda: client.fetch_page(server.url("/private"))).kind == errors.ROBOTS_DISALLOWED
    assert fetch_error(lambda: client.fetch_page(server.url("/to-private"))).kind == errors.ROBOTS_DISALLOWED
    assert server.hits["/private"] == 0 and server.hits["/robots.txt"] == 1


def test_robots_server_error_disallows_the_whole_site(server, make_client):
    server.routes["/robots.txt"] = status_only(503)
    server.routes["/page"] = serve_bytes(b"hello")
    error = fetch_error(lambda: make_client(obey_robots=True, retries=1).fetch_page(server.url("/page")))
    assert error.kind == errors.ROBOTS_DISALLOWED
    assert server.hits["/page"] == 0


def test_robots_404_allows_everything(server, make_client):
    server.routes["/page"] = serve_bytes(b"hello")
    assert make_client(obey_robots=True).fetch_page(server.url("/page")).text == "hello"
    assert server.hits["/robots.txt"] == 1


def test_robots_is_fetched_once_per_origin_under_concurrency(server, make_client):
    server.routes["/robots.txt"] = slow(0.2, serve_bytes(b"User-agent: *\nDisallow: /private\n", "text/plain"))
    server.routes["/page"] = serve_bytes(b"hello")
    client = make_client(obey_robots=True)
    results = []

    def fetch():
        results.append(client.fetch_page(server.url("/page")).text)

    threads = [threading.Thread(target=fetch) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["hello"] * 16
    assert server.hits["/robots.txt"] == 1 and server.hits["/page"] == 16


def test_robots_cache_treats_429_as_unavailable():
    def rate_limited(robots_url):
        raise FetchError("http_429", robots_url, "HTTP 429 Too Many Requests", status=429)

    assert not RobotsCache(rate_limited, "gifrank").allowed("http://a.example/page")


def test_robots_cache_rechecks_an_unavailable_robots_txt_after_its_ttl():
    answers = iter([FetchError("http_503", "", "HTTP 503", status=503), "User-agent: *\nDisallow: /private\n"])
    fetched = []

    def fetch_text(robots_url):
        fetched.append(robots_url)
        answer = next(answers)
        if isinstance(answer, FetchError):
            raise answer
        return answer

    robots = RobotsCache(fetch_text, "gifrank", unavailable_ttl_sec=0)
    assert not robots.allowed("https://a.example/page")
    assert robots.allowed("https://a.example/page")
    assert not robots.allowed("https://a.example/private")
    assert fetched == ["https://a.example/robots.txt"] * 2
    robots.allowed("https://A.example:443/other")
    assert len(fetched) == 2  # same origin, spelled differently


# ---------------------------------------------------------------- rate limiting


def test_requests_to_one_host_are_spaced_by_the_rate_limit(server, make_client):
    server.routes["/page"] = serve_bytes(b"hello")
    client = make_client(requests_per_sec_per_host=20)
    started = time.monotonic()
    for _ in range(5):
        client.fetch_page(server.url("/page"))
    assert time.monotonic() - started >= 4 / 20 * 0.95


def test_urllib3_retries_are_rate_limited_too(server, make_client):
    server.routes["/broken"] = status_only(500)
    client = make_client(requests_per_sec_per_host=20, retries=3, backoff_sec=0)
    started = time.monotonic()
    fetch_error(lambda: client.fetch_page(server.url("/broken")))
    assert server.hits["/broken"] == 4
    assert time.monotonic() - started >= 3 / 20 * 0.95


def test_rate_limiter_spaces_calls_to_one_host():
    limiter = HostRateLimiter(requests_per_sec=50)
    started = time.monotonic()
    for _ in range(6):
        limiter.acquire("a.example")
    assert time.monotonic() - started >= 5 / 50 * 0.95


def test_rate_limiter_does_not_block_other_hosts(monkeypatch):
    host_a_sleeping, release_host_a = threading.Event(), threading.Event()

    def controlled_sleep(seconds):
        host_a_sleeping.set()
        release_host_a.wait(10)

    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(monotonic=time.monotonic, sleep=controlled_sleep))
    limiter = HostRateLimiter(requests_per_sec=1)
    limiter.acquire("a.example")
    waiting_on_a = threading.Thread(target=limiter.acquire, args=("a.example",))
    waiting_on_a.start()
    assert host_a_sleeping.wait(5)
    acquired_b = threading.Thread(target=limiter.acquire, args=("b.example",))
    acquired_b.start()
    acquired_b.join(5)  # a deadlock guard, not a timing assertion
    b_went_through_while_a_waited = not acquired_b.is_alive()
    release_host_a.set()
    waiting_on_a.join()
    assert b_went_through_while_a_waited


@pytest.mark.parametrize("rate", [None, 0, -1])
def test_rate_limiter_without_a_positive_rate_is_unlimited(monkeypatch, rate):
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(monotonic=time.monotonic, sleep=pytest.fail))
    limiter = HostRateLimiter(requests_per_sec=rate)
    for _ in range(100):
        limiter.acquire("a.example")


# ---------------------------------------------------------------- deadlines for whole responses


def drip(server: LoopbackServer, body: bytes, every_sec: float, headers: dict[str, str] | None = None,
         drip_headers: bool = False) -> Respond:
    """A server that sends a byte every `every_sec`: each read gets data in time, the response never ends."""
    def respond(handler):
        head = {"Content-Type": "text/html; charset=utf-8", **(headers if headers is not None
                                                               else {"Content-Length": str(len(body))})}
        handler.close_connection = True
        if drip_headers:
            raw = b"HTTP/1.1 200 OK\r\n" + b"".join(f"{k}: {v}\r\n".encode() for k, v in head.items()) + b"\r\n"
            payload = raw + body
        else:
            send_head(handler, 200, head)
            handler.wfile.flush()
            payload = body
        for i in range(len(payload)):
            if server.stopping.wait(every_sec):
                return
            handler.wfile.write(payload[i:i + 1])
            handler.wfile.flush()

    return respond


@pytest.mark.parametrize("how", ["body", "body_without_length", "headers"])
def test_a_dripping_page_is_a_timeout_at_its_deadline_after_retries(server, make_client, how):
    headers = {} if how == "body_without_length" else None
    server.routes["/drip"] = drip(server, b"<html>" + b"x" * 10_000, 0.05, headers, drip_headers=how == "headers")
    client = make_client(timeout_sec=1.0, retries=1, page_deadline_sec=0.6)
    started = time.monotonic()
    error = fetch_error(lambda: client.fetch_page(server.url("/drip")))
    assert error.kind == errors.TIMEOUT and "within 0.6 s" in error.detail
    assert server.hits["/drip"] == 2  # the first attempt and one retry, each cut off at its deadline
    assert time.monotonic() - started < 5  # two deadlines and a backoff, not the 10 minutes the drip takes


def test_a_dripping_download_is_a_timeout_and_its_sink_reset(server, make_client):
    server.routes["/drip.gif"] = drip(server, b"GIF89a" + b"x" * 10_000, 0.05,
                                      {"Content-Type": "image/gif", "Content-Length": "10006"})
    sink = ResettableSink()
    client = make_client(timeout_sec=1.0, retries=1, media_deadline_sec=0.5)
    error = fetch_error(lambda: client.download(server.url("/drip.gif"), sink))
    assert error.kind == errors.TIMEOUT
    assert server.hits["/drip.gif"] == 2 and sink.resets == 1


def test_a_dripping_host_does_not_hold_up_another_request(server, make_client):
    server.routes["/drip"] = drip(server, b"x" * 10_000, 0.05)
    server.routes["/fast"] = serve_bytes(b"<html>fast</html>")
    client = make_client(timeout_sec=1.0, retries=0, page_deadline_sec=3.0)
    outcome = {}
    slow_thread = threading.Thread(target=lambda: outcome.setdefault("drip", fetch_error(
        lambda: client.fetch_page(server.url("/drip")))))
    slow_thread.start()
    while server.hits["/drip"] == 0:
        time.sleep(0.01)
    assert client.fetch_page(server.url("/fast")).text == "<html>fast</html>"
    assert slow_thread.is_alive()  # answered while the drip was still in flight
    slow_thread.join()
    assert outcome["drip"].kind == errors.TIMEOUT


def test_a_deadline_that_did_not_expire_leaves_a_reused_connection_working(server, make_client):
    server.routes["/page"] = serve_bytes(b"<html>ok</html>")
    client = make_client(page_deadline_sec=0.3)
    for _ in range(3):
        assert client.fetch_page(server.url("/page")).text == "<html>ok</html>"
        time.sleep(0.2)  # past the earlier attempts' deadlines: the watchdog must not touch the pooled socket
    assert server.hits["/page"] == 3


def gzip_bomb(inflated_bytes: int, head: bytes, content_type: str) -> Respond:
    import zlib

    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    zeros = b"\0" * 2**20
    parts = [compressor.compress(head)]
    for _ in range(inflated_bytes // len(zeros)):
        parts.append(compressor.compress(zeros))
    body = b"".join(parts) + compressor.flush()

    def respond(handler):
        send_head(handler, 200, {"Content-Type": content_type, "Content-Encoding": "gzip",
                                 "Content-Length": str(len(body))})
        handler.wfile.write(body)

    return respond


def test_a_gzip_bomb_page_is_too_large_after_decompression(server, make_client):
    server.routes["/bomb.html"] = gzip_bomb(300 * 2**20, b"<html>", "text/html")
    error = fetch_error(lambda: make_client(max_page_bytes=2**20).fetch_page(server.url("/bomb.html")))
    assert error.kind == errors.TOO_LARGE


def test_a_gzip_bomb_download_stops_at_the_cap_of_decompressed_bytes(server, make_client):
    server.routes["/bomb.gif"] = gzip_bomb(300 * 2**20, b"GIF89a", "image/gif")
    sink = ResettableSink()
    error = fetch_error(lambda: make_client().download(server.url("/bomb.gif"), sink, max_bytes=4 * 2**20))
    assert error.kind == errors.TOO_LARGE
    assert len(sink.data) <= 4 * 2**20 and sink.data.startswith(b"GIF89a")
