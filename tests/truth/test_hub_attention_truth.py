"""KerasHub's CachedMultiHeadAttention: the attention layer is the stochastic call.

It subclasses MultiHeadAttention and runs its ``_compute_attention``, so its
``dropout`` zeroes attention weights through the Dropout it holds. graphcheck must
report it as MultiHeadAttention is reported: the attention layer, kind
``attention_dropout``, masking the weights computed from its query and key, and
not its Dropout again. Observed here: the held Dropout's call receives the
attention weights (batch, heads, query length, key length) and only in training
mode changes them; the layer's output varies between training calls and not at
inference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from agreement import model_entry
from builders import keras_module

pytestmark = pytest.mark.truth
pytest.importorskip("keras_hub")

HEADS, KEY_DIM, LENGTH = 2, 4, 5


def cached_attention_model(K: Any) -> Any:
    """A Functional whose graph calls a CachedMultiHeadAttention on a projection."""
    from keras_hub.layers import CachedMultiHeadAttention

    x = K.Input(shape=(LENGTH, 8), name="x")
    h = K.layers.Dense(8, name="proj")(x)
    att = CachedMultiHeadAttention(HEADS, KEY_DIM, dropout=0.5, name="att")
    out = att(h, h)
    return K.Model(x, K.layers.Dense(1, name="head")(out), name="cached_attention")


def decoder_model(K: Any) -> Any:
    """A KerasHub TransformerDecoder, which holds a CachedMultiHeadAttention."""
    from keras_hub.layers import TransformerDecoder

    x = K.Input(shape=(LENGTH, 8), name="x")
    h = TransformerDecoder(16, HEADS, dropout=0.5, name="decoder")(x)
    return K.Model(x, K.layers.Dense(1, name="head")(h), name="hub_decoder")


def observe_attention_dropout(att: Any, value: np.ndarray) -> dict[str, Any]:
    """Spy on the held Dropout: what it receives, and whether it changes it."""
    seen: list[tuple[tuple[int, ...], bool]] = []
    dropout = att._dropout_layer
    original = dropout.call

    def call(inputs: Any, training: Any = None) -> Any:
        result = original(inputs, training=training)
        changed = not np.array_equal(np.asarray(result), np.asarray(inputs))
        seen.append((tuple(inputs.shape), changed))
        return result

    dropout.call = call
    try:
        train = [np.asarray(att(value, value, training=True)) for _ in range(2)]
        infer = [np.asarray(att(value, value, training=False)) for _ in range(2)]
    finally:
        dropout.call = original
    return {
        "shapes": {shape for shape, _ in seen},
        "changed": [changed for _, changed in seen],
        "train_varies": not np.array_equal(*train),
        "infer_varies": not np.array_equal(*infer),
    }


def test_cached_attention_graph_layer(tmp_path: Path) -> None:
    """A graph call of CachedMultiHeadAttention: attention dropout on its query and key."""
    from graphcheck import analyse

    K = keras_module("keras3")
    path = tmp_path / "m.keras"
    cached_attention_model(K).save(path)
    model = K.saving.load_model(path, compile=False)
    entry = model_entry(analyse(str(path)))
    (item,) = entry["stochastic"]
    assert (item["path"], item["class_name"], item["kind"]) == (
        "att", "CachedMultiHeadAttention", "attention_dropout")
    assert {(m["producer"], m["kind"]) for m in item["masks"]} == {("proj", "attention_weights")}
    assert item["active"] == {"fit": True, "predict": False, "call": False}
    assert not entry["unknown_layers"]
    value = np.random.default_rng(0).normal(size=(2, LENGTH, 8)).astype("float32")
    seen = observe_attention_dropout(model.get_layer("att"), value)
    assert seen["shapes"] == {(2, HEADS, LENGTH, LENGTH)}  # attention weights
    assert seen["changed"] == [True, True, False, False]
    assert seen["train_varies"] and not seen["infer_varies"]


def test_cached_attention_held_by_a_decoder() -> None:
    """Held by a TransformerDecoder: the attention layer is listed, its Dropout is not."""
    from graphcheck import analyse

    K = keras_module("keras3")
    model = decoder_model(K)
    inner = {
        item["path"]: (item["class_name"], item["kind"])
        for item in model_entry(analyse(model))["inner_stochastic"]
    }
    attention = [path for path, (cls, _) in inner.items() if cls == "CachedMultiHeadAttention"]
    (path,) = attention
    assert inner[path][1] == "attention_dropout"
    assert not [p for p in inner if p.startswith(f"{path}/")]
    att = model.get_layer("decoder")._self_attention_layer
    assert path.endswith(att.name)
    value = np.random.default_rng(0).normal(size=(2, LENGTH, 8)).astype("float32")
    seen = observe_attention_dropout(att, value)
    assert seen["shapes"] == {(2, HEADS, LENGTH, LENGTH)}
    assert seen["changed"] == [True, True, False, False]
