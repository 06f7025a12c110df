"""The model description: what a saved Keras file says, in one format-neutral shape.

Readers turn ``.h5``, ``.keras``, JSON and SavedModel metadata into these frozen
dataclasses; everything downstream (graph, analyses, reporters) reads only these.
Standard library only: no networkx, no TensorFlow, so every analysis can be tested
on a hand-built description.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CallDesc", "ContainerNote", "ContextWrite", "InnerLayer", "LayerDesc", "ModelDesc",
    "SavedModelDesc", "Shape", "TensorRef", "WeightCounts",
]

Shape = tuple[int | None, ...]


@dataclass(frozen=True, slots=True)
class TensorRef:
    """A tensor as a config names it: output ``tensor_index`` of call ``node_index``."""

    layer: str
    node_index: int
    tensor_index: int


@dataclass(frozen=True, slots=True)
class CallDesc:
    """One stored call of a layer (Keras's "inbound node").

    ``training`` is the ``training=`` value stored with the call, ``None`` when the
    config stores none. ``input_shapes`` runs parallel to ``inputs`` (Keras 3 records
    the shape of every input tensor; older formats record none). ``input_roles``,
    also parallel when recorded, says which argument each input was passed as: its
    position among the positional tensors (``"0"``, ``"1"``, ...) or the keyword
    (``"value"``, ``"key"``; ``"name[i]"`` for one of several under a keyword).
    """

    inputs: tuple[TensorRef, ...]
    training: bool | None = None
    input_shapes: tuple[Shape | None, ...] = ()
    input_roles: tuple[str, ...] = ()
    # The call stores ``training=None`` explicitly (JSON ``null``; ``training`` is then
    # None too): passed at the call site, which Keras 3.10 and later honour as a value
    # of its own, while Keras 2 and 3.0-3.9 read it as no flag.
    training_null: bool = False
    # Only for a call a subclassed model's Python ``call`` makes (read off a built
    # object, never from a file): per scenario ("fit", "predict", "call"), the
    # ``training`` value Keras resolved for it when the call was traced under that
    # scenario's call context; None where none was resolved.
    by_scenario: Mapping[str, bool | None] | None = None
    # Only for a tf_keras call: the keyword arguments stored with its first input
    # (a TFOpLambda's op arguments, positional ones by name: ``seed``,
    # ``deterministic``), as read from the file; None where none are stored.
    arguments: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class WeightCounts:
    """A built layer's variables (sublayers' included): trainable and frozen, by name."""

    trainable: int
    frozen: int
    frozen_names: tuple[str, ...] = ()
    lora_rank: int | None = None


@dataclass(frozen=True, slots=True)
class InnerLayer:
    """A stochastic layer held inside another (non-model) layer, found on a built object.

    ``path`` is relative to the holding layer (``self_attention_dropout``,
    ``attention/dropout``); it has no call in any stored graph, so it takes its
    ``training`` from the holding layer's call. ``origin`` is its class's
    ``(module, registered_name)`` as for :class:`LayerDesc` (None for tf_keras, whose
    class names are checked against the dialect's list).
    """

    path: str
    class_name: str
    config: Mapping[str, Any]
    trainable: bool | None
    origin: tuple[str | None, str | None] | None = None
    # A layer that draws random numbers in its own code (a DropPath), found by calling
    # the holder symbolically: ``path`` is "" when it is the holder itself; ``draws``
    # says, per ``training`` value the holder receives ("true", "false", "none": no
    # value), whether it drew; None when that call failed (``probe_error``).
    own_random: bool = False
    draws: Mapping[str, bool] | None = None
    probe_error: str | None = None
    # Found in the same symbolic calls, for a stochastic class graphcheck's tables
    # know: per ``training`` value the holder receives ("true", "false", "none"), the
    # value this sublayer's ``call`` ran with (None: none reached it); a key is
    # missing when its ``call`` did not run then. None: not known (no call made, or
    # it failed), so it follows its holder's value.
    ran_with: Mapping[str, bool | None] | None = None


@dataclass(frozen=True, slots=True)
class ContextWrite:
    """A ``training`` value a layer's call leaves in Keras's shared call context
    (``None``: it clears it), and what wrote it there, in words ("a Resizing layer
    created inside SpatialPyramidPooling's call")."""

    value: bool | None
    set_by: str


@dataclass(frozen=True, slots=True)
class LayerDesc:
    """One configured layer and the calls made of it in its enclosing model.

    ``config`` is the layer's stored config with Keras 1 argument names already
    mapped to today's (``p`` -> ``rate``). ``trainable`` is ``None`` when the file
    does not record the flag. ``submodel`` is set when the layer is itself a model
    with a layer graph.
    """

    name: str
    class_name: str
    config: Mapping[str, Any]
    calls: tuple[CallDesc, ...]
    trainable: bool | None
    submodel: ModelDesc | None = None
    # (module, registered_name) as a Keras 3-style entry records them; None when the
    # entry has neither key (Keras 1/2 configs, Keras 3 legacy .h5).
    origin: tuple[str | None, str | None] | None = None
    # Read off a built object (live or --rebuild), never from a file: how many of
    # the layer's own variables are trainable and how many frozen (BatchNorm's
    # moving statistics; a LoRA-enabled kernel). None when not known.
    weight_counts: WeightCounts | None = None
    # Also only from a built object: stochastic sublayers of a layer that is not a
    # model (a KerasHub TransformerEncoder's dropouts, a custom layer's Dropout).
    inner_stochastic: tuple[InnerLayer, ...] = ()
    # Also only from a built object (Keras 3): per ``training`` value the layer's call
    # resolves ("true", "false", "none": no value), the value the call leaves in the
    # call context when it is another one -- a layer it makes or calls resolved a
    # value of its own (its ``call`` default) and Keras 3.0-3.15 wrote it there for
    # every later layer. Empty: it leaves the value it came with, or not known.
    leaves_training: Mapping[str, ContextWrite] = field(default_factory=dict)
    # Also only from a built object (Keras 3): whether the layer's ``call`` takes a
    # ``training`` argument (``Layer._call_has_training_arg``); None when not known.
    # Keras 3.0-3.9 push a submodel's value only into calls that take one.
    takes_training: bool | None = None


@dataclass(frozen=True, slots=True)
class ModelDesc:
    """A Functional or Sequential model: its layers and its input and output tensors."""

    name: str
    class_name: str
    layers: tuple[LayerDesc, ...]
    inputs: tuple[TensorRef, ...]
    outputs: tuple[TensorRef, ...]
    trainable: bool | None
    is_sequential: bool = False
    # Built with an input: Keras 2 then gives the model a built-in node 0.
    has_input: bool = True
    # False for a Keras 3 subclassed model whose ``call`` has no ``training``
    # parameter: Keras's fit() and predict() then call it with no value at all, as
    # ``model(x)`` does (``Trainer.train_step``: ``self(x)``).
    receives_training: bool = True


@dataclass(frozen=True, slots=True)
class ContainerNote:
    """Something the container's own metadata says that a loader could act on.

    ``kind`` is one of ``zip-path``, ``zip-link``, ``zip-size``, ``zip-inflation``,
    ``hdf5-external-link``, ``hdf5-soft-link``, ``hdf5-external-storage``,
    ``hdf5-virtual``, ``hdf5-declared-size``, ``hdf5-objects``; ``where`` is the member
    or object path.
    """

    kind: str
    where: str
    detail: str


@dataclass(frozen=True, slots=True)
class SavedModelDesc:
    """A model as read from one file, with what the file says about its origin.

    ``dialect`` is the config style (``keras1``, ``keras2`` or ``keras3``), detected
    from the config itself, never from the file suffix. ``stored`` holds the
    stored documents as decoded JSON, for the checks that look at everything a
    loader reads (``config`` and, in HDF5, ``training_config``); ``container`` the
    notes from the container's metadata. ``source`` says where the layer graph came
    from, hence how static the answer is: ``stored config`` (read from the file),
    ``rebuilt with keras X.Y`` (``--rebuild``) or ``live object (keras X.Y)``;
    ``format`` is ``live`` for an object handed over in memory. ``from_object`` is
    True when the trainable flags were read off a built model object (live or
    rebuilt), so no loading step will reset them. ``has_graph`` is False for a file
    whose config stores no layer graph (a KerasHub task, a subclassed model), read
    only for the rules that need none (:func:`graphcheck.readers.read_stored`): its
    ``model`` is then empty.
    """

    path: str
    format: str
    keras_version: str | None
    backend: str | None
    dialect: str
    model: ModelDesc
    extra: Mapping[str, Any] = field(default_factory=dict)
    stored: Mapping[str, Any] = field(default_factory=dict)
    container: tuple[ContainerNote, ...] = ()
    source: str = "stored config"
    from_object: bool = False
    has_graph: bool = True
