"""Findings and model diffs as GitHub Actions workflow commands (``::error file=...::``).

Each unsuppressed finding becomes one annotation on the model file; a model that
cannot be read becomes an ``::error``. See "Workflow commands for GitHub Actions".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from graphcheck.findings import Report, Severity, summary_line

if TYPE_CHECKING:  # only in annotations: a check run never loads graphcheck.diff
    from graphcheck.diff import ModelDiff

__all__ = ["render_diff_github", "render_github"]

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, file: str, title: str, message: str) -> str:
    return f"::{kind} file={_property(file)},title={_property(title)}::{_data(message)}"


def render_github(report: Report) -> str:
    """One workflow command per unsuppressed finding and per unreadable model."""
    lines = []
    for result in report.results:
        if result.error is not None:
            lines.append(
                _command("error", result.path, "graphcheck: unreadable model", result.error)
            )
        for f in result.findings:
            if f.suppressed is None:
                title = f"{f.rule} {f.slug}"
                message = (
                    f"{f.path}: {f.message}" if f.path and f.path not in f.message else f.message
                )
                lines.append(_command(_COMMANDS[f.severity], f.model, title, message))
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def render_diff_github(diffs: Sequence[ModelDiff]) -> str:
    """One ``::notice`` per change, on the new file."""
    lines = [
        _command("notice", d.new, f"graphcheck diff: {c.kind.value}", f"{c.path}: {c.detail}")
        for d in diffs
        for c in d.changes
    ]
    count = sum(len(d.changes) for d in diffs)
    lines.append(f"{count} change(s)")
    return "\n".join(lines) + "\n"
