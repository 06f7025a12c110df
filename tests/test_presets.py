"""KerasHub preset folders, read without Keras: one model each, and their load safety.

The presets here are written by hand in the layout ``save_to_preset`` writes
(``tests/truth/test_preset_truth.py`` checks the same reader on presets KerasHub
itself saved). The hostile ones are checked by a graphcheck process in which
Keras, TensorFlow and KerasHub cannot be imported at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from helpers import ROOT

from graphcheck.discovery import discover_models
from graphcheck.errors import ModelReadError, UnsupportedModelError
from graphcheck.readers import preset as preset_reader
from graphcheck.readers import read_config_source, read_model
from graphcheck.readers.preset import is_preset_dir, read_preset

#: The rules only a preset's files fire: each fires on the hostile preset and stays quiet
#: on the clean ones in test_hostile_preset_fails_the_gate_without_keras.
PRESET_RULES = frozenset({"GC420", "GC421"})

#: Run the CLI with keras, tensorflow, tf_keras and keras_hub absent, as if not installed.
RUN_CLI_WITHOUT_KERAS = '''
import importlib.machinery
import sys

BLOCKED = ("keras", "tensorflow", "tf_keras", "keras_hub", "keras_nlp", "jax", "torch")


class _PathFinderWithoutKeras(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname.partition(".")[0] in BLOCKED:
            return None
        return super().find_spec(fullname, path, target)


sys.meta_path[sys.meta_path.index(importlib.machinery.PathFinder)] = _PathFinderWithoutKeras
from graphcheck.cli import run
run()
'''


def _entry(module: str, name: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"module": module, "class_name": name, "config": config,
            "registered_name": f"keras_hub>{name}"}


def _backbone() -> dict[str, Any]:
    return _entry("keras_hub.src.models.bert.bert_backbone", "BertBackbone", {
        "name": "bert_backbone", "trainable": False, "vocabulary_size": 8, "num_layers": 1,
        "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16, "dropout": 0.1,
        "max_sequence_length": 8,
    })


def _tokenizer() -> dict[str, Any]:
    return _entry("keras_hub.src.models.bert.bert_tokenizer", "BertTokenizer", {
        "name": "bert_tokenizer", "config_file": "tokenizer.json", "vocabulary": None,
        "lowercase": False,
    })


def write_preset(directory: Path, *, task: bool = True) -> Path:
    """A clean preset in ``save_to_preset``'s layout: configs, metadata, weights, assets."""
    directory.mkdir(parents=True)
    files: dict[str, Any] = {
        "config.json": _backbone(),
        "metadata.json": {"keras_version": "3.15.1", "keras_hub_version": "0.32.0",
                          "parameter_count": 832, "tasks": ["TextClassifier"]},
        "tokenizer.json": _tokenizer(),
        "preprocessor.json": _entry(
            "keras_hub.src.models.bert.bert_text_classifier_preprocessor",
            "BertTextClassifierPreprocessor",
            {"name": "p", "tokenizer": _tokenizer(), "sequence_length": 8},
        ),
    }
    if task:
        files["task.json"] = _entry(
            "keras_hub.src.models.bert.bert_text_classifier", "BertTextClassifier",
            {"name": "bert_text_classifier", "backbone": _backbone(), "num_classes": 2,
             "activation": None, "dropout": 0.2, "preprocessor": files["preprocessor.json"]},
        )
    for name, document in files.items():
        (directory / name).write_text(json.dumps(document), encoding="utf-8")
    with h5py.File(directory / "model.weights.h5", "w") as handle:
        handle.create_dataset("layers/dense/vars/0", data=np.zeros((4, 4), "float32"))
    (directory / "assets" / "tokenizer").mkdir(parents=True)
    (directory / "assets" / "tokenizer" / "vocabulary.txt").write_text("[PAD]\n[UNK]\na\n")
    return directory


def _edit(path: Path, change: Any) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def run_without_keras(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", RUN_CLI_WITHOUT_KERAS, *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout, check=False,
    )


def test_a_preset_is_one_model_with_its_versions(tmp_path: Path) -> None:
    """The folder is recognised and read as one source: task.json is the config, the
    other JSON files are documents, the versions come from metadata.json."""
    preset = write_preset(tmp_path / "bert")
    assert is_preset_dir(preset)
    source = read_config_source(preset)
    assert source.format == "preset" and source.subject == str(preset)
    assert source.config["class_name"] == "BertTextClassifier"
    assert set(source.documents) == {"config.json", "tokenizer.json", "preprocessor.json"}
    assert source.keras_version == "3.15.1"
    assert source.extra["keras_hub_version"] == "0.32.0"
    assert source.container == ()  # clean: no notes on its files or its weights


def test_backbone_only_preset_reads_config_json(tmp_path: Path) -> None:
    preset = write_preset(tmp_path / "bb", task=False)
    assert read_config_source(preset).config["class_name"] == "BertBackbone"


