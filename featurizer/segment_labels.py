"""Labels of a video's segments from its GIFs, alignments and segment boundaries: no decoding.

Positive when one GIF covers more than 66% of the segment, negative when no GIF overlaps
it, ignored otherwise (featurizer.segments); popularity from the covering GIFs' views
(featurizer.popularity); context features (featurizer.context); and a split from a hash
of the video id, so a video never moves between train, val and test.
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

from featurizer import popularity
from featurizer.context import context_vector
from featurizer.segments import GifSpan, Segment, label_segments

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


def video_job(video_sha256: str, gifs: Iterable[dict], alignments: Iterable[dict]) -> dict:
    """A video's GIF rows and alignments joined: what featurizing and labelling it need."""
    gifs = sorted(gifs, key=lambda r: r["gif_id"])
    by_gif = {r["gif_id"]: r for r in gifs}
    aligned = sorted((a for a in alignments if a["gif_id"] in by_gif), key=lambda a: a["gif_id"])
    return {
        "video_sha256": video_sha256, "video_id": gifs[0]["video_id"], "video_url": gifs[0]["video_url"],
        "category": next((r["category"] for r in gifs if r.get("category")), None),
        "tags": sorted({t for r in gifs for t in (r.get("tags") or [])}),
        "spans": [(a["gif_id"], a["start_frame"], a["end_frame"], popularity.raw_score(by_gif[a["gif_id"]]))
                  for a in aligned],
    }


def label_rows(job: dict, boundaries: Sequence[dict], sorted_scores: Sequence[float],
               ratios: tuple[float, float, float]) -> list[dict]:
    """The labels table's rows of one video: `boundaries` are its features rows (without fc6)."""
    boundaries = sorted(boundaries, key=lambda b: b["segment_index"])
    if not boundaries:
        return []
    spans = [GifSpan(g, s, e, popularity.normalised(raw, sorted_scores) or 0.0) for g, s, e, raw in job["spans"]]
    segments = [Segment(b["segment_index"], b["start_frame"], b["end_frame"]) for b in boundaries]
    split = split_of(job["video_id"], ratios)
    rows = []
    for bounds, labelled in zip(boundaries, label_segments(segments, spans)):
        duration = bounds["video_num_frames"] / bounds["fps"]
        rows.append({
            "video_sha256": job["video_sha256"], "segmenter": bounds["segmenter"], "video_id": job["video_id"],
            **{k: bounds[k] for k in ("segment_index", "start_frame", "end_frame", "start_sec", "end_sec", "fps",
                                      "video_num_frames")},
            "label": labelled.label, "gif_ids": list(labelled.gif_ids),
            "popularity": labelled.popularity if labelled.label == 1 else None,
            "context": context_vector(job["category"], job["tags"], bounds["start_sec"], duration,
                                      bounds["segment_index"]).tolist(),
            "split": split,
        })
    return rows
