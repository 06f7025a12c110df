"""Stored Keras model config (a JSON dict) -> :class:`~graphcheck.model.ModelDesc`.

Three config dialects exist, and a file's suffix does not say which one it holds
(Keras 3 writes its dict-style nodes into ``.h5``; tf.keras 2.13 wrote list-style
nodes into ``.keras``), so the dialect is read off the config itself:

- ``keras3``: a call is ``{"args": [...], "kwargs": {...}}`` whose tensors are
  ``{"class_name": "__keras_tensor__", "config": {"keras_history": [...], ...}}``.
- ``keras2``: a call is a list of ``[layer, node_index, tensor_index, kwargs]``.
- ``keras1``: a call is a list of ``[layer, node_index, tensor_index]``.

Nothing named by the config (modules, functions, Lambda bytecode) is imported or
run: the config is only read as data.
"""

from __future__ import annotations

import itertools
import reprlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from graphcheck.errors import ModelReadError, UnsupportedModelError, option
from graphcheck.keras_versions import major_version
from graphcheck.model import (
    CallDesc,
    ContextWrite,
    InnerLayer,
    LayerDesc,
    ModelDesc,
    Shape,
    TensorRef,
    WeightCounts,
)
from graphcheck.readers.source import JSON_SCALARS, is_mapping

__all__ = ["MODEL_CLASSES", "detect_dialect", "model_node_offset", "parse_model_config"]

MODEL_CLASSES = frozenset({"Functional", "Model", "Sequential"})
# tf_keras's marker for a call's first argument that is a constant, not a tensor.
_CONSTANT_VALUE = "_CONSTANT_VALUE"
# Deeper than any real model; stops hostile configs from exhausting the stack.
MAX_NESTING = 64

# Keras 1 argument names, by class, mapped to the names used since Keras 2.
_LEGACY_RENAMES: Mapping[str, Mapping[str, str]] = {
    "Dropout": {"p": "rate"},
    "SpatialDropout1D": {"p": "rate"},
    "SpatialDropout2D": {"p": "rate"},
    "SpatialDropout3D": {"p": "rate"},
    "GaussianDropout": {"p": "rate"},
    "GaussianNoise": {"sigma": "stddev"},
    "SimpleRNN": {"dropout_W": "dropout", "dropout_U": "recurrent_dropout"},
    "GRU": {"dropout_W": "dropout", "dropout_U": "recurrent_dropout"},
    "LSTM": {"dropout_W": "dropout", "dropout_U": "recurrent_dropout"},
}


#: Key a model object's describer (graphcheck.runtime.live) adds to layer entries;
#: honoured only with ``from_object=True``, so a file cannot claim weight counts.
WEIGHTS_KEY = "graphcheck_weight_counts"
INNER_KEY = "graphcheck_inner_stochastic"
#: Key the describer adds to a layer whose call, called symbolically, leaves in the
#: call context a ``training`` value other than the one it came with (a layer it
#: makes or calls writes its own default there): see ``LayerDesc.leaves_training``.
LEAVES_TRAINING_KEY = "graphcheck_leaves_training"
#: Key the describer adds to a layer entry: whether its ``call`` takes ``training``.
TAKES_TRAINING_KEY = "graphcheck_takes_training"
#: Key the describer adds to a model's config: False when its ``call`` takes no ``training``.
RECEIVES_TRAINING_KEY = "graphcheck_receives_training"
#: Key the describer adds to a layer traced in a subclassed model's ``call``: per
#: stored call, the ``training`` value resolved under each scenario's call context.
BY_SCENARIO_KEY = "graphcheck_training_by_scenario"


