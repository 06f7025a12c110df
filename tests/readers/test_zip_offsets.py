"""A .keras zip whose stored weights start where an HDF5 user block would end.

Keras 3.3 writes ``.keras`` members uncompressed (``ZIP_STORED``), so the bytes of
``model.weights.h5`` (an HDF5 file, superblock first) can begin at byte 512, 1024
or 2048 of the zip, exactly where an HDF5 file with a user block keeps its
superblock. These archives are built from the members of a model saved by real
Keras 3 (samples/inverted_dropout.keras), with the weights member placed at each
offset, and must read as the .keras archive they are; Keras itself loads them.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
from helpers import SAMPLES

import graphcheck
from graphcheck.readers import HDF5_MAGIC, read_model

SOURCE = SAMPLES / "inverted_dropout.keras"
WEIGHTS = "model.weights.h5"
# Keras 3.3's member order: metadata, config, weights.
MEMBERS = ("metadata.json", "config.json", WEIGHTS)
_LOCAL_HEADER = 30  # bytes before a member's name in its local header
_PADDING_ID = 0x6770  # an extra-field block id no zip tool assigns a meaning to


def stored_zip(path: Path, weights_at: int) -> Path:
    """Write SOURCE's members uncompressed, the weights' data starting at ``weights_at``.

    Keras's member order when the other members fit before the offset; else the
    weights first (a real model's config.json is larger than 512 bytes).
    """
    with zipfile.ZipFile(SOURCE) as source:
        data = {name: source.read(name) for name in MEMBERS}
    order = MEMBERS
    before = sum(_LOCAL_HEADER + len(name) + len(data[name]) for name in MEMBERS[:-1])
    if before + _LOCAL_HEADER + len(WEIGHTS) + 4 > weights_at:
        order, before = (WEIGHTS, *MEMBERS[:-1]), 0
    pad = weights_at - before - _LOCAL_HEADER - len(WEIGHTS)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=(2024, 4, 1, 0, 0, 0))
            if name == WEIGHTS:  # a well-formed extra block moves the data to the offset
                info.extra = struct.pack("<HH", _PADDING_ID, pad - 4) + b"\0" * (pad - 4)
            archive.writestr(info, data[name])
    return path


@pytest.mark.parametrize("offset", [512, 1024, 2048])
def test_weights_at_a_user_block_offset_read_as_keras_zip(offset: int, tmp_path: Path) -> None:
    """The HDF5 signature sits at ``offset``, yet the file is read as a .keras zip."""
    path = stored_zip(tmp_path / f"at_{offset}.keras", offset)
    assert path.read_bytes()[offset : offset + 8] == HDF5_MAGIC  # the case is real
    saved = read_model(path)
    reference = read_model(SOURCE)
    assert (saved.format, saved.keras_version, saved.dialect) == ("keras", "3.15.1", "keras3")
    ours = graphcheck.analyse(path, keras_version="3.15.1")
    theirs = graphcheck.analyse(SOURCE, keras_version="3.15.1")
    assert ours["stochastic"] == theirs["stochastic"]
    assert saved.model == reference.model


def test_zip_end_record_found_without_local_header_first(tmp_path: Path) -> None:
    """Bytes before the first member (a self-extracting stub): a zip still, by its end record."""
    inner = stored_zip(tmp_path / "inner.keras", 1024)
    path = tmp_path / "prefixed.keras"
    # zipfile tolerates a prefix: offsets are read relative to the central directory.
    path.write_bytes(b"\0" * 512 + inner.read_bytes())
    assert read_model(path).format == "keras"


def test_hdf5_user_block_file_stays_hdf5(tmp_path: Path) -> None:
    """A real HDF5 file with a 512-byte user block is still read as HDF5."""
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "userblock.h5"
    with zipfile.ZipFile(SOURCE) as source:
        config = source.read("config.json").decode()
    with h5py.File(path, "w", userblock_size=512) as handle:
        handle.attrs["model_config"] = config
        handle.attrs["keras_version"] = "3.15.1"
    assert read_model(path).format == "h5"


@pytest.mark.keras
@pytest.mark.parametrize("offset", [512, 1024, 2048])
def test_keras_loads_the_archive(offset: int, tmp_path: Path) -> None:
    """The archives are valid .keras files: Keras 3 loads them and their weights."""
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    path = stored_zip(tmp_path / f"at_{offset}.keras", offset)
    loaded = keras.models.load_model(path, compile=False)
    reference = keras.models.load_model(SOURCE, compile=False)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in reference.layers]
    for mine, theirs in zip(loaded.get_weights(), reference.get_weights(), strict=True):
        assert (mine == theirs).all()
