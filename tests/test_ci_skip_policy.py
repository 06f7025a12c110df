"""Under CI a skip fails unless its reason is one CI accepts; outside CI it stays a skip."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

SAMPLE = '''
import pytest

def test_refused():
    pytest.skip("could not import 'keras_hub'")

@pytest.mark.skipif(True, reason="no GPU visible to TensorFlow")
def test_allowed():
    pass

@pytest.mark.xfail(strict=True, raises=AssertionError, reason="pinned")
def test_expected_failure():
    assert False

@pytest.fixture
def loaded():
    pytest.skip("tf_keras cannot load its own h5 file: ValueError")

def test_skipped_in_setup(loaded):
    pass
'''
MODULE_SKIP = 'import pytest\npytest.importorskip("no_such_module_here")\n'


def counts(summary: str) -> dict[str, int]:
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}


def run_suite(tmp_path: Path, ci: str) -> str:
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "test_module_skip.py").write_text(MODULE_SKIP)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider",
         "--continue-on-collection-errors", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={"PATH": "/usr/bin:/bin", "CI": ci, "PYTHONPATH": str(ROOT / "tests")},
    )
    return run.stdout


@pytest.mark.parametrize("ci", ["true", ""])
def test_ci_fails_every_skip_it_does_not_accept(tmp_path: Path, ci: str) -> None:
    out = run_suite(tmp_path, ci)
    summary = counts(out.strip().splitlines()[-1])
    if ci:
        assert "FAILED test_sample.py::test_refused" in out
        assert "ERROR test_sample.py::test_skipped_in_setup" in out
        assert "ERROR test_module_skip.py" in out
        assert summary == {"failed": 1, "skipped": 1, "xfailed": 1, "errors": 2}, out
    else:
        assert summary == {"skipped": 4, "xfailed": 1}, out
