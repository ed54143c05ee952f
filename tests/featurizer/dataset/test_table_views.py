"""The views over stored tables: every pipeline's dead letters together, the training view; the storage
layer serves stored tables only, and imports nothing that reads through it."""
import subprocess
import sys

import numpy as np
import pytest

from featurizer.dataset import table_store, table_views, tables
from tests.rows import EXTRACTOR, dead_letter_row, feature_rows, label_rows, write_table


def _dead(pipeline: str, i: int) -> dict:
    return {**dead_letter_row(i), "pipeline": pipeline}


def test_the_dead_letter_view_is_every_pipelines_dead_letters(tmp_path):
    root = str(tmp_path)
    write_table(root, tables.DEADLETTERS["scrape"], [_dead("scrape", 1), _dead("scrape", 2)])
    write_table(root, tables.DEADLETTERS["featurize"], [_dead("featurize", 3)])  # align has no table yet
    rows = table_views.read_view_rows(root, tables.DEADLETTER)
    assert sorted((r["pipeline"], r["record_key"]) for r in rows) == [
        ("featurize", "k003"), ("scrape", "k001"), ("scrape", "k002")]
    keys = table_views.read_view_table(root, tables.DEADLETTER, columns=["record_key"])
    assert keys.column_names == ["record_key"] and sorted(keys.column("record_key").to_pylist()) == [
        "k001", "k002", "k003"]


def test_the_segments_view_joins_labels_with_features_in_batches(tmp_path):
    root = str(tmp_path)
    write_table(root, tables.FEATURES, feature_rows(1, 3) + feature_rows(2, 4, without_snippets=(2,)))
    write_table(root, tables.LABELS, label_rows(1, 3) + label_rows(2, 4))
    batches = list(table_views.iter_view_batches(root, tables.SEGMENTS, batch_rows=2))
    assert max(b.num_rows for b in batches) == 2 and sum(b.num_rows for b in batches) == 6
    view = table_views.read_view_table(root, tables.SEGMENTS)
    assert view.schema.equals(tables.SEGMENTS.schema)
    keys = list(zip(view.column("video_id").to_pylist(), view.column("segment_index").to_pylist()))
    assert sorted(keys) == [("v1", 0), ("v1", 1), ("v1", 2), ("v2", 0), ("v2", 1), ("v2", 3)]  # v2's 2: no snippet
    features = tables.fixed_size_matrix(view.column("features").combine_chunks())
    assert np.array_equal(features[:, 0], [100 * int(v[1:]) + i for v, i in keys])
    assert set(view.column("feature_extractor").to_pylist()) == {EXTRACTOR}
    labels = table_views.read_view_table(root, tables.SEGMENTS, columns=["segment_index", "label"])
    assert labels.column_names == ["segment_index", "label"] and labels.num_rows == 6


def test_the_segments_view_of_a_named_feature_set(tmp_path):
    root = str(tmp_path)
    write_table(root, tables.FEATURES, feature_rows(1, 3) + feature_rows(2, 2, extractor="other"))
    write_table(root, tables.LABELS, label_rows(1, 3) + label_rows(2, 2))
    with pytest.raises(table_store.TableError, match="several feature sets"):
        table_views.read_view_table(root, tables.SEGMENTS)
    other = table_views.iter_view_batches(root, tables.SEGMENTS, feature_extractor="other")
    assert [r["video_id"] for b in other for r in b.to_pylist()] == ["v2", "v2"]


def test_no_features_yet_is_an_empty_segments_view(tmp_path):
    write_table(str(tmp_path), tables.LABELS, label_rows(1, 3))
    assert table_views.read_view_table(str(tmp_path), tables.SEGMENTS).num_rows == 0


def test_stored_tables_read_through_the_views_as_table_store_reads_them(tmp_path):
    spec = tables.DEADLETTERS["align"]
    write_table(str(tmp_path), spec, [dead_letter_row(1), dead_letter_row(2)])
    write_table(str(tmp_path), spec, [dead_letter_row(3)])
    assert table_views.read_view_rows(str(tmp_path), spec) == table_store.read_rows(str(tmp_path), spec)
    assert table_views.read_view_table(str(tmp_path), spec, version=0).equals(
        table_store.read_table(str(tmp_path), spec, version=0))


def test_views_have_no_versions_and_are_not_stored(tmp_path):
    for view in tables.VIEWS.values():
        with pytest.raises(table_store.TableError, match="no version 0"):
            table_views.read_view_table(str(tmp_path), view, version=0)
        with pytest.raises(table_store.TableError, match="a view, not a stored table"):
            table_store.read_table(str(tmp_path), view)


def test_the_storage_layer_imports_no_view():
    """table_store sits below the views: importing it loads neither them nor the training view."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, featurizer.dataset.table_store, featurizer.dataset.table_writes; "
                               "print(sorted(m for m in sys.modules if m.startswith('featurizer')))"],
        capture_output=True, text=True, check=True).stdout
    for module in ("table_views", "training_view", "feature_sets"):
        assert f"featurizer.dataset.{module}" not in loaded
    assert "featurizer.dataset.table_store" in loaded
