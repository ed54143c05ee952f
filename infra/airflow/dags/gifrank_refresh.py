"""The daily gifrank refresh (Cloud Composer / Airflow 3):

    refresh (Flex Template) -> train (Vertex AI custom job) -> evaluate the new ranker (Flex Template)
        -> [is a ranker published? -> evaluate it on today's test split too]
        -> not worse? -> publish the new ranker (its model folder and its metrics)

Everything lives under one bucket (the DAG's params, set when triggering or in the DAG's
defaults below): gs://BUCKET/v2g (the dataset), templates/{refresh,evaluate}.json (built as
infra/README.md says), jobs/DATE (the training job), evaluations/DATE/{new,published},
models/published/{model/,metrics.json}. Both rankers are evaluated on the same day's test
split, so their nMSD compare (gifrank_publish.not_worse decides).
"""
from __future__ import annotations

import datetime as dt
import json

from airflow.providers.google.cloud.hooks.gcs import GCSHook
from airflow.providers.google.cloud.operators.dataflow import DataflowStartFlexTemplateOperator
from airflow.providers.google.cloud.operators.vertex_ai.custom_job import CreateCustomJobOperator
from airflow.providers.google.cloud.transfers.gcs_to_gcs import GCSToGCSOperator
from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import DAG, Param

from gifrank_publish import not_worse

BUCKET = "{{ params.bucket }}"
DATASET = f"gs://{BUCKET}/v2g"
JOB = f"gs://{BUCKET}/jobs/{{{{ ds_nodash }}}}"
EVALUATIONS = f"gs://{BUCKET}/evaluations/{{{{ ds_nodash }}}}"
PUBLISHED = "models/published"


def _flex_template(task_id: str, template: str, parameters: dict, **kwargs) -> DataflowStartFlexTemplateOperator:
    return DataflowStartFlexTemplateOperator(
        task_id=task_id, project_id="{{ params.project }}", location="{{ params.region }}", wait_until_finished=True,
        body={"launchParameter": {
            "jobName": f"gifrank-{task_id.replace('_', '-')}-{{{{ ds_nodash }}}}",
            "containerSpecGcsPath": f"gs://{BUCKET}/templates/{template}.json",
            "parameters": parameters,
            "environment": {"sdkContainerImage": "{{ params.worker_image }}",
                            "tempLocation": f"gs://{BUCKET}/tmp", "machineType": "{{ params.machine_type }}"}}},
        **kwargs)


def _evaluation(model: str, out: str) -> dict:
    return {"command": "evaluate", "dataset": DATASET, "model": model, "out": out, "split": "test"}


def _read_json(bucket: str, name: str) -> dict | None:
    hook = GCSHook()
    return json.loads(hook.download(bucket, name)) if hook.exists(bucket, name) else None


def _is_published(bucket: str) -> bool:
    return GCSHook().exists(bucket, f"{PUBLISHED}/model/saved_model.pb")


def _decide(bucket: str, date: str) -> bool:
    new = _read_json(bucket, f"evaluations/{date}/new/metrics.json")
    current = _read_json(bucket, f"evaluations/{date}/published/metrics.json") if _is_published(bucket) else None
    publish, why = not_worse(new or {}, current)
    print(f"publish: {publish} ({why})")
    return publish


with DAG(
    dag_id="gifrank_refresh",
    description="Refresh the gifrank dataset, retrain, evaluate, and publish a ranker that is not worse",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,  # a refresh commits tables: one at a time
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=10)},
    params={
        "project": Param("my-project", type="string"),
        "region": Param("us-central1", type="string"),
        "bucket": Param("my-gifrank-bucket", type="string"),
        "worker_image": Param("us-central1-docker.pkg.dev/my-project/gifrank/worker-gpu:latest", type="string"),
        "trainer_image": Param("us-central1-docker.pkg.dev/my-project/gifrank/trainer:latest", type="string"),
        "machine_type": Param("n1-standard-8", type="string"),
        "c3d_accelerator": Param("type:nvidia-l4;count:1;install-nvidia-driver", type="string"),
    },
    tags=["gifrank"],
) as dag:
    refresh = _flex_template("refresh", "refresh", {
        "command": "refresh", "dataset": DATASET, "v2g-metadata": f"gs://{BUCKET}/metadata.txt",
        "c3d-weights": f"gs://{BUCKET}/weights/c3d.pkl", "c3d-mean": f"gs://{BUCKET}/weights/c3d_mean.npy",
        "c3d-accelerator": "{{ params.c3d_accelerator }}"})

    train = CreateCustomJobOperator(
        task_id="train", project_id="{{ params.project }}", region="{{ params.region }}",
        custom_job={
            "display_name": "gifrank-train-{{ ds_nodash }}",
            "job_spec": {
                "worker_pool_specs": [{
                    "machine_spec": {"machine_type": "g2-standard-8", "accelerator_type": "NVIDIA_L4",
                                     "accelerator_count": 1},
                    "replica_count": 1,
                    "container_spec": {"image_uri": "{{ params.trainer_image }}",
                                       "args": ["--dataset", DATASET, "--job-dir", JOB, "--context", "--models", "3",
                                                "--progress", "log"]}}],
                "base_output_directory": {"output_uri_prefix": JOB}}})

    evaluate_new = _flex_template("evaluate_new", "evaluate", _evaluation(f"{JOB}/model", f"{EVALUATIONS}/new"))

    is_published = ShortCircuitOperator(
        task_id="is_published", python_callable=_is_published, op_kwargs={"bucket": BUCKET},
        ignore_downstream_trigger_rules=False)  # skips only the published ranker's evaluation
    evaluate_published = _flex_template("evaluate_published", "evaluate",
                                        _evaluation(f"gs://{BUCKET}/{PUBLISHED}/model", f"{EVALUATIONS}/published"))

    decide = ShortCircuitOperator(
        task_id="not_worse", python_callable=_decide, op_kwargs={"bucket": BUCKET, "date": "{{ ds_nodash }}"},
        trigger_rule="none_failed")  # runs whether or not a published ranker was evaluated

    publish_model = GCSToGCSOperator(
        task_id="publish_model", source_bucket=BUCKET, source_object="jobs/{{ ds_nodash }}/model/",
        match_glob="**/*", destination_bucket=BUCKET, destination_object=f"{PUBLISHED}/model/")
    publish_metrics = GCSToGCSOperator(
        task_id="publish_metrics", source_bucket=BUCKET, source_object="evaluations/{{ ds_nodash }}/new/metrics.json",
        destination_bucket=BUCKET, destination_object=f"{PUBLISHED}/metrics.json")

    refresh >> train >> evaluate_new
    refresh >> is_published >> evaluate_published  # on the same day's test split as the new ranker
    [evaluate_new, evaluate_published] >> decide >> publish_model >> publish_metrics
