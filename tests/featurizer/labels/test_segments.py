"""Segments and labels against hand-computed cases (the paper's 66% rule)."""
import pytest

from featurizer.labels.segments import GifSpan, Segment, label_segment, segments_from_shots, split_shot

# The labels table's encoding (featurizer/dataset/tables.py): written here, not taken from the code under test.
POSITIVE, NEGATIVE, IGNORED = 1, 0, -1


def test_long_shots_split_into_equal_pieces_of_at_most_max():
    # 25 fps, 6 s max = 150 frames; a 400-frame shot -> 3 pieces of 133/134 frames
    assert split_shot(100, 500, 150) == [(100, 233), (233, 367), (367, 500)]
    assert split_shot(0, 150, 150) == [(0, 150)]


def test_short_shots_and_minimum_length():
    assert split_shot(0, 15, 150) == []  # shorter than C3D's 16 frames
    assert split_shot(0, 16, 150) == [(0, 16)]
    assert split_shot(0, 40, 16) == [(0, 20), (20, 40)]  # never a piece under 16 frames


def test_segments_are_numbered_across_shots():
    segments = segments_from_shots([(0, 10), (10, 200), (200, 260)], fps=25, max_segment_sec=6)
    assert segments == [Segment(0, 10, 105), Segment(1, 105, 200), Segment(2, 200, 260)]
    with pytest.raises(ValueError):
        segments_from_shots([(0, 100)], fps=0)


@pytest.mark.parametrize("gif_span, label", [
    ((0, 67), POSITIVE),     # covers 67 of 100 frames: 67% > the paper's 66%
    ((0, 66), IGNORED),      # exactly 66%: not more than 66%
    ((90, 300), IGNORED),    # overlaps 10 frames
    ((100, 300), NEGATIVE),  # touches the end, no overlap
    ((-50, 200), POSITIVE),  # covers it all
])
def test_overlap_rule(gif_span, label):
    segment = Segment(0, 0, 100)
    labelled = label_segment(segment, [GifSpan("g", *gif_span, popularity=0.3)])
    assert labelled.label == label
    assert labelled.popularity == (0.3 if label == POSITIVE else None)


def test_positive_takes_the_most_popular_covering_gif():
    labelled = label_segment(Segment(0, 0, 100), [GifSpan("a", 0, 100, 0.2), GifSpan("b", 10, 90, 0.9),
                                                  GifSpan("c", 90, 200, 1.0)])
    assert labelled.label == POSITIVE
    assert labelled.gif_ids == ("a", "b")
    assert labelled.popularity == 0.9
