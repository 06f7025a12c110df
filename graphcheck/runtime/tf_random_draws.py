"""Which layers of a built tf_keras layer draw random numbers in their own code, and when.

The tf_keras counterpart of :mod:`graphcheck.runtime.random_draws`. A user's layer
calling ``tf.random.uniform``, ``tf.nn.dropout`` or a ``tf.random.Generator`` in
``call`` is stochastic without being any class graphcheck's tables know, and tf_keras
has no ``SeedGenerator`` to watch. What it does have is TensorFlow's graph: the layer
is traced once per ``training`` value (a ``tf.function`` over its first graph call's
input specs; nothing runs, no data, no weight read) and the ops of the traced graph
are read, those of nested function bodies (``tf.cond`` branches, ``tf.while_loop``
bodies, nested ``tf.function``s) included:

- a stateful random op (``RandomUniform``, ``RandomStandardNormal``,
  ``TruncatedNormal``, ``RandomShuffle``, ``Multinomial``, a ``tf.random.Generator``'s
  ``StatefulUniform``/``RngReadAndSkip``, ...) draws new numbers at every run, even
  with an operation seed: TensorFlow keeps a state per op;
- a stateless one (``StatelessRandomUniformV2``, ...) draws only when its seed
  varies between runs: when it is derived from a variable or a stateful op, not
  from constants and the inputs.

``training`` is passed as tf_keras's ``fit()`` and ``predict()`` pass it (``True`` or
``False`` to the layer's call, which hands it down its call context), and not at all
for the ``"none"`` value: the layer's call then gets its signature's default
(``base_layer._get_propagated_call_context_arguments``). A draw decided by
``if training:`` is seen exactly; a draw in a ``tf.cond`` on a tensor is in the
graph under both values (the answer then errs towards "active").

A draw belongs to the innermost sublayer whose name scope encloses the op (tf_keras
names each sublayer call's scope after the layer); in the body of a nested
``tf.function``, which starts scopes afresh, to the layer whose call holds the call
op. Draws of the stochastic classes graphcheck's tables describe (the Dropout
family, noise layers, RNN dropout), and of layers inside them, are left to those
tables. Neither TensorFlow nor tf_keras is imported here: the loaded modules are.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from graphcheck.runtime.random_draws import PROBED_VALUES
from graphcheck.runtime.sublayers import sublayer_entry, tf_keras_candidates, tf_keras_layer_paths

__all__ = ["STATEFUL_RANDOM_OPS", "stateful_draws_observed", "tf_keras_own_random_draws"]

#: Ops that draw new numbers at every run (TensorFlow keeps their state).
STATEFUL_RANDOM_OPS = frozenset({
    "RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal",
    "ParameterizedTruncatedNormal", "RandomShuffle", "Multinomial", "RandomGamma",
    "RandomPoisson", "RandomPoissonV2", "RandomCrop", "NonDeterministicInts",
    "SampleDistortedBoundingBox", "SampleDistortedBoundingBoxV2",
    # tf.random.Generator: the ops of its state variable.
    "RngSkip", "RngReadAndSkip", "StatefulUniform", "StatefulUniformInt",
    "StatefulUniformFullInt", "StatefulStandardNormal", "StatefulStandardNormalV2",
    "StatefulTruncatedNormal", "StatefulRandomBinomial",
    # tf.random.*_candidate_sampler and the sampled losses built on them.
    "UniformCandidateSampler", "LogUniformCandidateSampler",
    "LearnedUnigramCandidateSampler", "FixedUnigramCandidateSampler",
    "ThreadUnsafeUnigramCandidateSampler", "AllCandidateSampler",
})

#: tf.nn.fractional_*_pool: random pooling regions at every run unless ``deterministic``;
#: deterministic with both op seeds 0 (``seed=None``), its kernel still draws them
#: once (graphcheck counts that as a draw, as graphcheck.tf_random_ops does).
_FRACTIONAL_POOLS = frozenset({"FractionalMaxPool", "FractionalAvgPool"})

#: Control-flow ops named Stateless*: not random.
_STATELESS_CONTROL = frozenset({"StatelessIf", "StatelessWhile", "StatelessCase"})

#: Ops that read a variable's current value: a seed read this way varies.
_VARIABLE_READS = frozenset({"ReadVariableOp", "ResourceGather", "VariableV2", "Variable"})

#: The inputs of a stateless random op that carry its seed.
_SEED_ARGS = frozenset({"seed", "key", "counter"})


def _no_origin(layer: Any) -> None:
    """tf_keras classes are told by name, as ``inner_stochastic(..., "keras2")`` does."""
    return None


def tf_keras_own_random_draws(
    layer: Any, cache: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The sublayers of a tf_keras ``layer`` (or ``layer`` itself, path ``""``) that
    draw random numbers in their own code, and under which ``training`` values.

    Entries are those of ``own_random`` of :func:`graphcheck.runtime.random_draws.probe_holder`
    (``own_random`` True, ``draws`` per ``"true"``/``"false"``/``"none"``, None with
    ``probe_error`` when the trace failed). A layer never called on symbolic inputs
    (no graph call to take input specs from) is not traced. ``cache`` holds answers by
    structure, so alike blocks are traced once.
    """
    paths = tf_keras_layer_paths(layer)
    if not tf_keras_candidates(paths):
        return []
    node = _first_graph_call(layer)
    if node is None:
        return []
    key = _structure_key(list(paths.values()), node)
    found = cache.get(key) if cache is not None and key is not None else None
    if found is None:
        found = _probe(layer, node, paths)
        if cache is not None and key is not None:
            cache[key] = found
    # By position: alike blocks' sublayers are named apart (dense_3, dense_7).
    names, subs = list(paths), list(paths.values())
    return sorted(
        (sublayer_entry(subs[index], names[index], _no_origin, draws, error)
         for index, draws, error in found),
        key=lambda entry: entry["path"],
    )


