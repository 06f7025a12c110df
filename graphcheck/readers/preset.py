"""KerasHub preset directories: the folder ``task.save_to_preset(dir)`` writes, read as one model.

A preset holds ``config.json`` (the backbone), ``metadata.json`` (the Keras and
KerasHub versions), ``model.weights.h5``, and for a task ``task.json``,
``task.weights.h5``, ``preprocessor.json``, ``tokenizer.json`` and ``assets/``
(the names are in :mod:`graphcheck.preset_layout`). ``from_preset`` deserialises
those JSON configs with Keras's own deserialiser, reads the tokenizer's vocabulary
from ``assets/`` and loads the HDF5 weights; so those configs are stored documents
here (other JSON files are named with their sizes, never decoded), every HDF5
file's metadata is walked (in a child process, as for a ``.h5``), and every file's
path, type and size is noted. Nothing is imported, no weight array is read, no
link is followed out of the preset, and nothing but a regular file is opened.

:func:`read_preset` is the entry point for a local directory; a hub handle is
resolved to one (a download cache's snapshot) and read the same way, with
``link_root`` naming the folder the cache's links may point into.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graphcheck.errors import ModelReadError, UnsupportedModelError
from graphcheck.model import ContainerNote
from graphcheck.preset_layout import (
    ASSETS_DIR,
    CONFIG_FILE,
    JSON_DOCUMENTS,
    METADATA_FILE,
    TASK_FILE,
    is_hub_config,
)
from graphcheck.readers.containers import MAX_NOTES
from graphcheck.readers.keras_zip import MAX_METADATA_BYTES
from graphcheck.readers.source import MAX_CONFIG_BYTES, ConfigSource, decode_json, version_string

__all__ = [
    "HUB_VERSION_KEYS",
    "graphless_preset_error",
    "is_preset_dir",
    "preset_main_config",
    "read_preset",
    "read_preset_ahead",
]

#: What ``save_to_preset`` records as the saving library's version (keras_nlp before
#: it was renamed KerasHub).
HUB_VERSION_KEYS = ("keras_hub_version", "keras_nlp_version")
#: All the JSON configs of one preset together (real ones hold a few hundred KiB); like
#: one config of a file. metadata.json, and config.json when a folder is only being
#: recognised, are read up to MAX_METADATA_BYTES, as a .keras archive's metadata.json.
MAX_JSON_BYTES = MAX_CONFIG_BYTES
#: Files looked at in one preset: real ones hold about ten, a sharded one a few hundred.
MAX_FILES = 10_000
#: HDF5 files walked in one preset.
MAX_HDF5_FILES = 256
#: An asset (vocabulary, merges, SentencePiece proto) is read whole into memory by the
#: tokenizer; the largest real ones are tens of MiB.
MAX_ASSET_BYTES = 1 << 30


def is_preset_dir(path: Path) -> bool:
    """True for a KerasHub preset folder: ``metadata.json`` naming a KerasHub version,
    or a ``config.json`` that is a KerasHub object's config (a training run's
    hyperparameters beside its weights are no preset)."""
    if not path.is_dir() or (path / "keras_metadata.pb").is_file():
        return False
    metadata = _small_json(path / METADATA_FILE, path)
    if metadata is _LINKED_OUT or (
        isinstance(metadata, dict) and any(k in metadata for k in HUB_VERSION_KEYS)
    ):
        return True
    config = _small_json(path / CONFIG_FILE, path)
    return config is _LINKED_OUT or is_hub_config(config)


#: What :func:`_small_json` gives for a link out of the folder, which is never opened:
#: a preset by its file names, whose reading then says where the link goes.
_LINKED_OUT = object()


def _small_json(path: Path, folder: Path) -> Any:
    """The decoded file, or None when it is missing, no regular file, too large or no
    JSON; :data:`_LINKED_OUT` for a symbolic link that leaves ``folder``."""
    if path.is_symlink():
        inside = _link_inside(path, folder.resolve())
        if inside is None:
            return None
        if not inside:
            return _LINKED_OUT
    try:
        raw = _read_regular(path, MAX_METADATA_BYTES)
        return None if len(raw) > MAX_METADATA_BYTES else json.loads(raw)
    except (OSError, ValueError, RecursionError):
        return None


def _read_regular(path: Path, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of a regular file; OSError for anything else, which is
    never opened for reading (a FIFO would block, a device could be endless)."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(errno.EINVAL, "not a regular file")
    # Opened without blocking and checked again: the entry can change after the stat.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def preset_main_config(directory: Path) -> str:
    """The file that describes the model: ``task.json`` when there is a task, else
    the backbone's ``config.json``."""
    return TASK_FILE if (directory / TASK_FILE).is_file() else CONFIG_FILE


