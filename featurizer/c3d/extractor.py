"""C3D segment features: the model, its snippet mean and its name, and the video path in
which decoding and clip building run in background threads, overlapping the model.

The video path, per call:

    decoders (threads, one video each at a time)  frames -> 16-frame windows   --+
    batcher (a thread)                             windows -> batches of clip jobs
    workers (threads)                              jobs -> float32 clip batches --+-> model (caller's thread)

Every stage waits on a bounded queue, so memory stays at a few batches. numpy, OpenCV and
the decoder release the GIL, so the stages run beside each other and beside the model. One
decoder keeps a CPU's model busy; a GPU's model outruns one video's decoder, so several
videos are decoded at once (ClipOptions.decoders).
"""
from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterator, Sequence

from featurizer.c3d.quiet_start import import_tensorflow_quietly

import_tensorflow_quietly()  # before keras, which imports TensorFlow
import keras  # noqa: E402
import numpy as np

from featurizer.c3d.model import load_c3d
from featurizer.c3d.preprocess import (CLIP_SHAPE, CROP_LEFT, CROP_SIZE, CROP_TOP, RESIZED_HEIGHT, RESIZED_WIDTH, RGB,
                                       SNIPPET_FRAMES, SNIPPET_STRIDE, WEIGHTS_CHANNEL_ORDER, FrameRateSampler, crop,
                                       segment_clips, to_channel_order, write_clip)
from featurizer.c3d.weights import FC6_UNITS, MEAN_SHAPE, file_sha256, load_snippet_mean
from featurizer.media.video import iter_video_frames

RANDOM_NAME = "c3d-random"
WEIGHTS_NAME_PREFIX = "c3d-sports1m-"
NAME_HASH_CHARS = 12
DEFAULT_BATCH_SIZE = 16
# Decoded frames per batch from the decoder: small, since frames are held until their snippets are built.
DECODE_BATCH_FRAMES = 64
# How often blocked stages look whether the consumer has gone.
POLL_SEC = 0.1