def _first_graph_call(layer: Any) -> Any:
    """The first node of ``layer`` called on symbolic tensors (None: an InputLayer, or
    a layer never called in a graph)."""
    for node in getattr(layer, "_inbound_nodes", None) or []:
        if not getattr(node, "is_input", False) and getattr(node, "keras_inputs", None):
            return node
    return None


def _structure_key(subs: list[Any], node: Any) -> str | None:
    """What decides a trace's answer: every layer's class and config (its name aside),
    in order, and the call's arguments (tensors by spec). None: unknown."""
    try:
        parts = []
        for sub in subs:
            config = {k: v for k, v in dict(sub.get_config()).items() if k != "name"}
            parts.append([type(sub).__module__, type(sub).__qualname__, config])
        parts.append([node.call_args, node.call_kwargs])
        # A KerasTensor's repr names the layer that made it: its spec is what counts.
        return json.dumps(parts, sort_keys=True, default=lambda v: repr(getattr(v, "type_spec", v)))
    except Exception:
        return None


def _probe(
    layer: Any, node: Any, paths: dict[str, Any]
) -> list[tuple[int, dict[str, bool] | None, str | None]]:
    """``(index in paths, draws per training value or None, failure)`` per drawing layer."""
    candidates = tf_keras_candidates(paths)
    if getattr(layer, "dynamic", False):
        # dynamic=True: tf_keras runs it eagerly, Python and NumPy included; a trace
        # would show a Python draw as a constant. Its activity is not known.
        return [(0, None, "the layer is dynamic (eager only): its call is not traced")]
    draws: dict[str, set[str]] = {}
    for key, value in PROBED_VALUES.items():
        graph, failure = _trace(layer, node, value)
        if graph is None:
            # No graph, nothing seen: the layer itself is listed, its activity not
            # known, so that the failure is said rather than read as "draws nothing".
            return [(0, None, failure)]
        draws[key] = {path for path in _drawing_paths(graph, paths) if path in candidates}
    return [
        (index, {k: path in v for k, v in draws.items()}, None)
        for index, path in enumerate(paths)
        if any(path in v for v in draws.values())
    ]


def _trace(layer: Any, node: Any, training: bool | None) -> tuple[Any, str | None]:
    """The graph of ``layer``'s call on its node's argument specs, ``training`` passed
    as tf_keras's fit()/predict() pass it (None: not passed); else the failure."""
    tf = sys.modules["tensorflow"]
    structure = (node.call_args, {k: v for k, v in node.call_kwargs.items() if k != "training"})
    leaves = tf.nest.flatten(structure)
    symbolic = [i for i, leaf in enumerate(leaves) if _is_keras_tensor(leaf)]
    given = {} if training is None else {"training": training}

    def call(*tensors: Any) -> Any:
        values = list(leaves)
        for index, tensor in zip(symbolic, tensors, strict=True):
            values[index] = tensor
        args, kwargs = tf.nest.pack_sequence_as(structure, values)
        return layer(*args, **kwargs, **given)

    specs = [leaves[i].type_spec for i in symbolic]
    failure = None
    # Unknown dimensions as the graph call had them; where the layer's code cannot
    # work with them, once more with each unknown dimension 1.
    with _losses_kept(layer):
        for attempt in (specs, [_fixed(tf, spec) for spec in specs]):
            try:
                # autograph=False: tf_keras converts the layer's own call itself, as fit() does.
                function = tf.function(call, autograph=False)
                return function.get_concrete_function(*attempt).graph, None
            except Exception as exc:
                failure = failure or f"{type(exc).__name__}: {_first_line(exc)}"
    return None, failure


