"""Analysis -> Graphviz drawing of the call graph (PDF, SVG, PNG or DOT source).

One box per layer call; submodels are nested clusters (or single boxes with
``collapse``). Every colour, shape and border comes from a fact the analyses
already worked out (:class:`~graphcheck.analyses.model_analysis.ModelAnalysis`): this module only
chooses how to draw it. The ``graphviz`` package is imported when a drawing is
made, and Graphviz's ``dot`` runs only for the binary formats; when either is
missing, :class:`~graphcheck.errors.MissingDependencyError` says how to install it.

What a stochastic kind does to the tensor it acts on (an edge's ``masked 20%``) is its
record's words (:data:`graphcheck.kinds.KINDS`); when a call acts is said by
:mod:`graphcheck.reporters.activity`.

Colours are from the Okabe-Ito palette, and no fact is told by colour alone:
node shape says what kind of layer it is, the border says whether it is declared
frozen, masked edges are thick and labelled.
"""

from __future__ import annotations

import html
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from types import ModuleType
from typing import TYPE_CHECKING

from graphcheck.analyses.frozen import FrozenState
from graphcheck.analyses.inner import InnerStochasticCall
from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.analyses.stochastic import MaskKind, ModeDependentCall, StochasticCall
from graphcheck.errors import MissingDependencyError
from graphcheck.graph import CallGraph, SubmodelCall
from graphcheck.kinds import Stochastic, facts_of
from graphcheck.layers import is_keras_op, keras_layer_info
from graphcheck.model import Shape
from graphcheck.reporters.activity import any_active, when_active, when_masked
from graphcheck.reporters.analysis_text import origin_text
from graphcheck.semantics import Scenario

if TYPE_CHECKING:
    import graphviz

__all__ = [
    "COLLAPSE_MODES",
    "EDGE_STYLES",
    "FORMATS",
    "NODE_STYLES",
    "RANKDIRS",
    "Border",
    "EdgeRole",
    "NodeRole",
    "Rendered",
    "auto_collapsed",
    "border_of",
    "build_drawing",
    "collapsed_submodels",
    "mask_label",
    "node_role",
    "output_shapes",
    "own_random_calls",
    "render_fitted",
    "render_graph",
    "shape_text",
    "stochastic_strength",
    "sublayer_lines",
    "submodel_state_lines",
    "unknown_line",
    "unread_calls",
    "weight_lines",
]

FORMATS = ("pdf", "svg", "png", "dot")
COLLAPSE_MODES = ("auto", "none", "frozen", "all")
#: ``--collapse auto`` draws a frozen submodel of more calls than this as one box.
AUTO_COLLAPSE_CALLS = 50
#: The largest page a PDF may have, 200 in (PDF 1.7, annex C.2), in points. Acrobat,
#: pdf.js and poppler refuse or crop a larger page.
PDF_MAX_POINTS = 14_400
#: A drawing too tall for a page is cut into columns of about this height (inches),
#: at most MAX_COLUMNS of them; past that it is scaled down instead.
COLUMN_INCHES = 150
MAX_COLUMNS = 12
RANKDIRS = ("TB", "LR")

# Okabe & Ito, "Color Universal Design" (2008): distinguishable in every common
# colour-vision deficiency. Tints keep the hue for large filled areas.
ORANGE = "#E69F00"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
YELLOW = "#F0E442"
BLUE_TINT = "#CFE8F7"
PURPLE_TINT = "#F5E1EC"
GREY_FILL = "#D9D9D9"
GREY_LINE = "#595959"
PANEL_FROZEN = "#EDEDED"
FONT = "Helvetica"

_INSTALL_DOT = (
    "the 'dot' program is not installed or not on PATH; install Graphviz "
    "(apt-get install graphviz, brew install graphviz, or https://graphviz.org/download/)"
)


class NodeRole(Enum):
    """What a box stands for; decides its shape and fill."""

    INPUT = "input"
    OUTPUT = "output"
    TRAINABLE = "trainable"
    FROZEN = "frozen"
    WEIGHTLESS = "weightless"
    STOCHASTIC_FIT = "stochastic-fit"
    STOCHASTIC_INFERENCE = "stochastic-inference"
    STOCHASTIC_OFF = "stochastic-off"
    BATCH_STATISTICS = "bn-batch-statistics"
    MOVING_STATISTICS = "bn-moving-statistics"
    UNKNOWN = "unknown"
    SUBMODEL_TRAINABLE = "submodel-trainable"
    SUBMODEL_FROZEN = "submodel-frozen"


class Border(Enum):
    """The declared trainable state, drawn as the border of every box and panel."""

    SOLID = "solid"  # not declared frozen
    DASHED = "dashed"  # trainable=False on the layer or an enclosing submodel
    DOTTED = "dotted"  # an enclosing submodel's flag is not recorded


class EdgeRole(Enum):
    """A plain tensor, or one a stochastic layer masks (and when it does)."""

    TENSOR = "tensor"
    MASKED_FIT = "masked-fit"
    MASKED_INFERENCE = "masked-inference"
    MASKED_OFF = "masked-off"


@dataclass(frozen=True, slots=True)
class NodeStyle:
    """How one :class:`NodeRole` is drawn, and the legend's words for it."""

    legend: str
    shape: str
    fillcolor: str
    color: str = "#000000"
    penwidth: float = 1.0
    rounded: bool = False
    diagonals: bool = False
    margin: str = "0.08,0.04"


@dataclass(frozen=True, slots=True)
class EdgeStyle:
    legend: str
    color: str
    penwidth: float
    style: str


