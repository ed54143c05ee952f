"""One decode of a video for the featurize stage: shots, segments and C3D's frames.

The video is decoded once (featurizer.shots.video_source.decode_frames) at C3D's 128x171,
with every frame also at the shot detector's 64x36, both scaled from the decoded picture:
the shot driver gets the small frames, so featurize finds the shots `gifrank shots` finds.
C3D's frames, resampled to `c3d_fps` when given, are appended to a temporary file, so a
two-hour video never sits in memory; snippets are then read back from that file segment by
segment.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from featurizer.c3d.preprocess import (
    RESIZED_HEIGHT,
    RESIZED_WIDTH,
    SNIPPET_FRAMES,
    SNIPPET_STRIDE,
    FrameRateSampler,
    snippet_starts,
)
from featurizer.labels.segments import Segment, segments_from_shots
from featurizer.media.video import FrameBatch
from featurizer.shots import ShotDetector, Shots, decode_frames, detect_in_frames

FRAME_SHAPE = (RESIZED_HEIGHT, RESIZED_WIDTH, 3)
FRAME_BYTES = int(np.prod(FRAME_SHAPE))
DECODE_BATCH = 64


class C3DFrames:
    """The frames kept for C3D (RGB uint8 128x171), in a temporary file, with their video frame numbers."""

    def __init__(self, directory: str | None = None):
        self._file = tempfile.NamedTemporaryFile(prefix="gifrank-frames-", dir=directory, delete=False)
        self._indices: list[int] = []
        self.frame_numbers = np.empty(0, np.int64)
        self.frames: np.ndarray | None = None

    def append(self, frames: np.ndarray, frame_numbers: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(frames, np.uint8).tobytes())
        self._indices.extend(int(n) for n in frame_numbers)

    def finish(self) -> None:
        self._file.close()
        self.frame_numbers = np.asarray(self._indices, np.int64)
        if len(self.frame_numbers):
            self.frames = np.memmap(self._file.name, np.uint8, "r", shape=(len(self.frame_numbers), *FRAME_SHAPE))

    def snippets(self, segment: Segment, stride: int = SNIPPET_STRIDE) -> Iterator[np.ndarray]:
        """16-frame windows of the segment's kept frames, every `stride` kept frames.

        A segment that keeps fewer than 16 frames (a short one, resampled to a low --fps)
        gives one window of its frames, each repeated in turn to fill 16, so it still gets a
        feature; one that keeps no frame gives none.
        """
        first, last = (int(i) for i in np.searchsorted(self.frame_numbers, [segment.start_frame, segment.end_frame]))
        if last == first or self.frames is None:  # None only while no frame is stored
            return
        if last - first < SNIPPET_FRAMES:
            yield np.asarray(self.frames[first + stretched_indices(last - first)])
            return
        for start in snippet_starts(last - first, stride):
            yield np.asarray(self.frames[first + start:first + start + SNIPPET_FRAMES])

    def close(self) -> None:
        self.frames = None
        self._file.close()
        if os.path.exists(self._file.name):
            os.unlink(self._file.name)

    def __getstate__(self):
        """Finished frames travel between processes as their file's name: the pixels stay on disk."""
        return {"name": self._file.name, "frame_numbers": self.frame_numbers}

    def __setstate__(self, state):
        self._file = _ClosedFile(state["name"])
        self._indices = []
        self.frame_numbers = state["frame_numbers"]
        self.frames = (np.memmap(state["name"], np.uint8, "r", shape=(len(self.frame_numbers), *FRAME_SHAPE))
                       if len(self.frame_numbers) else None)

    def __enter__(self) -> C3DFrames:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def stretched_indices(kept: int) -> np.ndarray:
    """Indices into `kept` frames that fill a 16-frame snippet, in order, each frame repeated
    about equally (8 frames: 0, 0, 1, 1, ...)."""
    return (np.arange(SNIPPET_FRAMES) * kept) // SNIPPET_FRAMES


class _ClosedFile:
    """The finished frames file as another process sees it: only its name."""

    def __init__(self, name: str):
        self.name = name

    def close(self) -> None:
        pass


def _stored(batches: Iterable[FrameBatch], c3d_fps: float | None, store: C3DFrames,
            times: list[float]) -> Iterator[FrameBatch]:
    """Each batch for the shot driver (its small frames and the decoder's timestamps: right at variable
    frame rates); as they pass, C3D's frames (resampled to c3d_fps)
    are stored and every frame's presentation time is appended to `times` (one decode serves all)."""
    sampler = FrameRateSampler(c3d_fps) if c3d_fps else None
    for batch in batches:
        times.extend(batch.times.tolist())
        keep = np.array([sampler.keep(t) for t in batch.times] if sampler else [True] * len(batch.times))
        store.append(batch.frames[keep], batch.indices[keep])
        yield batch


@dataclass
class DecodedVideo:
    shots: Shots
    segments: list[Segment]
    frames: C3DFrames  # close() when done with the snippets
    times: np.ndarray  # float64 (num_frames,): each frame's presentation time, the clock alignments use

    def seconds(self, segment: Segment) -> tuple[float, float]:
        """The segment's start and end (exclusive) on the decoder's clock, as alignments place GIFs:
        right for variable frame rates too."""
        end = (self.times[segment.end_frame] if segment.end_frame < len(self.times)
               else self.shots.seconds[-1][1])
        return float(self.times[segment.start_frame]), float(end)


def decode_segments(path, *, max_segment_sec: float = 6.0, c3d_fps: float | None = None,
                    detector: ShotDetector | None = None, threads: int | None = None,
                    temp_dir: str | None = None) -> DecodedVideo:
    """Decode once: shots, segments, and the frames C3D's snippets are read from."""
    video = decode_frames(path, (RESIZED_WIDTH, RESIZED_HEIGHT), batch_size=DECODE_BATCH, threads=threads)
    store = C3DFrames(temp_dir)
    try:
        with contextlib.closing(video.batches) as batches:
            times: list[float] = []
            shots = detect_in_frames(_stored(batches, c3d_fps, store, times), video.fps, detector)
        store.finish()
    except BaseException:
        store.close()
        raise
    return DecodedVideo(shots, segments_from_shots(shots.shots, shots.fps, max_segment_sec), store,
                        np.asarray(times, np.float64))
