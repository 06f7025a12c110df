"""Every report format, by name: what `check` and `diff` write for ``--format NAME``.

A :class:`Reporter` renders a whole check run from its :class:`~graphcheck.findings.Report`
and, for formats that describe each model (text, JSON), from one *part* per model.
The part is made by :attr:`Reporter.model_part` where the model was analysed (a
``--jobs`` worker), so only text travels back and the analysis is dropped there;
formats made from the findings alone (SARIF, Markdown, GitHub) have no part.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.findings import ModelResult, Report
from graphcheck.reporters import (
    analysis_text,
    findings_text,
    github,
    json_report,
    markdown,
    sarif,
    validation,
)
from graphcheck.reporters.findings_json import add_findings, render_diff_json

if TYPE_CHECKING:  # only in annotations: a check run never loads graphcheck.diff
    from graphcheck.diff import ModelDiff

__all__ = ["REPORTERS", "Reporter", "Validated", "find_reporter"]

#: One model's part of a report, made where the model was analysed.
ModelPart = Callable[[ModelAnalysis, ModelResult], str]


@dataclass(frozen=True, slots=True)
class Validated:
    """What `validate` (or ``check --validate``) found, ready to report.

    ``sections`` is each model's ``validation`` JSON entry by path, ``texts`` the
    text block of each model that ran, ``errors`` (path, message) of those that did not.
    """

    sections: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    texts: Sequence[str] = ()
    errors: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True, slots=True)
class Reporter:
    """One ``--format``: how a check run, a diff and a validation are written in it."""

    name: str
    #: (report, each readable model's part in order, colour) -> the report's text.
    render_report: Callable[[Report, Sequence[str], bool], str]
    #: (diffs, colour) -> the diff's text.
    render_diff: Callable[[Sequence[ModelDiff], bool], str]
    #: None: the format is made from the findings alone.
    model_part: ModelPart | None = None
    #: The `validate` report; None: `validate` does not offer this format.
    render_validation: Callable[[Validated], str] | None = None

    def render_check(
        self,
        report: Report,
        parts: Sequence[str],
        colour: bool,
        analyses: Sequence[ModelAnalysis] = (),
        validated: Validated | None = None,
    ) -> str:
        """The `check` report; with ``validated`` (``check --validate``) its results too.

        JSON then puts each model's ``validation`` entry into its model entry (which
        needs the ``analyses``); text appends each model's validation block; the
        other formats report the findings alone.
        """
        if validated is not None and self.name == "json":
            errors = [(r.path, r.error) for r in report.errors if r.error is not None]
            document = validation.validation_document(analyses, errors, validated.sections)
            return json.dumps(add_findings(document, report), indent=2, sort_keys=True) + "\n"
        text = self.render_report(report, parts, colour)
        if validated is not None and self.name == "text":
            text += "".join("\n" + t for t in validated.texts)
        return text


def _json_report(report: Report, parts: Sequence[str], colour: bool) -> str:
    errors = [(r.path, r.error) for r in report.errors if r.error is not None]
    return json_report.join_document(
        parts, add_findings(json_report.build_document([], errors), report)
    )


def _text_report(report: Report, parts: Sequence[str], colour: bool) -> str:
    """The text report; empty when it would only repeat the errors, which the CLI
    says on stderr (one line per model), so that a run on one missing file prints
    one line, not three. A report with a model or a finding in it lists its errors too.
    """
    if all(r.error is not None and not r.findings for r in report.results):
        return ""
    head = "\n".join(parts)
    return head + ("\n" if head else "") + findings_text.render_findings_text(report, colour=colour)


REPORTERS: dict[str, Reporter] = {
    r.name: r
    for r in (
        Reporter(
            "text",
            _text_report,
            lambda d, colour: findings_text.render_diff_text(d, colour=colour),
            analysis_text.render_block,
            lambda v: "\n".join(v.texts),
        ),
        Reporter(
            "json",
            _json_report,
            lambda d, colour: render_diff_json(d),
            json_report.render_entry,
            lambda v: validation.render_json_with_validation([], v.errors, v.sections),
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
            "github",
            lambda r, p, c: github.render_github(r),
            lambda d, c: github.render_diff_github(d),
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
