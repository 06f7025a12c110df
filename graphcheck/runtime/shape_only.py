"""Build a Keras 3 model whose variables have a shape and an initializer but no value.

``--rebuild`` needs the layer graph, each weight's shape and its trainable flag; it
never runs the model. Keras, though, computes every initializer the moment a layer
builds: for a BERT-base task that is 110 M random numbers (about 420 MiB) drawn only
to be thrown away, most of ``--rebuild``'s time and memory above the import of Keras.

Keras itself can hold a variable without a value: created inside a
``StatelessScope`` it keeps its initializer and answers ``.value`` with a fresh
placeholder, which shape inference and symbolic tracing take as they would the real
thing (under TensorFlow inside a scratch graph, under JAX inside ``eval_shape``, so
neither computes it). ``StatelessScope`` cannot be used for a whole model, because a
KerasHub task compiles an optimizer in its constructor, and a variable made from a
value (the optimizer's step counter) is refused inside the scope. So instead, for
the duration of the build only, variables made from an initializer take that
deferred state; variables made from a value are made as usual.

This leans on a private Keras method, ``Variable._initialize_with_initializer``
(Keras 3.1 and later). Where a Keras lacks it, or a layer reads or assigns a value
while it builds (which a value-less variable cannot answer), the caller builds again
with ordinary variables: :func:`build_shape_only` says which happened.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["build_shape_only"]

_HOOK = "_initialize_with_initializer"
T = TypeVar("T")


def build_shape_only(
    keras: Any, build: Callable[[], T], accept: Callable[[T], bool] = lambda _: True
) -> tuple[T, bool]:
    """Run ``build()`` with value-less variables; if that fails, run it again as usual.

    ``build`` constructs a model and reads what it needs off it; the model must never
    be called on data, since its variables have no value. ``accept`` says whether the
    value-less attempt's result will do (a symbolic call that a value-less variable
    could not answer leaves a mark in it); if not, the ordinary attempt runs too.
    Returns what ``build`` returned and whether the first, value-less attempt gave
    it. An exception from the ordinary attempt propagates.
    """
    # Sublayers a layer makes without a name ("dropout_3") are numbered from Keras's
    # session-wide counters: build from empty ones, as a fresh process loading the
    # file does, so the paths reported are those the user's load gives; the
    # caller's counters are put back afterwards.
    callers = _name_counters()
    _restore_name_counters({})
    try:
        return _build_value_less_first(keras, build, accept)
    finally:
        _restore_name_counters(callers)


def _build_value_less_first(
    keras: Any, build: Callable[[], T], accept: Callable[[T], bool]
) -> tuple[T, bool]:
    variable_class = getattr(keras, "Variable", None)  # the backend's own class
    if variable_class is not None and hasattr(variable_class, _HOOK):
        try:
            with _deferred_initializers(variable_class):
                result = build()
            if accept(result):
                return result, True
        except Exception:  # any failure: build again the ordinary way
            pass
        # The first attempt numbered the layers it made; the second starts afresh.
        _restore_name_counters({})
    return build(), False


def _name_counters() -> dict[str, int] | None:
    """A copy of Keras's per-prefix counters for automatic layer names (None: not found)."""
    state = _global_state()
    if state is None:
        return None
    return dict(state.get_global_attribute("object_name_uids") or {})


def _restore_name_counters(saved: dict[str, int] | None) -> None:
    state = _global_state()
    counters = state.get_global_attribute("object_name_uids") if state else None
    if saved is not None and counters is not None:
        counters.clear()
        counters.update(saved)


def _global_state() -> Any:
    try:
        return importlib.import_module("keras.src.backend.common.global_state")
    except ImportError:
        return None


@contextmanager
def _deferred_initializers(variable_class: type) -> Iterator[None]:
    """Make variables created from an initializer keep it instead of computing it.

    The state written is the one Keras gives a variable created in a
    ``StatelessScope`` (no value, the initializer kept), so Keras's own
    ``Variable.value`` answers for it.
    """
    had_own = _HOOK in vars(variable_class)
    own = vars(variable_class).get(_HOOK)

    def keep_initializer(variable: Any, initializer: Any) -> None:
        variable._value = None
        variable._initializer = initializer

    setattr(variable_class, _HOOK, keep_initializer)
    try:
        yield
    finally:
        if had_own:
            setattr(variable_class, _HOOK, own)
        else:
            delattr(variable_class, _HOOK)