@contextmanager
def _losses_kept(layer: Any) -> Iterator[None]:
    """Put back every layer's losses of its last real call: an ``add_loss`` in the
    traced call would leave a tensor of the trace's graph in ``model.losses``."""
    kept: list[tuple[Any, list[Any]]] = []
    for sub in tf_keras_layer_paths(layer).values():
        local: Any = getattr(sub, "_thread_local", None)
        losses = getattr(local, "_eager_losses", None)
        if isinstance(losses, list):
            kept.append((local, list(losses)))
    try:
        yield
    finally:
        for local, losses in kept:
            local._eager_losses = losses


def _is_keras_tensor(value: Any) -> bool:
    return any(cls.__name__ == "KerasTensor" for cls in type(value).__mro__) and hasattr(
        value, "type_spec"
    )


def _fixed(tf: Any, spec: Any) -> Any:
    shape = getattr(spec, "shape", None)
    if not isinstance(spec, tf.TensorSpec) or shape is None or shape.rank is None:
        return spec
    return tf.TensorSpec([1 if d is None else d for d in shape.as_list()], spec.dtype)


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines()]
    kept = [line for line in lines if line and not line.startswith("Exception encountered")]
    return (kept[0] if kept else "")[:160]


@dataclass
class _Body:
    """A graph being read: the root trace, or a function body called from it.

    ``caller`` is the name of the op that calls the body ("" for the root) and
    ``owner`` the path of the layer that op belongs to; ``args`` maps each of the
    body's input placeholders to the caller's input tensor and the caller's body.
    """

    graph: Any
    caller: str = ""
    owner: str = ""
    args: dict[str, tuple[Any, _Body]] = field(default_factory=dict)


def _drawing_paths(graph: Any, paths: dict[str, Any]) -> set[str]:
    """The paths of the layers whose ops in ``graph`` (nested bodies included) draw."""
    functions = _functions(graph)
    children: dict[str, dict[str, str]] = {path: {} for path in paths}
    for path in paths:
        if path:
            parent, _, name = path.rpartition("/")
            children[parent].setdefault(name, path)
    root_name = paths[""].name
    found: set[str] = set()
    pending = [_Body(graph)]
    visited: set[int] = set()
    while pending:
        body = pending.pop()
        if id(body.graph) in visited:
            continue
        visited.add(id(body.graph))
        for op in body.graph.get_operations():
            owner = _owner(op.name, body, children, root_name)
            if _draws(op, body):
                found.add(owner)
            for name in _called_functions(op):
                inner = functions.get(name)
                if inner is None or getattr(inner, "graph", None) is None:
                    continue
                args = _argument_map(op, inner.graph, body)
                pending.append(_Body(inner.graph, op.name, owner, args))
    return found


def _owner(op_name: str, body: _Body, children: dict[str, dict[str, str]], root_name: str) -> str:
    """The innermost layer whose name scope encloses the op. A body that kept the
    caller's scope (a ``tf.cond`` branch, a loop body) is read from the top; one that
    started afresh (a nested ``tf.function``) belongs below its caller's layer."""
    scopes = op_name.split("/")[:-1]
    if not body.caller or op_name.startswith(f"{body.caller}/"):
        current = ""
        if scopes and scopes[0] == root_name:
            scopes = scopes[1:]
    else:
        current = body.owner
    for scope in scopes:
        current = children[current].get(scope, current)
    return current


def _functions(graph: Any) -> dict[str, Any]:
    """Every function the trace defines, by name, nested ones included."""
    found: dict[str, Any] = {}
    pending = [graph]
    while pending:
        current = pending.pop()
        for name, function in dict(getattr(current, "_functions", {}) or {}).items():
            key = name.decode() if isinstance(name, bytes) else str(name)
            if key in found:
                continue
            found[key] = function
            if getattr(function, "graph", None) is not None:
                pending.append(function.graph)
    return found


