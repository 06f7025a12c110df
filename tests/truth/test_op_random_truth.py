"""TensorFlow random ops recorded in a tf_keras Functional graph (``TFOpLambda``).

Calling ``tf.random.normal`` or ``tf.image.random_flip_left_right`` on a Keras tensor
records a ``TFOpLambda`` layer naming the op. Each model below is built with
tf_keras, saved as ``.h5``, ``.keras`` and JSON, analysed statically, and also analysed
as the live object; the reloaded model is then observed (every ``TFOpLambda`` call run
twice on the same arguments in ``fit()``, ``predict()`` and ``model(x)``: a random op
draws again) and run: ``predict()`` twice and ``model(x)`` twice give different
outputs exactly for the models graphcheck calls random, and the same outputs for
the deterministic ones (stateless ops, whatever their seed;
fractional pooling with a seed). The list of random ops is also held against the
installed TensorFlow's public API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from agreement import STATIC_SCENARIOS, assert_agrees, model_entry
from builders import KERAS_VERSIONS, keras_module
from click.testing import CliRunner

import graphcheck
from graphcheck.api import findings
from graphcheck.cli import main
from graphcheck.runtime import observe, synthesise_inputs
from graphcheck.tf_random_ops import RANDOM_SAMPLERS, RANDOM_TRANSFORMS

pytestmark = pytest.mark.truth

if "tfkeras" not in KERAS_VERSIONS:
    pytest.skip("tf_keras is not installed", allow_module_level=True)

tf = pytest.importorskip("tensorflow")
BATCH = 64
SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "report.schema.json"


def _head(K: Any, outputs: Any) -> Any:
    """A trainable head, so that one fit() step has weights to move."""
    return K.layers.Dense(1, name="head")(K.layers.Flatten()(tf.cast(outputs, "float32")))


def _vector(K: Any) -> tuple[Any, Any]:
    inputs = K.Input(shape=(6,), name="x")
    return inputs, K.layers.Dense(32, name="hidden")(inputs)


def vae_sampler(K: Any) -> tuple[Any, Any]:
    """The inline VAE sampling step: eps = N(0, 1) of z_mean's shape."""
    inputs = K.Input(shape=(6,), name="x")
    z_mean = K.layers.Dense(2, name="z_mean")(inputs)
    z_log_var = K.layers.Dense(2, name="z_log_var")(inputs)
    eps = tf.random.normal(shape=tf.shape(z_mean))
    return inputs, _head(K, z_mean + tf.exp(0.5 * z_log_var) * eps)


def uniform_noise(K: Any) -> tuple[Any, Any]:
    """Uniform noise added to a hidden layer, with an operation seed (still draws)."""
    inputs, hidden = _vector(K)
    return inputs, _head(K, hidden + tf.random.uniform(tf.shape(hidden), maxval=0.1, seed=3))


# Categorical and shuffle have no gradient: they read the input itself, so that no
# layer upstream of them is expected to train.
def categorical(K: Any) -> tuple[Any, Any]:
    inputs = K.Input(shape=(6,), name="x")
    return inputs, _head(K, tf.random.categorical(inputs, 16))


def shuffle(K: Any) -> tuple[Any, Any]:
    """The 64 features of each sample shuffled (one of 64! orders)."""
    inputs = K.Input(shape=(64,), name="x")
    return inputs, _head(K, tf.transpose(tf.random.shuffle(tf.transpose(inputs))))


def _image(K: Any) -> Any:
    return K.Input(shape=(32, 32, 1), name="img")


def image_flip(K: Any) -> tuple[Any, Any]:
    img = _image(K)
    return img, _head(K, tf.image.random_flip_left_right(img))


def fractional_pool(K: Any) -> tuple[Any, Any]:
    img = _image(K)
    return img, _head(K, tf.nn.fractional_max_pool(img, [1.0, 1.5, 1.5, 1.0])[0])


def deterministic_ops(K: Any) -> tuple[Any, Any]:
    """Math ops and a stateless sampler with a constant seed: no draw."""
    inputs, hidden = _vector(K)
    noise = tf.random.stateless_normal(tf.shape(hidden), seed=[1, 2])
    return inputs, _head(K, tf.nn.relu(tf.math.add(hidden, noise)))


def stateless_tensor_seed(K: Any) -> tuple[Any, Any]:
    """A stateless sampler whose seed is a tensor from another layer (the model input)."""
    inputs, hidden = _vector(K)
    seed = tf.cast(inputs[0, :2] * 1000.0, "int32")
    return inputs, _head(K, hidden + tf.random.stateless_uniform(tf.shape(hidden), seed=seed))


def stateless_image_flip(K: Any) -> tuple[Any, Any]:
    img = _image(K)
    return img, _head(K, tf.image.stateless_random_flip_left_right(img, seed=[4, 2]))


