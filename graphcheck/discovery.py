"""Find the model files under the paths given on the command line.

A path given is taken as it is, whatever its suffix (the readers tell the format by
its content), and remembered as *named*. A directory is one model when it is a
SavedModel (it holds ``keras_metadata.pb``) or a KerasHub preset
(:func:`graphcheck.readers.preset.is_preset_dir`); any other directory is searched
recursively, skipping hidden directories and virtual environments, for:

- ``.h5``, ``.hdf5`` and ``.keras`` files;
- TF.js ``model.json`` files;
- architecture JSON (``model.to_json()``): a ``.json`` file whose top-level object has
  ``"class_name"`` ``"Functional"``, ``"Model"`` or ``"Sequential"`` and a ``"config"``,
  judged from its first 64 KiB (:func:`is_architecture_json`). Other JSON (schemas,
  ``tokenizer.json``, ``metadata.json``, a KerasHub ``config.json``) is left alone;
  name such a file to analyse it anyway;
- SavedModel directories and KerasHub presets (never walked into).

Results are sorted, so every run checks the same models in the same order. A path
that does not exist is passed through, for the reader to report as unreadable. A
directory in which nothing is found is listed in :attr:`Discovery.empty`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from json import decoder
from pathlib import Path

from graphcheck.hub_handles import is_handle
from graphcheck.readers.keras_config import MODEL_CLASSES

__all__ = [
    "MODEL_SUFFIXES",
    "Discovery",
    "Found",
    "discover",
    "discover_models",
    "is_architecture_json",
    "is_savedmodel_dir",
]

MODEL_SUFFIXES = frozenset({".h5", ".hdf5", ".keras"})
#: File names a directory search takes whatever their suffix (a TF.js model).
_MODEL_NAMES = frozenset({"model.json"})
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "venv"})
# Keras writes "class_name" and the "config" key before the (large) config itself,
# and sorted keys put them before it too: the first bytes are enough.
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Found:
    """One model to analyse: ``named`` when it was given, not found in a directory."""

    path: str
    named: bool


@dataclass(frozen=True, slots=True)
class Discovery:
    """The models found in the paths given, and the directories that held none."""

    found: tuple[Found, ...]
    empty: tuple[str, ...] = ()

    @property
    def paths(self) -> list[str]:
        return [item.path for item in self.found]


def is_savedmodel_dir(path: Path) -> bool:
    """True when ``path`` is a directory written by ``model.save(..., save_format="tf")``."""
    return path.is_dir() and (path / "keras_metadata.pb").is_file()


def _is_model_dir(path: Path) -> bool:
    """A folder that is one model (a SavedModel, a KerasHub preset): never walked into."""
    from graphcheck.readers.preset import is_preset_dir

    return is_savedmodel_dir(path) or is_preset_dir(path)


def is_architecture_json(path: Path) -> bool:
    """True when ``path`` begins like ``model.to_json()`` of a Functional or Sequential model.

    Reads at most 64 KiB. An unreadable file is no model (a directory search skips it).

    Examples
    --------
    >>> is_architecture_json(Path("samples/transfer_inception_full.json"))  # doctest: +SKIP
    True
    """
    try:
        # Never block on a FIFO or a device that a folder holds under a .json name.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return False
        head = os.read(descriptor, _SNIFF_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    finally:
        os.close(descriptor)
    if '"class_name"' not in head:  # most JSON: no scan needed
        return False
    fields = _top_level_fields(head)
    return fields.get("class_name") in MODEL_CLASSES and "config" in fields


def discover(paths: Iterable[str | os.PathLike[str]]) -> Discovery:
    """Expand files and directories into models to analyse, without duplicates.

    Examples
    --------
    >>> discover(["samples/inverted_dropout.keras"]).paths  # doctest: +SKIP
    ['samples/inverted_dropout.keras']
    """
    found: list[Found] = []
    empty: list[str] = []
    seen: set[Path] = set()

    def add(path: Path, named: bool) -> None:
        try:
            key = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop: kept, and the reader says what is wrong
            key = path.absolute()
        if key not in seen:
            seen.add(key)
            found.append(Found(str(path), named))

    for given in paths:
        if is_handle(given):  # hf://, kaggle://: a model to fetch, never a local path
            if given not in {f.path for f in found}:
                found.append(Found(str(given), True))
            continue
        path = Path(given)
        if path.is_dir() and not _is_model_dir(path):
            items = _walk(path)
            if not items:
                empty.append(str(given))
            for item in items:
                add(item, named=False)
        else:
            add(path, named=True)
    return Discovery(tuple(found), tuple(empty))


def discover_models(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The paths of the models :func:`discover` finds."""
    return discover(paths).paths


def _is_model_file(path: Path) -> bool:
    """Whether a directory search takes this file (the module docstring's rules)."""
    suffix = path.suffix.lower()
    if suffix in MODEL_SUFFIXES or path.name in _MODEL_NAMES:
        return True
    return suffix == ".json" and is_architecture_json(path)


def _walk(root: Path) -> list[Path]:
    """Model files, SavedModel directories and presets under ``root``, sorted by path."""
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
        results.extend(here / name for name in files if _is_model_file(here / name))
    return sorted(results, key=lambda p: p.as_posix())


def _top_level_fields(text: str) -> dict[str, str | None]:
    """The keys of the JSON object ``text`` begins with, each with its value when that is a
    string (else None); ``text`` may stop anywhere. Not an object: nothing."""
    fields: dict[str, str | None] = {}
    depth = 0
    expect_key = False
    key: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if char == '"':
            try:
                value, index = decoder.scanstring(text, index + 1)  # type: ignore[attr-defined]
            except ValueError:  # cut inside a string
                break
            if depth == 1 and expect_key:
                key, expect_key = value, False
                fields[key] = None
            elif depth == 1 and key is not None:
                fields[key], key = value, None
            if fields.get("class_name") and "config" in fields:  # all a caller asks
                break
            continue
        if char in "{[":
            if depth == 0 and char != "{":
                return {}
            depth += 1
            expect_key = depth == 1
            key = None
        elif char in "}]":
            depth -= 1
            if depth <= 0:
                break
        elif char == "," and depth == 1:
            expect_key, key = True, None
        elif depth == 0 and not char.isspace() and char != "\ufeff":
            return {}
        index += 1
    return fields
