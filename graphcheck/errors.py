"""Exceptions graphcheck raises, each knowing its own exit code.

This module imports nothing from graphcheck so that every other module can use it
without import cycles. Library code raises these; only ``cli.py`` turns them into a
line on stderr and an exit status.

A message that tells the reader to pass an option names it with :func:`option`, so
that it reads ``rebuild=True`` when raised to Python and ``--rebuild`` when the
command line prints it (:func:`cli_wording`).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:  # only in annotations: the errors import nothing of graphcheck
    from graphcheck.model import SavedModelDesc

__all__ = [
    "EXIT_ANALYSED",
    "EXIT_FINDINGS",
    "EXIT_INTERNAL",
    "EXIT_MISSING_DEPENDENCY",
    "EXIT_OUTPUT",
    "EXIT_UNREADABLE",
    "EXIT_USAGE",
    "ConfigError",
    "GraphBuildError",
    "GraphcheckError",
    "MissingDependencyError",
    "ModelReadError",
    "NoModelsFoundError",
    "OutputError",
    "RebuildError",
    "UnsupportedModelError",
    "ValidationError",
    "ValidationTimeout",
    "ValidationUsageError",
    "cli_wording",
    "current_wording",
    "option",
    "worded",
]

EXIT_ANALYSED = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3
EXIT_MISSING_DEPENDENCY = 4
EXIT_OUTPUT = 5
# Black's choice: high enough to be unmistakable, below the shell-reserved 126+.
EXIT_INTERNAL = 123


Wording = Literal["python", "cli"]
_WORDING: contextvars.ContextVar[Wording] = contextvars.ContextVar("wording", default="python")
# Marks an option's name inside a message; a control character no model name keeps
# (messages are made one line, and names are quoted with repr).
_MARK = "\x1f"
#: How each option a message may name is spelt: (on the command line, in Python).
_SPELLINGS = {
    "rebuild": ("--rebuild", "rebuild=True"),
    "trust_model": ("--trust-model", "rebuild=RebuildOptions(trust_model=True)"),
    "custom_objects": ("--custom-objects FILE.py", "RebuildOptions(custom_objects='FILE.py')"),
}


def option(name: str) -> str:
    """Name the option ``name`` (a key of the spellings table) inside an error message.

    Examples
    --------
    >>> str(RebuildError("m.keras", f"pass {option('rebuild')}"))
    'm.keras: pass rebuild=True'
    """
    if name not in _SPELLINGS:
        raise KeyError(name)
    return f"{_MARK}{name}{_MARK}"


def _worded(text: str, wording: Wording) -> str:
    if _MARK not in text:
        return text
    pieces = text.split(_MARK)
    index = 0 if wording == "cli" else 1
    # Odd pieces are option names (option() puts one between two marks).
    return "".join(
        _SPELLINGS[p][index] if i % 2 and p in _SPELLINGS else p for i, p in enumerate(pieces)
    )


def current_wording() -> Wording:
    """``"cli"`` inside :func:`cli_wording`, else ``"python"``."""
    return _WORDING.get()


def worded(text: str) -> str:
    """``text`` with the options :func:`option` marked in it spelt for the current caller."""
    return _worded(text, current_wording())


@contextmanager
def cli_wording(wording: Wording = "cli") -> Iterator[None]:
    """Inside this block, messages name options as flags (``--rebuild``)."""
    token = _WORDING.set(wording)
    try:
        yield
    finally:
        _WORDING.reset(token)


class GraphcheckError(Exception):
    """A problem with one input, reported as ``<subject>: <problem>`` on one line."""

    exit_code: ClassVar[int] = EXIT_UNREADABLE

    def __init__(self, subject: str, problem: str) -> None:
        # A file can put newlines into names quoted in a problem; the message stays one line.
        self._text = " ".join(f"{subject}: {problem}".splitlines())
        super().__init__(_worded(self._text, "python"))
        self.subject = subject
        self.problem = problem  # as given (options marked), to compose other messages from

    def __str__(self) -> str:
        return _worded(self._text, current_wording())

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from the marked text in a process pool, so the parent still words it.
        return (_rebuild_error, (type(self), self._text, self.__dict__))


class ModelReadError(GraphcheckError):
    """The file is missing, not a Keras model, or damaged."""


class UnsupportedModelError(GraphcheckError):
    """The file is a Keras model, but it stores no layer graph to analyse.

    ``stored``: what the file stores, read without a layer graph (a
    ``SavedModelDesc`` with ``has_graph`` False), when the reader got that far; the
    load-safety rules read it instead of reading the file again.
    """

    stored: SavedModelDesc | None = None


class GraphBuildError(GraphcheckError):
    """The stored layer graph is inconsistent: dangling or cyclic references."""


class MissingDependencyError(GraphcheckError):
    """An optional tool (Graphviz ``dot``, TensorFlow) is needed but not installed."""

    exit_code: ClassVar[int] = EXIT_MISSING_DEPENDENCY


class NoModelsFoundError(GraphcheckError):
    """The paths given name no model file or SavedModel folder (exit 2, like a bad argument)."""

    exit_code: ClassVar[int] = EXIT_USAGE


class OutputError(GraphcheckError):
    """An output file cannot be written: missing folder, no permission, a folder, disk full."""

    exit_code: ClassVar[int] = EXIT_OUTPUT


class ConfigError(GraphcheckError):
    """``[tool.graphcheck]`` holds an unknown key or a value of the wrong kind."""

    exit_code: ClassVar[int] = EXIT_USAGE


class RebuildError(GraphcheckError):
    """``--rebuild`` refused the config (code, non-Keras classes) or Keras could not build it."""


class ValidationError(GraphcheckError):
    """The model could not be loaded or run, or was refused (Lambda, custom classes)."""


class ValidationTimeout(ValidationError):
    """Validation ran longer than ``--timeout`` seconds."""


class ValidationUsageError(GraphcheckError):
    """Validation options that cannot work together (exit 2, like a bad flag)."""

    exit_code: ClassVar[int] = EXIT_USAGE


def _rebuild_error(
    cls: type[GraphcheckError], text: str, state: dict[str, object]
) -> GraphcheckError:
    error = cls.__new__(cls)
    Exception.__init__(error, _worded(text, "python"))
    error.__dict__.update(state)
    return error
