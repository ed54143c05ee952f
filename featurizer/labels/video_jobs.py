"""A video's job: its GIF rows and alignments joined, what featurizing, labelling and evaluating it need.

    job = video_job(sha, gif_rows_of_the_video, its_alignment_rows)       # one video
    for job in video_jobs(gif_rows, alignment_rows): ...                   # every video with a GIF

A GIF's span comes from its alignment when trusted (confidence >= min_confidence), else
from the published alignment when the metadata gives one; GIFs with neither are
`untrusted_gifs`: they may lie anywhere, so the video's negatives cannot be trusted.
Beam-free: the pipelines group rows with pipelines.transforms.video_jobs.VideoJobs, which
calls video_job, so both give the same jobs.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from featurizer.labels import popularity

# Alignments below this confidence are not trusted for labels (bench.align_accuracy on the demo
# world: 0.1 drops the one GIF placed 8.6 s off, at 0.023, and none within 0.5 s of the truth;
# from 0.2 on, good alignments go too).
DEFAULT_MIN_ALIGNMENT_CONFIDENCE = 0.1


@dataclass(frozen=True)
class TrustedSpan:
    """Where a GIF lies in its video: its confident alignment's frames, or else the published
    alignment's seconds (frames once the video's fps is known), and its raw popularity."""

    gif_id: str
    source: str
    raw_popularity: float | None  # popularity.raw_score; None: no views or no age
    start_frame: int | None = None  # end_frame exclusive
    end_frame: int | None = None
    start_sec: float | None = None
    end_sec: float | None = None

    def frames(self, fps: float) -> tuple[int, int]:
        """[start_frame, end_frame) at the video's fps."""
        if self.start_frame is not None and self.end_frame is not None:
            return self.start_frame, self.end_frame
        assert self.start_sec is not None and self.end_sec is not None  # video_job gives one pair or the other
        return round(self.start_sec * fps), round(self.end_sec * fps)


@dataclass(frozen=True)
class VideoJob:
    """One video with its GIFs: where they lie (spans), which could not be placed, and its context."""

    video_sha256: str
    video_id: str
    video_url: str
    category: str | None
    tags: tuple[str, ...]  # the context's tags: the video's own where its source gives them, else its GIFs'
    tags_from: str  # "video", "gifs" or "none"
    spans: tuple[TrustedSpan, ...]  # in gif_id order
    untrusted_gifs: tuple[str, ...]  # gif_ids with no trusted span
    low_confidence_gifs: int  # GIFs whose alignment is below min_confidence


def video_job(video_sha256: str, gifs: Iterable[dict], alignments: Iterable[dict],
              min_confidence: float = DEFAULT_MIN_ALIGNMENT_CONFIDENCE) -> VideoJob:
    """The job of one video from its gifs rows (at least one) and its alignments rows."""
    gifs = sorted(gifs, key=lambda r: r["gif_id"])
    if not gifs:
        raise ValueError(f"video {video_sha256}: a video job needs at least one GIF row")
    by_gif = {r["gif_id"]: r for r in gifs}
    aligned = {a["gif_id"]: a for a in alignments if a["gif_id"] in by_gif}
    spans, untrusted = [], []
    for gif in gifs:
        alignment = aligned.get(gif["gif_id"])
        raw = popularity.raw_score(gif)
        if alignment is not None and alignment["confidence"] >= min_confidence:
            spans.append(TrustedSpan(gif["gif_id"], gif["source"], raw, start_frame=alignment["start_frame"],
                                     end_frame=alignment["end_frame"]))
        elif gif.get("published_start_sec") is not None and gif.get("published_end_sec") is not None:
            spans.append(TrustedSpan(gif["gif_id"], gif["source"], raw, start_sec=gif["published_start_sec"],
                                     end_sec=gif["published_end_sec"]))
        else:
            untrusted.append(gif["gif_id"])
    tags, tags_from = _context_tags(gifs)
    return VideoJob(
        video_sha256=video_sha256, video_id=gifs[0]["video_id"], video_url=gifs[0]["video_url"],
        category=next((r["category"] for r in gifs if r.get("category")), None),
        tags=tags, tags_from=tags_from, spans=tuple(spans), untrusted_gifs=tuple(untrusted),
        low_confidence_gifs=sum(1 for a in aligned.values() if a["confidence"] < min_confidence))


def video_jobs(gif_rows: Iterable[dict], alignment_rows: Iterable[dict],
               min_confidence: float = DEFAULT_MIN_ALIGNMENT_CONFIDENCE) -> Iterator[VideoJob]:
    """The job of every video with at least one GIF row, in video_sha256 order; alignments of
    videos without a GIF row are left out, as the pipelines' join leaves them."""
    gifs: dict[str, list[dict]] = defaultdict(list)
    alignments: dict[str, list[dict]] = defaultdict(list)
    for row in gif_rows:
        gifs[row["video_sha256"]].append(row)
    for row in alignment_rows:
        alignments[row["video_sha256"]].append(row)
    for sha in sorted(gifs):
        yield video_job(sha, gifs[sha], alignments.get(sha, ()), min_confidence)


def _context_tags(gifs: Sequence[dict]) -> tuple[tuple[str, ...], str]:
    """The video's own tags where its source gives them, else its GIFs' (and which): a new video
    without GIFs, at prediction, has only its own, so training should see those where it can."""
    video_tags = sorted({t for r in gifs for t in (r.get("video_tags") or [])})
    if video_tags:
        return tuple(video_tags), "video"
    gif_tags = sorted({t for r in gifs for t in (r.get("tags") or [])})
    return tuple(gif_tags), "gifs" if gif_tags else "none"
