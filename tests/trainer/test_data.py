"""The trainer's input: videos streamed from Parquet shards, pairs per video, bad input named by file and row."""
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trainer.data import (
    DataError,
    PairSettings,
    SegmentSource,
    VideoCounts,
    epoch_dataset,
    epoch_examples,
    read_ahead,
    sample_pairs,
    video_rng,
)

WIDTH = 4096


def segment_table(rows):
    """rows: (video_id, label, popularity, split, feature value) -> a table with the columns the trainer reads."""
    features = np.array([np.full(WIDTH, r[4], np.float32) for r in rows])
    return pa.table({
        "video_id": [r[0] for r in rows], "segment_index": list(range(len(rows))),
        "label": pa.array([r[1] for r in rows], pa.int8()), "popularity": pa.array([r[2] for r in rows], pa.float32()),
        "features": pa.FixedSizeListArray.from_arrays(pa.array(features.reshape(-1)), WIDTH),
        "split": [r[3] for r in rows], "context": [[float(r[4]), 1.0] for r in rows],
    })


ROWS = ([("a", 1, 0.9, "train", 1.0), ("a", 0, None, "train", 2.0), ("a", 0, None, "train", 3.0)]
        + [("b", 1, None, "train", 4.0)] + [("b", 0, None, "train", 5.0 + i) for i in range(6)]
        + [("c", 0, None, "train", 20.0), ("d", 1, 0.2, "val", 30.0), ("d", 0, None, "val", 31.0)])


@pytest.fixture
def shards(tmp_path):
    folder = tmp_path / "segments"
    folder.mkdir()
    table = segment_table(ROWS)
    pq.write_table(table.slice(0, 5), folder / "part-0.parquet")  # video b spans the two files
    pq.write_table(table.slice(5), folder / "part-1.parquet")
    return folder


def test_videos_come_whole_and_by_split(shards):
    source = SegmentSource.open(segments=str(shards))
    videos = list(source.videos("train"))
    assert [v.video_id for v in videos] == ["a", "b", "c"]
    b = videos[1]
    assert b.labels.tolist() == [1, 0, 0, 0, 0, 0, 0]
    assert b.features.shape == (7, WIDTH) and b.features.dtype == np.float32
    assert b.features[:, 0].tolist() == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert math.isnan(b.popularity[0])
    assert [v.video_id for v in source.videos("val")] == ["d"]
    assert source.versions == {"segments_files": [str(shards / "part-0.parquet"), str(shards / "part-1.parquet")]}


def test_segments_may_be_a_glob_pattern(shards):
    """--segments 'dir/*.parquet', as Beam and TensorFlow users pass shards: the matching files, in order."""
    (shards / "_SUCCESS").write_bytes(b"")  # what a pattern leaves out
    (shards / "part-9.parquet.crc").write_bytes(b"")
    source = SegmentSource.open(segments=str(shards / "*.parquet"))
    assert [v.video_id for v in source.videos("train")] == ["a", "b", "c"]
    assert source.versions == {"segments_files": [str(shards / "part-0.parquet"), str(shards / "part-1.parquet")]}
    assert [v.video_id for v in SegmentSource.open(segments=str(shards / "part-[1].parquet")).videos()] == [
        "b", "c", "d"]
    with pytest.raises(FileNotFoundError, match=r"\*\.csv: no file matches"):
        SegmentSource.open(segments=str(shards / "*.csv"))


@pytest.mark.timeout(120)
def test_segments_on_gcs_by_folder_and_pattern(shards, gcs_bucket):
    from featurizer.dataset.storage import DatasetRoot

    root = DatasetRoot.open(gcs_bucket + "/exports")
    for shard in sorted(shards.iterdir()):
        root.write_bytes(shard.read_bytes(), "segments", shard.name)
    for segments in (root.uri_of("segments"), root.uri_of("segments", "part-*.parquet")):
        source = SegmentSource.open(segments=segments)
        assert [v.video_id for v in source.videos("train")] == ["a", "b", "c"]
        assert source.versions == {"segments_files": [f"{gcs_bucket}/exports/segments/part-{i}.parquet"
                                                      for i in (0, 1)]}


def test_median_popularity_of_known_training_positives(shards):
    statistics = SegmentSource.open(segments=str(shards)).statistics("train")
    assert statistics.median_popularity == pytest.approx(0.9)  # b's is null
    assert (statistics.videos, statistics.segments, statistics.context_dim) == (3, 11, 0)
    # features of a: 1, 2, 3; b: 4..10; c: 20 -> mean (6 + 49 + 20) / 11, all positive so |x| the same
    assert statistics.mean[0] == pytest.approx(75 / 11) and statistics.mean_absolute == pytest.approx(75 / 11)


def test_every_positive_meets_k_sampled_negatives_of_its_video():
    labels = np.array([1, 0, 0, 1, 0, 0, 0, 0, -1, 0], np.int8)
    video = type("V", (), {"labels": labels})
    positive, negative = sample_pairs(video, 4, np.random.default_rng(0))
    assert len(positive) == 2 * 4
    assert sorted(set(positive.tolist())) == [0, 3]
    chosen = sorted(set(negative.tolist()))
    assert len(chosen) == 4 and set(chosen) <= {1, 2, 4, 5, 6, 7, 9}  # negatives only, never the ignored 8
    for p in (0, 3):  # exhaustive: each positive with each chosen negative
        assert sorted(negative[positive == p].tolist()) == chosen
    few = sample_pairs(type("V", (), {"labels": np.array([1, 0, 0], np.int8)}), 4, np.random.default_rng(0))
    assert few[1].tolist() == [1, 2]  # fewer than k negatives: all of them


