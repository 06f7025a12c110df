"""Attention dropout masks the attention weights, computed from the query and the key.

MultiHeadAttention, GroupQueryAttention (Keras 3), Attention and AdditiveAttention
apply their ``dropout`` to the softmaxed attention scores, which Keras computes from
the query and the key (the value when no key is passed). graphcheck lists the
producers of those inputs in ``masks`` with kind ``attention_weights``. Observed
here on the reloaded model: each layer is called on its real inputs with
``return_attention_scores=True``, and each argument is perturbed in turn; the
arguments whose change moves the attention weights are exactly those graphcheck
names, in every format each Keras writes, positional, list and keyword calls alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from builders import FLAVOURS, KERAS_VERSIONS, keras_module
from saving import FORMATS

pytestmark = pytest.mark.truth

PRODUCERS = {"query": "q_proj", "value": "v_proj", "key": "k_proj"}
# Per attention layer: how it is called (positional, list or keyword) and with which arguments.
CALLS = {
    "mha": ("positional", ("query", "value")),
    "mha_key": ("positional", ("query", "value", "key")),
    "mha_keywords": ("keyword", ("query", "value", "key")),
    "att": ("list", ("query", "value")),
    "att_key": ("list", ("query", "value", "key")),
    "additive": ("list", ("query", "value", "key")),
    "gqa": ("positional", ("query", "value", "key")),
}


def _layer(K: Any, name: str) -> Any:
    if name.startswith("mha"):
        return K.layers.MultiHeadAttention(2, 4, dropout=0.5, name=name)
    if name == "gqa":
        return K.layers.GroupQueryAttention(4, 2, 1, dropout=0.5, name=name)
    if name == "additive":
        return K.layers.AdditiveAttention(dropout=0.5, name=name)
    return K.layers.Attention(dropout=0.5, name=name)


def _call(
    layer: Any, style: str, tensors: dict[str, Any], arguments: tuple[str, ...], **extra: Any
) -> Any:
    values = [tensors[a] for a in arguments]
    if style == "list":
        return layer(values, **extra)
    if style == "keyword":
        return layer(**dict(zip(arguments, values, strict=True)), **extra)
    return layer(*values, **extra)


def names(flavour: str) -> list[str]:
    return [n for n in CALLS if n != "gqa" or flavour == "keras3"]  # GQA: Keras 3 only


def attention_model(flavour: str) -> Any:
    K = keras_module(flavour)
    inputs = {
        "query": K.Input(shape=(3, 4), name="q_in"),
        "value": K.Input(shape=(5, 4), name="v_in"),
        "key": K.Input(shape=(5, 4), name="k_in"),
    }
    tensors = {a: K.layers.Dense(4, name=PRODUCERS[a])(t) for a, t in inputs.items()}
    outputs = [_call(_layer(K, n), CALLS[n][0], tensors, CALLS[n][1]) for n in names(flavour)]
    return K.Model(list(inputs.values()), outputs, name="attention_dropout")


def weights_depend_on(
    layer: Any, style: str, arguments: tuple[str, ...], tensors: dict[str, Any]
) -> set[str]:
    """The arguments whose perturbation changes the layer's attention weights."""

    def scores(values: dict[str, Any]) -> np.ndarray:
        _, weights = _call(
            layer, style, values, arguments, return_attention_scores=True, training=False
        )
        return np.asarray(weights)

    base = scores(tensors)
    moved = set()
    rng = np.random.default_rng(1)
    for argument in arguments:
        shifted = dict(tensors)
        shifted[argument] = tensors[argument] + rng.normal(0, 1, tensors[argument].shape).astype(
            "float32"
        )
        if not np.allclose(scores(shifted), base, atol=1e-6):
            moved.add(argument)
    return moved


@pytest.mark.parametrize(("flavour", "fmt"), [(f, fmt) for f in FLAVOURS for fmt in FORMATS[f]])
def test_attention_dropout_masks_weights_from_query_and_key(
    tmp_path: Path, flavour: str, fmt: str
) -> None:
    """The inputs graphcheck says the masked weights come from are those that move them."""
    from saving import load_model, save_model

    from graphcheck import analyse

    built = attention_model(flavour)
    path = save_model(built, flavour, fmt, tmp_path)
    try:
        model = load_model(path, flavour, fmt)
    except TypeError:
        # Keras 3.15 cannot load an Attention layer from its own .h5 (its score_mode
        # comes back as a function): observe the model that was saved instead.
        assert (flavour, fmt) == ("keras3", "h5")
        model = built
    entry = analyse(str(path), keras_version=KERAS_VERSIONS[flavour])
    claimed = {s["path"]: s for s in entry["stochastic"] if s["kind"] == "attention_dropout"}
    assert set(claimed) == set(names(flavour))

    rng = np.random.default_rng(0)
    shapes = {"query": (2, 3, 4), "value": (2, 5, 4), "key": (2, 5, 4)}
    tensors = {
        a: np.asarray(model.get_layer(PRODUCERS[a])(rng.normal(0, 1, shapes[a]).astype("float32")))
        for a in PRODUCERS
    }
    for name in names(flavour):
        style, arguments = CALLS[name]
        observed = weights_depend_on(model.get_layer(name), style, arguments, tensors)
        masks = claimed[name]["masks"]
        assert {m["kind"] for m in masks} == {"attention_weights"}, name
        assert {m["producer"] for m in masks} == {PRODUCERS[a] for a in observed}, name
        assert {m["argument"] for m in masks} == observed, name


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_text_names_the_inputs_of_the_weights(tmp_path: Path, flavour: str) -> None:
    from saving import save_model

    from graphcheck.api import load
    from graphcheck.reporters.analysis_text import model_text

    path = save_model(attention_model(flavour), flavour, FORMATS[flavour][0], tmp_path)
    text = model_text(load(path).analyse(KERAS_VERSIONS[flavour]))
    assert (
        "mha_key (MultiHeadAttention, dropout 0.5) masks the attention weights computed from "
        "the output of q_proj (Dense, 4 units" in text
    )
    assert "(query) and the output of k_proj (Dense, 4 units" in text
