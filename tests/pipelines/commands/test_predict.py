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
