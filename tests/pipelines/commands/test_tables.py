"""`gifrank tables`: one JSON line per table, exports of any version, and the training view."""
import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from featurizer.dataset import table_store, tables
from pipelines.commands import tables as tables_cli
from tests.rows import EXTRACTOR, SEGMENTER, write_table
from tests.rows import dead_letter_row as dead_row
from tests.rows import feature_rows as _features
from tests.rows import label_rows as _labels


def _tables(root, *argv):
    out = io.StringIO()
    assert tables_cli.main(["--dataset", str(root), *argv], out=out) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture
def root(tmp_path):
    write_table(str(tmp_path), tables.FEATURES, _features(1, 3) + _features(2, 4, without_snippets=(2,)))
    write_table(str(tmp_path), tables.LABELS, _labels(1, 3) + _labels(2, 4))
    return tmp_path


def test_one_json_line_per_table(root):
    lines = {line["table"]: line for line in _tables(root)}
    assert set(lines) == set(tables.STORED_TABLES)
    assert lines["features"]["rows"] == 7 and lines["features"]["files"] == 2 and lines["features"]["version"] == 0
    assert lines["features"]["bytes"] == sum(p.stat().st_size for p in (root / "tables/features").glob("*.parquet"))
    assert lines["gifs"] == {"table": "gifs", "version": None, "rows": 0, "files": 0, "bytes": 0}


def test_export_a_version_as_one_parquet_file(root, tmp_path):
    spec = tables.DEADLETTERS["scrape"]
    write_table(str(root), spec, [dead_row(i) for i in range(5)])
    write_table(str(root), spec, [dead_row(9)])
    [latest] = _tables(root, "--export", spec.name, "--out", str(tmp_path / "now.parquet"))
    [first] = _tables(root, "--export", spec.name, "--out", str(tmp_path / "v0.parquet"), "--version", "0")
    assert (latest["version"], latest["rows"], first["version"], first["rows"]) == (1, 1, 0, 5)
    assert pq.read_table(tmp_path / "v0.parquet").column("record_key").to_pylist() == [f"k{i:03d}" for i in range(5)]


def test_the_training_view_joins_labels_with_features(root, tmp_path):
    [line] = _tables(root, "--export", "segments", "--out", str(tmp_path / "train.parquet"))
    view = pq.read_table(tmp_path / "train.parquet")
    assert view.schema.equals(tables.SEGMENTS.schema)
    keys = list(zip(view.column("video_id").to_pylist(), view.column("segment_index").to_pylist()))
    # video 2's segment 2 has no snippet, so no features: not in the view
    assert sorted(keys) == [("v1", 0), ("v1", 1), ("v1", 2), ("v2", 0), ("v2", 1), ("v2", 3)] and line["rows"] == 6
    features = tables.fixed_size_matrix(view.column("features").combine_chunks())
    expected = [100 * int(v[1:]) + i for v, i in keys]
    assert features.dtype == np.float32 and np.array_equal(features[:, 0], expected)
    assert np.array_equal(features[:, -1], expected)
    assert view.column("label").to_pylist() == [i % 2 for _v, i in keys]
    assert set(view.column("feature_extractor").to_pylist()) == {EXTRACTOR}


def test_several_feature_sets_need_a_choice(root, tmp_path):
    table_store.commit(str(root), tables.FEATURES, 0, [table_store.write_named_file(
        str(root), tables.FEATURES, tables.rows_to_arrow(tables.FEATURES, _features(1, 3, extractor="other")),
        tables.features_file_name(f"{1:064x}", SEGMENTER, "other"))])
    with pytest.raises(table_store.TableError, match="several feature sets"):
        _tables(root, "--export", "segments", "--out", str(tmp_path / "x.parquet"))
    with pytest.raises(table_store.TableError, match="no features of segmenter 'other'"):
        _tables(root, "--export", "segments", "--out", str(tmp_path / "x.parquet"), "--segmenter", "other")
    [line] = _tables(root, "--export", "segments", "--out", str(tmp_path / "x.parquet"), "--feature-extractor", "other")
    assert line["rows"] == 3


def test_bad_arguments_are_clear_errors(root, tmp_path):
    with pytest.raises(ValueError, match="no table 'nope'"):
        tables_cli.main(["--dataset", str(root), "--export", "nope", "--out", str(tmp_path / "x.parquet")])
    with pytest.raises(ValueError, match="needs --out"):
        tables_cli.main(["--dataset", str(root), "--export", "gifs"])
    with pytest.raises(ValueError, match="no --version"):
        tables_cli.main(["--dataset", str(root), "--export", "segments", "--out", "x.parquet", "--version", "1"])
    with pytest.raises(table_store.TableError, match="no version 7"):
        tables_cli.main(["--dataset", str(root), "--export", "features", "--out", str(tmp_path / "f.parquet"),
                         "--version", "7"])


