"""Every output format, by name: one registry for the reports, drawings and graph exports.

- A :class:`Reporter` (:data:`REPORTERS`) is a ``--format NAME`` of `check`, `diff`
  and `validate`: it renders a whole check run from its
  :class:`~graphcheck.findings.Report` and, for formats that describe each model (text,
  JSON), from one *part* per model. The part is made by :attr:`Reporter.model_part`
  where the model was analysed (a ``--jobs`` worker), so only text travels back and the
  analysis is dropped there; formats made from the findings alone (SARIF, Markdown,
  GitHub) have no part.
- A :class:`FileFormat` (:data:`FILE_FORMATS`) is a file `render -o FILE` (or ``check
  --render FILE``) draws, or `export -o FILE` writes: the file's suffix picks it.

A new format is its module and one row here; the CLI takes its ``--format`` choices and
the suffixes it accepts from these tables. Each row's functions import their module
when called, so that reading the tables (``graphcheck --help``) imports no reporter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only in annotations: reading the tables loads no analysis or reporter
    from graphcheck.analyses.model_analysis import ModelAnalysis
    from graphcheck.diff import ModelDiff
    from graphcheck.findings import ModelResult, Report
    from graphcheck.reporters.html_page import ProfileView
    from graphcheck.reporters.terminal import TextStyle

__all__ = [
    "FILE_FORMATS",
    "REPORTERS",
    "FileFormat",
    "FileOptions",
    "Reporter",
    "Validated",
    "Written",
    "drawing_suffixes",
    "find_file_format",
    "find_reporter",
    "graph_suffixes",
    "report_formats",
    "validation_formats",
]

#: One model's part of a report, made where the model was analysed.
ModelPart = Callable[["ModelAnalysis", "ModelResult"], str]


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
            from graphcheck.reporters import validation
            from graphcheck.reporters.findings_json import add_findings
            from graphcheck.reporters.json_text import dumps_document

            errors = [(r.path, r.error) for r in report.errors if r.error is not None]
            document = validation.validation_document(analyses, errors, validated.sections)
            return dumps_document(add_findings(document, report))
        text = self.render_report(report, parts, colour)
        if validated is not None and self.name == "text":
            text += "".join("\n" + t for t in validated.texts)
        return text


def _json_report(report: Report, parts: Sequence[str], colour: bool) -> str:
    from graphcheck.reporters import json_report
    from graphcheck.reporters.findings_json import add_findings

    errors = [(r.path, r.error) for r in report.errors if r.error is not None]
    return json_report.join_document(
        parts, add_findings(json_report.build_document([], errors), report)
    )


def _text_report(
    report: Report, parts: Sequence[str], colour: bool, style: TextStyle | None = None
) -> str:
    """The text report (:func:`.text_report.render_report`); ``colour`` applies when
    no ``style`` is given."""
    from graphcheck.reporters import text_report
    from graphcheck.reporters.terminal import TextStyle

    return text_report.render_report(report, parts, style or TextStyle(colour=colour))


def _text_diff(diffs: Sequence[ModelDiff], colour: bool) -> str:
    from graphcheck.reporters import findings_text

    return findings_text.render_diff_text(diffs, colour=colour)


def _text_part(
    analysis: ModelAnalysis, result: ModelResult, style: TextStyle | None = None
) -> str:
    from graphcheck.reporters import text_report

    return text_report.render_block(analysis, result, style=style)


def _json_diff(diffs: Sequence[ModelDiff], colour: bool) -> str:
    from graphcheck.reporters.findings_json import render_diff_json

    return render_diff_json(diffs)


def _json_part(analysis: ModelAnalysis, result: ModelResult) -> str:
    from graphcheck.reporters import json_report

    return json_report.render_entry(analysis, result)


def _json_validation(validated: Validated) -> str:
    from graphcheck.reporters import validation

    return validation.render_json_with_validation([], validated.errors, validated.sections)


def _sarif_report(report: Report, parts: Sequence[str], colour: bool) -> str:
    from graphcheck.reporters import sarif

    return sarif.render_sarif(report)


def _sarif_diff(diffs: Sequence[ModelDiff], colour: bool) -> str:
    from graphcheck.reporters import sarif

    return sarif.render_diff_sarif(diffs)


def _markdown_report(report: Report, parts: Sequence[str], colour: bool) -> str:
    from graphcheck.reporters import markdown

    return markdown.render_markdown(report)


def _markdown_diff(diffs: Sequence[ModelDiff], colour: bool) -> str:
    from graphcheck.reporters import markdown

    return markdown.render_diff_markdown(diffs)


def _github_report(report: Report, parts: Sequence[str], colour: bool) -> str:
    from graphcheck.reporters import github

    return github.render_github(report)


def _github_diff(diffs: Sequence[ModelDiff], colour: bool) -> str:
    from graphcheck.reporters import github

    return github.render_diff_github(diffs)


REPORTERS: dict[str, Reporter] = {
    r.name: r
    for r in (
        Reporter("text", _text_report, _text_diff, _text_part, lambda v: "\n".join(v.texts)),
        Reporter("json", _json_report, _json_diff, _json_part, _json_validation),
        Reporter("sarif", _sarif_report, _sarif_diff),
        Reporter("markdown", _markdown_report, _markdown_diff),
        Reporter("github", _github_report, _github_diff),
    )
}


# ---- files: drawings and graph exports, picked by the suffix of -o FILE ----


@dataclass(frozen=True, slots=True)
class FileOptions:
    """How `render` (or ``check --render``) draws: the ``--collapse``, ``--rankdir`` and
    ``--fit`` values, and for the HTML page what it shows: the model under every
    profile with its findings (:func:`graphcheck.api.profile_views`; none given: the
    analysis alone, with no findings)."""

    collapse: str = "auto"
    rankdir: str = "TB"
    fit: bool = True
    views: Sequence[ProfileView] = ()


@dataclass(frozen=True, slots=True)
class Written:
    """A file's bytes, and what was done to make it fit (one sentence each)."""

    data: bytes
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FileFormat:
    """One file format, picked by the suffix of ``-o FILE``.

    ``command`` is ``"render"`` for a drawing (`render`, ``check --render``) or
    ``"export"`` for the call graph with the analysis on its nodes (`export`);
    ``write`` makes the file's bytes; ``rankdirs`` are the ``--rankdir`` values it
    honours; ``shows_findings``: it shows the rules' findings, as configured for `check`.
    """

    suffix: str
    command: str
    description: str
    write: Callable[[ModelAnalysis, FileOptions], Written]
    rankdirs: tuple[str, ...] = ("TB", "LR")
    shows_findings: bool = False


