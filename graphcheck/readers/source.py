"""What every container reader hands on: the config dict and the file's provenance."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from graphcheck.errors import ModelReadError
from graphcheck.model import ContainerNote

__all__ = [
    "JSON_SCALARS", "MAX_CONFIG_BYTES", "ConfigSource", "decode_json", "first_line",
    "is_mapping",
]

# Real configs are about 1 MiB at most (measured with Keras 3.15 to_json():
# NASNetLarge 0.99 MiB, EfficientNetV2L 0.92, EfficientNetB7 0.72, ConvNeXtXLarge
# 0.24). A 100,000-layer Functional chain is 31 MiB and peaks at ~0.55 GiB RSS
# through analysis, so 64 MiB keeps a hostile file (a zip bomb, a huge attribute)
# near 1 GiB while leaving 60x headroom over the largest real model.
MAX_CONFIG_BYTES = 64 * 1024 * 1024


#: The types json.loads makes for a value that holds nothing else.
JSON_SCALARS = frozenset((str, int, float, bool, type(None)))


def is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, fast for the plain dicts json.loads makes (the
    parser and the rules ask it of every stored object)."""
    return type(value) is dict or isinstance(value, Mapping)


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """A decoded model config with the file's own statements about its origin."""

    subject: str
    format: str
    config: Mapping[str, Any]
    keras_version: str | None
    backend: str | None
    # Other stored documents a loader reads (HDF5 ``training_config``), decoded.
    documents: Mapping[str, Any] = field(default_factory=dict)
    container: tuple[ContainerNote, ...] = ()
    # What else the container says about its origin (a KerasHub preset's
    # ``keras_hub_version``); carried to ``SavedModelDesc.extra``.
    extra: Mapping[str, Any] = field(default_factory=dict)


def decode_json(raw: bytes | str, subject: str, what: str) -> Any:
    """Decode JSON text, turning every failure into one clear ModelReadError."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ModelReadError(subject, f"{what} is not UTF-8 text") from None
    elif _has_surrogates(raw):
        # h5py decodes invalid UTF-8 with surrogateescape; such text cannot be printed.
        raise ModelReadError(subject, f"{what} is not UTF-8 text")
    try:
        document = json.loads(raw)
    except RecursionError:
        raise ModelReadError(subject, f"{what} is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ModelReadError(
            subject, f"{what} is not valid JSON ({exc.msg} at {exc.pos})"
        ) from None
    except ValueError as exc:
        # Not a JSONDecodeError: an integer literal past Python's 4300-digit limit.
        problem = str(exc).split(":", 1)[0]
        raise ModelReadError(subject, f"{what} is not usable JSON ({problem})") from None
    # A "\ud800" escape decodes to a lone surrogate, which no report can print;
    # look for one only when the text has surrogate escapes at all (emoji are pairs).
    if ("\\ud" in raw or "\\uD" in raw) and _holds_lone_surrogate(document):
        raise ModelReadError(subject, f"{what} holds a lone UTF-16 surrogate escape")
    return document


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _holds_lone_surrogate(document: Any) -> bool:
    """True if any key or string anywhere in a decoded document is not encodable."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _has_surrogates(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def version_string(value: Any) -> str | None:
    """A recorded version as text (h5py may hand back bytes); None if absent."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and _has_surrogates(value):  # h5py's surrogateescape
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value if isinstance(value, str) and value else None


def first_line(exc: BaseException) -> str:
    """An exception's first line, shortened, for a one-line "damaged file (...)" error."""
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__
