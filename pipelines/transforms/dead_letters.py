"""Dead letters in pipelines: the dead-letter output of `with_exception_handling` as deadletter rows."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from featurizer.dataset.dead_letter_rows import error_kind, rows_for
from featurizer.dataset.tables import deadletter_spec


class ToDeadLetterRows(beam.PTransform):
    """The dead-letter output of `with_exception_handling` over `Failed` elements (ApplyWorker's)
    as deadletter rows, one per subject, counted as failed_<stage>_<kind>."""

    def __init__(self, pipeline: str, stage: str):
        super().__init__()
        self._pipeline = pipeline
        self._stage = stage

    def expand(self, bad):
        return bad | beam.FlatMap(self._rows)

    def _rows(self, bad_element: tuple[Any, tuple]) -> Iterable[dict]:
        failed, _error_info = bad_element
        kind, message = error_kind(failed.error), str(failed.error) or repr(failed.error)
        rows = rows_for(self._pipeline, self._stage, failed.subjects, kind, message)
        Metrics.counter(f"gifrank.{self._pipeline}", f"failed_{self._stage}_{kind}").inc(len(rows))
        return rows


class WriteDeadLetters(beam.PTransform):
    """A run's dead letters into its pipeline's own table -> file actions for CommitTables.

    Input: {"dead": new dead-letter rows, "settled": values naming the records this run
    decided (processed again, successfully or not)}. An earlier dead letter whose
    record_key or url is one of them is dropped; the others stay. A dead letter equal to
    an earlier one but for its time keeps the earlier row, so a rerun with nothing new
    leaves the table as it was.
    """

    SETTLE_FIELDS = ("record_key", "url")

    def __init__(self, root_uri: str, pipeline: str, snapshot):
        super().__init__()
        self._root_uri = root_uri
        self._pipeline = pipeline
        self._snapshot = snapshot

    def expand(self, pcolls):
        from pipelines.transforms.table_io import WriteTable, settled_values

        dead = pcolls["dead"]
        settled = ((pcolls["settled"], settled_values(dead, self.SETTLE_FIELDS, "SettledByDeadLetters"))
                   | "AllSettled" >> beam.Flatten())
        return {"rows": dead, "settled": settled} | WriteTable(
            self._root_uri, deadletter_spec(self._pipeline), self._snapshot, settle_fields=self.SETTLE_FIELDS)
