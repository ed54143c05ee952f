"""ConcurrentMap: blocking work (HTTP, downloads) on a bounded thread pool inside each DoFn instance.

Beam parallelises across workers and bundles; network-bound steps also need many
requests in flight inside one worker. Elements are batched, each batch runs on the
DoFn instance's pool, and failures go to a dead-letter output through Beam's
`with_exception_handling`, so every element ends up either as output or as a dead letter.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipelines.deadletters import Failed, ToDeadLetterRows

LOG = logging.getLogger("gifrank")
PROGRESS_EVERY_SEC = 2.0


class Progress:
    """Process-wide progress lines per stage, at most one every PROGRESS_EVERY_SEC."""

    _lock = threading.Lock()
    _counts: dict[str, list[int]] = {}
    _last_report = 0.0

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


class _ApplyConcurrently(beam.DoFn):
    """Runs `worker(element, *side_inputs)` for a batch of elements on this instance's pool."""

    def __init__(self, worker, concurrency: int, namespace: str, stage: str,
                 describe: Callable[[Any], list[dict]], measure: Callable[[Any], dict] | None):
        self._worker = worker
        self._concurrency = concurrency
        self._namespace = namespace
        self._stage = stage
        self._describe = describe
        self._measure = measure
        self._ok = Metrics.counter(namespace, f"{stage}_ok")
        self._failed = Metrics.counter(namespace, f"{stage}_failed")

    def setup(self):
        if hasattr(self._worker, "setup"):
            self._worker.setup()
        self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix=self._stage)

    def teardown(self):
        self._pool.shutdown(wait=True)
        if hasattr(self._worker, "teardown"):
            self._worker.teardown()

    def _run_one(self, element, side_values) -> list:
        try:
            return list(self._worker(element, *side_values))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a dead letter with its reason
            return [Failed(tuple(self._describe(element)), exc)]

    def process(self, batch: list, *side_values) -> Iterable:
        results = self._pool.map(lambda e: self._run_one(e, side_values), batch)
        ok = failed = 0
        for outputs in results:
            is_failed = any(isinstance(o, Failed) for o in outputs)
            failed += is_failed
            ok += not is_failed
            if self._measure:
                # Counted here, not in the pool's threads: Beam metrics are bound to this thread.
                for output in outputs:
                    if not isinstance(output, Failed):
                        for name, value in self._measure(output).items():
                            Metrics.counter(self._namespace, name).inc(value)
            yield from outputs
        self._ok.inc(ok)
        self._failed.inc(failed)
        Progress.record(self._stage, ok, failed)


def _raise_failed(item):
    """Route a Failed to the dead letters: with_exception_handling catches what this raises."""
    if isinstance(item, Failed):
        raise item.error
    yield item


class ConcurrentMap(beam.PTransform):
    """`worker(element, *side_inputs) -> iterable of outputs`, `concurrency` at a time per DoFn instance.

    `worker` may define setup()/teardown() for per-instance resources (an HTTP
    client). Returns (outputs, deadletter_rows). `describe(element)` lists the records
    a failing element stands for ([{"url", "gif_id"}]), one dead letter each; a worker
    can also yield `Failed` itself, e.g. to fail some records of an element and keep
    others. `measure(output)` gives counter increments ({"bytes": n}) per output.
    """

    def __init__(self, worker, *, pipeline: str, stage: str, concurrency: int = 16,
                 batch_size: int | None = None, describe: Callable[[Any], list[dict]] | None = None,
                 measure: Callable[[Any], dict] | None = None, side_inputs: tuple = ()):
        super().__init__()
        self._worker = worker
        self._pipeline = pipeline
        self._stage = stage
        self._concurrency = concurrency
        # Two batches' worth keeps the pool busy while the slowest element of a batch finishes.
        self._batch_size = batch_size or 2 * concurrency
        self._describe = describe or (lambda element: [{"url": str(element), "gif_id": None}])
        self._measure = measure
        self._side_inputs = side_inputs

    def expand(self, pcoll):
        applied = (
            pcoll
            | "Batch" >> beam.BatchElements(min_batch_size=self._batch_size, max_batch_size=self._batch_size)
            | "Apply" >> beam.ParDo(
                _ApplyConcurrently(self._worker, self._concurrency, f"gifrank.{self._pipeline}",
                                   self._stage, self._describe, self._measure),
                *self._side_inputs)
        )
        good, bad = applied | "SplitFailed" >> beam.FlatMap(_raise_failed).with_exception_handling()
        return good, bad | "DeadLetters" >> ToDeadLetterRows(self._pipeline, self._stage)
