"""The flattened call graph: naming, boundaries, ordering, and broken references."""

from __future__ import annotations

import pytest
from helpers import call, graph_of, input_layer, layer, model, ref, three_levels

from graphcheck.errors import GraphBuildError
from graphcheck.graph import escape_name


class TestFlattening:
    def test_nested_models_become_path_prefixes(self) -> None:
        """Layers of nested submodels are named outer/inner/layer; submodels are not nodes."""
        graph = graph_of(three_levels())
        assert list(graph) == ["x", "level2/l2_drop", "level2/level3/l3_drop"]
        assert set(graph.submodels) == {"level2", "level2/level3"}

    def test_edges_cross_model_boundaries(self) -> None:
        """A tensor entering a submodel runs from its real producer to the inner consumer."""
        graph = graph_of(three_levels())
        assert list(graph.edges()) == [("x", "level2/l2_drop"), ("level2/l2_drop", "level2/level3/l3_drop")]
        assert [e.producer for e in graph.outputs] == ["level2/level3/l3_drop"]

    def test_shared_submodel_calls_get_call_suffixes(self) -> None:
        """A tower called twice gives tower@0/... and tower@1/..., each with its own inputs."""
        tower = model(
            "tower",
            [input_layer("t_in"), layer("t_drop", "Dropout", call(ref("t_in")), rate=0.1)],
            ["t_in"],
            [ref("t_drop")],
        )
        top = model(
            "top",
            [
                input_layer("a"),
                input_layer("b"),
                layer("tower", "Functional", call(ref("a")), call(ref("b")), submodel=tower),
                layer("add", "Add", call(ref("tower", 0), ref("tower", 1))),
            ],
            ["a", "b"],
            [ref("add")],
        )
        graph = graph_of(top)
        assert sorted(graph.predecessors("add")) == ["tower@0/t_drop", "tower@1/t_drop"]
        assert list(graph.predecessors("tower@1/t_drop")) == ["b"]

    def test_layers_listed_out_of_data_flow_order(self) -> None:
        """Calls are ordered by data flow, not by listing order (A(B(A(B(x)))))."""
        top = model(
            "top",
            [
                layer("a", "Dense", call(ref("x")), call(ref("b", 0))),
                layer("b", "Dense", call(ref("a", 0)), call(ref("a", 1))),
                input_layer("x"),
            ],
            ["x"],
            [ref("b", 1)],
        )
        assert list(graph_of(top)) == ["x", "a@0", "b@0", "a@1", "b@1"]


class TestCallGraph:
    def test_accessors_read_what_networkx_holds(self) -> None:
        """The typed accessors and the networkx attributes (what exports see) are one set of facts."""
        top = three_levels()
        graph = graph_of(top)
        assert graph.source is graph.graph["source"]
        assert graph.source.model is top
        assert graph.submodels is graph.graph["submodels"]
        assert graph.inputs == graph.graph["inputs"] == ["x"]
        assert graph.outputs is graph.graph["outputs"]
        for path, data in graph.nodes(data=True):
            assert graph.call(path) is data["call"]
            assert graph.call(path).path == path
            assert graph.call(path).submodel == data["submodel"]
        assert [c.path for c in graph.calls()] == list(graph)

    def test_innermost_submodel_of_a_call(self) -> None:
        """``submodel`` is the innermost enclosing call; top-level calls and inputs have none."""
        graph = graph_of(three_levels())
        assert [c.submodel for c in graph.calls()] == ["", "level2", "level2/level3"]
        assert graph.call("level2/level3/l3_drop").submodels == ("level2", "level2/level3")

    def test_unknown_path_is_a_key_error(self) -> None:
        with pytest.raises(KeyError):
            graph_of(three_levels()).call("level2")  # a submodel call, not a node


class TestBrokenReferences:
    def test_dangling_layer_name(self) -> None:
        """A reference to a layer that does not exist is a GraphBuildError naming it."""
        top = model("top", [input_layer("x"), layer("d", "Dense", call(ref("nope")))], ["x"], [ref("d")])
        with pytest.raises(GraphBuildError, match="nope"):
            graph_of(top)

    def test_dangling_call_index(self) -> None:
        """A reference to a call that was never made is a GraphBuildError."""
        top = model(
            "top",
            [input_layer("x"), layer("d", "Dense", call(ref("x"))), layer("e", "Dense", call(ref("d", 3)))],
            ["x"],
            [ref("e")],
        )
        with pytest.raises(GraphBuildError, match="call 3"):
            graph_of(top)

    def test_cycle(self) -> None:
        """Calls that feed each other are reported as a cycle, not looped over."""
        top = model(
            "top",
            [input_layer("x"), layer("a", "Dense", call(ref("b"))), layer("b", "Dense", call(ref("a")))],
            ["x"],
            [ref("b")],
        )
        with pytest.raises(GraphBuildError, match="cyclic"):
            graph_of(top)


def test_escape_name_quotes_path_characters() -> None:
    """Names containing / or @ cannot be confused with path structure."""
    assert escape_name("a/b@c%") == "a%2Fb%40c%25"
    assert escape_name("plain_name") == "plain_name"
