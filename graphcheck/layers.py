"""What graphcheck knows about each Keras layer class, as data.

For every class: whether it can inject randomness and how (its stochastic *kind*),
whether its behaviour depends on the training mode (BatchNormalization), whether it
holds weights, and the default of ``training`` in its ``call`` signature, which is
what it receives when nothing else decides. Unknown classes get a cautious default:
stochasticity and weights unknown.

What each stochastic kind is and does (its Keras classes, the config key of its
strength, its granularity) is in its record in :mod:`graphcheck.kinds`; this module
reads it, and re-exports :class:`~graphcheck.kinds.Stochastic` for its older callers.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphcheck.kinds import KINDS, Stochastic, facts_of
from graphcheck.tf_random_ops import op_draws, op_samples

__all__ = [
    "BATCH_NORM_CLASSES",
    "OWN_RANDOM_SPEC",
    "LayerInfo",
    "Stochastic",
    "StochasticSpec",
    "is_keras_op",
    "is_stochastic_depth",
    "keras_layer_info",
    "layer_info",
    "looks_like_dropout",
    "stochastic_spec",
]


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """Static facts about one layer class."""

    known: bool
    stochastic: Stochastic | None = None
    mode_dependent: bool = False
    has_weights: bool | None = False
    # Default of `training` in Keras 3's `call` signature, what the layer gets when
    # nothing passes one; None when `call` has no `training` or defaults it to None.
    training_default: bool | None = None
    has_code: bool = False  # stores Python code (Lambda): unsafe to load


@dataclass(frozen=True, slots=True)
class StochasticSpec:
    """How strongly a configured stochastic layer acts, read from its config.

    ``rate`` is the dropout rate (or stddev for GaussianNoise); ``recurrent_rate``
    the recurrent dropout of RNNs. ``granularity`` says what one random draw covers.
    """

    kind: Stochastic
    rate: float | None
    parameter: str
    granularity: str
    recurrent_rate: float | None = None
    wrapped: str | None = None

    @property
    def is_noop(self) -> bool:
        """True when the configured strength makes the layer the identity."""
        rates = [r for r in (self.rate, self.recurrent_rate) if r is not None]
        return bool(rates) and all(r <= 0 for r in rates)


#: The spec of a layer that draws random numbers in its own code: no rate is known.
OWN_RANDOM_SPEC = StochasticSpec(
    Stochastic.OWN_RANDOM, None, KINDS[Stochastic.OWN_RANDOM].parameter,
    KINDS[Stochastic.OWN_RANDOM].granularity,
)

_NO_WEIGHTS = LayerInfo(known=True)
_WEIGHTS = LayerInfo(known=True, has_weights=True)
_RNN = LayerInfo(known=True, has_weights=True, training_default=False)
_AUGMENT = LayerInfo(known=True, stochastic=Stochastic.AUGMENTATION, training_default=True)
# Deterministic Keras 3 preprocessing whose `call` still defaults training=True.
_DEFAULT_TRUE = LayerInfo(known=True, training_default=True)


def _noise(kind: Stochastic) -> LayerInfo:
    return LayerInfo(known=True, stochastic=kind, training_default=False)


#: The BatchNormalization classes: batch statistics in training, moving ones in inference.
BATCH_NORM_CLASSES = frozenset({"BatchNormalization", "SyncBatchNormalization"})

_TABLE: Mapping[str, LayerInfo] = {
    **{name: _noise(facts.kind) for facts in KINDS.values() for name in facts.classes},
    **{
        name: LayerInfo(known=True, mode_dependent=True, has_weights=True)
        for name in sorted(BATCH_NORM_CLASSES)
    },
    "Attention": LayerInfo(known=True, has_weights=True, training_default=False),
    "AdditiveAttention": LayerInfo(known=True, has_weights=True, training_default=False),
    "SpectralNormalization": LayerInfo(known=True, has_weights=True, training_default=False),
    "InputLayer": _NO_WEIGHTS,
    # Keras's own class, but its stored code may do anything: stochasticity unknown.
    # It holds no weights: neither Keras tracks a variable its function makes or uses.
    "Lambda": LayerInfo(known=False, has_weights=False, has_code=True),
    "TFOpLambda": _NO_WEIGHTS,
    "SlicingOpLambda": _NO_WEIGHTS,
    "Resizing": _DEFAULT_TRUE,
    "CenterCrop": _DEFAULT_TRUE,
    "AutoContrast": _DEFAULT_TRUE,
    "Equalization": _DEFAULT_TRUE,
    "ContrastLimitedAdaptiveHistogramEqualization": _DEFAULT_TRUE,
    "MaxNumBoundingBoxes": _DEFAULT_TRUE,
    "Pipeline": _DEFAULT_TRUE,
    "Merge": _NO_WEIGHTS,  # Keras 1 merge layer
    "TimeDistributedDense": _WEIGHTS,  # Keras 1
    "Convolution1D": _WEIGHTS,
    "Convolution2D": _WEIGHTS,
    "Convolution3D": _WEIGHTS,
    "Deconvolution2D": _WEIGHTS,
    "AtrousConvolution2D": _WEIGHTS,
    "Highway": _WEIGHTS,
    "MaxoutDense": _WEIGHTS,
}

# Classes whose behaviour does not depend on `training`, by name pattern; the
# weight-bearing ones first.
_WEIGHTED = re.compile(
    r"^(Dense|EinsumDense|Embedding|(Separable|Depthwise)?Conv(olution)?[123]D(Transpose)?"
    r"|Conv[123]DTranspose|LocallyConnected[12]D|PReLU|LayerNormalization|GroupNormalization"
    r"|UnitNormalization|RMSNormalization|Normalization|SimpleRNN|GRU|LSTM|CuDNNGRU|CuDNNLSTM"
    r"|ConvLSTM[123]D|RNN|Bidirectional|TimeDistributed|MultiHeadAttention|GroupedQueryAttention|GroupQueryAttention"
    r"|Attention|AdditiveAttention|TextVectorization|StringLookup|IntegerLookup|Discretization"
    r"|HashedCrossing|Hashing|CategoryEncoding)$"
)
_PLAIN = re.compile(
    r"^(Activation|ReLU|LeakyReLU|ELU|ThresholdedReLU|Softmax|Flatten|Reshape|Permute"
    r"|RepeatVector|Concatenate|Add|Subtract|Multiply|Average|Maximum|Minimum|Dot|Masking"
    r"|Identity|Rescaling|Resizing|CenterCrop|ActivityRegularization|Cropping[123]D"
    r"|ZeroPadding[123]D|UpSampling[123]D|(Global)?(Max|Average|Avg)Pool(ing)?[123]D"
    r"|(Max|Average|Avg)Pooling[123]D|Wrapper|Input)$"
)
_RNN_CLASSES = re.compile(r"^(SimpleRNN|GRU|LSTM|ConvLSTM[123]D|RNN|CuDNNGRU|CuDNNLSTM)$")
# Keras 3 stores GroupedQueryAttention under its exported name, GroupQueryAttention.
_GROUPED_QUERY = frozenset({"GroupQueryAttention", "GroupedQueryAttention"})
_ATTENTION = frozenset({"Attention", "AdditiveAttention", "MultiHeadAttention", *_GROUPED_QUERY})
#: Keras 3 classes whose weights live in sublayers made in ``build()``, which their
#: config does not record: a loaded layer's own ``trainable=False`` sets only the
#: flag of the variables it adds itself, so these sublayers' variables still train
#: (measured on 3.15.1; ``keras/src/layers/layer.py``, ``trainable`` setter).
KERAS3_UNSAVED_SUBLAYER_WEIGHTS = frozenset(
    {"MultiHeadAttention", *_GROUPED_QUERY, "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"}
)
# Random augmentation layers, exactly as each Keras defines them (the classes of
# tf_keras 2.21's and keras 3.15's `layers` that take a `seed`, less the noise,
# recurrent and attention layers). Never a name pattern: a user's own
# `RandomWeightedAverage` is no Keras augmentation layer.
_AUGMENTATION_KERAS2 = frozenset(
    {"RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomHeight",
     "RandomRotation", "RandomTranslation", "RandomWidth", "RandomZoom"}
)
_AUGMENTATION_KERAS3 = frozenset(
    {"AugMix", "CutMix", "MixUp", "RandAugment", "RandomBrightness", "RandomColorDegeneration",
     "RandomColorJitter", "RandomContrast", "RandomCrop", "RandomElasticTransform",
     "RandomErasing", "RandomFlip", "RandomGaussianBlur", "RandomGrayscale", "RandomHue",
     "RandomInvert", "RandomPerspective", "RandomPosterization", "RandomRotation",
     "RandomSaturation", "RandomSharpness", "RandomShear", "RandomTranslation", "RandomZoom",
     "Solarization"}
)
_AUGMENTATION_BY_DIALECT: Mapping[str, frozenset[str]] = {
    "keras1": frozenset(),  # Keras 1 had no augmentation layers
    "keras2": _AUGMENTATION_KERAS2,
    "keras3": _AUGMENTATION_KERAS3,
}
_AUGMENTATION = _AUGMENTATION_KERAS2 | _AUGMENTATION_KERAS3
# Classes no Keras 1/2 defines: in a Keras 1/2 config the name is a user's class.
_KERAS3_ONLY = (_AUGMENTATION_KERAS3 - _AUGMENTATION_KERAS2) | _GROUPED_QUERY
# Config keys every layer has (Keras 1-3), beyond which a Dropout has only these.
_BASE_KEYS = frozenset(
    {"name", "trainable", "dtype", "autocast", "activity_regularizer", "batch_input_shape",
     "batch_shape", "batch_size", "input_dim", "input_length", "input_shape", "dynamic"}
)
_DROPOUT_KEYS = frozenset({"rate", "noise_shape", "seed"})
_OPAQUE = LayerInfo(known=False, has_weights=None)
#: A ``keras.ops`` operation recorded in a Functional graph: Keras's own code, no
#: weights, no ``training``, and no randomness: random numbers come from
#: ``keras.random``, whose functions record no graph node, except in the operations
#: below, which draw a seed themselves (``keras.src.ops``, Keras 3.15).
_KERAS_OP = LayerInfo(known=True, has_weights=False)
_DRAWING_KERAS_OPS = frozenset({"ElasticTransform"})


@functools.cache  # asked once per call of a class; the patterns need not run each time
def layer_info(class_name: str) -> LayerInfo:
    """Return the static facts for a Keras layer class, by its name alone.

    Unknown names get a cautious default. Whether a class in a file *is* Keras's
    is for :func:`keras_layer_info` to say, which every analysis asks.
    """
    if class_name in _TABLE:
        return _TABLE[class_name]
    if class_name in _AUGMENTATION:
        return _AUGMENT
    if _WEIGHTED.match(class_name):
        return _RNN if _RNN_CLASSES.match(class_name) else _WEIGHTS
    if _PLAIN.match(class_name):
        return _NO_WEIGHTS
    return _OPAQUE


Origin = tuple[str | None, str | None] | None


#: The packages Keras's own classes are recorded from: ``keras`` (Keras 3, and tf.keras
#: 2.13-2.15 writing ``keras.src...``) and ``tf_keras`` (tf_keras 2.15+ writes
#: ``tf_keras.src.layers...`` for its op layers such as TFOpLambda).
KERAS_PACKAGES = frozenset({"keras", "tf_keras"})
#: KerasHub and its predecessors: Keras-defined classes, registered as ``keras_hub>Name``.
HUB_PACKAGES = frozenset({"keras_hub", "keras_nlp", "keras_cv"})
#: Every package whose classes are Keras's own: Keras 3, Keras 2 and KerasHub.
KERAS_FAMILY = KERAS_PACKAGES | HUB_PACKAGES


def is_keras_op(origin: Origin) -> bool:
    """True for a ``keras.ops`` operation a Functional graph records (``GetItem`` for
    ``x[:, 0]``), by the module Keras 3 defines its operations in: ``keras.src.ops``
    (``keras.ops`` re-exports them). An operation is no layer: it holds no weights and
    no sublayers, and takes no ``training``.
    """
    if origin is None or origin[0] is None:
        return False
    parts = origin[0].split(".")
    return parts[0] == "keras" and (parts[1:2] == ["ops"] or parts[1:3] == ["src", "ops"])


#: keras.applications ConvNeXt's ``StochasticDepth`` (Keras 2.9+, tf_keras, Keras 3):
#: ``call(x, training=None)`` keeps each sample with probability 1-rate, scaled by
#: 1/(1-rate), when ``training`` is truthy, else passes ``x`` through. Its name is no
#: Keras layer's: it is known only by the module a file records for it.
_STOCHASTIC_DEPTH = "StochasticDepth"
_DROP_PATH_INFO = LayerInfo(known=True, stochastic=Stochastic.DROP_PATH)

#: The layer classes keras.applications defines for its own models, by (application
#: module, class), as read in their code (Keras 3.15, tf_keras 2.21): ConvNeXt's
#: ``LayerScale`` multiplies by a trained ``gamma``; InceptionResNetV2's
#: ``CustomScaleLayer`` computes ``inputs[0] + inputs[1] * scale``. Neither draws
#: random numbers or reads ``training``.
_APPLICATION_CLASSES: Mapping[tuple[str, str], LayerInfo] = {
    ("convnext", _STOCHASTIC_DEPTH): _DROP_PATH_INFO,
    ("convnext", "LayerScale"): _WEIGHTS,
    ("inception_resnet_v2", "CustomScaleLayer"): _NO_WEIGHTS,
}


#: KerasHub classes known by the module their class is defined in. KerasHub's
#: ``CachedMultiHeadAttention`` subclasses ``MultiHeadAttention`` and runs its
#: ``_compute_attention``, so its ``dropout`` zeroes attention weights through the
#: Dropout it holds, as MultiHeadAttention's does.
_HUB_CLASSES: Mapping[tuple[str, str], str] = {
    ("cached_multi_head_attention", "CachedMultiHeadAttention"): "MultiHeadAttention",
}


def _hub_class(class_name: str, module: str, registered: str | None) -> str | None:
    """The Keras class a KerasHub class acts as (its module and registered name checked)."""
    parts = module.split(".")
    package = parts[0]
    if package not in HUB_PACKAGES or registered not in (None, f"{package}>{class_name}"):
        return None
    return _HUB_CLASSES.get((parts[-1], class_name))


def _application(module: str | None) -> str | None:
    """The keras.applications module a class is defined in (``"convnext"``), from the
    module a file records: ``keras.applications.convnext`` (Keras 2.9-2.12),
    ``keras.src.applications.convnext`` (Keras 2.13-2.15 and 3) or
    ``tf_keras.src.applications.convnext``; None for any other module."""
    if module is None:
        return None
    parts = module.split(".")
    if parts[1:2] == ["src"]:
        parts = parts[:1] + parts[2:]
    if parts[0] in ("keras", "tf_keras") and len(parts) == 3 and parts[1] == "applications":
        return parts[2]
    return None


def is_stochastic_depth(class_name: str, module: str | None) -> bool:
    """True for ConvNeXt's ``StochasticDepth``, by the module its class is defined in."""
    return class_name == _STOCHASTIC_DEPTH and _application(module) == "convnext"


