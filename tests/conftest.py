"""Shared fixtures: make ``tests/helpers.py`` importable; keep skips honest.

``-m "not keras and not truth"`` is the subset that runs without TensorFlow, so a
test that needs Keras must carry one of those marks. Without TensorFlow, a test
that skips because it could not import TensorFlow or Keras, yet carries neither
mark, fails instead, naming the missing mark.

Under CI (``CI=true``) a skip is a failure unless its reason is one CI accepts
(:data:`CI_ALLOWED_SKIPS`): what CI's machine lacks by design. Every other skip
(a package that failed to import, a model Keras could not load back, a backend
that would not start) hides a test CI is meant to run. Module-level skips count
too (:func:`pytest_make_collect_report`). Expected failures (xfail) are not skips.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

#: Marks saying a test needs Keras; the fast subset leaves them out.
KERAS_MARKS = ("keras", "truth")
#: pytest.importorskip's reason for a missing module says this.
MISSING_KERAS = tuple(f"could not import {name!r}" for name in ("tensorflow", "keras", "tf_keras"))

#: The skip reasons CI accepts, each a text the reason contains and why CI lacks it.
CI_ALLOWED_SKIPS: tuple[tuple[str, str], ...] = (
    ("--backend torch not testable here",
     "PyTorch is not installed in CI (a large wheel; its validate tests cost minutes)"),
    ("no GPU visible to TensorFlow", "CI has no GPU"),
    ("a GPU is visible", "the no-GPU error path cannot be shown on a machine with a GPU"),
    ("real-models", "the collected real-model files live beside the checkout, not in it"),
    ("too slow to load on", "a sample too slow on that backend for every run (docs/validate.md)"),
    ("root writes into a read-only folder",
     "CI runs as root, whom no folder permission stops; an unwritable /proc path is tested instead"),
)


@pytest.fixture(autouse=True)
def report_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """The text report's width when no terminal says otherwise (100), whatever COLUMNS
    the test runner's environment holds; a test that wants another width sets it."""
    monkeypatch.setenv("COLUMNS", "100")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _reason(longrepr: Any) -> str:
    return str(longrepr[-1]) if isinstance(longrepr, tuple) else str(longrepr or "")


def ci_refuses(reason: str) -> bool:
    """True when a skip with `reason` is not one CI accepts."""
    return not any(text in reason for text, _ in CI_ALLOWED_SKIPS)


def _ci_failure(what: str, reason: str) -> str:
    return (
        f"{what} skipped under CI ({reason}); CI must run it. Skips CI accepts are listed "
        "in tests/conftest.py CI_ALLOWED_SKIPS"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _reason(report.longrepr)
    if in_ci() and ci_refuses(reason):
        report.outcome = "failed"
        report.longrepr = _ci_failure(item.nodeid, reason)
        return
    if any(item.get_closest_marker(m) for m in KERAS_MARKS):
        return
    if any(missing in reason for missing in MISSING_KERAS):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} needs Keras ({reason}) but is not marked keras"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """A whole module skipped (``importorskip`` at import, ``allow_module_level``)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci():
        reason = _reason(report.longrepr)
        if ci_refuses(reason):
            report.outcome = "failed"
            report.longrepr = _ci_failure(collector.nodeid or str(collector.path), reason)
