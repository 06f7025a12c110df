"""Disagreements the truth fuzzer (``benchmarks/truth_fuzz.py``) found, each minimised.

Every test builds the smallest model that showed the disagreement, saves and reloads
it, and compares graphcheck's static answer (file and live object) with real runs
(``agreement.assert_saved_model_agrees``). A finding graphcheck does not handle yet
is a strict xfail whose reason names the Keras mechanism.

The explicit ``training=None`` cases (``builders.EXPLICIT_NONE_BUILDERS``) are the
Keras 3.10 boundary (keras-team/keras#21204): Keras 3.10 and later take the None as
passed, Keras 2 and 3.0-3.9 as no flag. ``test_matrix.py`` runs the same builders
under keras 3.9.2 and 3.10.0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agreement import assert_saved_model_agrees
from builders import EXPLICIT_NONE_BUILDERS, KERAS_VERSIONS
from saving import save_model
from test_live import assert_matches_runtime

pytestmark = pytest.mark.truth


@pytest.mark.parametrize("builder", list(EXPLICIT_NONE_BUILDERS))
def test_explicit_training_none_keras3(roundtrip: Any, builder: str) -> None:
    """Installed Keras 3: the live object and the reloaded ``.keras`` agree with real runs
    (from 3.10 the call takes the passed None under model(x), not the context's value
    or its ``call`` default)."""
    from graphcheck import analyse

    pytest.importorskip("keras")
    model = EXPLICIT_NONE_BUILDERS[builder]("keras3")
    assert_matches_runtime(analyse(model), model)
    path, loaded = roundtrip(model, "keras3", "keras")
    assert_saved_model_agrees(path, loaded, KERAS_VERSIONS["keras3"])


def test_explicit_training_none_tf_keras(roundtrip: Any) -> None:
    """tf_keras reads an explicit ``training=None`` as no flag: graphcheck agrees."""
    pytest.importorskip("tf_keras")
    model = EXPLICIT_NONE_BUILDERS["explicit_none_after_mc"]("tfkeras")
    path, loaded = roundtrip(model, "tfkeras", "h5")
    assert_saved_model_agrees(path, loaded, KERAS_VERSIONS["tfkeras"])


def test_explicit_none_is_read_from_every_format(tmp_path: Path) -> None:
    """``.keras``, ``.h5`` and JSON all record the stored null, apart from no flag."""
    from graphcheck.readers import read_model

    pytest.importorskip("keras")
    model = EXPLICIT_NONE_BUILDERS["explicit_none_submodel"]("keras3")
    for fmt in ("keras", "h5", "json"):
        path = save_model(model, "keras3", fmt, tmp_path)
        layers = {layer.name: layer for layer in read_model(str(path)).model.layers}
        assert layers["sub"].calls[0].training_null, fmt
        assert not layers["mc"].calls[0].training_null, fmt
        assert layers["mc"].calls[0].training is True, fmt
