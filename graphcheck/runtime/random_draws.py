"""What a symbolic call of a built Keras 3 layer shows that no config says.

A layer of a class graphcheck's tables do not know (a KerasHub TransformerEncoder,
a user's block) is called once per ``training`` value on symbolic inputs (the
arguments of its own call in the graph, no data and no weights read). Three things
are recorded in those same calls:

- which sublayers draw random numbers in their own code, and under which value. A
  KerasHub ``DropPath`` or a user's layer calling ``keras.random.uniform`` in
  ``call`` is stochastic without being any class graphcheck's tables know. Every
  Keras 3 random op takes its seed from a ``keras.random.SeedGenerator`` -- the
  layer's own (``self.seed_generator``, tracked in ``layer._seed_generators``) or,
  for ``seed=None``, Keras's global one -- and draws it with
  ``SeedGenerator.next()`` (``keras/src/random/seed_generator.py``, ``draw_seed``).
  An integer seed draws nothing: it gives the same numbers every call. A draw is
  attributed to the sublayer that owns the generator, else (the global generator)
  to the innermost sublayer being called;
- which sublayers' ``call`` runs at all, and with which ``training`` value: a
  Dropout the layer holds but never calls (GPT-NeoX's ``feedforward_dropout``) is
  not stochastic in any run;
- the ``training`` value the layer's call leaves in Keras's call context. Keras
  3.0-3.15 write every value a layer resolves into the context the whole top-level
  call shares (``Layer._resolve_and_populate_arg``), its ``call`` default included:
  a ``Resizing`` made inside DeepLabV3's ``SpatialPyramidPooling.call`` leaves
  ``training=True`` there under ``model(x)``, and every later layer runs in training
  mode.

The layer receives ``training`` as a graph call passes it, through the call
context, and with no value at all, as ``model(x)`` may leave it. The Python code
that runs is the code that runs on real tensors: a draw decided by ``if training:``
is seen exactly; a draw inside a traced ``ops.cond`` is seen under both values (the
answer then errs towards "active").

Draws of the stochastic classes graphcheck's tables describe (Dropout, the noise
and augmentation layers, RNN and attention dropout), and of layers inside them, are
left to those tables. Keras is never imported here: the layer's own modules are.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import numpy as np

from graphcheck.layers import keras_layer_info
from graphcheck.runtime.sublayers import inside_known_stochastic, layer_paths, sublayer_entry

__all__ = ["PROBED_VALUES", "HolderProbe", "probe_holder"]

#: The ``training`` values a layer is called with, by the key its result is stored
#: under: fit() passes True, predict() False, a bare ``model(x)`` may pass nothing.
PROBED_VALUES: dict[str, bool | None] = {"true": True, "false": False, "none": None}


@dataclass(frozen=True, slots=True)
class HolderProbe:
    """What the symbolic calls of one layer showed (see the module docstring).

    ``own_random``: inner-layer entries as :func:`graphcheck.runtime.live.inner_stochastic`
    writes them, with ``own_random`` True, ``draws`` (``{"true": bool, "false":
    bool, "none": bool}``, or None when the symbolic call failed) and
    ``probe_error`` (the failure, else None). ``ran_with``: None when the call failed
    (nothing is known), else, by ``id`` of each layer below (or of the layer itself),
    the ``training`` value its ``call`` ran with under each probed value it ran
    under (a key missing: its ``call`` did not run then; a value None: it received
    none and its signature has no default). ``leaves``: per probed value, where the
    value the call leaves in the call context differs from the one it came with,
    ``{"value": bool | None, "set_by": words}``.
    """

    own_random: list[dict[str, Any]]
    ran_with: dict[int, dict[str, bool | None]] | None
    leaves: dict[str, dict[str, Any]]


def probe_holder(
    layer: Any, node: Any, origin_of: Callable[[Any], Any],
    cache: dict[str, Any] | None = None, *, holds_stochastic: bool = False,
) -> HolderProbe | None:
    """Call ``layer`` symbolically under each ``training`` value, once for all it shows.

    The call is made when ``layer`` or a layer below it is of a class graphcheck's
    tables do not know (it may draw in its own code, or leave a value in the call
    context), or when ``holds_stochastic`` (which of its stochastic sublayers run);
    else None. ``node`` is a Keras ``Node`` of a call of ``layer`` whose arguments
    are symbolic tensors; ``origin_of`` gives a layer's ``(module,
    registered_name)``. ``cache`` (one per model) holds the answers by structure: a
    layer of the same classes, configs (names aside) and input specs as one probed
    before runs the same code, so it is not called again (the twelve encoder blocks
    of a BERT-base). The answers are kept by position among the layers below, so
    they apply to the alike layer's own sublayers.
    """
    paths = layer_paths(layer)
    needs_draws = _needs_probe(paths, origin_of)
    if not needs_draws and not holds_stochastic:
        return None
    subs = list(paths.values())
    key = _structure_key(subs, node)
    found = cache.get(key) if cache is not None and key is not None else None
    if found is None:
        found = _probe(layer, node, subs, origin_of)
        if cache is not None and key is not None:
            cache[key] = found
    names = list(paths)
    own_random = sorted(
        (sublayer_entry(subs[index], names[index], origin_of, draws, error)
         for index, draws, error in found.drawers),
        key=lambda e: e["path"],
    ) if needs_draws else []
    ran_with = None if found.ran is None else {
        id(subs[index]): dict(values) for index, values in found.ran.items()
    }
    leaves = {
        value_key: {"value": value, "set_by": _writer_words(writer, subs, names)}
        for value_key, (value, writer) in found.leaves.items()
    }
    return HolderProbe(own_random, ran_with, leaves)


#: Who wrote the value a call leaves in the context: ``("self",)`` the probed layer,
#: ``("sub", i)`` the ``i``-th layer below it, ``("made", class name, i)`` a layer of
#: that class made inside the call of the ``i``-th (no tracked sublayer), ``None``
#: not known.
_Writer = tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class _Found:
    """A probe's answer, by position in ``layer_paths`` (so that it can be cached)."""

    drawers: list[tuple[int, dict[str, bool] | None, str | None]]
    ran: dict[int, dict[str, bool | None]] | None
    leaves: dict[str, tuple[bool | None, _Writer]]


