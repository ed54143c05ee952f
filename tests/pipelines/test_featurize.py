"""The featurize pipeline: one decode per video, labelled segments, C3D through RunInference."""
import numpy as np
import pytest

from featurizer.dataset import table_store, tables
from featurizer.dataset.blobs import BlobStore
from featurizer.labels.segments import POSITIVE_OVERLAP, overlap
from pipelines import featurize
from tests.rows import alignment_rows, gif_rows_from_world, write_table

pytestmark = [pytest.mark.timeout(600), pytest.mark.filterwarnings("ignore:.*random")]


def _write_video(path, frames):
    """A tiny real H.264 video (PyAV), shorter than one C3D snippet when frames < 16."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            picture = np.full((48, 64, 3), i * 20, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())


@pytest.fixture(scope="module")
def featurized(tiny_world, tmp_path_factory):
    """The tiny world's dataset, featurized once for this module (C3D on CPU is the slow part)."""
    tmp_path = tmp_path_factory.mktemp("featurize")
    blobs = BlobStore(str(tmp_path))
    gif_rows = gif_rows_from_world(tiny_world, blobs)
    alignments = alignment_rows(tiny_world, gif_rows)
    # One more video whose only GIF failed to align, and one whose bytes are not a video.
    orphan = {**gif_rows[0], "gif_id": "demo:orphan", "video_id": "orphan",
              "video_sha256": blobs.put_bytes(tiny_world.video_path(tiny_world.videos[0]["video_id"]).read_bytes()
                                              + b"\x00")[0], "video_url": "http://demo.test/orphan.mp4"}
    short_path = tmp_path / "short.mp4"
    _write_video(short_path, frames=10)
    short_sha = blobs.put_bytes(short_path.read_bytes())[0]
    short = {**gif_rows[2], "gif_id": "demo:short", "video_id": "short", "video_sha256": short_sha,
             "video_url": "http://demo.test/short.mp4"}
    alignments.append({**alignments[2], "gif_id": "demo:short", "video_id": "short", "video_sha256": short_sha,
                       "start_frame": 0, "end_frame": 10})
    broken_sha = blobs.put_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(3000))[0]
    broken = {**gif_rows[1], "gif_id": "demo:broken", "video_id": "broken", "video_sha256": broken_sha,
              "video_url": "http://demo.test/broken.mp4"}
    alignments.append({**alignments[1], "gif_id": "demo:broken", "video_id": "broken", "video_sha256": broken_sha})
    write_table(tmp_path, tables.GIFS, [*gif_rows, orphan, broken, short])
    write_table(tmp_path, tables.ALIGNMENTS, alignments)
    counters = featurize.run(["--dataset", str(tmp_path), "--batch-size", "8"]).counters
    return tmp_path, alignments, counters


def test_segments_are_labelled_and_featurized(tiny_world, featurized):
    root, alignments, counters = featurized
    segments = table_store.read_rows(str(root), tables.SEGMENTS)
    dead = {d["url"]: d["error_kind"] for d in table_store.read_rows(str(root), tables.DEADLETTER)}
    assert dead == {"http://demo.test/orphan.mp4": "no_aligned_gifs", "http://demo.test/broken.mp4": "unreadable",
                    "http://demo.test/short.mp4": "no_segments"}
    assert {s["video_id"] for s in segments} == {v["video_id"] for v in tiny_world.videos}  # nothing lost
    assert counters["videos_segmented"] == len(tiny_world.videos)

    spans = {}
    for a in alignments:
        spans.setdefault(a["video_id"], []).append((a["gif_id"], a["start_frame"], a["end_frame"]))
    for s in segments:
        length = s["end_frame"] - s["start_frame"]
        assert 16 <= length <= 6 * 25
        covering = sorted(g for g, a, b in spans[s["video_id"]] if overlap(s["start_frame"], s["end_frame"], a, b)
                          / length > POSITIVE_OVERLAP)
        touching = sorted(g for g, a, b in spans[s["video_id"]] if overlap(s["start_frame"], s["end_frame"], a, b))
        expected = 1 if covering else 0 if not touching else -1
        assert s["label"] == expected
        assert s["gif_ids"] == (covering if expected == 1 else touching if expected == -1 else [])
        assert (s["popularity"] is not None) == (expected == 1)
        assert len(s["features"]) == 4096 and np.isfinite(s["features"]).all()
        assert s["feature_extractor"] == "c3d-random/fps=native/stride=8/mirror/short=repeat"
        assert s["split"] == featurize.split_of(s["video_id"], (0.8, 0.1, 0.1))
        assert len(s["context"]) > 0
    assert any(s["label"] == 1 for s in segments)


def test_features_equal_the_library_path(tiny_world, featurized):
    """RunInference's features match the C3D extractor run directly on the same segment."""
    from featurizer.c3d import load_c3d_extractor
    from featurizer.c3d.extractor import ClipOptions

    root, _alignments, _counters = featurized
    segment = sorted(table_store.read_rows(str(root), tables.SEGMENTS), key=lambda s: (s["video_id"], s["segment_index"]))[0]
    video = tiny_world.video_path(segment["video_id"])
    direct = load_c3d_extractor().videos_features(
        [(video, [(segment["start_frame"], segment["end_frame"])])], ClipOptions(mirror=True))[0].features[0]
    np.testing.assert_allclose(segment["features"], direct, rtol=1e-4, atol=1e-5)


def test_bad_options_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="split-ratios"):
        featurize.run(["--dataset", str(tmp_path), "--split-ratios", "0.5,0.5"])
    with pytest.raises(ValueError, match="c3d-mean"):
        featurize.run(["--dataset", str(tmp_path), "--c3d-weights", "w.pkl"])
    with pytest.raises(ValueError, match="needs --test-videos"):
        featurize.run(["--dataset", str(tmp_path), "--split-by", "published"])
    with pytest.raises(FileNotFoundError, match="no such file"):
        featurize.run(["--dataset", str(tmp_path), "--split-by", "published", "--test-videos", "missing.txt"])
