"""What changed between two saved models, as the running Keras will see them.

Both files are analysed under the same semantics profile (the same Keras), and their
calls are matched by call path. Reported: stochastic layers added or removed, a
changed class or rate, frozen state that changed (grouped by the frozen submodel),
and calls whose activity (stochastic layers) or statistics mode (BatchNormalization)
in ``fit()``, ``predict()`` or ``model(x)`` changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.analyses.stochastic import StochasticCall
from graphcheck.semantics import Scenario

__all__ = ["Change", "ChangeKind", "ModelDiff", "diff_analyses"]


class ChangeKind(Enum):
    """The kinds of change :func:`diff_analyses` reports, in report order."""

    STOCHASTIC_ADDED = "stochastic-added"
    STOCHASTIC_REMOVED = "stochastic-removed"
    CLASS_CHANGED = "class-changed"
    RATE_CHANGED = "rate-changed"
    FROZEN_CHANGED = "frozen-changed"
    ACTIVITY_CHANGED = "activity-changed"
    STATISTICS_CHANGED = "statistics-changed"

    @property
    def title(self) -> str:
        return {
            "stochastic-added": "Stochastic layer added",
            "stochastic-removed": "Stochastic layer removed",
            "class-changed": "Stochastic layer class changed",
            "rate-changed": "Rate changed",
            "frozen-changed": "Frozen state changed",
            "activity-changed": "Activity in fit()/predict()/model(x) changed",
            "statistics-changed": "BatchNormalization statistics mode changed",
        }[self.value]


@dataclass(frozen=True, slots=True)
class Change:
    """One change at call path ``path``; ``detail`` says it in one line."""

    kind: ChangeKind
    path: str
    detail: str
    old: str | None = None
    new: str | None = None


@dataclass(frozen=True, slots=True)
class ModelDiff:
    """The changes from ``old`` to ``new``, both analysed under ``profile``."""

    old: str
    new: str
    profile: str
    keras_version: str | None
    changes: tuple[Change, ...]
    profile_source: str = ""  # why this profile: "--keras-version 2.21.0", "installed keras 3.15.1"

    @property
    def is_empty(self) -> bool:
        return not self.changes


def diff_analyses(old: ModelAnalysis, new: ModelAnalysis) -> ModelDiff:
    """Compare two analyses call path by call path.

    Examples
    --------
    >>> import graphcheck  # doctest: +SKIP
    >>> a = graphcheck.load("old.keras").analyse("3.15")  # doctest: +SKIP
    >>> b = graphcheck.load("new.keras").analyse("3.15")  # doctest: +SKIP
    >>> [c.kind.value for c in diff_analyses(a, b).changes]  # doctest: +SKIP
    ['rate-changed']
    """
    if old.profile != new.profile:
        raise ValueError(
            f"compare under one profile: {old.saved.path} was analysed as {old.profile.name}, "
            f"{new.saved.path} as {new.profile.name}"
        )
    changes = [
        *_stochastic_changes(old, new),
        *_frozen_changes(old, new),
        *_activity_changes(old, new),
    ]
    order = list(ChangeKind)
    changes.sort(key=lambda c: (order.index(c.kind), c.path))
    return ModelDiff(
        old.saved.path,
        new.saved.path,
        new.profile.name,
        new.choice.keras_version,
        tuple(changes),
        new.choice.source,
    )


def _describe(call: StochasticCall) -> str:
    spec = call.spec
    text = call.class_name
    if spec.wrapped:
        text += f"({spec.wrapped})"
    if spec.rate is not None:
        text += f" {spec.parameter}={spec.rate:g}"
    if spec.recurrent_rate:
        text += f" recurrent_dropout={spec.recurrent_rate:g}"
    return text


def _rates(call: StochasticCall) -> str:
    spec = call.spec
    parts = []
    if spec.rate is not None:
        parts.append(f"{spec.parameter}={spec.rate:g}")
    if spec.recurrent_rate is not None:
        parts.append(f"recurrent_dropout={spec.recurrent_rate:g}")
    return ", ".join(parts) or "-"


def _stochastic_changes(old: ModelAnalysis, new: ModelAnalysis) -> Iterator[Change]:
    before = {c.path: c for c in old.stochastic}
    after = {c.path: c for c in new.stochastic}
    for path in after.keys() - before.keys():
        described = _describe(after[path])
        yield Change(ChangeKind.STOCHASTIC_ADDED, path, described, None, described)
    for path in before.keys() - after.keys():
        yield Change(
            ChangeKind.STOCHASTIC_REMOVED,
            path,
            _describe(before[path]),
            _describe(before[path]),
            None,
        )
    for path in before.keys() & after.keys():
        a, b = before[path], after[path]
        if (a.class_name, a.spec.wrapped) != (b.class_name, b.spec.wrapped):
            yield Change(
                ChangeKind.CLASS_CHANGED,
                path,
                f"{_describe(a)} -> {_describe(b)}",
                _describe(a),
                _describe(b),
            )
        elif _rates(a) != _rates(b):
            yield Change(
                ChangeKind.RATE_CHANGED, path, f"{_rates(a)} -> {_rates(b)}", _rates(a), _rates(b)
            )


def _frozen_word(frozen: bool | None, will_train: bool | None) -> str:
    declared = {True: "frozen", False: "trainable", None: "frozen unknown"}[frozen]
    if will_train is None:
        return declared
    return f"{declared}, {'trains' if will_train else 'does not train'} after loading"


def _frozen_changes(old: ModelAnalysis, new: ModelAnalysis) -> Iterator[Change]:
    groups: dict[tuple[str, str, str], int] = {}
    for path, b in new.frozen.calls.items():
        a = old.frozen.calls.get(path)
        if a is None or b.has_weights is False:
            continue
        if (a.frozen, a.will_train) == (b.frozen, b.will_train):
            continue
        key = (
            a.frozen_by or b.frozen_by or path,
            _frozen_word(a.frozen, a.will_train),
            _frozen_word(b.frozen, b.will_train),
        )
        groups[key] = groups.get(key, 0) + 1
    for (path, was, now), count in groups.items():
        layers = f"{count} layer(s): " if count > 1 else ""
        yield Change(ChangeKind.FROZEN_CHANGED, path, f"{layers}{was} -> {now}", was, now)


def _scenario_changes(
    before: dict[Scenario, bool], after: dict[Scenario, bool], on: str, off: str
) -> list[str]:
    return [
        f"{s.label} {on if before[s] else off} -> {on if after[s] else off}"
        for s in Scenario
        if before[s] != after[s]
    ]


def _activity_changes(old: ModelAnalysis, new: ModelAnalysis) -> Iterator[Change]:
    before = {c.path: c.active for c in old.stochastic}
    for call in new.stochastic:
        if call.path in before:
            parts = _scenario_changes(before[call.path], call.active, "active", "off")
            if parts:
                yield Change(ChangeKind.ACTIVITY_CHANGED, call.path, ", ".join(parts))
    modes = {m.path: m.batch_statistics for m in old.mode_dependent}
    for mode in new.mode_dependent:
        if mode.path in modes:
            parts = _scenario_changes(modes[mode.path], mode.batch_statistics, "batch", "moving")
            if parts:
                yield Change(ChangeKind.STATISTICS_CHANGED, mode.path, ", ".join(parts))
