"""The rank losses of Video2GIF (section 4.2) and its baselines, as functions of scores.

For a pair (s+, s-) of one video, u = 1 - h(s+) + h(s-) is how far the pair misses the
margin of 1; every rank loss is 0 when u <= 0:

    l1              u                                   (Eq. 1, p = 1)
    l2              u^2                                 (Eq. 1, p = 2)
    huber           u^2 / 2            for u <= delta   (Eq. 2, delta = 1.5)
                    delta u - delta^2 / 2   above
    adaptive_huber  huber with delta = 1.5 + p, p the positive's popularity in [0, 1]
    video_agnostic  huber, on pairs whose negative comes from any video (the data says which)
    classification  logistic loss of single segments: softplus(-h) for GIFs, softplus(h) for the rest

The losses are averaged over a batch's pairs (trainer.training adds the weight decay): with
the paper's sum, its learning rate of 0.001 diverges on 4096-d fc6 inputs.
"""
from __future__ import annotations

from featurizer.c3d.quiet_start import import_tensorflow_quietly

import_tensorflow_quietly()
import tensorflow as tf  # noqa: E402

from trainer.config import PAIR_LOSSES  # noqa: E402

HUBER_DELTA = 1.5


def margin_violation(positive_scores: tf.Tensor, negative_scores: tf.Tensor) -> tf.Tensor:
    return 1.0 - positive_scores + negative_scores


def l1_rank(u: tf.Tensor) -> tf.Tensor:
    return tf.nn.relu(u)


def l2_rank(u: tf.Tensor) -> tf.Tensor:
    return tf.square(tf.nn.relu(u))


def huber_rank(u: tf.Tensor, delta: tf.Tensor) -> tf.Tensor:
    """Eq. 2: squared for margin violations up to delta, linear beyond, with matching value and slope."""
    u = tf.nn.relu(u)
    return tf.where(u <= delta, 0.5 * tf.square(u), delta * u - 0.5 * tf.square(delta))


def adaptive_delta(popularity: tf.Tensor, base: float = HUBER_DELTA) -> tf.Tensor:
    """delta = 1.5 + p: popular GIFs are less likely outliers, so their loss turns linear later."""
    return base + popularity


def pair_loss(name: str, positive_scores: tf.Tensor, negative_scores: tf.Tensor, popularity: tf.Tensor | None = None,
              delta: float = HUBER_DELTA) -> tf.Tensor:
    """Per-pair losses (batch,) of a pair loss `name`; popularity (batch,) for adaptive_huber."""
    u = margin_violation(positive_scores, negative_scores)
    if name == "l1":
        return l1_rank(u)
    if name == "l2":
        return l2_rank(u)
    if name in ("huber", "video_agnostic"):
        return huber_rank(u, tf.constant(delta, u.dtype))
    if name == "adaptive_huber":
        if popularity is None:
            raise ValueError("adaptive_huber needs the positives' popularity")
        return huber_rank(u, adaptive_delta(tf.cast(popularity, u.dtype), delta))
    raise ValueError(f"unknown pair loss {name!r}; choose one of {', '.join(PAIR_LOSSES)}")


def classification_loss(scores: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Logistic loss per segment: labels 1 (a GIF's segment) or 0."""
    labels = tf.cast(labels, scores.dtype)
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=scores)
