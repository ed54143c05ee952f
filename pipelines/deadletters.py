"""Dead letters in pipelines: the dead-letter output of `with_exception_handling` as deadletter rows."""
from __future__ import annotations

from typing import Any, Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipelines.failures import Failed, error_kind, rows_for, subject


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


class StillCurrentDeadLetters(beam.PTransform):
    """Earlier dead letters that this run did not settle.

    Input: (existing deadletter rows, rows this run settled: outputs and new dead
    letters). An earlier dead letter of `pipeline` is out of date when its record_key
    equals any of `settled_fields` of a settled row: the record has been processed
    again, successfully or with a new reason. Other pipelines' dead letters are kept.
    """

    def __init__(self, pipeline: str, settled_fields: tuple[str, ...]):
        super().__init__()
        self._pipeline = pipeline
        self._settled_fields = settled_fields

    def expand(self, pcolls):
        existing, settled = pcolls
        settled_keys = settled | "SettledKeys" >> beam.FlatMap(self._keys)
        return (
            {"old": existing | "KeyOld" >> beam.Map(lambda r: (r["record_key"], r)), "settled": settled_keys}
            | "JoinSettled" >> beam.CoGroupByKey()
            | "DropSettled" >> beam.FlatMap(self._still_current))

    def _keys(self, row: dict):
        for name in self._settled_fields:
            if row.get(name):
                yield row[name], None

    def _still_current(self, keyed):
        _key, grouped = keyed
        settled = any(True for _ in grouped["settled"])
        return [r for r in grouped["old"] if not (settled and r["pipeline"] == self._pipeline)]
