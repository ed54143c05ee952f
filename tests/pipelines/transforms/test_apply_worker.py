"""ApplyWorker: bad input becomes a dead letter with its kind; any other error fails the job (Beam retries it)."""
import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from featurizer.media.errors import MediaError
from pipelines.transforms.apply_worker import ApplyWorker


class _Worker:
    def __call__(self, element):
        if element == "bad":
            raise MediaError("unreadable", element, "not a video")
        if element == "storage":
            raise OSError("connection reset while reading a blob")
        yield element.upper()


def _run(elements):
    with beam.Pipeline("DirectRunner") as p:
        good, dead = p | beam.Create(elements) | ApplyWorker(_Worker(), pipeline="test", stage="work")
        assert_that(good, equal_to(["A", "B"]), label="Good")
        assert_that(dead | beam.Map(lambda d: (d["record_key"], d["error_kind"])), equal_to([("bad", "unreadable")]),
                    label="Dead")


def test_bad_input_is_a_dead_letter_and_nothing_is_lost():
    _run(["a", "bad", "b"])


def test_a_storage_error_fails_the_job_instead_of_a_dead_letter():
    with pytest.raises(Exception, match="connection reset"):
        _run(["a", "storage", "b"])
