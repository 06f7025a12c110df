"""The HTML report as a file: self-contained, written atomically, and saying what the analyses say.

What it does in a browser is tested in tests/test_render_html_browser.py.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from built_models import DROP_PATH, ENCODER, GET_ITEM, USER_CLASS, keras_family_model
from click.testing import CliRunner
from paths import REAL_MODELS

import graphcheck
from graphcheck import cli
from graphcheck.analyses.model_analysis import ModelAnalysis, analyse_graph
from graphcheck.analyses.training_transform import training_transform
from graphcheck.errors import EXIT_MISSING_DEPENDENCY, EXIT_UNREADABLE, MissingDependencyError
from graphcheck.profile_choice import ProfileChoice
from graphcheck.reporters.reasons import explain_received
from graphcheck.reporters.drawing import mask_label, node_role
from graphcheck.reporters.html_page import ProfileView, render_html
from graphcheck.rules.runner import run_rules
from graphcheck.semantics import PROFILES, Scenario

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted(p for pattern in ("*.h5", "*.keras") for p in (ROOT / "samples").glob(pattern))
REAL_WITH_GRAPH = sorted(
    p for p in REAL_MODELS.glob("*") if p.suffix in (".h5", ".keras") and "subclassed" not in p.name
)

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")


@functools.cache
def views(path: Path) -> tuple[ProfileView, ...]:
    """The model under its chosen profile, then every other profile, with findings."""
    first = graphcheck.load(path).analyse()
    others = [
        analyse_graph(first.graph, ProfileChoice(p, None, "test"))
        for p in PROFILES.values() if p != first.profile
    ]
    return tuple(ProfileView(a, run_rules(a)) for a in (first, *others))


@functools.cache
def page(path: Path) -> str:
    return render_html(views(path)).decode("utf-8")


def page_data(text: str) -> dict:
    match = re.search(r'<script type="application/json" id="gc-data">(.*?)</script>', text, re.S)
    assert match is not None
    return json.loads(match.group(1))


@needs_dot
@pytest.mark.parametrize("path", SAMPLES + REAL_WITH_GRAPH, ids=lambda p: p.name)
def test_page_is_self_contained(path: Path) -> None:
    text = page(path)
    # Nothing is fetched: no external script, style, image, font or link, and the
    # content security policy forbids any request the page might still try.
    assert "default-src 'none'" in text
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", text, re.I)
    assert "http://" not in text and "https://" not in text
    assert "@import" not in text
    assert not re.search(r"url\((?!#)", text)
    assert text.count("<script") == 2  # the data and the viewer


@needs_dot
@pytest.mark.parametrize("path", SAMPLES + REAL_WITH_GRAPH, ids=lambda p: p.name)
def test_page_data_says_what_the_analyses_say(path: Path) -> None:
    data = page_data(page(path))
    analyses = [v.analysis for v in views(path)]
    graph = analyses[0].graph
    ids = [n["id"] for n in data["nodes"]]
    assert ids[: graph.number_of_nodes()] == list(graph.nodes)
    assert len(ids) == graph.number_of_nodes() + len(graph.outputs)
    assert [p["name"] for p in data["profiles"]] == [a.profile.name for a in analyses]
    assert sorted(p["name"] for p in data["profiles"]) == sorted(PROFILES)
    assert {p["id"] for p in data["panels"]} == set(graph.submodels)
    for analysis, profile, view in zip(analyses, data["profiles"], views(path), strict=True):
        stochastic = {s.path: s for s in analysis.stochastic}
        modes = {m.path: m for m in analysis.mode_dependent}
        for index, path_ in enumerate(graph.nodes):
            facts = profile["nodes"][str(index)]
            assert facts["role"] == node_role(analysis, path_).value
            if path_ in graph.inputs:
                continue
            state = analysis.frozen.calls[path_]
            assert (facts["frozen"], facts["frozen_by"], facts["frozen_by_kind"]) == (
                state.frozen, state.frozen_by, state.frozen_by_kind
            )
            assert facts["will_train"] == state.will_train
            for scenario in Scenario:
                received = analysis.training[path_][scenario]
                value, reason = facts["training"][scenario.value]
                assert value == received.value
                assert profile["strings"][reason] == explain_received(
                    received, scenario, analysis.profile, path_
                )
            if path_ in stochastic:
                item = stochastic[path_]
                assert facts["active"] == {s.value: item.active[s] for s in Scenario}
                assert facts["masks"] == [m.producer for m in item.masks]
                assert facts["consumers"] == list(item.consumers)
                assert facts["masked_inside"] is item.masked_inside
                assert facts["output_consumers"] == list(item.output_consumers)
                assert facts["what"] == mask_label(item)
                transform = training_transform(item.spec)
                assert facts.get("transform") == (
                    None if transform is None else [transform.text, transform.inference]
                )
            else:
                assert "active" not in facts
            if path_ in modes:
                assert facts["bn"] == {s.value: modes[path_].batch_statistics[s] for s in Scenario}
        on_nodes = sum(len(f.get("findings", ())) for f in profile["nodes"].values())
        on_panels = sum(len(p.get("findings", ())) for p in profile["panels"].values())
        assert on_nodes + on_panels + len(profile["findings"]) == len(view.findings)
        masked = {
            (m.producer, s.path, m.output_index) for s in analysis.stochastic for m in s.masks
        }
        marked = {
            (ids[data["edges"][int(e)]["t"]], ids[data["edges"][int(e)]["h"]], data["edges"][int(e)]["o"])
            for e in profile["edges"]
        }
        assert marked == masked


@needs_dot
def test_layout_places_every_node_inside_its_panel() -> None:
    data = page_data(page(ROOT / "samples" / "merged_frozen.keras"))
    panels = {p["id"]: p for p in data["panels"]}
    assert panels
    for node in data["nodes"]:
        assert node["w"] > 0 and node["h"] > 0
        assert 0 <= node["x"] <= data["size"]["w"] and 0 <= node["y"] <= data["size"]["h"]
        for sub in node["sub"]:
            p = panels[sub]
            assert p["x"] <= node["x"] - node["w"] / 2 and node["x"] + node["w"] / 2 <= p["x"] + p["w"]
            assert p["y"] <= node["y"] - node["h"] / 2 and node["y"] + node["h"] / 2 <= p["y"] + p["h"]
    for edge in data["edges"]:
        assert len(edge["p"]) >= 8  # a start point and at least one cubic Bezier segment


def test_views_of_different_graphs_are_refused() -> None:
    one = graphcheck.load(ROOT / "samples" / "merged_frozen.keras").analyse()
    other = graphcheck.load(ROOT / "samples" / "merged_frozen.keras").analyse()
    with pytest.raises(ValueError, match="same graph"):
        render_html([ProfileView(one), ProfileView(other)])
    with pytest.raises(ValueError):
        render_html([])


def test_missing_dot_is_a_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    analysis: ModelAnalysis = graphcheck.load(ROOT / "samples" / "merged_frozen.keras").analyse()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match="dot"):
        render_html([ProfileView(analysis)])


@needs_dot
def test_cli_render_html_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        cli.main, ["render", str(ROOT / "samples" / "merged_frozen.keras"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = page_data(out.read_text("utf-8"))
    assert data["file"].endswith("merged_frozen.keras")
    assert len(data["profiles"]) == len(PROFILES)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left


@needs_dot
@pytest.mark.parametrize("version", ["2.21.0", "3.15.1", "3.16.0"])
def test_keras_version_picks_the_profile_the_page_opens_with(version: str, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    model = str(ROOT / "samples" / "merged_frozen.keras")
    result = CliRunner().invoke(cli.main, ["render", model, "-o", str(out), "--keras-version", version])
    assert result.exit_code == 0, result.output
    profiles = page_data(out.read_text("utf-8"))["profiles"]
    assert profiles[0]["name"] == graphcheck.load(model).analyse(version).profile.name
    assert profiles[0]["source"] == f"--keras-version {version}"
    assert sorted(p["name"] for p in profiles) == sorted(PROFILES)


@needs_dot
def test_check_render_html_keeps_the_json_report_unchanged(tmp_path: Path) -> None:
    model = str(ROOT / "samples" / "merged_frozen.keras")
    out = tmp_path / "report.html"
    plain = CliRunner().invoke(cli.main, ["check", model, "--format", "json"])
    both = CliRunner().invoke(cli.main, ["check", model, "--format", "json", "--render", str(out)])
    assert both.exit_code == plain.exit_code
    assert both.stdout == plain.stdout
    assert out.read_text("utf-8").startswith("<!DOCTYPE html>")
    # The JSON report names no file it cannot open: nothing in it points at the page.
    assert "report.html" not in both.stdout


@needs_dot
def test_check_render_html_shows_the_findings_as_configured(tmp_path: Path) -> None:
    model = str(ROOT / "samples" / "merged_frozen.keras")
    rules_of = lambda out: {  # noqa: E731
        row[1]
        for profile in page_data(out.read_text("utf-8"))["profiles"]
        for facts in (*profile["nodes"].values(), *profile["panels"].values(), {"findings": profile["findings"]})
        for row in facts.get("findings", ())
    }
    everything, ignored = tmp_path / "all.html", tmp_path / "ignored.html"
    assert CliRunner().invoke(cli.main, ["check", model, "--render", str(everything)]).exit_code == 0
    found = rules_of(everything)
    assert found
    rule = sorted(found)[0]
    result = CliRunner().invoke(cli.main, ["check", model, "--ignore", rule, "--render", str(ignored)])
    assert result.exit_code == 0, result.output
    assert rules_of(ignored) == found - {rule}


@needs_dot
@pytest.mark.parametrize(("collapse", "expected"), [
    ("auto", []), ("none", []), ("frozen", ["inception_v3_mixed7"]), ("all", ["inception_v3_mixed7"]),
])
def test_collapse_picks_the_submodels_the_page_opens_collapsed(
    collapse: str, expected: list[str], tmp_path: Path
) -> None:
    """--collapse frozen/all opens the page with those boxes; auto opens it whole."""
    out = tmp_path / "report.html"
    model = str(ROOT / "samples" / "transfer_inception.h5")
    result = CliRunner().invoke(cli.main, ["render", model, "-o", str(out), "--collapse", collapse])
    assert result.exit_code == 0, result.output
    assert page_data(out.read_text("utf-8"))["collapsed"] == expected


def test_rankdir_lr_for_an_html_page_is_a_usage_error(tmp_path: Path) -> None:
    """The page is laid out top to bottom: --rankdir LR is refused, not ignored."""
    out = tmp_path / "report.html"
    model = str(ROOT / "samples" / "merged_frozen.keras")
    for args in (["render", model, "-o", str(out)], ["check", model, "--render", str(out)]):
        result = CliRunner().invoke(cli.main, [*args, "--rankdir", "LR"])
        assert result.exit_code == 2 and "--rankdir" in result.stderr
        assert not out.exists()


def test_collapsing_an_unknown_submodel_is_refused() -> None:
    analysis = graphcheck.load(ROOT / "samples" / "merged_frozen.keras").analyse("3.15.1")
    with pytest.raises(ValueError, match="no submodel call nowhere"):
        render_html([ProfileView(analysis)], collapsed=["nowhere"])


def test_cli_render_html_without_dot_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        cli.main, ["render", str(ROOT / "samples" / "merged_frozen.keras"), "-o", str(out)]
    )
    assert result.exit_code == EXIT_MISSING_DEPENDENCY
    assert result.stderr.count("\n") == 1 and "dot" in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_render_html_when_dot_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Error: out of memory' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    out = tmp_path / "report.html"
    model = str(ROOT / "samples" / "merged_frozen.keras")
    result = CliRunner().invoke(cli.main, ["render", model, "-o", str(out)])
    assert result.exit_code == EXIT_UNREADABLE
    assert result.stderr == f"graphcheck: error: {model}: Graphviz dot failed to lay out the graph: " \
                            "Error: out of memory\n"
    assert not out.exists()


def test_cli_render_html_of_an_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not a model")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli.main, ["render", str(bad), "-o", str(out)])
    assert result.exit_code == EXIT_UNREADABLE
    assert result.stderr.count("\n") == 1 and "bad.h5" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("ci", ["", "true"])
def test_browser_tests_skip_locally_but_fail_in_ci_without_chromium(ci: str, tmp_path: Path) -> None:
    """Without Chromium on PATH the browser tests skip, unless CI is set: then they fail."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bin_dir), "CI": ci, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "search",
         str(ROOT / "tests" / "test_render_html_browser.py")],
        env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    if ci:
        assert result.returncode == 1, result.stdout
        assert "CI must run the browser tests" in result.stdout
    else:
        assert result.returncode == 0, result.stdout
        assert "1 skipped" in result.stdout and "needs chromium" in result.stdout


