"""What one active Dropout-family call did to its input: the fraction zeroed, the scale."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphcheck.kinds import INVERTED_CLASSES
from graphcheck.runtime.arrays import flatten, to_numpy
from graphcheck.runtime.layer_kinds import class_names_of


def _mask_draws(layer: Any, shape: tuple[int, ...]) -> int:
    """Return how many independent keep/drop draws cover an input of `shape`."""
    names = class_names_of(layer)
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


def dropout_stats(layer: Any, x: Any, y: Any) -> tuple[float | None, bool | None, int | None]:
    """Return (fraction of non-zero inputs zeroed, kept == input / (1 - rate), draws)."""
    xs, ys = flatten(x), flatten(y)
    if len(xs) != 1 or len(ys) != 1:
        return None, None, None
    xa, ya = to_numpy(xs[0]).astype("float64"), to_numpy(ys[0]).astype("float64")
    if xa.shape != ya.shape:
        return None, None, None
    nonzero = xa != 0
    zeroed = nonzero & (ya == 0)
    fraction = float(zeroed.sum() / max(1, nonzero.sum()))
    draws = min(int(nonzero.sum()), _mask_draws(layer, xa.shape))
    if not class_names_of(layer) & INVERTED_CLASSES:
        return fraction, None, draws
    rate = float(getattr(layer, "rate", 0.0))
    kept = nonzero & ~zeroed
    if not kept.any():
        return fraction, None, draws
    scale = 1.0 if fraction == 0 else 1.0 / (1.0 - rate)
    exact = bool(np.allclose(ya[kept], xa[kept] * scale, rtol=1e-5, atol=1e-6))
    return fraction, exact, draws
