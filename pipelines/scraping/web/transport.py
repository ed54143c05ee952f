"""requests/urllib3 plumbing that must act on every attempt and every new connection.

urllib3 retries inside HTTPConnectionPool.urlopen by calling urlopen again, opens sockets in
HTTPConnection._new_conn, and sends every request, on a new or a reused connection, through
HTTPConnection.connect/request, so hooking those methods covers retries and reconnects that
HttpClient never sees.
"""
import socket
from typing import TYPE_CHECKING

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from pipelines.scraping.web.deadline import ResponseDeadline
from pipelines.scraping.web.errors import FetchError
from pipelines.scraping.web.policy import AddressPolicy
from pipelines.scraping.web.ratelimit import HostRateLimiter


class BackoffRetry(Retry):
    """urllib3 Retry that waits backoff_factor * 2**attempt before every retry, the first included
    (stock urllib3 retries once immediately), and that caps Retry-After at backoff_max so a server
    cannot park a worker thread for hours."""

    def get_backoff_time(self) -> float:
        failures = len(self.history)  # redirects are never followed by urllib3 here
        if failures == 0:
            return 0.0
        return min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1))

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            seconds = super().parse_retry_after(retry_after)
        except InvalidHeader:
            return 0.0  # urllib3 treats 0 as "no Retry-After" and falls back to the backoff
        return min(seconds, self.backoff_max)


class GuardedHTTPAdapter(HTTPAdapter):
    """HTTPAdapter whose pools rate-limit every attempt per host and refuse sockets connected
    to addresses the AddressPolicy blocks."""

    def __init__(self, address_policy: AddressPolicy, rate_limiter: HostRateLimiter, **adapter_kwargs):
        # Set before super().__init__, which calls init_poolmanager.
        self._pool_classes = _guarded_pool_classes(address_policy, rate_limiter)
        super().__init__(**adapter_kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes


if TYPE_CHECKING:
    # What the connection mixins are mixed into (see _guarded_pool_classes), so that mypy sees the
    # urllib3 attributes and methods they use; at run time they stay plain mixins on object.
    _ConnectionMixinBase = HTTPConnection
else:
    _ConnectionMixinBase = object


class _ConnectedAddressCheck(_ConnectionMixinBase):
    """Connection mixin: check the address the socket actually reached before sending anything."""

    address_policy: AddressPolicy

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        try:
            self.address_policy.check_connected_address(self.host, self.port, sock.getpeername()[0])
        except FetchError:
            sock.close()
            raise
        return sock


class _DeadlineBoundConnection(_ConnectionMixinBase):
    """Connection mixin: a connection used inside a ResponseDeadline is cut off when it passes."""

    def connect(self) -> None:
        self._guard(None)  # the connect timeout bounds the connect itself
        super().connect()
        self._guard(self.sock)  # after TLS, the wrapped socket

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        try:
            self._guard(sock)  # from the TLS handshake on
        except FetchError:
            sock.close()
            raise
        return sock

    def request(self, *args, **kwargs) -> None:
        self._guard(self.sock)  # a reused connection's socket; a new one connects inside request
        super().request(*args, **kwargs)

    def _guard(self, sock) -> None:
        deadline = ResponseDeadline.current()
        if deadline is not None:
            deadline.guard(sock)


class _RateLimitedAttempts:
    """Connection pool mixin: every attempt, including urllib3's own retries, waits its turn."""

    rate_limiter: HostRateLimiter

    def urlopen(self, *args, **kwargs):
        self.rate_limiter.acquire(self.host)
        return super().urlopen(*args, **kwargs)


def _guarded_pool_classes(address_policy: AddressPolicy, rate_limiter: HostRateLimiter) -> dict[str, type]:
    """Pool classes bound to this client's policy and limiter (urllib3 instantiates them itself)."""
    pool_classes = {}
    for scheme, pool_base, connection_base in (
        ("http", HTTPConnectionPool, HTTPConnection),
        ("https", HTTPSConnectionPool, HTTPSConnection),
    ):
        connection_class = type(
            f"Checked{connection_base.__name__}",
            (_ConnectedAddressCheck, _DeadlineBoundConnection, connection_base),
            {"address_policy": address_policy},
        )
        pool_classes[scheme] = type(
            f"RateLimited{pool_base.__name__}",
            (_RateLimitedAttempts, pool_base),
            {"rate_limiter": rate_limiter, "ConnectionCls": connection_class},
        )
    return pool_classes
