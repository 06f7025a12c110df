"""Every container format reads to the same description; the dialect comes from the config."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import pytest
from helpers import SAMPLES, write_json

import graphcheck
from graphcheck.readers import read_model
from graphcheck.readers.keras_config import detect_dialect


def sample_config(name: str = "merged_frozen.keras") -> dict:
    with zipfile.ZipFile(SAMPLES / name) as archive:
        return json.loads(archive.read("config.json"))


def stochastic_paths(path: Path) -> list[str]:
    return [s["path"] for s in graphcheck.analyse(path, keras_version="3.15.1")["stochastic"]]


class TestContainers:
    def test_tfjs_model_json(self, tmp_path: Path) -> None:
        """A TF.js layers model.json (modelTopology.model_config) reads like the .keras it came from."""
        document = {
            "format": "layers-model",
            "generatedBy": "keras v3.15.1",
            "modelTopology": {"keras_version": "3.15.1", "backend": "tensorflow",
                              "model_config": sample_config()},
            "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": []}],
        }
        path = write_json(tmp_path / "model.json", document)
        saved = read_model(path)
        assert (saved.format, saved.keras_version, saved.dialect) == ("tfjs", "3.15.1", "keras3")
        assert stochastic_paths(path) == stochastic_paths(SAMPLES / "merged_frozen.keras")

    def test_tfjs_directory(self, tmp_path: Path) -> None:
        """A directory holding model.json is read through it."""
        write_json(tmp_path / "model.json", {"modelTopology": sample_config()})
        assert read_model(tmp_path).format == "tfjs"

    def test_architecture_json(self, tmp_path: Path) -> None:
        """model.to_json() output is a plain config document."""
        path = write_json(tmp_path / "arch.json", sample_config())
        assert stochastic_paths(path) == ["left/left_dropout", "right/right_dropout"]

    def test_keras3_dialect_inside_h5(self, tmp_path: Path) -> None:
        """A Keras 3 config stored in an .h5 file is read as the keras3 dialect."""
        path = tmp_path / "k3.h5"
        with h5py.File(path, "w") as handle:
            handle.attrs["model_config"] = json.dumps(sample_config())
            handle.attrs["keras_version"] = "3.15.1"
        assert read_model(path).dialect == "keras3"

    def test_keras2_dialect_inside_keras_zip(self, tmp_path: Path) -> None:
        """A .keras zip holding list-style nodes (tf.keras 2.13) is read as keras2."""
        with h5py.File(SAMPLES / "merged_frozen_tfkeras.h5", "r") as handle:
            config = handle.attrs["model_config"]
        path = tmp_path / "k2.keras"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", config)
            archive.writestr("metadata.json", json.dumps({"keras_version": "2.13.1"}))
        saved = read_model(path)
        assert (saved.dialect, saved.keras_version) == ("keras2", "2.13.1")
        assert stochastic_paths(path) == ["left/left_dropout", "right/right_dropout"]


class TestUnknownClasses:
    def test_custom_class_is_opaque_and_marked_unknown(self, tmp_path: Path) -> None:
        """A QKeras-style custom layer is a node with unknown stochasticity; nothing is imported."""
        config = sample_config("inverted_dropout.keras")
        custom = config["config"]["layers"][1]
        custom.update(class_name="QDense", module="qkeras.qlayers", registered_name="qkeras>QDense")
        path = write_json(tmp_path / "q.json", config)
        result = graphcheck.analyse(path, keras_version="3.15.1")
        assert result["unknown_layers"] == [{"path": custom["config"]["name"], "class_name": "QDense", "resembles_dropout": False}]
        assert "qkeras" not in __import__("sys").modules


@pytest.mark.parametrize(
    ("nodes", "version", "dialect"),
    [([{"args": [], "kwargs": {}}], None, "keras3"),
     ([[["x", 0, 0, {}]]], "3.15.1", "keras2"),
     ([[["x", 0, 0]]], "1.2.2", "keras1"),
     ([], "2.8.0", "keras2"),
     ([], "3.1.0", "keras3")],
)
def test_dialect_is_read_from_the_config(nodes: list, version: str | None, dialect: str) -> None:
    """Stored call shapes decide the dialect; the version only breaks ties."""
    top = {"class_name": "Functional", "config": {"layers": [{"class_name": "Dense", "inbound_nodes": nodes}]}}
    assert detect_dialect(top, version) == dialect


class TestReviewRegressions:
    def test_keras1_without_version_keeps_its_argument_names(self, tmp_path: Path) -> None:
        """A Keras 1 functional config with no keras_version: `p` and dropout_W still read."""
        config = {"class_name": "Model", "config": {
            "name": "m",
            "layers": [
                {"name": "x", "class_name": "InputLayer", "config": {"name": "x", "batch_input_shape": [None, 3, 2]}, "inbound_nodes": []},
                {"name": "lstm", "class_name": "LSTM", "config": {"name": "lstm", "dropout_W": 0.3, "dropout_U": 0.2}, "inbound_nodes": [[["x", 0, 0]]]},
                {"name": "drop", "class_name": "Dropout", "config": {"name": "drop", "p": 0.5}, "inbound_nodes": [[["lstm", 0, 0]]]},
            ],
            "input_layers": [["x", 0, 0]], "output_layers": [["drop", 0, 0]]}}
        result = graphcheck.analyse(write_json(tmp_path / "k1.json", config), keras_version="2.21.0")
        assert result["dialect"] == "keras1"
        rates = {s["path"]: (s["rate"], s["recurrent_rate"]) for s in result["stochastic"]}
        assert rates == {"lstm": (0.3, 0.2), "drop": (0.5, None)}

    def test_non_iterable_input_shape_is_not_a_crash(self, tmp_path: Path) -> None:
        """A Sequential whose first layer has input_shape 5 reads without a traceback."""
        config = {"class_name": "Sequential", "config": [
            {"class_name": "Dense", "config": {"name": "d", "units": 2, "input_shape": 5}}]}
        assert graphcheck.analyse(write_json(tmp_path / "s.json", config))["layers"]
