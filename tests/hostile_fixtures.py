"""Helpers for the hostile-input and fuzz suites (``test_hostile.py``, ``test_fuzz.py``).

Everything here builds files without TensorFlow except :func:`build_trap_models`,
which runs this module as a script in a subprocess
(``python tests/hostile_fixtures.py build-traps OUTDIR``) so that the test process
never imports TensorFlow or Keras.

Booby traps: a trapped Lambda's stored bytecode writes the file named by the
environment variable :data:`MARKER_ENV` when it runs. The variable is unset while
the models are built (Keras traces the function then), and set whenever graphcheck
analyses them, so a marker file proves that graphcheck ran stored code.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import marshal
import os
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from paths import REAL_MODELS, ROOT, SAMPLES

PYTHON = sys.executable

#: Environment variable naming the marker file a trapped Lambda writes when run.
MARKER_ENV = "GRAPHCHECK_TRAP_MARKER"
#: A module that writes a marker as soon as it is imported (placed on PYTHONPATH).
EVIL_MODULE = "graphcheck_evil_marker_module"
EVIL_MODULE_SOURCE = f"""\
import os
_path = os.environ.get({MARKER_ENV!r})
if _path:
    with open(_path + ".imported", "w") as _handle:
        _handle.write("imported")
def trigger(*args, **kwargs):
    if _path:
        with open(_path, "w") as _handle:
            _handle.write("ran")
class Evil:
    def __init__(self, *args, **kwargs):
        trigger()
"""

#: Timeout for every graphcheck subprocess: a hang fails the test instead of CI.
CLI_TIMEOUT = 120


# ---- real files -------------------------------------------------------------


def real_model_files() -> list[Path]:
    """Every sample and shared real model file that graphcheck reads."""
    files = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".h5", ".keras", ".json"))
    if REAL_MODELS.is_dir():
        files += sorted(p for p in REAL_MODELS.iterdir() if p.suffix in (".h5", ".keras"))
    return files


def read_stored_config(path: Path) -> tuple[dict[str, Any], str | None]:
    """The stored config dict and saving Keras version of a real file (read by graphcheck)."""
    from graphcheck.readers import read_config_source

    source = read_config_source(path)
    return copy.deepcopy(dict(source.config)), source.keras_version


# ---- writing model files ----------------------------------------------------


def write_json_model(path: Path, config: Any, keras_version: str | None = None) -> Path:
    """Write an architecture JSON (``model.to_json()`` layout)."""
    document = dict(config) if isinstance(config, Mapping) else config
    if keras_version is not None and isinstance(document, dict):
        document = {**document, "keras_version": keras_version}
    path.write_text(json.dumps(document))
    return path


def write_h5_model(
    path: Path,
    config: Any = None,
    *,
    raw: Any = None,
    keras_version: str | None = "3.15.1",
    large_attrs: bool = False,
) -> Path:
    """Write an HDF5 file whose root ``model_config`` attribute is ``config`` (or ``raw``)."""
    import h5py

    value = raw if raw is not None else json.dumps(config)
    with h5py.File(path, "w", libver="latest" if large_attrs else "earliest") as handle:
        handle.attrs["model_config"] = value
        if keras_version is not None:
            handle.attrs["keras_version"] = keras_version
            handle.attrs["backend"] = "tensorflow"
    return path


def write_keras_zip(
    path: Path,
    config: Any = None,
    *,
    raw: bytes | None = None,
    keras_version: str = "3.15.1",
    extra: Sequence[tuple[str, bytes]] = (),
) -> Path:
    """Write a ``.keras`` archive with ``config.json`` (from ``config`` or ``raw``)."""
    data = raw if raw is not None else json.dumps(config).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": keras_version}))
        archive.writestr("config.json", data)
        for name, payload in extra:
            archive.writestr(name, payload)
    return path


def write_model(path: Path, config: Any, keras_version: str | None) -> Path:
    """Write ``config`` in the container its suffix names (.json, .h5 or .keras)."""
    if path.suffix == ".h5":
        return write_h5_model(path, config, keras_version=keras_version)
    if path.suffix == ".keras":
        return write_keras_zip(path, config, keras_version=keras_version or "3.15.1")
    return write_json_model(path, config, keras_version)


def keras_zip_bytes(config: Any, keras_version: str = "3.15.1") -> bytes:
    """A ``.keras`` archive in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": keras_version}))
        archive.writestr("config.json", json.dumps(config))
    return buffer.getvalue()


