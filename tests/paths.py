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
#: Third-party model files, not part of the repository: ``$GRAPHCHECK_REAL_MODELS``, or
#: ``shared/real-models`` beside the checkout. The tests that need them skip without them.
REAL_MODELS = Path(os.environ.get(REAL_MODELS_ENV) or ROOT.parent / "shared" / "real-models")


def stored_models() -> dict[str, Path]:
    """Every model file in ``tests/fixtures/``, by name without suffix."""
    return {p.stem: p for p in sorted(FIXTURES.iterdir()) if p.suffix in (".keras", ".h5")}