def _writer_words(writer: _Writer, subs: list[Any], names: list[str]) -> str:
    if writer is None:
        return "a layer its call runs"
    if writer[0] == "self":
        return f"the call() default of {type(subs[0]).__name__}"
    if writer[0] == "sub":
        return f"the sublayer {names[writer[1]]} ({type(subs[writer[1]]).__name__})"
    return f"a {writer[1]} layer created inside {type(subs[writer[2]]).__name__}'s call"


def _probe(layer: Any, node: Any, subs: list[Any], origin_of: Callable[[Any], Any]) -> _Found:
    skipped = inside_known_stochastic(layer, origin_of)
    owners = {id(g): sub for sub in subs for g in getattr(sub, "_seed_generators", [])}
    index_of = {id(sub): index for index, sub in enumerate(subs)}
    drawers: set[int] = set()
    draws: dict[str, set[int]] = {}
    ran: dict[int, dict[str, bool | None]] = {}
    leaves: dict[str, tuple[bool | None, _Writer]] = {}
    error: str | None = None
    for key, value in PROBED_VALUES.items():
        seen = _symbolic_call(layer, node, value, owners)
        if seen.failure is not None:
            error = seen.failure
            drawers |= {id(sub) for sub in seen.drawn if id(sub) not in skipped}
            break
        draws[key] = {id(sub) for sub in seen.drawn if id(sub) not in skipped}
        drawers |= draws[key]
        for sub_id, training in seen.ran.items():
            ran.setdefault(index_of[sub_id], {})[key] = training
        if seen.left != value:
            leaves[key] = (seen.left, _writer(seen.writer, seen.inside, index_of))
    if error is not None:
        # A failed call proves nothing about the sublayers it did not reach: every
        # sublayer that owns a generator (or drew before the failure) is listed,
        # its activity unknown; where there is none, the layer itself, so that the
        # failure is said rather than read as "draws nothing". Which sublayers run,
        # and what the call leaves in the context, are not known either.
        drawers |= {
            id(sub) for sub in subs
            if getattr(sub, "_seed_generators", None) and id(sub) not in skipped
        }
        drawers = drawers or {id(layer)}
    found = [
        (index, None if error else {k: id(sub) in ids for k, ids in draws.items()}, error)
        for index, sub in enumerate(subs)
        if id(sub) in drawers  # the global generator drawn outside them is nobody's
    ]
    return _Found(found, None if error else ran, {} if error else leaves)


