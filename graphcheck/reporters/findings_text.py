"""Findings, the run's summary line and model diffs as terminal text.

Findings are grouped by rule within a model: the rule's title and what its findings
have in common once, then the places, then a ``help:`` line from the rule
(:meth:`graphcheck.rules.Rule.help_for`, for the Keras that runs the model). The
caller decides on width, colour and verbosity (:class:`.terminal.TextStyle`); this
module only formats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from graphcheck.findings import Finding, ModelResult, Report, Severity
from graphcheck.reporters.terminal import (
    TextStyle,
    fold_key,
    fold_names,
    paint,
    visible,
    wrap,
    wrap_painted,
)

if TYPE_CHECKING:  # only in annotations: a check run never loads graphcheck.diff
    from graphcheck.diff import ModelDiff

__all__ = [
    "error_block",
    "not_analysed_reason",
    "render_diff_text",
    "render_rule_groups",
    "summary_marked",
    "summary_text",
]

# Shorter than this, a shared ending is part of the sentence, not an advisory to say once.
_SHARED_MIN = 30


def render_rule_groups(
    findings: Sequence[Finding], style: TextStyle, profile: str | None = None, indent: str = "  "
) -> list[str]:
    """One group per rule, errors first: headline, what the places share, places, help."""
    from graphcheck.rules import RULES

    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    order = sorted(by_rule, key=lambda r: (-max(f.severity.rank for f in by_rule[r]), r))
    lines: list[str] = []
    inner = indent + "  "
    for rule_id in order:
        group = by_rule[rule_id]
        item = RULES.get(rule_id)
        active = [f for f in group if f.suppressed is None]
        severity = max((f.severity for f in active or group), key=lambda s: s.rank)
        label = severity.value if active else "ignored"
        title = _plain(item.title) if item is not None else group[0].slug
        head = f"{label} {rule_id} {title}"
        if style.verbose:
            head += f" [{group[0].slug}]"
        lines.extend(wrap_painted(head, style.width, indent, "    ",
                                  [(label, label), (rule_id, "rule")], style))
        places, shared = _places(group, folded=not style.verbose)
        if shared:
            lines.extend(wrap(f"each: {shared}", style.width, inner))
        for place in places:
            lines.extend(wrap(f"--> {place}", style.width, inner, "      "))
        if item is not None:
            advice = item.help_for(profile)
            if advice:
                advice = advice[0].upper() + advice[1:]
                lines.extend(wrap_painted(f"help: {advice}", style.width, inner, "    ",
                                          [("help:", "help")], style))
            if style.verbose:
                lines.extend(wrap(f"see: graphcheck explain {rule_id}", style.width, inner))
    return lines


def _plain(text: str) -> str:
    """A rule title for the terminal: no Markdown backticks, no closing full stop."""
    return text.replace("`", "").rstrip(".")


def _split(finding: Finding) -> tuple[str, str]:
    """(place, what the message says of it): the message starts with its path."""
    message = finding.message
    path = finding.path
    if path and message.startswith(path):
        rest = message[len(path):].lstrip(":").strip()
        return path, rest
    return "", message


def _shared_suffix(texts: Sequence[str]) -> str:
    """The longest ending all ``texts`` share, starting at a word."""
    if len(texts) < 2:
        return ""
    first = texts[0]
    size = 0
    while size < len(first) and all(
        len(t) > size and t[-1 - size] == first[-1 - size] for t in texts
    ):
        size += 1
    suffix = first[len(first) - size:]
    if suffix == first and all(t == first for t in texts):
        return suffix
    cut = suffix.find(" ")
    return suffix[cut + 1:] if cut >= 0 else ""


def _shared_prefix(texts: Sequence[str]) -> str:
    """The longest beginning all ``texts`` share that ends a clause (at ": ")."""
    if len(texts) < 2:
        return ""
    first = texts[0]
    size = 0
    while size < len(first) and all(len(t) > size and t[size] == first[size] for t in texts):
        size += 1
    cut = first[:size].rfind(": ")
    return first[: cut + 1] if cut >= 0 else ""


def _places(group: Sequence[Finding], folded: bool) -> tuple[list[str], str]:
    """Each finding's place line, and the words they all share (said once)."""
    split = [_split(f) for f in group]
    rests = [rest for _, rest in split]
    if len(group) > 1 and all(r == rests[0] for r in rests):
        head, tail = rests[0], ""
    else:
        tail = _shared_suffix(rests)
        tail = tail if len(tail) >= _SHARED_MIN else ""
        head = _shared_prefix([r[: len(r) - len(tail)] for r in rests])
        head = head if len(head) >= _SHARED_MIN else ""
    shared = " ... ".join(part for part in (head, tail) if part)
    entries: list[tuple[str, str, Finding]] = []
    for (place, rest), finding in zip(split, group, strict=True):
        middle = rest[len(head): len(rest) - len(tail)] if shared else rest
        entries.append((place, middle.strip(" ,;:("), finding))
    if len(group) == 1:
        place, rest, finding = entries[0]
        return [_place_text(place, rest, finding)], ""
    if not folded:
        return [_place_text(p, r, f) for p, r, f in entries], shared
    groups: dict[tuple[str, str, str | None], list[tuple[str, str, Finding]]] = {}
    for entry in entries:
        place, rest, finding = entry
        groups.setdefault((fold_key(place), rest, finding.suppressed), []).append(entry)
    lines = []
    for members in groups.values():
        place, rest, finding = members[0]
        if len(members) > 1:
            place = f"{fold_names([m[0] for m in members])} ({len(members)} places)"
        lines.append(_place_text(place, rest, finding))
    return lines, shared


