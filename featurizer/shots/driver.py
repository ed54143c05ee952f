"""The shot-detection driver: any detector, fed from any source of a video's frames.

    shots = detect_in_frames(frame_batches, fps, ChangePointDetector())

It takes the frames in batches (not a path), so every decode of a video can hand it the frames
it has anyway: `gifrank shots` decodes at FEATURE_SIZE only, featurize's decode at C3D's size
with FEATURE_SIZE beside it (featurizer.shots.video_source). Each batch becomes features at
once; the detector then runs over overlapping windows of them, so memory is a few batches and
one window of features (under 1 KB per frame), whatever the video's length, and the frames'
timestamps (8 bytes each), which give the shots' seconds.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from featurizer.media.video import FrameBatch
from featurizer.shots.detectors import ChangePointDetector, ShotDetector
from featurizer.shots.features import FEATURE_SIZE, FrameFeatures, frame_features, picture_box

WINDOW_FRAMES = 2048  # frames decided per detector call; the context on each side comes on top
_SAME_RATE = 0.05  # a declared rate this close to the median step's is the video's (clock rounding)
# Frames the time scale and the black bars are judged on, held before detection starts: 10 s at 25 fps.
_SCALE_FRAMES = 250


@dataclass(frozen=True)
class Shots:
    fps: float  # the stream's declared (average) frame rate
    num_frames: int
    shots: list[tuple[int, int]]  # [start, end_exclusive) frame ranges, contiguous, covering all frames
    # Per shot, [start_sec, end_sec) on the decoder's clock: its first frame's presentation time, and
    # the next shot's (the last: the last frame's time plus one frame interval). Right at any frame rate.
    seconds: list[tuple[float, float]]
    variable_frame_rate: bool  # frame steps irregular: frame / fps is not the time

    def boundaries(self) -> list[int]:
        """First frames of every shot but the first."""
        return [start for start, _end in self.shots[1:]]

    def boundary_seconds(self) -> list[float]:
        """Presentation times of the boundaries' frames."""
        return [start for start, _end in self.seconds[1:]]

    def as_json(self) -> dict:
        return {"fps": self.fps, "num_frames": self.num_frames, "variable_frame_rate": self.variable_frame_rate,
                "shots": [{"start_frame": start, "end_frame": end, "start_sec": start_sec, "end_sec": end_sec}
                          for (start, end), (start_sec, end_sec) in zip(self.shots, self.seconds)]}


def shots_from_boundaries(boundaries: Iterable[int], num_frames: int, fps: float, times: np.ndarray | None = None,
                          frame_interval: float | None = None) -> Shots:
    """Shots split at the boundaries; times: every frame's presentation time in seconds (default
    frame / fps), frame_interval: how long the last frame shows (default: the median step, or 1 / fps)."""
    edges = [0, *sorted({int(b) for b in boundaries if 0 < b < num_frames}), num_frames]
    times = np.arange(num_frames) / fps if times is None else np.asarray(times, np.float64)
    if len(times) != num_frames:
        raise ValueError(f"{len(times)} times for {num_frames} frames")
    if frame_interval is None:
        frame_interval = float(np.median(np.diff(times))) if num_frames > 1 else 1.0 / fps
    # Microseconds: more than any container's clock resolves, and the same seconds whichever
    # decode (and its float rounding) the times came from.
    clock = [round(float(t), 6) for t in times[edges[:-1]]] + [round(float(times[-1]) + frame_interval, 6)] \
        if num_frames else []
    shots = list(zip(edges, edges[1:])) if num_frames else []
    return Shots(fps, num_frames, shots, list(zip(clock, clock[1:])), _irregular(times, frame_interval))


def _irregular(times: np.ndarray, frame_interval: float) -> bool:
    """Some frame step strays more than a quarter from the typical one: frames were dropped or
    the rate varies. A constant rate's steps jitter by a clock tick at most."""
    steps = np.diff(times)
    return bool(len(steps) and np.any(np.abs(steps - frame_interval) > 0.25 * frame_interval))


def shot_frames(batch: FrameBatch) -> np.ndarray:
    """A batch of featurizer.shots.decode_frames at FEATURE_SIZE: what the detectors take."""
    return batch.frames if batch.small_frames is None else batch.small_frames


def time_scale(fps: float, times: np.ndarray) -> float:
    """The rate the detectors turn their durations (given in seconds) into frames at: the declared
    fps, or where the video's typical (median) frame step says otherwise, as on a variable-rate
    video that drops frames (its average rate counts the dropped frames' time), that step's rate."""
    steps = np.diff(times)
    steps = steps[steps > 0]
    if len(steps) < 2:
        return fps
    step_rate = 1.0 / float(np.median(steps))
    return fps if abs(step_rate - fps) <= _SAME_RATE * fps else step_rate


def detect_in_frames(frame_batches: Iterable[FrameBatch | np.ndarray], fps: float,
                     detector: ShotDetector | None = None, window_frames: int = WINDOW_FRAMES) -> Shots:
    """Shots of one video from its frames in decoding order, batch after batch, by the given
    detector (default: ChangePointDetector()).

    Each batch is a FrameBatch of decode_frames (its frames at FEATURE_SIZE, see shot_frames, with
    the decoder's timestamps), or bare uint8 RGB frames (n, 36, 64, 3) taken as evenly spaced at
    fps. The detectors' thresholds were set on frames decoded at FEATURE_SIZE
    (bench.shots_benchmark decodes them so); frames scaled down from a larger decode differ enough
    to move or add boundaries (bikes.mp4 gains a false cut), so other sizes are refused rather
    than rescaled here.
    """
    detector = detector or ChangePointDetector()
    times: list[np.ndarray] = []
    boundaries, num_frames = detect_in_windows(_features(frame_batches, fps, times), detector, window_frames)
    all_times = np.concatenate(times) if times else np.empty(0)
    return shots_from_boundaries(boundaries, num_frames, fps, all_times)


def _timed_batches(frame_batches: Iterable[FrameBatch | np.ndarray],
                   fps: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(frames at FEATURE_SIZE, times in seconds) of each batch; bare frames at fps."""
    expected = (FEATURE_SIZE[1], FEATURE_SIZE[0], 3)
    first_frame = 0
    for batch in frame_batches:
        if isinstance(batch, np.ndarray):
            frames, times = batch, (first_frame + np.arange(len(batch))) / fps
        else:
            frames, times = shot_frames(batch), np.asarray(batch.times, np.float64)
        if frames.shape[1:] != expected:
            raise ValueError(f"shot detection takes frames of shape (n, *{expected}), got {frames.shape}")
        yield frames, times
        first_frame += len(frames)


def _features(frame_batches: Iterable[FrameBatch | np.ndarray], fps: float,
              times: list[np.ndarray]) -> Iterator[FrameFeatures]:
    """Features of every batch, all at the time scale of the first _SCALE_FRAMES frames and of
    the picture inside the black bars those frames have (both judged once, so every window
    sees the same features); each batch's times are appended to `times` as it passes."""
    timed = _timed_batches(frame_batches, fps)
    held: list[tuple[np.ndarray, np.ndarray]] = []
    while sum(len(t) for _f, t in held) < _SCALE_FRAMES and (batch := next(timed, None)) is not None:
        held.append(batch)
    if not held:
        return
    scale = time_scale(fps, np.concatenate([t for _f, t in held]))
    rows, columns = picture_box(np.concatenate([f for f, _t in held]))
    first_frame = 0
    for frames, batch_times in itertools.chain(held, timed):
        times.append(batch_times)
        yield frame_features(frames[:, rows, columns], scale, first_frame, batch_times)
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
