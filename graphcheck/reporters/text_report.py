"""The text report of `graphcheck check`: per model the verdict, a table, the findings.

Each model's block opens with three lines a person scans (is anything stochastic
inside a frozen part active in ``fit()``? is anything stochastic active at inference?
what does training do to the values?), then a table of the stochastic calls, whose
rows that differ only by an index fold into one, then the findings grouped by rule
(:mod:`.findings_text`). ``-v`` unfolds the rows and adds each call's reasons in words
(:func:`.analysis_text.model_text`); ``-q`` keeps the findings alone. The run ends with
one summary line (:func:`.findings_text.summary_text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graphcheck.analyses.frozen import FrozenBy
from graphcheck.analyses.inner import InnerStochasticCall
from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.analyses.stochastic import StochasticCall
from graphcheck.analyses.training_transform import training_transform
from graphcheck.findings import Finding, ModelResult, Report
from graphcheck.kinds import Stochastic, facts_of
from graphcheck.reporters.analysis_text import ignored_submodel_flags, model_text, origin_text
from graphcheck.reporters.findings_text import (
    error_block,
    render_rule_groups,
    summary_marked,
)
from graphcheck.reporters.terminal import (
    TextStyle,
    fold_key,
    fold_names,
    paint,
    render_table,
    wrap,
    wrap_painted,
)
from graphcheck.semantics import Scenario

__all__ = ["TABLE_HEADERS", "VERDICT_LABELS", "render_block", "render_report"]

#: The labels of the verdict lines, in order: frozen parts, inference, training.
VERDICT_LABELS = ("frozen parts", "inference", "training")
TABLE_HEADERS = ("stochastic call", "kind", "masks", "fit", "predict", "model(x)", "frozen by")
#: Rules that say a frozen part's stochastic layer fires in fit(), and ones that say a
#: stochastic layer fires at inference: the verdict names them.
_FROZEN_RULES = ("GC101", "GC102")
_INFERENCE_RULES = ("GC103", "GC104")

Item = StochasticCall | InnerStochasticCall
#: Plain text, and the words in it to paint with a role (:func:`.terminal.wrap_painted`).
Marked = tuple[str, list[tuple[str, str]]]


def render_block(
    analysis: ModelAnalysis, result: ModelResult, style: TextStyle | None = None
) -> str:
    """One model's block of the text report, made where the model is analysed."""
    style = style or TextStyle()
    profile = analysis.profile.name
    width = style.width
    findings = list(result.findings)
    path = analysis.saved.path
    lines = wrap_painted(path, width, "", "  ", [(path, "model")], style)
    if style.quiet:
        if not findings:
            return ""
        lines.extend(render_rule_groups(findings, style, profile, indent="  "))
        return "\n".join(lines) + "\n"
    lines.extend(wrap(_origin(analysis), width, "  "))
    items: list[Item] = [*analysis.stochastic, *analysis.inner_stochastic]
    lines.extend(_verdict(analysis, items, findings, style))
    if items:
        lines.append("")
        lines.extend(_table(items, style))
    if style.verbose:
        reasons = model_text(analysis).rstrip("\n").splitlines()[2:]
        lines.append("")
        lines.append("  reasons:")
        for reason in reasons:
            lines.extend(wrap(reason.strip(), width, "    ", "    "))
    lines.append("")
    if findings:
        lines.extend(render_rule_groups(findings, style, profile, indent="  "))
    else:
        lines.append("  " + paint("no findings", "ok", style))
    return "\n".join(lines) + "\n"


