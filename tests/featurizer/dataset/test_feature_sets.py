"""The feature-set reader: which sets the features table holds, the one a command reads, and one video's
segments with their fc6, as the trainer, the evaluation and predict-dataset all read them."""
import numpy as np
import pytest

from featurizer.dataset import table_store, tables
from featurizer.dataset.feature_sets import (
    FeatureSet,
    FeatureSetError,
    NoFeaturesYet,
    choose_feature_set,
    held_feature_sets,
    read_segment_features,
)
from tests.rows import EXTRACTOR, SEGMENTER, feature_rows, write_table


def _sha(video: int) -> str:
    return f"{video:064x}"


@pytest.fixture
def two_sets(tmp_path):
    """Videos 1 and 2 featurized by EXTRACTOR, video 1 also by "other"."""
    rows = feature_rows(1, 3) + feature_rows(2, 4, without_snippets=(0, 2)) + feature_rows(1, 2, extractor="other")
    write_table(str(tmp_path), tables.FEATURES, rows)
    return str(tmp_path)


def test_the_sets_a_table_holds(two_sets):
    assert held_feature_sets(two_sets) == [(SEGMENTER, EXTRACTOR), (SEGMENTER, "other")]


def test_a_named_set_and_its_files(two_sets):
    chosen = choose_feature_set(two_sets, feature_extractor=EXTRACTOR)
    files = table_store.snapshot(two_sets, tables.FEATURES).files
    assert chosen == FeatureSet(SEGMENTER, EXTRACTOR, {
        _sha(v): tables.features_file_name(_sha(v), SEGMENTER, EXTRACTOR) for v in (1, 2)})
    assert set(chosen.files.values()) <= {f.path for f in files}
    other = choose_feature_set(two_sets, SEGMENTER, "other")
    assert (other.feature_extractor, list(other.files)) == ("other", [_sha(1)])


def test_a_choice_that_leaves_none_or_several_is_an_error(two_sets, tmp_path):
    with pytest.raises(FeatureSetError, match="several feature sets; choose one of --segmenter "):
        choose_feature_set(two_sets)
    with pytest.raises(FeatureSetError, match="several feature sets") as several:
        choose_feature_set(two_sets, segmenter=SEGMENTER)
    assert "--feature-extractor other" in str(several.value)
    with pytest.raises(FeatureSetError, match="no features of segmenter 'nope' and extractor None; the table has "
                                              "--segmenter"):
        choose_feature_set(two_sets, segmenter="nope")
    assert isinstance(FeatureSetError("x"), ValueError)  # a command's one-line error
    empty = str(tmp_path / "empty")
    with pytest.raises(NoFeaturesYet, match="holds no features yet; run gifrank featurize first"):
        choose_feature_set(empty)
    with pytest.raises(FeatureSetError, match="no features of segmenter None and extractor 'e'; the table has none"):
        choose_feature_set(empty, feature_extractor="e")


def test_one_videos_segments_with_features(two_sets):
    chosen = choose_feature_set(two_sets, feature_extractor=EXTRACTOR)
    whole = read_segment_features(two_sets, chosen.files[_sha(1)])
    assert [s["segment_index"] for s in whole.segments] == [0, 1, 2]
    assert whole.segments[1] == {"segment_index": 1, "start_frame": 20, "end_frame": 40, "start_sec": 0.8,
                                 "end_sec": 1.6, "fps": 25.0, "video_num_frames": 60}
    assert whole.features.dtype == np.float32 and whole.features.shape == (3, tables.C3D_FEATURES)
    assert np.array_equal(whole.features[:, 0], [100, 101, 102]) and np.array_equal(whole.features[:, -1],
                                                                                    [100, 101, 102])
    part = read_segment_features(two_sets, chosen.files[_sha(2)])  # segments 0 and 2 had no snippet
    assert [s["segment_index"] for s in part.segments] == [1, 3] and part.index_of() == {1: 0, 3: 1}
    assert part.features.shape == (2, tables.C3D_FEATURES) and np.array_equal(part.features[:, 5], [201, 203])
    assert not whole.features.flags.writeable and not part.features.flags.writeable  # read-only, copied or not
    narrow = read_segment_features(two_sets, chosen.files[_sha(2)], bounds=["start_sec"])
    assert narrow.segments == [{"segment_index": 1, "start_sec": 0.8}, {"segment_index": 3, "start_sec": 0.8 * 3}]
    assert np.array_equal(narrow.stored_features[narrow.stored_rows], part.features)
