"""The floor: the least any static reader of a saved Keras model must do.

Open the file (h5py for .h5, zipfile for .keras, plain read for JSON), ``json.loads``
the model config, and build a networkx DiGraph with one node per layer (nested models
included, named by path) and one edge per tensor a layer call reads. No analysis, no
report. graphcheck does all of this and more, so its time over this one is the price
of its analysis and report.

Usage::

    .venv/bin/python benchmarks/floor.py MODEL
"""

from __future__ import annotations

import json
import sys
from typing import Any

import networkx as nx


def read_config(path: str) -> dict[str, Any]:
    """The model config of a .h5, .keras or architecture .json file."""
    if path.endswith(".h5"):
        import h5py  # imports numpy, as any .h5 reader must

        with h5py.File(path, "r") as handle:
            raw = handle.attrs["model_config"]
        return json.loads(raw if isinstance(raw, str) else raw.decode("utf-8"))
    if path.endswith(".keras"):
        import zipfile

        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _history(item: Any) -> list[Any]:
    """keras_history entries inside one Keras 3 call's args (any nesting)."""
    found = []
    stack = [item]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                found.append(value["config"]["keras_history"])
            else:
                stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def add_layers(graph: nx.DiGraph, config: dict[str, Any], prefix: str = "") -> None:
    """Add every layer of one (possibly nested) model config, and its input edges."""
    for layer in config["config"].get("layers", ()):
        name = prefix + (layer.get("name") or layer["config"]["name"])
        graph.add_node(name, class_name=layer["class_name"])
        for call in layer.get("inbound_nodes", ()):
            if isinstance(call, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
                refs = _history(call["args"])
            else:  # Keras 2: [[layer, node_index, tensor_index, kwargs], ...]
                refs = call
            for ref in refs:
                graph.add_edge(prefix + ref[0], name)
        if "layers" in layer.get("config", {}):
            add_layers(graph, layer, name + "/")


def main(path: str) -> int:
    config = read_config(path)
    graph = nx.DiGraph()
    add_layers(graph, config)
    print(graph.number_of_nodes(), graph.number_of_edges())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
