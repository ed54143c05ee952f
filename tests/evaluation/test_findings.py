"""The paper's findings as paired tests: which hold on a set of runs."""
import numpy as np
import pytest

from evaluation.findings import check_findings, markdown


def runs(**shifts):
    """Per-video nMSD of 20 videos: the same video difficulties for every method, shifted by
    the method's mean shift, plus an alternating +-0.01 unless the shift is given as exact."""
    videos = [f"v{i}" for i in range(20)]
    base = np.linspace(0.2, 0.6, len(videos))
    alternating = 0.01 * np.where(np.arange(len(videos)) % 2, -1.0, 1.0)
    out = {}
    for name, shift in shifts.items():
        exact = isinstance(shift, tuple)
        out[name] = dict(zip(videos, (base + (shift[0] if exact else shift + alternating)).tolist()))
    return out


def verdicts(findings):
    return {f.claim.text: f.verdict for f in findings}


def test_verdicts_follow_the_difference_and_its_significance():
    found = verdicts(check_findings(runs(adaptive_huber=(0.0,), random=0.2, classification=-0.1, l2=0.0,
                                         huber=(-0.001,), adaptive_huber_context=0.0)))
    assert found["a ranker beats random"] == "holds"
    assert found["ranking beats classification"] == "the opposite is significant: does not hold"
    # differences of +-1 point, alternating: no difference, so no verdict either way
    assert found["the adaptive Huber loss beats l2 under outliers"] == "does not hold (not significant)"
    assert found["context changes little"] == "holds"
    # 0.1 points lower on average, under +-1 point: the right direction, not significant (p = 0.056)
    assert found["the Huber loss beats l2 under outliers"] == "same direction, not significant"
    # only the claims whose two runs are there
    assert "model averaging helps" not in found and "ours beats the domain-specific rankSVM" not in found


def test_a_difference_is_measured_on_the_shared_videos_and_tabled():
    scores = runs(adaptive_huber=0.0, adaptive_huber_context=0.05)
    del scores["adaptive_huber_context"]["v0"]
    [finding] = check_findings(scores)
    assert finding.comparison.videos == 19
    assert finding.comparison.difference.mean == pytest.approx(0.05, abs=0.01)
    assert finding.verdict == "differs significantly: does not hold" and not finding.holds
    table = markdown([finding])
    compared = "Rank, adaptive Huber loss + context (Ours) vs Rank, adaptive Huber loss"
    assert f"| context changes little | {compared} |" in table
    assert "5." in table and "pts" in table


def test_runs_are_named_by_the_table_keys():
    with pytest.raises(ValueError, match="unknown methods"):
        check_findings({"adaptive huber (demo)": {"v": 0.1}})
