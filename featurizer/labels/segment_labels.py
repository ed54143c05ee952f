"""Labels of a video's segments from its GIFs, alignments and segment boundaries: no decoding.

Positive when one GIF covers more than 66% of the segment, negative when no GIF overlaps
it, ignored otherwise (featurizer.labels.segments), from trusted alignments only; popularity from
the covering GIFs' views, normalised per source (featurizer.labels.popularity); context features
(featurizer.labels.context); and a split from a hash of the video id, so a video never moves
between train, val and test.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from featurizer.labels import popularity
from featurizer.labels.context import context_vector
from featurizer.labels.segments import (
    IGNORED,
    NEGATIVE,
    POSITIVE,
    POSITIVE_OVERLAP,
    GifSpan,
    LabelledSegment,
    Segment,
    label_segments,
    overlap,
)
from featurizer.labels.video_jobs import VideoJob

SPLITS = ("train", "val", "test")


def parse_ratios(text: str) -> tuple[float, float, float]:
    try:
        ratios = tuple(float(x) for x in text.split(","))
    except ValueError as exc:
        raise ValueError(f"--split-ratios must be three numbers, got {text!r}") from exc
    if len(ratios) != 3 or min(ratios) < 0 or abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(f"--split-ratios must be three non-negative shares summing to 1, got {text!r}")
    return ratios


def split_of(video_id: str, ratios: tuple[float, float, float]) -> str:
    """Deterministic: the same video is always in the same split, whatever else is in the dataset."""
    u = int.from_bytes(hashlib.sha1(video_id.encode()).digest()[:8], "big") / 2**64
    return SPLITS[0] if u < ratios[0] else SPLITS[1] if u < ratios[0] + ratios[1] else SPLITS[2]


# Why an aligned GIF gave no positive segment.
IN_SHORT_SHOT = "in_short_shot"  # no segment under it: its frames lie in shots under 16 frames
ACROSS_SEGMENTS = "across_segments"  # long enough for a positive, but split between segments
SHORT_FOR_ITS_SEGMENT = "short_for_its_segment"  # covers 66% of no segment it overlaps


@dataclass(frozen=True)
class SplitRule:
    """A video's split: by a hash of its id (the default, for scraped data), or, with
    `test_videos` (the list the Video2GIF dataset publishes), test for those videos and a hash
    of the id into train and val (in the ratios' proportion) for the rest."""

    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    test_videos: frozenset[str] | None = None

    def __call__(self, video_id: str) -> str:
        if self.test_videos is None:
            return split_of(video_id, self.ratios)
        if video_id in self.test_videos:
            return SPLITS[2]
        train, val = self.ratios[0], self.ratios[1]
        if train + val <= 0:
            raise ValueError("--split-ratios gives train and val no share; the videos off the test list need one")
        return split_of(video_id, (train / (train + val), val / (train + val), 0.0))


def read_video_list(path: str) -> frozenset[str]:
    """Video ids, one a line (the dataset's testset.txt); a path or gs:// URI. Blank lines and # comments skipped."""
    from featurizer.dataset.storage import local_copy

    with local_copy(path) as local, open(local, encoding="utf-8") as lines:
        ids = frozenset(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
    if not ids:
        raise ValueError(f"{path}: no video ids")
    return ids



def label_rows(job: VideoJob, boundaries: Sequence[dict], scores_by_source: dict[str, Sequence[float]],
               split_rule: SplitRule = SplitRule()) -> tuple[list[dict], Counter]:
    """The labels table's rows of one video, and what its labelling dropped (counts by reason).

    boundaries: its features rows (without fc6). Popularity p is normalised among the GIFs of
    the same source (view counts of two sites are not comparable); None when unknown.
    """
    boundaries = sorted(boundaries, key=lambda b: b["segment_index"])
    stats: Counter = Counter()
    if not boundaries:
        return [], stats
    fps = boundaries[0]["fps"]
    spans = {s.gif_id: s for s in job.spans}
    gif_spans = [GifSpan(g, *s.frames(fps),
                         popularity.normalised(s.raw_popularity, scores_by_source.get(s.source, ())))
                 for g, s in sorted(spans.items())]
    segments = [Segment(b["segment_index"], b["start_frame"], b["end_frame"]) for b in boundaries]
    labelled = label_segments(segments, gif_spans)
    if job.untrusted_gifs:
        # A GIF that did not align may lie on any negative: none can be trusted.
        stats["negatives_dropped_for_unaligned_gifs"] += sum(1 for s in labelled if s.label == NEGATIVE)
        labelled = [LabelledSegment(s.segment, IGNORED) if s.label == NEGATIVE else s for s in labelled]
    stats.update(f"gifs_without_positive_{reason}" for reason in _why_no_positive(gif_spans, labelled))
    split = split_rule(job.video_id)
    rows = []
    for bounds, segment in zip(boundaries, labelled):
        duration = bounds["video_num_frames"] / bounds["fps"]
        top = spans.get(segment.top_gif) if segment.top_gif else None
        positive_top = top if segment.label == POSITIVE else None
        rows.append({
            "video_sha256": job.video_sha256, "segmenter": bounds["segmenter"], "video_id": job.video_id,
            **{k: bounds[k] for k in ("segment_index", "start_frame", "end_frame", "start_sec", "end_sec", "fps",
                                      "video_num_frames")},
            "label": segment.label, "gif_ids": list(segment.gif_ids),
            "popularity": segment.popularity if segment.label == POSITIVE else None,
            "popularity_raw": positive_top.raw_popularity if positive_top else None,
            "popularity_source": positive_top.source if positive_top else None,
            "context": context_vector(job.category, job.tags, bounds["start_sec"], duration,
                                      bounds["segment_index"]).tolist(),
            "context_tags_from": job.tags_from,
            "split": split,
        })
    return rows, stats


def _why_no_positive(gifs: Sequence[GifSpan], labelled: Sequence[LabelledSegment]) -> list[str]:
    """The reason of each GIF that no positive segment came from (see the reason names above)."""
    positive = {g for s in labelled if s.label == POSITIVE for g in s.gif_ids}
    reasons = []
    for gif in gifs:
        if gif.gif_id in positive:
            continue
        under = [s.segment for s in labelled
                 if overlap(s.segment.start_frame, s.segment.end_frame, gif.start_frame, gif.end_frame) > 0]
        length = gif.end_frame - gif.start_frame
        if not under:
            reasons.append(IN_SHORT_SHOT)
        elif len(under) > 1 and length > POSITIVE_OVERLAP * min(s.num_frames for s in under):
            reasons.append(ACROSS_SEGMENTS)
        else:
            reasons.append(SHORT_FOR_ITS_SEGMENT)
    return reasons
