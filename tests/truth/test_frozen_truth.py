"""Frozen by its own flag, by a submodel, or by the top model: still dropping in fit().

``trainable=False`` freezes weights and never stops dropout, wherever it is set: on
the Dropout itself (``model.layers[-1].trainable = False``), on the top Functional
or Sequential, or on a nested Keras 2 Sequential (whose config omits its own flag
while tf_keras writes it on every layer inside). For each case, in every format
each Keras writes: the built model says which layers are declared frozen and by
what; graphcheck must call exactly those ``inside_frozen`` and name in
``frozen_by`` something that is ``trainable=False`` in the built model; the
reloaded model, observed in ``fit()``, still drops, as graphcheck predicts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from builders import FLAVOURS, KERAS_VERSIONS, keras_module
from saving import FORMATS

from graphcheck.runtime import observe, strip_call_suffixes, synthesise_inputs
from graphcheck.runtime.observe import iter_layers

pytestmark = pytest.mark.truth


def own_flag(flavour: str) -> Any:
    """The quoted demonstration: trainable=False set on the Dropout itself."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(8,), name="x")
    x = K.layers.Dense(8, name="dense")(inputs)
    x = K.layers.Dropout(0.5, name="own_dropout")(x)
    model = K.Model(inputs, K.layers.Dense(1, name="head")(x), name="own_flag")
    model.get_layer("own_dropout").trainable = False
    return model


def frozen_top_functional(flavour: str) -> Any:
    """A top-level Functional with trainable=False."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(8,), name="x")
    x = K.layers.Dense(8, name="dense")(inputs)
    x = K.layers.Dropout(0.5, name="top_dropout")(x)
    model = K.Model(inputs, K.layers.Dense(1, name="head")(x), name="frozen_top_functional")
    model.trainable = False
    return model


def frozen_top_sequential(flavour: str) -> Any:
    """A top-level Sequential with trainable=False."""
    K = keras_module(flavour)
    model = K.Sequential(
        [
            K.Input(shape=(8,)),
            K.layers.Dense(8, name="dense"),
            K.layers.Dropout(0.5, name="seq_dropout"),
            K.layers.Dense(1, name="head"),
        ],
        name="frozen_top_sequential",
    )
    model.trainable = False
    return model


def frozen_nested_sequential(flavour: str) -> Any:
    """A frozen Sequential inside a trainable model (Keras 2 files omit its flag)."""
    K = keras_module(flavour)
    base = K.Sequential(
        [
            K.Input(shape=(8,)),
            K.layers.Dense(8, name="base_dense"),
            K.layers.Dropout(0.5, name="base_dropout"),
        ],
        name="base",
    )
    base.trainable = False
    inputs = K.Input(shape=(8,), name="x")
    outputs = K.layers.Dense(1, name="head")(base(inputs))
    return K.Model(inputs, outputs, name="frozen_nested_sequential")


CASES_BUILDERS: dict[str, Callable[[str], Any]] = {
    "own_flag": own_flag,
    "frozen_top_functional": frozen_top_functional,
    "frozen_top_sequential": frozen_top_sequential,
    "frozen_nested_sequential": frozen_nested_sequential,
}
CASES = [
    (flavour, builder, fmt)
    for flavour in FLAVOURS
    for builder in CASES_BUILDERS
    for fmt in FORMATS[flavour]
]


def declared_frozen(model: Any) -> tuple[dict[str, bool], set[str]]:
    """From the built model: per layer path, is it declared frozen; and what is trainable=False.

    The second value holds every name graphcheck may give in ``frozen_by``: the
    path of a layer or nested model whose flag is False, and the top model's name
    when its own flag is False.
    """
    frozen_names = {model.name} if not model.trainable else set()
    declared: dict[str, bool] = {}
    enclosing: dict[str, bool] = {"": not model.trainable}
    for path, layer in iter_layers(model):
        parent = path.rpartition("/")[0]
        above = any(
            enclosing[p] for p in enclosing if p == "" or parent == p or parent.startswith(p + "/")
        )
        if not layer.trainable:
            frozen_names.add(path)
        declared[path] = above or not layer.trainable
        if hasattr(layer, "layers"):
            enclosing[path] = not layer.trainable
    return declared, frozen_names


@pytest.mark.parametrize(("flavour", "builder", "fmt"), CASES)
def test_frozen_dropout_still_drops(roundtrip: Any, flavour: str, builder: str, fmt: str) -> None:
    """inside_frozen/frozen_by follow the built model's flags; fit() still drops, as predicted."""
    from graphcheck import analyse

    built = CASES_BUILDERS[builder](flavour)
    declared, frozen_names = declared_frozen(built)
    path, model = roundtrip(built, flavour, fmt)
    entry = analyse(str(path), keras_version=KERAS_VERSIONS[flavour])
    (item,) = entry["stochastic"]
    group = strip_call_suffixes(item["path"])
    assert declared[group], "the case must declare its dropout frozen"
    assert item["inside_frozen"] is True
    assert item["frozen_by"] in frozen_names, (item["frozen_by"], frozen_names)
    if item["frozen_by_kind"] == "layer":
        assert item["frozen_by"] == item["path"]
    layers = {strip_call_suffixes(layer["path"]): layer for layer in entry["layers"]}
    for layer_path, is_frozen in declared.items():
        if layer_path in layers and layers[layer_path]["frozen"] is not None:
            assert layers[layer_path]["frozen"] is is_frozen, layer_path

    obs = observe(model, synthesise_inputs(model), scenarios=("fit",))
    assert obs.active["fit"][group] == [True], "Keras must still drop in fit()"
    assert item["active"]["fit"] is True


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_text_says_the_flag_does_not_stop_it(tmp_path: Any, flavour: str) -> None:
    """The text report says in words what freezes the Dropout and that it still fires."""
    from saving import save_model

    from graphcheck.api import load
    from graphcheck.reporters.analysis_text import model_text

    def text(built: Any, fmt: str) -> str:
        return model_text(
            load(save_model(built, flavour, fmt, tmp_path)).analyse(KERAS_VERSIONS[flavour])
        )

    assert "trainable=False on this layer does not stop it; when active" in text(
        own_flag(flavour), "h5"
    )
    top = text(frozen_top_functional(flavour), "keras")
    assert (
        "inside the frozen top model frozen_top_functional (trainable=False does not stop it" in top
    )
    assert "frozen top model frozen_top_functional (Functional, trainable=False): 1 of 1" in top
