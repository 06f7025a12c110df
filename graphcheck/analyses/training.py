"""The ``training`` value every call receives under fit(), predict() and model(x).

Three mechanisms, one per :class:`~graphcheck.semantics.ContextRule`:

- per call path (Keras 2, and Keras 3.0-3.15 whenever the top-level value is set
  and no subclassed model's traced ``call`` runs): the value depends only on the
  stored flags along the call's own path of submodel calls,
  :meth:`SemanticsProfile.received`;
- Keras 3.0-3.15 under ``model(x)`` (and in every scenario where a subclassed
  model's ``call`` runs): one call context shared by the whole top-level call. Each
  layer resolves its value (its stored flag, else the value left in the context by
  the layer run before it, else its ``call`` default), leaves it in the context, and
  a Functional submodel call pushes it into every call inside it; inside a
  subclassed model's Python ``call`` each call takes what Keras resolved for it in
  the trace under that model's own value;
- Keras 3.16 pre-releases, in every scenario: the context starts with the
  top-level value; a stored flag is written into it and stays there for every
  later call, inside or outside the submodel that set it; a ``call`` default stays
  local to its layer. (A layer made or called inside another layer's ``call`` that
  resolves its own default therefore leaves nothing behind: the values measured for
  Keras 3.0-3.15, ``LayerDesc.leaves_training``, are not used.)

In both shared-context mechanisms the result depends on Keras's execution order
(:mod:`.execution_order`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from graphcheck.analyses.execution_order import keras3_call_order
from graphcheck.graph import CallGraph, LayerCall, SubmodelCall, call_path
from graphcheck.layers import layer_info
from graphcheck.model import LayerDesc, ModelDesc
from graphcheck.semantics import (
    ContextRule,
    Received,
    Scenario,
    SemanticsProfile,
    TrainingSource,
    measured_key,
)

__all__ = ["TrainingValues", "resolve_training", "stored_flags"]


@dataclass(frozen=True, slots=True)
class TrainingValues:
    """Per call path, the :class:`Received` value in each scenario."""

    by_call: dict[str, dict[Scenario, Received]]
    #: Only for a subclassed model's own ``call`` (traced): per call path, what
    #: ``model(x, training=True)`` and ``model(x, training=False)`` give it
    #: ("call_true", "call_false"), which differ from fit() and predict() when that
    #: ``call`` takes no ``training``. Empty otherwise: they equal fit() and predict().
    explicit: dict[str, dict[str, Received]] = field(default_factory=dict)

    def __getitem__(self, path: str) -> dict[Scenario, Received]:
        return self.by_call[path]


def resolve_training(graph: CallGraph, profile: SemanticsProfile) -> TrainingValues:
    """Resolve the ``training`` value of every layer call in every scenario.

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        A graph from :func:`graphcheck.graph.build_graph`.
    profile : SemanticsProfile
        The Keras family that will run the model.

    Returns
    -------
    TrainingValues
        Input layers are left out; they receive nothing.
    """
    submodels: dict[str, SubmodelCall] = graph.submodels
    top: ModelDesc = graph.source.model
    shared: dict[Scenario, dict[str, Received]] = {}
    explicit: dict[str, dict[str, Received]] = {}
    # A Keras 3 subclassed model whose call takes no ``training`` gets no value from
    # fit() or predict() either: every scenario runs as model(x) does.
    receives = top.receives_training or profile.context_rule is ContextRule.PATH
    if profile.context_rule is ContextRule.PUSHED:
        if _python_call(top):
            # A subclassed model's own call: no value is pushed into its calls; each
            # gets what Keras resolved for it, traced under the scenario's context.
            shared = {s: _simulate_pushed_context(top, profile, s.value) for s in Scenario}
            explicit = {
                k: _simulate_pushed_context(top, profile, k) for k in ("call_true", "call_false")
            }
        elif _nested_python_call(top) or (
            not profile.pushes_into_every_call and _has_call_without_training(top)
        ):
            # fit()'s value is pushed into a nested subclass's call, not through its
            # Python ``call`` (nor, before Keras 3.10, into a call that takes no
            # ``training``): those calls are resolved in the shared context too.
            shared = {s: _simulate_pushed_context(top, profile, s.value) for s in Scenario}
        else:
            # Only model(x) runs in the shared context, unless the model gets no value
            # from fit() and predict() either.
            called = _simulate_pushed_context(top, profile)
            shared = {Scenario.CALL: called} if receives else dict.fromkeys(Scenario, called)
    elif profile.context_rule is ContextRule.STICKY:
        shared = {
            s: _simulate_sticky_context(top, profile, s.top_value if receives else None)
            for s in Scenario
        }
    by_call: dict[str, dict[Scenario, Received]] = {}
    for call in graph.calls():
        path = call.path
        class_name = call.layer.class_name
        if class_name == "InputLayer" and not call.layer.calls:
            continue
        stored = stored_flags(call, submodels)
        default = layer_info(class_name).training_default
        values = {}
        for scenario in Scenario:
            if scenario in shared:
                values[scenario] = shared[scenario].get(
                    path, Received(False, TrainingSource.NOT_RUN)
                )
            else:
                values[scenario] = profile.received(stored, scenario, default)
        by_call[path] = values
    by_path = {
        path: {key: results.get(path, Received(False, TrainingSource.NOT_RUN))
               for key, results in explicit.items()}
        for path in by_call
    } if explicit else {}
    return TrainingValues(by_call, by_path)


def stored_flags(
    call: LayerCall, submodels: dict[str, SubmodelCall]
) -> list[tuple[str, bool | None]]:
    """The stored ``training=`` flags on a call's path, outermost submodel call first."""
    stored = [(site, submodels[site].training) for site in call.submodels]
    stored.append((call.path, call.training))
    return stored