def render_report(report: Report, parts: Sequence[str], style: TextStyle | None = None) -> str:
    """Every model's block in the order given (an unanalysed one as one line and its
    findings), then the summary line; empty when every model failed with no finding,
    which the CLI says on stderr, one line each. Models found but none analysed (each
    needs --rebuild) still get the summary line: such a run passes, but not silently."""
    style = style or TextStyle()
    if report.results and all(r.error is not None and not r.findings for r in report.results):
        return ""
    blocks: list[str] = []
    readable = iter(parts)
    for result in report.results:
        block = next(readable, "") if result.error is None else error_block(result, style)
        if block:
            blocks.append(block)
    summary = "\n".join(_wrap_summary(summary_marked(report), style))
    return "\n".join(blocks) + ("\n" if blocks else "") + summary + "\n"


def _wrap_summary(text: Marked, style: TextStyle) -> list[str]:
    """The summary line, wrapped when the terminal is narrower (escape codes take no column)."""
    words, marks = text
    return wrap_painted(words, style.width, "", "    ", marks, style)


def _origin(analysis: ModelAnalysis) -> str:
    choice = analysis.choice
    return f"{origin_text(analysis)}; run as {choice.profile.title}, for {choice.source}"


def _verdict(
    analysis: ModelAnalysis, items: Sequence[Item], findings: Sequence[Finding], style: TextStyle
) -> list[str]:
    label_width = max(len(label) for label in VERDICT_LABELS) + 2
    texts = (
        _frozen_verdict(analysis, items, findings),
        _inference_verdict(analysis, items, findings),
        _training_verdict(items),
    )
    lines = []
    for label, text in zip(VERDICT_LABELS, texts, strict=True):
        head = f"  {label + ':':{label_width}}"
        words, marks = text
        lines.extend(wrap_painted(head + words, style.width, "", " " * len(head), marks, style))
    return lines


def _is_noise(item: Item) -> bool:
    return item.spec.kind is not Stochastic.AUGMENTATION and not item.spec.is_noop


def _rules_at(findings: Sequence[Finding], paths: set[str], rules: Sequence[str]) -> str:
    found = sorted({f.rule for f in findings if f.path in paths and f.rule in rules
                    and f.suppressed is None})
    return f" ({', '.join(found)})" if found else ""


def _names(names: Sequence[str], limit: int = 3) -> str:
    unique = list(dict.fromkeys(names))
    shown = ", ".join(unique[:limit])
    return shown + (f" and {len(unique) - limit} more" if len(unique) > limit else "")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _frozen_verdict(
    analysis: ModelAnalysis, items: Sequence[Item], findings: Sequence[Finding]
) -> Marked:
    inside = [i for i in items if i.frozen_by is not None]
    firing = [i for i in inside if _is_noise(i) and i.active[Scenario.FIT]]
    states = analysis.frozen.calls
    frozen_calls = sum(1 for c in analysis.layer_calls() if states[c.path].frozen is True)
    unknown = sum(1 for c in analysis.layer_calls() if states[c.path].frozen is None)
    unknown_text = (
        f"; the file does not record whether {_plural(unknown, 'call')} are frozen"
        if unknown else ""
    )
    ignored = ignored_submodel_flags(analysis)
    if ignored:  # said here: the stored flag reads as if it held
        calls = ", ".join(f"{path}(x, training={flag})" for path, flag in ignored.items())
        unknown_text += (
            f"; {analysis.profile.title} ignores the stored {calls} in fit() and predict()"
        )
    whole = [i for i in firing if i.frozen_by_kind == FrozenBy.MODEL]
    parts = [i for i in firing if i.frozen_by_kind != FrozenBy.MODEL]
    if parts:
        where = _where(parts)
        rules = _rules_at(findings, {i.path for i in parts}, _FROZEN_RULES)
        head = f"ACTIVE in fit(): {_plural(len(parts), 'stochastic call')}"
        return f"{head} {where}{rules}{unknown_text}", [(head, "alarm")]
    if whole:
        return (
            f"the whole model is frozen ({whole[0].frozen_by}, trainable=False): its "
            f"{_plural(len(whole), 'stochastic call')} fire in fit(), which trains no weight",
            [],
        )
    if inside:
        text = f"off in fit(): {_plural(len(inside), 'stochastic call')} {_where(inside)}"
        return text + unknown_text, [("off in fit()", "ok")]
    if frozen_calls:
        head = "no stochastic layer inside the frozen base"
        return f"{head} ({_plural(frozen_calls, 'frozen call')}){unknown_text}", [(head, "ok")]
    return "nothing is frozen" + unknown_text, []


