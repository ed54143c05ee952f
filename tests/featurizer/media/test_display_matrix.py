"""Videos stored turned, as phones record them: decoding shows them as players do.

Real footage (bikes.mp4) is given display matrices by the ffmpeg command line (-display_rotation,
-display_hflip, -display_vflip, the stream copied): the reference is what the ffmpeg command line
shows for them, its autorotation."""
import cv2
import numpy as np
import pytest

from demo_world.videos import ffmpeg_exe, footage_dir, run_ffmpeg
from featurizer.align.aligner import align_gif
from featurizer.align.video_index import index_video
from featurizer.media.display_matrix import IDENTITY, DisplayTransform
from featurizer.media.video import iter_video_frames, probe_video

pytestmark = pytest.mark.timeout(300)
STORED = (160, 68)  # bikes.mp4 is 640x272
FPS = 25
# name -> the ffmpeg flags that write the matrix
MATRICES = {
    "upright": [],
    "turned_90": ["-display_rotation", "90"],
    "turned_90_flipped": ["-display_rotation", "90", "-display_hflip"],
    "turned_180": ["-display_rotation", "180"],
    "turned_270": ["-display_rotation", "-90"],
    "flipped_vertically": ["-display_vflip"],
}


def _ffmpeg(*args) -> bytes:
    return run_ffmpeg([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *map(str, args)])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("turned")
    source = root / "source.mp4"
    _ffmpeg("-i", footage_dir() / "bikes.mp4", "-t", "4", "-vf", f"scale={STORED[0]}:{STORED[1]},fps={FPS}",
            "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", source)
    made = {}
    for name, flags in MATRICES.items():
        made[name] = root / f"{name}.mp4"
        _ffmpeg(*flags, "-i", source, "-c", "copy", made[name])
    return made


def _shown_by_ffmpeg(path):
    """Every frame as the ffmpeg command line shows it (it applies display matrices), RGB."""
    png = _ffmpeg("-i", path, "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-")
    height, width = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).shape[:2]
    raw = _ffmpeg("-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def _decoded(path, **kwargs):
    return np.concatenate([b.frames for b in iter_video_frames(path, gray=False, **kwargs)])


@pytest.mark.parametrize("name", sorted(MATRICES))
def test_frames_are_what_a_player_shows(videos, name):
    reference = _shown_by_ffmpeg(videos[name])
    frames = _decoded(videos[name])
    assert frames.shape == reference.shape
    assert np.abs(frames.astype(int) - reference.astype(int)).mean() < 1.0
    info = probe_video(videos[name])
    assert (info.width, info.height) == (reference.shape[2], reference.shape[1])


@pytest.mark.parametrize("name", ["turned_90", "turned_270", "turned_90_flipped"])
def test_a_size_asked_for_is_the_size_shown(videos, name):
    """featurize asks for C3D's size and the shots' beside it; align for a thumbnail: all as shown."""
    reference = _shown_by_ffmpeg(videos[name])
    shown = (reference.shape[2] // 2, reference.shape[1] // 2)  # (width, height): portrait
    batches = list(iter_video_frames(videos[name], size=shown, gray=False, small_size=(17, 40)))
    frames = np.concatenate([b.frames for b in batches])
    small = np.concatenate([b.small_frames for b in batches])
    assert frames.shape[1:] == (shown[1], shown[0], 3) and small.shape[1:] == (40, 17, 3)
    expected = np.stack([cv2.resize(f, shown, interpolation=cv2.INTER_AREA) for f in reference])
    assert np.abs(frames.astype(int) - expected.astype(int)).mean() < 3.0


def test_a_gif_of_a_turned_video_aligns_to_it(videos, tmp_path):
    """The issue's phone video: a GIF made from what players show (upright) aligns to the file
    stored on its side. Before, none did."""
    gif = tmp_path / "upright.gif"
    _ffmpeg("-ss", "1.2", "-t", "1.6", "-i", videos["turned_90"], "-vf", "fps=10,scale=68:-1:flags=lanczos", gif)
    alignment = align_gif(index_video(videos["turned_90"]), gif)
    assert alignment.aligned, alignment.reason
    assert abs(alignment.start_sec - 1.2) <= 0.1 and abs(alignment.end_sec - 2.8) <= 0.15


def test_matrices_as_ffmpeg_writes_them():
    one = 1 << 16
    assert DisplayTransform.of_matrix([one, 0, 0, 0, one, 0, 0, 0, 1 << 30]) == IDENTITY
    # -display_rotation 90: a quarter turn counterclockwise as shown
    turned = DisplayTransform.of_matrix([0, -one, 0, one, 0, 0, 0, 0, 1 << 30])
    picture = np.arange(6).reshape(2, 3)
    assert turned.apply(picture).tolist() == np.rot90(picture).tolist()
    assert turned.stored_size((2, 3)) == (3, 2)
    # a few degrees of tilt: taken at the nearest right angle
    cos, sin = round(one * np.cos(np.deg2rad(4))), round(one * np.sin(np.deg2rad(4)))
    assert DisplayTransform.of_matrix([cos, -sin, 0, sin, cos, 0, 0, 0, 1 << 30]) == IDENTITY
    with pytest.raises(ValueError):
        DisplayTransform.of_matrix([1, 2, 3])
