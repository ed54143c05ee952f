"""HttpClient: polite, safe and thread-safe HTTP GETs for the scrape pipeline.

Polite: robots.txt is obeyed and every attempt waits for the per-host rate limit.
Safe: every URL, redirect hops included, is checked by AddressPolicy (and robots.txt) before
any connection is made; bodies are size-bounded (after decompression) and streamed, and every
whole response, headers and body, has a deadline (ResponseDeadline), not only each read.
Thread-safe: one client, and its connection pools, can be shared by all threads of a worker.
"""
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar
from urllib.parse import urldefrag, urljoin

import requests
from requests.utils import requote_uri
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

from pipelines.scraping.web.deadline import ResponseDeadline
from pipelines.scraping.web.errors import (
    CONNECTION,
    REDIRECT_LOOP,
    ROBOTS_DISALLOWED,
    TIMEOUT,
    TOO_LARGE,
    TOO_MANY_REDIRECTS,
    TRUNCATED,
    FetchError,
    http_status_kind,
)
from pipelines.scraping.web.policy import AddressPolicy
from pipelines.scraping.web.ratelimit import HostRateLimiter
from pipelines.scraping.web.robots import RobotsCache
from pipelines.scraping.web.transport import BackoffRetry, GuardedHTTPAdapter

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CHUNK_BYTES = 64 * 1024
# Upper bound for one backoff or Retry-After wait.
MAX_RETRY_WAIT_SEC = 60.0
# Failures while reading a body; the request is repeated from the start. A whole response past
# its deadline is repeated too, wherever it was cut off.
_BODY_RETRY_KINDS = frozenset({TRUNCATED, TIMEOUT, CONNECTION})

Result = TypeVar("Result")


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str = "gifrank/0.1 (+https://github.com/gifrank/gifrank)"
    timeout_sec: float = 10.0  # connect and read timeout: each socket operation
    # A whole response (redirect hops, headers and body) of a page, or of a GIF or video download:
    # a server that sends a byte every few seconds passes every read timeout, never this.
    page_deadline_sec: float = 60.0
    media_deadline_sec: float = 900.0  # 2 GiB at 2.4 MB/s
    retries: int = 3  # for 5xx (500,502,503,504), 429, timeouts, connection errors, truncated bodies
    backoff_sec: float = 0.5  # exponential: backoff_sec * 2**attempt (respect Retry-After)
    max_redirects: int = 5
    max_page_bytes: int = 5 * 2**20
    max_media_bytes: int = 2 * 2**30
    requests_per_sec_per_host: float | None = 5.0
    allow_hosts: tuple[str, ...] = ()
    obey_robots: bool = True
    pool_size: int = 32  # connection pool per host, = expected concurrency


@dataclass
class Page:
    url: str
    final_url: str
    status: int
    content_type: str  # media type only, lower case, e.g. "text/html"; "" when absent
    text: str


@dataclass
class DownloadResult:
    url: str
    final_url: str
    content_type: str  # media type only, lower case, e.g. "image/gif"; "" when absent
    num_bytes: int


class Sink(Protocol):
    """Where download() writes. If it also has reset(), which must discard everything written
    so far, downloads that break off midway are retried."""

    def write(self, data: bytes) -> object: ...


