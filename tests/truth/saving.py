"""Saving and reloading truth-suite models in every format each Keras writes.

A module of its own (not conftest.py) so that tests import it by a name no other
directory on sys.path also uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Formats each flavour writes; the suffix is the file name suffix ("" for a directory).
FORMATS: dict[str, tuple[str, ...]] = {
    "keras3": ("keras", "h5", "json"),
    "tfkeras": ("h5", "keras", "json", "savedmodel"),
}


def save_model(model: Any, flavour: str, fmt: str, directory: Path) -> Path:
    """Save `model` in format `fmt` under `directory` and return the path written."""
    if fmt == "json":
        path = directory / f"{model.name}.json"
        path.write_text(model.to_json())
    elif fmt == "savedmodel":
        path = directory / f"{model.name}_savedmodel"
        model.save(path, save_format="tf")
    else:
        path = directory / f"{model.name}.{fmt}"
        model.save(path)
    return path


def load_model(path: Path, flavour: str, fmt: str) -> Any:
    """Load a model saved by `save_model` with the flavour that wrote it."""
    if flavour == "keras3":
        import keras as module
    else:
        import tf_keras as module
    module.backend.clear_session()
    module.utils.set_random_seed(0)
    if fmt == "json":
        return module.models.model_from_json(path.read_text())
    if flavour == "keras3":
        # Our own test models hold no Lambda layers, but stay explicit about trust.
        return module.models.load_model(path, compile=False, safe_mode=False)
    return module.models.load_model(path, compile=False)