def read_preset(
    directory: str | os.PathLike[str],
    *,
    link_root: str | os.PathLike[str] | None = None,
    subject: str | None = None,
) -> ConfigSource:
    """Read a KerasHub preset folder as one model's stored documents.

    ``config`` is ``task.json`` (or ``config.json`` without a task); every other
    top-level JSON file is a document under its file name; ``container`` holds the
    notes of every HDF5 file and of any file that is a link out of ``link_root``
    (the preset itself unless given), not a regular file, or absurdly large.

    Raises
    ------
    ModelReadError
        No ``config.json``, or a JSON config that cannot be read or decoded.
    """
    root = Path(directory)
    subject = subject or os.fspath(directory)
    if not (root / CONFIG_FILE).exists() and not (root / CONFIG_FILE).is_symlink():
        raise ModelReadError(subject, "KerasHub preset has no config.json")
    boundary = Path(link_root) if link_root is not None else root
    try:
        boundary = boundary.resolve()
    except (OSError, RuntimeError):
        boundary = boundary.absolute()
    files, notes = _walk(root, boundary)
    # Only files the walk judged safe are opened: a link out of the preset or a FIFO is a note.
    metadata = _metadata(root / METADATA_FILE, subject) if files.get(METADATA_FILE) else {}
    main = preset_main_config(root)
    documents: dict[str, Any] = {}
    config: Mapping[str, Any] | None = None
    budget = MAX_JSON_BYTES
    for name in sorted((n for n in JSON_DOCUMENTS if files.get(n)), key=lambda n: n != main):
        raw = _read_config(root / name, subject, name, budget)
        budget -= len(raw)
        document = decode_json(raw, subject, name)
        if name == main:
            if not isinstance(document, dict):
                raise ModelReadError(subject, f"{name} is not a JSON object")
            config = document
        else:
            documents[name] = document
    if config is None:
        raise ModelReadError(subject, f"{main} cannot be read (a link out of the preset?)")
    unread = {
        n: _size(root / n) for n in sorted(files)
        if "/" not in n and n.endswith(".json") and n != METADATA_FILE and n not in JSON_DOCUMENTS
    }
    hdf5 = [n for n in sorted(files) if n.endswith((".h5", ".hdf5")) and files[n]]
    for name in hdf5[:MAX_HDF5_FILES]:
        notes += _hdf5_notes(subject, root / name, name)
    extra = {
        "preset_config": main,
        "keras_hub_version": next(
            (version_string(metadata.get(k)) for k in HUB_VERSION_KEYS if metadata.get(k)), None
        ),
        # JSON files from_preset does not read: named with their sizes, never decoded.
        "unread_json": dict(list(unread.items())[:MAX_NOTES]),
    }
    return ConfigSource(
        subject,
        "preset",
        config,
        version_string(metadata.get("keras_version")),
        None,  # save_to_preset records no backend
        documents,
        tuple(notes[:MAX_NOTES]),
        extra,
    )


def read_preset_ahead(directory: str) -> None:
    """Start the HDF5 walks of a preset's weights files in the reader child now, for
    :func:`read_preset` to take later. Only regular files at the preset's top (where
    ``save_to_preset`` writes them) are started: a link is judged by the read first."""
    root = Path(directory)
    if not is_preset_dir(root):
        return
    from graphcheck.readers.h5 import read_h5_notes_ahead

    with os.scandir(root) as entries:
        names = sorted(
            entry.name for entry in entries
            if entry.name.endswith((".h5", ".hdf5")) and entry.is_file(follow_symlinks=False)
        )
    for name in names[:MAX_HDF5_FILES]:
        read_h5_notes_ahead(directory, str(root / name), f"{name}:")


