"""GIFs as sites make them (demo_world.web_gifs): each style's file is what its truth says.

Frames are synthetic so each is told apart for sure: a static textured background with a
textured disc crossing it. Every GIF is decoded as browsers show it (featurizer.media.gif) and
each of its frames matched to the video frame it looks most like; the structure (disposal,
transparency, palette) is read with Pillow."""
import shutil
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from demo_world import web_gifs
from demo_world.web_gifs import STYLES, GifStyle
from featurizer.media.gif import read_gif

pytestmark = pytest.mark.timeout(300)
FPS = 25.0
COUNT, W, H = 30, 240, 136
START_SEC = 3.0
NEEDS_TOOLS = pytest.mark.skipif(not (shutil.which("gifsicle") and shutil.which("convert")),
                                 reason="gifsicle and ImageMagick come with `make test` (make media-tools)")


def _texture(rng, h, w, cell):
    small = rng.integers(0, 256, size=(h // cell + 2, w // cell + 2, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w + 2 * cell, h + 2 * cell), Image.Resampling.BICUBIC))[:h, :w]


def synthetic_frames():
    rng = np.random.default_rng(0)
    background = _texture(rng, H, W, 24)
    disc = _texture(rng, 64, 64, 8)
    yy, xx = np.mgrid[:64, :64]
    inside = (yy - 31.5) ** 2 + (xx - 31.5) ** 2 <= 31 ** 2
    out = np.repeat(background[None], COUNT, axis=0)
    for i in range(COUNT):
        x, y = 6 + 5 * i, 36 + int(30 * np.sin(i / 6))
        out[i, y:y + 64, x:x + 64][inside] = disc[inside]
    return out


@pytest.fixture(scope="module")
def frames():
    return synthetic_frames()


@pytest.fixture(scope="module")
def made(frames, tmp_path_factory):
    """Every style's GIF of the frames, made once: name -> (path, truth)."""
    root = tmp_path_factory.mktemp("web-gifs")
    tools = shutil.which("gifsicle") and shutil.which("convert")
    return {name: (root / f"{name}.gif", style.make(frames, FPS, root / f"{name}.gif", start_sec=START_SEC))
            for name, style in STYLES.items() if tools or style.optimiser is None}


def _shown(path, style: GifStyle, frames) -> list[int]:
    """Which input frame each frame of the style's GIF looks most like."""
    references = np.stack([np.asarray(style.picture(f, 0, 1), dtype=np.float32) for f in frames])
    shown = read_gif(path).frames.astype(np.float32)
    assert shown.shape[1:] == references.shape[1:]
    return [int(np.argmin(np.abs(references - f).mean(axis=(1, 2, 3)))) for f in shown]


@pytest.mark.parametrize("name", sorted(STYLES))
def test_a_gif_shows_the_frames_and_timing_its_truth_says(name, made, frames):
    if name not in made:
        pytest.skip("gifsicle and ImageMagick come with `make test` (make media-tools)")
    path, truth = made[name]
    gif = read_gif(path)
    assert gif.num_frames == truth.num_frames
    assert gif.duration_sec == pytest.approx(truth.duration_sec, abs=0.011)
    assert _shown(path, STYLES[name], frames) == list(truth.video_frames)
    used = sorted(set(truth.video_frames))
    assert truth.start_sec == pytest.approx(START_SEC + used[0] / FPS)
    assert START_SEC + (used[-1] + 1) / FPS <= truth.end_sec + 1e-9 <= START_SEC + COUNT / FPS + 1e-9


def test_forward_styles_cover_all_frames_given_at_their_speed(made):
    for name in ("plain_ffmpeg", "plain_pillow", "reverse", "boomerang", "half_speed", "duplicated_frames"):
        _path, truth = made[name]
        assert (truth.start_sec, truth.end_sec) == pytest.approx((START_SEC, START_SEC + COUNT / FPS)), name
    plain = made["plain_ffmpeg"][1]
    assert plain.direction == "forward" and plain.speed == plain.end_speed == 1.0
    assert plain.duration_sec == pytest.approx(COUNT / FPS, abs=0.011)


def test_reverse_plays_the_plain_frames_backwards(made):
    plain, reverse = made["plain_ffmpeg"][1], made["reverse"][1]
    assert reverse.direction == "reverse"
    assert reverse.video_frames == plain.video_frames[::-1]


def test_a_boomerang_goes_forward_then_back_without_repeating_its_turning_frames(made):
    path, truth = made["boomerang"]
    shown = read_gif(path).frames.astype(np.int16)
    forward = len(set(truth.video_frames))
    assert truth.direction == "boomerang" and truth.num_frames == 2 * forward - 2
    for j in range(1, forward - 1):  # the way back mirrors the way out, frame for frame
        assert np.abs(shown[forward - 1 + j] - shown[forward - 1 - j]).mean() < 1.0
    assert np.abs(shown[forward - 1] - shown[forward]).mean() > 2.0  # the turning frame shown once
    assert truth.duration_sec == pytest.approx(2 * (truth.end_sec - truth.start_sec) * (forward - 1) / forward,
                                               abs=0.011)


def test_half_speed_shows_every_frame_for_twice_its_time(made):
    _path, truth = made["half_speed"]
    assert truth.video_frames == tuple(range(COUNT)) and truth.speed == truth.end_speed == 0.5
    assert truth.duration_sec == pytest.approx(2 * (truth.end_sec - truth.start_sec), abs=0.011)


def test_a_speed_ramp_slows_from_1x_to_half(made):
    _path, truth = made["speed_ramp"]
    steps = np.diff(truth.video_frames)
    assert (truth.speed, truth.end_speed) == (1.0, 1 / web_gifs.RAMP_RATIO)
    quarter = len(steps) // 4
    assert steps[:quarter].mean() >= 1.6 and steps[-quarter:].mean() <= 1.3 and np.all(steps >= 0)
    span = truth.end_sec - truth.start_sec
    assert span < truth.duration_sec < web_gifs.RAMP_RATIO * span  # between 1x and 0.5x on average


def test_duplicated_frames_come_in_identical_pairs_at_half_the_delay(made):
    path, truth = made["duplicated_frames"]
    gif = read_gif(path)
    shown = gif.frames.astype(np.int16)
    assert all(np.array_equal(shown[k], shown[k + 1]) for k in range(0, len(shown), 2))
    plain = read_gif(made["plain_ffmpeg"][0])
    assert len(shown) == 2 * plain.num_frames and gif.duration_sec == pytest.approx(plain.duration_sec, abs=0.011)
    assert np.allclose(gif.durations, plain.durations[0] / 2, atol=0.006)


def _without_overlay(name, frames, indices) -> np.ndarray:
    """The style's pictures of frames[indices] with nothing drawn over them."""
    style = replace(STYLES[name], overlay=None)
    return np.stack([np.asarray(style.picture(frames[i], 0, 1), dtype=np.float32) for i in indices])


def test_the_watermark_is_an_opaque_logo_and_a_translucent_box(made, frames):
    path, truth = made["watermark"]
    shown = read_gif(path).frames.astype(np.float32)
    h, w = shown.shape[1:3]
    corner = shown[:, int(h * 0.8):, int(w * 0.6):]
    logo = (corner[..., 0] > 200) & (corner[..., 1] > 170) & (corner[..., 2] < 90)
    assert logo.sum(axis=(1, 2)).min() > 20  # yellow logo text on every frame
    box = (slice(int(h * 0.55), int(h * 0.9)), slice(int(w * 0.1), int(w * 0.5)))
    under = _without_overlay("watermark", frames, truth.video_frames)[:, box[0], box[1]].mean(axis=-1)
    dimmed = shown[:, box[0], box[1]].mean(axis=-1)
    assert dimmed.mean() < 0.75 * under.mean()  # darkened ...
    text = dimmed > 150
    assert np.corrcoef(dimmed[~text], under[~text])[0, 1] > 0.5  # ... yet the picture shows through (opaque: ~0)


def test_the_sticker_moves_and_captions_sit_over_the_picture(made, frames):
    path, truth = made["moving_sticker"]
    sticker = read_gif(path).frames.astype(np.float32)
    drawn = np.abs(sticker - _without_overlay("moving_sticker", frames, truth.video_frames)).max(axis=-1) > 80
    yellow = drawn & (sticker[..., 0] > 200) & (sticker[..., 1] > 160) & (sticker[..., 2] < 80)
    assert yellow.sum(axis=(1, 2)).min() > 30
    xs = [np.nonzero(frame)[1].mean() for frame in yellow]
    assert np.all(np.diff(xs) > 0) and xs[-1] - xs[0] > sticker.shape[2] * 0.6
    path, truth = made["caption_over"]
    caption = read_gif(path).frames.astype(np.float32)
    drawn = np.abs(caption - _without_overlay("caption_over", frames, truth.video_frames)).max(axis=-1) > 80
    band = caption.shape[1] // 5
    for rows in (slice(0, band), slice(-band, None)):  # text at the top and at the bottom
        assert drawn[:, rows].mean() > 0.04
        text = caption[:, rows][drawn[:, rows]]
        assert (text.min(axis=-1) > 220).mean() > 0.15 and (text.max(axis=-1) < 40).mean() > 0.15  # white, outlined
    assert caption.shape[1:3] == read_gif(made["plain_ffmpeg"][0]).frames.shape[1:3]  # over, not beside


def test_crop_caption_crops_and_adds_a_white_bar_below(made, frames):
    shown = read_gif(made["crop_caption"][0]).frames
    h_picture = round(shown.shape[2] * (int(H * 0.7)) / int(W * 0.7) / 2) * 2
    assert shown.shape[1] > h_picture
    bar = shown[:, h_picture + 2:].astype(np.int16)
    assert (bar.min(axis=-1) > 230).mean() > 0.7 and (bar.max(axis=-1) < 60).mean() > 0.02


def _controls(path) -> list[tuple[int, bool, tuple[int, int, int, int]]]:
    """Per image, from the GIF's own blocks: (disposal method, has a transparent index, (left, top, w, h))."""
    data = Path(path).read_bytes()
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    found, control = [], (0, False)

    def past_sub_blocks(pos):
        while data[pos]:
            pos += data[pos] + 1
        return pos + 1

    while pos < len(data) and data[pos] != 0x3B:
        if data[pos] == 0x21:  # extension; 0xF9: graphic control
            if data[pos + 1] == 0xF9:
                control = ((data[pos + 3] >> 2) & 7, bool(data[pos + 3] & 1))
            pos = past_sub_blocks(pos + 2)
        else:  # 0x2C: image descriptor, then a local colour table, then LZW data
            left, top, w, h, flags = struct.unpack("<HHHHB", data[pos + 1:pos + 10])
            pos = past_sub_blocks(pos + 11 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0))
            found.append((*control, (left, top, w, h)))
            control = (0, False)
    return found


@NEEDS_TOOLS
def test_optimisers_do_what_they_are_named_for(made):
    plain_size = made["plain_ffmpeg"][0].stat().st_size
    lossy = made["gifsicle_O3_lossy"][0]
    assert lossy.stat().st_size < 0.8 * plain_size
    with Image.open(lossy) as image:
        assert len(image.getpalette()) // 3 <= 128
    transparent = _controls(made["imagemagick_transparency"][0])
    assert all(t for _d, t, _box in transparent[1:])
    full_frames = made["imagemagick_dispose_background"][0]  # the same coalesced frames, nothing transparent
    assert made["imagemagick_transparency"][0].stat().st_size < 0.9 * full_frames.stat().st_size
    assert {d for d, _t, _box in _controls(made["imagemagick_dispose_background"][0])} == {2}
    assert {d for d, _t, _box in _controls(made["imagemagick_dispose_previous"][0])} == {3}
    # ffmpeg itself writes only what changed: frames after the first cover the moving disc's band, not the canvas
    assert all(box[3] < H for _d, _t, box in _controls(made["plain_ffmpeg"][0])[1:])


@NEEDS_TOOLS
@pytest.mark.parametrize("name", ["gifsicle_O3_lossy", "imagemagick_optimize", "imagemagick_transparency",
                                  "imagemagick_dispose_background", "imagemagick_dispose_previous"])
def test_an_optimised_gif_shows_close_to_what_it_was_made_from(name, made, frames, tmp_path):
    style = STYLES[name]
    unoptimised = GifStyle("unoptimised", "", encoder=style.encoder, width=style.width)
    unoptimised.make(frames, FPS, tmp_path / "plain.gif")
    before, after = read_gif(tmp_path / "plain.gif").frames, read_gif(made[name][0]).frames
    difference = np.abs(after.astype(np.int16) - before.astype(np.int16))
    if style.optimiser in web_gifs.LOSSLESS_OPTIMISERS:
        assert difference.max() == 0
    else:
        assert difference.mean() < 12


def test_making_is_deterministic(frames, made, tmp_path):
    for name in ("plain_ffmpeg", "watermark", "speed_ramp"):
        again = tmp_path / f"{name}.gif"
        STYLES[name].make(frames, FPS, again, start_sec=START_SEC)
        assert again.read_bytes() == made[name][0].read_bytes(), name
