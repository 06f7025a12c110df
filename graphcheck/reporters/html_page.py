"""Analyses -> one self-contained, interactive HTML page of the call graph.

The page shows the same facts as the PDF drawing (:mod:`graphcheck.reporters.drawing`), in the
same visual language, and adds what paper cannot: pan and zoom, search by layer
name, collapsing submodels, the facts of a node on click, a scenario switch (fit,
predict, model(x)) and a profile switch (the same file under another Keras).

Graphviz's ``dot`` lays the graph out once (``-Tjson0``: positions only, no
drawing); the page's own script (``html_assets/viewer.js``, no library, no
network) draws SVG from those positions. Every fact is taken from the analyses
given; this module works nothing out for itself and writes no file.
"""

from __future__ import annotations

import html
import json
import math
import shutil
import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from graphcheck.analyses.frozen import FrozenState
from graphcheck.analyses.inner import InnerStochasticCall
from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.analyses.stochastic import MaskKind, ModeDependentCall, StochasticCall
from graphcheck.analyses.training_transform import training_transform
from graphcheck.errors import GraphcheckError, MissingDependencyError
from graphcheck.findings import Finding
from graphcheck.kinds import Stochastic, facts_of, kinds_as_data
from graphcheck.layers import is_keras_op
from graphcheck.reporters.activity import in_scenario, when_active
from graphcheck.reporters.drawing import (
    NODE_STYLES,
    Border,
    NodeRole,
    border_of,
    mask_label,
    node_role,
    output_shapes,
    own_random_calls,
    shape_text,
    stochastic_strength,
    submodel_state_lines,
    unknown_line,
    unread_calls,
    weight_lines,
)
from graphcheck.reporters.json_report import frozen_fields
from graphcheck.reporters.reasons import (
    explain_batch_statistics,
    explain_inner,
    explain_received,
    explain_stochastic,
)
from graphcheck.semantics import Scenario

__all__ = ["ProfileView", "render_html"]

_INSTALL_DOT = (
    "the 'dot' program is not installed or not on PATH; the HTML report is laid out by "
    "Graphviz (apt-get install graphviz, brew install graphviz, or https://graphviz.org/download/)"
)

_DRAWS = facts_of(Stochastic.OWN_RANDOM).what_it_does  # "draws random numbers"
_DOT_TIMEOUT = 300  # seconds; EfficientNetB7's 816 calls take under 2

# Text metrics the layout reserves room with; viewer.css draws with the same sizes.
_CHAR_WIDTH = 6.6  # px per character of 11 px Helvetica, generous
_LINE_HEIGHT = 14
_PAD_X, _PAD_Y = 14, 8


@dataclass(frozen=True, slots=True)
class ProfileView:
    """One model analysed under one semantics profile, with the rules' findings on it."""

    analysis: ModelAnalysis
    findings: tuple[Finding, ...] = ()


def render_html(views: Sequence[ProfileView], collapsed: Collection[str] = ()) -> bytes:
    """The HTML page of one model, analysed under one or more profiles.

    Parameters
    ----------
    views : sequence of ProfileView
        The same model (the same graph) under each profile; the first is the one
        the page opens with (the profile graphcheck chose for the model).
    collapsed : collection of str
        Submodel calls the page opens collapsed, each drawn as one box.

    Raises
    ------
    MissingDependencyError
        Graphviz's ``dot`` is not installed.
    GraphcheckError
        ``dot`` failed, or took longer than 300 s.
    ValueError
        ``views`` is empty, its analyses are not of one graph, or ``collapsed``
        names a submodel call the graph does not have.
    """
    if not views:
        raise ValueError("render_html needs at least one analysis")
    first = views[0].analysis
    if any(v.analysis.graph is not first.graph for v in views):
        raise ValueError("every view must analyse the same graph")
    unknown = set(collapsed) - set(first.graph.submodels)
    if unknown:
        raise ValueError(f"no submodel call {', '.join(sorted(unknown))} to collapse")
    data = _page_data(views)
    data["collapsed"] = sorted(collapsed)
    return _page(data).encode("utf-8")


