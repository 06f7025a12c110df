"""Layers that draw random numbers in their own code, against real runs (Keras 3).

KerasHub's DropPath (MiT/SegFormer, Swin) and a user's layer calling ``keras.random`` in ``call`` are no class
graphcheck's tables know. On a built model (live, or ``--rebuild``) graphcheck calls
each holder symbolically and reports such layers in ``inner_stochastic`` with
``own_random`` and when they act. Here every reported layer's real calls in
``fit()``, ``predict()`` and ``model(x)`` are spied on: it acted when its output
differs from the same call with ``training=False``. For the layers that keep their own
``SeedGenerator``, the generators' states, read before and after real compiled runs,
say independently which layers drew at all, so nothing drawing is missed.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("keras_hub")

import keras

from graphcheck import analyse, load
from graphcheck.api import findings

pytestmark = pytest.mark.truth

SCENARIOS = ("fit", "predict", "call")


def _sublayer(model: Any, path: str) -> Any:
    current = model
    for name in path.split("/"):
        children = {child.name: child for child in current._layers}
        current = children[name.split("@")[0]]
    return current


def _differs(a: Any, b: Any) -> bool:
    return not np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def observe_acts(
    model: Any, paths: list[str], x: np.ndarray, y: np.ndarray
) -> tuple[dict[str, dict[str, bool]], dict[str, set[str]]]:
    """Real eager runs of fit(), predict() and model(x), every call seen.

    Returns, per path and scenario, whether any real call of that layer acted randomly
    (its output differs from the same call with training=False); and per scenario,
    the names of the layers whose own SeedGenerator advanced, read from the
    generators' state variables (nothing wrapped), the reference calls left out.
    """
    seen: dict[str, dict[str, bool]] = {p: {} for p in paths}
    now = {"scenario": ""}
    owners = [
        (layer, generator)
        for layer in model._flatten_layers(include_self=False)
        for generator in layer._seed_generators
    ]

    def states() -> list[np.ndarray]:
        return [keras.ops.convert_to_numpy(g.state.value).copy() for _, g in owners]

    for path in paths:
        layer = _sublayer(model, path)
        original = layer.call

        takes_training = "training" in inspect.signature(original).parameters

        def spy(*args: Any, _original: Any = original, _path: str = path,
                _takes: bool = takes_training, **kwargs: Any) -> Any:
            out = _original(*args, **kwargs)
            if now["scenario"] and not isinstance(out, keras.KerasTensor):
                kept = states()  # the reference call's draws are not the run's
                # training=False where the call takes it; else the same call again.
                again = {**kwargs, "training": False} if _takes else kwargs
                reference = _original(*args, **again)
                for (_, generator), value in zip(owners, kept, strict=True):
                    generator.state.assign(value)
                acted = seen[_path].get(now["scenario"], False) or _differs(out, reference)
                seen[_path][now["scenario"]] = acted
            return out

        layer.call = spy
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    drew: dict[str, set[str]] = {}
    try:
        for name, run in (("fit", lambda: model.fit(x, y, epochs=1, batch_size=len(x), verbose=0)),
                          ("predict", lambda: model.predict(x, batch_size=len(x), verbose=0)),
                          ("call", lambda: model(x))):
            before = states()
            now["scenario"] = name
            run()
            now["scenario"] = ""
            drew[name] = {
                layer.name for (layer, _), b, a in zip(owners, before, states(), strict=True)
                if not np.array_equal(a, b)
            }
    finally:
        for path in paths:
            object.__delattr__(_sublayer(model, path), "call")
    return seen, drew


def _head(backbone: Any, name: str, frozen: bool) -> Any:
    backbone.trainable = not frozen
    inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
    features = backbone(inputs)
    if isinstance(features, dict):
        features = features[sorted(features)[-1]]
    x = keras.layers.Flatten(name="flat")(features)
    return keras.Model(inputs, keras.layers.Dense(1, name="head")(x), name=name)


def mit_model(frozen: bool) -> Any:
    """SegFormer's MiT backbone, drop path up to 0.3 (the first block's rate is 0)."""
    import keras_hub

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.MiTBackbone(
        layerwise_depths=[1, 1], num_layers=2, layerwise_num_heads=[1, 2],
        layerwise_sr_ratios=[2, 1], max_drop_path_rate=0.3, layerwise_patch_sizes=[3, 3],
        layerwise_strides=[2, 2], image_shape=(16, 16, 3), hidden_dims=[4, 8],
    )
    return _head(backbone, "mit_head", frozen)


def swin_model(frozen: bool) -> Any:
    import keras_hub

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.SwinTransformerBackbone(
        image_shape=(16, 16, 3), embed_dim=4, depths=[2], num_heads=[1], window_size=2,
        patch_size=2, drop_path=0.3,
    )
    return _head(backbone, "swin_head", frozen)


def convnext_model(frozen: bool) -> Any:
    """keras.applications ConvNeXt (StochasticDepth draws from Keras's global generator)."""
    from keras.src.applications.convnext import ConvNeXt

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    base = ConvNeXt(
        depths=[1, 1, 1, 1], projection_dims=[4, 8, 16, 32], drop_path_rate=0.3,
        name="tiny_convnext", weights=None, include_top=False, input_shape=(32, 32, 3),
        include_preprocessing=False,
    )
    return _head(base, "convnext_head", frozen)


DATA = {
    "mit": np.random.default_rng(0).random((4, 16, 16, 3), dtype=np.float32),
    "swin": np.random.default_rng(1).random((4, 16, 16, 3), dtype=np.float32),
    "convnext": np.random.default_rng(2).random((4, 32, 32, 3), dtype=np.float32),
}
BUILD = {"mit": mit_model, "swin": swin_model, "convnext": convnext_model}


@functools.cache
def _built(name: str) -> Any:
    return BUILD[name](True)


def frozen_model(name: str) -> Any:
    """The model ``name``, built once for the whole module, its backbone frozen."""
    model = _built(name)
    model.layers[1].trainable = False
    return model


def _own(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in entry["inner_stochastic"] if item["own_random"]]


def assert_own_random_agree(entry: dict[str, Any], model: Any, x: np.ndarray) -> None:
    own = _own(entry)
    assert own, "the drop-path layers are found"
    assert all(item["kind"] == "own_random" and item["draws"] is not None for item in own)
    y = np.zeros((len(x), 1), np.float32)
    seen, drew = observe_acts(model, [item["path"] for item in own], x, y)
    known = {i["path"].rsplit("/", 1)[-1] for i in entry["inner_stochastic"] if not i["own_random"]}
    known |= {s["path"].rsplit("/", 1)[-1] for s in entry["stochastic"]}
    for scenario in SCENARIOS:
        for item in own:
            assert seen[item["path"]].get(scenario, False) is item["active"][scenario], (
                item["path"], scenario, item["reason"],
            )
        # Nothing that keeps its own generator draws unreported (Dropouts have their own
        # report): the generators that advanced are those of the layers said active.
        active = {i["path"].rsplit("/", 1)[-1] for i in own if i["active"][scenario]}
        assert drew[scenario] - known <= active, scenario


def _check_backbone(model: Any, x: np.ndarray, frozen: bool) -> None:
    model.layers[1].trainable = not frozen
    entry = analyse(model)
    own = _own(entry)
    backbone = model.layers[1].name
    assert all(item["path"].startswith(f"{backbone}/") for item in own)
    assert all(item["inside_frozen"] is frozen for item in own)
    assert all(item["frozen_by"] == (backbone if frozen else None) for item in own)
    assert_own_random_agree(entry, model, x)
    firing = sorted(item["path"] for item in own if item["active"]["fit"])
    assert firing, "drop path acts in fit()"
    gc101 = sorted(f.path for f in findings(load(model).analyse()) if f.rule == "GC101"
                   and f.path in {item["path"] for item in own})
    assert gc101 == (firing if frozen else [])


@pytest.mark.parametrize(("name", "states"), [
    ("mit", (True, False)), ("swin", (True,)),
])
def test_drop_path_layers_match_real_runs(name: str, states: tuple[bool, ...]) -> None:
    """Every drop-path layer is reported, below its holder, inside the frozen backbone
    or not, active exactly where its real calls act; GC101 names those in a frozen one."""
    model = frozen_model(name)
    for frozen in states:
        _check_backbone(model, DATA[name], frozen)


def _answers(entry: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Holder, class and activity of each own-random layer: sublayers a KerasHub layer
    makes in its __init__ are auto-named anew by every construction, so not by path."""
    return sorted((i["holder"], i["class_name"], i["active"]) for i in _own(entry))


@pytest.mark.parametrize("name", ["swin"])
def test_rebuilt_frozen_backbone_answers_as_the_live_model(name: str, tmp_path: Path) -> None:
    """--rebuild (no weights, safe_mode) answers as the live model does, whose answers
    meet real runs above. Swin's symbolic
    call reads a variable's value, so it is built again the ordinary way."""
    model = frozen_model(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    entry = analyse(str(path), rebuild=True)
    assert entry["source"].startswith("rebuilt with keras")
    assert _answers(entry) == _answers(analyse(model)) and _answers(entry)
    assert all(i["inside_frozen"] and i["probe_error"] is None for i in _own(entry))


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class NoisyScale(keras.layers.Layer):
    """A user's layer drawing from its own SeedGenerator, in training only."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(3)

    def call(self, x: Any, training: Any = None) -> Any:
        if training:
            return x * keras.random.uniform(keras.ops.shape(x), 0.5, 1.5, seed=self.seed_generator)
        return x


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class AlwaysNoisy(keras.layers.Layer):
    """A user's layer adding noise from Keras's global generator whatever `training` is."""

    def call(self, x: Any) -> Any:
        return x + keras.random.normal(keras.ops.shape(x), stddev=0.1)


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class Block(keras.layers.Layer):
    """A user's layer holding both, plus a plain Dense."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(6, name="dense")
        self.scale = NoisyScale(name="scale")
        self.noise = AlwaysNoisy(name="noise")

    def call(self, x: Any) -> Any:
        return self.noise(self.scale(self.dense(x)))


def custom_model() -> Any:
    """A frozen submodel holding the block, and two top-level AlwaysNoisy calls."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    inner_in = keras.Input(shape=(6,), name="inner_in")
    sub = keras.Model(inner_in, Block(name="block")(inner_in), name="frozen_sub")
    sub.trainable = False
    x_in = keras.Input(shape=(6,), name="x")
    h = AlwaysNoisy(name="top_noise")(sub(x_in))
    h = AlwaysNoisy(name="top_noise_2")(h)  # alike: answered from the first one's probe
    return keras.Model(x_in, keras.layers.Dense(1, name="head")(h), name="custom_random")


def test_custom_layers_calling_keras_random() -> None:
    """A user's keras.random layers: paths below their holder (the layer itself for a
    graph call), frozen by the submodel, active as real runs show; GC101 for the one
    drawing in fit() inside the frozen submodel, GC103 for those random in predict()."""
    model = custom_model()
    layers = list(model._flatten_layers(include_self=True))
    nodes = [len(layer._inbound_nodes) for layer in layers]
    states = [keras.ops.convert_to_numpy(g.state.value).copy()
              for layer in layers for g in layer._seed_generators]
    entry = analyse(model)
    # The symbolic calls leave the live model as it was: no node, no seed drawn.
    assert nodes == [len(layer._inbound_nodes) for layer in layers]
    assert all("call" not in vars(layer) for layer in layers)
    assert all(np.array_equal(before, keras.ops.convert_to_numpy(g.state.value))
               for before, g in zip(states, [g for la in layers for g in la._seed_generators],
                                    strict=True))
    own = {item["path"]: item for item in _own(entry)}
    assert set(own) == {
        "frozen_sub/block/scale", "frozen_sub/block/noise", "top_noise", "top_noise_2"}
    assert own["top_noise"]["holder"] == "top_noise"
    assert own["frozen_sub/block/scale"]["frozen_by"] == "frozen_sub"
    assert own["top_noise"]["frozen_by"] is None
    x = np.random.default_rng(3).random((4, 6), dtype=np.float32)
    assert_own_random_agree(entry, model, x)
    assert own["frozen_sub/block/noise"]["active"] == {"fit": True, "predict": True, "call": True}
    assert own["frozen_sub/block/scale"]["active"] == {"fit": True, "predict": False, "call": False}
    found = findings(load(model).analyse())
    assert sorted(f.path for f in found if f.rule == "GC101") == [
        "frozen_sub/block/noise", "frozen_sub/block/scale"]
    assert sorted(f.path for f in found if f.rule == "GC103") == [
        "frozen_sub/block/noise", "top_noise", "top_noise_2"]


def test_validate_observes_layers_drawing_in_their_own_code() -> None:
    """observe() records each call of a layer drawing random numbers in its own code,
    and compare() holds the static claim to it: agreement as is, a disagreement (GC901)
    when the claim is flipped. The checker can fail."""
    import dataclasses

    from graphcheck.runtime import observe, synthesise_inputs, synthesise_targets
    from graphcheck.runtime.validate import compare
    from graphcheck.semantics import Scenario

    model = frozen_model("mit")
    analysis = load(model).analyse()
    inputs = synthesise_inputs(model)
    observation = observe(model, inputs, targets=synthesise_targets(model, inputs))
    result = compare(analysis, observation, True)
    own = [c for c in result.calls if c.kind == "own_random"]
    assert own and all(c.observed for c in own), "the DropPath calls were observed"
    assert result.disagreements == ()
    first = next(i for i in analysis.inner_stochastic if i.own_random)
    assert first.active[Scenario.FIT] is True
    flipped = dataclasses.replace(first, active={**first.active, Scenario.FIT: False})
    wrong = dataclasses.replace(
        analysis, inner_stochastic=[flipped if i is first else i for i in analysis.inner_stochastic]
    )
    disagreements = compare(wrong, observation, True).disagreements
    # model(x, training=True) passes what fit() does: the claim for it flips too.
    assert [(d.path, d.scenario) for d in disagreements] == [
        (first.path, "fit"), (first.path, "call_true")]


def test_validate_rebuild_agrees_on_a_drop_path_backbone(tmp_path: Path) -> None:
    """graphcheck validate --rebuild on a saved MiT head: the drop path inside the
    frozen backbone is compared (as the loaded model names it) and agrees."""
    import json

    from click.testing import CliRunner

    from graphcheck.cli import main

    path = tmp_path / "mit.keras"
    frozen_model("mit").save(path)
    result = CliRunner().invoke(main, ["validate", "--rebuild", "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["models"]
    validation = entry["validation"]
    assert validation["status"] == "agree", validation
    own = [c for c in validation["calls"] if c["kind"] == "own_random"]
    assert [c["path"].rsplit("/", 1)[0] for c in own] == ["mi_t_backbone/hierarchical_encoder_1_0"]


@pytest.mark.parametrize("version", ["DINOV2", "DINOV3"])
def test_a_failing_symbolic_call_is_reported_as_not_known(version: str) -> None:
    """KerasHub 0.32's DINOv2/DINOv3 DropPath cannot run with an unknown batch size:
    its symbolic call fails after it drew, so graphcheck names it (DINOv3's blocks also
    take a non-tensor keyword, num_prefix_tokens) with its activity not known (null)
    and the reason, and claims nothing in GC101; a real training call fails the same way."""
    import keras_hub

    keras.backend.clear_session()
    options = {"position_embedding_shape": (8, 8, 3)} if version == "DINOV2" else {
        "num_register_tokens": 0}
    backbone = getattr(keras_hub.models, f"{version}Backbone")(
        patch_size=4, num_layers=2, hidden_dim=8, num_heads=2, intermediate_dim=16,
        drop_path_rate=0.3, image_shape=(8, 8, 3), **options,
    )
    backbone.trainable = False
    entry = analyse(backbone)
    own = _own(entry)
    assert own and all(i["draws"] is None and i["probe_error"] for i in own)
    assert all(i["class_name"] == f"{version}DropPath" for i in own)
    assert all(set(i["active"].values()) == {None} for i in own)
    assert "not known statically" in own[0]["reason"]
    assert not [f for f in findings(load(backbone).analyse()) if f.rule == "GC101"
                and f.path in {i["path"] for i in own}]
    x = np.zeros((2, 8, 8, 3), np.float32)
    inputs = x if version == "DINOV2" else {"pixel_values": x}
    backbone(inputs, training=False)  # runs: the drop path is skipped
    with pytest.raises(Exception, match="Tensor"):
        backbone(inputs, training=True)


def test_convnext_stochastic_depth_is_a_known_class() -> None:
    """keras.applications ConvNeXt's StochasticDepth draws in its own code too, but it is
    a class graphcheck knows (kind drop_path, by its module): listed once, in the frozen
    backbone's calls, never as own_random, and active exactly where real calls act."""
    from agreement import assert_agrees

    from graphcheck.runtime import observe, synthesise_inputs

    model = frozen_model("convnext")
    entry = analyse(model)
    assert not _own(entry)
    depth = [s for s in entry["stochastic"] if s["class_name"] == "StochasticDepth"]
    assert depth and all(s["kind"] == "drop_path" and s["inside_frozen"] for s in depth)
    obs = observe(model, synthesise_inputs(model))
    assert_agrees(entry, obs.active, obs.bn_batch_stats, obs.class_names)
