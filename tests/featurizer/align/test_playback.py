"""How a GIF plays its span (featurizer.align.playback): pieces, their time axes, where they meet."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from featurizer.align import playback
from featurizer.align.aligner import FULL_FITTING_SHARE, MIN_FITTING_SHARE, fitting_evidence
from featurizer.align.playback import Piece

STARTS = np.arange(10) * 0.1
ENDS = STARTS + 0.1


def test_a_forward_piece_keeps_the_gif_clock():
    piece = Piece.of(STARTS, ENDS, 2, 6, False)
    assert list(piece.frames) == [2, 3, 4, 5] and np.allclose(piece.times, STARTS[2:6])
    assert piece.start == piece.origin == 0.2 and np.isclose(piece.duration, 0.4)  # until the next piece starts


def test_a_reversed_piece_runs_back_from_its_end():
    piece = Piece.of(STARTS, ENDS, 0, 10, True)
    assert list(piece.frames) == list(range(9, -1, -1))
    assert np.allclose(piece.times, np.arange(10) * 0.1) and piece.origin == 0.0 and np.isclose(piece.duration, 1.0)


@given(speed=st.floats(0.25, 4.0), offset=st.floats(0.0, 100.0), reversed_=st.booleans())
def test_a_pieces_video_line_reaches_what_its_fitted_line_says(speed, offset, reversed_):
    piece = Piece.of(STARTS, ENDS, 3, 8, reversed_)
    a, b = piece.video_line(speed, offset)
    fitted = offset + speed * piece.times  # each frame's start on the fitted axis
    playing = STARTS[piece.frames] if not reversed_ else ENDS[piece.frames]  # the same moment as played
    assert np.allclose(a + b * playing, fitted)
    begin, end = piece.video_moments(speed, offset)
    assert np.isclose(begin, a + b * piece.start) and np.isclose(end, a + b * (piece.start + piece.duration))


def test_a_boomerangs_lines_meet_at_the_turn():
    forward = Piece.of(STARTS, ENDS, 0, 5, False)
    backward = Piece.of(STARTS, ENDS, 5, 10, True)
    # video 10.0 s at the start, forward at 1x to 10.5 s at GIF time 0.5, then back to 10.0 s at 1.0
    first = forward.video_line(1.0, 10.0)
    second = backward.video_line(1.0, 10.0)
    assert np.isclose(playback.meeting_time(first, second), 0.5)
    assert playback.joined(first, second, (0.4, 0.5), 0.04)  # they meet at the switch
    assert not playback.joined(first, forward.video_line(1.0, 11.0), (0.4, 0.5), 0.04)  # a jump of 1 s
    assert playback.meeting_time((0.0, 1.0), (5.0, 1.0)) is None  # parallel: no turn


def test_directions_are_named_by_their_pieces():
    forward, backward = Piece.of(STARTS, ENDS, 0, 5, False), Piece.of(STARTS, ENDS, 5, 10, True)
    assert playback.direction([forward]) == playback.FORWARD
    assert playback.direction([backward]) == playback.REVERSE
    assert playback.direction([forward, backward]) == playback.BOOMERANG
    assert playback.direction([backward, forward]) == playback.REWIND_THEN_PLAY


def test_split_points_are_the_ends_of_the_longest_fitting_run():
    fitting = np.array([1] * 12 + [0] * 10 + [1] * 3, dtype=bool)
    assert playback.split_points(fitting) == [12]  # its start (0) leaves no piece before it
    assert playback.split_points(np.ones(20, bool)) == []


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_confidence_evidence_has_no_cliff(a, b):
    """Evidence grows with the fitting share, from 0 at the acceptance threshold: no jump anywhere."""
    low, high = sorted((a, b))
    assert fitting_evidence(low) <= fitting_evidence(high)
    slope = 1 / (FULL_FITTING_SHARE - MIN_FITTING_SHARE)
    assert fitting_evidence(high) - fitting_evidence(low) <= slope * (high - low) + 1e-9
    assert fitting_evidence(MIN_FITTING_SHARE) == 0.0 and fitting_evidence(FULL_FITTING_SHARE) == 1.0
