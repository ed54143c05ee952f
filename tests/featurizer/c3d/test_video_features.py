"""The featurize step, Beam-free: whole videos in, segment features out; decoding in worker processes
gives the same features as decoding in the model's thread, and bad input is a failure with its kind.

The features are checked against an oracle that shares no code with the path: the test decodes
the video itself with PyAV, picks the frames, builds the clips with numpy (channel order, mean,
centre crop, mirror image) and runs the bare Keras model on them. The videos are losslessly
encoded (FFV1) at C3D's 128x171 already, so the decoder neither scales nor loses anything, and
a cheap stand-in model keeps the tests fast.
"""
import math

import av
import keras
import numpy as np
import pytest

from featurizer.c3d import load_c3d_extractor
from featurizer.c3d.extractor import C3DFeatureExtractor
from featurizer.c3d.video_features import FeatureSettings, LocalVideo, VideoFailure, VideoFeatures, VideoFeaturizer

pytestmark = [pytest.mark.timeout(600), pytest.mark.filterwarnings("ignore:.*random")]
SETTINGS = FeatureSettings(fps=12.5, stride=16, mirror=True, batch_size=4)


@pytest.fixture(scope="module")
def extractor():
    return load_c3d_extractor()


def test_worker_processes_give_the_features_of_in_thread_decoding(tiny_world, extractor, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(3000))
    sources = [LocalVideo(str(tiny_world.video_path(v["video_id"]))) for v in tiny_world.videos[:2]]
    sources.insert(1, LocalVideo(str(broken)))
    inline = VideoFeaturizer(extractor, SETTINGS).featurize(sources)
    pooled_featurizer = VideoFeaturizer(extractor, SETTINGS, decode_processes=2)
    try:
        pooled = pooled_featurizer.featurize(sources)
    finally:
        pooled_featurizer.close()
    assert isinstance(inline[1], VideoFailure) and inline[1].kind == "unreadable"
    assert pooled[1] == inline[1]
    for a, b in ((inline[0], pooled[0]), (inline[2], pooled[2])):
        assert isinstance(a, VideoFeatures) and a.segments == b.segments
        np.testing.assert_array_equal(a.snippets, b.snippets)
        np.testing.assert_array_equal(a.features, b.features)  # bit for bit: a snippet's batch does not matter


def test_a_segment_keeping_under_16_frames_repeats_them_into_one_snippet(tmp_path):
    from featurizer.c3d.video_decode import C3DFrames
    from featurizer.labels.segments import Segment

    frames = C3DFrames(str(tmp_path))
    # 12.5 fps out of 25: the even frames of [0, 16) are kept, 8 of them
    pixels = np.arange(40, dtype=np.uint8)[:, None, None, None] * np.ones((1, 128, 171, 3), np.uint8)
    frames.append(pixels[::2], np.arange(0, 40, 2))  # frame n's pixels are all n
    frames.finish()
    with frames:
        [window] = list(frames.snippets(Segment(0, 0, 16)))
        assert window[:, 0, 0, 0].tolist() == [0, 0, 2, 2, 4, 4, 6, 6, 8, 8, 10, 10, 12, 12, 14, 14]
        assert len(list(frames.snippets(Segment(1, 16, 48)))) == 1  # 16 kept frames: one ordinary snippet
        assert list(frames.snippets(Segment(2, 41, 57))) == []  # nothing kept: no snippet


def test_a_video_over_max_video_sec_is_refused_before_decoding(tiny_world, extractor):
    video = tiny_world.videos[0]
    path = str(tiny_world.video_path(video["video_id"]))
    short_limit = FeatureSettings(fps=12.5, stride=16, mirror=False, max_video_sec=2.0)
    [result] = VideoFeaturizer(extractor, short_limit).featurize([LocalVideo(path)])
    assert isinstance(result, VideoFailure) and result.kind == "too_long" and "over --max-video-sec 2" in result.message


def test_segment_seconds_come_from_the_decoders_timestamps(tmp_path):
    """A variable-frame-rate video: frame i is shown at i*i centiseconds, as alignments would place it."""
    import subprocess

    import imageio_ffmpeg

    from featurizer.c3d.video_decode import decode_segments

    path = tmp_path / "vfr.mp4"
    frames = 40
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc2=size=96x64:rate=25,settb=1/1000,setpts=N*N*10,trim=end_frame={frames}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-fps_mode", "passthrough",
                    "-enc_time_base:v", "1:1000", str(path)], check=True)
    video = decode_segments(str(path), max_segment_sec=0.5)
    with video.frames:
        assert len(video.segments) >= 2
        for segment in video.segments:
            start, end = video.seconds(segment)
            assert start == pytest.approx(segment.start_frame ** 2 / 100, abs=1e-6)
            if segment.end_frame < frames:
                assert end == pytest.approx(segment.end_frame ** 2 / 100, abs=1e-6)
            else:
                # the last frame lasts the typical (median) step, as the alignments' video index takes it
                typical_step = float(np.median(np.diff(np.arange(frames) ** 2 / 100)))
                assert end == pytest.approx((frames - 1) ** 2 / 100 + typical_step, abs=1e-6)


