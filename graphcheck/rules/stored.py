"""Walking what a file stores, for the load-safety rules: every object a loader reads.

The analysis sees layers; a loader sees more: activations, initializers,
regularizers, constraints, losses and metrics in ``compile_config``, wrapped layers,
and the ``module``/``registered_name`` of every serialised object. This module walks
the stored documents (``SavedModelDesc.stored``) as plain data and hands each object
to the rules with the layer path it sits under. Nothing named is imported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from graphcheck.layers import HUB_PACKAGES, KERAS_FAMILY
from graphcheck.readers.source import JSON_SCALARS, is_mapping

__all__ = [
    "KERAS_PACKAGES",
    "SUBLAYER_KEYS",
    "StoredObject",
    "StoredWalk",
    "is_keras_module",
    "keras_hub_layers",
    "keras_op_layers",
]

#: Packages whose classes and functions are Keras's own (Keras 3, Keras 2, KerasHub and
#: its predecessors, and TensorFlow for tf.keras files).
KERAS_PACKAGES = KERAS_FAMILY | {"tensorflow"}


class StoredObject(NamedTuple):
    """One object of a stored document that a loader deserialises (:attr:`StoredWalk.objects`).

    ``layer`` is the path of the layer entry it belongs to (``outer/mid/lam``; None
    at model level), ``key`` the key it is stored under in its parent (``activation``,
    ``function``, ``loss``), ``document`` the stored document (``config`` or
    ``training_config``), and ``is_layer`` whether it is itself a layer entry of a
    model's ``layers`` list.
    """

    value: Mapping[str, Any]
    layer: str | None
    key: str | None
    document: str
    is_layer: bool


def is_keras_module(module: Any) -> bool:
    """True for a module inside one of :data:`KERAS_PACKAGES` (or no module at all)."""
    if module is None:
        return True
    if not isinstance(module, str):
        return False
    return module.split(".", 1)[0] in KERAS_PACKAGES


class StoredWalk:
    """The objects of one file's stored documents, walked once for all the rules that
    read them (a big config holds hundreds of thousands); made by the rule runner for
    one model's rules, and gone with them."""

    __slots__ = ("_builders", "_objects", "stored")

    def __init__(self, stored: Mapping[str, Any]) -> None:
        self.stored = stored
        self._objects: tuple[StoredObject, ...] | None = None
        self._builders: tuple[StoredObject, ...] | None = None

    @property
    def objects(self) -> tuple[StoredObject, ...]:
        """Every object a loader deserialises, in every stored document, depth first,
        with its layer path: each object with a ``class_name`` (a serialised object),
        each with a ``function_type`` or ``output_shape_type`` (a Keras 2 Lambda's
        config), and each layer entry. Other objects (a layer's ``config``, its
        ``inbound_nodes``) are plain data to a loader: walked through, not kept."""
        if self._objects is None:
            self._objects = _walk(self.stored)
        return self._objects

    @property
    def builders(self) -> tuple[StoredObject, ...]:
        """The objects a loader builds a layer from: the layer entries of every model,
        and the layers a wrapper or an RNN builds from its own config (a
        ``TimeDistributed``'s ``layer``, a cell). Several rules read only these."""
        if self._builders is None:
            self._builders = tuple(item for item in self.objects if _builds_layer(item))
        return self._builders

    def layer_entries(self) -> Iterator[StoredObject]:
        """The layer entries of every model's ``layers`` list, at any depth."""
        return (o for o in self.builders if o.is_layer)


#: Keys under which a layer's config holds other layers that Keras builds with it
#: (TimeDistributed and Bidirectional, RNN cells, stacked cells).
SUBLAYER_KEYS = frozenset({"layer", "forward_layer", "backward_layer", "cell", "cells"})


def _builds_layer(item: StoredObject) -> bool:
    if item.is_layer:
        return True
    return (
        item.key in SUBLAYER_KEYS
        and isinstance(item.value.get("class_name"), str)
        and is_mapping(item.value.get("config"))
    )


