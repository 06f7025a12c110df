"""The text report of `graphcheck check`: verdict first, a folded table, findings grouped by
rule, one summary line, fitted to the terminal, coloured only where it should be."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import REAL_MODELS, ROOT, SAMPLES

from graphcheck.cli import main
from graphcheck.reporters.terminal import (
    TextStyle,
    choose_colour,
    choose_width,
    fold_names,
    render_table,
    wrap,
)
from graphcheck.reporters.text_report import VERDICT_LABELS
from graphcheck.rules import RULES

K315 = ["--keras-version", "3.15.1"]
ESCAPE = "\x1b["
SEVERITIES = ("error", "warning", "info", "ignored")
GOLDEN = Path(__file__).parent / "golden" / "samples.txt"
FROZEN = str(SAMPLES / "merged_frozen.keras")


def _sample_paths() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in SAMPLES.iterdir()
                  if p.suffix in (".h5", ".keras"))


def _real_paths() -> list[str]:
    if not REAL_MODELS.is_dir():
        return []
    return sorted(str(p) for p in REAL_MODELS.iterdir() if p.suffix in (".h5", ".keras"))


def _run(args: list[str], **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, env={"COLUMNS": "100", "NO_COLOR": None,
                                                 "FORCE_COLOR": None, **env})
    return result.exit_code, result.stdout


def _blocks(text: str) -> dict[str, list[str]]:
    """Each model's lines, by its path (the unindented line that opens its block)."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines()[:-1]:  # the last line is the summary
        if line and not line.startswith(" "):
            path = line.split(": not analysed", 1)[0]
            current = blocks.setdefault(path, [])
        if current is not None:
            current.append(line)
    return blocks


def _stacked_fold_model(directory: Path) -> Path:
    """An architecture JSON: a frozen Sequential base of 12 Dense/Dropout pairs named by
    index (dense_0, dropout_0, ...), then a head Dropout."""
    def layer(cls: str, name: str, **config: object) -> dict[str, object]:
        return {"module": "keras.layers", "class_name": cls, "registered_name": None,
                "config": {"name": name, "trainable": True, "dtype": "float32", **config}}

    inner = [layer("InputLayer", "base_input", batch_shape=[None, 8])]
    for index in range(12):
        inner += [layer("Dense", f"dense_{index}", units=8),
                  layer("Dropout", f"dropout_{index}", rate=0.1)]
    base = {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "base", "trainable": False, "dtype": "float32", "layers": inner}}
    top = {"module": "keras", "class_name": "Sequential", "registered_name": None,
           "keras_version": "3.15.1", "backend": "tensorflow",
           "config": {"name": "top", "trainable": True, "dtype": "float32", "layers": [
               layer("InputLayer", "x", batch_shape=[None, 8]), base,
               layer("Dropout", "head_dropout", rate=0.2), layer("Dense", "out", units=1)]}}
    path = directory / "stack.json"
    path.write_text(json.dumps(top))
    return path


@pytest.fixture(scope="module")
def reports() -> dict[str, str]:
    """The report over the samples and the real models, by verbosity flag ("" for none)."""
    paths = [*_sample_paths(), *_real_paths()]
    return {flag: _run([*paths, *K315, *([flag] if flag else [])])[1] for flag in ("", "-v", "-q")}


