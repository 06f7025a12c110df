"""Harmless samples of every load-time technique the GC4xx rules (and GC302) find.

Each sample's payload would only write a marker file (through the module
:data:`hostile_fixtures.EVIL_MODULE`, whose ``trigger`` writes it) or name a path
that the test makes a FIFO: opening it for reading blocks, so a scanner that opens
anything a file names hangs and the test's timeout fails it. Used by
``tests/test_load_safety.py`` and ``benchmarks/security_compare.py``.
"""

from __future__ import annotations

import base64
import json
import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hostile_fixtures as hf

#: technique -> (rule it must fire, formats it applies to)
TECHNIQUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "lambda_bytecode": ("GC302", ("json", "h5", "keras")),
    "timedistributed_lambda": ("GC302", ("json", "h5", "keras")),
    "lambda_in_activation": ("GC401", ("json", "h5", "keras")),
    "lambda_in_compile_loss": ("GC401", ("keras",)),
    "module_function_layer": ("GC402", ("json", "h5", "keras")),
    "get_file_reference": ("GC403", ("json", "h5", "keras")),
    "unsafe_deserialization_reference": ("GC403", ("json", "h5", "keras")),
    "keras2_function_reference": ("GC403", ("json", "h5")),
    "spoofed_dense": ("GC404", ("json", "h5", "keras")),
    "tf_op_write_file": ("GC405", ("json", "h5")),
    "tf_op_py_function": ("GC405", ("json", "h5")),
    "vocabulary_path": ("GC406", ("json", "h5", "keras")),
    "tfsm_layer": ("GC407", ("json", "h5", "keras")),
    "layer_name_traversal": ("GC408", ("json", "h5", "keras")),
    "zip_traversal_member": ("GC409", ("keras",)),
    "zip_absurd_member": ("GC409", ("keras",)),
    "zip_deflate_bomb": ("GC409", ("keras",)),
    "hdf5_external_storage": ("GC410", ("h5", "keras")),
    "hdf5_external_link": ("GC410", ("h5", "keras")),
    "hdf5_virtual_dataset": ("GC410", ("h5", "keras")),
    "hdf5_declared_shape": ("GC411", ("h5", "keras")),
    "absurd_units": ("GC412", ("json", "h5", "keras")),
}


def secret_fifo(directory: Path, name: str = "secret") -> Path:
    """A FIFO standing for a host file: opening it for reading blocks forever."""
    path = directory / name
    if not path.exists():
        os.mkfifo(path)
    return path


def _function(module: str, name: str) -> dict:
    return {
        "module": module,
        "class_name": "function",
        "config": name,
        "registered_name": "function",
    }


def _k3_model(layer: dict) -> dict:
    return hf.k3_functional("top", [hf.k3_input(), layer], ["x"], [layer["name"]])


def _k3(name: str, class_name: str, config: dict | None = None, **entry: Any) -> dict:
    return hf.k3_layer(name, class_name, ["x"], config={"name": name, **(config or {})}, **entry)


def configs(secret: Path) -> dict[str, dict]:
    """The stored config of every config-level technique (Keras 3 layout)."""
    code = base64.b64encode(hf.trap_code()).decode()
    lam = {"class_name": "__lambda__", "config": {"code": code, "defaults": None, "closure": None}}
    lambda_layer = _k3("lam", "Lambda", {"function": lam, "arguments": {}})
    td = _k3(
        "td",
        "TimeDistributed",
        {
            "layer": {
                "module": "keras.layers",
                "class_name": "Lambda",
                "config": {"name": "inner", "function": lam, "arguments": {}},
                "registered_name": None,
            }
        },
    )
    found = {
        "lambda_bytecode": _k3_model(lambda_layer),
        "timedistributed_lambda": _k3_model(td),
        "lambda_in_activation": _k3_model(_k3("dense", "Dense", {"units": 4, "activation": lam})),
        "lambda_in_compile_loss": {
            **_k3_model(_k3("dense", "Dense", {"units": 4})),
            "compile_config": {"loss": lam, "optimizer": "adam"},
        },
        "module_function_layer": _k3_model(
            _k3("trigger", "trigger", {}, module=hf.EVIL_MODULE, registered_name=None)
        ),
        "get_file_reference": _k3_model(
            _k3(
                "lam",
                "Lambda",
                {
                    "function": _function("keras.utils", "get_file"),
                    "arguments": {"origin": f"file://{secret}", "fname": "x"},
                },
            )
        ),
        "unsafe_deserialization_reference": _k3_model(
            _k3(
                "lam",
                "Lambda",
                {
                    "function": _function("keras.config", "enable_unsafe_deserialization"),
                    "arguments": {},
                },
            )
        ),
        "keras2_function_reference": hf.k2_chain(1) | {},
        "spoofed_dense": _k3_model(
            _k3(
                "dense",
                "Dense",
                {"units": 4},
                module=hf.EVIL_MODULE,
                registered_name=f"{hf.EVIL_MODULE}>Dense",
            )
        ),
        "tf_op_write_file": _tf_op("io.write_file", secret),
        "tf_op_py_function": _tf_op("py_function", secret),
        "vocabulary_path": _k3_model(_k3("lookup", "StringLookup", {"vocabulary": str(secret)})),
        "tfsm_layer": _k3_model(
            _k3("tfsm", "TFSMLayer", {"filepath": str(secret), "call_endpoint": "serve"})
        ),
        "layer_name_traversal": _k3_model(
            _k3("../../../../tmp/graphcheck-escape", "StringLookup", {"vocabulary": ["a", "b"]})
        ),
        "absurd_units": _k3_model(_k3("dense", "Dense", {"units": 2**40})),
    }
    # A Keras 2 Lambda layer that refers to a named function: no bytecode stored.
    k2 = found["keras2_function_reference"]
    first = k2["config"]["layers"][1]
    first["class_name"] = "Lambda"
    first["config"].update(
        {
            "function": "system",
            "function_type": "function",
            "module": "os",
            "output_shape": None,
            "output_shape_type": "raw",
            "output_shape_module": None,
            "arguments": {"command": "true"},
        }
    )
    return found