class HttpClient:
    def __init__(self, config: FetchConfig = FetchConfig()):
        self.config = config
        self._policy = AddressPolicy(config.allow_hosts)
        self._session = _build_session(config, self._policy)
        self._robots = RobotsCache(self._fetch_robots_txt, config.user_agent) if config.obey_robots else None

    def fetch_page(self, url: str) -> Page:
        """GET url and return its whole body as text (at most max_page_bytes)."""
        return self._fetch_page(url, check_robots=True)

    def download(self, url: str, sink: Sink, max_bytes: int | None = None) -> DownloadResult:
        """Stream url's body into sink.write() in chunks of up to CHUNK_BYTES, at most max_bytes
        (default max_media_bytes) in total once decompressed, within media_deadline_sec.
        Raises FetchError; errors from the sink propagate."""
        limit = self.config.max_media_bytes if max_bytes is None else max_bytes
        reset_sink = getattr(sink, "reset", None)

        def stream_into_sink(response: requests.Response) -> DownloadResult:
            num_bytes = 0
            for chunk in _bounded_chunks(response, limit):
                sink.write(chunk)
                num_bytes += len(chunk)
            return DownloadResult(url, response.url, _media_type(response), num_bytes)

        # Retrying into a sink that cannot be reset would append a second copy after a partial one.
        body_retries = self.config.retries if reset_sink else 0
        return self._get(url, stream_into_sink, check_robots=True, body_retries=body_retries,
                         deadline_sec=self.config.media_deadline_sec, before_retry=reset_sink)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _fetch_page(self, url: str, check_robots: bool) -> Page:
        def read_page(response: requests.Response) -> Page:
            body = b"".join(_bounded_chunks(response, self.config.max_page_bytes))
            text = _decode_text(body, response.headers.get("Content-Type", ""))
            return Page(url, response.url, response.status_code, _media_type(response), text)

        return self._get(url, read_page, check_robots=check_robots, body_retries=self.config.retries,
                         deadline_sec=self.config.page_deadline_sec)

    def _fetch_robots_txt(self, robots_url: str) -> str:
        # Same address policy and rate limit as any page, but robots.txt is not itself subject to robots rules.
        return self._fetch_page(robots_url, check_robots=False).text

    def _get(
        self,
        url: str,
        read_body: Callable[[requests.Response], Result],
        check_robots: bool,
        body_retries: int,
        deadline_sec: float,
        before_retry: Callable[[], object] | None = None,
    ) -> Result:
        """Open url and return read_body(response), starting over when the body breaks off or the
        whole response misses its deadline.

        Failures before the body (status, connect, headers timeout) were already retried by
        urllib3 inside _open, so only body failures and missed deadlines are retried here.
        """
        attempt = 0
        while True:
            opened = False
            with ResponseDeadline(deadline_sec, url) as deadline:
                try:
                    with self._open(url, check_robots) as response:
                        opened = True
                        result = read_body(response)
                    if deadline.expired:  # a body without a length, cut short by the deadline, reads as ended
                        raise deadline.error()
                    return result
                except FetchError as error:
                    retry = deadline.expired or (opened and error.kind in _BODY_RETRY_KINDS)
                    if not retry or attempt >= body_retries:
                        if deadline.expired:  # whatever broke, it broke because time ran out
                            raise deadline.error() from error
                        raise
            time.sleep(min(MAX_RETRY_WAIT_SEC, self.config.backoff_sec * 2**attempt))
            if before_retry:
                before_retry()
            attempt += 1

    def _open(self, url: str, check_robots: bool) -> requests.Response:
        """GET url, following redirects one checked hop at a time; return the final 2xx
        response with its body still unread."""
        visited = set()
        hop_url = url
        while True:
            self._check_before_connecting(hop_url, check_robots)
            response = self._send(hop_url)
            visited.add(response.url)
            if not response.is_redirect:
                return _require_success(response)
            response.close()  # closes rather than drains: a redirect body can be endless
            hop_url = _redirect_target(response)
            if hop_url in visited:
                raise FetchError(REDIRECT_LOOP, hop_url, f"redirected back to an already visited URL (from {url})")
            if len(visited) > self.config.max_redirects:
                raise FetchError(TOO_MANY_REDIRECTS, hop_url,
                                 f"more than {self.config.max_redirects} redirects from {url}")

    def _check_before_connecting(self, url: str, check_robots: bool) -> None:
        self._policy.check(url)
        if check_robots and self._robots and not self._robots.allowed(url):
            raise FetchError(ROBOTS_DISALLOWED, url, f"robots.txt disallows {self.config.user_agent!r}")

    def _send(self, url: str) -> requests.Response:
        try:
            return self._session.get(url, stream=True, allow_redirects=False, timeout=self.config.timeout_sec)
        except FetchError as error:
            # Raised by the transport's connected-address check, which only knows host and port.
            raise FetchError(error.kind, url, error.detail, error.status) from None
        except requests.RequestException as error:
            raise _transport_error(url, error) from error


