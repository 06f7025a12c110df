"""The rendered graph: every layer drawn, legend and title present, styles as analysed."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from built_models import DROP_PATH, ENCODER, GET_ITEM, USER_CLASS, keras_family_model
from click.testing import CliRunner
from paths import REAL_MODELS, ROOT

import graphcheck
from graphcheck import cli
from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.errors import EXIT_MISSING_DEPENDENCY, EXIT_UNREADABLE, MissingDependencyError
from graphcheck.reporters import drawing as render
from graphcheck.reporters.drawing import EDGE_STYLES, NODE_STYLES, EdgeRole, NodeRole
from graphcheck.semantics import Scenario

SAMPLES = sorted(
    p for pattern in ("*.h5", "*.keras", "*.json") for p in (ROOT / "samples").glob(pattern)
)
SUBCLASSED = REAL_MODELS / "k3_keras_subclassed_nested_container.keras"  # no layer graph
REAL_WITH_GRAPH = sorted(
    p for p in REAL_MODELS.glob("*") if p.suffix in (".h5", ".keras") and p != SUBCLASSED
)
MODELS = SAMPLES + REAL_WITH_GRAPH
SVG = "{http://www.w3.org/2000/svg}"

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed"
)


@functools.cache
def analysed(path: Path) -> ModelAnalysis:
    return graphcheck.load(path).analyse()


@functools.cache
def rendered(path: Path, output_format: str, collapse: str = "none") -> bytes:
    return render.render_graph(analysed(path), output_format, collapse)


def pdf_text(path: Path, tmp_path: Path) -> str:
    pdf = tmp_path / "graph.pdf"
    pdf.write_bytes(rendered(path, "pdf"))
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


class SvgDrawing:
    """The nodes and edges of a rendered SVG, found by the call path in their id."""

    def __init__(self, data: bytes) -> None:
        self.root = ET.fromstring(data)
        self.groups = list(self.root.iter(f"{SVG}g"))
        self.nodes = {
            g.get("id", "")[3:]: g for g in self.groups
            if "node" in g.get("class", "").split() and g.get("id", "").startswith("gc:")
        }
        self.titles = {g.findtext(f"{SVG}title"): key for key, g in self.nodes.items()}
        self.edges = [  # the legend's sample edges join nodes without a call path
            g for g in self.groups
            if "edge" in g.get("class", "").split()
            and all(end in self.titles for end in (g.findtext(f"{SVG}title") or "").split("->"))
        ]

    def shape(self, path: str) -> ET.Element:
        """The first filled outline of a node (polygon, rounded path or ellipse)."""
        for element in self.nodes[path].iter():
            if element.tag in (f"{SVG}polygon", f"{SVG}path", f"{SVG}ellipse"):
                if element.get("fill", "none") != "none":
                    return element
        raise AssertionError(f"no filled outline for {path}")

    def ends(self, edge: ET.Element) -> tuple[str, str]:
        tail, head = (edge.findtext(f"{SVG}title") or "").split("->")
        return self.titles[tail], self.titles[head]

    def text(self, group: ET.Element) -> str:
        return " ".join(t.text or "" for t in group.iter(f"{SVG}text"))

    def all_text(self) -> str:
        return " ".join(t.text or "" for t in self.root.iter(f"{SVG}text"))


def expected_fill(analysis: ModelAnalysis, path: str) -> str:
    """The fill the analysis calls for, worked out here independently of render.py."""
    stochastic = {s.path: s for s in analysis.stochastic}
    modes = {m.path: m for m in analysis.mode_dependent}
    # A built Keras-family call was read (its sublayers, and a symbolic call for its own
    # random draws), unless that call failed.
    failed = {i.holder for i in analysis.inner_stochastic if i.own_random and i.draws is None}
    read = {c.path for c in analysis.opened_calls()} - failed
    unknown = {c.path for c in analysis.unknown_calls()} - read
    # A call that draws random numbers in its own code, as its symbolic call showed.
    drawing = {i.path: i for i in analysis.inner_stochastic
               if i.own_random and i.path == i.holder and i.draws is not None}
    if path in analysis.graph.inputs:
        role = NodeRole.INPUT
    elif path in stochastic or path in drawing:
        active = stochastic[path].active if path in stochastic else drawing[path].active
        if active[Scenario.PREDICT] or active[Scenario.CALL]:
            role = NodeRole.STOCHASTIC_INFERENCE
        elif active[Scenario.FIT]:
            role = NodeRole.STOCHASTIC_FIT
        else:
            role = NodeRole.STOCHASTIC_OFF
    elif path in modes:
        batch = any(modes[path].batch_statistics.values())
        role = NodeRole.BATCH_STATISTICS if batch else NodeRole.MOVING_STATISTICS
    elif path in unknown:
        role = NodeRole.UNKNOWN
    else:
        will_train = analysis.frozen.calls[path].will_train
        role = {None: NodeRole.WEIGHTLESS, True: NodeRole.TRAINABLE, False: NodeRole.FROZEN}[will_train]
    return NODE_STYLES[role].fillcolor.lower()


@needs_dot
@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.name)
class TestRenderModels:
    @needs_pdftotext
    def test_pdf_names_every_layer(self, model: Path, tmp_path: Path) -> None:
        """The PDF's text holds every layer name, every submodel name, the legend and title."""
        analysis = analysed(model)
        text = pdf_text(model, tmp_path)
        words = set(text.split())
        for call in analysis.layer_calls():
            shown = call.layer.name if call.call_count == 1 else f"{call.layer.name}@{call.call_index}"
            assert shown in words, call.path
        for sub in analysis.graph.submodels.values():
            assert sub.path in words, sub.path
        assert "Legend" in words
        assert model.name in text
        assert analysis.profile.title in text
        if analysis.saved.keras_version:
            assert analysis.saved.keras_version in text

    @needs_pdftotext
    def test_pdf_labels_masked_tensors(self, model: Path, tmp_path: Path) -> None:
        """Each tensor a stochastic layer masks carries its label in the PDF."""
        analysis = analysed(model)
        text = " ".join(pdf_text(model, tmp_path).split())
        for item in analysis.stochastic:
            if item.masks:
                assert render.mask_label(item) in text, item.path

    def test_svg_fill_matches_analysis(self, model: Path) -> None:
        """Every call's box has the fill of the role its analysis gives it."""
        analysis = analysed(model)
        drawing = SvgDrawing(rendered(model, "svg"))
        for path in analysis.graph:
            assert drawing.shape(path).get("fill") == expected_fill(analysis, path), path

    def test_svg_border_marks_declared_frozen(self, model: Path) -> None:
        """Declared-frozen calls have a dashed border, calls declared trainable a solid one."""
        analysis = analysed(model)
        drawing = SvgDrawing(rendered(model, "svg"))
        for call in analysis.layer_calls():
            frozen = analysis.frozen.calls[call.path].frozen
            dashed = drawing.shape(call.path).get("stroke-dasharray")
            if frozen is True:
                assert dashed == "5,2", call.path
            elif frozen is False:
                assert dashed is None, call.path

    def test_svg_masked_edges(self, model: Path) -> None:
        """Each masked tensor is one thick edge from its producer, coloured and labelled."""
        analysis = analysed(model)
        drawing = SvgDrawing(rendered(model, "svg"))
        for item in analysis.stochastic:
            for masked in item.masks:
                found = [e for e in drawing.edges if drawing.ends(e) == (masked.producer, item.path)]
                assert len(found) == 1, (masked.producer, item.path)
                edge = found[0]
                role = next(r for r in EdgeRole if f"gc-edge-{r.value}" in edge.get("class", ""))
                assert role is not EdgeRole.TENSOR
                stroke = next(edge.iter(f"{SVG}path")).get("stroke")
                assert stroke == EDGE_STYLES[role].color.lower()
                assert drawing.text(edge) == render.mask_label(item)

    def test_svg_legend_and_title(self, model: Path) -> None:
        """The drawing has a legend panel and names the file, Keras version and profile."""
        analysis = analysed(model)
        drawing = SvgDrawing(rendered(model, "svg"))
        clusters = [g.findtext(f"{SVG}title") for g in drawing.groups if g.get("class") == "cluster"]
        assert "cluster_graphcheck_legend" in clusters
        text = drawing.all_text()
        assert str(analysis.saved.path) in text
        assert analysis.profile.title in text


