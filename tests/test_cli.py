"""The command line: exit codes, one-line errors, JSON against its schema, exports."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import networkx as nx
import pytest
from click.testing import CliRunner
from helpers import REAL_MODELS, ROOT, SAMPLES

from graphcheck.cli import main

SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


class TestCheck:
    def test_text_report_answers_the_three_questions(self, runner: CliRunner) -> None:
        """The transfer sample's verdict: nothing stochastic in the frozen base, nothing at
        inference, the head's inverted dropout; its table names the masked layer; -v the reasons."""
        args = [str(SAMPLES / "transfer_inception.h5"), "--keras-version", "3.15.1"]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert "no stochastic layer inside the frozen base" in lines[2]
        assert "nothing stochastic is active in predict() or model(x)" in "\n".join(lines[2:6])
        assert "inverted dropout: kept units x1.25" in "\n".join(lines[2:6])
        row = next(x for x in lines if x.strip().startswith("dropout "))
        assert row.split() == ["dropout", "Dropout", "0.2", "dense_1024", "on", "off", "off", "-"]
        verbose = runner.invoke(main, [*args, "-v"]).output
        assert "dropout (Dropout, rate 0.2) masks the output of dense_1024 (Dense, 1024 units" in verbose
        assert "frozen submodel inception_v3_mixed7" in verbose

    def test_json_matches_the_published_schema(self, runner: CliRunner) -> None:
        """--format json validates against docs/report.schema.json for every sample."""
        paths = sorted(str(p) for p in SAMPLES.iterdir() if p.suffix in (".h5", ".keras", ".json"))
        # --fail-on never: the quickstart sample's GC102 error is there on purpose.
        result = runner.invoke(
            main, ["--format", "json", "--keras-version", "3.15.1", "--fail-on", "never", *paths]
        )
        assert result.exit_code == 0, result.output
        document = json.loads(result.output)
        jsonschema.validate(document, SCHEMA)
        assert len(document["models"]) == len(paths)

    def test_one_bad_file_does_not_stop_the_others(self, runner: CliRunner, tmp_path: Path) -> None:
        """A missing file gets one stderr line and exit 3; the good model is still reported."""
        good = str(SAMPLES / "inverted_dropout.keras")
        result = runner.invoke(main, [str(tmp_path / "missing.h5"), good, "--format", "json"])
        assert result.exit_code == 3
        document = json.loads(result.stdout)
        assert [m["path"] for m in document["models"]] == [good]
        assert document["errors"][0]["path"].endswith("missing.h5")
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("graphcheck: error: ") and "missing.h5" in result.stderr

    def test_subclassed_model_is_a_clear_error(self, runner: CliRunner) -> None:
        """A model without a stored layer graph is exit 3 with one explanatory line."""
        path = REAL_MODELS / "k3_keras_subclassed_nested_container.keras"
        if not path.exists():
            pytest.skip("shared/real-models is not beside this checkout")
        result = runner.invoke(main, [str(path)])
        assert result.exit_code == 3
        assert "subclassed model" in result.stderr and "Traceback" not in result.stderr

    def test_weights_only_h5(self, runner: CliRunner, tmp_path: Path) -> None:
        """An HDF5 file without model_config is named as probably weights-only."""
        import h5py

        path = tmp_path / "w.weights.h5"
        with h5py.File(path, "w") as handle:
            handle.attrs["layer_names"] = [b"dense"]
        result = runner.invoke(main, [str(path)])
        assert result.exit_code == 3
        assert "weights-only" in result.stderr

    def test_bad_keras_version_is_a_usage_error(self, runner: CliRunner) -> None:
        """--keras-version that is no version is exit 2."""
        result = runner.invoke(main, [str(SAMPLES / "inverted_dropout.keras"), "--keras-version", "latest"])
        assert result.exit_code == 2

    def test_version_newer_than_measured_is_said(self, runner: CliRunner) -> None:
        """--keras-version 4.0: one stderr warning, and the JSON profile says it too."""
        args = [str(SAMPLES / "inverted_dropout.keras"), "--format", "json", "--keras-version"]
        result = runner.invoke(main, [*args, "4.0"])
        assert result.exit_code == 0
        assert "Keras 4.0 is newer than every build" in result.stderr
        assert json.loads(result.stdout)["models"][0]["profile"]["newer_than_measured"] is True
        proven = runner.invoke(main, [*args, "3.15.1"])
        assert proven.stderr == ""
        assert json.loads(proven.stdout)["models"][0]["profile"]["newer_than_measured"] is False

    def test_profiles_lists_the_proven_builds(self, runner: CliRunner) -> None:
        """`graphcheck profiles` prints every build of PROVEN_BUILDS under its profile."""
        from graphcheck.semantics import PROVEN_BUILDS

        result = runner.invoke(main, ["profiles"])
        assert result.exit_code == 0
        for name, builds in PROVEN_BUILDS.items():
            block = result.output.split(name, 1)[1]
            for build in builds:
                assert str(build) in block.split("\n", 2)[1]

    def test_output_file_is_written(self, runner: CliRunner, tmp_path: Path) -> None:
        """-o writes the report to a file and nothing to stdout."""
        out = tmp_path / "report.json"
        result = runner.invoke(main, [str(SAMPLES / "inverted_dropout.keras"), "--format", "json", "-o", str(out)])
        assert result.exit_code == 0
        assert result.stdout == ""
        assert json.loads(out.read_text())["schema_version"] == "1.0"

    def test_help_lists_exit_codes(self, runner: CliRunner) -> None:
        """--help documents every exit code."""
        result = runner.invoke(main, ["--help"])
        for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "123"):
            assert code in result.output


