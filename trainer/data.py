"""The trainer's input: labelled segments streamed by video, and the pairs of each epoch as tf.data.

    source = SegmentSource.open(dataset="gs://bucket/v2g")        # the training view of a dataset
    source = SegmentSource.open(segments="exports/segments/")       # or Parquet shards, segments schema
    source = SegmentSource.open(segments="gs://b/segs/*.parquet")   # a file, a folder, or a glob pattern
    for video in source.videos("train"): video.features  # float32 (n, 4096), one video at a time

Rows are read in record batches, never a whole table; a video's segments must be
contiguous (the dataset layer and `gifrank tables --export segments` write them so), since
pairs are formed within a video. Bad input is a clear DataError naming the file and row:
missing columns, features of the wrong width, NaN or inf features.

Pairs (section 4.3): every positive of a video with k = 4 of its negatives, sampled afresh
each epoch from a seed of (job seed, model, epoch, video), so an epoch's pairs do not depend
on the order videos are read in, nor on whether the run was resumed. Pairs of many videos
are mixed in a bounded shuffle buffer and batched.
"""
from __future__ import annotations

import posixpath
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from featurizer.dataset import table_store, tables
from featurizer.dataset.storage import DatasetRoot, matching_files, open_file_system
from featurizer.dataset.tables import C3D_FEATURES as FEATURE_DIM
from featurizer.dataset.training_view import training_batches

if TYPE_CHECKING:  # TensorFlow is imported where a tf.data pipeline is built: reading segments needs none
    import tensorflow as tf

POSITIVE, NEGATIVE = 1, 0
BASE_COLUMNS = ["video_id", "segment_index", "label", "popularity", "features", "split"]
READ_BATCH_ROWS = 1024
# When no positive of the training split has a known popularity: p is a mid-rank CDF, so its median is 0.5.
DEFAULT_MEDIAN_POPULARITY = 0.5


class DataError(ValueError):
    """Input the trainer cannot use; the message names the file (and row) at fault."""


@dataclass
class Video:
    video_id: str
    split: str
    labels: np.ndarray  # int8 (n,): 1 positive, 0 negative, -1 ignored
    popularity: np.ndarray  # float32 (n,), NaN where unknown
    features: np.ndarray  # float32 (n, 4096)
    context: np.ndarray | None  # float32 (n, c), or None without --context


