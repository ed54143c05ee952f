"""Media caps per kind of media: a stored blob over its cap is a record's failure (too_large) in every
stage that reads it, refused by its size before a byte is read; the other records go on.

Over-cap blobs are sparse files put into the blob store directly (as an older scrape, or a
GIF served gzip-encoded that inflated past the cap, would have left them): their size is
real, their bytes take no disk and are never read.
"""
import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from featurizer.dataset import table_store, table_views, tables
from featurizer.dataset.blobs import TOO_LARGE, BlobStore, BlobTooLarge
from featurizer.dataset.dead_letter_rows import is_bad_input
from featurizer.media.gif import MAX_GIF_BYTES
from featurizer.media.video import MAX_VIDEO_BYTES
from pipelines import align
from tests.rows import gif_rows_from_world, write_table

pytestmark = pytest.mark.timeout(300)
INFLATED_GIF_BYTES = 315_443_610  # the gzip-inflated GIF


def over_cap_blob(blobs: BlobStore, size: int, name: str) -> str:
    """A sparse blob of `size` bytes under a made-up name (nothing reads it to check)."""
    sha = hashlib.sha256(name.encode()).hexdigest()
    path = Path(blobs.path_of(sha))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as blob:
        blob.truncate(size)
    return sha


def test_a_blob_over_its_cap_is_refused_by_its_size(tmp_path):
    blobs = BlobStore(str(tmp_path))
    sha = over_cap_blob(blobs, INFLATED_GIF_BYTES, "inflated")
    with pytest.raises(BlobTooLarge) as refused:
        blobs.read_bytes(sha, MAX_GIF_BYTES, "GIF")
    error = refused.value
    assert str(error) == f"GIF blob {sha} is 315,443,610 bytes, more than the 64 MiB cap for GIFs"
    assert error.kind == TOO_LARGE and is_bad_input(error)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)  # crosses Beam's process boundaries
    with pytest.raises(BlobTooLarge, match="more than the 64 MiB cap for GIFs"):
        with blobs.local_path(sha, MAX_GIF_BYTES, "GIF"):
            pytest.fail("a path to an over-cap blob was handed out")
    with blobs.local_path(sha, INFLATED_GIF_BYTES, "GIF") as path:  # at the cap: fine
        assert Path(path).stat().st_size == INFLATED_GIF_BYTES
    with pytest.raises(FileNotFoundError, match="no blob"):  # a missing blob is storage's fault
        blobs.read_bytes("0" * 64, MAX_GIF_BYTES, "GIF")


def test_align_dataset_dead_letters_over_cap_gifs_and_videos_and_aligns_the_rest(tiny_world, tmp_path):
    blobs = BlobStore(str(tmp_path))
    rows = gif_rows_from_world(tiny_world, blobs)
    huge_gif = over_cap_blob(blobs, INFLATED_GIF_BYTES, "inflated gif")
    huge_video = over_cap_blob(blobs, MAX_VIDEO_BYTES + 1, "huge video")
    inflated = {**rows[0], "gif_sha256": huge_gif}
    last_video = rows[-1]["video_id"]
    of_huge_video = [{**r, "video_sha256": huge_video} for r in rows if r["video_id"] == last_video]
    good = [r for r in rows[1:] if r["video_id"] != last_video]
    write_table(tmp_path, tables.GIFS, [inflated, *of_huge_video, *good])

    align.run(["--dataset", str(tmp_path)])
    aligned = {a["gif_id"] for a in table_store.read_rows(str(tmp_path), tables.ALIGNMENTS)}
    dead = {d["gif_id"]: d for d in table_views.read_view_rows(str(tmp_path), tables.DEADLETTER)}
    assert aligned == {r["gif_id"] for r in good}
    assert set(dead) == {inflated["gif_id"], *(r["gif_id"] for r in of_huge_video)}
    assert len(aligned) + len(dead) == len(rows)  # every input accounted for
    assert {d["error_kind"] for d in dead.values()} == {TOO_LARGE}
    assert f"GIF blob {huge_gif} is 315,443,610 bytes, more than the 64 MiB cap" in dead[inflated["gif_id"]]["message"]
    for r in of_huge_video:
        assert "more than the 2 GiB cap for videos" in dead[r["gif_id"]]["message"]


def test_predict_dataset_reports_an_over_cap_video_and_predicts_the_others(tiny_world, tmp_path):
    from featurizer.media.video import probe_video
    from pipelines.cli import main
    from tests.eval_dataset import export_ranker

    root = tmp_path / "data"
    blobs = BlobStore(str(root))
    video = tiny_world.video_path(tiny_world.videos[0]["video_id"])
    good, _ = blobs.put_bytes(video.read_bytes())
    huge = over_cap_blob(blobs, MAX_VIDEO_BYTES + 1, "huge video")
    info = probe_video(str(video))
    rng = np.random.default_rng(0)
    write_table(root, tables.FEATURES, [
        {"video_sha256": sha, "segmenter": "s", "feature_extractor": "e", "segment_index": i,
         "start_frame": 20 * i, "end_frame": 20 * i + 20, "start_sec": 20 * i / info.fps,
         "end_sec": (20 * i + 20) / info.fps, "fps": info.fps, "video_num_frames": 60, "snippets": 1,
         "features": rng.uniform(0, 1, tables.C3D_FEATURES).astype(np.float32)}
        for sha in (good, huge) for i in range(3)])
    out = tmp_path / "gifs"
    assert main(["predict", "--dataset", str(root), "--model", export_ranker(tmp_path / "job"), "--top", "1",
                 "--out", str(out)]) == 0
    predicted = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    failed = [json.loads(line) for line in (out / "failed.jsonl").read_text().splitlines()]
    assert [p["video_sha256"] for p in predicted] == [good] and len(predicted[0]["gifs"]) == 1
    assert [f["video_sha256"] for f in failed] == [huge]
    assert f"video blob {huge} is 2,147,483,649 bytes, more than the 2 GiB cap for videos" in failed[0]["message"]
    assert failed[0]["kind"] == "too_large"
