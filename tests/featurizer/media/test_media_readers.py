"""featurizer.media.video and featurizer.media.gif on tiny media made here: good, variable-rate,
truncated, corrupt, empty, and hand-crafted GIF bombs."""
import io
import pickle
import re
import struct
import subprocess

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from featurizer.media import gif as gif_module
from featurizer.media.errors import MediaError
from featurizer.media.gif import inspect_gif, read_gif
from featurizer.media.video import iter_video_frames, probe_video

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
CFR_FRAMES, CFR_FPS = 50, 25
VFR_FRAMES = 20  # frame i is shown at i*i centiseconds


def ffmpeg(*args):
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def encode_test_pattern(path, *extra, filters=f"testsrc2=size=96x64:rate={CFR_FPS}:duration=2"):
    ffmpeg("-f", "lavfi", "-i", filters, "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", *extra, str(path))
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    return {
        "cfr": encode_test_pattern(root / "cfr.mp4"),  # index (moov) written after the data
        "faststart": encode_test_pattern(root / "faststart.mp4", "-movflags", "+faststart"),
        "vfr": encode_test_pattern(
            root / "vfr.mp4", "-fps_mode", "passthrough", "-enc_time_base:v", "1:1000",
            filters=f"testsrc2=size=96x64:rate=25,settb=1/1000,setpts=N*N*10,trim=end_frame={VFR_FRAMES}"),
        "raw": encode_test_pattern(root / "raw.h264", "-f", "h264"),
    }


