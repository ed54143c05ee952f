"""The trainer's input: labelled segments streamed by video, and the pairs of each epoch as tf.data.

    source = SegmentSource.open(dataset="gs://bucket/v2g")        # the training view of a dataset
    source = SegmentSource.open(segments="exports/segments/")       # or Parquet shards, segments schema
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

import math
import posixpath
import zlib
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from featurizer.dataset import table_store, tables
from featurizer.dataset.storage import DatasetRoot, open_file_system
from featurizer.dataset.tables import C3D_FEATURES as FEATURE_DIM
from featurizer.dataset.training_view import training_batches

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

    def as_dict(self) -> dict:
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
             versions: dict | None = None) -> "SegmentSource":
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
            source.versions = {"segments_files": source._shard_paths()[1]}
        return source

    @property
    def columns(self) -> list[str]:
        return BASE_COLUMNS + (["context"] if self.context else [])

    def _shard_paths(self) -> tuple[pafs.FileSystem, list[str]]:
        fs, path = open_file_system(self.segments)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(f"{self.segments}: no such file or folder")
        if info.type == pafs.FileType.File:
            return fs, [path]
        found = fs.get_file_info(pafs.FileSelector(path, recursive=True))
        paths = sorted(i.path for i in found if i.type == pafs.FileType.File and i.path.endswith(".parquet"))
        if not paths:
            raise DataError(f"{self.segments}: no .parquet files")
        return fs, paths

    def record_batches(self) -> Iterator[tuple[str, int, pa.RecordBatch]]:
        """(where the batch comes from, its first row's number there, the batch) in a fixed order."""
        if self.dataset is not None:
            batches = training_batches(self.dataset, self.feature_extractor, self.segmenter,
                                       labels_version=self.versions["labels"], features_version=self.versions["features"])
            row = 0
            for batch in batches:
                yield f"{self.dataset} (training view)", row, batch
                row += batch.num_rows
            return
        fs, paths = self._shard_paths()
        for path in paths:
            with fs.open_input_file(path) as f:
                shard = pq.ParquetFile(f)
                missing = [c for c in self.columns if c not in shard.schema_arrow.names]
                if missing:
                    raise DataError(f"{posixpath.basename(path)}: missing columns {', '.join(missing)} "
                                    f"(the segments schema: gifrank tables --export segments)")
                row = 0
                for batch in shard.iter_batches(READ_BATCH_ROWS, columns=self.columns):
                    yield path, row, batch
                    row += batch.num_rows

    def videos(self, split: str | None = None) -> Iterator[Video]:
        """One video at a time, in the source's order; only `split`'s when given."""
        seen: set[str] = set()
        pending: list[tuple[str, int, pa.RecordBatch]] = []

        def flush():
            if pending:
                video = _video_of(pending, self.context)
                if video.video_id in seen:
                    origin = pending[0][0]
                    raise DataError(f"{origin}: the segments of video {video.video_id} are not contiguous; pairs "
                                    "are formed within a video, so its rows must come together")
                seen.add(video.video_id)
                pending.clear()
                if split is None or video.split == split:
                    return video
            return None

        for origin, first_row, batch in self.record_batches():
            ids = batch.column("video_id").to_pylist()
            for run_start, run_end in _runs(ids):
                if pending and pending[-1][2].column("video_id")[0].as_py() != ids[run_start]:
                    video = flush()
                    if video is not None:
                        yield video
                pending.append((origin, first_row + run_start, batch.slice(run_start, run_end - run_start)))
        video = flush()
        if video is not None:
            yield video

    def statistics(self, split: str = "train") -> "SplitStatistics":
        """What the trainer needs to know of a split before it trains, in one pass over it."""
        total = squares = None
        absolute, segments, videos, context_dim, known = 0.0, 0, 0, 0, []
        for video in self.videos(split):
            features = video.features.astype(np.float64)
            total = features.sum(0) if total is None else total + features.sum(0)
            squares = (features ** 2).sum(0) if squares is None else squares + (features ** 2).sum(0)
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


def _matrix(column: pa.ChunkedArray | pa.Array, width: int | None, origin: str, first_row: int, name: str):
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
        bad = int(np.flatnonzero(~finite)[0])
        raise DataError(f"{origin}: row {first_row + bad}: {name} hold NaN or inf")
    return matrix


def _video_of(parts: list[tuple[str, int, pa.RecordBatch]], with_context: bool) -> Video:
    table = pa.Table.from_batches([p[2] for p in parts])
    origin, first_row = parts[0][0], parts[0][1]
    popularity = table.column("popularity").to_numpy(zero_copy_only=False)
    return Video(
        video_id=table.column("video_id")[0].as_py(),
        split=table.column("split")[0].as_py(),
        labels=table.column("label").to_numpy().astype(np.int8),
        popularity=np.asarray([math.nan if v is None else v for v in popularity], np.float32),
        features=_matrix(table.column("features"), FEATURE_DIM, origin, first_row, "features"),
        context=_matrix(table.column("context"), None, origin, first_row, "context") if with_context else None,
    )


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
    shuffle_buffer: int = 2048  # pairs mixed across videos; bounded memory (2048 pairs: 64 MiB of fc6)
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
        drawn = sample_pairs(video, settings.negatives_per_video, video_rng(settings.seed, model, epoch, video.video_id))
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


def pairs_of(example: dict, gather=None) -> dict:
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


def video_signature(settings: PairSettings, context_dim: int) -> dict:
    import tensorflow as tf

    def matrix(width):
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


def shuffled_pair_batches(videos: Iterator[dict], batch_pairs: int, buffer_pairs: int,
                          rng: np.random.Generator) -> Iterator[dict]:
    """Batches of pairs from compact videos (epoch_videos), shuffled across videos a block at a time:
    videos are gathered until the block holds `buffer_pairs` pairs, whose order is then permuted, so
    memory stays at one block of segments. Rows are gathered with numpy, a batch at a time."""
    block: list[dict] = []
    held = 0
    carry: dict | None = None  # pairs left over from the last block, already gathered

    def emit(examples: list[dict], final: bool):
        nonlocal carry
        offsets = np.cumsum([0] + [len(e["segments"]) for e in examples])
        segments = np.concatenate([e["segments"] for e in examples])
        context = np.concatenate([e["context"] for e in examples]) if "context" in examples[0] else None
        positive = np.concatenate([e["positive_index"] + o for e, o in zip(examples, offsets)])
        negative = np.concatenate([e["negative_index"] + o for e, o in zip(examples, offsets)])
        popularity = np.concatenate([e["popularity"] for e in examples])
        order = rng.permutation(len(positive))
        for begin in range(0, len(order), batch_pairs):
            chosen = order[begin:begin + batch_pairs]
            batch = pairs_of({"segments": segments, "positive_index": positive[chosen],
                              "negative_index": negative[chosen], "popularity": popularity[chosen],
                              **({"context": context} if context is not None else {})})
            if carry is not None:
                batch = {k: np.concatenate([carry[k], v]) for k, v in batch.items()}
                carry = None
            if len(batch["positive"]) > batch_pairs:  # the carried pairs made it too long: keep the excess
                carry = {k: v[batch_pairs:] for k, v in batch.items()}
                batch = {k: v[:batch_pairs] for k, v in batch.items()}
            if len(batch["positive"]) < batch_pairs and not final:
                carry = batch
                continue
            yield batch

    for example in videos:
        block.append(example)
        held += len(example["positive_index"])
        if held >= buffer_pairs:
            yield from emit(block, final=False)
            block, held = [], 0
    if block:
        yield from emit(block, final=True)
    if carry is not None and len(carry["positive"]):
        yield carry


def batch_signature(settings: PairSettings, context_dim: int) -> dict:
    import tensorflow as tf

    def matrix(width):
        return tf.TensorSpec((None, width), tf.float32)

    signature = {"positive": matrix(FEATURE_DIM), "negative": matrix(FEATURE_DIM),
                 "popularity": tf.TensorSpec((None,), tf.float32)}
    if context_dim:
        signature.update(positive_context=matrix(context_dim), negative_context=matrix(context_dim))
    return signature


def epoch_dataset(source: SegmentSource, settings: PairSettings, model: int, epoch: int, median_popularity: float,
                  context_dim: int, counts: VideoCounts):
    """The epoch's batches, made in tf.data's generator thread while the model trains: videos read,
    paired, mixed across videos in bounded blocks (seeded), batched; prefetched."""
    import tensorflow as tf

    videos = lambda: epoch_videos(source, settings, model, epoch, median_popularity, counts)  # noqa: E731
    if settings.single_segments:  # the classification baseline: segments, not pairs
        dataset = tf.data.Dataset.from_generator(videos, output_signature=video_signature(settings, context_dim))
        dataset = dataset.unbatch().shuffle(settings.shuffle_buffer, seed=settings.seed * 7919 + model * 104729 + epoch,
                                            reshuffle_each_iteration=False)
        return dataset.batch(2 * settings.batch_pairs).prefetch(tf.data.AUTOTUNE)
    rng = np.random.default_rng([settings.seed, model, epoch, 2])
    dataset = tf.data.Dataset.from_generator(
        lambda: shuffled_pair_batches(videos(), settings.batch_pairs, settings.shuffle_buffer, rng),
        output_signature=batch_signature(settings, context_dim))
    return dataset.prefetch(4)