# ---- hand-made configs --------------------------------------------------------


def k3_tensor(layer: str, node: int = 0, index: int = 0, shape: Any = (None, 4)) -> dict:
    """A Keras 3 ``__keras_tensor__`` reference."""
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": list(shape), "dtype": "float32", "keras_history": [layer, node, index]},
    }


def k3_layer(
    name: str,
    class_name: str = "Dense",
    inputs: Sequence[Any] = (),
    config: Mapping[str, Any] | None = None,
    **entry: Any,
) -> dict:
    """A Keras 3 layer entry called once on ``inputs`` (names or ``(name, node, index)``)."""
    refs = [k3_tensor(*((i,) if isinstance(i, str) else i)) for i in inputs]
    args = refs[0] if len(refs) == 1 else refs
    result = {
        "module": "keras.layers",
        "class_name": class_name,
        "config": {"name": name, "trainable": True, **(config or {})},
        "registered_name": None,
        "name": name,
        "inbound_nodes": [{"args": [args], "kwargs": {}}] if refs else [],
    }
    result.update(entry)
    return result


def k3_input(name: str = "x") -> dict:
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {"batch_shape": [None, 4], "dtype": "float32", "name": name},
        "registered_name": None,
        "name": name,
        "inbound_nodes": [],
    }


def k3_functional(name: str, layers: Sequence[dict], inputs: Sequence[str], outputs: Sequence[str],
                  **entry: Any) -> dict:
    """A Keras 3 Functional model entry (usable top-level or nested)."""
    result = {
        "module": "keras",
        "class_name": "Functional",
        "config": {
            "name": name,
            "trainable": True,
            "layers": list(layers),
            "input_layers": [[n, 0, 0] for n in inputs],
            "output_layers": [[n, 0, 0] for n in outputs],
        },
        "registered_name": "Functional",
        "name": name,
    }
    result.update(entry)
    return result


def k3_chain(count: int, class_name: str = "Dense") -> dict:
    """A Keras 3 Functional model: input ``x`` then ``count`` layers in a chain."""
    layers = [k3_input()]
    previous = "x"
    for index in range(count):
        name = f"l{index}"
        layers.append(k3_layer(name, class_name, [previous]))
        previous = name
    return k3_functional("chain", layers, ["x"], [previous])


def k2_chain(count: int, class_name: str = "Dense") -> dict:
    """A Keras 2 (list-style nodes) Functional model: input then ``count`` layers."""
    layers: list[dict] = [
        {"class_name": "InputLayer", "name": "x",
         "config": {"batch_input_shape": [None, 4], "name": "x"}, "inbound_nodes": []}
    ]
    previous = "x"
    for index in range(count):
        name = f"l{index}"
        layers.append({"class_name": class_name, "name": name, "config": {"name": name},
                       "inbound_nodes": [[[previous, 0, 0, {}]]]})
        previous = name
    return {"class_name": "Functional", "config": {
        "name": "chain", "layers": layers,
        "input_layers": [["x", 0, 0]], "output_layers": [[previous, 0, 0]]}}


def sequential(count: int, class_name: str = "Dropout") -> dict:
    """A Keras 2 style Sequential of ``count`` layers (no stored calls)."""
    layers = [{"class_name": class_name, "config": {"name": f"l{i}", "rate": 0.1}}
              for i in range(count)]
    layers[0]["config"]["batch_input_shape"] = [None, 4]
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": layers}}


def nested_lambda_model(lambda_layer: dict, depth: int = 3) -> dict:
    """Top model -> ``outer`` -> ``mid`` -> ``inner`` -> ``lam``: one Lambda, three models deep."""
    names = ["outer", "mid", "inner", "deeper", "deepest"][:depth]
    model = k3_functional(names[-1], [k3_input(f"{names[-1]}_in"), {
        **lambda_layer, "inbound_nodes": [{"args": [k3_tensor(f"{names[-1]}_in")], "kwargs": {}}],
    }], [f"{names[-1]}_in"], [lambda_layer["name"]])
    for name in reversed(names[:-1]):
        inner = dict(model)
        inner["inbound_nodes"] = [{"args": [k3_tensor(f"{name}_in")], "kwargs": {}}]
        model = k3_functional(name, [k3_input(f"{name}_in"), inner],
                              [f"{name}_in"], [inner["name"]])
    model["inbound_nodes"] = [{"args": [k3_tensor("x")], "kwargs": {}}]
    return k3_functional("top", [k3_input(), model], ["x"], [names[0]])


