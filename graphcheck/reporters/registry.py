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
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.findings import ModelResult, Report
from graphcheck.reporters import (
    findings_text,
    github,
    json_report,
    markdown,
    sarif,
    text_report,
    validation,
)
from graphcheck.reporters.findings_json import add_findings, render_diff_json
from graphcheck.reporters.terminal import TextStyle

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


def _text_report(
    report: Report, parts: Sequence[str], colour: bool, style: TextStyle | None = None
) -> str:
    """The text report (:func:`.text_report.render_report`); ``colour`` applies when
    no ``style`` is given."""
    return text_report.render_report(report, parts, style or TextStyle(colour=colour))


REPORTERS: dict[str, Reporter] = {
    r.name: r
    for r in (
        Reporter(
            "text",
            _text_report,
            lambda d, colour: findings_text.render_diff_text(d, colour=colour),
            text_report.render_block,
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


def find_reporter(name: str, style: TextStyle | None = None) -> Reporter:
    """The reporter for ``--format name``; for text, set to ``style`` (width, colour,
    ``-q``/``-v``) when one is given.

    Raises
    ------
    KeyError
        No format has that name (the CLI offers only the registered names).
    """
    reporter = REPORTERS[name]
    if name != "text" or style is None:
        return reporter
    # partial of module-level functions: a --jobs worker receives the part by pickle.
    return replace(
        reporter,
        render_report=partial(_text_report, style=style),
        model_part=partial(text_report.render_block, style=style),
    )