def test_without_rebuild_one_line_says_what_rebuild_would_do(tmp_path: Path) -> None:
    preset = write_preset(tmp_path / "bert")
    with pytest.raises(UnsupportedModelError) as caught:
        read_model(preset)
    text = str(caught.value)
    assert "\n" not in text and str(preset) in text
    assert "--rebuild to build the task from task.json" in text


def test_mirror_is_walked_preset_by_preset(tmp_path: Path) -> None:
    """A folder of presets (a hub organisation's mirror) gives each preset once, never the
    weights files inside it; a .keras beside them is still found."""
    mirror = tmp_path / "mirror"
    first = write_preset(mirror / "org" / "bert_a")
    second = write_preset(mirror / "org" / "bert_b", task=False)
    (mirror / "other.keras").write_bytes(b"PK")
    assert discover_models([mirror]) == [str(mirror / "org" / "bert_a"),
                                         str(mirror / "org" / "bert_b"),
                                         str(mirror / "other.keras")]
    assert discover_models([first]) == [str(first)]
    assert second.is_dir()


def _hostile(tmp_path: Path) -> Path:
    preset = write_preset(tmp_path / "evil")

    def module_function(task: dict[str, Any]) -> None:
        task["config"]["activation"] = {"module": "os", "class_name": "function",
                                        "config": "system", "registered_name": "system"}

    _edit(preset / "task.json", module_function)
    _edit(preset / "tokenizer.json", lambda t: t["config"].update(vocabulary="/etc/passwd"))
    vocabulary = preset / "assets" / "tokenizer" / "vocabulary.txt"
    vocabulary.unlink()
    vocabulary.symlink_to("/etc/hostname")
    with h5py.File(preset / "model.weights.h5", "a") as handle:
        handle.create_dataset("evil", shape=(64,), dtype="u1", external=[("/etc/passwd", 0, 64)])
    return preset


def test_hostile_preset_fails_the_gate_without_keras(tmp_path: Path) -> None:
    """In a mirror walked with --jobs 2 by a process that cannot import Keras: the clean
    presets have no load-safety finding; the hostile one (a module function in task.json,
    a vocabulary path in tokenizer.json, a vocabulary linked out of the preset, external
    storage in model.weights.h5) has the four errors and fails the gate."""
    mirror = tmp_path / "mirror"
    write_preset(mirror / "a")
    write_preset(mirror / "b", task=False)
    preset = _hostile(mirror)
    result = run_without_keras("check", "--jobs", "2", "--format", "json", str(mirror))
    assert result.returncode != 0
    document = json.loads(result.stdout)
    assert document["summary"]["failed"] is True
    by_model = {e["error"].split(": ")[0]: e["findings"] for e in document["errors"]}
    assert list(by_model) == [str(preset)], "a clean preset found in a folder is no failure"
    left = {n["path"]: n["reason"] for n in document["not_analysed"]}
    assert sorted(left) == [str(mirror / "a"), str(mirror / "b")]
    assert all("--rebuild" in reason for reason in left.values())
    findings = by_model[str(preset)]
    rules = {f["rule"] for f in findings}
    assert {"GC403", "GC410"} | PRESET_RULES <= rules, findings
    messages = " ".join(f["message"] for f in findings)
    assert "os.system" in messages and "model.weights.h5:/evil" in messages
    assert "assets/tokenizer/vocabulary.txt" in messages and "/etc/passwd" in messages
    assert "Traceback" not in result.stderr and "--rebuild" in result.stderr


def test_links_inside_the_link_root_are_not_notes(tmp_path: Path) -> None:
    """A download cache links a snapshot's files to blobs beside it: with ``link_root`` at
    the cache, such links are not notes; without it they are."""
    preset = write_preset(tmp_path / "cache" / "snapshots" / "abc")
    blob = tmp_path / "cache" / "blobs" / "v1"
    blob.parent.mkdir(parents=True)
    vocabulary = preset / "assets" / "tokenizer" / "vocabulary.txt"
    blob.write_text(vocabulary.read_text())
    vocabulary.unlink()
    vocabulary.symlink_to(blob)
    assert [n.kind for n in read_preset(preset).container] == ["preset-link"]
    assert read_preset(preset, link_root=tmp_path / "cache").container == ()


def test_fifo_is_noted_and_never_opened(tmp_path: Path) -> None:
    """A FIFO where the tokenizer reads its vocabulary would block the loader: noted, and
    the reader itself does not open it (the test would hang)."""
    preset = write_preset(tmp_path / "p")
    vocabulary = preset / "assets" / "tokenizer" / "vocabulary.txt"
    vocabulary.unlink()
    os.mkfifo(vocabulary)
    (note,) = read_preset(preset).container
    assert (note.kind, note.where) == ("preset-path", "assets/tokenizer/vocabulary.txt")