def seeded_fractional_pool(K: Any) -> tuple[Any, Any]:
    """tf.nn.fractional_*_pool with a seed, and v1's deterministic=True: fixed regions."""
    img = _image(K)
    a = tf.nn.fractional_avg_pool(img, [1.0, 1.5, 1.5, 1.0], seed=5)[0]
    b = tf.compat.v1.nn.fractional_max_pool(img, [1.0, 1.5, 1.5, 1.0], deterministic=True,
                                            seed=3)[0]
    return img, _head(K, a + b)


#: builder -> the ops graphcheck must report random (by TFOpLambda function).
MODELS: dict[str, tuple[Callable[[Any], tuple[Any, Any]], set[str]]] = {
    "vae_sampler": (vae_sampler, {"random.normal"}),
    "uniform_noise": (uniform_noise, {"random.uniform"}),
    "categorical": (categorical, {"random.categorical"}),
    "shuffle": (shuffle, {"random.shuffle"}),
    "image_flip": (image_flip, {"image.random_flip_left_right"}),
    "fractional_pool": (fractional_pool, {"nn.fractional_max_pool"}),
    "deterministic_ops": (deterministic_ops, set()),
    "stateless_tensor_seed": (stateless_tensor_seed, set()),
    "stateless_image_flip": (stateless_image_flip, set()),
    "seeded_fractional_pool": (seeded_fractional_pool, set()),
}


def _functions(entry: dict[str, Any]) -> set[str]:
    """The ops reported random, by their layers' names (tf_keras names one "tf.<op>")."""
    assert all(item["kind"] == "op_random" for item in entry["stochastic"])
    return {re.sub(r"_\d+$", "", item["path"]).removeprefix("tf.") for item in entry["stochastic"]}


def _differs(first: Any, second: Any) -> bool:
    return not np.array_equal(np.asarray(first), np.asarray(second))


@pytest.mark.parametrize("name", list(MODELS))
def test_random_ops_are_found_and_draw(tmp_path: Path, name: str) -> None:
    """Static answer (.h5, JSON, live object) == predict()/model(x) differing between runs."""
    build, expected = MODELS[name]
    K = keras_module("tfkeras")
    inputs, outputs = build(K)
    model = K.Model(inputs, outputs, name=name)
    path = tmp_path / f"{name}.h5"
    model.save(path)
    model.save(tmp_path / f"{name}.keras")
    (tmp_path / f"{name}.json").write_text(model.to_json())
    version = KERAS_VERSIONS["tfkeras"]
    entries = [graphcheck.analyse(str(path), version),
               graphcheck.analyse(str(tmp_path / f"{name}.keras"), version),
               graphcheck.analyse(str(tmp_path / f"{name}.json"), version),
               graphcheck.analyse(model, version)]
    for entry in entries:
        assert _functions(entry) == expected, entry.get("source")
        for item in entry["stochastic"]:
            assert item["active"] == {"fit": True, "predict": True, "call": True}
    # A random op is random in predict(): GC103 (stochastic-active-at-inference).
    rules = {f.rule for f in findings(graphcheck.load(str(path)).analyse(version))}
    assert ("GC103" in rules) is bool(expected)

    loaded = K.models.load_model(path)
    # 64 samples: a per-image coin (random_flip) gives the same batch twice with
    # probability 2**-64.
    x = synthesise_inputs(loaded, batch_size=BATCH)
    # Every TFOpLambda call observed in fit(), predict() and model(x), each run twice
    # on the same arguments.
    obs = observe(loaded, x, scenarios=STATIC_SCENARIOS)
    assert_agrees(model_entry(entries[0]), obs.active, obs.bn_batch_stats, obs.class_names,
                  obs.weights_changed, obs.fit_error)
    # Then whole runs (observe leaves the model as it was: its ops still run).
    random = bool(expected)
    assert _differs(loaded.predict(x, verbose=0), loaded.predict(x, verbose=0)) is random
    assert _differs(loaded(x), loaded(x)) is random


def test_sampler_reads_its_input_and_transform_changes_it(tmp_path: Path) -> None:
    """A sampler reads its inputs (kind sampled_from), a random transform changes its input."""
    K = keras_module("tfkeras")
    inputs, outputs = vae_sampler(K)
    img = _image(K)
    model = K.Model([inputs, img], [outputs, tf.image.random_flip_left_right(img)], name="both")
    path = tmp_path / "both.h5"
    model.save(path)
    result = CliRunner().invoke(
        main, ["--format", "json", "--keras-version", KERAS_VERSIONS["tfkeras"], str(path)]
    )
    document = json.loads(result.output)
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))  # the new enum values
    entry = model_entry(document)
    kinds = {item["path"]: {m["kind"] for m in item["masks"]} for item in entry["stochastic"]}
    assert kinds == {"tf.random.normal": {"sampled_from"},
                     "tf.image.random_flip_left_right": {"tensor"}}
    (flip,) = (i for i in entry["stochastic"] if i["path"] == "tf.image.random_flip_left_right")
    assert [m["producer"] for m in flip["masks"]] == ["img"]
    # That the flip changes the image it reads, and the sampler draws, is what
    # test_random_ops_are_found_and_draw observes.