@needs_dot
@pytest.mark.keras
def test_page_of_a_rebuilt_model_says_so_and_counts_sublayers() -> None:
    """--rebuild: the page's data carries the graph's source, and each built KerasHub layer
    the number of its stochastic sublayers active in each scenario, as inner_stochastic says."""
    pytest.importorskip("keras_hub")
    analysis = graphcheck.load(
        ROOT / "samples/rebuild/bert_frozen_classifier.keras", rebuild=True
    ).analyse()
    data = page_data(render_html((ProfileView(analysis, run_rules(analysis)),)).decode("utf-8"))
    assert data["source"] == analysis.saved.source
    assert data["source"].startswith("rebuilt with keras ")
    index = {node["id"]: i for i, node in enumerate(data["nodes"])}
    holders = {item.holder for item in analysis.inner_stochastic}
    assert holders
    for holder in holders:
        held = [item for item in analysis.inner_stochastic if item.holder == holder]
        facts = data["profiles"][0]["nodes"][str(index[holder])]
        assert facts["role"] == node_role(analysis, holder).value == "frozen"
        assert facts["sublayers"] == {"count": len(held)} | {
            s.value: sum(1 for item in held if item.active[s]) for s in Scenario
        }


@needs_dot
@pytest.mark.keras
def test_page_draws_built_keras_family_calls_as_what_graphcheck_read() -> None:
    """A live model: the frozen TransformerEncoder is a frozen box counting its stochastic
    sublayers per scenario; DropPath, which draws in its own code, is a stochastic call
    drawn per scenario as its draws say (active in fit(), off at inference); the GetItem
    operation is a plain box without weights, and only the user's own class is unknown."""
    pytest.importorskip("keras_hub")
    analysis = graphcheck.load(keras_family_model()).analyse()
    data = page_data(render_html((ProfileView(analysis, run_rules(analysis)),)).decode("utf-8"))
    index = {node["id"]: i for i, node in enumerate(data["nodes"])}
    facts = {path: data["profiles"][0]["nodes"][str(index[path])]
             for path in (ENCODER, DROP_PATH, GET_ITEM, USER_CLASS)}
    assert {path: f["role"] for path, f in facts.items()} == {
        ENCODER: "frozen", DROP_PATH: "stochastic-fit", GET_ITEM: "weightless",
        USER_CLASS: "unknown",
    }
    held = [item for item in analysis.inner_stochastic if item.holder == ENCODER]
    assert len(held) == 3
    assert facts[ENCODER]["sublayers"] == {"count": 3} | {
        s.value: sum(1 for item in held if item.active[s]) for s in Scenario
    }
    (own,) = [item for item in analysis.inner_stochastic if item.holder == DROP_PATH]
    assert facts[DROP_PATH]["sublayers"] == {"count": 0, "fit": 0, "predict": 0, "call": 0,
                                             "own": {s.value: own.active[s] for s in Scenario}}
    assert facts[DROP_PATH]["sublayers"]["own"] == {"fit": True, "predict": False, "call": False}
    strings = data["profiles"][0]["strings"]
    looks = {s: (role, strings[line]) for s, (role, line) in facts[DROP_PATH]["look"].items()}
    assert looks == {
        "fit": ("stochastic-fit", "draws random numbers: ACTIVE in fit()"),
        "predict": ("stochastic-off", "draws random numbers: off in predict()"),
        "call": ("stochastic-off", "draws random numbers: off in model(x)"),
    }
    assert facts[DROP_PATH]["kind"] == "own_random" and facts[DROP_PATH]["active"] == {
        "fit": True, "predict": False, "call": False}
    # The operation's box reads as any layer's without weights.
    assert "sublayers" not in facts[GET_ITEM] and facts[GET_ITEM]["status"] == "no weights"
    assert "sublayers" not in facts[USER_CLASS]


