"""Files saved by Keras 2 (tf_keras) and run by Keras 3: Keras 3's semantics apply.

KERAS_SEMANTICS.md section 5: where a Keras 2 file loads in Keras 3, the running
Keras decides (its MC dropout goes dead in predict()). graphcheck must predict for
the Keras that runs the file, and say which stored flags now behave differently.
"""

from __future__ import annotations

from typing import Any

import pytest
from agreement import assert_agrees
from builders import BUILDERS, EXPLICIT_NONE_BUILDERS, KERAS_VERSIONS
from saving import save_model

from graphcheck.runtime import observe, synthesise_inputs

pytestmark = pytest.mark.truth

CASES = ["mc_dropout", "batchnorm", "sibling_branches", "mc_then_plain", "explicit_none_after_mc"]
#: A Functional called inside another. tf_keras numbers a nested model's first call in
#: the outer graph node 1 (node 0 is its own construction); Keras 3 reads that index
#: against the nodes it has made so far and cannot resolve the outer graph. No format
#: tf_keras writes loads in Keras 3 (.h5: this error; .keras and JSON: class
#: 'Functional' not found), so there is no Keras 3 run to compare with: the refusal
#: itself is asserted, so that a Keras that loads them fails here until compared.
NESTED = ["submodel_training_false", "three_levels", "frozen_submodel_dropout"]


def load_in_keras3(path: Any) -> Any:
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    return keras.models.load_model(path, compile=False, safe_mode=True)


@pytest.mark.parametrize("builder", CASES)
def test_tf_keras_file_run_by_keras3(tmp_path: Any, builder: str) -> None:
    """Static answers for a tf_keras .h5 under the keras3 profile match Keras 3 running it,
    both ways: every claim is observed, every observed stochastic call and trained
    weight is claimed (:func:`agreement.assert_agrees`)."""
    from graphcheck import analyse

    build = BUILDERS.get(builder) or EXPLICIT_NONE_BUILDERS[builder]
    path = save_model(build("tfkeras"), "tfkeras", "h5", tmp_path)
    model = load_in_keras3(path)
    obs = observe(model, synthesise_inputs(model), scenarios=("fit", "predict", "call"))
    entry = analyse(str(path), keras_version=KERAS_VERSIONS["keras3"])
    assert entry["keras_version"] == KERAS_VERSIONS["tfkeras"]
    assert_agrees(
        entry, obs.active, obs.bn_batch_stats, obs.class_names, obs.weights_changed, obs.fit_error
    )


#: tf_keras files of the explicit-None builders that Keras 3 refuses: a nested model (as
#: NESTED), and tf_keras's RandomFlip config, whose ``rng_type`` Keras 3 does not take.
REFUSED = {
    **{name: (ValueError, "failed to be resolved") for name in NESTED},
    "explicit_none_submodel": (ValueError, "failed to be resolved"),
    "explicit_none_flip": (TypeError, "Unrecognized keyword arguments"),
}


@pytest.mark.parametrize("builder", sorted(REFUSED))
def test_tf_keras_file_is_refused_by_keras3(tmp_path: Any, builder: str) -> None:
    """Keras 3 cannot load these tf_keras files (see NESTED and REFUSED), so there is no
    Keras 3 run to compare with; a Keras that loads them fails here until compared."""
    build = BUILDERS.get(builder) or EXPLICIT_NONE_BUILDERS[builder]
    path = save_model(build("tfkeras"), "tfkeras", "h5", tmp_path)
    error, message = REFUSED[builder]
    with pytest.raises(error, match=message):
        load_in_keras3(path)


def test_mc_dropout_conflict_is_reported(tmp_path: Any) -> None:
    """A tf_keras MC dropout analysed for Keras 3.15 lists the predict() change as a conflict."""
    from graphcheck import analyse

    path = save_model(BUILDERS["mc_dropout"]("tfkeras"), "tfkeras", "h5", tmp_path)
    entry = analyse(str(path), keras_version="3.15.1")
    changed = {(c["path"], c["scenario"], c["saving"], c["running"]) for c in entry["flag_conflicts"]}
    assert ("mc_dropout", "predict", True, False) in changed
