"""Where the test suite finds model files: one definition for every test module.

Imports nothing from graphcheck, so that scripts run from ``tests/`` (such as
``hostile_fixtures.py build-traps``) can use it too.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
#: Small models written by ``tests/fixtures/make_models.py`` and committed; the rule
#: and diff tests read them, so they run without TensorFlow.
FIXTURES = ROOT / "tests" / "fixtures"
#: Environment variable naming the folder of third-party model files.
REAL_MODELS_ENV = "GRAPHCHECK_REAL_MODELS"


def find_real_models() -> Path:
    """The folder of third-party model files, which is not part of the repository.

    ``$GRAPHCHECK_REAL_MODELS`` when set; otherwise the nearest ``shared/real-models``
    beside the checkout or beside a folder above it. When there is none, the path
    beside the checkout is returned and the tests that need it skip.
    """
    named = os.environ.get(REAL_MODELS_ENV)
    if named:
        return Path(named)
    for folder in ROOT.parents:
        candidate = folder / "shared" / "real-models"
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "real-models"


REAL_MODELS = find_real_models()


def stored_models() -> dict[str, Path]:
    """Every model file in ``tests/fixtures/``, by name without suffix."""
    return {p.stem: p for p in sorted(FIXTURES.iterdir()) if p.suffix in (".keras", ".h5")}
