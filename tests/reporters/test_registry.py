"""The one registry of output formats: reports, drawings and graph exports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT, SAMPLES

from graphcheck import cli
from graphcheck.reporters.registry import (
    FILE_FORMATS,
    REPORTERS,
    drawing_suffixes,
    find_file_format,
    graph_suffixes,
)


def test_cli_choices_are_the_registry_rows() -> None:
    """`check`/`diff` --format, `validate` --format, and the -o suffixes of `render` and
    `export` are exactly the registry's rows."""
    assert list(REPORTERS) == cli.GATE_FORMATS
    assert [n for n, r in REPORTERS.items() if r.render_validation] == cli.VALIDATE_FORMATS
    assert drawing_suffixes() == cli.RENDER_SUFFIXES
    assert graph_suffixes() == cli.EXPORT_SUFFIXES
    assert set(drawing_suffixes()) | set(graph_suffixes()) == set(FILE_FORMATS)
    assert set(drawing_suffixes()).isdisjoint(graph_suffixes())


def test_reading_the_registry_loads_no_reporter() -> None:
    """Importing the CLI (and so the registry) imports no reporter module and no networkx:
    each row imports its module when it is called."""
    probe = (
        "import json, sys, graphcheck.cli\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith("
        "('graphcheck.reporters.', 'graphcheck.analyses', 'networkx')))))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, check=True)
    assert json.loads(result.stdout) == ["graphcheck.reporters.registry"]


def test_a_suffix_belongs_to_its_command() -> None:
    """A drawing's suffix is no export's, and the other way round."""
    assert find_file_format(".pdf", "render").description == "PDF drawing"
    with pytest.raises(KeyError):
        find_file_format(".pdf", "export")
    with pytest.raises(KeyError):
        find_file_format(".graphml", "render")


@pytest.mark.parametrize(
    ("command", "name"), [("export", "graph.pdf"), ("render", "graph.graphml")]
)
def test_cli_refuses_another_commands_suffix(command: str, name: str, tmp_path: Path) -> None:
    """`export -o x.pdf` and `render -o x.graphml` are usage errors (exit 2), writing nothing."""
    out = tmp_path / name
    result = CliRunner().invoke(cli.main, [command, str(SAMPLES / "inverted_dropout.keras"),
                                           "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert not out.exists()


def test_export_writes_through_its_row(tmp_path: Path) -> None:
    """`export -o graph.json` writes the node-link JSON its registry row makes."""
    out = tmp_path / "graph.json"
    result = CliRunner().invoke(cli.main, ["export", str(SAMPLES / "inverted_dropout.keras"),
                                           "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert {"nodes", "edges"} <= set(json.loads(out.read_text()))
