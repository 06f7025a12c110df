"""What a user's layer does with the layers it holds, against real runs (Keras 3).

graphcheck calls such a layer symbolically (``graphcheck.runtime.random_draws``) and
records which of its sublayers' ``call`` runs, with which ``training`` value, and the
value its call leaves in Keras's shared call context. Two user layers here:

- ``TwoDropouts`` holds two Dropouts and calls one: the other acts in no run, so it
  is not listed (nor GC101 for it in a frozen holder);
- ``FlipBlock`` calls a RandomFlip without passing ``training``: under ``model(x)``
  (no value anywhere) the flip resolves its own default, True, and Keras 3.0-3.15
  leave it in the call context, so the BatchNormalization after the block uses
  batch statistics there, and the flip itself acts.

Each model is compared call by call with its real fit(), predict() and model(x)
(``assert_matches_runtime``), live and, for the first, saved and rebuilt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import pytest
from test_live import assert_matches_runtime

from graphcheck import analyse, load
from graphcheck.api import findings
from graphcheck.runtime.rebuild import RebuildOptions

pytestmark = pytest.mark.truth


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class TwoDropouts(keras.layers.Layer):
    """Holds two Dropouts; its call uses only ``used``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(6, name="dense")
        self.used = keras.layers.Dropout(0.5, name="used")
        self.unused = keras.layers.Dropout(0.5, name="unused")

    def call(self, x: Any) -> Any:
        return self.used(self.dense(x))


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class FlipBlock(keras.layers.Layer):
    """Calls a RandomFlip (``call(data, training=True)``) passing no ``training``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flip = keras.layers.RandomFlip("horizontal", seed=1, name="flip")

    def call(self, x: Any) -> Any:
        return self.flip(x)


def two_dropouts_model(frozen: bool) -> Any:
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(6,), name="x")
    block = TwoDropouts(name="block")
    block.trainable = not frozen
    return keras.Model(inputs, keras.layers.Dense(1, name="head")(block(inputs)), name="two")


def flip_model() -> Any:
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(8, 8, 3), name="image")
    x = FlipBlock(name="block")(inputs)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(1, name="head")(x), name="flipped")


def _held(entry: dict[str, Any]) -> set[str]:
    return {item["path"] for item in entry["inner_stochastic"]}


@pytest.mark.parametrize("frozen", [False, True])
def test_a_dropout_held_but_never_called_is_not_listed(frozen: bool) -> None:
    """Live: only the Dropout the call uses is listed, active in fit() as real runs
    show; frozen, GC101 names it and not the other."""
    model = two_dropouts_model(frozen)
    entry = analyse(model)
    assert _held(entry) == {"block/used"}
    assert entry["inner_stochastic"][0]["active"] == {"fit": True, "predict": False, "call": False}
    assert_matches_runtime(entry, model)
    gc101 = sorted(f.path for f in findings(load(model).analyse()) if f.rule == "GC101")
    assert gc101 == (["block/used"] if frozen else [])


def test_rebuilt_answer_equals_the_live_one(tmp_path: Path) -> None:
    """Saved and rebuilt (no weights read), the same sublayers and activity, and the
    same as the loaded file's real runs; validate's comparison finds nothing wrong."""
    from graphcheck.runtime import observe, synthesise_inputs, synthesise_targets
    from graphcheck.runtime.validate import compare

    path = tmp_path / "two.keras"
    two_dropouts_model(True).save(path)
    # The class is this module's, registered in this process: trusted to construct.
    entry = analyse(str(path), rebuild=RebuildOptions(trust_model=True))
    assert _held(entry) == {"block/used"}
    keras.backend.clear_session()
    loaded = keras.saving.load_model(path, compile=False)
    assert_matches_runtime(entry, loaded)
    inputs = synthesise_inputs(loaded)
    observation = observe(loaded, inputs, targets=synthesise_targets(loaded, inputs))
    assert compare(load(loaded).analyse(), observation, True).disagreements == ()


def test_a_default_left_in_the_call_context_by_a_held_layer() -> None:
    """model(x): the RandomFlip inside the block resolves its default True and leaves
    it in the call context; the BatchNormalization after it then uses batch statistics
    and the flip acts, as real runs show. fit() and predict() pass their own value."""
    model = flip_model()
    entry = analyse(model)
    (flip,) = entry["inner_stochastic"]
    assert flip["path"] == "block/flip"
    assert flip["active"] == {"fit": True, "predict": False, "call": True}
    (norm,) = entry["mode_dependent"]
    assert norm["mode"]["call"] == "batch", norm
    assert "the sublayer flip (RandomFlip)" in norm["reason"]
    assert_matches_runtime(entry, model)
