"""The rule tests read small real models stored in tests/fixtures/, without TensorFlow.

Each model was built and saved by real Keras 3 (``.keras``) or tf_keras (``.h5``);
``tests/fixtures/make_models.py`` holds the builders, one situation a rule must
recognise per model, and ``tests/test_stored_models.py`` checks that the stored
files still match what the installed Keras writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import stored_models


@pytest.fixture(scope="session")
def saved_models() -> dict[str, Path]:
    """Every stored model: name -> file."""
    return stored_models()
