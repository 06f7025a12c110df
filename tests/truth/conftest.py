"""Fixtures for the truth suite: save a built model in every format, load it back.

The truth suite builds real models with Keras 3 (`keras`) and Keras 2 (`tf_keras`),
saves them, reloads them the way a user would, and observes them at run time
(`graphcheck.runtime.observe`).  TensorFlow is imported once per process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
for entry in (HERE, HERE.parents[1]):  # builders.py; the repository root (graphcheck)
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

pytest.importorskip("tensorflow")

from saving import load_model, save_model  # noqa: E402 - after sys.path setup


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "truth: compares graphcheck.analyse with what Keras really does"
    )


def load_or_skip(path: Path, flavour: str, fmt: str) -> Any:
    """Load a model, skipping the test when Keras itself cannot read its own file."""
    try:
        return load_model(path, flavour, fmt)
    except Exception as exc:  # noqa: BLE001 - any loader failure means no ground truth
        pytest.skip(f"{flavour} cannot load its own {fmt} file: {type(exc).__name__}: {exc}")


@pytest.fixture
def roundtrip(tmp_path: Path) -> Callable[[Any, str, str], tuple[Path, Any]]:
    """Return ``f(model, flavour, fmt) -> (saved path, reloaded model)``."""

    def run(model: Any, flavour: str, fmt: str) -> tuple[Path, Any]:
        path = save_model(model, flavour, fmt, tmp_path)
        return path, load_or_skip(path, flavour, fmt)

    return run
