"""Findings and model diffs as GitHub-flavoured Markdown, for a pull-request comment."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from graphcheck.findings import Report, Severity, summary_line
from graphcheck.reporters.terminal import visible
from graphcheck.rules import RULES

if TYPE_CHECKING:  # only in annotations: a check run never loads graphcheck.diff
    from graphcheck.diff import ModelDiff

__all__ = ["render_diff_markdown", "render_markdown"]

_ICONS = {
    Severity.ERROR: ":x: error",
    Severity.WARNING: ":warning: warning",
    Severity.INFO: ":information_source: info",
}


def _cell(text: str | None) -> str:
    """Text shown as it is inside a table cell, whatever a model file put in its names.

    Every ASCII punctuation character is backslash-escaped (CommonMark), so a layer
    name cannot make a link, an image that a reader's browser fetches, emphasis or a
    new table column; ``<`` and ``>`` become entities, so it cannot open HTML either.
    Control characters are shown as ``\\xNN``, as the text report shows them.
    """
    return _MARKDOWN_SPECIAL.sub(_escape_one, visible((text or "").replace("\n", " ")))


def _code(text: str | None) -> str:
    """A name as a code span; its backticks and pipes cannot end the span or the cell."""
    if not text:
        return "(model)"
    shown = visible(text.replace("\n", " ")).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(shown)), default=0) + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


_MARKDOWN_SPECIAL = re.compile(r"[!-/:-@\[-`{-~]")
_BACKTICKS = re.compile(r"`+")
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    return _ENTITIES.get(char, "\\" + char)


def render_markdown(report: Report) -> str:
    """A heading, the summary, one table per model with findings, suppressed ones folded."""
    verdict = ":x: **failed**" if report.failed else ":white_check_mark: **passed**"
    lines = [
        "## graphcheck",
        "",
        f"{verdict}: {summary_line(report)}",
        "",
    ]
    for result in report.results:
        active = [f for f in result.findings if f.suppressed is None]
        suppressed = [f for f in result.findings if f.suppressed is not None]
        lines += [f"### {_code(result.path)}", ""]
        if result.error is not None:
            # A file without a layer graph still has its load-safety findings.
            lines += [f":no_entry: unreadable: {_cell(result.error)}", ""]
        if not active and result.error is None:
            lines += ["No findings.", ""]
        elif active:
            lines += ["| Severity | Rule | Layer | Message |", "| --- | --- | --- | --- |"]
            for f in active:
                rule = RULES.get(f.rule)
                link = f"[{f.rule}]({rule.help_uri})" if rule and rule.help_uri else f.rule
                lines.append(
                    f"| {_ICONS[f.severity]} | {link} `{f.slug}` | {_code(f.path)} "
                    f"| {_cell(f.message)} |"
                )
            lines.append("")
        if suppressed:
            lines += [f"<details><summary>{len(suppressed)} suppressed</summary>", ""]
            lines += ["| Rule | Layer | Reason |", "| --- | --- | --- |"]
            lines += [f"| {f.rule} | {_code(f.path)} | {_cell(f.suppressed)} |" for f in suppressed]
            lines += ["", "</details>", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_diff_markdown(diffs: Sequence[ModelDiff]) -> str:
    """One table of changes per compared pair."""
    lines = ["## graphcheck diff", ""]
    for diff in diffs:
        lines += [
            f"### {_code(diff.old)} → {_code(diff.new)}",
            "",
            f"Semantics: {_code(diff.profile)}",
            "",
        ]
        if diff.is_empty:
            lines += ["No changes.", ""]
            continue
        lines += ["| Change | Layer | Detail |", "| --- | --- | --- |"]
        lines += [
            f"| {c.kind.title} | {_code(c.path)} | {_cell(c.detail)} |" for c in diff.changes
        ]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
