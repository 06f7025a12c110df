"""graphcheck diff on real Keras 3 models: what changed, in every output format.

The models were built and saved by Keras 3 and are stored in tests/fixtures/
(``make_models.py`` there builds them), so these tests run without TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from paths import stored_models

import graphcheck
from graphcheck.cli import main
from graphcheck.diff import ChangeKind, diff_analyses

K315 = "3.15.1"


@pytest.fixture(scope="module")
def pair() -> tuple[Path, Path]:
    """A frozen base with Dropout(0.5) and a head dropout; then unfrozen, rate 0.3, noise added."""
    models = stored_models()
    return models["k3_diff_old"], models["k3_diff_new"]


@pytest.fixture(scope="module")
def mc_pair() -> tuple[Path, Path]:
    """The same head Dropout called plainly, then with training=True."""
    models = stored_models()
    return models["k3_diff_plain"], models["k3_diff_mc"]


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