NODE_STYLES: dict[NodeRole, NodeStyle] = {
    NodeRole.INPUT: NodeStyle("model input", "ellipse", "#FFFFFF"),
    NodeRole.OUTPUT: NodeStyle("model output", "ellipse", "#FFFFFF"),
    NodeRole.TRAINABLE: NodeStyle(
        "layer whose weights update in fit()", "box", BLUE_TINT, BLUE, 1.5, rounded=True
    ),
    NodeRole.FROZEN: NodeStyle(
        "layer whose weights stay fixed in fit()", "box", GREY_FILL, GREY_LINE, 1.5
    ),
    NodeRole.WEIGHTLESS: NodeStyle("layer without weights", "box", "#FFFFFF", GREY_LINE),
    NodeRole.STOCHASTIC_FIT: NodeStyle(
        "stochastic layer, active in fit() only", "octagon", ORANGE, "#000000", 2.5, margin="0,0"
    ),
    NodeRole.STOCHASTIC_INFERENCE: NodeStyle(
        "stochastic layer, ALSO active at inference\n(predict() or model(x))",
        "doubleoctagon", VERMILLION, "#000000", 2.5, margin="0,0",
    ),
    NodeRole.STOCHASTIC_OFF: NodeStyle(
        "stochastic layer that never acts\n(rate 0, or never gets training=True)", "octagon",
        "#FFFFFF", ORANGE, 2.0, margin="0,0",
    ),
    NodeRole.BATCH_STATISTICS: NodeStyle(
        "BatchNormalization using batch statistics\n(and updating them) in fit()", "hexagon",
        PURPLE, "#000000", 1.5, margin="0,0",
    ),
    NodeRole.MOVING_STATISTICS: NodeStyle(
        "BatchNormalization using its moving\nstatistics in every mode (inference mode)",
        "hexagon", PURPLE_TINT, PURPLE, 1.5, margin="0,0",
    ),
    NodeRole.UNKNOWN: NodeStyle(
        "class unknown to graphcheck, Lambda code, or a\n"
        "failed symbolic call: stochastic? not known",
        "box", YELLOW, "#000000",
        1.5, diagonals=True,
    ),
    NodeRole.SUBMODEL_TRAINABLE: NodeStyle(
        "submodel drawn as one box (--collapse)", "box3d", BLUE_TINT, BLUE, 1.5,
        margin="0.15,0.1",
    ),
    NodeRole.SUBMODEL_FROZEN: NodeStyle(
        "frozen submodel drawn as one box (--collapse)", "box3d", GREY_FILL, GREY_LINE, 1.5,
        margin="0.15,0.1",
    ),
}

EDGE_STYLES: dict[EdgeRole, EdgeStyle] = {
    EdgeRole.TENSOR: EdgeStyle("tensor", GREY_LINE, 1.0, "solid"),
    EdgeRole.MASKED_FIT: EdgeStyle("tensor masked in fit() only", ORANGE, 4.0, "bold"),
    EdgeRole.MASKED_INFERENCE: EdgeStyle(
        "tensor masked also at inference", VERMILLION, 4.0, "bold,dashed"
    ),
    EdgeRole.MASKED_OFF: EdgeStyle("tensor a stochastic layer never masks", ORANGE, 2.0, "dotted"),
}

_BORDER_LEGEND = {
    Border.DASHED: (
        "dashed border: declared trainable=False\n(own, a submodel's or the top model's)"
    ),
    Border.DOTTED: (
        "dotted border: declared trainable state unknown\n(a submodel's flag is not recorded)"
    ),
}


def node_role(
    analysis: ModelAnalysis,
    path: str,
    stochastic: StochasticCall | None = None,
    mode: ModeDependentCall | None = None,
    unknown: frozenset[str] | None = None,
    own: InnerStochasticCall | None = None,
) -> NodeRole:
    """The role of one call of the graph, read from the analysis results.

    ``stochastic``, ``mode``, ``unknown`` (:func:`unread_calls`) and ``own``
    (:func:`own_random_calls`) may be passed when the caller has them at hand;
    otherwise they are looked up. A call that draws random numbers in its own code
    (a KerasHub ``DropPath``) is a stochastic call, as a Dropout is.
    """
    if path in analysis.graph.inputs:
        return NodeRole.INPUT
    if stochastic is None:
        stochastic = next((s for s in analysis.stochastic if s.path == path), None)
    if stochastic is not None:
        return _activity_role(stochastic.active)
    if own is None:
        own = own_random_calls(analysis).get(path)
    if own is not None:
        return _activity_role(own.active)
    if mode is None:
        mode = next((m for m in analysis.mode_dependent if m.path == path), None)
    if mode is not None:
        if any(mode.batch_statistics.values()):
            return NodeRole.BATCH_STATISTICS
        return NodeRole.MOVING_STATISTICS
    if unknown is None:
        unknown = unread_calls(analysis)
    if path in unknown:
        return NodeRole.UNKNOWN
    will_train = analysis.frozen.calls[path].will_train
    if will_train is None:
        return NodeRole.WEIGHTLESS
    return NodeRole.TRAINABLE if will_train else NodeRole.FROZEN


def own_random_calls(analysis: ModelAnalysis) -> dict[str, InnerStochasticCall]:
    """The calls that draw random numbers in their own code, found by a symbolic call
    that ran (``own_random``, the holder itself), by path: drawn as stochastic calls.
    Where that call failed, whether they draw is not known (:func:`unread_calls`)."""
    return {
        item.path: item for item in analysis.inner_stochastic
        if item.own_random and item.path == item.holder and item.draws is not None
    }


