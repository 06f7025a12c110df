"""Which layers the observer watches, and how: the one class dispatch of the runtime side.

A layer is watched by what the running object is (its class hierarchy and its
configured rates). Keras 3 and tf_keras share the class names.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from graphcheck.graph import escape_name
from graphcheck.layers import BATCH_NORM_CLASSES, is_stochastic_depth

#: Layers whose only job is to drop or perturb units (rate/stddev in the config).
DROPOUT_CLASSES = frozenset(
    {
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
    }
)
#: Dropout-family classes whose kept units are exactly input / (1 - rate).
INVERTED_CLASSES = frozenset(
    {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"}
)
WRAPPER_CLASSES = frozenset({"Bidirectional", "TimeDistributed"})


def class_names_of(layer: Any) -> set[str]:
    return {cls.__name__ for cls in type(layer).__mro__}


def is_model(layer: Any) -> bool:
    return bool({"Functional", "Sequential", "Model"} & class_names_of(layer)) and hasattr(
        layer, "layers"
    )


def _rnn_is_stochastic(layer: Any) -> bool:
    cell = getattr(layer, "cell", layer)
    cells = getattr(cell, "cells", [cell])
    return any(
        (getattr(c, "dropout", 0) or 0) > 0 or (getattr(c, "recurrent_dropout", 0) or 0) > 0
        for c in cells
    )


def instrument_kind(layer: Any) -> str | None:
    """Return how to instrument `layer`: 'dropout', 'bn', 'generic', 'op' or None."""
    names = class_names_of(layer)
    if "TFOpLambda" in names:
        return "op"  # a TensorFlow op recorded by tf_keras: random or not, run it again
    if names & DROPOUT_CLASSES:
        return "dropout"
    if names & BATCH_NORM_CLASSES:
        return "bn"
    if any(is_stochastic_depth(c.__name__, c.__module__) for c in type(layer).__mro__):
        # ConvNeXt's StochasticDepth: whole samples dropped, compared with training=False.
        return "generic"
    if names & WRAPPER_CLASSES:
        inner = getattr(layer, "forward_layer", None) or getattr(layer, "layer", None)
        return "generic" if inner is not None and instrument_kind(inner) else None
    if "RNN" in names:
        return "generic" if _rnn_is_stochastic(layer) else None
    if "MultiHeadAttention" in names:
        return "generic" if (getattr(layer, "_dropout", 0) or 0) > 0 else None
    if names & {"Attention", "AdditiveAttention"}:
        return "generic" if (getattr(layer, "dropout", 0) or 0) > 0 else None
    if (
        type(layer).__name__.startswith("Random")
        and "training" in inspect.signature(layer.call).parameters
    ):
        return "generic"
    return None


def iter_layers(model: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(group_path, layer)`` for every layer under `model`, depth first.

    Nested models are yielded too, before their own layers.  Layers inside
    wrappers (Bidirectional, TimeDistributed) are not: the wrapper stands for them.
    Names are escaped as graphcheck's static paths escape them (``/``, ``@``, ``%``).
    """
    for layer in model.layers:
        path = f"{prefix}{escape_name(layer.name)}"
        yield path, layer
        if is_model(layer):
            yield from iter_layers(layer, prefix=f"{path}/")


def is_stock(layer: Any, classes: frozenset[str]) -> bool:
    """True when `layer` is exactly one of Keras's own `classes`, not a subclass of one."""
    return type(layer).__name__ in classes and type(layer).__module__.startswith(
        ("keras.", "tf_keras.")
    )

