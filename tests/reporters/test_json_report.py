"""The JSON report written in parts: entries encoded one by one, then joined; its layout."""

from __future__ import annotations

import json
from typing import Any

import pytest
from paths import SAMPLES

from graphcheck.api import load
from graphcheck.findings import ModelResult, Report
from graphcheck.reporters.findings_json import add_findings
from graphcheck.reporters.json_report import (
    build_document,
    document,
    join_document,
    render_entry,
)
from graphcheck.reporters.json_text import INDENTED_LEVELS, dumps, dumps_document
from graphcheck.rules.runner import run_rules


def whole(doc: dict[str, Any]) -> str:
    return dumps_document(doc)


VALUES = [
    {}, [], (), 0, -0.0, 1e300, 10**30, float("nan"), float("-inf"), None, True, "",
    "x\ny \u00e9 \"{[\\", [[]], [{}], {"a": [1]}, {"b": {"c": {}}}, (1, (2, {"q": None})),
    [1, [2, [3, {}]]], {"k": "{[", "j": ["[", "{"], "z": {"y": 0.1, "x": [None, False]}},
    {"deep": [[{"a": [{"b": [1, {"c": "d"}]}]}]]}, {1: "int key", 3: [None]},
]


class TestDumps:
    @pytest.mark.parametrize("value", VALUES)
    @pytest.mark.parametrize("level", [0, 2, INDENTED_LEVELS])
    def test_same_json_as_json_dumps(self, value: Any, level: int) -> None:
        """The text decodes to what json.dumps's does, at any level (NaN compared as text)."""
        ours = json.loads(dumps(value, level))
        assert json.dumps(ours, sort_keys=True) == json.dumps(json.loads(json.dumps(value)),
                                                                sort_keys=True)

    @pytest.mark.parametrize("value", VALUES)
    def test_outer_levels_indented_deeper_ones_on_one_line(self, value: Any) -> None:
        """Levels 0-3 are indented as json.dumps(indent=2) does; each item of level 4
        is one line, as the C encoder writes it."""
        one_line = json.JSONEncoder(sort_keys=True).encode
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            inner = [f"        {json.dumps(k)}: {one_line(v)}" for k, v in sorted(value.items())]
            third = ["      {", ",\n".join(inner), "      }"]
        elif isinstance(value, (list, tuple)) and value:
            third = ["      [", ",\n".join("        " + one_line(v) for v in value), "      ]"]
        else:
            third = ["      " + one_line(value)]
        expected = "\n".join(["{", '  "a": {', '    "b": [', *third, "    ]", "  }", "}"])
        assert dumps({"a": {"b": [value]}}) == expected
        assert INDENTED_LEVELS == 4

    def test_a_small_report_reads_as_written(self) -> None:
        """The whole layout, by hand: one finding per line."""
        doc = {"models": [{"findings": [{"rule": "GC101", "path": "d"}], "name": "m",
                           "counts": {"layers": 2}}], "errors": []}
        assert dumps_document(doc) == (
            '{\n'
            '  "errors": [],\n'
            '  "models": [\n'
            '    {\n'
            '      "counts": {\n'
            '        "layers": 2\n'
            '      },\n'
            '      "findings": [\n'
            '        {"path": "d", "rule": "GC101"}\n'
            '      ],\n'
            '      "name": "m"\n'
            '    }\n'
            '  ]\n'
            '}\n'
        )


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
        """Entries encoded one by one and joined give the bytes of one dumps of the whole."""
        rest = {"errors": [{"path": "x", "error": "bad\nfile"}], "summary": {"models": 3}}
        expected = whole({**rest, "schema_version": "1.0", "models": entries})
        encoded = [dumps(e, 2) for e in entries]
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
