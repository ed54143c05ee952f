"""A video file as the shot driver's frame source: one decode, apart from the detection algorithms.

    video = decode_frames(path, size)            # probes the file; decodes as it is iterated
    detect_in_frames(video.batches, video.fps)   # FrameBatch: frames at `size` (and FEATURE_SIZE,
                                                 # driver.shot_frames), the decoder's times, indices

Both callers decode through here, so both detect shots on the same frames: `gifrank shots`
(detect_shots) asks for FEATURE_SIZE only, featurize's decode (featurizer.c3d.video_decode) for
C3D's 171x128 and gets FEATURE_SIZE beside it, scaled from the same decoded picture.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Generator
from dataclasses import dataclass
from queue import Full, Queue

from featurizer.media.video import FALLBACK_FPS, FrameBatch, iter_video_frames, probe_video
from featurizer.shots.detectors import ShotDetector
from featurizer.shots.driver import WINDOW_FRAMES, Shots, detect_in_frames
from featurizer.shots.features import FEATURE_SIZE

SHOTS_BATCH = 256  # frames per batch at FEATURE_SIZE: 1.8 MB


@dataclass(frozen=True)
class DecodedFrames:
    """A video being decoded: its frame rate and its frames in batches, decoded a batch or two
    ahead in a background thread (FFmpeg releases the GIL) while the consumer works on the last."""

    fps: float  # the stream's declared rate, or FALLBACK_FPS when it declares none
    batches: Generator[FrameBatch, None, None]  # close() stops the decoder thread at once


def decode_frames(path, size: tuple[int, int] = FEATURE_SIZE, *, batch_size: int = SHOTS_BATCH,
                  threads: int | None = None, skip_loop_filter: bool = False) -> DecodedFrames:
    """The video's RGB frames at size (width, height), in batches; when size is not FEATURE_SIZE
    each batch also holds them at FEATURE_SIZE (small_frames; see driver.shot_frames).

    skip_loop_filter: decode faster, without the deblocking filter (see iter_video_frames): for
    shot detection alone, whose features do not notice; featurize's C3D decode keeps it off.
    Probing happens now: MediaError for unreadable media, FileNotFoundError for a missing file.
    Decoding errors come from iterating the batches.
    """
    fps = probe_video(path).fps or FALLBACK_FPS
    small_size = None if tuple(size) == FEATURE_SIZE else FEATURE_SIZE
    batches = iter_video_frames(path, size=size, gray=False, batch_size=batch_size, threads=threads,
                                small_size=small_size, skip_loop_filter=skip_loop_filter)
    return DecodedFrames(fps, _read_ahead(batches))


def detect_shots(path, detector: ShotDetector | None = None, threads: int | None = None,
                 window_frames: int = WINDOW_FRAMES) -> Shots:
    """Shots of the video at path, by the given detector (default: ChangePointDetector()).

    Raises MediaError for unreadable media (see featurizer.media.video) and FileNotFoundError
    for a missing file.
    """
    video = decode_frames(path, threads=threads, skip_loop_filter=True)  # thumbnails only: see decode_frames
    with contextlib.closing(video.batches) as batches:
        return detect_in_frames(batches, video.fps, detector, window_frames)


@dataclass(frozen=True)
class _End:
    """Marks the end of a read-ahead stream, carrying the producer's exception if it failed."""

    error: BaseException | None = None


def _read_ahead(items: Generator, depth: int = 2) -> Generator:
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

    producer = threading.Thread(target=produce, name="video-decoder", daemon=True)
    producer.start()
    try:
        while not isinstance(item := queue.get(), _End):
            yield item
        if item.error is not None:
            raise item.error
    finally:
        stopped.set()
        producer.join()
