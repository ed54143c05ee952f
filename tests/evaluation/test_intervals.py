"""Bootstrap intervals over videos (of means and of a pooled pairwise accuracy) and the paired comparison of
two methods."""
import numpy as np
import pytest

from evaluation.intervals import bootstrap_interval, mean_interval, paired_comparison


def test_the_interval_holds_the_mean_and_narrows_with_more_videos():
    rng = np.random.default_rng(1)
    few = {f"v{i}": x for i, x in enumerate(rng.normal(0.3, 0.1, 20))}
    many = {f"v{i}": x for i, x in enumerate(rng.normal(0.3, 0.1, 500))}
    small, large = mean_interval(few), mean_interval(many)
    assert small.low < small.mean < small.high and large.low < large.mean < large.high
    assert small.mean == pytest.approx(np.mean(list(few.values())))
    assert (large.high - large.low) < (small.high - small.low) / 3  # about 1/sqrt(25)
    # about 1.96 standard errors each side
    assert large.high - large.low == pytest.approx(2 * 1.96 * 0.1 / np.sqrt(500), rel=0.2)
    assert mean_interval(few, seed=0) == small


def test_degenerate_samples():
    assert mean_interval({"a": 0.4}).as_dict() == {"mean": 0.4, "low": None, "high": None, "videos": 1}
    same = mean_interval({"a": 0.2, "b": 0.2})
    assert (same.low, same.high) == (0.2, 0.2)
    with pytest.raises(ValueError, match="no videos"):
        mean_interval({})


def test_paired_comparison_on_the_shared_videos():
    rng = np.random.default_rng(2)
    base = rng.uniform(0.2, 0.6, 60)
    a = {f"v{i}": x for i, x in enumerate(base)}
    b = {f"v{i}": x + 0.05 + rng.normal(0, 0.01) for i, x in enumerate(base)}
    b["only-b"] = 0.9
    result = paired_comparison(a, b)
    assert result.videos == 60
    assert result.difference.mean == pytest.approx(-0.05, abs=0.005)
    assert result.difference.high < 0 and result.p_value < 1e-6
    same = paired_comparison(a, dict(a))
    assert same.p_value == 1.0 and same.difference.mean == 0.0
    with pytest.raises(ValueError, match="share no video"):
        paired_comparison({"x": 1.0}, {"y": 1.0})


def test_pairwise_accuracy_interval_resamples_videos():
    per_video = {f"v{i}": (1.0, 1) for i in range(20)}
    assert bootstrap_interval(per_video) == (1.0, 1.0)  # every resample is perfect
    mixed = {**{f"r{i}": (1.0, 1) for i in range(10)}, **{f"w{i}": (0.0, 1) for i in range(10)}}
    low, high = bootstrap_interval(mixed, seed=3)
    assert low < 0.5 < high and 0.25 < low and high < 0.75  # 0.5 +- about 2 x sqrt(0.25 / 20) = 0.22
    assert bootstrap_interval(mixed, seed=3) == (low, high)  # seeded
    assert bootstrap_interval({}) is None
