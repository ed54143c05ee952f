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
popularity. Test videos are labelled clean: their positives are the truly best segments. Written as Parquet in the segments
schema, the same as `gifrank tables --export segments`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from featurizer.dataset import tables

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
    context_dim: int = 8
    quality_dims: int = 3  # k: the latent directions the quality bump lies in
    quality_shape: str = "bump"  # bump | saddle
    seed: int = 0

    def rows(self) -> list[dict]:
        if self.quality_shape not in QUALITY_SHAPES:
            raise ValueError(f"quality_shape must be one of {', '.join(QUALITY_SHAPES)}, not {self.quality_shape!r}")
        rng = np.random.default_rng(self.seed)
        projection = np.abs(rng.standard_normal((self.latent_dim, self.feature_dim))).astype(np.float32)
        projection *= rng.random((1, self.feature_dim)) < 0.3  # sparse, as fc6 after ReLU
        prototype = rng.normal(0.0, 0.5, self.quality_dims)
        bounds = np.cumsum(self.split_shares) * self.videos
        rows = []
        for v in range(self.videos):
            split = "train" if v < bounds[0] else "val" if v < bounds[1] else "test"
            n = int(rng.integers(self.segments_per_video[0], self.segments_per_video[1] + 1))
            latent = rng.standard_normal((n, self.latent_dim))
            quality = (latent[:, 0] * latent[:, 1] if self.quality_shape == "saddle"
                       else -np.square(latent[:, :self.quality_dims] - prototype).sum(axis=1))
            signal = latent @ projection
            features = np.maximum(0.0, signal + self.noise * rng.standard_normal(signal.shape) * projection.std())
            features = (features / max(1e-6, features.std())).astype(np.float32)
            order = np.argsort(-quality)
            positives, popularity = [], {}
            for rank in range(self.positives_per_video):
                outlier = split != "test" and rng.random() < self.outlier_share
                worst = order[min(int(n * (1 - self.outlier_pool)), n - 1):]
                segment = int(rng.choice(worst)) if outlier else int(order[rank])
                low, high = self.outlier_popularity if outlier else self.popularity
                positives.append(segment)
                popularity[segment] = float(rng.uniform(low, high))
            context = rng.standard_normal((n, self.context_dim)).astype(np.float32)
            for i in range(n):
                label = 1 if i in popularity else 0
                rows.append({
                    "video_id": f"synthetic-{v:05d}", "segment_index": i, "start_frame": i * 100,
                    "end_frame": (i + 1) * 100, "start_sec": i * 4.0, "end_sec": (i + 1) * 4.0, "fps": 25.0,
                    "video_num_frames": n * 100, "label": label,
                    "gif_ids": [f"gif-{v}-{i}"] if label else [],
                    "popularity": popularity.get(i), "popularity_raw": None,
                    "popularity_source": "synthetic" if label else None,
                    "features": features[i], "context": context[i].tolist(), "context_tags_from": None,
                    "split": split, "feature_extractor": "synthetic",
                })
        return rows

    def write(self, path: str) -> int:
        """Writes the segments as one Parquet file (local or gs://); returns the row count."""
        table = tables.rows_to_arrow(tables.SEGMENTS, self.rows())
        from featurizer.dataset import table_store

        return table_store.write_single_file(table.to_batches(), tables.SEGMENTS.schema, path)