def unread_calls(analysis: ModelAnalysis) -> frozenset[str]:
    """The calls drawn as of a class unknown to graphcheck: whether they are stochastic
    is not known.

    Those of a class no table lists, less the Keras-family layers and ``keras.ops``
    operations of a built object (``opened_calls``: a KerasHub ``TransformerEncoder``,
    ``GetItem``), whose sublayers were read and which were called symbolically to see
    whether they draw random numbers -- unless that call failed, which leaves their
    randomness unknown too.
    """
    failed = {item.holder for item in analysis.inner_stochastic
              if item.own_random and item.draws is None}
    read = {call.path for call in analysis.opened_calls()} - failed
    return frozenset(call.path for call in analysis.unknown_calls() if call.path not in read)


def unknown_line(analysis: ModelAnalysis, path: str) -> str:
    """Why an unread call's box is yellow: a class graphcheck does not know, or Keras's
    ``Lambda``, whose stored code graphcheck does not run."""
    call = analysis.graph.call(path)
    if keras_layer_info(call.layer.class_name, analysis.saved.dialect, call.layer.origin).has_code:
        return "stored code: stochastic? not known"
    return "unknown class"


def sublayer_lines(analysis: ModelAnalysis, path: str) -> list[str]:
    """What a built Keras-family call's box says of the randomness inside it, in the
    words of the text report's sublayer lines; nothing for a ``keras.ops`` operation
    that draws nothing (it holds no sublayers).

    Only for a call of :meth:`ModelAnalysis.opened_calls`.
    """
    inner = [item for item in analysis.inner_stochastic if item.holder == path]
    if any(item.own_random and item.draws is None for item in inner):
        return ["randomness not known: its symbolic call failed"]
    lines = []
    own = [item for item in inner if item.path == path]  # draws in its own code
    held = [item for item in inner if item.path != path]
    if own:
        lines.append(f"{facts_of(Stochastic.OWN_RANDOM).what_it_does}: {_when_active(own)}")
    if held:
        lines.append(f"{len(held)} stochastic sublayer(s): {_when_active(held)}")
    if not inner and not is_keras_op(analysis.graph.call(path).layer.origin):
        lines.append("no stochastic sublayers")
    # As a frozen Dropout's box says: trainable=False freezes weights, not dropout.
    if any(item.frozen_by and item.active[Scenario.FIT] for item in own):
        lines.append("fires in fit() though frozen")
    elif any(item.frozen_by and item.active[Scenario.FIT] for item in held):
        lines.append("sublayers fire in fit() though frozen")
    return lines


def _when_active(items: Sequence[InnerStochasticCall]) -> str:
    if all(item.spec.is_noop for item in items):
        return "rate 0: " + when_active({}, noop=True)
    return when_active(any_active(item.active for item in items))


def mask_label(item: StochasticCall) -> str:
    """What happens to the tensor a stochastic call masks, e.g. ``masked 20% in fit()``.

    The words are the kind's ``edge_label`` (:data:`graphcheck.kinds.KINDS`).
    """
    spec = item.spec
    facts = facts_of(spec.kind)
    if spec.is_noop:
        return f"not masked ({spec.parameter} 0)"
    if facts.ignores_training:
        if any(m.kind == MaskKind.SAMPLED_FROM for m in item.masks):
            return "random values drawn from it in every mode"
        return f"{facts.edge_label} in every mode"
    what = facts.edge_label.format(percent=_percent(spec.rate), number=_number(spec.rate))
    when = when_masked(item.active)
    return f"{what}: {when}" if when == "never active" else f"{what} {when}"


def build_drawing(
    analysis: ModelAnalysis, collapse: str = "none", rankdir: str = "TB", columns: int = 1
) -> graphviz.Digraph:
    """Lay out the drawing of one analysed model as a ``graphviz.Digraph`` (no ``dot`` run).

    Parameters
    ----------
    analysis : ModelAnalysis
        The model and every analysis result; nothing is recomputed.
    collapse : {"none", "frozen", "all", "auto"}
        Draw no submodel, the outermost frozen submodels, or every outermost
        submodel as one box; ``auto``: the outermost frozen submodels of more than
        :data:`AUTO_COLLAPSE_CALLS` calls.
    rankdir : {"TB", "LR"}
        Data flows top to bottom or left to right.
    columns : int
        Cut the execution order into this many runs drawn side by side, each
        top-level submodel whole in one (a tensor between runs becomes two stubs).

    Raises
    ------
    MissingDependencyError
        The ``graphviz`` Python package is not installed.
    ValueError
        ``collapse`` or ``rankdir`` is not one of the values above.
    """
    if collapse not in COLLAPSE_MODES:
        raise ValueError(f"collapse must be one of {', '.join(COLLAPSE_MODES)}, not {collapse!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, not {rankdir!r}")
    graphviz = _import_graphviz()
    drawing = graphviz.Digraph(name="graphcheck")
    return _Drawing(analysis, collapse, drawing, rankdir, columns).draw()


