"""Synthetic labelled segments, for the trainer's tests and its quality benchmark.

A hidden quality per segment drives fc6-like features (non-negative, 4096-d, sparse)
through a low-dimensional latent plus noise:

    z ~ N(0, I_latent);  features = relu(scale * (z W + noise * e))
    quality = -|z[:k] - c|^2   (shape "bump": good segments lie near a prototype c)
    quality = z[0] z[1]        (shape "saddle": good where two latent factors agree in sign)

A bump is nearly linear in the ReLU features (a linear ranker does well on it); a saddle is
not, and a small network ranks it better than any linear function of the features.

Users make GIFs of each training (and val) video's best segments, but a share of their
GIFs are outliers: random segments among the worst `outlier_pool` of the video, with low
popularity. Test videos are labelled clean: their positives are the truly best segments;
or, with `test_creators`, each of that many users makes a GIF of the segment best by the
quality plus their own noise (users agree on clear highlights, not on everything: the
approximate upper bound measures that agreement).

What makes a GIF is relative to its video: with `video_spread` (and `category_spread`) every
segment of a video (of a category) shares a latent offset, so one video's best segment may
be worse than another's worst, and pairs across videos mislead. Videos take `categories` in
turn (YouTube's, in order); the context is the labels stage's (featurizer.labels.context): the
category, a tag of the category, the segment's position.
Written as Parquet in the segments schema, the same as `gifrank tables --export segments`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from featurizer.dataset import tables
from featurizer.labels.context import YOUTUBE_CATEGORIES, context_vector

QUALITY_SHAPES = ("bump", "saddle")


@dataclass(frozen=True)
class SyntheticSegments:
    videos: int = 60
    segments_per_video: tuple[int, int] = (16, 32)  # inclusive range
    positives_per_video: int = 2
    latent_dim: int = 16
    feature_dim: int = tables.C3D_FEATURES
    noise: float = 1.0  # feature noise relative to the latent signal
    outlier_share: float = 0.3  # GIFs of train/val videos made of random segments
    outlier_pool: float = 0.5  # ... drawn from this share of each video's worst segments
    outlier_popularity: tuple[float, float] = (0.0, 0.3)
    popularity: tuple[float, float] = (0.3, 1.0)  # of the GIFs that are not outliers
    split_shares: tuple[float, float, float] = (0.6, 0.2, 0.2)  # train, val, test, by video
    quality_dims: int = 3  # k: the latent directions the quality bump lies in
    quality_shape: str = "bump"  # bump | saddle
    video_spread: float = 0.0  # of each video's latent offset, shared by its segments
    categories: int = 1
    category_spread: float = 0.0  # of each category's latent offset, shared by its videos
    test_creators: int = 0  # 0: test positives are the best segments; else GIFs of this many users
    creator_noise: float = 0.5  # a user's noise on the quality, in the video's quality spread
    seed: int = 0

    def category(self, video_id: str) -> int:
        """The category of a video of these rows (videos take the categories in turn)."""
        return int(video_id.rsplit("-", 1)[1]) % self.categories

    def rows(self) -> list[dict]:
        if self.quality_shape not in QUALITY_SHAPES:
            raise ValueError(f"quality_shape must be one of {', '.join(QUALITY_SHAPES)}, not {self.quality_shape!r}")
        if not 1 <= self.categories <= len(YOUTUBE_CATEGORIES):
            raise ValueError(f"categories must be 1 to {len(YOUTUBE_CATEGORIES)}, not {self.categories}")
        rng = np.random.default_rng(self.seed)
        projection = np.abs(rng.standard_normal((self.latent_dim, self.feature_dim))).astype(np.float32)
        projection *= rng.random((1, self.feature_dim)) < 0.3  # sparse, as fc6 after ReLU
        prototype = rng.normal(0.0, 0.5, self.quality_dims)
        # Drawn only when asked for, so that rows without offsets stay what they were.
        centres = (rng.normal(0.0, self.category_spread, (self.categories, self.latent_dim)) if self.category_spread
                   else np.zeros((self.categories, self.latent_dim)))
        bounds = np.cumsum(self.split_shares) * self.videos
        rows = []
        for v in range(self.videos):
            split = "train" if v < bounds[0] else "val" if v < bounds[1] else "test"
            category = v % self.categories
            n = int(rng.integers(self.segments_per_video[0], self.segments_per_video[1] + 1))
            latent = rng.standard_normal((n, self.latent_dim)) + centres[category]
            if self.video_spread:
                latent += rng.normal(0.0, self.video_spread, self.latent_dim)
            quality = (latent[:, 0] * latent[:, 1] if self.quality_shape == "saddle"
                       else -np.square(latent[:, :self.quality_dims] - prototype).sum(axis=1))
            signal = latent @ projection
            features = np.maximum(0.0, signal + self.noise * rng.standard_normal(signal.shape) * projection.std())
            features = (features / max(1e-6, features.std())).astype(np.float32)
            gifs, popularity = self._gifs(rng, v, split, quality)
            context = [context_vector(YOUTUBE_CATEGORIES[category], [f"synthetic-topic-{category}"], i * 4.0,
                                      n * 4.0, i).tolist() for i in range(n)]
            for i in range(n):
                label = 1 if i in popularity else 0
                rows.append({
                    "video_id": f"synthetic-{v:05d}", "segment_index": i, "start_frame": i * 100,
                    "end_frame": (i + 1) * 100, "start_sec": i * 4.0, "end_sec": (i + 1) * 4.0, "fps": 25.0,
                    "video_num_frames": n * 100, "label": label,
                    "gif_ids": gifs.get(i, []),
                    "popularity": popularity.get(i), "popularity_raw": None,
                    "popularity_source": "synthetic" if label else None,
                    "features": features[i], "context": context[i], "context_tags_from": None,
                    "split": split, "feature_extractor": "synthetic",
                })
        return rows

    def _gifs(self, rng: np.random.Generator, v: int, split: str,
              quality: np.ndarray) -> tuple[dict[int, list[str]], dict[int, float]]:
        """({segment: its GIFs' ids}, {segment: popularity}) of one video."""
        n, order = len(quality), np.argsort(-quality)
        gifs: dict[int, list[str]] = {}
        popularity: dict[int, float] = {}
        if split == "test" and self.test_creators:
            noisy = quality + self.creator_noise * quality.std() * rng.standard_normal((self.test_creators, n))
            for creator, segment in enumerate(noisy.argmax(axis=1).tolist()):
                gifs.setdefault(segment, []).append(f"gif-{v}-{segment}-{creator}")
                popularity.setdefault(segment, float(rng.uniform(*self.popularity)))
            return gifs, popularity
        for rank in range(self.positives_per_video):
            outlier = split != "test" and rng.random() < self.outlier_share
            worst = order[min(int(n * (1 - self.outlier_pool)), n - 1):]
            segment = int(rng.choice(worst)) if outlier else int(order[rank])
            low, high = self.outlier_popularity if outlier else self.popularity
            gifs[segment] = [f"gif-{v}-{segment}"]
            popularity[segment] = float(rng.uniform(low, high))
        return gifs, popularity

    def write(self, path: str) -> int:
        """Writes the segments as one Parquet file (local or gs://); returns the row count."""
        table = tables.rows_to_arrow(tables.SEGMENTS, self.rows())
        from featurizer.dataset import table_store

        return table_store.write_single_file(table.to_batches(), tables.SEGMENTS.schema, path)