def _writer(writer: Any, inside: Any, index_of: dict[int, int]) -> _Writer:
    if writer is None:
        return None
    if id(writer) in index_of:
        return ("self",) if index_of[id(writer)] == 0 else ("sub", index_of[id(writer)])
    return ("made", type(writer).__name__, index_of.get(id(inside), 0))


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


def _needs_probe(paths: dict[str, Any], origin_of: Callable[[Any], Any]) -> bool:
    """Only a class graphcheck's tables do not know can draw outside them."""
    return any(
        not keras_layer_info(type(sub).__name__, "keras3", origin_of(sub)).known
        for sub in paths.values()
    )


@dataclass(slots=True)
class _Seen:
    """What one symbolic call showed: the layers that drew a seed, in order; per layer
    below (by ``id``) whose ``call`` ran, the ``training`` value it ran with; the value
    left in the call context, the layer that wrote it there last and the innermost
    tracked layer whose ``call`` was running then; the failure, if any."""

    drawn: list[Any] = field(default_factory=list)
    ran: dict[int, bool | None] = field(default_factory=dict)
    left: bool | None = None
    writer: Any = None
    inside: Any = None
    failure: str | None = None


def _symbolic_call(
    layer: Any, node: Any, training: bool | None, owners: dict[int, Any]
) -> _Seen:
    """Call ``layer`` on its node's symbolic arguments, ``training`` in the call
    context, in a call context of its own (the caller's, if graphcheck runs inside a
    Keras call, is neither read nor written)."""
    keras = sys.modules["keras"]
    from keras.src.backend.common import global_state

    seen = _Seen()
    stack: list[Any] = []

    def on_draw(generator: Any) -> None:
        owner = owners.get(id(generator))
        if owner is None and stack:
            owner = stack[-1]
        if owner is not None:
            seen.drawn.append(owner)

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
        seen.writer = seen.inside = None
        context = _recording_context(keras, outer, seen, stack)
        global_state.set_global_attribute("current_call_ctx", context)
        outputs = outer(args, **given)
        seen.left = context.training
        return outputs

    # Unknown dimensions first, as the graph call had them; where the layer's code
    # cannot work with them (JAX refuses to compare a symbolic sequence length with a
    # layer's maximum), once more with each unknown dimension 1.
    caller = global_state.get_global_attribute("current_call_ctx")
    try:
        for attempt in (args, _fixed_dimensions(keras, args)):
            seen.drawn.clear()
            try:
                with _calls_tracked(layer, stack, seen.ran), _draws_observed(on_draw):
                    keras.src.backend.compute_output_spec(
                        run, attempt,
                        kwargs if attempt is args else _fixed_dimensions(keras, kwargs),
                    )
            except Exception as exc:
                seen.failure = seen.failure or f"{type(exc).__name__}: {_first_line(exc)}"
                continue
            seen.failure = None
            return seen
        return seen
    finally:
        global_state.set_global_attribute("current_call_ctx", caller)