class _ManualRedirectSession(requests.Session):
    def resolve_redirects(self, *args, **kwargs):
        # Even with allow_redirects=False, Session.send runs this to precompute Response.next and
        # reads the whole redirect body into memory on the way. HttpClient follows redirects itself.
        return iter(())


def _build_session(config: FetchConfig, policy: AddressPolicy) -> requests.Session:
    session = _ManualRedirectSession()
    # No proxies or .netrc from the environment: connections go straight to the checked server.
    session.trust_env = False
    session.headers["User-Agent"] = config.user_agent
    adapter = GuardedHTTPAdapter(
        policy,
        HostRateLimiter(config.requests_per_sec_per_host),
        max_retries=_retry_schedule(config),
        pool_maxsize=config.pool_size,
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _retry_schedule(config: FetchConfig) -> BackoffRetry:
    return BackoffRetry(
        total=config.retries,
        other=0,  # e.g. TLS certificate errors: repeating the request cannot help
        redirect=False,  # redirects are followed by HttpClient, hop by hop
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        backoff_factor=config.backoff_sec,
        backoff_max=MAX_RETRY_WAIT_SEC,
        raise_on_status=False,  # return the last 5xx/429 response so it becomes http_<status>
    )


def _require_success(response: requests.Response) -> requests.Response:
    if 200 <= response.status_code < 300:
        return response
    response.close()
    detail = f"HTTP {response.status_code} {response.reason}"
    raise FetchError(http_status_kind(response.status_code), response.url, detail, status=response.status_code)


def _redirect_target(response: requests.Response) -> str:
    location = urljoin(response.url, response.headers["Location"])
    return requote_uri(urldefrag(location).url)


def _bounded_chunks(response: requests.Response, max_bytes: int):
    """Yield the (decompressed) body in chunks; raise too_large before passing max_bytes."""
    declared_length = response.headers.get("Content-Length", "")
    if declared_length.isdigit() and int(declared_length) > max_bytes:
        raise FetchError(TOO_LARGE, response.url,
                         f"Content-Length {declared_length} exceeds the {max_bytes}-byte limit")
    num_bytes = 0
    try:
        for chunk in response.iter_content(CHUNK_BYTES):
            num_bytes += len(chunk)
            if num_bytes > max_bytes:
                raise FetchError(TOO_LARGE, response.url, f"body exceeds the {max_bytes}-byte limit")
            yield chunk
    except requests.RequestException as error:
        raise _transport_error(response.url, error) from error


def _transport_error(url: str, error: requests.RequestException) -> FetchError:
    if _caused_by_timeout(error):
        return FetchError(TIMEOUT, url, f"timed out: {error}")
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        # urllib3 raises IncompleteRead/ProtocolError when the server closes before Content-Length bytes.
        return FetchError(TRUNCATED, url, f"body ended early: {error}")
    return FetchError(CONNECTION, url, str(error))


def _caused_by_timeout(error: requests.RequestException) -> bool:
    # requests only maps some urllib3 timeouts to requests.Timeout: read timeouts that exhausted
    # the retries arrive as ConnectionError(MaxRetryError(ReadTimeoutError)), and body read
    # timeouts as ConnectionError(ReadTimeoutError).
    if isinstance(error, requests.Timeout):
        return True
    cause = error.args[0] if error.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    # NewConnectionError (e.g. connection refused) subclasses ConnectTimeoutError for history's sake.
    return isinstance(cause, Urllib3TimeoutError) and not isinstance(cause, NewConnectionError)


def _media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _decode_text(body: bytes, content_type: str) -> str:
    # Trust only an explicit charset; otherwise UTF-8, which most of the web uses (requests would guess ISO-8859-1).
    match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    try:
        return body.decode(match.group(1) if match else "utf-8", errors="replace")
    except LookupError:  # unknown charset name
        return body.decode("utf-8", errors="replace")