def test_vacuum_deletes_uncommitted_files_and_keeps_recorded_versions(root, tmp_path):
    spec = tables.DEADLETTERS["align"]
    for rows in ([dead_row(1)], [dead_row(2)], [dead_row(3)]):
        write_table(str(root), spec, rows)  # versions 0, 1, 2: each replaced the last one's file
    orphan = table_store.write_file(str(root), spec, tables.rows_to_arrow(spec, [dead_row(9)]),
                                    spec.bucket_file_prefix(0))
    lines = {line["table"]: line for line in _tables(root, "--vacuum", "--retain-hours", "0", "--dry-run")}
    assert lines[spec.name]["deleted_files"] == 3 and (root / "tables" / spec.name / orphan.path).exists()
    lines = {line["table"]: line for line in _tables(root, "--vacuum", "--retain-hours", "0",
                                                     "--keep", f"{spec.name}@1")}
    assert lines[spec.name]["deleted_files"] == 2  # version 0's file and the orphan; version 1's is kept
    assert not (root / "tables" / spec.name / orphan.path).exists()
    assert [r["record_key"] for r in table_store.read_rows(str(root), spec)] == ["k003"]
    assert table_store.read_table(str(root), spec, version=1).column("record_key").to_pylist() == ["k002"]
    assert lines["features"]["deleted_files"] == 0  # nothing to delete: every file is in the latest version
    with pytest.raises(ValueError, match="TABLE@VERSION"):
        tables_cli.main(["--dataset", str(root), "--vacuum", "--keep", "features"])


def _cli(*argv, capsys) -> tuple[int, list[str]]:
    """`gifrank tables ...` as the console script runs it: its exit status and its stderr's lines."""
    from pipelines.cli import main

    capsys.readouterr()
    status = main(["tables", *argv])
    return status, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("argv", [[], ["--export", "gifs", "--out", "OUT"], ["--export", "segments", "--out", "OUT"],
                                  ["--vacuum"]], ids=["list", "export", "export a view", "vacuum"])
def test_a_dataset_that_does_not_exist_is_a_one_line_error(tmp_path, capsys, argv):
    missing = tmp_path / "no_such_dataset"
    out = tmp_path / "exported" / "x.parquet"
    status, err = _cli("--dataset", str(missing), *[str(out) if a == "OUT" else a for a in argv], capsys=capsys)
    assert (status, err) == (2, [f"gifrank tables: error: {missing}: no such dataset (nothing is stored there)"])
    assert not missing.exists() and not out.parent.exists()  # nothing made, not even --out's folder


def test_a_dataset_that_is_a_file_is_an_error(tmp_path, capsys):
    (tmp_path / "data").write_text("not a dataset")
    status, err = _cli("--dataset", str(tmp_path / "data"), capsys=capsys)
    assert (status, err) == (2, [f"gifrank tables: error: {tmp_path / 'data'}: a file, not a dataset folder"])


def test_a_table_no_run_has_committed_exports_empty_in_its_schema(root, tmp_path):
    """The dataset exists; its gifs table does not yet (no scrape has committed rows): listed as version
    null, exported as a file with no rows and the table's columns, as its version null says."""
    assert not table_store.exists(str(root), tables.GIFS.name)
    [line] = _tables(root, "--export", "gifs", "--out", str(tmp_path / "gifs.parquet"))
    assert (line["version"], line["rows"]) == (None, 0)
    exported = pq.read_table(tmp_path / "gifs.parquet")
    assert exported.num_rows == 0 and exported.schema.equals(tables.GIFS.schema)


@pytest.mark.parametrize("kind", ["under a file", "a folder"])
def test_a_bad_out_is_a_one_line_error_before_anything_is_read(root, tmp_path, capsys, kind):
    """--version 7 does not exist: had the table been read, that would be the error."""
    blocker = tmp_path / "exports"
    if kind == "a folder":
        blocker.mkdir()
        out, why = blocker, "a folder, not a file"
    else:
        blocker.write_text("a file")
        out, why = blocker / "features.parquet", f"cannot be written, {blocker} is a file"
    status, err = _cli("--dataset", str(root), "--export", "features", "--out", str(out), "--version", "7",
                       capsys=capsys)
    assert (status, err) == (2, [f"gifrank tables: error: {out}: {why}"])