def _walk(stored: Mapping[str, Any]) -> tuple[StoredObject, ...]:
    # The rules' hottest loop on a folder of models: the container test is inlined,
    # only containers are pushed (leaves are most of a config and never kept), and
    # the tuples are made without NamedTuple's keyword-handling constructor.
    found: list[StoredObject] = []
    keep = found.append
    make = tuple.__new__
    for document, root in stored.items():
        if not _is_container(root):
            continue
        stack: list[tuple[Any, str | None, str | None, bool]] = [(root, None, None, False)]
        pop, push = stack.pop, stack.append
        while stack:
            item, layer, key, is_layer = pop()
            if type(item) is list:
                entries = key == "layers"  # a model's "layers" list holds layer entries
                for value in reversed(item):
                    kind = type(value)
                    if kind in _PLAIN or (kind not in JSON_SCALARS and isinstance(value, Mapping)):
                        push((value, layer, key, entries))
                continue
            if is_layer:
                name = _entry_name(item)
                layer = f"{layer}/{name}" if layer else name
                keep(make(StoredObject, (item, layer, key, document, True)))
            elif "class_name" in item or "function_type" in item or "output_shape_type" in item:
                keep(make(StoredObject, (item, layer, key, document, False)))
            children = []
            for name, value in item.items():
                kind = type(value)
                if kind in _PLAIN or (kind not in JSON_SCALARS and isinstance(value, Mapping)):
                    children.append((value, layer, name, False))
            children.reverse()
            stack.extend(children)
    return tuple(found)


def _is_container(value: Any) -> bool:
    kind = type(value)
    return kind is dict or kind is list or (kind not in JSON_SCALARS and isinstance(value, Mapping))


_PLAIN = frozenset((dict, list))  # what json.loads makes: no isinstance test needed


def keras_op_layers(walk: StoredWalk, keras_version: str | None) -> set[tuple[str, str]]:
    """``(name, class_name)`` of Keras 3 op layers (``Cast``, ``Sum``) in the stored config.

    Keras 3 stores a ``keras.ops`` call on a symbolic tensor as a layer entry whose
    class is the op's class, with ``module: keras.src.ops.<part>``; its legacy ``.h5``
    writer drops the module, so there an op class name in a Keras 3 file counts.
    Those are Keras's own, not unknown classes.
    """
    from graphcheck.keras_ops import KERAS3_OP_CLASSES

    keras3 = (keras_version or "").split(".", 1)[0] == "3"
    found = set()
    for entry in walk.layer_entries():
        module, class_name = entry.value.get("module"), entry.value.get("class_name")
        if isinstance(module, str):
            ours = module.startswith(("keras.src.ops.", "keras.ops"))
        else:
            ours = keras3 and class_name in KERAS3_OP_CLASSES
        if ours:
            found.add((_entry_name(entry.value), str(class_name)))
    return found




def keras_hub_layers(walk: StoredWalk) -> set[tuple[str, str]]:
    """``(name, class_name)`` of layer entries of a KerasHub (keras_nlp, keras_cv) class.

    Such an entry says so by its ``module`` (``keras_hub.src.layers...``) and its
    ``registered_name`` (``keras_hub>TransformerEncoder``), or, in Keras 3's legacy
    ``.h5``, which drops both, by a ``class_name`` that is the registered name; one
    that names another package in any of them does not count, and neither does one
    that names none.
    """
    found = set()
    for entry in walk.layer_entries():
        module, registered = entry.value.get("module"), entry.value.get("registered_name")
        class_name = entry.value.get("class_name")
        marks: list[str | None] = []  # None: a field that names no package
        if isinstance(class_name, str) and ">" in class_name:
            marks.append(class_name.split(">", 1)[0])
        if module is not None:
            marks.append(module.split(".", 1)[0] if isinstance(module, str) else None)
        if registered is not None:
            marks.append(
                registered.split(">", 1)[0]
                if isinstance(registered, str) and ">" in registered else None
            )
        if marks and all(m in HUB_PACKAGES for m in marks):
            found.add((_entry_name(entry.value), str(entry.value.get("class_name"))))
    return found


def _entry_name(entry: Mapping[str, Any]) -> str:
    name = entry.get("name")
    if not isinstance(name, str):
        config = entry.get("config")
        name = config.get("name") if isinstance(config, Mapping) else None
    return name if isinstance(name, str) else "?"
