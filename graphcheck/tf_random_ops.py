"""The TensorFlow ops that draw random numbers, by the name a ``TFOpLambda`` records.

A tf.keras / tf_keras Functional model records a TensorFlow function called on a
Keras tensor as a ``TFOpLambda`` layer whose config ``function`` is the op's
canonical API name (``random.normal``; ``compat.v1.`` before a v1-only name). The
stateful ones below draw new numbers every time the graph runs, whatever
``training`` says and whether or not a ``seed=`` is given (a seeded stateful op
still advances its generator on each run). Their ``stateless_`` counterparts
(``random.stateless_normal``, ``image.stateless_random_flip_left_right``,
``nn.experimental.stateless_dropout``, ``random.experimental.index_shuffle``) are
pure functions of their inputs and seed: deterministic, even when the seed is a
tensor from another layer (the model is then a function of that tensor, and any
randomness in it comes from the layer that made it, which is reported itself).

Names listed from TensorFlow 2.21's public API (``tf.random``, ``tf.image``,
``tf.nn`` and their ``tf.compat.v1`` aliases, which record the same canonical
name); ``tests/truth/test_op_random_truth.py`` checks the list against the
installed TensorFlow. ``tf.nn.dropout`` is kept apart (``Stochastic.OP_DROPOUT``):
it masks its input the way a Dropout layer does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RANDOM_SAMPLERS", "RANDOM_TRANSFORMS", "op_draws", "op_samples"]

#: Ops that draw new values from a shape or distribution parameters (their tensor
#: inputs are the shape, means, logits, labels...: read, not changed).
RANDOM_SAMPLERS = frozenset(
    {
        "random.normal",
        "random.uniform",
        "random.truncated_normal",
        "random.gamma",
        "random.poisson",
        "compat.v1.random.poisson",
        "random.categorical",
        "compat.v1.random.multinomial",
        "random.uniform_candidate_sampler",
        "random.log_uniform_candidate_sampler",
        "random.fixed_unigram_candidate_sampler",
        "random.learned_unigram_candidate_sampler",
        "image.sample_distorted_bounding_box",
        "compat.v1.image.sample_distorted_bounding_box",
        # Sampled losses draw their negative classes with a candidate sampler,
        # unless the call passes `sampled_values` (see op_draws).
        "nn.sampled_softmax_loss",
        "compat.v1.nn.sampled_softmax_loss",
        "nn.nce_loss",
        "compat.v1.nn.nce_loss",
    }
)

#: Ops that transform their input at random (flip, crop, shuffle, pool over random regions).
RANDOM_TRANSFORMS = frozenset(
    {
        "random.shuffle",
        "image.random_brightness",
        "image.random_contrast",
        "image.random_crop",
        "image.random_flip_left_right",
        "image.random_flip_up_down",
        "image.random_hue",
        "image.random_jpeg_quality",
        "image.random_saturation",
        # Random pooling regions unless seeded (v2) or deterministic=True (v1): op_draws.
        "nn.fractional_max_pool",
        "nn.fractional_avg_pool",
        "compat.v1.nn.fractional_max_pool",
        "compat.v1.nn.fractional_avg_pool",
    }
)

_FRACTIONAL_V2 = frozenset({"nn.fractional_max_pool", "nn.fractional_avg_pool"})
_FRACTIONAL_V1 = frozenset({"compat.v1.nn.fractional_max_pool", "compat.v1.nn.fractional_avg_pool"})
_SAMPLED_LOSSES = frozenset(
    {"nn.sampled_softmax_loss", "compat.v1.nn.sampled_softmax_loss", "nn.nce_loss",
     "compat.v1.nn.nce_loss"}
)


def op_samples(function: str) -> bool:
    """True for an op that draws values from its inputs rather than transforming them."""
    return function in RANDOM_SAMPLERS


def op_draws(function: Any, arguments: Mapping[str, Any] | None) -> bool:
    """Whether a ``TFOpLambda`` calling ``function`` with the stored ``arguments`` is random.

    ``arguments`` are the keyword arguments tf_keras stored with the call (its
    positional ones are stored by name too), None when unknown: then an op that is
    random by default counts as random.
    """
    if not isinstance(function, str):
        return False
    if function not in RANDOM_SAMPLERS and function not in RANDOM_TRANSFORMS:
        return False
    given = arguments or {}
    if function in _FRACTIONAL_V2:
        # tf.nn.fractional_*_pool: seed 0 (the default) draws; any other seed makes
        # the op run with deterministic=True, one fixed pooling region. seed=None
        # does too, but with the op seeds left 0, so the regions are drawn when a
        # kernel is made: two predict() calls agree, yet graphcheck's observer saw
        # two calls in one fit() differ (tf_keras 2.21, TensorFlow 2.21). It
        # counts as random.
        return given.get("seed", 0) in (0, None)
    if function in _FRACTIONAL_V1:
        return given.get("deterministic") is not True
    if function in _SAMPLED_LOSSES:
        return given.get("sampled_values") is None
    return True
