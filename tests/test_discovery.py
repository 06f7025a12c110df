"""Finding models in folders: what a search takes, what it leaves, and how the CLI says so."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphcheck.cli import main
from graphcheck.discovery import discover, is_architecture_json
from graphcheck.errors import EXIT_UNREADABLE, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
FULL_JSON = SAMPLES / "transfer_inception_full.json"
NEEDS_REBUILD = SAMPLES / "rebuild" / "bert_frozen_classifier.keras"
K315 = ["--keras-version", "3.15.1"]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no [tool.graphcheck] above tmp_path
    return CliRunner()


def small_architecture(path: Path, *, sort_keys: bool = False) -> Path:
    """A Keras 3 to_json() of a tiny Functional model: the shipped sample's shape, cut down."""
    document = {
        "module": "keras", "class_name": "Functional",
        "config": {"name": "tiny", "trainable": True, "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "name": "x",
             "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "x"},
             "inbound_nodes": []},
            {"module": "keras.layers", "class_name": "Dropout", "name": "drop",
             "config": {"name": "drop", "rate": 0.5, "trainable": True, "dtype": "float32"},
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                 "shape": [None, 4], "dtype": "float32", "keras_history": ["x", 0, 0]}}],
                 "kwargs": {"training": False}}]},
        ], "input_layers": [["x", 0, 0]], "output_layers": [["drop", 0, 0]]},
        "registered_name": "Functional",
    }
    path.write_text(json.dumps(document, sort_keys=sort_keys, indent=1))
    return path


class TestArchitectureJson:
    def test_to_json_of_a_model_is_taken(self, tmp_path: Path) -> None:
        """model.to_json() output is recognised, in Keras's key order and sorted."""
        assert is_architecture_json(FULL_JSON)
        assert is_architecture_json(small_architecture(tmp_path / "a.json"))
        assert is_architecture_json(small_architecture(tmp_path / "b.json", sort_keys=True))

    @pytest.mark.parametrize("document", [
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
        {"version": "1.0", "truncation": None, "model": {"class_name": "Functional"}},
        {"keras_version": "3.15.1", "date_saved": "2026-12-07"},
        {"module": "keras_hub.src.models.bert.bert_tokenizer", "class_name": "BertTokenizer",
         "config": {"name": "bert_tokenizer"}},
        [{"class_name": "Functional", "config": {}}],
    ])
    def test_other_json_is_left_alone(self, tmp_path: Path, document: object) -> None:
        """Schemas, tokenizers, metadata and non-model Keras objects are not models."""
        path = tmp_path / "other.json"
        path.write_text(json.dumps(document))
        assert not is_architecture_json(path)

    def test_nested_class_name_is_not_top_level(self, tmp_path: Path) -> None:
        """A "class_name" inside a value does not make the file a model."""
        path = tmp_path / "x.json"
        path.write_text('{"a": {"class_name": "Functional", "config": {}}, "b": 1}')
        assert not is_architecture_json(path)

    def test_folder_of_architecture_json_is_found(self, runner: CliRunner, tmp_path: Path) -> None:
        """A folder holding only an architecture JSON is analysed; unrelated JSON is not."""
        folder = tmp_path / "arch"
        folder.mkdir()
        small_architecture(folder / "tiny.json")
        (folder / "tokenizer.json").write_text('{"version": "1.0", "model": {}}')
        (folder / "metadata.json").write_text('{"keras_version": "3.15.1"}')
        result = runner.invoke(main, ["check", str(folder), *K315, "--format", "json"])
        assert result.exit_code == 0, result.output
        paths = [Path(m["path"]).name for m in json.loads(result.stdout)["models"]]
        assert paths == ["tiny.json"]


class TestEmptyFolders:
    def test_empty_folder_among_others_is_a_usage_error(
        self, runner: CliRunner, tmp_path: Path
    ) -> None:
        """`graphcheck empty/ model.keras` is exit 2 naming the folder, as `graphcheck empty/`."""
        empty = tmp_path / "empty"
        empty.mkdir()
        alone = runner.invoke(main, ["check", str(empty)])
        among = runner.invoke(main, ["check", str(empty), str(SAMPLES / "inverted_dropout.keras")])
        assert alone.exit_code == among.exit_code == EXIT_USAGE
        assert str(empty) in among.stderr and among.stdout == ""

    def test_discovery_lists_empty_folders(self, tmp_path: Path) -> None:
        """discover() names each folder that held nothing, and marks what it found."""
        (tmp_path / "empty").mkdir()
        (tmp_path / "full").mkdir()
        shutil.copy(SAMPLES / "inverted_dropout.keras", tmp_path / "full" / "m.keras")
        found = discover([tmp_path / "empty", tmp_path / "full", SAMPLES / "merged_frozen.keras"])
        assert found.empty == (str(tmp_path / "empty"),)
        assert [(Path(f.path).name, f.named) for f in found.found] == [
            ("m.keras", False), ("merged_frozen.keras", True)
        ]


