"""scripts/quickstart.sh and scripts/setup.sh, run in a copy of the checkout with a stand-in pip.

The stand-in records every ``pip`` call instead of installing, so the test measures
what the scripts ask for: pip on the first run and after pyproject.toml changes,
never on a run whose install is current.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = "samples/frozen_base_dropout.keras"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The scripts, pyproject.toml and the sample; a .venv whose pip only logs."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    for name in ("setup.sh", "quickstart.sh", "constraints.txt"):
        shutil.copy(ROOT / "scripts" / name, root / "scripts" / name)
    shutil.copy(ROOT / "pyproject.toml", root)
    (root / "samples").mkdir()
    shutil.copy(ROOT / SAMPLE, root / SAMPLE)
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = -m ] && [ "$2" = pip ]; then echo "$*" >> {root}/pip.log; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    graphcheck = bin_dir / "graphcheck"
    graphcheck.write_text(f'#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m graphcheck "$@"\n')
    python.chmod(0o755)
    graphcheck.chmod(0o755)
    return root


def run(root: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", f"scripts/{script}"], cwd=root, capture_output=True,
                          text=True, timeout=120, check=False)


def pip_calls(root: Path) -> list[str]:
    log = root / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


class TestQuickstart:
    def test_answers_yes_says_what_next_and_installs_once(self, checkout: Path) -> None:
        """The sample's frozen-base dropout is reported firing in fit(); the end says how to
        run graphcheck on one's own model; exit 0 although the report fails the sample.
        pip runs on the first setup only; a changed pyproject.toml reinstalls."""
        assert run(checkout, "quickstart.sh").returncode == 0
        first = pip_calls(checkout)
        assert any("install" in call and "-e ." in call for call in first)

        result = run(checkout, "quickstart.sh")
        assert result.returncode == 0, result.stderr
        assert pip_calls(checkout) == first, "the second run installed again"
        assert "GC101" in result.stdout and "base/base_dropout" in result.stdout
        tail = result.stdout.rstrip().splitlines()[-4:]
        assert any(".venv/bin/graphcheck MODEL" in line for line in tail)
        assert any("source .venv/bin/activate" in line for line in tail)

        with (checkout / "pyproject.toml").open("a") as stream:
            stream.write("\n# changed\n")
        assert run(checkout, "setup.sh").returncode == 0
        assert len(pip_calls(checkout)) > len(first)
