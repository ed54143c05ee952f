"""The featurize pipeline: one decode per video, labelled segments, C3D through RunInference.

The expected labels, popularity, context and split are worked out here from the definitions
(Video2GIF section 4.1, Khosla et al.'s popularity, featurizer/labels/context.py's layout), not
with featurizer.labels: a bug there must not move the expectation along with the result.
"""
import hashlib
import math

import numpy as np
import pytest

from featurizer.dataset import table_store, table_views, tables
from featurizer.dataset.blobs import BlobStore
from featurizer.media.video import MAX_VIDEO_BYTES
from pipelines import featurize
from tests.pipelines.test_media_caps import over_cap_blob
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


# Slots of the demo world's categories in the context's one-hot, counted in YouTube's list:
# 0 Film & Animation, 1 Autos & Vehicles, 2 Music, 3 Pets & Animals, 4 Sports, 5 Travel & Events,
# 6 Gaming, 7 People & Blogs, 8 Comedy, 9 Entertainment, ..., 13 Science & Technology; 15 is "other".
CATEGORY_SLOT = {"Music": 2, "Pets & Animals": 3, "Sports": 4, "Gaming": 6, "Comedy": 8, "Entertainment": 9,
                 "Science & Technology": 13}


def _shared_frames(a_start, a_end, b_start, b_end):
    """How many frames [a_start, a_end) and [b_start, b_end) have in common."""
    return len(range(max(a_start, b_start), min(a_end, b_end)))


def _expected_popularity(gif_rows):
    """gif_id -> (raw, p): raw = log(1 + views / age in days), the age from upload to scrape and at
    least a day; p = share of the same source's GIFs with a lower raw score, ties counted half."""
    raw = {}
    for r in gif_rows:
        days = max(1, (r["scraped_at"].date() - r["upload_date"]).days)
        raw[r["gif_id"]] = (r["source"], math.log(1 + r["views"] / days))
    expected = {}
    for gif_id, (source, score) in raw.items():
        peers = [s for src, s in raw.values() if src == source]
        below, ties = sum(s < score for s in peers), sum(s == score for s in peers)
        expected[gif_id] = (score, (below + ties / 2) / len(peers))
    return expected


def _expected_tag_block(tags):
    """Signed feature hashing into 32 dims: a lowercased, stripped tag goes to slot sha1[0] % 32 with
    sign + when sha1[1] is odd, - when even; the sum is scaled to unit length."""
    block = np.zeros(32)
    for tag in {t.strip().lower() for t in tags if t.strip()}:
        digest = hashlib.sha1(tag.encode()).digest()
        block[digest[0] % 32] += 1 if digest[1] % 2 else -1
    return block / np.linalg.norm(block) if block.any() else block


def _expected_split(video_id):
    """The first 8 bytes of sha1(video id) as a share u of 2**64: train below 0.8, val below 0.9, else test."""
    u = int.from_bytes(hashlib.sha1(video_id.encode()).digest()[:8], "big") / 2**64
    return "train" if u < 0.8 else "val" if u < 0.9 else "test"


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
    # And one whose blob is over the video cap (stored before the cap, say): refused by its size.
    huge_sha = over_cap_blob(blobs, MAX_VIDEO_BYTES + 1, "huge video")
    huge = {**gif_rows[3], "gif_id": "demo:huge", "video_id": "huge", "video_sha256": huge_sha,
            "video_url": "http://demo.test/huge.mp4"}
    alignments.append({**alignments[3], "gif_id": "demo:huge", "video_id": "huge", "video_sha256": huge_sha})
    write_table(tmp_path, tables.GIFS, [*gif_rows, orphan, broken, short, huge])
    write_table(tmp_path, tables.ALIGNMENTS, alignments)
    counters = featurize.run(["--dataset", str(tmp_path), "--batch-size", "8"]).counters
    return tmp_path, alignments, counters, [*gif_rows, orphan, broken, short, huge]


