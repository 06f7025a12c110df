"""tf_keras layers that draw random numbers in their own code, against real runs.

A user's tf_keras layer calling ``tf.random.uniform`` or a ``tf.random.Generator`` in
``call`` is no class graphcheck's tables know. On a live tf_keras model graphcheck
traces each such holder per ``training`` value and reads the random ops of the
graph (:mod:`graphcheck.runtime.tf_random_draws`). Here every custom layer's real
calls in ``fit()``, ``predict()`` and ``model(x)`` are spied on: a call drew random
numbers when running it again on the same arguments gives another output. Every
custom layer is spied on, the deterministic ones too, so a drawing layer the static
side missed fails the test as a layer it wrongly claims does.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
tf_keras = pytest.importorskip("tf_keras")

from graphcheck import analyse, load  # noqa: E402 - after the import checks
from graphcheck.api import findings  # noqa: E402

pytestmark = pytest.mark.truth

SCENARIOS = ("fit", "predict", "call")


class TrainNoise(tf_keras.layers.Layer):
    """Scales by uniform noise, in training only (``if training:``)."""

    def call(self, x: Any, training: Any = None) -> Any:
        if training:
            return x * tf.random.uniform(tf.shape(x), 0.5, 1.5)
        return x


class AlwaysNoise(tf_keras.layers.Layer):
    """Adds normal noise whatever ``training`` is: random in predict() too. An
    operation seed does not make a stateful op repeat itself: it draws anew every run."""

    def call(self, x: Any) -> Any:
        return x + tf.random.normal(tf.shape(x), stddev=0.1, seed=42)


class GeneratorNoise(tf_keras.layers.Layer):
    """Adds noise from its own ``tf.random.Generator``, inside a ``tf.cond``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.generator = tf.random.Generator.from_seed(3)

    def call(self, x: Any) -> Any:
        return tf.cond(
            tf.reduce_all(tf.math.is_finite(x)),
            lambda: x + self.generator.normal(tf.shape(x), stddev=0.1),
            lambda: x,
        )


class Plain(tf_keras.layers.Layer):
    """Deterministic, with a fixed-seed stateless draw: the same numbers every call."""

    def call(self, x: Any) -> Any:
        return x * 2.0 + tf.random.stateless_uniform(tf.shape(x)[-1:], seed=[1, 2])


class CounterSeeded(tf_keras.layers.Layer):
    """A stateless draw seeded from a counter variable it moves every call."""

    def build(self, input_shape: Any) -> None:
        self.counter = self.add_weight(
            name="counter", shape=(2,), dtype="int64", initializer="zeros", trainable=False
        )

    def call(self, x: Any) -> Any:
        self.counter.assign_add(tf.constant([0, 1], tf.int64))
        return x + tf.random.stateless_uniform(tf.shape(x), seed=self.counter)


class DefaultOnNoise(tf_keras.layers.Layer):
    """Draws when training, its ``call`` default True: model(x) passes no value, so
    tf_keras hands it that default (it draws), predict() passes False."""

    def call(self, x: Any, training: Any = True) -> Any:
        if training:
            return x * tf.random.uniform(tf.shape(x), 0.5, 1.5)
        return x


class McDropout(tf_keras.layers.Layer):
    """Monte Carlo dropout: ``tf.nn.dropout`` whatever ``training`` is."""

    def call(self, x: Any) -> Any:
        return tf.nn.dropout(x, rate=0.5)


class EagerNoise(tf_keras.layers.Layer):
    """Draws with NumPy on concrete values: it runs eagerly only (``dynamic=True``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(dynamic=True, **kwargs)

    def call(self, x: Any) -> Any:
        return x + np.random.default_rng().normal(size=x.shape).astype("float32")

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


class Block(tf_keras.layers.Layer):
    """Holds a Dense, a generator-noise layer, a deterministic layer and a Dropout."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = tf_keras.layers.Dense(6, name="dense")
        self.gen_noise = GeneratorNoise()  # auto-named: generator_noise, generator_noise_1
        self.plain = Plain(name="plain")
        self.dropout = tf_keras.layers.Dropout(0.5, name="dropout")

    def call(self, x: Any) -> Any:
        return self.dropout(self.plain(self.gen_noise(self.dense(x))))


