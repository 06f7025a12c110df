"""The static prediction against what Keras did: one check per layer and scenario.

Calls are grouped by path without ``@k`` suffixes (at run time the calls of a
shared layer cannot be told apart). The comparison is two-sided: a call the
static side claims must behave as claimed, and a call Keras ran stochastically, or
a weight that trained, that the static side does not claim is a disagreement too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.layers import BATCH_NORM_CLASSES
from graphcheck.runtime.expectations import Expectation, expected_behaviour
from graphcheck.runtime.records import CallRecord, Observation, strip_call_suffixes
from graphcheck.semantics import RUN_SCENARIOS, SCENARIO_LABELS

#: Slack added to the binomial tolerance: rounding, and relu zeros counted as draws.
RATE_SLACK = 0.02


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
    ``predicted`` is False for a layer whose weights trained where the static side
    claims none (``will_train`` is then False).
    """

    path: str
    will_train: bool
    changed: bool
    declares_trainable: bool
    predicted: bool = True

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
            w.path, "weights", "fit", w.will_train if w.predicted else None, w.changed,
            f"{w.path}: static says "
            + (f"its weights {'will' if w.will_train else 'will not'} train" if w.predicted
               else "nothing of its weights")
            + f"; one fit() step {'changed' if w.changed else 'did not change'} them",
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
    checks = []
    for path, changed in observation.weights_changed.items():
        declares = observation.declares_trainable.get(path, True)
        if path in will_train:
            checks.append(WeightCheck(path, will_train[path], changed, declares))
        elif changed:  # trained, where the static side claims no weight at all
            checks.append(WeightCheck(path, False, changed, declares, predicted=False))
    return checks


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
