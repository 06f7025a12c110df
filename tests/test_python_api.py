"""graphcheck from Python: short reprs, public names, check(), and errors worded for Python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import graphcheck.cli

import graphcheck
from graphcheck.errors import GraphcheckError

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
BIG = str(SAMPLES / "transfer_inception_full.json")
NEEDS_REBUILD = str(SAMPLES / "rebuild" / "bert_frozen_classifier.keras")
PUBLIC = ("load", "analyse", "check", "LoadedModel", "CheckReport", "GraphcheckError")


class TestReprs:
    def test_loaded_model(self) -> None:
        """A loaded model's repr is one short line: path, calls, the Keras that saved it."""
        saved = str(SAMPLES / "transfer_inception.h5")
        model = graphcheck.load(saved)
        text = repr(model)
        calls = len(model.analyse().layer_calls())
        assert len(text) < 300 and "\n" not in text
        assert text == f"<LoadedModel {saved!r}: {calls} calls, saved by Keras 3.15.1>"
        assert repr(graphcheck.load(BIG)).endswith(" calls, Keras version not recorded>")

    def test_analysis_and_report(self) -> None:
        """The analysis and a check report are one short line each."""
        analysis = graphcheck.load(BIG).analyse("3.15.1")
        report = graphcheck.check([BIG, str(SAMPLES / "merged_frozen.keras")], keras_version="3.15.1")
        for text in (repr(analysis), repr(report)):
            assert len(text) < 300 and "\n" not in text, text[:400]
        assert repr(report).startswith("<CheckReport 2 models: ")

    def test_long_path_is_shortened(self, tmp_path: Path) -> None:
        """A deep path does not make the repr long."""
        deep = tmp_path / ("d" * 200) / "m.keras"
        deep.parent.mkdir()
        deep.write_bytes((SAMPLES / "inverted_dropout.keras").read_bytes())
        assert len(repr(graphcheck.load(str(deep)))) < 300


class TestPublicNames:
    def test_dir_and_all(self) -> None:
        """dir(graphcheck) and __all__ list the entry points before they are first used."""
        result = subprocess.run(
            [sys.executable, "-c", "import graphcheck; print(dir(graphcheck)); "
             "print(graphcheck.__all__)"],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )
        listed, exported = result.stdout.splitlines()
        for name in PUBLIC:
            assert repr(name) in listed and repr(name) in exported, name

    def test_help_documents_them(self) -> None:
        """help(graphcheck) shows the module docstring and the public functions."""
        text = subprocess.run(
            [sys.executable, "-c", "import graphcheck, pydoc; "
             "print(pydoc.render_doc(graphcheck, renderer=pydoc.plaintext))"],
            capture_output=True, text=True, check=True, cwd=ROOT,
        ).stdout
        assert "static analysis of saved Keras models" in text
        functions = text.split("\nFUNCTIONS\n", 1)[1]
        for name in ("load(", "analyse(", "check("):
            assert f"\n    {name}" in functions, name