@functools.cache
def custom_model() -> Any:
    """One Functional holding every case, built once for the module. The second block
    is answered from the first one's traces (alike structure), its sublayer named apart."""
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(0)
    inputs = tf_keras.Input(shape=(6,), name="x")
    h = tf_keras.layers.Dense(6, name="dense_in")(inputs)
    h = TrainNoise(name="train_noise")(h)
    h = AlwaysNoise(name="always_noise")(h)
    h = Plain(name="plain")(h)
    h = Block(name="block")(h)
    h = Block(name="block_2")(h)
    return tf_keras.Model(inputs, tf_keras.layers.Dense(1, name="head")(h), name="tfk_random")


def _custom_layers(model: Any) -> dict[str, Any]:
    """Every layer of a class defined here, by the path graphcheck gives it."""
    found = {}
    for layer in model.layers:
        if type(layer).__module__ == __name__:
            found[layer.name] = layer
            for sub in layer._self_tracked_trackables:
                if type(sub).__module__ == __name__:
                    found[f"{layer.name}/{sub.name}"] = sub
    return found


def observe_draws(model: Any, x: np.ndarray) -> dict[str, dict[str, bool]]:
    """Real eager runs of fit(), predict() and model(x): per custom layer and scenario,
    whether any of its calls drew (running it again on the same arguments differs)."""
    seen: dict[str, dict[str, bool]] = {}
    now = {"scenario": ""}
    layers = _custom_layers(model)
    for path, layer in layers.items():
        original = layer.call

        def spy(*args: Any, _original: Any = original, _path: str = path, **kwargs: Any) -> Any:
            out = _original(*args, **kwargs)
            if now["scenario"]:
                again = _original(*args, **kwargs)
                drew = not np.array_equal(np.asarray(out), np.asarray(again))
                by = seen.setdefault(_path, {})
                by[now["scenario"]] = by.get(now["scenario"], False) or drew
            return out

        layer.call = spy
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    y = np.zeros((len(x), 1), np.float32)
    try:
        for name, run in (("fit", lambda: model.fit(x, y, epochs=1, batch_size=len(x), verbose=0)),
                          ("predict", lambda: model.predict(x, batch_size=len(x), verbose=0)),
                          ("call", lambda: model(x))):
            now["scenario"] = name
            run()
            now["scenario"] = ""
    finally:
        for layer in layers.values():
            del layer.call
    return seen


def test_tf_keras_layers_drawing_in_their_own_code_match_real_runs() -> None:
    """Each custom tf_keras layer is reported drawing exactly in the scenarios its real
    calls draw (a holder's call: its own or its sublayers' draws): in fit() only (``if
    training:``), everywhere (plain ``tf.random``; a generator inside a ``tf.cond``,
    below its holder), never for a deterministic one (a fixed-seed stateless draw
    included). The Dropout inside the block is left to the Dropout table. GC103 names
    the layers random in predict()."""
    model = custom_model()
    layers = list(model._flatten_layers(include_self=True))
    nodes = [len(layer._inbound_nodes) for layer in layers]
    entry = analyse(model)
    # The traces leave the live model as it was: no node added.
    assert nodes == [len(layer._inbound_nodes) for layer in layers]
    own = {i["path"]: i for i in entry["inner_stochastic"] if i["own_random"]}
    assert set(own) == {
        "train_noise", "always_noise", "block/generator_noise", "block_2/generator_noise_1"}
    assert all(i["kind"] == "own_random" and i["probe_error"] is None for i in own.values())
    assert own["block_2/generator_noise_1"]["holder"] == "block_2"
    assert own["train_noise"]["draws"] == {"true": True, "false": False, "none": False}
    dropout = [i for i in entry["inner_stochastic"] if i["path"] == "block/dropout"]
    assert [i["own_random"] for i in dropout] == [False]

    x = np.random.default_rng(0).random((4, 6), dtype=np.float32)
    seen = observe_draws(model, x)
    assert set(seen) == set(_custom_layers(model))
    for path, by in seen.items():
        for scenario in SCENARIOS:
            # A holder's call runs its sublayers too: it draws when any of them does.
            claimed = any(
                i["active"][scenario] for i in entry["inner_stochastic"]
                if i["path"] == path or i["path"].startswith(f"{path}/")
            )
            assert by[scenario] is claimed, (path, scenario)
    assert own["train_noise"]["active"] == {"fit": True, "predict": False, "call": False}

    gc103 = sorted(f.path for f in findings(load(model).analyse()) if f.rule == "GC103")
    assert gc103 == ["always_noise", "block/generator_noise", "block_2/generator_noise_1"]


