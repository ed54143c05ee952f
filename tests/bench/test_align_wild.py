"""The wild-set alignment bench (bench.align_wild) on its --quick subset: what it counts and reports.

The targets are not asserted (the aligner is the bench's subject); the bookkeeping is, and that
the plainest GIFs on the plainest container align."""
import json

import pytest

from bench import align_wild

pytestmark = pytest.mark.timeout(300)
SETTINGS = align_wild.QUICK


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("wild")


@pytest.fixture(scope="module")
def report(cache):
    return align_wild.run(cache, quick=True, log=lambda _text: None)


def test_every_pair_is_counted_once(report):
    videos = len(SETTINGS["clips"]) * len(SETTINGS["containers"])
    assert report["pairs"] == videos * len(SETTINGS["styles"]) * SETTINGS["spans_per_style"]
    assert report["pairs"] == report["aligned"] + report["unaligned"] == len(report["failures"]) + report["aligned"]
    assert report["foreign"] == videos * SETTINGS["foreign_per_video"]
    cases = report["cases"]
    assert len(cases) == report["pairs"] + report["foreign"]
    assert sum(c["foreign"] and c["aligned"] for c in cases) == report["foreign_accepted"]
    assert all(c["truth"] is None for c in cases if c["foreign"])
    assert report["aligned_share"] == pytest.approx(report["aligned"] / report["pairs"], abs=1e-3)


def test_tables_have_every_style_and_container_of_the_run(report):
    for key, names in (("per_style", SETTINGS["styles"]), ("per_container", SETTINGS["containers"]),
                       ("per_clip", SETTINGS["clips"])):
        assert list(report[key]) == list(names)
        assert sum(row["total"] for row in report[key].values()) == report["pairs"]
        assert sum(row["aligned"] for row in report[key].values()) == report["aligned"]
    text = align_wild.tables(report)
    assert all(name in text for name in (*SETTINGS["styles"], *SETTINGS["containers"]))
    assert set(report["met"]) == {"aligned_share", "mean_error", "median_error", "foreign_accepted"}
    assert report["targets"] == align_wild.TARGETS


def test_truths_are_spans_of_the_source(report):
    for case in report["cases"]:
        if not case["foreign"]:
            truth = case["truth"]
            length = truth["end_sec"] - truth["start_sec"]
            assert 0 <= truth["start_sec"] and SETTINGS["span_sec"][0] - 0.05 <= length <= SETTINGS["span_sec"][1]
            assert truth["end_sec"] <= (align_wild.CLIPS[case["clip"]].seconds or float("inf")) + 1e-6


def test_plain_gifs_on_h264_align_near_their_truth(report):
    plain = [c for c in report["cases"]
             if not c["foreign"] and c["container"] == "h264" and c["style"].startswith("plain")]
    assert plain
    for case in plain:
        assert case["aligned"], case
        assert abs(case["found"][0] - case["truth"]["start_sec"]) <= 0.2
        assert abs(case["found"][1] - case["truth"]["end_sec"]) <= 0.2


def test_the_build_is_cached_and_the_command_line_writes_its_json(report, cache, tmp_path, capsys):
    out = tmp_path / "wild.json"
    again = align_wild.main(["--quick", "--cache", str(cache), "--out", str(out)])
    assert again["seconds"]["build"] < 1.0  # built once, by the fixture
    assert json.loads(out.read_text()) == again
    assert [c["truth"] for c in again["cases"]] == [c["truth"] for c in report["cases"]]
    assert "wild set:" in capsys.readouterr().out
