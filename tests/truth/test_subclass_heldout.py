"""Subclassed Keras 3 models whose ``call`` decides ``training`` in Python.

graphcheck traces a subclassed model's ``call`` into a Functional graph and answers
with the Functional rules of Keras 3.0-3.15 (fit() and predict() push their value
into every call). A subclass's own ``call`` is plain Python, and Keras 3.15.1 does
something else there (measured here, one real run each):

- a ``call`` without a ``training`` parameter is called by fit() and predict()
  without one (``Trainer.train_step``: ``self(x)``), so inside it nothing is in
  training mode: its Dropout stays off in fit(). graphcheck answers this (the
  describer records whether ``call`` takes ``training``); the first test checks it;
- a flag passed in ``call`` (``self.encoder(x, training=False)``, an MC dropout's
  ``training=True``) wins over fit()/predict()'s value, and stays in the shared call
  context for the layers called after it.

graphcheck traces such a ``call`` once more under each scenario's call context and
takes the value Keras resolves for every call there.

Nested inside a Functional (or Sequential) model, the subclass's call receives the
value the Functional pushes (fit() True, predict() False) or, under model(x), the
one left in the context by the call before it; inside its Python ``call`` the same
holds as at the top, and what its last call leaves in the context reaches the
calls after it in the Functional. graphcheck reads each call's value from the
trace made under the value the subclass's own call received (nested twice too).
"""

from __future__ import annotations

from typing import Any

import pytest

keras = pytest.importorskip("keras")
import numpy as np  # noqa: E402
from subclass_models import (  # noqa: E402
    NESTED,
    EncoderInInference,
    McDropoutInASubclass,
    McDropoutThenHead,
    NoTrainingArgument,
    PlainDropout,
    in_a_functional,
)
from test_live import assert_matches_runtime  # noqa: E402

from graphcheck import analyse  # noqa: E402

pytestmark = pytest.mark.truth


def test_call_without_training_parameter_runs_fit_as_a_direct_call(tmp_path: Any) -> None:
    """No ``training`` parameter: graphcheck answers fit() and predict() as model(x),
    live and rebuilt from the file, and a real fit() step agrees (its Dropout stays off)."""
    from graphcheck.runtime.rebuild import RebuildOptions

    keras.backend.clear_session()
    model = NoTrainingArgument(name="no_training_argument")
    model(np.zeros((1, 8), "float32"))
    live = analyse(model)
    (drop,) = live["stochastic"]
    assert drop["path"] == "drop"
    assert drop["active"] == {"fit": False, "predict": False, "call": False}
    assert_matches_runtime(live, model)
    from graphcheck import load
    from graphcheck.reporters.analysis_text import model_text

    assert "NoTrainingArgument.call takes no training argument" in model_text(
        load(model).analyse()
    )
    path = tmp_path / "no_training_argument.keras"
    model.save(path)
    rebuilt = analyse(str(path), rebuild=RebuildOptions(trust_model=True))
    assert [s["active"] for s in rebuilt["stochastic"]] == [drop["active"]]
    keras.backend.clear_session()
    assert_matches_runtime(rebuilt, keras.saving.load_model(path, compile=False))


def test_plain_subclass_dropout_fires_in_fit() -> None:
    """No flag in code: the Dropout gets fit()'s True through the call context (the
    trace's stored default False is not a flag the code passed)."""
    keras.backend.clear_session()
    model = PlainDropout(name="plain")
    model(np.zeros((1, 8), "float32"))
    entry = analyse(model)
    (drop,) = entry["stochastic"]
    assert drop["active"] == {"fit": True, "predict": False, "call": False}
    assert_matches_runtime(entry, model)


