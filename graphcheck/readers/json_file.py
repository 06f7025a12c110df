"""Architecture-only JSON (``model.to_json()``) and TF.js layers ``model.json``."""

from __future__ import annotations

from typing import Any

from graphcheck.errors import ModelReadError
from graphcheck.readers.source import MAX_CONFIG_BYTES, ConfigSource, decode_json, version_string

__all__ = ["read_json_config"]


def read_json_config(subject: str, size: int) -> ConfigSource:
    """Read a model config from a JSON file, in either layout."""
    if size > MAX_CONFIG_BYTES:
        raise ModelReadError(subject, f"JSON file is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        with open(subject, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ModelReadError(subject, f"cannot be read ({exc.strerror})") from None
    document = decode_json(raw, subject, "JSON file")
    if not isinstance(document, dict):
        raise ModelReadError(subject, "JSON is not an object (not a Keras model config)")
    if "modelTopology" in document:
        return _tfjs(document, subject)
    if "class_name" not in document:
        raise ModelReadError(subject, 'JSON has no "class_name" (not a Keras model config)')
    return ConfigSource(
        subject,
        "json",
        document,
        version_string(document.get("keras_version")),
        version_string(document.get("backend")),
    )


def _tfjs(document: dict[str, Any], subject: str) -> ConfigSource:
    topology = document["modelTopology"]
    if not isinstance(topology, dict):
        raise ModelReadError(subject, "modelTopology is not an object")
    # The TF.js converter wraps the Keras config as {"model_config": ..., "keras_version": ...}.
    config = topology.get("model_config", topology)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelReadError(subject, "modelTopology holds no Keras model config (graph model?)")
    version = topology.get("keras_version") or config.get("keras_version")
    backend = topology.get("backend") or config.get("backend")
    return ConfigSource(subject, "tfjs", config, version_string(version), version_string(backend))
