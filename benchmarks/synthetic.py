"""Generate large Keras 3 model configs without Keras: chains, nesting, shared calls, merges.

The model is the same shape at every size, only longer::

    input -> shared_block -> shared_block            (one nested model called twice)
          -> block_0 -> Add(x, block_0(x))            (a residual Add around each block)
          -> block_1 -> ...
          -> head (Dense)

Each ``block_i`` is a nested Functional: a chain of Dense/Dropout/BatchNormalization
triples, then a second-level nested Functional ``inner_i`` (Dense, Dropout, Dense)
whose output is added back to the chain. A block holds 27 layer configs counting
itself and its top-level Add, so ``--layers 100000`` writes about 3,700 blocks.

The files are what Keras 3 writes: ``NAME.json`` is ``model.to_json()`` and
``NAME.keras`` is an archive holding ``config.json`` and ``metadata.json`` (no weights:
graphcheck reads only the config). ``--check-with-keras`` loads each
written config with ``keras.models.model_from_json`` to show that Keras accepts it.

Usage::

    .venv/bin/python benchmarks/synthetic.py OUTDIR --layers 1000 10000 100000
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path
from typing import Any

UNITS = 16
TRIPLES_PER_BLOCK = 6
LAYERS_PER_BLOCK = 27  # block + its Add at top level + 25 inside (see module docstring)


def _tensor(layer: str, node: int = 0, index: int = 0) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [None, UNITS], "dtype": "float32",
                       "keras_history": [layer, node, index]}}


def _dtype() -> dict[str, Any]:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
            "registered_name": None}


def _layer(class_name: str, name: str, config: dict[str, Any],
           calls: list[Any], inputs: int = 1) -> dict[str, Any]:
    shape = [None, UNITS] if inputs == 1 else [[None, UNITS]] * inputs
    return {"module": "keras.layers", "class_name": class_name,
            "config": {"name": name, "trainable": True, "dtype": _dtype(), **config},
            "registered_name": None, "build_config": {"input_shape": shape},
            "name": name, "inbound_nodes": calls}


def _call(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return {"args": list(args), "kwargs": kwargs}


def _input(name: str) -> dict[str, Any]:
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": [None, UNITS], "dtype": "float32", "sparse": False,
                       "ragged": False, "name": name, "optional": False},
            "registered_name": None, "name": name, "inbound_nodes": []}


def _dense(name: str, source: str, node: int = 0) -> dict[str, Any]:
    return _layer("Dense", name, {"units": UNITS, "activation": "relu", "use_bias": True},
                  [_call(_tensor(source, node))])


def _dropout(name: str, source: str) -> dict[str, Any]:
    return _layer("Dropout", name, {"rate": 0.1, "seed": None, "noise_shape": None},
                  [_call(_tensor(source))])


def _batch_norm(name: str, source: str) -> dict[str, Any]:
    return _layer("BatchNormalization", name,
                  {"axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True},
                  [_call(_tensor(source), mask=None)])


def _add(name: str, sources: list[tuple[str, int]]) -> dict[str, Any]:
    return _layer("Add", name, {}, [_call([_tensor(s, n) for s, n in sources])], len(sources))


def _functional(name: str, layers: list[dict[str, Any]], first: str, last: str,
                calls: list[Any]) -> dict[str, Any]:
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": name, "trainable": True, "layers": layers,
                       "input_layers": [first, 0, 0], "output_layers": [last, 0, 0]},
            "registered_name": "Functional", "build_config": {"input_shape": None},
            "compile_config": {}, "name": name, "inbound_nodes": calls}


def _chain(prefix: str, source: str, triples: int) -> tuple[list[dict[str, Any]], str]:
    """Dense -> Dropout -> BatchNormalization, ``triples`` times; returns layers, last name."""
    layers: list[dict[str, Any]] = []
    for i in range(triples):
        layers += [_dense(f"{prefix}dense_{i}", source),
                   _dropout(f"{prefix}dropout_{i}", f"{prefix}dense_{i}"),
                   _batch_norm(f"{prefix}bn_{i}", f"{prefix}dropout_{i}")]
        source = f"{prefix}bn_{i}"
    return layers, source


def _block(index: int, source: str) -> dict[str, Any]:
    """One nested block (25 layer configs including itself) called on ``source``."""
    layers = [_input("x")]
    chain, last = _chain("", "x", TRIPLES_PER_BLOCK)
    layers += chain
    inner = _functional(
        f"inner_{index}",
        [_input("x"), _dense("dense_a", "x"), _dropout("dropout", "dense_a"),
         _dense("dense_b", "dropout")],
        "x", "dense_b", [_call(_tensor(last), mask=None)],
    )
    layers += [inner, _add("add", [(last, 0), (inner["name"], 0)])]
    return _functional(f"block_{index}", layers, "x", "add", [_call(_tensor(source), mask=None)])


def synthetic_model(target_layers: int, name: str = "synthetic") -> dict[str, Any]:
    """A Keras 3 Functional config with about ``target_layers`` layer configs at all depths."""
    shared_layers, shared_last = _chain("", "x", 1)
    shared = _functional("shared_block", [_input("x"), *shared_layers], "x", shared_last,
                         [_call(_tensor("input"), mask=None),
                          _call(_tensor("shared_block", 0), mask=None)])
    layers = [_input("input"), shared]
    source, node = "shared_block", 1  # the output of its second call
    blocks = max(1, (target_layers - 4 - len(shared_layers) - 2) // LAYERS_PER_BLOCK)
    for i in range(blocks):
        block = _block(i, source)
        block["inbound_nodes"] = [_call(_tensor(source, node), mask=None)]
        layers += [block, _add(f"residual_{i}", [(source, node), (block["name"], 0)])]
        source, node = f"residual_{i}", 0
    layers.append(_dense("head", source, node))
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": name, "trainable": True, "layers": layers,
                       "input_layers": ["input", 0, 0], "output_layers": ["head", 0, 0]},
            "registered_name": "Functional", "build_config": {"input_shape": None},
            "compile_config": None}


def count_layers(config: dict[str, Any]) -> int:
    """Every layer config at every depth, nested models included (not the top model)."""
    total = 0
    stack = list(config["config"]["layers"])
    while stack:
        layer = stack.pop()
        total += 1
        if layer["class_name"] == "Functional":
            stack += layer["config"]["layers"]
    return total


def write_model(config: dict[str, Any], outdir: Path, name: str) -> tuple[Path, Path]:
    """Write NAME.json (``to_json()``) and NAME.keras (config.json + metadata.json)."""
    outdir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(config)
    json_path = outdir / f"{name}.json"
    json_path.write_text(text)
    keras_path = outdir / f"{name}.keras"
    with zipfile.ZipFile(keras_path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps(
            {"keras_version": "3.15.1", "date_saved": "2026-01-01@00:00:00"}))
        archive.writestr("config.json", text)
    return json_path, keras_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--layers", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--check-with-keras", action="store_true",
                        help="Load each written JSON with keras.models.model_from_json.")
    args = parser.parse_args()
    for target in args.layers:
        name = f"synthetic_{target}"
        config = synthetic_model(target, name)
        json_path, keras_path = write_model(config, args.outdir, name)
        print(f"{keras_path}: {count_layers(config)} layers")
        if args.check_with_keras:
            import keras

            model = keras.models.model_from_json(json_path.read_text())
            print(f"  keras: {len(model.layers)} top-level layers, "
                  f"{model.count_params():,} parameters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
