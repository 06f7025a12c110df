"""The validating forward pass: run the model and check every static claim against it.

`validate_model` loads a saved model with the Keras that will run it
(:mod:`.loading`), synthesises seeded inputs from its input specs, and runs
``predict()``, ``model(x)``, ``model(x, training=True)``, ``model(x,
training=False)`` and one ``fit()`` step with every stochastic and
BatchNormalization layer instrumented (:func:`.observe.observe`).  Each observation
is compared with the static prediction for the Keras version that ran the model
(:func:`.expectations.expected_behaviour`):

- per stochastic call and scenario: the ``training`` value received and whether the
  call changed its input;
- Dropout and SpatialDropout: the fraction of units zeroed is within a binomial
  tolerance of the configured rate, and kept units are scaled by exactly 1/(1-rate);
- BatchNormalization: batch statistics used and moving statistics updated;
- every weight-bearing layer: weights changed in the fit step vs ``will_train``;
- two ``predict()`` calls are identical exactly when no call is active in predict.

A disagreement is a finding (GC901, error); the CLI exits 1 when there is one.
The model's variables are restored after each scenario, and the file is never written.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from graphcheck.analyses.model_analysis import ModelAnalysis, analyse_graph
from graphcheck.distribution import install_command
from graphcheck.errors import (
    GraphcheckError,
    MissingDependencyError,
    UnsupportedModelError,
    ValidationError,
    ValidationTimeout,
    ValidationUsageError,
)
from graphcheck.graph import build_graph
from graphcheck.layers import BATCH_NORM_CLASSES
from graphcheck.model import ModelDesc, SavedModelDesc
from graphcheck.profile_choice import choose_profile, installed_kerases
from graphcheck.readers import read_model
from graphcheck.runtime.expectations import (
    Expectation,
    expected_behaviour,
)
from graphcheck.runtime.loading import import_quietly, loader_candidates
from graphcheck.runtime.observe import CallRecord, Observation, strip_call_suffixes
from graphcheck.semantics import RUN_SCENARIOS, SCENARIO_LABELS

__all__ = [
    "PHASES",
    "CallCheck",
    "Disagreement",
    "DropoutCheck",
    "ScenarioCheck",
    "ValidationOptions",
    "ValidationResult",
    "WeightCheck",
    "compare",
    "validate_model",
]

#: Said after the rebuilt graph's source when validate rebuilt it without --rebuild.
_UNASKED = " (the config stores no layer graph: rebuilt without weights, no --rebuild needed)"
PHASES: tuple[str, ...] = ("import", "load", "predict", "call", "fit", "compare")
#: Slack added to the binomial tolerance: rounding, and relu zeros counted as draws.
RATE_SLACK = 0.02


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """How to run one validation.

    ``keras_version`` computes the static prediction for another Keras than the one
    that runs the model; it exists to test the checker (a planted disagreement).
    ``backend=None`` chooses as Keras does: Keras 3 runs on ``KERAS_BACKEND`` (when
    it names tensorflow, jax or torch, else tensorflow) and tf_keras on TensorFlow.
    """

    seed: int = 0
    batch_size: int = 8
    device: str = "auto"
    backend: str | None = "tensorflow"
    timeout: float | None = 300.0
    trust_model: bool = False
    custom_objects: str | None = None
    keras_version: str | None = None
    # --rebuild: the static side is the model built from its config (no weights).
    rebuild: bool = False


@dataclass(frozen=True, slots=True)
class ScenarioCheck:
    """One group of calls in one scenario: the static claim and what Keras did.

    Values are sorted per call so that a shared layer's calls compare as a multiset.
    ``runtime_moved`` (BatchNormalization only) says whether the moving statistics
    changed; the static claim is that they change exactly when batch statistics are used.
    """

    scenario: str
    static_training: tuple[bool, ...]
    static_active: tuple[bool, ...]
    runtime_training: tuple[bool, ...]
    runtime_active: tuple[bool, ...]
    runtime_moved: tuple[bool, ...] = ()
    # False for a layer drawing random numbers in its own code: the static side claims
    # only whether it draws in the scenario (any call), not what each call receives.
    training_claimed: bool = True

    @property
    def observed(self) -> bool:
        return bool(self.runtime_active)

    @property
    def agree(self) -> bool:
        if not self.observed:
            return True
        if not self.training_claimed:
            return any(self.static_active) == any(self.runtime_active)
        static = Counter(zip(self.static_training, self.static_active, strict=True))
        runtime = Counter(zip(self.runtime_training, self.runtime_active, strict=True))
        moved_ok = not self.runtime_moved or Counter(self.runtime_moved) == Counter(
            self.static_active
        )
        return static == runtime and moved_ok


@dataclass(frozen=True, slots=True)
class DropoutCheck:
    """One active inverted-dropout call: fraction zeroed vs rate, and the 1/(1-rate) scale."""

    scenario: str
    rate: float
    fraction: float | None
    draws: int | None
    tolerance: float | None
    scaled_exactly: bool | None

    @property
    def rate_ok(self) -> bool | None:
        if self.fraction is None or self.tolerance is None:
            return None
        return abs(self.fraction - self.rate) <= self.tolerance

    @property
    def agree(self) -> bool:
        return self.rate_ok is not False and self.scaled_exactly is not False


@dataclass(frozen=True, slots=True)
class CallCheck:
    """A stochastic or BatchNormalization layer (all its calls), checked in every scenario."""

    path: str
    class_name: str
    kind: str
    scenarios: tuple[ScenarioCheck, ...]
    dropout: tuple[DropoutCheck, ...] = ()
    predicted: bool = True

    @property
    def observed(self) -> bool:
        return any(s.observed for s in self.scenarios)

    @property
    def agree(self) -> bool:
        return all(s.agree for s in self.scenarios) and all(d.agree for d in self.dropout)


@dataclass(frozen=True, slots=True)
class WeightCheck:
    """A weight-bearing layer: will its weights train (static) and did they (fit step)?

    ``agree`` is None when the layer declares no trainable weight at all (e.g.
    Normalization's statistics): nothing to change, nothing to compare.
    """

    path: str
    will_train: bool
    changed: bool
    declares_trainable: bool

    @property
    def agree(self) -> bool | None:
        if self.will_train and not self.changed and not self.declares_trainable:
            return None
        return self.will_train == self.changed


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A static claim that the run contradicted: finding GC901, severity error."""

    path: str
    aspect: str
    scenario: str | None
    static: Any
    runtime: Any
    message: str


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """Everything one validation found, with where and how long it ran."""

    path: str
    package: str
    keras_version: str
    backend: str
    device: str
    profile: str
    profile_keras_version: str | None
    seed: int
    batch_size: int
    input_shapes: tuple[tuple[int, ...], ...]
    calls: tuple[CallCheck, ...]
    weights: tuple[WeightCheck, ...]
    static_deterministic: bool | None
    runtime_deterministic: bool
    fit_error: str | None
    disagreements: tuple[Disagreement, ...]
    timings: Mapping[str, float] = field(default_factory=dict)
    # Where the static side's graph came from: ``stored config``, or ``rebuilt with
    # keras X.Y`` (with --rebuild, or on its own for a config without a layer graph).
    static_source: str = "stored config"

    @property
    def agree(self) -> bool:
        return not self.disagreements


ProgressFn = Callable[[str], None]


def validate_model(
    path: str,
    options: ValidationOptions | None = None,
    progress: ProgressFn | None = None,
) -> ValidationResult:
    """Load `path`, run it in every scenario and compare with the static prediction.

    Parameters
    ----------
    path
        A saved model graphcheck can read (.h5, .keras, architecture JSON, SavedModel).
    options
        Seed, batch size, device, backend, timeout and trust settings.
    progress
        Called with a short phase description ("load", "fit", ...) as each starts.

    Returns
    -------
    ValidationResult
        ``result.agree`` is False when any observation contradicts the static report.

    Raises
    ------
    GraphcheckError
        The file is unreadable (exit 3); ValidationError: refused (Lambda or custom
        classes without trust), unloadable, raised while running, or timed out (exit 3);
        MissingDependencyError: TensorFlow, the backend or the GPU is missing (exit 4).
    """
    options = options or ValidationOptions()
    if options.custom_objects and not options.trust_model:
        raise ValidationUsageError(
            "--custom-objects", "executes Python code: pass --trust-model as well"
        )
    report = progress or (lambda _phase: None)
    timings: dict[str, float] = {}
    with _watchdog(options.timeout, path):
        return _validate(path, options, report, timings)


def _validate(
    path: str, options: ValidationOptions, report: ProgressFn, timings: dict[str, float]
) -> ValidationResult:
    from graphcheck.runtime import loading

    clock = _Clock(timings)
    with clock("load"):
        # --rebuild: the static side is built by Keras itself, once it is imported
        # below; until then only the file's own statements (format, version) count.
        # Keras is imported anyway, so a config without a layer graph (a KerasHub
        # task or preset, a subclassed model) is rebuilt without asking for --rebuild.
        rebuild, saved = options.rebuild, None
        if not rebuild:
            try:
                saved = read_model(path)
            except UnsupportedModelError:
                rebuild = True
        if saved is None:
            saved = _stated_model(path)
        graph = None if rebuild else build_graph(saved)
        installed = installed_kerases()
        backend, source = options.backend, None
        if backend is None:  # as Keras itself: KERAS_BACKEND, which tf_keras ignores
            backend = loading.environment_backend()
            source = f"KERAS_BACKEND={backend}"
        candidates = loader_candidates(
            saved, "tensorflow" if options.backend is None else backend, installed
        )
        if rebuild:  # built and run by the Keras of the file's dialect only
            from graphcheck.runtime.rebuild import rebuild_package

            candidates = [p for p in candidates if p == rebuild_package(saved.dialect)]
        if not candidates and rebuild:
            from graphcheck.runtime.rebuild import RebuildOptions, rebuild_model

            # Says why (a Keras 1 config, a SavedModel, tf_keras missing) and raises.
            rebuild_model(path, RebuildOptions(options.trust_model, options.custom_objects))
        if not candidates:
            raise _no_loader(saved, backend, installed)
        if candidates[0] == "tf_keras":
            backend = "tensorflow"
    report("import")
    with clock("import"):
        loading.prepare_backend(
            backend, options.device, source=source, keras3=candidates[0] == "keras"
        )
        if backend == "tensorflow":
            loading.import_quietly("tensorflow")
        else:
            loading.preload_tensorflow()
        loading.import_quietly(candidates[0])
        placement, device = loading.device_scope(options.device, backend)
    with clock("load"):
        if graph is None:
            # --rebuild refuses untrusted content itself, by module, before building
            # (KerasHub's classes are Keras-family classes graphcheck does not list).
            from graphcheck.runtime.rebuild import RebuildOptions, rebuild_model

            # The rebuild numbers unnamed sublayers (a KerasHub block's "drop_path_1")
            # from empty name counters, as the loader's cleared session does.
            saved = rebuild_model(path, RebuildOptions(options.trust_model, options.custom_objects))
            graph = build_graph(saved)
        else:
            _refuse_untrusted(
                graph, saved.keras_version, installed[candidates[0]], options, path, candidates
            )
        custom = (
            loading.load_custom_objects(options.custom_objects) if options.custom_objects else {}
        )
    report("load")
    with loading.quiet_keras(), placement:
        with clock("load"):
            model, running = _load_first(saved, candidates, options, custom, installed)
            analysis = analyse_graph(
                graph, choose_profile(saved.keras_version, options.keras_version or running.version)
            )
            with _model_errors(path, "input synthesis"):
                inputs, targets = _synthesise(model, options)
        observation, repeat = _run_scenarios(model, inputs, targets, clock, report, path)
    report("compare")
    with clock("compare"):
        result = compare(analysis, observation, repeat)
    return ValidationResult(
        path=saved.path,
        package=running.package,
        keras_version=running.version,
        backend=running.backend,
        device=device,
        profile=analysis.profile.name,
        profile_keras_version=analysis.choice.keras_version,
        seed=options.seed,
        batch_size=options.batch_size,
        input_shapes=tuple(
            tuple(int(d) for d in x.shape)
            for x in (inputs.values() if isinstance(inputs, dict) else inputs)
        ),
        calls=result.calls,
        weights=result.weights,
        static_deterministic=result.static_deterministic,
        runtime_deterministic=repeat,
        fit_error=observation.fit_error,
        disagreements=result.disagreements,
        timings={phase: round(timings.get(phase, 0.0), 3) for phase in PHASES},
        static_source=saved.source + ("" if options.rebuild or not rebuild else _UNASKED),
    )


def _no_loader(saved: Any, backend: str, installed: Mapping[str, str]) -> GraphcheckError:
    """The error for a file that no installed Keras can load with `backend`."""
    if "keras" not in installed and "tf_keras" not in installed:
        return MissingDependencyError(
            saved.path, f"no Keras is installed to run it ({install_command('runtime')})"
        )
    what = "a SavedModel directory" if saved.format == "savedmodel" else "this file"
    return _tf_keras_needed(saved.path, what, backend, installed)


def _tf_keras_needed(
    path: str, what: str, backend: str, installed: Mapping[str, str]
) -> GraphcheckError:
    """Only tf_keras can load `what`: say why it was not used (exit 4 or 3)."""
    missing = [
        name
        for name, absent in (
            ("tf_keras", "tf_keras" not in installed),
            ("TensorFlow", importlib.util.find_spec("tensorflow") is None),
        )
        if absent
    ]
    if missing:
        return MissingDependencyError(
            path, f"{what} needs tf_keras on TensorFlow; {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed here "
            f"({install_command('runtime')}; then --backend tensorflow)"
        )
    return ValidationError(
        path, f"{what} needs tf_keras, which runs only on TensorFlow: validate it with "
        f"--backend tensorflow, not --backend {backend}"
    )


def _refuse_untrusted(
    graph: Any,
    saved_version: str | None,
    version: str,
    options: ValidationOptions,
    path: str,
    packages: Sequence[str],
) -> None:
    """Refuse Lambda layers and classes Keras does not ship, unless the user trusts the file."""
    if options.trust_model:
        return
    analysis = analyse_graph(graph, choose_profile(saved_version, version))
    code = analysis.code_calls()
    if code:
        names = ", ".join(f"{c.path} ({c.layer.class_name})" for c in code[:3])
        raise ValidationError(
            path, f"refusing to load a model with Python code in its layers: {names}; "
            "pass --trust-model to run it anyway"
        )
    custom = [
        c for c in analysis.unknown_calls() if not _is_builtin(c.layer.class_name, packages)
    ]
    if custom:
        names = ", ".join(sorted({c.layer.class_name for c in custom})[:5])
        raise ValidationError(
            path, f"refusing to load custom layer classes ({names}); pass --trust-model "
            "and --custom-objects FILE.py defining them"
        )


def _is_builtin(class_name: str, packages: Sequence[str]) -> bool:
    """True when a class name is a layer one of `packages` ships (found by name, nothing run).

    Only the packages that may load the model are asked: with ``--backend jax`` or
    ``torch``, tf_keras (and so TensorFlow) is never imported.
    """
    for package in packages:
        if importlib.util.find_spec(package) is None:
            continue
        try:
            module = import_quietly(package)
        except ImportError:  # e.g. tf_keras installed without TensorFlow
            continue
        if isinstance(getattr(module.layers, class_name, None), type):
            return True
    return False


def _load_first(
    saved: Any,
    candidates: Sequence[str],
    options: ValidationOptions,
    custom: Mapping[str, Any],
    installed: Mapping[str, str],
) -> tuple[Any, Any]:
    from graphcheck.runtime.loading import load_keras_model

    failures: list[str] = []
    for package in candidates:
        try:
            return load_keras_model(
                saved, package, trust=options.trust_model, custom_objects=custom, seed=options.seed
            )
        except ValidationError as exc:
            failures.append(exc.problem)
    if "tf_keras" not in candidates and saved.dialect in ("keras1", "keras2"):
        # Keras 3 reads some Keras 2 files, not all (nested models' node indices).
        keras_major = saved.dialect[-1]
        hint = _tf_keras_needed(
            saved.path, f"saved by Keras {keras_major}, it", options.backend or "tensorflow",
            installed,
        )
        raise type(hint)(saved.path, f"{hint.problem}; {'; '.join(failures)}")
    raise ValidationError(saved.path, "; ".join(failures))


def _stated_model(path: str) -> SavedModelDesc:
    """What a file says about itself, for choosing the loader before --rebuild builds it."""
    from graphcheck.readers import read_config_source
    from graphcheck.readers.keras_config import detect_dialect

    source = read_config_source(path)
    empty = ModelDesc(name="", class_name="", layers=(), inputs=(), outputs=(), trainable=None)
    return SavedModelDesc(
        path=source.subject, format=source.format, keras_version=source.keras_version,
        backend=source.backend, dialect=detect_dialect(source.config, source.keras_version),
        model=empty,
    )


def _synthesise(model: Any, options: ValidationOptions) -> tuple[Any, list[Any]]:
    from graphcheck.runtime.inputs import synthesise_inputs, synthesise_targets

    inputs = synthesise_inputs(model, batch_size=options.batch_size, seed=options.seed)
    return inputs, synthesise_targets(model, inputs, seed=options.seed + 1)


def _run_scenarios(
    model: Any, inputs: Any, targets: Any, clock: _Clock, report: ProgressFn, path: str
) -> tuple[Observation, bool]:
    from graphcheck.runtime.observe import observe, predictions_repeat

    parts: list[Observation] = []
    repeat = True
    for phase, scenarios in (
        ("predict", ("predict",)),
        ("call", ("call", "call_true", "call_false")),
        ("fit", ("fit",)),
    ):
        report(phase)
        with clock(phase), _model_errors(path, phase):
            parts.append(observe(model, inputs, scenarios=scenarios, targets=targets))
            if phase == "predict":
                # Two predict() calls of their own: observe() restored the seed
                # generators' state after its predict(), so comparing with that one
                # would replay the same draws (an MC dropout would look deterministic).
                repeat = predictions_repeat(model, inputs)
    return _merge(parts), repeat


def _merge(parts: Sequence[Observation]) -> Observation:
    records: dict[str, Any] = {}
    class_names: dict[str, str] = {}
    for part in parts:
        records.update(part.records)
        class_names.update(part.class_names)
    fit = parts[-1]
    return Observation(
        keras_version=fit.keras_version,
        backend=fit.backend,
        records=records,
        weights_changed=fit.weights_changed,
        fit_error=fit.fit_error,
        class_names=class_names,
        declares_trainable=fit.declares_trainable,
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome of :func:`compare`."""

    calls: tuple[CallCheck, ...]
    weights: tuple[WeightCheck, ...]
    static_deterministic: bool | None
    disagreements: tuple[Disagreement, ...]


def compare(
    analysis: ModelAnalysis, observation: Observation, runtime_deterministic: bool
) -> Comparison:
    """Compare an observation with the static prediction of `analysis`.

    Calls are grouped by path without ``@k`` suffixes (at run time the calls of a
    shared layer cannot be told apart); per group and scenario the static and
    observed ``(training, active)`` pairs must be equal as multisets.  A layer the
    analysis does not list is compared only if it acted (a rate-0 layer may be left out)
    and is of a class Keras defines (of an opaque class, nothing is claimed).
    """
    expectations: dict[str, list[Expectation]] = {}
    for item in expected_behaviour(analysis):
        expectations.setdefault(strip_call_suffixes(item.path), []).append(item)
    observed_paths = {p for by_path in observation.records.values() for p in by_path}
    # Classes Keras does not define are opaque: the static side claims nothing about
    # them (a Dropout subclass may be an MC dropout), so nothing is compared.
    # The same for what such a layer holds: a file's config says nothing of sublayers.
    opaque = {strip_call_suffixes(c.path) for c in analysis.unknown_calls()}
    observed_paths = {
        p for p in observed_paths
        if not any(p == o or p.startswith(f"{o}/") for o in opaque) or p in expectations
    }
    calls = []
    for group in sorted(set(expectations) | observed_paths, key=_order_key(analysis)):
        check = _check_group(group, expectations.get(group, []), observation)
        if check is not None:
            calls.append(check)
    weights = _check_weights(analysis, observation)
    static_deterministic = _static_deterministic(analysis)
    disagreements = [d for c in calls for d in _call_disagreements(c, observation.keras_version)]
    disagreements.extend(
        Disagreement(
            w.path, "weights", "fit", w.will_train, w.changed,
            f"{w.path}: static says its weights {'will' if w.will_train else 'will not'} train; "
            f"one fit() step {'changed' if w.changed else 'did not change'} them",
        )
        for w in weights
        if w.agree is False
    )
    if static_deterministic is not None and static_deterministic != runtime_deterministic:
        disagreements.append(
            Disagreement(
                "(model)", "predict_repeatable", "predict", static_deterministic,
                runtime_deterministic,
                f"static says two predict() calls give {_same(static_deterministic)} "
                f"outputs; they were {_same(runtime_deterministic)}",
            )
        )
    return Comparison(tuple(calls), tuple(weights), static_deterministic, tuple(disagreements))


def _same(identical: bool) -> str:
    return "identical" if identical else "different"


def _order_key(analysis: ModelAnalysis) -> Callable[[str], tuple[int, str]]:
    """Graph order; a sublayer (``holder/inner``) right after its holder."""
    order = {strip_call_suffixes(p): i for i, p in reversed(list(enumerate(analysis.graph)))}

    def key(group: str) -> tuple[int, str]:
        parts = group.split("/")
        for end in range(len(parts), 0, -1):
            found = order.get("/".join(parts[:end]))
            if found is not None:
                return found, group
        return len(order), group

    return key


def _check_group(
    group: str, expected: Sequence[Expectation], observation: Observation
) -> CallCheck | None:
    is_bn = observation.class_names.get(group) in BATCH_NORM_CLASSES
    kind = expected[0].kind if expected else ("batch_norm" if is_bn else "stochastic")
    if kind in ("own_random", "inner", "op"):
        return _check_activity(group, expected, observation)
    scenarios = []
    for scenario in RUN_SCENARIOS:
        records: Sequence[CallRecord] = observation.records.get(scenario, {}).get(group, ())
        if kind == "batch_norm":
            active = tuple(bool(r.batch_stats) for r in records)
            moved = tuple(bool(r.moving_stats_changed) for r in records)
        else:
            active, moved = tuple(r.active for r in records), ()
        pairs = sorted(zip((bool(r.training) for r in records), active, strict=True))
        static = sorted((e.training[scenario], bool(e.active[scenario])) for e in expected)
        scenarios.append(
            ScenarioCheck(
                scenario,
                tuple(t for t, _ in static),
                tuple(a for _, a in static),
                tuple(t for t, _ in pairs),
                tuple(a for _, a in pairs),
                tuple(sorted(moved)),
            )
        )
    if not expected:
        if not any(any(s.runtime_active) for s in scenarios):
            return None  # never acted: the static side may leave it out
        class_name = observation.class_names.get(group, "?")
        return CallCheck(group, class_name, kind, tuple(scenarios), predicted=False)
    dropout = _dropout_checks(group, expected, observation)
    return CallCheck(group, expected[0].class_name, kind, tuple(scenarios), dropout)


def _check_activity(
    group: str, expected: Sequence[Expectation], observation: Observation
) -> CallCheck:
    """A sublayer held by a layer, a layer drawing random numbers in its own code, or a
    TensorFlow op a tf_keras graph records (which knows no ``training``): did it act
    (a Keras Dropout, attention, an op run twice) or draw (own code), per scenario? The
    static side claims activity per scenario, not the ``training`` value the holder's
    code hands its sublayer. A scenario whose activity is not known
    statically (None) claims nothing."""
    scenarios = []
    for scenario in RUN_SCENARIOS:
        claims = [e.active[scenario] for e in expected]
        records: Sequence[CallRecord] = observation.records.get(scenario, {}).get(group, ())
        if any(c is None for c in claims):
            records = ()  # nothing claimed: shown as not compared
        scenarios.append(
            ScenarioCheck(
                scenario,
                tuple(e.training[scenario] for e in expected),
                tuple(bool(c) for c in claims),
                tuple(bool(r.training) for r in records),
                tuple(r.active for r in records),
                training_claimed=False,
            )
        )
    kind = expected[0].kind
    if kind == "inner":
        dropout = _dropout_checks(group, expected, observation)
        return CallCheck(group, expected[0].class_name, "stochastic", tuple(scenarios), dropout)
    if kind == "op":
        return CallCheck(group, expected[0].class_name, "stochastic", tuple(scenarios))
    return CallCheck(group, expected[0].class_name, kind, tuple(scenarios))


def _dropout_checks(
    group: str, expected: Sequence[Expectation], observation: Observation
) -> tuple[DropoutCheck, ...]:
    rate = expected[0].rate
    if rate is None or not 0 < rate < 1:
        return ()
    checks = []
    for scenario in RUN_SCENARIOS:
        for record in observation.records.get(scenario, {}).get(group, ()):
            if not record.active:
                continue
            tolerance = None
            if record.draws:
                tolerance = 4 * (rate * (1 - rate) / record.draws) ** 0.5 + RATE_SLACK
            checks.append(
                DropoutCheck(
                    scenario, rate, record.fraction_zeroed, record.draws, tolerance,
                    record.scaled_exactly,
                )
            )
    return tuple(checks)


def _check_weights(analysis: ModelAnalysis, observation: Observation) -> list[WeightCheck]:
    will_train: dict[str, bool] = {}
    for path, state in analysis.frozen.calls.items():
        if state.will_train is not None:
            will_train.setdefault(strip_call_suffixes(path), state.will_train)
    return [
        WeightCheck(
            path, will_train[path], changed, observation.declares_trainable.get(path, True)
        )
        for path, changed in observation.weights_changed.items()
        if path in will_train
    ]


def _static_deterministic(analysis: ModelAnalysis) -> bool | None:
    from graphcheck.semantics import Scenario

    if any(s.active[Scenario.PREDICT] for s in analysis.inner_stochastic):
        return False  # a sublayer, or a layer drawing in its own code, is random there
    if analysis.unknown_calls():
        return None  # unknown classes may be random: no claim
    return not any(s.active[Scenario.PREDICT] for s in analysis.stochastic)


def _call_disagreements(check: CallCheck, version: str) -> Iterator[Disagreement]:
    for s in check.scenarios:
        if s.agree:
            continue
        label = SCENARIO_LABELS[s.scenario]
        static = _describe(s.static_training, s.static_active, check.kind)
        runtime = _describe(s.runtime_training, s.runtime_active, check.kind)
        if s.runtime_moved and Counter(s.runtime_moved) != Counter(s.static_active):
            runtime += "; moving statistics " + (
                "updated" if any(s.runtime_moved) else "not updated"
            )
        prefix = "" if check.predicted else "not reported as stochastic; "
        yield Disagreement(
            check.path, "activity", s.scenario,
            {"training": list(s.static_training), "active": list(s.static_active)},
            {"training": list(s.runtime_training), "active": list(s.runtime_active)},
            f"{check.path} ({check.class_name}) in {label}: static says {prefix}{static}; "
            f"Keras {version} {runtime}",
        )
    for d in check.dropout:
        if d.rate_ok is False:
            yield Disagreement(
                check.path, "rate", d.scenario, d.rate, d.fraction,
                f"{check.path} ({check.class_name}) in {SCENARIO_LABELS[d.scenario]}: rate "
                f"{d.rate:g}, but {d.fraction:.3f} of {d.draws} draws were zeroed "
                f"(tolerance {d.tolerance:.3f})",
            )
        if d.scaled_exactly is False:
            yield Disagreement(
                check.path, "scaling", d.scenario, 1 / (1 - d.rate), None,
                f"{check.path} ({check.class_name}) in {SCENARIO_LABELS[d.scenario]}: kept "
                f"units are not scaled by exactly 1/(1-{d.rate:g}) (inverted dropout)",
            )


def _describe(training: Sequence[bool], active: Sequence[bool], kind: str) -> str:
    on, off = ("active", "inactive")
    if kind == "batch_norm":
        on, off = ("batch statistics", "moving statistics")
    if not active:
        return "did not run it"
    parts = [f"{on if a else off} (training={t})" for t, a in zip(training, active, strict=True)]
    return ", ".join(parts)


class _Clock:
    """Adds the wall time of each phase to a shared dict."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - start


@contextmanager
def _model_errors(path: str, phase: str) -> Iterator[None]:
    """Turn an exception raised by the model's own code into one ValidationError line."""
    from graphcheck.runtime.loading import _one_line

    try:
        yield
    except GraphcheckError:
        raise
    except Exception as exc:
        raise ValidationError(path, f"the model raised during {phase}: {_one_line(exc)}") from None


#: How soon the watchdog tries again after firing where it must not raise.
_RETRY_SECONDS = 0.05
#: Code that holds a lock or swallows exceptions: logging (handler locks, handleError)
#: and threading (Condition and Lock internals).
_UNSAFE_FILES = (os.path.dirname(logging.__file__) + os.sep, threading.__file__)


def _unsafe_to_raise(frame: Any) -> bool:
    """Whether the interrupted code is inside logging, threading or a finalizer."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or code.co_filename.startswith(_UNSAFE_FILES):
            return True
        frame = frame.f_back
    return False


@contextmanager
def _watchdog(seconds: float | None, path: str) -> Iterator[None]:
    """Raise ValidationTimeout after `seconds` (SIGALRM; main thread on Unix only).

    The exception is raised when control next returns to Python, i.e. between
    layers in eager execution; small batches keep that interval short.
    """
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return
    assert seconds is not None

    message = f"validation did not finish within {seconds:g} s (--timeout)"
    fired = False

    def on_alarm(_signum: int, frame: Any) -> None:
        nonlocal fired
        fired = True
        if _unsafe_to_raise(frame):
            # Raised here, the exception would be swallowed by logging's handleError
            # with its lock held, or be lost in a finalizer: try again a moment later.
            signal.setitimer(signal.ITIMER_REAL, _RETRY_SECONDS)
            return
        raise ValidationTimeout(path, message)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if fired:  # Keras or TensorFlow code caught the exception raised in the handler
        raise ValidationTimeout(path, message)
