"""``graphcheck.keras.GraphcheckCallback``: check the model at the moment ``fit()`` starts.

The surprises graphcheck explains (dropout still firing inside a frozen base, a
``training=False`` this Keras ignores) happen when training starts, so this callback
analyses the model being trained, with the Keras that is training it, in
``on_train_begin``:

    model.fit(x, y, callbacks=[graphcheck.keras.GraphcheckCallback(fail_on="error")])

It logs the lines that matter (what is frozen, which stochastic layers fire in
``fit()``, which stored ``training=`` flags this Keras ignores) through the
``graphcheck`` logger, and raises :class:`GraphcheckFindingsError` when a finding
reaches ``fail_on``. Keras is imported only when the callback is created, and the
callback is built on the Keras the model belongs to (Keras 3 by default;
``GraphcheckCallback(..., package="tf_keras")`` for a tf_keras model).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from graphcheck.errors import GraphcheckError

if TYPE_CHECKING:
    from graphcheck.gate_config import GateConfig

__all__ = ["GraphcheckCallback", "GraphcheckFindingsError", "fit_start_lines"]

LOG = logging.getLogger("graphcheck")


class GraphcheckFindingsError(GraphcheckError):
    """Findings at or above the callback's ``fail_on`` stopped ``fit()`` before it began."""


def fit_start_lines(analysis: Any) -> list[str]:
    """What is worth a log line when fit() starts: frozen, firing, ignored flags."""
    from graphcheck.reporters.frozen_words import frozen_clause
    from graphcheck.semantics import Scenario

    lines = []
    frozen_subs = [p for p, s in analysis.frozen.submodels.items() if s.frozen]
    calls = analysis.layer_calls()
    frozen = sum(1 for c in calls if analysis.frozen.calls[c.path].frozen)
    lines.append(f"{frozen} of {len(calls)} layer calls frozen"
                 + (f" (frozen submodels: {', '.join(frozen_subs)})" if frozen_subs else ""))
    for item in analysis.stochastic:
        if item.active[Scenario.FIT]:
            where = frozen_clause(item.path, item.frozen_by, item.frozen_by_kind, True)
            lines.append(
                f"{item.path} ({item.class_name}) fires in fit()" + (f", {where}" if where else "")
            )
    for inner in analysis.inner_stochastic:
        if inner.active[Scenario.FIT]:
            where = frozen_clause(
                inner.path, inner.frozen_by, inner.frozen_by_kind, True, sublayer=True
            )
            lines.append(
                f"{inner.path} ({inner.class_name}, inside {inner.holder_class}) "
                "fires in fit()" + (f", {where}" if where else "")
            )
        elif inner.active[Scenario.FIT] is None:  # a layer drawing in its own code
            where = frozen_clause(inner.path, inner.frozen_by, inner.frozen_by_kind, False)
            lines.append(
                f"{inner.path} ({inner.class_name}) may draw random numbers in its own code; "
                "whether in fit() is not known statically" + (f", {where}" if where else "")
            )
    for path, sub in analysis.graph.submodels.items():
        if sub.training is None:
            continue
        inside = [c for c in calls if path in c.submodels]
        received = {analysis.training[c.path][Scenario.FIT].value for c in inside}
        if received and received != {sub.training}:
            lines.append(
                f"{path} is called with training={sub.training}, which this Keras ignores in "
                f"fit(): its layers receive training={' or '.join(map(str, sorted(received)))}"
            )
    return lines


def GraphcheckCallback(
    fail_on: str | None = None,
    *,
    keras_version: str | None = None,
    package: str = "keras",
    config: GateConfig | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> Any:
    """A Keras callback that analyses the model in ``on_train_begin``.

    Parameters
    ----------
    fail_on : {"error", "warning", "info", "never"}, optional
        Raise :class:`GraphcheckFindingsError` when a finding reaches this severity
        (default: ``config``'s ``fail_on``, else ``"error"``).
    keras_version : str, optional
        Analyse for another Keras than the one running (default: ``config``'s, else
        the running one).
    package : {"keras", "tf_keras"}
        The Keras whose ``callbacks.Callback`` the callback subclasses.
    config : GateConfig, optional
        The gate's settings (rules selected and ignored, severities, suppressions),
        e.g. ``graphcheck.gate_config.load_config()`` for a project's
        ``[tool.graphcheck]`` table. Default: every rule, as ``graphcheck check``.
    select, ignore : sequence of str
        Rule IDs, prefixes, slugs or groups, as ``--select``/``--ignore``: ``select``
        replaces ``config``'s selection, ``ignore`` adds to its ignored rules.

    Raises
    ------
    graphcheck.errors.ConfigError
        ``select`` or ``ignore`` names a rule that does not exist.
    """
    from graphcheck.errors import ConfigError
    from graphcheck.findings import FailOn
    from graphcheck.gate_config import GateConfig, check_rule_names

    bad = check_rule_names([*select, *ignore])
    if bad:
        raise ConfigError("GraphcheckCallback", f"unknown rule {bad[0]!r} (see: graphcheck rules)")
    settings = (config or GateConfig()).override(select=select, ignore=ignore)
    threshold = FailOn(fail_on) if fail_on is not None else settings.fail_on or FailOn.ERROR
    keras_version = keras_version or settings.keras_version
    base = importlib.import_module(package).callbacks.Callback

    class _GraphcheckCallback(base):  # type: ignore[misc, valid-type]
        """Analyses ``self.model`` when fit() starts; see graphcheck.keras."""

        def __init__(self) -> None:
            super().__init__()
            self.fail_on = threshold
            self.analysis: Any = None
            self.findings: tuple[Any, ...] = ()

        if package == "keras":

            def _implements_train_batch_hooks(self) -> bool:
                # tf_keras's fit() asks every callback this first; a Keras 3 callback
                # cannot serve a tf_keras model, so say which argument fixes it.
                raise TypeError(
                    "GraphcheckCallback() was made for Keras 3; for a tf_keras model "
                    'use GraphcheckCallback(..., package="tf_keras")'
                )

        def on_train_begin(self, logs: Any = None) -> None:
            from graphcheck.api import findings, load

            self.analysis = load(self.model).analyse(keras_version)
            self.findings = findings(self.analysis, settings)
            for line in fit_start_lines(self.analysis):
                LOG.warning("graphcheck: %s", line)
            failing = [
                f for f in self.findings if not f.suppressed and threshold.is_failing(f.severity)
            ]
            for finding in self.findings:
                LOG.warning(
                    "graphcheck: %s %s %s", finding.severity.value, finding.rule, finding.message
                )
            if failing:
                raise GraphcheckFindingsError(
                    self.analysis.saved.path,
                    f"{len(failing)} finding(s) at or above {threshold.value} before fit(): "
                    + "; ".join(f"{f.rule} {f.message}" for f in failing[:3])
                    + (f"; and {len(failing) - 3} more (logged above)" if len(failing) > 3 else ""),
                )

    return _GraphcheckCallback()