def _trap(x: Any) -> Any:
    """Stand-in for a Lambda: writes the marker file when it runs, returns ``x``."""
    marker = __import__("os").environ.get("GRAPHCHECK_TRAP_MARKER")
    if marker:
        with open(marker, "w") as handle:
            handle.write("ran")
    return x


def trap_code() -> bytes:
    """Marshalled bytecode of :func:`_trap`, as Keras stores a Lambda's function."""
    return marshal.dumps(_trap.__code__)


def hand_made_traps() -> dict[str, dict]:
    """Keras 3 configs naming code and modules to import, in every field Keras reads.

    Each holds Lambda layers (reported in ``code_layers``) or classes and functions
    that Keras would import from :data:`EVIL_MODULE` or ``os`` on load.
    """
    code = base64.b64encode(trap_code()).decode()
    k3_lambda = k3_layer("lam", "Lambda", config={"function": {
        "class_name": "__lambda__", "config": {"code": code, "defaults": None, "closure": None}},
        "arguments": {}})
    k2_lambda = k3_layer("lam", "Lambda", config={
        "function": [code, None, None], "function_type": "lambda", "module": EVIL_MODULE,
        "output_shape": None, "output_shape_type": "raw", "output_shape_module": None,
        "arguments": {}})
    named_function = k3_layer("lam", "Lambda", config={
        "function": {"module": EVIL_MODULE, "class_name": "function", "config": "trigger",
                     "registered_name": "function"}, "arguments": {}})
    evil_class = k3_layer("evil", "Evil", ["x"], module=EVIL_MODULE,
                          registered_name=f"{EVIL_MODULE}>Evil")
    os_system = k3_layer("sys", "system", ["x"], module="os", registered_name="system",
                         config={"command": "touch /tmp/graphcheck-pwned"})
    evil_activation = k3_layer("dense", "Dense", ["x"], config={
        "units": 4, "activation": {"module": EVIL_MODULE, "class_name": "function",
                                   "config": "trigger", "registered_name": "function"},
        "kernel_initializer": {"module": "os", "class_name": "system",
                               "config": {"command": "touch /tmp/graphcheck-pwned"}}})
    builtins_exec = k3_layer("ex", "exec", ["x"], module="builtins",
                             config={"source": "open('/tmp/graphcheck-pwned','w')"})
    return {
        "k3_lambda_top": k3_functional("top", [k3_input(), {**k3_lambda, "inbound_nodes": [
            {"args": [k3_tensor("x")], "kwargs": {}}]}], ["x"], ["lam"]),
        "k3_lambda_nested": nested_lambda_model(k3_lambda),
        "k2_lambda_nested": nested_lambda_model(k2_lambda),
        "named_function_nested": nested_lambda_model(named_function),
        "evil_modules": k3_functional(
            "top", [k3_input(), evil_class, os_system, evil_activation, builtins_exec],
            ["x"], ["evil", "sys", "dense", "ex"]),
    }


# ---- running graphcheck ---------------------------------------------------------


def cli_env(marker: Path, evil_dir: Path | None = None) -> dict[str, str]:
    """Environment for a graphcheck subprocess: trap marker set, evil module importable."""
    env = dict(os.environ)
    env[MARKER_ENV] = str(marker)
    paths = [str(ROOT)] + ([str(evil_dir)] if evil_dir else [])
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("PYTHONSTARTUP", None)
    return env