def test_plain_subclass_nested_in_a_functional() -> None:
    """The same subclass called inside a Functional model: fit() pushes True into its
    call, and its Dropout fires; graphcheck says it never does."""
    keras.backend.clear_session()
    inner = PlainDropout(name="plain")
    inner(np.zeros((1, 8), "float32"))
    inputs = keras.Input((8,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(inner(inputs)), name="outer")
    entry = analyse(model)
    (drop,) = entry["stochastic"]
    assert drop["active"]["fit"] is True
    assert_matches_runtime(entry, model)


CASES = {
    # case: (class, a call whose answer the Functional rules get wrong, the scenario)
    "encoder_in_inference": (EncoderInInference, "encoder/enc_dropout", "fit"),
    "mc_dropout_then_head": (McDropoutThenHead, "head_dropout", "predict"),
    # the MC dropout's subclass called inside another subclass's call
    "twice_nested": (McDropoutInASubclass, "mc_inner/mc", "predict"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_decided_in_a_subclass_call(case: str) -> None:
    """A flag passed in ``call`` wins over fit()/predict()'s value and stays in the
    call context for the calls after it: graphcheck's answer for one such call, then
    for every call, against the same object's real runs."""
    from graphcheck.runtime import observe, synthesise_inputs, synthesise_targets

    cls, path, scenario = CASES[case]
    keras.backend.clear_session()
    model = cls(name=case)
    model(np.zeros((1, 8), "float32"))
    entry = analyse(model)
    static = {item["path"]: item["active"][scenario] for item in entry["stochastic"]}
    inputs = synthesise_inputs(model)
    observed = observe(
        model, inputs, scenarios=(scenario,), targets=synthesise_targets(model, inputs)
    ).active[scenario]
    assert observed[path] == [static[path]], f"{path} in {scenario}"
    assert_matches_runtime(entry, model)
    if case == "encoder_in_inference":  # the report does not call the flag ignored
        from graphcheck import load
        from graphcheck.reporters.analysis_text import model_text

        text = model_text(load(model).analyse())
        assert "called with training=False)" in text and "ignores" not in text


@pytest.mark.parametrize("cls", [NoTrainingArgument, McDropoutThenHead])
def test_validate_rebuild_agrees_on_a_python_call(cls: type, tmp_path: Any) -> None:
    """validate --rebuild --trust-model: every scenario agrees, model(x, training=True)
    included (it reaches a call that takes no training; fit() does not), and an MC
    dropout's predict() is found to vary (two predict() calls of validate's own)."""
    from graphcheck.runtime.validate import ValidationOptions, validate_model

    keras.backend.clear_session()
    model = cls(name="python_call")
    model(np.zeros((1, 8), "float32"))
    path = tmp_path / "python_call.keras"
    model.save(path)
    result = validate_model(str(path), ValidationOptions(trust_model=True, rebuild=True))
    assert result.agree, [d.message for d in result.disagreements]
    assert result.runtime_deterministic is (cls is NoTrainingArgument)


@pytest.mark.parametrize(
    ("case", "sequential"),
    [(case, False) for case in sorted(NESTED)] + [("mc_dropout_then_head", True)],
)
def test_flags_in_a_subclass_nested_in_a_functional(case: str, sequential: bool) -> None:
    """fit() and predict() push their value into the nested subclass's call, and
    model(x) gives it the value the call before it left; inside its Python ``call``
    a flag its code passes still wins and stays in the context, through the
    BatchNormalization after it in the Functional (or Sequential)."""
    keras.backend.clear_session()
    model = in_a_functional(NESTED[case], case, sequential)
    assert_matches_runtime(analyse(model), model)


def test_subclass_nested_in_a_functional_rebuilt(tmp_path: Any) -> None:
    """The same from a .keras file, rebuilt (``--rebuild --trust-model``); twice
    nested, the next test rebuilds it through validate."""
    from graphcheck.runtime.rebuild import RebuildOptions

    keras.backend.clear_session()
    path = tmp_path / "nested.keras"
    in_a_functional(McDropoutThenHead, "mc_dropout_then_head").save(path)
    rebuilt = analyse(str(path), rebuild=RebuildOptions(trust_model=True))
    keras.backend.clear_session()
    assert_matches_runtime(rebuilt, keras.saving.load_model(path, compile=False))


def test_validate_rebuild_agrees_on_a_nested_python_call(tmp_path: Any) -> None:
    """validate --rebuild --trust-model on a subclass inside a subclass inside a
    Functional: all five scenarios agree, and predict() varies (the MC dropout)."""
    from graphcheck.runtime.validate import ValidationOptions, validate_model

    keras.backend.clear_session()
    path = tmp_path / "nested.keras"
    in_a_functional(McDropoutInASubclass, "twice_nested").save(path)
    result = validate_model(str(path), ValidationOptions(trust_model=True, rebuild=True))
    assert result.agree, [d.message for d in result.disagreements]
    assert result.runtime_deterministic is False
