"""What a built layer holds: its tracked sublayers, Keras 3 and tf_keras side by side.

Keras 3 tracks a layer's sublayers in ``_layers``; tf_keras among
``_self_tracked_trackables`` (with its variables). Paths below a layer are the
sublayers' names joined with "/", the first path a sublayer is reached by.

- :func:`inner_stochastic`: the sublayers of a stochastic class graphcheck's tables
  describe (a KerasHub encoder's Dropouts), as the static report lists them;
- :func:`drawing_candidates` / :func:`tf_keras_drawing_candidates`: the sublayers that
  could draw random numbers in their own code (classes the tables do not know);
- :func:`known_stochastic_layers` / :func:`known_stochastic_sublayers`: the layers whose
  randomness the tables describe, so that their draws are no holder's own-code draw.

Keras is never imported here: the layer's own modules are.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from graphcheck.layers import KERAS_PACKAGES, Origin, keras_layer_info, stochastic_spec

__all__ = [
    "class_origin", "drawing_candidates", "inner_stochastic", "inside_known_stochastic",
    "known_stochastic_layers",
    "known_stochastic_sublayers", "layer_paths", "sublayer_at", "sublayer_entry",
    "tf_keras_candidates", "tf_keras_class_origin", "tf_keras_drawing_candidates",
    "tf_keras_layer_paths",
]

_TF_KERAS_DIALECT = "keras2"


def inner_stochastic(
    layer: Any, dialect: str, prefix: str = "", depth: int = 0
) -> list[dict[str, Any]]:
    """The stochastic layers a layer holds (not calls in any graph), by path below it.

    The search stops at a stochastic sublayer: MultiHeadAttention counts once, as
    attention dropout, not again for the Dropout it keeps inside. Only classes
    Keras defines count, as in a file: a Keras 3 sublayer's class module and
    registered name are its origin; tf_keras's names are checked against
    ``dialect``'s list.
    """
    found: list[dict[str, Any]] = []
    children = _sublayers(layer)
    for child in children:
        if depth > 16 or not hasattr(child, "get_config"):
            continue
        path = f"{prefix}{child.name}"
        try:
            config = dict(child.get_config())
        except Exception:
            # No config (a KerasHub ViT's MLP raises NotImplementedError): not a
            # stochastic class graphcheck can read, but what it holds may be.
            found.extend(inner_stochastic(child, dialect, f"{path}/", depth + 1))
            continue
        origin = class_origin(child) if dialect == "keras3" else tf_keras_class_origin(child)
        if stochastic_spec(type(child).__name__, config, dialect, origin) is not None:
            found.append({
                "path": path,
                "class_name": type(child).__name__,
                "config": config,
                "trainable": bool(getattr(child, "trainable", True)),
                "origin": origin,
            })
        else:
            found.extend(inner_stochastic(child, dialect, f"{path}/", depth + 1))
    return found


def sublayer_at(layer: Any, path: str) -> Any:
    """The sublayer :func:`inner_stochastic` names ``path`` below `layer` (None: gone)."""
    for name in path.split("/"):
        layer = next((child for child in _sublayers(layer) if child.name == name), None)
        if layer is None:
            return None
    return layer


def _sublayers(layer: Any) -> list[Any]:
    """A layer's own sublayers: Keras 3 tracks them in ``_layers``, tf_keras among
    ``_self_tracked_trackables`` (with its variables)."""
    children = getattr(layer, "_layers", None)
    if children is None:
        children = getattr(layer, "_self_tracked_trackables", None) or []
    return [child for child in children if hasattr(child, "get_config") and hasattr(child, "name")]


# Keras 3


def class_origin(layer: Any) -> tuple[str | None, str | None]:
    """A Keras 3 layer's ``(module, registered_name)``, as its saved config would record
    them: a user's registered class has a ``Package>Name`` of its own."""
    cls = type(layer)
    registered = sys.modules["keras"].saving.get_registered_name(cls)
    return cls.__module__, (None if registered == cls.__name__ else registered)


def sublayer_entry(
    sub: Any, path: str, origin_of: Callable[[Any], Any], draws: dict[str, bool] | None,
    error: str | None,
) -> dict[str, Any]:
    """The ``inner_stochastic`` entry of a layer drawing in its own code (``path``
    below its holder), as the Keras 3 and tf_keras probes both write it."""
    try:
        config = dict(sub.get_config())
    except Exception:
        config = {"name": sub.name}
    return {
        "path": path,
        "class_name": type(sub).__name__,
        "config": config,
        "trainable": bool(getattr(sub, "trainable", True)),
        "origin": origin_of(sub),
        "own_random": True,
        "draws": draws,
        "probe_error": error,
    }


def layer_paths(
    layer: Any, children: Callable[[Any], list[Any]] | None = None
) -> dict[str, Any]:
    """Every layer below ``layer`` by its path (``""`` for ``layer``), as
    ``inner_stochastic`` names sublayers; a sublayer reached twice keeps its first path.
    ``children`` gives a layer's own sublayers (default: Keras 3's ``_layers``)."""
    found: dict[str, Any] = {"": layer}
    seen = {id(layer)}
    stack: list[tuple[str, Any, int]] = [("", layer, 0)]
    while stack:
        prefix, current, depth = stack.pop()
        if depth > 16:
            continue
        below = children(current) if children else getattr(current, "_layers", None) or []
        for child in below:
            if id(child) in seen or not hasattr(child, "name"):
                continue
            seen.add(id(child))
            path = f"{prefix}{child.name}"
            found[path] = child
            stack.append((f"{path}/", child, depth + 1))
    return found


