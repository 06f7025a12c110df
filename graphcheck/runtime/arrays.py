"""Tensors of any backend as numpy, for the observer's comparisons."""

from __future__ import annotations

from typing import Any

import numpy as np


def flatten(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in flatten(item)]
    if isinstance(x, dict):
        return [leaf for key in sorted(x) for leaf in flatten(x[key])]
    return [] if x is None else [x]


def to_numpy(x: Any) -> np.ndarray:
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


def differs(a: Any, b: Any) -> bool:
    fa, fb = flatten(a), flatten(b)
    if len(fa) != len(fb):
        return True
    for x, y in zip(fa, fb, strict=True):
        xa, ya = to_numpy(x), to_numpy(y)
        if xa.shape != ya.shape or not np.array_equal(xa, ya):
            return True
    return False


def as_arrays(x: Any) -> list[np.ndarray]:
    """Every tensor in `x` as numpy, once, for the several checks that read them."""
    return [to_numpy(leaf) for leaf in flatten(x)]


def is_concrete(args: Any) -> bool:
    leaves = flatten(args)
    return bool(leaves) and all(isinstance(x, np.ndarray) or _has_value(x) for x in leaves)


def _has_value(x: Any) -> bool:
    # Symbolic values refuse conversion, each in its own way: a graph-mode tf.Tensor
    # raises NotImplementedError, a KerasTensor ValueError, a jax tracer a TypeError
    # subclass, a torch "meta" tensor (Keras's shape inference) RuntimeError.
    try:
        to_numpy(x)
    except Exception:
        return False
    return True


def as_training(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    try:
        return bool(to_numpy(value))
    except (TypeError, ValueError):
        return None


def single(x: Any) -> Any:
    return x[0] if isinstance(x, (list, tuple)) and len(x) == 1 else x


def batch_size_of(inputs: Any) -> int:
    return int(flatten(inputs)[0].shape[0])