@dataclass(frozen=True)
class ClipOptions:
    """How videos become clips: the knobs that trade fidelity for speed, and the parallelism."""
    fps: float | None = None  # keep only the first frame at or after each tick of a clock at this rate
    mirror: bool = True  # each snippet also flipped left-right, as Video2GIF does (twice the clips)
    batch_size: int = DEFAULT_BATCH_SIZE  # clips per model call
    decoders: int = 1  # videos decoded at once
    workers: int = 1  # threads building clips from windows
    prefetch_batches: int = 4  # built batches waiting for the model, at most
    decode_threads: int | None = None  # FFmpeg threads per decoder; None: the cores shared among decoders

    def threads_per_decoder(self) -> int:
        # FFmpeg's own choice is every core for each decoder: oversubscribed with several.
        return self.decode_threads or max(1, (os.cpu_count() or 1) // max(1, self.decoders))


@dataclass
class SegmentFeatures:
    features: np.ndarray  # float32 (n_segments, 4096): mean fc6 over the segment's clips; NaN where it has none
    clip_counts: np.ndarray  # int64 (n_segments,): clips averaged (snippets, twice that with mirroring)


class C3DFeatureExtractor:
    """A C3D model with the snippet mean it expects; `name` identifies the features it makes."""

    def __init__(self, model: keras.Model, mean: np.ndarray, name: str,
                 channel_order: str = WEIGHTS_CHANNEL_ORDER):
        if mean.shape != MEAN_SHAPE:
            raise ValueError(f"snippet mean must be {MEAN_SHAPE}, got {mean.shape}")
        self.model = model
        self.mean = mean
        self.name = name
        self.channel_order = channel_order
        self._mean_crop = np.ascontiguousarray(crop(mean))

    def clip_features(self, clips: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """fc6 (n, 4096) of prepared clips (n, 16, 112, 112, 3)."""
        features = np.empty((len(clips), FC6_UNITS), dtype=np.float32)
        for start in range(0, len(clips), batch_size):
            batch = clips[start:start + batch_size]
            features[start:start + len(batch)] = self._fc6(_padded(batch, batch_size))[:len(batch)]
        return features

    def segment_feature(self, frames_rgb: Sequence[np.ndarray], mirror: bool = True,
                        batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """The feature (4096,) of one segment whose RGB frames are in memory."""
        clips = segment_clips(frames_rgb, self.mean, mirror, channel_order=self.channel_order)
        return self.clip_features(clips, batch_size).mean(axis=0)

    def video_features(self, path, segments: Sequence[tuple[int, int]],
                       options: ClipOptions = ClipOptions()) -> SegmentFeatures:
        """Features of one video's segments; see videos_features."""
        return self.videos_features([(path, segments)], options)[0]

    def videos_features(self, videos: Sequence[tuple[object, Sequence[tuple[int, int]]]],
                        options: ClipOptions = ClipOptions()) -> list[SegmentFeatures]:
        """Features of the segments of several videos, each decoded once, options.decoders at a time.

        videos: (path, segments); segments are [start, end) frame indices in the decoder's
        output, sorted, disjoint, each at least 16 frames long. With options.fps, a segment
        left with under 16 frames gets no clip (NaN feature, count 0), as does one past the
        video's end. Decoding a video stops after its last segment. A video that cannot be
        decoded raises its MediaError and ends the call.
        """
        checked = [(path, _checked_segments(segments)) for path, segments in videos]
        bounds = np.cumsum([0] + [len(segments) for _, segments in checked])
        sums = np.zeros((bounds[-1], FC6_UNITS), dtype=np.float64)
        counts = np.zeros(bounds[-1], dtype=np.int64)
        with closing(self.iter_clip_batches(checked, options)) as batches:
            for clips, segment_ids in batches:
                _add_by_segment(sums, counts, segment_ids, self._fc6(clips)[:len(segment_ids)])
        with np.errstate(invalid="ignore", divide="ignore"):
            features = (sums / counts[:, None]).astype(np.float32)
        return [SegmentFeatures(features[start:end], counts[start:end]) for start, end in zip(bounds, bounds[1:])]

    def iter_clip_batches(self, videos: Sequence[tuple[object, Sequence[tuple[int, int]]]],
                          options: ClipOptions = ClipOptions()) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """What videos_features feeds the model: (clips padded to options.batch_size, index of
        each real clip's segment among all videos' segments, in order), built in the background.

        A batch's clips array is reused once the next batch is asked for: copy it to keep it.
        """
        streams, offset = [], 0
        for path, segments in videos:
            segments = _checked_segments(segments)
            streams.append(partial(_video_windows, path, segments, offset, options, self.channel_order))
            offset += len(segments)
        return _clip_batches_in_background(streams, self._mean_crop, options)

    def _fc6(self, clips: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(clips), dtype=np.float32)

    def window_features(self, windows: np.ndarray, mirror: bool = True,
                        batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """fc6 (n, 4096) of snippets given as decoded frames: uint8 RGB (n, 16, 128, 171, 3).

        Only the uint8 windows go to the model's device; the crop, the channel order, the
        mean subtraction and the mirror image are computed there (a quarter of the bytes of
        float32 clips cross to the device). With mirror, a snippet's feature is the mean of
        its clip's and its mirror image's fc6, as the segment means of videos_features weigh them.
        """
        model = self._window_model(mirror)
        features = np.empty((len(windows), FC6_UNITS), dtype=np.float32)
        for start in range(0, len(windows), batch_size):
            batch = windows[start:start + batch_size]
            padded = batch if len(batch) == batch_size else _padded_windows(batch, batch_size)
            features[start:start + len(batch)] = np.asarray(model.predict_on_batch(padded), np.float32)[:len(batch)]
        return features

    def _window_model(self, mirror: bool) -> keras.Model:
        cache = self.__dict__.setdefault("_window_models", {})
        if mirror not in cache:
            windows = keras.Input((SNIPPET_FRAMES, RESIZED_HEIGHT, RESIZED_WIDTH, 3), dtype="uint8", name="windows")
            clips = _WindowClips(self._mean_crop, self.channel_order, mirror, name="window_clips")(windows)
            fc6 = self.model(clips)
            if mirror:
                fc6 = _MeanOfMirrorImages(name="mean_of_mirror_images")(fc6)
            cache[mirror] = keras.Model(windows, fc6, name="c3d_windows_fc6")
        return cache[mirror]


class _WindowClips(keras.layers.Layer):
    """uint8 RGB windows (n, 16, 128, 171, 3) -> float32 clips (n, or 2n with mirror images after
    the originals) as preprocess.write_clip makes them: centre crop, weights' channel order, mean off."""

    def __init__(self, mean_crop: np.ndarray, channel_order: str, mirror: bool, **kwargs):
        super().__init__(**kwargs)
        self._mean_crop = np.asarray(mean_crop, np.float32)
        self._reverse_channels = channel_order != RGB
        self._mirror = mirror

    def call(self, windows):
        ops = keras.ops
        top, left = CROP_TOP, CROP_LEFT
        x = ops.cast(windows[:, :, top:top + CROP_SIZE, left:left + CROP_SIZE, :], "float32")
        if self._reverse_channels:
            x = ops.flip(x, axis=-1)
        x = x - ops.convert_to_tensor(self._mean_crop)
        if self._mirror:
            x = ops.concatenate([x, ops.flip(x, axis=3)], axis=0)
        return x

    def compute_output_shape(self, input_shape):
        return (None, SNIPPET_FRAMES, CROP_SIZE, CROP_SIZE, 3)


class _MeanOfMirrorImages(keras.layers.Layer):
    """fc6 of (originals, mirror images) stacked -> their mean, per snippet."""

    def call(self, fc6):
        return keras.ops.mean(keras.ops.reshape(fc6, (2, -1, FC6_UNITS)), axis=0)

    def compute_output_shape(self, input_shape):
        return (None, FC6_UNITS)


def _padded_windows(batch: np.ndarray, batch_size: int) -> np.ndarray:
    padded = np.zeros((batch_size, *batch.shape[1:]), dtype=np.uint8)
    padded[:len(batch)] = batch
    return padded


def load_c3d_extractor(weights_path=None, mean_path=None, *, flip_filters: bool | None = None,
                       channel_order: str = WEIGHTS_CHANNEL_ORDER, seed: int = 0) -> C3DFeatureExtractor:
    """The extractor for published weights and their snippet mean, or a random one (warned).

    Named c3d-sports1m-<first 12 hex digits of the weights file's SHA-256>, or c3d-random.
    Without a mean file the mean is zero, which suits random weights only.
    """
    if weights_path is not None and mean_path is None:
        raise ValueError("the Sports-1M weights need the snippet mean they were trained with (mean_path)")
    model = load_c3d(weights_path, flip_filters=flip_filters, seed=seed)
    mean = np.zeros(MEAN_SHAPE, np.float32) if mean_path is None else load_snippet_mean(mean_path)
    return C3DFeatureExtractor(model, mean, extractor_name(weights_path), channel_order)


def extractor_name(weights_path=None) -> str:
    """c3d-sports1m-<first 12 hex digits of the weights file's SHA-256>, or c3d-random."""
    return RANDOM_NAME if weights_path is None else WEIGHTS_NAME_PREFIX + file_sha256(weights_path)[:NAME_HASH_CHARS]


def _padded(batch: np.ndarray, batch_size: int) -> np.ndarray:
    """The batch grown to batch_size with zero clips: a compiled model then sees one shape only."""
    if len(batch) == batch_size:
        return batch
    padded = np.zeros((batch_size, *batch.shape[1:]), dtype=np.float32)
    padded[:len(batch)] = batch
    return padded


def _add_by_segment(sums: np.ndarray, counts: np.ndarray, segment_ids: np.ndarray, features: np.ndarray):
    """sums[s] += the features of segment s's clips; by runs of equal ids (np.add.at is 40x slower)."""
    order = np.argsort(segment_ids, kind="stable")
    ids = segment_ids[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    sums[ids[starts]] += np.add.reduceat(features[order], starts, axis=0)
    counts[ids[starts]] += np.diff(np.r_[starts, len(ids)])


def _checked_segments(segments) -> list[tuple[int, int]]:
    checked = [(int(start), int(end)) for start, end in segments]
    previous_end = 0
    for start, end in checked:
        if start < previous_end:
            raise ValueError(f"segment [{start}, {end}) overlaps or precedes the one before; "
                             "segments must be sorted and disjoint")
        if end - start < SNIPPET_FRAMES:
            raise ValueError(f"segment [{start}, {end}) has {end - start} frames; C3D needs at least "
                             f"{SNIPPET_FRAMES}")
        previous_end = end
    return checked


def _decoded_frames(path, fps, threads) -> Iterator[tuple[int, np.ndarray]]:
    """(decoder index, RGB frame at 128x171); the decoder scales."""
    sampler = FrameRateSampler(fps) if fps else None
    batches = iter_video_frames(path, size=(RESIZED_WIDTH, RESIZED_HEIGHT), gray=False,
                                batch_size=DECODE_BATCH_FRAMES, threads=threads)
    with closing(batches):
        for batch in batches:
            for index, time_sec, frame in zip(batch.indices, batch.times, batch.frames):
                if sampler is None or sampler.keep(time_sec):
                    yield int(index), frame


# A snippet: (index of its segment among all videos' segments, its frames (16, 128, 171, 3)
# uint8 in the weights' channel order).
_Window = tuple[int, np.ndarray]


def _video_windows(path, segments, offset, options: ClipOptions, channel_order) -> Iterator[_Window]:
    """Each snippet of one video's segments, in decoding order; segment indices start at offset."""
    current, window = 0, []
    frames = _decoded_frames(path, options.fps, options.threads_per_decoder())
    with closing(frames):
        for index, frame in frames:
            while index >= segments[current][1]:
                current, window = current + 1, []
                if current == len(segments):
                    return
            if index < segments[current][0]:
                continue
            window.append(frame)  # a view: decoded batches never alias each other
            if len(window) == SNIPPET_FRAMES:
                yield offset + current, to_channel_order(np.stack(window), channel_order)
                window = window[SNIPPET_STRIDE:]


# A clip to build: (segment index, the snippet's frames, mirrored).
_ClipJob = tuple[int, np.ndarray, bool]


def _build_batch(job: list[_ClipJob], mean_crop: np.ndarray, clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(clips filled and zero-padded, segment index of each real clip)."""
    for slot, (_, window, mirrored) in zip(clips, job):
        write_clip(window, mean_crop, slot, mirrored)
    clips[len(job):] = 0
    return clips, np.array([segment for segment, _, _ in job], dtype=np.int64)


class _Stopped(Exception):
    """The consumer has gone: nothing waits for this batch any more."""


class _BatchBuffers:
    """Clip batch arrays, reused: a fresh 300 MB array per batch costs page faults on every
    page, about as much as building the batch (more under sandboxed kernels).

    `count` bounds the arrays; the pipeline never holds more than that at once.
    """

    def __init__(self, shape: tuple[int, ...], count: int, stop: threading.Event):
        self._shape = shape
        self._unallocated = count
        self._free: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._stop = stop

    def take(self) -> np.ndarray:
        with self._lock:
            if self._free.empty() and self._unallocated > 0:
                self._unallocated -= 1
                return np.empty(self._shape, dtype=np.float32)
        while not self._stop.is_set():
            try:
                return self._free.get(timeout=POLL_SEC)
            except queue.Empty:
                continue
        raise _Stopped

    def give_back(self, array: np.ndarray):
        self._free.put(array)


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


_VIDEO_DONE = object()
_END = object()


def _clip_batches_in_background(streams: list[Callable[[], Iterator[_Window]]], mean_crop: np.ndarray,
                                options: ClipOptions) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Batches of clips of the snippets of all streams, built ahead of the consumer.

    Failures in any stage reach the consumer, which raises them; a consumer that stops
    early (or fails) stops every stage.
    """
    windows: queue.Queue = queue.Queue(maxsize=2 * options.batch_size)
    built: queue.Queue = queue.Queue(maxsize=options.prefetch_batches)
    stop = threading.Event()
    decoding = ThreadPoolExecutor(max(1, options.decoders), thread_name_prefix="c3d-decode")
    building = ThreadPoolExecutor(max(1, options.workers), thread_name_prefix="c3d-clips")
    # In use at once, at most: the batches queued for the consumer, the one the batcher is
    # offering, and the one the consumer holds.
    buffers = _BatchBuffers((options.batch_size, *CLIP_SHAPE), options.prefetch_batches + 2, stop)

    def build(job: list[_ClipJob]):
        return _build_batch(job, mean_crop, buffers.take())

    def offer(destination: queue.Queue, item) -> bool:
        while not stop.is_set():
            try:
                destination.put(item, timeout=POLL_SEC)
                return True
            except queue.Full:
                continue
        return False

    def decode(stream):
        try:
            if stop.is_set():
                return
            with closing(stream()) as snippets:
                for window in snippets:
                    if not offer(windows, window):
                        return
            offer(windows, _VIDEO_DONE)
        except BaseException as error:  # handed on to the consumer, which raises it
            offer(windows, _Failure(error))

    def next_window():
        while not stop.is_set():
            try:
                return windows.get(timeout=POLL_SEC)
            except queue.Empty:
                continue
        return _END

    def batch():
        try:
            batch_jobs()
        except BaseException as error:  # handed on to the consumer, which raises it
            offer(built, _Failure(error))

    def batch_jobs():
        versions = (False, True) if options.mirror else (False,)
        job: list[_ClipJob] = []
        finished = 0
        while finished < len(streams):
            item = next_window()
            if item is _END:
                return
            if isinstance(item, _Failure):
                offer(built, item)
                return
            if item is _VIDEO_DONE:
                finished += 1
                continue
            segment, frames = item
            for mirrored in versions:
                job.append((segment, frames, mirrored))
                if len(job) == options.batch_size:
                    if not offer(built, building.submit(build, job)):
                        return
                    job = []
        if job and not offer(built, building.submit(build, job)):
            return
        offer(built, _END)

    for stream in streams:
        decoding.submit(decode, stream)
    batcher = threading.Thread(target=batch, name="c3d-batch", daemon=True)
    batcher.start()
    try:
        while (item := built.get()) is not _END:
            if isinstance(item, _Failure):
                raise item.error
            clips, segment_ids = item.result()
            yield clips, segment_ids
            buffers.give_back(clips)
    finally:
        stop.set()
        batcher.join()
        decoding.shutdown(wait=True, cancel_futures=True)
        building.shutdown(wait=True, cancel_futures=True)
