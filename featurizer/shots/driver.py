"""The shot-detection driver: any detector, fed from any source of a video's frames.

    shots = detect_in_frames(frame_batches, fps, ChangePointDetector())

It takes the frames in batches (not a path), so every decode of a video can hand it the frames
it has anyway: `gifrank shots` decodes at FEATURE_SIZE only, featurize's decode at C3D's size
with FEATURE_SIZE beside it (featurizer.shots.video_source). Each batch becomes features at
once; the detector then runs over overlapping windows of them, so memory is a few batches and
one window of features (under 1 KB per frame), whatever the video's length.
"""
from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

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


def detect_in_frames(frame_batches: Iterable[np.ndarray], fps: float, detector: ShotDetector | None = None,
                     window_frames: int = WINDOW_FRAMES) -> Shots:
    """Shots of one video from its frames in decoding order, batch after batch, by the given
    detector (default: ChangePointDetector()).

    Each batch is uint8 RGB (n, 36, 64, 3): frames at FEATURE_SIZE, scaled from the decoded
    picture. The detectors' thresholds were set on such frames (bench.shots_benchmark decodes
    them so); frames scaled down from a larger decode differ enough to move or add boundaries
    (bikes.mp4 gains a false cut), so other sizes are refused rather than rescaled here.
    """
    detector = detector or ChangePointDetector()
    # The detectors' change-point library takes about a second to import; let that happen
    # while the first frames decode instead of when the first change needs placing.
    threading.Thread(target=importlib.import_module, args=("ruptures",), daemon=True).start()
    boundaries, num_frames = detect_in_windows(_features(frame_batches, fps), detector, window_frames)
    return shots_from_boundaries(boundaries, num_frames, fps)


def _features(frame_batches: Iterable[np.ndarray], fps: float) -> Iterator[FrameFeatures]:
    expected = (FEATURE_SIZE[1], FEATURE_SIZE[0], 3)
    first_frame = 0
    for frames in frame_batches:
        if frames.shape[1:] != expected:
            raise ValueError(f"shot detection takes frames of shape (n, *{expected}), got {frames.shape}")
        yield frame_features(frames, fps, first_frame)
        first_frame += len(frames)


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
