"""The cheap path for turned videos: swscale scales the decoded picture straight to the size asked for, and
the display matrix's turn is applied to that small picture, never to a full-size frame (bench.align_speed's
turned HD case relies on it to stay ahead of OpenCV, which turns every full frame)."""
import numpy as np
import pytest

from demo_world.videos import ffmpeg_exe, footage_dir, run_ffmpeg
from featurizer.media import video
from featurizer.media.display_matrix import DisplayTransform

pytestmark = pytest.mark.timeout(120)
STORED = (320, 136)  # bikes.mp4 (640x272) halved; shown turned a quarter: 136x320


@pytest.fixture(scope="module")
def turned(tmp_path_factory):
    root = tmp_path_factory.mktemp("speed")
    stored, path = root / "stored.mp4", root / "turned.mp4"
    run_ffmpeg([ffmpeg_exe(), "-v", "error", "-y", "-i", str(footage_dir() / "bikes.mp4"), "-t", "1",
                "-vf", f"scale={STORED[0]}:{STORED[1]}", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(stored)])
    run_ffmpeg([ffmpeg_exe(), "-v", "error", "-y", "-display_rotation", "90", "-i", str(stored), "-c", "copy",
                str(path)])
    return path


@pytest.fixture
def turned_shapes(monkeypatch):
    """The shapes of the pictures DisplayTransform.apply is given."""
    shapes = []
    original = DisplayTransform.apply

    def recording(self, picture):
        shapes.append(picture.shape)
        return original(self, picture)

    monkeypatch.setattr(DisplayTransform, "apply", recording)
    return shapes


@pytest.fixture
def scaled_sizes(monkeypatch):
    """The (width, height) each VideoReformatter.reformat call scales to."""
    sizes = []
    original = video.VideoReformatter

    class Recording:
        def __init__(self):
            self._inner = original()

        def reformat(self, frame, **options):
            sizes.append((options["width"], options["height"]))
            return self._inner.reformat(frame, **options)

    monkeypatch.setattr(video, "VideoReformatter", Recording)
    return sizes


def test_the_turn_is_applied_to_small_pictures_only(turned, turned_shapes, scaled_sizes):
    batches = list(video.iter_video_frames(turned, size=(18, 40), gray=True, small_size=(9, 20)))
    frames = np.concatenate([b.frames for b in batches])
    small = np.concatenate([b.small_frames for b in batches])
    assert frames.shape[1:] == (40, 18) and small.shape[1:] == (20, 9)  # shown portrait
    # swscale goes from the decoded picture straight to each output's stored (landscape) size ...
    assert set(scaled_sizes) == {(40, 18), (20, 9)}
    # ... and only those small pictures are turned
    assert set(turned_shapes) == {(18, 40), (9, 20)}
    assert len(turned_shapes) == len(scaled_sizes) == 2 * len(frames)
