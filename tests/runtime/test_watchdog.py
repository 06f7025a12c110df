"""validate --timeout: the alarm never raises inside logging, where the exception would be lost."""

from __future__ import annotations

import io
import logging
import time

import pytest

from graphcheck.errors import ValidationTimeout
from graphcheck.runtime.watchdog import watchdog


class SlowStream(io.StringIO):
    """A log stream whose write takes long enough for the alarm to fire inside it."""

    def write(self, text: str) -> int:
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            pass
        return super().write(text)


def test_timeout_waits_until_logging_returns(capsys: pytest.CaptureFixture[str]) -> None:
    """The record is written whole, logging reports no error, and the timeout still ends the run."""
    stream = SlowStream()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("graphcheck-test-watchdog")
    logger.propagate = False
    logger.addHandler(handler)
    reached = []
    try:
        with pytest.raises(ValidationTimeout), watchdog(0.05, "model.keras"):
            logger.warning("hello")
            reached.append("after logging")
            for _ in range(200):
                time.sleep(0.01)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "hello\n"
    assert reached == ["after logging"]
    assert "Logging error" not in capsys.readouterr().err
