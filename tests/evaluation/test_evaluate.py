"""gifrank evaluate (a DirectRunner pipeline with RunInference) against evaluation in this process."""
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from evaluation.evaluate import evaluate_in_process
from evaluation.videos import ChosenVideos
from pipelines import evaluate
from tests.eval_dataset import build_dataset, export_ranker
from trainer.export import Ranker

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval") / "data"
    info = build_dataset(root)
    return str(root), info


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return export_ranker(tmp_path_factory.mktemp("job"))


def test_the_pipeline_gives_the_in_process_numbers_and_counts_every_video(dataset, model, tmp_path):
    root, info = dataset
    out = tmp_path / "eval"
    evaluate.run(["--dataset", root, "--model", model, "--out", str(out)], save_main_session=False)
    metrics = json.loads((out / "metrics.json").read_text())
    results, excluded = evaluate_in_process(Ranker(model), root, ChosenVideos.of(root))
    assert metrics["videos"] + metrics["videos_excluded"] == info["test_videos"]
    assert metrics["excluded_by_reason"] == {"no aligned GIF": 1, "no features": 1}
    assert sorted((e["video_id"], e["reason"]) for e in metrics["excluded"]) == sorted(excluded)
    per_video = pq.read_table(out / "per_video.parquet").to_pylist()
    assert [r["video_id"] for r in per_video] == sorted(r.video_id for r in results)
    for row, result in zip(per_video, sorted(results, key=lambda r: r.video_id)):
        assert row["nmsd"] == pytest.approx(result.nmsd, abs=1e-12)
        assert row["average_precision"] == pytest.approx(result.average_precision, abs=1e-12)
    assert metrics["nmsd"]["mean"] == pytest.approx(np.mean([r.nmsd for r in results]), abs=1e-12)
    assert metrics["nmsd"]["low"] <= metrics["nmsd"]["mean"] <= metrics["nmsd"]["high"]
    assert 'id="metrics"' in (out / "report" / "index.html").read_text()  # evaluate writes its report too


def test_random_scores_depend_on_the_segment_and_seed_alone():
    from evaluation.baselines import open_scorer

    rng = np.random.default_rng(0)
    features = rng.uniform(0, 1, (6, 4096)).astype(np.float32)
    scores = open_scorer("random:3").score(features)
    assert scores.shape == (6,) and ((0 <= scores) & (scores < 1)).all() and len(set(scores.tolist())) == 6
    assert open_scorer("random:3").score(features[::-1]).tolist() == scores[::-1].tolist()  # order-free
    assert open_scorer("random:4").score(features).tolist() != scores.tolist()
    with pytest.raises(ValueError, match="integer seed"):
        open_scorer("random:x")


def test_a_model_of_another_width_is_a_clear_error(tmp_path):
    ranker = Ranker(export_ranker(tmp_path / "job"))
    with pytest.raises(ValueError, match="scores 4096-d features, not \\(100,\\)"):
        ranker.score(np.zeros((3, 100), np.float32))
    with pytest.raises(FileNotFoundError, match="no SavedModel"):
        Ranker(str(tmp_path))


def test_compare_puts_runs_side_by_side_with_a_paired_test(dataset, model, tmp_path, capsys):
    from pipelines.cli import main

    root, _ = dataset
    other = export_ranker(tmp_path / "other-job", seed=5)
    for name, ranker in (("first", model), ("second", other)):
        assert main(["evaluate", "--dataset", root, "--model", ranker, "--out", str(tmp_path / name)]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "first"), str(tmp_path / "second"),
                 "--out", str(tmp_path / "table")]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0].startswith("| Method | nMSD ↓ | mAP ↑") and len(lines) == 4
    first = json.loads((tmp_path / "first" / "metrics.json").read_text())
    assert lines[2].startswith(f"| first | {100 * first['nmsd']['mean']:.2f}% [")
    assert "p = " in lines[3] and "5 videos" in lines[3]
    assert (tmp_path / "table" / "compare.md").read_text() == printed
    assert (tmp_path / "table" / "compare.csv").read_text().splitlines()[0] == "method,nmsd,map,videos,vs_first"


def test_an_empty_split_is_a_clear_error(dataset, model, tmp_path):
    root, _ = dataset
    with pytest.raises(ValueError, match="no labelled video of split 'val'"):
        evaluate.run(["--dataset", root, "--model", model, "--out", str(tmp_path / "e"), "--split", "val"],
                     save_main_session=False)
    assert not (tmp_path / "e").exists()  # nothing half-written


def test_the_upper_bound_scores_users_gifs_against_each_other(tmp_path):
    from evaluation.baselines import open_scorer
    from evaluation.protocol import VideoTruth, bound_video
    from featurizer.dataset import table_store, tables

    root = str(tmp_path / "data")
    build_dataset(root, second_gifs={2, 3, 5})
    out = tmp_path / "bound"
    run = evaluate.run(["--dataset", root, "--model", "upper-bound", "--out", str(out)], save_main_session=False)
    metrics = json.loads((out / "metrics.json").read_text())
    results, _ = evaluate_in_process(None, root, ChosenVideos.of(root))
    assert sorted(r.video_id for r in results) == ["v2", "v3", "v5"]  # the videos with two trusted GIFs
    assert metrics["excluded_by_reason"] == {"no aligned GIF": 1, "no features": 1,
                                             "one GIF: no other user's to score it against": 2}  # v4, v6
    assert metrics["nmsd"]["mean"] == pytest.approx(np.mean([r.nmsd for r in results]), abs=1e-12)
    assert run.counters["videos_evaluated"] + run.counters["videos_excluded"] == run.counters["videos_chosen"] == 7
    # v2's GIFs: 15 frames each, the second 7 frames after the first (8 shared), by the protocol
    v2 = next(r for r in results if r.video_id == "v2")
    alignments = table_store.read_table(root, tables.ALIGNMENTS).to_pylist()
    spans = tuple(sorted((a["start_frame"], a["end_frame"]) for a in alignments if a["video_id"] == "v2"))
    assert v2.nmsd == pytest.approx(bound_video(VideoTruth("v2", 60, spans)).nmsd, abs=1e-12)
    assert 'id="metrics"' in (out / "report" / "index.html").read_text()
    with pytest.raises(ValueError, match="scores no segment"):
        open_scorer("upper-bound")


def test_the_counters_add_up(dataset, model, tmp_path):
    root, info = dataset
    run = evaluate.run(["--dataset", root, "--model", model, "--out", str(tmp_path / "eval")], save_main_session=False)
    counters = run.counters
    assert counters["videos_chosen"] == info["test_videos"]
    assert counters["videos_evaluated"] + counters["videos_excluded"] == counters["videos_chosen"]