# ---- structure and layout (the same under every profile) ----


def _page_data(views: Sequence[ProfileView]) -> dict[str, Any]:
    first = views[0].analysis
    graph = first.graph
    saved = first.saved
    inputs = set(graph.inputs)
    submodels = graph.submodels
    nodes: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for call in graph.calls():
        path = call.path
        index[path] = len(nodes)
        name = call.layer.name + (f"@{call.call_index}" if call.call_count > 1 else "")
        nodes.append({
            "id": path, "name": name, "cls": call.layer.class_name,
            "kind": "input" if path in inputs else "layer",
            "sub": list(call.submodels), "shape": output_shapes(graph, path),
        })
    for i, endpoint in enumerate(graph.outputs):
        index[f"output:{i}"] = len(nodes)
        nodes.append({
            "id": f"output:{i}", "name": f"output {i}", "cls": "Output", "kind": "output",
            "sub": [], "shape": shape_text(endpoint.shape),
        })
    edges: list[dict[str, Any]] = []
    seen: set[tuple[str, str, int]] = set()
    for producer, consumer, data in graph.edges(data=True):
        key = (producer, consumer, data["output_index"])
        if key in seen:
            continue
        seen.add(key)
        edges.append({"t": index[producer], "h": index[consumer], "o": data["output_index"]})
    for i, endpoint in enumerate(graph.outputs):
        edges.append({"t": index[endpoint.producer], "h": index[f"output:{i}"],
                      "o": endpoint.output_index})
    panels = [
        {"id": path, "cls": sub.layer.class_name, "depth": len(sub.parents),
         "parent": sub.parents[-1] if sub.parents else None}
        for path, sub in submodels.items()
    ]
    profiles = [_profile_data(view, index, edges) for view in views]
    size = _lay_out(saved.path, nodes, edges, panels, profiles)
    return {
        "file": saved.path,
        "format": saved.format,
        "keras_version": saved.keras_version,
        "source": saved.source,  # stored config, rebuilt with ..., live object (...)
        "model": {"name": saved.model.name, "class_name": saved.model.class_name},
        "nodes": nodes,
        "edges": edges,
        "panels": panels,
        "profiles": profiles,
        "size": size,
        # How each role is drawn, and each stochastic kind's facts: the page's script
        # reads them here and restates none of them.
        "styles": {role.value: {"fill": s.fillcolor, "line": s.color, "legend": s.legend,
                                "shape": s.shape, "width": s.penwidth, "rounded": s.rounded,
                                "diagonals": s.diagonals}
                   for role, s in NODE_STYLES.items()},
        "kinds": kinds_as_data(),
    }


def _node_lines(node: dict[str, Any], statuses: Sequence[str]) -> list[str]:
    """The lines a box shows; the layout reserves room for the longest status it has
    in any scenario and profile."""
    second = node["cls"] + (f"  {node['shape']}" if node["shape"] else "")
    return [node["name"], second, max(statuses, key=len, default="")]


def _sublayer_facts(
    analysis: ModelAnalysis, path: str, inner: Sequence[InnerStochasticCall]
) -> dict[str, Any]:
    """What a built Keras-family call's box says of the randomness inside it (viewer.js
    words it as :func:`graphcheck.reporters.drawing.sublayer_lines` does): per scenario, how many
    of its stochastic sublayers act; ``own``, whether it draws random numbers in its own
    code; ``noop`` when every stochastic sublayer has rate 0; ``failed`` when its
    symbolic call failed. Empty for a ``keras.ops``
    operation that draws nothing."""
    if not inner and is_keras_op(analysis.graph.call(path).layer.origin):
        return {}
    held = [item for item in inner if item.path != path]
    facts: dict[str, Any] = {
        s.value: sum(1 for item in held if item.active[s]) for s in Scenario
    } | {"count": len(held)}
    if held and all(item.spec.is_noop for item in held):
        facts["noop"] = True  # rate 0: they never act
    own = [item for item in inner if item.path == path]
    if own:
        facts["own"] = {s.value: any(bool(item.active[s]) for item in own) for s in Scenario}
    if any(item.own_random and item.draws is None for item in inner):
        facts["failed"] = True
    return facts


