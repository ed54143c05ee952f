"""GIF popularity p in [0, 1], after Khosla et al. (2014), as Video2GIF uses it.

raw score  = log(1 + views / days), days = age of the GIF when it was scraped (at least 1);
p          = the share of the dataset's GIFs whose raw score is below this one's, with
             ties counted half (mid-rank empirical CDF), so p is uniform over a dataset
             and does not depend on the scale of view counts of one site.
The age comes from upload_date, else from the published `gif_age` (days) of the
Video2GIF metadata; a GIF with no views or no age has no popularity (None).
"""
from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Sequence


def age_days(row: dict) -> float | None:
    if row.get("upload_date") is not None and row.get("scraped_at") is not None:
        scraped = row["scraped_at"].date() if isinstance(row["scraped_at"], dt.datetime) else row["scraped_at"]
        return max(1.0, float((scraped - row["upload_date"]).days))
    if row.get("published_gif_age") is not None:
        return max(1.0, float(row["published_gif_age"]))
    return None


def raw_score(row: dict) -> float | None:
    days = age_days(row)
    if row.get("views") is None or days is None:
        return None
    return math.log1p(max(0, row["views"]) / days)


def normalised(score: float | None, sorted_scores: Sequence[float]) -> float | None:
    """Mid-rank empirical CDF of `score` among `sorted_scores`."""
    if score is None or not sorted_scores:
        return None
    below = bisect.bisect_left(sorted_scores, score)
    equal = bisect.bisect_right(sorted_scores, score) - below
    return (below + 0.5 * equal) / len(sorted_scores)