def test_fifo_metadata_is_noted_and_never_opened(tmp_path: Path) -> None:
    """A FIFO named metadata.json would block any reader that opens it: the check
    finishes (a hang times out here) with the one finding on it and no traceback."""
    preset = write_preset(tmp_path / "p")
    (preset / "metadata.json").unlink()
    os.mkfifo(preset / "metadata.json")
    result = run_without_keras("check", "--format", "json", str(preset), timeout=60)
    assert result.returncode == 3, result.stderr
    (error,) = json.loads(result.stdout)["errors"]
    assert [(f["rule"], f["message"].split(":")[0]) for f in error["findings"]] == [
        ("GC420", "preset file 'metadata.json'")]
    assert "Traceback" not in result.stderr


def test_metadata_linked_out_of_the_preset_is_not_read(tmp_path: Path) -> None:
    preset = write_preset(tmp_path / "p")
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"keras_version": "9.9.9", "keras_hub_version": "9.9"}))
    (preset / "metadata.json").unlink()
    (preset / "metadata.json").symlink_to(outside)
    source = read_preset(preset)
    assert source.keras_version is None and source.extra["keras_hub_version"] is None
    assert [(n.kind, n.where) for n in source.container] == [("preset-link", "metadata.json")]


def _training_run(directory: Path) -> Path:
    """A training run's folder: its hyperparameters, a checkpoint, the saved model."""
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps({"lr": 0.1, "epochs": 3}))
    with h5py.File(directory / "model.weights.h5", "w") as handle:
        handle.create_dataset("layers/dense/vars/0", data=np.zeros((2, 2), "float32"))
    (directory / "task.json").write_text(json.dumps({"name": "classify"}))
    (directory / "model.keras").write_bytes(b"PK")
    return directory


def test_training_run_folder_is_walked_not_taken_for_a_preset(tmp_path: Path) -> None:
    """config.json beside weights is no preset unless it is a KerasHub config (or
    metadata.json names a KerasHub version): the run's model.keras is found."""
    run = _training_run(tmp_path / "runs" / "run1")
    assert not is_preset_dir(run)
    found = discover_models([tmp_path / "runs"])
    assert str(run / "model.keras") in found and str(run) not in found
    # A preset without metadata.json is still known by its config.json.
    backbone = write_preset(tmp_path / "bb", task=False)
    (backbone / "metadata.json").unlink()
    assert is_preset_dir(backbone)
    _edit(backbone / "config.json", lambda c: c.update(registered_name="Custom>Bert"))
    assert is_preset_dir(backbone), "the module names keras_hub"
    _edit(backbone / "config.json", lambda c: c.update(module="mine.models"))
    assert not is_preset_dir(backbone)


def test_only_the_configs_from_preset_reads_are_decoded(tmp_path: Path) -> None:
    """Other JSON files are named with their sizes, never decoded (a broken one is
    no error); the configs share one byte budget."""
    preset = write_preset(tmp_path / "p")
    (preset / "history.json").write_text(json.dumps({"loss": [0.5] * 100}))
    (preset / "broken.json").write_text("{")
    source = read_preset(preset)
    assert set(source.documents) == {"config.json", "tokenizer.json", "preprocessor.json"}
    assert source.extra["unread_json"] == {
        "broken.json": 1, "history.json": (preset / "history.json").stat().st_size}


def test_configs_share_one_byte_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    preset = write_preset(tmp_path / "p")
    total = sum((preset / n).stat().st_size for n in (
        "task.json", "config.json", "tokenizer.json", "preprocessor.json"))
    monkeypatch.setattr(preset_reader, "MAX_JSON_BYTES", total)
    assert read_preset(preset).config["class_name"] == "BertTextClassifier"
    monkeypatch.setattr(preset_reader, "MAX_JSON_BYTES", total - 1)
    with pytest.raises(ModelReadError) as caught:
        read_preset(preset)
    assert "\n" not in str(caught.value) and f"{total - 1} bytes" in str(caught.value)


def test_a_link_out_of_a_preset_is_never_opened(tmp_path: Path) -> None:
    """A preset whose metadata.json links out of it is found as a preset by its file
    names, and the link is reported (GC420), without the file it points to being
    opened, while finding the preset or reading it (Python's audit hook sees every
    open)."""
    import subprocess
    import sys

    (tmp_path / "elsewhere").mkdir()
    outside = tmp_path / "elsewhere" / "outside.json"
    outside.write_text('{"keras_hub_version": "0.32.0"}')
    preset = tmp_path / "models" / "preset"
    preset.mkdir(parents=True)
    (preset / "metadata.json").symlink_to(outside)
    (preset / "config.json").write_text(
        '{"class_name": "BertBackbone", "registered_name": "keras_hub>BertBackbone", '
        '"config": {"name": "b"}}'
    )
    script = f"""
import os, sys
opened = []
def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.append(os.fspath(args[0]))
sys.addaudithook(hook)
from graphcheck.cli import main
try:
    main(["check", {str(tmp_path / "models")!r}, "-q"])
except SystemExit as done:
    link = {str(preset / "metadata.json")!r}
    print(done.code, [p for p in opened if p in (link, {str(outside)!r})])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    # Exit 3: a preset that stores no graph and has a load-safety finding is an error.
    assert done.stdout.splitlines()[-1] == "3 []", done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert "GC420" in said and "outside the preset" in said, done.stdout