@dataclass
class VideoCounts:
    """What an epoch's pairing did with the videos of a split."""

    videos: int = 0
    skipped_no_positive: int = 0
    skipped_no_negative: int = 0
    pairs: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class SegmentSource:
    """Labelled segments from a dataset's training view (pinned to the table versions first read) or
    from Parquet shards in the segments schema."""

    dataset: str | None = None
    segments: str | None = None
    context: bool = False
    feature_extractor: str | None = None
    segmenter: str | None = None
    versions: dict = field(default_factory=dict)

    @classmethod
    def open(cls, dataset: str | None = None, segments: str | None = None, context: bool = False,
             feature_extractor: str | None = None, segmenter: str | None = None,
             versions: dict | None = None) -> SegmentSource:
        """`versions`: the table versions to read (a resumed job's); default: the latest."""
        if (dataset is None) == (segments is None):
            raise ValueError("give one of --dataset ROOT (its labelled segments) or --segments PATH (Parquet shards)")
        source = cls(dataset, segments, context, feature_extractor, segmenter)
        if dataset is not None:
            root = DatasetRoot.open(dataset)
            source.versions = {spec.name: table_store.snapshot(root, spec, (versions or {}).get(spec.name)).version
                               for spec in (tables.LABELS, tables.FEATURES)}
            if source.versions[tables.LABELS.name] is None:
                raise DataError(f"{dataset}: no labels table yet; run gifrank featurize first")
        else:
            source.versions = {"segments_files": source._shard_files()}
        return source

    @property
    def columns(self) -> list[str]:
        return BASE_COLUMNS + (["context"] if self.context else [])

    def _shard_files(self) -> list[str]:
        """The Parquet shards --segments names: a file, a folder's .parquet files, or a glob pattern."""
        if self.segments is None:
            raise ValueError("no --segments to read")
        return matching_files(self.segments, ".parquet")

    def record_batches(self) -> Iterator[tuple[str, int, pa.RecordBatch]]:
        """(where the batch comes from, its first row's number there, the batch) in a fixed order."""
        if self.dataset is not None:
            batches = training_batches(self.dataset, self.feature_extractor, self.segmenter,
                                       labels_version=self.versions["labels"],
                                       features_version=self.versions["features"])
            row = 0
            for batch in batches:
                yield f"{self.dataset} (training view)", row, batch
                row += batch.num_rows
            return
        for uri in self._shard_files():
            fs, path = open_file_system(uri)
            with fs.open_input_file(path) as f:
                shard = pq.ParquetFile(f)
                missing = [c for c in self.columns if c not in shard.schema_arrow.names]
                if missing:
                    raise DataError(f"{posixpath.basename(path)}: missing columns {', '.join(missing)} "
                                    f"(the segments schema: gifrank tables --export segments)")
                row = 0
                for batch in shard.iter_batches(READ_BATCH_ROWS, columns=self.columns):
                    yield uri, row, batch
                    row += batch.num_rows

    def videos(self, split: str | None = None) -> Iterator[Video]:
        """One video at a time, in the source's order; only `split`'s when given. A record batch is
        turned into arrays at once, and its videos are views of them (a video across batches is joined)."""
        seen: set[str] = set()
        pending: list[Video] = []  # the parts of the video being read
        pending_origin = ""

        def flush() -> Video | None:
            if not pending:
                return None
            video = pending[0] if len(pending) == 1 else _joined(pending)
            if video.video_id in seen:
                raise DataError(f"{pending_origin}: the segments of video {video.video_id} are not contiguous; pairs "
                                "are formed within a video, so its rows must come together")
            seen.add(video.video_id)
            pending.clear()
            return video if split is None or video.split == split else None

        for origin, first_row, batch in self.record_batches():
            rows = _rows_of(batch, origin, first_row, self.context)
            for start, stop in _runs(rows.video_id):
                if pending and pending[-1].video_id != rows.video_id[start]:
                    video = flush()
                    if video is not None:
                        yield video
                if not pending:
                    pending_origin = origin
                pending.append(rows.part(start, stop))
        video = flush()
        if video is not None:
            yield video

    def statistics(self, split: str = "train") -> SplitStatistics:
        """What the trainer needs to know of a split before it trains, in one pass over it."""
        total = squares = np.zeros(FEATURE_DIM, np.float64)
        absolute, segments, videos, context_dim = 0.0, 0, 0, 0
        known: list[np.ndarray] = []
        for video in self.videos(split):
            features = video.features.astype(np.float64)
            total = total + features.sum(0)
            squares = squares + (features ** 2).sum(0)
            absolute += float(np.abs(features).sum())
            segments += len(features)
            videos += 1
            context_dim = video.context.shape[1] if video.context is not None else 0
            known.append(video.popularity[(video.labels == POSITIVE) & ~np.isnan(video.popularity)])
        if not segments:
            raise DataError(f"the {'training' if split == 'train' else split} split is empty: no video has split "
                            f"{split!r}")
        mean = total / segments
        std = np.sqrt(np.maximum(squares / segments - mean ** 2, 0.0))
        popularity = np.concatenate(known)
        return SplitStatistics(
            videos=videos, segments=segments, context_dim=context_dim,
            median_popularity=float(np.median(popularity)) if len(popularity) else DEFAULT_MEDIAN_POPULARITY,
            mean_absolute=absolute / (segments * len(mean)), mean=mean.astype(np.float32),
            std=np.maximum(std, 1e-3).astype(np.float32))