def truncated_copy(path, name):
    data = path.read_bytes()
    cut = path.with_name(name)
    cut.write_bytes(data[:len(data) // 2])
    return cut


def all_frames(path, **options):
    batches = list(iter_video_frames(path, **options))
    return (np.concatenate([b.frames for b in batches]), np.concatenate([b.times for b in batches]),
            np.concatenate([b.indices for b in batches]))


# --- errors -------------------------------------------------------------------------


def test_media_error_message_attributes_and_pickling():
    error = MediaError("unreadable", "/x/y.mp4", "cannot open")
    assert str(error) == "/x/y.mp4: cannot open [unreadable]"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.kind, copy.path, copy.detail, str(copy)) == ("unreadable", "/x/y.mp4", "cannot open", str(error))
    assert isinstance(copy, ValueError)


# --- video --------------------------------------------------------------------------


def test_probe_constant_rate_video(videos):
    info = probe_video(videos["cfr"])
    assert (info.width, info.height, info.fps, info.num_frames) == (96, 64, 25.0, CFR_FRAMES)
    assert info.duration_sec == pytest.approx(2.0)
    assert not info.variable_frame_rate


def test_small_gray_frames_in_batches(videos):
    batches = list(iter_video_frames(videos["cfr"], size=(32, 24), batch_size=16))
    assert [len(b.frames) for b in batches] == [16, 16, 16, 2]
    frames = np.concatenate([b.frames for b in batches])
    assert frames.dtype == np.uint8 and frames.shape == (CFR_FRAMES, 24, 32)
    assert np.concatenate([b.indices for b in batches]).tolist() == list(range(CFR_FRAMES))
    times = np.concatenate([b.times for b in batches])
    assert times.dtype == np.float64
    np.testing.assert_allclose(times, np.arange(CFR_FRAMES) / CFR_FPS, atol=1e-9)


def test_batches_do_not_share_memory(videos):
    batches = list(iter_video_frames(videos["cfr"], size=(32, 24), batch_size=16))
    whole, _, _ = all_frames(videos["cfr"], size=(32, 24))
    assert np.array_equal(np.concatenate([b.frames for b in batches]), whole)


def test_scaled_gray_matches_area_downscale_of_full_frame(videos):
    full, _, _ = all_frames(videos["cfr"])
    small, _, _ = all_frames(videos["cfr"], size=(48, 32), threads=1)
    assert full.shape == (CFR_FRAMES, 64, 96)
    reference = np.stack([cv2.resize(f, (48, 32), interpolation=cv2.INTER_AREA) for f in full])
    assert np.abs(small.astype(int) - reference).mean() < 2


def test_rgb_frames_agree_with_gray(videos):
    rgb, _, _ = all_frames(videos["cfr"], size=(48, 32), gray=False)
    gray, _, _ = all_frames(videos["cfr"], size=(48, 32))
    assert rgb.shape == (CFR_FRAMES, 32, 48, 3)
    luma = rgb.astype(float) @ [0.299, 0.587, 0.114]
    assert np.abs(luma - gray).mean() < 3


def test_variable_frame_rate_video_gives_real_timestamps(videos):
    assert probe_video(videos["vfr"]).variable_frame_rate
    _, times, indices = all_frames(videos["vfr"], size=(32, 24))
    np.testing.assert_allclose(times, np.arange(VFR_FRAMES) ** 2 / 100, atol=1e-6)
    assert indices.tolist() == list(range(VFR_FRAMES))


def test_stream_without_timestamps_is_timed_by_frame_rate(videos):
    info = probe_video(videos["raw"])
    assert info.fps == 25.0 and not info.variable_frame_rate
    _, times, _ = all_frames(videos["raw"], size=(32, 24))
    np.testing.assert_allclose(times, np.arange(CFR_FRAMES) / CFR_FPS, atol=1e-9)


def test_truncated_mp4_with_index_at_end_is_unreadable(videos):
    cut = truncated_copy(videos["cfr"], "cut.mp4")
    for read in (probe_video, lambda path: list(iter_video_frames(path))):
        with pytest.raises(MediaError) as raised:
            read(cut)
        assert raised.value.kind == "unreadable"


def test_truncated_mp4_with_index_first_decodes_a_prefix(videos):
    # The index still declares every frame; only the frames whose data survived decode.
    cut = truncated_copy(videos["faststart"], "cut_faststart.mp4")
    assert probe_video(cut).num_frames == CFR_FRAMES
    frames, times, _ = all_frames(cut, size=(32, 24))
    assert 0 < len(frames) < CFR_FRAMES
    np.testing.assert_allclose(times, np.arange(len(frames)) / CFR_FPS, atol=1e-9)


@pytest.mark.parametrize("content", [b"", b"\x00\x01 not a video " * 500], ids=["empty", "garbage"])
def test_non_video_is_unreadable(tmp_path, content):
    path = tmp_path / "video.mp4"
    path.write_bytes(content)
    for read in (probe_video, lambda p: list(iter_video_frames(p))):
        with pytest.raises(MediaError) as raised:
            read(path)
        assert raised.value.kind == "unreadable" and raised.value.path == str(path)


def test_stream_with_no_decodable_frame_has_no_frames(videos, tmp_path):
    # Without its IDR picture, the H.264 decoder discards every frame it is given.
    data = videos["raw"].read_bytes()
    starts = [m.start() for m in re.finditer(b"\x00\x00\x01", data)]
    units = [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]
    no_idr = tmp_path / "no_idr.h264"
    no_idr.write_bytes(b"".join(u for u in units if u[3] & 0x1F != 5))
    with pytest.raises(MediaError) as raised:
        list(iter_video_frames(no_idr))
    assert raised.value.kind == "no_frames"


def test_missing_video_file_is_not_a_media_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        probe_video(tmp_path / "absent.mp4")


# --- GIF crafting: literal-only LZW, so any frame layout can be written by hand --------


def lzw_literals(indices, min_code_size):
    """LZW data that never grows the code table: a clear code before the table would
    need a wider code. Valid for every decoder, if larger than a real encoder's."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    width = min_code_size + 1
    run = (1 << min_code_size) - 2
    flat = [int(v) for v in np.asarray(indices).ravel()]
    codes = [c for i in range(0, len(flat), run) for c in [clear, *flat[i:i + run]]] + [end]
    value = sum(code << (width * i) for i, code in enumerate(codes))
    return value.to_bytes((width * len(codes) + 7) // 8, "little")


def sub_blocks(payload):
    chunks = [payload[i:i + 255] for i in range(0, len(payload), 255)]
    return b"".join(bytes([len(c)]) + c for c in chunks) + b"\x00"


def color_table(colors):
    size = max(2, 1 << (len(colors) - 1).bit_length())
    padded = list(colors) + [(0, 0, 0)] * (size - len(colors))
    return bytes(v for rgb in padded for v in rgb), 0x80 | (size.bit_length() - 2)


def graphic_control(delay_cs, disposal=0, transparent=None):
    packed = (disposal << 2) | (transparent is not None)
    return b"!\xf9\x04" + struct.pack("<BHB", packed, delay_cs, transparent or 0) + b"\x00"


INTERLACED_ROW_ORDER = {6: [0, 4, 2, 1, 3, 5]}  # passes: rows 0 mod 8, 4 mod 8, 2 mod 4, odd


def image_block(left, top, indices, local_colors=None, interlaced=False):
    indices = np.asarray(indices)
    height, width = indices.shape
    table, packed = color_table(local_colors) if local_colors else (b"", 0)
    stored = indices[INTERLACED_ROW_ORDER[height]] if interlaced else indices
    min_code_size = max(2, int(indices.max()).bit_length())
    descriptor = struct.pack("<HHHHB", left, top, width, height, packed | (0x40 * interlaced))
    return b"," + descriptor + table + bytes([min_code_size]) + sub_blocks(lzw_literals(stored, min_code_size))


def gif_bytes(width, height, blocks, colors=((0, 0, 0), (255, 255, 255)), trailer=b";"):
    table, packed = color_table(colors)
    return b"GIF89a" + struct.pack("<HHBBB", width, height, packed, 0, 0) + table + b"".join(blocks) + trailer


RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
YELLOW, MAGENTA, CYAN = (255, 255, 0), (255, 0, 255), (0, 255, 255)
TRANSPARENT = (0, 0, 0)


def one_frame_gif(delay_cs=10):
    return gif_bytes(4, 3, [graphic_control(delay_cs), image_block(0, 0, np.ones((3, 4)))])


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Fails the test if Pillow is asked to decode anything."""
    def refuse(*args, **kwargs):
        raise AssertionError("pixels decoded")
    monkeypatch.setattr(gif_module.Image, "open", refuse)


# --- GIF ----------------------------------------------------------------------------


def test_compositing_follows_browsers():
    column = np.array([0, 1, 2, 0, 1, 2])[:, None].repeat(2, axis=1)
    local = np.zeros((3, 4), dtype=int)
    local[0] = 3
    local[2, 3] = 2
    data = gif_bytes(8, 6, [
        graphic_control(10, disposal=1), image_block(0, 0, np.zeros((6, 8))),
        graphic_control(0, disposal=2), image_block(1, 1, np.ones((2, 3))),
        image_block(6, 0, column, interlaced=True),  # no graphic control: nothing disposed
        graphic_control(1, disposal=3, transparent=3),
        image_block(0, 0, local, local_colors=[YELLOW, MAGENTA, CYAN, WHITE]),
        graphic_control(7), image_block(6, 4, np.ones((4, 4))),  # reaches past the canvas
    ], colors=[RED, GREEN, BLUE, WHITE])

    canvas = np.empty((6, 8, 3), dtype=np.uint8)
    canvas[:] = RED
    expected = [canvas.copy()]
    canvas[1:3, 1:4] = GREEN
    expected.append(canvas.copy())
    canvas[1:3, 1:4] = TRANSPARENT  # disposal 2: restore to transparent
    canvas[:, 6:8] = np.array([RED, GREEN, BLUE, RED, GREEN, BLUE])[:, None]
    expected.append(canvas.copy())
    before_restore = canvas.copy()
    canvas[1:3, 0:4] = YELLOW  # row 0 is transparent
    canvas[2, 3] = CYAN
    expected.append(canvas.copy())
    canvas = before_restore  # disposal 3: restore to previous
    canvas[4:6, 6:8] = GREEN  # clipped to the canvas
    expected.append(canvas.copy())

    gif = read_gif(data)
    assert gif.frames.shape == (5, 6, 8, 3) and gif.frames.dtype == np.uint8
    for shown, wanted in zip(gif.frames, expected):
        assert np.array_equal(shown, wanted)
    np.testing.assert_allclose(gif.durations, [0.1, 0.1, 0.1, 0.1, 0.07])
    np.testing.assert_allclose(gif.start_times, [0.0, 0.1, 0.2, 0.3, 0.4])
    assert gif.duration_sec == pytest.approx(0.47)


def test_pillow_made_gif_with_partial_frames_transparency_and_local_palettes():
    palette = np.array([[0, 0, 0], RED, GREEN, BLUE, WHITE, [128, 128, 128]], dtype=np.uint8)
    base = np.random.default_rng(0).integers(0, 6, (24, 32))
    changed = base.copy()
    changed[4:10, 5:12] = 1
    more = changed.copy()
    more[12:20, 20:30] = 3
    reverted = base.copy()
    reverted[0:3, 0:3] = 4
    scenes = [base, changed, changed, more, reverted]  # Pillow merges the repeated frame

    def paletted(indices):
        image = Image.fromarray(indices.astype(np.uint8), "P")
        image.putpalette(palette.ravel().tolist())
        return image

    images = [paletted(s) for s in scenes]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:],
                   duration=[0, 30, 30, 50, 70], loop=0)
    gif = read_gif(buffer.getvalue())
    expected = [palette[s] for s in (base, changed, more, reverted)]
    assert len(gif.frames) == 4
    for shown, wanted in zip(gif.frames, expected):
        assert np.array_equal(shown, wanted)
    np.testing.assert_allclose(gif.durations, [0.1, 0.06, 0.05, 0.07])  # 0 ms shows as 100 ms