def _walk_calls(top: ModelDesc) -> Iterator[tuple[str, LayerDesc, int, bool]]:
    """Yield ``(path, layer, call index, entering)`` in the order Keras 3 runs the calls.

    A submodel call is yielded with ``entering`` True before the calls inside it and
    again with ``entering`` False after them; a plain layer call once, ``entering`` False.
    """

    def scope(model: ModelDesc, prefix: str) -> Iterator[tuple[str, LayerDesc, int, bool]]:
        layers = {layer.name: layer for layer in model.layers}
        for name, index in keras3_call_order(model):
            layer = layers[name]
            path = call_path(prefix, layer, index)
            if layer.submodel is not None:
                yield path, layer, index, True
                yield from scope(layer.submodel, path + "/")
            yield path, layer, index, False

    return scope(top, "")


def _python_call(top: ModelDesc) -> bool:
    """Whether a model's calls were traced in a subclassed model's ``call``."""
    return any(call.by_scenario for layer in top.layers for call in layer.calls)


def _nested_python_call(model: ModelDesc) -> bool:
    """Whether a subclassed model's traced ``call`` runs somewhere inside ``model``."""
    return any(
        layer.submodel is not None
        and (_python_call(layer.submodel) or _nested_python_call(layer.submodel))
        for layer in model.layers
    )


def _has_call_without_training(model: ModelDesc) -> bool:
    """Whether a built layer somewhere in ``model`` has a ``call`` without ``training``."""
    return any(
        layer.takes_training is False
        or (layer.submodel is not None and _has_call_without_training(layer.submodel))
        for layer in model.layers
    )


#: Which trace of a subclassed model's ``call`` (``runtime.live``: traced with the
#: call context set to True, False and None) holds what its calls receive when the
#: model's own call resolved a value: ``Layer.__call__`` writes that value into the
#: shared call context before ``call`` runs, whether or not ``call`` takes it.
_TRACE_FOR_VALUE: dict[bool | None, str] = {True: "call_true", False: "call_false", None: "call"}
#: The value a scenario (or ``validate``'s direct call, traced as above) gives the
#: top model's call.
_TOP_VALUE: dict[str | None, bool | None] = {
    None: None,
    **{scenario.value: scenario.top_value for scenario in Scenario},
    **{trace: value for value, trace in _TRACE_FOR_VALUE.items()},
}


@dataclass(frozen=True, slots=True)
class _Frame:
    """One open model call in the simulation: the value a Functional (or Sequential)
    pushes into its calls, or, for a subclassed model's traced ``call``, the trace
    its calls read what Keras resolved for them from."""

    pushed: Received | None = None
    trace: str | None = None


def _enter(model: ModelDesc, resolved: Received | None) -> _Frame:
    if _python_call(model):
        return _Frame(trace=_TRACE_FOR_VALUE[None if resolved is None else resolved.value])
    return _Frame(pushed=resolved)


def _top_frame(top: ModelDesc, scenario: str | None) -> _Frame:
    if _python_call(top):
        return _Frame(trace=scenario or "call")
    value = _TOP_VALUE[scenario]
    return _Frame(pushed=None if value is None else Received(value, TrainingSource.TOP))


