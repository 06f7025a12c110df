"""Bad input, through every command: one stderr line naming the file, exit 3, no traceback.

For a missing file, a truncated ``.keras``, an unreadable file and a folder holding
a broken file, each of ``check`` (also with ``--rebuild``), ``render``, ``export``,
``validate`` and ``diff`` is run as a user runs it (a subprocess). The text report
of a run in which every model failed is empty: the stderr line is all there is to
say, and no output file is written. JSON and SARIF keep their machine-readable
error entry on stdout. A report on several models lists the one that failed too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from helpers import ROOT

SAMPLE = ROOT / "samples" / "merged_frozen.keras"
#: Drops the root's right to read any file, so that a mode-000 file is unreadable to it.
NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def run(*args: str | Path, prefix: Sequence[str] = (), cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "graphcheck", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str], path: str) -> str:
    """Exit 3 and exactly ``graphcheck: error: PATH: problem`` on stderr; the problem."""
    assert result.returncode == 3, (result.returncode, result.stdout[-500:], result.stderr[-500:])
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    prefix = f"graphcheck: error: {path}: "
    assert lines[0].startswith(prefix) and len(lines[0]) > len(prefix), lines[0]
    return lines[0][len(prefix):]


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    """A folder with the bad inputs (names relative to it) and a good model ``ok.keras``."""
    shutil.copy(SAMPLE, tmp_path / "ok.keras")
    (tmp_path / "truncated.keras").write_bytes(SAMPLE.read_bytes()[:300])
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "broken.h5").write_bytes(b"not an HDF5 file")
    shutil.copy(SAMPLE, folder / "good.keras")
    return tmp_path


def unreadable_prefix(directory: Path) -> list[str]:
    """Make ``unreadable.keras`` (mode 000) and the command prefix under which it cannot be
    read: none for a user; for root, ``setpriv`` without the capabilities that read past
    file modes. Skips where neither works (root without setpriv)."""
    path = directory / "unreadable.keras"
    shutil.copy(SAMPLE, path)
    path.chmod(0)
    prefix = NO_DAC if os.geteuid() == 0 and shutil.which("setpriv") else []
    probe = subprocess.run([*prefix, sys.executable, "-c", f"open({str(path)!r}, 'rb')"],
                           capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip("cannot make a file unreadable here (root without setpriv)")
    return prefix


#: Each command, as run on one MODEL; "-o OUT" where it writes a file.
COMMANDS = {
    "check": ["check", "{m}"],
    "check -o": ["check", "{m}", "-o", "out.txt"],
    "check --rebuild": ["check", "--rebuild", "{m}"],
    "render": ["render", "{m}", "-o", "out.pdf"],
    "render html": ["render", "{m}", "-o", "out.html"],
    "export": ["export", "{m}", "-o", "out.json"],
    "validate": ["validate", "{m}"],
    "validate -o": ["validate", "{m}", "-o", "out.txt"],
    "diff old": ["diff", "{m}", "ok.keras"],
    "diff new": ["diff", "ok.keras", "{m}"],
}


#: Every command on a missing file; each reader error through the commands that differ
#: in how they read (each case is a subprocess: the whole product would be too slow for CI).
CASES = [
    *(("nosuch.h5", c) for c in sorted(COMMANDS)),
    *(("truncated.keras", c) for c in ("check", "check --rebuild", "render html", "export",
                                       "validate", "diff new")),
    *(("unreadable.keras", c) for c in ("check", "render", "validate", "diff old")),
    # A command on one model given a folder of models: the folder is not a SavedModel.
    *(("folder", c) for c in ("render", "export", "diff new")),
]


@pytest.mark.parametrize(("model", "command"), CASES)
def test_one_bad_model_one_line(bad: Path, command: str, model: str) -> None:
    """Each command on one bad model: the stderr line, exit 3, nothing on stdout, no file."""
    prefix = unreadable_prefix(bad) if model == "unreadable.keras" else []
    result = run(*(a.format(m=model) for a in COMMANDS[command]), prefix=prefix, cwd=bad)
    problem = one_error_line(result, model)
    expected = {
        "nosuch.h5": "no such file or directory",
        "truncated.keras": "truncated",
        "unreadable.keras": "cannot be read (Permission denied)",
        "folder": "directory is not a SavedModel",
    }[model]
    assert expected in problem
    assert result.stdout == ""
    assert not list(bad.glob("out.*")) and not list(bad.glob(".out.*"))


@pytest.mark.parametrize("output_format", ["json", "sarif"])
def test_machine_formats_keep_the_error_entry(bad: Path, output_format: str) -> None:
    """--format json/sarif: the error is an entry of the document on stdout, and on stderr."""
    result = run("check", "nosuch.h5", "--format", output_format, cwd=bad)
    one_error_line(result, "nosuch.h5")
    document = json.loads(result.stdout)
    if output_format == "json":
        assert [e["path"] for e in document["errors"]] == ["nosuch.h5"]
        assert document["models"] == []
    else:
        (invocation,) = document["runs"][0]["invocations"]
        assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 3
    written = run("check", "nosuch.h5", "--format", output_format, "-o", "out.json", cwd=bad)
    one_error_line(written, "nosuch.h5")
    assert written.stdout == "" and json.loads((bad / "out.json").read_text()) == document


def test_folder_with_a_broken_file_reports_both(bad: Path) -> None:
    """A report on several models lists the broken one among them; stderr names it once."""
    result = run("check", "folder", cwd=bad)
    one_error_line(result, os.path.join("folder", "broken.h5"))
    assert os.path.join("folder", "good.keras") + "\n" in result.stdout
    assert f"{os.path.join('folder', 'broken.h5')}: not analysed: " in result.stdout
    assert "1 model analysed, 1 not (1 " in " ".join(result.stdout.split())
    written = run("check", "folder", "-o", "out.txt", cwd=bad)
    one_error_line(written, os.path.join("folder", "broken.h5"))
    assert written.stdout == "" and (bad / "out.txt").read_text() == result.stdout


def test_every_model_bad_prints_one_line_each(bad: Path) -> None:
    """Two bad models and no good one: a line each on stderr, an empty stdout."""
    result = run("nosuch.h5", "truncated.keras", cwd=bad)
    assert result.returncode == 3 and result.stdout == "" and "Traceback" not in result.stderr
    assert [line.split(": ")[2] for line in result.stderr.splitlines()] == [
        "nosuch.h5", "truncated.keras"]


def test_folder_without_models_is_one_line(bad: Path) -> None:
    """A folder holding no model: one line naming it, exit 2 (a bad argument)."""
    (bad / "empty").mkdir()
    result = run("check", "empty", cwd=bad)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("graphcheck: error: empty: no model files found")
    assert len(result.stderr.splitlines()) == 1
