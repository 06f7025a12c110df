"""Shared fixtures: make ``tests/helpers.py`` importable; keep the fast subset honest.

``-m "not keras and not truth"`` is the subset that runs without TensorFlow, so a
test that needs Keras must carry one of those marks. Without TensorFlow, a test
that skips because it could not import TensorFlow or Keras, yet carries neither
mark, fails instead, naming the missing mark.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

#: Marks saying a test needs Keras; the fast subset leaves them out.
KERAS_MARKS = ("keras", "truth")
#: pytest.importorskip's reason for a missing module says this.
MISSING_KERAS = tuple(f"could not import {name!r}" for name in ("tensorflow", "keras", "tf_keras"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or any(item.get_closest_marker(m) for m in KERAS_MARKS):
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    if any(missing in reason for missing in MISSING_KERAS):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} needs Keras ({reason}) but is not marked keras"