def _simulate_pushed_context(
    top: ModelDesc, profile: SemanticsProfile, scenario: str | None = None
) -> dict[str, Received]:
    """Run the top model the way Keras 3.0-3.15 resolve ``training``.

    ``scenario`` None or ``"call"`` is ``model(x)`` (no value given); ``"fit"``,
    ``"predict"``, ``"call_true"`` and ``"call_false"`` give the top model's call a
    value, which a Functional top pushes into its calls (a subclassed top's
    traced calls read the trace the describer made under that scenario's context).

    Keras 3.0-3.15 write each layer's ``call`` default into the node whenever they
    build a graph, loading included (``Layer._resolve_and_populate_arg`` puts the
    resolved value into the call's kwargs), so a call with no stored flag runs as if
    its default were stored: a Keras 2 file's plain Dropout stays off after an MC
    Dropout. A submodel call that resolves a value passes it explicitly to every call
    inside it (``functional.operation_fn``); every layer, with or without a
    ``training`` argument, leaves its resolved value in the shared context, where
    the next layer finds it -- or, where a symbolic call of a built layer showed it
    (``LayerDesc.leaves_training``), the value a layer inside its call left there. A
    subclassed submodel's ``call`` is Python and pushes nothing: each call in it gets
    what the trace under its model's resolved value gives (a flag its code passes
    wins), and the last one leaves its value in the context for the calls after the
    submodel.

    From Keras 3.10 (``profile.explicit_none_passed``) a call that stores
    ``training=None`` takes None as passed: not the context's value, not its
    default; it leaves None in the context, and a submodel called so pushes nothing.
    Keras 3.0-3.9 take the context's value there, but where the context holds none
    the passed None still hides the ``call`` default (``CallSpec.arguments_dict``
    holds the None), so the call gets None.
    """
    results: dict[str, Received] = {}
    context: Received | None = None
    frames = [_top_frame(top, scenario)]
    for path, layer, index, entering in _walk_calls(top):
        if not entering and layer.submodel is not None:
            frames.pop()
            continue
        call = layer.calls[index]
        frame = frames[-1]
        stored = call.training
        passed_none = call.training_null
        if frame.trace is not None and call.by_scenario:
            stored = call.by_scenario.get(frame.trace)
            passed_none = False
        default = layer_info(layer.class_name).training_default
        resolved: Received | None
        # Keras 3.0-3.9's operation_fn pushes only into calls that take ``training``;
        # another call resolves from the context like any call given no value.
        pushed = frame.pushed if (
            profile.pushes_into_every_call or layer.takes_training is not False
        ) else None
        if pushed is not None:
            resolved = pushed
        elif passed_none and (profile.explicit_none_passed or context is None):
            resolved = None
        elif passed_none and context is not None:  # 3.0-3.9: the context's, never the default
            resolved = Received(
                context.value, TrainingSource.INHERITED, context.site, context.set_by
            )
        elif stored is not None:
            resolved = Received(stored, TrainingSource.STORED, path)
        elif default is not None:  # the default Keras wrote into the node when it built it
            resolved = Received(default, TrainingSource.DEFAULT, path)
        elif context is not None:
            resolved = Received(
                context.value, TrainingSource.INHERITED, context.site, context.set_by
            )
        else:
            resolved = None
        context = resolved
        # A layer its call makes or calls may resolve a value of its own (a Resizing
        # made inside DeepLabV3's SpatialPyramidPooling.call: its default True) and
        # leave it in the context for every later call (measured on a built object).
        left = layer.leaves_training.get(measured_key(resolved))
        if left is not None:
            context = None if left.value is None else Received(
                left.value, TrainingSource.INHERITED, path, left.set_by
            )
        if not entering:
            results[path] = resolved or (
                Received(False, TrainingSource.STORED_NONE, path)
                if passed_none
                else Received(False, TrainingSource.DEFAULT)
            )
        elif layer.submodel is not None:
            frames.append(_enter(layer.submodel, resolved))
    return results


def _simulate_sticky_context(
    top: ModelDesc, profile: SemanticsProfile, top_value: bool | None
) -> dict[str, Received]:
    """Resolve ``training`` the way Keras 3.16 pre-releases do (keras-team/keras#23364).

    ``Layer._resolve_and_populate_arg``: a value passed at the call site (a stored
    flag is passed again when the graph runs) is written into the call context that
    the whole top-level call shares, and nothing restores it when the call returns;
    a call without one takes the context's value, else keeps its ``call`` default to
    itself. ``Functional.call`` no longer pushes anything into its layers. A stored
    ``training=None`` is passed too: the call gets None and the context holds None.
    """
    results: dict[str, Received] = {}
    context = None if top_value is None else Received(top_value, TrainingSource.TOP)
    for path, layer, index, entering in _walk_calls(top):
        if not entering and layer.submodel is not None:
            continue
        call = layer.calls[index]
        stored = call.training
        if profile.explicit_none_passed and call.training_null:
            resolved, context = Received(False, TrainingSource.STORED_NONE, path), None
        elif stored is not None:
            resolved = context = Received(stored, TrainingSource.STORED, path)
        elif context is None:  # the default stays local: nothing enters the context
            default = bool(layer_info(layer.class_name).training_default)
            resolved = Received(default, TrainingSource.DEFAULT)
        elif context.source is TrainingSource.TOP:
            resolved = context
        else:
            resolved = Received(context.value, TrainingSource.INHERITED, context.site)
        if not entering:
            results[path] = resolved
    return results
