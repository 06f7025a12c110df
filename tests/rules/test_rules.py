"""Every rule on real Keras-built models: which rule IDs fire, never their wording."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import graphcheck
from graphcheck.gate_config import GateConfig, Suppression
from graphcheck.findings import Severity
from graphcheck.rules import REQUIRED_SECTIONS, RULES
from graphcheck.rules.docs import render_pages
from graphcheck.rules.runner import run_rules

K315, K2, K316 = "3.15.1", "2.21.0", "3.16.0"

#: (model, running Keras version, rule, fires?)  One row per case; the meta-test below
#: checks that every registered rule has at least one firing and one quiet case.
CASES = [
    ("k3_frozen_base", K315, "GC101", True),
    ("tf_frozen_transfer", K315, "GC101", True),
    ("tf_frozen_transfer", K2, "GC101", False),
    ("k3_plain", K315, "GC101", False),
    ("k3_transfer", K315, "GC102", True),
    ("tf_frozen_transfer", K315, "GC102", True),
    ("k3_transfer", K2, "GC102", False),
    ("k3_transfer", K316, "GC102", False),
    ("k3_plain", K315, "GC102", False),
    ("tf_mc", K2, "GC103", True),
    ("k3_mc", K316, "GC103", True),
    ("k3_mc", K315, "GC103", False),
    ("k3_plain", K315, "GC103", False),
    ("k3_mc", K315, "GC104", True),
    ("tf_mc", K315, "GC104", True),
    ("tf_mc", K2, "GC104", False),
    ("k3_plain", K315, "GC104", False),
    ("k3_plain", K316, "GC105", True),
    ("tf_mc", K315, "GC105", True),
    ("k3_plain", K315, "GC105", False),
    ("tf_mc", K2, "GC105", False),
    ("k3_plain", K316, "GC106", True),
    ("tf_frozen_transfer", K2, "GC106", True),
    ("tf_mc", K2, "GC106", False),
    ("k3_plain", K315, "GC106", False),
    ("k3_structure", K315, "GC107", True),
    ("k3_plain", K315, "GC107", False),
    ("k3_structure", K315, "GC108", True),
    ("k3_plain", K315, "GC108", False),
    ("k3_structure", K315, "GC109", True),
    ("k3_plain", K315, "GC109", False),
    ("k3_structure", K315, "GC110", True),
    ("k3_plain", K315, "GC110", False),
    ("k3_structure", K315, "GC111", True),
    ("k3_plain", K315, "GC111", False),
    ("k3_structure", K315, "GC112", True),
    ("k3_plain", K315, "GC112", False),
    ("k3_frozen_base", K315, "GC201", True),
    ("tf_frozen_transfer", K315, "GC201", True),
    ("tf_frozen_transfer", K2, "GC201", False),
    ("k3_transfer", K315, "GC201", False),
    ("k3_partial_unfreeze", K315, "GC202", True),
    ("k3_frozen_base", K315, "GC202", False),
    ("tf_nested_sequential", K2, "GC203", True),
    ("k3_frozen_base", K315, "GC203", False),
    ("k3_code", K315, "GC301", True),
    ("k3_plain", K315, "GC301", False),
    ("k3_code", K315, "GC302", True),
    ("k3_plain", K315, "GC302", False),
    ("k3_hub", K315, "GC301", False),
    ("k3_hub", K315, "GC303", True),
    ("k3_plain", K315, "GC303", False),
    ("k3_code", K315, "GC303", False),
]


def _rules(path: Path, version: str, config: GateConfig | None = None) -> set[str]:
    return {f.rule for f in run_rules(graphcheck.load(path).analyse(version), config)}


def _findings(path: Path, version: str, config: GateConfig | None = None) -> list:
    return list(run_rules(graphcheck.load(path).analyse(version), config))


class TestCases:
    @pytest.mark.parametrize(("model", "version", "rule_id", "fires"), CASES)
    def test_case(self, saved_models: dict[str, Path], model: str, version: str, rule_id: str, fires: bool) -> None:
        """The rule fires on the model under that Keras exactly when the case says so."""
        if model not in saved_models:
            pytest.skip(f"{model} needs keras-hub, which is not installed")
        assert (rule_id in _rules(saved_models[model], version)) is fires

    def test_paths_of_frozen_dropout(self, saved_models: dict[str, Path]) -> None:
        """GC101 names the dropout inside the frozen base, and nothing else."""
        found = [f for f in _findings(saved_models["k3_frozen_base"], K315) if f.rule == "GC101"]
        assert [f.path for f in found] == ["base/base_dropout"]

    def test_callsite_flag_names_dropout_and_batchnorm(self, saved_models: dict[str, Path]) -> None:
        """GC102 lists both the base's dropout and its trainable BatchNormalization."""
        found = {f.path for f in _findings(saved_models["k3_transfer"], K315) if f.rule == "GC102"}
        assert found == {"base/base_dropout", "base/base_bn"}

    def test_stored_defaults_under_callsite_keras(self, saved_models: dict[str, Path]) -> None:
        """Under Keras 3.16+ every Keras-3.15 Dropout node's stored default shows up in GC105."""
        found = {f.path for f in _findings(saved_models["k3_structure"], K316) if f.rule == "GC105"}
        assert {"high_dropout", "noise", "out_dropout"} <= found

    def test_upgrade_message_counts_the_calls_and_says_what_to_do(
        self, saved_models: dict[str, Path]
    ) -> None:
        """GC105 says how many of the model's calls change, and to re-save or strip the flags."""
        analysis = graphcheck.load(saved_models["k3_structure"]).analyse(K316)
        findings = [f for f in run_rules(analysis) if f.rule == "GC105"]
        changed = len({c.path for c in analysis.conflicts})
        total = len(analysis.stochastic) + len(analysis.mode_dependent)
        assert findings and changed == len(findings)
        for finding in findings:
            assert f"({changed} of {total} stochastic and BatchNormalization calls" in finding.message
            assert "re-save the model with" in finding.message
            assert 'strip the stored "training": false defaults' in finding.message