def test_segments_are_labelled_and_featurized(tiny_world, featurized):
    root, alignments, counters, gif_rows = featurized
    segments = table_views.read_view_rows(str(root), tables.SEGMENTS)
    dead = {d["url"]: d["error_kind"] for d in table_views.read_view_rows(str(root), tables.DEADLETTER)}
    assert dead == {"http://demo.test/orphan.mp4": "no_aligned_gifs", "http://demo.test/broken.mp4": "unreadable",
                    "http://demo.test/short.mp4": "no_segments", "http://demo.test/huge.mp4": "too_large"}
    assert {s["video_id"] for s in segments} == {v["video_id"] for v in tiny_world.videos}  # nothing lost
    assert counters["videos_segmented"] == len(tiny_world.videos)

    spans = {}
    for a in alignments:
        spans.setdefault(a["video_id"], []).append((a["gif_id"], a["start_frame"], a["end_frame"]))
    # Every GIF of the table counts in its source's popularity, those of the dead-lettered videos too.
    popularity = _expected_popularity(gif_rows)
    assert len({p for _raw, p in popularity.values()}) > 2  # the p checked below do tell GIFs apart
    gifs_of = {}
    for r in gif_rows:
        gifs_of.setdefault(r["video_id"], []).append(r)
    for s in segments:
        length = s["end_frame"] - s["start_frame"]
        assert 16 <= length <= 6 * 25
        shared = {g: _shared_frames(s["start_frame"], s["end_frame"], a, b) for g, a, b in spans[s["video_id"]]}
        # Positive when one GIF covers more than 66% of the segment (in integers: 100 * shared > 66 * length),
        # negative when none overlaps it, ignored otherwise.
        covering = sorted(g for g, n in shared.items() if 100 * n > 66 * length)
        touching = sorted(g for g, n in shared.items() if n > 0)
        expected = 1 if covering else 0 if not touching else -1
        assert s["label"] == expected
        assert s["gif_ids"] == (covering if expected == 1 else touching if expected == -1 else [])
        if expected == 1:  # the most popular covering GIF's
            top_raw, top_p = max(popularity[g] for g in covering)
            assert s["popularity"] == pytest.approx(top_p, rel=1e-6)
            assert s["popularity_raw"] == pytest.approx(top_raw, rel=1e-6)
            assert s["popularity_source"] == "demo"
        else:
            assert s["popularity"] is None and s["popularity_raw"] is None and s["popularity_source"] is None
        assert len(s["features"]) == 4096 and np.isfinite(s["features"]).all()
        assert s["feature_extractor"] == "c3d-random/fps=native/stride=8/mirror/short=repeat"
        assert s["split"] == _expected_split(s["video_id"])
        # Context: 16 category slots, 32 tag dims (the video's GIFs' tags: the demo rows have no video
        # tags), then start in minutes, start / duration, segment index / 100.
        video_gifs = gifs_of[s["video_id"]]
        category = np.zeros(16)
        category[CATEGORY_SLOT[video_gifs[0]["category"]]] = 1
        duration_sec = s["video_num_frames"] / s["fps"]
        position = [s["start_sec"] / 60, s["start_sec"] / duration_sec, s["segment_index"] / 100]
        assert len(s["context"]) == 16 + 32 + 3
        np.testing.assert_array_equal(s["context"][:16], category)
        np.testing.assert_allclose(s["context"][16:48], _expected_tag_block([t for g in video_gifs for t in g["tags"]]),
                                   atol=1e-6)
        np.testing.assert_allclose(s["context"][48:], position, rtol=1e-5)
        assert s["context_tags_from"] == "gifs"
    assert any(s["label"] == 1 for s in segments)


def test_a_video_blob_over_its_cap_is_a_dead_letter_and_the_others_are_featurized(featurized):
    root, _alignments, counters, gif_rows = featurized
    featurized_videos = {r["video_sha256"] for r in table_store.read_rows(str(root), tables.FEATURES)}
    dead = {d["url"]: d for d in table_views.read_view_rows(str(root), tables.DEADLETTER)}
    huge = dead["http://demo.test/huge.mp4"]
    assert huge["error_kind"] == "too_large" and huge["stage"] == "video"
    assert "video huge: video blob" in huge["message"] and "more than the 2 GiB cap for videos" in huge["message"]
    # Every video of the gifs table is featurized or a dead letter: nothing lost, nothing failed the run.
    assert len(featurized_videos) + len(dead) == len({r["video_sha256"] for r in gif_rows})
    assert counters["videos_failed"] == 3  # broken, short and huge; the orphan never reached C3D


