"""Seamless loops inside a segment, and GIFs written at the product's size, rate and loop."""
import numpy as np
import pytest
from PIL import Image

from featurizer.gifs.loops import seamless_loop, thumbnails
from featurizer.gifs.writer import frame_step, gif_size, write_gif


def pan(n, width=64, height=48, period=None):
    """A bright bar moving right one step a frame; with `period`, it comes back every `period` frames."""
    frames = np.zeros((n, height, width, 3), np.uint8)
    for i in range(n):
        x = (i % period if period else i) * 4 % width
        frames[i, :, x:x + 8] = 255
    return frames


def test_the_loop_returns_to_where_it_started():
    frames = pan(20, period=8)  # frames 0, 8, 16 are the same picture
    choice = seamless_loop(frames, min_share=0.6)
    # spans of at least 12 frames ending on a copy of their first: 0..16 is the longest
    assert (choice.start, choice.stop, choice.jump) == (0, 17, 0.0)
    assert choice.naive_jump == pytest.approx(np.abs(thumbnails(frames[19:]) - thumbnails(frames[:1])).mean())
    assert choice.naive_jump > 0.1


def test_a_still_segment_keeps_every_frame():
    frames = np.full((10, 16, 16, 3), 90, np.uint8)
    choice = seamless_loop(frames)
    assert (choice.start, choice.stop, choice.jump, choice.naive_jump) == (0, 10, 0.0, 0.0)


def test_thumbnails_are_block_means():
    frames = np.zeros((1, 64, 64, 3), np.uint8)
    frames[0, :32] = 255
    thumb = thumbnails(frames).reshape(32, 32)
    assert thumb[:16].tolist() == [[1.0] * 32] * 16 and thumb[16:].tolist() == [[0.0] * 32] * 16


@pytest.mark.parametrize("fps, step", [(25, 2), (30, 2), (24, 2), (60, 5), (50, 4), (12, 1), (8, 1)])
def test_gif_frame_rates_stay_between_10_and_15(fps, step):
    assert frame_step(fps) == step
    assert fps / step <= 15 and (fps / step >= 10 or step == 1)


def test_a_written_gif_loops_at_its_size(tmp_path):
    path = tmp_path / "clip.gif"
    write_gif(pan(12, width=640, height=360), 12.5, str(path))
    with Image.open(path) as gif:
        assert gif.size == gif_size(640, 360) == (480, 270)
        assert gif.n_frames == 12 and gif.info["loop"] == 0
        assert gif.info["duration"] == 80  # 12.5 fps
