"""Fixtures for the validator tests: the truth suite's builders, saved once per session.

Every test here runs real TensorFlow/tf_keras models and is skipped without
TensorFlow, except those of test_backends.py, which run JAX and torch in
subprocesses and are meant for machines where only those are installed.
"""

from __future__ import annotations

import importlib.util
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

#: Test modules of this directory that do not need TensorFlow.
WITHOUT_TENSORFLOW = frozenset(
    {"test_backends.py", "test_watchdog.py", "test_rebuild_gate.py"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The modules import without TensorFlow, so that `-m "not keras"` deselects their
    # tests instead of reporting a whole module skipped.
    missing = [m for m in ("tensorflow", "tf_keras") if importlib.util.find_spec(m) is None]
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"needs {' and '.join(missing)} (not installed)")
    for item in items:
        # Only keras-marked tests: an unmarked one that needs TensorFlow fails visibly.
        if (item.path.parent == HERE and item.path.name not in WITHOUT_TENSORFLOW
                and item.get_closest_marker("keras")):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def saved_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("validate")
