"""When a stochastic call acts, in words: the one place the reports, the drawing and the
HTML page say it.

Every phrase is made from the analyses' ``active`` values per scenario (fit(),
predict(), model(x)); the HTML page receives the phrases precomputed, one per
scenario, and restates none of them in its script.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from graphcheck.semantics import Scenario

__all__ = [
    "active_labels", "any_active", "in_and_off", "in_scenario", "when_active", "when_masked",
]


def active_labels(active: Mapping[Scenario, bool | None]) -> list[str]:
    """The labels of the scenarios the call acts in, in :class:`Scenario` order."""
    return [s.label for s in Scenario if active[s]]


def when_active(active: Mapping[Scenario, bool | None], noop: bool = False) -> str:
    """A status line: ``active in fit() only``, ``ACTIVE in fit(), predict()`` (capitals
    where it also acts at inference), ``never active``, or ``never acts`` for a no-op."""
    if noop:
        return "never acts"
    labels = active_labels(active)
    if not labels:
        return "never active"
    if labels == [Scenario.FIT.label]:
        return "active in fit() only"
    return "ACTIVE in " + ", ".join(labels)


def any_active(items: Iterable[Mapping[Scenario, bool | None]]) -> dict[Scenario, bool]:
    """Per scenario, whether any of several calls acts (a holder's sublayers)."""
    actives = list(items)
    return {s: any(bool(a[s]) for a in actives) for s in Scenario}


def when_masked(active: Mapping[Scenario, bool | None]) -> str:
    """The tail of an edge label: ``in fit()``, ``in fit(), predict()``, or ``never active``."""
    labels = active_labels(active)
    return "in " + ", ".join(labels) if labels else "never active"


def in_scenario(on: bool, scenario: Scenario) -> str:
    """What the HTML page's box says in one scenario: ``ACTIVE in predict()`` or ``off in ...``."""
    return ("ACTIVE in " if on else "off in ") + scenario.label


def in_and_off(active: Mapping[Scenario, bool | None]) -> str:
    """A sentence's clause: ``active in fit(), off in predict() and model(x)``, or
    ``never active (fit(), predict(), model(x) all off)``."""
    on = active_labels(active)
    off = [s.label for s in Scenario if not active[s]]
    if not on:
        return "never active (" + ", ".join(off) + " all off)"
    text = "active in " + " and ".join(on)
    if off:
        text += ", off in " + " and ".join(off)
    return text
