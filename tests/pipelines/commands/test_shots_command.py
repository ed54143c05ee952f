"""`gifrank shots`: shots as JSON, frames and the decoder's seconds side by side, exit codes."""
import json
import subprocess
import sys

import numpy as np
import pytest

from demo_world.source_formats import encode_source
from demo_world.videos import footage_dir
from featurizer.media.video import iter_video_frames
from pipelines.commands.shots import main as shots_main

BIKES_CUT_SECONDS = [1.2, 3.04, 5.48, 7.48, 9.68]  # frames 30, 76, 137, 187, 242 at 25 fps


def run_shots(capsys, *argv) -> dict:
    assert shots_main([str(a) for a in argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_prints_frames_and_seconds_of_each_shot(capsys):
    out = run_shots(capsys, footage_dir() / "bikes.mp4")
    assert (out["fps"], out["num_frames"], out["variable_frame_rate"]) == (25.0, 250, False)
    frames = [0, 30, 76, 137, 187, 242, 250]
    assert out["shots"] == [{"start_frame": start, "end_frame": end, "start_sec": start / 25, "end_sec": end / 25}
                            for start, end in zip(frames, frames[1:])]


def test_cli_on_a_variable_frame_rate_file_gives_the_cuts_seconds(tmp_path, capsys):
    """Frames dropped irregularly, timestamps kept (as phones write): frame / fps misplaces every
    cut, the seconds printed are each cut's, within the frame interval the file has there."""
    path = encode_source(footage_dir() / "bikes.mp4", tmp_path, "vfr", 640, 272).path
    out = run_shots(capsys, path)
    times = np.concatenate([b.times for b in iter_video_frames(path, size=(64, 36))])
    assert out["variable_frame_rate"] and out["num_frames"] == len(times) < 250
    shots = out["shots"]
    assert [s["start_frame"] for s in shots[1:]] == [s["end_frame"] for s in shots[:-1]]
    assert shots[0]["start_frame"] == 0 and shots[-1]["end_frame"] == len(times)
    for shot in shots:  # the seconds are the decoder's timestamps of the frames
        assert shot["start_sec"] == pytest.approx(times[shot["start_frame"]], abs=1e-6)
        end = shot["end_frame"]
        assert shot["end_sec"] == pytest.approx(times[end] if end < len(times) else 10.0, abs=1e-6)
    boundaries = shots[1:]
    assert len(boundaries) == len(BIKES_CUT_SECONDS)
    for cut, shot in zip(BIKES_CUT_SECONDS, boundaries):
        # The first frame shown from the cut on (the file may have dropped the frame at the cut):
        # within the one frame interval the cut fell in.
        previous = times[shot["start_frame"] - 1]
        assert previous < cut <= shot["start_sec"] + 1e-6
        assert shot["start_sec"] - cut < shot["start_sec"] - previous


def test_cli_exit_2_on_unreadable_or_missing_video(tmp_path, capsys):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 1000)
    assert shots_main([str(garbage)]) == 2
    assert shots_main([str(tmp_path / "missing.mp4")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("cannot read video") == 2


def test_cli_rejects_knobs_of_another_detector(capsys):
    assert shots_main(["v.mp4", "--kernel-penalty", "5"]) == 2
    assert "--kernel-penalty applies to --detector kernel" in capsys.readouterr().err
    assert shots_main(["v.mp4", "--cut-threshold", "0"]) == 2


def test_shots_never_load_beam_or_tensorflow():
    code = ("import sys; from pipelines.commands.shots import main; from demo_world.videos import footage_dir; "
            "main([str(footage_dir() / 'bikes.mp4')]); "
            "print(sorted(m for m in ('apache_beam', 'tensorflow') if m in sys.modules), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "[]"