@functools.lru_cache(maxsize=4096)  # asked several times per call by every analysis
def keras_layer_info(class_name: str, dialect: str, origin: Origin = None) -> LayerInfo:
    """The static facts for a class in a file, if Keras itself defines it; else opaque.

    ``origin`` is the entry's ``(module, registered_name)`` where the file records
    them (Keras 3 configs, tf_keras JSON): Keras's own classes come from ``keras``,
    ``tf_keras`` or a module below them and carry no registered name of their own; a
    user's class has its module (or None for ``__main__``) and a registered name
    such as ``Custom>Name``. Without
    them (Keras 1/2 configs, Keras 3 legacy .h5), a ``Package>Name`` class name is a
    registered custom class, and the name must be one the file's Keras dialect
    defines. Everything else is opaque: stochasticity unknown.
    """
    if origin is not None:
        module, registered = origin
        if is_keras_op(origin) and registered in (None, class_name):
            # ElasticTransform draws from Keras's global seed generator unless given
            # an integer seed: not a deterministic op.
            return _OPAQUE if class_name in _DRAWING_KERAS_OPS else _KERAS_OP
        hub = _hub_class(class_name, module, registered) if module is not None else None
        if hub is not None:
            return layer_info(hub)
        if module is None or module.split(".", 1)[0] not in KERAS_PACKAGES:
            return _OPAQUE
        application = _application(module)
        if application is not None and (application, class_name) in _APPLICATION_CLASSES:
            # tf_keras registers InceptionResNetV2's CustomScaleLayer in the default
            # package, so its files record "Custom>CustomScaleLayer".
            if registered in (None, class_name, f"Custom>{class_name}"):
                return _APPLICATION_CLASSES[(application, class_name)]
            return _OPAQUE
        if registered is not None and registered != class_name:
            return _OPAQUE
    elif ">" in class_name:
        return _OPAQUE
    if dialect != "keras3" and class_name in _KERAS3_ONLY:
        return _OPAQUE
    by_dialect = _AUGMENTATION_BY_DIALECT.get(dialect, _AUGMENTATION)
    if class_name in _AUGMENTATION and class_name not in by_dialect:
        return _OPAQUE
    return layer_info(class_name)


