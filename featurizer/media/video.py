"""Streaming video decoding with PyAV: small frames, real timestamps, bounded memory.

Frames are scaled and converted inside libswscale by one reused VideoReformatter:
it keeps its scaler context between frames, whereas VideoFrame.to_ndarray(width=...)
builds a new one per frame and is about 4x slower at thumbnail sizes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from featurizer.media.errors import NO_FRAMES, UNREADABLE, MediaError

# The largest video blob a stage reads (and the scrape stores): two hours of HD at about
# 2.4 Mbit/s. Far above a GIF's MAX_GIF_BYTES: videos stream from disk, never held whole.
MAX_VIDEO_BYTES = 2 * 2**30
# Timestamps are rounded to the container's time base, so CFR steps may jitter by a tick.
_JITTER_TICKS = 1
# Without a complete container index, judge the timestamps by this many leading packets.
_PROBE_PACKETS = 300


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int
    height: int
    fps: float  # average frame rate
    num_frames: int | None  # as declared by the container; None when it declares none
    duration_sec: float | None
    variable_frame_rate: bool  # timestamp steps irregular (or, lacking timestamps, rates disagree)


@dataclass
class FrameBatch:
    frames: np.ndarray  # uint8, (n, H, W) gray or (n, H, W, 3) RGB, at the requested size
    times: np.ndarray  # float64 (n,) presentation times in seconds, first frame at 0
    indices: np.ndarray  # int64 (n,) index of each frame in decoding output, from 0


def _open(path) -> av.container.InputContainer:
    try:
        return av.open(os.fspath(path), mode="r")
    except FileNotFoundError:
        raise  # a missing file is the caller's mistake, not bad media
    except av.FFmpegError as error:
        raise MediaError(UNREADABLE, str(path), f"cannot open: {error}") from error


def _video_stream(container, path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise MediaError(UNREADABLE, str(path), "no video stream")
    return container.streams.video[0]


def _average_fps(stream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return 0.0


def _duration_sec(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _known_timestamps(container, stream) -> np.ndarray:
    """Frame timestamps in time-base ticks: the whole index when the container has one
    entry per frame (mp4, mov), else those of the leading packets."""
    entries = stream.index_entries
    if stream.frames and entries is not None and len(entries) == stream.frames:
        return np.array([entry.timestamp for entry in entries], dtype=np.int64)
    stamps = []
    for packet in container.demux(stream):
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is not None:
            stamps.append(stamp)
        if len(stamps) >= _PROBE_PACKETS:
            break
    return np.array(stamps, dtype=np.int64)


def _steps_irregular(stamps: np.ndarray) -> bool:
    steps = np.diff(np.sort(stamps))
    return bool(np.any(np.abs(steps - np.median(steps)) > _JITTER_TICKS))


def _rates_disagree(stream) -> bool:
    """r_frame_rate (the lowest rate all timestamps fit) differs from the average rate.

    Twice the average is agreement: H.264 and MPEG-2 streams declare their field rate.
    """
    real, average = stream.base_rate, stream.average_rate
    if not real or not average:
        return False
    ratio = float(real) / float(average)
    return not any(abs(ratio - same) < 0.01 for same in (1.0, 2.0))


def _variable_frame_rate(container, stream) -> bool:
    """Judged by the timestamps when there are enough, else by the declared rates."""
    stamps = _known_timestamps(container, stream)
    if len(stamps) >= 3:
        return _steps_irregular(stamps)
    return _rates_disagree(stream)


def probe_video(path) -> VideoInfo:
    """Container metadata of the first video stream; decodes nothing."""
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        context = stream.codec_context
        info = dict(
            path=str(path),
            width=context.width,
            height=context.height,
            fps=_average_fps(stream),
            num_frames=stream.frames or None,
            duration_sec=_duration_sec(container, stream),
        )
        return VideoInfo(**info, variable_frame_rate=_variable_frame_rate(container, stream))
    except av.FFmpegError as error:
        raise MediaError(UNREADABLE, str(path), f"cannot read: {error}") from error
    finally:
        container.close()


class _PresentationClock:
    """Frame pts -> seconds since the first frame, strictly increasing.

    A frame without pts, or with one not after its predecessor's (broken muxing),
    is placed one nominal frame interval after the previous frame.
    """

    def __init__(self, stream):
        self._tick_sec = float(stream.time_base or Fraction(1, 1))
        fps = _average_fps(stream)
        self._interval_sec = 1.0 / fps if fps > 0 else 0.04
        self._first_pts: int | None = None
        self._previous_sec: float | None = None

    def seconds(self, pts: int | None) -> float:
        if self._previous_sec is None:
            self._first_pts = pts
            self._previous_sec = 0.0
            return 0.0
        fallback = self._previous_sec + self._interval_sec
        if pts is None or self._first_pts is None:
            now = fallback
        else:
            now = (pts - self._first_pts) * self._tick_sec
            if now <= self._previous_sec:
                now = fallback
        self._previous_sec = now
        return now


class _BatchBuilder:
    """Fills fresh fixed-size arrays, so yielded batches never alias each other."""

    def __init__(self, batch_size: int, frame_shape: tuple[int, ...]):
        self._batch_size = batch_size
        self._frame_shape = frame_shape
        self._start_new()

    def _start_new(self):
        self._frames = np.empty((self._batch_size, *self._frame_shape), dtype=np.uint8)
        self._times = np.empty(self._batch_size, dtype=np.float64)
        self._indices = np.empty(self._batch_size, dtype=np.int64)
        self._count = 0

    @property
    def full(self) -> bool:
        return self._count == self._batch_size

    def add(self, pixels: np.ndarray, time_sec: float, index: int):
        self._frames[self._count] = pixels
        self._times[self._count] = time_sec
        self._indices[self._count] = index
        self._count += 1

    def take(self) -> FrameBatch | None:
        if self._count == 0:
            return None
        n = self._count
        batch = FrameBatch(self._frames[:n], self._times[:n], self._indices[:n])
        self._start_new()
        return batch


def iter_video_frames(path, size: tuple[int, int] | None = None, gray: bool = True,
                      batch_size: int = 256, threads: int | None = None) -> Iterator[FrameBatch]:
    """Decode the first video stream in batches of at most `batch_size` frames.

    size is (width, height); None keeps the first frame's size (later frames of other
    sizes are scaled to it). threads: decoder threads, None or 0 for FFmpeg's choice.
    Memory is one batch: batch_size * width * height (* 3 for RGB) bytes.
    A file that fails mid-stream yields the batches decoded so far, then raises
    MediaError('unreadable'); one with no decodable frame raises MediaError('no_frames').
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"  # frame and slice threading
        stream.codec_context.thread_count = threads or 0
        yield from _decode_batches(container, stream, path, size, gray, batch_size)
    except av.FFmpegError as error:
        raise MediaError(UNREADABLE, str(path), f"decoding failed: {error}") from error
    finally:
        container.close()


def _decode_batches(container, stream, path, size, gray, batch_size) -> Iterator[FrameBatch]:
    pixel_format = "gray" if gray else "rgb24"
    reformatter = VideoReformatter()
    clock = _PresentationClock(stream)
    batch = None
    index = 0
    for frame in container.decode(stream):
        if batch is None:
            width, height = size or (frame.width, frame.height)
            batch = _BatchBuilder(batch_size, (height, width) if gray else (height, width, 3))
        scaled = reformatter.reformat(frame, width=width, height=height, format=pixel_format,
                                      interpolation=Interpolation.AREA)
        batch.add(scaled.to_ndarray(), clock.seconds(frame.pts), index)
        index += 1
        if batch.full:
            yield batch.take()
    if batch is None:
        raise MediaError(NO_FRAMES, str(path), "no video frame could be decoded")
    last = batch.take()
    if last is not None:
        yield last