@needs_dot
class TestRenderScenarios:
    def test_frozen_dropout_is_fit_active_and_dashed(self) -> None:
        """merged_frozen: the frozen submodels' dropouts are orange, dashed, and fire in fit()."""
        drawing = SvgDrawing(rendered(ROOT / "samples/merged_frozen.keras", "svg"))
        for path in ("left/left_dropout", "right/right_dropout"):
            shape = drawing.shape(path)
            assert shape.get("fill") == NODE_STYLES[NodeRole.STOCHASTIC_FIT].fillcolor.lower()
            assert shape.get("stroke-dasharray") == "5,2"
            assert "fires in fit() though frozen" in drawing.text(drawing.nodes[path])

    def test_inverted_dropout_masks_dense_1(self) -> None:
        """inverted_dropout: the edge dense_1 -> dropout reads 'masked 50% in fit()'."""
        drawing = SvgDrawing(rendered(ROOT / "samples/inverted_dropout.keras", "svg"))
        labelled = {drawing.ends(e): drawing.text(e) for e in drawing.edges if drawing.text(e)}
        assert labelled == {("dense_1", "dropout"): "masked 50% in fit()"}

    def test_collapse_frozen_draws_base_as_one_box(self) -> None:
        """--collapse frozen turns the frozen Inception base into one box; the head stays."""
        model = ROOT / "samples/transfer_inception.h5"
        drawing = SvgDrawing(rendered(model, "svg", "frozen"))
        assert "inception_v3_mixed7" in drawing.nodes
        assert "inception_v3_mixed7/conv2d" not in drawing.nodes
        assert {"dense_1024", "dropout", "prediction"} <= set(drawing.nodes)

    def test_collapsed_box_marks_stochastic_inside(self) -> None:
        """A collapsed submodel holding a fit()-active dropout gets that edge colour as border."""
        drawing = SvgDrawing(rendered(ROOT / "samples/merged_frozen.keras", "svg", "all"))
        shape = drawing.shape("left")
        assert shape.get("stroke") == EDGE_STYLES[EdgeRole.MASKED_FIT].color.lower()
        assert "left_dropout: in fit()" in drawing.text(drawing.nodes["left"])

    def test_shared_submodel_drawn_per_call(self) -> None:
        """A submodel called twice is two panels, tower@0-style paths."""
        model = REAL_MODELS / "k2_pnnl_siamese_shared_seq_dropout.h5"
        if not model.exists():
            pytest.skip(f"{model} is not present")
        drawing = SvgDrawing(rendered(model, "svg"))
        clusters = {g.findtext(f"{SVG}title") for g in drawing.groups if g.get("class") == "cluster"}
        assert {"cluster_sequential@0", "cluster_sequential@1"} <= clusters
        assert {"sequential@0/dropout", "sequential@1/dropout"} <= set(drawing.nodes)


