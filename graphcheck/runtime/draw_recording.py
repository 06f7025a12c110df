"""Recording random draws made in a layer's own code, Keras 3 and tf_keras side by side.

Keras 3 draws every random number through a ``SeedGenerator``, whose ``next`` is
watched; tf_keras has none, and there the stateful random ops TensorFlow runs are
seen. Either way a draw is counted for the innermost watched layer running.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from graphcheck.runtime.arrays import as_training, differs, is_concrete
from graphcheck.runtime.instrument import Recorder, unset_call
from graphcheck.runtime.layer_kinds import is_model, iter_layers
from graphcheck.runtime.records import CallRecord


@contextmanager
def own_draws_recorded(model: Any, recorder: Recorder, keras: Any) -> Iterator[None]:
    """Record, per call, whether each layer that could draw random numbers in its own
    code (a class graphcheck's tables do not know, at any depth below a graph layer)
    drew any: a ``SeedGenerator.next`` during its call, from a generator it owns, or
    from one nobody below it owns (Keras's global one) while it is the innermost such
    layer running. tf_keras has no ``SeedGenerator``: there the stateful random ops
    TensorFlow runs are seen (:func:`_tf_keras_own_draws_recorded`). Keys are
    the graph layer's path, then the sublayer's path below it (``static`` paths)."""
    if keras.__name__ == "tf_keras":
        with _tf_keras_own_draws_recorded(model, recorder):
            yield
        return
    generators = getattr(getattr(keras, "random", None), "SeedGenerator", None)
    if generators is None or not hasattr(generators, "next"):
        yield
        return
    from graphcheck.runtime.sublayers import (
        class_origin,
        drawing_candidates,
        known_stochastic_layers,
        layer_paths,
    )

    watched: dict[int, tuple[str, Any]] = {}
    # Known stochastic layers (ConvNeXt's StochasticDepth draws from Keras's global
    # generator): their draws are theirs, no watched holder's own-code draw.
    silenced: dict[int, Any] = {}
    # Every generator below a graph layer: a watched layer's is its own; any other
    # (a Keras Dropout's) is no watched layer's draw (None).
    owners: dict[int, int | None] = {}
    for path, layer in iter_layers(model):
        if is_model(layer):
            continue
        for sub in layer_paths(layer).values():
            for generator in getattr(sub, "_seed_generators", []):
                owners.setdefault(id(generator), None)
        for below, sub in drawing_candidates(layer, class_origin).items():
            watched.setdefault(id(sub), (f"{path}/{below}" if below else path, sub))
        for sub in known_stochastic_layers(layer, class_origin):
            silenced.setdefault(id(sub), sub)
    for _, sub in watched.values():
        for generator in getattr(sub, "_seed_generators", []):
            owners[id(generator)] = id(sub)
    running: list[int] = []
    drew: dict[int, int] = {}
    original_next = generators.next

    def next_(generator: Any, *args: Any, **kwargs: Any) -> Any:
        if id(generator) in owners:
            owner = owners[id(generator)]
        else:  # Keras's global generator (seed=None): the innermost watched call's
            owner = running[-1] if running else None
        if owner is not None and owner != _NOBODY:
            drew[owner] = drew.get(owner, 0) + 1
        return original_next(generator, *args, **kwargs)

    # A layer observe() instruments already (a user's Dropout subclass) keeps its records.
    watched = {key: item for key, item in watched.items() if "call" not in vars(item[1])}
    silenced = {key: sub for key, sub in silenced.items() if key not in watched}
    generators.next = next_
    try:
        with _draw_calls_wrapped(watched, silenced, recorder, running, drew):
            yield
    finally:
        generators.next = original_next


@contextmanager
def _tf_keras_own_draws_recorded(model: Any, recorder: Recorder) -> Iterator[None]:
    """tf_keras: record, per call, whether each layer that could draw random numbers in
    its own code (the static side's candidates, :mod:`graphcheck.runtime.sublayers`)
    ran a stateful random op while it was the innermost such layer running, or ran a
    stateless one and, run again on the same arguments, returned something else (a
    seed read from a variable it moves). A Dropout (any class the tables describe) held
    by one draws under a marker that is nobody's."""
    from graphcheck.runtime.sublayers import known_stochastic_sublayers, tf_keras_drawing_candidates
    from graphcheck.runtime.tf_random_draws import stateful_draws_observed

    watched: dict[int, tuple[str, Any]] = {}
    silenced: dict[int, Any] = {}
    for path, layer in iter_layers(model):
        if is_model(layer):
            continue
        for below, sub in tf_keras_drawing_candidates(layer).items():
            watched.setdefault(id(sub), (f"{path}/{below}" if below else path, sub))
        for sub in known_stochastic_sublayers(layer):
            silenced.setdefault(id(sub), sub)
    # A layer observe() instruments already (a user's Dropout subclass) keeps its records.
    watched = {key: item for key, item in watched.items() if "call" not in vars(item[1])}
    if not watched:  # nothing to watch: no callback on every op TensorFlow runs
        yield
        return
    running: list[int] = []
    drew: dict[int, int] = {}

    stateless: dict[int, int] = {}

    def counter(counts: dict[int, int]) -> Callable[[str], None]:
        def count(op_type: str) -> None:
            if running and running[-1] != _NOBODY:
                counts[running[-1]] = counts.get(running[-1], 0) + 1

        return count

    with (_draw_calls_wrapped(watched, silenced, recorder, running, drew, stateless),
          stateful_draws_observed(counter(drew), counter(stateless))):
        yield


#: On the stack of running watched layers: a call whose draws are nobody's.
_NOBODY = -1


@contextmanager
def _draw_calls_wrapped(
    watched: dict[int, tuple[str, Any]], silenced: dict[int, Any], recorder: Recorder,
    running: list[int], drew: dict[int, int], stateless: dict[int, int] | None = None,
) -> Iterator[None]:
    """Wrap each watched layer's ``call`` to record its draws, and each silenced one's
    (a known stochastic class inside them) to mark its draws nobody's; put back what
    each had before."""
    wrapped = [*((key, sub) for key, (_, sub) in watched.items()), *silenced.items()]
    previous = {key: vars(sub).get("call") for key, sub in wrapped}
    for key, (path, sub) in watched.items():
        counts = {} if stateless is None else stateless
        sub.call = _drawing_call(sub, path, key, recorder, running, drew, counts)
    for sub in silenced.values():
        sub.call = _nobodys_call(sub, running)
    try:
        yield
    finally:
        for key, sub in wrapped:
            if previous[key] is None:
                unset_call(sub)
            else:
                sub.call = previous[key]


def _nobodys_call(layer: Any, running: list[int]) -> Callable[..., Any]:
    original = layer.call

    def call(*args: Any, **kwargs: Any) -> Any:
        running.append(_NOBODY)
        try:
            return original(*args, **kwargs)
        finally:
            running.pop()

    return call


def _drawing_call(
    layer: Any, path: str, key: int, recorder: Recorder, running: list[int],
    drew: dict[int, int], stateless: dict[int, int],
) -> Callable[..., Any]:
    original = layer.call
    signature = inspect.signature(original)
    class_name = type(layer).__name__

    def call(*args: Any, **kwargs: Any) -> Any:
        before, seeded = drew.get(key, 0), stateless.get(key, 0)
        running.append(key)
        try:
            outputs = original(*args, **kwargs)
        finally:
            running.pop()
        if recorder.scenario is not None and is_concrete(args):
            bound = signature.bind_partial(*args, **kwargs)
            training = bound.arguments.get("training", _context_training())
            acted = drew.get(key, 0) > before
            if not acted and stateless.get(key, 0) > seeded:
                # A stateless op draws anew only if its seed varies (one read from a
                # variable the layer moves): run the call again, as its second call would.
                # Nothing it runs again is recorded a second time (no scenario is set).
                running.append(_NOBODY)
                scenario, recorder.scenario = recorder.scenario, None
                try:
                    acted = differs(outputs, original(*args, **kwargs))
                finally:
                    recorder.scenario = scenario
                    running.pop()
            record = CallRecord(class_name, as_training(training), acted)
            recorder.class_names[path] = class_name
            recorder.add(path, record)
        return outputs

    return call


def _context_training() -> Any:
    """The ``training`` value in Keras 3's call context (None outside any call)."""
    state = sys.modules.get("keras.src.backend.common.global_state")
    context = state.get_global_attribute("current_call_ctx") if state is not None else None
    return getattr(context, "training", None)