class TestNeedsRebuild:
    def test_found_in_a_folder_is_not_analysed_not_failed(
        self, runner: CliRunner, tmp_path: Path
    ) -> None:
        """A KerasHub file found by walking is 'not analysed: needs --rebuild'; the run passes."""
        tree = tmp_path / "models"
        (tree / "hub").mkdir(parents=True)
        shutil.copy(SAMPLES / "merged_frozen.keras", tree / "frozen.keras")
        shutil.copy(NEEDS_REBUILD, tree / "hub" / "bert.keras")
        result = runner.invoke(main, ["check", str(tree), *K315])
        assert result.exit_code == 0, result.output
        notes = [line for line in result.stderr.splitlines() if "bert.keras" in line]
        assert notes == [f"graphcheck: {tree / 'hub' / 'bert.keras'}: not analysed: needs "
                         "--rebuild (its config stores no layer graph)"]

    def test_load_safety_findings_still_count(self, runner: CliRunner, tmp_path: Path) -> None:
        """A found file that needs --rebuild but names os.system stays an error with its
        load-safety findings (exit 3, as when named), not a quiet 'not analysed'."""
        evil = {"module": "os", "class_name": "function", "config": "system",
                "registered_name": "function"}
        config = {"module": "keras_hub.src.models.bert.bert_backbone", "class_name": "BertBackbone",
                  "registered_name": "keras_hub>BertBackbone",
                  "config": {"name": "b", "activation": evil}}
        (tmp_path / "hub").mkdir()
        with zipfile.ZipFile(tmp_path / "hub" / "evil.keras", "w") as archive:
            archive.writestr("config.json", json.dumps(config))
            archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        result = runner.invoke(main, ["check", str(tmp_path / "hub"), *K315, "--format", "json"])
        assert result.exit_code == EXIT_UNREADABLE, result.output
        assert "not analysed" not in result.stderr and "use --rebuild" in result.stderr
        (entry,) = json.loads(result.stdout)["errors"]
        assert any(f["rule"].startswith("GC4") for f in entry["findings"]), entry

    def test_named_file_is_still_unreadable(self, runner: CliRunner) -> None:
        """Named explicitly, the same file is an error naming --rebuild (exit 3)."""
        result = runner.invoke(main, ["check", str(NEEDS_REBUILD)])
        assert result.exit_code == EXIT_UNREADABLE
        assert "use --rebuild" in result.stderr

    def test_samples_folder(self, runner: CliRunner) -> None:
        """`graphcheck samples/` exits 0: the rebuild sample said, every other analysed,
        and no sample carries an error-level finding."""
        result = runner.invoke(main, ["check", str(SAMPLES), *K315, "--format", "json"])
        assert result.exit_code == 0, result.output
        assert "bert_frozen_classifier.keras: not analysed: needs --rebuild" in result.stderr
        assert "error:" not in result.stderr
        document = json.loads(result.stdout)
        shipped = sorted(str(p) for p in SAMPLES.iterdir() if p.suffix in (".h5", ".keras", ".json"))
        assert sorted(m["path"] for m in document["models"]) == shipped
        assert document["errors"] == []
        failing = {f["rule"] for m in document["models"] for f in m["findings"]
                   if f["severity"] == "error"}
        assert failing == set()

    def test_python_check_lists_it(self, tmp_path: Path) -> None:
        """graphcheck.check(folder) puts it in not_analysed, worded for Python."""
        import graphcheck

        (tmp_path / "hub").mkdir()
        shutil.copy(NEEDS_REBUILD, tmp_path / "hub" / "bert.keras")
        shutil.copy(SAMPLES / "inverted_dropout.keras", tmp_path / "m.keras")
        report = graphcheck.check(str(tmp_path), keras_version="3.15.1")
        assert report.passed and [Path(r.path).name for r in report.results] == ["m.keras"]
        (left,) = report.not_analysed
        assert left.path.endswith("bert.keras") and "rebuild=True" in left.reason


def test_a_fifo_named_json_does_not_block_the_search(tmp_path: Path) -> None:
    """A FIFO with a .json name in a searched folder is skipped, not opened for reading
    (which would wait for a writer forever)."""
    import os
    import subprocess
    import sys

    if not hasattr(os, "mkfifo"):
        pytest.skip("needs FIFOs")
    os.mkfifo(tmp_path / "x.json")
    shutil.copy(SAMPLES / "inverted_dropout.keras", tmp_path / "m.keras")
    done = subprocess.run(
        [sys.executable, "-m", "graphcheck", str(tmp_path), "--keras-version", "3.15.1"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "1 model analysed" in done.stdout