@dataclass(frozen=True)
class SplitStatistics:
    videos: int
    segments: int
    context_dim: int  # the context vectors' width; 0 without --context
    median_popularity: float  # of the known positives: what an unknown one stands for
    mean_absolute: float  # of the features (--input-scale auto)
    mean: np.ndarray  # per feature (--standardize)
    std: np.ndarray  # per feature, at least 1e-3


def _runs(ids: list[str]) -> Iterator[tuple[int, int]]:
    start = 0
    for i in range(1, len(ids) + 1):
        if i == len(ids) or ids[i] != ids[start]:
            yield start, i
            start = i


def _matrix(column: pa.ChunkedArray | pa.Array, width: int | None, origin: str, first_row: int,
            name: str) -> np.ndarray:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_fixed_size_list(array.type):
        size = array.type.list_size
    elif pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
        size = int(lengths[0]) if len(lengths) else 0
        bad = np.flatnonzero(lengths != size)
        if len(bad):
            raise DataError(f"{origin}: row {first_row + int(bad[0])}: {name} has {int(lengths[bad[0]])} values, "
                            f"the rows before it {size}")
    else:
        raise DataError(f"{origin}: column {name} is {array.type}, not a list of floats")
    if width is not None and size != width:
        raise DataError(f"{origin}: row {first_row}: {name} has {size} values, expected {width} (C3D fc6)")
    flat = array.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    matrix = flat.reshape(len(array), size)
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        first_bad = int(np.flatnonzero(~finite)[0])
        raise DataError(f"{origin}: row {first_row + first_bad}: {name} hold NaN or inf")
    return matrix


@dataclass
class _Rows:
    """One record batch's columns as arrays."""

    video_id: list[str]
    split: list[str]
    labels: np.ndarray
    popularity: np.ndarray
    features: np.ndarray
    context: np.ndarray | None

    def part(self, start: int, stop: int) -> Video:
        return Video(self.video_id[start], self.split[start], self.labels[start:stop], self.popularity[start:stop],
                     self.features[start:stop], None if self.context is None else self.context[start:stop])


def _rows_of(batch: pa.RecordBatch, origin: str, first_row: int, with_context: bool) -> _Rows:
    column = batch.column
    return _Rows(
        video_id=column("video_id").to_pylist(), split=column("split").to_pylist(),
        labels=column("label").to_numpy(zero_copy_only=False).astype(np.int8),
        popularity=column("popularity").to_numpy(zero_copy_only=False).astype(np.float32),  # null -> NaN
        features=_matrix(column("features"), FEATURE_DIM, origin, first_row, "features"),
        context=_matrix(column("context"), None, origin, first_row, "context") if with_context else None)


def _joined(parts: list[Video]) -> Video:
    context = None if parts[0].context is None else np.concatenate([p.context for p in parts if p.context is not None])
    return Video(parts[0].video_id, parts[0].split, np.concatenate([p.labels for p in parts]),
                 np.concatenate([p.popularity for p in parts]), np.concatenate([p.features for p in parts]), context)


def video_rng(seed: int, model: int, epoch: int, video_id: str) -> np.random.Generator:
    return np.random.default_rng([seed, model, epoch, zlib.crc32(video_id.encode())])


