"""A run's figures from its videos' results: mean nMSD and mAP with intervals over videos,
and which videos were excluded and why (metrics.json)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from evaluation.intervals import mean_interval
from evaluation.protocol import VideoResult


def summarize(results: Iterable[VideoResult], excluded: Iterable[tuple[str, str]], seed: int = 0) -> dict:
    """`excluded`: (video_id, reason) of the videos the protocol could not score."""
    results = sorted(results, key=lambda r: r.video_id)
    excluded = sorted(excluded)
    summary = {"videos": len(results), "videos_excluded": len(excluded),
               "excluded_by_reason": dict(sorted(Counter(reason for _, reason in excluded).items())),
               "excluded": [{"video_id": v, "reason": r} for v, r in excluded]}
    if not results:
        return {**summary, "nmsd": None, "map": None}
    return {**summary,
            "nmsd": mean_interval({r.video_id: r.nmsd for r in results}, seed=seed).as_dict(),
            "map": mean_interval({r.video_id: r.average_precision for r in results}, seed=seed).as_dict(),
            "gifs": sum(r.gifs for r in results), "segments": sum(r.segments for r in results)}
