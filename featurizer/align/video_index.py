"""One streaming decode of a video: everything GIF alignment needs from it.

The video is decoded once, scaled inside swscale to a small gray thumbnail (the hash
needs only 32x32; the crop search a little more). Per batch, the thumbnails are hashed
(full-frame DCT perceptual hash) and appended to a temporary file that is memory-mapped
at the end, so a two-hour video costs a few hundred MB of disk, not of RAM. The file is
unlinked as soon as it is mapped: the mapping keeps the data alive and nothing is left
behind however the index is dropped (this relies on POSIX unlink semantics).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from featurizer.align.crop_search import CropTiles, build_tiles
from featurizer.align.phash import phash_frames
from featurizer.align.picture_area import video_picture_box, whole
from featurizer.align.regions import Region
from featurizer.align.temporal_fit import Timeline
from featurizer.media.errors import NO_FRAMES, MediaError
from featurizer.media.video import iter_video_frames, probe_video

# Thumbnails keep the aspect ratio with this many pixels on the short side: enough for
# the 32x32 hash of the full frame and for re-hashing crops down to a third of the frame.
THUMB_SHORT_SIDE = 36
# Extreme aspect ratios would make thumbnails wide for no gain in the hash.
THUMB_MAX_LONG_SIDE = 128
# Thumbnails the video's bars are found on, spread over the whole video: bars stay, shots change.
BAR_SAMPLE_FRAMES = 64


@dataclass
class VideoIndex:
    path: str
    width: int  # source frame size, for reporting crops in video pixels
    height: int
    fps: float  # nominal rate; alignment itself uses the real per-frame times
    timeline: Timeline  # presentation time of each frame (VFR-correct), first at 0
    hashes: np.ndarray  # uint64 (n,) phash of each full frame
    thumbs: np.ndarray  # uint8 (n, th, tw) gray thumbnails, memory-mapped from disk
    crop_tiles: CropTiles = field(repr=False)  # the crop search's coarse view of the whole video
    picture: Region | None = None  # inside the video's own bars (thumbnail pixels); None without bars
    picture_hashes: np.ndarray | None = None  # uint64 (n,) phash of each frame's picture inside the bars
    _region_hashes: dict = field(default_factory=dict, repr=False)  # Region -> (n,) hashes, made when asked

    @property
    def times(self) -> np.ndarray:
        return self.timeline.times

    @property
    def num_frames(self) -> int:
        return len(self.timeline)

    @property
    def frame_interval(self) -> float:
        return self.timeline.frame_interval

    @property
    def duration_sec(self) -> float:
        """From the first frame's start to the last frame's end."""
        return float(self.times[-1] + self.frame_interval)

    @property
    def thumb_size(self) -> tuple[int, int]:
        """(tw, th)"""
        return self.thumbs.shape[2], self.thumbs.shape[1]

    def region_hashes(self, region: Region) -> np.ndarray:
        """(n,) uint64 phash of each frame's thumbnail inside `region`, computed once when first asked."""
        if region == self.picture and self.picture_hashes is not None:
            return self.picture_hashes
        if region not in self._region_hashes:
            self._region_hashes[region] = region.hashes(self.thumbs)
        return self._region_hashes[region]

    def thumb_scale(self) -> tuple[float, float]:
        """Video pixels per thumbnail pixel, (x, y)."""
        return self.width / self.thumbs.shape[2], self.height / self.thumbs.shape[1]


def thumb_size_for(width: int, height: int) -> tuple[int, int]:
    """(tw, th): the aspect ratio kept, the short side THUMB_SHORT_SIDE."""
    short, long_ = sorted((width, height))
    long_thumb = min(THUMB_MAX_LONG_SIDE, max(THUMB_SHORT_SIDE, round(THUMB_SHORT_SIDE * long_ / short)))
    return (long_thumb, THUMB_SHORT_SIDE) if width >= height else (THUMB_SHORT_SIDE, long_thumb)


def _map_and_unlink(file, count: int, shape: tuple[int, int]) -> np.ndarray:
    file.flush()
    thumbs = np.memmap(file, dtype=np.uint8, mode="r", shape=(count, *shape))
    os.unlink(file.name)
    return thumbs


def index_video(path, threads: int | None = None, workdir: str | None = None) -> VideoIndex:
    """Decode `path` once at thumbnail size; hash every frame; keep thumbnails on disk.

    threads: decoder threads (None: FFmpeg's choice); workdir: where the temporary
    thumbnail file goes (default: the system temp dir). Raises MediaError for unreadable
    media, FileNotFoundError for a missing file.
    """
    info = probe_video(path)
    size = thumb_size_for(info.width, info.height)
    times, hashes = [], []
    count = 0
    with tempfile.NamedTemporaryFile(prefix="gifrank-thumbs-", suffix=".u8", dir=workdir, delete=False) as file:
        try:
            for batch in iter_video_frames(path, size=size, gray=True, threads=threads):
                file.write(np.ascontiguousarray(batch.frames).tobytes())
                hashes.append(phash_frames(batch.frames))
                times.append(batch.times.copy())
                count += len(batch.frames)
            if count == 0:
                raise MediaError(NO_FRAMES, str(path), "no video frame could be decoded")
            thumbs = _map_and_unlink(file, count, (size[1], size[0]))
        except BaseException:
            if os.path.exists(file.name):
                os.unlink(file.name)
            raise
    picture = _picture_inside_bars(thumbs)
    timeline = Timeline.of(np.concatenate(times), 1.0 / info.fps if info.fps > 0 else 1.0)
    fps = info.fps if info.fps > 0 else 1.0 / timeline.frame_interval
    return VideoIndex(path=str(path), width=info.width, height=info.height, fps=fps, timeline=timeline,
                      hashes=np.concatenate(hashes), thumbs=thumbs,
                      crop_tiles=build_tiles(thumbs, timeline.frame_interval), picture=picture,
                      picture_hashes=None if picture is None else picture.hashes(thumbs))


def _picture_inside_bars(thumbs: np.ndarray) -> Region | None:
    """The video's picture inside letterbox, pillarbox or windowbox bars, None when it has none."""
    sample = thumbs[np.unique(np.linspace(0, len(thumbs) - 1, min(len(thumbs), BAR_SAMPLE_FRAMES)).astype(int))]
    box = video_picture_box(np.asarray(sample))
    if len(sample) < 2 or box == whole(sample):
        return None
    return Region(float(box.left), float(box.top), float(box.width), float(box.height))
