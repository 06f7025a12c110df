"""The validation section of the reports: JSON and a compact agree/disagree table.

Reads a :class:`graphcheck.runtime.validate.ValidationResult` by attribute only, so
this module imports nothing from the runtime package (and no Keras).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from graphcheck.rules import RULES
from graphcheck.semantics import RUN_SCENARIOS, SCENARIO_LABELS

if TYPE_CHECKING:
    from graphcheck.analyses.model_analysis import ModelAnalysis
    from graphcheck.runtime.validate import ValidationResult

__all__ = [
    "error_section",
    "render_json_with_validation",
    "render_validation_text",
    "validation_document",
    "validation_section",
]

_SCENARIOS = RUN_SCENARIOS
# Column headings: the scenario labels, the explicit calls shortened to fit a column.
_HEADINGS = {**SCENARIO_LABELS, "call_true": "(x,True)", "call_false": "(x,False)"}
#: The rule a disagreement is reported under (registered in graphcheck/rules/runtime.py).
_RULE = RULES["GC901"]


def validation_section(result: ValidationResult) -> dict[str, Any]:
    """One model's ``validation`` entry for the JSON report."""
    calls = []
    for check in result.calls:
        calls.append(
            {
                "path": check.path,
                "class_name": check.class_name,
                "kind": check.kind,
                "reported_statically": check.predicted,
                "observed": check.observed,
                "agree": check.agree,
                "scenarios": {
                    s.scenario: {
                        "static": _values(s.static_training, s.static_active),
                        "runtime": _values(s.runtime_training, s.runtime_active)
                        | (
                            {"moving_stats_updated": list(s.runtime_moved)}
                            if s.runtime_moved
                            else {}
                        ),
                        "agree": s.agree,
                    }
                    for s in check.scenarios
                },
                "dropout": [
                    {
                        "scenario": d.scenario,
                        "rate": d.rate,
                        "fraction_zeroed": _round(d.fraction),
                        "draws": d.draws,
                        "tolerance": _round(d.tolerance),
                        "rate_ok": d.rate_ok,
                        "scaled_exactly": d.scaled_exactly,
                    }
                    for d in check.dropout
                ],
            }
        )
    weights = [
        {
            "path": w.path,
            "will_train": w.will_train,
            "changed_in_fit": w.changed,
            "agree": w.agree,
        }
        for w in result.weights
    ]
    findings = [
        {
            "id": _RULE.id,
            "slug": _RULE.slug,
            "severity": "error",
            "path": d.path,
            "aspect": d.aspect,
            "scenario": d.scenario,
            "static": d.static,
            "runtime": d.runtime,
            "message": d.message,
        }
        for d in result.disagreements
    ]
    return {
        "status": "agree" if result.agree else "disagree",
        "keras": {
            "package": result.package,
            "version": result.keras_version,
            "backend": result.backend,
            "device": result.device,
        },
        "profile": {"name": result.profile, "keras_version": result.profile_keras_version},
        "static_source": result.static_source,
        "seed": result.seed,
        "batch_size": result.batch_size,
        "input_shapes": [list(shape) for shape in result.input_shapes],
        "seconds": dict(result.timings),
        "counts": {
            "calls": len(result.calls),
            "agree": sum(1 for c in result.calls if c.agree and c.observed),
            "disagree": sum(1 for c in result.calls if not c.agree),
            "unobserved": sum(1 for c in result.calls if not c.observed),
            "weights_agree": sum(1 for w in result.weights if w.agree is True),
            "weights_disagree": sum(1 for w in result.weights if w.agree is False),
        },
        "calls": calls,
        "weights": weights,
        "predict_repeatable": {
            "static": result.static_deterministic,
            "runtime": result.runtime_deterministic,
        },
        "fit_error": result.fit_error,
        "findings": findings,
    }


def error_section(message: str) -> dict[str, Any]:
    """The ``validation`` entry of a model whose validation could not run."""
    return {"status": "error", "error": message}


def validation_document(
    analyses: Sequence[ModelAnalysis],
    errors: Sequence[tuple[str, str]],
    validations: Mapping[str, dict[str, Any]],
) -> dict[str, Any]:
    """The JSON report as a dict, each model entry gaining ``validation`` (keyed by model path).

    ``check --validate`` adds the gate's findings to this dict before it is written
    (:func:`graphcheck.reporters.findings_json.add_findings`).
    """
    from graphcheck.reporters.json_report import document

    doc = document(analyses, errors)
    for entry in doc["models"]:
        if entry["path"] in validations:
            entry["validation"] = validations[entry["path"]]
    extra = [path for path in validations if path not in {e["path"] for e in doc["models"]}]
    for path in extra:  # validated, but the static report could not be built
        doc["models"].append({"path": path, "validation": validations[path]})
    return doc


def render_json_with_validation(
    analyses: Sequence[ModelAnalysis],
    errors: Sequence[tuple[str, str]],
    validations: Mapping[str, dict[str, Any]],
) -> str:
    """The JSON report with validation sections as text (:func:`validation_document`)."""
    from graphcheck.reporters.json_text import dumps_document

    return dumps_document(validation_document(analyses, errors, validations))