def test_delays_of_zero_or_one_centisecond_or_none_play_as_tenth_of_a_second():
    frame = image_block(0, 0, np.ones((2, 2)))
    data = gif_bytes(2, 2, [graphic_control(0), frame, graphic_control(1), frame, frame,
                            graphic_control(2), frame, graphic_control(150), frame])
    assert inspect_gif(data).durations_sec == (0.1, 0.1, 0.1, 0.02, 1.5)


def test_one_frame_gif_reads_from_bytes_and_path(tmp_path):
    path = tmp_path / "one.gif"
    path.write_bytes(one_frame_gif())
    for source in (one_frame_gif(), path, str(path)):
        info = inspect_gif(source)
        assert (info.width, info.height, info.num_frames, info.durations_sec) == (4, 3, 1, (0.1,))
        gif = read_gif(source)
        assert gif.frames.shape == (1, 3, 4, 3) and (gif.frames == 255).all()
        assert gif.start_times.tolist() == [0.0] and gif.duration_sec == pytest.approx(0.1)


def test_missing_trailer_and_trailing_junk_are_tolerated():
    for ending in (b"", b"\x00\x00junk"):
        data = one_frame_gif()[:-1] + ending
        assert read_gif(data).frames.shape == (1, 3, 4, 3)


def test_gif_without_images_has_no_frames():
    with pytest.raises(MediaError) as raised:
        inspect_gif(gif_bytes(4, 3, [graphic_control(5)]))
    assert raised.value.kind == "no_frames" and raised.value.path == "<bytes>"


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n\x1a\n" + bytes(40), b"GIF8"], ids=["empty", "png", "short"])
def test_other_bytes_are_not_a_gif(data):
    with pytest.raises(MediaError) as raised:
        read_gif(data)
    assert raised.value.kind == "not_a_gif"


