"""Findings and model diffs as terminal text, with optional ANSI colour.

The caller decides on colour (``cli.py`` asks whether stdout is a terminal); this
module only formats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from graphcheck.findings import Finding, Report, Severity, summary_line

if TYPE_CHECKING:  # only in annotations: a check run never loads graphcheck.diff
    from graphcheck.diff import ModelDiff

__all__ = ["render_diff_text", "render_findings_text"]

_COLOURS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def _line(finding: Finding, colour: bool) -> str:
    level = _paint(f"{finding.severity.value:7}", _COLOURS[finding.severity], colour)
    rule = _paint(finding.rule, "1", colour)
    text = f"  {level} {rule} {finding.message} [{finding.slug}]"
    if finding.suppressed is not None:
        text = f"  {_paint('ignored', '2', colour)} {finding.rule} {finding.message} " \
               f"(suppressed: {finding.suppressed})"
    return text


def render_findings_text(report: Report, colour: bool = False, show_suppressed: bool = True) -> str:
    """One block per model (its findings, or its error), then one summary line."""
    lines: list[str] = []
    for result in report.results:
        shown = [f for f in result.findings if show_suppressed or f.suppressed is None]
        if result.error is not None:
            # A file without a layer graph still has its load-safety findings.
            lines.append(f"{result.path}: {_paint('unreadable', '31;1', colour)}: {result.error}")
            lines.extend(_line(f, colour) for f in shown)
            continue
        shown = [f for f in result.findings if show_suppressed or f.suppressed is None]
        if not shown:
            lines.append(f"{result.path}: no findings")
            continue
        lines.append(f"{result.path}:")
        lines.extend(_line(f, colour) for f in shown)
    summary = summary_line(report)
    lines.append(_paint(summary, "31;1", colour) if report.failed else summary)
    return "\n".join(lines) + "\n"


def render_diff_text(diffs: Sequence[ModelDiff], colour: bool = False) -> str:
    """One block per compared pair: its changes, one per line."""
    lines: list[str] = []
    for diff in diffs:
        why = f"; {diff.profile_source}" if diff.profile_source else ""
        if diff.profile_source and not diff.profile_source.startswith("--"):
            why += f", as chosen for {diff.new}"
        lines.append(f"{diff.old} -> {diff.new} (semantics: {diff.profile} for both{why})")
        if diff.is_empty:
            lines.append("  no changes")
        for change in diff.changes:
            kind = _paint(f"{change.kind.value:18}", "1", colour)
            lines.append(f"  {kind} {change.path}: {change.detail}")
    return "\n".join(lines) + "\n"
