"""Which layers of a built Keras 3 layer draw random numbers in their own code, and when.

A KerasHub ``DropPath``, keras.applications ConvNeXt's ``StochasticDepth`` or a
user's layer calling ``keras.random.uniform`` in ``call`` is stochastic without
being any class graphcheck's tables know. Every Keras 3 random op takes its seed
from a ``keras.random.SeedGenerator`` -- the layer's own (``self.seed_generator``,
tracked in ``layer._seed_generators``) or, for ``seed=None``, Keras's global one --
and draws it with ``SeedGenerator.next()`` (``keras/src/random/seed_generator.py``,
``draw_seed``). An integer seed draws nothing: it gives the same numbers every call.

So the layer is called once per ``training`` value on symbolic inputs (the
arguments of its own call in the graph, no data and no weights read), with
``SeedGenerator.next`` observed: a draw is attributed to the sublayer that owns the
generator, else (the global generator) to the innermost sublayer being called. The
layer receives ``training`` as a graph call passes it, through the call context,
and with no value at all, as ``model(x)`` may leave it. The Python code that runs is
the code that runs on real tensors: a draw decided by ``if training:`` is seen
exactly; a draw inside a traced ``ops.cond`` is seen under both values (the answer
then errs towards "active").

Draws of the stochastic classes graphcheck's tables describe (Dropout, the noise
and augmentation layers, RNN and attention dropout), and of layers inside them, are
left to those tables. Keras is never imported here: the layer's own modules are.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from graphcheck.layers import keras_layer_info, stochastic_spec

__all__ = ["PROBED_VALUES", "class_origin", "drawing_candidates", "layer_paths", "own_random_draws"]

#: The ``training`` values a layer is called with, by the key its result is stored
#: under: fit() passes True, predict() False, a bare ``model(x)`` may pass nothing.
PROBED_VALUES: dict[str, bool | None] = {"true": True, "false": False, "none": None}


def class_origin(layer: Any) -> tuple[str | None, str | None]:
    """A Keras 3 layer's ``(module, registered_name)``, as its saved config would record
    them: a user's registered class has a ``Package>Name`` of its own."""
    cls = type(layer)
    registered = sys.modules["keras"].saving.get_registered_name(cls)
    return cls.__module__, (None if registered == cls.__name__ else registered)