def _walk(root: Path, boundary: Path) -> tuple[dict[str, bool], list[ContainerNote]]:
    """Every file under ``root`` (relative POSIX name -> safe to open), and the notes
    on links out of ``boundary``, non-regular files and oversized assets."""
    files: dict[str, bool] = {}
    notes: list[ContainerNote] = []
    seen = 0
    for directory, subdirs, names in os.walk(root):
        here = Path(directory)
        for name in sorted(subdirs):
            child = here / name
            if child.is_symlink():  # os.walk does not enter it; the loader would
                subdirs.remove(name)
                names.append(name)
        subdirs.sort()
        for name in sorted(names):
            seen += 1
            if seen > MAX_FILES:
                notes.append(ContainerNote(
                    "preset-size", here.relative_to(root).as_posix(),
                    f"more than {MAX_FILES} files; not all were checked",
                ))
                return files, notes
            path = here / name
            relative = path.relative_to(root).as_posix()
            safe, note = _file_note(path, relative, boundary)
            files[relative] = safe
            if note is not None and len(notes) < MAX_NOTES:
                notes.append(note)
    return files, notes


def _file_note(path: Path, relative: str, boundary: Path) -> tuple[bool, ContainerNote | None]:
    try:
        info = os.lstat(path)
    except OSError as exc:
        return False, ContainerNote("preset-path", relative, f"cannot be read ({exc.strerror})")
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(path)
        inside = _link_inside(path, boundary)
        if inside is None:
            return False, ContainerNote(
                "preset-link", relative, f"symbolic link to {target!r}, which does not resolve"
            )
        if not inside:
            return False, ContainerNote(
                "preset-link", relative, f"symbolic link to {target!r}, outside the preset"
            )
        try:
            info = os.stat(path)
        except OSError:
            return False, None
    if stat.S_ISDIR(info.st_mode):
        return False, None
    if not stat.S_ISREG(info.st_mode):
        return False, ContainerNote(
            "preset-path", relative, "not a regular file (a FIFO or device blocks the loader)"
        )
    if relative.startswith(ASSETS_DIR + "/") and info.st_size > MAX_ASSET_BYTES:
        return True, ContainerNote(
            "preset-size", relative,
            f"{info.st_size} bytes, read whole into memory by the tokenizer",
        )
    return True, None


def _link_inside(link: Path, boundary: Path) -> bool | None:
    """Whether a symbolic link resolves inside ``boundary`` (resolved); None when it
    does not resolve (dangling, a loop)."""
    try:
        return link.resolve(strict=True).is_relative_to(boundary)
    except (OSError, RuntimeError):
        return None


def _metadata(path: Path, subject: str) -> Mapping[str, Any]:
    try:
        raw = _read_regular(path, MAX_METADATA_BYTES)
    except OSError as exc:
        raise ModelReadError(subject, f"metadata.json cannot be read ({exc.strerror})") from None
    if len(raw) > MAX_METADATA_BYTES:
        return {}
    document = decode_json(raw, subject, "metadata.json")
    return document if isinstance(document, dict) else {}


def _read_config(path: Path, subject: str, name: str, budget: int) -> bytes:
    try:
        raw = _read_regular(path, budget)
    except OSError as exc:
        raise ModelReadError(subject, f"{name} cannot be read ({exc.strerror})") from None
    if len(raw) > budget:
        raise ModelReadError(
            subject, f"{name}: the preset's JSON configs hold more than {MAX_JSON_BYTES} bytes"
        )
    return raw


def _size(path: Path) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _hdf5_notes(subject: str, path: Path, name: str) -> tuple[ContainerNote, ...]:
    """The HDF5 notes of one weights file; none when libhdf5 cannot read it (nor could Keras)."""
    from graphcheck.readers.h5 import read_h5_notes

    try:
        return read_h5_notes(subject, str(path), f"{name}:")
    except ModelReadError:
        return ()


def graphless_preset_error(source: ConfigSource) -> UnsupportedModelError:
    """The one-line error for a preset read without ``--rebuild``: what it would build."""
    name = source.config.get("class_name")
    label = name if isinstance(name, str) else "the model"
    main = source.extra.get("preset_config", CONFIG_FILE)
    what = "task" if main == TASK_FILE else "backbone"
    return UnsupportedModelError(
        source.subject,
        f"KerasHub preset of a {label}: its {main} stores no layer graph to analyse (use "
        f"--rebuild to build the {what} from {main} with the installed Keras and KerasHub, "
        "without weights, and analyse the built graph)",
    )
