"""Labels from GIFs, alignments and segment boundaries, against numbers worked out by hand here."""
import datetime as dt
import math

import pytest

from featurizer.labels.segment_labels import SplitRule, label_rows
from featurizer.labels.video_jobs import video_job

SPLIT = SplitRule((1.0, 0.0, 0.0))  # everything in train: the split is tested below
FPS = 25.0
# Five segments of 50 frames (2 s each): [0, 50), [50, 100), ..., [200, 250).
BOUNDS = [{"segment_index": i, "start_frame": 50 * i, "end_frame": 50 * i + 50, "start_sec": 2.0 * i,
           "end_sec": 2.0 * i + 2.0, "fps": FPS, "video_num_frames": 260, "segmenter": "s"} for i in range(5)]


def _gif(gif_id, views=None, source="siteA", **extra):
    return {"gif_id": gif_id, "video_id": "v", "video_url": "http://x/v.mp4", "source": source, "views": views,
            "upload_date": dt.date(2026, 1, 1) if views is not None else None,
            "scraped_at": dt.datetime(2026, 1, 11, tzinfo=dt.timezone.utc), "category": None, "tags": [],
            **extra}


def _alignment(gif_id, start, end, confidence=0.9):
    return {"gif_id": gif_id, "start_frame": start, "end_frame": end, "confidence": confidence}


def _labels(gifs, alignments, scores):
    job = video_job("sha", gifs, alignments)
    rows, dropped = label_rows(job, BOUNDS, scores, SPLIT)
    return job, {r["segment_index"]: r for r in rows}, dropped


def test_labels_gif_ids_and_why_gifs_gave_no_positive():
    gifs = [_gif("a", views=90), _gif("b"), _gif("c"), _gif("d")]
    alignments = [
        _alignment("a", 0, 45),     # 45 of segment 0's 50 frames: 90% > 66%, positive
        _alignment("b", 75, 125),   # 25 frames of segments 1 and 2 each: 50%, long enough but split
        _alignment("c", 160, 170),  # 10 of segment 3's 50: 20%, too short for it
        _alignment("d", 250, 258),  # past the last segment: in a shot under 16 frames
    ]
    # siteA's raw scores; a's is log(1 + 90 / 10 days) = log(10), the third of four: p = (2 + 0.5) / 4
    scores = {"siteA": sorted([1.0, 2.0, math.log(10.0), 4.0]), "siteB": [0.5]}
    _job, rows, dropped = _labels(gifs, alignments, scores)
    assert [rows[i]["label"] for i in range(5)] == [1, -1, -1, -1, 0]
    assert [rows[i]["gif_ids"] for i in range(5)] == [["a"], ["b"], ["b"], ["c"], []]
    assert rows[0]["popularity"] == pytest.approx(0.625)
    assert rows[0]["popularity_raw"] == pytest.approx(math.log(10.0))
    assert rows[0]["popularity_source"] == "siteA"
    assert all(rows[i]["popularity"] is None for i in range(1, 5))
    assert dropped == {"gifs_without_positive_across_segments": 1, "gifs_without_positive_short_for_its_segment": 1,
                       "gifs_without_positive_in_short_shot": 1}
    # Context of segment 2: no category, no tags, then 4 s = 4/60 min, 4 s of 260 / 25 = 10.4 s, index 2 / 100
    assert rows[2]["context"][:48] == [0.0] * 48
    assert rows[2]["context"][48:] == pytest.approx([4 / 60, 4 / 10.4, 0.02], rel=1e-6)
    assert {r["split"] for r in rows.values()} == {"train"}


def test_unknown_popularity_is_null_not_least_popular():
    _job, rows, _dropped = _labels([_gif("a")], [_alignment("a", 0, 50)], {"siteA": [1.0, 2.0]})
    assert rows[0]["label"] == 1 and rows[0]["popularity"] is None and rows[0]["popularity_raw"] is None


def test_popularity_is_normalised_within_the_gifs_source():
    # The same raw score is the top of siteB's GIFs and the bottom of siteA's.
    gifs = [_gif("a", views=90, source="siteB")]
    _job, rows, _dropped = _labels(gifs, [_alignment("a", 0, 50)], {"siteA": [5.0, 6.0], "siteB": [1.0, math.log(10)]})
    assert rows[0]["popularity"] == pytest.approx((1 + 0.5) / 2)


def test_unsure_alignments_give_way_to_published_ones_and_unaligned_gifs_void_negatives():
    gifs = [_gif("sure"), _gif("published", published_start_sec=8.0, published_end_sec=9.6), _gif("lost")]
    alignments = [_alignment("sure", 0, 50), _alignment("published", 100, 150, confidence=0.05),
                  _alignment("lost", 50, 100, confidence=0.02)]
    job, rows, dropped = _labels(gifs, alignments, {})
    assert job.low_confidence_gifs == 2 and job.untrusted_gifs == ("lost",)
    # "published": 8.0 s to 9.6 s at 25 fps is frames [200, 240): 80% of segment 4
    assert rows[4]["label"] == 1 and rows[4]["gif_ids"] == ["published"]
    assert rows[0]["label"] == 1 and rows[2]["gif_ids"] == []  # the unsure alignment at [100, 150) is not used
    # "lost" may lie anywhere: the would-be negatives (segments 1, 2, 3) are ignored, and counted
    assert [rows[i]["label"] for i in (1, 2, 3)] == [-1, -1, -1]
    assert dropped["negatives_dropped_for_unaligned_gifs"] == 3


def test_the_published_split_puts_listed_videos_in_test_and_hashes_the_rest(tmp_path):
    import hashlib

    from featurizer.labels.segment_labels import read_video_list

    listed = tmp_path / "testset.txt"
    listed.write_text("# the published test videos\n007f_EMcxQM\n\n02ZxM-bEzXM\n")
    rule = SplitRule((0.8, 0.1, 0.1), read_video_list(str(listed)))
    assert rule("007f_EMcxQM") == rule("02ZxM-bEzXM") == "test"
    for video in ("a", "b", "c", "d", "e", "f"):
        u = int.from_bytes(hashlib.sha1(video.encode()).digest()[:8], "big") / 2**64
        assert rule(video) == ("train" if u < 0.8 / 0.9 else "val")  # train and val in 8:1, no test


@pytest.mark.parametrize("rows, tags, tags_from", [
    ([_gif("a", tags=["x"], video_tags=["own", "b"]), _gif("b", tags=["y"])], ["b", "own"], "video"),
    ([_gif("a", tags=["x"]), _gif("b", tags=["y", "x"])], ["x", "y"], "gifs"),
    ([_gif("a")], [], "none"),
])
def test_context_tags_are_the_videos_own_where_the_source_has_them(rows, tags, tags_from):
    job = video_job("sha", rows, [_alignment("a", 0, 50)])
    assert (list(job.tags), job.tags_from) == (tags, tags_from)
    rows_out, _dropped = label_rows(job, BOUNDS, {}, SPLIT)
    assert {r["context_tags_from"] for r in rows_out} == {tags_from}