class TestGolden:
    def test_samples_match_the_golden_report(self, reports: dict[str, str]) -> None:
        """The samples' report at COLUMNS=100 is the stored one (GRAPHCHECK_UPDATE_GOLDEN=1 rewrites it)."""
        out = reports[""] if not _real_paths() else _run([*_sample_paths(), *K315])[1]
        if os.environ.get("GRAPHCHECK_UPDATE_GOLDEN"):
            GOLDEN.parent.mkdir(exist_ok=True)
            GOLDEN.write_text(out)
        assert out == GOLDEN.read_text()

    @pytest.mark.parametrize("flag", ["", "-v", "-q"])
    def test_every_line_fits_100_columns(self, reports: dict[str, str], flag: str) -> None:
        """Over the samples and the real models, no line is wider than COLUMNS=100."""
        wide = [line for line in reports[flag].splitlines() if len(line) > 100]
        assert not wide, wide

    def test_verdict_opens_every_model(self, reports: dict[str, str]) -> None:
        """Each analysed model's first lines are the three verdict lines, in order."""
        blocks = _blocks(reports[""])
        analysed = [lines for lines in blocks.values() if ": not analysed" not in lines[0]]
        assert len(analysed) >= len(_sample_paths())
        for lines in analysed:
            heads = [line.strip().split(":", 1)[0] for line in lines[1:8] if line.startswith("  ")
                     and not line.startswith("    ")]
            labels = [h for h in heads if h in VERDICT_LABELS]
            assert labels == list(VERDICT_LABELS), lines[:8]
            verdict = " ".join(" ".join(lines[1:8]).split())
            frozen, inference, training = (
                verdict.split(f"{label}:", 1)[1] for label in VERDICT_LABELS
            )
            assert re.match(r" (ACTIVE in fit\(\)|off in fit\(\)|no stochastic layer inside the "
                            r"frozen base|nothing is frozen|the whole model is frozen)", frozen)
            assert re.match(r" (ACTIVE in predict\(\)|ACTIVE in model\(x\)|nothing stochastic is "
                            r"active in predict\(\) or model\(x\))", inference)
            assert re.match(r" (nothing stochastic is active in fit\(\)|inverted dropout|alpha "
                            r"dropout|every unit|random)", training), verdict

    def test_each_rule_explained_once_per_model(self, reports: dict[str, str]) -> None:
        """A rule's title, and what its places share, appear once in a model's block."""
        seen = 0
        for lines in _blocks(reports[""]).values():
            text = "\n".join(lines)
            rules = set(re.findall(r"^  (?:error|warning|info|ignored) (GC\d{3}) ", text, re.M))
            for rule_id in rules:
                title = RULES[rule_id].title.replace("`", "").rstrip(".")
                assert " ".join(text.split()).count(" ".join(title.split())) == 1, (rule_id, text)
                seen += 1
            shared = [line for line in lines if line.strip().startswith("each:")]
            assert len(shared) == len(set(shared)) <= len(rules)
        assert seen

    def test_shared_advisory_is_said_once(self) -> None:
        """Seven Lambda findings of one model print their security advisory once."""
        path = REAL_MODELS / "k2_dl4j_deepfm_multiinput_lambda.h5"
        if not path.exists():
            pytest.skip(f"{REAL_MODELS} is not there")
        _, out = _run([str(path)])
        assert out.count("CVE-2024-3660") == 1
        assert out.count("--> ") == 5  # four names, and sum_of_tensors@{0..2} folded

    def test_summary_counts_what_was_not_analysed(self, tmp_path: Path) -> None:
        """The last line counts models analysed, those not and why, findings and the verdict."""
        broken = tmp_path / "broken.keras"
        broken.write_bytes(b"not a zip")
        code, out = _run([FROZEN, str(broken), *K315])
        assert code == 3
        last = " ".join(out.rsplit("\n\n", 1)[-1].split())
        assert last.startswith("1 model analysed, 1 not (1 ")
        assert "0 errors, 2 warnings, 0 info; failed (fail on: error)" in last
        assert f"{broken}: not analysed: " in out


