"""The distribution: a name that is ours, metadata without deprecated forms, working hints."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from helpers import ROOT

from graphcheck.distribution import DISTRIBUTION, install_command

tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads TOML")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_distribution_name_is_not_the_unrelated_graphcheck() -> None:
    """`graphcheck` on PyPI is someone else's; the command keeps the name, the distribution does not."""
    assert PYPROJECT["project"]["name"] == DISTRIBUTION != "graphcheck"
    assert PYPROJECT["project"]["scripts"] == {"graphcheck": "graphcheck.cli:run"}


def test_licence_is_an_spdx_string_with_a_setuptools_that_reads_it() -> None:
    """A licence table makes setuptools print a deprecation box on every install."""
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    (setuptools,) = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    assert int(re.search(r">=\s*(\d+)", setuptools).group(1)) >= 77


def test_no_install_hint_names_the_other_project() -> None:
    """Every pip hint in the code and docs installs this distribution, quoted."""
    bad = re.compile(r"pip install (-e )?graphcheck\b|pip install [^'\"\s]*\[")
    files = [*ROOT.glob("graphcheck/**/*.py"), *ROOT.glob("docs/*.md"), ROOT / "README.md"]
    offenders = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in files
                 for m in bad.finditer(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_install_hint_from_a_clone_installs_the_clone(tmp_path: Path) -> None:
    """From a clone the hint is an editable install of it; elsewhere the published name."""
    assert install_command("runtime", ROOT) in (
        "pip install -e '.[runtime]'", f"pip install -e {shlex.quote(f'{ROOT}[runtime]')}"
    )
    assert install_command("runtime", tmp_path) == f"pip install '{DISTRIBUTION}[runtime]'"