def test_features_equal_the_library_path(tiny_world, featurized):
    """The pipeline's RunInference step adds nothing: its features are VideoFeaturizer's on the same video
    (that path is checked against an independent numpy oracle in tests/featurizer/c3d)."""
    from featurizer.c3d import load_c3d_extractor
    from featurizer.c3d.video_features import FeatureSettings, LocalVideo, VideoFeaturizer

    root, _alignments, _counters, _gif_rows = featurized
    segments = sorted(table_views.read_view_rows(str(root), tables.SEGMENTS),
                      key=lambda s: (s["video_id"], s["segment_index"]))
    video_id = segments[0]["video_id"]
    mine = [s for s in segments if s["video_id"] == video_id]
    featurizer = VideoFeaturizer(load_c3d_extractor(), FeatureSettings(batch_size=8))
    [direct] = featurizer.featurize([LocalVideo(str(tiny_world.video_path(video_id)))])
    featurizer.close()
    by_start = {s.start_frame: i for i, s in enumerate(direct.segments)}
    assert {s["start_frame"] for s in mine} <= set(by_start)  # the view keeps the labelled ones
    for segment in mine:
        np.testing.assert_allclose(segment["features"], direct.features[by_start[segment["start_frame"]]],
                                   rtol=1e-4, atol=1e-5)


def test_the_trainer_reads_the_featurized_dataset(featurized, tmp_path):
    """gifrank train --dataset reads the labelled segments through the dataset layer and records the versions;
    the tiny world's videos have no negative segment (GIFs cover them), which is counted and a clear error.
    (`make demo` trains on the demo world's dataset.)"""
    import json

    from trainer.data import DataError
    from trainer.task import main as train_main

    root = featurized[0]
    job = tmp_path / "job"
    with pytest.raises(DataError, match=r"no training pairs.*'skipped_no_negative': 1"):
        train_main(["--dataset", str(root), "--job-dir", str(job), "--epochs", "1", "--progress", "log"])
    config = json.loads((job / "config.json").read_text())
    assert config["tables_read"] == {"labels": table_store.snapshot(str(root), tables.LABELS).version,
                                     "features": table_store.snapshot(str(root), tables.FEATURES).version}
    assert not (job / "model").exists()
    # The tables move on (relabelled); the job, rerun, goes on reading the versions it started on.
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(root, moved)
    config_path = job / "config.json"
    started = json.loads(config_path.read_text())
    started["flags"]["dataset"] = str(moved)
    config_path.write_text(json.dumps(started))
    featurize.run(["--dataset", str(moved), "--batch-size", "8", "--split-ratios", "0,1,0"])
    assert table_store.snapshot(str(moved), tables.LABELS).version == config["tables_read"]["labels"] + 1
    from trainer.config import TrainConfig
    from trainer.training import Trainer

    trainer = Trainer(TrainConfig(dataset=str(moved), job_dir=str(job), epochs=1, progress="log"))
    trainer._check_job_dir()
    assert trainer.source.versions == config["tables_read"]


def test_bad_options_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="split-ratios"):
        featurize.run(["--dataset", str(tmp_path), "--split-ratios", "0.5,0.5"])
    with pytest.raises(ValueError, match="c3d-mean"):
        featurize.run(["--dataset", str(tmp_path), "--c3d-weights", "w.pkl"])
    with pytest.raises(ValueError, match="needs --test-videos"):
        featurize.run(["--dataset", str(tmp_path), "--split-by", "published"])
    with pytest.raises(FileNotFoundError, match="no such file"):
        featurize.run(["--dataset", str(tmp_path), "--split-by", "published", "--test-videos", "missing.txt"])


def _job(video, spans=(), untrusted=()):
    from featurizer.labels.video_jobs import VideoJob

    return f"sha-{video}", VideoJob(video_sha256=f"sha-{video}", video_id=video, video_url=f"http://x/{video}.mp4",
                                    category=None, tags=(), tags_from="none", spans=tuple(spans),
                                    untrusted_gifs=tuple(untrusted), low_confidence_gifs=0)


