"""Streaming video decoding with PyAV: small frames, real timestamps, bounded memory.

Frames are scaled and converted inside libswscale by one reused VideoReformatter:
it keeps its scaler context between frames, whereas VideoFrame.to_ndarray(width=...)
builds a new one per frame and is about 4x slower at thumbnail sizes.
"""
from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from featurizer.media.display_matrix import IDENTITY, DisplayTransform
from featurizer.media.errors import NO_FRAMES, UNREADABLE, MediaError

# The largest video blob a stage reads (and the scrape stores): two hours of HD at about
# 2.4 Mbit/s. Far above a GIF's MAX_GIF_BYTES: videos stream from disk, never held whole.
MAX_VIDEO_BYTES = 2 * 2**30
# Timestamps are rounded to the container's time base, so CFR steps may jitter by a tick.
_JITTER_TICKS = 1
# Without a complete container index, judge the timestamps by this many leading packets.
_PROBE_PACKETS = 300
# The frame rate assumed for a stream that declares none at all (a raw elementary stream, a broken
# header): 25 fps, the most common rate (PAL broadcast, much web video). Frame counts still
# convert to seconds, and shot detectors, whose windows are in seconds, still get a time scale.
FALLBACK_FPS = 25.0
# Which frames skip_loop_filter decodes without the deblocking filter (FFmpeg's AVDiscard names).
_SKIP_LOOP_FILTER = "noref"


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int
    height: int
    fps: float  # average frame rate; 0.0 when the stream declares none (see FALLBACK_FPS)
    num_frames: int | None  # as declared by the container; None when it declares none
    duration_sec: float | None
    variable_frame_rate: bool  # timestamp steps irregular (or, lacking timestamps, rates disagree)


@dataclass
class FrameBatch:
    frames: np.ndarray  # uint8, (n, H, W) gray or (n, H, W, 3) RGB, at the requested size
    times: np.ndarray  # float64 (n,) presentation times in seconds, first frame at 0
    indices: np.ndarray  # int64 (n,) index of each frame in decoding output, from 0
    # The same frames at small_size when one was asked for, scaled from the decoded picture (not
    # from `frames`): equal to what a decode at that size alone gives.
    small_frames: np.ndarray | None = None


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


def _display_transform(path) -> DisplayTransform:
    """The display matrix of the first video stream, as its first decoded frame carries it
    (PyAV exposes no stream side data); identity when no frame decodes."""
    container = _open(path)
    try:
        for frame in container.decode(_video_stream(container, path)):
            return DisplayTransform.of_frame(frame)
        return IDENTITY
    except av.FFmpegError:
        return IDENTITY  # probe_video and the decode report what is wrong with the file
    finally:
        container.close()