def test_seeds_call_defaults_and_eager_only_layers_match_real_runs() -> None:
    """A stateless op repeats itself for a repeated seed; one seeded from a variable
    the layer moves draws anew every call, and is reported everywhere, as is a Monte
    Carlo dropout calling ``tf.nn.dropout``. A layer whose ``call`` defaults to
    ``training=True`` draws in model(x) too (no value passed: the default). A dynamic
    (eager-only) layer drawing with NumPy cannot be traced: it is reported with its
    activity not known (null) and the reason. Real runs show both drawing."""
    tf_keras.backend.clear_session()
    inputs = tf_keras.Input(shape=(3,), name="x")
    h = McDropout(name="mc_dropout")(CounterSeeded(name="seeded")(inputs))
    h = EagerNoise(name="eager_noise")(DefaultOnNoise(name="default_on")(h))
    model = tf_keras.Model(inputs, tf_keras.layers.Dense(1, name="head")(h), name="tfk_seeded")
    own = {i["path"]: i for i in analyse(model)["inner_stochastic"] if i["own_random"]}
    everywhere = {"fit": True, "predict": True, "call": True}
    assert own["seeded"]["active"] == own["mc_dropout"]["active"] == everywhere
    default_on = {"fit": True, "predict": False, "call": True}
    assert own["default_on"]["active"] == default_on
    assert own["eager_noise"]["draws"] is None and "dynamic" in own["eager_noise"]["probe_error"]
    assert set(own["eager_noise"]["active"].values()) == {None}
    seen = observe_draws(model, np.ones((2, 3), np.float32))
    assert seen == {"seeded": everywhere, "mc_dropout": everywhere, "default_on": default_on,
                    "eager_noise": everywhere}


def test_validate_observes_tf_keras_layers_drawing_in_their_own_code() -> None:
    """observe() sees the stateful random ops each custom tf_keras layer runs (the
    block's Dropout draws are nobody's), and compare() holds the static claims to
    them: every own-random row observed and agreeing; a flipped claim disagrees."""
    import dataclasses

    from graphcheck.runtime import observe, synthesise_inputs, synthesise_targets
    from graphcheck.runtime.validate import compare
    from graphcheck.semantics import Scenario

    model = custom_model()
    analysis = load(model).analyse()
    inputs = synthesise_inputs(model)
    observation = observe(model, inputs, targets=synthesise_targets(model, inputs))
    result = compare(analysis, observation, False)
    own = {c.path: c for c in result.calls if c.kind == "own_random"}
    assert set(own) == {
        "train_noise", "always_noise", "block/generator_noise", "block_2/generator_noise_1"}
    assert all(c.observed and c.agree for c in own.values())
    assert result.disagreements == ()
    # The block is watched too (its class is unknown); its Dropout's draws are not its own.
    block = [r for by_path in observation.records.values() for r in by_path.get("block", ())]
    assert block and not any(r.active for r in block)
    first = next(i for i in analysis.inner_stochastic if i.path == "train_noise")
    assert first.active[Scenario.PREDICT] is False
    flipped = dataclasses.replace(first, active={**first.active, Scenario.PREDICT: True})
    wrong = dataclasses.replace(
        analysis, inner_stochastic=[flipped if i is first else i for i in analysis.inner_stochastic]
    )
    disagreements = compare(wrong, observation, False).disagreements
    # model(x, training=False) passes what predict() does: the claim for it flips too.
    assert [(d.path, d.scenario) for d in disagreements] == [
        ("train_noise", "predict"), ("train_noise", "call_false")]


