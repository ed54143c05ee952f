"""gifrank predict on demo-world videos: top GIFs inside their segments, looping, with their JSON; a folder
per video that never collides; bad videos reported while the others get their GIFs; a bad --out refused
before any work."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image

from pipelines.cli import main
from tests.eval_dataset import export_ranker

pytestmark = [pytest.mark.timeout(600), pytest.mark.filterwarnings("ignore:.*random")]
FAST_C3D = ["--fps", "5", "--snippet-stride", "16", "--no-mirror"]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _folder(out, video) -> str:
    """Where a video's GIFs must be: its stem and its content's hash, computed here from the bytes."""
    return os.path.join(out, f"{video.stem}-{hashlib.sha256(video.read_bytes()).hexdigest()[:12]}")


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _assert_complete(folder, top: int) -> dict:
    """predictions.json and each of its `top` GIFs are there."""
    predictions = json.loads(Path(folder, "predictions.json").read_text())
    assert [g["rank"] for g in predictions["gifs"]] == list(range(1, top + 1))
    assert sorted(os.listdir(folder)) == sorted(["predictions.json", *(g["gif"] for g in predictions["gifs"])])
    for g in predictions["gifs"]:
        with Image.open(os.path.join(folder, g["gif"])) as gif:
            assert gif.n_frames >= 2
    return predictions


def _too_short_video(path):
    """A real video of 5 frames: fewer than a shot needs (16), so no segment."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", "testsrc2=size=96x64:rate=25:duration=0.2", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def test_predict_writes_the_top_segments_as_looping_gifs(tiny_world, tmp_path):
    video = tiny_world.video_path(tiny_world.videos[0]["video_id"])
    model = export_ranker(tmp_path / "job")
    assert main(["predict", str(video), "--model", model, "--top", "2", "--out", str(tmp_path / "out"),
                 *FAST_C3D]) == 0
    folder = _folder(tmp_path / "out", video)
    predictions = json.loads(Path(folder, "predictions.json").read_text())
    gifs = predictions["gifs"]
    assert [g["rank"] for g in gifs] == [1, 2] and gifs[0]["score"] >= gifs[1]["score"]
    for g in gifs:
        # inside its segment (so inside one shot), and looping no worse than the segment's own ends
        assert g["segment_start_sec"] - 1e-6 <= g["start_sec"] < g["end_sec"] <= g["segment_end_sec"] + 0.05
        assert g["loop_jump"] <= g["naive_loop_jump"]
        with Image.open(os.path.join(folder, g["gif"])) as gif:
            assert gif.size[0] <= 480 and gif.info["loop"] == 0 and gif.n_frames >= 2
            assert 1000 / 15 - 1 <= gif.info["duration"] <= 1000 / 10 + 1
    assert _lines(tmp_path / "out" / "predictions.jsonl") == [predictions]
    assert (tmp_path / "out" / "failed.jsonl").read_text() == ""


def test_two_videos_of_one_name_get_a_folder_each(tiny_world, tmp_path):
    """a/clip.mp4 and b/clip.mp4: two folders, both complete; the same file named twice (or matched by a
    pattern) is done once."""
    first, second = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4"
    for video, copy in zip(tiny_world.videos, (first, second)):
        copy.parent.mkdir()
        shutil.copyfile(tiny_world.video_path(video["video_id"]), copy)
    out = tmp_path / "out"
    model = export_ranker(tmp_path / "job")
    again = tmp_path / "b" / ".." / "a" / "clip.mp4"
    pattern = tmp_path / "*" / "clip.mp4"  # quoted, as a shell leaves it: the same two videos again
    assert main(["predict", str(first), str(second), str(again), str(pattern), "--model", model, "--top", "2",
                 "--out", str(out), *FAST_C3D]) == 0
    folders = [_folder(out, first), _folder(out, second)]
    assert folders[0] != folders[1]
    assert sorted(os.listdir(out)) == sorted([os.path.basename(f) for f in folders] + ["failed.jsonl",
                                                                                        "predictions.jsonl"])
    made = [_assert_complete(folder, 2) for folder in folders]
    assert [m["video"] for m in made] == [str(first), str(second)]
    assert _lines(out / "predictions.jsonl") == made  # one line per video, the duplicate path done once


