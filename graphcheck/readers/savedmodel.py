"""SavedModel directories written by tf.keras / tf_keras: ``keras_metadata.pb``.

The file is a ``SavedMetadata`` protobuf: ``repeated SavedObject nodes = 1`` with
``node_id = 2``, ``node_path = 3``, ``identifier = 4`` and ``metadata = 5`` (a JSON
string). The root object (``node_path == "root"``) carries the whole model config.
The few fields needed are decoded here by hand, so neither TensorFlow nor protobuf
is imported and ``saved_model.pb`` (the traced functions) is never read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from graphcheck.errors import ModelReadError
from graphcheck.readers.source import MAX_CONFIG_BYTES, ConfigSource, decode_json, version_string

__all__ = ["iter_saved_objects", "read_savedmodel_config"]

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


def read_savedmodel_config(directory: Path, subject: str) -> ConfigSource:
    """Read the model config stored in a SavedModel's ``keras_metadata.pb``."""
    target = directory / "keras_metadata.pb"
    try:  # unreadable, or replaced between the caller's check and here
        if target.stat().st_size > MAX_CONFIG_BYTES:
            raise ModelReadError(
                subject, f"keras_metadata.pb is larger than {MAX_CONFIG_BYTES} bytes"
            )
        data = target.read_bytes()
    except OSError as exc:
        raise ModelReadError(
            subject, f"keras_metadata.pb cannot be read ({exc.strerror})"
        ) from None
    root = None
    try:
        for node_path, _identifier, metadata in iter_saved_objects(data):
            if node_path == "root":
                root = metadata
                break
    except ValueError as exc:
        raise ModelReadError(subject, f"damaged keras_metadata.pb ({exc})") from None
    if root is None:
        raise ModelReadError(subject, "keras_metadata.pb has no root model object")
    metadata = decode_json(root, subject, "keras_metadata.pb root metadata")
    if not isinstance(metadata, dict):
        raise ModelReadError(subject, "keras_metadata.pb root metadata is not a JSON object")
    if "config" not in metadata or "class_name" not in metadata:
        raise ModelReadError(subject, "keras_metadata.pb root metadata has no model config")
    config = {"class_name": metadata["class_name"], "config": metadata["config"]}
    return ConfigSource(
        subject,
        "savedmodel",
        config,
        version_string(metadata.get("keras_version")),
        version_string(metadata.get("backend")),
    )


def iter_saved_objects(data: bytes) -> Iterator[tuple[str, str, bytes]]:
    """Yield ``(node_path, identifier, metadata)`` for each stored object."""
    for field, value in _fields(data):
        if field != 1 or not isinstance(value, bytes):
            continue
        node_path = identifier = ""
        metadata = b""
        for inner_field, inner in _fields(value):
            if not isinstance(inner, bytes):
                continue
            if inner_field == 3:
                node_path = inner.decode("utf-8", "replace")
            elif inner_field == 4:
                identifier = inner.decode("utf-8", "replace")
            elif inner_field == 5:
                metadata = inner
        yield node_path, identifier, metadata


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Decode one level of protobuf wire format into ``(field_number, value)``."""
    position, end = 0, len(data)
    while position < end:
        key, position = _varint(data, position)
        field, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, position = _varint(data, position)
            yield field, value
        elif wire_type == _LENGTH:
            length, position = _varint(data, position)
            if position + length > end:
                raise ValueError("field runs past the end of the data")
            yield field, data[position : position + length]
            position += length
        elif wire_type == _FIXED64:
            position += 8
        elif wire_type == _FIXED32:
            position += 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
        if position > end:
            raise ValueError("truncated field")


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
