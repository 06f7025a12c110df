"""Build, save, reload and observe truth cases with whatever Keras this interpreter has.

Run by ``test_matrix.py`` in a subprocess, once per Keras build of the version
matrix (each in its own environment), so that one pytest process can compare
graphcheck with several Keras releases. Usage::

    python matrix_worker.py OUT.json CASE...

A CASE is ``build:FLAVOUR:BUILDER:FORMAT`` (build with this Keras, save, reload,
observe), ``load:FLAVOUR:FORMAT:PATH`` (reload a file another Keras saved and
observe it) or ``rebuild:keras3:subclassed:keras`` (save a ``keras.Model``
subclass, whose config stores no graph, then analyse it with graphcheck's
``--rebuild`` under this Keras, and observe it; ``rebuild:keras3:nested:keras``
does the same for a Functional holding a subclass that holds another). FLAVOUR is ``keras3`` or
``tfkeras``. Writes one JSON document: the Keras version and backend, and per case
the saved path and what every stochastic and BatchNormalization call did in fit(),
predict() and model(x), or why Keras could not load the file; a rebuild case also
has graphcheck's report entry for the rebuilt model.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
for entry in (HERE, HERE.parents[1]):  # builders.py; the repository root (graphcheck)
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

SCENARIOS = ("fit", "predict", "call")


def _alias_tf_keras() -> None:
    """Let ``import tf_keras`` mean TensorFlow's own Keras 2 where only that is installed.

    TensorFlow 2.15 and earlier ship Keras 2 as ``tf.keras`` (the ``keras`` 2.x
    package); the builders and the loader name it ``tf_keras``.
    """
    try:
        import tf_keras  # noqa: F401 - only probing
    except ImportError:
        import tensorflow as tf

        if int(tf.__version__.split(".")[1]) < 16 and tf.__version__.startswith("2."):
            import keras

            sys.modules["tf_keras"] = keras


def _observe(model: Any, shape_targets: bool = False) -> dict[str, Any]:
    from graphcheck.runtime import observe, synthesise_inputs, synthesise_targets

    inputs = synthesise_inputs(model)
    # A subclassed model's targets take an inference call to shape, before fit():
    # otherwise fit() itself makes that call, and it is counted among fit's.
    targets = synthesise_targets(model, inputs) if shape_targets else None
    obs = observe(model, inputs, scenarios=SCENARIOS, targets=targets)
    return {
        "active": obs.active,
        "bn_batch_stats": obs.bn_batch_stats,
        "class_names": dict(obs.class_names),
        "weights_changed": dict(obs.weights_changed),
        "fit_error": obs.fit_error,
    }


def _run_case(case: str, directory: Path) -> dict[str, Any]:
    from builders import BUILDERS, EXPLICIT_NONE_BUILDERS
    from saving import load_model, save_model

    kind, flavour, *rest = case.split(":", 3)
    if kind == "rebuild":
        return _rebuild_case(directory, rest[0])
    if kind == "live":
        return _live_case(rest[0])
    if kind == "build":
        builder, fmt = rest
        build = BUILDERS.get(builder) or EXPLICIT_NONE_BUILDERS[builder]
        path = save_model(build(flavour), flavour, fmt, directory)
    else:
        fmt, path_text = rest
        path = Path(path_text)
    try:
        model = load_model(path, flavour, fmt)
    except Exception as exc:
        return {"path": str(path), "load_error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return {"path": str(path), "observed": _observe(model)}


def _rebuild_case(directory: Path, builder: str) -> dict[str, Any]:
    """--rebuild needs the Keras that runs it, so it runs here, in the build's environment."""
    import keras
    from hub_builders import subclassed_model

    from graphcheck import analyse
    from graphcheck.runtime.rebuild import RebuildOptions

    path = directory / f"{builder}.keras"
    if builder == "nested":
        from subclass_models import McDropoutInASubclass, in_a_functional

        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        in_a_functional(McDropoutInASubclass, "twice_nested").save(path)
    else:
        subclassed_model().save(path)
    entry = analyse(str(path), rebuild=RebuildOptions(trust_model=True))
    model = keras.saving.load_model(path, compile=False)
    return {"path": str(path), "entry": entry, "observed": _observe(model, shape_targets=True)}


def _live_case(builder: str) -> dict[str, Any]:
    """graphcheck on a live object built here (its own classes), and real runs of it."""
    import keras
    import subclass_models

    from graphcheck import analyse

    model = getattr(subclass_models, builder)()
    entry = analyse(model, keras_version=keras.__version__)
    return {"path": builder, "entry": entry, "observed": _observe(model)}


def main(out: str, cases: list[str]) -> None:
    _alias_tf_keras()
    directory = Path(tempfile.mkdtemp(prefix="matrix-", dir=Path(out).parent))
    results = {case: _run_case(case, directory) for case in cases}
    import tensorflow as tf

    try:
        import keras
    except ImportError:  # pragma: no cover - every matrix build has a keras package
        keras = None
    document = {
        "keras": getattr(keras, "__version__", None),
        "tensorflow": tf.__version__,
        "cases": results,
    }
    if "tf_keras" in sys.modules:
        document["tf_keras"] = sys.modules["tf_keras"].__version__
    Path(out).write_text(json.dumps(document))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
