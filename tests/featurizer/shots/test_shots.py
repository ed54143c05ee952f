"""Shot boundary detection: synthetic clips with known transitions, real footage, the one driver
behind both decodes (`gifrank shots`, featurize), the CLI."""
import json
import subprocess
import sys

import av
import cv2
import numpy as np
import pytest

from demo_world.videos import footage_dir
from featurizer.c3d.video_decode import decode_segments
from featurizer.media.errors import MediaError
from featurizer.media.video import iter_video_frames
from featurizer.shots import (
    ChangePointDetector,
    KernelSegmentationDetector,
    decode_frames,
    detect_in_frames,
    detect_in_windows,
    detect_shots,
    frame_features,
    shot_frames,
)
from featurizer.shots.features import FEATURE_SIZE
from pipelines.commands.shots import main as shots_main

WIDTH, HEIGHT, FPS = 160, 90, 25
BIKES_CUTS = [30, 76, 137, 187, 242]  # checked by eye on frame dumps


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


def test_cli_prints_shots_as_json(capsys):
    assert shots_main([str(footage_dir() / "bikes.mp4")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fps"] == 25.0 and out["num_frames"] == 250
    assert out["shots"] == [[0, 30], [30, 76], [76, 137], [137, 187], [187, 242], [242, 250]]


def test_cli_exit_2_on_unreadable_or_missing_video(tmp_path, capsys):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 1000)
    assert shots_main([str(garbage)]) == 2
    assert shots_main([str(tmp_path / "missing.mp4")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("cannot read video") == 2


def test_cli_rejects_knobs_of_another_detector(capsys):
    assert shots_main(["v.mp4", "--kernel-penalty", "5"]) == 2
    assert "--kernel-penalty applies to --detector kernel" in capsys.readouterr().err
    assert shots_main(["v.mp4", "--cut-threshold", "0"]) == 2


def test_shots_never_load_beam_or_tensorflow():
    code = ("import sys; from pipelines.commands.shots import main; from demo_world.videos import footage_dir; "
            "main([str(footage_dir() / 'bikes.mp4')]); "
            "print(sorted(m for m in ('apache_beam', 'tensorflow') if m in sys.modules), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "[]"
