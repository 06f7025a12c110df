"""What a container's own metadata says that a loader could act on: zip members, HDF5 objects.

Only metadata is read: zip central-directory entries, and HDF5 links, object headers
and dataset creation properties. No weight array is read, no link is followed to
another file, and nothing named by the file is opened. The notes found here are
facts, not verdicts; the load-safety rules (``graphcheck/rules/load_safety.py``)
decide what they mean.
"""

from __future__ import annotations

import posixpath
import stat
import zipfile
from collections.abc import Iterable
from typing import Any

from graphcheck.model import ContainerNote

__all__ = [
    "MAX_HDF5_OBJECTS",
    "hdf5_notes",
    "zip_notes",
]

#: A declared uncompressed size beyond which a zip member is absurd for a Keras file
#: (the largest public Keras weights are a few GiB; 64 GiB leaves room for growth).
MAX_MEMBER_BYTES = 64 << 30
#: A compression ratio no real weights reach (float weights deflate 1.1-1.5x; zeros ~1000x).
MAX_MEMBER_RATIO = 2000
#: Below this a high ratio is harmless (a few MiB of zeros).
RATIO_FLOOR_BYTES = 256 << 20
#: HDF5 objects visited at most: a Keras file has one group and a few datasets per layer.
MAX_HDF5_OBJECTS = 200_000
#: A dataset whose declared size is this many times its stored bytes, and at least
#: HUGE_DECLARED_BYTES, would make a loader allocate memory the file never paid for.
DECLARED_RATIO = 64
HUGE_DECLARED_BYTES = 1 << 30

# Notes are capped so a hostile file cannot make the report itself huge.
MAX_NOTES = 100


def zip_notes(infos: Iterable[zipfile.ZipInfo]) -> tuple[ContainerNote, ...]:
    """Member names that escape the archive, links, and absurd declared sizes."""
    notes: list[ContainerNote] = []
    for info in infos:
        if len(notes) >= MAX_NOTES:
            break
        name = info.filename
        normalised = name.replace("\\", "/")
        parts = normalised.split("/")
        if normalised.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in parts:
            notes.append(ContainerNote("zip-path", name, "member name leaves the archive's folder"))
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_ISLNK(mode):
            notes.append(ContainerNote("zip-link", name, "member is a symbolic link"))
        size, packed = info.file_size, info.compress_size
        if size > MAX_MEMBER_BYTES:
            notes.append(ContainerNote("zip-size", name, f"declares {size} bytes uncompressed"))
        elif size > RATIO_FLOOR_BYTES and size > MAX_MEMBER_RATIO * max(packed, 1):
            notes.append(
                ContainerNote(
                    "zip-size",
                    name,
                    f"declares {size} bytes from {packed} compressed "
                    f"(ratio {size // max(packed, 1)})",
                )
            )
    return tuple(notes)


def hdf5_notes(h5py: Any, handle: Any, prefix: str = "") -> tuple[ContainerNote, ...]:
    """External and soft links, external storage, virtual datasets, and declared
    sizes far above the stored bytes, in an open ``h5py.File``; metadata only.

    ``prefix`` names the file inside its container (``model.weights.h5:``).
    """
    notes: list[ContainerNote] = []
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("/", handle)]
    visited = 0
    while stack and len(notes) < MAX_NOTES:
        path, group = stack.pop()
        for name in group:
            visited += 1
            if visited > MAX_HDF5_OBJECTS:
                notes.append(
                    ContainerNote(
                        "hdf5-objects",
                        prefix + path,
                        f"more than {MAX_HDF5_OBJECTS} objects; not all were checked",
                    )
                )
                return tuple(notes)
            where = prefix + posixpath.join(path, name)
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                notes.append(
                    ContainerNote(
                        "hdf5-external-link",
                        where,
                        f"links to {link.path!r} in file {link.filename!r}",
                    )
                )
                continue
            if isinstance(link, h5py.SoftLink):
                notes.append(ContainerNote("hdf5-soft-link", where, f"soft link to {link.path!r}"))
                continue
            item = group.get(name)
            if item is None:
                continue
            key = hash(item.id)
            if key in seen:
                continue
            seen.add(key)
            if isinstance(item, h5py.Group):
                stack.append((posixpath.join(path, name), item))
            elif isinstance(item, h5py.Dataset):
                notes.extend(_dataset_notes(h5py, item, where))
    return tuple(notes[:MAX_NOTES])


def _dataset_notes(h5py: Any, dataset: Any, where: str) -> list[ContainerNote]:
    plist = dataset.id.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        sources = sorted(
            {plist.get_virtual_filename(i) for i in range(min(plist.get_virtual_count(), 8))}
        )
        return [ContainerNote("hdf5-virtual", where, f"virtual dataset reading from {sources!r}")]
    count = plist.get_external_count()
    if count:
        files = sorted(
            {plist.get_external(i)[0].decode("utf-8", "replace") for i in range(min(count, 8))}
        )
        return [
            ContainerNote(
                "hdf5-external-storage", where, f"data stored in external file(s) {files!r}"
            )
        ]
    declared = dataset.dtype.itemsize
    for extent in dataset.shape or ():
        declared *= extent
    stored = dataset.id.get_storage_size()
    if declared >= HUGE_DECLARED_BYTES and declared > DECLARED_RATIO * max(stored, 1):
        return [
            ContainerNote(
                "hdf5-declared-size",
                where,
                f"declares shape {tuple(dataset.shape)} ({declared} bytes) "
                f"but stores {stored} bytes",
            )
        ]
    return []