def parse_model_config(
    top: Mapping[str, Any], *, keras_version: str | None, subject: str, from_object: bool = False
) -> tuple[ModelDesc, str]:
    """Parse a stored model config into a model description.

    Parameters
    ----------
    top : mapping
        The stored ``{"class_name": ..., "config": ...}`` object.
    keras_version : str or None
        The saving Keras version recorded beside the config, used only when the
        config itself does not reveal its dialect.
    subject : str
        The file being read, for error messages.

    Returns
    -------
    (ModelDesc, str)
        The model and the detected dialect.

    Raises
    ------
    UnsupportedModelError
        The config describes a model without a layer graph (a subclassed model).
    ModelReadError
        The config is not shaped like a Keras model config.
    """
    if not isinstance(top, Mapping) or "class_name" not in top:
        raise ModelReadError(subject, 'model config has no "class_name": not a Keras model config')
    dialect = detect_dialect(top, keras_version)
    if not is_model_entry(top):
        raise UnsupportedModelError(
            subject,
            f"{_label(top.get('class_name'))} is a subclassed model: its config stores no "
            f"layer graph to analyse (use {option('rebuild')} to build it with the installed "
            "Keras, without weights, and analyse the built graph; or save it as a Functional or "
            "Sequential model)",
        )
    parser = _ConfigParser(dialect, subject, from_object)
    return parser.parse_model(top, depth=0), dialect


def is_model_entry(entry: Mapping[str, Any]) -> bool:
    """True when a layer entry is a Functional or Sequential model with a layer graph."""
    config = entry.get("config")
    if isinstance(config, list):  # Keras 1 / early Keras 2 Sequential: a bare list
        return entry.get("class_name") == "Sequential"
    if not is_mapping(config) or not isinstance(config.get("layers"), list):
        return False
    return entry.get("class_name") == "Sequential" or "input_layers" in config


def detect_dialect(top: Mapping[str, Any], keras_version: str | None) -> str:
    """Tell the config dialect from the first stored call; fall back on the version.

    A config without any stored call (a flat Sequential) reads the same in every
    dialect except for argument names, so the saving version decides there.
    """
    for node in _iter_nodes(top):
        if isinstance(node, Mapping):
            return "keras3"
        if isinstance(node, list):
            # Keras 2 writes [layer, node, tensor, kwargs]; Keras 1 only the triple.
            if major_version(keras_version) == 1 or _has_only_triples(node):
                return "keras1"
            return "keras2"
    major = major_version(keras_version)
    if major in (1, 2, 3):
        return f"keras{major}"
    return "keras3" if "module" in top else "keras2"


def model_node_offset(layer: LayerDesc, dialect: str, *, endpoint: bool) -> int:
    """How far a config shifts the node indices of a nested model's calls.

    A Functional starts out with a built-in node linking its inputs to its outputs,
    so its first call from an enclosing model is its node 1. Keras 1/2 configs keep
    that numbering everywhere (tf.keras ``functional._should_skip_first_node``; a
    Sequential has the node only if it was built with an input). Keras 3 configs
    keep it only in ``input_layers``/``output_layers`` (``Functional.get_config``:
    ``node_reindexing_map`` starts Functional layers at 1) and count call arguments
    from 0 (``serialize_node`` drops nodes outside the model), and a Keras 3
    Sequential is no Functional.
    """
    sub = layer.submodel
    if sub is None:
        return 0
    if dialect == "keras3":
        return 1 if endpoint and not sub.is_sequential else 0
    if not sub.is_sequential:
        return 1
    return 1 if sub.has_input else 0


def _iter_nodes(top: Mapping[str, Any]) -> Iterator[Any]:
    """Yield stored calls of every layer, depth first through nested models."""
    stack: list[Any] = [top]
    while stack:
        entry = stack.pop()
        config = entry.get("config") if isinstance(entry, Mapping) else None
        layers = config if isinstance(config, list) else (
            config.get("layers") if isinstance(config, Mapping) else None
        )
        if not isinstance(layers, list):
            continue
        for layer in layers:
            if not isinstance(layer, Mapping):
                continue
            nodes = layer.get("inbound_nodes")
            if isinstance(nodes, list) and nodes:
                yield nodes[0]
            stack.append(layer)


