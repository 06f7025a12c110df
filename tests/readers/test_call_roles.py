"""Which argument each stored input was passed as, read from Keras 3 and Keras 2 configs.

Attention dropout's ``masks`` depend on it: the query and the key (the value when no
key is passed) feed the attention weights, whatever order the keywords were written in.
The real-Keras proof is tests/truth/test_attention_truth.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import write_json

import graphcheck
from graphcheck.readers import read_model


def _tensor(name: str) -> dict[str, Any]:
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": [None, 3, 4], "dtype": "float32", "keras_history": [name, 0, 0]},
    }


def _input(name: str, dialect: str) -> dict[str, Any]:
    entry = {
        "class_name": "InputLayer",
        "name": name,
        "inbound_nodes": [],
        "config": {"name": name, "batch_shape": [None, 3, 4]},
    }
    if dialect == "keras3":
        entry.update(module="keras.layers", registered_name=None)
    return entry


def config(dialect: str, keywords: list[str]) -> dict[str, Any]:
    """A Functional: inputs q, v, k; MultiHeadAttention called with ``keywords``, in that order."""
    sources = {"query": "q", "value": "v", "key": "k"}
    if dialect == "keras3":
        node: Any = [{"args": [], "kwargs": {kw: _tensor(sources[kw]) for kw in keywords}}]
    else:  # Keras 2: the first argument leads, the others ride in its kwargs
        first, *rest = keywords
        node = [[[sources[first], 0, 0, {kw: [sources[kw], 0, 0] for kw in rest}]]]
    mha = {
        "class_name": "MultiHeadAttention",
        "name": "mha",
        "inbound_nodes": node,
        "config": {"name": "mha", "num_heads": 2, "key_dim": 4, "dropout": 0.5},
    }
    if dialect == "keras3":
        mha.update(module="keras.layers", registered_name=None)
    return {
        "class_name": "Functional",
        "config": {
            "name": "m",
            "trainable": True,
            "layers": [_input("q", dialect), _input("v", dialect), _input("k", dialect), mha],
            "input_layers": [["q", 0, 0], ["v", 0, 0], ["k", 0, 0]],
            "output_layers": [["mha", 0, 0]],
        },
    }


@pytest.mark.parametrize(
    ("dialect", "keywords", "roles", "masked"),
    [
        (
            "keras3",
            ["key", "value", "query"],
            ("key", "value", "query"),
            {"q": "query", "k": "key"},
        ),
        ("keras3", ["value", "query"], ("value", "query"), {"q": "query", "v": "value"}),
        ("keras2", ["query", "key", "value"], ("0", "key", "value"), {"q": "query", "k": "key"}),
        ("keras2", ["query", "value"], ("0", "value"), {"q": "query", "v": "value"}),
    ],
)
def test_roles_decide_the_attention_masks(
    tmp_path: Path,
    dialect: str,
    keywords: list[str],
    roles: tuple[str, ...],
    masked: dict[str, str],
) -> None:
    path = write_json(tmp_path / "mha.json", config(dialect, keywords))
    version = "3.15.1" if dialect == "keras3" else "2.21.0"
    layer = {entry.name: entry for entry in read_model(path).model.layers}["mha"]
    assert layer.calls[0].input_roles == roles
    (item,) = graphcheck.analyse(path, keras_version=version)["stochastic"]
    assert {m["producer"]: m["argument"] for m in item["masks"]} == masked
    assert {m["kind"] for m in item["masks"]} == {"attention_weights"}
