"""RobotsCache: robots.txt rules per origin, fetched once and shared by all threads (RFC 9309)."""
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from pipelines.scraping.web.errors import FetchError
from pipelines.scraping.web.policy import DEFAULT_PORTS

# RFC 9309 2.4: cached rules should not be used for more than 24 hours.
RULES_TTL_SEC = 24 * 3600
# A disallow-all caused by an unreachable robots.txt is re-checked sooner, so that one bad
# moment of a site does not shut it out for the rest of a long-running worker.
UNAVAILABLE_TTL_SEC = 10 * 60

_log = logging.getLogger(__name__)


@dataclass
class _OriginRules:
    lock: threading.Lock = field(default_factory=threading.Lock)
    parser: RobotFileParser | None = None
    expires_at: float = 0.0


class RobotsCache:
    """Answers whether user_agent may fetch an http(s) URL.

    fetch_text_fn(robots_url) returns the robots.txt text or raises FetchError. Following
    RFC 9309, a 4xx status means "no rules" (allow all), while 5xx, 429 or no answer at all
    means "assume complete disallow".
    """

    def __init__(
        self,
        fetch_text_fn: Callable[[str], str],
        user_agent: str,
        rules_ttl_sec: float = RULES_TTL_SEC,
        unavailable_ttl_sec: float = UNAVAILABLE_TTL_SEC,
    ):
        self._fetch_text = fetch_text_fn
        self._user_agent = user_agent
        self._rules_ttl_sec = rules_ttl_sec
        self._unavailable_ttl_sec = unavailable_ttl_sec
        self._rules_by_origin: dict[str, _OriginRules] = {}
        self._lock = threading.Lock()

    def allowed(self, url: str) -> bool:
        return self._parser_for(_origin(url)).can_fetch(self._user_agent, url)

    def _parser_for(self, origin: str) -> RobotFileParser:
        with self._lock:
            rules = self._rules_by_origin.setdefault(origin, _OriginRules())
        # One lock per origin: concurrent first requests wait for a single fetch, and a slow
        # robots.txt on one site does not hold up other sites.
        with rules.lock:
            if rules.parser is None or time.monotonic() >= rules.expires_at:
                rules.parser, ttl_sec = self._fetch_parser(origin + "/robots.txt")
                rules.expires_at = time.monotonic() + ttl_sec
            return rules.parser

    def _fetch_parser(self, robots_url: str) -> tuple[RobotFileParser, float]:
        """The parsed rules, and how long they may be cached."""
        parser = RobotFileParser(robots_url)
        try:
            text = self._fetch_text(robots_url)
        except FetchError as error:
            if _means_no_robots_file(error.status):
                # allow_all and disallow_all are what RobotFileParser.read() sets for these cases;
                # typeshed's stub leaves these instance attributes out.
                parser.allow_all = True  # type: ignore[attr-defined]
                return parser, self._rules_ttl_sec
            _log.info("robots.txt unavailable, disallowing the whole site for now: %s", error)
            parser.disallow_all = True  # type: ignore[attr-defined]
            return parser, self._unavailable_ttl_sec
        parser.parse(text.splitlines())
        return parser, self._rules_ttl_sec


def _means_no_robots_file(status: int | None) -> bool:
    # 429 is a 4xx but means "slow down", not "no file"; treat it like a server error.
    return status is not None and 400 <= status < 500 and status != 429


def _origin(url: str) -> str:
    """scheme://host[:port], the port only when it is not the scheme's default."""
    parts = urlsplit(url)
    if parts.hostname is None:  # the address policy refuses such URLs before robots.txt is asked
        raise ValueError(f"{url!r} has no host")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    return f"{parts.scheme}://{host}" if port == DEFAULT_PORTS[parts.scheme] else f"{parts.scheme}://{host}:{port}"