class _ConfigParser:
    """Parses one file's config; holds the dialect and the subject for messages."""

    def __init__(self, dialect: str, subject: str, from_object: bool = False) -> None:
        self.dialect = dialect
        self.subject = subject
        self.from_object = from_object

    def fail(self, problem: str) -> ModelReadError:
        return ModelReadError(self.subject, problem)

    # ---- models -------------------------------------------------------------

    def parse_model(self, entry: Mapping[str, Any], depth: int) -> ModelDesc:
        if depth > MAX_NESTING:
            raise self.fail(f"models nested more than {MAX_NESTING} deep")
        config = entry.get("config")
        if isinstance(config, list):
            return self.parse_sequential(entry, config, {}, depth)
        assert isinstance(config, Mapping)
        if entry.get("class_name") == "Sequential" or "input_layers" not in config:
            return self.parse_sequential(entry, config["layers"], config, depth)
        return self.parse_functional(entry, config, depth)

    def parse_functional(
        self, entry: Mapping[str, Any], config: Mapping[str, Any], depth: int
    ) -> ModelDesc:
        layers = tuple(self.parse_layer(item, depth) for item in config["layers"])
        duplicate = _first_duplicate(layer.name for layer in layers)
        if duplicate is not None:
            raise self.fail(f"two layers named {duplicate!r} in model {config.get('name')!r}")
        # The nested models of this scope, looked up once: rebuilding the map for
        # every layer made 100,000-layer configs take hours (quadratic).
        models = {layer.name: layer for layer in layers if layer.submodel is not None}
        layers = tuple(self.shift_model_node_indices(layer, models) for layer in layers)
        inputs = self.parse_endpoints(config.get("input_layers"), "input_layers")
        outputs = self.parse_endpoints(config.get("output_layers"), "output_layers")
        return ModelDesc(
            name=str(config.get("name") or entry.get("name") or "model"),
            class_name=str(entry.get("class_name")),
            layers=layers,
            inputs=self.shift_refs(inputs, models, endpoint=True),
            outputs=self.shift_refs(outputs, models, endpoint=True),
            trainable=_flag(config.get("trainable", entry.get("trainable"))),
            is_sequential=False,
            has_input=True,
            receives_training=not self.from_object
            or config.get(RECEIVES_TRAINING_KEY, True) is not False,
        )

    def parse_sequential(
        self,
        entry: Mapping[str, Any],
        items: Sequence[Any],
        config: Mapping[str, Any],
        depth: int,
    ) -> ModelDesc:
        if not isinstance(items, list) or not items:
            raise self.fail(f"Sequential model {config.get('name')!r} has no layers")
        name = str(config.get("name") or entry.get("name") or "sequential")
        parsed = [self.parse_layer(item, depth, in_sequential=True) for item in items]
        has_input = parsed[0].class_name == "InputLayer"
        if not has_input:
            first = parsed[0].config
            shape = first.get("batch_input_shape") or first.get("batch_shape")
            if shape is None and isinstance(first.get("input_shape"), (list, tuple)):
                shape = [None, *first["input_shape"]]
            has_input = shape is not None
            # tf.keras names the InputLayer it creates for a Sequential this way.
            input_name = f"{parsed[0].name}_input" if has_input else f"{name}_input"
            parsed.insert(
                0,
                LayerDesc(
                    name=input_name,
                    class_name="InputLayer",
                    config={"name": input_name, "batch_input_shape": shape},
                    calls=(),
                    trainable=None,
                ),
            )
        chained = [parsed[0]]
        for previous, layer in itertools.pairwise(parsed):
            call = CallDesc(inputs=(TensorRef(previous.name, 0, 0),))
            chained.append(_with_calls(layer, (call,)))
        duplicate = _first_duplicate(layer.name for layer in chained)
        if duplicate is not None:
            raise self.fail(f"two layers named {duplicate!r} in model {name!r}")
        return ModelDesc(
            name=name,
            class_name="Sequential",
            layers=tuple(chained),
            inputs=(TensorRef(chained[0].name, 0, 0),),
            outputs=(TensorRef(chained[-1].name, 0, 0),),
            # Keras 2 Sequential configs omit the flag: unknown, not trainable.
            trainable=_flag(config.get("trainable")),
            is_sequential=True,
            has_input=has_input,
        )

    # ---- layers -------------------------------------------------------------

    def parse_layer(
        self, item: Any, depth: int, *, in_sequential: bool = False
    ) -> LayerDesc:
        if not is_mapping(item) or not isinstance(item.get("class_name"), str):
            raise self.fail('a layer entry has no "class_name"')
        class_name = item["class_name"]
        config = item.get("config")
        # The stored dict itself (nothing downstream changes a config), copied only
        # where Keras 1 names are renamed or it is not a plain dict.
        if type(config) is not dict:
            config = dict(config) if is_mapping(config) else {}
        name = item.get("name", config.get("name"))
        if not isinstance(name, str) or not name:
            raise self.fail(f"a {_label(class_name)} layer has no name")
        if self.dialect != "keras3" and class_name in _LEGACY_RENAMES:
            config = dict(config)
            for old, new in _LEGACY_RENAMES[class_name].items():
                if old in config and new not in config:
                    config[new] = config.pop(old)
        submodel = self.parse_model(item, depth + 1) if is_model_entry(item) else None
        calls: tuple[CallDesc, ...] = ()
        if not in_sequential:
            nodes = item.get("inbound_nodes") or []
            if not isinstance(nodes, list):
                raise self.fail(f"layer {name!r}: inbound_nodes is not a list")
            calls = tuple(self.parse_call(node, name) for node in nodes)
            by_scenario = item.get(BY_SCENARIO_KEY) if self.from_object else None
            if isinstance(by_scenario, list) and len(by_scenario) == len(calls):
                # A traced call's node holds what one trace resolved (a None its code
                # passes under model(x) may be True under fit()): its values are
                # per scenario, not one stored flag.
                calls = tuple(
                    replace(
                        call, by_scenario={k: _flag(v) for k, v in flags.items()},
                        training_null=False,
                    )
                    for call, flags in zip(calls, by_scenario, strict=True)
                )
        trainable = config.get("trainable")
        if trainable is None and submodel is not None:
            trainable = submodel.trainable
        elif trainable is None and class_name != "InputLayer":
            trainable = True  # a plain layer's flag defaults to True when omitted
        origin = None
        if "module" in item or "registered_name" in item:
            origin = (_text_or_none(item.get("module")), _text_or_none(item.get("registered_name")))
        counts = item.get(WEIGHTS_KEY) if self.from_object else None
        inner = item.get(INNER_KEY) if self.from_object else None
        leaves = item.get(LEAVES_TRAINING_KEY) if self.from_object else None
        return LayerDesc(
            name=name,
            class_name=class_name,
            config=config,
            calls=calls,
            trainable=_flag(trainable),
            submodel=submodel,
            origin=origin,
            weight_counts=WeightCounts(**counts) if is_mapping(counts) else None,
            inner_stochastic=tuple(_inner_layer(entry) for entry in inner or ()),
            leaves_training=_leaves_training(leaves),
            takes_training=_takes_training(item) if self.from_object else None,
        )

    # ---- calls and tensors --------------------------------------------------

    def parse_call(self, node: Any, layer: str) -> CallDesc:
        if is_mapping(node):
            return self.parse_keras3_call(node, layer)
        if isinstance(node, list):
            return self.parse_legacy_call(node, layer)
        raise self.fail(f"layer {layer!r}: a stored call is neither a list nor an object")

    def parse_keras3_call(self, node: Mapping[str, Any], layer: str) -> CallDesc:
        refs: list[TensorRef] = []
        shapes: list[Shape | None] = []
        roles: list[str] = []
        stored = node.get("kwargs")
        kwargs: Mapping[str, Any] = stored if is_mapping(stored) else {}
        arguments = [(None, node.get("args")), *((str(k), v) for k, v in kwargs.items())]
        for keyword, value in arguments:
            tensors = list(_iter_keras3_tensors(value, self))
            for index, tensor in enumerate(tensors):
                history = tensor.get("keras_history")
                refs.append(self.tensor_ref(history, layer))
                shapes.append(_shape(tensor.get("shape")))
                roles.append(_role(keyword, index, len(tensors)))
        return CallDesc(
            tuple(refs), _flag(kwargs.get("training")), tuple(shapes), tuple(roles),
            training_null=_is_null_flag(kwargs),
        )

    def parse_legacy_call(self, node: list[Any], layer: str) -> CallDesc:
        refs: list[TensorRef] = []
        roles: list[str] = []
        training: bool | None = None
        training_null = False
        arguments: Mapping[str, Any] | None = None
        for position, item in enumerate(_iter_legacy_refs(node, self)):
            if position == 0 and len(item) == 4 and isinstance(item[3], Mapping):
                arguments = item[3]
            # tf_keras stores a constant first argument of an op (`0.5 * x` recorded
            # as math.multiply(0.5, y=x)) as [_CONSTANT_VALUE, -1, value, kwargs]:
            # no tensor, but its kwargs may hold the op's tensors.
            if item[:2] != [_CONSTANT_VALUE, -1]:
                refs.append(self.tensor_ref(item[:3], layer))
                roles.append(str(position))
            if len(item) == 4 and isinstance(item[3], Mapping):
                kwargs = item[3]
                if training is None and not training_null:
                    training = _flag(kwargs.get("training"))
                    training_null = _is_null_flag(kwargs)
                # Extra tensors passed by keyword (MHA's value=) ride in kwargs.
                for keyword, value in kwargs.items():
                    if keyword in ("training", "mask"):
                        continue
                    extras = list(_iter_legacy_refs([value], self))
                    for index, extra in enumerate(extras):
                        refs.append(self.tensor_ref(extra[:3], layer))
                        roles.append(_role(str(keyword), index, len(extras)))
        return CallDesc(
            tuple(refs), training, (), tuple(roles), arguments=arguments,
            training_null=training_null,
        )

    def tensor_ref(self, triple: Any, layer: str) -> TensorRef:
        if (
            isinstance(triple, (list, tuple))
            and len(triple) == 3
            and isinstance(triple[0], str)
            and isinstance(triple[1], int)
            and isinstance(triple[2], int)
            and not isinstance(triple[1], bool)
            and triple[1] >= 0
            and triple[2] >= 0
        ):
            return TensorRef(triple[0], triple[1], triple[2])
        # reprlib: bounded however big the value, and a newline in it stays escaped.
        raise self.fail(f"layer {layer!r}: malformed tensor reference {reprlib.repr(triple)}")

    def parse_endpoints(self, value: Any, key: str) -> Iterator[TensorRef]:
        if value is None:
            raise self.fail(f'model config has no "{key}"')
        if _is_triple(value):
            yield self.tensor_ref(value, key)
            return
        # A dict of tensors flattens in sorted key order (keras.tree / tf.nest), and
        # tensor indices into a model's outputs count in that order.
        items = [value[key] for key in sorted(value)] if isinstance(value, Mapping) else value
        if not isinstance(items, (list, tuple)) and not isinstance(value, Mapping):
            raise self.fail(f"{key} is malformed")
        for item in items:
            yield from self.parse_endpoints(item, key)

    def shift_model_node_indices(
        self, layer: LayerDesc, models: Mapping[str, LayerDesc]
    ) -> LayerDesc:
        """Rewrite a layer's references to nested models so node indices count from 0.

        ``models`` maps the names of the scope's nested-model layers to the layers.
        """
        if not layer.calls or not models:
            return layer
        calls = tuple(
            replace(call, inputs=self.shift_refs(call.inputs, models, endpoint=False))
            for call in layer.calls
        )
        return _with_calls(layer, calls)

    def shift_refs(
        self, refs: Iterable[TensorRef], models: Mapping[str, LayerDesc], *, endpoint: bool
    ) -> tuple[TensorRef, ...]:
        shifted = []
        for ref in refs:
            model = models.get(ref.layer)
            if model is not None:
                offset = model_node_offset(model, self.dialect, endpoint=endpoint)
                index = ref.node_index - offset
                count = len(model.calls)
                if not 0 <= index < count and ref.node_index < count:
                    index = ref.node_index  # a writer that did not count the built-in node
                ref = TensorRef(ref.layer, index, ref.tensor_index)
            shifted.append(ref)
        return tuple(shifted)


