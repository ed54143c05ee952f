"""One progress display per run: a line at most every PROGRESS_EVERY_SEC, every stage's counts on it.

Beam's counters arrive only when a run ends; these lines show a long run moving, and, where
work is in flight (ApplyWorker's threads), how much and the oldest piece: a server that
answers slowly shows up by name while it is slow, not only when its deadline passes.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

LOG = logging.getLogger("gifrank")
PROGRESS_EVERY_SEC = 2.0


@dataclass(frozen=True)
class InFlight:
    count: int
    oldest_sec: float
    oldest: str  # what the oldest piece of work is (a URL, a video), short


class Progress:
    """Process-wide progress lines per stage, at most one every PROGRESS_EVERY_SEC."""

    _lock = threading.Lock()
    _counts: dict[str, list[int]] = {}
    _in_flight: dict[str, InFlight] = {}
    _last_report = 0.0

    @classmethod
    def reset(cls) -> None:
        """A new run in this process counts from zero."""
        with cls._lock:
            cls._counts = {}
            cls._in_flight = {}
            cls._last_report = 0.0

    @classmethod
    def record(cls, stage: str, ok: int, failed: int) -> None:
        with cls._lock:
            counts = cls._counts.setdefault(stage, [0, 0])
            counts[0] += ok
            counts[1] += failed
        cls._report_if_due()

    @classmethod
    def in_flight(cls, stage: str, work: InFlight | None) -> None:
        """What `stage` has in flight in this process now (None: nothing)."""
        with cls._lock:
            if work is None or not work.count:
                cls._in_flight.pop(stage, None)
            else:
                cls._in_flight[stage] = work
                cls._counts.setdefault(stage, [0, 0])
        cls._report_if_due()

    @classmethod
    def _report_if_due(cls) -> None:
        with cls._lock:
            now = time.monotonic()
            if now - cls._last_report < PROGRESS_EVERY_SEC:
                return
            cls._last_report = now
            line = "  ".join(cls._stage_text(s, c) for s, c in sorted(cls._counts.items()))
        LOG.info("progress  %s", line)

    @classmethod
    def _stage_text(cls, stage: str, counts: list[int]) -> str:
        text = f"{stage}: {counts[0]} ok, {counts[1]} failed"
        work = cls._in_flight.get(stage)
        if work:
            text += f", {work.count} in flight (oldest {work.oldest_sec:.0f} s: {work.oldest})"
        return text
