"""A video's segment features in one step: decode once (shots, segments, C3D's frames), then C3D.

    featurizer = VideoFeaturizer(load_c3d_extractor(weights, mean), FeatureSettings(fps=12.5))
    [result] = featurizer.featurize([LocalVideo("clip.mp4")])
    result.segments, result.features   # float32 (n, 4096), result.snippets (n,)

This is the featurize pipeline's GPU step, Beam-free: a video reference goes in and
segment features come out, so no pixels leave the machine. Decoding runs in
`decode_processes` worker processes (0: in this one), which leave each video's frames
in a temporary file; the model gets uint8 windows of 16 frames read from it, batched
across the videos of one call, and crops, subtracts the mean and mirrors on its device.
"""
from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from featurizer.c3d.preprocess import RESIZED_HEIGHT, RESIZED_WIDTH, SNIPPET_FRAMES, SNIPPET_STRIDE
from featurizer.dataset.dead_letter_rows import error_kind, is_bad_input
from featurizer.dataset.tables import C3D_FEATURES, SEGMENTER_VERSION
from featurizer.labels.segments import Segment

_FRAME_SHAPE = (RESIZED_HEIGHT, RESIZED_WIDTH, 3)
# How a segment keeping under 16 frames gets its snippet (video_segments.C3DFrames.snippets):
# its frames repeated. Part of the extractor's name: features made before had none there.
SHORT_SEGMENTS = "repeat"


@dataclass(frozen=True)
class FeatureSettings:
    """What the features depend on besides the weights (they name the rows), and the batch size."""

    max_segment_sec: float = 6.0
    fps: float | None = None  # frames per second C3D sees; None: the video's own
    stride: int = SNIPPET_STRIDE  # frames between snippet starts
    mirror: bool = True  # each snippet also flipped left-right, as Video2GIF does
    batch_size: int = 16  # snippets per model call
    max_video_sec: float | None = 600.0  # longer videos are refused (the paper's collection stops at 10 min)

    @property
    def segmenter(self) -> str:
        return f"{SEGMENTER_VERSION}/max={self.max_segment_sec:g}s"

    def extractor_id(self, extractor_name: str) -> str:
        """The extractor's name (weights fingerprint) with how snippets were sampled."""
        fps = "native" if self.fps is None else f"{self.fps:g}"
        return (f"{extractor_name}/fps={fps}/stride={self.stride}/{'mirror' if self.mirror else 'nomirror'}"
                f"/short={SHORT_SEGMENTS}")


class NoSegments(ValueError):
    kind = "no_segments"


@dataclass(frozen=True)
class VideoFailure:
    """Expected bad input (unreadable media, no shot long enough): the video's dead letter."""

    kind: str
    message: str


@dataclass
class VideoFeatures:
    fps: float
    num_frames: int
    segments: list[Segment]
    seconds: list[tuple[float, float]]  # each segment's start and end on the decoder's clock
    snippets: np.ndarray  # int32 (n,): snippets averaged per segment; 0: no frame kept at the chosen fps
    features: np.ndarray  # float32 (n, 4096): mean fc6 per segment; zeros where snippets is 0

    def feature_rows(self, video_sha256: str, segmenter: str, feature_extractor: str) -> list[dict]:
        """The video's rows of the features table."""
        return [{
            "video_sha256": video_sha256, "segmenter": segmenter, "feature_extractor": feature_extractor,
            "segment_index": s.index, "start_frame": s.start_frame, "end_frame": s.end_frame,
            "start_sec": start, "end_sec": end, "fps": self.fps,
            "video_num_frames": self.num_frames, "snippets": int(n), "features": f,
        } for s, (start, end), n, f in zip(self.segments, self.seconds, self.snippets, self.features)]


@dataclass(frozen=True)
class LocalVideo:
    path: str

    @contextlib.contextmanager
    def local_path(self) -> Iterator[str]:
        yield self.path


@dataclass(frozen=True)
class BlobVideo:
    """A video in a dataset's blob store (local or gs://); copied to local disk when remote.

    One over MAX_VIDEO_BYTES is refused (BlobTooLarge, kind too_large) before anything is copied.
    """

    dataset: str
    sha256: str

    @contextlib.contextmanager
    def local_path(self) -> Iterator[str]:
        from featurizer.dataset.blobs import BlobStore
        from featurizer.media.video import MAX_VIDEO_BYTES

        with BlobStore(self.dataset).local_path(self.sha256, MAX_VIDEO_BYTES, "video") as path:
            yield path


