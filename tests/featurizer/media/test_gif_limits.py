"""The GIF decoder's limits on generated structures (hypothesis) and on real bombs: a GIF either
decodes within the limits or is refused with a MediaError of a known kind, and every refusal of
the work it would take comes from the structure, before any image is decoded."""
import contextlib
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.gif_limits import big_canvas_gif, encoded_image, gif_file, lone_pixel_bomb
from featurizer.media import gif as gif_module
from featurizer.media.errors import DECOMPRESSION_BOMB, KINDS, UNREADABLE, MediaError
from featurizer.media.gif import GifReader, inspect_gif, read_gif
from tests.featurizer.media.test_media_readers import color_table, graphic_control, lzw_literals, sub_blocks

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Limits small enough for generated GIFs to reach them.
CANVAS_PIXELS = 24 * 24
DECODED_BYTES = 3 * CANVAS_PIXELS * 3  # three frames of the largest canvas
MAX_FRAMES = 6


def interlaced_rows(height):
    """The order an interlaced GIF stores rows in: every 8th from 0, every 8th from 4, every 4th from 2, odd."""
    return [*range(0, height, 8), *range(4, height, 8), *range(2, height, 4), *range(1, height, 2)]


def image_descriptor(left, top, width, height, pixels, local_colours, interlaced, min_code_size=2):
    """An image of any size, empty ones too (no pixel data but the end code); a minimum code size
    other than 2 makes its pixel data corrupt (12: no decoder accepts it)."""
    table, packed = color_table(local_colours) if local_colours else (b"", 0)
    rows = pixels[interlaced_rows(height)] if interlaced and height else pixels
    descriptor = struct.pack("<HHHHB", left, top, width, height, packed | (0x40 * interlaced))
    return b"," + descriptor + table + bytes([min_code_size]) + sub_blocks(lzw_literals(rows, 2))


@st.composite
def images(draw, canvas_width, canvas_height):
    """An image mostly on the canvas, sometimes anywhere, with or without its graphic control."""
    anywhere = draw(st.integers(0, 4)) == 0
    width = draw(st.integers(0, 40 if anywhere else canvas_width + 2))
    height = draw(st.integers(0, 40 if anywhere else canvas_height + 2))
    left = draw(st.integers(0, 40 if anywhere else canvas_width))
    top = draw(st.integers(0, 40 if anywhere else canvas_height))
    pixels = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, 4, (height, width))
    control = draw(st.none() | st.builds(graphic_control, st.integers(0, 300), st.integers(0, 7),
                                         st.none() | st.integers(0, 3)))
    local = draw(st.none() | st.just([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]))
    block = image_descriptor(left, top, width, height, pixels, local, draw(st.booleans()),
                             draw(st.sampled_from([2] * 9 + [12])))
    return (control or b"") + block


@st.composite
def gif_structures(draw):
    """GIF bytes: a canvas, images on or off it, maybe cut short or followed by junk."""
    width, height = draw(st.integers(0, 30)), draw(st.integers(0, 30))
    blocks = draw(st.lists(images(width, height), max_size=MAX_FRAMES + 2))
    table, packed = color_table([(0, 0, 0), (255, 255, 255), (9, 9, 9), (90, 90, 90)])
    data = (b"GIF89a" + struct.pack("<HHBBB", width, height, packed, 0, 0) + table + b"".join(blocks)
            + draw(st.sampled_from([b";", b"", b"\x00junk"])))
    cut = draw(st.none() | st.none() | st.integers(0, len(data)))
    return data if cut is None else data[:cut]


class DecodeLog:
    """Pillow's Image.open, counted: the images the decoder hands it, and their pixels."""

    def __init__(self, monkeypatch):
        self.pixels = []
        opened = gif_module.Image.open

        def counted(*args, **kwargs):
            image = opened(*args, **kwargs)
            self.pixels.append(image.size[0] * image.size[1])
            return image

        monkeypatch.setattr(gif_module.Image, "open", counted)


@contextlib.contextmanager
def small_limits():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gif_module, "MAX_CANVAS_PIXELS", CANVAS_PIXELS)
        patch.setattr(gif_module, "MAX_GIF_DECODED_BYTES", DECODED_BYTES)
        yield DecodeLog(patch)


