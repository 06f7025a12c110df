"""The load-safety rules (GC4xx) on their cases as data: ``tests/rules/cases/GC4nn.yaml``.

Each file lists named cases, sqlfluff-style: a config fragment (or an archive or
HDF5 oddity), the containers it is written in, and the exact set of load-safety
rule IDs graphcheck must report on it (``[]`` for a passing case). A case is
written as a real file of each container (architecture JSON, ``.h5`` with
``model_config``/``training_config`` attributes, ``.keras`` with ``config.json``)
and read through ``graphcheck.load``, so the readers' share is tested too. Rule IDs
are compared, never wording.

Fragments go where a loader finds objects:

``layer_config``
    keys merged into the config of the model's Dense layer ``dense``
    (initializers, regularizers, constraints, activations, dtype policies).
``layer``
    a whole layer entry replacing ``dense`` (its name defaults to ``dense``).
``nest``
    ``submodel`` puts that layer inside a nested Functional model, ``wrapper``
    inside a ``TimeDistributed`` layer, ``both`` inside a wrapper in a submodel.
``compile``
    the compile settings (``loss``, ``metrics``, ...): ``compile_config`` in
    ``.keras``, the ``training_config`` attribute in ``.h5`` (JSON holds none).
``keras2: true``
    a Keras 2 model (list-style nodes, no modules) instead of a Keras 3 one.
``members`` / ``bomb`` / ``declare`` / ``symlink``
    extra ``.keras`` members: plain text, a real DEFLATE stream of zeros of a
    given size, a member whose central directory declares a size, a link.
``weights``
    an HDF5 oddity in the weights (``.h5`` file, or ``model.weights.h5`` member).
"""

from __future__ import annotations

import functools
import json
import stat
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import graphcheck
from graphcheck.gate_config import GateConfig
from graphcheck.readers import h5 as h5_reader
from graphcheck.readers.containers import zip_notes
from graphcheck.rules import RULES
from graphcheck.rules.load_safety import check_stored
from graphcheck.rules.runner import run_rules

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hostile_fixtures as hf
import load_safety_samples as samples

CASES_DIR = Path(__file__).with_name("cases")
ALL_CONTAINERS = ("json", "h5", "keras")
LOAD_SAFETY = GateConfig(select=("load-safety",), keras_version="3.15.1")
#: Where each kind of case can be stored at all.
_ONLY = {
    "compile": ("h5", "keras"),
    "weights": ("h5", "keras"),
    "members": ("keras",),
    "bomb": ("keras",),
    "declare": ("keras",),
    "symlink": ("keras",),
}