def decode_video(source, settings: FeatureSettings):
    """Shots, segments and C3D's frames of one video (a DecodedVideo), or its VideoFailure.

    Errors that are the video's fault carry a `kind` (unreadable or too large media, no shot
    long enough) and become its VideoFailure; any other (storage, memory) raises.
    """
    from featurizer.c3d.video_decode import decode_segments
    from featurizer.media.errors import TOO_LONG, MediaError
    from featurizer.media.video import probe_video

    try:
        with source.local_path() as path:
            duration = probe_video(path).duration_sec
            if settings.max_video_sec is not None and duration is not None and duration > settings.max_video_sec:
                # Its frames would fill the worker's disk before anything came of them.
                raise MediaError(TOO_LONG, path, f"{duration:.0f} s long, over --max-video-sec "
                                                 f"{settings.max_video_sec:g}")
            video = decode_segments(path, max_segment_sec=settings.max_segment_sec, c3d_fps=settings.fps)
        if not video.segments:
            video.frames.close()
            raise NoSegments(f"no shot of at least {SNIPPET_FRAMES} frames ({video.shots.num_frames} frames in all)")
    except Exception as exc:
        if not is_bad_input(exc):
            raise
        return VideoFailure(error_kind(exc), str(exc))
    return video


class VideoFeaturizer:
    """C3D features of whole videos; see the module's docstring. Share one across threads."""

    def __init__(self, extractor, settings: FeatureSettings = FeatureSettings(), decode_processes: int = 0):
        self.extractor = extractor
        self.settings = settings
        self._processes = decode_processes
        self._pool: ProcessPoolExecutor | None = None

    def featurize(self, sources: Sequence) -> list[VideoFeatures | VideoFailure]:
        """Each video's features (or its failure), in order; other errors (storage, memory) raise.

        Model batches run across the videos of one call: a window is copied into the batch, so
        a video's frames file can go before its last batch has run. A snippet's fc6 does not
        depend on its batch's other snippets (tested), so neither do the features.
        """
        decoded = [self._decode_later(s) for s in sources]
        results: list = [None] * len(sources)
        pending_sums = []
        batch = _WindowBatches(self.extractor, self.settings)
        for position, pending in enumerate(decoded):
            video = pending.result() if isinstance(pending, Future) else decode_video(pending, self.settings)
            if isinstance(video, VideoFailure):
                results[position] = video
                continue
            with video.frames:
                sums = np.zeros((len(video.segments), C3D_FEATURES), np.float64)
                counts = np.zeros(len(video.segments), np.int32)
                for row, segment in enumerate(video.segments):
                    for window in video.frames.snippets(segment, self.settings.stride):
                        batch.add(window, sums, counts, row)
            pending_sums.append((position, video, sums, counts))
        batch.flush()
        for position, video, sums, counts in pending_sums:
            means = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], 0.0)
            results[position] = VideoFeatures(video.shots.fps, video.shots.num_frames, list(video.segments),
                                              [video.seconds(s) for s in video.segments], counts,
                                              means.astype(np.float32))
        return results

    def _decode_later(self, source):
        if not self._processes:
            return source
        if self._pool is None:
            # spawn: the model's process holds TensorFlow's threads, which fork would copy half-made.
            self._pool = ProcessPoolExecutor(self._processes, mp_context=multiprocessing.get_context("spawn"))
        return self._pool.submit(decode_video, source, self.settings)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class _WindowBatches:
    """Windows gathered into full model batches; each one's fc6 summed into its segment."""

    def __init__(self, extractor, settings: FeatureSettings):
        self._extractor = extractor
        self._settings = settings
        self._windows = np.empty((settings.batch_size, SNIPPET_FRAMES, *_FRAME_SHAPE), np.uint8)
        self._targets: list[tuple[np.ndarray, np.ndarray, int]] = []

    def add(self, window: np.ndarray, sums: np.ndarray, counts: np.ndarray, row: int) -> None:
        self._windows[len(self._targets)] = window
        self._targets.append((sums, counts, row))
        if len(self._targets) == self._settings.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self._targets:
            return
        n = len(self._targets)
        fc6 = self._extractor.window_features(self._windows[:n], self._settings.mirror, self._settings.batch_size)
        for (sums, counts, row), feature in zip(self._targets, fc6):
            sums[row] += feature
            counts[row] += 1
        self._targets = []