def test_epoch_pairs_are_seeded_by_video_and_epoch(shards):
    source = SegmentSource.open(segments=str(shards))

    def first_epoch_pairs(epoch):
        counts = VideoCounts()
        examples = list(epoch_examples(source, PairSettings(seed=3), 0, epoch, 0.5, counts))
        return examples, counts

    examples, counts = first_epoch_pairs(0)
    again, _ = first_epoch_pairs(0)
    later, _ = first_epoch_pairs(1)
    assert counts.as_dict() == {"videos": 3, "skipped_no_positive": 1, "skipped_no_negative": 0, "pairs": 2 + 4}
    a, b = examples
    assert a["positive"][:, 0].tolist() == [1.0, 1.0] and sorted(a["negative"][:, 0].tolist()) == [2.0, 3.0]
    assert b["popularity"].tolist() == [0.5] * 4  # unknown: the median given
    assert a["popularity"].tolist() == pytest.approx([0.9, 0.9])
    assert all(np.array_equal(x["negative"], y["negative"]) for x, y in zip(examples, again))
    drawn = sample_pairs(type("V", (), {"labels": np.array([1] + [0] * 6, np.int8)}), 4, video_rng(3, 0, 0, "b"))
    assert sorted(b["negative"][:, 0].tolist()) == sorted((4.0 + drawn[1]).tolist())
    assert any(not np.array_equal(x["negative"], y["negative"]) for x, y in zip(examples, later))


def test_epoch_batches_hold_each_pair_once_in_full_batches(shards):
    source = SegmentSource.open(segments=str(shards))
    settings = PairSettings(seed=3, batch_pairs=4, shuffle_buffer=3)  # blocks of about 3 pairs: batches span them
    expected = sorted((p, n) for e in epoch_examples(source, settings, 0, 0, 0.5, VideoCounts())
                      for p, n in zip(e["positive"][:, 0], e["negative"][:, 0]))
    batches = list(epoch_dataset(source, settings, 0, 0, 0.5, 0, VideoCounts()).as_numpy_iterator())
    assert [len(b["positive"]) for b in batches] == [4, 2]  # 6 pairs
    assert sorted((p, n) for b in batches for p, n in zip(b["positive"][:, 0], b["negative"][:, 0])) == expected
    again = list(epoch_dataset(source, settings, 0, 0, 0.5, 0, VideoCounts()).as_numpy_iterator())
    assert all(np.array_equal(x["negative"], y["negative"]) for x, y in zip(batches, again))


def test_read_ahead_keeps_order_and_raises_where_reading_failed():
    assert list(read_ahead(iter(range(5)), depth=2)) == [0, 1, 2, 3, 4]

    def failing():
        yield 1
        raise DataError("part-3.parquet: row 7: features hold NaN or inf")

    items = read_ahead(failing())
    assert next(items) == 1
    with pytest.raises(DataError, match="row 7"):
        next(items)


def test_missing_columns_are_named(tmp_path):
    pq.write_table(segment_table(ROWS).drop_columns(["popularity"]), tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=r"bad\.parquet: missing columns popularity"):
        list(SegmentSource.open(segments=str(tmp_path / "bad.parquet")).videos())


def test_wrong_feature_width_and_non_finite_features_name_file_and_row(tmp_path):
    table = segment_table(ROWS)
    narrow = table.set_column(table.schema.get_field_index("features"), "features",
                              pa.array([[1.0] * 100] * len(ROWS), pa.list_(pa.float32())))
    pq.write_table(narrow, tmp_path / "narrow.parquet")
    with pytest.raises(DataError, match=r"narrow\.parquet: row 0: features has 100 values, expected 4096"):
        list(SegmentSource.open(segments=str(tmp_path / "narrow.parquet")).videos())
    rows = list(ROWS)
    rows[5] = ("b", 0, None, "train", float("nan"))
    pq.write_table(segment_table(rows), tmp_path / "nan.parquet")
    with pytest.raises(DataError, match=r"nan\.parquet: row 5: features hold NaN or inf"):
        list(SegmentSource.open(segments=str(tmp_path / "nan.parquet")).videos())


def test_a_video_split_across_the_file_is_refused(tmp_path):
    rows = ROWS[:2] + ROWS[3:5] + ROWS[2:3]  # a, a, b, b, a
    pq.write_table(segment_table(rows), tmp_path / "mixed.parquet")
    with pytest.raises(DataError, match="segments of video a are not contiguous"):
        list(SegmentSource.open(segments=str(tmp_path / "mixed.parquet")).videos())


def test_one_source_is_required(tmp_path):
    with pytest.raises(ValueError, match="one of --dataset"):
        SegmentSource.open()
    with pytest.raises(FileNotFoundError):
        SegmentSource.open(segments=str(tmp_path / "none"))
