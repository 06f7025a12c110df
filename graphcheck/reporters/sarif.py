"""Findings and model diffs as SARIF 2.1.0, for GitHub code scanning and other viewers.

The model file is the artifact location (its path as given, relative paths against
``%SRCROOT%``); the call path of each finding is its logical location. Rules come
from the registry (``rules[]``, each with its documentation in ``help.markdown``).
``partialFingerprints`` hash the
rule ID, model path and call path, so a finding keeps its identity when its wording
changes. Suppressed findings carry ``suppressions`` with the configured reason.
Output is deterministic: no timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from graphcheck._version import __version__
from graphcheck.diff import ChangeKind, ModelDiff
from graphcheck.findings import Finding, Report, Severity
from graphcheck.hub_handles import is_handle
from graphcheck.reporters.json_text import dumps_document
from graphcheck.rules import RULES

__all__ = ["SARIF_SCHEMA", "SARIF_VERSION", "render_diff_sarif", "render_sarif", "sarif_log"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "graphcheck/v1"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _version() -> str:
    return __version__


def _artifact(path: str) -> dict[str, Any]:
    if is_handle(path):  # a hub handle (hf://OWNER/NAME) is a URI already
        return {"uri": path}
    pure = PurePath(path)
    if pure.is_absolute():
        return {"uri": pure.as_uri()}
    return {"uri": pure.as_posix(), "uriBaseId": "%SRCROOT%"}


def _location(model: str, call_path: str | None) -> dict[str, Any]:
    location: dict[str, Any] = {"physicalLocation": {"artifactLocation": _artifact(model)}}
    if call_path:
        name = call_path.rsplit("/", 1)[-1]
        location["logicalLocations"] = [{"name": name, "fullyQualifiedName": call_path}]
    return location


def _driver(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "graphcheck",
        "version": _version(),
        "semanticVersion": _version(),
        "rules": rules,
    }


def _registry_rules() -> list[dict[str, Any]]:
    descriptors = []
    for item in RULES.values():
        sections = item.sections()
        descriptors.append(
            {
                "id": item.id,
                "name": item.slug,
                "shortDescription": {"text": item.title},
                "fullDescription": {"text": sections.get("What it finds", item.title)},
                **({"helpUri": item.help_uri} if item.help_uri else {}),
                "help": {
                    "text": sections.get("Why is this bad?", item.title),
                    "markdown": item.markdown(),
                },
                "defaultConfiguration": {"level": _LEVELS[item.severity]},
                "properties": {"tags": ["keras", item.id[:3] + "xx"]},
            }
        )
    return descriptors


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": _LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [_location(finding.model, finding.path)],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
    }
    if finding.rule in index:
        result["ruleIndex"] = index[finding.rule]
    if finding.suppressed is not None:
        result["suppressions"] = [{"kind": "external", "justification": finding.suppressed}]
    return result


def sarif_log(report: Report) -> dict[str, Any]:
    """The SARIF log of a gate run as a dict."""
    rules = _registry_rules()
    index = {r["id"]: i for i, r in enumerate(rules)}
    notifications = [
        {
            "level": "error",
            "message": {"text": result.error},
            "locations": [_location(result.path, None)],
        }
        for result in report.errors
    ]
    run: dict[str, Any] = {
        "tool": {"driver": _driver(rules)},
        "invocations": [
            {"executionSuccessful": not notifications, "toolExecutionNotifications": notifications,
             # The gate's verdict, as the exit code says it (0 passed, 1 findings, 3 unreadable).
             "exitCode": 3 if report.errors else 1 if report.failing else 0}
        ],
        "artifacts": [{"location": _artifact(r.path)} for r in report.results],
        "results": [_result(f, index) for f in report.findings],
        "columnKind": "unicodeCodePoints",
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(report: Report) -> str:
    return dumps_document(sarif_log(report))


def render_diff_sarif(diffs: Sequence[ModelDiff]) -> str:
    """Model diffs as SARIF: one ``note`` per change, located in the new file."""
    rules = [
        {
            "id": f"diff/{kind.value}",
            "name": kind.value,
            "shortDescription": {"text": kind.title},
            "defaultConfiguration": {"level": "note"},
        }
        for kind in ChangeKind
    ]
    index = {kind: i for i, kind in enumerate(ChangeKind)}
    results = []
    for diff in diffs:
        for change in diff.changes:
            fingerprint = Finding(
                f"diff/{change.kind.value}",
                change.kind.value,
                Severity.INFO,
                "",
                diff.new,
                change.path,
            ).fingerprint
            results.append(
                {
                    "ruleId": f"diff/{change.kind.value}",
                    "ruleIndex": index[change.kind],
                    "level": "note",
                    "message": {"text": f"{change.path}: {change.detail} (was {diff.old})"},
                    "locations": [_location(diff.new, change.path)],
                    "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
                }
            )
    artifacts = [{"location": _artifact(p)} for d in diffs for p in (d.old, d.new)]
    run = {
        "tool": {"driver": _driver(rules)},
        "invocations": [{"executionSuccessful": True}],
        "artifacts": artifacts,
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    log = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
    return dumps_document(log)
