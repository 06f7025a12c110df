"""Findings and model diffs as JSON: merged into the JSON report, or on their own.

The gate's JSON keeps every field of :mod:`graphcheck.reporters.json_report` and adds
``findings`` to each model entry plus a top-level ``summary``
(``docs/gate.schema.json``). A diff is its own document (``docs/diff.schema.json``).
Keys are sorted and nothing time-dependent is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from graphcheck.findings import Finding, Report
from graphcheck.reporters.json_text import dumps_document
from graphcheck.rules import RULES

if TYPE_CHECKING:  # only in annotations: a check run never loads graphcheck.diff
    from graphcheck.diff import ModelDiff

__all__ = [
    "DIFF_SCHEMA_VERSION",
    "add_findings",
    "diff_document",
    "finding_entry",
    "render_diff_json",
]

DIFF_SCHEMA_VERSION = "1.0"


def finding_entry(finding: Finding) -> dict[str, Any]:
    """One finding as a JSON object."""
    item = RULES.get(finding.rule)
    return {
        "rule": finding.rule,
        "slug": finding.slug,
        "severity": finding.severity.value,
        "message": finding.message,
        "model": finding.model,
        "path": finding.path,
        "fingerprint": finding.fingerprint,
        "suppressed": finding.suppressed is not None,
        "suppression_reason": finding.suppressed,
        "help_uri": item.help_uri if item else None,
    }


def entry_with_findings(entry: Mapping[str, Any], findings: Sequence[Finding]) -> dict[str, Any]:
    """One model entry of the JSON report with its ``findings`` list."""
    return {**entry, "findings": [finding_entry(f) for f in findings]}


def add_findings(document: Mapping[str, Any], report: Report) -> dict[str, Any]:
    """The JSON report with ``findings`` in each model entry and a ``summary``.

    Model entries are matched to results by their ``path``; the other fields of the
    document are kept as they are.
    """
    by_path = {r.path: r for r in report.results}
    merged = dict(document)
    models = []
    for entry in document.get("models", []):
        result = by_path.get(entry.get("path"))
        models.append(entry_with_findings(entry, result.findings if result is not None else ()))
    merged["models"] = models
    # An unreadable file without a layer graph still has its load-safety findings.
    merged["errors"] = [
        entry_with_findings(entry, by_path[entry["path"]].findings)
        if entry.get("path") in by_path else dict(entry)
        for entry in document.get("errors", [])
    ]
    merged["not_analysed"] = [{"path": n.path, "reason": n.reason} for n in report.not_analysed]
    counts = report.counts()
    merged["summary"] = {
        "models": len(report.results),
        "fail_on": report.fail_on.value,
        "failed": report.failed,
        "rules": list(report.rules),
        **counts,
    }
    return merged


def diff_document(diffs: Sequence[ModelDiff]) -> dict[str, Any]:
    """Model diffs as one JSON document."""
    return {
        "schema_version": DIFF_SCHEMA_VERSION,
        "diffs": [
            {
                "old": d.old,
                "new": d.new,
                "profile": d.profile,
                "keras_version": d.keras_version,
                "changes": [
                    {
                        "kind": c.kind.value,
                        "path": c.path,
                        "detail": c.detail,
                        "old": c.old,
                        "new": c.new,
                    }
                    for c in d.changes
                ],
            }
            for d in diffs
        ],
    }


def render_diff_json(diffs: Sequence[ModelDiff]) -> str:
    return dumps_document(diff_document(diffs))