class TestExport:
    @pytest.mark.parametrize("suffix", [".graphml", ".json"])
    def test_export_round_trips_through_networkx(self, runner: CliRunner, tmp_path: Path, suffix: str) -> None:
        """GraphML and node-link JSON exports read back with one node per layer call."""
        out = tmp_path / f"graph{suffix}"
        result = runner.invoke(main, ["export", str(SAMPLES / "merged_frozen.keras"), "-o", str(out)])
        assert result.exit_code == 0, result.output
        if suffix == ".graphml":
            graph = nx.read_graphml(out)
        else:
            graph = nx.node_link_graph(json.loads(out.read_text()), edges="edges")
        assert "left/left_dropout" in graph.nodes
        assert graph.nodes["left/left_dropout"]["active_fit"] in (True, "True", "true")
        assert graph.has_edge("left/left_dense", "left/left_dropout")

    def test_graphml_yes_no_facts_are_booleans(self, runner: CliRunner, tmp_path: Path) -> None:
        """Every yes/no attribute is typed boolean in GraphML, never the string "true"."""
        import xml.etree.ElementTree as ET

        out = tmp_path / "graph.graphml"
        model = SAMPLES / "transfer_inception.h5"
        assert runner.invoke(main, ["export", str(model), "-o", str(out)]).exit_code == 0
        keys = {k.get("attr.name"): k.get("attr.type")
                for k in ET.parse(out).getroot() if k.tag.endswith("key")}
        yes_no = [name for name in keys if name in ("trainable", "frozen", "will_train", "stochastic",
                  "mode_dependent", "masked_by_consumer") or name.startswith(("active_", "batch_statistics_"))]
        assert {"trainable", "frozen", "will_train", "batch_statistics_fit"} <= set(yes_no)
        assert {name: keys[name] for name in yes_no} == dict.fromkeys(yes_no, "boolean")
        graph = nx.read_graphml(out)
        assert graph.nodes["dense_1024"]["will_train"] is True

    def test_export_rejects_unknown_suffix(self, runner: CliRunner, tmp_path: Path) -> None:
        """An export path with an unknown suffix is a usage error."""
        result = runner.invoke(main, ["export", str(SAMPLES / "merged_frozen.keras"), "-o", str(tmp_path / "g.txt")])
        assert result.exit_code == 2