class TestRenderApi:
    def test_dot_source_needs_no_graphviz_binary(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """The .dot format is the Graphviz source, made without running dot."""
        monkeypatch.setenv("PATH", str(tmp_path))
        source = render.render_graph(analysed(ROOT / "samples/inverted_dropout.keras"), "dot")
        assert source.startswith(b"digraph")

    def test_missing_dot_raises(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """Without dot on PATH, rendering a PDF raises MissingDependencyError with exit code 4."""
        monkeypatch.setenv("PATH", str(tmp_path))
        with pytest.raises(MissingDependencyError) as info:
            render.render_graph(analysed(ROOT / "samples/inverted_dropout.keras"), "pdf")
        assert info.value.exit_code == EXIT_MISSING_DEPENDENCY
        assert "apt-get install graphviz" in str(info.value)

    def test_bad_arguments(self) -> None:
        """Unknown formats, collapse modes and directions are refused."""
        analysis = analysed(ROOT / "samples/inverted_dropout.keras")
        for kwargs in ({"output_format": "gif"}, {"output_format": "dot", "collapse": "some"},
                       {"output_format": "dot", "rankdir": "BT"}):
            with pytest.raises(ValueError):
                render.render_graph(analysis, **kwargs)

    def test_cli_choices_match_renderer(self) -> None:
        """cli.py's literal choices are the renderer's."""
        assert cli.RENDER_COLLAPSE == render.COLLAPSE_MODES
        assert cli.RENDER_RANKDIRS == render.RANKDIRS
        # .html is the interactive page (graphcheck.reporters.html_page), not a Graphviz format.
        assert tuple(s.lstrip(".") for s in cli.RENDER_SUFFIXES) == (*render.FORMATS, "html")


class TestRenderCli:
    @needs_dot
    @pytest.mark.parametrize("suffix", [".pdf", ".svg", ".png", ".dot"])
    def test_render_writes_format_from_suffix(self, suffix: str, tmp_path: Path) -> None:
        """`graphcheck render MODEL -o FILE` writes FILE in the format its suffix names."""
        out = tmp_path / f"graph{suffix}"
        result = CliRunner().invoke(
            cli.main, ["render", str(ROOT / "samples/merged_frozen.keras"), "-o", str(out),
                       "--rankdir", "LR", "--collapse", "frozen"]
        )
        assert result.exit_code == 0, result.output
        magic = {".pdf": b"%PDF", ".svg": b"<?xml", ".png": b"\x89PNG", ".dot": b"digraph"}[suffix]
        assert out.read_bytes().startswith(magic)

    @needs_dot
    def test_check_render_option(self, tmp_path: Path) -> None:
        """`check MODEL --render FILE` prints the report and writes the drawing."""
        out = tmp_path / "graph.svg"
        result = CliRunner().invoke(
            cli.main, ["check", str(ROOT / "samples/inverted_dropout.keras"), "--render", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert "dropout" in result.stdout
        assert out.read_bytes().startswith(b"<?xml")

    def test_check_render_takes_one_model(self, tmp_path: Path) -> None:
        """--render with two models is a usage error."""
        model = str(ROOT / "samples/inverted_dropout.keras")
        result = CliRunner().invoke(cli.main, ["check", model, model, "--render", str(tmp_path / "g.pdf")])
        assert result.exit_code == 2

    def test_bad_suffix_is_usage_error(self, tmp_path: Path) -> None:
        """An output suffix other than .pdf/.svg/.png/.dot is a usage error."""
        result = CliRunner().invoke(
            cli.main, ["render", str(ROOT / "samples/inverted_dropout.keras"), "-o", str(tmp_path / "g.gif")]
        )
        assert result.exit_code == 2
        assert not list(tmp_path.iterdir())

    def test_missing_dot_exits_4(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """Without dot: exit 4, one stderr line saying how to install it, no file left behind."""
        empty = tmp_path / "empty-path"
        empty.mkdir()
        outdir = tmp_path / "out"
        outdir.mkdir()
        monkeypatch.setenv("PATH", str(empty))
        result = CliRunner().invoke(
            cli.main, ["render", str(ROOT / "samples/merged_frozen.keras"), "-o", str(outdir / "g.pdf")]
        )
        assert result.exit_code == EXIT_MISSING_DEPENDENCY
        lines = result.stderr.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("graphcheck: error: ")
        assert "apt-get install graphviz" in lines[0]
        assert not list(outdir.iterdir())

    def test_subclassed_model_has_no_graph(self, tmp_path: Path) -> None:
        """The k3 subclassed model has no layer graph: exit 3, one clear line, no file."""
        model = SUBCLASSED
        if not model.exists():
            pytest.skip(f"{model} is not present")
        result = CliRunner().invoke(cli.main, ["render", str(model), "-o", str(tmp_path / "g.pdf")])
        assert result.exit_code == EXIT_UNREADABLE
        assert len(result.stderr.splitlines()) == 1
        assert "subclassed" in result.stderr
        assert not list(tmp_path.iterdir())


def page_size(data: bytes) -> tuple[float, float]:
    size = render._pdf_page_size(data)
    assert size is not None
    return size


@needs_dot
class TestBigDrawings:
    """A drawing too big for a PDF viewer is made to fit, and stderr says how to undo it."""

    def invoke(self, tmp_path: Path, model: str, *args: str) -> tuple[Any, bytes]:
        out = tmp_path / "graph.pdf"
        result = CliRunner().invoke(cli.main, ["render", str(ROOT / "samples" / model), "-o", str(out), *args])
        # (an absolute `model` path replaces the samples folder)
        assert result.exit_code == 0, result.output
        return result, out.read_bytes()

    def test_large_frozen_base_is_one_box_by_default(self, tmp_path: Path) -> None:
        """The 228-call frozen Inception base is collapsed (169 in tall before); --collapse none draws it all."""
        result, data = self.invoke(tmp_path, "transfer_inception.h5")
        assert "drew frozen submodel inception_v3_mixed7 (228 calls) as one box" in result.stderr
        assert "--collapse none draws every call" in result.stderr
        full, full_data = self.invoke(tmp_path, "transfer_inception.h5", "--collapse", "none")
        assert full.stderr == ""
        assert max(page_size(data)) * 5 < max(page_size(full_data))

    def test_small_frozen_submodels_stay_drawn(self, tmp_path: Path) -> None:
        """Frozen submodels of a few calls are not collapsed, and nothing is said."""
        result, _ = self.invoke(tmp_path, "merged_frozen.keras")
        assert result.stderr == ""
        model = ROOT / "samples/merged_frozen.keras"
        assert render.render_graph(analysed(model), "dot", "auto") == rendered(model, "dot", "none")

    @needs_pdftotext
    def test_tall_flat_drawing_is_cut_into_columns(self, tmp_path: Path) -> None:
        """A 400-layer chain (410 in tall, past the 200 in limit) is drawn in columns that fit."""
        layers = [{"class_name": "InputLayer", "config": {"batch_shape": [None, 8], "name": "x"}}]
        layers += [{"class_name": "Dropout", "config": {"name": f"drop_{i}", "rate": 0.2}} if i % 4 == 3
                   else {"class_name": "Dense", "config": {"name": f"dense_{i}", "units": 8}}
                   for i in range(400)]
        model = tmp_path / "chain.json"
        model.write_text(json.dumps({"class_name": "Sequential", "keras_version": "3.15.1",
                                     "config": {"name": "chain", "layers": layers}}))
        result, data = self.invoke(tmp_path, str(model))
        assert "larger than the 200 in a PDF page can be; drew it in 3 columns side by side" in result.stderr
        assert "--no-fit draws one column" in result.stderr
        assert max(page_size(data)) <= render.PDF_MAX_POINTS
        _, unfitted = self.invoke(tmp_path, str(model), "--no-fit")
        assert max(page_size(unfitted)) > render.PDF_MAX_POINTS
        text = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout
        assert b"to column 2: dense_" in text and b"from column 1: " in text

    @needs_pdftotext
    def test_columns_keep_each_submodel_panel_whole(self, tmp_path: Path) -> None:
        """A 574-layer model of nested blocks (678 in tall) goes into columns; no panel is cut."""
        spec = importlib.util.spec_from_file_location("synthetic", ROOT / "benchmarks" / "synthetic.py")
        synthetic = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(synthetic)
        model, _ = synthetic.write_model(synthetic.synthetic_model(600), tmp_path, "blocks")
        result, data = self.invoke(tmp_path, str(model))
        assert "columns side by side" in result.stderr
        assert max(page_size(data)) <= render.PDF_MAX_POINTS
        analysis = graphcheck.load(model).analyse("3.15.1")
        graphviz = pytest.importorskip("graphviz")
        drawing = render._Drawing(analysis, "auto", graphviz.Digraph(), "TB", columns=5)
        by_panel: dict[str, set[int]] = {}
        for path in analysis.graph:
            for site in analysis.graph.call(path).submodels:
                by_panel.setdefault(site, set()).add(drawing.column[path])
        assert len(set().union(*by_panel.values())) == 5
        assert all(len(columns) == 1 for columns in by_panel.values())

    def test_columns_count_a_collapsed_submodel_as_one_box(self) -> None:
        """Columns are balanced by boxes drawn: a collapsed 228-call base is one box, not 228."""
        graphviz = pytest.importorskip("graphviz")
        analysis = graphcheck.load(ROOT / "samples" / "transfer_inception.h5").analyse("3.15.1")
        drawing = render._Drawing(analysis, "frozen", graphviz.Digraph(), "TB", columns=2)
        boxes = {drawing.representative(path) for path in analysis.graph}
        per_column = [sum(1 for b in boxes if drawing.column[b] == c) for c in (0, 1)]
        assert sum(per_column) == len(boxes) < 10  # the base is one box
        assert abs(per_column[0] - per_column[1]) <= 1

    def test_drawing_with_panels_is_scaled_down(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A drawing that columns cannot fit (one frozen pair of panels) is scaled to fit instead."""
        natural = page_size(rendered(ROOT / "samples/merged_frozen.keras", "pdf"))
        limit = max(natural) * 0.5
        monkeypatch.setattr(render, "PDF_MAX_POINTS", limit)
        result, data = self.invoke(tmp_path, "merged_frozen.keras")
        assert "scaled to 50% to fit one page" in result.stderr
        assert "--no-fit keeps full size" in result.stderr
        assert max(page_size(data)) <= limit


@pytest.mark.keras
def test_built_keras_hub_layers_say_what_their_sublayers_do() -> None:
    """--rebuild: the drawing's title names the rebuild, a TransformerEncoder box counts its
    stochastic sublayers as the text report lists them, and no such box says "unknown class"."""
    pytest.importorskip("keras_hub")
    analysis = graphcheck.load(
        ROOT / "samples/rebuild/bert_frozen_classifier.keras", rebuild=True
    ).analyse()
    source = render.render_graph(analysis, "dot").decode("utf-8")
    assert f"graph {analysis.saved.source}" in source
    for holder in {item.holder for item in analysis.inner_stochastic}:
        count = sum(1 for item in analysis.inner_stochastic if item.holder == holder)
        (node,) = [line for line in source.splitlines() if f'tooltip="{holder}"' in line]
        assert f"{count} stochastic sublayer(s): active in fit() only" in node
        assert "unknown class" not in node


def dot_node(source: str, path: str) -> tuple[dict[str, str], list[str]]:
    """A node of DOT source, by its call path: its attributes and its label's lines."""
    (line,) = [line for line in source.splitlines() if f"id=\"gc:{path}\"" in line]
    label = re.search(r"label=<(.*)> class=", line)
    assert label is not None, line
    rest = line[label.end() - len(" class="):]
    attrs = dict(re.findall(r'(\w+)=("[^"]*"|[^\s\]]+)', rest))
    lines = [re.sub(r"<[^>]+>", "", part) for part in label.group(1).split("<BR/>")]
    return {k: v.strip('"') for k, v in attrs.items()}, lines


@functools.cache
def built_keras_family() -> ModelAnalysis:
    return graphcheck.load(keras_family_model()).analyse()


@pytest.mark.keras
def test_built_keras_family_calls_are_drawn_as_what_graphcheck_read() -> None:
    """A live model: KerasHub's TransformerEncoder (its sublayers read off the object) is a
    frozen layer's grey box that counts its stochastic sublayers as the text report lists
    them; DropPath, which draws in its own code, is a stochastic octagon saying when; x[:, 0]'s GetItem
    operation is a plain box without weights; only the user's own class stays yellow."""
    pytest.importorskip("keras_hub")
    analysis = built_keras_family()
    source = render.render_graph(analysis, "dot").decode("utf-8")
    inner = {item.holder: [] for item in analysis.inner_stochastic}
    for item in analysis.inner_stochastic:
        inner[item.holder].append(item)
    assert {i.path for i in inner[ENCODER]} == {
        f"{ENCODER}/self_attention_layer", f"{ENCODER}/self_attention_dropout",
        f"{ENCODER}/feedforward_dropout",
    }
    frozen = NODE_STYLES[NodeRole.FROZEN]
    attrs, lines = dot_node(source, ENCODER)
    assert analysis.frozen.calls[ENCODER].will_train is False
    assert attrs["class"] == "gc-frozen gc-border-dashed"
    assert (attrs["fillcolor"], attrs["color"]) == (frozen.fillcolor, frozen.color)
    assert "diagonals" not in attrs["style"]
    assert lines[1:] == [
        "TransformerEncoder", "(None, 6, 8)", "3 stochastic sublayer(s): active in fit() only",
        "sublayers fire in fit() though frozen", "weights frozen",
    ]
    (own,) = inner[DROP_PATH]
    assert own.own_random and own.path == DROP_PATH
    assert {s: own.active[s] for s in Scenario} == {
        Scenario.FIT: True, Scenario.PREDICT: False, Scenario.CALL: False}
    # It draws in its own code, so it is drawn as a stochastic call, as a Dropout is.
    attrs, lines = dot_node(source, DROP_PATH)
    assert attrs["class"] == "gc-stochastic-fit gc-border-solid"
    assert attrs["shape"] == NODE_STYLES[NodeRole.STOCHASTIC_FIT].shape == "octagon"
    assert lines[1:] == [
        "DropPath", "(None, 6, 8)", "draws random numbers: active in fit() only"
    ]
    assert GET_ITEM not in inner
    attrs, lines = dot_node(source, GET_ITEM)
    assert analysis.graph.call(GET_ITEM).layer.class_name == "GetItem"
    assert attrs["class"] == "gc-weightless gc-border-solid"
    assert attrs["fillcolor"] == NODE_STYLES[NodeRole.WEIGHTLESS].fillcolor
    assert lines[1:] == ["GetItem", "(None, 8)"]
    attrs, lines = dot_node(source, USER_CLASS)
    assert attrs["class"] == "gc-unknown gc-border-solid" and "diagonals" in attrs["style"]
    assert "unknown class" in lines
    if shutil.which("dot") is not None:  # the drawn SVG fills them so
        svg = SvgDrawing(render.render_graph(analysis, "svg"))
        for path in (ENCODER, DROP_PATH, GET_ITEM, USER_CLASS, "head"):
            assert svg.shape(path).get("fill", "").lower() == expected_fill(analysis, path)


@pytest.mark.keras
def test_a_built_layer_whose_symbolic_call_failed_stays_unknown() -> None:
    """KerasHub 0.32's DINOv2 encoder holds a DropPath that cannot run with an unknown batch
    size: its holder's symbolic call fails, so whether it draws is not known, and its box
    stays the yellow unknown one, saying why, instead of counting sublayers. The
    embeddings' rate-0 Dropout is read and never acts: a trainable layer's box says so."""
    keras_hub = pytest.importorskip("keras_hub")
    backbone = keras_hub.models.DINOV2Backbone(
        patch_size=4, num_layers=1, hidden_dim=8, num_heads=2, intermediate_dim=16,
        drop_path_rate=0.3, image_shape=(8, 8, 3), position_embedding_shape=(8, 8, 3),
    )
    analysis = graphcheck.load(backbone).analyse()
    failed = {i.holder for i in analysis.inner_stochastic if i.own_random and i.draws is None}
    assert failed and failed <= {c.path for c in analysis.opened_calls()}
    source = render.render_graph(analysis, "dot").decode("utf-8")
    for holder in failed:
        attrs, lines = dot_node(source, holder)
        assert attrs["class"].startswith("gc-unknown ") and "diagonals" in attrs["style"]
        assert "randomness not known: its symbolic call failed" in lines
        assert not [line for line in lines if "sublayer" in line]
    # Its embeddings hold a Dropout of rate 0: read, drawn as a layer, never acting.
    quiet = {i.holder for i in analysis.inner_stochastic if i.spec.is_noop} - failed
    assert quiet
    for holder in quiet:
        count = sum(1 for i in analysis.inner_stochastic if i.holder == holder)
        attrs, lines = dot_node(source, holder)
        assert attrs["class"].startswith("gc-trainable ")
        assert f"{count} stochastic sublayer(s): rate 0: never acts" in lines


def _hand_built(top: Any) -> ModelAnalysis:
    from helpers import saved

    from graphcheck.analyses.model_analysis import analyse_graph
    from graphcheck.graph import build_graph
    from graphcheck.profile_choice import ProfileChoice
    from graphcheck.semantics import profile_for_version

    profile = profile_for_version("2.21.0")
    return analyse_graph(build_graph(saved(top, "2.8.0", "keras2", "h5")),
                         ProfileChoice(profile, "2.21.0", "test"))


def _panel_lines(source: str, path: str) -> list[str]:
    (line,) = [line for line in source.splitlines()
               if "label=<" in line and f"<B>{path}</B>" in line and "FONT POINT-SIZE=\"12\"" in line]
    label = re.search(r"label=<(.*)> labeljust", line)
    assert label is not None, line
    return [re.sub(r"<[^>]+>", "", part) for part in label.group(1).split("<BR/>")]


def test_a_panel_of_unknown_declared_state_says_what_its_boxes_say() -> None:
    """A submodel whose trainable flag is not recorded (a Keras 2 Sequential) holds layers
    whose weights train once loaded: its panel says so, as its boxes do, not "frozen
    state unknown"; a Lambda, Keras's own class without weights, says nothing of
    weights, only that its stored code is not known."""
    from helpers import call, input_layer, layer, model, ref

    inner = model("tower", [input_layer("t_in"), layer("dense", "Dense", call(ref("t_in"))),
                            layer("drop", "Dropout", call(ref("dense")), rate=0.2)],
                  ["t_in"], [ref("drop")], trainable=None)
    top = model("top", [input_layer("x"),
                        layer("tower", "Sequential", call(ref("x")), trainable=None,
                              submodel=inner),
                        layer("twice", "Lambda", call(ref("tower")))], ["x"], [ref("twice")])
    analysis = _hand_built(top)
    source = render.render_graph(analysis, "dot").decode("utf-8")
    assert analysis.frozen.submodels["tower"].frozen is None
    assert analysis.frozen.calls["tower/dense"].will_train is True
    assert dot_node(source, "tower/dense")[1][-1] == "weights train"
    assert _panel_lines(source, "tower")[1:] == [
        "Sequential", "declared trainable not recorded; its weights train after loading",
        "call site: no training= argument",
    ]
    assert "frozen state unknown" not in source
    attrs, lines = dot_node(source, "twice")
    assert attrs["class"] == "gc-unknown gc-border-solid"
    assert lines[1:] == ["Lambda", "stored code: stochastic? not known"]


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.name)
def test_no_drawing_contradicts_itself(model: Path) -> None:
    """On the samples and the real models: no panel says "frozen state unknown", no Lambda
    box speaks of weights, and a dotted panel (flag not recorded) says what the weights
    of its boxes do as they do."""
    analysis = analysed(model)
    source = rendered(model, "dot").decode("utf-8")
    assert "frozen state unknown" not in source
    for call in analysis.layer_calls():
        if call.layer.class_name == "Lambda":
            assert not [line for line in dot_node(source, call.path)[1] if "weights" in line]
    for path, state in analysis.frozen.submodels.items():
        if state.frozen is not None:
            continue
        inside = [p for p in analysis.graph if path in analysis.graph.call(p).submodels]
        boxes = {line for p in inside for line in dot_node(source, p)[1][1:]}
        panel = " ".join(_panel_lines(source, path))
        assert ("weights train" in boxes) == ("train after loading" in panel), path


@pytest.mark.keras
def test_a_collapsed_submodel_counts_a_call_drawing_its_own_random_numbers() -> None:
    """A DropPath inside a frozen submodel drawn as one box is listed there as a stochastic
    call, and the box's thick border says it acts in fit()."""
    pytest.importorskip("keras_hub")
    import keras
    from keras_hub.src.models.mit.mit_layers import DropPath

    inner_in = keras.Input((4,), name="b_in")
    base = keras.Model(inner_in, DropPath(0.3, name="drop_path")(
        keras.layers.Dense(4, name="dense")(inner_in)), name="base")
    base.trainable = False
    inputs = keras.Input((4,), name="x")
    analysis = graphcheck.load(keras.Model(inputs, base(inputs), name="top")).analyse()
    assert "base/drop_path" in render.own_random_calls(analysis)
    source = render.render_graph(analysis, "dot", collapse="frozen").decode("utf-8")
    attrs, lines = dot_node(source, "base")
    assert "drop_path: in fit()" in lines
    assert "no stochastic layers inside" not in lines
    assert attrs["color"] == EDGE_STYLES[EdgeRole.MASKED_FIT].color
