"""The observer alone, checked against what Keras is known to do.

These run without graphcheck's static side.  Expectations follow
/work/shared/KERAS_SEMANTICS.md where it was confirmed on Keras 3.15.1 and tf_keras 2.21.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from builders import BUILDERS, FLAVOURS, keras_module
from saving import FORMATS

from graphcheck.runtime import (
    Observation,
    observe,
    strip_call_suffixes,
    synthesise_inputs,
    synthesise_targets,
)

ALL = ("fit", "predict", "call", "call_true", "call_false")


def run(builder: str, flavour: str) -> Observation:
    model = BUILDERS[builder](flavour)
    return observe(model, synthesise_inputs(model))


def active(obs: Observation, path: str) -> dict[str, list[bool]]:
    return {s: obs.active[s].get(path, []) for s in ALL}


class TestStripCallSuffixes:
    def test_strips_every_component(self) -> None:
        """`@k` is removed from each path component, other text is kept."""
        assert strip_call_suffixes("tower@2/dropout@1") == "tower/dropout"
        assert strip_call_suffixes("a/b") == "a/b"
        assert strip_call_suffixes("mail@x/d") == "mail@x/d"


class TestSynthesise:
    def test_embedding_input_gets_valid_indices(self) -> None:
        """An input feeding an Embedding (through a submodel) gets ints below input_dim."""
        K = keras_module("keras3")
        inner_in = K.Input(shape=(5,), name="tokens_in")
        inner = K.Model(inner_in, K.layers.Embedding(7, 3, name="emb")(inner_in), name="enc")
        tokens = K.Input(shape=(5,), name="tokens")
        dense_in = K.Input(shape=(None, 3), name="feats")
        model = K.Model([tokens, dense_in], [inner(tokens), dense_in])
        x_tokens, x_feats = synthesise_inputs(model, batch_size=3)
        assert x_tokens.shape == (3, 5)
        assert np.issubdtype(x_tokens.dtype, np.integer)
        assert x_tokens.min() >= 0
        assert x_tokens.max() < 7
        assert x_feats.shape == (3, 4, 3)
        assert x_feats.dtype == np.float32

    @pytest.mark.parametrize("flavour", FLAVOURS)
    def test_targets_follow_outputs(self, flavour: str) -> None:
        """One target per output, batch size taken from the inputs."""
        model = BUILDERS["multi_io"](flavour)
        x = synthesise_inputs(model, batch_size=5)
        assert [t.shape for t in synthesise_targets(model, x)] == [(5, 1), (5, 2)]


@pytest.mark.parametrize("flavour", FLAVOURS)
class TestFactsInEveryVersion:
    def test_dropout_follows_training(self, flavour: str) -> None:
        """Dropout acts in fit and call(training=True) only, with inverted scaling."""
        obs = run("sequential_plain", flavour)
        assert active(obs, "dropout") == {
            "fit": [True],
            "predict": [False],
            "call": [False],
            "call_true": [True],
            "call_false": [False],
        }
        for scenario in ("fit", "call_true"):
            (record,) = obs.records[scenario]["dropout"]
            assert record.scaled_exactly is True
            assert 0.3 < record.fraction_zeroed < 0.7
        assert obs.training["fit"]["dropout"] == [True]
        assert obs.training["predict"]["dropout"] == [False]

    def test_frozen_submodel_dropout_still_active(self, flavour: str) -> None:
        """trainable=False does not stop dropout; it does stop the weights."""
        obs = run("frozen_submodel_dropout", flavour)
        assert active(obs, "base/base_dropout")["fit"] == [True]
        assert obs.weights_changed == {"base/base_dense": False, "head": True}

    def test_batchnorm_frozen_and_trainable(self, flavour: str) -> None:
        """Frozen BN never moves or uses batch stats; trainable BN does both in fit."""
        obs = run("batchnorm", flavour)
        for scenario in ALL:
            (frozen,) = obs.records[scenario]["bn_frozen"]
            assert frozen.moving_stats_changed is False
            assert frozen.batch_stats is False
        (fit,) = obs.records["fit"]["bn_trainable"]
        assert fit.batch_stats is True
        assert fit.moving_stats_changed is True
        assert obs.bn_batch_stats["predict"]["bn_trainable"] == [False]
        assert obs.bn_batch_stats["call_true"]["bn_trainable"] == [True]
        assert obs.weights_changed["bn_frozen"] is False
        assert obs.weights_changed["bn_trainable"] is True

    def test_noise_layers(self, flavour: str) -> None:
        """Every noise layer acts in fit only; rate 0 never acts."""
        obs = run("noise_layers", flavour)
        for name in ("gnoise", "gdropout", "adropout", "shaped_dropout"):
            assert active(obs, name)["fit"] == [True], name
            assert active(obs, name)["predict"] == [False], name
        assert set(map(tuple, active(obs, "zero_dropout").values())) == {(False,)}
        (shaped,) = obs.records["fit"]["shaped_dropout"]
        assert shaped.scaled_exactly is True

    @pytest.mark.parametrize(
        "builder, paths",
        [
            ("spatial_dropout", ("sdrop1d", "sdrop2d")),
            ("recurrent_dropout", ("lstm", "gru")),
            ("wrappers", ("td_dropout", "bilstm")),
            ("self_attention", ("mha",)),
        ],
    )
    def test_stochastic_layers_act_in_fit_only(
        self, flavour: str, builder: str, paths: tuple[str, ...]
    ) -> None:
        """Spatial, recurrent, wrapped and attention dropout act when training is True."""
        obs = run(builder, flavour)
        for path in paths:
            assert active(obs, path) == {
                "fit": [True],
                "predict": [False],
                "call": [False],
                "call_true": [True],
                "call_false": [False],
            }, path

    def test_augmentation_active_in_plain_call(self, flavour: str) -> None:
        """Random* layers default to training=True in call, off in predict."""
        obs = run("augmentation", flavour)
        for path in ("flip", "rotate"):
            a = active(obs, path)
            assert a["fit"] == [True], path
            assert a["call"] == [True], path
            assert a["predict"] == [False], path

    def test_shared_and_siamese_calls_are_listed(self, flavour: str) -> None:
        """A layer called k times has k records under one group path."""
        shared = run("shared_layer", flavour)
        assert shared.active["fit"]["shared_dropout"] == [True, True]
        siamese = run("siamese_three", flavour)
        assert siamese.active["fit"]["tower/tower_dropout"] == [True, True, True]
        assert siamese.active["predict"]["tower/tower_dropout"] == [False, False, False]

    def test_sequential_nested_key(self, flavour: str) -> None:
        """Layers of a nested Sequential are keyed under the Sequential's name."""
        obs = run("sequential_nested", flavour)
        assert obs.active["fit"]["block/block_dropout"] == [True]
        assert obs.weights_changed == {"block/block_dense": False, "head": True}

    def test_multi_io(self, flavour: str) -> None:
        """Fit on a two-output model runs and every branch dropout acts."""
        obs = run("multi_io", flavour)
        assert obs.fit_error is None
        for path in ("drop_a", "drop_b", "drop_merged"):
            assert obs.active["fit"][path] == [True]