@functools.cache
def load_cases() -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """``(rule, case name, case)`` for every case of every rule file."""
    found = []
    for path in sorted(CASES_DIR.glob("GC*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert document["rule"] == path.stem, path
        found += [(document["rule"], case["name"], case) for case in document["cases"]]
    return tuple(found)


def containers(case: dict[str, Any]) -> tuple[str, ...]:
    allowed = ALL_CONTAINERS
    for key, only in _ONLY.items():
        if key in case:
            allowed = tuple(c for c in allowed if c in only)
    chosen = tuple(case.get("containers", allowed))
    assert set(chosen) <= set(allowed), (case["name"], chosen, allowed)
    return chosen


CASES = [
    pytest.param(rule, case, container, id=f"{rule}-{name}-{container}")
    for rule, name, case in load_cases()
    for container in containers(case)
]


# ---- building a case's file ---------------------------------------------------------------


def _layer_entry(case: dict[str, Any], inputs: list[str]) -> dict:
    if "layer" in case:
        entry = json.loads(json.dumps(case["layer"]))
        name = entry.setdefault("name", "dense")
        entry.setdefault("module", "keras.layers")
        entry.setdefault("registered_name", None)
        config = entry.setdefault("config", {})
        if isinstance(config, dict):
            config.setdefault("name", name)
        entry["inbound_nodes"] = hf.k3_layer(name, "Dense", inputs)["inbound_nodes"]
        return entry
    config = {"units": 4, **json.loads(json.dumps(case.get("layer_config", {})))}
    return hf.k3_layer("dense", "Dense", inputs, config=config)


def _keras3_config(case: dict[str, Any]) -> dict:
    nest = case.get("nest")
    layer = _layer_entry(case, ["x"])
    if nest in ("wrapper", "both"):
        inner = {k: v for k, v in layer.items() if k != "inbound_nodes"}
        layer = hf.k3_layer("td", "TimeDistributed", ["x"], config={"layer": inner})
    name = layer["name"]
    if nest in ("submodel", "both"):
        block = hf.k3_functional("block", [hf.k3_input("x"), layer], ["x"], [name])
        block["inbound_nodes"] = hf.k3_layer("block", "Dense", ["x"])["inbound_nodes"]
        layer, name = block, "block"
    return hf.k3_functional("top", [hf.k3_input(), layer], ["x"], [name])


def _keras2_config(case: dict[str, Any]) -> dict:
    model = hf.k2_chain(1)
    layers = model["config"]["layers"]
    entry = {**layers[1], **json.loads(json.dumps(case.get("layer", {})))}
    name = entry.get("name", "l0")
    if isinstance(entry.get("config"), dict):
        entry["config"] = {"name": name, **entry["config"]}
    entry["name"] = name
    entry["inbound_nodes"] = layers[1]["inbound_nodes"]
    layers[1] = entry
    model["config"]["output_layers"] = [[name, 0, 0]]
    return model


def _write_h5(path: Path, config: dict, training: Any, version: str) -> None:
    import h5py

    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config)
        handle.attrs["keras_version"] = version
        handle.attrs["backend"] = "tensorflow"
        if training is not None:
            handle.attrs["training_config"] = json.dumps(training)
        if "weights" in _CURRENT:
            _weights(handle, _CURRENT["weights"], path.parent)


_CURRENT: dict[str, Any] = {}


def _weights(handle: Any, kind: str, directory: Path) -> None:
    """One HDF5 oddity where Keras keeps a layer's weights (or plain weights)."""
    import h5py

    if kind == "plain":
        handle.create_dataset("layers/dense/vars/0", data=[[0.0] * 4] * 4, dtype="f4")
    elif kind == "soft_link":
        handle.create_dataset("layers/dense/vars/0", data=[0.0] * 4, dtype="f4")
        handle["layers/dense/vars/1"] = h5py.SoftLink("/layers/dense/vars/0")
    else:
        samples.write_h5_payload(handle, f"hdf5_{kind}", samples.secret_fifo(directory))


def write_case(case: dict[str, Any], container: str, directory: Path) -> Path:
    version = "2.21.0" if case.get("keras2") else "3.15.1"
    config = _keras2_config(case) if case.get("keras2") else _keras3_config(case)
    compile_settings = case.get("compile")
    path = directory / f"model.{container}"
    _CURRENT.clear()
    _CURRENT.update({k: case[k] for k in ("weights",) if k in case})
    if container == "json":
        return hf.write_json_model(path, config, version)
    if container == "h5":
        _write_h5(path, config, compile_settings, version)
        return path
    if compile_settings is not None:
        config = {**config, "compile_config": compile_settings}
    extra: list[tuple[str, bytes]] = [
        (m["name"], m.get("text", "x").encode() * m.get("repeat", 1))
        for m in case.get("members", ())
    ]
    if "weights" in case:
        weights = directory / "model.weights.h5"
        import h5py

        with h5py.File(weights, "w") as handle:
            _weights(handle, case["weights"], directory)
        extra.append(("model.weights.h5", weights.read_bytes()))
    hf.write_keras_zip(path, config, keras_version=version, extra=extra)
    for bomb in case.get("bomb", ()):
        samples.append_deflate_bomb(path, bomb["name"], int(bomb["size"]))
    for declared in case.get("declare", ()):
        _append_declaring(path, declared["name"], int(declared["size"]), declared.get("text", ""))
    if "symlink" in case:
        info = zipfile.ZipInfo(case["symlink"])
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(info, "/etc/passwd")
    return path


def _append_declaring(path: Path, name: str, size: int, text: str) -> None:
    """A deflated member whose central directory declares ``size`` bytes uncompressed."""
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, text.encode() or bytes(1024))
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02")
    data[entry + 24 : entry + 28] = min(size, 0xFFFFFFFE).to_bytes(4, "little")
    path.write_bytes(bytes(data))


def found_rules(path: Path) -> list[str]:
    analysis = graphcheck.load(path).analyse("3.15.1")
    return sorted({f.rule for f in run_rules(analysis, LOAD_SAFETY)})


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One folder for every case, with HDF5 read in this process (the reader's own
    no-fork path): a case then takes milliseconds. The forked child and its deadline
    are tested in tests/test_hostile.py."""

    def run(subject: str, work: Any) -> list[bytes | None]:
        return [f.encode("utf-8", "surrogatepass") if isinstance(f, str) else f for f in work()]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(h5_reader, "_run", run)
        yield tmp_path_factory.mktemp("load-safety-cases")


@pytest.mark.parametrize(("rule", "case", "container"), CASES)
def test_case(rule: str, case: dict[str, Any], container: str, workdir: Path) -> None:
    """The load-safety rules report exactly the case's rule IDs, in every container."""
    expected = sorted(case["expect"])
    assert set(expected) <= {r for r, item in RULES.items() if "load-safety" in item.groups}
    directory = workdir / f"{rule}-{case['name']}-{container}"
    directory.mkdir()
    assert found_rules(write_case(case, container, directory)) == expected


