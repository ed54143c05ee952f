"""The domain-specific rankSVM, the paper's strongest baseline (Sun et al. [35]; section 5.1):
a linear pairwise SVM per video category on the C3D features, C = 1.

    gifrank train --loss ranksvm --dataset ./data --job-dir ./jobs/ranksvm
    gifrank evaluate --model ./jobs/ranksvm/model --dataset ./data --out ./eval/ranksvm

Each training video gives every (GIF segment, other segment) pair; the pair's feature
difference x+ - x- is one example of class +1 (every other one negated, of class -1), for
scikit-learn's LinearSVC (liblinear; squared hinge, the l2 loss the paper blames for the
rankSVM's weakness to outliers) without an intercept. A video's category is its context's
category one-hot (featurizer.labels.context); videos without a category have a model of
their own, and a category without training pairs scores with it, or, when there is none,
with the mean of the categories' models weighted by their pairs (one SVM on every
category's pairs together converged badly: 50 iterations, 90 s on 20,000 pairs, unfinished).
The export is a model like the network's: a SavedModel taking features and context, scoring
w[category] . x.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from featurizer.labels.context import CATEGORY_SLOTS
from trainer.data import NEGATIVE, POSITIVE, DataError, Video
from trainer.model import Architecture, model_inputs, scaled_features

if TYPE_CHECKING:
    import keras

LOG = logging.getLogger("gifrank")
C = 1.0  # as the paper, for every category
EVERY_CATEGORY = CATEGORY_SLOTS  # the row of videos without a category, and of unseen categories
# A category's pairs beyond this are a seeded sample (liblinear holds them all, as float64).
MAX_PAIRS_PER_CATEGORY = 20_000
# liblinear's primal solver (more pairs than features); scikit-learn's default tolerance, 1e-4,
# took 1,000 iterations and 200 s on 8,000 synthetic pairs without converging, 1e-3 nine
# iterations and 15 s (liblinear's own default is 1e-2).
SOLVER = {"dual": False, "tol": 1e-3, "max_iter": 200}


def category_of(context: np.ndarray | None) -> int:
    """The category slot of a video (its segments' context rows), or EVERY_CATEGORY when it has none."""
    if context is None or context.shape[1] < CATEGORY_SLOTS:
        width = 0 if context is None else context.shape[1]
        raise DataError(f"the rankSVM takes each video's category from its context, whose first {CATEGORY_SLOTS} "
                        f"values are the category one-hot (featurizer.labels.context); this context has {width}")
    one_hot = context[0, :CATEGORY_SLOTS]
    return int(np.argmax(one_hot)) if one_hot.max() > 0 else EVERY_CATEGORY


def model_view(arch: Architecture, features: np.ndarray) -> np.ndarray:
    """The features as the exported model sees them (trainer.model.scaled_features), in NumPy."""
    x = features.astype(np.float64)
    if arch.input_mean is not None:
        x = (x - np.asarray(arch.input_mean)) / np.asarray(arch.input_std)
    return x * arch.input_scale


def pair_differences(video: Video, arch: Architecture) -> np.ndarray:
    """x+ - x- of every GIF segment with every other segment of one video: (pairs, features)."""
    x = model_view(arch, video.features)
    positive, negative = x[video.labels == POSITIVE], x[video.labels == NEGATIVE]
    return (positive[:, None, :] - negative[None, :, :]).reshape(-1, x.shape[1])


def _fit(differences: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    if len(differences) > MAX_PAIRS_PER_CATEGORY:
        keep = np.random.default_rng(seed).choice(len(differences), MAX_PAIRS_PER_CATEGORY, replace=False)
        differences = differences[np.sort(keep)]
    # Without an intercept, (d, +1) and (-d, -1) are the same constraint: every other pair is
    # flipped so that both classes are there, and each pair counts once (C as the paper's).
    if len(differences) == 1:  # one pair: both classes still needed
        differences = np.concatenate([differences, differences])
    classes = np.where(np.arange(len(differences)) % 2, -1.0, 1.0)
    svm = LinearSVC(C=C, fit_intercept=False, random_state=seed, **SOLVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # logged below, once
        svm.fit(differences * classes[:, None], classes)
    if svm.n_iter_ >= SOLVER["max_iter"]:
        LOG.warning("train: the rankSVM stopped at %d iterations before liblinear's tolerance", svm.n_iter_)
    return svm.coef_[0]


def fit_ranksvm(videos: Iterable[Video], arch: Architecture, seed: int = 0) -> tuple[np.ndarray, dict[int, int]]:
    """(weights: one row per category slot and a last for videos without one, {category: pairs})
    of the training videos."""
    by_category: dict[int, list[np.ndarray]] = {}
    for video in videos:
        differences = pair_differences(video, arch)
        if len(differences):
            by_category.setdefault(category_of(video.context), []).append(differences)
    if not by_category:
        raise DataError("no training pairs: no video of split 'train' has both a positive and a negative segment")
    pairs = {c: sum(len(d) for d in parts) for c, parts in sorted(by_category.items())}
    fitted = {c: _fit(np.concatenate(parts), seed + 1 + c) for c, parts in sorted(by_category.items())}
    if EVERY_CATEGORY not in fitted:
        fitted[EVERY_CATEGORY] = np.average([fitted[c] for c in pairs], axis=0, weights=list(pairs.values()))
    weights = np.tile(fitted[EVERY_CATEGORY], (CATEGORY_SLOTS + 1, 1))
    for category, w in fitted.items():
        weights[category] = w
    LOG.info("train: rankSVM fitted on %d categories (%s pairs)", len(pairs),
             ", ".join(f"{c}: {n}" for c, n in pairs.items()))
    return weights.astype(np.float32), pairs


def ranksvm_scorer(weights: np.ndarray, arch: Architecture) -> keras.Model:
    """A Keras model scoring features with the weights of the context's category (standard layers
    only, so it saves and exports as the network does)."""
    import keras

    inputs = model_inputs(arch)
    # [one-hot, 1 - its sum]: picks a category's row, or the every-category row when there is none.
    pick = np.zeros((arch.context_dim, CATEGORY_SLOTS + 1), np.float32)
    pick[np.arange(CATEGORY_SLOTS), np.arange(CATEGORY_SLOTS)] = 1.0
    pick[:CATEGORY_SLOTS, EVERY_CATEGORY] = -1.0
    bias = np.zeros(CATEGORY_SLOTS + 1, np.float32)
    bias[EVERY_CATEGORY] = 1.0
    selector = keras.layers.Dense(CATEGORY_SLOTS + 1, name="category", trainable=False)
    rows = keras.layers.Dense(arch.feature_dim, use_bias=False, name="category_weights", trainable=False)
    chosen = rows(selector(inputs["context"]))
    score = keras.layers.Dot(axes=1, name="score")([scaled_features(arch, inputs["features"]), chosen])
    model = keras.Model(inputs, keras.layers.Flatten(name="flat_score")(score), name="ranksvm")
    selector.set_weights([pick, bias])
    rows.set_weights([weights])
    return model
