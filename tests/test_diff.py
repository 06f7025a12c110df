"""graphcheck diff on real Keras 3 models: what changed, in every output format."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import graphcheck
from graphcheck.cli import main
from graphcheck.diff import ChangeKind, diff_analyses

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

K315 = "3.15.1"


def _model(rate: float, frozen: bool, noise: bool, mc: bool, keep_head_dropout: bool) -> Any:
    keras.backend.clear_session()
    inputs = keras.Input(shape=(8,), name="base_in")
    h = keras.layers.Dense(8, name="base_dense")(inputs)
    h = keras.layers.BatchNormalization(name="base_bn")(h)
    h = keras.layers.Dropout(rate, name="base_dropout")(h)
    base = keras.Model(inputs, h, name="base")
    base.trainable = not frozen
    x = keras.Input(shape=(8,), name="x")
    h = base(x)
    if noise:
        h = keras.layers.GaussianNoise(0.1, name="noise")(h)
    if keep_head_dropout:
        h = keras.layers.Dropout(0.2, name="head_dropout")(h, training=True if mc else None)
    return keras.Model(x, keras.layers.Dense(1, name="head")(h), name="m")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("diff")
    old, new = directory / "old.keras", directory / "new.keras"
    _model(0.5, frozen=True, noise=False, mc=False, keep_head_dropout=True).save(old)
    _model(0.3, frozen=False, noise=True, mc=False, keep_head_dropout=False).save(new)
    return old, new


@pytest.fixture(scope="module")
def mc_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("diff_mc")
    old, new = directory / "plain.keras", directory / "mc.keras"
    _model(0.5, frozen=False, noise=False, mc=False, keep_head_dropout=True).save(old)
    _model(0.5, frozen=False, noise=False, mc=True, keep_head_dropout=True).save(new)
    return old, new


def _kinds(old: Path, new: Path, version: str = K315) -> set[tuple[str, str]]:
    diff = diff_analyses(graphcheck.load(old).analyse(version), graphcheck.load(new).analyse(version))
    return {(c.kind.value, c.path) for c in diff.changes}


class TestDiff:
    def test_changes(self, pair: tuple[Path, Path]) -> None:
        """Added noise, removed dropout, changed rate and unfrozen base are all reported."""
        found = _kinds(*pair)
        assert ("stochastic-added", "noise") in found
        assert ("stochastic-removed", "head_dropout") in found
        assert ("rate-changed", "base/base_dropout") in found
        assert ("frozen-changed", "base") in found

    def test_batchnorm_mode_change(self, pair: tuple[Path, Path]) -> None:
        """Unfreezing the base makes its BN use batch statistics in fit()."""
        assert ("statistics-changed", "base/base_bn") in _kinds(*pair)

    def test_activity_change_depends_on_running_keras(self, mc_pair: tuple[Path, Path]) -> None:
        """Adding training=True changes predict() under Keras 3.16+, only model(x) under 3.15."""
        def details(version: str) -> str:
            analyses = [graphcheck.load(p).analyse(version) for p in mc_pair]
            diff = diff_analyses(*analyses)
            return " ".join(c.detail for c in diff.changes if c.kind is ChangeKind.ACTIVITY_CHANGED)

        assert "predict()" in details("3.16.0")
        assert "model(x)" in details(K315) and "predict()" not in details(K315)

    def test_identical_files(self, pair: tuple[Path, Path]) -> None:
        """A file compared with itself has no changes."""
        assert _kinds(pair[0], pair[0]) == set()


class TestDiffCli:
    @pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown", "github"])
    def test_every_format(self, pair: tuple[Path, Path], fmt: str) -> None:
        """Every output format names the rate change."""
        result = CliRunner().invoke(main, ["diff", *map(str, pair), "--keras-version", K315, "--format", fmt])
        assert result.exit_code == 0, result.output
        assert "base/base_dropout" in result.stdout

    def test_json_schema(self, pair: tuple[Path, Path]) -> None:
        """JSON diff output validates against docs/diff.schema.json."""
        jsonschema = pytest.importorskip("jsonschema")
        schema = json.loads((Path(__file__).resolve().parents[1] / "docs" / "diff.schema.json").read_text())
        result = CliRunner().invoke(main, ["diff", *map(str, pair), "--keras-version", K315, "--format", "json"])
        document = json.loads(result.stdout)
        jsonschema.validate(document, schema)
        assert {c["kind"] for c in document["diffs"][0]["changes"]} <= {k.value for k in ChangeKind}

    def test_exit_code_flag(self, pair: tuple[Path, Path]) -> None:
        """--exit-code exits 1 when the models differ, 0 when they do not."""
        differ = CliRunner().invoke(main, ["diff", *map(str, pair), "--keras-version", K315, "--exit-code"])
        same = CliRunner().invoke(main, ["diff", str(pair[0]), str(pair[0]), "--keras-version", K315, "--exit-code"])
        assert (differ.exit_code, same.exit_code) == (1, 0)

    def test_unreadable(self, tmp_path: Path, pair: tuple[Path, Path]) -> None:
        """An unreadable file exits 3."""
        bad = tmp_path / "bad.keras"
        bad.write_bytes(b"junk")
        assert CliRunner().invoke(main, ["diff", str(pair[0]), str(bad)]).exit_code == 3
