"""The `gifrank` console script: subcommands, help, clean errors, no heavy imports where not needed."""
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
    code = ("import sys, featurizer.dataset.blobs, featurizer.dataset.tables, featurizer.media.sniff, featurizer.align.aligner, featurizer.shots, "
            "featurizer.c3d.video_decode, featurizer.c3d.preprocess, demo_world.world, pipelines.scraping.steps, "
            "pipelines.commands.align_video, pipelines.commands.shots, trainer, evaluation; "
            "print(sorted(m for m in ('apache_beam', 'tensorflow') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