@pytest.mark.parametrize("retry", [False, True])
def test_known_failures_are_skipped_unless_retried(retry):
    import apache_beam as beam
    from apache_beam.testing import test_pipeline
    from apache_beam.testing.util import assert_that, equal_to

    jobs = [_job(v) for v in ("unreadable", "flaky", "segment", "fine")]
    dead_letters = [
        {"url": "http://x/unreadable.mp4", "stage": "video", "error_kind": "unreadable"},  # fails every time
        {"url": "http://x/flaky.mp4", "stage": "video", "error_kind": "timeout"},  # may not fail again
        {"url": "http://x/segment.mp4", "stage": "segment", "error_kind": "no_frames"},  # a segment's, not the video's
    ]
    with test_pipeline.TestPipeline() as p:
        kept = ({"jobs": p | "Jobs" >> beam.Create(jobs), "dead_letters": p | "Dead" >> beam.Create(dead_letters)}
                | featurize.SkipKnownFailures(retry))
        assert_that(kept | beam.Keys(), equal_to([j[0] for j in jobs if retry or j[0] != "sha-unreadable"]))


def test_labels_join_a_videos_job_and_its_boundaries():
    """Segments [0, 50) and [50, 100) at 25 fps; one GIF covers the first: positive, the second
    negative; a segment without snippets is labelled and also a dead letter. A job without
    boundaries, and boundaries without a job, give no rows."""
    import apache_beam as beam
    from apache_beam.testing import test_pipeline
    from apache_beam.testing.util import assert_that, equal_to

    from featurizer.labels.segment_labels import SplitRule
    from featurizer.labels.video_jobs import TrustedSpan

    def bounds(video, index, snippets=1):
        return {"video_sha256": f"sha-{video}", "segmenter": "s", "segment_index": index, "start_frame": 50 * index,
                "end_frame": 50 * index + 50, "start_sec": 2.0 * index, "end_sec": 2.0 * index + 2.0, "fps": 25.0,
                "video_num_frames": 100, "snippets": snippets}

    jobs = [_job("v", [TrustedSpan("g", "siteA", None, start_frame=0, end_frame=45)]), _job("no-features")]
    boundaries = [bounds("v", 0), bounds("v", 1, snippets=0), bounds("orphan", 0)]
    with test_pipeline.TestPipeline() as p:
        labelled = ({"jobs": p | "Jobs" >> beam.Create(jobs), "boundaries": p | "Bounds" >> beam.Create(boundaries),
                     "scores_by_source": p | "Scores" >> beam.Create([("siteA", [1.0])])}
                    | featurize.LabelVideos(SplitRule((1.0, 0.0, 0.0)), fps=None))
        assert_that(labelled["labels"] | beam.Map(lambda r: (r["video_id"], r["segment_index"], r["label"],
                                                              r["gif_ids"], r["split"])),
                    equal_to([("v", 0, 1, ["g"], "train"), ("v", 1, 0, [], "train")]), label="Labels")
        assert_that(labelled["deadletters"] | beam.Map(lambda d: (d["record_key"], d["error_kind"])),
                    equal_to([("http://x/v.mp4#segment=1", "no_snippets")]), label="DeadLetters")


def test_scores_by_source_are_each_sources_sorted_raw_scores():
    import datetime as dt

    import apache_beam as beam
    from apache_beam.testing import test_pipeline
    from apache_beam.testing.util import assert_that, equal_to

    def gif(source, views):
        return {"source": source, "views": views, "upload_date": dt.date(2026, 1, 1),
                "scraped_at": dt.datetime(2026, 1, 11, tzinfo=dt.timezone.utc)}

    gifs = [gif("a", 90), gif("a", 0), gif("b", 10), gif("b", None)]  # 10 days old; b's second has no views
    with test_pipeline.TestPipeline() as p:
        scores = (p | beam.Create(gifs) | featurize.ScoresBySource()
                  | beam.MapTuple(lambda source, raw: (source, [round(x, 9) for x in raw])))
        # raw = log(1 + views / days): log(1 + 90 / 10), log(1 + 0), log(1 + 10 / 10)
        assert_that(scores, equal_to([("a", [0.0, round(math.log(10.0), 9)]), ("b", [round(math.log(2.0), 9)])]))
