"""The quickstart's sample says what Keras does with it: the frozen base's dropout fires in fit().

``samples/frozen_base_dropout.keras`` is a base holding a Dropout, frozen with
``base.trainable = False`` and called as ``base(x)``, under a head with its own Dropout.
Loaded with the Keras that wrote it and observed in ``fit()``, ``predict()`` and
``model(x)``, the base's dropout must fire in ``fit()`` although the file stores
``trainable=False`` for the base; graphcheck must say so (active in fit, inside the
frozen base, GC101) and the gate passes (a warning). tests/runtime/
test_validate.py also validates every shipped sample, this one included.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.truth

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "frozen_base_dropout.keras"
QUICKSTART = Path(__file__).resolve().parents[2] / "scripts" / "quickstart.sh"


def stored_base_call() -> tuple[bool, Any]:
    """The file's own record of the base: its trainable flag and its call's kwargs."""
    config = json.loads(zipfile.ZipFile(SAMPLE).read("config.json"))
    (base,) = [layer for layer in config["config"]["layers"] if layer["name"] == "base"]
    (node,) = base["inbound_nodes"]
    return base["config"]["trainable"], node["kwargs"]


def test_quickstart_runs_this_sample() -> None:
    """scripts/quickstart.sh analyses the sample this module checks."""
    assert f"sample=samples/{SAMPLE.name}" in QUICKSTART.read_text()


def test_frozen_base_dropout_fires_in_fit_as_reported() -> None:
    """Keras drops in the frozen base during fit() only, and graphcheck says exactly that,
    from the file and from the loaded model object."""
    keras = pytest.importorskip("keras")
    from graphcheck import analyse, check
    from graphcheck.runtime import observe, synthesise_inputs

    trainable, kwargs = stored_base_call()
    assert trainable is False and "training" not in kwargs, "frozen, called without a flag"

    model = keras.saving.load_model(SAMPLE)
    assert model.get_layer("base").trainable is False
    observed = observe(model, synthesise_inputs(model), scenarios=("fit", "predict", "call"))
    assert observed.active["fit"]["base/base_dropout"] == [True], "Keras drops in the frozen base"
    assert observed.active["predict"]["base/base_dropout"] == [False]
    assert observed.active["call"]["base/base_dropout"] == [False]
    assert observed.weights_changed["base/base_dense"] is False, "the base is frozen"
    assert observed.weights_changed["classifier"] is True

    entry = analyse(str(SAMPLE), keras_version=keras.__version__)
    reported = {item["path"]: item for item in entry["stochastic"]}
    for path, item in reported.items():
        for scenario in ("fit", "predict", "call"):
            assert item["active"][scenario] is observed.active[scenario][path][0], (path, scenario)
    assert reported["base/base_dropout"]["inside_frozen"] is True
    assert reported["base/base_dropout"]["frozen_by"] == "base"
    assert reported["head_dropout"]["inside_frozen"] is False

    report = check(str(SAMPLE), keras_version=keras.__version__)
    rules = {(f.rule, f.path) for f in report.findings}
    assert ("GC101", "base/base_dropout") in rules
    assert report.passed  # GC101 is a warning

    live = check(model)  # the loaded object itself: the same answer about the frozen base
    assert live.results[0].path.startswith("<live ")
    assert ("GC101", "base/base_dropout") in {(f.rule, f.path) for f in live.findings}
