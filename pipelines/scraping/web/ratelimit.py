"""HostRateLimiter: at most N requests per second to any one host, shared by all threads."""
import threading
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


class HostRateLimiter:
    """Thread-safe token bucket per host.

    requests_per_sec None or <= 0 means unlimited. burst is how many requests may go out
    back to back after the host has been idle.
    """

    def __init__(self, requests_per_sec: float | None, burst: int = 1):
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self._rate = requests_per_sec if requests_per_sec and requests_per_sec > 0 else None
        self._burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, host: str) -> None:
        """Block until a request to host is allowed."""
        if self._rate is None:
            return
        wait_sec = self._reserve(host, self._rate)
        if wait_sec > 0:
            # Sleep outside the lock so threads waiting on one host never hold up other hosts.
            time.sleep(wait_sec)

    def _reserve(self, host: str, rate: float) -> float:
        """Take a token (possibly one not yet refilled) and return how long to wait for it at rate per second."""
        with self._lock:
            now = time.monotonic()
            bucket = self._buckets.setdefault(host, _Bucket(tokens=self._burst, updated_at=now))
            refilled = bucket.tokens + (now - bucket.updated_at) * rate
            # Tokens may go negative: each waiting caller owns the next free slot in line.
            bucket.tokens = min(self._burst, refilled) - 1
            bucket.updated_at = now
            return -bucket.tokens / rate if bucket.tokens < 0 else 0.0
