"""The scheduled refresh's Airflow DAG, loaded by Airflow itself in its own environment
(.venv-airflow, which `make test` builds: Airflow's Google provider and apache-beam[gcp] do not
install side by side), and its publish rule, plain Python, tested here."""
import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

from pipelines import evaluate, refresh
from trainer.task import config_from

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "infra" / "airflow" / "dags"
AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"


def _publish_rule():
    spec = importlib.util.spec_from_file_location("gifrank_publish", DAGS / "gifrank_publish.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.not_worse


@pytest.fixture(scope="module")
def dag(tmp_path_factory):
    if not AIRFLOW_PYTHON.exists():
        pytest.skip("no Airflow environment: make airflow (make test builds it)")
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow"))}
    result = subprocess.run([str(AIRFLOW_PYTHON), str(Path(__file__).with_name("dag_shape.py")), str(DAGS)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_dag_loads_and_runs_its_tasks_in_order(dag):
    assert dag["import_errors"] == {} and dag["dags"] == ["gifrank_refresh"]
    assert (dag["schedule"], dag["catchup"], dag["max_active_runs"]) == ("@daily", False, 1)
    tasks = dag["tasks"]
    order = {name: task["downstream"] for name, task in tasks.items()}
    assert order == {"refresh": ["is_published", "train"], "train": ["evaluate_new"],
                     "evaluate_new": ["not_worse"], "is_published": ["evaluate_published"],
                     "evaluate_published": ["not_worse"], "not_worse": ["publish_model"],
                     "publish_model": ["publish_metrics"], "publish_metrics": []}
    kinds = {name: task["type"] for name, task in tasks.items()}
    assert kinds["refresh"] == kinds["evaluate_new"] == "DataflowStartFlexTemplateOperator"
    assert kinds["train"] == "CreateCustomJobOperator"
    assert tasks["not_worse"]["trigger_rule"] == "none_failed"  # decides whether or not a ranker is published


def _template_parameters(task) -> tuple[str, list[str]]:
    launch = task["rendered"]["body"]["launchParameter"]
    parameters = dict(launch["parameters"])
    command = parameters.pop("command")
    assert launch["containerSpecGcsPath"].endswith(f"/templates/{command}.json")
    return command, [f"--{name}={value}" for name, value in parameters.items()]


def test_every_launch_passes_options_its_command_takes(dag):
    parsers = {"refresh": refresh.arg_parser(), "evaluate": evaluate.STAGE.arg_parser()}
    for name in ("refresh", "evaluate_new", "evaluate_published"):
        command, argv = _template_parameters(dag["tasks"][name])
        parsed, unknown = parsers[command].parse_known_args(argv)
        assert unknown == [] and parsed.dataset == "gs://my-gifrank-bucket/v2g"
    _, argv = _template_parameters(dag["tasks"]["evaluate_new"])
    assert "--model=gs://my-gifrank-bucket/jobs/20261201/model" in argv  # the ranker trained that day
    spec = dag["tasks"]["train"]["rendered"]["custom_job"]["job_spec"]
    config = config_from(spec["worker_pool_specs"][0]["container_spec"]["args"])
    assert config.job_dir == spec["base_output_directory"]["output_uri_prefix"] == "gs://my-gifrank-bucket/jobs/20261201"
    assert config.context and config.models == 3


def test_a_ranker_is_published_only_when_not_worse():
    not_worse = _publish_rule()
    metrics = lambda nmsd: {"videos": 10, "nmsd": {"mean": nmsd}}  # noqa: E731
    assert not_worse(metrics(0.40), None) == (True, "nothing is published yet")
    assert not_worse(metrics(0.40), metrics(0.42))[0] and not_worse(metrics(0.42), metrics(0.42))[0]
    publish, why = not_worse(metrics(0.45), metrics(0.42))
    assert not publish and "worse" in why
    assert not not_worse({"videos": 0, "nmsd": None}, metrics(0.42))[0]