def render_validation_text(result: ValidationResult) -> str:
    """A compact table: one row per stochastic/BN layer, one column per scenario.

    A cell is ``on``/``off`` (for BatchNormalization ``batch``/``moving``) when the
    static claim and the run agree, ``static!=runtime`` when they do not, ``-`` when
    the layer did not run in that scenario.
    """
    head = (
        f"{result.path}: validated with {result.package} {result.keras_version} "
        f"({result.backend}, {result.device}); static profile {result.profile}"
    )
    lines = [head]
    if result.static_source != "stored config":
        lines.append(f"  static side: graph {result.static_source}")
    shapes = ", ".join("x".join(str(d) for d in s) for s in result.input_shapes)
    seconds = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
    lines.append(f"  inputs {shapes} (seed {result.seed}); {seconds}")
    if result.calls:
        width = max(len(c.path) for c in result.calls)
        width = max(width, *(len(_common_scope([c.path])) + 24 for c in result.calls))
        width = min(max(width, 5), 48)
        header = f"  {'layer':<{width}}  " + "  ".join(f"{_HEADINGS[s]:>10}" for s in _SCENARIOS)
        lines.append(header + "  result")
        for rows in _runs(result.calls):
            check = rows[0]
            cells = [_cell(check, s) for s in check.scenarios]
            verdict = "agree" if check.agree else "DISAGREE"
            if not check.observed:
                verdict = "not run"
            name = check.path
            if len(rows) > 1:
                name = f"{_common_scope([r.path for r in rows])}{len(rows)} x {check.class_name}"
            else:
                verdict += _dropout_note(check)
            lines.append(
                f"  {_clip(name, width):<{width}}  "
                + "  ".join(f"{c:>10}" for c in cells)
                + f"  {verdict}"
            )
    else:
        lines.append("  no stochastic or BatchNormalization layers")
    lines.append(
        f"  weights: {weights_summary(result.weights)}"
        + (f" (fit: {result.fit_error})" if result.fit_error else "")
    )
    rep = "identical" if result.runtime_deterministic else "different"
    lines.append(f"  two predict() calls: {rep}")
    for d in result.disagreements:
        lines.append(f"  error {_RULE.id}: {d.message}")
    verdict = (
        "every observation agrees with the static report"
        if result.agree
        else f"{len(result.disagreements)} disagreement(s) with the static report"
    )
    lines.append(f"  {verdict}")
    return "\n".join(lines) + "\n"


def weights_summary(weights: Sequence[Any]) -> str:
    """What fit() did to the weights, against will_train.

    For example "3 trained and 140 stayed frozen, as predicted".
    """
    agreeing = [w for w in weights if w.agree is True]
    trained = sum(1 for w in agreeing if w.changed)
    text = f"{trained} trained and {len(agreeing) - trained} stayed frozen in fit(), as predicted"
    wrong = [w for w in weights if w.agree is False]
    if wrong:
        names = ", ".join(
            f"{w.path} ({'trained' if w.changed else 'stayed frozen'})" for w in wrong[:3]
        )
        more = f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
        text += f"; {len(wrong)} did not: {names}{more}"
    return text


def _runs(calls: Sequence[Any], least: int = 4) -> list[list[Any]]:
    """Group consecutive agreeing BatchNormalization rows with equal cells (>= `least`)."""
    runs: list[list[Any]] = []
    for check in calls:
        last = runs[-1] if runs else None
        if (
            last is not None
            and check.kind == "batch_norm"
            and check.agree
            and last[0].agree
            and _row_key(last[0]) == _row_key(check)
        ):
            last.append(check)
        else:
            runs.append([check])
    return [group for run in runs for group in ([run] if len(run) >= least else [[c] for c in run])]


def _row_key(check: Any) -> tuple[Any, ...]:
    return (check.kind, check.class_name, *(_cell(check, s) for s in check.scenarios))


def _cell(check: Any, scenario: Any) -> str:
    if not scenario.observed:
        return "-"
    on, off = ("batch", "moving") if check.kind == "batch_norm" else ("on", "off")

    def word(values: Sequence[bool]) -> str:
        if not values:
            return "none"
        if all(values):
            return on
        if not any(values):
            return off
        return f"{sum(values)}/{len(values)}{on}"

    runtime = word(scenario.runtime_active)
    if scenario.agree:
        return runtime
    return f"{word(scenario.static_active)}!={runtime}"


def _dropout_note(check: Any) -> str:
    measured = [d for d in check.dropout if d.fraction is not None]
    if not measured:
        return ""
    mean = sum(d.fraction for d in measured) / len(measured)
    scaled = all(d.scaled_exactly is not False for d in measured)
    scaling = ", x1/(1-rate)" if scaled else ", NOT inverted"
    return f" (zeroed {mean:.2f} vs rate {measured[0].rate:g}{scaling})"


def _common_scope(paths: Sequence[str]) -> str:
    """The submodel path all `paths` share, with a trailing "/" ("" at top level)."""
    scopes = [p.split("/")[:-1] for p in paths]
    common: list[str] = []
    for parts in zip(*scopes, strict=False):  # stops at the shortest path, as intended
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/".join(common) + "/" if common else ""


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else "..." + text[-(width - 3) :]


def _values(training: Sequence[bool], active: Sequence[bool]) -> dict[str, list[bool]]:
    return {"training": list(training), "active": list(active)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