def _lay_out(
    subject: str,
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    panels: list[dict[str, Any]],
    profiles: Sequence[dict[str, Any]],
) -> dict[str, float]:
    """Place nodes, panels and edges with ``dot -Tjson0``; adds x/y/w/h and edge points.

    Room is reserved for the longest text a box or panel shows under any profile.
    Returns the size of the whole drawing.
    """
    dot = shutil.which("dot")
    if dot is None:
        raise MissingDependencyError("Graphviz", _INSTALL_DOT)
    children: dict[str | None, list[int]] = {}
    for i, panel in enumerate(panels):
        children.setdefault(panel["parent"], []).append(i)
    members: dict[str | None, list[int]] = {}
    for i, node in enumerate(nodes):
        members.setdefault(node["sub"][-1] if node["sub"] else None, []).append(i)
        statuses = [
            profile["strings"][look[1]]
            for profile in profiles
            for look in profile["nodes"].get(str(i), {}).get("look", {}).values()
        ]
        lines = _node_lines(node, statuses)
        width = max(len(line) for line in lines) * _CHAR_WIDTH + 2 * _PAD_X
        node["w"] = round(max(width, 60.0))
        node["h"] = len(lines) * _LINE_HEIGHT + 2 * _PAD_Y
    out = [
        "digraph g {",
        "graph [rankdir=TB, newrank=true, nodesep=0.25, ranksep=0.4, "
        'fontname="Helvetica", fontsize=12];',
        'node [shape=box, fixedsize=true, label=""];',
        'edge [fontname="Helvetica", fontsize=10, arrowsize=0.6];',
    ]

    def add_scope(scope: str | None, depth: int) -> None:
        for i in members.get(scope, ()):
            node = nodes[i]
            out.append(f'n{i} [width={node["w"] / 72:.3f}, height={node["h"] / 72:.3f}];')
        for p in children.get(scope, ()):
            panel = panels[p]
            # The label only reserves room for the two lines viewer.js writes there
            # (panelSvg), at their longest, so that they are not cut short.
            texts = [profile["panels"][panel["id"]]["lines"] for profile in profiles]
            lines = (
                max((f"{panel['cls']}; {t[0]}" for t in texts), key=len),
                max((t[1] for t in texts), key=len),
            )
            label = _dot_string("\n".join([panel["id"], *map(_room_for, lines)]))
            out.append(f"subgraph cluster_{p} {{ label={label}; labeljust=l;")
            add_scope(panel["id"], depth + 1)
            out.append("}")

    add_scope(None, 0)
    for e, edge in enumerate(edges):
        label = max((p["edges"].get(str(e), {}).get("label") or "" for p in profiles), key=len)
        attrs = f", label={_dot_string(label)}" if label else ""
        out.append(f"n{edge['t']} -> n{edge['h']} [id=e{e}{attrs}];")
    out.append("}")
    try:
        result = subprocess.run(
            [dot, "-Tjson0"], input="\n".join(out).encode("utf-8"), capture_output=True,
            check=True, timeout=_DOT_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise GraphcheckError(
            subject, f"Graphviz dot did not lay out {len(nodes)} calls within {_DOT_TIMEOUT} s; "
            "draw it with -o FILE.svg --collapse frozen instead"
        ) from None
    except subprocess.CalledProcessError as exc:
        lines = exc.stderr.decode("utf-8", "replace").strip().splitlines()
        why = lines[-1] if lines else "no message"
        raise GraphcheckError(subject, f"Graphviz dot failed to lay out the graph: {why}") from None
    return _apply_layout(json.loads(result.stdout), nodes, edges, panels)


def _room_for(text: str) -> str:
    """A dot label as wide as viewer.js needs for ``text`` (its padding included)."""
    # "x" is 0.5 em wide in dot's Helvetica metrics: 6 pt at the labels' 12 pt.
    return "x" * math.ceil((len(text) * _CHAR_WIDTH + 2 * _PAD_X) / 6)


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _apply_layout(
    layout: dict[str, Any],
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    panels: list[dict[str, Any]],
) -> dict[str, float]:
    """Copy dot's coordinates (points, y up) into the page data (pixels, y down)."""
    x0, y0, x1, y1 = (float(v) for v in layout["bb"].split(","))
    height = y1

    def point(text: str) -> list[float]:
        x, y = text.split(",")[-2:]
        return [round(float(x) - x0, 1), round(height - float(y), 1)]

    for obj in layout.get("objects", ()):
        name = obj["name"]
        if name.startswith("cluster_"):
            bx0, by0, bx1, by1 = (float(v) for v in obj["bb"].split(","))
            panel = panels[int(name[len("cluster_"):])]
            panel.update(x=round(bx0 - x0, 1), y=round(height - by1, 1),
                         w=round(bx1 - bx0, 1), h=round(by1 - by0, 1))
        elif name.startswith("n") and "pos" in obj:
            i = int(name[1:])
            x, y = point(obj["pos"])
            nodes[i].update(x=x, y=y)
    for obj in layout.get("edges", ()):
        edge = edges[int(obj["id"][1:])]  # dot lists edges in its own order
        parts = obj.get("pos", "").split()
        end = next((point(p) for p in parts if p.startswith("e,")), None)
        pts = [point(p) for p in parts if not p.startswith(("e,", "s,"))]
        edge["p"] = [c for pt in pts for c in pt] + (end or [])
        edge["arrow"] = end is not None
        if "lp" in obj:
            edge["lp"] = point(obj["lp"])
    for panel in panels:  # a panel dot did not place (no members): nothing to draw
        for key in ("x", "y", "w", "h"):
            panel.setdefault(key, 0.0)
    return {"w": round(x1 - x0, 1), "h": round(y1 - y0, 1)}


# ---- facts per profile ----


def _profile_data(
    view: ProfileView, index: dict[str, int], edges: list[dict[str, Any]]
) -> dict[str, Any]:
    analysis = view.analysis
    profile = analysis.profile
    graph = analysis.graph
    inputs = set(graph.inputs)
    stochastic = {item.path: item for item in analysis.stochastic}
    modes = {item.path: item for item in analysis.mode_dependent}
    unknown = unread_calls(analysis)
    opened = frozenset(call.path for call in analysis.opened_calls())
    own = own_random_calls(analysis)
    held: dict[str, list[InnerStochasticCall]] = {}  # a built layer -> its stochastic sublayers
    for inner in analysis.inner_stochastic:
        held.setdefault(inner.holder, []).append(inner)
    findings: dict[str, list[list[str]]] = {}
    model_findings: list[list[str]] = []
    for finding in view.findings:
        row = [finding.severity.value, finding.rule, finding.slug, finding.message]
        if finding.suppressed:
            row.append(f"suppressed: {finding.suppressed}")
        if finding.path is None or (
            finding.path not in graph and finding.path not in graph.submodels
        ):  # about the whole model, or about no box on the page: shown with the model's
            model_findings.append(row)
        else:
            findings.setdefault(finding.path, []).append(row)
    masked_by: dict[str, set[str]] = {}  # producer -> the stochastic calls masking its output
    for call in analysis.stochastic:
        for masked in call.masks:
            masked_by.setdefault(masked.producer, set()).add(call.path)
    # Most calls share a handful of reasons: each is written once, then referred to.
    strings: dict[str, int] = {}

    def text(reason: str) -> int:
        return strings.setdefault(reason, len(strings))

    nodes: dict[str, dict[str, Any]] = {}
    for path in graph.nodes:
        i = index[path]
        facts: dict[str, Any] = {}
        if path in inputs:
            facts = {"role": NodeRole.INPUT.value, "border": Border.SOLID.value}
        else:
            state = analysis.frozen.calls[path]
            item, mode, drawer = stochastic.get(path), modes.get(path), own.get(path)
            role = node_role(analysis, path, item, mode, unknown, drawer)
            facts = {
                "role": role.value,
                "border": border_of(state).value,
                **frozen_fields(state),
                "training_flag": graph.call(path).training,
                "training": {
                    s.value: [r.value, text(explain_received(r, s, profile, path))]
                    for s, r in analysis.training[path].items()
                },
                "status": _weights_text(state),
            }
            sublayers: dict[str, Any] = {}
            if path in opened:  # a built Keras-family layer whose sublayers were read
                sublayers = _sublayer_facts(analysis, path, held.get(path, ()))
                if sublayers:
                    facts["sublayers"] = sublayers
            status = str(facts["status"])
            if role is NodeRole.UNKNOWN and not sublayers:
                status = unknown_line(analysis, path)
            looks = _looks(role, status, item, mode, drawer, sublayers)
            facts["look"] = {s.value: [r, text(line)] for s, (r, line) in looks.items()}
            if drawer is not None:  # draws random numbers in its own code
                facts.update(
                    active={s.value: bool(drawer.active[s]) for s in Scenario},
                    what=f"{_DRAWS} in its own code", rate=None, parameter="",
                    noop=False, kind=drawer.spec.kind.value, wrapped=None, masks=[],
                    sampled=False, consumers=list(dict.fromkeys(graph.successors(path))),
                    masked_inside=False, output_consumers=[],
                    grad=[], internal=[], feeds_output=False,
                    reason=explain_inner(drawer, analysis.training[path]),
                )
            if item is not None:
                spec = item.spec
                transform = training_transform(spec)
                if transform is not None:
                    facts["transform"] = [transform.text, transform.inference]
                facts.update(
                    active={s.value: item.active[s] for s in Scenario},
                    what=mask_label(item),
                    rate=spec.rate, parameter=spec.parameter, noop=spec.is_noop,
                    kind=spec.kind.value, wrapped=spec.wrapped,
                    masks=[m.producer for m in item.masks],
                    # A sampler (tf.random.normal) reads these tensors; it masks none.
                    sampled=any(m.kind == MaskKind.SAMPLED_FROM for m in item.masks),
                    consumers=list(item.consumers),
                    # An RNN's or attention layer's mask acts inside its own call: what
                    # reads its output sees no masked values.
                    masked_inside=item.masked_inside,
                    output_consumers=list(item.output_consumers),
                    grad=list(item.gradient_masked),
                    internal=list(item.internal),
                    feeds_output=item.feeds_output,
                    reason=explain_stochastic(item.received, item.active, spec.kind,
                                              spec.is_noop, profile, path),
                )
            if mode is not None:
                facts.update(
                    bn={s.value: mode.batch_statistics[s] for s in Scenario},
                    reason=explain_batch_statistics(
                        mode.received, mode.batch_statistics, mode.trainable, profile, path
                    ),
                )
        if path in masked_by:
            facts["masked_by"] = sorted(masked_by[path])
        if path in findings:
            facts["findings"] = findings[path]
        nodes[str(i)] = facts
    edge_facts: dict[str, dict[str, Any]] = {}
    paths = {i: p for p, i in index.items()}
    for e, edge in enumerate(edges):
        consumer = paths[edge["h"]]
        item = stochastic.get(consumer)
        if item is None or not any(
            m.producer == paths[edge["t"]] and m.output_index == edge["o"] for m in item.masks
        ):
            continue
        edge_facts[str(e)] = {
            "label": mask_label(item),
            "active": {s.value: item.active[s] for s in Scenario},
            "noop": item.spec.is_noop,
        }
    panels: dict[str, dict[str, Any]] = {}
    for path, sub in graph.submodels.items():
        state = analysis.frozen.submodels[path]
        panels[path] = {
            "border": border_of(state).value,
            "lines": submodel_state_lines(analysis, path),
            "trainable": state.trainable,
            "frozen": state.frozen,
            "frozen_by": state.frozen_by,
            "frozen_by_kind": state.frozen_by_kind,
            "training_flag": sub.training,
            "call": f"{sub.call_index + 1} of {sub.call_count}" if sub.call_count > 1 else None,
        }
        if path in findings:
            panels[path]["findings"] = findings[path]
    choice = analysis.choice
    return {
        "name": profile.name,
        "title": profile.title,
        "source": choice.source,
        "keras_version": choice.keras_version,
        "rule": profile.describe_rule(),
        "nodes": nodes,
        "edges": edge_facts,
        "panels": panels,
        "findings": model_findings,
        "finding_count": len(view.findings),
        "strings": list(strings),
    }


def _looks(
    role: NodeRole,
    status: str,
    item: StochasticCall | None,
    mode: ModeDependentCall | None,
    drawer: InnerStochasticCall | None,
    sublayers: dict[str, Any],
) -> dict[Scenario, tuple[str, str]]:
    """Per scenario, the role a box is drawn as and its status line: what viewer.js shows
    when that scenario is chosen."""
    looks = {}
    for s in Scenario:
        line = status
        drawn = role
        if item is not None:
            strength = stochastic_strength(item)
            when = (when_active(item.active, noop=True) if item.spec.is_noop
                    else in_scenario(item.active[s], s))
            line = f"{strength}: {when}" if strength else when
            drawn = _scenario_role(item.active, s)
        elif mode is not None:
            on = mode.batch_statistics[s]
            line = ("batch statistics in " if on else "moving statistics in ") + s.label
            drawn = NodeRole.BATCH_STATISTICS if on else NodeRole.MOVING_STATISTICS
        if drawer is not None:
            drawn = _scenario_role(drawer.active, s)
        if sublayers:
            line = _sublayer_status(sublayers, s)
        looks[s] = (drawn.value, line)
    return looks


def _scenario_role(active: Mapping[Scenario, bool | None], scenario: Scenario) -> NodeRole:
    """A stochastic call's role in one scenario: acting in it (in fit(), or at
    inference), or off there."""
    if not active[scenario]:
        return NodeRole.STOCHASTIC_OFF
    return NodeRole.STOCHASTIC_FIT if scenario is Scenario.FIT else NodeRole.STOCHASTIC_INFERENCE


def _sublayer_status(sublayers: dict[str, Any], scenario: Scenario) -> str:
    """A built Keras-family call's status line in one scenario, in the words of the
    drawing's sublayer lines (:func:`graphcheck.reporters.drawing.sublayer_lines`)."""
    if sublayers.get("failed"):
        return "randomness not known: its symbolic call failed"
    parts = [_DRAWS] if "own" in sublayers else []
    if sublayers["count"]:
        parts.append(f"{sublayers['count']} stochastic sublayer(s)")
    if not parts:
        return "no stochastic sublayers"
    if sublayers.get("noop") and "own" not in sublayers:
        return "; ".join(parts) + ": rate 0: " + when_active({}, noop=True)
    on = bool(sublayers.get("own", {}).get(scenario.value)) or sublayers[scenario.value] > 0
    return "; ".join(parts) + ": " + in_scenario(on, scenario)


def _weights_text(state: FrozenState) -> str:
    # The PDF's status line; the page also says when a call has no weights at all.
    lines = weight_lines(state)
    return lines[0] if lines else "no weights" if state.has_weights is False else ""


# ---- the page ----


def _asset(name: str) -> str:
    assets = resources.files("graphcheck.reporters").joinpath("html_assets")
    return assets.joinpath(name).read_text("utf-8")


def _page(data: dict[str, Any]) -> str:
    # "</" inside a script element would end it early; "\/" is the same JSON string.
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=True).replace("</", "<\\/")
    title = html.escape(f"graphcheck: {data['file']}")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{title}</title>\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        # No request leaves the page: scripts, styles and data are all inline.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n"
        f"<style>\n{_asset('viewer.css')}</style>\n</head>\n<body>\n"
        f"{_asset('viewer.html')}"
        f"<script type=\"application/json\" id=\"gc-data\">{payload}</script>\n"
        f"<script>\n{_asset('viewer.js')}</script>\n</body>\n</html>\n"
    )

