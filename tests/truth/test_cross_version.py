"""Files saved by Keras 2 (tf_keras) and run by Keras 3: Keras 3's semantics apply.

KERAS_SEMANTICS.md section 5: where a Keras 2 file loads in Keras 3, the running
Keras decides (its MC dropout goes dead in predict()). graphcheck must predict for
the Keras that runs the file, and say which stored flags now behave differently.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from builders import BUILDERS, EXPLICIT_NONE_BUILDERS, KERAS_VERSIONS
from saving import save_model

from graphcheck.runtime import observe, strip_call_suffixes, synthesise_inputs

pytestmark = pytest.mark.truth

CASES = ["mc_dropout", "submodel_training_false", "three_levels", "batchnorm", "sibling_branches",
         "frozen_submodel_dropout", "mc_then_plain", *EXPLICIT_NONE_BUILDERS]


def load_in_keras3(path: Any) -> Any:
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - Keras 3 cannot load many Keras 2 files
        pytest.skip(f"Keras 3 cannot load this tf_keras .h5: {type(exc).__name__}: {str(exc)[:120]}")


@pytest.mark.parametrize("builder", CASES)
def test_tf_keras_file_run_by_keras3(tmp_path: Any, builder: str) -> None:
    """Static answers for a tf_keras .h5 under the keras3 profile match Keras 3 running it."""
    from graphcheck import analyse

    build = BUILDERS.get(builder) or EXPLICIT_NONE_BUILDERS[builder]
    path = save_model(build("tfkeras"), "tfkeras", "h5", tmp_path)
    model = load_in_keras3(path)
    obs = observe(model, synthesise_inputs(model), scenarios=("fit", "predict", "call"))
    entry = analyse(str(path), keras_version=KERAS_VERSIONS["keras3"])
    assert entry["keras_version"] == KERAS_VERSIONS["tfkeras"]
    for scenario in ("fit", "predict", "call"):
        predicted: dict[str, Counter[bool]] = {}
        for item in entry["stochastic"]:
            predicted.setdefault(strip_call_suffixes(item["path"]), Counter())[item["active"][scenario]] += 1
        observed = {p: Counter(v) for p, v in obs.active[scenario].items() if p in predicted}
        assert predicted == observed, scenario
        modes = {strip_call_suffixes(m["path"]): m["mode"][scenario] == "batch" for m in entry["mode_dependent"]}
        seen = {p: v[0] for p, v in obs.bn_batch_stats[scenario].items()}
        assert modes == seen, f"BN mode, {scenario}"


def test_mc_dropout_conflict_is_reported(tmp_path: Any) -> None:
    """A tf_keras MC dropout analysed for Keras 3.15 lists the predict() change as a conflict."""
    from graphcheck import analyse

    path = save_model(BUILDERS["mc_dropout"]("tfkeras"), "tfkeras", "h5", tmp_path)
    entry = analyse(str(path), keras_version="3.15.1")
    changed = {(c["path"], c["scenario"], c["saving"], c["running"]) for c in entry["flag_conflicts"]}
    assert ("mc_dropout", "predict", True, False) in changed