def _called_functions(op: Any) -> Iterator[str]:
    """The functions an op calls (a cond's branches, a loop's body, a call's ``f``)."""
    for value in op.node_def.attr.values():
        if value.HasField("func"):
            yield value.func.name
        elif value.HasField("list"):
            yield from (function.name for function in value.list.func)


def _argument_map(op: Any, graph: Any, body: _Body) -> dict[str, tuple[Any, _Body]]:
    """The body's input placeholders mapped to the calling op's inputs: all of them
    (a loop, a call) or all but the first (a cond's predicate, a case's index)."""
    inputs = list(op.inputs)
    placeholders = list(graph.inputs)
    if len(inputs) == len(placeholders) + 1:
        inputs = inputs[1:]
    if len(inputs) != len(placeholders):
        return {}
    return {p.op.name: (t, body) for p, t in zip(placeholders, inputs, strict=True)}


def _draws(op: Any, body: _Body) -> bool:
    if op.type in STATEFUL_RANDOM_OPS:
        return True
    if op.type in _FRACTIONAL_POOLS:
        return _fractional_draws(op.get_attr)
    return _is_stateless_random(op.type) and _seed_varies(op, body)


def _fractional_draws(attr: Callable[[str], Any]) -> bool:
    """Whether a fractional pooling op with these attributes picks random regions."""
    return not attr("deterministic") or (attr("seed") == 0 and attr("seed2") == 0)


def _seed_varies(op: Any, body: _Body) -> bool:
    """Whether a stateless op's seed (its ``seed``, or ``key`` and ``counter``)
    derives from a variable's value or a stateful op (a generator's), across
    function-body boundaries; a seed of constants gives the same numbers every run."""
    args = list(op.op_def.input_arg)
    inputs = list(op.inputs)
    seeds = [t for a, t in zip(args, inputs, strict=False) if a.name in _SEED_ARGS]
    if len(args) != len(inputs) or not seeds:
        seeds = inputs  # an op of an unexpected form: every input may carry the seed
    pending: list[tuple[Any, _Body]] = [(tensor.op, body) for tensor in seeds]
    seen: set[tuple[int, str]] = set()
    while pending:
        current, where = pending.pop()
        key = (id(where.graph), current.name)
        if key in seen:
            continue
        seen.add(key)
        if current.type in STATEFUL_RANDOM_OPS or current.type in _VARIABLE_READS:
            return True
        if current.type == "Placeholder":
            outer = where.args.get(current.name)
            if outer is not None:
                pending.append((outer[0].op, outer[1]))
            elif where.caller and current.outputs[0].dtype.name == "resource":
                return True  # a variable captured into a body not mapped
            continue
        pending.extend((tensor.op, where) for tensor in current.inputs)
    return False


@contextmanager
def stateful_draws_observed(
    on_draw: Callable[[str], None], on_stateless: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Report every stateful random op TensorFlow runs eagerly to ``on_draw`` (its op
    type), for ``graphcheck validate`` to see which tf_keras layer drew, and every
    stateless one to ``on_stateless``. A stateless op draws anew only when its seed
    varies, and an eager op shows its seed's value, not where it came from (a
    variable is read inside TensorFlow's C++ fast path, with no callback): the caller
    runs such a call again to see (:mod:`graphcheck.runtime.draw_recording`)."""
    # TensorFlow's hook on every op it runs (tf.debugging's numeric checks use it); a
    # TensorFlow without it observes nothing here, and validate then compares nothing.
    callbacks: Any = sys.modules.get("tensorflow.python.framework.op_callbacks")
    if not hasattr(callbacks, "add_op_callback"):
        yield
        return

    def callback(op_type: Any, inputs: Any, attrs: Any, outputs: Any,
                 op_name: Any = None, graph: Any = None) -> None:
        name = op_type.decode() if isinstance(op_type, bytes) else str(op_type)
        if graph is not None:
            return
        if name in STATEFUL_RANDOM_OPS:
            on_draw(name)
        elif name in _FRACTIONAL_POOLS:
            # Eager attributes come as one tuple of alternating names and values.
            given = dict(zip(attrs[::2], attrs[1::2], strict=False)) if attrs else {}
            if _fractional_draws(lambda key: given.get(key, 0)):
                on_draw(name)
        elif on_stateless is not None and _is_stateless_random(name):
            on_stateless(name)

    callbacks.add_op_callback(callback)
    try:
        yield
    finally:
        callbacks.remove_op_callback(callback)


def _is_stateless_random(op_type: str) -> bool:
    return (
        op_type.startswith("Stateless") and op_type not in _STATELESS_CONTROL
    ) or op_type == "RandomIndexShuffle"
