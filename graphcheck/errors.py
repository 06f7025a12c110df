"""Exceptions graphcheck raises, each knowing its own exit code.

This module imports nothing from graphcheck so that every other module can use it
without import cycles. Library code raises these; only ``cli.py`` turns them into a
line on stderr and an exit status.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "EXIT_ANALYSED",
    "EXIT_FINDINGS",
    "EXIT_INTERNAL",
    "EXIT_MISSING_DEPENDENCY",
    "EXIT_UNREADABLE",
    "EXIT_USAGE",
    "ConfigError",
    "GraphBuildError",
    "GraphcheckError",
    "MissingDependencyError",
    "ModelReadError",
    "NoModelsFoundError",
    "RebuildError",
    "UnsupportedModelError",
    "ValidationError",
    "ValidationTimeout",
    "ValidationUsageError",
]

EXIT_ANALYSED = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3
EXIT_MISSING_DEPENDENCY = 4
# Black's choice: high enough to be unmistakable, below the shell-reserved 126+.
EXIT_INTERNAL = 123


class GraphcheckError(Exception):
    """A problem with one input, reported as ``<subject>: <problem>`` on one line."""

    exit_code: ClassVar[int] = EXIT_UNREADABLE

    def __init__(self, subject: str, problem: str) -> None:
        # A file can put newlines into names quoted in a problem; the message stays one line.
        super().__init__(" ".join(f"{subject}: {problem}".splitlines()))
        self.subject = subject
        self.problem = problem


class ModelReadError(GraphcheckError):
    """The file is missing, not a Keras model, or damaged."""


class UnsupportedModelError(GraphcheckError):
    """The file is a Keras model, but it stores no layer graph to analyse."""


class GraphBuildError(GraphcheckError):
    """The stored layer graph is inconsistent: dangling or cyclic references."""


class MissingDependencyError(GraphcheckError):
    """An optional tool (Graphviz ``dot``, TensorFlow) is needed but not installed."""

    exit_code: ClassVar[int] = EXIT_MISSING_DEPENDENCY


class NoModelsFoundError(GraphcheckError):
    """The paths given name no model file or SavedModel folder (exit 2, like a bad argument)."""

    exit_code: ClassVar[int] = EXIT_USAGE


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