def _where(items: Sequence[Item]) -> str:
    """Where frozen stochastic calls sit: in which submodels, or on which frozen layers."""
    submodels = [i.frozen_by or "" for i in items if i.frozen_by_kind == FrozenBy.SUBMODEL]
    own = [i for i in items if i.frozen_by_kind == FrozenBy.LAYER and i.frozen_by == i.path]
    holders = [i.frozen_by or "" for i in items
               if i.frozen_by_kind == FrozenBy.LAYER and i.frozen_by != i.path]
    top = [i.frozen_by or "" for i in items if i.frozen_by_kind == FrozenBy.MODEL]
    words = []
    if submodels:
        noun = "submodel" if len(set(submodels)) == 1 else "submodels"
        words.append(f"inside frozen {noun} {_names(submodels)}")
    if holders:
        noun = "layer" if len(set(holders)) == 1 else "layers"
        words.append(f"inside trainable=False {noun} {_names(holders)}")
    if own:
        words.append(f"with trainable=False of their own ({_names([i.path for i in own])})")
    if top:
        words.append(f"inside the frozen top model {top[0]}")
    return "; ".join(words)


def _inference_verdict(
    analysis: ModelAnalysis, items: Sequence[Item], findings: Sequence[Finding]
) -> Marked:
    live = [i for i in items if not i.spec.is_noop]
    in_predict = [i for i in live if i.active[Scenario.PREDICT]]
    in_call = [i for i in live if i.active[Scenario.CALL]]
    unsure = [i for i in live
              if i.active[Scenario.PREDICT] is None or i.active[Scenario.CALL] is None]
    words = []
    marks: list[tuple[str, str]] = []
    both = [i.path for i in in_predict] == [i.path for i in in_call]
    scenarios = [(f"{Scenario.PREDICT.label} and {Scenario.CALL.label}", in_predict)] if both else [
        (Scenario.PREDICT.label, in_predict), (Scenario.CALL.label, in_call)
    ]
    for label, active in scenarios:
        if active:
            rules = _rules_at(findings, {i.path for i in active}, _INFERENCE_RULES)
            head = f"ACTIVE in {label}"
            marks.append((head, "on"))
            words.append(
                f"{head}: {_plural(len(active), 'call')} ({_names([i.path for i in active])})"
                f"{rules}"
            )
    text = "; ".join(words) if words else "nothing stochastic is active in predict() or model(x)"
    if unsure:
        names = _names([i.path for i in unsure])
        text += f"; not known for {_plural(len(unsure), 'call')} ({names})"
    unknown = [c for c in analysis.unknown_calls()
               if c.path not in {o.path for o in analysis.opened_calls()}]
    if unknown:
        classes = _names([c.layer.class_name for c in unknown])
        text += f"; not known for {_plural(len(unknown), 'call')} of unknown classes ({classes})"
    return text, marks