class TestMisspeltCommand:
    @pytest.mark.parametrize(("typed", "meant"), [("valdiate", "validate"), ("rendr", "render")])
    def test_near_command_name_is_a_usage_error(self, runner: CliRunner, typed: str, meant: str) -> None:
        """A first word that is no file but nearly a command exits 2 with a suggestion."""
        result = runner.invoke(main, [typed, str(SAMPLES / "merged_frozen.keras")])
        assert result.exit_code == 2, result.output
        assert f"did you mean {meant}?" in result.output

    def test_existing_file_of_that_name_is_still_a_model(
        self, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A file that happens to be called like a typo is read as a model, not refused."""
        monkeypatch.chdir(tmp_path)
        Path("valdiate").write_bytes((SAMPLES / "merged_frozen.keras").read_bytes())
        result = runner.invoke(main, ["valdiate", "--keras-version", "3.15.1"])
        assert result.exit_code == 0, result.output

    def test_far_word_is_still_a_missing_model(self, runner: CliRunner) -> None:
        """A word close to no command stays a model path that does not exist (exit 3)."""
        assert runner.invoke(main, ["no-such-model.h5"]).exit_code == 3


class TestDiffProfile:
    def test_both_files_analysed_under_the_header_profile(
        self, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A .keras file and a tf_keras .h5 are compared under the one profile the header names."""
        import graphcheck.profile_choice

        monkeypatch.setattr(graphcheck.profile_choice, "installed_kerases",
                            lambda: {"keras": "3.15.1", "tf_keras": "2.21.0"})
        pair = [str(SAMPLES / "merged_frozen.keras"), str(SAMPLES / "merged_frozen_tfkeras.h5")]
        default = runner.invoke(main, ["diff", *pair])
        named = runner.invoke(main, ["diff", *pair, "--keras-version", "2.21.0"])
        assert default.exit_code == named.exit_code == 0, default.output + named.output
        assert "(semantics: keras2 for both; installed tf_keras 2.21.0" in default.output
        assert default.output.splitlines()[1:] == named.output.splitlines()[1:]
        assert "activity-changed" in default.output


class TestStoredFlagSummary:
    @pytest.mark.parametrize(("version", "ignored"), [("3.15.1", True), ("2.21.0", False)])
    def test_frozen_base_line_says_whether_the_flag_holds(
        self, runner: CliRunner, version: str, ignored: bool
    ) -> None:
        """The verdict on a base called with training=False says when Keras ignores the flag;
        -v keeps the base's own line, which says so too."""
        args = [str(SAMPLES / "transfer_inception.h5"), "--keras-version", version]
        verdict = " ".join(runner.invoke(main, args).output.splitlines()[2:6])
        assert ("ignores the stored inception_v3_mixed7(x, training=False) in fit()" in verdict) is ignored
        verbose = runner.invoke(main, [*args, "-v"]).output
        line = " ".join(verbose.split("frozen submodel inception_v3_mixed7", 1)[1].split(":", 1)[0].split())
        assert "called with training=False" in line
        assert ("ignores in fit() and predict()" in line) is ignored


class TestThirdQuestion:
    def test_text_and_json_say_how_kept_units_are_scaled(self, runner: CliRunner) -> None:
        """Each Dropout's line and JSON entry say it is inverted: x1/(1-rate) in training, identity otherwise."""
        model = str(SAMPLES / "merged_frozen.keras")
        text = runner.invoke(main, [model, "--keras-version", "3.15.1"]).output
        assert "training:     inverted dropout: kept units x2; identity in predict()" in text
        text = runner.invoke(main, [model, "--keras-version", "3.15.1", "-v", "--color", "never"]).output
        reasons = " ".join(text.split("reasons:", 1)[1].split())
        assert "when active, inverted dropout: kept units x1/(1-0.5) = x2, dropped 0; identity when not" in reasons
        document = json.loads(runner.invoke(main, [model, "--format", "json", "--keras-version", "3.15.1"]).output)
        (entry,) = [s for s in document["models"][0]["stochastic"] if s["path"] == "left/left_dropout"]
        assert entry["training_transform"]["kept_scale"] == 2.0
        assert entry["training_transform"]["inference"] == "identity"
