"""More situations compared with what Keras really does: nesting, sharing, wrappers, rate 0.

Like ``test_truth.py`` (every call's activity and BN mode in fit(), predict() and
model(x), and which weights one fit() step changed), for ``builders.MORE_BUILDERS``
in the native format of each flavour and its ``.h5`` twin.
"""

from __future__ import annotations

from typing import Any

import pytest
from agreement import STATIC_SCENARIOS, assert_agrees, model_entry
from builders import FLAVOURS, KERAS_VERSIONS, MORE_BUILDERS

from graphcheck.runtime import observe, synthesise_inputs

pytestmark = pytest.mark.truth

FORMATS = {"keras3": ("keras", "h5"), "tfkeras": ("h5", "keras")}
CASES = [
    (flavour, builder, fmt)
    for flavour in FLAVOURS
    for builder in MORE_BUILDERS
    for fmt in FORMATS[flavour]
]


@pytest.mark.parametrize(("flavour", "builder", "fmt"), CASES)
def test_static_matches_runtime(roundtrip: Any, flavour: str, builder: str, fmt: str) -> None:
    """Per layer and scenario, static activity, BN mode and will_train equal the observed ones."""
    from graphcheck import analyse

    path, model = roundtrip(MORE_BUILDERS[builder](flavour), flavour, fmt)
    obs = observe(model, synthesise_inputs(model), scenarios=STATIC_SCENARIOS)
    entry = model_entry(analyse(str(path), keras_version=KERAS_VERSIONS[flavour]))
    assert_agrees(
        entry, obs.active, obs.bn_batch_stats, obs.class_names, obs.weights_changed, obs.fit_error
    )
