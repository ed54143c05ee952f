"""Shot boundary detection: synthetic clips with known transitions, real footage in the containers
sources ship (demo_world.source_formats), seconds from the decoder's timestamps, the one driver
behind both decodes (`gifrank shots`, featurize). The command: tests/pipelines/commands/test_shots_command.py."""
import av
import cv2
import numpy as np
import pytest

from demo_world.source_formats import SOURCE_FORMATS, encode_source
from demo_world.videos import footage_dir
from featurizer.c3d.video_decode import decode_segments
from featurizer.media.errors import MediaError
from featurizer.media.video import FrameBatch, iter_video_frames
from featurizer.shots import (
    ChangePointDetector,
    KernelSegmentationDetector,
    decode_frames,
    detect_in_frames,
    detect_in_windows,
    detect_shots,
    frame_features,
    shot_frames,
    shots_from_boundaries,
)
from featurizer.shots.driver import time_scale
from featurizer.shots.features import FEATURE_SIZE, picture_box

WIDTH, HEIGHT, FPS = 160, 90, 25
BIKES_CUTS = [30, 76, 137, 187, 242]  # checked by eye on frame dumps
BIKES_SIZE = (640, 272)


def textured_shot(seed: int, tint, num_frames: int, speed: float, shake: bool = False) -> np.ndarray:
    """A camera panning `speed` pixels a frame (and shaking up and down) over a smooth random
    landscape in one colour cast, wide enough that the pan never wraps around."""
    rng = np.random.default_rng(seed)
    width = WIDTH + int(speed * num_frames) + 1
    coarse = rng.random((HEIGHT * 2 // 10 + 2, width // 10 + 2)).astype(np.float32)
    landscape = cv2.resize(coarse, (width, HEIGHT * 2), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    picture = (0.15 + 0.8 * landscape)[..., None] * np.asarray(tint, np.float32) * 255
    frames = []
    for i in range(num_frames):
        x = int(i * speed)
        y = int(abs(np.sin(i / 3.0)) * HEIGHT * 0.8) if shake else HEIGHT // 4
        frames.append(picture[y:y + HEIGHT, x:x + WIDTH])
    return np.array(frames)


def blend(a: np.ndarray, b: np.ndarray, mixed: int) -> np.ndarray:
    """`mixed` frames dissolving from a's last frame into b's first."""
    weights = (np.arange(1, mixed + 1) / (mixed + 1))[:, None, None, None]
    return a[-1] * (1 - weights) + b[0] * weights


def fade(frame: np.ndarray, num_frames: int, out: bool) -> np.ndarray:
    levels = np.linspace(1, 0, num_frames + 2)[1:-1] if out else np.linspace(0, 1, num_frames + 2)[1:-1]
    return frame[None] * levels[:, None, None, None]


def encode(path, frames: np.ndarray) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for pixels in frames:
            rgb = np.ascontiguousarray(pixels.clip(0, 255).astype(np.uint8))
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


@pytest.fixture(scope="module")
def edited_clip(tmp_path_factory):
    """Cut, an 8-frame shot, cut, dissolve, fade out-black-fade in, cut into fast motion.
    Returns (path, truth) with truth [(kind, first_ok, last_ok)] per transition."""
    a = textured_shot(1, (1.0, 0.6, 0.4), 50, 1.0)
    short = textured_shot(2, (0.4, 0.7, 1.0), 8, 1.0)
    c = textured_shot(3, (0.9, 0.9, 0.3), 60, 1.0)
    d = textured_shot(4, (0.5, 1.0, 0.5), 70, 0.5)
    e = textured_shot(5, (1.0, 0.4, 0.9), 60, 1.0)
    fast = textured_shot(6, (0.8, 0.8, 0.8), 60, 9.0, shake=True)
    pieces = [a, short, c, blend(c, d, 12), d, fade(d[-1], 10, out=True), np.zeros((3, HEIGHT, WIDTH, 3)),
              fade(e[0], 10, out=False), e, fast]
    starts = np.cumsum([0] + [len(p) for p in pieces]).tolist()
    truth = [("cut", starts[1] - 2, starts[1] + 2), ("cut", starts[2] - 2, starts[2] + 2),
             ("dissolve", starts[3], starts[4]), ("fade", starts[5], starts[8]),
             ("cut", starts[9] - 2, starts[9] + 2)]
    path = tmp_path_factory.mktemp("shots") / "edited.mp4"
    encode(path, np.concatenate(pieces))
    return path, truth


def assert_one_boundary_per_transition(boundaries, truth):
    assert len(boundaries) == len(truth), (boundaries, truth)
    for boundary, (kind, first, last) in zip(sorted(boundaries), truth):
        assert first <= boundary <= last, f"{kind} expected in [{first}, {last}], got {boundary}"


def assert_contiguous(shots):
    assert shots.shots[0][0] == 0 and shots.shots[-1][1] == shots.num_frames
    assert all(end == start for (_s, end), (start, _e) in zip(shots.shots, shots.shots[1:]))
    assert all(start < end for start, end in shots.shots)


def test_cuts_short_shot_dissolve_fade_and_fast_motion(edited_clip):
    path, truth = edited_clip
    shots = detect_shots(path)
    assert_contiguous(shots)
    assert shots.fps == FPS
    assert_one_boundary_per_transition(shots.boundaries(), truth)
    # The 8-frame shot comes out whole.
    assert (50, 58) in shots.shots


def zooming_shot(seed: int, num_frames: int, zoom_per_frame: float) -> np.ndarray:
    """A fast zoom into a landscape, drifting sideways."""
    picture = textured_shot(seed, (0.3, 0.8, 1.0), 1, 0.0)[0]
    big = cv2.resize(picture, (WIDTH * 4, HEIGHT * 4), interpolation=cv2.INTER_CUBIC)
    frames = []
    for i in range(num_frames):
        scale = np.exp(-zoom_per_frame * i)
        w, h = int(WIDTH * 4 * scale), int(HEIGHT * 4 * scale)
        x = int((WIDTH * 4 - w) * (0.5 + 0.4 * np.sin(i / 10)))
        frames.append(cv2.resize(big[HEIGHT * 2 - h // 2:HEIGHT * 2 - h // 2 + h, x:x + w], (WIDTH, HEIGHT)))
    return np.array(frames)


@pytest.mark.parametrize("shot", ["pan", "zoom"])
def test_fast_motion_has_no_boundary(tmp_path, shot):
    path = tmp_path / f"{shot}.mp4"
    frames = (textured_shot(7, (0.3, 0.8, 1.0), 150, 12.0, shake=True) if shot == "pan"
              else zooming_shot(7, 150, 0.02))
    encode(path, frames)
    assert detect_shots(path).shots == [(0, 150)]


def test_real_cuts_of_bikes_footage():
    shots = detect_shots(footage_dir() / "bikes.mp4")
    assert shots.num_frames == 250
    assert shots.boundaries() == BIKES_CUTS


def test_real_footage_without_cuts_stays_one_shot():
    for name in ("bigbuckbunny.mp4", "carphone_pristine.mp4"):
        assert len(detect_shots(footage_dir() / name).shots) == 1, name


def test_demo_world_transitions(tiny_world):
    for video in tiny_world.videos:
        truth = [("cut", t["frame"] - 2, t["frame"] + 2) if t["kind"] == "cut"
                 else ("dissolve", t["start_frame"], t["end_frame"]) for t in video["transitions"]]
        shots = detect_shots(tiny_world.video_path(video["video_id"]))
        assert shots.num_frames == video["num_frames"]
        assert_one_boundary_per_transition(shots.boundaries(), truth)


def test_windows_do_not_change_the_result(edited_clip):
    """Cores decided with their context on both sides give what one big window gives."""
    path, _truth = edited_clip
    frames = np.concatenate([b.frames for b in iter_video_frames(path, size=(64, 36), gray=False)])
    parts = [frame_features(frames[i:i + 50], FPS, i) for i in range(0, len(frames), 50)]
    detector = ChangePointDetector()
    whole, count = detect_in_windows(parts, detector, window_frames=10_000)
    assert count == len(frames)
    for window_frames in (1, 64, 150):
        assert detect_in_windows(parts, detector, window_frames) == (whole, count)


C3D_SIZE = (171, 128)  # (width, height): what featurize's decode asks for


def test_featurize_decode_finds_the_shots_gifrank_shots_finds(edited_clip, tiny_world):
    """`gifrank shots` decodes at 64x36; featurize decodes at C3D's 171x128 with 64x36 beside it.
    Same shots on every video: real footage (bikes.mp4 gained a false cut at frame 104 when
    featurize's shots came from its 171x128 frames scaled down), the demo world, the edited clip."""
    paths = [footage_dir() / name for name in ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")]
    paths += [tiny_world.video_path(video["video_id"]) for video in tiny_world.videos]
    paths.append(edited_clip[0])
    for path in paths:
        featurize_decode = decode_segments(str(path))
        featurize_decode.frames.close()
        assert featurize_decode.shots == detect_shots(path), path
        assert featurize_decode.shots.shots, path


def test_one_decode_gives_the_shot_detectors_frames_as_a_decode_at_their_size(edited_clip):
    """The small frames beside C3D's are scaled from the decoded picture, bit for bit what a
    decode at 64x36 alone gives: what the detectors were tuned on (bench.shots_benchmark)."""
    path, _truth = edited_clip
    alone = decode_frames(path)
    beside = decode_frames(path, C3D_SIZE, batch_size=64)
    assert alone.fps == beside.fps == FPS
    batches = list(beside.batches)
    assert batches[0].frames.shape[1:] == (128, 171, 3)
    small = np.concatenate([shot_frames(b) for b in batches])
    np.testing.assert_array_equal(small, np.concatenate([shot_frames(b) for b in alone.batches]))
    assert small.shape[1:] == (FEATURE_SIZE[1], FEATURE_SIZE[0], 3)


def test_the_driver_refuses_frames_of_another_size():
    with pytest.raises(ValueError, match="shot detection takes frames of shape"):
        detect_in_frames([np.zeros((4, 128, 171, 3), np.uint8)], FPS)


def test_detectors_are_interchangeable(edited_clip):
    path, _truth = edited_clip
    shots = detect_shots(path, KernelSegmentationDetector())
    assert_contiguous(shots)


@pytest.mark.parametrize("num_frames", [1, 2, 5])
def test_very_short_videos(tmp_path, num_frames):
    path = tmp_path / f"short{num_frames}.mp4"
    encode(path, textured_shot(8, (1, 1, 1), num_frames, 1.0))
    shots = detect_shots(path)
    assert (shots.num_frames, shots.shots) == (num_frames, [(0, num_frames)])


def test_unreadable_video_raises_media_error(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 100)
    with pytest.raises(MediaError):
        detect_shots(garbage)


def decoded_times(path) -> np.ndarray:
    return np.concatenate([batch.times for batch in iter_video_frames(path, size=FEATURE_SIZE)])


@pytest.mark.parametrize("name", list(SOURCE_FORMATS))
def test_real_cuts_in_every_container(tmp_path, name):
    """bikes.mp4 as sources ship it: turned by a display matrix, pillarboxed or letterboxed in HD
    (the bars diluted every change by their share), VP9, AV1, HEVC (compression artefacts and a
    passing van made a false dissolve), variable frame rate (dropped frames made steps of two or
    three frames' motion). The cuts' seconds are the first frame shown at or after each cut."""
    video = encode_source(footage_dir() / "bikes.mp4", tmp_path, name, *BIKES_SIZE)
    shots = detect_shots(video.path)
    times = decoded_times(video.path)
    assert shots.num_frames == len(times)
    assert shots.boundaries() == [int(np.searchsorted(times, cut / FPS - 1e-6)) for cut in BIKES_CUTS]
    assert shots.variable_frame_rate == (name == "vfr")


def test_seconds_are_the_decoders_timestamps_at_a_variable_frame_rate(tmp_path):
    """Frames dropped irregularly: frame / fps is wrong by up to seconds, the timestamps are right."""
    path = encode_source(footage_dir() / "bikes.mp4", tmp_path, "vfr", *BIKES_SIZE).path
    shots = detect_shots(path)
    times = decoded_times(path)
    assert shots.variable_frame_rate and shots.num_frames == len(times) < 250
    step = float(np.median(np.diff(times)))
    for (start, end), (start_sec, end_sec) in zip(shots.shots, shots.seconds):
        assert start_sec == pytest.approx(times[start], abs=1e-6)
        assert end_sec == pytest.approx(times[end] if end < len(times) else times[-1] + step, abs=1e-6)
    assert shots.seconds[-1][1] == pytest.approx(10.0)  # as long as the footage
    for cut, start_sec in zip(BIKES_CUTS, shots.boundary_seconds()):
        boundary = int(np.searchsorted(times, start_sec - 1e-6))
        assert times[boundary - 1] < cut / FPS <= start_sec + 1e-6  # the first frame shown from the cut on
    # Durations the detector takes in seconds count the frames shown, not the average rate's.
    assert time_scale(shots.fps, times) == pytest.approx(FPS)
    assert shots.fps < 20


def test_featurizes_decode_at_c3d_size_gives_the_shots_and_seconds_at_a_variable_frame_rate(tmp_path):
    """featurize's decode (C3D's size, FEATURE_SIZE beside it) handing the driver its batches,
    timestamps and all, finds what `gifrank shots` finds on a variable-rate file too."""
    path = encode_source(footage_dir() / "bikes.mp4", tmp_path, "vfr", *BIKES_SIZE).path
    video = decode_frames(path, C3D_SIZE, batch_size=64)
    assert detect_in_frames(video.batches, video.fps) == detect_shots(path)


def test_seconds_at_a_constant_rate_and_without_timestamps():
    shots = shots_from_boundaries([30, 76], 100, 25.0)
    assert shots.seconds == [(0.0, 1.2), (1.2, 3.04), (3.04, 4.0)]
    assert not shots.variable_frame_rate
    assert shots.as_json()["shots"][1] == {"start_frame": 30, "end_frame": 76, "start_sec": 1.2, "end_sec": 3.04}
    uneven = shots_from_boundaries([2], 4, 25.0, np.array([0.0, 0.04, 0.12, 0.16]))
    assert uneven.seconds == [(0.0, 0.12), (0.12, 0.2)] and uneven.variable_frame_rate


def test_the_driver_takes_the_decoders_batches_and_their_timestamps(edited_clip):
    """Batches with times give the times' seconds; bare frames are taken as evenly spaced at fps."""
    path, _truth = edited_clip
    batches = list(decode_frames(path).batches)
    # A clock 1% slow: the declared rate still stands for the detectors (clock rounding), the
    # seconds are the clock's.
    slow = detect_in_frames([FrameBatch(b.frames, b.times * 1.01, b.indices) for b in batches], FPS)
    bare = detect_in_frames([b.frames for b in batches], FPS)
    assert slow.shots == bare.shots == detect_shots(path).shots
    assert slow.seconds == [(round(1.01 * start, 6), round(1.01 * end, 6)) for start, end in bare.seconds]


def test_black_bars_are_cut_off_before_the_features():
    frames = np.zeros((10, 36, 64, 3), np.uint8)
    frames[:, :, 8:56] = 200  # pillarbox: 8 black columns a side
    assert picture_box(frames) == (slice(0, 36), slice(8, 56))
    frames[:, :4] = frames[:, 32:] = 0  # and letterbox
    assert picture_box(frames) == (slice(4, 32), slice(8, 56))
    assert picture_box(np.zeros_like(frames)) == (slice(0, 36), slice(0, 64))  # all dark: no bars known
    off_centre = np.zeros_like(frames)
    off_centre[:, :, 0:40] = 200  # a dark right side is picture, not a bar
    assert picture_box(off_centre) == (slice(0, 36), slice(0, 64))


def test_a_fast_fade_out_and_a_slow_fade_in_are_one_transition(tmp_path):
    """Fading out over two frames looks like two cuts a frame apart; with the fade in it is one
    transition through black, found once."""
    a = textured_shot(11, (1.0, 0.6, 0.4), 60, 1.0)
    e = textured_shot(12, (0.4, 0.7, 1.0), 60, 1.0)
    pieces = [a, fade(a[-1], 2, out=True), np.zeros((3, HEIGHT, WIDTH, 3)), fade(e[0], 12, out=False), e]
    path = tmp_path / "fades.mp4"
    encode(path, np.concatenate(pieces))
    shots = detect_shots(path)
    assert len(shots.boundaries()) == 1 and 60 <= shots.boundaries()[0] <= 60 + 2 + 3 + 12
