"""Every pipeline built for DataflowRunner without launching it: --dry_run=True builds the job and
submits nothing; --template_location writes the job's JSON, staging on a GCS emulator."""
import json

import pytest

from pipelines import align, evaluate, featurize, scrape
from tests.eval_dataset import build_dataset, export_ranker

pytestmark = pytest.mark.timeout(600)

ACCELERATOR = "type:nvidia-l4;count:1;install-nvidia-driver"
ACCELERATOR_URN = "beam:resources:accelerator:v1"
# featurize's model step, and the write fused with it
GPU_STEPS = ("FeaturizeVideos/C3D", "FeaturizeVideos/WriteFeatures")
IMAGE = "us-central1-docker.pkg.dev/my-project-123/gifrank/worker:1"


def _dataflow(*extra):
    return ["--runner", "DataflowRunner", "--project", "my-project-123", "--region", "us-central1", *extra]


def _dry_run(stage, argv):
    return stage.run([*argv, *_dataflow("--temp_location", "gs://my-bucket/tmp", "--dry_run=True")],
                     save_main_session=False)


def _accelerators(job) -> dict[str, bytes | None]:
    """Leaf transform name -> the accelerator its environment asks for (None: none)."""
    components = job.proto_pipeline.components
    hints = {env_id: env.resource_hints.get(ACCELERATOR_URN) for env_id, env in components.environments.items()}
    return {t.unique_name: hints.get(t.environment_id) for t in components.transforms.values()
            if not t.subtransforms and t.environment_id}


def test_only_the_c3d_step_asks_for_a_gpu(tmp_path):
    run = _dry_run(featurize, ["--dataset", str(tmp_path / "data"), "--c3d-accelerator", ACCELERATOR])
    assert run.counters == {} and run.job is not None  # built, not submitted
    accelerators = _accelerators(run.job)
    on_gpu = {name for name, hint in accelerators.items() if hint}
    assert on_gpu and all("/".join(name.split("/")[:2]) in GPU_STEPS for name in on_gpu)
    assert {name for name in accelerators if name.startswith("FeaturizeVideos/C3D/")} <= on_gpu
    assert {accelerators[name] for name in on_gpu} == {ACCELERATOR.encode()}
    # the accelerator comes from the hint alone, never also from a job-wide worker_accelerator
    assert "worker_accelerator" not in json.dumps(run.job.options.get_all_options(), default=str)


@pytest.mark.parametrize("stage", ["scrape", "align", "evaluate"])
def test_the_cpu_pipelines_build_without_accelerators(stage, tmp_path):
    root = tmp_path / "data"
    argv = {"scrape": ["--seed", "http://127.0.0.1:1/gifs?page=1", "--site", "demo"], "align": [],
            "evaluate": ["--model", "random:0", "--out", "gs://my-bucket/eval"]}[stage]
    if stage == "evaluate":
        build_dataset(root)
    module = {"scrape": scrape, "align": align, "evaluate": evaluate}[stage]
    run = _dry_run(module, ["--dataset", str(root), *argv])
    accelerators = _accelerators(run.job)
    assert accelerators and not any(accelerators.values())


def test_a_template_names_the_image_and_machine_asked_for(gcs_bucket, tmp_path):
    template = tmp_path / "featurize.json"
    featurize.run(["--dataset", str(tmp_path / "data"), "--c3d-accelerator", ACCELERATOR,
                   *_dataflow("--temp_location", f"{gcs_bucket}/tmp", "--staging_location", f"{gcs_bucket}/staging",
                              "--template_location", str(template), "--sdk_container_image", IMAGE,
                              "--machine_type", "n1-standard-8")], save_main_session=False)
    job = json.loads(template.read_text())
    [pool] = job["environment"]["workerPools"]
    assert pool["machineType"] == "n1-standard-8"
    images = pool["sdkHarnessContainerImages"]
    assert {i["containerImage"] for i in images} == {IMAGE}
    # two environments: the default one and the GPU step's, with its resource hints
    assert any("resource_hints" in i["environmentId"] for i in images) and len(images) == 2


def test_a_ranker_evaluation_builds_for_dataflow(tmp_path):
    root = tmp_path / "data"
    build_dataset(root)
    model = export_ranker(tmp_path / "job")
    run = _dry_run(evaluate, ["--dataset", str(root), "--model", model, "--out", "gs://my-bucket/eval"])
    assert any(name.startswith("Score/") for name in _accelerators(run.job))  # RunInference is in the job
