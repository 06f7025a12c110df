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
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from graphcheck.analyses.model_analysis import analyse_graph
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
from graphcheck.model import ModelDesc, SavedModelDesc
from graphcheck.profile_choice import choose_profile, installed_kerases
from graphcheck.readers import read_model
from graphcheck.runtime.comparison import (
    CallCheck,
    Comparison,
    Disagreement,
    DropoutCheck,
    ScenarioCheck,
    WeightCheck,
    compare,
)
from graphcheck.runtime.loading import import_quietly, loader_candidates
from graphcheck.runtime.records import Observation
from graphcheck.runtime.watchdog import watchdog

__all__ = [
    "PHASES",
    "CallCheck",
    "Comparison",
    "Disagreement",
    "DropoutCheck",
    "ScenarioCheck",
    "ValidationOptions",
    "ValidationResult",
    "ValidationTimeout",
    "WeightCheck",
    "compare",
    "validate_model",
]

#: Said after the rebuilt graph's source when validate rebuilt it without --rebuild.
_UNASKED = " (the config stores no layer graph: rebuilt without weights, no --rebuild needed)"
PHASES: tuple[str, ...] = ("import", "load", "predict", "call", "fit", "compare")


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
    from graphcheck.hub_handles import fetch_preset, fetches_kept, is_handle

    report = progress or (lambda _phase: None)
    timings: dict[str, float] = {}
    with watchdog(options.timeout, path), fetches_kept():
        if is_handle(path):  # configs and weights in one fetch, from one revision
            fetch_preset(path, weights=True)
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
