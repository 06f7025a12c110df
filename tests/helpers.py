"""Builders for hand-made model descriptions and configs, shared by the unit tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Re-exported: tests import the paths from here or from paths.py alike.
from paths import FIXTURES, REAL_MODELS, ROOT, SAMPLES, stored_models  # noqa: F401

from graphcheck.graph import CallGraph, build_graph
from graphcheck.model import CallDesc, LayerDesc, ModelDesc, SavedModelDesc, TensorRef


def ref(name: str, node: int = 0, tensor: int = 0) -> TensorRef:
    return TensorRef(name, node, tensor)


def call(*inputs: TensorRef, training: bool | None = None) -> CallDesc:
    return CallDesc(tuple(inputs), training)


def layer(
    name: str,
    class_name: str,
    *calls: CallDesc,
    trainable: bool | None = True,
    submodel: ModelDesc | None = None,
    **config: Any,
) -> LayerDesc:
    return LayerDesc(name, class_name, {"name": name, **config}, tuple(calls), trainable, submodel)


def input_layer(name: str) -> LayerDesc:
    return LayerDesc(name, "InputLayer", {"name": name}, (), None)


def model(
    name: str,
    layers: list[LayerDesc],
    inputs: list[str],
    outputs: list[TensorRef],
    trainable: bool | None = True,
) -> ModelDesc:
    return ModelDesc(
        name, "Functional", tuple(layers), tuple(ref(i) for i in inputs), tuple(outputs), trainable
    )


def saved(
    top: ModelDesc, keras_version: str = "3.15.1", dialect: str = "keras3", fmt: str = "keras"
) -> SavedModelDesc:
    return SavedModelDesc(f"test.{fmt}", fmt, keras_version, None, dialect, top)


def graph_of(top: ModelDesc, **kwargs: Any) -> CallGraph:
    return build_graph(saved(top, **kwargs))


def three_levels() -> ModelDesc:
    """KERAS_SEMANTICS.md's example: level2 called training=False holds level3 called True."""
    level3 = model(
        "level3",
        [input_layer("l3_in"), layer("l3_drop", "Dropout", call(ref("l3_in")), rate=0.5)],
        ["l3_in"],
        [ref("l3_drop")],
    )
    level2 = model(
        "level2",
        [
            input_layer("l2_in"),
            layer("l2_drop", "Dropout", call(ref("l2_in")), rate=0.5),
            layer("level3", "Functional", call(ref("l2_drop"), training=True), submodel=level3),
        ],
        ["l2_in"],
        [ref("level3")],
    )
    return model(
        "top",
        [input_layer("x"), layer("level2", "Functional", call(ref("x"), training=False), submodel=level2)],
        ["x"],
        [ref("level2")],
    )


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path
