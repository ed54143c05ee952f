"""The video side of shot detection: decode, featurize per batch, run a detector over
overlapping windows, assemble the shots. Memory is a few decoded batches of 64x36 frames
plus one window of features (under 1 KB per frame), whatever the video's length.
"""
from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from queue import Full, Queue
from typing import Generator, Iterable, Iterator

from featurizer.media.video import iter_video_frames, probe_video
from featurizer.shots.detectors import ChangePointDetector, ShotDetector
from featurizer.shots.features import FEATURE_SIZE, FrameFeatures, frame_features

WINDOW_FRAMES = 2048  # frames decided per detector call; the context on each side comes on top


@dataclass(frozen=True)
class Shots:
    fps: float
    num_frames: int
    shots: list[tuple[int, int]]  # [start, end_exclusive) frame ranges, contiguous, covering all frames

    def boundaries(self) -> list[int]:
        """First frames of every shot but the first."""
        return [start for start, _end in self.shots[1:]]

    def as_json(self) -> dict:
        return {"fps": self.fps, "num_frames": self.num_frames, "shots": [list(shot) for shot in self.shots]}


def shots_from_boundaries(boundaries: Iterable[int], num_frames: int, fps: float) -> Shots:
    edges = [0, *sorted({int(b) for b in boundaries if 0 < b < num_frames}), num_frames]
    return Shots(fps, num_frames, list(zip(edges, edges[1:])) if num_frames else [])


def video_features(path, fps: float, threads: int | None = None, batch_size: int = 256) -> Iterator[FrameFeatures]:
    """Features of every frame, one FrameFeatures per decoded batch. Decoding runs a batch
    ahead in a background thread (FFmpeg releases the GIL), overlapping the features."""
    batches = iter_video_frames(path, size=FEATURE_SIZE, gray=False, batch_size=batch_size, threads=threads)
    for batch in _read_ahead(batches):
        yield frame_features(batch.frames, fps, int(batch.indices[0]))


@dataclass(frozen=True)
class _End:
    """Marks the end of a read-ahead stream, carrying the producer's exception if it failed."""

    error: BaseException | None = None


def _read_ahead(items: Generator, depth: int = 2) -> Iterator:
    """Yield items produced by a background thread, at most `depth` ahead of the consumer.
    The producer's exceptions are re-raised here; a consumer that stops early stops it."""
    queue: Queue = Queue(maxsize=depth)
    stopped = threading.Event()

    def put(item) -> bool:
        while not stopped.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce():
        try:
            for item in items:
                if not put(item):
                    return
            put(_End())
        except BaseException as error:  # handed to the consumer, which re-raises it
            put(_End(error))
        finally:
            items.close()

    producer = threading.Thread(target=produce, name="shots-decoder", daemon=True)
    producer.start()
    try:
        while not isinstance(item := queue.get(), _End):
            yield item
        if item.error is not None:
            raise item.error
    finally:
        stopped.set()
        producer.join()


def detect_in_windows(features: Iterable[FrameFeatures], detector: ShotDetector,
                      window_frames: int = WINDOW_FRAMES) -> tuple[list[int], int]:
    """Run the detector over overlapping windows of a feature stream.

    Each call decides the boundaries of `window_frames` frames (its core) and also sees the
    detector's context before and after them, so a boundary near a core's edge is judged
    with the same view as one in the middle; the cores tile the video.
    Returns (boundaries, number of frames).
    """
    window: FrameFeatures | None = None  # undecided frames, preceded by their left context
    core_start = 0  # first undecided frame
    boundaries: list[int] = []
    for part in features:
        window = part if window is None else FrameFeatures.concatenate([window, part])
        context = detector.context_frames(part.fps)
        core_frames = max(window_frames, context)
        while window.first_frame + len(window) >= core_start + core_frames + context:
            core_stop = core_start + core_frames
            boundaries += _decide(detector, window, core_start, core_stop)
            core_start = core_stop
            window = window.window(core_start - context - window.first_frame, len(window))
    if window is None:
        return [], 0
    end = window.first_frame + len(window)
    return boundaries + _decide(detector, window, core_start, end), end


def _decide(detector: ShotDetector, window: FrameFeatures, core_start: int, core_stop: int) -> list[int]:
    """Boundaries the detector finds in the window that fall in [core_start, core_stop)."""
    offset = window.first_frame
    return [offset + b for b in detector.detect(window) if core_start <= offset + b < core_stop]


def detect_shots(path, detector: ShotDetector | None = None, threads: int | None = None,
                 window_frames: int = WINDOW_FRAMES) -> Shots:
    """Shots of the video at path, by the given detector (default: ChangePointDetector()).

    Raises MediaError for unreadable media (see featurizer.media.video) and FileNotFoundError
    for a missing file.
    """
    fps = probe_video(path).fps or 25.0  # a stream declaring no rate at all: assume the common one
    detector = detector or ChangePointDetector()
    # The detectors' change-point library takes about a second to import; let that happen
    # while the first frames decode instead of when the first change needs placing.
    threading.Thread(target=importlib.import_module, args=("ruptures",), daemon=True).start()
    boundaries, num_frames = detect_in_windows(video_features(path, fps, threads), detector, window_frames)
    return shots_from_boundaries(boundaries, num_frames, fps)
