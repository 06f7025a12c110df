"""The ``--timeout`` watchdog: SIGALRM, never raised where the exception would be lost."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from graphcheck.errors import ValidationTimeout

#: How soon the watchdog tries again after firing where it must not raise.
_RETRY_SECONDS = 0.05
#: Code that holds a lock or swallows exceptions: logging (handler locks, handleError)
#: and threading (Condition and Lock internals).
_UNSAFE_FILES = (os.path.dirname(logging.__file__) + os.sep, threading.__file__)


def _unsafe_to_raise(frame: Any) -> bool:
    """Whether the interrupted code is inside logging, threading or a finalizer."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or code.co_filename.startswith(_UNSAFE_FILES):
            return True
        frame = frame.f_back
    return False


@contextmanager
def watchdog(seconds: float | None, path: str) -> Iterator[None]:
    """Raise ValidationTimeout after `seconds` (SIGALRM; main thread on Unix only).

    The exception is raised when control next returns to Python, i.e. between
    layers in eager execution; small batches keep that interval short.
    """
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return
    assert seconds is not None

    message = f"validation did not finish within {seconds:g} s (--timeout)"
    fired = False

    def on_alarm(_signum: int, frame: Any) -> None:
        nonlocal fired
        fired = True
        if _unsafe_to_raise(frame):
            # Raised here, the exception would be swallowed by logging's handleError
            # with its lock held, or be lost in a finalizer: try again a moment later.
            signal.setitimer(signal.ITIMER_REAL, _RETRY_SECONDS)
            return
        raise ValidationTimeout(path, message)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if fired:  # Keras or TensorFlow code caught the exception raised in the handler
        raise ValidationTimeout(path, message)
