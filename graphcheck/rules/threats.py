"""What the load-safety rules know: dangerous callables, TF ops with side effects, advisories.

Data only, read by ``graphcheck/rules/load_safety.py``. Names come from what Keras
loaders import and call (``keras.src.saving.serialization_lib``, tf_keras's
``TFOpLambda``), and from the published advisories.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ADVISORIES",
    "DANGEROUS_MODULES",
    "Advisory",
    "call_effect",
    "tf_op_effect",
]

#: Top-level modules whose functions and classes touch the host: processes, files,
#: the network, the interpreter. Nothing in a model needs them.
DANGEROUS_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "shutil",
        "socket",
        "ssl",
        "importlib",
        "runpy",
        "pickle",
        "marshal",
        "ctypes",
        "code",
        "codeop",
        "pty",
        "webbrowser",
        "urllib",
        "urllib3",
        "http",
        "ftplib",
        "smtplib",
        "telnetlib",
        "requests",
        "io",
        "pathlib",
        "tempfile",
        "glob",
        "multiprocessing",
        "threading",
        "signal",
        "pdb",
        "timeit",
        "shelve",
        "dill",
        "cloudpickle",
        "joblib",
        "zipfile",
        "tarfile",
        "h5py",
        "asyncio",
        "selectors",
        "fcntl",
        "mmap",
    }
)

# Keras functions that are not modelling: they load or save models, fetch files,
# or turn the safe mode off (Keras 3.15 refuses the same list on load).
_KERAS_EFFECTS = {
    "enable_unsafe_deserialization": "turns Keras's safe mode off",
    "load_model": "loads another model",
    "model_from_json": "loads another model",
    "model_from_config": "loads another model",
    "model_from_yaml": "loads another model",
    "deserialize_keras_object": "loads another object from a config",
    "load_weights": "reads weights from a host file",
    "save_model": "writes a host file",
    "save_weights": "writes a host file",
    "get_file": "downloads a file over the network",
    "load_img": "reads a host file",
    "save_img": "writes a host file",
    "image_dataset_from_directory": "reads host files",
    "text_dataset_from_directory": "reads host files",
    "audio_dataset_from_directory": "reads host files",
    "register_keras_serializable": "changes Keras's registry of classes",
    "clear_session": "resets Keras's global state",
}
# Python built-ins that run code or touch files.
_BUILTIN_EFFECTS = {
    "exec": "executes Python code",
    "eval": "executes Python code",
    "compile": "compiles Python code",
    "__import__": "imports a module",
    "open": "opens a host file",
    "breakpoint": "starts a debugger",
    "input": "reads the terminal",
    "getattr": "reaches any attribute",
    "setattr": "changes any attribute",
}


def call_effect(module: str | None, name: str) -> str | None:
    """What calling ``module.name`` does to the host, or None for ordinary functions."""
    base = name.rsplit(".", 1)[-1]
    top = (module or "").split(".", 1)[0]
    if top in DANGEROUS_MODULES:
        return f"reaches the host through the {top} module"
    if base in _KERAS_EFFECTS:
        return _KERAS_EFFECTS[base]
    if top in ("builtins", "") and base in _BUILTIN_EFFECTS:
        return _BUILTIN_EFFECTS[base]
    if top in ("numpy", "np") and base in (
        "load",
        "fromfile",
        "save",
        "savez",
        "loadtxt",
        "genfromtxt",
        "memmap",
        "tofile",
    ):
        return "reads or writes host files"
    return None


# tf_keras stores a TensorFlow op as `TFOpLambda` with `function` = the op's name
# under `tf.`; ordinary math is normal. These names read, write, print, call Python,
# or run other graphs.
_TF_OP_EFFECTS = (
    (
        re.compile(
            r"^(compat\.v1\.)?io\.|^(compat\.v1\.)?gfile\.|\.gfile\.|^read_file$|^write_file$"
        ),
        "reads or writes host files",
    ),
    (re.compile(r"(^|\.)(py_function|numpy_function|py_func|eager_py_func)$"), "calls Python code"),
    (
        re.compile(r"(^|\.)(print|Print)$|^debugging\.|^summary\.|^compat\.v1\.summary\."),
        "prints or writes logs",
    ),
    (
        re.compile(
            r"^raw_ops\.(ReadFile|WriteFile|PyFunc|EagerPyFunc|PyFuncStateless|PrintV2|Print"
            r"|MatchingFiles|ImmutableConst|LoadAndRemapMatrix|Restore.*|Save.*)$"
        ),
        "reads or writes host files or calls Python code",
    ),
    (
        re.compile(
            r"^(saved_model|train|data|keras|autograph|compat\.v1\.(train|saved_model|data))\."
        ),
        "loads, saves or reads outside the model",
    ),
    (
        re.compile(r"^(compat\.v1\.)?load_(op|library|file_system)_library$|^load_library$"),
        "loads native code",
    ),
)


def tf_op_effect(function: str) -> str | None:
    """What a stored TF op does to the host, or None for ordinary math."""
    for pattern, effect in _TF_OP_EFFECTS:
        if pattern.search(function):
            return effect
    return None


@dataclass(frozen=True, slots=True)
class Advisory:
    """A published advisory: which Keras releases load a technique without refusing it.

    ``family`` is ``keras`` (Keras 3) or ``tf_keras`` (Keras 2); ``fixed`` the first
    release that refuses the technique, None when no release is known to (then the
    running Keras counts as affected).
    """

    name: str
    family: str
    fixed: tuple[int, ...] | None
    text: str

    def affects(self, family: str, version: tuple[int, ...]) -> bool:
        return family == self.family and (self.fixed is None or version < self.fixed)


#: tf_keras extracts an archive with assets whole, whatever its members declare.
_TF_KERAS_EXTRACTS_ALL = Advisory(
    "tf_keras",
    "tf_keras",
    None,
    "tf_keras extracts every member of an archive with assets into a temporary "
    "folder with no size check",
)

ADVISORIES: dict[str, tuple[Advisory, ...]] = {
    "GC302": (
        Advisory(
            "CVE-2024-3660",
            "tf_keras",
            (2, 13),
            "Keras 2 before 2.13 runs Lambda code without a safe mode",
        ),
        Advisory(
            "CVE-2025-9905",
            "keras",
            (3, 11, 3),
            "Keras 3 before 3.11.3 ignores safe_mode for .h5 files",
        ),
    ),
    "GC401": (
        Advisory(
            "CVE-2024-3660",
            "tf_keras",
            (2, 13),
            "Keras 2 before 2.13 runs stored functions without a safe mode",
        ),
    ),
    "GC402": (
        Advisory(
            "CVE-2025-1550",
            "keras",
            (3, 9),
            "Keras 3 before 3.9 imports any module a config names, even in safe mode",
        ),
        Advisory("tf_keras", "tf_keras", None, "tf_keras imports the module of a registered name"),
    ),
    "GC403": (
        Advisory(
            "CVE-2025-8747",
            "keras",
            (3, 11),
            "Keras 3 before 3.11 lets a Lambda call keras.utils.get_file in safe mode",
        ),
        Advisory(
            "CVE-2025-9906",
            "keras",
            (3, 11),
            "Keras 3 before 3.11 lets a config call keras.config.enable_unsafe_deserialization",
        ),
    ),
    "GC406": (
        Advisory(
            "keras-team/keras#21751",
            "keras",
            (3, 12),
            "Keras 3 before 3.12 reads a vocabulary path on load, even in safe mode",
        ),
        Advisory("tf_keras", "tf_keras", None, "tf_keras reads a vocabulary path on load"),
    ),
    # Archive members that inflate far beyond what they store: Keras extracts every
    # member of an archive holding more than its three own into a temporary folder.
    "GC409:zip-size": (
        Advisory(
            "keras-team/keras#23101",
            "keras",
            (3, 15, 1),
            "Keras 3 before 3.15.1 extracts every member of an archive with assets into a "
            "temporary folder with no size check",
        ),
        _TF_KERAS_EXTRACTS_ALL,
    ),
    # The same under 256 MiB a member: Keras 3.15.1 still extracts those; 3.16 refuses
    # members over 100:1 that declare over 64 MiB together.
    "GC409:zip-inflation": (
        Advisory(
            "keras-team/keras#23101",
            "keras",
            (3, 16),
            "Keras 3 before 3.16 extracts every member of an archive with assets into a "
            "temporary folder, refusing (from 3.15.1) only members over 256 MiB",
        ),
        _TF_KERAS_EXTRACTS_ALL,
    ),
    "GC410": (
        Advisory(
            "CVE-2026-1669",
            "keras",
            None,
            "Keras 3 releases without keras-team/keras#22057 read "
            "external, linked and virtual HDF5 data",
        ),
        Advisory(
            "tf_keras",
            "tf_keras",
            None,
            "tf_keras releases without keras-team/tf-keras#921 follow HDF5 "
            "links and external storage",
        ),
    ),
    "GC411": (
        Advisory(
            "CVE-2026-0897",
            "keras",
            (3, 13, 2),
            "Keras 3 before 3.13.2 (3.12.1 on the 3.12 line) allocates a dataset's declared shape",
        ),
        Advisory(
            "tf_keras",
            "tf_keras",
            None,
            "tf_keras releases without keras-team/tf-keras#921 allocate a dataset's declared shape",
        ),
    ),
}
