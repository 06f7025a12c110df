"""Load a saved model with the Keras that will run it: safely, read-only, on a chosen device.

Which Keras loads the file follows :func:`graphcheck.profile_choice.choose_profile`, the
rule the static report uses: tf_keras for files saved by Keras 1/2 (or with
``TF_USE_LEGACY_KERAS`` set) when it is installed, else Keras 3.  When that Keras
cannot load the file, the other installed one is tried; the caller then computes
the static prediction for the Keras that actually loaded it.

The model file is never opened for writing: it is copied into a temporary
directory and loaded from the copy.  Keras and TensorFlow are imported inside
functions only, after ``KERAS_BACKEND`` has been set.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphcheck.distribution import install_command
from graphcheck.errors import (
    GraphcheckError,
    MissingDependencyError,
    ValidationError,
    ValidationUsageError,
)
from graphcheck.hub_handles import fetch_preset, is_handle
from graphcheck.keras_versions import BACKENDS
from graphcheck.model import SavedModelDesc
from graphcheck.profile_choice import choose_profile, installed_kerases

__all__ = [
    "BACKENDS",
    "DEVICES",
    "RunningKeras",
    "device_scope",
    "installed_backends",
    "load_custom_objects",
    "load_keras_model",
    "loader_candidates",
    "preload_tensorflow",
    "prepare_backend",
]

DEVICES: tuple[str, ...] = ("auto", "gpu", "cpu")


@dataclass(frozen=True, slots=True)
class RunningKeras:
    """The Keras package that loaded the model: ``keras`` or ``tf_keras``."""

    package: str
    version: str
    backend: str
    module: Any


#: What to install for each backend (the ``runtime`` extra installs TensorFlow, Keras and tf_keras).
_INSTALL_HINTS = {
    "keras": "pip install keras",
    "tensorflow": "",  # the runtime extra: install_command() says how, from here
    "jax": "pip install 'jax[cpu]', or jax[cuda12] for a GPU",
    "torch": "pip install torch",
}


def installed_backends() -> list[str]:
    """Return the Keras 3 backends whose package is importable here (found, not imported)."""
    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


def environment_backend() -> str:
    """The Keras 3 backend when no ``--backend`` is given: Keras's own ``KERAS_BACKEND``
    when it names one the validator runs on, else ``tensorflow``.

    tf_keras ignores the variable (it always runs on TensorFlow), so callers keep it
    as a loader whatever this returns.
    """
    wanted = os.environ.get("KERAS_BACKEND", "").strip().lower()
    return wanted if wanted in BACKENDS else "tensorflow"


def prepare_backend(
    backend: str, device: str = "auto", *, source: str | None = None, keras3: bool = True
) -> None:
    """Set ``KERAS_BACKEND`` before Keras is imported; check the backend is installed.

    Also steers the backend's own device choice where only an environment variable
    read at import time can (``--device cpu``): ``KERAS_TORCH_DEVICE=cpu`` for torch,
    ``JAX_PLATFORMS=cpu`` for JAX (which would otherwise claim most of a GPU's memory
    on its first call).  Nothing is changed once Keras is imported.

    Raises
    ------
    ValidationUsageError
        An unknown backend or device name.
    MissingDependencyError
        Keras or the backend's package is not installed, or Keras was already
        imported in this process with another backend (only when `keras3`: a tf_keras
        load does not use Keras 3's backend).  Messages name `source`, where the
        backend came from (default ``--backend NAME``).
    """
    source = source or f"--backend {backend}"
    if backend not in BACKENDS:
        expected = ", ".join(BACKENDS)
        raise ValidationUsageError(
            "--backend", f"unknown backend {backend!r} (expected one of {expected})"
        )
    _check_device_name(device)
    for package in dict.fromkeys(("keras", backend)):
        if importlib.util.find_spec(package) is None:
            others = [b for b in installed_backends() if b != backend]
            alternative = "".join(
                f"{'; installed: ' if i == 0 else ', '}--backend {b}" for i, b in enumerate(others)
            )
            raise MissingDependencyError(
                source,
                f"the {package!r} package is not installed "
                f"({_INSTALL_HINTS[package] or install_command('runtime')})"
                f"{alternative}",
            )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not keras3:
        return
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if current != backend:
            raise MissingDependencyError(
                source,
                f"Keras is already imported with the {current} backend in this process",
            )
        return
    os.environ["KERAS_BACKEND"] = backend
    if backend == "torch" and device == "cpu":
        os.environ["KERAS_TORCH_DEVICE"] = "cpu"
    if backend == "jax" and "jax" not in sys.modules:
        if device == "cpu":
            os.environ["JAX_PLATFORMS"] = "cpu"
        # A validation run is small: do not reserve 75 % of the GPU's memory up front.
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def _check_device_name(device: str) -> None:
    if device not in DEVICES:
        expected = ", ".join(DEVICES)
        raise ValidationUsageError(
            "--device", f"unknown device {device!r} (expected one of {expected})"
        )


def loader_candidates(
    saved: SavedModelDesc, backend: str, installed: Mapping[str, str] | None = None
) -> list[str]:
    """Return the Keras packages to try, in order, for loading `saved`.

    The first is the one :func:`choose_profile` says will run the model; the
    other installed one follows as a fallback.  tf_keras runs only on TensorFlow;
    Keras 3 cannot load a SavedModel directory.
    """
    installed = installed_kerases() if installed is None else installed
    choice = choose_profile(saved.keras_version, None, installed)
    chosen_tf_keras = (
        "tf_keras" in installed
        and choice.keras_version == installed["tf_keras"]
        and choice.keras_version != installed.get("keras")
    )
    order = ["tf_keras", "keras"] if chosen_tf_keras else ["keras", "tf_keras"]
    if saved.format == "savedmodel":
        order = ["tf_keras"]
    if backend != "tensorflow":
        order = [p for p in order if p != "tf_keras"]
    return [p for p in order if p in installed]


def load_custom_objects(path: str) -> dict[str, Any]:
    """Execute a Python file and return the classes and functions it defines, by name.

    Only called with ``--trust-model``: the file is arbitrary code.
    """
    try:
        namespace = runpy.run_path(path, run_name="<graphcheck-custom-objects>")
    except Exception as exc:
        raise ValidationError(path, f"--custom-objects file raised {_one_line(exc)}") from None
    return {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_")
        and callable(value)
        and getattr(value, "__module__", None) == "<graphcheck-custom-objects>"
    }


def _clear_session(module: Any) -> None:
    """Reset Keras's global state (layer-name counters, graphs) before loading.

    Keras 3's ``clear_session`` also runs a full garbage collection by default,
    which is most of the load phase for a small model (0.18 of 0.25 s) and frees
    nothing the next model needs; tf_keras's never collects.
    """
    try:
        module.backend.clear_session(free_memory=False)
    except TypeError:  # tf_keras, and Keras 3 before free_memory existed
        module.backend.clear_session()


def load_keras_model(
    saved: SavedModelDesc,
    package: str,
    *,
    trust: bool,
    custom_objects: Mapping[str, Any],
    seed: int,
) -> tuple[Any, RunningKeras]:
    """Load `saved` with `package` from a temporary copy of the file.

    Keras 3 loads with ``safe_mode=True`` unless `trust` is set.  Architecture JSON
    files give a model with freshly initialised weights (seeded).

    Raises
    ------
    ValidationError
        The package cannot load the file (the message names the Keras error).
    """
    module = _import(package)
    _clear_session(module)
    module.utils.set_random_seed(seed)
    source = Path(saved.path)
    if is_handle(saved.path):  # a hub preset runs with its weights, fetched into the hub cache
        source = Path(fetch_preset(saved.path, weights=True).directory)
    with tempfile.TemporaryDirectory(prefix="graphcheck-validate-") as directory:
        copy = Path(directory) / (source.name or "model")
        if source.is_dir():
            shutil.copytree(source, copy)
        else:
            shutil.copyfile(source, copy)
        try:
            model = _load(module, package, saved.format, copy, trust, dict(custom_objects))
        except GraphcheckError:
            raise
        except Exception as exc:
            raise ValidationError(
                saved.path, f"{package} {module.__version__} cannot load it: {_one_line(exc)}"
            ) from None
    backend = module.backend.backend() if package == "keras" else "tensorflow"
    return model, RunningKeras(package, module.__version__, backend, module)


def _load(
    module: Any, package: str, fmt: str, path: Path, trust: bool, custom: dict[str, Any]
) -> Any:
    if fmt == "tfjs":
        raise ValidationError(str(path.name), "a TF.js model.json cannot be run by Keras")
    if fmt == "preset":
        from graphcheck.runtime.preset_loading import load_preset

        return load_preset(path, trust)
    if fmt == "json":
        if trust and package == "keras":
            module.config.enable_unsafe_deserialization()
        text = path.read_text(encoding="utf-8")
        return module.models.model_from_json(text, custom_objects=custom)
    # Both packages take safe_mode (tf_keras honours it for .keras archives only; a
    # Lambda in an .h5 is refused statically before any loader runs).
    return module.models.load_model(path, custom_objects=custom, compile=False, safe_mode=not trust)


def _import(package: str) -> Any:
    if package == "tf_keras":
        import tf_keras

        return tf_keras
    import keras

    return keras


def device_scope(device: str, backend: str) -> tuple[AbstractContextManager[Any], str]:
    """Return a context that places computation on `device`, and the device's name.

    The name is the device the backend really uses inside the context (for torch,
    where a tensor Keras creates there lives), so ``auto`` reports what was chosen.

    Raises
    ------
    MissingDependencyError
        ``--device gpu`` when the backend sees no GPU.
    """
    _check_device_name(device)
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if device == "gpu" and not gpus:
            raise MissingDependencyError("--device gpu", "TensorFlow sees no GPU on this machine")
        if device != "cpu" and gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return tf.device("/GPU:0"), f"GPU:0 ({details.get('device_name', 'GPU')})"
        return tf.device("/CPU:0"), "CPU:0"
    if backend == "jax":
        import jax

        gpus = _jax_gpus(jax) if device != "cpu" else []
        if device == "gpu" and not gpus:
            raise MissingDependencyError("--device gpu", "JAX sees no GPU on this machine")
        target = gpus[0] if gpus else jax.devices("cpu")[0]
        name = str(target)
        kind = getattr(target, "device_kind", "")
        if gpus and kind:
            name = f"{name} ({kind})"
        return jax.default_device(target), name
    import keras
    import torch

    has_gpu = bool(torch.cuda.is_available())
    if device == "gpu" and not has_gpu:
        raise MissingDependencyError("--device gpu", "PyTorch sees no CUDA GPU on this machine")
    target = {"cpu": "cpu", "gpu": "cuda"}.get(device)
    if target is None:  # auto: whatever Keras picked (KERAS_TORCH_DEVICE, else cuda, else cpu)
        placed = keras.ops.zeros(()).device
    else:
        with keras.device(target):
            placed = keras.ops.zeros(()).device
    name = str(placed)
    if placed.type == "cuda":
        name = f"{name} ({torch.cuda.get_device_name(placed)})"
    return (keras.device(target) if target else nullcontext()), name


def _jax_gpus(jax: Any) -> list[Any]:
    """JAX's GPU devices; none when JAX has no GPU plugin (``jax.devices("gpu")`` raises)."""
    try:
        return list(jax.devices("gpu"))
    except RuntimeError:
        return []


def preload_tensorflow() -> None:
    """Import TensorFlow quietly if it is installed, whatever the backend.

    Keras's ``set_random_seed`` imports TensorFlow whenever it can, under JAX and
    torch too (it seeds ``tf.random`` for tf.data pipelines:
    ``keras/src/utils/rng_utils.py``).  Imported here first, TensorFlow's C++
    start-up lines stay off stderr.  A TensorFlow that fails to import is left to
    Keras, which then treats it as absent.
    """
    if importlib.util.find_spec("tensorflow") is None:
        return
    try:
        import_quietly("tensorflow")
    except ImportError:
        return


def import_quietly(package: str) -> Any:
    """Import `package`, hiding the C++ log lines TensorFlow writes to fd 2 on import.

    Python-level errors still propagate as exceptions.
    """
    if package in sys.modules:
        return sys.modules[package]
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            try:
                return __import__(package)
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


@contextmanager
def quiet_keras() -> Iterator[None]:
    """Silence Python warnings and TensorFlow's Python logger while Keras runs."""
    import logging
    import warnings

    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