def _recording_context(keras: Any, entry: Any, seen: _Seen, stack: list[Any]) -> Any:
    """A Keras ``CallContext`` for a call entered at ``entry`` that notes in ``seen``
    which layer last changed its ``training`` value, and inside whose ``call``.
    Keras 3.0-3.3 assign ``context.training``, later releases ``set_value``, which
    assigns it too: a property sees both."""
    base: Any = sys.modules["keras.src.layers.layer"].CallContext
    layer_class = keras.layers.Layer

    class _Recording(base):  # type: ignore[misc]  # Keras's own class
        @property
        def training(self) -> Any:
            return self.__dict__.get("_graphcheck_training")

        @training.setter
        def training(self, value: Any) -> None:
            if value != self.__dict__.get("_graphcheck_training"):
                writer = _calling_layer(layer_class)
                if writer is not None and writer is not entry:
                    seen.writer, seen.inside = writer, (stack[-1] if stack else None)
            self.__dict__["_graphcheck_training"] = value

    return _Recording(entry)


def _calling_layer(layer_class: Any) -> Any:
    """The layer whose ``__call__`` is writing the call context, read off the Python
    frames that write it (Keras's own methods, ``self`` the layer); None if none is."""
    frame: FrameType | None = sys._getframe(2)  # the frame that assigned the property
    for _ in range(3):
        if frame is None:
            return None
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, layer_class):
            return candidate
        frame = frame.f_back
    return None


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
def _calls_tracked(layer: Any, stack: list[Any], ran: dict[int, bool | None]) -> Iterator[None]:
    """Keep ``stack`` the chain of sublayer calls running, and note in ``ran`` the
    ``training`` value each ran with (``True`` if any of its calls had it). Instance
    ``call``s; a ``call`` the object already had on itself is put back after."""
    wrapped: list[tuple[Any, Any]] = []
    for sub in layer_paths(layer).values():
        original = sub.call
        try:
            # The class's own ``call``: what the object has on itself may be a wrapper
            # (``*args, **kwargs``) that hides its parameters.
            signature: inspect.Signature | None = inspect.signature(type(sub).call.__get__(sub))
        except (AttributeError, TypeError, ValueError):
            signature = None

        def call(
            *args: Any, _original: Any = original, _sub: Any = sub,
            _signature: Any = signature, **kwargs: Any,
        ) -> Any:
            value = _training_given(_signature, args, kwargs)
            ran[id(_sub)] = _either(ran.get(id(_sub), _NOT_RUN), value)
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


_NOT_RUN = object()


def _either(before: Any, value: bool | None) -> bool | None:
    """Two calls of one sublayer: True if either ran with True (it may act), else
    False if either had False."""
    if before is _NOT_RUN:
        return value
    if True in (before, value):
        return True
    return False if False in (before, value) else None


def _training_given(signature: inspect.Signature | None, args: Any, kwargs: Any) -> bool | None:
    """The ``training`` a ``call`` runs with: as passed (Keras passes a resolved value
    by keyword; a holder's code may pass it by position), else its signature
    default; None when it has no such parameter or it is not a bool."""
    if "training" in kwargs:
        value = kwargs["training"]
    elif signature is None or "training" not in signature.parameters:
        return None
    else:
        try:
            value = signature.bind_partial(*args, **kwargs).arguments.get(
                "training", signature.parameters["training"].default
            )
        except TypeError:
            value = signature.parameters["training"].default
    return value if isinstance(value, bool) else None


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

    keras = sys.modules["keras"]
    # The dtype a seed has: the backend says since Keras 3.4 (in its ``ops`` since
    # the 3.16 pre-releases); before, always uint32.
    says = getattr(backend, "random_seed_dtype", None) or getattr(
        getattr(backend, "ops", None), "random_seed_dtype", None
    )
    seed_dtype = says() if callable(says) else "uint32"

    def constant_seed() -> Any:
        return keras.ops.convert_to_tensor(np.array([0, 1]), dtype=seed_dtype)

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