class TestFolding:
    def test_indexed_rows_fold_and_v_unfolds(self, tmp_path: Path) -> None:
        """Twelve dropout_N rows fold into one row with a count; -v lists each with its reasons."""
        model = str(_stacked_fold_model(tmp_path))
        _, out = _run([model, *K315])
        assert "base/dropout_{0..11} (12 calls)" in out
        assert "base/dense_{0..11}" in out
        assert "--> base/dropout_{0..11} (12 places)" in out
        assert out.count("still drops units in fit() although submodel base") == 1
        assert "12 stochastic calls inside frozen submodel base (GC101)" in out
        assert "base/dropout_7" not in out
        _, verbose = _run([model, *K315, "-v"])
        rows = [line for line in verbose.splitlines() if re.match(r"  base/dropout_\d+\s", line)]
        assert len(rows) == 12
        assert "base/dropout_7 (Dropout, rate 0.1) masks the output of base/dense_7" in (
            " ".join(verbose.split()))
        assert verbose.count("--> base/dropout_") == 12

    def test_fold_names(self) -> None:
        """Numbers that differ become a range or a list; equal ones stay."""
        assert fold_names(["a_0/b_1", "a_1/b_1", "a_2/b_1"]) == "a_{0..2}/b_1"
        assert fold_names(["s@0/d", "s@1/d"]) == "s@{0,1}/d"
        assert fold_names(["x_1", "x_5", "x_9"]) == "x_{1,5,9}"


class TestQuiet:
    def test_q_prints_findings_and_summary_only(self, reports: dict[str, str]) -> None:
        """-q: model paths with findings, their grouped findings, the summary; no verdict or table."""
        out = reports["-q"]
        summary = out.rsplit("\n\n", 1)[1]
        assert re.match(r"\d+ models analysed", summary)
        assert summary == reports[""].rsplit("\n\n", 1)[1]
        for label in (*(f"  {v}:" for v in VERDICT_LABELS), "stochastic call", "no findings"):
            assert label not in out
        for line in out.rsplit("\n\n", 1)[0].splitlines():
            assert (not line or line.endswith((".h5", ".keras")) or ": not analysed: " in line
                    or line.startswith(tuple(f"  {s} GC" for s in SEVERITIES))
                    or line.startswith("    ")), line
        assert "samples/inverted_dropout.keras" not in out  # no findings: not listed
        assert "GC101" in out

    def test_q_and_v_exclude_each_other(self) -> None:
        """-q with -v is a usage error."""
        code, _ = _run([FROZEN, "-q", "-v"])
        assert code == 2


class TestHelpLine:
    @pytest.mark.parametrize(("version", "says"), [
        ("3.15.1", "does not stop it"),
        ("2.21.0", "Keras 2 honours the innermost stored flag"),
    ])
    def test_gc101_help_depends_on_the_running_keras(self, version: str, says: str) -> None:
        """GC101's help line says what stops the dropout on the Keras that runs the file."""
        _, out = _run([str(SAMPLES / "merged_frozen_tfkeras.h5"), "--keras-version", version])
        help_text = " ".join(out.split("help:", 1)[1].split("\n\n", 1)[0].split())
        assert says in help_text
        expected = RULES["GC101"].help_for("keras3" if version.startswith("3") else "keras2")
        assert help_text[1:] == expected[1:]

    def test_rule_page_lists_the_help_lines(self) -> None:
        """The rule's page (docs/rules) carries the same help text the report prints."""
        page = (ROOT / "docs" / "rules" / "GC101.md").read_text()
        for text in RULES["GC101"].help.values():
            assert text in page


