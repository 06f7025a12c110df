"""Model description -> networkx graph with one node per layer call.

Nested models are flattened: a layer inside submodel ``base`` is node ``base/conv``;
a layer or submodel called more than once in its parent gets ``@k`` (0-based call
order) after its name, so a siamese tower's dropout is ``tower@1/dropout``. Model
boundaries do not appear as nodes: a tensor entering a submodel goes straight from
its real producer to the inner consumers, so following edges crosses boundaries the
way Keras's own ``plot_model`` resolves them. The top model's inputs are nodes
(class ``InputLayer``); inputs of nested models are not.

Invariant: nodes are inserted in a topological order of the calls, so
``list(graph)`` is an execution order that analyses may reuse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx

from graphcheck.errors import GraphBuildError
from graphcheck.model import LayerDesc, ModelDesc, SavedModelDesc, Shape, TensorRef

__all__ = [
    "CallGraph",
    "Endpoint",
    "LayerCall",
    "SubmodelCall",
    "build_graph",
    "call_path",
    "escape_name",
]


@dataclass(frozen=True, slots=True)
class LayerCall:
    """One call of a (non-model) layer, placed in the flattened graph.

    ``submodels`` lists the paths of the enclosing submodel calls, outermost first.
    ``training`` is the ``training=`` value stored with this call, if any.
    """

    path: str
    layer: LayerDesc
    call_index: int
    call_count: int
    training: bool | None
    submodels: tuple[str, ...]

    @property
    def submodel(self) -> str:
        """The innermost enclosing submodel call, ``""`` at top level."""
        return self.submodels[-1] if self.submodels else ""


@dataclass(frozen=True, slots=True)
class SubmodelCall:
    """One call of a nested model; its layers' nodes carry its path in ``submodels``."""

    path: str
    layer: LayerDesc
    call_index: int
    call_count: int
    training: bool | None
    parents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A tensor in the flattened graph: output ``output_index`` of call ``producer``."""

    producer: str
    output_index: int
    shape: Shape | None = None


class CallGraph(nx.MultiDiGraph):
    """The flattened call graph, with typed access to what :func:`build_graph` stores.

    Downstream code reads the model-level facts and each node's :class:`LayerCall`
    through these accessors instead of string keys, so a typo or a renamed key is a
    type error rather than a KeyError at run time. A subclass rather than a wrapper:
    traversals (``predecessors``, ``in_edges``, ``nx.topological_sort``), the edge
    attributes and ``graph.graph`` stay networkx's own, unchanged for every caller.
    """

    @property
    def source(self) -> SavedModelDesc:
        """The saved model the graph was built from."""
        return self.graph["source"]

    @property
    def submodels(self) -> dict[str, SubmodelCall]:
        """Path -> call of every nested model, each after the model that holds it."""
        return self.graph["submodels"]

    @property
    def inputs(self) -> list[str]:
        """The paths of the top model's input nodes, in the model's input order."""
        return self.graph["inputs"]

    @property
    def outputs(self) -> list[Endpoint]:
        """The top model's output tensors, in the model's output order."""
        return self.graph["outputs"]

    def call(self, path: str) -> LayerCall:
        """The call at node ``path``."""
        return self.nodes[path]["call"]

    def calls(self) -> list[LayerCall]:
        """Every node's call, model inputs included, in execution order."""
        return [data["call"] for _, data in self.nodes(data=True)]


def escape_name(name: str) -> str:
    """Quote the characters that structure a path (``/``, ``@``, ``%``) in a name."""
    # Three `in` tests, not any() over a generator: 7x faster, and this runs for
    # every call of every layer.
    if "/" not in name and "@" not in name and "%" not in name:
        return name
    return name.replace("%", "%25").replace("/", "%2F").replace("@", "%40")


def call_path(prefix: str, layer: LayerDesc, index: int) -> str:
    """The node id of call ``index`` of ``layer`` in the scope whose paths start with ``prefix``."""
    name = prefix + escape_name(layer.name)
    return f"{name}@{index}" if len(layer.calls) > 1 else name


