"""AddressPolicy: the scraper only talks to http(s) servers on globally routable addresses.

Crawled pages and their redirects are attacker-controlled input; without this check a redirect
to http://169.254.169.254/ or http://10.0.0.1/ would make a worker fetch cloud metadata or
internal services.
"""
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from pipelines.scraping.web.errors import BAD_SCHEME, BAD_URL, BLOCKED_ADDRESS, DNS, FetchError

DEFAULT_PORTS = {"http": 80, "https": 443}
# NAT64 gateways forward 64:ff9b::a.b.c.d to the IPv4 address a.b.c.d.
_NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressPolicy:
    """Refuses URLs that are not http(s) or whose host has any non-global address.

    allow_hosts: hosts exempt from the address check, matched as written in the URL, either
    "host" (any port) or "host:port" ("[::1]:8080" for IPv6), e.g. ("127.0.0.1",) for tests.
    """

    def __init__(self, allow_hosts: Iterable[str] = ()):
        self._allow_hosts = frozenset(host.lower() for host in allow_hosts)

    def check(self, url: str) -> None:
        """Raise FetchError (bad_scheme, bad_url, dns, blocked_address) unless url may be fetched."""
        host, port = _host_and_port(url)
        if self.is_allowed_host(host, port):
            return
        for address in _addresses_of(url, host, port):
            reason = _blocked_reason(ipaddress.ip_address(address))
            if reason:
                shown_as = address if address == host else f"{host} resolves to {address}, which"
                raise FetchError(BLOCKED_ADDRESS, url, f"{shown_as} is {reason}")

    def check_connected_address(self, host: str, port: int, address: str) -> None:
        """Raise blocked_address if a connection to host:port reached a non-global address.

        check() resolves the name before connecting; the connection resolves it again, and a
        hostile DNS server can answer differently the second time (DNS rebinding).
        """
        if self.is_allowed_host(host, port):
            return
        reason = _blocked_reason(ipaddress.ip_address(address))
        if reason:
            detail = f"connection to {host} reached {address}, which is {reason} (DNS answer changed?)"
            raise FetchError(BLOCKED_ADDRESS, _host_port(host, port), detail)

    def is_allowed_host(self, host: str, port: int) -> bool:
        host = host.lower()
        return host in self._allow_hosts or _host_port(host, port) in self._allow_hosts


def _host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise FetchError(BAD_SCHEME, url, f"scheme {parts.scheme!r} is not http or https")
    if not parts.hostname:
        raise FetchError(BAD_URL, url, "URL has no host")
    try:
        return parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as error:  # port out of range or not a number
        raise FetchError(BAD_URL, url, str(error)) from None


def _addresses_of(url: str, host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass  # a name, not an IP literal
    try:
        return _resolve(host, port)
    except (OSError, UnicodeError) as error:  # socket.gaierror is an OSError
        raise FetchError(DNS, url, f"cannot resolve {host!r}: {error}") from None


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # sockaddr[0] is the address string for AF_INET and AF_INET6, the only families a host name resolves to.
    return sorted({str(info[4][0]) for info in infos})


def _blocked_reason(address: IPAddress) -> str | None:
    """Why connecting to address is refused, or None when it is a global unicast address."""
    address = _embedded_ipv4(address) or address
    for reason, applies in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if applies:
            return f"a {reason} address"
    if not address.is_global:
        return "not a globally routable address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 host an IPv6 address actually reaches (IPv4-mapped, 6to4 or NAT64), if any."""
    if address.version != 6:
        return None
    if address in _NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