def _graphviz(output_format: str) -> Callable[[ModelAnalysis, FileOptions], Written]:
    def write(analysis: ModelAnalysis, options: FileOptions) -> Written:
        from graphcheck.reporters.drawing import render_fitted

        rendered = render_fitted(
            analysis, output_format, options.collapse, options.rankdir, options.fit
        )
        return Written(rendered.data, rendered.notes)

    return write


def _html(analysis: ModelAnalysis, options: FileOptions) -> Written:
    from graphcheck.reporters.drawing import collapsed_submodels
    from graphcheck.reporters.html_page import ProfileView, render_html

    # The page holds any size, so "auto" opens it whole; frozen/all open collapsed.
    collapse = options.collapse
    collapsed = () if collapse == "auto" else sorted(collapsed_submodels(analysis, collapse))
    views = options.views or (ProfileView(analysis, ()),)
    if views[0].analysis is not analysis:
        raise ValueError("the page's first view must be the analysis it draws")
    return Written(render_html(views, collapsed))


def _graphml(analysis: ModelAnalysis, options: FileOptions) -> Written:
    from graphcheck.reporters.annotate import annotated_graph
    from graphcheck.reporters.graph_export import render_graphml

    return Written(render_graphml(annotated_graph(analysis)).encode("utf-8"))


def _node_link(analysis: ModelAnalysis, options: FileOptions) -> Written:
    from graphcheck.reporters.annotate import annotated_graph
    from graphcheck.reporters.graph_export import render_node_link

    return Written(render_node_link(annotated_graph(analysis)).encode("utf-8"))


FILE_FORMATS: dict[str, FileFormat] = {
    f.suffix: f
    for f in (
        FileFormat(".pdf", "render", "PDF drawing", _graphviz("pdf")),
        FileFormat(".svg", "render", "SVG drawing", _graphviz("svg")),
        FileFormat(".png", "render", "PNG drawing", _graphviz("png")),
        FileFormat(".dot", "render", "Graphviz source", _graphviz("dot")),
        FileFormat(
            ".html", "render", "HTML page", _html, rankdirs=("TB",), shows_findings=True
        ),
        FileFormat(".graphml", "export", "GraphML", _graphml),
        FileFormat(".json", "export", "node-link JSON", _node_link),
    )
}


def report_formats() -> list[str]:
    """The ``--format`` names of `check` and `diff`."""
    return list(REPORTERS)


def validation_formats() -> list[str]:
    """The ``--format`` names of `validate`: the formats with a validation report."""
    return [name for name, r in REPORTERS.items() if r.render_validation is not None]


def drawing_suffixes() -> tuple[str, ...]:
    """The suffixes `render -o FILE` (and ``check --render``) accepts."""
    return tuple(s for s, f in FILE_FORMATS.items() if f.command == "render")


def graph_suffixes() -> tuple[str, ...]:
    """The suffixes `export -o FILE` accepts."""
    return tuple(s for s, f in FILE_FORMATS.items() if f.command == "export")


def find_file_format(suffix: str, command: str) -> FileFormat:
    """The format ``command`` writes for a file ending in ``suffix`` (lower case).

    Raises
    ------
    KeyError
        ``command`` writes no file of that suffix (the CLI accepts only registered ones).
    """
    found = FILE_FORMATS[suffix]
    if found.command != command:
        raise KeyError(suffix)
    return found


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
        model_part=partial(_text_part, style=style),
    )
