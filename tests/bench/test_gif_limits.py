"""bench.gif_limits: its hostile GIFs are the issue's (sizes, structure), and its report comes from the real
command: the bomb refused on its line, the huge canvas decoded."""
import json

from bench import gif_limits
from featurizer.media.gif import MAX_GIF_DECODED_BYTES, inspect_gif


def test_the_big_canvas_fills_the_decoded_cap_in_about_285_kb():
    data = gif_limits.big_canvas_gif()
    info = inspect_gif(data)
    assert (info.width, info.height, info.num_frames) == (4096, 4096, 21)
    assert 21 * 4096 * 4096 * 3 <= MAX_GIF_DECODED_BYTES < 22 * 4096 * 4096 * 3  # the most frames allowed
    assert 250_000 < len(data) < 320_000


def test_the_report_runs_the_real_command_on_each_gif(tmp_path):
    out = tmp_path / "report.json"
    report = gif_limits.main(["--out", str(out)])
    assert json.loads(out.read_text()) == report
    now = report["now"]["align"]
    assert set(now) == {"reference", "big_canvas", "lone_pixel"}
    assert 35e6 < report["gifs"]["lone_pixel"]["bytes"] < 45e6  # the 40 MB bomb
    assert now["lone_pixel"]["exit"] == 1 and now["lone_pixel"]["reason"].startswith("decompression_bomb")
    assert "1x1 canvas" in now["lone_pixel"]["reason"]
    assert now["big_canvas"]["exit"] == 0 and now["big_canvas"]["reason"].startswith("not from this video")
    for run in now.values():
        assert run["peak_rss_mb"] > 0 and run["cpu_sec"] > 0
    assert report["now"]["read_gif_big_canvas"]["frames_mb"] == 21 * 48  # 21 RGB frames of 4096x4096
    assert report["targets"]["lone_pixel_refused"] and "baseline" not in report


def test_the_baseline_is_a_revisions_code(tmp_path):
    code = gif_limits.code_of("HEAD", tmp_path)
    assert (code / "featurizer" / "media" / "gif.py").is_file() and (code / "pipelines" / "cli.py").is_file()
