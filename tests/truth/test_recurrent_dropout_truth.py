"""Where a recurrent layer's dropout masks, and who reads the masked values.

Each model is saved as ``.keras``, reloaded, and its stochastic layer is called by
itself in training mode with its random state put back before every call, so the
same mask is drawn each time. Perturbing one position of a tensor then shows
whether the layer read it through a mask (the output does not move) and whether the
layer's output carries the mask (its values there are exactly 0). The two tensors
are perturbed separately: the layer's input (for ``recurrent_dropout``, its initial
state) and the layer's output as its consumer reads it. graphcheck's ``masks``,
``consumers``, ``masked_inside``, ``output_consumers``, ``internal`` and
``masks_gradient_of`` must say what was seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from agreement import model_entry
from builders import keras_module

pytestmark = pytest.mark.truth

SEQ = (3, 4)  # timesteps, features
BATCH = 2
# An LSTM draws one mask per gate (four; a GRU three): a position is ignored only
# where every gate's mask drops it, so the RNNs use a high rate (0.9: two thirds).


def gru_recurrent_only(K: Any) -> Any:
    """A Dense, then a GRU with recurrent dropout only (no input dropout)."""
    seq = K.Input(shape=SEQ, name="seq")
    h = K.layers.Dense(4, name="pre")(seq)
    h = K.layers.GRU(5, recurrent_dropout=0.9, seed=1, name="rnn")(h)
    return K.Model(seq, K.layers.Dense(2, name="head")(h), name="gru_recurrent_only")


def lstm_state(K: Any) -> Any:
    """The model input feeds an LSTM with input and recurrent dropout, its initial
    state passed as model inputs too (one step: h0 reaches the output only through
    the recurrent kernel, behind the state mask); a Dense reads its output."""
    seq = K.Input(shape=(1, SEQ[1]), name="seq")
    h0 = K.Input(shape=(5,), name="h0")
    c0 = K.Input(shape=(5,), name="c0")
    lstm = K.layers.LSTM(5, dropout=0.9, recurrent_dropout=0.9, seed=1, name="rnn")
    h = lstm(seq, initial_state=[h0, c0])
    return K.Model([seq, h0, c0], K.layers.Dense(2, name="head")(h), name="lstm_state")


def dropout_before_lstm(K: Any) -> Any:
    """Control: a Dropout masks the sequence, and the LSTM after it reads the mask."""
    seq = K.Input(shape=SEQ, name="seq")
    h = K.layers.Dropout(0.5, seed=1, name="rnn")(seq)
    h = K.layers.LSTM(5, name="lstm")(h)
    return K.Model(seq, K.layers.Dense(2, name="head")(h), name="dropout_before_lstm")


def _call(layer: Any, args: list[np.ndarray], state: list[np.ndarray]) -> np.ndarray:
    """One training-mode call of ``layer`` on ``args`` with its random state put back."""
    for variable, value in zip(layer.non_trainable_variables, state, strict=True):
        variable.assign(value)
    if len(args) == 1:
        return np.asarray(layer(args[0], training=True))
    return np.asarray(layer(args[0], initial_state=args[1:], training=True))


def masked_positions(
    layer: Any, args: list[np.ndarray], which: int, state: list[np.ndarray]
) -> set[tuple[int, ...]]:
    """Positions of ``args[which]`` (over batch and last axis) the training call ignores."""
    base = _call(layer, args, state)
    assert np.array_equal(base, _call(layer, args, state)), "the mask is not reproducible"
    ignored = set()
    target = args[which]
    for b in range(target.shape[0]):
        for f in range(target.shape[-1]):
            moved = [a.copy() for a in args]
            moved[which][b, ..., f] += 3.0
            if np.array_equal(_call(layer, moved, state), base):
                ignored.add((b, f))
    return ignored


def output_zeroed(
    layer: Any, args: list[np.ndarray], ignored: set[tuple[int, ...]], state: list[np.ndarray]
) -> bool:
    """Whether the layer's output is exactly 0 at every ignored input position."""
    out = _call(layer, args, state)
    if out.shape != args[0].shape or not ignored:
        return False
    return all(np.all(out[b, ..., f] == 0) for b, f in ignored)


def consumer_reads_every_position(consumer: Any, value: np.ndarray) -> bool:
    """Perturbing any position of ``value`` moves the consumer's training-mode output."""
    base = np.asarray(consumer(value, training=True))
    for b in range(value.shape[0]):
        for f in range(value.shape[-1]):
            moved = value.copy()
            moved[b, ..., f] += 3.0
            if np.array_equal(np.asarray(consumer(moved, training=True)), base):
                return False
    return True


def lstm_after_dense(K: Any) -> Any:
    """A Dense, then an LSTM with input dropout: the Dense's gradient is masked too."""
    seq = K.Input(shape=SEQ, name="seq")
    h = K.layers.Dense(4, name="pre")(seq)
    h = K.layers.LSTM(5, dropout=0.9, seed=1, name="rnn")(h)
    return K.Model(seq, K.layers.Dense(2, name="head")(h), name="lstm_after_dense")


CASES = [lstm_after_dense, gru_recurrent_only, lstm_state, dropout_before_lstm]


@pytest.mark.parametrize("build", CASES, ids=lambda f: f.__name__)
def test_rnn_dropout_masks_inside_the_layer(tmp_path: Any, build: Any) -> None:
    """graphcheck's masks, consumers and gradients match what perturbing shows."""
    from graphcheck import analyse

    pytest.importorskip("keras")
    K = keras_module("keras3")
    path = tmp_path / "m.keras"
    build(K).save(path)
    model = K.saving.load_model(path, compile=False)
    (item,) = [s for s in model_entry(analyse(str(path)))["stochastic"] if s["path"] == "rnn"]
    layer = model.get_layer("rnn")
    names = [layer.name for layer in model.layers]
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(BATCH, *t.shape[1:])).astype("float32") for t in model.inputs]
    # The layer's own arguments: the sequence (through "pre" where there is one),
    # then the initial state.
    args = [np.asarray(model.get_layer("pre")(inputs[0]))] if "pre" in names else inputs

    state = [np.asarray(v) for v in layer.non_trainable_variables]  # one mask throughout
    on_input = masked_positions(layer, args, 0, state)
    assert bool(on_input) == bool(item["masks"])
    if on_input:
        (mask,) = item["masks"]
        assert mask["producer"] == ("pre" if "pre" in names else "seq")
    zeroed = output_zeroed(layer, args, on_input, state)
    assert item["masked_inside"] is not zeroed
    if item["masked_inside"]:
        assert item["consumers"] == ["rnn"]
        # Its output reaches its reader with no mask: every position matters.
        reader = model.get_layer(item["output_consumers"][0])
        assert consumer_reads_every_position(reader, _call(layer, args, state))
        assert "rnn" in item["masks_gradient_of"]
    else:
        assert item["consumers"] == item["output_consumers"] == ["lstm"]
    if len(args) > 1:  # recurrent dropout masks the (initial) state inside the layer
        assert masked_positions(layer, args, 1, state)
        assert item["internal"] == ["recurrent state"]
    if "pre" in names:  # upstream gradients are masked only through a masked input
        assert ("pre" in item["masks_gradient_of"]) is bool(on_input)
