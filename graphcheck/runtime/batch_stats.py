"""Did a BatchNormalization call use batch statistics? Read from its numbers.

A second, ``training=False`` call answers every case, at the cost of running the
layer again; here the usual cases are recognised from the call's own input,
output and moving statistics (:func:`recognise_batch_statistics`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphcheck.layers import BATCH_NORM_CLASSES
from graphcheck.runtime.arrays import flatten, to_numpy
from graphcheck.runtime.layer_kinds import is_stock


def moving_statistics(layer: Any) -> tuple[np.ndarray, np.ndarray]:
    return to_numpy(layer.moving_mean).copy(), to_numpy(layer.moving_variance).copy()


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


def recognise_batch_statistics(
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
    if not is_stock(layer, BATCH_NORM_CLASSES):
        return None  # a subclass may compute anything
    if any(getattr(layer, option, None) for option in _BN_UNUSUAL):
        return None
    try:
        return _compare_normalisations(layer, inputs, outputs, before, after)
    except (AttributeError, TypeError, ValueError, IndexError, ZeroDivisionError):
        return None  # an odd axis or shape: let Keras decide


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
    xs, ys = flatten(inputs), flatten(outputs)
    axes = list(layer.axis) if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    if len(xs) != 1 or len(ys) != 1 or len(axes) != 1:
        return None
    x, y = to_numpy(xs[0]), to_numpy(ys[0])
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
    gamma, beta = (
        to_numpy(getattr(layer, name)).astype(np.float64)
        if getattr(layer, name, None) is not None else default
        for name, default in (("gamma", 1.0), ("beta", 0.0))
    )
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