# ---- the path against an oracle of its own ------------------------------------------------

HEIGHT, WIDTH, CROP = 128, 171, 112  # C3D's frames and its crop, as Video2GIF sizes them
TOP, LEFT = (HEIGHT - CROP) // 2, (WIDTH - CROP) // 2  # 8, 29
FPS = 25
TIME_EPS = 1e-6  # seconds: container timestamps are whole milliseconds


def write_video(path, frames: int, seed: int) -> str:
    """`frames` frames at 25 fps, lossless, 171x128: a random texture panning and a channel ramping, so
    every frame, row, column and channel differs from its neighbours; one shot (no cut)."""
    texture = np.random.default_rng(seed).integers(0, 256, (HEIGHT // 4 + 8, (WIDTH + 2 * frames) // 4 + 1, 3),
                                                   dtype=np.uint8).repeat(4, 0).repeat(4, 1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "bgr0"
        for t in range(frames):
            rgb = texture[t % 8:t % 8 + HEIGHT, 2 * t:2 * t + WIDTH].copy()
            rgb[:, :, 2] = (rgb[:, :, 2].astype(np.int64) + 3 * t) % 256
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return str(path)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("c3d-videos")
    return write_video(folder / "pan.mkv", 96, seed=0), write_video(folder / "other.mkv", 70, seed=1)


@pytest.fixture(scope="module")
def stand_in():
    """An extractor whose model is cheap but sees every pixel, in place: mean-pooled blocks projected
    to 4096, so a flip, a channel swap, a shifted crop or another frame changes its output."""
    clips = keras.Input((16, CROP, CROP, 3))
    x = keras.layers.Flatten()(keras.layers.AveragePooling3D((4, 28, 28))(clips))
    fc6 = keras.layers.Dense(4096, kernel_initializer=keras.initializers.RandomNormal(seed=1))(x)
    mean = np.random.default_rng(2).uniform(80, 120, (16, HEIGHT, WIDTH, 3)).astype(np.float32)
    return C3DFeatureExtractor(keras.Model(clips, fc6), mean, "stand-in")


def decoded(path):
    """(RGB frames (n, 128, 171, 3) uint8, their times in seconds from the first), decoded here."""
    with av.open(path) as container:
        frames = [(frame.time, frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]
    times = np.array([t for t, _ in frames]) - frames[0][0]
    pixels = np.stack([f for _, f in frames])
    assert pixels.shape[1:] == (HEIGHT, WIDTH, 3)  # encoded at C3D's size: nothing to resize
    return pixels, times


def kept_frames(times, fps):
    """Indices of the frames C3D sees: all of them, or at `fps` the first frame at or after each tick."""
    if fps is None:
        return np.arange(len(times))
    ticks = np.arange(math.floor(times[-1] * fps + TIME_EPS) + 1) / fps
    return np.unique(np.searchsorted(times, ticks - TIME_EPS))


def snippet_windows(frame_numbers, stride):
    """Frame numbers of each 16-frame snippet of a segment's kept frames: one every `stride` while 16
    fit; under 16 kept, one snippet of them in order, each repeated about equally to fill 16."""
    kept = len(frame_numbers)
    if kept == 0:
        return []
    if kept < 16:
        return [frame_numbers[[i * kept // 16 for i in range(16)]]]
    return [frame_numbers[start:start + 16] for start in range(0, kept - 16 + 1, stride)]


def clip(window_rgb, mean_bgr):
    """The release's clip: BGR, the snippet mean off, the centre 112x112."""
    x = window_rgb[..., ::-1].astype(np.float32) - mean_bgr
    return x[:, TOP:TOP + CROP, LEFT:LEFT + CROP]


def expected_features(model, mean, path, segments, fps, stride, mirror):
    """(snippets per segment, mean fc6 per segment: over snippets of the mean over its clip and, with
    mirror, the clip flipped left-right; zeros for a segment keeping no frame)."""
    pixels, times = decoded(path)
    kept = kept_frames(times, fps)
    counts, features = [], []
    for start, end in segments:
        windows = snippet_windows(kept[(kept >= start) & (kept < end)], stride)
        counts.append(len(windows))
        if not windows:
            features.append(np.zeros(4096, np.float32))
            continue
        clips = np.stack([clip(pixels[w], mean) for w in windows])
        fc6 = np.asarray(model.predict_on_batch(clips), np.float64)
        if mirror:
            fc6 = (fc6 + np.asarray(model.predict_on_batch(np.ascontiguousarray(clips[:, :, :, ::-1])))) / 2
        features.append(fc6.mean(axis=0))
    return np.array(counts), np.array(features, np.float32)


def assert_features_as_expected(result, extractor, path, settings):
    segments = [(s.start_frame, s.end_frame) for s in result.segments]
    counts, features = expected_features(extractor.model, extractor.mean, path, segments, settings.fps,
                                         settings.stride, settings.mirror)
    np.testing.assert_array_equal(result.snippets, counts)
    np.testing.assert_allclose(result.features, features, rtol=1e-5, atol=1e-5)
    return counts


@pytest.mark.parametrize("settings, segments, snippets", [
    # two segments of 48 frames: snippets at 0, 8, ..., 32
    (FeatureSettings(max_segment_sec=2.0, batch_size=3), [(0, 48), (48, 96)], [5, 5]),
    (FeatureSettings(max_segment_sec=2.0, mirror=False, batch_size=3), [(0, 48), (48, 96)], [5, 5]),
    (FeatureSettings(max_segment_sec=2.0, stride=5, batch_size=4), [(0, 48), (48, 96)], [7, 7]),
    # 10 fps keeps frames 0, 3, 5, 8, 10, ...: 19 of the first segment's (snippets at 0, 2), 20 of the
    # second's (0, 2, 4)
    (FeatureSettings(max_segment_sec=2.0, fps=10, stride=2, batch_size=3), [(0, 48), (48, 96)], [2, 3]),
    # 5 fps keeps 10 frames of each: one snippet of them repeated
    (FeatureSettings(max_segment_sec=2.0, fps=5, mirror=False), [(0, 48), (48, 96)], [1, 1]),
    # 1 fps keeps frames 0, 25, 50, 75: one frame repeated 16 times in four segments, none in the last
    (FeatureSettings(max_segment_sec=0.8, fps=1, batch_size=3), [(0, 19), (19, 38), (38, 58), (58, 77), (77, 96)],
     [1, 1, 1, 1, 0]),
], ids=["default", "no-mirror", "stride-5", "fps-10", "fps-5-short", "fps-1-empty"])
def test_segment_features_equal_the_oracles(videos, stand_in, settings, segments, snippets):
    path = videos[0]
    [result] = VideoFeaturizer(stand_in, settings).featurize([LocalVideo(path)])
    assert [(s.start_frame, s.end_frame) for s in result.segments] == segments  # one shot, split evenly
    assert result.features.dtype == np.float32 and result.snippets.tolist() == snippets
    assert_features_as_expected(result, stand_in, path, settings)


def test_mirror_and_sampling_change_the_features(videos, stand_in):
    """The oracle's agreement means something: each setting the features depend on changes them."""
    path = videos[0]
    base = FeatureSettings(max_segment_sec=2.0)
    [reference] = VideoFeaturizer(stand_in, base).featurize([LocalVideo(path)])
    for changed in (FeatureSettings(max_segment_sec=2.0, mirror=False), FeatureSettings(max_segment_sec=2.0, stride=16),
                    FeatureSettings(max_segment_sec=2.0, fps=12.5)):
        [other] = VideoFeaturizer(stand_in, changed).featurize([LocalVideo(path)])
        assert np.abs(other.features - reference.features).max() > 1e-2 * np.abs(reference.features).max()


def test_several_videos_in_one_call_equal_each_alone(videos, stand_in, tmp_path):
    """Batches run across videos (5 and 3 snippets, batches of 3): no video's features depend on
    the others', and an unreadable one among them is its own failure."""
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(b"\x1aE\xdf\xa3" + bytes(2000))
    settings = FeatureSettings(max_segment_sec=2.0, batch_size=3)
    sources = [LocalVideo(videos[0]), LocalVideo(str(broken)), LocalVideo(videos[1]), LocalVideo(videos[0])]
    featurizer = VideoFeaturizer(stand_in, settings)
    together = featurizer.featurize(sources)
    assert isinstance(together[1], VideoFailure) and together[1].kind == "unreadable"
    for source, result in zip(sources, together):
        [alone] = featurizer.featurize([source])
        if isinstance(alone, VideoFailure):
            assert result == alone
            continue
        assert result.segments == alone.segments and len(result.segments) >= 2
        np.testing.assert_array_equal(result.snippets, alone.snippets)
        np.testing.assert_allclose(result.features, alone.features, rtol=1e-6, atol=1e-6)
    assert_features_as_expected(together[2], stand_in, videos[1], settings)


def test_window_features_of_the_real_network_equal_its_fc6_of_numpy_clips(extractor):
    """The window model in front of C3D itself (random weights, a mean that is not zero): the clips it
    builds on the device are the ones numpy builds, and mirroring averages the two images' fc6."""
    rng = np.random.default_rng(4)
    mean = rng.uniform(80, 120, (16, HEIGHT, WIDTH, 3)).astype(np.float32)
    with_mean = C3DFeatureExtractor(extractor.model, mean, extractor.name)
    windows = rng.integers(0, 256, (1, 16, HEIGHT, WIDTH, 3), dtype=np.uint8)  # one: C3D is slow on a CPU
    clips = np.stack([clip(w, mean) for w in windows])
    fc6 = np.asarray(extractor.model.predict_on_batch(np.concatenate([clips, clips[:, :, :, ::-1]])))
    expected = (fc6[:1] + fc6[1:]) / 2
    assert (expected > 0).mean() > 0.2  # live units: the comparison means something
    np.testing.assert_allclose(with_mean.window_features(windows, mirror=True, batch_size=1), expected,
                               rtol=1e-4, atol=1e-4 * np.abs(expected).max())
