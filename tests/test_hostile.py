"""Hostile and broken model files: never execute, never crash, never hang.

Every input here either analyses, or ends with exactly one stderr line
``graphcheck: error: <path>: <problem>`` and exit code 3: never a traceback, never
exit 123, never a hang (every subprocess runs under a timeout). Booby-trapped files
prove that nothing stored in a file is run or imported.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hostile_fixtures as hf  # noqa: E402

from graphcheck.errors import GraphcheckError  # noqa: E402

SMALL_SAMPLES = [
    hf.SAMPLES / "inverted_dropout.h5",
    hf.SAMPLES / "inverted_dropout.keras",
    hf.SAMPLES / "merged_frozen.keras",
    hf.SAMPLES / "merged_frozen_tfkeras.h5",
    hf.SAMPLES / "inverted_dropout_tfkeras.h5",
]


@pytest.fixture(scope="module")
def evil_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding :data:`hf.EVIL_MODULE`, which writes a marker on import."""
    directory = tmp_path_factory.mktemp("evil")
    (directory / f"{hf.EVIL_MODULE}.py").write_text(hf.EVIL_MODULE_SOURCE)
    return directory


@pytest.fixture()
def marker(tmp_path: Path) -> Path:
    """Where trapped code would write; must never exist after graphcheck ran."""
    return tmp_path / "marker"


def assert_no_marker(marker: Path) -> None:
    assert not marker.exists(), "stored code ran"
    assert not Path(f"{marker}.imported").exists(), "a module named by the file was imported"


