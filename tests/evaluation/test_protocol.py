"""The per-video protocol: segment scores spread to frames, nMSD over GIFs, AP against their union."""
import pytest

from evaluation.protocol import Excluded, VideoResult, VideoTruth, bound_video, evaluate_video, frame_scores
from evaluation.summary import summarize


def test_frames_take_their_segments_score_and_the_rest_the_lowest():
    frames = frame_scores(10, [(0, 4), (3, 6), (8, 20)], [0.5, 0.2, -1.0])
    assert frames.tolist() == [0.5, 0.5, 0.5, 0.5, 0.2, 0.2, -2.0, -2.0, -1.0, -1.0]  # 3 overlaps: the best
    with pytest.raises(ValueError, match="2 scores for 3 segments"):
        frame_scores(10, [(0, 4), (3, 6), (8, 20)], [0.5, 0.2])


def test_a_video_by_hand():
    # 10 frames; segments [0,5) scores 0, [5,10) scores 1; one GIF on frames 6..8.
    truth = VideoTruth("v", 10, ((6, 9),))
    result = evaluate_video(truth, [(0, 5), (5, 10)], [0.0, 1.0])
    # GIF frames all score 1: threshold 1; 5 frames reach it; alpha |g| = 1.5 -> (5 - 1.5) / (10 - 1.5)
    assert result.nmsd == pytest.approx(3.5 / 8.5)
    assert result.average_precision == pytest.approx(3 / 5)  # one threshold recalls all 3 among 5 frames
    assert (result.frames, result.gifs, result.segments) == (10, 1, 2)
    two = evaluate_video(VideoTruth("v", 10, ((6, 9), (0, 2))), [(0, 5), (5, 10)], [0.0, 1.0])
    # The second GIF (frames 0, 1) scores 0: every frame reaches 0 -> (10 - 1) / (10 - 1) = 1
    assert two.nmsd == pytest.approx((3.5 / 8.5 + 1.0) / 2)


@pytest.mark.parametrize("truth, segments, reason", [
    (VideoTruth("a", 10, ()), [(0, 10)], "no aligned GIF"),
    (VideoTruth("b", 10, ((2, 4),)), [], "no scored segment"),
    (VideoTruth("c", 10, ((0, 10),)), [(0, 10)], "covers every frame"),
    (VideoTruth("d", 10, ((12, 15),)), [(0, 10)], "outside the video"),
])
def test_videos_the_protocol_cannot_score_are_excluded_with_a_reason(truth, segments, reason):
    with pytest.raises(Excluded, match=reason) as caught:
        evaluate_video(truth, segments, [0.0] * len(segments))
    assert caught.value.video_id == truth.video_id


def test_the_upper_bound_by_hand():
    # GIFs on frames 0..3 and 2..5 of 10. Scored by the first (1 on 0..3), the second's frames
    # score 1, 1, 0, 0: threshold 0.5, 4 frames reach it, alpha |g| = 2 -> (4 - 2) / (10 - 2).
    # AP: score 1 recalls 2 of 4 among 4 frames (0.5), score 0 all 4 among 10 (0.4) -> 0.45.
    # The second against the first: the same by symmetry.
    result = bound_video(VideoTruth("v", 10, ((0, 4), (2, 6))))
    assert result.nmsd == pytest.approx(0.25) and result.average_precision == pytest.approx(0.45)
    assert (result.gifs, result.segments, result.segment_scores) == (2, 0, ())
    # A third GIF far from both: 0 on its frames, so scored by it the others' summaries are every
    # frame (nMSD 1), and it is every frame of theirs.
    three = bound_video(VideoTruth("v", 20, ((0, 4), (2, 6), (14, 18))))
    assert 0.25 < three.nmsd < 1
    with pytest.raises(Excluded, match="one GIF"):
        bound_video(VideoTruth("w", 10, ((0, 4),)))
    with pytest.raises(Excluded, match="no aligned GIF"):
        bound_video(VideoTruth("w", 10, ()))


def test_summary_counts_every_video():
    results = [VideoResult(f"v{i}", nmsd, 0.2, 100, 1, 5) for i, nmsd in enumerate([0.1, 0.3, 0.5])]
    summary = summarize(results, [("x", "no aligned GIF"), ("y", "no aligned GIF")])
    assert summary["videos"] == 3 and summary["videos_excluded"] == 2
    assert summary["excluded_by_reason"] == {"no aligned GIF": 2}
    assert summary["nmsd"]["mean"] == pytest.approx(0.3) and summary["map"]["mean"] == pytest.approx(0.2)
    assert summary["nmsd"]["low"] < 0.3 < summary["nmsd"]["high"]
    assert summarize([], [("x", "no scored segment")])["nmsd"] is None
