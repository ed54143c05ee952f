"""The align pipeline on a dataset: one decode per video, alignments table, dead letters with reasons."""
import pytest

from featurizer.dataset import table_store, table_views, tables
from featurizer.dataset.blobs import BlobStore
from pipelines import align
from tests.rows import gif_rows_from_world, write_table

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def dataset(tiny_world, tmp_path):
    rows = gif_rows_from_world(tiny_world, BlobStore(str(tmp_path)))
    write_table(tmp_path, tables.GIFS, rows)
    return tmp_path, rows


def _align(root, *extra):
    return align.run(["--dataset", str(root), *extra]).counters


def test_every_gif_is_aligned_near_its_truth(tiny_world, dataset):
    root, rows = dataset
    counters = _align(root)
    alignments = {a["gif_id"]: a for a in table_store.read_rows(str(root), tables.ALIGNMENTS)}
    dead = table_views.read_view_rows(str(root), tables.DEADLETTER)
    assert len(alignments) + len(dead) == len(rows)  # nothing lost
    assert dead == []
    assert counters["align_ok"] == len(tiny_world.videos)  # one element (one decode) per video
    for gif in tiny_world.gifs:
        found = alignments[f"demo:{gif['gif_id']}"]
        assert found["video_id"] == gif["video_id"]
        assert abs(found["start_sec"] - gif["truth"]["start_sec"]) <= 0.1
        assert abs(found["end_sec"] - gif["truth"]["end_sec"]) <= 0.1
        assert abs(found["speed"] - gif["truth"]["speed"]) <= 0.1
        assert 0.0 <= found["confidence"] <= 1.0
        assert found["direction"] == gif["truth"].get("direction", "forward")


def test_bad_media_and_foreign_gifs_become_dead_letters(tiny_world, dataset):
    root, rows = dataset
    blobs = BlobStore(str(root))
    first, second, third = rows[0], rows[1], rows[2]
    corrupt_gif = {**first, "gif_sha256": blobs.put_bytes(b"GIF89a" + b"\x00" * 40)[0]}
    other_video = next(r for r in rows if r["video_sha256"] != second["video_sha256"])
    foreign = {**second, "video_sha256": other_video["video_sha256"], "video_id": other_video["video_id"]}
    broken_video_sha = blobs.put_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 4000)[0]
    broken_video = {**third, "video_sha256": broken_video_sha, "video_id": "broken"}
    write_table(root, tables.GIFS, [corrupt_gif, foreign, broken_video, *rows[3:]])

    _align(root)
    dead = {d["gif_id"]: d for d in table_views.read_view_rows(str(root), tables.DEADLETTER)}
    assert {k: (d["stage"], d["error_kind"]) for k, d in dead.items()} == {
        first["gif_id"]: ("align", "unreadable"),
        second["gif_id"]: ("align", "unaligned"),
        third["gif_id"]: ("align", "unreadable"),
    }
    aligned = table_store.read_rows(str(root), tables.ALIGNMENTS)
    assert len(aligned) + len(dead) == len(rows)


def test_rerun_skips_aligned_gifs_unless_asked(dataset):
    root, rows = dataset
    _align(root)
    before = table_store.read_rows(str(root), tables.ALIGNMENTS)
    counters = _align(root)
    assert counters.get("gifs_aligned", 0) == 0
    assert table_store.read_rows(str(root), tables.ALIGNMENTS) == before
    counters = _align(root, "--realign")
    assert counters["gifs_aligned"] == len(rows)
    assert table_store.read_rows(str(root), tables.ALIGNMENTS) == before  # deterministic