def test_truncated_gif_is_unreadable():
    data = gif_bytes(16, 16, [graphic_control(5), image_block(0, 0, np.arange(256).reshape(16, 16) % 4)] * 2)
    for cut in (10, len(data) // 2, len(data) - 5):
        for read in (inspect_gif, read_gif):
            with pytest.raises(MediaError) as raised:
                read(data[:cut])
            assert raised.value.kind == "unreadable"


def test_corrupt_pixel_data_is_unreadable():
    data = bytearray(one_frame_gif())
    data[data.index(b",") + 10] = 12  # an LZW minimum code size no decoder accepts
    with pytest.raises(MediaError) as raised:
        read_gif(bytes(data))
    assert raised.value.kind == "unreadable"


def bomb_kind(data):
    with pytest.raises(MediaError) as raised:
        read_gif(data)
    with pytest.raises(MediaError):
        inspect_gif(data)
    return raised.value.kind


def test_huge_canvas_is_refused_before_decoding(no_pixel_decoding):
    assert bomb_kind(gif_bytes(20000, 20000, [image_block(0, 0, np.ones((2, 2)))])) == "decompression_bomb"


def test_huge_image_on_small_canvas_is_refused_before_decoding(no_pixel_decoding):
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, 30000, 30000, 0) + b"\x02\x02\x44\x01\x00"
    assert bomb_kind(gif_bytes(10, 10, [descriptor])) == "decompression_bomb"


def test_ten_thousand_frames_are_refused_before_decoding(no_pixel_decoding):
    tiny = image_block(0, 0, np.zeros((1, 1)))
    assert bomb_kind(gif_bytes(1, 1, [tiny] * 10_000)) == "decompression_bomb"


def test_frame_limit_is_adjustable():
    data = gif_bytes(2, 2, [image_block(0, 0, np.ones((2, 2)))] * 5)
    assert len(read_gif(data, max_frames=5).frames) == 5
    with pytest.raises(MediaError) as raised:
        read_gif(data, max_frames=4)
    assert raised.value.kind == "decompression_bomb"


def test_decoded_size_limit(monkeypatch, no_pixel_decoding):
    monkeypatch.setattr(gif_module, "MAX_GIF_DECODED_BYTES", 3 * 100 * 4)
    data = gif_bytes(10, 10, [image_block(0, 0, np.ones((2, 2)))] * 5)
    assert bomb_kind(data) == "decompression_bomb"


def test_file_size_limit(monkeypatch, tmp_path, no_pixel_decoding):
    data = one_frame_gif()
    path = tmp_path / "big.gif"
    path.write_bytes(data)
    monkeypatch.setattr(gif_module, "MAX_GIF_BYTES", len(data) - 1)
    for source in (data, path):
        with pytest.raises(MediaError) as raised:
            inspect_gif(source)
        assert raised.value.kind == "decompression_bomb"


def test_pillow_decompression_bomb_error_maps_to_media_error(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2)  # Pillow refuses above twice this
    with pytest.raises(MediaError) as raised:
        read_gif(one_frame_gif())
    assert raised.value.kind == "decompression_bomb"
