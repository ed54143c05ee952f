"""GIFs as sites make them, on sources as the web ships them: real footage (bikes.mp4), GIFs made by
demo_world.web_gifs (ffmpeg, Pillow, gifsicle), sources by demo_world.source_formats (ffmpeg)."""
import numpy as np
import pytest

from demo_world.source_formats import encode_source
from demo_world.videos import decode_frames, footage_dir
from demo_world.web_gifs import STYLES
from featurizer.align.aligner import align_gif
from featurizer.align.video_index import index_video

pytestmark = pytest.mark.timeout(600)
FPS = 25.0
SPAN = (60, 120)  # bikes' frames 60..119: a cut at 76 inside
TOLERANCE_SEC = 0.1


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("wild")
    return {name: encode_source(footage_dir() / "bikes.mp4", root, name, 640, 272, seconds=8)
            for name in ("h264", "pillarbox_hd")}


@pytest.fixture(scope="module")
def indexes(sources):
    return {name: index_video(source.path) for name, source in sources.items()}


def _picture(source, first, stop):
    """Frames [first, stop) as a player shows them, cut to the picture inside the video's bars."""
    x, y, w, h = source.picture
    shown_w, shown_h = source.shown_size
    frames = decode_frames(source.path, shown_w // 2, shown_h // 2, start_frame=first, end_frame=stop, fps=FPS)
    return np.ascontiguousarray(frames[:, y // 2:(y + h) // 2, x // 2:(x + w) // 2])


def _gif(source, style, tmp_path, span=SPAN):
    out = tmp_path / f"{source.name}-{style}.gif"
    truth = STYLES[style].make(_picture(source, *span), FPS, out, start_sec=span[0] / FPS)
    return out, truth


@pytest.mark.parametrize("source_name", ["h264", "pillarbox_hd"])
@pytest.mark.parametrize("style, direction", [("plain_ffmpeg", "forward"), ("reverse", "reverse"),
                                              ("boomerang", "boomerang"), ("half_speed", "forward"),
                                              ("speed_ramp", "forward"), ("watermark", "forward")])
def test_gif_is_placed_with_its_span_and_direction(sources, indexes, tmp_path, source_name, style, direction):
    source = sources[source_name]
    gif, truth = _gif(source, style, tmp_path)
    result = align_gif(indexes[source_name], gif)
    assert result.aligned, result.reason
    assert abs(result.start_sec - truth.start_sec) <= TOLERANCE_SEC
    assert abs(result.end_sec - truth.end_sec) <= TOLERANCE_SEC
    assert result.direction == direction and result.crop is None


def test_the_video_bars_are_found_once_per_video(sources, indexes):
    index = indexes["pillarbox_hd"]
    assert index.picture is not None and index.picture_hashes is not None
    scale_x, scale_y = index.thumb_scale()
    x, y, w, h = sources["pillarbox_hd"].picture
    assert abs(index.picture.x * scale_x - x) <= scale_x and abs(index.picture.w * scale_x - w) <= 2 * scale_x
    assert index.picture.y == 0 and abs(index.picture.h * scale_y - h) <= scale_y
    assert indexes["h264"].picture is None


def test_a_gif_of_other_footage_is_refused_with_a_reason(indexes, tmp_path):
    other = decode_frames(footage_dir() / "carphone_pristine.mp4", 176, 144, end_frame=60)
    gif = tmp_path / "foreign.gif"
    STYLES["plain_ffmpeg"].make(other, 29.97, gif)
    for index in indexes.values():
        result = align_gif(index, gif)
        assert not result.aligned and result.reason.startswith("not from this video"), result.reason


def test_confidence_falls_smoothly_as_foreign_frames_creep_in(sources, indexes, tmp_path):
    """A GIF of the video with its last frames replaced by other footage: as the foreign share grows
    the confidence falls without a jump, and past the threshold the reason says it is partly the video."""
    source = sources["h264"]
    own = _picture(source, 60, 120)
    other = decode_frames(footage_dir() / "carphone_pristine.mp4", own.shape[2], own.shape[1], end_frame=60)
    index = indexes["h264"]
    confidences = []
    for foreign in (0, 4, 8, 12):
        frames = np.concatenate([own[:60 - foreign], other[:foreign]])
        gif = tmp_path / f"foreign-{foreign}.gif"
        STYLES["plain_ffmpeg"].make(frames, FPS, gif, start_sec=60 / FPS)
        result = align_gif(index, gif)
        assert result.aligned, result.reason
        confidences.append(result.confidence)
    assert confidences == sorted(confidences, reverse=True) and confidences[-1] > 0.0
    frames = np.concatenate([own[:30], other[:30]])
    gif = tmp_path / "half-foreign.gif"
    STYLES["plain_ffmpeg"].make(frames, FPS, gif, start_sec=60 / FPS)
    result = align_gif(index, gif)
    assert not result.aligned and result.reason.startswith("only partly from this video"), result.reason


def test_a_site_text_box_over_low_contrast_footage_is_read_around(tmp_path):
    """Big Buck Bunny's soft animation under a site's dark text box: the whole picture's hashes
    change too much, so the part of the picture the box leaves clear places it."""
    source = encode_source(footage_dir() / "bigbuckbunny.mp4", tmp_path, "h264", 1280, 720)
    gif, truth = _gif(source, "watermark", tmp_path, span=(48, 91))
    result = align_gif(index_video(source.path), gif)
    assert result.aligned, result.reason
    assert abs(result.start_sec - truth.start_sec) <= TOLERANCE_SEC
    assert abs(result.end_sec - truth.end_sec) <= TOLERANCE_SEC
    assert result.confidence > 0.0
