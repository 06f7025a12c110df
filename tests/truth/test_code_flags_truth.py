"""A subclassed model's own code passing ``training=``: Keras honours it in every release.

Keras 3.0-3.15 ignore a ``training=`` flag *stored* in a Functional graph under fit()
and predict() (they push their own value through every node). A subclassed model's
``call`` is code, not a stored graph: what it passes, Keras hands to the layer, and a
Functional submodel passes it on to its layers. graphcheck traces such a model (live,
or ``--rebuild``) and must say so: here an encoder called with ``training=False``
keeps its dropout off in fit(), against real runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

keras = pytest.importorskip("keras")

from test_live import assert_matches_runtime  # noqa: E402

pytestmark = pytest.mark.truth


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class InferenceEncoderNet(keras.Model):
    """Calls its Functional encoder in inference mode, its head dropout as fit() says."""

    def __init__(self, width: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width = width
        enc_in = keras.Input(shape=(width,), name="enc_in")
        hidden = keras.layers.Dense(width, activation="relu", name="enc_dense")(enc_in)
        hidden = keras.layers.Dropout(0.4, name="enc_dropout")(hidden)
        self.encoder = keras.Model(enc_in, hidden, name="encoder")
        self.drop = keras.layers.Dropout(0.5, name="head_dropout")
        self.out = keras.layers.Dense(1, name="out")

    def call(self, x: Any, training: Any = None) -> Any:
        return self.out(self.drop(self.encoder(x, training=False), training=training))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "width": self.width}


def _model() -> Any:
    keras.utils.set_random_seed(0)
    model = InferenceEncoderNet()
    model(keras.ops.ones((2, 8)))
    return model


def _activity(entry: dict[str, Any]) -> dict[str, dict[str, bool]]:
    return {s["path"]: s["active"] for s in entry["stochastic"]}


def test_live_subclass_passing_training_false_keeps_encoder_dropout_off() -> None:
    from graphcheck import analyse

    model = _model()
    entry = analyse(model)
    active = _activity(entry)
    assert active["encoder/enc_dropout"] == {"fit": False, "predict": False, "call": False}
    assert active["head_dropout"]["fit"] is True
    assert_matches_runtime(entry, model)


def test_rebuilt_subclass_passing_training_false_matches_its_runs(tmp_path: Path) -> None:
    from graphcheck import analyse
    from graphcheck.runtime.rebuild import RebuildOptions

    path = tmp_path / "inference_encoder.keras"
    _model().save(path)
    entry = analyse(str(path), rebuild=RebuildOptions(trust_model=True))
    assert _activity(entry)["encoder/enc_dropout"]["fit"] is False
    assert_matches_runtime(entry, keras.saving.load_model(path, compile=False))
