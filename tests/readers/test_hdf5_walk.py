"""The HDF5 metadata walk of the load-safety check: every link once, every object once,
cycles and shared objects included, soft and external links named and never followed."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from graphcheck.readers import containers
from graphcheck.readers.containers import hdf5_notes


def _notes(path: Path, prefix: str = "") -> list[tuple[str, str]]:
    with h5py.File(path, "r") as handle:
        return [(n.kind, n.where) for n in hdf5_notes(h5py, handle, prefix)]


def test_links_are_named_where_they_are(tmp_path: Path) -> None:
    """A soft and an external link deep in the tree are reported at their own paths."""
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        group = f.create_group("layers/dense/vars")
        group["0"] = np.zeros(3)
        group["1"] = h5py.SoftLink("/layers/dense/vars/0")
        f["top"] = h5py.ExternalLink("/etc/passwd", "/x")
    assert sorted(_notes(path, "model.weights.h5:")) == [
        ("hdf5-external-link", "model.weights.h5:/top"),
        ("hdf5-soft-link", "model.weights.h5:/layers/dense/vars/1"),
    ]


def test_a_hard_link_cycle_ends(tmp_path: Path) -> None:
    """A group hard-linked inside itself is entered once; the walk ends and still sees
    what lies below it."""
    path = tmp_path / "cycle.h5"
    with h5py.File(path, "w") as f:
        inner = f.create_group("a/b")
        inner["loop"] = f["a"]  # a hard link back up the tree
        inner["soft"] = h5py.SoftLink("/nowhere")
    assert _notes(path) == [("hdf5-soft-link", "/a/b/soft")]


def test_a_dataset_reached_twice_is_checked_once(tmp_path: Path, monkeypatch) -> None:
    """Two hard links to one dataset: one object, looked at once."""
    path = tmp_path / "shared.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(2)
        f["y"] = f["x"]
    looked: list[str] = []
    real = containers._dataset_notes
    monkeypatch.setattr(containers, "_dataset_notes",
                        lambda h, d, where: looked.append(where) or real(h, d, where))
    _notes(path)
    assert looked == ["/x"]


def test_too_many_objects_stop_the_walk(tmp_path: Path, monkeypatch) -> None:
    """Past MAX_HDF5_OBJECTS links the walk stops and says it did not check them all."""
    path = tmp_path / "many.h5"
    with h5py.File(path, "w") as f:
        for i in range(30):
            f.create_group(f"g{i:02d}")
    monkeypatch.setattr(containers, "MAX_HDF5_OBJECTS", 10)
    assert _notes(path) == [("hdf5-objects", "/")]


@pytest.mark.parametrize("shape", [(1 << 20, 1 << 12), (1 << 31,)])
def test_declared_size_far_above_the_stored_bytes(tmp_path: Path, shape: tuple[int, ...]) -> None:
    """A chunked dataset declaring gigabytes it never stored is named; its size is read
    from the dataset's type and space, not from its data."""
    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("huge", shape=shape, dtype="f4", chunks=True)
        f["small"] = np.zeros(4, "f4")
    assert _notes(path) == [("hdf5-declared-size", "/huge")]
