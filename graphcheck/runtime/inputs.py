"""Synthetic inputs and targets for running a loaded Keras model once.

Input shapes come from the model's input specs; unknown dimensions become
`UNKNOWN_DIM`. Target shapes come from the output specs, or from one inference
call where a spec leaves a dimension unknown.  An input that feeds an Embedding (directly or through
nested models) gets integers below that Embedding's `input_dim`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

UNKNOWN_DIM = 4


def _dims(tensor: Any) -> list[int | None]:
    shape = tensor.shape
    return shape.as_list() if hasattr(shape, "as_list") else list(shape)


def _shape(tensor: Any, batch_size: int) -> tuple[int, ...]:
    dims = _dims(tensor)
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


def synthesise_inputs(
    model: Any, batch_size: int = 8, seed: int = 0
) -> list[np.ndarray] | dict[str, np.ndarray]:
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
    list of numpy.ndarray, or dict of them
        In the order of `model.inputs`; float inputs are standard normal,
        integer or Embedding-fed inputs are uniform below the Embedding's `input_dim`.
        A Keras 3 model built on a dict of inputs (KerasHub's ``token_ids``,
        ``padding_mask``, ...) gets a dict by the same names, as it requires.
    """
    rng = np.random.default_rng(seed)
    arrays = []
    if getattr(model, "inputs", None) is None:
        return _subclassed_inputs(model, batch_size, rng)
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
    struct = getattr(model, "_inputs_struct", None)  # Keras 3: the structure it was built on
    if isinstance(struct, dict) and len(struct) == len(arrays):
        # model.inputs lists a dict's tensors in sorted key order (keras.tree.flatten).
        return dict(zip(sorted(struct), arrays, strict=True))
    return arrays


def _subclassed_inputs(model: Any, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A subclassed Keras 3 model has no input tensors: use the shape it was built with."""
    config = model.get_build_config() if hasattr(model, "get_build_config") else None
    shape = config.get("input_shape") if isinstance(config, dict) else None
    if not isinstance(shape, (list, tuple)) or not shape or isinstance(shape[0], (list, tuple)):
        msg = f"cannot tell the input shape of {type(model).__name__} (not built with one input)"
        raise ValueError(msg)
    dims = (batch_size, *[UNKNOWN_DIM if d is None else int(d) for d in shape[1:]])
    return [rng.standard_normal(dims).astype("float32")]


def synthesise_targets(model: Any, inputs: Any, seed: int = 1) -> list[np.ndarray]:
    """Return one seeded standard-normal float32 target per model output.

    The batch size is taken from `inputs`; the other dimensions from the output specs,
    or, where a spec leaves one unknown or the model has none, from one inference call.
    """
    # What the model is called with: a dict as it is, one array bare, several as a list.
    x = inputs[0] if isinstance(inputs, (list, tuple)) and len(inputs) == 1 else inputs
    if isinstance(inputs, dict):
        inputs = [inputs[key] for key in sorted(inputs)]
    first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    batch_size = int(np.asarray(first).shape[0])
    rng = np.random.default_rng(seed)
    outputs = getattr(model, "outputs", None)
    if outputs is None or any(None in _dims(tensor)[1:] for tensor in outputs):
        # A subclassed model has no output specs; an unknown dimension may follow the
        # inputs (a sequence length) or the batch (CLIP's batch x batch logits), which
        # no constant guesses: the model's own output tells.
        outputs = [np.asarray(y) for y in _as_list(model(x, training=False))]
    return [
        rng.standard_normal(_shape(tensor, batch_size)).astype("float32")
        for tensor in outputs
    ]


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value[key] for key in sorted(value)]
    return list(value) if isinstance(value, (list, tuple)) else [value]