def build_graph(saved: SavedModelDesc) -> CallGraph:
    """Build the flattened call graph of a saved model.

    Parameters
    ----------
    saved : SavedModelDesc
        The model as read from a file.

    Returns
    -------
    CallGraph
        A networkx.MultiDiGraph. Nodes are call paths with attributes ``call``
        (:class:`LayerCall`), ``name``, ``class_name`` and ``submodel`` (the
        innermost enclosing submodel call, ``""`` at top level). Edges go producer -> consumer with
        ``output_index``, ``input_index`` and ``shape``. ``graph.graph`` holds
        ``source`` (the SavedModelDesc), ``submodels`` (path -> SubmodelCall),
        ``inputs`` (input node paths) and ``outputs`` (list of Endpoint), which
        :class:`CallGraph` gives typed.

    Raises
    ------
    GraphBuildError
        A reference names a layer or call that does not exist, or calls form a cycle.

    Examples
    --------
    >>> from graphcheck.model import CallDesc, LayerDesc, ModelDesc, SavedModelDesc, TensorRef
    >>> x = LayerDesc("x", "InputLayer", {}, (), None)
    >>> d = LayerDesc("drop", "Dropout", {"rate": 0.5}, (CallDesc((TensorRef("x", 0, 0),)),), True)
    >>> ins, outs = (TensorRef("x", 0, 0),), (TensorRef("drop", 0, 0),)
    >>> m = ModelDesc("m", "Functional", (x, d), ins, outs, True)
    >>> g = build_graph(SavedModelDesc("m.h5", "h5", "3.15.1", None, "keras3", m))
    >>> list(g.edges())
    [('x', 'drop')]
    """
    builder = _GraphBuilder(saved.path)
    outputs = builder.expand(saved.model, "", None, ())
    graph = builder.graph
    graph.graph.update(
        source=saved, submodels=builder.submodels, inputs=builder.inputs, outputs=outputs
    )
    return graph