def probe_video(path) -> VideoInfo:
    """Container metadata of the first video stream, its size as shown (the display matrix
    applied); decodes its first frame only, for that matrix."""
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        context = stream.codec_context
        width, height = _display_transform(path).shown_size((context.width, context.height))
        info: dict[str, Any] = dict(  # read before the timestamps are demuxed
            path=str(path),
            width=width,  # as shown: a quarter turn of the display matrix swaps them
            height=height,
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

    def __init__(self, stream: Any) -> None:
        self._tick_sec = float(stream.time_base or Fraction(1, 1))
        self._interval_sec = 1.0 / (_average_fps(stream) or FALLBACK_FPS)
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

    def __init__(self, batch_size: int, frame_shape: tuple[int, ...], small_shape: tuple[int, ...] | None):
        self._batch_size = batch_size
        self._frame_shape = frame_shape
        self._small_shape = small_shape
        self._start_new()

    def _start_new(self) -> None:
        self._frames = np.empty((self._batch_size, *self._frame_shape), dtype=np.uint8)
        self._small = (None if self._small_shape is None
                       else np.empty((self._batch_size, *self._small_shape), dtype=np.uint8))
        self._times = np.empty(self._batch_size, dtype=np.float64)
        self._indices = np.empty(self._batch_size, dtype=np.int64)
        self._count = 0

    @property
    def full(self) -> bool:
        return self._count == self._batch_size

    def add(self, pixels: np.ndarray, small: np.ndarray | None, time_sec: float, index: int) -> None:
        self._frames[self._count] = pixels
        if self._small is not None and small is not None:
            self._small[self._count] = small
        self._times[self._count] = time_sec
        self._indices[self._count] = index
        self._count += 1

    @property
    def empty(self) -> bool:
        return self._count == 0

    def take(self) -> FrameBatch:
        n = self._count
        small = None if self._small is None else self._small[:n]
        batch = FrameBatch(self._frames[:n], self._times[:n], self._indices[:n], small)
        self._start_new()
        return batch


def iter_video_frames(path, size: tuple[int, int] | None = None, gray: bool = True,
                      batch_size: int = 256, threads: int | None = None,
                      small_size: tuple[int, int] | None = None,
                      skip_loop_filter: bool = False) -> Generator[FrameBatch, None, None]:
    """Decode the first video stream in batches of at most `batch_size` frames.

    Frames are as a player shows them: turned and flipped by the container's display matrix
    (featurizer.media.display_matrix), as phones record. size is (width, height) as shown;
    None keeps the first frame's size (later frames of other sizes are scaled to it).
    threads: decoder threads, None or 0 for FFmpeg's choice.
    small_size: also give every frame at this (width, height), in the same pixel format,
    as FrameBatch.small_frames; one decode then serves a consumer of full frames and one of
    thumbnails alike. Memory is one batch: batch_size * width * height (* 3 for RGB)
    bytes, and as many at small_size.
    skip_loop_filter: decode without the codec's in-loop (deblocking) filter, about a fifth faster
    for H.264. Pictures then differ slightly from the true ones (the error drifts until the next
    key frame): fine for thumbnails that only need to change where the picture does (shot
    detection), wrong where exact pixels matter (alignment hashes, C3D). Off by default.
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
        if skip_loop_filter:
            stream.codec_context.options = {"skip_loop_filter": _SKIP_LOOP_FILTER}  # read when the codec opens
        yield from _decode_batches(container, stream, path, size, gray, batch_size, small_size)
    except av.FFmpegError as error:
        raise MediaError(UNREADABLE, str(path), f"decoding failed: {error}") from error
    finally:
        container.close()


def _decode_batches(container, stream, path, size, gray, batch_size, small_size) -> Iterator[FrameBatch]:
    pixel_format = "gray" if gray else "rgb24"
    # One reformatter per output size: each keeps its own scaler context between frames.
    reformatter, small_reformatter = VideoReformatter(), VideoReformatter()
    clock = _PresentationClock(stream)
    batch = None
    index = 0
    for frame in container.decode(stream):
        if batch is None:
            # Sizes are as shown; the decoded picture is scaled to the stored size that shows at
            # them, then turned and flipped as the display matrix says.
            shown = DisplayTransform.of_frame(frame)
            width, height = shown.stored_size(size or shown.shown_size((frame.width, frame.height)))
            small = None if small_size is None else shown.stored_size(small_size)
            small_shape = None if small_size is None else _frame_shape(small_size, gray)
            batch = _BatchBuilder(batch_size, _frame_shape(shown.shown_size((width, height)), gray), small_shape)
        scaled = reformatter.reformat(frame, width=width, height=height, format=pixel_format,
                                      interpolation=Interpolation.AREA)
        small_frame = None if small is None else shown.apply(small_reformatter.reformat(
            frame, width=small[0], height=small[1], format=pixel_format,
            interpolation=Interpolation.AREA).to_ndarray())
        batch.add(shown.apply(scaled.to_ndarray()), small_frame, clock.seconds(frame.pts), index)
        index += 1
        if batch.full:
            yield batch.take()
    if batch is None:
        raise MediaError(NO_FRAMES, str(path), "no video frame could be decoded")
    if not batch.empty:
        yield batch.take()


def _frame_shape(size: tuple[int, int], gray: bool) -> tuple[int, ...]:
    width, height = size
    return (height, width) if gray else (height, width, 3)
