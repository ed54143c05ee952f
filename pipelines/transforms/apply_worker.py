"""ApplyWorker: run a Beam-free unit of work over a PCollection, failures to the dead letters.

Stages keep their logic in small worker classes (`worker(element, *side) -> outputs`,
with optional setup()/teardown()) that also run in a notebook; this transform is the
thin Beam wrapper. Beam parallelises across workers and bundles; network-bound steps
also need many requests in flight inside one worker, so each DoFn instance runs its
worker on a bounded thread pool (`concurrency`). Failures go to a dead-letter output
through Beam's `with_exception_handling`: every element ends as output or dead letter.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from featurizer.dataset.dead_letter_rows import Failed, is_bad_input
from featurizer.dataset.value_bounds import shown
from pipelines.transforms.dead_letters import ToDeadLetterRows
from pipelines.transforms.progress import PROGRESS_EVERY_SEC, InFlight, Progress

LOG = logging.getLogger("gifrank")


class _ApplyConcurrently(beam.DoFn):
    """Runs `worker(element, *side_inputs)` on this instance's pool, many elements in flight.

    Elements are submitted as they arrive and results are emitted as they complete,
    so a fused downstream step starts on the first results while later elements are
    still in flight (no batch barriers). Outputs are in the global window: this is a
    batch pipeline, and results are emitted for elements other than the current one.
    """

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

    def start_bundle(self) -> None:
        self._in_flight: dict[Future, tuple[float, Any]] = {}  # future -> (when submitted, element)

    def _run_one(self, element, side_values) -> list:
        try:
            return list(self._worker(element, *side_values))
        except Exception as exc:
            if not is_bad_input(exc):
                raise  # re-raised in the bundle's thread by _emit: Beam retries the bundle
            return [Failed(tuple(self._describe(element)), exc)]

    def process(self, element, *side_values) -> Iterable:
        self._in_flight[self._pool.submit(self._run_one, element, side_values)] = (time.monotonic(), element)
        # Keep one queued element per thread so the pool never idles between submissions.
        if len(self._in_flight) >= 2 * self._concurrency:
            yield from self._emit(self._wait())
        else:
            yield from self._emit([f for f in self._in_flight if f.done()])

    def finish_bundle(self):
        while self._in_flight:
            for output in self._emit(self._wait()):
                yield GlobalWindows.windowed_value_at_end_of_window(output)

    def _wait(self) -> set[Future]:
        """At least one finished element; while none finishes, a progress line says what is in flight."""
        while True:
            done, _pending = wait(self._in_flight, timeout=PROGRESS_EVERY_SEC, return_when=FIRST_COMPLETED)
            if done:
                return done
            self._report_in_flight()

    def _report_in_flight(self) -> None:
        if not self._in_flight:
            Progress.in_flight(self._stage, None)
            return
        started, element = min(self._in_flight.values(), key=lambda started_element: started_element[0])
        what = (self._describe(element) or [{}])[0]
        Progress.in_flight(self._stage, InFlight(len(self._in_flight), time.monotonic() - started,
                                                 shown(str(what.get("url") or what.get("gif_id") or element), 100)))

    def _emit(self, done: Iterable[Future]) -> Iterable:
        ok = failed = 0
        for future in done:
            del self._in_flight[future]
            outputs = future.result()
            is_failed = any(isinstance(o, Failed) for o in outputs)
            failed += is_failed
            ok += not is_failed
            for output in outputs:
                if self._measure and not isinstance(output, Failed):
                    # Counted here, not in the pool's threads: Beam metrics are bound to this thread.
                    for name, value in self._measure(output).items():
                        Metrics.counter(self._namespace, name).inc(value)
                yield output
        if ok or failed:
            self._ok.inc(ok)
            self._failed.inc(failed)
            Progress.record(self._stage, ok, failed)
            self._report_in_flight()


def _raise_failed(item):
    """Route a Failed to the dead letters: with_exception_handling catches what this raises."""
    if isinstance(item, Failed):
        raise item.error
    yield item


class ApplyWorker(beam.PTransform):
    """`worker(element, *side_inputs) -> iterable of outputs`, `concurrency` at a time per DoFn instance.

    Use concurrency 1 for CPU-bound work (decoding, hashing), more for blocking I/O.

    `worker` may define setup()/teardown() for per-instance resources (an HTTP
    client). Returns (outputs, deadletter_rows). `describe(element)` lists the records
    a failing element stands for ([{"url", "gif_id"}]), one dead letter each; a worker
    can also yield `Failed` itself, e.g. to fail some records of an element and keep
    others. `measure(output)` gives counter increments ({"bytes": n}) per output.
    """

    def __init__(self, worker, *, pipeline: str, stage: str, concurrency: int = 1,
                 describe: Callable[[Any], list[dict]] | None = None,
                 measure: Callable[[Any], dict] | None = None, side_inputs: tuple = ()):
        super().__init__()
        self._worker = worker
        self._pipeline = pipeline
        self._stage = stage
        self._concurrency = concurrency
        self._describe = describe or (lambda element: [{"url": str(element), "gif_id": None}])
        self._measure = measure
        self._side_inputs = side_inputs

    def expand(self, pcoll):
        if not isinstance(pcoll.windowing.windowfn, GlobalWindows):
            raise ValueError(f"{self._stage}: ApplyWorker runs in the global window only")
        applied = (
            pcoll
            | "Apply" >> beam.ParDo(
                _ApplyConcurrently(self._worker, self._concurrency, f"gifrank.{self._pipeline}",
                                   self._stage, self._describe, self._measure),
                *self._side_inputs)
        )
        good, bad = applied | "SplitFailed" >> beam.FlatMap(_raise_failed).with_exception_handling()
        return good, bad | "DeadLetters" >> ToDeadLetterRows(self._pipeline, self._stage)
