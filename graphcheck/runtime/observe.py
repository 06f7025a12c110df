"""Ground truth: what a loaded Keras model really does in fit, predict and call.

`observe` wraps the `call` of every stochastic and mode-dependent layer at every
nesting depth, runs the model once per scenario and records, per call, the
`training` value the layer received and whether it acted (dropped units, added
noise, used batch statistics, moved its moving statistics).  It also records
which weight-bearing layers changed in one `fit()` step.

Keys are layer paths relative to the top model, nested model names joined with
"/" (``base/dropout_3``), *without* graphcheck's ``@k`` call suffixes: at run time
one cannot always tell which call of a shared layer is which, so every key holds
the list of its calls in execution order.

TensorFlow and Keras are imported inside functions only.  Every scenario runs
eagerly (``tf.config.run_functions_eagerly``) so that plain Python side effects
record every call, including those that `fit()` would otherwise trace into a
`tf.function`; the `training` values Keras passes do not depend on this.  The
model's variables are restored after every scenario, so scenarios do not leak
into each other and the caller's model is left as it was (apart from `compile`).
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphcheck.graph import escape_name
from graphcheck.layers import BATCH_NORM_CLASSES, HUB_PACKAGES, is_stochastic_depth
from graphcheck.semantics import RUN_SCENARIOS as SCENARIOS

#: Layers whose only job is to drop or perturb units (rate/stddev in the config).
DROPOUT_CLASSES = frozenset(
    {
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
    }
)
#: Dropout-family classes whose kept units are exactly input / (1 - rate).
INVERTED_CLASSES = frozenset(
    {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"}
)
WRAPPER_CLASSES = frozenset({"Bidirectional", "TimeDistributed"})

_SUFFIX = re.compile(r"@\d+$")


def strip_call_suffixes(path: str) -> str:
    """Return `path` with graphcheck's ``@k`` call suffix removed from every component.

    Examples
    --------
    >>> strip_call_suffixes("tower@2/dropout@1")
    'tower/dropout'
    """
    return "/".join(_SUFFIX.sub("", part) for part in path.split("/"))


@dataclass(frozen=True)
class CallRecord:
    """One call of one instrumented layer.

    `active` is True when the call's output differed from what the same call
    returns with ``training=False``: its input, for the Dropout family, which is
    the identity then; a second call of the layer for RNNs, attention and
    augmentation; for BatchNormalization, whether its moving statistics changed.
    `fraction_zeroed`, `scaled_exactly` and `draws` (how many independent mask
    draws covered the non-zero inputs, for a binomial tolerance) are set for the
    Dropout family only; `batch_stats` and `moving_stats_changed`
    for BatchNormalization only.
    """

    class_name: str
    training: bool | None
    active: bool
    fraction_zeroed: float | None = None
    scaled_exactly: bool | None = None
    batch_stats: bool | None = None
    moving_stats_changed: bool | None = None
    draws: int | None = None


Records = Mapping[str, Mapping[str, Sequence[CallRecord]]]


@dataclass(frozen=True)
class Observation:
    """What one model did in each scenario, keyed by scenario then group path."""

    keras_version: str
    backend: str
    records: Records
    weights_changed: Mapping[str, bool]
    fit_error: str | None = None
    class_names: Mapping[str, str] = field(default_factory=dict)
    #: Per weight-bearing layer: does it declare a trainable weight (ignoring freezing)?
    declares_trainable: Mapping[str, bool] = field(default_factory=dict)
    #: The outputs of the ``predict`` scenario (numpy, flattened), for a repeat check.
    predict_outputs: tuple[Any, ...] = ()

    def _project(self, attr: str, only_bn: bool = False) -> dict[str, dict[str, list[Any]]]:
        return {
            scenario: {
                path: [getattr(r, attr) for r in calls]
                for path, calls in by_path.items()
                if not only_bn or self.class_names.get(path) in BATCH_NORM_CLASSES
            }
            for scenario, by_path in self.records.items()
        }

    @property
    def active(self) -> dict[str, dict[str, list[bool]]]:
        """``active[scenario][group_path]``: per call, did the layer act."""
        return self._project("active")

    @property
    def training(self) -> dict[str, dict[str, list[bool | None]]]:
        """``training[scenario][group_path]``: per call, the `training` value received."""
        return self._project("training")

    @property
    def bn_batch_stats(self) -> dict[str, dict[str, list[bool]]]:
        """``bn_batch_stats[scenario][group_path]``: per BN call, were batch statistics used."""
        return self._project("batch_stats", only_bn=True)


def _flavour_modules(model: Any) -> tuple[Any, str, str]:
    """Return (keras module, keras version, backend name) for the model's Keras.

    The package is read from the model's class hierarchy, so a subclass defined
    outside Keras (``--custom-objects``) is attributed to the Keras it derives from.
    A model of Keras 3 means ``keras`` is imported already, with its backend, so
    ``import keras`` below hands back that module.
    """
    packages = {cls.__module__.partition(".")[0] for cls in type(model).__mro__}
    if "tf_keras" in packages:
        import tf_keras

        return tf_keras, tf_keras.__version__, "tensorflow"
    import keras

    return keras, keras.__version__, keras.backend.backend()


def _class_names(layer: Any) -> set[str]:
    return {cls.__name__ for cls in type(layer).__mro__}


def _is_model(layer: Any) -> bool:
    return bool({"Functional", "Sequential", "Model"} & _class_names(layer)) and hasattr(
        layer, "layers"
    )


def _rnn_is_stochastic(layer: Any) -> bool:
    cell = getattr(layer, "cell", layer)
    cells = getattr(cell, "cells", [cell])
    return any(
        (getattr(c, "dropout", 0) or 0) > 0 or (getattr(c, "recurrent_dropout", 0) or 0) > 0
        for c in cells
    )


def _kind(layer: Any) -> str | None:
    """Return how to instrument `layer`: 'dropout', 'bn', 'generic', 'op' or None."""
    names = _class_names(layer)
    if "TFOpLambda" in names:
        return "op"  # a TensorFlow op recorded by tf_keras: random or not, run it again
    if names & DROPOUT_CLASSES:
        return "dropout"
    if names & BATCH_NORM_CLASSES:
        return "bn"
    if any(is_stochastic_depth(c.__name__, c.__module__) for c in type(layer).__mro__):
        # ConvNeXt's StochasticDepth: whole samples dropped, compared with training=False.
        return "generic"
    if names & WRAPPER_CLASSES:
        inner = getattr(layer, "forward_layer", None) or getattr(layer, "layer", None)
        return "generic" if inner is not None and _kind(inner) else None
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
        if _is_model(layer):
            yield from iter_layers(layer, prefix=f"{path}/")


def _flatten(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in _flatten(item)]
    if isinstance(x, dict):
        return [leaf for key in sorted(x) for leaf in _flatten(x[key])]
    return [] if x is None else [x]


def _np(x: Any) -> np.ndarray:
    """A read-only numpy view of a tensor or variable, copied only where it must be.

    ``np.asarray`` shares an eager TensorFlow tensor's buffer, where ``.numpy()``
    copies it (about 6 ms for one MobileNetV2 activation, once per instrumented call
    and scenario).  Callers that keep a value across a step ``.copy()`` it.
    """
    if isinstance(x, np.ndarray):
        return x
    value = getattr(x, "value", None)
    if type(x).__module__.startswith("keras.") and value is not None and not callable(value):
        x = value  # a Keras 3 Variable: its current value (inside fit's StatelessScope too)
    while hasattr(x, "primal") and hasattr(x, "aval"):  # jax JVP tracer under fit()'s grad
        x = x.primal
    if hasattr(x, "detach"):  # torch: leave the autograd graph, come to host memory
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":  # numpy has no bfloat16; float32 holds it exactly
            x = x.float()
    return np.asarray(x)


def _differs(a: Any, b: Any) -> bool:
    fa, fb = _flatten(a), _flatten(b)
    if len(fa) != len(fb):
        return True
    for x, y in zip(fa, fb, strict=True):
        xa, ya = _np(x), _np(y)
        if xa.shape != ya.shape or not np.array_equal(xa, ya):
            return True
    return False


def _arrays(x: Any) -> list[np.ndarray]:
    """Every tensor in `x` as numpy, once, for the several checks that read them."""
    return [_np(leaf) for leaf in _flatten(x)]


def _is_concrete(args: Any) -> bool:
    leaves = _flatten(args)
    return bool(leaves) and all(isinstance(x, np.ndarray) or _has_value(x) for x in leaves)


def _has_value(x: Any) -> bool:
    # Symbolic values refuse conversion, each in its own way: a graph-mode tf.Tensor
    # raises NotImplementedError, a KerasTensor ValueError, a jax tracer a TypeError
    # subclass, a torch "meta" tensor (Keras's shape inference) RuntimeError.
    try:
        _np(x)
    except Exception:
        return False
    return True


def _as_training(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    try:
        return bool(_np(value))
    except (TypeError, ValueError):
        return None


def _mask_draws(layer: Any, shape: tuple[int, ...]) -> int:
    """Return how many independent keep/drop draws cover an input of `shape`."""
    names = _class_names(layer)
    if names & {"SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"}:
        channel_axis = 1 if getattr(layer, "data_format", None) == "channels_first" else -1
        return int(shape[0] * shape[channel_axis])
    noise_shape = getattr(layer, "noise_shape", None)
    if noise_shape is None:
        return int(np.prod(shape))
    dims = [
        shape[axis] if size is None else int(size)
        for axis, size in enumerate(list(noise_shape)[: len(shape)])
    ]
    return int(np.prod(dims))


def _dropout_stats(layer: Any, x: Any, y: Any) -> tuple[float | None, bool | None, int | None]:
    """Return (fraction of non-zero inputs zeroed, kept == input / (1 - rate), draws)."""
    xs, ys = _flatten(x), _flatten(y)
    if len(xs) != 1 or len(ys) != 1:
        return None, None, None
    xa, ya = _np(xs[0]).astype("float64"), _np(ys[0]).astype("float64")
    if xa.shape != ya.shape:
        return None, None, None
    nonzero = xa != 0
    zeroed = nonzero & (ya == 0)
    fraction = float(zeroed.sum() / max(1, nonzero.sum()))
    draws = min(int(nonzero.sum()), _mask_draws(layer, xa.shape))
    if not _class_names(layer) & INVERTED_CLASSES:
        return fraction, None, draws
    rate = float(getattr(layer, "rate", 0.0))
    kept = nonzero & ~zeroed
    if not kept.any():
        return fraction, None, draws
    scale = 1.0 if fraction == 0 else 1.0 / (1.0 - rate)
    exact = bool(np.allclose(ya[kept], xa[kept] * scale, rtol=1e-5, atol=1e-6))
    return fraction, exact, draws


class _Recorder:
    """Collects call records for the scenario being run; knows the container path."""

    def __init__(self) -> None:
        self.scenario: str | None = None
        self.records: dict[str, dict[str, list[CallRecord]]] = {}
        self.stack: list[str] = []
        self.class_names: dict[str, str] = {}

    def path_of(self, layer: Any, fallback: str) -> str:
        if not self.stack:
            return fallback
        return "/".join(escape_name(name) for name in [*self.stack[1:], layer.name])

    def add(self, path: str, record: CallRecord) -> None:
        if self.scenario is not None:
            self.records.setdefault(self.scenario, {}).setdefault(path, []).append(record)


def _wrap_model(model: Any, recorder: _Recorder) -> Callable[[], None]:
    original = model.call

    def call(*args: Any, **kwargs: Any) -> Any:
        recorder.stack.append(model.name)
        try:
            return original(*args, **kwargs)
        finally:
            recorder.stack.pop()

    model.call = call
    return lambda: _unset_call(model)


def _unset_call(layer: Any) -> None:
    if "call" in vars(layer):
        object.__delattr__(layer, "call")


def _wrap_layer(
    layer: Any, kind: str, static_path: str, recorder: _Recorder, fixed_path: bool = False
) -> Callable[[], None]:
    """Record every concrete call of `layer`. Its key is its path among the models
    being called, or `static_path` as it is when ``fixed_path`` (a sublayer held by a
    layer: no model call on the stack names its holder)."""
    original = layer.call
    # tf_keras's TFOpLambda sets its `call` on the instance: put that back on undo,
    # or the layer would fall back to Layer.call, the identity.
    own = vars(layer).get("call")
    signature = inspect.signature(original)
    class_name = type(layer).__name__

    def call(*args: Any, **kwargs: Any) -> Any:
        # A sublayer may be called with keywords only (attention: query=, value=).
        if recorder.scenario is None or not _is_concrete(args or tuple(kwargs.values())):
            return original(*args, **kwargs)  # symbolic build or trace: nothing to measure
        path = static_path if fixed_path else recorder.path_of(layer, static_path)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        training = _as_training(bound.arguments.get("training"))
        inputs = bound.arguments.get("inputs", args[0] if args else None)

        def reference() -> Any:
            bound.arguments["training"] = False
            with _call_context_kept():
                return original(*bound.args, **bound.kwargs)

        if kind == "bn":
            before = _moving_statistics(layer)
            outputs = original(*args, **kwargs)
            after = _moving_statistics(layer)
            moved = not all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))
            batch_stats = (
                _recognise_batch_statistics(layer, inputs, outputs, before, after)
                if bound.arguments.get("mask") is None  # masked moments: ask Keras
                else None
            )
            if batch_stats is None:  # not recognisable from the numbers: ask Keras
                batch_stats = _differs(outputs, reference())
            record = CallRecord(
                class_name, training, moved, batch_stats=batch_stats, moving_stats_changed=moved
            )
        elif kind == "dropout":
            outputs = original(*args, **kwargs)
            # Every Dropout-family layer of Keras returns its input unchanged when
            # not training, so "did it act" needs no second, training=False call.
            # A subclass may do otherwise: ask it.
            seen_in, seen_out = _arrays(inputs), _arrays(outputs)
            acted = _differs(
                seen_in if _is_stock(layer, DROPOUT_CLASSES) else reference(), seen_out
            )
            fraction, exact, draws = (
                _dropout_stats(layer, seen_in, seen_out) if acted else (0.0, None, None)
            )
            record = CallRecord(
                class_name,
                training,
                acted,
                fraction_zeroed=fraction,
                scaled_exactly=exact,
                draws=draws,
            )
        elif kind == "op":
            # A TensorFlow op knows no `training`: it acted when a second run on the
            # same arguments gives another result (a random op draws again).
            outputs = original(*args, **kwargs)
            record = CallRecord(class_name, training, _differs(outputs, original(*args, **kwargs)))
        else:  # RNN, attention, augmentation: only Keras knows the training=False result
            _fresh_dropout_masks(layer)
            outputs = original(*args, **kwargs)
            _fresh_dropout_masks(layer)
            record = CallRecord(class_name, training, _differs(outputs, reference()))
        recorder.class_names[path] = class_name
        recorder.add(path, record)
        return outputs

    layer.call = call
    return lambda: _restore_call(layer, own)


def _restore_call(layer: Any, own: Any) -> None:
    _unset_call(layer)
    if own is not None:
        layer.call = own


def _fresh_dropout_masks(layer: Any) -> None:
    """Forget the dropout masks an RNN cell cached in an earlier eager call.

    tf_keras caches a cell's masks per graph, and for eager code per session;
    ``RNN.call`` resets them, but ``ConvRNN.call`` (ConvLSTM1D/2D/3D) does not. In
    a compiled fit() or predict() each traced graph makes its own mask for its own
    ``training``; run eagerly, the first mask made would serve every later call,
    so reset it as a new graph would.
    """
    for cell in getattr(getattr(layer, "cell", None), "cells", [getattr(layer, "cell", None)]):
        for reset in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
            if callable(getattr(cell, reset, None)):
                getattr(cell, reset)()


@contextmanager
def _call_context_kept() -> Iterator[None]:
    """Undo what a reference run leaves in Keras 3's shared call context.

    An RNN or wrapper passes its ``training`` explicitly to its inner layers; under
    Keras 3 the inner call writes it into the context that the whole top-level call
    shares (Keras 3.16 pre-releases keep it there), so a ``training=False`` reference
    run would change what later layers inherit. tf_keras keeps a stack of contexts
    and needs nothing.
    """
    state = sys.modules.get("keras.src.backend.common.global_state")
    context = state.get_global_attribute("current_call_ctx") if state is not None else None
    saved = dict(vars(context)) if context is not None else None
    try:
        yield
    finally:
        if context is not None and saved is not None:
            vars(context).clear()
            vars(context).update(saved)


def _moving_statistics(layer: Any) -> tuple[np.ndarray, np.ndarray]:
    return _np(layer.moving_mean).copy(), _np(layer.moving_variance).copy()


#: Largest deviation, relative to the channel's output scale, still read as a match.
_BN_TOLERANCE = {"float16": 3e-2, "bfloat16": 3e-2}
_BN_DEFAULT_TOLERANCE = 1e-3
#: Two normalisations closer than this many tolerances cannot be told apart.
_BN_SEPARATION = 10.0
#: Rows of the output recomputed, and rows used to estimate the batch's statistics.
_BN_SAMPLE_ROWS = 64
_BN_ESTIMATE_ROWS = 4096
#: Extra separation an estimate from _BN_ESTIMATE_ROWS rows must show (about ten
#: standard errors of the normalised output, 1/sqrt(4096) for the mean).
_BN_ESTIMATE_MARGIN = 0.1
#: Options under which a training call is neither plain normalisation (tf_keras, Keras 3).
_BN_UNUSUAL = ("renorm", "virtual_batch_size", "adjustment")


def _recognise_batch_statistics(
    layer: Any,
    inputs: Any,
    outputs: Any,
    before: tuple[np.ndarray, np.ndarray],
    after: tuple[np.ndarray, np.ndarray] | None = None,
) -> bool | None:
    """Did a BatchNormalization call normalise with batch statistics? None: can't tell.

    A sample of the output rows is recomputed in float64 with the moving statistics
    as they were before the call (what ``training=False`` gives):

    - it matches: moving statistics, once the batch's own statistics are shown to
      give a clearly different output (estimated from a subsample of rows, computed
      exactly only when the estimate is too close to call);
    - it does not: batch statistics, once the output is shown to be the batch
      normalisation (statistics recovered from the moving-average update `after`,
      ``new = momentum * old + (1 - momentum) * batch``, else computed exactly).

    Anything else (statistics too close to tell apart, renormalisation, virtual
    batches, an unusual layer) returns None, and the caller runs the layer again
    with ``training=False``, which costs a second call of the layer.
    """
    if not _is_stock(layer, BATCH_NORM_CLASSES):
        return None  # a subclass may compute anything
    if any(getattr(layer, option, None) for option in _BN_UNUSUAL):
        return None
    try:
        return _compare_normalisations(layer, inputs, outputs, before, after)
    except (AttributeError, TypeError, ValueError, IndexError, ZeroDivisionError):
        return None  # an odd axis or shape: let Keras decide


def _is_stock(layer: Any, classes: frozenset[str]) -> bool:
    """True when `layer` is exactly one of Keras's own `classes`, not a subclass of one."""
    return type(layer).__name__ in classes and type(layer).__module__.startswith(
        ("keras.", "tf_keras.")
    )