def analysed(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one model entry of a JSON run that analysed its file (exit 1: an error finding)."""
    assert result.returncode in (0, 1), (result.returncode, result.stderr[-3000:])
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["summary"]["failed"] is (result.returncode == 1)
    (model,) = document["models"]
    return model


# ---- booby traps -------------------------------------------------------------------


@pytest.fixture(scope="module")
def traps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Lambda models built and saved by real tf_keras and Keras 3 (one TF subprocess)."""
    pytest.importorskip("tensorflow")
    return hf.build_trap_models(tmp_path_factory.mktemp("traps"))


def _stored_lambda_code(config: Any) -> list[str]:
    """The base64 bytecode of every Lambda in a stored config, at any depth."""
    found: list[str] = []
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("class_name") == "Lambda":
                function = item["config"]["function"]
                found.append(function["config"]["code"] if isinstance(function, dict)
                             else function[0])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _run_stored_code(code: str, marker: Path) -> None:
    """Run stored Lambda bytecode the way Keras does on an unsafe load."""
    script = (
        "import base64, marshal, sys, types\n"
        "code = marshal.loads(base64.b64decode(sys.argv[1]))\n"
        "types.FunctionType(code, {'__builtins__': __builtins__})(1)\n"
    )
    env = dict(os.environ, **{hf.MARKER_ENV: str(marker)})
    subprocess.run([hf.PYTHON, "-c", script, code], check=True, env=env, timeout=60)


class TestBoobyTraps:
    @pytest.mark.keras  # the traps fixture builds its models with TensorFlow
    def test_traps_are_armed(self, traps: dict[str, Path], tmp_path: Path) -> None:
        """The stored bytecode of every trap really writes the marker when run."""
        for name, path in traps.items():
            config, _ = hf.read_stored_config(path)
            codes = _stored_lambda_code(config)
            assert len(codes) == 1, name
            marker = tmp_path / f"{name}.marker"
            _run_stored_code(codes[0], marker)
            assert marker.read_text() == "ran", name

    @pytest.mark.parametrize("name", sorted(hf.TRAP_MODELS))
    @pytest.mark.keras  # the traps fixture builds its models with TensorFlow
    def test_real_lambda_is_reported_not_run(
        self, traps: dict[str, Path], name: str, marker: Path, evil_dir: Path
    ) -> None:
        """A Lambda saved by Keras is listed in code_layers and its code never runs."""
        result = hf.run_cli("check", "--format", "json", traps[name],
                            env=hf.cli_env(marker, evil_dir))
        model = analysed(result)
        assert [c["path"] for c in model["code_layers"]] == list(hf.TRAP_MODELS[name])
        assert_no_marker(marker)

    def test_hand_made_trap_is_armed(self, tmp_path: Path) -> None:
        """The hand-made trap bytecode writes the marker when run."""
        marker = tmp_path / "marker"
        _run_stored_code(base64.b64encode(hf.trap_code()).decode(), marker)
        assert marker.read_text() == "ran"

    @pytest.mark.parametrize("fmt", ["json", "h5", "keras"])
    @pytest.mark.parametrize("case", sorted(hf.hand_made_traps()))
    def test_named_code_and_modules_are_not_loaded(
        self, case: str, fmt: str, tmp_path: Path, marker: Path, evil_dir: Path
    ) -> None:
        """Configs naming modules, functions and bytecode analyse without importing any."""
        config = hf.hand_made_traps()[case]
        path = hf.write_model(tmp_path / f"{case}.{fmt}", config, "3.15.1")
        model = analysed(hf.run_cli("check", "--format", "json", path,
                                    env=hf.cli_env(marker, evil_dir)))
        code_paths = [c["path"] for c in model["code_layers"]]
        if case == "k3_lambda_top":
            assert code_paths == ["lam"]
        elif case.endswith("_nested"):
            assert code_paths == ["outer/mid/inner/lam"]
        else:
            unknown = {u["path"] for u in model["unknown_layers"]}
            assert {"evil", "sys", "ex"} <= unknown
        assert_no_marker(marker)
        assert not Path("/tmp/graphcheck-pwned").exists()

    @pytest.mark.keras  # the traps fixture builds its models with TensorFlow
    def test_cli_imports_nothing_a_file_names(
        self, traps: dict[str, Path], tmp_path: Path, marker: Path, evil_dir: Path
    ) -> None:
        """After analysing every trap, no Keras, TensorFlow or named module is imported."""
        paths = list(traps.values())
        for case, config in hf.hand_made_traps().items():
            paths.append(hf.write_json_model(tmp_path / f"{case}.json", config, "3.15.1"))
        modules_file = tmp_path / "modules.json"
        script = (
            "import atexit, json, sys\n"
            "out = sys.argv[1]\n"
            "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(sys.modules))))\n"
            "sys.argv = ['graphcheck', 'check', '--format', 'json', *sys.argv[2:]]\n"
            "from graphcheck.cli import run\n"
            "run()\n"
        )
        result = subprocess.run(
            [hf.PYTHON, "-c", script, str(modules_file), *map(str, paths)],
            capture_output=True, text=True, timeout=hf.CLI_TIMEOUT,
            env=hf.cli_env(marker, evil_dir), cwd=hf.ROOT,
        )
        assert result.returncode == 1, result.stderr[-3000:]  # the Lambdas are error findings
        assert len(json.loads(result.stdout)["models"]) == len(paths)
        modules = set(json.loads(modules_file.read_text()))
        for forbidden in ("tensorflow", "keras", "tf_keras", "torch", "jax", hf.EVIL_MODULE):
            assert forbidden not in modules
        assert_no_marker(marker)

    def test_library_imports_nothing_a_file_names(self, tmp_path: Path) -> None:
        """In process too: analysing the traps leaves the named module unimported."""
        for case, config in hf.hand_made_traps().items():
            path = hf.write_json_model(tmp_path / f"{case}.json", config, "3.15.1")
            assert hf.analyse_in_process(path) is None
        assert hf.EVIL_MODULE not in sys.modules


# ---- size and count limits ------------------------------------------------------------


def _zip_with_streamed_member(path: Path, name: str, size: int, chunk: bytes = b" ") -> Path:
    """A zip whose ``name`` inflates to ``size`` bytes of ``chunk`` (a compression bomb)."""
    block = chunk * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        with archive.open(name, "w", force_zip64=True) as member:
            for _ in range(size // len(block)):
                member.write(block)
        if name != "config.json":
            archive.writestr("config.json", json.dumps(hf.k3_chain(1)))
    return path


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``config.json`` of 600 MiB of spaces, about 600 kB compressed."""
    return _zip_with_streamed_member(tmp_path_factory.mktemp("bomb") / "bomb.keras",
                                     "config.json", 600 << 20)


class TestLimits:
    def test_config_cap_is_far_above_real_models(self) -> None:
        """The cap leaves 60x room over the largest keras.applications config (~1 MiB)."""
        from graphcheck.readers.source import MAX_CONFIG_BYTES

        assert 60 * (1 << 20) <= MAX_CONFIG_BYTES <= 128 * (1 << 20)

    def test_zip_bomb_config(self, zip_bomb: Path) -> None:
        """A config.json that inflates far beyond the cap stops at the cap."""
        assert zip_bomb.stat().st_size < 2 << 20
        problem = hf.assert_clean_failure(hf.run_cli("check", zip_bomb), zip_bomb)
        assert "config.json decompresses to more than" in problem

    def test_zip_bomb_metadata(self, tmp_path: Path) -> None:
        """A metadata.json bomb stops at its own, smaller cap."""
        path = _zip_with_streamed_member(tmp_path / "meta.keras", "metadata.json", 8 << 20)
        # The bomb is written first; zipfile keeps the last member of a name.
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist()]
        assert names.count("metadata.json") == 2
        hf.assert_analysed_or_clean_failure(hf.run_cli("check", path), path)

    def test_too_many_members(self, tmp_path: Path) -> None:
        """More members than the limit are refused before any is read."""
        from graphcheck.readers.keras_zip import MAX_MEMBERS

        path = tmp_path / "many.keras"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("config.json", json.dumps(hf.k3_chain(2)))
            for index in range(MAX_MEMBERS + 1):
                archive.writestr(f"w/{index}", b"")
        problem = hf.assert_clean_failure(hf.run_cli("check", path), path)
        assert "members" in problem

    def test_thousands_of_members_below_limit(self, tmp_path: Path) -> None:
        """Thousands of members below the limit are fine."""
        path = tmp_path / "some.keras"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("config.json", json.dumps(hf.k3_chain(2)))
            for index in range(3000):
                archive.writestr(f"w/{index}", b"x")
        analysed(hf.run_cli("check", "--format", "json", path))

    def test_path_traversal_members_write_nothing(self, tmp_path: Path) -> None:
        """Members named ``../../evil`` or absolute are never extracted anywhere."""
        work = tmp_path / "a" / "b"
        work.mkdir(parents=True)
        names = ["../../evil", "../evil", "/tmp/graphcheck-evil-abs", "..\\..\\evil",
                 "config.json/../../evil"]
        path = hf.write_keras_zip(work / "trav.keras", hf.k3_chain(2),
                                  extra=[(n, b"pwned") for n in names])
        before = sorted(p for p in tmp_path.rglob("*"))
        analysed(hf.run_cli("check", "--format", "json", path, cwd=work))
        assert sorted(p for p in tmp_path.rglob("*")) == before
        assert not Path("/tmp/graphcheck-evil-abs").exists()

    def test_huge_h5_attribute(self, tmp_path: Path) -> None:
        """A model_config attribute beyond the cap is refused by its stored size."""
        from graphcheck.readers.source import MAX_CONFIG_BYTES

        path = hf.write_h5_model(tmp_path / "huge.h5", raw=" " * (MAX_CONFIG_BYTES + 16),
                                 large_attrs=True)
        problem = hf.assert_clean_failure(hf.run_cli("check", path), path)
        assert "larger than" in problem

    @pytest.mark.parametrize("raw", [
        pytest.param(lambda: __import__("numpy").bytes_(b'{"class_name": "\xff\xfe"}'),
                     id="fixed-bytes"),
        pytest.param(lambda: b'{"class_name": "\xff"}', id="bytes"),
        pytest.param(lambda: __import__("numpy").arange(10), id="int-array"),
        pytest.param(lambda: 3.5, id="float"),
        pytest.param(lambda: "", id="empty"),
        pytest.param(lambda: __import__("numpy").array([b"{}", b"{}"]), id="string-array"),
        pytest.param(lambda: __import__("numpy").zeros(
            2, dtype=[("a", "i4"), ("b", "f8")]), id="compound"),
        pytest.param(lambda: "[" * 10_000 + "]" * 10_000, id="nested-10000"),
        pytest.param(lambda: "[1, 2]", id="json-list"),
        pytest.param(lambda: "1" * 5000, id="huge-int"),
    ])
    def test_odd_h5_model_config(self, raw: Any, tmp_path: Path) -> None:
        """model_config that is not UTF-8, not text or not an object is one clean error."""
        path = hf.write_h5_model(tmp_path / "odd.h5", raw=raw())
        hf.assert_clean_failure(hf.run_cli("check", path), path)

    def test_invalid_utf8_in_vlen_string(self, tmp_path: Path) -> None:
        """A UTF-8-typed variable-length attribute holding invalid bytes is one clean error."""
        import h5py
        import numpy as np

        path = tmp_path / "vlen.h5"
        with h5py.File(path, "w") as handle:
            dtype = h5py.string_dtype("utf-8")
            handle.attrs.create("model_config", np.array(b'{"a": "\xff\xfe"}', dtype=dtype),
                                dtype=dtype)
        problem = hf.assert_clean_failure(hf.run_cli("check", path), path)
        assert "model_config" in problem

    @pytest.mark.parametrize("fmt", ["json", "keras", "h5"])
    def test_json_nested_10000_deep(self, fmt: str, tmp_path: Path) -> None:
        """10,000 nested levels are refused, not a RecursionError traceback."""
        text = '{"class_name": "Functional", "config": ' + "[" * 10_000 + "]" * 10_000 + "}"
        path = tmp_path / f"deep.{fmt}"
        if fmt == "json":
            path.write_text(text)
        elif fmt == "keras":
            hf.write_keras_zip(path, raw=text.encode())
        else:
            hf.write_h5_model(path, raw=text)
        problem = hf.assert_clean_failure(hf.run_cli("check", path), path)
        assert "nested too deeply" in problem

    def test_deep_but_decodable_layer_config(self, tmp_path: Path) -> None:
        """A layer config nested as deep as the decoder allows still analyses."""
        config = hf.k3_chain(2)
        deep: Any = []
        for _ in range(500):
            deep = [deep]
        config["config"]["layers"][1]["config"]["junk"] = deep
        path = hf.write_json_model(tmp_path / "deep.json", config, "3.15.1")
        analysed(hf.run_cli("check", "--format", "json", path))

    def test_models_nested_beyond_limit(self, tmp_path: Path) -> None:
        """Models nested deeper than MAX_NESTING are refused with one line."""
        lam = hf.k3_layer("lam", "Dense")
        config = hf.nested_lambda_model(lam, depth=2)
        inner = config["config"]["layers"][1]
        for index in range(80):
            inner = hf.k3_functional(f"m{index}", [hf.k3_input(f"m{index}_in"), {
                **inner, "inbound_nodes": [{"args": [hf.k3_tensor(f"m{index}_in")],
                                            "kwargs": {}}]}], [f"m{index}_in"], [inner["name"]])
        top = hf.k3_functional("top", [hf.k3_input(), {
            **inner, "inbound_nodes": [{"args": [hf.k3_tensor("x")], "kwargs": {}}]}],
            ["x"], [inner["name"]])
        path = hf.write_json_model(tmp_path / "nested.json", top, "3.15.1")
        problem = hf.assert_clean_failure(hf.run_cli("check", path), path)
        assert "nested" in problem

    def test_100k_layers_linear(self, tmp_path: Path) -> None:
        """A 100,000-layer Functional analyses in seconds (was quadratic: hours)."""
        path = hf.write_json_model(tmp_path / "big.json", hf.k2_chain(100_000), "2.15.0")
        result = hf.run_cli("check", "--format", "json", "-o", tmp_path / "out.json", path,
                            timeout=240)
        assert result.returncode == 0, result.stderr[-2000:]
        report = json.loads((tmp_path / "out.json").read_text())
        assert report["models"][0]["counts"]["layers"] == 100_000


# ---- broken graphs ---------------------------------------------------------------


def _graph_cases() -> dict[str, dict]:
    cases: dict[str, dict] = {}

    def chain_with(edit: Any) -> dict:
        config = hf.k3_chain(3)
        edit(config["config"])
        return config

    def self_loop(c: dict) -> None:
        c["layers"][2]["inbound_nodes"][0]["args"] = [hf.k3_tensor("l1")]

    def two_cycle(c: dict) -> None:
        c["layers"][1]["inbound_nodes"][0]["args"] = [hf.k3_tensor("l1")]

    def unknown(c: dict) -> None:
        c["layers"][2]["inbound_nodes"][0]["args"] = [hf.k3_tensor("ghost")]

    def node_index(c: dict) -> None:
        c["layers"][2]["inbound_nodes"][0]["args"] = [hf.k3_tensor("l0", 5)]

    def output_unknown(c: dict) -> None:
        c["output_layers"] = [["ghost", 0, 0]]

    def input_unknown(c: dict) -> None:
        c["input_layers"] = [["ghost", 0, 0]]

    def duplicate(c: dict) -> None:
        c["layers"][2]["name"] = c["layers"][2]["config"]["name"] = "l0"

    def negative(c: dict) -> None:
        c["layers"][2]["inbound_nodes"][0]["args"] = [hf.k3_tensor("l0", -1)]

    def no_outputs(c: dict) -> None:
        del c["output_layers"]

    def newline_names(c: dict) -> None:
        c["layers"][2]["name"] = c["layers"][2]["config"]["name"] = "a\nb"
        c["layers"][3]["inbound_nodes"][0]["args"] = [hf.k3_tensor("a\nb")]
        c["layers"][1]["inbound_nodes"][0]["args"] = [hf.k3_tensor("a\nb")]

    for edit in (self_loop, two_cycle, unknown, node_index, output_unknown, input_unknown,
                 duplicate, negative, no_outputs, newline_names):
        cases[edit.__name__] = chain_with(edit)
    # A submodel fed by its own output: a cycle through a model boundary.
    sub = hf.nested_lambda_model(hf.k3_layer("lam", "Dense"), depth=1)
    outer = sub["config"]["layers"][1]
    outer["inbound_nodes"] = [{"args": [hf.k3_tensor("outer", 1)], "kwargs": {}},
                              {"args": [hf.k3_tensor("outer", 0)], "kwargs": {}}]
    cases["submodel_cycle"] = sub
    # Tensor index past a submodel's outputs.
    sub2 = hf.nested_lambda_model(hf.k3_layer("lam", "Dense"), depth=1)
    sub2["config"]["layers"].append(hf.k3_layer("after", "Dense", [("outer", 0, 3)]))
    sub2["config"]["output_layers"] = [["after", 0, 0]]
    cases["submodel_tensor_index"] = sub2
    return cases


class TestBrokenGraphs:
    @pytest.mark.parametrize("case", sorted(_graph_cases()))
    def test_broken_graph_is_one_line(self, case: str, tmp_path: Path) -> None:
        """Cycles, dangling references and duplicate names end in one line, exit 3."""
        path = hf.write_json_model(tmp_path / f"{case}.json", _graph_cases()[case], "3.15.1")
        result = hf.run_cli("check", path)
        if case == "newline_names":  # a legal (if odd) name: analysed
            hf.assert_analysed_or_clean_failure(result, path)
        else:
            problem = hf.assert_clean_failure(result, path)
            if "cycle" in case:
                assert "cyclic" in problem

    def test_same_name_in_different_submodels(self, tmp_path: Path) -> None:
        """The same layer name in two scopes is legal: paths keep them apart."""
        config = hf.nested_lambda_model(hf.k3_layer("x", "Dropout", config={"rate": 0.5}), 3)
        path = hf.write_json_model(tmp_path / "same.json", config, "3.15.1")
        model = analysed(hf.run_cli("check", "--format", "json", path))
        assert [s["path"] for s in model["stochastic"]] == ["outer/mid/inner/x"]

    def test_structural_characters_are_escaped(self, tmp_path: Path) -> None:
        """Names holding ``/``, ``@`` or ``%`` are quoted in paths and never collide."""
        names = ["a/b", "a@1", "a%2Fb", "a"]
        layers = [hf.k3_input()]
        previous = "x"
        for name in names:
            layers.append(hf.k3_layer(name, "Dropout", [previous], config={"rate": 0.1}))
            previous = name
        config = hf.k3_functional("m", layers, ["x"], [previous])
        path = hf.write_json_model(tmp_path / "names.json", config, "3.15.1")
        model = analysed(hf.run_cli("check", "--format", "json", path))
        assert [s["path"] for s in model["stochastic"]] == ["a%2Fb", "a%401", "a%252Fb", "a"]


# ---- not a model at all ----------------------------------------------------------------


class TestNotAModel:
    @pytest.mark.parametrize("content", [
        b"", b"\x00" * 100, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, b"PK", b"PK\x03\x04",
        b"PK\x05\x06" + b"\x00" * 18, b"\x89HDF\r\n\x1a\n", b"\x89HDF\r\n\x1a\n" + b"\xff" * 600,
        b"{", b"[]", b'{"class_name": 1}', b"\xef\xbb\xbf{}", b"   \n  ", b"\xff\xfe{\x00}\x00",
        b'{"modelTopology": []}', b'{"modelTopology": {"model_config": 1}}', b"null",
    ], ids=lambda c: repr(c[:12]))
    def test_junk_file(self, content: bytes, tmp_path: Path) -> None:
        """Empty files, wrong magic bytes and non-model JSON: one line, exit 3."""
        path = tmp_path / "junk.h5"
        path.write_bytes(content)
        hf.assert_clean_failure(hf.run_cli("check", path), path)

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
    def test_fifo_does_not_hang(self, tmp_path: Path) -> None:
        """A FIFO with no writer is refused at once instead of blocking forever."""
        fifo = tmp_path / "model.h5"
        os.mkfifo(fifo)
        hf.assert_clean_failure(hf.run_cli("check", fifo, timeout=30), fifo)

    @pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
    def test_device_does_not_hang(self, device: str, tmp_path: Path) -> None:
        """Devices, also behind a symlink, are refused instead of read forever."""
        if not Path(device).exists():
            pytest.skip(f"no {device}")
        hf.assert_clean_failure(hf.run_cli("check", device, timeout=30), device)
        link = tmp_path / "model.keras"
        link.symlink_to(device)
        hf.assert_clean_failure(hf.run_cli("check", link, timeout=30), link)

    def test_missing_path(self, tmp_path: Path) -> None:
        """A missing path: one line, exit 3."""
        path = tmp_path / "missing.h5"
        hf.assert_clean_failure(hf.run_cli("check", path), path)

    def test_symlink_loop_in_library(self, tmp_path: Path) -> None:
        """The library refuses a symlink loop with a ModelReadError."""
        loop = tmp_path / "loop.h5"
        loop.symlink_to(loop)
        assert hf.analyse_in_process(loop) is not None

    def test_symlink_loop_cli(self, tmp_path: Path) -> None:
        """A symlink loop given to the CLI: one line, exit 3."""
        loop = tmp_path / "loop.h5"
        loop.symlink_to(loop)
        hf.assert_clean_failure(hf.run_cli("check", loop), loop)

    def test_lone_surrogate_names(self, tmp_path: Path) -> None:
        """A name escaped as a lone UTF-16 surrogate cannot reach a report: one line."""
        config = hf.k3_chain(2, "Dropout")
        layer = config["config"]["layers"][2]
        layer["name"] = layer["config"]["name"] = "\ud800x"
        config["config"]["output_layers"] = [["\ud800x", 0, 0]]
        path = hf.write_json_model(tmp_path / "sur.json", config, "3.15.1")
        for fmt in ("text", "json"):
            hf.assert_clean_failure(hf.run_cli("check", "--format", fmt, path), path)

    @pytest.mark.parametrize("layout", [
        "empty", "junk", "saved_model_only", "metadata_junk", "metadata_empty",
        "metadata_dir", "metadata_fifo", "model_json_dir", "model_json_junk",
    ])
    def test_directory_that_is_not_a_savedmodel(self, layout: str, tmp_path: Path) -> None:
        """Directories without a usable Keras config: one line, exit 3."""
        directory = tmp_path / "model"
        directory.mkdir()
        if layout == "junk":
            (directory / "variables.data").write_bytes(b"\x00" * 64)
        elif layout == "saved_model_only":
            (directory / "saved_model.pb").write_bytes(b"\x08\x01")
        elif layout == "metadata_junk":
            (directory / "keras_metadata.pb").write_bytes(b"\xff" * 64)
        elif layout == "metadata_empty":
            (directory / "keras_metadata.pb").write_bytes(b"")
        elif layout == "metadata_dir":
            (directory / "keras_metadata.pb").mkdir()
        elif layout == "metadata_fifo":
            os.mkfifo(directory / "keras_metadata.pb")
        elif layout == "model_json_dir":
            (directory / "model.json").mkdir()
        elif layout == "model_json_junk":
            (directory / "model.json").write_bytes(b"\x00junk")
        assert hf.analyse_in_process(directory) is not None  # the library: ModelReadError
        result = hf.run_cli("check", directory, timeout=30)
        if result.returncode == 2:  # the CLI searched the directory and found no model
            assert "Traceback" not in result.stderr
            assert "no model files found" in result.stderr
        else:
            assert_clean_failure_under(result, directory)

    @pytest.mark.parametrize("sample", SMALL_SAMPLES, ids=lambda p: p.name)
    def test_truncated_files(self, sample: Path, tmp_path: Path) -> None:
        """Real files cut at many points either analyse or end in one line."""
        data = sample.read_bytes()
        cuts = sorted({1, 4, 8, 48, 96, 512, 2048, len(data) // 3, len(data) // 2,
                       len(data) - 4096, len(data) - 100, len(data) - 22, len(data) - 1})
        paths = []
        for cut in cuts:
            if 0 < cut < len(data):
                path = tmp_path / f"cut{cut}{sample.suffix}"
                path.write_bytes(data[:cut])
                paths.append(path)
        result = hf.run_cli("check", "--format", "json", *paths)
        assert result.returncode in (0, 3), result.stderr[-3000:]
        report = json.loads(result.stdout)
        failed = {e["path"] for e in report["errors"]}
        lines = result.stderr.splitlines()
        assert len(lines) == len(failed)
        for line, error in zip(lines, report["errors"]):
            assert line == f"graphcheck: error: {error['error']}"
            assert error["error"].startswith(f"{error['path']}: ")
        assert len(report["models"]) + len(failed) == len(paths)

    def test_corrupt_deflate_stream(self, tmp_path: Path) -> None:
        """A config.json whose deflate data is damaged: one line, not a zlib traceback."""
        config = json.dumps(hf.k3_chain(30)).encode()
        path = tmp_path / "corrupt.keras"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("config.json", config)
        data = bytearray(path.read_bytes())
        start = 30 + len("config.json")
        compressed = len(zlib.compress(config)) - 6
        for offset in range(start + 2, start + compressed, 7):
            data[offset] ^= 0x55
        path.write_bytes(bytes(data))
        hf.assert_clean_failure(hf.run_cli("check", path), path)

    @pytest.mark.parametrize("flag, method", [(0x1, None), (0, 99), (0, 14)],
                             ids=["encrypted", "unknown-method", "lzma-bogus"])
    def test_unreadable_zip_member(self, flag: int, method: int | None, tmp_path: Path) -> None:
        """Encrypted members and unknown compression methods: one line, exit 3."""
        path = hf.write_keras_zip(tmp_path / "odd.keras", hf.k3_chain(2))
        data = bytearray(path.read_bytes())
        for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
            position = data.find(signature)
            while position >= 0:
                old_flag, = struct.unpack_from("<H", data, position + flag_at)
                struct.pack_into("<H", data, position + flag_at, old_flag | flag)
                if method is not None:
                    struct.pack_into("<H", data, position + method_at, method)
                position = data.find(signature, position + 4)
        path.write_bytes(bytes(data))
        hf.assert_clean_failure(hf.run_cli("check", path), path)


def assert_clean_failure_under(result: subprocess.CompletedProcess[str], directory: Path) -> None:
    """One-line exit-3 failure naming ``directory`` or a file the CLI found in it."""
    assert result.returncode == 3, result.stderr[-3000:]
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"graphcheck: error: {directory}"), line


# ---- atomic output ------------------------------------------------------------------


class TestAtomicOutput:
    def test_failing_export_leaves_existing_file(self, tmp_path: Path) -> None:
        """An export that fails leaves the old output untouched and no temporary file."""
        out = tmp_path / "graph.json"
        out.write_text("previous")
        broken = tmp_path / "broken.h5"
        broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
        hf.assert_clean_failure(hf.run_cli("export", broken, "-o", out), broken)
        assert out.read_text() == "previous"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.h5", "graph.json"]

    def test_crash_while_writing_leaves_existing_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A write that dies half-way removes its temporary file; the old file stays."""
        from graphcheck import cli

        out = tmp_path / "report.json"
        out.write_text("previous")

        class Exploding:
            def __init__(self, stream: Any) -> None:
                self.stream = stream

            def __enter__(self) -> Exploding:
                return self

            def __exit__(self, *exc: object) -> None:
                self.stream.close()

            def write(self, data: bytes) -> None:
                self.stream.write(data[: len(data) // 2])
                raise OSError(28, "No space left on device")

        real_fdopen = os.fdopen
        monkeypatch.setattr(cli.os, "fdopen", lambda *a, **k: Exploding(real_fdopen(*a, **k)))
        with pytest.raises(SystemExit) as stopped:  # a failed write is exit 5, said in one line
            cli.write_atomic(str(out), b"x" * 10_000)
        assert stopped.value.code == cli.EXIT_OUTPUT
        assert out.read_text() == "previous"
        assert [p.name for p in tmp_path.iterdir()] == ["report.json"]

    def test_report_with_unreadable_model_is_whole(self, tmp_path: Path) -> None:
        """check -o with one unreadable model writes the whole report (errors listed), exit 3."""
        out = tmp_path / "report.json"
        out.write_text("previous")
        broken = tmp_path / "broken.keras"
        broken.write_bytes(b"PK\x03\x04junk")
        result = hf.run_cli("check", "--format", "json", "-o", out,
                            hf.SAMPLES / "inverted_dropout.h5", broken)
        hf.assert_clean_failure(result, broken)
        report = json.loads(out.read_text())
        assert len(report["models"]) == 1 and len(report["errors"]) == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.keras", "report.json"]


def test_error_messages_are_one_line_in_process(tmp_path: Path) -> None:
    """Library errors are GraphcheckErrors whose text is one line starting with the path."""
    cases = _graph_cases()
    for case, config in cases.items():
        path = hf.write_json_model(tmp_path / f"{case}.json", config, "3.15.1")
        message = hf.analyse_in_process(path)  # raises anything but a GraphcheckError
        if message is not None:
            with pytest.raises(GraphcheckError):
                __import__("graphcheck").load(path)


@pytest.mark.skipif(not (hf.REAL_MODELS / "k2_dl4j_wgan_discriminator.h5").exists(),
                    reason="needs shared/real-models (see tests/paths.py)")
def test_libhdf5_hang_reproducer(tmp_path: Path) -> None:
    """A fuzzer-found .h5 on which libhdf5 never returns: the reading child is stopped, one line."""
    import random

    import test_fuzz

    source = hf.REAL_MODELS / "k2_dl4j_wgan_discriminator.h5"
    data = test_fuzz.mutate_bytes(source.read_bytes(), random.Random(248 * 31), 1 + 248 % 4)
    path = tmp_path / "hang.h5"
    path.write_bytes(data)
    hf.assert_clean_failure(hf.run_cli("check", path, timeout=60), path)
