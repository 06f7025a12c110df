"""Read a saved Keras model into a :class:`~graphcheck.model.SavedModelDesc`.

The format is told by what the path is and by its first bytes, never by the suffix
alone: HDF5 (``.h5``, Keras 1-3), a ``.keras`` zip, architecture or TF.js JSON, a
SavedModel directory with ``keras_metadata.pb``, or a KerasHub preset directory.
Readers only read stored text: no weight array is loaded and nothing named by the
file is imported or run.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from graphcheck.errors import GraphcheckError, ModelReadError, UnsupportedModelError
from graphcheck.hub_handles import is_handle
from graphcheck.model import ModelDesc, SavedModelDesc
from graphcheck.readers.keras_config import detect_dialect, parse_model_config
from graphcheck.readers.source import ConfigSource

__all__ = ["READ_AHEAD", "read_ahead", "read_config_source", "read_model", "read_stored"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
ZIP_END_MAGIC = b"PK\x05\x06"
_ZIP_END_SIZE = 22  # the end-of-central-directory record without its comment
_ZIP_COMMENT_MAX = 0xFFFF


def read_model(path: str | os.PathLike[str]) -> SavedModelDesc:
    """Read the model description stored at ``path``.

    Raises
    ------
    ModelReadError
        Missing file, unknown format, damaged or non-Keras content.
    UnsupportedModelError
        A Keras model without a stored layer graph (subclassed).
    GraphBuildError
        The stored graph references layers or calls that do not exist.
    """
    source = read_config_source(path)
    try:
        model, dialect = parse_model_config(
            source.config, keras_version=source.keras_version, subject=source.subject
        )
    except UnsupportedModelError as exc:
        error = exc
        if source.format == "preset":
            from graphcheck.readers.preset import graphless_preset_error

            error = graphless_preset_error(source)
        error.stored = _stored_only(source)  # the load-safety rules read it: not read twice
        raise error from None
    return SavedModelDesc(
        path=source.subject,
        format=source.format,
        keras_version=source.keras_version,
        backend=source.backend,
        dialect=dialect,
        model=model,
        stored={"config": source.config, **source.documents},
        container=source.container,
        extra=source.extra,
    )


#: Files whose HDF5 walk a caller starts before their turn (:func:`read_ahead`): a
#: few, so that one big file's walk overlaps the work on the small files before it.
READ_AHEAD = 16


def read_ahead(path: str | os.PathLike[str]) -> None:
    """Start the slow part of reading ``path`` now: the walk of its HDF5 objects, in
    the reader child, while the caller works on something else (the file before it).

    Only an HDF5 file, a zip or a KerasHub preset's weights files are started;
    anything else, or a file that cannot be opened, is left to :func:`read_model`,
    which says what is wrong with it.
    """
    subject = os.fspath(path)
    try:
        mode = os.stat(subject).st_mode
        if stat.S_ISDIR(mode):
            from graphcheck.readers.preset import read_preset_ahead

            read_preset_ahead(subject)
            return
        if not stat.S_ISREG(mode):  # a FIFO would block the open
            return
        with open(subject, "rb") as handle:
            head = handle.read(8)
        kind = _file_kind(subject, 0, head, thorough=False)
        if kind == "h5":
            from graphcheck.readers.h5 import read_h5_config_ahead

            read_h5_config_ahead(subject)
        elif kind == "zip":
            from graphcheck.readers.keras_zip import read_keras_zip_ahead

            read_keras_zip_ahead(subject)
    except (OSError, GraphcheckError):
        return


def read_stored(path: str | os.PathLike[str]) -> SavedModelDesc:
    """Read what ``path`` stores without parsing a layer graph: ``has_graph`` is False.

    For a file whose config stores no layer graph (``read_model`` raises
    ``UnsupportedModelError``): the load-safety rules read only the stored documents
    and the container notes, and a gate must still run them on such a file.

    Raises
    ------
    ModelReadError
        Missing file, unknown format, damaged or non-Keras content.
    """
    return _stored_only(read_config_source(path))


def _stored_only(source: ConfigSource) -> SavedModelDesc:
    top = source.config
    inner = top.get("config")
    name = inner.get("name") if isinstance(inner, Mapping) else None
    class_name = top.get("class_name")
    return SavedModelDesc(
        path=source.subject,
        format=source.format,
        keras_version=source.keras_version,
        backend=source.backend,
        dialect=detect_dialect(top, source.keras_version),
        model=ModelDesc(
            name=name if isinstance(name, str) else "model",
            class_name=class_name if isinstance(class_name, str) else "Model",
            layers=(),
            inputs=(),
            outputs=(),
            trainable=None,
        ),
        stored={"config": top, **source.documents},
        container=source.container,
        extra=source.extra,
        has_graph=False,
    )


def read_config_source(path: str | os.PathLike[str]) -> ConfigSource:
    """Find and decode the stored model config, whatever the container format.

    A hub handle (``hf://``, ``kaggle://``) is fetched into its library's cache and
    read there as a KerasHub preset, named by the handle.
    """
    if is_handle(path):
        from graphcheck.hub_handles import fetch_preset
        from graphcheck.readers.preset import read_preset

        fetched = fetch_preset(str(path))
        return read_preset(fetched.directory, link_root=fetched.link_root, subject=fetched.handle)
    subject = os.fspath(path)
    try:
        info = os.stat(subject)
    except FileNotFoundError:
        raise ModelReadError(subject, "no such file or directory") from None
    except OSError as exc:
        raise ModelReadError(subject, f"cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        return _read_directory(Path(subject), subject)
    if not stat.S_ISREG(info.st_mode):
        # A FIFO or device would block or never end: refuse before opening it.
        raise ModelReadError(subject, "not a regular file or directory")
    if info.st_size == 0:
        raise ModelReadError(subject, "empty file")
    try:
        with open(subject, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise ModelReadError(subject, f"cannot be read ({exc.strerror})") from None
    kind = _file_kind(subject, info.st_size, head)
    if kind == "h5":
        from graphcheck.readers.h5 import read_h5_config

        return read_h5_config(subject)
    if kind == "zip":
        from graphcheck.readers.keras_zip import read_keras_zip_config

        return read_keras_zip_config(subject)
    if kind == "json":
        from graphcheck.readers.json_file import read_json_config

        return read_json_config(subject, info.st_size)
    raise ModelReadError(
        subject, "not a Keras model file (expected HDF5, a .keras zip, JSON or a SavedModel)"
    )


def _file_kind(subject: str, size: int, head: bytes, *, thorough: bool = True) -> str | None:
    """``"h5"``, ``"zip"`` or ``"json"``: the container a file's first bytes (``head``)
    say it is; None for none. ``thorough=False`` decides by ``head`` alone, without
    reading the file's end or looking for an HDF5 user block (a guess for reading
    ahead; the read itself decides thoroughly)."""
    if head.startswith(HDF5_MAGIC):
        return "h5"
    if not thorough:
        return "zip" if head.startswith(ZIP_MAGIC) else None
    # A .keras zip may store model.weights.h5 uncompressed at byte 512, 1024, ...,
    # where an HDF5 user block would put the superblock: the zip's own structure
    # (a local header first, or the end record last) is decided before that search.
    is_zip = head.startswith(ZIP_MAGIC) or _ends_with_zip_directory(subject, size)
    if not is_zip and _has_hdf5_userblock(subject, size):
        return "h5"
    if is_zip or head.startswith(b"PK"):
        return "zip"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")) or head.strip() == b"":
        return "json"
    return None


def _ends_with_zip_directory(subject: str, size: int) -> bool:
    """True when the file ends with a zip end-of-central-directory record.

    The record is 22 bytes plus a comment of the length it states, so a match
    must end exactly at the end of the file; bytes that merely contain the
    signature somewhere (weights behind an HDF5 user block) do not count.
    """
    tail_size = min(size, _ZIP_END_SIZE + _ZIP_COMMENT_MAX)
    try:
        with open(subject, "rb") as handle:
            handle.seek(size - tail_size)
            tail = handle.read(tail_size)
    except OSError:
        return False
    at = tail.rfind(ZIP_END_MAGIC)
    while at >= 0:
        record = tail[at : at + _ZIP_END_SIZE]
        if len(record) == _ZIP_END_SIZE:
            comment = int.from_bytes(record[20:22], "little")
            if at + _ZIP_END_SIZE + comment == len(tail):
                return True
        at = tail.rfind(ZIP_END_MAGIC, 0, at)
    return False


def _has_hdf5_userblock(subject: str, size: int) -> bool:
    """HDF5 may sit behind a user block of 512, 1024, 2048, ... bytes."""
    offset = 512
    try:
        with open(subject, "rb") as handle:
            while offset + 8 <= size and offset <= 1 << 20:
                handle.seek(offset)
                if handle.read(8) == HDF5_MAGIC:
                    return True
                offset *= 2
    except OSError:
        return False
    return False


def _read_directory(directory: Path, subject: str) -> ConfigSource:
    if (directory / "keras_metadata.pb").is_file():
        from graphcheck.readers.savedmodel import read_savedmodel_config

        return read_savedmodel_config(directory, subject)
    from graphcheck.readers.preset import is_preset_dir, read_preset

    if is_preset_dir(directory):
        return read_preset(directory, subject=subject)
    if (directory / "model.json").is_file():
        from graphcheck.readers.json_file import read_json_config

        target = directory / "model.json"
        try:
            size = target.stat().st_size
        except OSError as exc:
            raise ModelReadError(subject, f"model.json cannot be read ({exc.strerror})") from None
        return read_json_config(str(target), size)
    if (directory / "saved_model.pb").is_file():
        raise ModelReadError(
            subject,
            "SavedModel without keras_metadata.pb (written by model.export() or "
            "tf.saved_model.save?): it stores no Keras layer graph",
        )
    raise ModelReadError(
        subject, "directory is not a SavedModel (no keras_metadata.pb) or a KerasHub preset "
        "(no config.json beside metadata.json, task.json or model.weights.h5)"
    )
