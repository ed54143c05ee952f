"""nMSD and AP against values computed by hand, and against the metrics' definitions written out
another way on random inputs with ties (the conventions of the Video2GIF dataset's v2g_evaluation)."""
import numpy as np
import pytest

from evaluation.metrics import average_precision, nmsd


def frames(n, start, stop):
    truth = np.zeros(n)
    truth[start:stop] = 1
    return truth


@pytest.mark.parametrize("scores, expected", [
    (np.arange(10.0), (6 - 2) / (10 - 2)),  # GIF scores 2..5: median 3.5; frames 4..9 reach it
    ([0, 0, 5, 6, 7, 8, 0, 0, 0, 0], 0.0),  # median 6.5: only the GIF's best half
    (np.ones(10), 1.0),  # constant scores: every frame reaches the threshold
])
def test_nmsd_by_hand(scores, expected):
    assert nmsd([frames(10, 2, 6)], scores) == pytest.approx(expected, abs=1e-12)


def test_nmsd_of_several_gifs_and_other_alphas():
    scores = np.arange(10.0)
    gifs = [frames(10, 2, 6), frames(10, 7, 10)]  # the second: median 8, 2 frames reach it, alpha |g| = 1.5
    assert nmsd(gifs, scores) == pytest.approx((0.5 + 0.5 / 8.5) / 2, abs=1e-12)
    assert nmsd(gifs, scores, mode="best") == pytest.approx(0.5 / 8.5, abs=1e-12)
    assert nmsd([frames(10, 2, 6)], scores, alpha=1.0) == pytest.approx((8 - 4) / (10 - 4), abs=1e-12)


@pytest.mark.parametrize("labels, scores, interpolated, plain", [
    ([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6], 5 / 6, 5 / 6),
    ([0, 1, 1], [3, 2, 1], 2 / 3, 7 / 12),  # interpolation lifts recall 1/2 to the 2/3 reached later
    ([1, 1, 0], [1, 1, 1], 2 / 3, 2 / 3),  # one tie: one threshold, the prevalence
    ([1, 0, 1, 0], [2, 2, 1, 0], 2 / 3, 7 / 12),  # a tie at the top recalls one positive with a negative
    ([1, 1], [0.1, 0.5], 1.0, 1.0),  # all positive
])
def test_average_precision_by_hand(labels, scores, interpolated, plain):
    assert average_precision(labels, scores) == pytest.approx(interpolated, abs=1e-12)
    assert average_precision(labels, scores, interpolate=False) == pytest.approx(plain, abs=1e-12)


def ap_by_recall_levels(labels, scores, interpolate):
    """The mean, over the distinct recall levels r > 0 that thresholds reach, of the best precision
    at recall r (interpolated: at recall r or more), thresholds taken at every distinct score."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    points = []
    for t in np.unique(scores):
        chosen = scores >= t
        points.append((labels[chosen].sum() / labels.sum(), labels[chosen].mean()))
    levels = sorted({r for r, _ in points if r > 0})
    return np.mean([max(p for r, p in points if (r >= level if interpolate else r == level)) for level in levels])


def nmsd_by_sorting(gifs, scores, alpha):
    """Eq. 4 with the percentile written out: linear interpolation between the GIF's sorted scores."""
    scores = np.asarray(scores, np.float64)
    values = []
    for truth in gifs:
        inside = np.sort(scores[truth == 1])
        position = (1 - alpha) * (len(inside) - 1)
        low = int(np.floor(position))
        high = min(low + 1, len(inside) - 1)
        threshold = inside[low] + (position - low) * (inside[high] - inside[low])
        values.append(((scores >= threshold).sum() - alpha * len(inside)) / (len(scores) - alpha * len(inside)))
    return np.mean(values)


def test_metrics_equal_their_definitions_on_random_inputs_with_ties():
    rng = np.random.default_rng(0)
    for case in range(300):
        n = int(rng.integers(2, 60))
        scores = rng.integers(0, 5, n).astype(float) if case % 2 else rng.normal(size=n)  # ties half the time
        labels = (rng.random(n) < rng.uniform(0.1, 0.9)).astype(int)
        if 0 < labels.sum():
            for interpolate in (True, False):
                assert average_precision(labels, scores, interpolate) == pytest.approx(
                    ap_by_recall_levels(labels, scores, interpolate), abs=1e-9)
        start = int(rng.integers(0, n - 1))
        gifs = [frames(n, start, int(rng.integers(start + 1, n + 1)))]
        if gifs[0].sum() < n:
            alpha = float(rng.choice([0.5, 0.3, 1.0]))
            assert nmsd(gifs, scores, alpha) == pytest.approx(nmsd_by_sorting(gifs, scores, alpha), abs=1e-9)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="no positive"):
        average_precision([0, 0], [1, 2])
    with pytest.raises(ValueError, match="only 0 and 1"):
        average_precision([0, 2], [1, 2])
    with pytest.raises(ValueError, match="3 values for 2 scores"):
        average_precision([0, 1, 1], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        nmsd([frames(3, 0, 1)], [0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match="marks every frame"):
        nmsd([np.ones(3)], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="no ground-truth GIF"):
        nmsd([], [0.0, 1.0])
    with pytest.raises(ValueError, match="mode"):
        nmsd([frames(3, 0, 1)], [0.0, 1.0, 2.0], mode="median")