def looks_like_dropout(config: Mapping[str, Any]) -> bool:
    """True when a config holds a ``rate`` and, beyond every layer's keys, only Dropout's.

    Said of opaque classes: such a class is most likely a Dropout subclass (often
    a Monte Carlo dropout that overrides ``training``), whose mode no file records.
    """
    own = set(config) - _BASE_KEYS
    return "rate" in own and own <= _DROPOUT_KEYS


def stochastic_spec(
    class_name: str,
    config: Mapping[str, Any],
    dialect: str,
    origin: Origin = None,
    arguments: Mapping[str, Any] | None = None,
) -> StochasticSpec | None:
    """Describe the randomness a configured layer can inject, or None if it injects none.

    Only classes Keras defines (:func:`keras_layer_info`) are described. RNN and
    attention layers count only when a dropout rate above 0 is configured; the
    Dropout family counts at every rate (rate 0 is reported as a no-op). A
    ``TFOpLambda`` counts when its op draws random numbers with the call's stored
    ``arguments`` (:func:`graphcheck.tf_random_ops.op_draws`).
    """
    info = keras_layer_info(class_name, dialect, origin)
    if not info.known:
        return None
    kind = info.stochastic
    if kind is not None:
        facts = facts_of(kind)
        granularity = facts.granularity
        if kind in (Stochastic.DROPOUT, Stochastic.ALPHA_DROPOUT, Stochastic.GAUSSIAN_DROPOUT):
            granularity = _noise_granularity(config, granularity)
        rate = _rate(config, facts.parameter) if facts.has_rate else None
        return StochasticSpec(kind, rate, facts.parameter, granularity)
    if class_name == "TFOpLambda" and _is_op_dropout(config):
        op = facts_of(Stochastic.OP_DROPOUT)  # its rate is an argument of the call
        return StochasticSpec(op.kind, None, op.parameter, op.granularity)
    if class_name == "TFOpLambda" and op_draws(config.get("function"), arguments):
        op = facts_of(Stochastic.OP_RANDOM)
        granularity = "each drawn value" if op_samples(config["function"]) else op.granularity
        return StochasticSpec(op.kind, None, op.parameter, granularity)
    if class_name in ("Bidirectional", "TimeDistributed"):
        return _wrapped_spec(config, dialect)
    if _RNN_CLASSES.match(class_name):
        dropout, recurrent = _rnn_rates(config)
        if dropout > 0 or recurrent > 0:
            rnn = facts_of(Stochastic.RNN_DROPOUT)
            return StochasticSpec(
                rnn.kind, dropout, rnn.parameter, rnn.granularity, recurrent_rate=recurrent
            )
        return None
    if _acts_as(class_name, origin) in _ATTENTION:
        attention = facts_of(Stochastic.ATTENTION_DROPOUT)
        rate = _rate(config, attention.parameter) or 0.0
        if rate > 0:
            return StochasticSpec(attention.kind, rate, attention.parameter, attention.granularity)
    return None


