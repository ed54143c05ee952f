"""The featurize step, Beam-free: whole videos in, segment features out; decoding in worker processes
gives the same features as decoding in the model's thread, and bad input is a failure with its kind."""
import numpy as np
import pytest

from featurizer.c3d import load_c3d_extractor
from featurizer.c3d.extractor import ClipOptions
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


def test_features_equal_the_extractors_segment_means(tiny_world, extractor):
    """The library's path (float32 clips built with numpy) and the step's (uint8 windows, clips made
    by the model) give the same segment features."""
    settings = FeatureSettings(fps=12.5, stride=8, mirror=True, batch_size=4)
    path = str(tiny_world.video_path(tiny_world.videos[0]["video_id"]))
    [result] = VideoFeaturizer(extractor, settings).featurize([LocalVideo(path)])
    kept = [i for i, n in enumerate(result.snippets) if n > 0]
    assert kept and result.features.dtype == np.float32
    library = extractor.videos_features(
        [(path, [(result.segments[i].start_frame, result.segments[i].end_frame) for i in kept])],
        ClipOptions(fps=settings.fps, mirror=True))[0]
    # The library gives no clip to a segment keeping under 16 frames; the step repeats its frames.
    whole = library.clip_counts > 0
    assert whole.any() and (result.snippets[np.array(kept)[~whole]] == 1).all()
    np.testing.assert_array_equal(library.clip_counts[whole], 2 * result.snippets[kept][whole])
    np.testing.assert_allclose(result.features[kept][whole], library.features[whole], rtol=1e-4, atol=1e-5)
    assert (result.features[result.snippets == 0] == 0).all()


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
                assert end == pytest.approx((frames - 1) ** 2 / 100 + 1 / video.shots.fps, abs=1e-6)