def outcome(read, data):
    try:
        return read(data), None
    except MediaError as error:
        return None, error


@SETTINGS
@given(data=gif_structures())
def test_a_gif_decodes_within_the_limits_or_is_refused_with_a_kind(data):
    with small_limits() as decoded:
        # The structure alone (inspect_gif's pass), under the frame cap the read below is given: with
        # different caps a GIF may be refused first for its frame count by one, for truncation by the other.
        info, refused = outcome(lambda d: GifReader(d, MAX_FRAMES).info(), data)
        assert decoded.pixels == []
        gif, failed = outcome(lambda d: read_gif(d, max_frames=MAX_FRAMES), data)
    if refused is not None:
        assert refused.kind in KINDS
        # What the structure refuses is refused before any image is decoded.
        assert failed is not None and failed.kind == refused.kind and decoded.pixels == []
        return
    if failed is not None:
        # A structure that passed (under the same limits) fails only on its pixel data.
        assert failed.kind == UNREADABLE
        return
    canvas = info.width * info.height
    assert gif.frames.shape == (info.num_frames, info.height, info.width, 3)
    assert gif.frames.nbytes <= DECODED_BYTES and canvas <= CANVAS_PIXELS
    # The work: no image decoded beyond the canvas by more than the canvas holds.
    assert len(decoded.pixels) <= info.num_frames and all(p <= 2 * canvas for p in decoded.pixels)


def test_the_lone_pixel_bomb_is_refused_at_its_first_image(monkeypatch):
    """3,000 images of 4096x4096 on a 1x1 canvas (the issue's 40 MB GIF): not one is decoded."""
    decoded = DecodeLog(monkeypatch)
    bomb = lone_pixel_bomb()
    for read in (inspect_gif, read_gif, GifReader):
        with pytest.raises(MediaError) as raised:
            read(bomb)
        assert raised.value.kind == DECOMPRESSION_BOMB
        assert "4096x4096 at (0, 0)" in raised.value.detail and "1x1 canvas" in raised.value.detail
    assert decoded.pixels == []


def test_an_image_may_reach_past_the_canvas_by_the_canvas_size():
    """Browsers clip an image to the canvas; one with as many pixels outside as the canvas holds is
    decoded and clipped, one more pixel outside is refused."""
    white = encoded_image(8, 6, 1)
    accepted = gif_file(6, 4, [white])  # 48 pixels, 24 of them shown, 24 outside
    assert read_gif(accepted).frames.shape == (1, 4, 6, 3) and (read_gif(accepted).frames == 255).all()
    shifted = gif_file(6, 4, [white[:1] + struct.pack("<H", 1) + white[3:]])  # left 1: 20 shown, 28 outside
    with pytest.raises(MediaError) as raised:
        inspect_gif(shifted)
    assert raised.value.kind == DECOMPRESSION_BOMB and "28 pixels outside the 6x4 canvas" in raised.value.detail


def test_frames_are_composited_on_one_canvas():
    """GifReader holds one canvas whatever the frame count: each frame is drawn over the last one."""
    reader = GifReader(big_canvas_gif(frames=4, side=64))
    seen = [(i, canvas.copy(), canvas) for i, canvas in reader.canvases()]
    assert [i for i, _, _ in seen] == [0, 1, 2, 3]
    assert all(np.shares_memory(seen[0][2], canvas) for _, _, canvas in seen)
    assert [int(copy[..., :3].max()) for _, copy, _ in seen] == [0, 255, 0, 255]  # black and white in turn
    assert not seen[0][2].flags.writeable
    picked = [i for i, _ in reader.canvases([3, 1])]
    assert picked == [1, 3]


def test_read_gif_equals_the_readers_canvases():
    data = big_canvas_gif(frames=3, side=40)
    frames = read_gif(data).frames
    reader = GifReader(data)
    assert reader.info() == inspect_gif(data)
    for i, canvas in reader.canvases():
        assert np.array_equal(frames[i], canvas[..., :3])
