"""What the rules report: a Severity, one Finding per problem, a Report per run.

A finding names its rule by ID and slug, the model file and the call path it is
about, and carries a rendered one-line message. Reporters turn a Report into text,
JSON, SARIF, Markdown or GitHub annotations; nothing here prints. Standard library
only.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

__all__ = [
    "FailOn",
    "Finding",
    "ModelResult",
    "Report",
    "Severity",
    "sort_findings",
    "summary_line",
]


class Severity(enum.Enum):
    """How bad a finding is; ordered ``INFO < WARNING < ERROR``."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Read ``"error"``, ``"warning"`` or ``"info"`` (any case).

        Raises
        ------
        ValueError
            ``text`` names no severity.
        """
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {names})") from None


class FailOn(enum.Enum):
    """The threshold of ``--fail-on``: findings at or above it make the run fail."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    NEVER = "never"

    def is_failing(self, severity: Severity) -> bool:
        if self is FailOn.NEVER:
            return False
        return severity.rank >= Severity(self.value).rank


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem a rule found in one model, at one call path (or the whole model).

    ``suppressed`` holds the reason when a configured suppression matched: the
    finding is still reported but never fails the run.
    """

    rule: str
    slug: str
    severity: Severity
    message: str
    model: str
    path: str | None = None
    suppressed: str | None = None

    @property
    def fingerprint(self) -> str:
        """Stable across runs and message rewording: rule ID + model path + call path."""
        key = "\x1f".join((self.rule, self.model, self.path or ""))
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.model, self.path or "", self.rule, self.message)

    def suppress(self, reason: str) -> Finding:
        return replace(self, suppressed=reason)


@dataclass(frozen=True, slots=True)
class ModelResult:
    """The findings of one model, or the one-line error that stopped its analysis."""

    path: str
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    #: The exit code the error stands for (3: unreadable; 4: a missing dependency).
    error_exit_code: int | None = None


@dataclass(frozen=True, slots=True)
class NotAnalysed:
    """A model a folder search found but the run did not analyse, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Report:
    """Every model of one run, in the order they were given, and the threshold."""

    results: tuple[ModelResult, ...]
    fail_on: FailOn = FailOn.ERROR
    rules: tuple[str, ...] = field(default=())
    #: Models found in a folder and left out, with the reason (they do not fail the run).
    not_analysed: tuple[NotAnalysed, ...] = ()

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    @property
    def active_findings(self) -> list[Finding]:
        """Findings that are not suppressed."""
        return [f for f in self.findings if f.suppressed is None]

    @property
    def errors(self) -> list[ModelResult]:
        return [r for r in self.results if r.error is not None]

    @property
    def failing(self) -> list[Finding]:
        """Unsuppressed findings at or above the ``fail_on`` threshold."""
        return [f for f in self.active_findings if self.fail_on.is_failing(f.severity)]

    @property
    def failed(self) -> bool:
        """The run fails: a failing finding (exit 1) or an unreadable model (exit 3).

        Every report format's verdict reads this, so that it agrees with the exit code.
        """
        return bool(self.failing or self.errors)

    def counts(self) -> dict[str, int]:
        """Unsuppressed findings per severity, plus ``suppressed`` and ``unreadable``."""
        counts = {s.value: 0 for s in Severity}
        for finding in self.active_findings:
            counts[finding.severity.value] += 1
        counts["suppressed"] = len(self.findings) - len(self.active_findings)
        counts["unreadable"] = len(self.errors)
        return counts


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Findings in a stable order: model, call path, rule ID."""
    return tuple(sorted(findings, key=Finding.sort_key))


def summary_line(report: Report, models: Sequence[ModelResult] | None = None) -> str:
    """One line: ``3 models: 2 errors, ... (1 suppressed); 1 unreadable; failed (fail on: error)``.

    The verdict at the end is the run's (:attr:`Report.failed`), whatever ``models`` holds.
    """
    results = report.results if models is None else models
    counts = report.counts()
    noun = "model" if len(results) == 1 else "models"
    text = (
        f"{len(results)} {noun}: {counts['error']} error(s), {counts['warning']} warning(s), "
        f"{counts['info']} info"
    )
    if counts["suppressed"]:
        text += f" ({counts['suppressed']} suppressed)"
    if counts["unreadable"]:
        text += f"; {counts['unreadable']} unreadable"
    verdict = "failed" if report.failed else "passed"
    return f"{text}; {verdict} (fail on: {report.fail_on.value})"