#: A user's own file, given to --custom-objects (it is run only with --trust-model).
NOISE_SOURCE = '''
import tensorflow as tf
import tf_keras


class FileNoise(tf_keras.layers.Layer):
    def call(self, x, training=None):
        if training:
            return x * tf.random.uniform(tf.shape(x), 0.5, 1.5)
        return x
'''


def test_rebuilt_tf_keras_file_answers_as_the_live_model(tmp_path: Path) -> None:
    """--rebuild of a tf_keras .keras file holding the user's drawing layer: built with
    tf_keras from the config, traced, it answers as the live model does."""
    import importlib.util
    import sys

    from graphcheck.runtime.rebuild import RebuildOptions

    source = tmp_path / "file_noise.py"
    source.write_text(NOISE_SOURCE)
    spec = importlib.util.spec_from_file_location("file_noise", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["file_noise"] = module  # as a user's own module would be
    spec.loader.exec_module(module)
    tf_keras.backend.clear_session()
    inputs = tf_keras.Input(shape=(3,), name="x")
    outputs = tf_keras.layers.Dense(1, name="head")(module.FileNoise(name="noise")(inputs))
    model = tf_keras.Model(inputs, outputs, name="tfk_file")
    path = tmp_path / "noise.keras"
    model.save(path)

    def own(entry: dict[str, Any]) -> list[tuple[str, Any]]:
        return [(i["path"], i["active"]) for i in entry["inner_stochastic"] if i["own_random"]]

    rebuilt = analyse(
        str(path), rebuild=RebuildOptions(trust_model=True, custom_objects=str(source))
    )
    assert rebuilt["source"].startswith("rebuilt with tf_keras")
    assert own(rebuilt) == own(analyse(model)) == [
        ("noise", {"fit": True, "predict": False, "call": False})]


class FractionalPool(tf_keras.layers.Layer):
    """``tf.nn.fractional_max_pool`` with its default seed 0: random regions each run."""

    def call(self, x: Any) -> Any:
        return tf.nn.fractional_max_pool(x, [1.0, 1.5, 1.5, 1.0])[0]


class SeededPool(tf_keras.layers.Layer):
    """The same op with a seed: deterministic, one fixed pooling region."""

    def call(self, x: Any) -> Any:
        return tf.nn.fractional_avg_pool(x, [1.0, 1.5, 1.5, 1.0], seed=5)[0]


def test_fractional_pooling_in_a_layer_matches_real_runs() -> None:
    """Fractional pooling in a layer's own code draws its regions unless seeded: found
    in the traced graph by the op's ``deterministic`` attribute, and in real runs."""
    tf_keras.backend.clear_session()
    inputs = tf_keras.Input(shape=(12, 12, 2), name="img")
    pooled = FractionalPool(name="frac_pool")(inputs)
    seeded = SeededPool(name="seeded_pool")(inputs)
    merged = tf_keras.layers.Concatenate(name="join")(
        [tf_keras.layers.Flatten(name="f1")(pooled), tf_keras.layers.Flatten(name="f2")(seeded)])
    model = tf_keras.Model(inputs, tf_keras.layers.Dense(1, name="head")(merged), name="pools")
    own = {i["path"]: i["active"] for i in analyse(model)["inner_stochastic"] if i["own_random"]}
    everywhere = {"fit": True, "predict": True, "call": True}
    assert own == {"frac_pool": everywhere}
    seen = observe_draws(model, np.random.default_rng(0).normal(size=(8, 12, 12, 2)).astype(
        np.float32))
    assert seen == {"frac_pool": everywhere,
                    "seeded_pool": {"fit": False, "predict": False, "call": False}}