def _tf_op(function: str, secret: Path) -> dict:
    """A tf.keras model with one TFOpLambda layer calling ``tf.<function>``."""
    model = hf.k2_chain(1)
    layer = model["config"]["layers"][1]
    layer["class_name"] = "TFOpLambda"
    layer["config"] = {
        "name": f"tf.{function}",
        "trainable": True,
        "dtype": "float32",
        "function": function,
    }
    layer["name"] = f"tf.{function}"
    layer["inbound_nodes"] = [[["x", 0, 0, {"filename": str(secret)}]]]
    model["config"]["output_layers"] = [[f"tf.{function}", 0, 0]]
    return model


# ---- container techniques ---------------------------------------------------------------


def _plain_config() -> dict:
    return _k3_model(_k3("dense", "Dense", {"units": 4}))


def _h5_payload(kind: str, secret: Path) -> Callable[[Any], None]:
    """A writer of one HDF5 oddity into an open h5py file (the weights' place)."""
    import h5py

    def write(handle: Any) -> None:
        group = handle.require_group("layers/dense/vars")
        if kind == "hdf5_external_storage":
            group.create_dataset("0", shape=(16,), dtype="u1", external=[(str(secret), 0, 16)])
        elif kind == "hdf5_external_link":
            group["0"] = h5py.ExternalLink(str(secret), "/data")
        elif kind == "hdf5_virtual_dataset":
            layout = h5py.VirtualLayout(shape=(16,), dtype="u1")
            layout[:] = h5py.VirtualSource(str(secret), "data", shape=(16,))
            group.create_virtual_dataset("0", layout)
        elif kind == "hdf5_declared_shape":
            group.create_dataset("0", shape=(2**20, 2**20), dtype="f4", chunks=(1, 1024))

    return write


def write_h5_payload(handle: Any, technique: str, secret: Path) -> None:
    """Write the HDF5 oddity of ``technique`` (``hdf5_...``) into an open h5py file."""
    _h5_payload(technique, secret)(handle)


def write_sample(technique: str, fmt: str, directory: Path, secret: Path) -> Path:
    """Write the sample of ``technique`` in format ``fmt`` (json, h5 or keras)."""
    import h5py

    path = directory / f"{technique}.{fmt}"
    if technique.startswith("hdf5_"):
        write = _h5_payload(technique, secret)
        if fmt == "h5":
            hf.write_h5_model(path, _plain_config())
            with h5py.File(path, "a") as handle:
                write(handle)
            return path
        weights = directory / f"{technique}.weights.h5"
        with h5py.File(weights, "w") as handle:
            write(handle)
        return hf.write_keras_zip(
            path, _plain_config(), extra=[("model.weights.h5", weights.read_bytes())]
        )
    if technique == "zip_traversal_member":
        return hf.write_keras_zip(
            path, _plain_config(), extra=[("../../graphcheck-escape.txt", b"x")]
        )
    if technique == "zip_deflate_bomb":
        # The shape Keras before 3.15.1 extracts in full: 2 GiB of zeros, ~2 MiB stored.
        hf.write_keras_zip(path, _plain_config())
        append_deflate_bomb(path, "assets/bomb.bin", 2 << 30, chunk=16 << 20)
        return path
    if technique == "zip_absurd_member":
        hf.write_keras_zip(path, _plain_config())
        _append_absurd_member(path)
        return path
    config = configs(secret)[technique]
    return hf.write_model(
        path,
        config,
        "2.21.0"
        if config.get("class_name") != "Functional" or "module" not in config
        else "3.15.1",
    )


def _append_absurd_member(path: Path) -> None:
    """Add a member whose central directory declares 2**40 bytes uncompressed."""
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("assets/bomb.bin", b"\0" * 1024)
    data = bytearray(path.read_bytes())
    # Patch the central-directory entry of the last member: uncompressed size at +24.
    entry = data.rfind(b"PK\x01\x02")
    data[entry + 24 : entry + 28] = (0xFFFFFFFE).to_bytes(4, "little")
    path.write_bytes(bytes(data))


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, matrix[n]) for n in range(32)]


