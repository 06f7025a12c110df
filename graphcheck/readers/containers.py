"""What a container's own metadata says that a loader could act on: zip members, HDF5 objects.

Only metadata is read: zip central-directory entries, and HDF5 links, object headers
and dataset creation properties. No weight array is read, no link is followed to
another file, and nothing named by the file is opened. The notes found here are
facts, not verdicts; the load-safety rules (``graphcheck/rules/load_safety.py``)
decide what they mean.
"""

from __future__ import annotations

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

#: A declared uncompressed size beyond which a compressed zip member is absurd for a
#: Keras file (the largest public Keras weights are a few GiB, and Keras stores them).
MAX_MEMBER_BYTES = 64 << 30
#: Keras writes every member stored (ratio 1); re-zipped with DEFLATE, the real members
#: measured stay under 20:1 (small weights files; vocabularies 2-3:1), zeros reach
#: 1,029:1 (benchmarks/zip_ratios.py). Keras 3.15.1 and later refuse above this ratio.
MAX_MEMBER_RATIO = 100
#: Members above MAX_MEMBER_RATIO may declare this much in all: beyond it, loading
#: the archive writes or allocates what the file never paid for (Keras 3.16's floor).
BOMB_FLOOR_BYTES = 64 << 20
#: Keras 3.15.1 refuses a member above MAX_MEMBER_RATIO only beyond this size; smaller
#: ones (note kind ``zip-inflation``, not ``zip-size``) it still extracts.
KERAS_MEMBER_FLOOR_BYTES = 256 << 20
#: HDF5 objects visited at most: a Keras file has one group and a few datasets per layer.
MAX_HDF5_OBJECTS = 200_000
#: A dataset whose declared size is this many times its stored bytes, and at least
#: HUGE_DECLARED_BYTES, would make a loader allocate memory the file never paid for.
DECLARED_RATIO = 64
HUGE_DECLARED_BYTES = 1 << 30

# Notes are capped so a hostile file cannot make the report itself huge.
MAX_NOTES = 100


def zip_notes(infos: Iterable[zipfile.ZipInfo]) -> tuple[ContainerNote, ...]:
    """Member names that escape the archive, links, and absurd declared sizes.

    Sizes come from the central directory, which is what Python's ``zipfile`` (Keras's
    reader and graphcheck's) trusts: it never inflates a member past its declared
    size, so an archive that declares less than it holds fails its CRC check there.
    """
    notes: list[ContainerNote] = []
    inflating: list[zipfile.ZipInfo] = []
    for info in infos:
        name = info.filename
        normalised = name.replace("\\", "/")
        parts = normalised.split("/")
        if normalised.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in parts:
            notes.append(ContainerNote("zip-path", name, "member name leaves the archive's folder"))
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_ISLNK(mode):
            notes.append(ContainerNote("zip-link", name, "member is a symbolic link"))
        size, packed = info.file_size, info.compress_size
        if size > MAX_MEMBER_RATIO * max(packed, 1):
            inflating.append(info)
            if size > BOMB_FLOOR_BYTES:
                kind = "zip-size" if size > KERAS_MEMBER_FLOOR_BYTES else "zip-inflation"
                notes.append(ContainerNote(kind, name, _inflation(size, packed)))
        elif size > MAX_MEMBER_BYTES and info.compress_type != zipfile.ZIP_STORED:
            notes.append(ContainerNote("zip-size", name, f"declares {_bytes(size)} uncompressed"))
    total = sum(i.file_size for i in inflating)
    if total > BOMB_FLOOR_BYTES and all(i.file_size <= BOMB_FLOOR_BYTES for i in inflating):
        # Many members each under the floor: together they are one bomb.
        packed = sum(i.compress_size for i in inflating)
        first = inflating[0].filename
        notes.append(
            ContainerNote(
                "zip-inflation",
                first,
                f"with {len(inflating) - 1} more members over {MAX_MEMBER_RATIO}:1, "
                + _inflation(total, packed, "together declares"),
            )
        )
    return tuple(notes[:MAX_NOTES])


