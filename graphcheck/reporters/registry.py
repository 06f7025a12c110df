"""Every report format, by name: what `check` and `diff` write for ``--format NAME``.

A :class:`Reporter` renders a whole check run from its :class:`~graphcheck.findings.Report`
and, for formats that describe each model (text, JSON), from one *part* per model.
The part is made by :attr:`Reporter.model_part` where the model was analysed (a
``--jobs`` worker), so only text travels back and the analysis is dropped there;
formats made from the findings alone (SARIF, Markdown, GitHub) have no part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.findings import ModelResult, Report
from graphcheck.reporters import analysis_text, findings_text, github, json_report, markdown, sarif
from graphcheck.reporters.findings_json import add_findings, render_diff_json

if TYPE_CHECKING:  # only in annotations: a check run never loads graphcheck.diff
    from graphcheck.diff import ModelDiff

__all__ = ["REPORTERS", "Reporter", "find_reporter"]

#: One model's part of a report, made where the model was analysed.
ModelPart = Callable[[ModelAnalysis, ModelResult], str]


@dataclass(frozen=True, slots=True)
class Reporter:
    """One ``--format``: how a check run and a diff are written in it."""

    name: str
    #: (report, each readable model's part in order, colour) -> the report's text.
    render_report: Callable[[Report, Sequence[str], bool], str]
    #: (diffs, colour) -> the diff's text.
    render_diff: Callable[[Sequence[ModelDiff], bool], str]
    #: None: the format is made from the findings alone.
    model_part: ModelPart | None = None


def _json_report(report: Report, parts: Sequence[str], colour: bool) -> str:
    errors = [(r.path, r.error) for r in report.errors if r.error is not None]
    return json_report.join_document(parts, add_findings(json_report.build_document([], errors), report))


def _text_report(report: Report, parts: Sequence[str], colour: bool) -> str:
    head = "\n".join(parts)
    return head + ("\n" if head else "") + findings_text.render_findings_text(report, colour=colour)


REPORTERS: dict[str, Reporter] = {
    r.name: r
    for r in (
        Reporter(
            "text", _text_report, lambda d, colour: findings_text.render_diff_text(d, colour=colour),
            analysis_text.render_block,
        ),
        Reporter(
            "json", _json_report, lambda d, colour: render_diff_json(d), json_report.render_entry
        ),
        Reporter(
            "sarif", lambda r, p, c: sarif.render_sarif(r), lambda d, c: sarif.render_diff_sarif(d)
        ),
        Reporter(
            "markdown",
            lambda r, p, c: markdown.render_markdown(r),
            lambda d, c: markdown.render_diff_markdown(d),
        ),
        Reporter(
            "github", lambda r, p, c: github.render_github(r), lambda d, c: github.render_diff_github(d)
        ),
    )
}


def find_reporter(name: str) -> Reporter:
    """The reporter for ``--format name``.

    Raises
    ------
    KeyError
        No format has that name (the CLI offers only the registered names).
    """
    return REPORTERS[name]
