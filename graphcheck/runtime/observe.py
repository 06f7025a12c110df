"""Ground truth: what a loaded Keras model really does in fit, predict and call.

`observe` wraps the `call` of every stochastic and mode-dependent layer at every
nesting depth, runs the model once per scenario and records, per call, the
`training` value the layer received and whether it acted (dropped units, added
noise, used batch statistics, moved its moving statistics).  It also records
which weight-bearing layers changed in one `fit()` step.

Keys are layer paths relative to the top model, nested model names joined with
"/" (``base/dropout_3``), *without* graphcheck's ``@k`` call suffixes: at run time
one cannot always tell which call of a shared layer is which, so every key holds
the list of its calls in execution order.

TensorFlow and Keras are imported inside functions only.  Every scenario runs
eagerly (``tf.config.run_functions_eagerly``) so that plain Python side effects
record every call, including those that `fit()` would otherwise trace into a
`tf.function`; the `training` values Keras passes do not depend on this.  The
model's variables are restored after every scenario, so scenarios do not leak
into each other and the caller's model is left as it was (apart from `compile`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from graphcheck.layers import HUB_PACKAGES
from graphcheck.runtime.arrays import batch_size_of, differs, flatten, single, to_numpy
from graphcheck.runtime.draw_recording import own_draws_recorded
from graphcheck.runtime.instrument import Recorder, instrument
from graphcheck.runtime.layer_kinds import is_model, iter_layers
from graphcheck.runtime.records import CallRecord, Observation, strip_call_suffixes
from graphcheck.semantics import RUN_SCENARIOS as SCENARIOS

__all__ = [
    "CallRecord", "Observation", "flavour_modules", "iter_layers", "observe",
    "predictions_repeat", "strip_call_suffixes",
]


def flavour_modules(model: Any) -> tuple[Any, str, str]:
    """Return (keras module, keras version, backend name) for the model's Keras.

    The package is read from the model's class hierarchy, so a subclass defined
    outside Keras (``--custom-objects``) is attributed to the Keras it derives from.
    A model of Keras 3 means ``keras`` is imported already, with its backend, so
    ``import keras`` below hands back that module.
    """
    packages = {cls.__module__.partition(".")[0] for cls in type(model).__mro__}
    if "tf_keras" in packages:
        import tf_keras

        return tf_keras, tf_keras.__version__, "tensorflow"
    import keras

    return keras, keras.__version__, keras.backend.backend()


def _weight_layers(model: Any) -> dict[str, list[Any]]:
    """Return each weight-bearing leaf layer's weights, those it declared non-trainable
    (BN moving statistics among them) excluded."""
    out: dict[str, list[Any]] = {}
    for path, layer in iter_layers(model):
        if is_model(layer):
            continue
        skip = {id(getattr(layer, n, None)) for n in ("moving_mean", "moving_variance")}
        # State a layer's call moves (a counter made with trainable=False) is no training.
        flatten = getattr(layer, "_flatten_layers", None)
        for sub in flatten(include_self=True) if callable(flatten) else [layer]:
            for attribute in ("_non_trainable_variables", "_non_trainable_weights"):
                skip.update(id(w) for w in getattr(sub, attribute, None) or [])
        weights = [w for w in layer.weights if id(w) not in skip]
        if weights:
            out.setdefault(path, weights)
    return out


def _declares_trainable(layer: Any) -> bool:
    """True when `layer` created a trainable weight, whatever its `trainable` flag now says."""
    for attribute in ("_trainable_variables", "_trainable_weights"):  # Keras 3, tf_keras
        declared = getattr(layer, attribute, None)
        if declared:
            return True
    inner = [getattr(layer, n, None) for n in ("layer", "forward_layer", "backward_layer", "cell")]
    return any(sub is not None and _declares_trainable(sub) for sub in inner) or any(
        _declares_trainable(sub) for sub in getattr(layer, "_layers", []) or []
    )


def _run_scenario(model: Any, scenario: str, inputs: Any, targets: Any) -> Any:
    inputs, targets = single(inputs), single(targets)
    if scenario == "fit":
        return model.fit(
            inputs, targets, epochs=1, batch_size=batch_size_of(inputs), verbose=0, shuffle=False
        )
    if scenario == "predict":
        return model.predict(inputs, batch_size=batch_size_of(inputs), verbose=0)
    if scenario == "call":
        return model(inputs)
    if scenario == "call_true":
        return model(inputs, training=True)
    if scenario == "call_false":
        return model(inputs, training=False)
    msg = f"unknown scenario {scenario!r} (expected one of {SCENARIOS})"
    raise ValueError(msg)


@contextmanager
def _eager(model: Any, keras: Any, backend: str) -> Iterator[None]:
    """Run every Keras step eagerly, so that instrumented calls see concrete values.

    TensorFlow: ``tf.config.run_functions_eagerly``, restored on exit.  JAX and
    torch: compile with ``run_eagerly=True`` (SGD, mean squared error; ``observe``
    compiles the same way for its fit step), which ``fit()`` and ``predict()``
    honour: no ``jax.jit``, no ``torch.compile``.  Two kinds of call still see no
    concrete value, by design of the backend: the shape inference Keras runs before
    a first step (``jax.eval_shape``, torch's "meta" device), and under JAX's
    ``fit()`` every value that depends on a trainable weight, which is a tracer of
    ``jax.value_and_grad`` (``jax.jvp`` linearisation, not ``jit``), whose
    ``primal`` holds the concrete value.
    """
    if backend != "tensorflow":
        model.compile(
            optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True,
            jit_compile=False, **_no_default_metrics(model),
        )
        yield
        return
    import tensorflow as tf

    was_eager = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(was_eager)


def predictions_repeat(model: Any, inputs: Any, first: Sequence[Any] = ()) -> bool:
    """Return True when two `predict()` calls on the same inputs give identical outputs.

    `first` is an earlier predict()'s flattened outputs; without it predict() runs
    twice. Give `first` only when the seed generators' state was not restored since
    (``observe`` restores every variable after a scenario, seed states included, so
    its `Observation.predict_outputs` would replay the same draws). Runs eagerly (no
    tracing cost); predict changes no variable but the seed generators' state.
    """
    keras, _, backend = flavour_modules(model)
    x = single(inputs)
    with _eager(model, keras, backend):
        if not first:
            first = flatten(model.predict(x, batch_size=batch_size_of(x), verbose=0))
        second = model.predict(x, batch_size=batch_size_of(x), verbose=0)
    return not differs(list(first), second)


def observe(
    model: Any,
    inputs: Any,
    scenarios: Sequence[str] = SCENARIOS,
    targets: Any = None,
) -> Observation:
    """Run `model` in each scenario and record what every stochastic layer did.

    Parameters
    ----------
    model
        An in-memory Keras 3 or tf_keras model.  It is compiled (SGD, mean squared
        error, eager) for the fit scenario; its variables are restored afterwards.
    inputs
        Numpy array(s) as `model.predict` accepts them, e.g. from `synthesise_inputs`.
    scenarios
        Any of ``fit``, ``predict``, ``call`` (``model(x)``), ``call_true`` and
        ``call_false`` (``model(x, training=True/False)``).
    targets
        Targets for the fit step; synthesised from the output shapes when None.

    Returns
    -------
    Observation
        Per scenario and group path, one `CallRecord` per call in execution order.
    """
    keras, version, backend = flavour_modules(model)
    recorder = Recorder()
    variables = list(model.variables)
    saved = [to_numpy(v).copy() for v in variables]
    weights = _weight_layers(model)
    weights_changed: dict[str, bool] = {}
    fit_error = None
    predict_outputs: tuple[Any, ...] = ()
    if "fit" in scenarios and targets is None:
        from graphcheck.runtime.inputs import synthesise_targets

        # Before instrumenting: shaping targets may take an inference call, which
        # must not be recorded as one of fit()'s.
        targets = synthesise_targets(model, inputs)
    undo, class_names = instrument(model, recorder)
    try:
        with _eager(model, keras, backend), own_draws_recorded(model, recorder, keras):
            for scenario in scenarios:
                recorder.scenario = scenario
                recorder.records.setdefault(scenario, {})
                if scenario == "fit":
                    y = targets
                    model.compile(
                        optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True,
                        **_no_default_metrics(model),
                    )
                    before = {p: [to_numpy(w).copy() for w in ws] for p, ws in weights.items()}
                    try:
                        _run_scenario(model, scenario, inputs, y)
                    except ValueError as exc:  # e.g. tf_keras: nothing trainable at all
                        fit_error = f"{type(exc).__name__}: {exc}"
                    weights_changed = {
                        p: any(
                            not np.array_equal(b, to_numpy(w))
                            for b, w in zip(before[p], ws, strict=True)
                        )
                        for p, ws in weights.items()
                    }
                else:
                    result = _run_scenario(model, scenario, inputs, None)
                    if scenario == "predict":
                        predict_outputs = tuple(to_numpy(x) for x in flatten(result))
                for variable, value in zip(variables, saved, strict=True):
                    variable.assign(value)
    finally:
        recorder.scenario = None
        for restore in undo:
            restore()
    return Observation(
        keras_version=version,
        backend=backend,
        records={s: {p: tuple(c) for p, c in by.items()} for s, by in recorder.records.items()},
        weights_changed=weights_changed,
        fit_error=fit_error,
        class_names={**class_names, **recorder.class_names},
        declares_trainable={
            path: _declares_trainable(layer)
            for path, layer in iter_layers(model)
            if path in weights
        },
        predict_outputs=predict_outputs,
    )


def _no_default_metrics(model: Any) -> dict[str, Any]:
    """Compile arguments that keep a KerasHub task from adding its default metrics.

    KerasHub tasks add accuracy metrics for ``metrics="auto"`` and for None, which do
    not fit the synthetic regression targets; an empty list stops them. Plain Keras
    models get nothing here: Keras 3.3 rejects ``metrics=[]`` for a model with several
    outputs (it wants one entry per output).
    """
    hub = any(
        c.__module__.split(".", 1)[0] in HUB_PACKAGES
        for c in type(model).__mro__
    )
    return {"metrics": [], "weighted_metrics": []} if hub else {}
