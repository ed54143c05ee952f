"""One progress display per run: a line at most every PROGRESS_EVERY_SEC, every stage's counts on it.

Beam's counters arrive only when a run ends; these lines show a long run moving.
"""
from __future__ import annotations

import logging
import threading
import time

LOG = logging.getLogger("gifrank")
PROGRESS_EVERY_SEC = 2.0


class Progress:
    """Process-wide progress lines per stage, at most one every PROGRESS_EVERY_SEC."""

    _lock = threading.Lock()
    _counts: dict[str, list[int]] = {}
    _last_report = 0.0

    @classmethod
    def reset(cls) -> None:
        """A new run in this process counts from zero."""
        with cls._lock:
            cls._counts = {}
            cls._last_report = 0.0

    @classmethod
    def record(cls, stage: str, ok: int, failed: int) -> None:
        with cls._lock:
            counts = cls._counts.setdefault(stage, [0, 0])
            counts[0] += ok
            counts[1] += failed
            now = time.monotonic()
            if now - cls._last_report < PROGRESS_EVERY_SEC:
                return
            cls._last_report = now
            line = "  ".join(f"{s}: {c[0]} ok, {c[1]} failed" for s, c in sorted(cls._counts.items()))
        LOG.info("progress  %s", line)