# Names in the random-looking corners of TensorFlow's API that are deterministic:
# stateless ops (their output is a function of their inputs and seed), seed setters,
# generators' factories, and candidate samplers or sequences that draw nothing.
_DETERMINISTIC = re.compile(
    r"(^|\.)stateless_|index_shuffle|all_candidate_sampler|set_seed|set_random_seed|"
    r"get_seed|create_rng_state|fold_in|split|get_global_generator|set_global_generator|"
    r"sobol_sample|adjust_gamma|log_poisson_loss|^nn\.dropout$|^compat\.v1\.nn\.dropout$|general_dropout"
)
_RANDOM_LOOKING = re.compile(
    r"random|shuffle|multinomial|categorical|candidate_sampler|fractional|sampled_|nce_loss|"
    r"poisson|gamma$|normal$|uniform$|binomial|dropout|distorted_bounding_box"
)


def test_random_op_list_matches_tensorflow() -> None:
    """Every listed name is a TensorFlow symbol, and every random-looking function of
    tf.random, tf.image, tf.nn and their tf.compat.v1 aliases is listed or known
    deterministic (names as TFOpLambda records them: the canonical API name)."""
    from tensorflow.python.util.tf_export import (
        get_canonical_name_for_symbol,
        get_symbol_from_name,
    )

    for name in RANDOM_SAMPLERS | RANDOM_TRANSFORMS:
        assert get_symbol_from_name(name) is not None, name
    modules = [tf.random, tf.random.experimental, tf.image, tf.nn, tf.nn.experimental,
               tf.compat.v1.random, tf.compat.v1.image, tf.compat.v1.nn, tf.compat.v1]
    missing = set()
    for module in modules:
        for attribute in dir(module):
            value = getattr(module, attribute)
            if attribute.startswith("_") or isinstance(value, type) or not callable(value):
                continue
            name = get_canonical_name_for_symbol(value, add_prefix_to_v1_names=True)
            if not name or name.startswith(("raw_ops.", "math.", "io.")):
                continue
            if not _RANDOM_LOOKING.search(name) or _DETERMINISTIC.search(name):
                continue
            if name not in RANDOM_SAMPLERS | RANDOM_TRANSFORMS:
                missing.add(name)
    assert not missing, f"random TensorFlow ops not listed: {sorted(missing)}"


def test_validate_agrees_on_random_ops(tmp_path: Path) -> None:
    """`graphcheck validate` observes the ops draw in every scenario, as claimed, and
    two predict() calls differ; a tf.nn.dropout op is compared the same way."""
    from graphcheck.runtime.validate import ValidationOptions, validate_model

    K = keras_module("tfkeras")
    inputs, sampled = vae_sampler(K)
    img = _image(K)
    dropped = K.layers.Flatten()(tf.nn.dropout(tf.image.random_flip_left_right(img), rate=0.5))
    dropped = K.layers.Dense(1, name="image_head")(dropped)
    model = K.Model([inputs, img], [sampled, dropped], name="ops")
    path = tmp_path / "ops.h5"
    model.save(path)
    result = validate_model(str(path), ValidationOptions(batch_size=BATCH))
    assert [(d.path, d.aspect, d.scenario) for d in result.disagreements] == []
    checked = {c.path: c.observed for c in result.calls}
    assert checked == {"tf.random.normal": True, "tf.image.random_flip_left_right": True,
                       "tf.nn.dropout": True}
    assert result.runtime_deterministic is False


def test_frozen_submodel_noise_says_what_it_does() -> None:
    """GC101 inside a frozen submodel says what each kind does in fit(): a Dropout
    drops units, GaussianNoise adds noise, a random op draws random numbers; and the
    activity graphcheck claims for each agrees with the model's real runs."""
    K = keras_module("tfkeras")
    inner_in = K.Input(shape=(6,), name="inner_x")
    hidden = K.layers.Dense(6, name="inner_dense")(inner_in)
    noisy = K.layers.GaussianNoise(0.1, name="noise")(hidden)
    dropped = K.layers.Dropout(0.2, name="drop")(noisy)
    drawn = dropped + tf.random.normal(tf.shape(dropped))
    base = K.Model(inner_in, drawn, name="base")
    base.trainable = False
    inputs = K.Input(shape=(6,), name="x")
    model = K.Model(inputs, K.layers.Dense(1, name="head")(base(inputs)), name="outer")
    version = KERAS_VERSIONS["tfkeras"]
    obs = observe(model, synthesise_inputs(model, batch_size=BATCH), scenarios=STATIC_SCENARIOS)
    assert_agrees(model_entry(graphcheck.analyse(model, version)), obs.active,
                  obs.bn_batch_stats, obs.class_names, obs.weights_changed, obs.fit_error)
    messages = {
        f.path.split("/")[-1]: f.message
        for f in findings(graphcheck.load(model).analyse(version)) if f.rule == "GC101"
    }
    what = {name: message.split(" in fit()")[0].split(" still ", 1)[1]
            for name, message in messages.items()}
    assert what.pop("noise") == "adds Gaussian noise"
    assert what.pop("drop") == "drops units"
    assert list(what.values()) == ["draws random numbers"], messages