def _label(value: Any) -> str:
    """A file-supplied word for an error message: quoted when it could break the line."""
    text = str(value)
    return text if text.isprintable() and len(text) <= 80 else repr(text[:80])


def _first_duplicate(names: Iterable[str]) -> str | None:
    """The first name seen twice, in one pass (``list.count`` per name was quadratic)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _with_calls(layer: LayerDesc, calls: tuple[CallDesc, ...]) -> LayerDesc:
    return LayerDesc(
        layer.name, layer.class_name, layer.config, calls, layer.trainable, layer.submodel,
        layer.origin, layer.weight_counts, layer.inner_stochastic, layer.leaves_training,
        layer.takes_training,
    )


def _has_only_triples(node: list[Any]) -> bool:
    """True when a stored call lists its tensors as bare triples (Keras 1)."""
    entries = [entry for entry in node if isinstance(entry, list)]
    return bool(entries) and all(len(entry) == 3 and _is_triple(entry) for entry in entries)


def _is_triple(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 3
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    )


def _iter_keras3_tensors(value: Any, parser: _ConfigParser) -> Iterator[Mapping[str, Any]]:
    """Yield every ``__keras_tensor__`` config in a stored call, in argument order."""
    # Called for every argument of every call: exact type tests (what json.loads
    # makes) come before the slower abstract Mapping test.
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            raise parser.fail("a stored call is nested too deeply")
        if type(item) in JSON_SCALARS:
            continue
        if isinstance(item, list):
            stack.extend([(v, depth + 1) for v in reversed(item)])
        elif is_mapping(item):
            if item.get("class_name") == "__keras_tensor__":
                config = item.get("config")
                if not is_mapping(config):
                    raise parser.fail("a stored tensor has no config")
                yield config
            else:
                stack.extend([(v, depth + 1) for v in reversed(list(item.values()))])


def _iter_legacy_refs(value: Any, parser: _ConfigParser) -> Iterator[list[Any]]:
    """Yield every ``[layer, node, tensor(, kwargs)]`` entry of a Keras 1/2 call."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            raise parser.fail("a stored call is nested too deeply")
        if isinstance(item, list) and item and isinstance(item[0], str):
            if len(item) in (3, 4) and _is_triple(item[:3]):
                yield item
            continue
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in reversed(item))


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None



