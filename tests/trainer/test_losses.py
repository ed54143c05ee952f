"""The rank losses' values and gradients at chosen points, against numbers computed by hand."""
import numpy as np
import pytest
import tensorflow as tf

from trainer import losses

# (s+, s-) -> u = 1 - s+ + s-
POINTS = [(2.0, 0.0), (0.2, 0.5), (-1.0, 1.0)]  # u = -1 (margin holds), 1.3, 3.0


def values_and_gradients(name, popularity=None):
    positive = tf.Variable([p for p, _ in POINTS])
    negative = tf.constant([n for _, n in POINTS])
    with tf.GradientTape() as tape:
        per_pair = losses.pair_loss(name, positive, negative, popularity)
    return per_pair.numpy(), tape.gradient(per_pair, positive).numpy()


def test_l1_rank_loss():
    value, gradient = values_and_gradients("l1")
    np.testing.assert_allclose(value, [0.0, 1.3, 3.0], rtol=1e-6)
    np.testing.assert_allclose(gradient, [0.0, -1.0, -1.0])  # d/ds+ of max(0, 1 - s+ + s-)


def test_l2_rank_loss():
    value, gradient = values_and_gradients("l2")
    np.testing.assert_allclose(value, [0.0, 1.69, 9.0], rtol=1e-6)
    np.testing.assert_allclose(gradient, [0.0, -2.6, -6.0], rtol=1e-6)  # -2u


def test_huber_rank_loss_is_squared_then_linear_at_delta_1_5():
    value, gradient = values_and_gradients("huber")
    # u = 1.3 <= 1.5: 1.3^2 / 2 = 0.845; u = 3: 1.5 * 3 - 1.5^2 / 2 = 3.375
    np.testing.assert_allclose(value, [0.0, 0.845, 3.375], rtol=1e-6)
    np.testing.assert_allclose(gradient, [0.0, -1.3, -1.5], rtol=1e-6)


def test_adaptive_huber_turns_linear_at_1_5_plus_popularity():
    value, gradient = values_and_gradients("adaptive_huber", tf.constant([0.9, 0.1, 0.5]))
    # u = 1.3, delta 1.6: 0.845; u = 3, delta 2.0: 2 * 3 - 2^2 / 2 = 4
    np.testing.assert_allclose(value, [0.0, 0.845, 4.0], rtol=1e-6)
    np.testing.assert_allclose(gradient, [0.0, -1.3, -2.0], rtol=1e-6)
    # a popularity of 0 is the fixed-delta Huber loss
    np.testing.assert_allclose(values_and_gradients("adaptive_huber", tf.zeros(3))[0], [0.0, 0.845, 3.375], rtol=1e-6)


def test_huber_value_and_slope_are_continuous_at_delta():
    u = tf.Variable([1.5 - 1e-4, 1.5 + 1e-4])
    with tf.GradientTape() as tape:
        value = losses.huber_rank(u, tf.constant(1.5))
    np.testing.assert_allclose(value.numpy(), [1.125, 1.125], atol=2e-4)  # 1.5^2 / 2
    np.testing.assert_allclose(tape.gradient(value, u).numpy(), [1.5, 1.5], atol=2e-4)


def test_classification_is_the_logistic_loss():
    scores = tf.Variable([0.0, 2.0])
    with tf.GradientTape() as tape:
        value = losses.classification_loss(scores, tf.constant([1.0, 0.0]))
    # -log(sigmoid(0)) = log 2; -log(1 - sigmoid(2)) = log(1 + e^2)
    np.testing.assert_allclose(value.numpy(), [0.693147, 2.126928], rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(value, scores).numpy(), [-0.5, 0.880797], rtol=1e-5)  # sigmoid - y


def test_adaptive_huber_needs_popularity_and_unknown_losses_are_refused():
    with pytest.raises(ValueError, match="popularity"):
        losses.pair_loss("adaptive_huber", tf.zeros(1), tf.zeros(1))
    with pytest.raises(ValueError, match="unknown pair loss"):
        losses.pair_loss("l3", tf.zeros(1), tf.zeros(1))
