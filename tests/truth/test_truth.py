"""graphcheck's static answers, compared with what Keras really does.

For every builder, flavour and save format: build, save, reload with the Keras that
wrote it, observe at run time, and compare with ``graphcheck.analyse(path,
keras_version=...)`` (``agreement.assert_agrees``). The same cases run against other
Keras builds in ``test_matrix.py``.
Deselect with ``-m "not truth"``.
"""

from __future__ import annotations

from typing import Any

import pytest
from agreement import assert_saved_model_agrees
from builders import BUILDERS, FLAVOURS, KERAS_VERSIONS
from saving import FORMATS

pytestmark = pytest.mark.truth

CASES = [
    (flavour, builder, fmt)
    for flavour in FLAVOURS
    for builder in BUILDERS
    for fmt in FORMATS[flavour]
]


@pytest.mark.parametrize(("flavour", "builder", "fmt"), CASES)
def test_static_matches_runtime(roundtrip: Any, flavour: str, builder: str, fmt: str) -> None:
    """Per layer and scenario, static activity and BN mode equal the observed ones."""
    path, model = roundtrip(BUILDERS[builder](flavour), flavour, fmt)
    assert_saved_model_agrees(path, model, KERAS_VERSIONS[flavour])
