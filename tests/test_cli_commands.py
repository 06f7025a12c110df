"""The command line's edges: `help`, exit codes per command, and output files it cannot write."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphcheck.cli import main
from graphcheck.errors import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_MISSING_DEPENDENCY,
    EXIT_OUTPUT,
    EXIT_UNREADABLE,
    EXIT_USAGE,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = str(ROOT / "samples" / "merged_frozen.keras")
COMMANDS = sorted(main.commands)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def listed_codes(help_text: str) -> set[int]:
    block = help_text.split("Exit codes:", 1)[1]
    return {int(m) for m in re.findall(r"^\s+(\d+)\s", block, flags=re.MULTILINE)}


class TestHelpCommand:
    def test_help_alone_is_the_main_help(self, runner: CliRunner) -> None:
        """`graphcheck help` prints what `graphcheck --help` prints, exit 0."""
        result = runner.invoke(main, ["help"])
        assert result.exit_code == 0, result.output
        assert result.stdout.split("\n", 1)[1] == runner.invoke(main, ["--help"]).stdout.split(
            "\n", 1)[1]

    @pytest.mark.parametrize("command", COMMANDS)
    def test_help_command_is_its_help(self, runner: CliRunner, command: str) -> None:
        """`graphcheck help COMMAND` prints `graphcheck COMMAND --help`, exit 0."""
        result = runner.invoke(main, ["help", command])
        assert result.exit_code == 0, result.output
        own = runner.invoke(main, [command, "--help"])
        assert result.stdout.split("\n", 1)[1] == own.stdout.split("\n", 1)[1]

    def test_typo_gets_a_suggestion(self, runner: CliRunner) -> None:
        """`graphcheck help chek` is a usage error suggesting check; `graphcheck chek` too."""
        for args in (["help", "chek"], ["chek", SAMPLE]):
            result = runner.invoke(main, args)
            assert result.exit_code == EXIT_USAGE
            assert "did you mean check?" in result.output


class TestExitCodesPerCommand:
    @pytest.mark.parametrize("command", COMMANDS)
    def test_every_command_lists_its_codes(self, runner: CliRunner, command: str) -> None:
        """Each command's --help lists 0, usage (any bad flag), the internal error, and only
        codes graphcheck defines."""
        codes = listed_codes(runner.invoke(main, [command, "--help"]).stdout)
        assert {0, EXIT_USAGE, EXIT_INTERNAL} <= codes
        assert codes <= {0, EXIT_FINDINGS, EXIT_USAGE, EXIT_UNREADABLE, EXIT_MISSING_DEPENDENCY,
                         EXIT_OUTPUT, EXIT_INTERNAL}

    @pytest.mark.parametrize("command", ["check", "export", "render", "validate", "diff"])
    def test_writers_list_the_output_code(self, runner: CliRunner, command: str) -> None:
        """Commands that write -o FILE document the output failure."""
        assert EXIT_OUTPUT in listed_codes(runner.invoke(main, [command, "--help"]).stdout)

    def test_main_help_lists_every_code(self, runner: CliRunner) -> None:
        """`graphcheck --help` lists every code any command returns."""
        assert listed_codes(runner.invoke(main, ["--help"]).stdout) == {
            0, EXIT_FINDINGS, EXIT_USAGE, EXIT_UNREADABLE, EXIT_MISSING_DEPENDENCY, EXIT_OUTPUT,
            EXIT_INTERNAL}


def unwritable(tmp_path: Path, kind: str) -> Path:
    if kind == "missing folder":
        return tmp_path / "no" / "such" / "report.txt"
    if kind == "a folder":
        (tmp_path / "out.json").mkdir()
        return tmp_path / "out.json"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return locked / "report.txt"


class TestOutputCannotBeWritten:
    @pytest.mark.parametrize("kind", ["missing folder", "a folder", "permission denied"])
    @pytest.mark.parametrize("command", [
        ["check", SAMPLE, "-o"], ["export", SAMPLE, "-o"], ["diff", SAMPLE, SAMPLE, "-o"],
    ])
    def test_exit_5_one_line_no_file(
        self, runner: CliRunner, tmp_path: Path, kind: str, command: list[str]
    ) -> None:
        """An -o path that cannot be written: exit 5, one stderr line naming it, nothing left."""
        if kind == "permission denied" and os.geteuid() == 0:
            pytest.skip("root writes into a read-only folder")
        target = unwritable(tmp_path, kind)
        if command[0] == "export":
            target = target.with_suffix(".json")
        before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
        result = runner.invoke(main, [*command, str(target)])
        assert result.exit_code == EXIT_OUTPUT, result.output
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"graphcheck: error: {target}: cannot write")
        assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before

    def test_folder_nobody_may_write_even_as_root(self, runner: CliRunner) -> None:
        """A folder where even root may create no file (/proc) is exit 5 too, one line."""
        result = runner.invoke(main, ["check", SAMPLE, "-o", "/proc/graphcheck-report.txt"])
        assert result.exit_code == EXIT_OUTPUT, result.output
        assert len(result.stderr.splitlines()) == 1


def documented_codes() -> dict[str, set[int]]:
    """docs/cli.md: per command section, the exit codes its first line lists."""
    text = (ROOT / "docs" / "cli.md").read_text()
    documented: dict[str, set[int]] = {}
    for header, body in re.findall(r"^### (.+)\n(.+)$", text, flags=re.MULTILINE):
        names = [n.removeprefix("graphcheck ") for n in re.findall(r"`([^`]+)`", header)]
        listed = re.sub(r"\([^)]*\)", "", body).split(". ")[0]  # asides dropped, first sentence
        codes = {int(c) for c in re.findall(r"\b\d+\b", listed)}
        documented.update(dict.fromkeys(names, codes))
    return documented


def test_docs_list_each_commands_codes(runner: CliRunner) -> None:
    """docs/cli.md lists, for every command, the exit codes its --help lists."""
    documented = documented_codes()
    for command in COMMANDS:
        assert documented[command] == listed_codes(
            runner.invoke(main, [command, "--help"]).stdout), command


@pytest.mark.parametrize("command", ["diff", "export", "render"])
def test_missing_hub_library_is_exit_4_and_listed(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str,
) -> None:
    """A hub handle without huggingface_hub is exit 4, one line, in every command that
    takes one; and 4 is among the codes its --help (and so docs/cli.md) lists."""
    import sys

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # nothing cached to fall back on
    handle = "hf://graphcheck-test/no-such-preset"
    args = {"diff": [SAMPLE, handle], "export": [handle, "-o", "g.json"],
            "render": [handle, "-o", "g.dot"]}[command]
    result = runner.invoke(main, [command, *args])
    assert result.exit_code == EXIT_MISSING_DEPENDENCY, result.output
    assert len(result.stderr.splitlines()) == 1 and "huggingface_hub" in result.stderr
    listed = listed_codes(runner.invoke(main, [command, "--help"]).stdout)
    assert EXIT_MISSING_DEPENDENCY in listed
    assert EXIT_MISSING_DEPENDENCY in documented_codes()[command]