@needs_dot
@pytest.mark.keras
def test_page_marks_rate_0_sublayers_and_a_failed_symbolic_call() -> None:
    """KerasHub 0.32's DINOv2: the embeddings' only stochastic sublayer has rate 0 (``noop``);
    the encoder's DropPath cannot be called symbolically, so the encoder stays unknown
    (``failed``)."""
    keras_hub = pytest.importorskip("keras_hub")
    backbone = keras_hub.models.DINOV2Backbone(
        patch_size=4, num_layers=1, hidden_dim=8, num_heads=2, intermediate_dim=16,
        drop_path_rate=0.3, image_shape=(8, 8, 3), position_embedding_shape=(8, 8, 3),
    )
    analysis = graphcheck.load(backbone).analyse()
    data = page_data(render_html((ProfileView(analysis),)).decode("utf-8"))
    index = {node["id"]: i for i, node in enumerate(data["nodes"])}
    failed = {i.holder for i in analysis.inner_stochastic if i.own_random and i.draws is None}
    quiet = {i.holder for i in analysis.inner_stochastic if i.spec.is_noop} - failed
    assert failed and quiet
    for holder in failed:
        facts = data["profiles"][0]["nodes"][str(index[holder])]
        assert facts["role"] == "unknown" and facts["sublayers"]["failed"] is True
    for holder in quiet:
        facts = data["profiles"][0]["nodes"][str(index[holder])]
        assert facts["role"] == "trainable" and facts["sublayers"]["noop"] is True