def crc32_combine(first: int, second: int, length: int) -> int:
    """CRC-32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)`` (zlib's method)."""
    if length <= 0:
        return first
    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while True:
        even = _gf2_square(odd)
        if length & 1:
            first = _gf2_times(even, first)
        length >>= 1
        if not length:
            break
        odd = _gf2_square(even)
        if length & 1:
            first = _gf2_times(odd, first)
        length >>= 1
        if not length:
            break
    return first ^ second


def deflate_zeros(size: int, chunk: int = 1 << 20) -> tuple[bytes, int]:
    """A raw DEFLATE stream that really inflates to ``size`` zero bytes, and their CRC-32.

    One chunk is compressed and repeated: a full flush ends each copy on a byte
    boundary with an empty window, so copies concatenate into one valid stream
    without compressing ``size`` bytes (ratio 1,011:1 with 1 MiB chunks, 1,028:1
    with 16 MiB ones; DEFLATE's limit is about 1,032:1).
    """
    chunk = max(1, min(chunk, size))
    count, rest = divmod(size, chunk)
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = block.compress(bytes(chunk)) + block.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    end = (tail.compress(bytes(rest)) if rest else b"") + tail.flush()
    # CRC of `count` copies by doubling: log2(count) combines, not count.
    crc, run_crc, run_length, copies = 0, zlib.crc32(bytes(chunk)), chunk, count
    while copies:
        if copies & 1:
            crc = crc32_combine(crc, run_crc, run_length)
        run_crc, run_length = crc32_combine(run_crc, run_crc, run_length), run_length * 2
        copies >>= 1
    crc = crc32_combine(crc, zlib.crc32(bytes(rest)), rest)
    return piece * count + end, crc


def append_deflate_bomb(path: Path, name: str, size: int, chunk: int = 1 << 20) -> None:
    """Append member ``name``: a real DEFLATE stream of ``size`` zeros, honestly declared.

    Written stored, then its local header and central-directory entry are patched to
    say what it is (method 8, the CRC and size of the inflated bytes), as a zip tool
    would have written it. ``size`` stays below 4 GiB (no ZIP64 fields).
    """
    if size >= 1 << 32:
        raise ValueError("size must stay below 4 GiB")
    stream, crc = deflate_zeros(size, chunk)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr(name, stream)
        offset = archive.getinfo(name).header_offset
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    for at, version, method, crc_at, size_at in (
        (offset, 4, 8, 14, 22),
        (central, 6, 10, 16, 24),
    ):
        data[at + version : at + version + 2] = (20).to_bytes(2, "little")
        data[at + method : at + method + 2] = (zipfile.ZIP_DEFLATED).to_bytes(2, "little")
        data[at + crc_at : at + crc_at + 4] = crc.to_bytes(4, "little")
        data[at + size_at : at + size_at + 4] = size.to_bytes(4, "little")
    path.write_bytes(bytes(data))


#: technique -> rule it must fire, on a subclassed model whose config stores no layer
#: graph (the file is unreadable for the analysis, exit 3, but still scanned).
GRAPHLESS: dict[str, str] = {
    "clean": "",
    "lambda_in_activation": "GC401",
    "lambda_layer": "GC401",
    "get_file_reference": "GC403",
}


def graphless_config(technique: str, secret: Path) -> dict:
    """A subclassed model's config as Keras 3 writes it (``get_config`` holding a
    nested layer), carrying one technique in that layer."""
    code = base64.b64encode(hf.trap_code()).decode()
    lam = {"class_name": "__lambda__", "config": {"code": code, "defaults": None, "closure": None}}
    head = {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
            "config": {"name": "head", "units": 4, "activation": "relu"}}
    if technique == "lambda_in_activation":
        head["config"]["activation"] = lam
    elif technique == "lambda_layer":
        head = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                "config": {"name": "head", "function": lam, "arguments": {}}}
    elif technique == "get_file_reference":
        head["config"]["activation"] = _function("keras.utils", "get_file")
        head["config"]["origin"] = f"file://{secret}"
    return {
        "module": "tower_package",
        "class_name": "Tower",
        "registered_name": "tower_package>Tower",
        "config": {"name": "tower", "trainable": True, "units": 4, "head": head},
    }


def graphless_samples(directory: Path, secret: Path) -> dict[str, Path]:
    """Every graphless sample in every format, keyed ``technique.fmt``."""
    return {
        f"{t}.{fmt}": hf.write_model(
            directory / f"graphless_{t}.{fmt}", graphless_config(t, secret), "3.15.1"
        )
        for t in GRAPHLESS
        for fmt in ("json", "h5", "keras")
    }


def all_samples(directory: Path, secret: Path) -> dict[str, Path]:
    """Every (technique, format) sample, keyed ``technique.fmt``."""
    return {
        f"{t}.{fmt}": write_sample(t, fmt, directory, secret)
        for t, (_, formats) in TECHNIQUES.items()
        for fmt in formats
    }


def dump(config: Any) -> str:
    return json.dumps(config)
