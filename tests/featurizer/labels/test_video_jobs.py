"""Video jobs: a video's GIFs and alignments joined into trusted spans, unplaced GIFs and context."""
import pickle

import pytest

from featurizer.labels.video_jobs import TrustedSpan, VideoJob, video_job, video_jobs
from tests.rows import job_alignment_row as _alignment
from tests.rows import job_gif_row as _gif

GIFS = [_gif("b2", "b", category="Music", published_start_sec=1.0, published_end_sec=2.0),
        _gif("a1", "a", tags=["cat"]), _gif("b1", "b"), _gif("a2", "a")]
ALIGNMENTS = [_alignment("a1", "a", 10, 40), _alignment("b1", "b", 0, 30, confidence=0.05),
              _alignment("b2", "b", 50, 60, confidence=0.01), _alignment("z1", "z", 0, 16)]


def test_a_job_holds_the_trusted_spans_the_unplaced_gifs_and_the_context():
    [a, b] = video_jobs(GIFS, ALIGNMENTS)
    assert a == VideoJob(video_sha256="sha-a", video_id="a", video_url="http://x/a.mp4", category=None,
                         tags=("cat",), tags_from="gifs",
                         spans=(TrustedSpan("a1", "siteA", None, start_frame=10, end_frame=40),),
                         untrusted_gifs=("a2",), low_confidence_gifs=0)
    # b1's alignment is too unsure and it has no published one; b2's published seconds stand in for its own
    assert b.spans == (TrustedSpan("b2", "siteA", None, start_sec=1.0, end_sec=2.0),)
    assert (b.untrusted_gifs, b.low_confidence_gifs, b.category) == (("b1",), 2, "Music")
    assert b.spans[0].frames(25.0) == (25, 50) and a.spans[0].frames(25.0) == (10, 40)


def test_video_jobs_groups_rows_by_video_as_video_job_does_one_video():
    jobs = list(video_jobs(reversed(GIFS), reversed(ALIGNMENTS), min_confidence=0.03))
    assert [j.video_sha256 for j in jobs] == ["sha-a", "sha-b"]  # z has alignments but no GIF row: no job
    for job in jobs:
        rows = [g for g in GIFS if g["video_sha256"] == job.video_sha256]
        alignments = [a for a in ALIGNMENTS if a["video_sha256"] == job.video_sha256]
        assert job == video_job(job.video_sha256, rows, alignments, min_confidence=0.03)
    assert jobs[1].spans[0].gif_id == "b1"  # trusted at 0.03


def test_a_job_pickles_as_beam_ships_it():
    for job in video_jobs(GIFS, ALIGNMENTS):
        assert pickle.loads(pickle.dumps(job)) == job


def test_a_job_needs_a_gif():
    with pytest.raises(ValueError, match="at least one GIF"):
        video_job("sha-z", [], ALIGNMENTS)
