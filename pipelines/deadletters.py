"""Dead letters: records a stage could not process, with the reason, as rows of the deadletter table."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from featurizer.tables import DEADLETTER

MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class Failed:
    """A record that failed: `subjects` are the records it stands for (a video failing fails all its GIFs)."""

    subjects: tuple[dict, ...]
    error: BaseException


def subject(url: str | None = None, gif_id: str | None = None) -> dict:
    return {"url": url, "gif_id": gif_id}


def error_kind(error: BaseException) -> str:
    """Our errors carry a stable `kind`; anything else is named by its class."""
    return getattr(error, "kind", None) or type(error).__name__


def rows_for(pipeline: str, stage: str, subjects: Iterable[dict], kind: str, message: str,
             now: dt.datetime | None = None) -> list[dict]:
    now = now or dt.datetime.now(dt.timezone.utc)
    return [DEADLETTER.conform({
        "pipeline": pipeline, "stage": stage,
        "record_key": s.get("gif_id") or s.get("url") or "",
        "url": s.get("url"), "gif_id": s.get("gif_id"),
        "error_kind": kind, "message": message[:MAX_MESSAGE_CHARS], "failed_at": now,
    }) for s in subjects]


class ToDeadLetterRows(beam.PTransform):
    """The dead-letter output of `with_exception_handling` (element, error info) as deadletter rows.

    A `Failed` element keeps its subjects and typed error; any other failing element
    becomes one row described by `describe(element)`.
    """

    def __init__(self, pipeline: str, stage: str, describe=None):
        super().__init__()
        self._pipeline = pipeline
        self._stage = stage
        self._describe = describe or (lambda element: subject(url=str(element)))

    def expand(self, bad):
        return bad | beam.FlatMap(self._rows)

    def _rows(self, bad_element: tuple[Any, tuple]) -> Iterable[dict]:
        element, (exc_type, exc_repr, _traceback) = bad_element
        if isinstance(element, Failed):
            subjects = element.subjects
            kind, message = error_kind(element.error), str(element.error) or repr(element.error)
        else:
            subjects = (self._describe(element),)
            kind, message = getattr(exc_type, "kind", None) or exc_type.__name__, exc_repr
        rows = rows_for(self._pipeline, self._stage, subjects, kind, message)
        Metrics.counter(f"gifrank.{self._pipeline}", f"failed_{self._stage}_{kind}").inc(len(rows))
        return rows