def _moments(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and biased variance, accumulated in float64 where it matters."""
    mean = rows.mean(axis=0, dtype=np.float64)
    centred = rows - mean.astype(rows.dtype)
    return mean, np.einsum("ij,ij->j", centred, centred).astype(np.float64) / len(rows)


def _compare_normalisations(
    layer: Any,
    inputs: Any,
    outputs: Any,
    before: tuple[np.ndarray, np.ndarray],
    after: tuple[np.ndarray, np.ndarray] | None,
) -> bool | None:
    xs, ys = _flatten(inputs), _flatten(outputs)
    axes = list(layer.axis) if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    if len(xs) != 1 or len(ys) != 1 or len(axes) != 1:
        return None
    x, y = _np(xs[0]), _np(ys[0])
    if x.shape != y.shape or x.ndim < 2 or x.size == 0:
        return None
    axis = int(axes[0]) % x.ndim
    channels = x.shape[axis]
    rows = x.size // channels
    if rows < 2:
        return None
    x_rows = np.moveaxis(x, axis, -1).reshape(rows, channels)
    if x_rows.dtype not in (np.float32, np.float64):  # float16, bfloat16: sum in float32
        x_rows = x_rows.astype(np.float32)
    pick = np.unique(np.linspace(0, rows - 1, min(rows, _BN_SAMPLE_ROWS)).astype(np.int64))
    x_sample = x_rows[pick].astype(np.float64)
    y_sample = np.moveaxis(y, axis, -1).reshape(rows, channels)[pick].astype(np.float64)
    gamma = (
        _np(layer.gamma).astype(np.float64) if getattr(layer, "gamma", None) is not None else 1.0
    )
    beta = _np(layer.beta).astype(np.float64) if getattr(layer, "beta", None) is not None else 0.0
    epsilon = float(layer.epsilon)
    tolerance = _BN_TOLERANCE.get(str(y.dtype), _BN_DEFAULT_TOLERANCE)

    def normalised(mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
        return (x_sample - mean) / np.sqrt(np.maximum(variance, 0.0) + epsilon) * gamma + beta

    moving = normalised(*(v.astype(np.float64) for v in before))
    # Per channel, deviations are measured against that channel's output scale.
    scale = np.maximum(np.abs(moving).max(axis=0), np.abs(y_sample).max(axis=0)) + 1e-12

    def deviation(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.max(np.abs(a - b) / scale))

    if deviation(y_sample, moving) <= tolerance:
        stride = max(1, rows // _BN_ESTIMATE_ROWS)
        if stride > 1:
            estimate = normalised(*_moments(x_rows[::stride]))
            if deviation(estimate, moving) > _BN_SEPARATION * tolerance + _BN_ESTIMATE_MARGIN:
                return False
        exact = normalised(*_moments(x_rows))
        return False if deviation(exact, moving) > _BN_SEPARATION * tolerance else None

    recovered = _recovered_batch_statistics(layer, before, after)
    if recovered is not None and deviation(y_sample, normalised(*recovered)) <= tolerance:
        return True
    return True if deviation(y_sample, normalised(*_moments(x_rows))) <= tolerance else None


def _recovered_batch_statistics(
    layer: Any,
    before: tuple[np.ndarray, np.ndarray],
    after: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The batch statistics a moving-average update used, or None (no update to invert)."""
    momentum = float(getattr(layer, "momentum", -1.0))
    if after is None or not 0.0 <= momentum < 1.0:
        return None
    (old_mean, old_variance), (new_mean, new_variance) = (
        tuple(v.astype(np.float64) for v in pair) for pair in (before, after)
    )
    if np.array_equal(old_mean, new_mean) and np.array_equal(old_variance, new_variance):
        return None
    return (
        (new_mean - momentum * old_mean) / (1.0 - momentum),
        (new_variance - momentum * old_variance) / (1.0 - momentum),
    )


def _instrument(
    model: Any, recorder: _Recorder, dialect: str
) -> tuple[list[Callable[[], None]], dict[str, str]]:
    undo = [_wrap_model(model, recorder)]
    class_names: dict[str, str] = {}
    seen: set[int] = set()
    for path, layer in iter_layers(model):
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if _is_model(layer):
            undo.append(_wrap_model(layer, recorder))
            continue
        kind = _kind(layer)
        if kind is not None:
            class_names[path] = type(layer).__name__
            undo.append(_wrap_layer(layer, kind, path, recorder))
            continue
        for below, sub, sub_kind in _keras_stochastic_sublayers(layer, dialect):
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            inner_path = f"{path}/{below}"
            class_names[inner_path] = type(sub).__name__
            undo.append(_wrap_layer(sub, sub_kind, inner_path, recorder, fixed_path=True))
    return undo, class_names


def _keras_stochastic_sublayers(layer: Any, dialect: str) -> Iterator[tuple[str, Any, str]]:
    """``(path below layer, sublayer, kind)`` for each stochastic sublayer below a
    non-model layer (a KerasHub TransformerEncoder's dropouts): the static report's
    search (:func:`graphcheck.runtime.live.inner_stochastic`), so the same paths. It
    lists a subset: no sublayer whose ``call`` never ran in the symbolic calls of its
    holder (GPT-NeoX's ``feedforward_dropout``). Such a one is observed all the same,
    so that a wrong "never runs" would show as an unlisted sublayer that acted; one
    that never runs leaves no record, and nothing is compared. Of a user's class
    nothing is claimed there, so nothing is observed here; a layer drawing in its own
    code is observed apart."""
    from graphcheck.runtime.live import inner_stochastic, sublayer_at

    for item in inner_stochastic(layer, dialect):
        sub = sublayer_at(layer, item["path"])
        kind = _kind(sub) if sub is not None else None
        if kind in ("dropout", "generic"):
            yield item["path"], sub, kind


@contextmanager
def _own_draws_recorded(model: Any, recorder: _Recorder, keras: Any) -> Iterator[None]:
    """Record, per call, whether each layer that could draw random numbers in its own
    code (a class graphcheck's tables do not know, at any depth below a graph layer)
    drew any: a ``SeedGenerator.next`` during its call, from a generator it owns, or
    from one nobody below it owns (Keras's global one) while it is the innermost such
    layer running. tf_keras has no ``SeedGenerator``: there the stateful random ops
    TensorFlow runs are seen (:func:`_tf_keras_own_draws_recorded`). Keys are
    the graph layer's path, then the sublayer's path below it (``static`` paths)."""
    if keras.__name__ == "tf_keras":
        with _tf_keras_own_draws_recorded(model, recorder):
            yield
        return
    generators = getattr(getattr(keras, "random", None), "SeedGenerator", None)
    if generators is None or not hasattr(generators, "next"):
        yield
        return
    from graphcheck.runtime.random_draws import (
        class_origin,
        drawing_candidates,
        known_stochastic_layers,
        layer_paths,
    )

    watched: dict[int, tuple[str, Any]] = {}
    # Known stochastic layers (ConvNeXt's StochasticDepth draws from Keras's global
    # generator): their draws are theirs, no watched holder's own-code draw.
    silenced: dict[int, Any] = {}
    # Every generator below a graph layer: a watched layer's is its own; any other
    # (a Keras Dropout's) is no watched layer's draw (None).
    owners: dict[int, int | None] = {}
    for path, layer in iter_layers(model):
        if _is_model(layer):
            continue
        for sub in layer_paths(layer).values():
            for generator in getattr(sub, "_seed_generators", []):
                owners.setdefault(id(generator), None)
        for below, sub in drawing_candidates(layer, class_origin).items():
            watched.setdefault(id(sub), (f"{path}/{below}" if below else path, sub))
        for sub in known_stochastic_layers(layer, class_origin):
            silenced.setdefault(id(sub), sub)
    for _, sub in watched.values():
        for generator in getattr(sub, "_seed_generators", []):
            owners[id(generator)] = id(sub)
    running: list[int] = []
    drew: dict[int, int] = {}
    original_next = generators.next

    def next_(generator: Any, *args: Any, **kwargs: Any) -> Any:
        if id(generator) in owners:
            owner = owners[id(generator)]
        else:  # Keras's global generator (seed=None): the innermost watched call's
            owner = running[-1] if running else None
        if owner is not None and owner != _NOBODY:
            drew[owner] = drew.get(owner, 0) + 1
        return original_next(generator, *args, **kwargs)

    # A layer observe() instruments already (a user's Dropout subclass) keeps its records.
    watched = {key: item for key, item in watched.items() if "call" not in vars(item[1])}
    silenced = {key: sub for key, sub in silenced.items() if key not in watched}
    generators.next = next_
    try:
        with _draw_calls_wrapped(watched, silenced, recorder, running, drew):
            yield
    finally:
        generators.next = original_next


@contextmanager
def _tf_keras_own_draws_recorded(model: Any, recorder: _Recorder) -> Iterator[None]:
    """tf_keras: record, per call, whether each layer that could draw random numbers in
    its own code (the static side's candidates, :mod:`graphcheck.runtime.tf_random_draws`)
    ran a stateful random op while it was the innermost such layer running. A Dropout
    (any class the tables describe) held by one draws under a marker that is nobody's.
    A stateless op seeded from a variable is not seen (a seed is a value, not a state)."""
    from graphcheck.runtime.tf_random_draws import (
        known_stochastic_sublayers,
        stateful_draws_observed,
        tf_keras_drawing_candidates,
    )

    watched: dict[int, tuple[str, Any]] = {}
    silenced: dict[int, Any] = {}
    for path, layer in iter_layers(model):
        if _is_model(layer):
            continue
        for below, sub in tf_keras_drawing_candidates(layer).items():
            watched.setdefault(id(sub), (f"{path}/{below}" if below else path, sub))
        for sub in known_stochastic_sublayers(layer):
            silenced.setdefault(id(sub), sub)
    # A layer observe() instruments already (a user's Dropout subclass) keeps its records.
    watched = {key: item for key, item in watched.items() if "call" not in vars(item[1])}
    if not watched:  # nothing to watch: no callback on every op TensorFlow runs
        yield
        return
    running: list[int] = []
    drew: dict[int, int] = {}

    def on_draw(op_type: str) -> None:
        if running and running[-1] != _NOBODY:
            drew[running[-1]] = drew.get(running[-1], 0) + 1

    with (_draw_calls_wrapped(watched, silenced, recorder, running, drew),
          stateful_draws_observed(on_draw)):
        yield


#: On the stack of running watched layers: a call whose draws are nobody's.
_NOBODY = -1


@contextmanager
def _draw_calls_wrapped(
    watched: dict[int, tuple[str, Any]], silenced: dict[int, Any], recorder: _Recorder,
    running: list[int], drew: dict[int, int],
) -> Iterator[None]:
    """Wrap each watched layer's ``call`` to record its draws, and each silenced one's
    (a known stochastic class inside them) to mark its draws nobody's; put back what
    each had before."""
    wrapped = [*((key, sub) for key, (_, sub) in watched.items()), *silenced.items()]
    previous = {key: vars(sub).get("call") for key, sub in wrapped}
    for key, (path, sub) in watched.items():
        sub.call = _drawing_call(sub, path, key, recorder, running, drew)
    for sub in silenced.values():
        sub.call = _nobodys_call(sub, running)
    try:
        yield
    finally:
        for key, sub in wrapped:
            if previous[key] is None:
                _unset_call(sub)
            else:
                sub.call = previous[key]


def _nobodys_call(layer: Any, running: list[int]) -> Callable[..., Any]:
    original = layer.call

    def call(*args: Any, **kwargs: Any) -> Any:
        running.append(_NOBODY)
        try:
            return original(*args, **kwargs)
        finally:
            running.pop()

    return call


def _drawing_call(
    layer: Any, path: str, key: int, recorder: _Recorder, running: list[int],
    drew: dict[int, int],
) -> Callable[..., Any]:
    original = layer.call
    signature = inspect.signature(original)
    class_name = type(layer).__name__

    def call(*args: Any, **kwargs: Any) -> Any:
        before = drew.get(key, 0)
        running.append(key)
        try:
            outputs = original(*args, **kwargs)
        finally:
            running.pop()
        if recorder.scenario is not None and _is_concrete(args):
            bound = signature.bind_partial(*args, **kwargs)
            training = bound.arguments.get("training", _context_training())
            record = CallRecord(class_name, _as_training(training), drew.get(key, 0) > before)
            recorder.class_names[path] = class_name
            recorder.add(path, record)
        return outputs

    return call


def _context_training() -> Any:
    """The ``training`` value in Keras 3's call context (None outside any call)."""
    state = sys.modules.get("keras.src.backend.common.global_state")
    context = state.get_global_attribute("current_call_ctx") if state is not None else None
    return getattr(context, "training", None)


def _weight_layers(model: Any) -> dict[str, list[Any]]:
    """Return each weight-bearing leaf layer's weights, BN moving statistics excluded."""
    out: dict[str, list[Any]] = {}
    for path, layer in iter_layers(model):
        if _is_model(layer):
            continue
        skip = {id(getattr(layer, n, None)) for n in ("moving_mean", "moving_variance")}
        weights = [w for w in layer.weights if id(w) not in skip]
        if weights:
            out.setdefault(path, weights)
    return out


def _declares_trainable(layer: Any) -> bool:
    """True when `layer` created a trainable weight, whatever its `trainable` flag now says."""
    for attribute in ("_trainable_variables", "_trainable_weights"):  # Keras 3, tf_keras
        declared = getattr(layer, attribute, None)
        if declared:
            return True
    inner = [getattr(layer, n, None) for n in ("layer", "forward_layer", "backward_layer", "cell")]
    return any(sub is not None and _declares_trainable(sub) for sub in inner) or any(
        _declares_trainable(sub) for sub in getattr(layer, "_layers", []) or []
    )


def _single(x: Any) -> Any:
    return x[0] if isinstance(x, (list, tuple)) and len(x) == 1 else x


def _run_scenario(model: Any, scenario: str, inputs: Any, targets: Any) -> Any:
    inputs, targets = _single(inputs), _single(targets)
    if scenario == "fit":
        return model.fit(
            inputs, targets, epochs=1, batch_size=_batch(inputs), verbose=0, shuffle=False
        )
    if scenario == "predict":
        return model.predict(inputs, batch_size=_batch(inputs), verbose=0)
    if scenario == "call":
        return model(inputs)
    if scenario == "call_true":
        return model(inputs, training=True)
    if scenario == "call_false":
        return model(inputs, training=False)
    msg = f"unknown scenario {scenario!r} (expected one of {SCENARIOS})"
    raise ValueError(msg)


@contextmanager
def _eager(model: Any, keras: Any, backend: str) -> Iterator[None]:
    """Run every Keras step eagerly, so that instrumented calls see concrete values.

    TensorFlow: ``tf.config.run_functions_eagerly``, restored on exit.  JAX and
    torch: compile with ``run_eagerly=True`` (SGD, mean squared error; ``observe``
    compiles the same way for its fit step), which ``fit()`` and ``predict()``
    honour: no ``jax.jit``, no ``torch.compile``.  Two kinds of call still see no
    concrete value, by design of the backend: the shape inference Keras runs before
    a first step (``jax.eval_shape``, torch's "meta" device), and under JAX's
    ``fit()`` every value that depends on a trainable weight, which is a tracer of
    ``jax.value_and_grad`` (``jax.jvp`` linearisation, not ``jit``), whose
    ``primal`` holds the concrete value.
    """
    if backend != "tensorflow":
        model.compile(
            optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True,
            jit_compile=False, **_no_default_metrics(model),
        )
        yield
        return
    import tensorflow as tf

    was_eager = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(was_eager)


def predictions_repeat(model: Any, inputs: Any, first: Sequence[Any] = ()) -> bool:
    """Return True when two `predict()` calls on the same inputs give identical outputs.

    `first` is an earlier predict()'s flattened outputs; without it predict() runs
    twice. Give `first` only when the seed generators' state was not restored since
    (``observe`` restores every variable after a scenario, seed states included, so
    its `Observation.predict_outputs` would replay the same draws). Runs eagerly (no
    tracing cost); predict changes no variable but the seed generators' state.
    """
    keras, _, backend = _flavour_modules(model)
    x = _single(inputs)
    with _eager(model, keras, backend):
        if not first:
            first = _flatten(model.predict(x, batch_size=_batch(x), verbose=0))
        second = model.predict(x, batch_size=_batch(x), verbose=0)
    return not _differs(list(first), second)


def _batch(inputs: Any) -> int:
    return int(_flatten(inputs)[0].shape[0])


def observe(
    model: Any,
    inputs: Any,
    scenarios: Sequence[str] = SCENARIOS,
    targets: Any = None,
) -> Observation:
    """Run `model` in each scenario and record what every stochastic layer did.

    Parameters
    ----------
    model
        An in-memory Keras 3 or tf_keras model.  It is compiled (SGD, mean squared
        error, eager) for the fit scenario; its variables are restored afterwards.
    inputs
        Numpy array(s) as `model.predict` accepts them, e.g. from `synthesise_inputs`.
    scenarios
        Any of ``fit``, ``predict``, ``call`` (``model(x)``), ``call_true`` and
        ``call_false`` (``model(x, training=True/False)``).
    targets
        Targets for the fit step; synthesised from the output shapes when None.

    Returns
    -------
    Observation
        Per scenario and group path, one `CallRecord` per call in execution order.
    """
    keras, version, backend = _flavour_modules(model)
    recorder = _Recorder()
    variables = list(model.variables)
    saved = [_np(v).copy() for v in variables]
    weights = _weight_layers(model)
    weights_changed: dict[str, bool] = {}
    fit_error = None
    predict_outputs: tuple[Any, ...] = ()
    if "fit" in scenarios and targets is None:
        from graphcheck.runtime.inputs import synthesise_targets

        # Before instrumenting: shaping targets may take an inference call, which
        # must not be recorded as one of fit()'s.
        targets = synthesise_targets(model, inputs)
    # The class lists of the model's own Keras, as the static description used.
    dialect = "keras2" if keras.__name__ == "tf_keras" else "keras3"
    undo, class_names = _instrument(model, recorder, dialect)
    try:
        with _eager(model, keras, backend), _own_draws_recorded(model, recorder, keras):
            for scenario in scenarios:
                recorder.scenario = scenario
                recorder.records.setdefault(scenario, {})
                if scenario == "fit":
                    y = targets
                    model.compile(
                        optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True,
                        **_no_default_metrics(model),
                    )
                    before = {p: [_np(w).copy() for w in ws] for p, ws in weights.items()}
                    try:
                        _run_scenario(model, scenario, inputs, y)
                    except ValueError as exc:  # e.g. tf_keras: nothing trainable at all
                        fit_error = f"{type(exc).__name__}: {exc}"
                    weights_changed = {
                        p: any(
                            not np.array_equal(b, _np(w))
                            for b, w in zip(before[p], ws, strict=True)
                        )
                        for p, ws in weights.items()
                    }
                else:
                    result = _run_scenario(model, scenario, inputs, None)
                    if scenario == "predict":
                        predict_outputs = tuple(_np(x) for x in _flatten(result))
                for variable, value in zip(variables, saved, strict=True):
                    variable.assign(value)
    finally:
        recorder.scenario = None
        for restore in undo:
            restore()
    return Observation(
        keras_version=version,
        backend=backend,
        records={s: {p: tuple(c) for p, c in by.items()} for s, by in recorder.records.items()},
        weights_changed=weights_changed,
        fit_error=fit_error,
        class_names={**class_names, **recorder.class_names},
        declares_trainable={
            path: _declares_trainable(layer)
            for path, layer in iter_layers(model)
            if path in weights
        },
        predict_outputs=predict_outputs,
    )


def _no_default_metrics(model: Any) -> dict[str, Any]:
    """Compile arguments that keep a KerasHub task from adding its default metrics.

    KerasHub tasks add accuracy metrics for ``metrics="auto"`` and for None, which do
    not fit the synthetic regression targets; an empty list stops them. Plain Keras
    models get nothing here: Keras 3.3 rejects ``metrics=[]`` for a model with several
    outputs (it wants one entry per output).
    """
    hub = any(
        c.__module__.split(".", 1)[0] in HUB_PACKAGES
        for c in type(model).__mro__
    )
    return {"metrics": [], "weighted_metrics": []} if hub else {}
