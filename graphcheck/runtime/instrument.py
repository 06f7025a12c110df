"""Wrapping layer calls: record, per call, the ``training`` value received and
whether the layer acted (dropped units, added noise, used batch statistics).

Every wrapper is undone after the run; a call made on symbolic values (a build or
a trace) is passed through unrecorded.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from graphcheck.graph import escape_name
from graphcheck.kinds import NOISE_CLASSES
from graphcheck.runtime.arrays import as_arrays, as_training, differs, is_concrete
from graphcheck.runtime.batch_stats import moving_statistics, recognise_batch_statistics
from graphcheck.runtime.dropout_stats import dropout_stats
from graphcheck.runtime.layer_kinds import (
    instrument_kind,
    is_model,
    is_stock,
    iter_layers,
    watched_sublayers,
)
from graphcheck.runtime.records import CallRecord


class Recorder:
    """Collects call records for the scenario being run; knows the container path."""

    def __init__(self) -> None:
        self.scenario: str | None = None
        self.records: dict[str, dict[str, list[CallRecord]]] = {}
        self.stack: list[str] = []
        self.class_names: dict[str, str] = {}

    def path_of(self, layer: Any, fallback: str) -> str:
        if not self.stack:
            return fallback
        return "/".join(escape_name(name) for name in [*self.stack[1:], layer.name])

    def add(self, path: str, record: CallRecord) -> None:
        if self.scenario is not None:
            self.records.setdefault(self.scenario, {}).setdefault(path, []).append(record)


def wrap_model(model: Any, recorder: Recorder) -> Callable[[], None]:
    original = model.call

    def call(*args: Any, **kwargs: Any) -> Any:
        recorder.stack.append(model.name)
        try:
            return original(*args, **kwargs)
        finally:
            recorder.stack.pop()

    model.call = call
    return lambda: unset_call(model)


def unset_call(layer: Any) -> None:
    if "call" in vars(layer):
        object.__delattr__(layer, "call")


def wrap_layer(
    layer: Any, kind: str, static_path: str, recorder: Recorder, fixed_path: bool = False
) -> Callable[[], None]:
    """Record every concrete call of `layer`. Its key is its path among the models
    being called, or `static_path` as it is when ``fixed_path`` (a sublayer held by a
    layer: no model call on the stack names its holder)."""
    original = layer.call
    # tf_keras's TFOpLambda sets its `call` on the instance: put that back on undo,
    # or the layer would fall back to Layer.call, the identity.
    own = vars(layer).get("call")
    signature = inspect.signature(original)
    class_name = type(layer).__name__

    def call(*args: Any, **kwargs: Any) -> Any:
        # A sublayer may be called with keywords only (attention: query=, value=).
        if recorder.scenario is None or not is_concrete(args or tuple(kwargs.values())):
            return original(*args, **kwargs)  # symbolic build or trace: nothing to measure
        path = static_path if fixed_path else recorder.path_of(layer, static_path)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        training = as_training(bound.arguments.get("training"))
        inputs = bound.arguments.get("inputs", args[0] if args else None)

        def reference() -> Any:
            bound.arguments["training"] = False
            with _call_context_kept():
                return original(*bound.args, **bound.kwargs)

        if kind == "bn":
            before = moving_statistics(layer)
            outputs = original(*args, **kwargs)
            after = moving_statistics(layer)
            moved = not all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))
            batch_stats = (
                recognise_batch_statistics(layer, inputs, outputs, before, after)
                if bound.arguments.get("mask") is None  # masked moments: ask Keras
                else None
            )
            if batch_stats is None:  # not recognisable from the numbers: ask Keras
                batch_stats = differs(outputs, reference())
            record = CallRecord(
                class_name, training, moved, batch_stats=batch_stats, moving_stats_changed=moved
            )
        elif kind == "dropout":
            outputs = original(*args, **kwargs)
            # Every Dropout-family layer of Keras returns its input unchanged when
            # not training, so "did it act" needs no second, training=False call.
            # A subclass may do otherwise: ask it.
            seen_in, seen_out = as_arrays(inputs), as_arrays(outputs)
            acted = differs(
                seen_in if is_stock(layer, NOISE_CLASSES) else reference(), seen_out
            )
            fraction, exact, draws = (
                dropout_stats(layer, seen_in, seen_out) if acted else (0.0, None, None)
            )
            record = CallRecord(
                class_name,
                training,
                acted,
                fraction_zeroed=fraction,
                scaled_exactly=exact,
                draws=draws,
            )
        elif kind == "op":
            # A TensorFlow op knows no `training`: it acted when a second run on the
            # same arguments gives another result (a random op draws again).
            outputs = original(*args, **kwargs)
            record = CallRecord(class_name, training, differs(outputs, original(*args, **kwargs)))
        else:  # RNN, attention, augmentation: only Keras knows the training=False result
            _fresh_dropout_masks(layer)
            outputs = original(*args, **kwargs)
            _fresh_dropout_masks(layer)
            record = CallRecord(class_name, training, differs(outputs, reference()))
        recorder.class_names[path] = class_name
        recorder.add(path, record)
        return outputs

    layer.call = call
    return lambda: _restore_call(layer, own)


def _restore_call(layer: Any, own: Any) -> None:
    unset_call(layer)
    if own is not None:
        layer.call = own


def _fresh_dropout_masks(layer: Any) -> None:
    """Forget the dropout masks an RNN cell cached in an earlier eager call.

    tf_keras caches a cell's masks per graph, and for eager code per session;
    ``RNN.call`` resets them, but ``ConvRNN.call`` (ConvLSTM1D/2D/3D) does not. In
    a compiled fit() or predict() each traced graph makes its own mask for its own
    ``training``; run eagerly, the first mask made would serve every later call,
    so reset it as a new graph would.
    """
    for cell in getattr(getattr(layer, "cell", None), "cells", [getattr(layer, "cell", None)]):
        for reset in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
            if callable(getattr(cell, reset, None)):
                getattr(cell, reset)()


@contextmanager
def _call_context_kept() -> Iterator[None]:
    """Undo what a reference run leaves in Keras 3's shared call context.

    An RNN or wrapper passes its ``training`` explicitly to its inner layers; under
    Keras 3 the inner call writes it into the context that the whole top-level call
    shares (Keras 3.16 pre-releases keep it there), so a ``training=False`` reference
    run would change what later layers inherit. tf_keras keeps a stack of contexts
    and needs nothing.
    """
    state = sys.modules.get("keras.src.backend.common.global_state")
    context = state.get_global_attribute("current_call_ctx") if state is not None else None
    saved = dict(vars(context)) if context is not None else None
    try:
        yield
    finally:
        if context is not None and saved is not None:
            vars(context).clear()
            vars(context).update(saved)


def instrument(model: Any, recorder: Recorder) -> tuple[list[Callable[[], None]], dict[str, str]]:
    """Wrap the top model, every nested model and every stochastic or batch-normalising
    layer, at every depth: graph layers by their path among the models being called,
    layers held inside a graph layer (a KerasHub encoder's Dropouts) by their holder's
    path and their own path below it (:func:`.layer_kinds.watched_sublayers`). Returns
    the undo callables and the class name of each watched path."""
    undo = [wrap_model(model, recorder)]
    class_names: dict[str, str] = {}
    seen: set[int] = set()
    for path, layer in iter_layers(model):
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if is_model(layer):
            undo.append(wrap_model(layer, recorder))
            continue
        kind = instrument_kind(layer)
        if kind is not None:
            class_names[path] = type(layer).__name__
            undo.append(wrap_layer(layer, kind, path, recorder))
            continue
        for below, sub, sub_kind in watched_sublayers(layer):
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            inner_path = f"{path}/{below}"
            class_names[inner_path] = type(sub).__name__
            undo.append(wrap_layer(sub, sub_kind, inner_path, recorder, fixed_path=True))
    return undo, class_names