def own_random_draws(
    layer: Any, node: Any, origin_of: Callable[[Any], Any],
    cache: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The sublayers of ``layer`` (or ``layer`` itself, path ``""``) that draw random
    numbers in their own code, and under which ``training`` values they draw.

    Each entry is an inner-layer entry as :func:`graphcheck.runtime.live.inner_stochastic`
    writes them, with ``own_random`` True, ``draws`` (``{"true": bool, "false":
    bool, "none": bool}``, or None when the symbolic call failed) and
    ``probe_error`` (the failure, else None). ``node`` is a Keras ``Node`` of a call
    of ``layer`` whose arguments are symbolic tensors; ``origin_of`` gives a layer's
    ``(module, registered_name)``. ``cache`` (one per model) holds the answers by
    structure: a layer of the same classes, configs (names aside) and input specs as
    one probed before runs the same code, so it is not called again (the twelve
    encoder blocks of a BERT-base).
    """
    paths = layer_paths(layer)
    if not _needs_probe(paths, origin_of):
        return []
    subs = list(paths.values())
    key = _structure_key(subs, node)
    found = cache.get(key) if cache is not None and key is not None else None
    if found is None:
        found = _probe(layer, node, subs, origin_of)
        if cache is not None and key is not None:
            cache[key] = found
    names = list(paths)
    return sorted(
        (_entry(subs[index], names[index], origin_of, draws, error)
         for index, draws, error in found),
        key=lambda e: e["path"],
    )


def _probe(
    layer: Any, node: Any, subs: list[Any], origin_of: Callable[[Any], Any]
) -> list[tuple[int, dict[str, bool] | None, str | None]]:
    """``(index in subs, draws per training value or None, failure)`` per drawing layer."""
    skipped = _inside_known_stochastic(layer, origin_of)
    owners = {id(g): sub for sub in subs for g in getattr(sub, "_seed_generators", [])}
    drawers: set[int] = set()
    draws: dict[str, set[int]] = {}
    error: str | None = None
    for key, value in PROBED_VALUES.items():
        drawn, failure = _symbolic_call(layer, node, value, owners)
        draws[key] = {id(sub) for sub in drawn if id(sub) not in skipped}
        drawers |= draws[key]
        if failure is not None:
            error = failure
            break
    if error is not None:
        # A failed call proves nothing about the sublayers it did not reach: every
        # sublayer that owns a generator (or drew before the failure) is listed,
        # its activity unknown; where there is none, the layer itself, so that the
        # failure is said rather than read as "draws nothing".
        drawers |= {
            id(sub) for sub in subs
            if getattr(sub, "_seed_generators", None) and id(sub) not in skipped
        }
        drawers = drawers or {id(layer)}
    return [
        (index, None if error else {k: id(sub) in ids for k, ids in draws.items()}, error)
        for index, sub in enumerate(subs)
        if id(sub) in drawers  # the global generator drawn outside them is nobody's
    ]


def _structure_key(subs: list[Any], node: Any) -> str | None:
    """What decides a probe's answer: every layer's class and config (its name aside),
    in order, and the call's arguments (tensors by shape and dtype). None: unknown."""

    def spec(value: Any) -> Any:
        shape = getattr(value, "shape", None)
        if shape is not None:
            return [str(getattr(value, "dtype", "")), list(shape)]
        return repr(value)

    try:
        parts = []
        for sub in subs:
            config = {k: v for k, v in dict(sub.get_config()).items() if k != "name"}
            parts.append([type(sub).__module__, type(sub).__qualname__, config])
        parts.append([node.arguments.args, node.arguments.kwargs])
        return json.dumps(parts, sort_keys=True, default=spec)
    except Exception:
        return None


def _entry(
    sub: Any, path: str, origin_of: Callable[[Any], Any], draws: dict[str, bool] | None,
    error: str | None,
) -> dict[str, Any]:
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


def layer_paths(layer: Any) -> dict[str, Any]:
    """Every layer below ``layer`` by its path (``""`` for ``layer``), as
    ``inner_stochastic`` names sublayers; a sublayer reached twice keeps its first path."""
    found: dict[str, Any] = {"": layer}
    seen = {id(layer)}
    stack: list[tuple[str, Any, int]] = [("", layer, 0)]
    while stack:
        prefix, current, depth = stack.pop()
        if depth > 16:
            continue
        for child in getattr(current, "_layers", None) or []:
            if id(child) in seen or not hasattr(child, "name"):
                continue
            seen.add(id(child))
            path = f"{prefix}{child.name}"
            found[path] = child
            stack.append((f"{path}/", child, depth + 1))
    return found


def _needs_probe(paths: dict[str, Any], origin_of: Callable[[Any], Any]) -> bool:
    """Only a class graphcheck's tables do not know can draw outside them."""
    return any(
        not keras_layer_info(type(sub).__name__, "keras3", origin_of(sub)).known
        for sub in paths.values()
    )


def drawing_candidates(layer: Any, origin_of: Callable[[Any], Any]) -> dict[str, Any]:
    """The layers below ``layer`` (``""``: itself) that could draw random numbers in
    their own code, by path: those of classes graphcheck's tables do not know, outside
    the stochastic classes they describe."""
    skipped = _inside_known_stochastic(layer, origin_of)
    return {
        path: sub for path, sub in layer_paths(layer).items()
        if id(sub) not in skipped
        and not keras_layer_info(type(sub).__name__, "keras3", origin_of(sub)).known
    }


def _inside_known_stochastic(layer: Any, origin_of: Callable[[Any], Any]) -> set[int]:
    """Ids of the layers whose randomness graphcheck's tables describe already: each
    known stochastic class (its config read as a file's) and everything inside it."""
    skipped: set[int] = set()
    for sub in layer_paths(layer).values():
        if id(sub) in skipped:
            continue
        try:
            config = dict(sub.get_config())
        except Exception:
            continue
        if stochastic_spec(type(sub).__name__, config, "keras3", origin_of(sub)) is not None:
            skipped.update(id(inner) for inner in layer_paths(sub).values())
    return skipped


def _symbolic_call(
    layer: Any, node: Any, training: bool | None, owners: dict[int, Any]
) -> tuple[list[Any], str | None]:
    """Call ``layer`` on its node's symbolic arguments, ``training`` in the call
    context; return the layers that drew a seed, in order, and the failure if any."""
    keras = sys.modules["keras"]
    drawn: list[Any] = []
    stack: list[Any] = []

    def on_draw(generator: Any) -> None:
        owner = owners.get(id(generator))
        if owner is None and stack:
            owner = stack[-1]
        if owner is not None:
            drawn.append(owner)

    args = node.arguments.args
    kwargs = {k: v for k, v in node.arguments.kwargs.items() if k != "training"}

    def run(args: Any, kwargs: dict[str, Any]) -> Any:
        # Keras takes tensors as a call's inputs, and other values (a block's
        # ``num_prefix_tokens=1``) only as plain keywords: those go in by closure.
        tensors = {k: v for k, v in kwargs.items() if _only_tensors(keras, v)}
        others = {k: v for k, v in kwargs.items() if k not in tensors}
        outer = _context_layer(keras, layer, others)
        given: dict[str, Any] = {} if training is None else {"training": training}
        if tensors:
            given["tensors"] = tensors
        return outer(args, **given)

    failure = None
    # Unknown dimensions first, as the graph call had them; where the layer's code
    # cannot work with them (JAX refuses to compare a symbolic sequence length with a
    # layer's maximum), once more with each unknown dimension 1.
    for attempt in (args, _fixed_dimensions(keras, args)):
        drawn.clear()
        try:
            with _calls_tracked(layer, stack), _draws_observed(on_draw):
                keras.src.backend.compute_output_spec(
                    run, attempt, kwargs if attempt is args else _fixed_dimensions(keras, kwargs)
                )
        except Exception as exc:
            failure = failure or f"{type(exc).__name__}: {_first_line(exc)}"
            continue
        return drawn, None
    return drawn, failure


def _fixed_dimensions(keras: Any, value: Any) -> Any:
    """``value`` with every symbolic tensor's unknown dimensions set to 1."""

    def fix(item: Any) -> Any:
        if isinstance(item, keras.KerasTensor) and None in tuple(item.shape):
            shape = tuple(1 if size is None else size for size in item.shape)
            return keras.KerasTensor(shape, dtype=item.dtype)
        return item

    return keras.tree.map_structure(fix, value)


def _first_line(exc: Exception) -> str:
    """The message of an exception, without the frame Keras wraps round it
    ("Exception encountered when calling ...") and its terminal bold codes."""
    lines = [line.replace("\x1b[1m", "").replace("\x1b[0m", "").strip()
             for line in str(exc).splitlines()]
    kept = [line for line in lines if line and not line.startswith("Exception encountered")]
    return (kept[0] if kept else "")[:160]


def _only_tensors(keras: Any, value: Any) -> bool:
    leaves = keras.tree.flatten(value)
    return bool(leaves) and all(keras.ops.is_tensor(leaf) for leaf in leaves)


def _context_layer(keras: Any, layer: Any, others: dict[str, Any]) -> Any:
    """A layer whose call passes its ``training`` to ``layer`` through Keras's call
    context only, as a graph call does when no flag is stored at the call site."""

    class _Context(keras.layers.Layer):  # type: ignore[misc]  # Keras's own base class
        def call(self, args: Any, tensors: Any = None, training: Any = None) -> Any:
            return layer(*args, **(tensors or {}), **others)

    # The layer's dtype policy: Keras casts floating inputs to the outer layer's
    # compute dtype before they reach ``layer``.
    return _Context(dtype=getattr(layer, "dtype_policy", None), name="graphcheck_probe")


@contextmanager
def _calls_tracked(layer: Any, stack: list[Any]) -> Iterator[None]:
    """Keep ``stack`` the chain of sublayer calls running (instance ``call``s; a
    ``call`` the object already had on itself is put back after)."""
    wrapped: list[tuple[Any, Any]] = []
    for sub in layer_paths(layer).values():
        original = sub.call

        def call(*args: Any, _original: Any = original, _sub: Any = sub, **kwargs: Any) -> Any:
            stack.append(_sub)
            try:
                return _original(*args, **kwargs)
            finally:
                stack.pop()

        wrapped.append((sub, vars(sub).get("call")))
        sub.call = call
    try:
        yield
    finally:
        for sub, own in wrapped:
            if own is not None:
                sub.call = own
            elif "call" in vars(sub):
                object.__delattr__(sub, "call")


@contextmanager
def _draws_observed(on_draw: Callable[[Any], None]) -> Iterator[None]:
    """Report every draw of a seed to ``on_draw`` (the generator drawn), and answer it
    with a constant seed: the call is symbolic, so no number matters, and no
    generator's state is read or moved. Keras's global generator is stood in for, so
    that none is created here (a rebuild's variables may have no value)."""
    seed_module: Any = sys.modules["keras.src.random.seed_generator"]
    generator_class = seed_module.SeedGenerator
    original_next = generator_class.next
    original_global = seed_module.global_seed_generator
    backend = sys.modules["keras"].src.backend

    def constant_seed() -> Any:
        return backend.convert_to_tensor(np.array([0, 1]), dtype=backend.random_seed_dtype())

    class _GlobalGenerator:
        def next(self, ordered: bool = True) -> Any:
            on_draw(self)
            return constant_seed()

    stand_in = _GlobalGenerator()

    def next_(self: Any, ordered: bool = True) -> Any:
        on_draw(self)
        return constant_seed()

    generator_class.next = next_
    seed_module.global_seed_generator = lambda: stand_in
    try:
        yield
    finally:
        generator_class.next = original_next
        seed_module.global_seed_generator = original_global
