"""The `gifrank` console script: subcommands, help, clean errors, no heavy imports where not needed,
logging configured by the entry point only."""
import json
import subprocess
import sys

import pytest

from pipelines import cli

GIFRANK = [sys.executable, "-m", "pipelines.cli"]


def _run(*args, timeout=120):
    return subprocess.run([*GIFRANK, *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


@pytest.mark.parametrize("command, option", [
    ("scrape", "--v2g-metadata"), ("scrape", "--allow-host"), ("demo-site", "--fault"), ("demo", "--data"),
    ("compare", "--names"), ("predict-dataset", "--model"), ("evaluate", "--model"),
])
def test_each_command_documents_its_options(command, option):
    result = _run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert option in result.stdout


def test_unknown_command_and_bad_usage_are_clear_errors():
    result = _run("frobnicate")
    assert result.returncode == 2 and "unknown command 'frobnicate'" in result.stderr
    result = _run("scrape", "--dataset", "/tmp/x")
    assert result.returncode == 2 and "nothing to scrape" in result.stderr
    result = _run("scrape", "--seed", "http://example.test/", "--site", "no-such-site", "--dataset", "/tmp/x")
    assert result.returncode != 0 and "no-such-site" in result.stderr


def test_library_packages_and_light_commands_do_not_import_tensorflow_or_beam():
    code = ("import sys, featurizer.dataset.blobs, featurizer.dataset.tables, featurizer.media.sniff, "
            "featurizer.align.aligner, featurizer.shots, featurizer.c3d.video_decode, featurizer.c3d.preprocess, "
            "demo_world.world, pipelines.scraping.steps, pipelines.commands.align_video, pipelines.commands.shots, "
            "pipelines.cli, trainer, trainer.pairwise, trainer.scoring, evaluation, evaluation.baselines; "
            "print(sorted(m for m in ('apache_beam', 'tensorflow') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def evaluate_run(out, nmsd_by_video, method):
    """An evaluate output folder (metrics.json, per_video.parquet) of results evaluation.protocol scored."""
    from evaluation.evaluate import write_outputs
    from evaluation.protocol import VideoTruth, evaluate_video

    results = []
    for video, good in nmsd_by_video.items():
        truth = VideoTruth(video, 100, ((40, 60),))
        scores = [1.0 if good and start == 40 else 0.5 if start == 40 else 0.0 for start in range(0, 100, 20)]
        results.append(evaluate_video(truth, [(start, start + 20) for start in range(0, 100, 20)], scores))
    write_outputs(str(out), results, [], {"method": method})
    return str(out)


def test_compare_is_a_subcommand_and_the_old_spelling_still_works(tmp_path, capsys):
    videos = [f"v{i}" for i in range(6)]
    first = evaluate_run(tmp_path / "first", {v: True for v in videos}, "ranker")
    second = evaluate_run(tmp_path / "second", {v: i % 2 == 0 for i, v in enumerate(videos)}, "half")
    assert cli.main(["compare", first, second, "--names", "a", "b", "--out", str(tmp_path / "table")]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("| Method | nMSD ↓ | mAP ↑") and len(lines) == 4
    assert lines[2].startswith("| a | ") and lines[3].startswith("| b | ") and "6 videos" in lines[3]
    assert "deprecated" not in err
    assert (tmp_path / "table" / "compare.md").read_text() == out
    # gifrank evaluate --compare RUN ...: the same table, and one line saying what to type now.
    assert cli.main(["evaluate", "--compare", first, second, "--names", "a", "b"]) == 0
    old_out, old_err = capsys.readouterr()
    assert old_out == out
    assert old_err.splitlines()[0] == "gifrank evaluate --compare is deprecated: use gifrank compare ..."
    with pytest.raises(SystemExit):
        cli.main(["compare"])
    assert "give at least one RUN" in capsys.readouterr().err


def test_importing_configures_no_logger_and_the_entry_point_drops_the_noise():
    code = """
import json, logging, sys
import pipelines, pipelines.cli, pipelines.stage, pipelines.scrape, pipelines.refresh, pipelines.evaluate
import pipelines.flex_template, trainer.task, trainer.logging_setup, evaluation.compare
from featurizer.dataset.table_store import ConcurrentCommit

beam = logging.getLogger("apache_beam.runners.common")
before = [len(logging.getLogger().filters), len(logging.getLogger().handlers), len(beam.filters)]
pipelines.cli.configure_logging()
root = logging.getLogger()
root.warning("apitools not found, and bigquery client libraries are not available")
root.warning("kept: a warning")
logging.getLogger("tensorflow").info("dropped: tensorflow info")
logging.getLogger("gifrank").info("kept: our info")
for error in (ConcurrentCommit("the buckets moved"), ValueError("kept: a bug")):
    try:
        raise RuntimeError("a DoFn failed") from error
    except RuntimeError:
        beam.error("step failed: %s", error, exc_info=True)
print(json.dumps(before))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [0, 0, 0]  # imports: no filter, no handler
    lines = [line for line in result.stderr.splitlines() if " WARNING " in line or " INFO " in line
             or " ERROR " in line]
    assert [line.split(" ", 3)[2:] for line in lines] == [
        ["WARNING", "kept: a warning"], ["INFO", "kept: our info"], ["ERROR", "step failed: kept: a bug"]]
    assert "apitools" not in result.stderr and "the buckets moved" not in result.stderr
    assert "ValueError: kept: a bug" in result.stderr  # a bug keeps its traceback
