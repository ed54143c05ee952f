"""gifrank predict on a demo-world video: top GIFs inside their segments, looping, with their JSON."""
import json

import pytest
from PIL import Image

from pipelines.cli import main
from tests.eval_dataset import export_ranker

pytestmark = [pytest.mark.timeout(600), pytest.mark.filterwarnings("ignore:.*random")]
FAST_C3D = ["--fps", "5", "--snippet-stride", "16", "--no-mirror"]


def test_predict_writes_the_top_segments_as_looping_gifs(tiny_world, tmp_path):
    video = tiny_world.video_path(tiny_world.videos[0]["video_id"])
    model = export_ranker(tmp_path / "job")
    assert main(["predict", str(video), "--model", model, "--top", "2", "--out", str(tmp_path / "out"),
                 *FAST_C3D]) == 0
    folder = tmp_path / "out" / video.stem
    predictions = json.loads((folder / "predictions.json").read_text())
    gifs = predictions["gifs"]
    assert [g["rank"] for g in gifs] == [1, 2] and gifs[0]["score"] >= gifs[1]["score"]
    for g in gifs:
        # inside its segment (so inside one shot), and looping no worse than the segment's own ends
        assert g["segment_start_sec"] - 1e-6 <= g["start_sec"] < g["end_sec"] <= g["segment_end_sec"] + 0.05
        assert g["loop_jump"] <= g["naive_loop_jump"]
        with Image.open(folder / g["gif"]) as gif:
            assert gif.size[0] <= 480 and gif.info["loop"] == 0 and gif.n_frames >= 2
            assert 1000 / 15 - 1 <= gif.info["duration"] <= 1000 / 10 + 1


def test_predict_errors_are_clear(tmp_path, capsys):
    model = export_ranker(tmp_path / "job")
    assert main(["predict", str(tmp_path / "missing.mp4"), "--model", model]) == 2
    assert "missing.mp4: no such file" in capsys.readouterr().err
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    assert main(["predict", str(broken), "--model", model, "--out", str(tmp_path / "out"), *FAST_C3D]) == 2
    assert "broken.mp4" in capsys.readouterr().err
    assert not (tmp_path / "out" / "broken").exists()  # nothing half-written


def test_predict_over_a_datasets_catalogue(tiny_world, tmp_path):
    """Videos with features in a dataset: each one's GIFs and predictions; a video whose blob is
    missing is a failure row with its reason, not a lost record."""
    import numpy as np

    from featurizer.dataset import tables
    from featurizer.dataset.blobs import BlobStore
    from featurizer.media.video import probe_video
    from tests.rows import write_table

    root = tmp_path / "data"
    video = tiny_world.video_path(tiny_world.videos[0]["video_id"])
    sha, _ = BlobStore(str(root)).put_bytes(video.read_bytes())
    info = probe_video(str(video))
    rng = np.random.default_rng(0)
    rows = []
    for owner in (sha, "f" * 64):  # the second has features but no blob
        for i in range(3):
            start, end = i * 20, i * 20 + 20
            rows.append({"video_sha256": owner, "segmenter": "s", "feature_extractor": "e", "segment_index": i,
                         "start_frame": start, "end_frame": end, "start_sec": start / info.fps,
                         "end_sec": end / info.fps, "fps": info.fps, "video_num_frames": 60, "snippets": 1,
                         "features": rng.uniform(0, 1, 4096).astype(np.float32)})
    write_table(root, tables.FEATURES, rows)
    model = export_ranker(tmp_path / "job")
    out = tmp_path / "gifs"
    assert main(["predict", "--dataset", str(root), "--model", model, "--top", "2", "--out", str(out)]) == 0
    [predicted] = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    [failed] = [json.loads(line) for line in (out / "failed.jsonl").read_text().splitlines()]
    assert predicted["video_sha256"] == sha and [g["rank"] for g in predicted["gifs"]] == [1, 2]
    assert failed["video_sha256"] == "f" * 64 and "f" * 64 in failed["error"]
    assert json.loads((out / sha / "predictions.json").read_text())["gifs"] == predicted["gifs"]
    for g in predicted["gifs"]:
        with Image.open(out / sha / g["gif"]) as gif:
            assert gif.info["loop"] == 0
