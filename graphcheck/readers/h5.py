"""HDF5 files written by Keras 1, 2 and 3: the ``model_config`` root attribute.

Only root attributes are read; the weight datasets are never touched, so memory does
not grow with the size of the weights.
"""

from __future__ import annotations

from typing import Any

from graphcheck.errors import MissingDependencyError, ModelReadError
from graphcheck.readers.source import MAX_CONFIG_BYTES, ConfigSource, decode_json, version_string

__all__ = ["read_h5_config"]


def read_h5_config(subject: str) -> ConfigSource:
    """Read the model config and version attributes of a Keras HDF5 file."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a declared dependency
        raise MissingDependencyError(subject, "reading .h5 needs h5py (pip install h5py)") from None
    try:
        with h5py.File(subject, "r") as handle:
            attrs = handle.attrs
            if "model_config" not in attrs:
                if "layer_names" in attrs or "layers" in handle or "model_weights" in handle:
                    problem = 'no "model_config" attribute (weights-only file?)'
                else:
                    problem = 'no "model_config" attribute (not a Keras model file?)'
                raise ModelReadError(subject, problem)
            raw = _read_text_attribute(attrs, "model_config", subject)
            keras_version = version_string(_safe_attr(attrs, "keras_version"))
            backend = version_string(_safe_attr(attrs, "backend"))
    except ModelReadError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise ModelReadError(subject, f"damaged HDF5 file ({_first_line(exc)})") from None
    config = decode_json(raw, subject, "model_config")
    if not isinstance(config, dict):
        raise ModelReadError(subject, "model_config is not a JSON object")
    return ConfigSource(subject, "h5", config, keras_version, backend)


def _read_text_attribute(attrs: Any, name: str, subject: str) -> str | bytes:
    attr_id = attrs.get_id(name)
    if attr_id.get_storage_size() > MAX_CONFIG_BYTES:
        raise ModelReadError(subject, f"{name} attribute is larger than {MAX_CONFIG_BYTES} bytes")
    value = attrs[name]
    if hasattr(value, "tobytes") and not isinstance(value, (bytes, str)):
        value = value.tobytes() if value.dtype.kind == "S" else str(value)
    if not isinstance(value, (str, bytes)):
        raise ModelReadError(subject, f"{name} attribute is not text")
    if len(value) > MAX_CONFIG_BYTES:
        raise ModelReadError(subject, f"{name} attribute is larger than {MAX_CONFIG_BYTES} bytes")
    return value


def _safe_attr(attrs: Any, name: str) -> Any:
    try:
        return attrs[name] if name in attrs else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__