def _inner_layer(entry: Mapping[str, Any]) -> InnerLayer:
    """An inner stochastic layer as the live describer wrote it (origin back to a tuple)."""
    origin = entry.get("origin")
    return InnerLayer(**{**entry, "origin": tuple(origin) if origin is not None else None})

def _leaves_training(entry: Any) -> Mapping[str, ContextWrite]:
    """What the live describer found a layer's call leaves in the call context."""
    if not isinstance(entry, Mapping):
        return {}
    return {
        str(key): ContextWrite(_flag(item.get("value")), str(item.get("set_by", "")))
        for key, item in entry.items()
        if key in ("true", "false", "none") and isinstance(item, Mapping)
    }


def _role(keyword: str | None, index: int, count: int) -> str:
    """The argument a stored call's input was passed as (see ``CallDesc.input_roles``)."""
    if keyword is None:
        return str(index)
    return keyword if count == 1 else f"{keyword}[{index}]"


def _shape(value: Any) -> Shape | None:
    if not isinstance(value, list):
        return None
    if all(d is None or type(d) is int or (isinstance(d, int) and not isinstance(d, bool))
           for d in value):
        return tuple(value)
    return None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _takes_training(item: Mapping[str, Any]) -> bool | None:
    value = item.get(TAKES_TRAINING_KEY)
    return value if isinstance(value, bool) else None


def _is_null_flag(kwargs: Mapping[str, Any]) -> bool:
    """Whether stored call kwargs pass ``training=None`` explicitly."""
    return "training" in kwargs and kwargs["training"] is None
