"""The Robust Deep RankNet's scoring function h: segment features (and context) -> a score.

    fc6 (4096) [+ context] -> dropout 0.8 -> Dense 512, ReLU -> dropout 0.25 -> Dense 128, ReLU -> Dense 1

as Video2GIF section 4.3: 2,163,457 parameters without context, as many as the released
ranker weights hold (the paper's text says 2,327,681). Dropout rates are the
probability of dropping a unit (Lasagne's convention, as TensorFlow's). The Keras model
holds no Dropout layers: training applies dropout itself, with stateless seeds derived
from the step (trainer.training), so a resumed run draws the same masks as an
uninterrupted one. `averaged_scorer` joins M trained scorers into one model whose score is
the mean of theirs (the paper's model averaging).
"""
from __future__ import annotations

from dataclasses import dataclass

from featurizer.c3d.quiet_start import import_tensorflow_quietly
from featurizer.dataset.tables import C3D_FEATURES

import_tensorflow_quietly()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

FEATURE_DIM = C3D_FEATURES  # fc6


@dataclass(frozen=True)
class Architecture:
    feature_dim: int = FEATURE_DIM
    context_dim: int = 0  # 0: no context input
    hidden_units: tuple[int, ...] = (512, 128)
    input_dropout: float = 0.8
    hidden_dropout: float = 0.25  # after the first hidden layer
    input_scale: float = 1.0  # features are multiplied by this first (part of the model: serving takes raw fc6)
    # Per-feature mean and standard deviation of the training features: standardised first, when given.
    input_mean: tuple[float, ...] | None = None
    input_std: tuple[float, ...] | None = None


def model_inputs(arch: Architecture) -> dict[str, keras.KerasTensor]:
    inputs = {"features": keras.Input((arch.feature_dim,), name="features")}
    if arch.context_dim:
        inputs["context"] = keras.Input((arch.context_dim,), name="context")
    return inputs


def scaled_features(arch: Architecture, features: keras.KerasTensor) -> keras.KerasTensor:
    """The features as the model sees them: standardised (when the architecture says so), then scaled."""
    x = features
    if arch.input_mean is not None:
        assert arch.input_std is not None  # given together (trainer.training)
        x = keras.layers.Normalization(mean=list(arch.input_mean), variance=[s * s for s in arch.input_std],
                                       name="standardize")(x)
    return keras.layers.Rescaling(arch.input_scale, name="input_scale")(x)


def build_scorer(arch: Architecture, seed: int, name: str = "scorer") -> keras.Model:
    """The scoring network, initialised from `seed` (Glorot uniform weights, zero biases)."""
    inputs = model_inputs(arch)
    x = scaled_features(arch, inputs["features"])
    if arch.context_dim:
        x = keras.layers.Concatenate(name="features_and_context")([x, inputs["context"]])
    for i, units in enumerate(arch.hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden_{i + 1}",
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 100 + i))(x)
    score = keras.layers.Dense(1, name="score",
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 100 + 99))(x)
    return keras.Model(inputs, keras.layers.Flatten(name="flat_score")(score), name=name)


def dense_layers(scorer: keras.Model) -> list[keras.layers.Dense]:
    return [layer for layer in scorer.layers if isinstance(layer, keras.layers.Dense)]


def training_scores(scorer: keras.Model, arch: Architecture, features: tf.Tensor, context: tf.Tensor | None,
                    seed: tf.Tensor) -> tf.Tensor:
    """h(s) with dropout, as in training: `seed` is a stateless seed (2 int32s), one per call."""
    if arch.input_mean is not None:
        features = (features - tf.constant(arch.input_mean, tf.float32)) / tf.constant(arch.input_std, tf.float32)
    features = features * arch.input_scale
    x = features if context is None else tf.concat([features, context], axis=1)
    seeds = tf.random.experimental.stateless_split(seed, num=len(arch.hidden_units) + 1)
    x = tf.nn.experimental.stateless_dropout(x, rate=arch.input_dropout, seed=seeds[0])
    layers = dense_layers(scorer)
    for i, layer in enumerate(layers[:-1]):
        x = layer(x)
        if i == 0 and arch.hidden_dropout:
            x = tf.nn.experimental.stateless_dropout(x, rate=arch.hidden_dropout, seed=seeds[1])
    return tf.reshape(layers[-1](x), [-1])


def weight_decay_term(scorer: keras.Model) -> tf.Tensor:
    """||W||_F^2 over the kernels (Eq. 3's regulariser; biases are not weights)."""
    return tf.add_n([tf.reduce_sum(tf.square(layer.kernel)) for layer in dense_layers(scorer)])


def averaged_scorer(scorers: list[keras.Model], arch: Architecture) -> keras.Model:
    """One model scoring with the mean of `scorers` (itself when there is one)."""
    if len(scorers) == 1:
        return scorers[0]
    inputs = model_inputs(arch)
    scores = [scorer(inputs) for scorer in scorers]
    return keras.Model(inputs, keras.layers.Average(name="mean_score")(scores), name="averaged_scorer")
