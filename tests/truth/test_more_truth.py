"""More situations compared with what Keras really does: nesting, sharing, wrappers, rate 0.

Like ``test_truth.py`` (every call's activity and BN mode in fit(), predict() and
model(x), and which weights one fit() step changed), for ``builders.MORE_BUILDERS``
(``.keras`` for Keras 3, ``.h5`` for tf_keras).
"""

from __future__ import annotations

from typing import Any

import pytest
from agreement import assert_saved_model_agrees
from builders import FLAVOURS, KERAS_VERSIONS, MORE_BUILDERS

pytestmark = pytest.mark.truth

# One format per flavour keeps the file near a minute; the cases of the will_train
# fix for sublayer weights also run as Keras 3 legacy .h5.
FORMATS = {"keras3": ("keras",), "tfkeras": ("h5",)}
CASES = [
    (flavour, builder, fmt)
    for flavour in FLAVOURS
    for builder in MORE_BUILDERS
    for fmt in FORMATS[flavour]
] + [("keras3", "frozen_mha", "h5"), ("keras3", "frozen_sublayer_weights", "h5")]


@pytest.mark.parametrize(("flavour", "builder", "fmt"), CASES)
def test_static_matches_runtime(roundtrip: Any, flavour: str, builder: str, fmt: str) -> None:
    """Per layer and scenario, static activity, BN mode and will_train equal the observed ones."""
    path, model = roundtrip(MORE_BUILDERS[builder](flavour), flavour, fmt)
    assert_saved_model_agrees(path, model, KERAS_VERSIONS[flavour])
