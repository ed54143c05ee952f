"""Popularity: log views per day, normalised by the dataset's empirical CDF."""
import datetime as dt
import math

from featurizer.labels.popularity import age_days, normalised, raw_score

SCRAPED = dt.datetime(2026, 1, 11, 12, tzinfo=dt.timezone.utc)


def test_raw_score_is_log_views_per_day():
    row = {"views": 999, "upload_date": dt.date(2026, 1, 1), "scraped_at": SCRAPED}
    assert age_days(row) == 10.0
    assert raw_score(row) == math.log1p(99.9)


def test_age_from_metadata_and_floor_of_one_day():
    assert age_days({"published_gif_age": 30.0}) == 30.0
    assert age_days({"upload_date": dt.date(2026, 1, 11), "scraped_at": SCRAPED}) == 1.0
    assert raw_score({"views": None, "published_gif_age": 3.0}) is None
    assert raw_score({"views": 5}) is None


def test_normalised_is_mid_rank_cdf():
    scores = sorted([1.0, 2.0, 2.0, 3.0])
    assert normalised(1.0, scores) == 0.125
    assert normalised(2.0, scores) == 0.5
    assert normalised(3.0, scores) == 0.875
    assert normalised(9.0, scores) == 1.0
    assert normalised(None, scores) is None