def sample_pairs(video: Video, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | str:
    """(positive rows, negative rows) of every positive with k sampled negatives, or why there are none."""
    positives = np.flatnonzero(video.labels == POSITIVE)
    negatives = np.flatnonzero(video.labels == NEGATIVE)
    if not len(positives):
        return "skipped_no_positive"
    if not len(negatives):
        return "skipped_no_negative"
    chosen = np.sort(rng.choice(negatives, size=min(k, len(negatives)), replace=False))
    return np.repeat(positives, len(chosen)), np.tile(chosen, len(positives))


@dataclass(frozen=True)
class PairSettings:
    """How an epoch's training examples are drawn (flags of trainer.task)."""

    seed: int = 0
    negatives_per_video: int = 4  # k
    batch_pairs: int = 50
    shuffle_buffer: int = 2048  # pairs mixed across videos, a block at a time (2048 pairs: 64 MiB of fc6 pairs)
    video_agnostic: bool = False  # negatives from any video (a baseline of the paper)
    single_segments: bool = False  # segments with their labels, not pairs (the classification baseline)
    agnostic_pool: int = 1024  # negatives of recent videos the video-agnostic baseline draws from


def epoch_videos(source: SegmentSource, settings: PairSettings, model: int, epoch: int, median_popularity: float,
                 counts: VideoCounts) -> Iterator[dict]:
    """One training video's pairs at a time, compactly: its segments' features once, and per pair the rows
    of its positive and negative (and the positive's popularity, the median where unknown)."""
    pool: list[np.ndarray] = []
    pool_rng = np.random.default_rng([settings.seed, model, epoch, 1])
    for video in source.videos("train"):
        counts.videos += 1
        rng = video_rng(settings.seed, model, epoch, video.video_id)
        drawn = sample_pairs(video, settings.negatives_per_video, rng)
        if isinstance(drawn, str):
            setattr(counts, drawn, getattr(counts, drawn) + 1)
            continue
        positive, negative = drawn
        if settings.single_segments:
            rows = np.concatenate([np.unique(positive), np.unique(negative)])
            counts.pairs += len(rows)
            example = {"features": video.features[rows], "label": (video.labels[rows] == POSITIVE).astype(np.float32)}
            if video.context is not None:
                example["context"] = video.context[rows]
            yield example
            continue
        popularity = video.popularity[positive]
        popularity = np.where(np.isnan(popularity), median_popularity, popularity).astype(np.float32)
        segments, context = video.features, video.context
        if settings.video_agnostic:  # negatives drawn from recent videos' negatives, this one's included
            pool.extend(video.features[np.flatnonzero(video.labels == NEGATIVE)])
            del pool[:max(0, len(pool) - settings.agnostic_pool)]
            others = np.stack([pool[i] for i in pool_rng.integers(0, len(pool), len(positive))])
            negative = np.arange(len(segments), len(segments) + len(positive))
            segments = np.concatenate([segments, others])
            if context is not None:  # a negative of another video: no context of this one's
                context = np.concatenate([context, np.zeros((len(positive), context.shape[1]), np.float32)])
        counts.pairs += len(positive)
        example = {"segments": segments, "positive_index": positive.astype(np.int32),
                   "negative_index": negative.astype(np.int32), "popularity": popularity}
        if context is not None:
            example["context"] = context
        yield example


def pairs_of(example: dict[str, Any], gather: Callable[[Any, Any], Any] | None = None) -> dict[str, Any]:
    """A video's compact pairs (epoch_videos) as one row per pair; `gather` is np.take or tf.gather."""
    gather = gather or (lambda values, index: np.take(values, index, axis=0))
    pairs = {"positive": gather(example["segments"], example["positive_index"]),
             "negative": gather(example["segments"], example["negative_index"]), "popularity": example["popularity"]}
    if "context" in example:
        pairs["positive_context"] = gather(example["context"], example["positive_index"])
        pairs["negative_context"] = gather(example["context"], example["negative_index"])
    return pairs


def epoch_examples(source: SegmentSource, settings: PairSettings, model: int, epoch: int, median_popularity: float,
                   counts: VideoCounts) -> Iterator[dict]:
    """One training video's examples at a time, a row per pair (or segment, for classification)."""
    for example in epoch_videos(source, settings, model, epoch, median_popularity, counts):
        yield example if settings.single_segments else pairs_of(example)


def video_signature(settings: PairSettings, context_dim: int) -> dict[str, tf.TensorSpec]:
    import tensorflow as tf

    def matrix(width: int) -> tf.TensorSpec:
        return tf.TensorSpec((None, width), tf.float32)

    vector, index = tf.TensorSpec((None,), tf.float32), tf.TensorSpec((None,), tf.int32)
    if settings.single_segments:
        signature = {"features": matrix(FEATURE_DIM), "label": vector}
    else:
        signature = {"segments": matrix(FEATURE_DIM), "positive_index": index, "negative_index": index,
                     "popularity": vector}
    if context_dim:
        signature["context"] = matrix(context_dim)
    return signature


def shuffled_pair_blocks(videos: Iterator[dict], buffer_pairs: int, rng: np.random.Generator) -> Iterator[dict]:
    """Compact videos (epoch_videos) joined into blocks of about `buffer_pairs` pairs whose order is
    permuted: pairs mix across the videos of a block, and memory stays at a block of segments."""
    block: list[dict] = []
    held = 0

    def joined(examples: list[dict]) -> dict:
        offsets = np.cumsum([0] + [len(e["segments"]) for e in examples])
        order = rng.permutation(sum(len(e["positive_index"]) for e in examples))
        joined = {name: np.concatenate([e[name] + o for e, o in zip(examples, offsets)])[order]
                  for name in ("positive_index", "negative_index")}
        joined["popularity"] = np.concatenate([e["popularity"] for e in examples])[order]
        for name in ("segments", "context"):
            if name in examples[0]:
                joined[name] = np.concatenate([e[name] for e in examples])
        return joined

    for example in videos:
        block.append(example)
        held += len(example["positive_index"])
        if held >= buffer_pairs:
            yield joined(block)
            block, held = [], 0
    if block:
        yield joined(block)


def read_ahead(items: Iterator, depth: int = 1) -> Iterator:
    """`items` in order, each made in a background thread while the `depth` before it are used."""
    end = object()
    pool = ThreadPoolExecutor(1, thread_name_prefix="gifrank-read-ahead")  # one thread: items stay in order
    try:
        pending = deque(pool.submit(next, items, end) for _ in range(depth))
        while (item := pending.popleft().result()) is not end:
            pending.append(pool.submit(next, items, end))
            yield item
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def epoch_dataset(source: SegmentSource, settings: PairSettings, model: int, epoch: int, median_popularity: float,
                  context_dim: int, counts: VideoCounts) -> tf.data.Dataset:
    """The epoch's batches: videos read, paired and mixed across videos in blocks (seeded) by a thread
    reading ahead while the model trains; each block's pairs gathered and batched in tf.data. Memory:
    the block in training with its gathered pairs, and the next."""
    import tensorflow as tf

    # Videos are read in a thread of ours, ahead of training: tf.data's prefetch would not run a
    # Python generator ahead (with op determinism it calls one only on demand).
    videos = lambda: epoch_videos(source, settings, model, epoch, median_popularity, counts)  # noqa: E731
    if settings.single_segments:  # the classification baseline: segments, not pairs
        dataset = tf.data.Dataset.from_generator(lambda: read_ahead(videos()),
                                                 output_signature=video_signature(settings, context_dim))
        dataset = dataset.unbatch().shuffle(settings.shuffle_buffer, seed=settings.seed * 7919 + model * 104729 + epoch,
                                            reshuffle_each_iteration=False)
        return dataset.batch(2 * settings.batch_pairs).prefetch(tf.data.AUTOTUNE)

    def blocks_of_epoch() -> Iterator[dict[str, np.ndarray]]:
        # A fresh shuffle seed each time tf.data starts the generator: the same blocks.
        rng = np.random.default_rng([settings.seed, model, epoch, 2])
        return read_ahead(shuffled_pair_blocks(videos(), settings.shuffle_buffer, rng))

    blocks = tf.data.Dataset.from_generator(blocks_of_epoch,
        output_signature=video_signature(settings, context_dim))
    # A block's rows are gathered at once, then cut into batches that run on across blocks: no Python
    # per batch. (One map at a time: op determinism makes tf.data's maps sequential anyway.)
    pairs = blocks.map(lambda block: pairs_of(block, tf.gather))
    return pairs.rebatch(settings.batch_pairs).prefetch(2)
