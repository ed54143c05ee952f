"""The progress display of a run of several stages: a numbered line as each starts and ends, and their times.

    clock = StageClock(["scrape", "align"])
    with clock.stage("scrape"):
        ...                      # [1/2] scrape ...   then   [1/2] scrape done in 38 s
    clock.summary()              # "scrape 38 s, align 12 s; total 50 s"

The stages' own progress lines (records done, failed) come between its two lines.
"""
from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable
from typing import TextIO


def format_seconds(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s"


class StageClock:
    """Times named stages run in a known order; prints their start and end lines to `out`."""

    def __init__(self, names: Iterable[str], out: TextIO | None = None) -> None:
        self._names = list(names)
        self._out = out
        self.seconds: dict[str, float] = {}

    def _print(self, line: str) -> None:
        print(line, file=self._out or sys.stderr, flush=True)

    @contextlib.contextmanager
    def stage(self, name: str):
        if name not in self._names:
            raise ValueError(f"stage {name!r} is not one of {self._names}")
        label = f"[{self._names.index(name) + 1}/{len(self._names)}] {name}"
        self._print(f"\n{label} ...")
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self._print(f"{label} failed after {format_seconds(time.monotonic() - started)}")
            raise
        self.seconds[name] = time.monotonic() - started
        self._print(f"{label} done in {format_seconds(self.seconds[name])}")

    def summary(self) -> str:
        """Each finished stage's time, in order, and the total."""
        times = ", ".join(f"{name} {format_seconds(self.seconds[name])}" for name in self._names
                          if name in self.seconds)
        return f"{times}; total {format_seconds(sum(self.seconds.values()))}"