def _training_verdict(items: Sequence[Item]) -> Marked:
    firing = [i for i in items if i.active[Scenario.FIT] and not i.spec.is_noop]
    if not firing:
        return "nothing stochastic is active in fit()", []
    scales: dict[str, list[str]] = {}
    others: list[str] = []
    inference: set[str] = set()
    for item in firing:
        try:
            transform = training_transform(item.spec)
        except ValueError:  # a kind with no formula (a layer drawing in its own code)
            transform = None
        if transform is None:
            others.append(facts_of(item.spec.kind).what_it_does)
            continue
        inference.add(transform.inference)
        if transform.transform == "inverted_dropout" and transform.kept_scale is not None:
            unit = _kept_unit(transform.text)
            scales.setdefault(unit, []).append(f"x{transform.kept_scale:.4g}")
        else:
            others.append(transform.text)
    phrases = []
    if scales:
        kept = ", ".join(
            f"{unit} {' or '.join(sorted(set(values), key=lambda v: float(v[1:])))}"
            for unit, values in scales.items()
        )
        phrases.append(f"inverted dropout: kept {kept}")
    phrases.extend(dict.fromkeys(others))
    text = "; ".join(phrases)
    if inference == {"identity"}:
        text += "; identity in predict()"
    return text, []


def _kept_unit(text: str) -> str:
    """``units`` from ``inverted dropout: kept units x1/(1-0.2) = x1.25, dropped 0``."""
    head = text.split(" x", 1)[0]
    return head.split("kept ", 1)[1] if "kept " in head else "values"


@dataclass(frozen=True, slots=True)
class _Row:
    cells: tuple[str, ...]
    fires_frozen: bool


def _row(item: Item) -> _Row:
    spec = item.spec
    kind = item.class_name
    if spec.wrapped:
        kind += f"({spec.wrapped})"
    if spec.rate is not None:
        kind += f" {spec.rate:g}"
    if spec.recurrent_rate:
        kind += f" (recurrent {spec.recurrent_rate:g})"
    if isinstance(item, StochasticCall):
        if spec.kind is Stochastic.ATTENTION_DROPOUT:
            masks = "attention weights"
        else:
            masks = ", ".join(
                ("input " if m.is_model_input else "") + m.producer for m in item.masks
            )
            if item.masked_inside:  # an RNN's input or state, masked inside its own call
                masks = f"{masks} (inside)" if masks else "its state (inside)"
            masks = masks or "-"
    elif item.own_random:
        masks = "(its own random draws)"
    else:
        masks = f"(in {item.holder_class})"
    marks = tuple(
        "?" if item.active[s] is None else ("on" if item.active[s] else "off") for s in Scenario
    )
    if item.frozen_by is None:
        frozen = "-"
    elif item.frozen_by_kind == FrozenBy.LAYER and item.frozen_by == item.path:
        frozen = "its own flag"
    else:
        frozen = item.frozen_by
    fires = bool(item.active[Scenario.FIT]) and item.frozen_by is not None and _is_noise(item)
    return _Row((item.path, kind, masks, *marks, frozen), fires)


def _table(items: Sequence[Item], style: TextStyle) -> list[str]:
    rows = [_row(i) for i in items]
    shown: list[tuple[str, ...]] = []
    paints: list[list[str | None]] = []
    groups: dict[tuple[str, ...], list[_Row]] = {}
    if style.verbose:
        for row in rows:
            groups[(str(len(groups)),)] = [row]
    else:
        for row in rows:
            # Rows fold when they differ only by the numbers in their names.
            key = (fold_key(row.cells[0]), fold_key(row.cells[2]), fold_key(row.cells[6]),
                   *row.cells[1:2], *row.cells[3:6])
            groups.setdefault(key, []).append(row)
    for members in groups.values():
        first = members[0]
        if len(members) == 1:
            cells = first.cells
        else:
            names = [fold_names([m.cells[i] for m in members]) for i in (0, 2, 6)]
            cells = (f"{names[0]} ({len(members)} calls)", first.cells[1], names[1],
                     *first.cells[3:6], names[2])
        shown.append(cells)
        marks: list[str | None] = [None, None, None]
        marks.append("alarm" if first.fires_frozen else ("on" if cells[3] == "on" else None))
        marks.extend("on" if c == "on" else None for c in cells[4:6])
        marks.append(None)
        paints.append(marks)
    return render_table(TABLE_HEADERS, shown, style.width, "  ", shrink=(0, 2, 6, 1),
                        paints=paints, style=style)