def _pty_run(args: list[str], env: dict[str, str]) -> str:
    """stdout of `python -m graphcheck ARGS` when stdout is a pseudo-terminal."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "graphcheck", *args], stdout=slave, stderr=subprocess.DEVNULL,
        cwd=ROOT, env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=30)
    os.close(master)
    return b"".join(chunks).decode()


def _env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return {**env, "PYTHONPATH": str(ROOT), "COLUMNS": "100", **changes}


class TestColour:
    def test_terminal_is_coloured_unless_no_color(self) -> None:
        """On a pseudo-terminal: colour by default, none with NO_COLOR=1."""
        assert ESCAPE in _pty_run([FROZEN, *K315], _env())
        assert ESCAPE not in _pty_run([FROZEN, *K315], _env(NO_COLOR="1"))

    def test_pipe_is_plain_unless_forced(self) -> None:
        """Through a pipe: no colour, unless FORCE_COLOR or --color always."""
        assert ESCAPE not in _run([FROZEN, *K315])[1]
        assert ESCAPE in _run([FROZEN, *K315], FORCE_COLOR="1")[1]
        assert ESCAPE in _run([FROZEN, *K315, "--color", "always"], NO_COLOR="1")[1]
        assert ESCAPE not in _run([FROZEN, *K315], FORCE_COLOR="1", NO_COLOR="1")[1]

    def test_colour_keeps_the_width(self) -> None:
        """Escape codes take no column: coloured lines fit as the plain ones do."""
        _, out = _run([FROZEN, *K315, "--color", "always"])
        plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
        assert plain == _run([FROZEN, *K315])[1]

    def test_choose_colour_and_width(self) -> None:
        """The rules of --color, NO_COLOR, FORCE_COLOR and COLUMNS."""
        assert choose_colour("auto", True, {}) is True
        assert choose_colour("auto", True, {"NO_COLOR": "1"}) is False
        assert choose_colour("auto", True, {"NO_COLOR": ""}) is True
        assert choose_colour("auto", False, {"FORCE_COLOR": "1"}) is True
        assert choose_colour("never", True, {"FORCE_COLOR": "1"}) is False
        assert choose_colour("always", False, {"NO_COLOR": "1"}) is True
        assert choose_width(None, {}) == 100
        assert choose_width(132, {}) == 132
        assert choose_width(132, {"COLUMNS": "80"}) == 80


class TestLayout:
    def test_wrap_indents_continuations_and_cuts_paths_at_slashes(self) -> None:
        """Continuation lines are indented; a path longer than a line breaks after a slash."""
        lines = wrap("word " * 30, 40, "  ", "    ")
        assert all(len(x) <= 40 for x in lines) and all(x.startswith("      ") for x in lines[1:])
        path = "/".join(f"segment_{i}" for i in range(10))
        lines = wrap(path, 40, "  ")
        assert all(len(x) <= 40 for x in lines) and lines[0].endswith("/")

    def test_table_stacks_when_too_wide(self) -> None:
        """A table too wide for the line puts each row's first cell on a line of its own."""
        rows = [["a/" * 30 + "dropout", "Dropout 0.1", "x/" * 20 + "dense", "on"]]
        lines = render_table(["call", "kind", "masks", "fit"], rows, 80, style=TextStyle())
        assert all(len(x) <= 80 for x in lines)
        assert lines[0] == "  call" and lines[2].strip().startswith("a/")


class TestRuleGroups:
    def test_shared_beginning_and_ending_said_once(self) -> None:
        """What every finding of a rule says alike (a clause ending in ':' and a long ending)
        is printed once; each place keeps only its own words."""
        from graphcheck.findings import Finding, Severity
        from graphcheck.reporters.findings_text import render_rule_groups

        changes = {"bn": "fit() batch -> moving", "drop_1": "fit() active -> off",
                   "drop_2": "fit() active -> off"}
        findings = [
            Finding("GC105", "training-flags-differ-between-versions", Severity.WARNING,
                    f"{path} behaves differently under Keras 3.16.0 than under Keras 3.15.1, which "
                    f"saved the file: {change} (3 of 3 calls in this model change; re-save it)",
                    "m.keras", path)
            for path, change in changes.items()
        ]
        text = "\n".join(render_rule_groups(findings, TextStyle(width=100), "keras3-callsite"))
        assert text.count("behaves differently") == 1 and text.count("re-save it") == 1
        assert "--> bn: fit() batch -> moving" in text
        assert "--> drop_{1,2} (2 places): fit() active -> off" in text
        assert text.count("GC105") == 1 and "help: " in text
