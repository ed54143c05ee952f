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


def test_one_svm_per_category_orders_what_no_single_linear_ranker_can(tmp_path):
    from evaluation.pairwise import pairwise_accuracy
    from trainer.config import TrainConfig
    from trainer.export import Ranker
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
