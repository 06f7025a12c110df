"""The validating forward pass: samples and semantics cases agree, planted errors do not."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from builders import BUILDERS, FLAVOURS, keras_module
from click.testing import CliRunner

from graphcheck.cli import main
from graphcheck.reporters.validation import (
    render_validation_text,
    validation_section,
)
from graphcheck.runtime.validate import ValidationOptions, validate_model

pytestmark = pytest.mark.keras
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def save(model: Any, flavour: str, directory: Path) -> Path:
    """Save a built model the way its Keras usually does: .keras (Keras 3), .h5 (tf_keras)."""
    suffix = "keras" if flavour == "keras3" else "h5"
    path = directory / f"{flavour}_{model.name}.{suffix}"
    model.save(path)
    return path


SAMPLE_FILES = sorted(
    p.name for p in SAMPLES.iterdir() if p.suffix in (".h5", ".keras", ".json")
)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def disagreements(result: Any) -> list[tuple[str, str, str | None]]:
    return [(d.path, d.aspect, d.scenario) for d in result.disagreements]


class TestSamplesAgree:
    @pytest.mark.parametrize("name", SAMPLE_FILES)
    def test_sample(self, name: str) -> None:
        """Every shipped sample validates with all calls in agreement; the file is untouched."""
        path = SAMPLES / name
        before = digest(path)
        batch = 2 if name.endswith("_full.json") else 8  # full-size InceptionV3: keep it small
        result = validate_model(str(path), ValidationOptions(batch_size=batch))
        assert disagreements(result) == []
        assert all(c.observed for c in result.calls)
        assert result.weights, "fit compared at least one weight-bearing layer"
        assert digest(path) == before


class TestSemanticsCasesAgree:
    @pytest.mark.parametrize("flavour", FLAVOURS)
    @pytest.mark.parametrize("builder", sorted(BUILDERS))
    def test_builder(self, saved_dir: Path, builder: str, flavour: str) -> None:
        """Each truth-suite case, saved and validated with the Keras that wrote it, agrees."""
        path = save(BUILDERS[builder](flavour), flavour, saved_dir)
        result = validate_model(str(path))
        expected_package = "keras" if flavour == "keras3" else "tf_keras"
        assert result.package == expected_package
        assert disagreements(result) == []
        assert result.calls, "the case has stochastic or BN calls to compare"


class TestPlantedDisagreement:
    @pytest.mark.parametrize(
        ("flavour", "wrong_version", "scenario"),
        [("tfkeras", "3.15.1", "predict"), ("keras3", "2.21.0", "predict")],
    )
    def test_mc_dropout_wrong_version(
        self, saved_dir: Path, flavour: str, wrong_version: str, scenario: str
    ) -> None:
        """MC dropout predicted for the other Keras family is caught in predict()."""
        path = save(BUILDERS["mc_dropout"](flavour), flavour, saved_dir)
        result = validate_model(str(path), ValidationOptions(keras_version=wrong_version))
        assert ("mc_dropout", "activity", scenario) in disagreements(result)
        assert ("(model)", "predict_repeatable", "predict") in disagreements(result)
        section = validation_section(result)
        assert section["status"] == "disagree"
        finding = next(f for f in section["findings"] if f["scenario"] == scenario)
        assert finding["id"] == "GC901"
        assert finding["severity"] == "error"
        assert finding["static"]["active"] != finding["runtime"]["active"]
        assert "DISAGREE" in render_validation_text(result)

    def test_cli_exit_code_1(self, saved_dir: Path) -> None:
        """`graphcheck validate` exits 1 and shows both values when a claim is contradicted."""
        path = save(BUILDERS["three_levels"]("tfkeras"), "tfkeras", saved_dir)
        run = invoke("validate", str(path), "--keras-version", "3.15.1")
        assert run.exit_code == 1, run.output
        assert "GC901" in run.output
        assert "level2/level3/level3_dropout" in run.output

    def test_check_validate_json(self, saved_dir: Path) -> None:
        """`check --validate --format json` adds a validation section to each model entry."""
        path = save(BUILDERS["submodel_training_false"]("keras3"), "keras3", saved_dir)
        # --fail-on never: the model's GC102 error would exit 1 by default; this test
        # is about the validation section, which agrees.
        run = invoke("check", str(path), "--validate", "--format", "json", "--fail-on", "never")
        assert run.exit_code == 0, run.output
        (entry,) = json.loads(run.stdout)["models"]
        assert entry["validation"]["status"] == "agree"
        assert entry["validation"]["keras"]["version"] == entry["profile"]["keras_version"]
        assert set(entry["validation"]["seconds"]) >= {"load", "predict", "call", "fit", "compare"}


def _lambda_model(directory: Path) -> Path:
    K = keras_module("keras3")
    inputs = K.Input(shape=(4,), name="x")
    x = K.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    x = K.layers.Dropout(0.5, name="dropout")(x)
    model = K.Model(inputs, K.layers.Dense(1, name="head")(x), name="with_lambda")
    path = directory / "with_lambda.keras"
    model.save(path)
    return path


class TestTrust:
    def test_lambda_refused(self, saved_dir: Path) -> None:
        """A Lambda layer is refused with one line, exit 3, unless --trust-model."""
        path = _lambda_model(saved_dir)
        before = digest(path)
        run = invoke("validate", str(path))
        assert run.exit_code == 3
        (line,) = run.stderr.strip().splitlines()
        assert "--trust-model" in line
        assert "double" in line
        trusted = invoke("validate", str(path), "--trust-model")
        assert trusted.exit_code == 0, trusted.output
        assert digest(path) == before

    def test_custom_objects_need_trust(self, saved_dir: Path) -> None:
        """--custom-objects without --trust-model is a usage error (exit 2)."""
        code = saved_dir / "custom.py"
        code.write_text("x = 1\n")
        run = invoke("validate", str(SAMPLES / "inverted_dropout.keras"), "--custom-objects", str(code))
        assert run.exit_code == 2

    def test_model_raising_in_call(self, saved_dir: Path) -> None:
        """A custom layer that raises at run time is a validation error (exit 3), not a crash."""
        code = saved_dir / "boom.py"
        code.write_text(
            textwrap.dedent(
                """
                import keras
                import tensorflow as tf

                @keras.saving.register_keras_serializable(package="boom")
                class Boom(keras.layers.Layer):
                    def call(self, x):
                        if tf.executing_eagerly():
                            raise RuntimeError("boom at run time")
                        return x
                """
            )
        )
        namespace: dict[str, Any] = {}
        exec(compile(code.read_text(), str(code), "exec"), namespace)  # noqa: S102 - test code
        K = keras_module("keras3")
        inputs = K.Input(shape=(4,), name="x")
        outputs = K.layers.Dense(1, name="head")(namespace["Boom"](name="boom")(inputs))
        path = saved_dir / "boom.keras"
        K.Model(inputs, outputs, name="boom_model").save(path)
        refused = invoke("validate", str(path))
        assert refused.exit_code == 3
        assert "custom layer classes (Boom)" in refused.stderr
        run = invoke("validate", str(path), "--trust-model", "--custom-objects", str(code))
        assert run.exit_code == 3, run.output
        (line,) = run.stderr.strip().splitlines()
        assert "boom at run time" in line
        assert "raised during predict" in line


    def test_custom_dropout_subclass_is_not_a_disagreement(self, saved_dir: Path) -> None:
        """An MC Dropout subclass is opaque statically: its dropping in predict() contradicts nothing."""
        code = saved_dir / "mc.py"
        code.write_text(
            textwrap.dedent(
                """
                import keras

                @keras.saving.register_keras_serializable(package="mc")
                class MCDropout(keras.layers.Dropout):
                    def call(self, x, training=None):
                        return super().call(x, training=True)
                """
            )
        )
        namespace: dict[str, Any] = {}
        exec(compile(code.read_text(), str(code), "exec"), namespace)  # noqa: S102 - test code
        K = keras_module("keras3")
        inputs = K.Input(shape=(16,), name="x")
        hidden = K.layers.Dense(16, name="dense")(inputs)
        outputs = K.layers.Dense(1, name="head")(namespace["MCDropout"](0.5, name="mc")(hidden))
        path = saved_dir / "mc.keras"
        K.Model(inputs, outputs, name="mc_model").save(path)
        run = invoke("validate", str(path), "--trust-model", "--custom-objects", str(code))
        assert run.exit_code == 0, run.output


class TestEnvironment:
    def test_timeout(self) -> None:
        """A run past --timeout ends with one line and exit 3."""
        run = invoke("validate", str(SAMPLES / "transfer_inception.h5"), "--timeout", "0.01")
        assert run.exit_code == 3
        assert "--timeout" in run.stderr

    def test_missing_backend(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A backend whose package is absent gives exit 4 (absent made sure of: CI has jax)."""
        import importlib.util

        find_spec = importlib.util.find_spec
        monkeypatch.setattr(
            importlib.util,
            "find_spec",
            lambda name, *args: None if name == "jax" else find_spec(name, *args),
        )
        run = invoke("validate", str(SAMPLES / "inverted_dropout.keras"), "--backend", "jax")
        assert run.exit_code == 4
        (line,) = run.stderr.strip().splitlines()
        assert "'jax' package is not installed" in line

    def test_gpu_requested_without_gpu(self) -> None:
        """--device gpu on a machine without a GPU gives exit 4."""
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            pytest.skip("a GPU is visible")
        run = invoke("validate", str(SAMPLES / "inverted_dropout.keras"), "--device", "gpu")
        assert run.exit_code == 4
        assert "GPU" in run.stderr


@pytest.mark.gpu
def test_validates_on_gpu() -> None:
    """On a GPU machine the samples validate on the GPU with every call in agreement."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        pytest.skip("no GPU visible to TensorFlow")
    for name in ("inverted_dropout.keras", "merged_frozen_tfkeras.h5", "transfer_inception.h5"):
        result = validate_model(str(SAMPLES / name), ValidationOptions(device="gpu"))
        assert result.device.startswith("GPU")
        assert disagreements(result) == []


class TestWeightsLine:
    def test_counts_trained_and_frozen_layers(self) -> None:
        """The weights line says how many layers trained and how many stayed frozen."""
        result = validate_model(str(SAMPLES / "merged_frozen.keras"))
        trained = sum(1 for w in result.weights if w.agree and w.changed)
        frozen = sum(1 for w in result.weights if w.agree and not w.changed)
        assert trained and frozen, "the sample has both kinds"
        text = render_validation_text(result)
        assert f"weights: {trained} trained and {frozen} stayed frozen in fit(), as predicted" in text
