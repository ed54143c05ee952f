"""The synthetic segments generator: the segments schema, GIFs per video, outliers only in train and val."""
import numpy as np
import pytest

from trainer.synthetic import SyntheticSegments


@pytest.mark.parametrize("shape", ["bump", "saddle"])
def test_rows_are_segments_with_gifs_on_each_video(shape):
    config = SyntheticSegments(videos=10, positives_per_video=2, quality_shape=shape, seed=3)
    rows = config.rows()
    videos = {r["video_id"] for r in rows}
    assert len(videos) == 10
    for video in videos:
        mine = [r for r in rows if r["video_id"] == video]
        positives = [r for r in mine if r["label"] == 1]
        assert 1 <= len(positives) <= 2 and all(r["popularity"] is not None for r in positives)
        assert all(len(r["features"]) == 4096 and np.all(np.asarray(r["features"]) >= 0) for r in mine)
    again = config.rows()  # seeded
    assert all(np.array_equal(a["features"], b["features"]) and a["label"] == b["label"] for a, b in zip(rows, again))
    assert {r["split"] for r in rows} == {"train", "val", "test"}


def test_outliers_are_low_popularity_and_never_in_test():
    rows = SyntheticSegments(videos=40, outlier_share=1.0, outlier_popularity=(0.0, 0.3), seed=1).rows()
    positives = [r for r in rows if r["label"] == 1]
    assert all(r["popularity"] <= 0.3 for r in positives if r["split"] != "test")
    assert all(r["popularity"] >= 0.3 for r in positives if r["split"] == "test")


def test_unknown_quality_shape_is_refused():
    with pytest.raises(ValueError, match="quality_shape"):
        SyntheticSegments(quality_shape="ring").rows()
