"""The VideoJobs step: GIFs and alignments joined per video, the same jobs as the Beam-free video_jobs."""
import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from featurizer.labels.video_jobs import TrustedSpan, video_jobs
from pipelines.transforms.video_jobs import VideoJobs
from tests.rows import job_alignment_row as _alignment
from tests.rows import job_gif_row as _gif

GIFS = [_gif("a1", "a"), _gif("a2", "a", published_start_sec=2.0, published_end_sec=3.0),
        _gif("b1", "b", tags=["dog"]), _gif("c1", "c")]
# b1's alignment is unsure; c has no alignment at all; z has an alignment and no GIF row.
ALIGNMENTS = [_alignment("a1", "a", 0, 30), _alignment("a2", "a", 40, 60, confidence=0.05),
              _alignment("b1", "b", 5, 25, confidence=0.2), _alignment("z1", "z", 0, 16)]


def _jobs(min_confidence):
    with test_pipeline.TestPipeline() as p:
        jobs = ({"gifs": p | "Gifs" >> beam.Create(GIFS), "alignments": p | "Alignments" >> beam.Create(ALIGNMENTS)}
                | VideoJobs(min_confidence))
        expected = [(job.video_sha256, job) for job in video_jobs(GIFS, ALIGNMENTS, min_confidence)]
        assert_that(jobs, equal_to(expected))
    return {sha: job for sha, job in expected}


def test_the_step_gives_the_beam_free_jobs_keyed_by_video():
    jobs = _jobs(0.1)
    assert sorted(jobs) == ["sha-a", "sha-b", "sha-c"]  # no job for z's lone alignment
    assert jobs["sha-a"].spans == (TrustedSpan("a1", "siteA", None, start_frame=0, end_frame=30),
                                   TrustedSpan("a2", "siteA", None, start_sec=2.0, end_sec=3.0))
    assert jobs["sha-b"].spans and jobs["sha-b"].tags == ("dog",)
    assert (jobs["sha-c"].spans, jobs["sha-c"].untrusted_gifs) == ((), ("c1",))


def test_the_minimum_confidence_reaches_the_jobs():
    jobs = _jobs(0.5)
    assert (jobs["sha-b"].spans, jobs["sha-b"].untrusted_gifs, jobs["sha-b"].low_confidence_gifs) == ((), ("b1",), 1)
    assert jobs["sha-a"].low_confidence_gifs == 1