class TestConfiguration:
    def test_suppression_marks_mc_dropout_intended(self, saved_models: dict[str, Path]) -> None:
        """A suppression with a reason keeps the finding but marks it suppressed."""
        config = GateConfig(suppress=(Suppression("GC103", "mc_drop*", "MC dropout is intended"),))
        found = [f for f in _findings(saved_models["tf_mc"], K2, config) if f.rule == "GC103"]
        assert [f.suppressed for f in found] == ["MC dropout is intended"]

    def test_suppression_path_must_match(self, saved_models: dict[str, Path]) -> None:
        """A suppression for another call path leaves the finding active."""
        config = GateConfig(suppress=(Suppression("GC103", "head/*", "other layer"),))
        found = [f for f in _findings(saved_models["tf_mc"], K2, config) if f.rule == "GC103"]
        assert [f.suppressed for f in found] == [None]

    def test_rate_threshold_is_configurable(self, saved_models: dict[str, Path]) -> None:
        """Raising max-rate above 0.7 silences GC111."""
        assert "GC111" not in _rules(saved_models["k3_structure"], K315, GateConfig(options={"max-rate": 0.8}))

    def test_select_and_ignore(self, saved_models: dict[str, Path]) -> None:
        """select keeps only the named group; ignore removes a rule from it."""
        config = GateConfig(select=("GC1",), ignore=("zero-rate",))
        found = _rules(saved_models["k3_structure"], K315, config)
        assert found and all(r.startswith("GC1") for r in found) and "GC110" not in found

    def test_severity_override(self, saved_models: dict[str, Path]) -> None:
        """A severity override changes the finding's severity."""
        config = GateConfig(severity={"GC104": Severity.INFO})
        found = [f for f in _findings(saved_models["k3_mc"], K315, config) if f.rule == "GC104"]
        assert [f.severity for f in found] == [Severity.INFO]


class TestRegistry:
    def test_every_rule_has_firing_and_quiet_case(self) -> None:
        """Each static rule appears in CASES at least once firing and once quiet."""
        fires = {rule for _, _, rule, f in CASES if f}
        quiet = {rule for _, _, rule, f in CASES if not f}
        # Load-safety rules: fired by tests/test_load_safety.py on every technique's
        # sample, and kept quiet there on the files real Keras writes.
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from load_safety_samples import TECHNIQUES

        fires |= {rule for rule, _ in TECHNIQUES.values()}
        quiet |= {rule for rule, _ in TECHNIQUES.values()}
        # Preset files: fired on a hostile preset, quiet on clean ones (tests/test_presets.py).
        from test_presets import PRESET_RULES

        fires |= PRESET_RULES
        quiet |= PRESET_RULES
        static = {r for r, item in RULES.items() if item.static}  # GC901: tests/runtime/
        assert static <= fires
        assert static <= quiet

    @pytest.mark.parametrize("rule_id", sorted(RULES))
    def test_docstring_has_sections(self, rule_id: str) -> None:
        """Each rule's docstring has a title line and every required heading, non-empty."""
        item = RULES[rule_id]
        sections = item.sections()
        assert item.title and not item.title.startswith("#")
        for heading in REQUIRED_SECTIONS:
            assert sections.get(heading), f"{rule_id}: missing ## {heading}"

    def test_ids_grouped_and_slugs_unique(self) -> None:
        """IDs are GCnnn in a known hundred; slugs are unique."""
        assert all(r[:3] in ("GC1", "GC2", "GC3", "GC4", "GC9") for r in RULES)
        assert len({r.slug for r in RULES.values()}) == len(RULES)

    def test_generated_docs_are_current(self) -> None:
        """docs/rules/ matches what python scripts/rules_docs.py generates."""
        root = Path(__file__).resolve().parents[2] / "docs" / "rules"
        for name, text in render_pages().items():
            assert (root / name).read_text(encoding="utf-8") == text, (
                f"regenerate docs/rules/{name}: python scripts/rules_docs.py"
            )

    def test_docs_script_check(self, tmp_path: Path) -> None:
        """scripts/rules_docs.py writes the pages, then --check passes; a stale page fails it."""
        script = Path(__file__).resolve().parents[2] / "scripts" / "rules_docs.py"

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, str(script), "--out", str(tmp_path), *args],
                                  capture_output=True, text=True, timeout=120, check=False)

        assert run("--check").returncode == 1
        assert run().returncode == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(render_pages())
        assert run("--check").returncode == 0
        (tmp_path / "README.md").write_text("stale", encoding="utf-8")
        stale = run("--check")
        assert stale.returncode == 1 and "README.md" in stale.stdout


def test_help_lines_name_real_profiles() -> None:
    """A rule's per-Keras help line is keyed by a semantics profile's name ("" for every
    Keras): a misspelt key would fall back silently to the generic line."""
    from graphcheck.semantics import PROFILES

    names = set(PROFILES) | {""}
    for rule_id, item in RULES.items():
        assert set(item.help) <= names, (rule_id, sorted(set(item.help) - names))


def test_gc101_help_covers_every_keras3_profile_that_pushes_fit_training() -> None:
    """Every profile under which fit() pushes training=True past a stored flag gets the
    help that says the flag does not stop it."""
    from graphcheck.semantics import PROFILES

    for name in PROFILES:
        if name.startswith("keras3") and name != "keras3-callsite":
            assert "does not stop" in RULES["GC101"].help_for(name), name
