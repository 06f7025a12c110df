"""Find the model files under the paths given on the command line.

A file is taken as it is, whatever its suffix (the readers tell the format by its
content). A directory is a SavedModel when it holds ``keras_metadata.pb``, and a KerasHub
preset when :func:`graphcheck.readers.preset.is_preset_dir` says so; otherwise it is
searched recursively for ``.h5``/``.hdf5``/``.keras`` files, ``model.json`` files,
SavedModel directories and presets, skipping hidden directories and
virtual environments. Results are sorted, so every run checks the same models in
the same order. A path that does not exist is passed through, for the reader to
report as unreadable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["MODEL_SUFFIXES", "discover_models", "is_savedmodel_dir"]

MODEL_SUFFIXES = frozenset({".h5", ".hdf5", ".keras"})
_MODEL_NAMES = frozenset({"model.json"})
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "venv"})


def is_savedmodel_dir(path: Path) -> bool:
    """True when ``path`` is a directory written by ``model.save(..., save_format="tf")``."""
    return path.is_dir() and (path / "keras_metadata.pb").is_file()


def _is_model_dir(path: Path) -> bool:
    """A folder that is one model (a SavedModel, a KerasHub preset): never walked into."""
    from graphcheck.readers.preset import is_preset_dir

    return is_savedmodel_dir(path) or is_preset_dir(path)


def discover_models(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Expand files and directories into model paths, without duplicates.

    Examples
    --------
    >>> discover_models(["samples/inverted_dropout.keras"])  # doctest: +SKIP
    ['samples/inverted_dropout.keras']
    """
    found: list[str] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        try:
            key = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop: kept, and the reader says what is wrong
            key = path.absolute()
        if key not in seen:
            seen.add(key)
            found.append(str(path))

    for given in paths:
        path = Path(given)
        if path.is_dir() and not _is_model_dir(path):
            for item in _walk(path):
                add(item)
        else:
            add(path)
    return found


def _walk(root: Path) -> list[Path]:
    """Model files and SavedModel directories under ``root``, sorted by path."""
    results: list[Path] = []
    for directory, subdirs, files in os.walk(root):
        here = Path(directory)
        keep = []
        for name in sorted(subdirs):
            child = here / name
            if name.startswith(".") or name in _SKIP_DIRS:
                continue
            if _is_model_dir(child):
                results.append(child)
            else:
                keep.append(name)
        subdirs[:] = keep
        for name in files:
            if Path(name).suffix.lower() in MODEL_SUFFIXES or name in _MODEL_NAMES:
                results.append(here / name)
    return sorted(results, key=lambda p: p.as_posix())