def _bytes(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size} bytes ({size / (1 << shift):.1f} {unit})"
    return f"{size} bytes"


def _inflation(size: int, packed: int, verb: str = "declares") -> str:
    return (
        f"{verb} {_bytes(size)} uncompressed from {_bytes(packed)} stored "
        f"(ratio {size / max(packed, 1):,.0f}:1, limit {MAX_MEMBER_RATIO}:1 beyond "
        f"{BOMB_FLOOR_BYTES >> 20} MiB); a loader that extracts or reads it writes or "
        "allocates the declared bytes"
    )


def hdf5_notes(h5py: Any, handle: Any, prefix: str = "") -> tuple[ContainerNote, ...]:
    """External and soft links, external storage, virtual datasets, and declared
    sizes far above the stored bytes, in an open ``h5py.File``; metadata only.

    ``prefix`` names the file inside its container (``model.weights.h5:``). The walk
    is libhdf5's own (H5Lvisit: every link once, each group entered once however many
    hard links reach it, soft and external links never followed), through h5py's
    low-level API: its high-level Group and Dataset objects cost more than the reads.
    """
    h5i, h5l, h5o = h5py.h5i, h5py.h5l, h5py.h5o
    file_id = handle.id
    notes: list[ContainerNote] = []
    seen: set[int] = set()
    visited = 0

    def visit(raw_name: bytes, info: Any) -> bool | None:
        nonlocal visited
        visited += 1
        where = f"{prefix}/{_text(raw_name)}"
        if visited > MAX_HDF5_OBJECTS:
            notes.append(
                ContainerNote(
                    "hdf5-objects",
                    f"{prefix}/",
                    f"more than {MAX_HDF5_OBJECTS} objects; not all were checked",
                )
            )
            return True
        if info.type == h5l.TYPE_EXTERNAL:
            filename, path = file_id.links.get_val(raw_name)
            notes.append(
                ContainerNote(
                    "hdf5-external-link",
                    where,
                    f"links to {_text(path)!r} in file {_text(filename)!r}",
                )
            )
        elif info.type == h5l.TYPE_SOFT:
            target = _text(file_id.links.get_val(raw_name))
            notes.append(ContainerNote("hdf5-soft-link", where, f"soft link to {target!r}"))
        elif info.type == h5l.TYPE_HARD and info.u not in seen:
            seen.add(info.u)  # the object's address: a second hard link to it is not news
            item = h5o.open(file_id, raw_name)
            if h5i.get_type(item) == h5i.DATASET:
                notes.extend(_dataset_notes(h5py, item, where))
        return True if len(notes) >= MAX_NOTES else None

    file_id.links.visit(visit, info=True)
    return tuple(notes[:MAX_NOTES])


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value


def _dataset_notes(h5py: Any, dataset: Any, where: str) -> list[ContainerNote]:
    """Notes on one dataset, an h5py ``DatasetID``."""
    plist = dataset.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        sources = sorted(
            {plist.get_virtual_filename(i) for i in range(min(plist.get_virtual_count(), 8))}
        )
        return [ContainerNote("hdf5-virtual", where, f"virtual dataset reading from {sources!r}")]
    count = plist.get_external_count()
    if count:
        files = sorted({_text(plist.get_external(i)[0]) for i in range(min(count, 8))})
        return [
            ContainerNote(
                "hdf5-external-storage", where, f"data stored in external file(s) {files!r}"
            )
        ]
    shape = dataset.shape or ()
    declared = dataset.get_type().get_size()
    for extent in shape:
        declared *= extent
    stored = dataset.get_storage_size()
    if declared >= HUGE_DECLARED_BYTES and declared > DECLARED_RATIO * max(stored, 1):
        return [
            ContainerNote(
                "hdf5-declared-size",
                where,
                f"declares shape {tuple(shape)} ({declared} bytes) but stores {stored} bytes",
            )
        ]
    return []