def render_graph(
    analysis: ModelAnalysis,
    output_format: str,
    collapse: str = "none",
    rankdir: str = "TB",
    max_inches: float | None = None,
    columns: int = 1,
) -> bytes:
    """Render the drawing of one analysed model to the bytes of a file.

    Parameters
    ----------
    analysis : ModelAnalysis
        The model and every analysis result.
    output_format : {"pdf", "svg", "png", "dot"}
        ``dot`` is the Graphviz source and needs no Graphviz install.
    collapse, rankdir
        As for :func:`build_drawing`.
    max_inches : float, optional
        Scale the drawing down, if needed, so that neither side is longer.
    columns : int
        As for :func:`build_drawing`.

    Raises
    ------
    MissingDependencyError
        The ``graphviz`` package, or Graphviz's ``dot`` for a binary format, is missing.
    ValueError
        An argument is not one of the accepted values.
    """
    if output_format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {output_format!r}")
    drawing = build_drawing(analysis, collapse, rankdir, columns)
    if max_inches is not None:
        drawing.attr("graph", size=f"{max_inches:g},{max_inches:g}")
    if output_format == "dot":
        return drawing.source.encode("utf-8")
    graphviz = _import_graphviz()
    try:
        return drawing.pipe(format=output_format, engine="dot", quiet=True)
    except graphviz.ExecutableNotFound:
        raise MissingDependencyError("Graphviz", _INSTALL_DOT) from None


@dataclass(frozen=True, slots=True)
class Rendered:
    """The bytes of a drawing, and what was done to make it fit (one sentence each)."""

    data: bytes
    notes: tuple[str, ...] = ()


def render_fitted(
    analysis: ModelAnalysis,
    output_format: str,
    collapse: str = "auto",
    rankdir: str = "TB",
    fit: bool = True,
) -> Rendered:
    """Render a drawing a viewer opens, and say what was done for that.

    ``collapse="auto"`` draws each outermost frozen submodel of more than
    :data:`AUTO_COLLAPSE_CALLS` calls as one box. With ``fit``, a PDF larger than
    :data:`PDF_MAX_POINTS` either way is drawn again in columns side by side, each
    top-level submodel whole in one column; when that does not fit either, it is
    scaled down to fit one page (vector output: zooming in makes it readable).
    ``notes`` say what was done and which option undoes it.
    """
    notes = []
    collapsed = auto_collapsed(analysis) if collapse == "auto" else []
    if collapsed:
        sizes = ", ".join(f"{path} ({calls} calls)" for path, calls in collapsed)
        notes.append(
            f"drew frozen submodel{'s' if len(collapsed) > 1 else ''} {sizes} as one box; "
            "--collapse none draws every call"
        )
    data = render_graph(analysis, output_format, collapse, rankdir)
    if output_format != "pdf" or not fit:
        return Rendered(data, tuple(notes))
    size = _pdf_page_size(data)
    if size is None or max(size) <= PDF_MAX_POINTS:
        return Rendered(data, tuple(notes))
    width, height = (round(v / 72) for v in size)
    long_side = height if rankdir == "TB" else width
    columns = math.ceil(long_side / COLUMN_INCHES)
    if 1 < columns <= MAX_COLUMNS:
        wrapped = render_graph(analysis, output_format, collapse, rankdir, columns=columns)
        wrapped_size = _pdf_page_size(wrapped)
        if wrapped_size is not None and max(wrapped_size) <= PDF_MAX_POINTS:
            notes.append(
                f"the drawing is {width} x {height} in, larger than the 200 in a PDF page can be; "
                f"drew it in {columns} columns side by side (a tensor between columns is a pair "
                "of labelled stubs); --no-fit draws one column, .svg output has no page limit"
            )
            return Rendered(wrapped, tuple(notes))
    scale = PDF_MAX_POINTS / max(size)
    # A little under the limit: Graphviz adds its margin after scaling.
    max_inches = PDF_MAX_POINTS / 72 - 2
    data = render_graph(analysis, output_format, collapse, rankdir, max_inches=max_inches)
    notes.append(
        f"the drawing is {width} x {height} in, larger than the 200 in a PDF page can be; "
        f"scaled to {scale:.0%} to fit one page (zoom in to read it); --no-fit keeps full "
        "size, --collapse frozen or .svg output may suit better"
    )
    return Rendered(data, tuple(notes))


def auto_collapsed(analysis: ModelAnalysis) -> list[tuple[str, int]]:
    """The frozen submodels ``--collapse auto`` draws as one box, with their call counts."""
    counts: dict[str, int] = defaultdict(int)
    for path in analysis.graph:
        for site in analysis.graph.call(path).submodels:
            counts[site] += 1
    return [(path, counts[path]) for path in sorted(collapsed_submodels(analysis, "frozen"))
            if counts[path] > AUTO_COLLAPSE_CALLS]


def _pdf_page_size(data: bytes) -> tuple[float, float] | None:
    """The first page's size in points, read from its MediaBox."""
    import re

    found = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", data)
    if found is None:
        return None
    x0, y0, x1, y1 = (float(v) for v in found.groups())
    return x1 - x0, y1 - y0


def _import_graphviz() -> ModuleType:
    try:
        import graphviz
    except ImportError:
        raise MissingDependencyError(
            "graphviz", "the graphviz Python package is not installed: pip install graphviz"
        ) from None
    return graphviz