#: Rules about the files of a preset folder (links, sizes), not about what a config
#: holds; tests/test_presets.py writes such folders.
FOLDER_RULES = {"GC420"}


class TestCatalogue:
    def test_every_load_safety_rule_has_failing_and_passing_cases(self) -> None:
        """Each GC4xx rule has a case file with at least one case that fires it and
        one that does not, each in every container the rule applies to."""
        gc4 = sorted(
            r for r, item in RULES.items()
            if "load-safety" in item.groups and r[:3] == "GC4" and r not in FOLDER_RULES
        )
        by_rule: dict[str, list[dict[str, Any]]] = {}
        for rule, _, case in load_cases():
            by_rule.setdefault(rule, []).append(case)
        assert sorted(by_rule) == gc4
        for rule, cases in by_rule.items():
            fire = {c for case in cases if rule in case["expect"] for c in containers(case)}
            quiet = {c for case in cases if rule not in case["expect"] for c in containers(case)}
            reach = {c for case in cases for c in containers(case)}
            assert fire == reach and quiet == reach, (rule, fire, quiet, reach)

    def test_case_names_are_unique(self) -> None:
        """A case is named once in its file, so a failure names one case."""
        names = [(rule, name) for rule, name, _ in load_cases()]
        assert len(names) == len(set(names))


class TestCheckStored:
    """``check_stored``: the load-safety rules on what a preset directory holds, file by file."""

    def test_json_config_of_a_layer(self) -> None:
        """A bare layer config (no model around it) is checked like a model's."""
        popen = {"module": "subprocess", "class_name": "Popen", "config": {}}
        layer = {"module": "keras.layers", "class_name": "Dense",
                 "config": {"name": "d", "units": 4, "kernel_initializer": popen}}
        assert [f.rule for f in check_stored({"config": layer})] == ["GC402"]
        layer["config"]["kernel_initializer"] = "glorot_uniform"
        assert check_stored({"config": layer}) == ()

    def test_lambda_in_a_config_without_graph_is_reported(self) -> None:
        """With no layer graph, a Lambda's stored bytecode is GC401's (GC302 has no calls)."""
        lam = {"class_name": "__lambda__", "config": {"code": "4wAAAA=="}}
        lambda_layer = {"module": "keras.layers", "class_name": "Lambda",
                        "config": {"name": "l", "function": lam}}
        assert [f.rule for f in check_stored({"config": lambda_layer})] == ["GC401"]

    def test_hdf5_file_and_zip_listing(self, workdir: Path) -> None:
        """Container notes of a weights file and of an archive listing are checked alone."""
        import h5py

        from graphcheck.readers.h5 import read_h5_notes

        weights = workdir / "preset.weights.h5"
        with h5py.File(weights, "w") as handle:
            _weights(handle, "soft_link", workdir)
        notes = read_h5_notes(str(weights), str(weights), "model.weights.h5:")
        assert [f.rule for f in check_stored({}, container=notes)] == ["GC410"]
        bomb = zipfile.ZipInfo("assets/tokenizer/vocabulary.txt")
        bomb.file_size, bomb.compress_size = 2 << 30, 2 << 20
        assert [f.rule for f in check_stored({}, container=zip_notes([bomb]))] == ["GC409"]


class TestZipBombExposure:
    @pytest.mark.parametrize(
        ("declared", "keras", "affected"),
        [
            (100 << 20, "3.3.3", True),
            (100 << 20, "3.15.1", True),  # under its 256 MiB floor: extracted
            (100 << 20, "3.16.0.dev2026102704", False),
            (300 << 20, "3.15.1", False),  # refused before extraction
            (300 << 20, "3.15.0", True),
            (300 << 20, "2.21.0", True),  # tf_keras
        ],
    )
    def test_verdict_follows_what_each_keras_does(
        self, declared: int, keras: str, affected: bool
    ) -> None:
        """GC409 says a Keras is affected exactly where it extracts the bomb (measured with
        benchmarks/zip_ratios.py extract; 3.15.1 in test_load_safety.py)."""
        bomb = zipfile.ZipInfo("assets/bomb.bin")
        bomb.file_size, bomb.compress_size = declared, declared // 1000
        (finding,) = check_stored({}, container=zip_notes([bomb]), keras_version=keras)
        assert finding.rule == "GC409"
        assert (f"Keras {keras}, which will run it, is affected" in finding.message) is affected
