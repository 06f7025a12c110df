"""``.keras`` archives: a zip of ``config.json``, ``metadata.json`` and weights.

Members are read by name with a size cap; nothing is extracted to disk, so path
traversal names cannot write anywhere. The weights member (``model.weights.h5``) is
opened only for its HDF5 metadata (links, dataset layouts), in a child process; its
arrays are never read.
"""

from __future__ import annotations

import functools
import io
import zipfile
import zlib
from typing import Any

from graphcheck.errors import ModelReadError
from graphcheck.model import ContainerNote
from graphcheck.readers.containers import zip_notes
from graphcheck.readers.source import (
    MAX_CONFIG_BYTES,
    ConfigSource,
    decode_json,
    first_line,
    version_string,
)

__all__ = ["read_keras_zip_ahead", "read_keras_zip_config"]

MAX_MEMBERS = 10_000
MAX_METADATA_BYTES = 1024 * 1024
#: HDF5 members whose metadata is checked. Keras stores its weights uncompressed;
#: a compressed member is checked only up to this size, because libhdf5 seeks in it
#: and every backward seek in a deflated member decompresses it again from the start.
MAX_HDF5_MEMBERS = 4
MAX_COMPRESSED_HDF5_BYTES = 64 * 1024 * 1024

try:
    import lzma

    _LZMA_ERRORS: tuple[type[Exception], ...] = (lzma.LZMAError,)
except ImportError:  # pragma: no cover - Python built without lzma
    _LZMA_ERRORS = ()

# zlib.error / LZMAError: a damaged compressed stream (neither is an OSError).
_DAMAGED_ZIP_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    zlib.error,
    *_LZMA_ERRORS,
)


def read_keras_zip_config(subject: str) -> ConfigSource:
    """Read ``config.json`` and ``metadata.json`` from a ``.keras`` archive."""
    try:
        with zipfile.ZipFile(subject) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ModelReadError(subject, f"zip has {len(infos)} members (limit {MAX_MEMBERS})")
            members = {info.filename: info for info in infos}
            if "config.json" not in members:
                raise ModelReadError(subject, "zip has no config.json (not a .keras model?)")
            raw_config = _read_member(archive, members["config.json"], MAX_CONFIG_BYTES, subject)
            raw_meta = None
            if "metadata.json" in members:
                raw_meta = _read_member(
                    archive, members["metadata.json"], MAX_METADATA_BYTES, subject
                )
            notes = zip_notes(infos)
            weights = [info.filename for info in _hdf5_members(infos)]
    except ModelReadError:
        raise
    except _DAMAGED_ZIP_ERRORS as exc:
        raise ModelReadError(subject, f"damaged or truncated zip ({first_line(exc)})") from None
    config = decode_json(raw_config, subject, "config.json")
    if not isinstance(config, dict):
        raise ModelReadError(subject, "config.json is not a JSON object")
    metadata = decode_json(raw_meta, subject, "metadata.json") if raw_meta is not None else {}
    if not isinstance(metadata, dict):
        metadata = {}
    if weights:
        notes += _weights_notes(subject, weights)
    return ConfigSource(
        subject,
        "keras",
        config,
        version_string(metadata.get("keras_version")),
        version_string(metadata.get("backend")) if "backend" in metadata else None,
        container=notes,
    )


def read_keras_zip_ahead(subject: str) -> None:
    """Start the HDF5 walk of the archive's weights in the reader child now, so that
    :func:`read_keras_zip_config` finds it done (a folder's next file)."""
    from graphcheck.readers.h5 import read_notes_ahead

    read_notes_ahead(subject, functools.partial(_archive_notes, subject))


def _hdf5_members(infos: list[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    """The members whose HDF5 metadata is checked (see MAX_COMPRESSED_HDF5_BYTES)."""
    return [
        info for info in infos
        if info.filename.endswith((".h5", ".hdf5"))
        and (
            info.compress_type == zipfile.ZIP_STORED
            or info.file_size <= MAX_COMPRESSED_HDF5_BYTES
        )
    ][:MAX_HDF5_MEMBERS]


def _weights_notes(subject: str, names: list[str]) -> tuple[ContainerNote, ...]:
    """The HDF5 notes of the weights members, in one request to the reader child.

    If that request fails (a member crashed or hung libhdf5), each member is read
    again on its own, so one damaged member does not hide what another holds.
    """
    from graphcheck.readers.h5 import read_notes

    try:
        return read_notes(subject, functools.partial(_archive_notes, subject))
    except ModelReadError:
        return tuple(note for name in names for note in _hdf5_member_notes(subject, name))


def _archive_notes(subject: str) -> list[str | bytes | None]:
    """In the reader child: the notes of every weights member of the archive; a member
    libhdf5 cannot read has none (Keras could not load it either)."""
    from graphcheck.readers.h5 import encode_notes, member_notes

    notes: list[ContainerNote] = []
    with zipfile.ZipFile(subject) as archive:  # its directory read once for every member
        for info in _hdf5_members(archive.infolist()):
            opened = functools.partial(_open_info, archive, info, subject)
            try:
                notes += member_notes(opened, f"{info.filename}:")
            except Exception:  # as _hdf5_member_notes: a damaged member has no notes
                continue
    return [encode_notes(notes)]


def _hdf5_member_notes(subject: str, name: str) -> tuple[ContainerNote, ...]:
    """The HDF5 notes of one member; none when libhdf5 cannot read it (nor could Keras)."""
    from graphcheck.readers.h5 import read_h5_notes

    try:
        return read_h5_notes(subject, functools.partial(_open_member, subject, name), f"{name}:")
    except ModelReadError:
        return ()


def _open_member(subject: str, name: str) -> Any:
    """The member as a seekable file; runs in the HDF5 reader's child process."""
    with zipfile.ZipFile(subject) as archive:
        return _open_info(archive, archive.getinfo(name), subject)


def _open_info(archive: zipfile.ZipFile, info: zipfile.ZipInfo, subject: str) -> Any:
    """An open archive's member as a seekable file (in the HDF5 reader's child)."""
    if info.compress_type == zipfile.ZIP_STORED:
        return _StoredMember(subject, info)
    return io.BytesIO(_read_member(archive, info, MAX_COMPRESSED_HDF5_BYTES, subject))


class _StoredMember(io.RawIOBase):
    """An uncompressed zip member read in place, with random access.

    libhdf5 reads a file's object headers by seeking back and forth; Python 3.11's
    zip member objects emulate a backward seek by reading again from the member's
    start, which made the metadata scan of a 257 MiB weights member take seconds
    (EfficientNetB7: 11.6 s against 1.3 s without it). A stored member is a plain
    byte range of the archive, so it is read as one: only the bytes libhdf5 asks for.
    """

    def __init__(self, subject: str, info: zipfile.ZipInfo) -> None:
        super().__init__()
        self._file = open(subject, "rb")  # noqa: SIM115 - closed by close()
        self._file.seek(info.header_offset)
        header = self._file.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise OSError("bad local file header")
        names = int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
        self._start = info.header_offset + 30 + names
        self._size = info.file_size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = max(0, min(len(view), self._size - self._pos))
        self._file.seek(self._start + self._pos)
        done = self._file.readinto(view[:count]) if count else 0
        self._pos += done
        return done

    def close(self) -> None:
        self._file.close()
        super().close()


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, subject: str) -> bytes:
    """Read one member, stopping at ``cap`` bytes whatever its header claims (zip bombs)."""
    with archive.open(info) as member:
        data = member.read(cap + 1)
    if len(data) > cap:
        raise ModelReadError(subject, f"{info.filename} decompresses to more than {cap} bytes")
    return data
