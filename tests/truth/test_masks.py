"""Which tensor each stochastic layer masks, checked on the running model.

Every leaf layer is instrumented to record the tensors it receives and returns in
one deterministic forward pass; the first input of each stochastic call must equal
the recorded output of the producer graphcheck names (or the model input it names),
through nested and shared submodels alike.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from builders import BUILDERS, FLAVOURS, KERAS_VERSIONS
from saving import FORMATS

from graphcheck.runtime import strip_call_suffixes, synthesise_inputs
from graphcheck.runtime.observe import iter_layers

pytestmark = pytest.mark.truth

CASES = [
    (flavour, builder, FORMATS[flavour][0])
    for flavour in FLAVOURS
    for builder in ("frozen_submodel_dropout", "three_levels", "shared_layer", "siamese_three",
                    "spatial_dropout", "noise_layers", "multi_io", "sequential_nested",
                    "recurrent_dropout", "context_leak")
]


def _arrays(value: Any) -> list[np.ndarray]:
    if isinstance(value, (list, tuple)):
        return [a for item in value for a in _arrays(item)]
    if isinstance(value, dict):
        return [a for key in sorted(value) for a in _arrays(value[key])]
    return [] if value is None else [np.asarray(value)]


def record_io(model: Any, inputs: Any) -> tuple[dict[str, list[list[np.ndarray]]], dict[str, list[list[np.ndarray]]]]:
    """Run model(x, training=False) recording each leaf layer's inputs and outputs."""
    seen_in: dict[str, list[list[np.ndarray]]] = defaultdict(list)
    seen_out: dict[str, list[list[np.ndarray]]] = defaultdict(list)
    wrapped = []
    for path, layer in iter_layers(model):
        if hasattr(layer, "layers") and layer.layers:  # a nested model: its layers are visited
            continue
        original = layer.call

        def call(*args: Any, _original: Any = original, _path: str = path, **kwargs: Any) -> Any:
            result = _original(*args, **kwargs)
            seen_in[_path].append(_arrays(args[:1]))
            seen_out[_path].append(_arrays(result))
            return result

        layer.call = call
        wrapped.append(layer)
    try:
        model(inputs, training=False)
    finally:
        for layer in wrapped:
            object.__delattr__(layer, "call")
    return seen_in, seen_out


@pytest.mark.parametrize(("flavour", "builder", "fmt"), CASES)
def test_masked_tensor_is_the_named_producer_output(roundtrip: Any, flavour: str, builder: str, fmt: str) -> None:
    """The tensor a stochastic call receives is the producer output graphcheck names."""
    from graphcheck import analyse

    path, model = roundtrip(BUILDERS[builder](flavour), flavour, fmt)
    inputs = synthesise_inputs(model)
    seen_in, seen_out = record_io(model, inputs)
    entry = analyse(str(path), keras_version=KERAS_VERSIONS[flavour])
    model_inputs = dict(zip(entry["inputs"], _arrays(inputs), strict=True))
    checked = 0
    for item in entry["stochastic"]:
        if not item["masks"]:
            continue
        masked = item["masks"][0]
        if masked["is_model_input"]:
            candidates = [model_inputs[masked["producer"]]]
        else:
            produced = seen_out[strip_call_suffixes(masked["producer"])]
            candidates = [outs[masked["output_index"]] for outs in produced]
        received = [ins[0] for ins in seen_in[strip_call_suffixes(item["path"])]]
        assert received, f"{item['path']} was never run"
        for tensor in received:
            assert any(c.shape == tensor.shape and np.array_equal(c, tensor) for c in candidates), (
                f"{item['path']} does not receive the output of {masked['producer']}"
            )
        checked += 1
    assert checked, "no stochastic call with a masked tensor"
