"""What every container reader hands on: the config dict and the file's provenance."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphcheck.errors import ModelReadError

__all__ = ["MAX_CONFIG_BYTES", "ConfigSource", "decode_json"]

# Real configs are at most a few MB (EfficientNetB7: ~1.6 MB). The cap keeps a
# hostile file from making graphcheck decode gigabytes.
MAX_CONFIG_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """A decoded model config with the file's own statements about its origin."""

    subject: str
    format: str
    config: Mapping[str, Any]
    keras_version: str | None
    backend: str | None


def decode_json(raw: bytes | str, subject: str, what: str) -> Any:
    """Decode JSON text, turning every failure into one clear ModelReadError."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ModelReadError(subject, f"{what} is not UTF-8 text") from None
    try:
        return json.loads(raw)
    except RecursionError:
        raise ModelReadError(subject, f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise ModelReadError(subject, f"{what} is not valid JSON ({exc.msg} at {exc.pos})") from None


def version_string(value: Any) -> str | None:
    """A recorded version as text (h5py may hand back bytes); None if absent."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) and value else None