class _Drawing:
    """Adds the nodes, clusters, edges, legend and title of one model to a Digraph."""

    def __init__(
        self, analysis: ModelAnalysis, collapse: str, dot: graphviz.Digraph, rankdir: str,
        columns: int = 1,
    ) -> None:
        self.analysis = analysis
        self.dot = dot
        self.rankdir = rankdir
        self.graph = analysis.graph
        self.submodels: dict[str, SubmodelCall] = analysis.graph.submodels
        self.stochastic = {item.path: item for item in analysis.stochastic}
        self.modes = {item.path: item for item in analysis.mode_dependent}
        self.unknown = unread_calls(analysis)
        self.opened = frozenset(call.path for call in analysis.opened_calls())
        self.own = own_random_calls(analysis)
        self.collapsed = collapsed_submodels(analysis, collapse)
        self.used_nodes: set[NodeRole] = set()
        self.used_borders: set[Border] = set()
        self.used_edges: set[EdgeRole] = set()
        self.used_panels: set[Border] = set()
        self.collapse_marks: set[EdgeRole] = set()
        # Graphviz reads ":" in an edge end as a port, so boxes get plain ids.
        self.ids: dict[str, str] = {}
        self.column = self.columns_of(columns)

    def draw(self) -> graphviz.Digraph:
        self.dot.attr(
            "graph", rankdir=self.rankdir, fontname=FONT, labelloc="t", labeljust="l",
            label=self.title(), newrank="true", nodesep="0.25", ranksep="0.4",
            outputorder="edgesfirst",
        )
        self.dot.attr("node", fontname=FONT, fontsize="10")
        self.dot.attr("edge", fontname=FONT, fontsize="10", arrowsize="0.6")
        members, children = self.scopes()
        self.add_scope(self.dot, "", members, children)
        self.add_outputs()
        self.add_edges()
        self.add_legend()
        return self.dot

    # ---- what goes where ----

    def columns_of(self, columns: int) -> dict[str, int]:
        """Each drawn box's column: runs of the execution order, cut into ``columns``.

        A top-level submodel stays whole in one column, so no panel is cut. dot puts
        unconnected parts side by side, so a tensor that crosses columns is drawn as a
        pair of labelled stubs instead of an edge.
        """
        if columns <= 1:
            return {}
        import networkx as nx

        # Columns are balanced by the boxes drawn, not by calls: a collapsed frozen
        # base of 228 calls is one box, and counting its calls left its column empty.
        units: dict[str, dict[str, None]] = {}  # top-level submodel or call -> its boxes
        for path in nx.topological_sort(self.graph):
            call = self.graph.call(path)
            key = call.submodels[0] if call.submodels else path
            units.setdefault(key, {})[self.representative(path)] = None
        per_column = sum(len(boxes) for boxes in units.values()) / columns
        column: dict[str, int] = {}
        done = 0
        for boxes in units.values():
            index = min(int(done / per_column), columns - 1)
            column.update(dict.fromkeys(boxes, index))
            done += len(boxes)
        return column

    def representative(self, path: str) -> str:
        """The box a call is drawn in: itself, or the collapsed submodel that holds it."""
        call = self.graph.call(path)
        return next((site for site in call.submodels if site in self.collapsed), path)

    def scopes(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Boxes per enclosing panel ("" is the top model) and child panels per panel."""
        members: dict[str, list[str]] = defaultdict(list)
        children: dict[str, list[str]] = defaultdict(list)
        for path, sub in self.submodels.items():
            if any(site in self.collapsed for site in sub.parents):
                continue
            parent = sub.parents[-1] if sub.parents else ""
            (members if path in self.collapsed else children)[parent].append(path)
        for call in self.graph.calls():
            if self.representative(call.path) == call.path:
                members[call.submodel].append(call.path)
        return members, children

    def add_scope(
        self,
        target: graphviz.Digraph,
        scope: str,
        members: dict[str, list[str]],
        children: dict[str, list[str]],
    ) -> None:
        for box in members.get(scope, ()):
            if box in self.collapsed:
                self.add_collapsed(target, box)
            else:
                self.add_call(target, box)
        for child in children.get(scope, ()):
            with target.subgraph(name=f"cluster_{child}") as panel:
                self.style_panel(panel, child)
                self.add_scope(panel, child, members, children)

    # ---- boxes ----

    def add_call(self, target: graphviz.Digraph, path: str) -> None:
        call = self.graph.call(path)
        stochastic = self.stochastic.get(path)
        mode = self.modes.get(path)
        role = node_role(self.analysis, path, stochastic, mode, self.unknown, self.own.get(path))
        state = self.analysis.frozen.calls[path]
        border = Border.SOLID if role is NodeRole.INPUT else border_of(state)
        name = call.layer.name + (f"@{call.call_index}" if call.call_count > 1 else "")
        lines = [call.layer.class_name]
        shapes = output_shapes(self.graph, path)
        if shapes:
            lines.append(shapes)
        if path in self.opened:  # a built Keras-family layer: its sublayers were read
            lines.extend(sublayer_lines(self.analysis, path))
        elif role is NodeRole.UNKNOWN:
            lines.append(unknown_line(self.analysis, path))
        lines.extend(self.status_lines(role, state, stochastic, mode))
        self.add_box(target, path, role, border, name, lines)

    def add_collapsed(self, target: graphviz.Digraph, path: str) -> None:
        sub = self.submodels[path]
        state = self.analysis.frozen.submodels[path]
        role = NodeRole.SUBMODEL_FROZEN if state.frozen else NodeRole.SUBMODEL_TRAINABLE
        inside = [p for p in self.graph if path in self.graph.call(p).submodels]
        lines = [sub.layer.class_name, f"{len(inside)} layer calls, drawn as one box"]
        lines.extend(submodel_state_lines(self.analysis, path))
        # The calls drawing random numbers in their own code count as stochastic too.
        stochastic: list[StochasticCall | InnerStochasticCall] = [
            self.stochastic.get(p) or self.own[p]
            for p in inside if p in self.stochastic or p in self.own
        ]
        if not stochastic:
            lines.append("no stochastic layers inside")
        for item in stochastic[:4]:
            lines.append(f"{_short(item.path, path)}: {when_masked(item.active)}")
        if len(stochastic) > 4:
            lines.append(f"... and {len(stochastic) - 4} more stochastic layers")
        modes = [self.modes[p] for p in inside if p in self.modes]
        if modes:
            batch = sum(1 for m in modes if any(m.batch_statistics.values()))
            lines.append(f"{len(modes)} BatchNormalization, {batch} using batch statistics")
        # The collapsed box's border carries the strongest stochastic mark inside it.
        marks = (_mask_role(item) for item in stochastic)
        mark = max(marks, key=_EDGE_RANK.__getitem__, default=None)
        extra = {}
        if mark in (EdgeRole.MASKED_FIT, EdgeRole.MASKED_INFERENCE):
            extra = {"color": EDGE_STYLES[mark].color, "penwidth": "4"}
            self.collapse_marks.add(mark)
        self.add_box(target, path, role, border_of(state), sub.path, lines, extra)

    def add_box(
        self,
        target: graphviz.Digraph,
        node_id: str,
        role: NodeRole,
        border: Border,
        title: str,
        lines: Sequence[str],
        extra: dict[str, str] | None = None,
    ) -> None:
        self.used_nodes.add(role)
        if border is not Border.SOLID:
            self.used_borders.add(border)
        attrs = _node_attrs(role, border)
        attrs.update(extra or {})
        attrs.update(id=f"gc:{node_id}", tooltip=node_id)
        target.node(self.node_id(node_id), label=_html_label(title, lines), **attrs)

    def node_id(self, key: str) -> str:
        return self.ids.setdefault(key, f"n{len(self.ids)}")

    def status_lines(
        self,
        role: NodeRole,
        state: FrozenState,
        stochastic: StochasticCall | None,
        mode: ModeDependentCall | None,
    ) -> list[str]:
        lines = []
        if stochastic is not None:
            lines.append(_stochastic_status(stochastic))
            lines.extend(f"also masks {what}" for what in stochastic.internal)
            if stochastic.frozen_by and stochastic.active[Scenario.FIT]:
                lines.append("fires in fit() though frozen")
        if mode is not None:
            used = [s.label for s in Scenario if mode.batch_statistics[s]]
            if used:
                lines.append(f"batch statistics in {', '.join(used)}")
            else:
                lines.append("moving statistics always")
        if role is not NodeRole.INPUT:
            lines.extend(weight_lines(state))
        return lines

    def add_outputs(self) -> None:
        for index, endpoint in enumerate(self.graph.outputs):
            node_id = f"output:{index}"
            lines = [shape_text(endpoint.shape)] if endpoint.shape is not None else []
            self.add_box(self.dot, node_id, NodeRole.OUTPUT, Border.SOLID, f"output {index}", lines)
            tail = self.node_id(self.representative(endpoint.producer))
            self.dot.edge(tail, self.node_id(node_id), **_edge_attrs(EdgeRole.TENSOR))

    # ---- panels ----

    def style_panel(self, panel: graphviz.Digraph, path: str) -> None:
        sub = self.submodels[path]
        state = self.analysis.frozen.submodels[path]
        border = border_of(state)
        self.used_panels.add(border)
        lines = [sub.layer.class_name, *submodel_state_lines(self.analysis, path)]
        panel.attr(
            label=_html_label(sub.path, lines, size=12), labeljust="l", fontname=FONT,
            fontsize="10", **_panel_attrs(border),
        )

    # ---- edges ----

    def add_edges(self) -> None:
        masks = {
            (masked.producer, item.path, masked.output_index): item
            for item in self.analysis.stochastic
            for masked in item.masks
        }
        drawn: set[tuple[str, str, str]] = set()
        for producer, consumer, data in self.graph.edges(data=True):
            tail, head = self.representative(producer), self.representative(consumer)
            if tail == head:
                continue
            item = masks.get((producer, consumer, data["output_index"]))
            role = EdgeRole.TENSOR if item is None else _mask_role(item)
            label = ""
            if item is not None:
                label = mask_label(item)
                if head != consumer:
                    label += f" by {_short(consumer, head)}"
            if (tail, head, label) in drawn:
                continue
            drawn.add((tail, head, label))
            self.used_edges.add(role)
            attrs = _edge_attrs(role)
            if label:
                attrs.update(label=_html_text(label, bold=True), fontcolor="#000000")
            if self.column and self.column[tail] != self.column[head]:
                self.add_stubs(tail, head, attrs)
                continue
            self.dot.edge(self.node_id(tail), self.node_id(head), **attrs)

    def add_stubs(self, tail: str, head: str, attrs: dict[str, str]) -> None:
        """A tensor between columns.

        "to column k" under its producer, "from column j" above its consumer.
        """
        out_id = self.node_id(f"stub-out:{tail}->{head}")
        in_id = self.node_id(f"stub-in:{tail}->{head}")
        stub = {"shape": "note", "fontsize": "9", "color": GREY_LINE, "fontcolor": GREY_LINE}
        self.dot.node(out_id, label=f"to column {self.column[head] + 1}: {head}", **stub)
        self.dot.node(in_id, label=f"from column {self.column[tail] + 1}: {tail}", **stub)
        self.dot.edge(self.node_id(tail), out_id, **_edge_attrs(EdgeRole.TENSOR))
        self.dot.edge(in_id, self.node_id(head), **attrs)

    # ---- legend and title ----

    def title(self) -> str:
        saved = self.analysis.saved
        choice = self.analysis.choice
        profile = choice.profile
        origin = origin_text(self.analysis)  # the text report's words
        lines = [
            origin,
            f"semantics profile: {profile.title} [{profile.name}], for {choice.source}",
        ]
        return _html_label(saved.path, lines, size=16)

    def add_legend(self) -> None:
        with self.dot.subgraph(name="cluster_graphcheck_legend") as legend:
            legend.attr(label=_html_text("Legend", bold=True), style="rounded", color="#000000",
                        fontname=FONT, fontsize="14", labeljust="l")
            chain: list[str] = []
            for role in NodeRole:
                if role in self.used_nodes:
                    node_id = f"legend_{role.value}"
                    legend.node(node_id, label=_html_text(NODE_STYLES[role].legend),
                                **_node_attrs(role, Border.SOLID))
                    chain.append(node_id)
            for mark in sorted(self.collapse_marks, key=_EDGE_RANK.__getitem__):
                node_id = f"legend_collapsed-{mark.value}"
                attrs = _node_attrs(NodeRole.SUBMODEL_FROZEN, Border.SOLID)
                attrs.update(color=EDGE_STYLES[mark].color, penwidth="4")
                text = "thick border: collapsed submodel holds a stochastic\nlayer " + (
                    "active in fit()" if mark is EdgeRole.MASKED_FIT else "active at inference"
                )
                legend.node(node_id, label=_html_text(text), **attrs)
                chain.append(node_id)
            for border in (Border.DASHED, Border.DOTTED):
                if border in self.used_borders:
                    node_id = f"legend_border-{border.value}"
                    legend.node(node_id, label=_html_text(_BORDER_LEGEND[border]),
                                **_node_attrs(NodeRole.WEIGHTLESS, border))
                    chain.append(node_id)
            for border in (Border.SOLID, Border.DASHED, Border.DOTTED):
                if border in self.used_panels:
                    chain.append(self.add_legend_panel(legend, border))
            for edge_role in EdgeRole:
                if edge_role in self.used_edges:
                    chain.extend(self.add_legend_edge(legend, edge_role))
            for first, second in itertools.pairwise(chain):
                legend.edge(first, second, style="invis")

    def add_legend_panel(self, legend: graphviz.Digraph, border: Border) -> str:
        node_id = f"legend_panel-{border.value}"
        text = {
            Border.SOLID: "panel: submodel, not frozen",
            Border.DASHED: "grey dashed panel: frozen submodel\n(trainable=False)",
            Border.DOTTED: "dotted panel: submodel whose\ntrainable flag is not recorded",
        }[border]
        with legend.subgraph(name=f"cluster_graphcheck_legend_{border.value}") as panel:
            panel.attr(label="", **_panel_attrs(border))
            panel.node(node_id, label=_html_text(text), shape="plaintext")
        return node_id

    def add_legend_edge(self, legend: graphviz.Digraph, role: EdgeRole) -> list[str]:
        tail = f"legend_edge-{role.value}"
        head = f"{tail}_head"
        legend.node(tail, label="", shape="point", width="0.08")
        example = {
            EdgeRole.TENSOR: "",
            EdgeRole.MASKED_FIT: "\nlabel: e.g. masked 20% in fit()",
            EdgeRole.MASKED_INFERENCE: "\nlabel: e.g. masked 20% in fit(), predict()",
            EdgeRole.MASKED_OFF: "\nlabel: e.g. not masked (rate 0)",
        }[role]
        text = EDGE_STYLES[role].legend + example
        legend.node(head, label=_html_text(text), shape="plaintext")
        legend.edge(tail, head, **_edge_attrs(role))
        return [tail, head]



_EDGE_RANK = {
    EdgeRole.TENSOR: 0,
    EdgeRole.MASKED_OFF: 1,
    EdgeRole.MASKED_FIT: 2,
    EdgeRole.MASKED_INFERENCE: 3,
}


def collapsed_submodels(analysis: ModelAnalysis, collapse: str) -> set[str]:
    """The outermost submodel calls that ``collapse`` (:data:`COLLAPSE_MODES`) draws as boxes."""
    submodels: dict[str, SubmodelCall] = analysis.graph.submodels
    if collapse == "auto":
        return {path for path, _ in auto_collapsed(analysis)}
    if collapse == "all":
        return {path for path, sub in submodels.items() if not sub.parents}
    if collapse == "frozen":
        frozen = {path for path in submodels if analysis.frozen.submodels[path].frozen is True}
        return {path for path in frozen if not any(p in frozen for p in submodels[path].parents)}
    return set()


def _activity_role(active: Mapping[Scenario, bool | None]) -> NodeRole:
    if active[Scenario.PREDICT] or active[Scenario.CALL]:
        return NodeRole.STOCHASTIC_INFERENCE
    if active[Scenario.FIT]:
        return NodeRole.STOCHASTIC_FIT
    return NodeRole.STOCHASTIC_OFF


def _mask_role(item: StochasticCall | InnerStochasticCall) -> EdgeRole:
    return {
        NodeRole.STOCHASTIC_INFERENCE: EdgeRole.MASKED_INFERENCE,
        NodeRole.STOCHASTIC_FIT: EdgeRole.MASKED_FIT,
        NodeRole.STOCHASTIC_OFF: EdgeRole.MASKED_OFF,
    }[_activity_role(item.active)]


def stochastic_strength(item: StochasticCall) -> str:
    """How strongly a stochastic call acts, as its box says it: ``rate 0.2``,
    ``Bidirectional rate 0.3`` (wrapped); empty when no strength is known."""
    spec = item.spec
    strength = f"{spec.parameter} {_number(spec.rate)}" if spec.rate is not None else ""
    if spec.wrapped:
        strength = f"{spec.wrapped} {strength}".strip()
    return strength


def _stochastic_status(item: StochasticCall) -> str:
    strength = stochastic_strength(item)
    when = when_active(item.active, item.spec.is_noop)
    return f"{strength}: {when}" if strength else when


def weight_lines(state: FrozenState) -> list[str]:
    """The status line of a call's weights (none for a call without weights).

    Keras shows a layer's trainable state only for a layer with weights: where the
    analyses do not know whether a call has any (a user's class), the line says so.
    """
    if state.will_train is None:
        return []
    weights = "any weights" if state.has_weights is None else "weights"
    if state.will_train:
        if state.frozen:
            return [f"declared frozen, but {weights} train after loading"]
        return [f"{weights} train"]
    if state.frozen is False:
        return [f"{weights} fixed (top model trainable=False)"]
    return [f"{weights} frozen"]


def submodel_state_lines(analysis: ModelAnalysis, path: str) -> list[str]:
    """A submodel panel's two lines: its declared and effective frozen state, and the
    ``training`` its call site stores (also the HTML page's, precomputed).

    Where no flag declares the submodel frozen but one on its path is not recorded, the
    declared state is unknown; what loading does with its layers is not, and the line
    says it as the boxes inside do, so that panel and boxes never disagree.
    """
    sub = analysis.graph.submodels[path]
    state = analysis.frozen.submodels[path]
    declared = {True: "trainable=True", False: "trainable=False", None: "trainable not recorded"}
    if state.frozen is None:
        effective = _loaded_weights(analysis, path)
    elif state.frozen and state.trainable is not False and state.frozen_by:
        effective = f"frozen by {state.frozen_by}"
    else:
        effective = "frozen" if state.frozen else "not frozen"
    if sub.training is None:
        call = "call site: no training= argument"
    else:
        call = f"call site: training={sub.training}"
    if sub.call_count > 1:
        call += f" (call {sub.call_index + 1} of {sub.call_count})"
    return [f"declared {declared[state.trainable]}; {effective}", call]


def _loaded_weights(analysis: ModelAnalysis, path: str) -> str:
    """What the weights inside a submodel of unknown declared state do once loaded."""
    trains = [
        state.will_train for p, state in analysis.frozen.calls.items()
        if state.will_train is not None and path in analysis.graph.call(p).submodels
    ]
    if not trains:
        return "no weights inside"
    if all(trains):
        return "its weights train after loading"
    if not any(trains):
        return "its weights stay fixed after loading"
    return f"{sum(trains)} of {len(trains)} weighted layers inside train after loading"


def border_of(state: FrozenState) -> Border:
    """The border that tells a call's or panel's frozen state: dashed, solid or dotted (unknown)."""
    if state.frozen is None:
        return Border.DOTTED
    return Border.DASHED if state.frozen else Border.SOLID


def _node_attrs(role: NodeRole, border: Border) -> dict[str, str]:
    style = NODE_STYLES[role]
    styles = ["filled"]
    if style.rounded:
        styles.append("rounded")
    if style.diagonals:
        styles.append("diagonals")
    if border is not Border.SOLID:
        styles.append(border.value)
    penwidth = style.penwidth if border is Border.SOLID else max(style.penwidth, 2.0)
    return {
        "shape": style.shape,
        "style": ",".join(styles),
        "fillcolor": style.fillcolor,
        "color": style.color,
        "penwidth": f"{penwidth:g}",
        "margin": style.margin,
        "class": f"gc-{role.value} gc-border-{border.value}",
    }


def _panel_attrs(border: Border) -> dict[str, str]:
    if border is Border.DASHED:
        return {
            "style": "filled,dashed", "fillcolor": PANEL_FROZEN, "color": GREY_LINE, "penwidth": "2"
        }
    if border is Border.DOTTED:
        return {"style": "dotted", "color": GREY_LINE, "penwidth": "2"}
    return {"style": "rounded", "color": BLUE, "penwidth": "1.5"}


def _edge_attrs(role: EdgeRole) -> dict[str, str]:
    style = EDGE_STYLES[role]
    return {
        "color": style.color,
        "penwidth": f"{style.penwidth:g}",
        "style": style.style,
        "class": f"gc-edge-{role.value}",
    }


def _html_text(text: str, bold: bool = False) -> str:
    body = "<BR/>".join(html.escape(line) for line in text.split("\n"))
    return f"<<B>{body}</B>>" if bold else f"<{body}>"


def _html_label(title: str, lines: Iterable[str], size: int = 11) -> str:
    parts = [f'<FONT POINT-SIZE="{size}"><B>{html.escape(title)}</B></FONT>']
    parts.extend(html.escape(line) for line in lines)
    return "<" + "<BR/>".join(parts) + ">"


def _short(path: str, prefix: str) -> str:
    return path[len(prefix) + 1:] if path.startswith(prefix + "/") else path


def output_shapes(graph: CallGraph, path: str) -> str:
    """The known output shapes of a call, from the tensors leaving it (also the HTML page's)."""
    shapes: dict[int, Shape] = {}
    for _, _, data in graph.out_edges(path, data=True):
        if data["shape"] is not None:
            shapes.setdefault(data["output_index"], data["shape"])
    for endpoint in graph.outputs:
        if endpoint.producer == path and endpoint.shape is not None:
            shapes.setdefault(endpoint.output_index, endpoint.shape)
    if len(shapes) == 1:
        return shape_text(next(iter(shapes.values())))
    return "  ".join(f"{i}: {shape_text(s)}" for i, s in sorted(shapes.items()))


def shape_text(shape: Shape | None) -> str:
    if shape is None:
        return ""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _percent(rate: float | None) -> str:
    return "?%" if rate is None else f"{rate * 100:g}%"


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"
