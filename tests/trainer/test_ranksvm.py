"""The domain-specific rankSVM baseline: a linear SVM per category, exported as a ranker."""
import numpy as np
import pytest

from featurizer.dataset import table_store, tables
from featurizer.labels.context import CATEGORY_SLOTS, context_vector

pytestmark = pytest.mark.timeout(300)


def write_segments(path, videos_per_category=6, segments=8, seed=0, context_width=None):
    """Two categories ranked by feature 0 in opposite directions: Music's GIFs are its segments
    with the most of feature 0, Sports' those with the least. No one linear ranker orders both;
    one per category does."""
    rng = np.random.default_rng(seed)
    rows = []
    for category, sign in (("Music", 1.0), ("Sports", -1.0)):
        for v in range(videos_per_category):
            video_id = f"{category}-{v}"
            split = "train" if v < videos_per_category - 2 else "val" if v == videos_per_category - 2 else "test"
            features = rng.uniform(0, 0.1, (segments, tables.C3D_FEATURES)).astype(np.float32)
            features[:, 0] = rng.permutation(segments) + 1.0
            best = set(np.argsort(-sign * features[:, 0])[:2].tolist())
            for i in range(segments):
                context = context_vector(category, [], i * 2.0, segments * 2.0, i).tolist()
                rows.append({"video_id": video_id, "segment_index": i, "start_frame": i * 50,
                             "end_frame": (i + 1) * 50, "start_sec": i * 2.0, "end_sec": (i + 1) * 2.0, "fps": 25.0,
                             "video_num_frames": segments * 50, "label": int(i in best),
                             "gif_ids": [f"{video_id}-{i}"] if i in best else [], "popularity": 0.5 if i in best
                             else None, "popularity_raw": None, "popularity_source": None,
                             "features": features[i], "context": context[:context_width], "context_tags_from": None,
                             "split": split, "feature_extractor": "test"})
    table_store.write_single_file(tables.rows_to_arrow(tables.SEGMENTS, rows).to_batches(), tables.SEGMENTS.schema,
                                  str(path))
    return rows


def write_dataset(root, **kwargs):
    """write_segments' rows as a dataset's labels and features tables (one feature set), as featurize commits them."""
    from tests.rows import write_table

    labels, features = [], []
    for row in write_segments(root / "segments.parquet", **kwargs):
        sha = row["video_id"].encode().hex().ljust(64, "0")
        bounds = {k: row[k] for k in ("segment_index", "start_frame", "end_frame", "start_sec", "end_sec", "fps",
                                      "video_num_frames")}
        labels.append({"video_sha256": sha, "segmenter": "test-segmenter", "video_id": row["video_id"], **bounds,
                       **{k: row[k] for k in ("label", "gif_ids", "popularity", "context", "split")}})
        features.append({"video_sha256": sha, "segmenter": "test-segmenter", "feature_extractor": "test", **bounds,
                         "snippets": 1, "features": row["features"]})
    write_table(root, tables.LABELS, labels)
    write_table(root, tables.FEATURES, features)
    return labels


def test_one_svm_per_category_orders_what_no_single_linear_ranker_can(tmp_path):
    from trainer.config import TrainConfig
    from trainer.export import Ranker
    from trainer.pairwise import pairwise_accuracy
    from trainer.ranksvm import EVERY_CATEGORY, fit_ranksvm, model_view
    from trainer.training import Trainer

    write_segments(tmp_path / "segments.parquet")
    trainer = Trainer(TrainConfig(segments=str(tmp_path / "segments.parquet"), job_dir=str(tmp_path / "job"),
                                  loss="ranksvm", progress="log"))
    result = trainer.run()
    assert result.history[0]["pairs_by_category"] == {"2": 4 * 2 * 6, "4": 4 * 2 * 6}  # Music, Sports: slots 2, 4
    ranker = Ranker(result.model_dir)
    assert ranker.widths() == (tables.C3D_FEATURES, 51)
    test_videos = list(trainer.source.videos("test"))
    accuracy, pairs = pairwise_accuracy(lambda v: ranker.score(v.features, v.context), test_videos)
    assert (accuracy, pairs) == (1.0, 2 * 2 * 6)
    assert result.history[0]["val_pairwise_accuracy"] == 1.0
    # The export scores w[category] . x; without a category (none in training), the categories' mean.
    weights, _ = fit_ranksvm(trainer.source.videos("train"), trainer.arch)
    assert weights[2, 0] > 0 > weights[4, 0]
    np.testing.assert_allclose(weights[EVERY_CATEGORY], (weights[2] + weights[4]) / 2, rtol=1e-5, atol=1e-7)
    assert np.array_equal(weights[0], weights[EVERY_CATEGORY])  # a category never seen: the same
    video = test_videos[0]
    category = int(np.argmax(video.context[0, :CATEGORY_SLOTS]))
    expected = model_view(trainer.arch, video.features) @ weights[category]
    np.testing.assert_allclose(ranker.score(video.features, video.context), expected, rtol=1e-4, atol=1e-4)
    no_category = video.context.copy()
    no_category[:, :CATEGORY_SLOTS] = 0
    np.testing.assert_allclose(ranker.score(video.features, no_category),
                               model_view(trainer.arch, video.features) @ weights[EVERY_CATEGORY], rtol=1e-4, atol=1e-4)


def test_a_context_without_categories_is_a_clear_error(tmp_path):
    from trainer.config import TrainConfig
    from trainer.data import DataError
    from trainer.training import Trainer

    write_segments(tmp_path / "segments.parquet", context_width=3)
    trainer = Trainer(TrainConfig(segments=str(tmp_path / "segments.parquet"), job_dir=str(tmp_path / "job"),
                                  loss="ranksvm", progress="log"))
    with pytest.raises(DataError, match="category one-hot"):
        trainer.run()
    assert not trainer.job.finished()


def test_a_resumed_job_reads_the_context_a_fresh_one_reads(tmp_path):
    """A job resumed after its dataset's tables moved on reopens them at the versions it started on:
    with the same columns as a fresh start, so the rankSVM (which takes each video's category from
    its context, without --context) still finds its categories."""
    from tests.rows import write_table
    from trainer.config import TrainConfig
    from trainer.training import Trainer

    labels = write_dataset(tmp_path / "data")
    config = TrainConfig(dataset=str(tmp_path / "data"), job_dir=str(tmp_path / "job"), loss="ranksvm",
                         progress="log")
    fresh = Trainer(config)
    first = fresh.run()
    started_on = fresh.source.versions
    (tmp_path / "job" / "done.json").unlink()  # killed before it wrote done.json
    # The tables moved on since: a training video is gone from the latest labels.
    write_table(tmp_path / "data", tables.LABELS, [row for row in labels if row["video_id"] != "Music-0"])
    resumed = Trainer(config)
    assert resumed.source.versions != started_on
    result = resumed.run()
    assert resumed.source.versions == started_on
    assert resumed.source.context == fresh.source.context is True
    assert result.history[0]["pairs_by_category"] == first.history[0]["pairs_by_category"]
    assert result.history[0]["val_pairwise_accuracy"] == first.history[0]["val_pairwise_accuracy"] == 1.0
