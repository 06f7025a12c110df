"""For every stochastic call: what it masks, who consumes it, and when it is active.

A Dropout masks its input tensor, the output of the call before it (resolved
through submodel boundaries by the graph), and nothing else. Its consumers see
masked values, and the trainable layers upstream receive masked gradients.

A recurrent layer's dropout and attention dropout mask values inside the layer's
own call (the RNN's inputs, before its input kernel, and its recurrent state; the
attention weights): the layer itself consumes them, and its output carries no mask.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphcheck.analyses.frozen import FrozenStates
from graphcheck.analyses.training import TrainingValues
from graphcheck.graph import CallGraph, LayerCall
from graphcheck.kinds import Stochastic, facts_of
from graphcheck.layers import StochasticSpec, keras_layer_info, stochastic_spec
from graphcheck.model import Shape
from graphcheck.semantics import Received, Scenario
from graphcheck.tf_random_ops import op_samples

__all__ = [
    "MaskKind",
    "MaskedTensor",
    "ModeDependentCall",
    "StochasticCall",
    "analyse_stochastic",
    "is_active",
    "uses_batch_statistics",
]


class MaskKind:
    """What a stochastic call does to a tensor it lists in ``masks``."""

    TENSOR = "tensor"  # the tensor itself is masked (or noised, or transformed)
    # A random op (tf.random.normal) draws new values from this tensor (a shape,
    # means, logits); the tensor itself is read, not changed.
    SAMPLED_FROM = "sampled_from"
    # Attention dropout masks the attention weights computed from this tensor
    # (a query or key input); the tensor itself reaches the layer unmasked.
    ATTENTION_WEIGHTS = "attention_weights"
    # A recurrent layer's input dropout: this tensor is masked inside the layer's
    # call (masks drawn once per call, one per gate, reused at every step) before its
    # input kernels; only the layer reads the masked values.
    RNN_INPUT = "rnn_input"


@dataclass(frozen=True, slots=True)
class MaskedTensor:
    """A tensor a stochastic call acts on: output ``output_index`` of ``producer``.

    ``kind`` is a :class:`MaskKind`; ``argument`` names the attention argument
    (``query``, ``key`` or ``value``) the tensor was passed as, else None.
    """

    producer: str
    output_index: int
    shape: Shape | None
    producer_class: str
    is_model_input: bool
    kind: str = MaskKind.TENSOR
    argument: str | None = None


@dataclass(frozen=True, slots=True)
class StochasticCall:
    path: str
    class_name: str
    spec: StochasticSpec
    masks: tuple[MaskedTensor, ...]
    internal: tuple[str, ...]
    #: The calls that read the masked values: the graph consumers of the call's
    #: output, or the call itself where the mask acts inside it (``masked_inside``).
    consumers: tuple[str, ...]
    feeds_output: bool
    frozen_by: str | None  # what declares it frozen (FrozenState.frozen_by), if anything
    frozen_by_kind: str | None  # "layer", "submodel" or "model" (analyses.frozen.FrozenBy)
    gradient_masked: tuple[str, ...]
    received: dict[Scenario, Received]
    active: dict[Scenario, bool]
    #: The masked values are consumed inside this call (RNN and attention dropout):
    #: its output is computed from them but is not itself masked.
    masked_inside: bool = False
    #: The calls that read this call's output (the graph's consumers of it).
    output_consumers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModeDependentCall:
    """A BatchNormalization call: batch statistics or moving statistics per scenario."""

    path: str
    class_name: str
    trainable: bool | None
    frozen_by: str | None
    frozen_by_kind: str | None
    received: dict[Scenario, Received]
    batch_statistics: dict[Scenario, bool]


def analyse_stochastic(
    graph: CallGraph, training: TrainingValues, frozen: FrozenStates
) -> tuple[list[StochasticCall], list[ModeDependentCall]]:
    """Describe every stochastic and mode-dependent call, in execution order."""
    outputs = {endpoint.producer for endpoint in graph.outputs}
    dialect = graph.source.dialect
    frontiers = _Frontiers(graph, frozen)
    stochastic: list[StochasticCall] = []
    modes: list[ModeDependentCall] = []
    for call in graph.calls():
        path = call.path
        info = keras_layer_info(call.layer.class_name, dialect, call.layer.origin)
        if info.mode_dependent:
            received = training[path]
            modes.append(
                ModeDependentCall(
                    path, call.layer.class_name, call.layer.trainable,
                    frozen.calls[path].frozen_by, frozen.calls[path].frozen_by_kind, received,
                    {s: uses_batch_statistics(received[s], call.layer.trainable) for s in Scenario},
                )
            )
        stored = call.layer.calls
        arguments = stored[call.call_index].arguments if call.call_index < len(stored) else None
        spec = stochastic_spec(
            call.layer.class_name, call.layer.config, dialect, call.layer.origin, arguments
        )
        if spec is None:
            continue
        received = training[path]
        inside = spec.kind in _MASKED_INSIDE
        output_consumers = tuple(dict.fromkeys(graph.successors(path)))
        masks = _masked_tensors(graph, call, spec)
        stochastic.append(
            StochasticCall(
                path=path,
                class_name=call.layer.class_name,
                spec=spec,
                masks=masks,
                internal=_internal_targets(spec),
                consumers=(path,) if inside else output_consumers,
                feeds_output=path in outputs,
                frozen_by=frozen.calls[path].frozen_by,
                frozen_by_kind=frozen.calls[path].frozen_by_kind,
                gradient_masked=_gradient_masked(path, inside, bool(masks), frontiers, frozen),
                received=received,
                active={s: is_active(spec, received[s]) for s in Scenario},
                masked_inside=inside,
                output_consumers=output_consumers,
            )
        )
    return stochastic, modes


#: Kinds whose mask acts inside the layer's own call, not on its output.
_MASKED_INSIDE = frozenset({Stochastic.RNN_DROPOUT, Stochastic.ATTENTION_DROPOUT})


def _gradient_masked(
    path: str,
    inside: bool,
    masks_inputs: bool,
    frontiers: _Frontiers,
    frozen: FrozenStates,
) -> tuple[str, ...]:
    """The calls whose weight gradients flow through the masked values.

    A mask on a tensor shapes the gradients of the nearest trainable calls upstream
    of it. A mask inside a call also shapes the call's own weights' gradients (an
    RNN's kernels, an attention layer's projections); an RNN with recurrent dropout
    only masks no input, so nothing upstream is reached through a mask.
    """
    reached = set(frontiers[path]) if masks_inputs or not inside else set()
    if inside and frozen.calls[path].will_train:
        reached.add(path)
    return tuple(sorted(reached))


def is_active(spec: StochasticSpec, received: Received) -> bool:
    """A stochastic call acts exactly when it receives training=True and its rate is not 0;
    a TensorFlow op recorded in the graph knows no ``training`` and acts always."""
    if facts_of(spec.kind).ignores_training:
        return True
    return received.value and not spec.is_noop


def uses_batch_statistics(received: Received, trainable: bool | None) -> bool:
    """BatchNormalization normalises with batch statistics only when training and trainable."""
    return received.value and trainable is not False


def _masked_tensors(
    graph: CallGraph, call: LayerCall, spec: StochasticSpec
) -> tuple[MaskedTensor, ...]:
    edges = sorted(graph.in_edges(call.path, data=True), key=lambda e: e[2]["input_index"])
    kinds: list[tuple[str | None, str | None]] = [(MaskKind.TENSOR, None)] * len(edges)
    if spec.kind is Stochastic.ATTENTION_DROPOUT:
        kinds = _attention_score_inputs(call, len(edges))
    elif spec.kind is Stochastic.RNN_DROPOUT:
        # Input dropout masks the sequence (the first input), not initial states or
        # a constants tensor; with recurrent dropout alone no input is masked.
        input_masked = (spec.rate or 0) > 0
        kinds = [(MaskKind.RNN_INPUT if input_masked and i == 0 else None, None)
                 for i in range(len(edges))]
    elif spec.kind is Stochastic.OP_RANDOM and op_samples(call.layer.config.get("function", "")):
        kinds = [(MaskKind.SAMPLED_FROM, None)] * len(edges)
    masked = []
    for (producer, _, data), (kind, argument) in zip(edges, kinds, strict=True):
        if kind is None:
            continue
        masked.append(
            MaskedTensor(
                producer=producer,
                output_index=data["output_index"],
                shape=data["shape"],
                producer_class=graph.call(producer).layer.class_name,
                is_model_input=producer in graph.inputs,
                kind=kind,
                argument=argument,
            )
        )
    return tuple(masked)


# The arguments of every Keras attention class, in positional order: MultiHeadAttention
# and GroupedQueryAttention take call(query, value, key=None), Attention and
# AdditiveAttention call([query, value, key]).
_ATTENTION_ARGUMENTS = ("query", "value", "key")


def _attention_score_inputs(call: LayerCall, count: int) -> list[tuple[str | None, str | None]]:
    """For each input of an attention call: (mask kind, argument) if the scores use it.

    Attention dropout zeroes attention weights, the softmax of scores computed from
    the query and the key only (Keras: ``einsum(key, query)`` in MultiHeadAttention
    and GroupedQueryAttention ``_compute_attention``; ``_calculate_scores(query,
    key)`` in Attention and AdditiveAttention); without a key, the value stands in
    for it. Masks and other keyword tensors are not used for the scores.
    """
    calls = call.layer.calls
    roles = calls[call.call_index].input_roles if call.call_index < len(calls) else ()
    arguments = [
        _attention_argument(roles[i] if i < len(roles) else str(i)) for i in range(count)
    ]
    key = "key" if "key" in arguments else "value"
    return [
        (MaskKind.ATTENTION_WEIGHTS, a) if a in ("query", key) else (None, None)
        for a in arguments
    ]


def _attention_argument(role: str) -> str | None:
    """``"query"``, ``"value"`` or ``"key"`` for a recorded input role, else None."""
    if role in _ATTENTION_ARGUMENTS:
        return role
    if role.startswith("inputs[") and role.endswith("]"):  # Attention(inputs=[q, v])
        role = role[len("inputs["):-1]
    if role.isdigit() and int(role) < len(_ATTENTION_ARGUMENTS):
        return _ATTENTION_ARGUMENTS[int(role)]
    return None


def _internal_targets(spec: StochasticSpec) -> tuple[str, ...]:
    if spec.kind is Stochastic.ATTENTION_DROPOUT:
        return ("attention weights",)
    if spec.kind is Stochastic.RNN_DROPOUT and (spec.recurrent_rate or 0) > 0:
        return ("recurrent state",)
    return ()


class _Frontiers:
    """For a call, the nearest upstream calls that will train.

    A mask on a call's input shapes the gradients of these layers first; layers
    further upstream get their gradients through them (or through frozen and
    weightless layers in between). Worked out only for the calls asked about, walking
    up through the calls that will not train, and remembered for those: on a residual
    stream of weightless Adds every call's set holds every block feeding it, so
    keeping one for every call would grow with the square of the model.
    """

    def __init__(self, graph: CallGraph, frozen: FrozenStates) -> None:
        self._graph = graph
        self._frozen = frozen
        self._known: dict[str, frozenset[str]] = {}

    def __getitem__(self, node: str) -> frozenset[str]:
        known, graph = self._known, self._graph
        stack = [node]
        while stack:  # post-order over the non-training calls upstream, without recursion
            current = stack[-1]
            if current in known:
                stack.pop()
                continue
            parents = list(dict.fromkeys(graph.predecessors(current)))
            pending = [p for p in parents if p not in known and not self._trains(p)]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            found: frozenset[str] = frozenset()
            for parent in parents:
                reach = frozenset((parent,)) if self._trains(parent) else known[parent]
                found = reach if not found else found | reach
            known[current] = found
        return known[node]

    def _trains(self, node: str) -> bool:
        return bool(self._frozen.calls[node].will_train)