def drawing_candidates(layer: Any, origin_of: Callable[[Any], Any]) -> dict[str, Any]:
    """The layers below ``layer`` (``""``: itself) that could draw random numbers in
    their own code, by path: those of classes graphcheck's tables do not know, outside
    the stochastic classes they describe."""
    skipped = inside_known_stochastic(layer, origin_of)
    return {
        path: sub for path, sub in layer_paths(layer).items()
        if id(sub) not in skipped
        and not keras_layer_info(type(sub).__name__, "keras3", origin_of(sub)).known
    }


def inside_known_stochastic(layer: Any, origin_of: Callable[[Any], Any]) -> set[int]:
    """Ids of the layers whose randomness graphcheck's tables describe already: each
    known stochastic class (its config read as a file's) and everything inside it."""
    return {
        id(inner) for sub in known_stochastic_layers(layer, origin_of)
        for inner in layer_paths(sub).values()
    }


def known_stochastic_layers(layer: Any, origin_of: Callable[[Any], Any]) -> list[Any]:
    """``layer`` or the layers below it of a stochastic class graphcheck's tables
    describe (its config read as a file's), outermost only: a Dropout, ConvNeXt's
    StochasticDepth (which draws from Keras's global generator)."""
    skipped: set[int] = set()
    found = []
    for sub in layer_paths(layer).values():
        if id(sub) in skipped:
            continue
        try:
            config = dict(sub.get_config())
        except Exception:
            continue
        if stochastic_spec(type(sub).__name__, config, "keras3", origin_of(sub)) is not None:
            found.append(sub)
            skipped.update(id(inner) for inner in layer_paths(sub).values())
    return found


# tf_keras


def tf_keras_class_origin(layer: Any) -> Origin:
    """A tf_keras layer's origin as a file records it, for Keras's own classes only
    (``tf_keras.src.applications.convnext``: ConvNeXt's StochasticDepth, known by its
    module); None for any other class, told by name as before."""
    module = type(layer).__module__
    if module.split(".", 1)[0] in KERAS_PACKAGES:
        return module, None
    return None


def tf_keras_layer_paths(layer: Any) -> dict[str, Any]:
    """Every layer below ``layer`` by its path (``""`` for ``layer``), as
    ``inner_stochastic`` names tf_keras sublayers; one reached twice keeps its first path."""
    return layer_paths(layer, _tf_keras_children)


def tf_keras_drawing_candidates(layer: Any) -> dict[str, Any]:
    """The layers below ``layer`` (``""``: itself) that could draw random numbers in
    their own code, by path: classes graphcheck's tables do not know, outside the
    stochastic classes they describe."""
    return tf_keras_candidates(tf_keras_layer_paths(layer))


def known_stochastic_sublayers(layer: Any) -> list[Any]:
    """The layers strictly below ``layer`` of a stochastic class graphcheck's tables
    describe, outermost only: their draws are no own-code draw of a holder."""
    paths = tf_keras_layer_paths(layer)
    skipped: set[int] = set()
    found = []
    for path, sub in paths.items():
        if id(sub) in skipped:
            continue
        if path and _tf_keras_is_known_stochastic(sub):
            found.append(sub)
            skipped.update(id(inner) for inner in tf_keras_layer_paths(sub).values())
    return found


def _tf_keras_children(layer: Any) -> list[Any]:
    # tf_keras tracks sublayers among _self_tracked_trackables (with its variables).
    children = getattr(layer, "_self_tracked_trackables", None) or []
    return [c for c in children if hasattr(c, "get_config") and hasattr(c, "name")]


def tf_keras_candidates(paths: dict[str, Any]) -> dict[str, Any]:
    skipped = _tf_keras_inside_known_stochastic(paths)
    return {
        path: sub for path, sub in paths.items()
        if id(sub) not in skipped
        and not keras_layer_info(
            type(sub).__name__, _TF_KERAS_DIALECT, tf_keras_class_origin(sub)
        ).known
    }


def _tf_keras_inside_known_stochastic(paths: dict[str, Any]) -> set[int]:
    """Ids of each known stochastic class (its config read as a file's) and of
    everything inside it: their randomness is graphcheck's tables' to describe."""
    skipped: set[int] = set()
    for sub in paths.values():
        if id(sub) not in skipped and _tf_keras_is_known_stochastic(sub):
            skipped.update(id(inner) for inner in tf_keras_layer_paths(sub).values())
    return skipped


def _tf_keras_is_known_stochastic(layer: Any) -> bool:
    try:
        config = dict(layer.get_config())
    except Exception:
        return False
    origin = tf_keras_class_origin(layer)
    return stochastic_spec(type(layer).__name__, config, _TF_KERAS_DIALECT, origin) is not None
