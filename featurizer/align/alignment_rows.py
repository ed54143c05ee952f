"""The align stage's unit of work, free of Beam: one video's GIFs aligned with one decode.

`VideoAligner((video_sha256, gif rows))` indexes the video once (decode + hashes) and
aligns each of its GIFs, yielding alignments table rows; a GIF that does not align,
or cannot be read, becomes a dead letter with the reason, and a video that cannot be
read fails all its GIFs. Blobs over their media's cap (MAX_GIF_BYTES, MAX_VIDEO_BYTES)
are refused by size before they are read (too_large), like any other unreadable media.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from featurizer.align import aligner as align
from featurizer.dataset.blobs import BlobStore
from featurizer.dataset.dead_letter_rows import Failed, is_bad_input, subject
from featurizer.dataset.tables import ALIGNMENTS
from featurizer.media.gif import MAX_GIF_BYTES
from featurizer.media.video import MAX_VIDEO_BYTES

UNALIGNED = "unaligned"
LOW_CONFIDENCE = "low_confidence"


class AlignmentRefused(ValueError):
    """A GIF that was read fine but could not be placed in its video."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind

    def __reduce__(self):
        return (type(self), (self.kind, str(self)))


def gif_subjects(rows: Iterable[dict]) -> list[dict]:
    return [subject(url=r.get("gif_url"), gif_id=r["gif_id"]) for r in rows]


class VideoAligner:
    def __init__(self, dataset: str, min_confidence: float = 0.0):
        self.dataset = dataset
        self.min_confidence = min_confidence

    def setup(self) -> None:
        self.blobs = BlobStore(self.dataset)

    def __call__(self, video_group: tuple[str, Iterable[dict]]) -> Iterator:
        video_sha256, rows = video_group
        rows = sorted(rows, key=lambda r: r["gif_id"])
        with self.blobs.local_path(video_sha256, MAX_VIDEO_BYTES, "video") as video_path:
            index = align.index_video(video_path)
        for row in rows:
            try:
                yield self._aligned_row(index, row)
            except Exception as exc:
                if not is_bad_input(exc):
                    raise
                yield Failed(tuple(gif_subjects([row])), exc)  # this GIF's dead letter; its siblings go on

    def _aligned_row(self, index, row: dict) -> dict:
        gif_bytes = self.blobs.read_bytes(row["gif_sha256"], MAX_GIF_BYTES, "GIF")
        result = align.align_gif(index, gif_bytes)
        if not result.aligned:
            raise AlignmentRefused(UNALIGNED, result.reason or "no consistent match in the video")
        if result.confidence < self.min_confidence:
            raise AlignmentRefused(LOW_CONFIDENCE, f"confidence {result.confidence:.3f} below "
                                                   f"{self.min_confidence} ({result.reason or 'ambiguous match'})")
        return ALIGNMENTS.conform({
            "gif_id": row["gif_id"], "video_id": row["video_id"],
            "gif_sha256": row["gif_sha256"], "video_sha256": row["video_sha256"],
            "start_sec": result.start_sec, "end_sec": result.end_sec,
            "start_frame": result.start_frame, "end_frame": result.end_frame,
            "speed": result.speed, "confidence": result.confidence, "inlier_share": result.inlier_share,
            "mirrored": result.mirrored, "crop": list(result.crop) if result.crop else None,
            "direction": result.direction,
            "distance_mean": result.distance_mean, "distance_median": result.distance_median,
            "video_fps": index.fps, "video_num_frames": index.num_frames,
            "aligner": align.ALIGNER,
        })
