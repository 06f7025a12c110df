"""Hub handles read as KerasHub presets, end to end: the cache a handle names is read
as the same preset folder would be, and every report names the handle.

The caches are written in each library's own layout (see test_hub_handles.py); no
test reaches the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import FIXTURES, ROOT
from hostile_fixtures import hand_made_traps
from test_hub_handles import (
    hf_home,  # noqa: F401 - fixtures
    kaggle_cache,  # noqa: F401
    no_network,  # noqa: F401
    write_hf_cache,
    write_kaggle_cache,
)
from test_imports import PROBE

from graphcheck import hub_handles
from graphcheck.cli import main

pytest.importorskip("huggingface_hub")
pytest.importorskip("kagglehub")

METADATA = json.dumps({"keras_version": "3.15.1", "keras_hub_version": "0.32.0"})
FIXTURE = FIXTURES / "k3_mc.keras"

# Run in the graphcheck subprocess: any connection or name lookup ends it with 97.
NETWORK_GUARD = """\
import os, socket, sys
def _forbid(*args, **kwargs):
    sys.stderr.write("network used\\n")
    os._exit(97)
socket.socket.connect = _forbid
socket.getaddrinfo = _forbid
"""


def preset_of(keras_file: Path) -> dict[str, str | bytes]:
    """A preset holding the same model as ``keras_file`` (its config as config.json)."""
    with zipfile.ZipFile(keras_file) as archive:
        config = archive.read("config.json").decode()
    return {"config.json": config, "metadata.json": METADATA,
            "assets/tokenizer/vocabulary.txt": "[PAD]\n"}


def test_hf_handle_is_reported_as_the_same_model_saved_as_keras(tmp_path: Path) -> None:
    """Through the real environment variables (HF_HOME, HF_HUB_OFFLINE) of a fresh
    process, which imports no Keras or TensorFlow to read the handle."""
    write_hf_cache(tmp_path / "hf" / "hub", "own/mc", preset_of(FIXTURE))
    (tmp_path / "guard").mkdir()
    (tmp_path / "guard" / "sitecustomize.py").write_text(NETWORK_GUARD)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "KAGGLE"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(tmp_path / "guard"), str(ROOT)]))
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy={"tensorflow", "keras", "tf_keras"}),
         "check", "--format", "json", "hf://own/mc", str(FIXTURE)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert json.loads(result.stderr.strip().splitlines()[-1]) == [], result.stderr
    hub, keras_file = json.loads(result.stdout)["models"]
    assert hub["path"] == "hf://own/mc"
    assert (hub["format"], hub["keras_hub_version"]) == ("preset", "0.32.0")
    assert {f["model"] for f in hub["findings"]} == {"hf://own/mc"}
    same = {"path", "format", "keras_hub_version", "findings"}
    assert {k: v for k, v in hub.items() if k not in same} == {
        k: v for k, v in keras_file.items() if k not in same}

    def rules(entry: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(f["rule"], f["path"], f["message"]) for f in entry["findings"]]

    assert rules(hub) == rules(keras_file)


def test_snapshot_links_into_the_blobs_are_no_finding(
    hf_home: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """Hugging Face's snapshot files are links to ../../blobs: inside the cached
    repository, so not the "link out of the preset" a hostile folder would hold."""
    write_hf_cache(hf_home, "own/mc", preset_of(FIXTURE))
    runner = CliRunner()
    report = json.loads(runner.invoke(main, ["check", "--format", "json", "hf://own/mc"]).stdout)
    assert [f["rule"] for f in report["models"][0]["findings"]] == ["GC104"]
    sarif = json.loads(runner.invoke(main, ["check", "--format", "sarif", "hf://own/mc"]).stdout)
    [location] = sarif["runs"][0]["results"][0]["locations"]
    assert location["physicalLocation"]["artifactLocation"] == {"uri": "hf://own/mc"}
    fetch = hub_handles.fetch_preset

    def with_the_snapshot_as_root(text: str, **kwargs: Any) -> hub_handles.FetchedPreset:
        fetched = fetch(text, **kwargs)
        return hub_handles.FetchedPreset(fetched.handle, fetched.directory, fetched.files,
                                         fetched.directory)

    monkeypatch.setattr(hub_handles, "fetch_preset", with_the_snapshot_as_root)
    result = runner.invoke(main, ["check", "--format", "json", "hf://own/mc"])
    assert result.exit_code == 3  # config.json, a link out of the snapshot, is not read


def test_hostile_kaggle_preset_fails_the_gate(
    kaggle_cache: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[Any]  # noqa: F811
) -> None:
    """A task.json that names os.system and a module's function, fetched by handle."""
    handle = "own/evil/keras/v/1"
    files = preset_of(FIXTURE) | {"task.json": json.dumps(hand_made_traps()["evil_modules"])}
    write_kaggle_cache(kaggle_cache, handle, files)
    monkeypatch.setattr(hub_handles, "_kaggle_listing", lambda _handle: list(files))
    result = CliRunner().invoke(main, ["check", "--format", "json", f"kaggle://{handle}"])
    assert result.exit_code == 1, result.output
    findings = json.loads(result.stdout)["models"][0]["findings"]
    load_safety = {f["rule"] for f in findings if f["severity"] == "error"}
    assert load_safety and all(r.startswith("GC4") for r in load_safety - {"GC104"}), findings
    assert {f["model"] for f in findings} == {f"kaggle://{handle}"}
    assert no_network == []


def test_weights_fetched_with_the_flag_are_walked(
    hf_home: Path, tmp_path: Path  # noqa: F811
) -> None:
    """--download-weights: the weights' HDF5 metadata is checked through the handle
    (here a dataset stored outside the file, which Keras would read on load)."""
    import h5py

    outside = tmp_path / "outside.bin"
    outside.write_bytes(bytes(16))
    weights = tmp_path / "model.weights.h5"
    with h5py.File(weights, "w") as handle:
        handle.create_group("layers").create_dataset(
            "0", shape=(16,), dtype="u1", external=[(str(outside), 0, 16)])
    files = preset_of(FIXTURE) | {"model.weights.h5": weights.read_bytes()}
    write_hf_cache(hf_home, "own/mc", files)
    result = CliRunner().invoke(
        main, ["check", "--format", "json", "--download-weights", "hf://own/mc"])
    findings = json.loads(result.stdout)["models"][0]["findings"]
    assert [(f["rule"], f["model"]) for f in findings if f["rule"] == "GC410"] == [
        ("GC410", "hf://own/mc")], findings
