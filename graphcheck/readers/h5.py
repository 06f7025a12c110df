"""HDF5 files written by Keras 1, 2 and 3: the ``model_config`` root attribute.

Only root attributes are read; the weight datasets are never touched, so memory does
not grow with the size of the weights.

libhdf5 is native code, and fuzzing found damaged files on which it never returns
from reading an attribute. Where the platform can fork, the attributes are read in
a child process with a deadline, so a hang or a crash in the library becomes one
ModelReadError instead of a stuck pipeline.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from typing import Any

from graphcheck.errors import MissingDependencyError, ModelReadError
from graphcheck.readers.source import (
    MAX_CONFIG_BYTES,
    ConfigSource,
    decode_json,
    first_line,
    version_string,
)

__all__ = ["read_h5_config"]


# Reading a real model's attributes takes milliseconds (a 64 MiB config well under a second).
READ_DEADLINE_S = 10.0


def read_h5_config(subject: str) -> ConfigSource:
    """Read the model config and version attributes of a Keras HDF5 file."""
    try:
        import h5py  # imported here, before any fork, so a child does not import it again
    except ImportError:  # pragma: no cover - h5py is a declared dependency
        raise MissingDependencyError(subject, "reading .h5 needs h5py (pip install h5py)") from None
    if hasattr(os, "fork"):
        raw, keras_version, backend = _read_in_child(h5py, subject)
    else:  # pragma: no cover - no fork on this platform: read in process
        raw, keras_version, backend = _read_attributes(h5py, subject)
    config = decode_json(raw, subject, "model_config")
    if not isinstance(config, dict):
        raise ModelReadError(subject, "model_config is not a JSON object")
    return ConfigSource(subject, "h5", config, keras_version, backend)


def _read_attributes(h5py: Any, subject: str) -> tuple[str | bytes, str | None, str | None]:
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
        raise ModelReadError(subject, f"damaged HDF5 file ({first_line(exc)})") from None
    return raw, keras_version, backend


def _read_in_child(h5py: Any, subject: str) -> tuple[str | bytes, str | None, str | None]:
    """Run :func:`_read_attributes` in a forked child; wait at most READ_DEADLINE_S.

    The child sends ``(True, (config, version, backend))`` or ``(False, problem)``.
    """
    # fork, not spawn: the child needs h5py, already imported here, and nothing else.
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_reads, args=(sender, h5py, subject), daemon=True)
    child.start()
    sender.close()  # the parent's copy: once the child exits, recv() sees the end
    try:
        if not receiver.poll(READ_DEADLINE_S):
            raise ModelReadError(
                subject,
                f"the HDF5 library did not finish reading the file in {READ_DEADLINE_S:g} s "
                "(damaged file?)",
            )
        try:
            ok, payload = receiver.recv()
        except EOFError:  # the child died before it sent anything
            raise ModelReadError(
                subject, "the HDF5 library crashed reading the file (damaged file?)"
            ) from None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    if not ok:
        raise ModelReadError(subject, payload)
    raw, version, backend = payload
    # The config stays bytes: decode_json says so in one line if it is not UTF-8.
    return raw or b"", version_string(version), version_string(backend)


def _child_reads(sender: Connection, h5py: Any, subject: str) -> None:
    """The child's side of :func:`_read_in_child`: read, send, and leave."""
    # If the parent dies first (killed, Ctrl-C), nobody stops a hung read: the
    # kernel's default SIGALRM action ends the child even inside libhdf5.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(int(READ_DEADLINE_S) + 5)
    try:
        raw, version, backend = _read_attributes(h5py, subject)
        message: tuple[bool, Any] = (True, (raw, version, backend))
    except ModelReadError as exc:
        message = (False, exc.problem)
    except BaseException as exc:  # anything else is a damaged file
        message = (False, f"damaged HDF5 file ({first_line(exc)})")
    sender.send(message)
    sender.close()


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
        return attrs.get(name)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
