"""Which layers the observer watches, and how: the one class dispatch of the runtime side.

A layer is watched by what the running object is (its class hierarchy and its
configured rates), found by walking the layers Keras itself tracks, never by what
graphcheck's static search found: a layer the static side misses is watched all
the same, and its acting shows as a disagreement. Keras 3 and tf_keras share the
class names and both walk their tracked sublayers with ``_flatten_layers``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from graphcheck.graph import escape_name
from graphcheck.kinds import NOISE_CLASSES
from graphcheck.layers import BATCH_NORM_CLASSES, is_stochastic_depth

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
    if names & NOISE_CLASSES:
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


#: Kinds watched below a layer that is not watched itself (held sublayers).
_HELD_KINDS = frozenset({"dropout", "generic"})
#: Deeper than any real model nests layers: a guard against cycles in odd trackers.
_MAX_DEPTH = 16


def tracked_sublayers(layer: Any) -> list[Any]:
    """A layer's own sublayers as Keras tracks them, in tracking order.

    Keras 3 (``_layers``) and tf_keras (``_self_tracked_trackables``, its variables
    left out) both answer ``_flatten_layers(include_self=False, recursive=False)``.
    """
    flatten = getattr(layer, "_flatten_layers", None)
    if not callable(flatten):
        return []
    try:
        children = list(flatten(include_self=False, recursive=False))
    except TypeError:  # a layer overriding it with another signature
        children = list(getattr(layer, "_layers", None) or [])
    return [child for child in children if hasattr(child, "name") and hasattr(child, "call")]


def watched_sublayers(layer: Any) -> Iterator[tuple[str, Any, str]]:
    """``(path below layer, sublayer, kind)`` of every stochastic layer `layer` holds.

    Every Dropout-family, noise, attention, recurrent-dropout, augmentation and
    stochastic-depth layer at any depth of the tracked tree, named as the static
    report names held sublayers (names joined with "/"). The walk stops at a watched
    layer: an attention layer is watched as itself, not again for its Dropout.
    Batch normalisation held by a layer is not watched (no claim is made of it).
    """
    seen = {id(layer)}
    stack: list[tuple[str, Any, int]] = [("", layer, 0)]
    found: list[tuple[str, Any, str]] = []
    while stack:
        prefix, current, depth = stack.pop(0)
        if depth >= _MAX_DEPTH:
            continue
        for child in tracked_sublayers(current):
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = f"{prefix}{child.name}"
            kind = instrument_kind(child)
            if kind in _HELD_KINDS:
                found.append((path, child, kind))
            else:
                stack.append((f"{path}/", child, depth + 1))
    yield from found
