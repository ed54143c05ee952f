"""Run by the Airflow environment's Python (tests/infra/test_airflow_dag.py): loads the DAGs as
Airflow 3 does (a bundle: its folder on sys.path) and prints, as JSON, the import errors and
gifrank_refresh's tasks, their order, and their templated arguments rendered for one day."""
import json
import sys
from pathlib import Path

from airflow.dag_processing.dagbag import BundleDagBag

folder = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=str(folder), bundle_path=folder)
out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": sorted(bag.dags)}
dag = bag.dags.get("gifrank_refresh")
if dag is not None:
    context = {"params": {name: param.value for name, param in dag.params.items()}, "ds_nodash": "20261201"}
    tasks = {}
    for task in dag.tasks:
        rendered = {field: task.render_template(getattr(task, field), context) for field in task.template_fields
                    if field in ("body", "custom_job", "source_object", "destination_object", "op_kwargs")}
        tasks[task.task_id] = {"type": type(task).__name__, "downstream": sorted(task.downstream_task_ids),
                               "trigger_rule": str(task.trigger_rule.value), "rendered": rendered}
    out.update(tasks=tasks, schedule=str(dag.schedule), catchup=dag.catchup, max_active_runs=dag.max_active_runs)
print(json.dumps(out, default=str))
