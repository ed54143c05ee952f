"""gifrank report: a static page with the metrics table, training curves, the nMSD distribution and
the best and worst segments beside the users' GIFs, opened in a real headless Chromium."""
import shutil

import pytest

from evaluation.baselines import open_scorer
from evaluation.compare import read_run
from evaluation.evaluate import evaluate_in_process, write_outputs
from evaluation.findings import check_findings
from evaluation.report import write_report
from evaluation.videos import ChosenVideos
from tests.eval_dataset import build_media_dataset, export_ranker
from trainer.synthetic import SyntheticSegments
from trainer.task import main as train_main

pytestmark = pytest.mark.timeout(600)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _evaluated(root, model, out):
    results, excluded = evaluate_in_process(open_scorer(model), str(root), ChosenVideos.of(str(root)))
    write_outputs(str(out), results, excluded, {"model": model})
    return str(out)


def test_the_report_opens_in_a_browser_with_every_picture(tiny_world, tmp_path):
    root = tmp_path / "data"
    build_media_dataset(root, tiny_world)
    ranker = _evaluated(root, export_ranker(tmp_path / "ranker"), tmp_path / "eval-ranker")
    chance = _evaluated(root, "random:0", tmp_path / "eval-random")
    SyntheticSegments(videos=12, segments_per_video=(8, 12), seed=1).write(str(tmp_path / "segments.parquet"))
    job = tmp_path / "job"
    assert train_main(["--segments", str(tmp_path / "segments.parquet"), "--job-dir", str(job), "--epochs", "2",
                       "--hidden-units", "16,4", "--progress", "log"]) == 0
    findings = check_findings({key: {v: r["nmsd"] for v, r in read_run(run)[1].items()}
                               for key, run in (("adaptive_huber", ranker), ("random", chance))})
    page = write_report(str(tmp_path / "report"), [ranker, chance], ["ranker", "random"], str(job), str(root),
                        findings=findings)

    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or
                                                               "/usr/bin/chromedriver"))
    try:
        driver.set_window_size(1200, 2400)
        driver.get(f"file://{page}")
        images = driver.find_elements(By.TAG_NAME, "img")
        loaded = driver.execute_script(
            "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        methods = [row.find_elements(By.TAG_NAME, "td")[0].text
                   for row in driver.find_elements(By.CSS_SELECTOR, "#metrics tbody tr")]
        claims = [row.find_elements(By.TAG_NAME, "td")[0].text
                  for row in driver.find_elements(By.CSS_SELECTOR, "#findings tbody tr")]
        driver.save_screenshot(str(tmp_path / "report.png"))
    finally:
        driver.quit()
    # nMSD histogram, training curves, per sampled video: 3 best, up to 3 worst, the users' GIFs
    assert len(images) >= 2 + 3 + 1 and all(loaded), loaded
    assert methods == ["ranker", "random"]
    assert claims == ["a ranker beats random"]
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