def _place_text(place: str, rest: str, finding: Finding) -> str:
    text = f"{place}: {rest}" if place and rest else (place or rest)
    if finding.suppressed is not None:
        text += f" (ignored: {finding.suppressed})"
    return text


def error_block(result: ModelResult, style: TextStyle) -> str:
    """A model that was not analysed: one line saying why, then any findings it has
    (the load-safety rules read a file that stores no layer graph)."""
    reason = _without_path(result.path, result.error or "")
    lines = wrap_painted(
        f"{result.path}: not analysed: {reason}", style.width, "", "    ",
        [(result.path, "model"), ("not analysed", "failed")], style,
    )
    if result.findings:
        lines.extend(render_rule_groups(result.findings, style, None, indent="  "))
    return "\n".join(lines) + "\n"


def _without_path(path: str, message: str) -> str:
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def not_analysed_reason(result: ModelResult) -> str:
    """Why a model was not analysed, in a few words (``needs --rebuild``)."""
    return _brief(_without_path(result.path, result.error or ""))


def _brief(reason: str) -> str:
    """A reason in a few words: its head, before any detail in parentheses."""
    if "--rebuild" in reason:
        return "needs --rebuild"
    return reason.split(" (", 1)[0].split(": ", 1)[0].strip() or "unreadable"


def summary_text(report: Report) -> str:
    """The run in one line: models analysed and not (with why), findings by severity,
    the gate's verdict. ``3 models analysed: 0 errors, 2 warnings, 1 info; passed``."""
    return summary_marked(report)[0]


def summary_marked(report: Report) -> tuple[str, list[tuple[str, str]]]:
    """:func:`summary_text`, and its verdict word to paint."""
    counts = report.counts()
    analysed = sum(1 for r in report.results if r.error is None)
    text = f"{analysed} {'model' if analysed == 1 else 'models'} analysed"
    reasons: dict[str, int] = {}
    for result in report.errors:
        reason = not_analysed_reason(result)
        reasons[reason] = reasons.get(reason, 0) + 1
    for left in report.not_analysed:
        reason = _brief(left.reason)
        reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        why = ", ".join(f"{n} {reason}" for reason, n in reasons.items())
        text += f", {sum(reasons.values())} not ({why})"
    findings = [
        _count(counts[s.value], s.value if s is Severity.INFO else f"{s.value}")
        for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)
    ]
    text += ": " + ", ".join(findings)
    if counts["suppressed"]:
        text += f" ({counts['suppressed']} ignored)"
    verdict = "failed" if report.failed else "passed"
    clause = f"{verdict} (fail on: {report.fail_on.value})"
    return f"{text}; {clause}", [(clause, verdict)]


def _count(count: int, noun: str) -> str:
    if noun == "info":
        return f"{count} info"
    return f"{count} {noun}" + ("" if count == 1 else "s")


def render_diff_text(diffs: Sequence[ModelDiff], colour: bool = False) -> str:
    """One block per compared pair: its changes, one per line."""
    style = TextStyle(colour=colour)
    lines: list[str] = []
    for diff in diffs:
        why = f"; {diff.profile_source}" if diff.profile_source else ""
        if diff.profile_source and not diff.profile_source.startswith("--"):
            why += f", as chosen for {diff.new}"
        lines.append(visible(f"{diff.old} -> {diff.new} (semantics: {diff.profile} for both{why})"))
        if diff.is_empty:
            lines.append("  no changes")
        for change in diff.changes:
            kind = paint(f"{change.kind.value:18}", "rule", style)
            lines.append(f"  {kind} {visible(change.path)}: {visible(change.detail)}")
    return "\n".join(lines) + "\n"
