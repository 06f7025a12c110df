"""An analysis as HTML for Jupyter: the report's key lines, findings and the drawing as SVG.

Used by ``ModelAnalysis._repr_html_`` (and ``LoadedModel``), so that the last line
of a notebook cell, ``graphcheck.load(model).analyse()``, shows what the text
report says and the picture ``graphcheck render`` draws: frozen submodels as
dashed panels, masked tensors as thick orange edges. Without Graphviz's ``dot``
the HTML says so instead of the picture.
"""

from __future__ import annotations

import html

from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.errors import MissingDependencyError
from graphcheck.reporters.analysis_text import model_text
from graphcheck.rules.runner import run_rules

__all__ = ["render_notebook_html"]


def render_notebook_html(analysis: ModelAnalysis, *, with_graph: bool = True) -> str:
    """The report's lines (one per fact, as in the text report), the rules' findings and
    the graph's SVG."""
    lines = model_text(analysis).rstrip("\n").splitlines()
    title, facts = lines[0], [line.strip() for line in lines[1:]]
    items = "".join(f"<li>{html.escape(fact)}</li>" for fact in facts)
    parts = [
        '<div class="graphcheck">',
        f"<strong>{html.escape(title)}</strong>",
        f'<ul style="margin:0.3em 0">{items}</ul>',
    ]
    # The rules' findings with their default settings, as `graphcheck MODEL` lists them.
    found = [f for f in run_rules(analysis) if f.suppressed is None]
    if found:
        rows = "".join(
            f"<li><code>{html.escape(f.severity.value)} {html.escape(f.rule)}</code> "
            f"{html.escape(f.message)}</li>"
            for f in found
        )
        parts.append(f'<ul style="margin:0.3em 0">{rows}</ul>')
    if with_graph:
        parts.append(_svg(analysis))
    parts.append("</div>")
    return "\n".join(parts)


def _svg(analysis: ModelAnalysis) -> str:
    from graphcheck.reporters.drawing import render_graph

    try:
        svg = render_graph(analysis, "svg").decode("utf-8")
    except MissingDependencyError as exc:
        return f"<p><em>graph not drawn: {html.escape(str(exc))}</em></p>"
    # Drop the XML prolog and DOCTYPE: inline SVG in HTML starts at <svg.
    return svg[svg.find("<svg"):] if "<svg" in svg else ""