def run_cli(
    *args: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    timeout: float = CLI_TIMEOUT,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m graphcheck ARGS`` with a timeout (a hang raises TimeoutExpired)."""
    return subprocess.run(
        [PYTHON, "-m", "graphcheck", *map(str, args)],
        capture_output=True, text=True, timeout=timeout,
        env=dict(env) if env is not None else cli_env(Path(os.devnull)),
        cwd=cwd or ROOT, stdin=subprocess.DEVNULL,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], path: Any) -> str:
    """Exit 3 and exactly one stderr line ``graphcheck: error: <path>: <problem>``."""
    assert result.returncode == 3, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    prefix = f"graphcheck: error: {path}: "
    assert lines[0].startswith(prefix), lines[0]
    assert len(lines[0]) > len(prefix)
    return lines[0][len(prefix):]


def assert_analysed_or_clean_failure(result: subprocess.CompletedProcess[str], path: Any) -> None:
    """Either analysed (exit 0, or 1 for an error finding; nothing on stderr) or the
    one-line error with exit 3."""
    if result.returncode in (0, 1):
        assert result.stderr == "", result.stderr[-2000:]
    else:
        assert_clean_failure(result, path)


def analyse_in_process(path: Path, keras_version: str = "3.15.1") -> str | None:
    """Load, analyse and render one file; return the GraphcheckError text, or None.

    Any exception other than a GraphcheckError propagates: that is a bug.
    """
    import graphcheck
    from graphcheck.errors import GraphcheckError
    from graphcheck.reporters.annotate import annotated_graph
    from graphcheck.reporters.graph_export import render_node_link
    from graphcheck.reporters.json_report import render_json
    from graphcheck.reporters.analysis_text import render_text

    try:
        analysis = graphcheck.load(path).analyse(keras_version)
    except GraphcheckError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, repr(message)
        assert message.startswith(str(path)), message  # the file, or one inside the directory
        return message
    json.loads(render_json([analysis]))
    render_text([analysis])
    render_node_link(annotated_graph(analysis))
    return None


# ---- booby-trapped models built with real Keras -----------------------------------

#: (file name, expected code_layers paths) for every model ``build-traps`` writes.
TRAP_MODELS: dict[str, tuple[str, ...]] = {
    f"{flavour}_{shape}.{fmt}": ("lam",) if shape == "top" else ("outer/mid/inner/lam",)
    for flavour, formats in (("tfkeras", ("h5", "keras", "json")), ("keras3", ("keras", "h5", "json")))
    for fmt in formats
    for shape in ("top", "nested")
}


def build_trap_models(directory: Path, timeout: float = 300) -> dict[str, Path]:
    """Build every model of :data:`TRAP_MODELS` in a TensorFlow subprocess."""
    env = dict(os.environ)
    env.pop(MARKER_ENV, None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["CUDA_VISIBLE_DEVICES"] = ""
    subprocess.run([PYTHON, __file__, "build-traps", str(directory)], check=True, env=env,
                   timeout=timeout, capture_output=True)
    return {name: directory / name for name in TRAP_MODELS}


def _build_traps(directory: Path) -> None:  # pragma: no cover - runs in a subprocess
    """Write Lambda models whose stored bytecode writes the marker file when run."""
    import keras
    import tf_keras

    # Only a real ``lambda`` is stored as bytecode (a named function by module and name).
    trap = lambda x: (  # noqa: E731
        open(__import__("os").environ["GRAPHCHECK_TRAP_MARKER"], "w").write("ran")
        if "GRAPHCHECK_TRAP_MARKER" in __import__("os").environ else None, x)[1]

    for flavour, lib in (("tfkeras", tf_keras), ("keras3", keras)):
        def top_model(lib: Any = lib) -> Any:
            x = lib.Input((4,), name="x")
            return lib.Model(x, lib.layers.Lambda(trap, name="lam")(x), name="top")

        def nested_model(lib: Any = lib) -> Any:
            model = None
            for name in ("inner", "mid", "outer"):
                x = lib.Input((4,), name=f"{name}_in")
                y = lib.layers.Lambda(trap, name="lam")(x) if model is None else model(x)
                model = lib.Model(x, y, name=name)
            x = lib.Input((4,), name="x")
            return lib.Model(x, model(x), name="top")

        for shape, make in (("top", top_model), ("nested", nested_model)):
            model = make()
            for fmt in ("h5", "keras", "json"):
                path = directory / f"{flavour}_{shape}.{fmt}"
                if fmt == "json":
                    path.write_text(model.to_json())
                else:
                    model.save(path)


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) == 3 and sys.argv[1] == "build-traps":
        os.environ.pop(MARKER_ENV, None)
        _build_traps(Path(sys.argv[2]))
    else:
        sys.exit(f"usage: {sys.argv[0]} build-traps OUTDIR")
