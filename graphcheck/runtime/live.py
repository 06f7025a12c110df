"""A Keras model object in memory -> the same model description a reader produces.

Used for a live model handed to ``graphcheck.analyse``/``graphcheck.load`` and for
a model rebuilt from a file's config (``--rebuild``). The description is built
from the model's own structure, as Keras would write it into a config, with two
differences that matter:

- trainable flags are read off the objects as they are **in memory** (a file may
  say otherwise after loading: tf_keras resets container flags on load);
- a model whose class is not a plain Functional (a KerasHub task or backbone, a
  ``keras.Model`` subclass) is described by its layer graph, not by its
  constructor arguments: a Functional subclass by the graph it was built with, a
  model with its own ``call`` by tracing that ``call`` on symbolic inputs.

Keras is never imported here: the model's own modules are used, found from the
object, so a tf_keras model is read with tf_keras and a Keras 3 one with Keras 3.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from graphcheck.errors import UnsupportedModelError
from graphcheck.layers import stochastic_spec
from graphcheck.model import SavedModelDesc
from graphcheck.readers.keras_config import (
    BY_SCENARIO_KEY,
    INNER_KEY,
    LEAVES_TRAINING_KEY,
    RECEIVES_TRAINING_KEY,
    TAKES_TRAINING_KEY,
    WEIGHTS_KEY,
    parse_model_config,
)
from graphcheck.runtime.random_draws import HolderProbe, probe_holder
from graphcheck.runtime.sublayers import class_origin, inner_stochastic, sublayer_at
from graphcheck.runtime.tf_random_draws import tf_keras_own_random_draws

__all__ = ["describe_model_object", "keras_flavour"]


def keras_flavour(obj: Any) -> str | None:
    """``"keras"`` or ``"tf_keras"`` for a model object of that package, else None."""
    for cls in type(obj).__mro__:
        module = cls.__module__ or ""
        if cls.__name__ in ("Model", "Functional", "Sequential"):
            if module.startswith("tf_keras.") and "tf_keras" in sys.modules:
                return "tf_keras"
            if module.startswith("keras.") and "keras" in sys.modules:
                return "keras"
    return None


def describe_model_object(
    obj: Any, *, subject: str | None = None, source: str | None = None
) -> SavedModelDesc:
    """Describe a model object as a reader describes a file.

    Parameters
    ----------
    obj : keras.Model or tf_keras.Model
        A built model (Functional, Sequential, a Functional subclass, or a
        subclass with its own ``call`` that has been built or called once).
    subject : str, optional
        The name used in messages and reports (default: ``<live Class 'name'>``).
    source : str, optional
        Where the graph came from, for the report (default: ``live object``).

    Raises
    ------
    UnsupportedModelError
        Not a Keras model, or a subclassed model whose ``call`` cannot be traced.
    """
    flavour = keras_flavour(obj)
    label = subject or f"<live {type(obj).__name__} {getattr(obj, 'name', '?')!r}>"
    if flavour is None:
        raise UnsupportedModelError(label, f"not a Keras model object ({type(obj).__name__})")
    keras = sys.modules[flavour]
    version = str(getattr(keras, "__version__", "")) or None
    if flavour == "keras":
        entry = _Keras3Describer(keras, label).model_entry(obj)
        backend = str(keras.backend.backend())
    else:
        entry = _tf_keras_entry(obj, label)
        backend = "tensorflow"
    # Through JSON, as a file would be: tuples become lists, and no live object
    # (a dtype policy, an initializer) is left in the description.
    entry = json.loads(json.dumps(entry, default=repr))
    model, dialect = parse_model_config(
        entry, keras_version=version, subject=label, from_object=True
    )
    return SavedModelDesc(
        path=label,
        format="live",
        keras_version=version,
        backend=backend,
        dialect=dialect,
        model=model,
        source=source or f"live object ({flavour} {version})",
        from_object=True,
    )


class _Keras3Describer:
    """Writes a Keras 3 model object as a Keras 3 config dict with its layer graph."""

    def __init__(self, keras: Any, subject: str) -> None:
        from keras.src.models.functional import Functional
        from keras.src.models.sequential import Sequential

        self.keras = keras
        self.subject = subject
        self.functional = Functional
        self.sequential = Sequential
        # Random-draw probes by layer structure (runtime.random_draws): alike blocks
        # are called once.
        self.probes: dict[str, Any] = {}

    def model_entry(self, model: Any) -> dict[str, Any]:
        if isinstance(model, self.sequential):
            return self.sequential_entry(model)
        if isinstance(model, self.functional):
            return self.functional_entry(model, model)
        # Keras 3 passes fit()'s and predict()'s value only to a call that takes one;
        # model(x, training=t) enters the context with it either way.
        takes = bool(getattr(model, "_call_has_training_arg", True))
        # ``call`` is Python: a flag it passes wins over the scenario's value and
        # stays in the shared call context for the calls after it. What each call
        # receives is what Keras resolves, so trace under each context value (three
        # traces serve the five scenarios) and record it per call.
        traces = {value: self.trace(model, value, takes) for value in (None, True, False)}
        entry = self.functional_entry(model, traces[None])
        entry["config"][RECEIVES_TRAINING_KEY] = takes
        scenarios = {
            "fit": True if takes else None, "predict": False if takes else None, "call": None,
            "call_true": True, "call_false": False,
        }
        flags = {value: _resolved_flags(graph) for value, graph in traces.items()}
        resolved = {name: flags[value] for name, value in scenarios.items()}
        for layer in entry["config"]["layers"]:
            per_call = [r.get(layer["name"]) for r in resolved.values()]
            if all(flags is not None and len(flags) == len(layer["inbound_nodes"])
                   for flags in per_call):
                layer[BY_SCENARIO_KEY] = [
                    dict(zip(scenarios, values, strict=True))
                    for values in zip(*per_call, strict=True)
                ]
        return entry

    def sequential_entry(self, model: Any) -> dict[str, Any]:
        # `_layers` keeps the InputLayer that `layers` hides; it carries the shape.
        layers = [self.layer_entry(layer) for layer in model._layers]
        return {
            "class_name": "Sequential",
            "name": model.name,
            "config": {"name": model.name, "trainable": model.trainable, "layers": layers},
        }

    def functional_entry(self, model: Any, graph: Any) -> dict[str, Any]:
        """``graph`` is the Functional whose nodes describe ``model`` (itself, or a trace)."""
        from keras.src.models.functional import serialize_node
        from keras.src.ops.function import make_node_key

        own = graph._nodes
        # Invariant (as in Keras's own Functional.get_config): a nested Functional's
        # node 0 links its inputs to its outputs, so its kept calls count from 1.
        reindex: dict[str, int] = {}
        for operation in graph.operations:
            kept = 1 if isinstance(operation, self.functional) else 0
            for index in range(len(operation._inbound_nodes)):
                key = make_node_key(operation, index)
                if key in own:
                    reindex[key] = kept
                    kept += 1
        layers = []
        for operation in graph.operations:
            entry = self.layer_entry(operation)
            entry["inbound_nodes"] = [
                data
                for index, node in enumerate(operation._inbound_nodes)
                if make_node_key(operation, index) in own
                and (data := serialize_node(node, own_nodes=own)) is not None
            ]
            layers.append(entry)

        def endpoint(tensor: Any) -> list[Any]:
            operation, node_index, tensor_index = tensor._keras_history
            return [operation.name, reindex[make_node_key(operation, node_index)], tensor_index]

        tree = self.keras.tree
        return {
            "class_name": type(model).__name__,
            "module": type(model).__module__,
            "name": model.name,
            "config": {
                "name": model.name,
                "trainable": model.trainable,
                "layers": layers,
                "input_layers": tree.map_structure(endpoint, graph._inputs_struct),
                "output_layers": tree.map_structure(endpoint, graph._outputs_struct),
            },
        }

    def layer_entry(self, layer: Any) -> dict[str, Any]:
        if isinstance(layer, self.keras.Model):
            entry = self.model_entry(layer)
            entry["config"]["trainable"] = layer.trainable
            return entry
        try:
            config = dict(layer.get_config())
        except Exception:
            config = {"name": layer.name}
        if hasattr(layer, "trainable"):  # a keras.ops operation (GetItem) has no flag
            config["trainable"] = layer.trainable  # in memory, not as a file would reload it
        entry = {
            "class_name": type(layer).__name__,
            "module": type(layer).__module__,
            "name": layer.name,
            "config": config,
            WEIGHTS_KEY: weight_counts(layer),
        }
        takes = getattr(layer, "_call_has_training_arg", None)
        if isinstance(takes, bool):
            entry[TAKES_TRAINING_KEY] = takes
        inner = inner_stochastic(layer, "keras3")
        # A stochastic holder (MultiHeadAttention and its Dropout) is reported as
        # itself, whatever it runs inside: which of its sublayers run does not matter.
        stochastic = stochastic_spec(type(layer).__name__, config, "keras3", class_origin(layer))
        probe = _probe(layer, self.probes, holds_stochastic=bool(inner) and stochastic is None)
        if probe is not None:
            inner = _run_sublayers(layer, inner, probe.ran_with) + probe.own_random
            if probe.leaves:
                entry[LEAVES_TRAINING_KEY] = probe.leaves
        entry[INNER_KEY] = inner
        return entry

    def trace(self, model: Any, training: bool | None = None, pass_training: bool = False) -> Any:
        """A Functional over the layers a subclassed model's ``call`` uses.

        ``call`` (not ``__call__``, which would hide the inner calls inside one
        symbolic op) runs once on ``keras.Input`` tensors of the shapes the model
        was built with, so every layer call inside it records a node. It runs inside
        one call context entered for the model, as ``model(x, training=training)``
        would enter it, so each node stores the ``training`` Keras resolves for it.
        """
        shapes = _build_shapes(model)
        if shapes is None:
            raise UnsupportedModelError(
                self.subject,
                f"subclassed model {type(model).__name__} has not been built: call it once "
                "or build it with an input shape before analysing it",
            )
        inputs = self.keras.tree.map_shape_structure(
            lambda shape: self.keras.Input(batch_shape=tuple(shape)), shapes
        )
        from keras.src.backend.common import global_state
        from keras.src.layers.layer import CallContext

        context = CallContext(entry_layer=model)
        context.training = training  # what CallContext.get_value("training") reads
        kwargs = {"training": training} if pass_training and training is not None else {}
        caller = global_state.get_global_attribute("current_call_ctx")
        global_state.set_global_attribute("current_call_ctx", context)
        try:
            outputs = model.call(inputs, **kwargs)
            return self.functional(inputs, outputs, name=model.name)
        except Exception as exc:
            first = str(exc).splitlines()[0][:160] if str(exc) else ""
            raise UnsupportedModelError(
                self.subject,
                f"the call of subclassed model {type(model).__name__} cannot be traced "
                f"symbolically ({type(exc).__name__}: {first})",
            ) from None
        finally:
            # Put back the caller's context (graphcheck may run inside a Keras call).
            global_state.set_global_attribute("current_call_ctx", caller)


def _resolved_flags(graph: Any) -> dict[str, list[bool | None]]:
    """Per layer of a traced Functional, the ``training`` each of its nodes stores."""
    from keras.src.ops.function import make_node_key

    own = graph._nodes
    flags: dict[str, list[bool | None]] = {}
    for operation in graph.operations:
        values = []
        for index, node in enumerate(operation._inbound_nodes):
            if make_node_key(operation, index) in own:
                value = node.arguments.kwargs.get("training")
                values.append(value if isinstance(value, bool) else None)
        flags[operation.name] = values
    return flags


def weight_counts(layer: Any) -> dict[str, Any]:
    """A layer's variables, sublayers' included, split by their own trainable flag.

    Keras 3 freezes a variable, not only a layer: ``enable_lora`` sets the kernel's
    ``trainable`` to False and adds trainable LoRA matrices, and BatchNormalization's
    moving statistics are never trainable. An operation (``GetItem``) has none.
    """
    variables = list(getattr(layer, "weights", None) or [])
    frozen = [v for v in variables if not getattr(v, "trainable", True)]
    flatten = getattr(layer, "_flatten_layers", None)
    inner = list(flatten(include_self=True)) if callable(flatten) else [layer]
    ranks = [
        sub.lora_rank for sub in inner
        if getattr(sub, "lora_enabled", False) and isinstance(getattr(sub, "lora_rank", None), int)
    ]
    return {
        "trainable": len(variables) - len(frozen),
        "frozen": len(frozen),
        "frozen_names": sorted({_variable_name(v) for v in frozen}),
        "lora_rank": max(ranks) if ranks else None,
    }


def _probe(layer: Any, cache: dict[str, Any], *, holds_stochastic: bool) -> HolderProbe | None:
    """What calling the layer symbolically, as its first graph call did, shows
    (:func:`graphcheck.runtime.random_draws.probe_holder`). A ``keras.ops``
    operation recorded in the graph (``GetItem``) is Keras's own deterministic op,
    not a layer: nothing to call."""
    if not isinstance(layer, sys.modules["keras"].layers.Layer):
        return None
    node = next(
        (n for n in getattr(layer, "_inbound_nodes", []) if n.arguments.keras_tensors), None
    )
    if node is None:  # an InputLayer, or a layer never called on symbolic tensors
        return None
    return probe_holder(layer, node, class_origin, cache, holds_stochastic=holds_stochastic)


def _run_sublayers(
    layer: Any, inner: list[dict[str, Any]], ran_with: dict[int, dict[str, bool | None]] | None
) -> list[dict[str, Any]]:
    """The stochastic sublayers whose ``call`` ran in the symbolic calls, each with the
    ``training`` value it ran with per value its holder received (``ran_with``). A
    sublayer the holder keeps but never calls (GPT-NeoX's ``feedforward_dropout``)
    acts in no run. Where the call failed (None), every one is kept as it is: its
    activity then follows its holder's, erring towards "active"."""
    if ran_with is None:
        return inner
    kept = []
    for item in inner:
        sub = sublayer_at(layer, item["path"])
        if sub is None:  # not found again: claimed as before
            kept.append(item)
        elif values := ran_with.get(id(sub)):
            kept.append({**item, "ran_with": values})
    return kept


def _variable_name(variable: Any) -> str:
    """``kernel`` for ``dense/kernel``: the name a layer gives its variable."""
    return str(getattr(variable, "path", variable.name)).rsplit("/", 1)[-1]


def _build_shapes(model: Any) -> Any:
    """The input shape(s) a Keras 3 model was built with, or None."""
    config = model.get_build_config() if hasattr(model, "get_build_config") else None
    if not isinstance(config, Mapping):
        return None
    if "input_shape" in config:
        return config["input_shape"]
    shapes = config.get("shapes_dict")
    if isinstance(shapes, Mapping) and len(shapes) == 1:
        return next(iter(shapes.values()))
    return None


def _tf_keras_entry(model: Any, subject: str) -> dict[str, Any]:
    """tf_keras writes Functional and Sequential configs itself; flags come from memory.

    A subclassed model (its own ``call``, no graph network) is written as the
    Functional its ``call`` traces, under its own class name, name and flag.
    """
    if getattr(model, "_is_graph_network", False) or _is_tf_keras_sequential(model):
        try:
            config = model.get_config()
        except NotImplementedError:
            raise UnsupportedModelError(
                subject, f"{type(model).__name__} writes no config of its layer graph"
            ) from None
        entry = {"class_name": type(model).__name__, "config": config}
        _set_tf_keras_flags(entry, model)
        return entry
    traced = _trace_tf_keras(model, subject)
    entry = {"class_name": type(model).__name__, "config": traced.get_config()}
    _set_tf_keras_flags(entry, traced)
    entry["config"].update(name=model.name, trainable=model.trainable)
    return entry


def _is_tf_keras_sequential(model: Any) -> bool:
    return any(cls.__name__ == "Sequential" for cls in type(model).__mro__)


def _trace_tf_keras(model: Any, subject: str) -> Any:
    """A tf_keras Functional over the layers a subclassed model's ``call`` uses.

    As for Keras 3 (``_Keras3Describer.trace``): ``call``, not ``__call__`` (which
    would run the whole call as one op), on ``tf_keras.Input`` tensors of the shape
    the model was built with, batch left open, so every layer call records a node.
    """
    keras = sys.modules["tf_keras"]
    config = model.get_build_config() if hasattr(model, "get_build_config") else None
    shapes = config.get("input_shape") if isinstance(config, Mapping) else None
    if shapes is None:
        raise UnsupportedModelError(
            subject,
            f"subclassed model {type(model).__name__} has not been built: call it once "
            "or build it with an input shape before analysing it",
        )

    def symbolic(shape: Any) -> Any:
        if isinstance(shape, Mapping):
            return {key: symbolic(value) for key, value in shape.items()}
        dims = list(shape)
        if dims and isinstance(dims[0], (list, tuple)):  # several inputs
            return [symbolic(d) for d in dims]
        return keras.Input(shape=tuple(dims[1:]))

    try:
        inputs = symbolic(shapes)
        return keras.Model(inputs, model.call(inputs), name=model.name)
    except Exception as exc:
        first = str(exc).splitlines()[0][:160] if str(exc) else ""
        raise UnsupportedModelError(
            subject,
            f"the call of subclassed model {type(model).__name__} cannot be traced "
            f"symbolically ({type(exc).__name__}: {first})",
        ) from None


def _set_tf_keras_flags(
    entry: dict[str, Any], model: Any, probes: dict[str, Any] | None = None
) -> None:
    """Overwrite every stored trainable flag with the object's flag in memory.
    ``probes``: random-draw traces by layer structure (alike blocks are traced once)."""
    probes = {} if probes is None else probes
    config = entry["config"]
    config["trainable"] = model.trainable
    by_name = {layer.name: layer for layer in getattr(model, "_self_tracked_trackables", [])}
    by_name.update({layer.name: layer for layer in model.layers})
    for item in config.get("layers", []):
        layer = by_name.get(item.get("config", {}).get("name") or item.get("name"))
        if layer is None:
            continue
        if isinstance(item.get("config"), dict) and isinstance(item["config"].get("layers"), list):
            _set_tf_keras_flags(item, layer, probes)
        elif isinstance(item.get("config"), dict):
            item["config"]["trainable"] = layer.trainable
            item[WEIGHTS_KEY] = weight_counts(layer)
            own = tf_keras_own_random_draws(layer, probes)
            item[INNER_KEY] = inner_stochastic(layer, "keras2") + own
