"""refresh -> train -> evaluate with every root on GCS (the emulator on loopback, through the code
paths production uses) gives what the same run gives on local disk."""
import json

import numpy as np
import pytest

from demo_world.site import DemoSite
from featurizer.dataset.storage import DatasetRoot
from pipelines import evaluate, refresh
from tests.killing import contents, differing
from trainer.export import Ranker
from trainer.task import main as train

pytestmark = [pytest.mark.timeout(900), pytest.mark.filterwarnings("ignore:.*random")]

FAST = ["--fps", "12.5", "--snippet-stride", "16", "--no-mirror", "--batch-size", "4"]
# The tiny world's three videos (their hashes 0.865, 0.287, 0.873): v0001 and v0002 train, v0003 is tested.
SPLIT = ["--split-ratios", "0.87,0.002,0.128", "--max-segment-sec", "1.5"]  # short segments: some negatives


def _run_everything(site, root: str) -> dict:
    refresh.run(["--dataset", root, "--seed", f"{site.url}/gifs?page=1", "--site", "demo", "--allow-host", "127.0.0.1",
                 "--rate-limit", "0", "--concurrency", "2", *FAST, *SPLIT], save_main_session=False)
    job = DatasetRoot.open(root).uri_of("jobs", "run1")
    assert train(["--dataset", root, "--job-dir", job, "--epochs", "2", "--hidden-units", "16,4",
                  "--progress", "log"]) == 0
    out = DatasetRoot.open(root).uri_of("evaluations", "run1")
    evaluate.run(["--dataset", root, "--model", f"{job}/model", "--out", out], save_main_session=False)
    where = DatasetRoot.open(out)
    with where.fs.open_input_stream(where.join("metrics.json")) as f:
        metrics = json.loads(f.read())
    return {"tables": contents(root, drop=("failed_at", "scraped_at")), "model": Ranker(f"{job}/model"),
            "metrics": metrics, "report": where.exists("report/index.html")}


def test_the_whole_flow_on_gcs_equals_local_disk(tiny_world, gcs_bucket, tmp_path):
    with DemoSite(tiny_world.root, page_size=2) as site:  # one site for both: the same URLs, the same keys
        local = _run_everything(site, str(tmp_path / "data"))
        remote = _run_everything(site, f"{gcs_bucket}/v2g")
    assert differing(local["tables"], remote["tables"]) == set()
    assert local["tables"]["features"].num_rows > 0 and local["tables"]["labels"].num_rows > 0
    probe = np.random.default_rng(0).uniform(0, 2, (5, 4096)).astype(np.float32)
    np.testing.assert_array_equal(local["model"].score(probe), remote["model"].score(probe))  # the same model
    same = ("videos", "videos_excluded", "excluded_by_reason", "nmsd", "map", "gifs", "segments", "split")
    assert local["metrics"]["videos"] == 1
    assert {k: local["metrics"][k] for k in same} == {k: remote["metrics"][k] for k in same}
    assert local["report"] and remote["report"]  # the evaluation's report page, on GCS too
