"""The gate on the command line: --fail-on, select/ignore, configuration, formats, many models.

Runs on the sample files only (no TensorFlow): `merged_frozen.keras` has two
dropouts inside frozen submodels (GC101 under Keras 3.15), `inverted_dropout.keras`
has no findings.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphcheck.cli import EXIT_CODES_HELP, GATE_FORMATS, VALIDATE_FORMATS, main
from graphcheck.rules import RULES

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
FROZEN = str(SAMPLES / "merged_frozen.keras")
CLEAN = str(SAMPLES / "inverted_dropout.keras")
K315 = ["--keras-version", "3.15.1"]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no [tool.graphcheck] above tmp_path unless a test writes one
    return CliRunner()


@pytest.fixture
def sample_tree(tmp_path: Path) -> Path:
    """Every shipped sample (an architecture JSON as a model.json), and one damaged file."""
    tree = tmp_path / "samples"
    tree.mkdir()
    for sample in sorted(SAMPLES.iterdir()):
        if sample.suffix in (".h5", ".keras"):
            shutil.copy(sample, tree / sample.name)
        elif sample.suffix == ".json":  # a directory search finds JSON only as model.json
            (tree / sample.stem).mkdir()
            shutil.copy(sample, tree / sample.stem / "model.json")
    (tree / "broken.keras").write_bytes(b"not a zip archive")
    return tree


def whole_report(tree: Path, output_format: str) -> str:
    """The report made the plain way: every analysis kept, each reporter run on all of them."""
    from graphcheck.gate_config import GateConfig, select_rules
    from graphcheck.discovery import discover_models
    from graphcheck.findings import FailOn, Report
    from graphcheck.reporters.findings_json import add_findings
    from graphcheck.reporters.github import render_github
    from graphcheck.reporters.json_report import document
    from graphcheck.reporters.json_text import dumps_document
    from graphcheck.reporters.markdown import render_markdown
    from graphcheck.reporters.sarif import render_sarif
    from graphcheck.reporters.terminal import TextStyle, choose_width
    from graphcheck.reporters.text_report import render_block, render_report
    from graphcheck.api import check

    config = GateConfig().override(keras_version="3.15.1")
    checked = check(discover_models([str(tree)]), config, keep_analyses=True)
    report = Report(checked.results, FailOn.ERROR, tuple(select_rules(config)))
    analyses = list(checked.analyses)
    if output_format == "json":
        errors = [(r.path, r.error) for r in report.errors]
        merged = add_findings(document(analyses, errors), report)
        return dumps_document(merged)
    if output_format == "text":
        style = TextStyle(width=choose_width(None, os.environ))
        results = {r.path: r for r in checked.results}
        parts = [render_block(a, results[a.saved.path], style) for a in analyses]
        return render_report(report, parts, style)
    others = {"sarif": render_sarif, "markdown": render_markdown, "github": render_github}
    return others[output_format](report)


@pytest.fixture
def model_tree(tmp_path: Path) -> Path:
    """A directory of models in subdirectories, with one damaged file."""
    tree = tmp_path / "models"
    (tree / "a").mkdir(parents=True)
    (tree / "b" / "deep").mkdir(parents=True)
    shutil.copy(FROZEN, tree / "a" / "frozen.keras")
    shutil.copy(CLEAN, tree / "b" / "deep" / "clean.keras")
    shutil.copy(SAMPLES / "merged_frozen_tfkeras.h5", tree / "b" / "frozen_tf.h5")
    (tree / "b" / "broken.h5").write_bytes(b"not an hdf5 file")
    (tree / "notes.txt").write_text("not a model")
    return tree


class TestFailOn:
    def test_warning_fails(self, runner: CliRunner) -> None:
        """--fail-on warning exits 1 on a warning finding (GC101)."""
        assert runner.invoke(main, ["check", FROZEN, *K315, "--fail-on", "warning"]).exit_code == 1

    def test_default_fails_on_error_only(self, runner: CliRunner, tmp_path: Path) -> None:
        """With no threshold set, an error finding exits 1 (the default is error), warnings 0."""
        model = tmp_path / "lambda.json"
        model.write_text(json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "Lambda", "config": {"name": "lam", "batch_input_shape": [None, 4],
                                                "function": ["AAAA", None, None],
                                                "function_type": "lambda", "arguments": {}}}]}}))
        assert runner.invoke(main, ["check", str(model), *K315]).exit_code == 1
        assert runner.invoke(main, ["check", str(model), *K315, "--fail-on", "never"]).exit_code == 0
        assert runner.invoke(main, ["check", FROZEN, *K315]).exit_code == 0

    def test_clean_model_passes_info(self, runner: CliRunner) -> None:
        """A model without findings passes even --fail-on info."""
        assert runner.invoke(main, ["check", CLEAN, *K315, "--fail-on", "info"]).exit_code == 0

    def test_ignore_and_select(self, runner: CliRunner) -> None:
        """--ignore GC101 (or selecting another group) removes the failing finding."""
        assert runner.invoke(main, ["check", FROZEN, *K315, "--fail-on", "warning", "--ignore", "GC101"]).exit_code == 0
        assert runner.invoke(main, ["check", FROZEN, *K315, "--fail-on", "warning", "--select", "GC2,GC3"]).exit_code == 0

    def test_unknown_rule_is_usage_error(self, runner: CliRunner) -> None:
        """--select with an unknown rule exits 2."""
        assert runner.invoke(main, ["check", FROZEN, "--select", "GC999"]).exit_code == 2

    def test_exit_codes_listed(self) -> None:
        """The help lists exit code 1 for --fail-on."""
        assert "--fail-on" in EXIT_CODES_HELP


class TestConfig:
    def _write(self, directory: Path, body: str) -> None:
        (directory / "pyproject.toml").write_text("[tool.graphcheck]\n" + body)

    def test_fail_on_from_pyproject(self, runner: CliRunner, tmp_path: Path) -> None:
        """fail-on in [tool.graphcheck] applies; the command line overrides it."""
        self._write(tmp_path, 'fail-on = "warning"\nkeras-version = "3.15.1"\n')
        assert runner.invoke(main, ["check", FROZEN]).exit_code == 1
        assert runner.invoke(main, ["check", FROZEN, "--fail-on", "never"]).exit_code == 0

    def test_suppression_with_reason(self, runner: CliRunner, tmp_path: Path) -> None:
        """A path-pattern suppression with a reason stops the failure and is reported."""
        self._write(
            tmp_path,
            'fail-on = "warning"\nsuppress = [{rule = "GC101", path = "*/*_dropout", reason = "accepted"}]\n',
        )
        result = runner.invoke(main, ["check", FROZEN, *K315, "--format", "json"])
        assert result.exit_code == 0
        findings = json.loads(result.stdout)["models"][0]["findings"]
        assert {f["rule"] for f in findings} == {"GC101"}
        assert all(f["suppressed"] and f["suppression_reason"] == "accepted" for f in findings)

    def test_suppression_needs_reason(self, runner: CliRunner, tmp_path: Path) -> None:
        """A suppression without a reason is a usage error."""
        self._write(tmp_path, 'suppress = [{rule = "GC101", path = "*"}]\n')
        assert runner.invoke(main, ["check", FROZEN]).exit_code == 2

    def test_unknown_key(self, runner: CliRunner, tmp_path: Path) -> None:
        """An unknown key in [tool.graphcheck] is a usage error."""
        self._write(tmp_path, "fail_on = 'error'\n")
        assert runner.invoke(main, ["check", FROZEN]).exit_code == 2

    def test_severity_override(self, runner: CliRunner, tmp_path: Path) -> None:
        """severity = {GC101 = "error"} makes the default threshold (error) fail; "info" passes warning."""
        self._write(tmp_path, 'severity = { GC101 = "error" }\n')
        assert runner.invoke(main, ["check", FROZEN, *K315]).exit_code == 1
        self._write(tmp_path, 'severity = { GC101 = "info" }\n')
        assert runner.invoke(main, ["check", FROZEN, *K315, "--fail-on", "warning"]).exit_code == 0
        assert runner.invoke(main, ["check", FROZEN, *K315, "--fail-on", "info"]).exit_code == 1


class TestManyModels:
    def test_directory_discovery_and_unreadable(self, runner: CliRunner, model_tree: Path) -> None:
        """A directory is searched recursively; a damaged file is reported, the others still run."""
        result = runner.invoke(main, ["check", str(model_tree), *K315, "--format", "json"])
        assert result.exit_code == 3
        document = json.loads(result.stdout)
        paths = [Path(m["path"]).name for m in document["models"]]
        assert paths == ["frozen.keras", "clean.keras", "frozen_tf.h5"]
        assert [Path(e["path"]).name for e in document["errors"]] == ["broken.h5"]
        assert document["summary"]["unreadable"] == 1

    def test_jobs_give_the_same_report(self, runner: CliRunner, model_tree: Path) -> None:
        """--jobs 2 gives byte-identical output to --jobs 1."""
        one = runner.invoke(main, ["check", str(model_tree), *K315, "--format", "sarif"])
        two = runner.invoke(main, ["check", str(model_tree), *K315, "--format", "sarif", "--jobs", "2"])
        assert one.stdout == two.stdout

    @pytest.mark.parametrize("output_format", GATE_FORMATS)
    def test_jobs_give_the_same_bytes_in_every_format(
        self, runner: CliRunner, sample_tree: Path, output_format: str
    ) -> None:
        """--jobs 1 and --jobs 2 both write what rendering every kept analysis at once writes."""
        args = ["check", str(sample_tree), *K315, "--format", output_format]
        one = runner.invoke(main, args)
        two = runner.invoke(main, [*args, "--jobs", "2"])
        assert one.exit_code == two.exit_code == 3
        assert one.stderr == two.stderr and "broken.keras" in one.stderr
        assert one.stdout == two.stdout == whole_report(sample_tree, output_format)

    def test_json_schema(self, runner: CliRunner, model_tree: Path) -> None:
        """The JSON report with findings validates against docs/gate.schema.json."""
        jsonschema = pytest.importorskip("jsonschema")
        schema = json.loads((ROOT / "docs" / "gate.schema.json").read_text())
        result = runner.invoke(main, ["check", str(model_tree), *K315, "--format", "json"])
        jsonschema.validate(json.loads(result.stdout), schema)


class TestFormats:
    def test_flag_offers_every_registered_format(self) -> None:
        """--format of check and diff offers exactly the reporter registry's formats."""
        from graphcheck.reporters.registry import REPORTERS

        assert list(GATE_FORMATS) == list(REPORTERS)
        assert VALIDATE_FORMATS == [n for n, r in REPORTERS.items() if r.render_validation]

    def test_markdown(self, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
        """Markdown names the rule, and links its page only where one is published."""
        out = runner.invoke(main, ["check", FROZEN, *K315, "--format", "markdown"]).stdout
        assert "GC101" in out and "[GC101](" not in out
        monkeypatch.setattr("graphcheck.rules.DOCS_URL", "https://example.org/{id}")
        out = runner.invoke(main, ["check", FROZEN, *K315, "--format", "markdown"]).stdout
        assert "[GC101](https://example.org/GC101)" in out

    def test_markdown_shows_hostile_names_as_text(self, runner: CliRunner, tmp_path: Path) -> None:
        """A layer name that is Markdown (an image a reader's browser would fetch, a link,
        a closing tag, a table pipe, backticks, an escape code) is shown as text: the
        rendered comment has no image, link or extra cell, and shows the name as written."""
        from markdown_it import MarkdownIt  # installed with Keras (rich uses it)

        import hostile_fixtures as hf

        name = "![x](https://tracker.example/p.png) [y](https://e.example) </details> | `a``b` \x1b[31m"
        layer = hf.k3_layer(name, "Thing", ["x"], module="my_package.layers",
                            registered_name="my_package>Thing")
        model = tmp_path / "hostile_names.json"
        model.write_text(json.dumps(hf.k3_functional("top", [hf.k3_input(), layer], ["x"], [name])))
        out = runner.invoke(main, ["check", str(model), *K315, "--format", "markdown"]).stdout
        html = MarkdownIt("commonmark").enable("table").render(out)
        assert "GC301" in out
        assert "<img" not in html and "<a " not in html and "</details>" not in html
        assert "\x1b" not in out
        rows = [r for r in html.split("<tr>")[2:]]
        assert rows and all(r.count("<td>") == 4 for r in rows), html
        shown = "![x](https://tracker.example/p.png) [y](https://e.example) &lt;/details&gt; | "
        assert shown in html

    def test_json_help_uri_is_null_without_published_pages(self, runner: CliRunner) -> None:
        """help_uri stays in every finding (the schema requires it), null: no page to link."""
        out = runner.invoke(main, ["check", FROZEN, *K315, "--format", "json"]).stdout
        findings = [f for m in json.loads(out)["models"] for f in m["findings"]]
        assert findings and all(f["help_uri"] is None for f in findings)

    def test_github(self, runner: CliRunner) -> None:
        """GitHub format writes one ::warning annotation per warning finding, on the model file."""
        out = runner.invoke(main, ["check", FROZEN, *K315, "--format", "github"]).stdout
        lines = [line for line in out.splitlines() if line.startswith("::warning file=")]
        assert len(lines) == 2 and all("GC101" in line for line in lines)

    def test_text_plain_when_piped(self, runner: CliRunner) -> None:
        """Text output has no ANSI colour when it is not a terminal."""
        out = runner.invoke(main, ["check", FROZEN, *K315]).stdout
        assert "GC101" in out and "\x1b[" not in out


class TestRuleCommands:
    def test_rules_lists_every_rule(self, runner: CliRunner) -> None:
        """graphcheck rules lists every registered ID."""
        out = runner.invoke(main, ["rules"]).stdout
        assert all(rule_id in out for rule_id in RULES)

    def test_explain(self, runner: CliRunner) -> None:
        """graphcheck explain prints a rule's page, by ID or slug; unknown is a usage error."""
        assert "## Why is this bad?" in runner.invoke(main, ["explain", "GC101"]).stdout
        assert "GC101" in runner.invoke(main, ["explain", "dropout-active-in-frozen-submodel"]).stdout
        assert runner.invoke(main, ["explain", "GC999"]).exit_code == 2