class _GraphBuilder:
    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.graph = CallGraph()
        self.submodels: dict[str, SubmodelCall] = {}
        self.inputs: list[str] = []

    def fail(self, problem: str) -> GraphBuildError:
        return GraphBuildError(self.subject, problem)

    def expand(
        self,
        model: ModelDesc,
        prefix: str,
        bindings: Sequence[Endpoint] | None,
        enclosing: tuple[str, ...],
    ) -> list[Endpoint]:
        """Add the calls of one model scope; return the endpoints of its outputs.

        ``bindings`` are the tensors fed to a nested model's inputs (None at the top).
        """
        layers = {layer.name: layer for layer in model.layers}
        input_position = {ref.layer: i for i, ref in enumerate(model.inputs)}
        scope = f"model {model.name!r}"
        for ref in model.inputs:
            if ref.layer not in layers:
                raise self.fail(f"{scope}: input names unknown layer {ref.layer!r}")
        if bindings is not None and len(bindings) != len(model.inputs):
            raise self.fail(
                f"{scope}: called with {len(bindings)} tensors but has {len(model.inputs)} inputs"
            )
        if bindings is None:
            for ref in model.inputs:
                self.add_input(layers[ref.layer], prefix)

        def label(layer: LayerDesc, index: int) -> str:
            return call_path(prefix, layer, index)

        outputs: dict[tuple[str, int], list[Endpoint]] = {}

        def resolve(ref: TensorRef, shape: Shape | None) -> Endpoint:
            layer = layers.get(ref.layer)
            if layer is None:
                raise self.fail(f"{scope}: reference to unknown layer {ref.layer!r}")
            if layer.class_name == "InputLayer" and not layer.calls:
                if ref.layer not in input_position:
                    raise self.fail(f"{scope}: {ref.layer!r} is an input layer it does not declare")
                if bindings is None:
                    return Endpoint(
                        prefix + escape_name(layer.name), 0, shape or _input_shape(layer)
                    )
                bound = bindings[input_position[ref.layer]]
                return Endpoint(bound.producer, bound.output_index, shape or bound.shape)
            # Range, not just upper bound: shifting Keras 2 node indices can go below 0.
            if not 0 <= ref.node_index < len(layer.calls):
                raise self.fail(
                    f"{scope}: reference to call {ref.node_index} of {ref.layer!r}, "
                    f"which has {len(layer.calls)}"
                )
            if layer.submodel is not None:
                produced = outputs[(layer.name, ref.node_index)]
                if ref.tensor_index >= len(produced):
                    raise self.fail(
                        f"{scope}: reference to output {ref.tensor_index} of submodel "
                        f"{ref.layer!r}, which has {len(produced)}"
                    )
                found = produced[ref.tensor_index]
                return Endpoint(found.producer, found.output_index, shape or found.shape)
            return Endpoint(label(layer, ref.node_index), ref.tensor_index, shape)

        for name, index in self.order_calls(model, layers, scope):
            layer = layers[name]
            call = layer.calls[index]
            shapes = call.input_shapes
            ins = [
                resolve(ref, shapes[i] if i < len(shapes) else None)
                for i, ref in enumerate(call.inputs)
            ]
            path = label(layer, index)
            if layer.submodel is not None:
                self.submodels[path] = SubmodelCall(
                    path, layer, index, len(layer.calls), call.training, enclosing
                )
                outputs[(name, index)] = self.expand(
                    layer.submodel, path + "/", ins, (*enclosing, path)
                )
                continue
            if path in self.graph:
                raise self.fail(f"{scope}: two calls share the path {path!r}")
            self.graph.add_node(
                path,
                call=LayerCall(path, layer, index, len(layer.calls), call.training, enclosing),
                name=layer.name,
                class_name=layer.class_name,
                submodel=enclosing[-1] if enclosing else "",  # LayerCall.submodel
            )
            for position, endpoint in enumerate(ins):
                self.graph.add_edge(
                    endpoint.producer,
                    path,
                    output_index=endpoint.output_index,
                    input_index=position,
                    shape=endpoint.shape,
                )
        return [resolve(ref, None) for ref in model.outputs]

    def add_input(self, layer: LayerDesc, prefix: str) -> None:
        path = prefix + escape_name(layer.name)
        self.inputs.append(path)
        self.graph.add_node(
            path,
            call=LayerCall(path, layer, 0, 1, None, ()),
            name=layer.name,
            class_name=layer.class_name,
            submodel="",
        )

    def order_calls(
        self, model: ModelDesc, layers: Mapping[str, LayerDesc], scope: str
    ) -> list[tuple[str, int]]:
        """Topologically order the calls of one scope, whatever the listing order.

        Keras builds in two phases for the same reason: a layer shared at different
        depths (``A(B(A(B(x))))``) is listed before the calls it depends on exist.
        """
        # Kahn's sort, generation by generation as networkx's topological_sort orders
        # them: calls in listing order, each call's consumers in the order they are
        # listed. A networkx DiGraph per scope cost more than the sort itself on a
        # folder of small models (docs/development.md, Measurements).
        consumers: dict[tuple[str, int], dict[tuple[str, int], None]] = {
            (layer.name, i): {} for layer in model.layers for i in range(len(layer.calls))
        }
        waiting = dict.fromkeys(consumers, 0)  # producers not yet ordered, per call
        for layer in model.layers:
            for index, call in enumerate(layer.calls):
                key = (layer.name, index)
                for ref in call.inputs:
                    producer = layers.get(ref.layer)
                    if producer is None:
                        raise self.fail(
                            f"{scope}: layer {layer.name!r} reads unknown layer {ref.layer!r}"
                        )
                    if producer.calls:
                        if not 0 <= ref.node_index < len(producer.calls):
                            raise self.fail(
                                f"{scope}: layer {layer.name!r} reads call {ref.node_index} "
                                f"of {ref.layer!r}, which has {len(producer.calls)}"
                            )
                        edges = consumers[ref.layer, ref.node_index]
                        if key not in edges:  # two reads of one output are one dependency
                            edges[key] = None
                            waiting[key] += 1
        order = [key for key, count in waiting.items() if count == 0]
        for key in order:  # the list grows as it is read: each generation after the last
            for consumer in consumers[key]:
                waiting[consumer] -= 1
                if waiting[consumer] == 0:
                    order.append(consumer)
        if len(order) < len(waiting):
            done = set(order)
            stuck = sorted({name for name, index in waiting if (name, index) not in done})
            # repr: a name may hold a newline, and an error message is one line.
            raise self.fail(
                f"{scope}: cyclic references between layers {', '.join(map(repr, stuck[:5]))}"
            )
        return order


def _input_shape(layer: LayerDesc) -> Shape | None:
    value = layer.config.get("batch_shape", layer.config.get("batch_input_shape"))
    if isinstance(value, list) and all(d is None or type(d) is int for d in value):
        return tuple(value)
    return None
