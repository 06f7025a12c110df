"""What an active stochastic layer does to the values it passes, and what it does at inference.

The third question: Keras dropout is *inverted*. In training the kept units are
multiplied by 1/(1-rate) (x1.25 at rate 0.2) so that the expected value is unchanged,
and inference is the identity; nothing is rescaled at inference. The other noise
layers do something else. Formulas as in Keras 3 (``keras/src/layers/regularization``,
``keras/src/backend/*/random.py::dropout``) and tf_keras (``tf_keras/src/layers/
regularization``), identical in both; ``tests/truth/test_training_transform.py``
measures them on real models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from graphcheck.kinds import Stochastic, facts_of
from graphcheck.layers import StochasticSpec

__all__ = ["ALPHA_P", "TrainingTransform", "training_transform"]

_OP_INFERENCE = "the same as training (tf.nn.dropout ignores training)"

#: SELU's negative saturation value, -alpha*scale: what AlphaDropout sets dropped units to.
ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


@dataclass(frozen=True, slots=True)
class TrainingTransform:
    """The transform of one stochastic layer in training, and in inference.

    ``transform`` names it (the JSON enum); ``text`` says what the layer does when it
    is active (receives ``training=True``), ``inference`` what it does otherwise;
    ``kept_scale`` multiplies a kept unit
    (inverted dropout: 1/(1-rate); AlphaDropout: ``a``); ``offset`` is added to every
    unit after that (AlphaDropout's ``b``); ``dropped_value`` is what a dropped unit
    becomes; ``noise_stddev`` is the standard deviation of Gaussian noise (multiplied
    with mean 1, or added with mean 0).
    """

    transform: str
    text: str
    inference: str = "identity"
    kept_scale: float | None = None
    offset: float | None = None
    dropped_value: float | None = None
    noise_stddev: float | None = None


def training_transform(spec: StochasticSpec) -> TrainingTransform | None:
    """The transform for a stochastic layer's spec; None for a kind whose record gives
    no transform family (random augmentation, a TensorFlow random op other than
    tf.nn.dropout, a layer drawing in its own code: what they draw is theirs).

    Examples
    --------
    >>> training_transform(StochasticSpec(Stochastic.DROPOUT, 0.2, "rate", "element")).text
    'inverted dropout: kept units x1/(1-0.2) = x1.25, dropped 0'
    """
    kind, rate = spec.kind, spec.rate
    facts = facts_of(kind)
    if facts.transform is None:
        return None
    if spec.is_noop:
        return TrainingTransform("identity", "identity (rate 0)", kept_scale=1.0)
    if kind is Stochastic.RNN_DROPOUT:
        return _recurrent(rate or 0.0, spec.recurrent_rate or 0.0)
    # tf.nn.dropout in a functional model does not ignore training: it always drops.
    inference = _OP_INFERENCE if facts.ignores_training else "identity"
    if rate is None:
        # The rate is not in the layer's config (tf.nn.dropout keeps it on the call,
        # or the file holds no usable number): say the formula, not "rate 0".
        return _without_rate(kind, inference)
    if kind is Stochastic.DROP_PATH and rate >= 1:
        # StochasticDepth divides by keep_prob = 0, then multiplies by 0: 0/0.
        return TrainingTransform("inverted_dropout", "every value NaN (rate 1: x/0 x 0)")
    if facts.unit is not None:
        if rate >= 1:
            unit = facts.unit.rstrip("s")
            return TrainingTransform("inverted_dropout", f"every {unit} dropped (rate 1)",
                                     inference, dropped_value=0.0)
        scale = 1.0 / (1.0 - rate)
        text = (f"inverted dropout: kept {facts.unit} x1/(1-{rate:g}) = x{scale:.4g}, dropped 0")
        return TrainingTransform("inverted_dropout", text, inference,
                                 kept_scale=scale, dropped_value=0.0)
    if kind is Stochastic.ALPHA_DROPOUT:
        if rate >= 1:
            return TrainingTransform("identity", "identity (rate 1 is not applied)", kept_scale=1.0)
        a = ((1 - rate) * (1 + rate * ALPHA_P**2)) ** -0.5
        b = -a * ALPHA_P * rate
        return TrainingTransform(
            "alpha_dropout",
            f"alpha dropout: dropped units set to {ALPHA_P:.4f}, then every unit x{a:.4g} "
            f"{'+' if b >= 0 else '-'} {abs(b):.4g} (keeps SELU's mean and variance)",
            kept_scale=a, offset=b, dropped_value=a * ALPHA_P + b,
        )
    if kind is Stochastic.GAUSSIAN_DROPOUT:
        if rate >= 1:
            return TrainingTransform("identity", "identity (rate 1 is not applied)", kept_scale=1.0)
        stddev = math.sqrt(rate / (1.0 - rate))
        return TrainingTransform(
            "gaussian_multiplicative",
            f"every unit x N(1, {stddev:.4g}^2) noise (stddev sqrt(rate/(1-rate))), nothing "
            "dropped or rescaled",
            noise_stddev=stddev,
        )
    if kind is Stochastic.GAUSSIAN_NOISE:
        return TrainingTransform(
            "gaussian_additive",
            f"every unit + N(0, {rate:g}^2) noise",
            noise_stddev=rate,
        )
    raise ValueError(f"no training transform known for {kind}")  # a new Stochastic member


def _recurrent(rate: float, recurrent: float) -> TrainingTransform:
    """RNN dropout: one inverted mask on the inputs, one on the recurrent state."""
    parts = [f"kept {what} x1/(1-{r:g}) = x{1.0 / (1.0 - r):.4g}"
             for what, r in (("input units", rate), ("recurrent units", recurrent)) if 0 < r < 1]
    scale = 1.0 / (1.0 - rate) if 0 < rate < 1 else None
    return TrainingTransform(
        "inverted_dropout",
        f"inverted dropout: {', '.join(parts) or 'every unit dropped'}, dropped 0",
        kept_scale=scale, dropped_value=0.0,
    )


def _without_rate(kind: Stochastic, inference: str) -> TrainingTransform:
    """The transform's formula, for a layer whose config gives no usable rate."""
    unit = facts_of(kind).unit
    if unit is not None:
        return TrainingTransform(
            "inverted_dropout",
            f"inverted dropout: kept {unit} x1/(1-rate), dropped 0 "
            "(rate not in the layer config)",
            inference, dropped_value=0.0,
        )
    if kind is Stochastic.ALPHA_DROPOUT:
        return TrainingTransform(
            "alpha_dropout", f"alpha dropout: dropped units set to {ALPHA_P:.4f}, then every unit "
            "scaled and shifted to keep SELU's mean and variance (rate not in the layer config)",
        )
    if kind is Stochastic.GAUSSIAN_DROPOUT:
        return TrainingTransform(
            "gaussian_multiplicative",
            "every unit x N(1, rate/(1-rate)) noise, nothing dropped or rescaled "
            "(rate not in the layer config)",
        )
    if kind is Stochastic.GAUSSIAN_NOISE:
        return TrainingTransform(
            "gaussian_additive",
            "every unit + N(0, stddev^2) noise (stddev not in the layer config)",
        )
    raise ValueError(f"no training transform known for {kind}")  # a new Stochastic member