def _acts_as(class_name: str, origin: Origin) -> str:
    """The Keras class a (KerasHub) class acts as, by its recorded module; else itself."""
    if origin is None or origin[0] is None:
        return class_name
    return _hub_class(class_name, origin[0], origin[1]) or class_name


def _wrapped_spec(config: Mapping[str, Any], dialect: str) -> StochasticSpec | None:
    inner_entries = [config.get("layer"), config.get("forward_layer"), config.get("backward_layer")]
    for entry in inner_entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("class_name"), str):
            continue
        inner = entry.get("config")
        inner_config: Mapping[str, Any] = inner if isinstance(inner, Mapping) else {}
        origin = None
        if "module" in entry or "registered_name" in entry:
            module, registered = entry.get("module"), entry.get("registered_name")
            origin = (module if isinstance(module, str) else None,
                      registered if isinstance(registered, str) else None)
        spec = stochastic_spec(entry["class_name"], inner_config, dialect, origin)
        if spec is not None:
            return StochasticSpec(
                spec.kind,
                spec.rate,
                spec.parameter,
                spec.granularity,
                spec.recurrent_rate,
                wrapped=entry["class_name"],
            )
    return None


def _rnn_rates(config: Mapping[str, Any]) -> tuple[float, float]:
    """Dropout and recurrent dropout of an RNN layer, its cell, or its stacked cells."""
    dropout = _rate(config, "dropout") or 0.0
    recurrent = _rate(config, "recurrent_dropout") or 0.0
    cell = config.get("cell")
    cells: list[Any] = []
    if isinstance(cell, Mapping):
        stored = cell.get("config")
        cell_config: Mapping[str, Any] = stored if isinstance(stored, Mapping) else {}
        stacked = cell_config.get("cells")
        cells = stacked if isinstance(stacked, list) else [cell]
    for item in cells:
        if isinstance(item, Mapping) and isinstance(item.get("config"), Mapping):
            dropout = max(dropout, _rate(item["config"], "dropout") or 0.0)
            recurrent = max(recurrent, _rate(item["config"], "recurrent_dropout") or 0.0)
    return dropout, recurrent


def _rate(config: Mapping[str, Any], key: str) -> float | None:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    rate = float(value)
    return rate if math.isfinite(rate) else None  # 1e309 or NaN: not a usable rate


def _noise_granularity(config: Mapping[str, Any], granularity: str) -> str:
    """Refine ``granularity`` by a Dropout ``noise_shape``: axes of size 1 share one draw."""
    noise_shape = config.get("noise_shape")
    if not isinstance(noise_shape, (list, tuple)):
        return granularity
    shared = [axis for axis, size in enumerate(noise_shape) if size == 1]
    if not shared:
        return granularity
    return f"{granularity}, shared along axes " + ", ".join(str(a) for a in shared)


def _is_op_dropout(config: Mapping[str, Any]) -> bool:
    function = config.get("function")
    return isinstance(function, str) and function in ("nn.dropout", "compat.v1.nn.dropout")
