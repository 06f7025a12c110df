"""Fixtures for the validator tests: the truth suite's builders, saved once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for entry in (HERE.parent / "truth", ROOT):  # builders.py; the repository root
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

pytest.importorskip("tensorflow")


@pytest.fixture(scope="session")
def saved_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("validate")
