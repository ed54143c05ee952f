"""Every table a reader can name: the stored tables (table_store) and the views over them.

    for batch in iter_view_batches("./data", tables.SEGMENTS):      # the training view
    dead = read_view_rows("./data", tables.DEADLETTER)             # every pipeline's dead letters
    gifs = read_view_table("./data", tables.GIFS)                  # a stored table, as table_store reads it

The views (tables.VIEWS) are not stored and have no versions of their own:
- deadletter: the rows of every pipeline's dead-letter table, one table after another;
- segments: the training view (training_view.training_batches), of one feature set.
table_store serves stored tables only; this module sits above it (and above the training
view), so the storage layer imports nothing that reads through it.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from featurizer.dataset import table_store
from featurizer.dataset.storage import DatasetRoot
from featurizer.dataset.tables import DEADLETTER, DEADLETTERS, SEGMENTS, VIEWS, TableSpec, batch_to_rows
from featurizer.dataset.training_view import training_batches


def iter_view_batches(root: DatasetRoot | str, spec: TableSpec, columns: Sequence[str] | None = None,
                      version: int | None = None, batch_rows: int = table_store.BATCH_ROWS, *,
                      segmenter: str | None = None,
                      feature_extractor: str | None = None) -> Iterator[pa.RecordBatch]:
    """A table's or a view's rows as record batches of at most `batch_rows` rows, streamed; a
    stored table at `version` (default: the latest). `segmenter` and `feature_extractor` choose
    the segments view's feature set (needed when the features table holds several)."""
    if spec.name in VIEWS and version is not None:
        raise table_store.TableError(f"{spec.name} is a view over several tables: it has no version {version}")
    if spec.name == DEADLETTER.name:
        for dead in DEADLETTERS.values():
            yield from table_store.iter_batches(root, dead, columns, None, batch_rows)
    elif spec.name == SEGMENTS.name:
        for batch in training_batches(root, feature_extractor, segmenter):
            batch = batch.select(list(columns)) if columns else batch
            for start in range(0, batch.num_rows, batch_rows):
                yield batch.slice(start, batch_rows)
    else:
        yield from table_store.iter_batches(root, spec, columns, version, batch_rows)


def read_view_table(root: DatasetRoot | str, spec: TableSpec, columns: Sequence[str] | None = None,
                    version: int | None = None) -> pa.Table:
    """A whole table or view, or some of its columns: for small ones and tests (stream big ones)."""
    schema = spec.schema if not columns else pa.schema([spec.schema.field(c) for c in columns])
    return pa.Table.from_batches(list(iter_view_batches(root, spec, columns, version)), schema=schema)


def read_view_rows(root: DatasetRoot | str, spec: TableSpec) -> list[dict[str, Any]]:
    """A whole table's or view's rows as dicts (tables.batch_to_rows)."""
    return batch_to_rows(read_view_table(root, spec))
