"""Synthetic inputs and targets for running a loaded Keras model once.

Shapes come from the model's own input and output specs; unknown dimensions
become `UNKNOWN_DIM`.  An input that feeds an Embedding (directly or through
nested models) gets integers below that Embedding's `input_dim`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

UNKNOWN_DIM = 4


def _shape(tensor: Any, batch_size: int) -> tuple[int, ...]:
    shape = tensor.shape
    dims = shape.as_list() if hasattr(shape, "as_list") else list(shape)
    return (batch_size, *[UNKNOWN_DIM if d is None else int(d) for d in dims[1:]])


def _dtype(tensor: Any) -> str:
    dtype = tensor.dtype
    return str(getattr(dtype, "name", dtype))


def _node_inputs(node: Any) -> list[Any]:
    flat = getattr(node, "keras_inputs", None)  # tf_keras
    if flat is None:
        flat = node.input_tensors  # Keras 3
    return list(flat)


def _consumers(model: Any, tensor: Any) -> Iterator[tuple[Any, int]]:
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            for index, candidate in enumerate(_node_inputs(node)):
                if candidate is tensor:
                    yield layer, index


def _embedding_limit(model: Any, tensor: Any, depth: int = 0) -> int | None:
    """Return the smallest `input_dim` of the Embeddings that `tensor` feeds."""
    limits = []
    for layer, index in _consumers(model, tensor):
        if "Embedding" in {c.__name__ for c in type(layer).__mro__}:
            limits.append(int(layer.input_dim))
        elif hasattr(layer, "layers") and hasattr(layer, "inputs") and depth < 16:
            inner_inputs = list(layer.inputs or [])
            if index < len(inner_inputs):
                limit = _embedding_limit(layer, inner_inputs[index], depth + 1)
                if limit is not None:
                    limits.append(limit)
    return min(limits) if limits else None


def synthesise_inputs(model: Any, batch_size: int = 8, seed: int = 0) -> list[np.ndarray]:
    """Return one seeded numpy array per model input, shaped from the input specs.

    Parameters
    ----------
    model
        An in-memory Keras 3 or tf_keras model with known inputs.
    batch_size
        Size of the leading (batch) dimension.
    seed
        Seed of the numpy generator; the same seed gives the same arrays.

    Returns
    -------
    list of numpy.ndarray
        In the order of `model.inputs`; float inputs are standard normal,
        integer or Embedding-fed inputs are uniform below the Embedding's `input_dim`.
    """
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in model.inputs:
        shape = _shape(tensor, batch_size)
        dtype = _dtype(tensor)
        limit = _embedding_limit(model, tensor)
        if limit is not None or "int" in dtype:
            high = limit if limit is not None else UNKNOWN_DIM
            arrays.append(
                rng.integers(0, high, size=shape).astype(dtype if "int" in dtype else "int32")
            )
        elif dtype == "bool":
            arrays.append(rng.integers(0, 2, size=shape).astype(bool))
        else:
            arrays.append(rng.standard_normal(shape).astype(dtype))
    return arrays


def synthesise_targets(model: Any, inputs: Any, seed: int = 1) -> list[np.ndarray]:
    """Return one seeded standard-normal float32 target per model output.

    The batch size is taken from `inputs`; the other dimensions from the output specs.
    """
    first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    batch_size = int(np.asarray(first).shape[0])
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal(_shape(tensor, batch_size)).astype("float32")
        for tensor in model.outputs
    ]