class TestWhoDecidesTraining:
    """Section 2: Keras 3.15 pushes the top value down; Keras 2 honours call sites."""

    EXPECTED: dict[tuple[str, str], dict[str, dict[str, bool]]] = {
        ("keras3", "mc_dropout"): {"mc_dropout": {"fit": True, "predict": False, "call": True}},
        ("tfkeras", "mc_dropout"): {"mc_dropout": {"fit": True, "predict": True, "call": True}},
        ("keras3", "submodel_training_false"): {
            "base/base_dropout": {"fit": True, "predict": False, "call": False},
            "head_dropout": {"fit": True, "predict": False, "call": False},
        },
        ("tfkeras", "submodel_training_false"): {
            "base/base_dropout": {"fit": False, "predict": False, "call": False},
            "head_dropout": {"fit": True, "predict": False, "call": False},
        },
        ("keras3", "three_levels"): {
            "level2/level2_dropout": {"fit": True, "predict": False, "call": False},
            "level2/level3/level3_dropout": {"fit": True, "predict": False, "call": False},
            "top_dropout": {"fit": True, "predict": False, "call": False},
        },
        ("tfkeras", "three_levels"): {
            "level2/level2_dropout": {"fit": False, "predict": False, "call": False},
            "level2/level3/level3_dropout": {"fit": True, "predict": True, "call": True},
            "top_dropout": {"fit": True, "predict": False, "call": False},
        },
    }

    @pytest.mark.parametrize(("flavour", "builder"), sorted(EXPECTED))
    def test_in_memory(self, flavour: str, builder: str) -> None:
        """The freshly built model behaves as section 2 says."""
        self._check(run(builder, flavour), self.EXPECTED[flavour, builder])

    @pytest.mark.parametrize(
        ("flavour", "fmt"), [(f, fmt) for f in FLAVOURS for fmt in FORMATS[f]]
    )
    @pytest.mark.parametrize("builder", ["mc_dropout", "three_levels"])
    def test_after_reload(self, roundtrip: Any, flavour: str, fmt: str, builder: str) -> None:
        """Saving and loading in any format keeps the behaviour."""
        _, model = roundtrip(BUILDERS[builder](flavour), flavour, fmt)
        obs = observe(model, synthesise_inputs(model), scenarios=("fit", "predict", "call"))
        self._check(obs, self.EXPECTED[flavour, builder])

    def test_trainable_bn_under_training_false(self) -> None:
        """Keras 3: a trainable BN in a base called training=False still updates in fit."""
        obs = run("submodel_training_false", "keras3")
        (record,) = obs.records["fit"]["base/base_bn"]
        assert record.moving_stats_changed is True
        assert record.training is True

    @staticmethod
    def _check(obs: Observation, expected: dict[str, dict[str, bool]]) -> None:
        got = {
            path: {s: obs.active[s][path] for s in scenarios}
            for path, scenarios in expected.items()
        }
        want = {
            path: {s: [flag] for s, flag in scenarios.items()}
            for path, scenarios in expected.items()
        }
        assert got == want
