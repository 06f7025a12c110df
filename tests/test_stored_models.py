"""The stored test models in tests/fixtures/ are what the installed Keras writes today.

The rule and diff tests read these files instead of building models, so that they
run without TensorFlow. This test rebuilds them with ``tests/fixtures/make_models.py``
into a temporary folder and compares everything graphcheck reads (configs, saving
Keras version, archive members, HDF5 layout); only ``date_saved``, the numbers Keras
takes from ``id()`` and a Lambda's marshalled bytecode (which records the script's
path and line) may differ. When
it fails after a Keras upgrade, rerun the script and commit the new files.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from paths import FIXTURES, stored_models

pytestmark = pytest.mark.keras

SCRIPT = FIXTURES / "make_models.py"
#: Fields that change on every save: not part of what a model is.
VOLATILE_METADATA = frozenset({"date_saved"})
#: Keras 3 marks objects shared between layers with Python's ``id()`` of the object:
#: which entries share an object is stable, the number is not.
SHARED_ID = "shared_object_id"
#: Stands for a stored Lambda's bytecode, which differs between checkouts.
LAMBDA_CODE = "<bytecode>"


def stable_config(document: Any) -> Any:
    """A copy of a config, each ``shared_object_id`` replaced by its rank, Lambda code blanked."""
    ranks: dict[Any, int] = {}

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            if item.get("class_name") == "__lambda__" and isinstance(item.get("config"), dict):
                # Marshalled bytecode records the script's path, line and Python version.
                item = {**item, "config": {**item["config"], "code": LAMBDA_CODE}}
            return {key: ranks.setdefault(value, len(ranks)) if key == SHARED_ID else walk(value)
                    for key, value in item.items()}
        if isinstance(item, list):
            return [walk(value) for value in item]
        return item

    return walk(document)


def keras_archive_contents(path: Path) -> dict[str, Any]:
    """Member names in order, config.json, and metadata.json without its volatile fields."""
    with zipfile.ZipFile(path) as archive:
        names = [info.filename for info in archive.infolist()]
        config = stable_config(json.loads(archive.read("config.json")))
        metadata = json.loads(archive.read("metadata.json"))
    stable = {k: v for k, v in metadata.items() if k not in VOLATILE_METADATA}
    return {"members": names, "config": config, "metadata": stable}


def h5_contents(path: Path) -> dict[str, Any]:
    """The root attributes (model_config parsed) and the name of every HDF5 object."""
    import h5py

    with h5py.File(path, "r") as handle:
        attrs = {}
        for key, value in handle.attrs.items():
            text = value.decode() if isinstance(value, bytes) else value
            is_config = key == "model_config"
            attrs[key] = stable_config(json.loads(text)) if is_config else str(text)
        names: list[str] = []
        handle.visit(names.append)
    return {"attrs": attrs, "objects": sorted(names)}


def contents(path: Path) -> dict[str, Any]:
    return keras_archive_contents(path) if path.suffix == ".keras" else h5_contents(path)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The models as the installed Keras writes them now (one subprocess imports TensorFlow)."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    pytest.importorskip("tf_keras")
    out = tmp_path_factory.mktemp("rebuilt")
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


class TestStoredModels:
    def test_same_files(self, rebuilt: Path) -> None:
        """The script writes exactly the files that are stored, no more and no fewer."""
        fresh = sorted(p.name for p in rebuilt.iterdir())
        assert fresh == sorted(p.name for p in stored_models().values())

    @pytest.mark.parametrize("name", sorted(stored_models()))
    def test_stored_file_matches_rebuilt(self, rebuilt: Path, name: str) -> None:
        """A stored model's configs, Keras version and layout equal a fresh build's."""
        stored = stored_models()[name]
        assert contents(stored) == contents(rebuilt / stored.name), (
            f"{stored.name} drifted from what the installed Keras writes: "
            f"run python tests/fixtures/make_models.py and commit tests/fixtures/"
        )

    def test_archives_stay_loadable(self) -> None:
        """The rewritten (deflated) .keras archives still load in Keras 3, h5 in tf_keras."""
        keras = pytest.importorskip("keras")
        tf_keras = pytest.importorskip("tf_keras")
        for name, path in stored_models().items():
            if name == "k3_code":
                continue  # loading it would run its stored Lambda and needs its custom class
            if path.suffix == ".keras":
                model = keras.saving.load_model(path, compile=False)
            else:
                model = tf_keras.models.load_model(path, compile=False)
            assert model.name, name