class TestCheck:
    def test_path_gives_findings_and_verdict(self) -> None:
        """check(path): the findings and the gate's verdict, as `graphcheck check` gives."""
        path = str(SAMPLES / "frozen_base_dropout.keras")
        report = graphcheck.check(path, keras_version="3.15.1")
        assert ("GC101", "base/base_dropout") in {(f.rule, f.path) for f in report.findings}
        assert report.passed is True  # GC101 is a warning
        assert not graphcheck.check(path, keras_version="3.15.1", fail_on="warning").passed
        assert graphcheck.check(path, keras_version="3.15.1", ignore=["GC101"],
                                fail_on="warning").passed
        cli = CliRunner().invoke(graphcheck.cli.main, [path, "--keras-version", "3.15.1"])
        assert cli.exit_code == (0 if report.passed else 1)

    def test_bad_rule_name(self) -> None:
        """An unknown rule or threshold is a ValueError."""
        with pytest.raises(ValueError, match="GC999"):
            graphcheck.check(BIG, select=["GC999"])
        with pytest.raises(ValueError):
            graphcheck.check(BIG, fail_on="sometimes")

    def test_unreadable_is_a_result_not_an_exception(self, tmp_path: Path) -> None:
        """A damaged file is a failed result with its error; the verdict is failed."""
        broken = tmp_path / "broken.keras"
        broken.write_bytes(b"not a zip")
        report = graphcheck.check(str(broken))
        assert not report.passed and report.errors[0].error


    @pytest.mark.parametrize("jobs", [1, 2])
    def test_a_folder_gives_each_file_its_own_result(self, tmp_path: Path, jobs: int) -> None:
        """A folder's files are read ahead of their turn (their HDF5 walks start early):
        each result is still the one the file gets alone, hostile weights and damaged
        files included, in both one process and a pool."""
        import shutil

        import load_safety_samples as samples

        folder = tmp_path / "models"
        folder.mkdir()
        secret = samples.secret_fifo(tmp_path)
        for name in ("merged_frozen_tfkeras.h5", "transfer_inception.h5", "merged_frozen.keras"):
            shutil.copyfile(SAMPLES / name, folder / f"a_{name}")
        for technique, fmt in (("hdf5_external_link", "keras"), ("hdf5_virtual_dataset", "h5")):
            shutil.move(samples.write_sample(technique, fmt, tmp_path, secret), folder / f"b_{technique}.{fmt}")
        (folder / "c_truncated.h5").write_bytes((SAMPLES / "inverted_dropout.h5").read_bytes()[:3000])
        shutil.copyfile(SAMPLES / "inverted_dropout.keras", folder / "d_inverted_dropout.keras")

        def seen(report: graphcheck.CheckReport) -> list[tuple[str, str | None, list[str]]]:
            return [(Path(r.path).name, r.error, sorted({f.rule for f in r.findings}))
                    for r in report.results]

        together = seen(graphcheck.check(str(folder), jobs=jobs, keras_version="3.15.1"))
        alone = [row for path in sorted(folder.iterdir())
                 for row in seen(graphcheck.check(str(path), keras_version="3.15.1"))]
        assert together == alone
        assert [row[0] for row in together] == sorted(p.name for p in folder.iterdir())
        rules = {name: found for name, _, found in together}
        assert "GC410" in rules["b_hdf5_external_link.keras"]
        assert "GC410" in rules["b_hdf5_virtual_dataset.h5"]
        assert "GC410" not in rules["d_inverted_dropout.keras"]
        assert dict((n, e) for n, e, _ in together)["c_truncated.h5"]


class TestWording:
    def test_python_error_names_the_parameter(self) -> None:
        """Raised to Python, the advice is rebuild=True, not the --rebuild flag."""
        with pytest.raises(GraphcheckError) as caught:
            graphcheck.load(NEEDS_REBUILD)
        assert "rebuild=True" in str(caught.value) and "--rebuild" not in str(caught.value)
        report = graphcheck.check(NEEDS_REBUILD)
        assert "rebuild=True" in (report.errors[0].error or "")

    def test_cli_names_the_flag(self) -> None:
        """The command line still says --rebuild, and a later Python call rebuild=True."""
        result = CliRunner().invoke(graphcheck.cli.main, ["check", NEEDS_REBUILD])
        assert "use --rebuild" in result.stderr and "rebuild=True" not in result.stderr
        with pytest.raises(GraphcheckError, match="rebuild=True"):
            graphcheck.load(NEEDS_REBUILD)

    def test_process_pool_keeps_the_wording(self) -> None:
        """check --jobs 2 words the errors of its workers for the command line too."""
        result = CliRunner().invoke(
            graphcheck.cli.main, ["check", "--jobs", "2", NEEDS_REBUILD, BIG])
        assert "use --rebuild" in result.stderr, result.stderr


def test_docs_python_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The REPL session in docs/python.md is what graphcheck prints."""
    import doctest

    monkeypatch.chdir(ROOT)
    result = doctest.testfile(str(ROOT / "docs" / "python.md"), module_relative=False)
    assert result.attempted >= 5 and result.failed == 0