def test_a_bad_video_among_good_ones_is_reported_and_the_others_get_their_gifs(tiny_world, tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    short = _too_short_video(tmp_path / "short.mp4")
    good = tiny_world.video_path(tiny_world.videos[0]["video_id"])
    out = tmp_path / "out"
    model = export_ranker(tmp_path / "job")
    capsys.readouterr()
    assert main(["predict", str(broken), str(good), str(short), "--model", model, "--top", "2", "--out", str(out),
                 *FAST_C3D]) == 1
    err = capsys.readouterr().err.splitlines()
    failed = _lines(out / "failed.jsonl")
    assert [(f["video"], f["kind"]) for f in failed] == [(str(broken), "unreadable"), (str(short), "no_segments")]
    for f in failed:
        assert f["message"] and not f["message"].startswith(f["video"])  # the path is its own field
        [line] = [e for e in err if f["video"] in e and "no GIFs" in e]  # one line on stderr each
        assert f["kind"] in line and f["message"] in line
    assert _assert_complete(_folder(out, good), 2)["video"] == str(good)
    assert [p["video"] for p in _lines(out / "predictions.jsonl")] == [str(good)]
    assert sorted(os.listdir(out)) == sorted([os.path.basename(_folder(out, good)), "failed.jsonl",
                                              "predictions.jsonl"])  # nothing half-written for the bad ones


def _predict_in_a_process(*argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "predict", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("under", [False, True], ids=["out is a file", "out is under a file"])
def test_a_bad_out_is_one_line_before_any_work(tmp_path, under):
    """The model does not exist and the video is no video: had either been opened, the error would
    be theirs (or a failed video, exit 1). Only --out's, as one line, means neither was."""
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not a video either")
    blocker = tmp_path / "gifs"
    blocker.write_text("a file where the output folder would go")
    out = blocker / "run1" if under else blocker
    run = _predict_in_a_process(str(video), "--model", str(tmp_path / "no-such-model"), "--out", str(out))
    assert run.returncode == 2
    why = f"cannot be a folder, {blocker} is a file" if under else "a file, not a folder"
    assert run.stderr.splitlines() == [f"gifrank predict: error: {out}: {why}"]
    assert blocker.read_text() == "a file where the output folder would go"


def test_a_pattern_matching_no_video_is_one_line_before_any_work(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "*.mp4"), "--model", "random", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines() == [f"gifrank predict: error: {tmp_path / '*.mp4'}: no file matches"]
    assert not (tmp_path / "out").exists()


def test_a_missing_video_is_one_line_before_any_work(tmp_path):
    run = _predict_in_a_process(str(tmp_path / "missing.mp4"), "--model", str(tmp_path / "no-such-model"), "--out",
                                str(tmp_path / "out"))
    assert run.returncode == 2
    assert run.stderr.splitlines() == [f"gifrank predict: error: {tmp_path / 'missing.mp4'}: no such file"]
    assert not (tmp_path / "out").exists()


def test_an_out_that_cannot_be_written_is_one_line(tmp_path):
    """/proc takes no new folders, even from root (as test_edges's unwritable dataset)."""
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not a video")
    run = _predict_in_a_process(str(video), "--model", str(tmp_path / "no-such-model"), "--out", "/proc/gifrank-gifs")
    assert run.returncode == 2
    [line] = run.stderr.splitlines()
    assert line.startswith("gifrank predict: error: /proc/gifrank-gifs: cannot write here (")


def test_predict_reads_the_feature_flags_as_featurize_does():
    """The same C3D flags give predict and featurize the same settings, but for featurize's length cap."""
    import dataclasses

    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines import featurize
    from pipelines.commands.predict import build_parser
    from pipelines.feature_options import feature_settings

    flags = ["--fps", "5", "--snippet-stride", "16", "--no-mirror", "--max-segment-sec", "3"]
    predicted = feature_settings(build_parser().parse_args(["clip.mp4", "--model", "m", *flags]), max_video_sec=None)
    featurized = featurize.settings_of(PipelineOptions(flags))
    assert predicted == dataclasses.replace(featurized, max_video_sec=None)
    assert (predicted.fps, predicted.stride, predicted.mirror, predicted.max_segment_sec) == (5.0, 16, False, 3.0)
    assert featurized.max_video_sec == 600.0  # featurize caps a video's length, predict takes any


def test_weights_without_their_mean_are_one_line_before_any_work(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "missing.mp4"), "--model", str(tmp_path / "no-such-model"),
                 "--c3d-weights", "w.pkl"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "gifrank predict: error: --c3d-weights needs --c3d-mean, the snippet mean the weights were trained with")


def test_predict_over_a_datasets_catalogue(tiny_world, tmp_path, capsys):
    """Videos with features in a dataset: each one's GIFs and predictions; a video whose blob is
    missing is a failure row with its reason, not a lost record. (`gifrank predict --dataset`, the
    old spelling of `gifrank predict-dataset`, says so and runs it.)"""
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
    capsys.readouterr()
    assert main(["predict", "--dataset", str(root), "--model", model, "--top", "2", "--out", str(out)]) == 0
    notice = "gifrank predict --dataset is deprecated: use gifrank predict-dataset ..."
    assert notice in capsys.readouterr().err.splitlines()
    [predicted] = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    [failed] = [json.loads(line) for line in (out / "failed.jsonl").read_text().splitlines()]
    assert predicted["video_sha256"] == sha and [g["rank"] for g in predicted["gifs"]] == [1, 2]
    assert failed["video_sha256"] == "f" * 64 and failed["kind"] == "blob_missing" and "f" * 64 in failed["message"]
    assert json.loads((out / sha / "predictions.json").read_text())["gifs"] == predicted["gifs"]
    for g in predicted["gifs"]:
        with Image.open(out / sha / g["gif"]) as gif:
            assert gif.info["loop"] == 0
