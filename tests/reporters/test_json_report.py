"""The JSON report written in parts: entries encoded one by one (in C where it can), then joined."""

from __future__ import annotations

import json
from typing import Any

import pytest
from paths import SAMPLES

from graphcheck.api import load
from graphcheck.findings import ModelResult, Report
from graphcheck.reporters.findings_json import add_findings
from graphcheck.reporters.json_report import (
    _dumps,
    build_document,
    document,
    join_document,
    render_entry,
)
from graphcheck.rules.runner import run_rules


def whole(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


class TestDumps:
    @pytest.mark.parametrize(
        "value",
        [
            {}, [], (), 0, -0.0, 1e300, 10**30, float("nan"), float("-inf"), None, True, "",
            "x\ny \u00e9 \"{[\\", [[]], [{}], {"a": [1]}, {"b": {"c": {}}}, (1, (2, {"q": None})),
            [1, [2, [3, {}]]], {"k": "{[", "j": ["[", "{"], "z": {"y": 0.1, "x": [None, False]}},
        ],
    )
    @pytest.mark.parametrize("depth", [0, 2])
    def test_same_bytes_as_json_dumps(self, value: Any, depth: int) -> None:
        """The fast encoder writes what json.dumps(indent=2, sort_keys=True) writes."""
        expected = json.dumps(value, indent=2, sort_keys=True).replace("\n", "\n" + "  " * depth)
        assert _dumps(value, depth) == expected


class TestJoinDocument:
    @pytest.mark.parametrize(
        "entries",
        [
            [],
            [{}],
            [{"a": [], "b": {}, "c": [1, 2.5, None, True], "d": {"e": [{"f": "g"}]}}],
            [{"path": "odd\nname \"quoted\" \u00e9\t/\\", "x": float("inf")}, {"y": [[[]]]}],
        ],
    )
    def test_same_bytes_as_one_dump(self, entries: list[dict[str, Any]]) -> None:
        """Entries encoded one by one and joined give the bytes of one json.dumps of the whole."""
        rest = {"errors": [{"path": "x", "error": "bad\nfile"}], "summary": {"models": 3}}
        expected = whole({**rest, "schema_version": "1.0", "models": entries})
        encoded = [json.dumps(e, indent=2, sort_keys=True).replace("\n", "\n    ") for e in entries]
        assert join_document(encoded, {**rest, "schema_version": "1.0"}) == expected

    @pytest.mark.parametrize("name", ["merged_frozen.keras", "inverted_dropout_tfkeras.h5"])
    def test_render_entry_matches_add_findings(self, name: str) -> None:
        """render_entry gives a model's entry, findings included, as the whole report writes it."""
        path = str(SAMPLES / name)
        analysis = load(path).analyse("3.15.1")
        report = Report((ModelResult(path, run_rules(analysis)),))
        expected = whole(add_findings(document([analysis]), report))
        rest = add_findings(build_document([]), report)
        assert join_document([render_entry(analysis, report.results[0])], rest) == expected
