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


def test_test_gifs_by_several_users_agree_without_noise():
    agreed = SyntheticSegments(videos=10, test_creators=5, creator_noise=0.0, seed=2).rows()
    noisy = SyntheticSegments(videos=10, test_creators=5, creator_noise=3.0, seed=2).rows()
    for rows in (agreed, noisy):
        test = {r["video_id"] for r in rows if r["split"] == "test"}
        assert test and all(sum(len(r["gif_ids"]) for r in rows if r["video_id"] == v) == 5 for v in test)
    # No noise: every user picks the video's best segment; with noise they spread out.
    assert all(len(r["gif_ids"]) == 5 for r in agreed if r["split"] == "test" and r["label"] == 1)
    assert (sum(r["label"] for r in noisy if r["split"] == "test")
            > sum(r["label"] for r in agreed if r["split"] == "test"))
    train = [r for r in agreed if r["split"] == "train" and r["label"] == 1]  # train GIFs as before
    assert train and all(len(r["gif_ids"]) == 1 for r in train)


def test_context_holds_the_category_and_the_position_as_the_labels_stage_does():
    from featurizer.labels.context import CATEGORY_SLOTS, CONTEXT_SIZE

    config = SyntheticSegments(videos=6, categories=3, segments_per_video=(5, 5), seed=0)
    for row in config.rows():
        category = config.category(row["video_id"])
        assert len(row["context"]) == CONTEXT_SIZE
        assert row["context"][:CATEGORY_SLOTS] == [float(c == category) for c in range(CATEGORY_SLOTS)]
        assert row["context"][-2] == pytest.approx(row["segment_index"] / 5)  # start / duration
    assert [config.category(f"synthetic-{v:05d}") for v in range(4)] == [0, 1, 2, 0]
    with pytest.raises(ValueError, match="categories"):
        SyntheticSegments(categories=16).rows()


def test_a_video_spread_sets_videos_apart():
    def between_over_within(spread):
        rows = SyntheticSegments(videos=20, video_spread=spread, seed=4).rows()
        by_video = {}
        for r in rows:
            by_video.setdefault(r["video_id"], []).append(np.asarray(r["features"]))
        means = np.array([np.mean(f, axis=0) for f in by_video.values()])
        within = np.mean([np.var(f, axis=0).mean() for f in by_video.values()])
        return np.var(means, axis=0).mean() / within

    assert between_over_within(2.0) > 3 * between_over_within(0.0)
