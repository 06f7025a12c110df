"""The text report of `graphcheck check`: verdict first, a folded table, findings grouped by
rule, one summary line, fitted to the terminal, coloured only where it should be."""

from __future__ import annotations

import itertools
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
    MIN_WIDTH,
    TextStyle,
    choose_colour,
    choose_width,
    fold_names,
    render_table,
    table_min_width,
    visible,
    wrap,
)
from graphcheck.reporters.text_report import TABLE_HEADERS, VERDICT_LABELS
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


def _nested_model(directory: Path, names: tuple[str, str, str, str],
                  file: str = "nested.json") -> Path:
    """An architecture JSON: a frozen Sequential ``names[0]`` holding a Sequential
    ``names[1]`` of a Dense ``names[2]`` and a Dropout ``names[3]``, then a head Dropout."""
    def layer(cls: str, name: str, **config: object) -> dict[str, object]:
        return {"module": "keras.layers", "class_name": cls, "registered_name": None,
                "config": {"name": name, "trainable": True, "dtype": "float32", **config}}

    def sequential(name: str, layers: list[dict[str, object]], trainable: bool = True
                   ) -> dict[str, object]:
        return {"module": "keras", "class_name": "Sequential", "registered_name": None,
                "config": {"name": name, "trainable": trainable, "dtype": "float32",
                           "layers": layers}}

    block = sequential(names[1], [layer("InputLayer", "block_input", batch_shape=[None, 8]),
                                  layer("Dense", names[2], units=8),
                                  layer("Dropout", names[3], rate=0.1)])
    base = sequential(names[0], [layer("InputLayer", "base_input", batch_shape=[None, 8]),
                                 block], trainable=False)
    top = sequential("top", [layer("InputLayer", "x", batch_shape=[None, 8]), base,
                             layer("Dropout", "head_dropout", rate=0.2),
                             layer("Dense", "out", units=1)])
    top |= {"keras_version": "3.15.1", "backend": "tensorflow"}
    path = directory / file
    path.write_text(json.dumps(top))
    return path


LONG_NAMES = ("pretrained_feature_extractor_backbone", "transformer_encoder_block_number_one",
              "attention_output_projection_dense", "attention_output_dropout")


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
        # the line wraps where the temporary folder's path is long: compare without spaces
        assert "".join(f"{broken}: not analysed:".split()) in "".join(out.split())


    def test_folder_analysing_nothing_says_so(self) -> None:
        """A folder whose models all need --rebuild passes (exit 0), and the summary line
        says that nothing was analysed."""
        code, out = _run([str(SAMPLES / "rebuild"), *K315])
        assert code == 0
        assert out == ("0 models analysed, 1 not (1 needs --rebuild): 0 errors, 0 warnings, "
                       "0 info; passed (fail on: error)\n")


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
            # a long path folds the not-analysed reason onto indented lines below it
            assert (not line or line.endswith((".h5", ".keras", ": not analysed:"))
                    or ": not analysed: " in line
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


def _pty_run(args: list[str], env: dict[str, str], stderr: bool = False) -> str:
    """stdout (and with ``stderr``, stderr too) of `python -m graphcheck ARGS` when it
    is a pseudo-terminal."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "graphcheck", *args], stdout=slave,
        stderr=slave if stderr else subprocess.DEVNULL, cwd=ROOT, env=env,
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
    return {**env, "PYTHONPATH": str(ROOT), "COLUMNS": "100", "TERM": "xterm", **changes}


class TestColour:
    def test_terminal_is_coloured_unless_no_color(self) -> None:
        """On a pseudo-terminal: colour by default, none with NO_COLOR=1."""
        assert ESCAPE in _pty_run([FROZEN, *K315], _env())
        assert ESCAPE not in _pty_run([FROZEN, *K315], _env(NO_COLOR="1"))

    @pytest.mark.parametrize("setting", [{"NO_COLOR": "1"}, {"TERM": "dumb"}])
    def test_no_escape_code_at_all_when_escapes_are_off(self, setting: dict[str, str]) -> None:
        """A folder on a pseudo-terminal (stdout and stderr): with NO_COLOR=1 or TERM=dumb,
        no escape byte anywhere, the progress bar's cursor codes included."""
        out = _pty_run(["samples/", *K315], _env(**setting), stderr=True)
        assert "models analysed" in out and "\x1b" not in out

    def test_progress_bar_only_without_q(self) -> None:
        """The bar (its cursor codes) is drawn on a terminal, and left out with -q."""
        assert "\x1b[?25" in _pty_run(["samples/", *K315], _env(), stderr=True)
        assert "\x1b[?25" not in _pty_run(["samples/", *K315, "-q"], _env(), stderr=True)

    def test_validate_progress_line_follows_the_same_rules(
        self, monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """validate's live line (cursor codes) is drawn on a terminal that takes escape
        codes only: not under NO_COLOR or TERM=dumb."""
        import io

        from graphcheck import cli

        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        monkeypatch.setattr(cli.sys, "stderr", Terminal())
        for setting, live in (({}, True), ({"NO_COLOR": "1"}, False), ({"TERM": "dumb"}, False)):
            monkeypatch.delenv("NO_COLOR", raising=False)
            monkeypatch.setenv("TERM", "xterm")
            for name, value in setting.items():
                monkeypatch.setenv(name, value)
            assert cli._Progress("m.keras").live is live, setting

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
        assert choose_colour("auto", True, {"TERM": "dumb", "FORCE_COLOR": "1"}) is False
        # On a terminal (the bar's stderr), the colour choice is the escape-code choice.
        assert choose_colour("auto", True, {}) and choose_colour("always", True, {"TERM": "dumb"})
        assert not choose_colour("never", True, {})
        assert not choose_colour("auto", True, {"TERM": "dumb"})
        assert not choose_colour("auto", True, {"NO_COLOR": "1"})
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


def _cell_breaks(lines: list[str], cells: list[str]) -> list[tuple[str, str, str, int]]:
    """Each (line piece, next piece, cell, column width) where a stacked table's one row
    breaks a cell: the columns are cut where the header line puts them."""
    header = lines[1]
    starts = [m.start() for m in re.finditer(r"\S+(?: by)?", header)]
    pieces: list[list[str]] = [[] for _ in starts]
    for line in lines[3:]:
        for index, start in enumerate(starts):
            end = starts[index + 1] if index + 1 < len(starts) else None
            text = line[start:end].strip()
            if text:
                pieces[index].append(text)
    breaks = []
    widths = [b - a - 2 for a, b in itertools.pairwise(starts)] + [len(lines[1])]
    for column, cell, width in zip(pieces, cells, widths, strict=True):
        assert "".join(column).replace(" ", "") == cell.replace(" ", "")
        breaks += [(a, b, cell, width) for a, b in itertools.pairwise(column)]
    return breaks


class TestWidth:
    @pytest.mark.parametrize("columns", [60, 80])
    def test_every_line_fits(self, tmp_path: Path, columns: int) -> None:
        """At the minimum width and at 80, every line of the samples' report and of a model
        with long nested names fits."""
        model = str(_nested_model(tmp_path, LONG_NAMES))
        for args in (_sample_paths(), [model]):
            _, out = _run([*args, *K315], COLUMNS=str(columns))
            assert "stochastic call" in out
            too_long = [line for line in out.splitlines() if len(line) > columns]
            assert not too_long, too_long

    def test_minimum_width_holds_the_table(self) -> None:
        """The documented minimum width is at least the table's own minimum."""
        assert table_min_width(TABLE_HEADERS) <= MIN_WIDTH == choose_width(None, {"COLUMNS": "1"})

    @pytest.mark.parametrize("width", [60, 80])
    def test_cells_break_between_words(self, width: int) -> None:
        """A stacked row breaks its cells after / or _ or at a space, never inside a word
        that fits its column; the short columns keep their width."""
        cells = ["bert_backbone/transformer_layer_0/self_attention_layer",
                 "MultiHeadAttention 0.1", "(in TransformerEncoder)", "on", "off", "off",
                 "bert_backbone"]
        other = ["bert_backbone/embeddings_dropout", "Dropout 0.1",
                 "bert_backbone/embeddings_layer_norm", "on", "off", "off", "bert_backbone"]
        lines = render_table(TABLE_HEADERS, [cells, other], width, shrink=(0, 2, 6, 1))
        assert all(len(line) <= width for line in lines)
        starts = [i for i, line in enumerate(lines) if re.match(r"  \S", line)][1:]
        for row, first, end in zip((cells, other), starts, [*starts[1:], len(lines)],
                                   strict=True):
            for before, after, cell, column in _cell_breaks(lines[:2] + lines[first:end],
                                                            row[1:]):
                between = before[-1] in "/_" or f"{before} {after}" in cell
                cut = re.split(r"[/_ ]", before)[-1] + re.split(r"[/_ ]", after)[0]
                words = re.split(r"(?<=[/_ ])", cell)  # a piece and the / or _ after it
                assert between or any(len(w) > column and cut in w for w in words), (
                    before, after)
        lines = render_table(TABLE_HEADERS, [cells], 80, shrink=(0, 2, 6, 1))
        assert "TransformerEncoder)" in "".join(lines)

    def test_a_name_breaks_at_its_slash_before_its_underscores(self) -> None:
        """At 60 columns a call path in a cell breaks after its "/" and keeps each name
        whole, the kind column giving up width at its space, rather than the path
        breaking after every "_" (base/ base_ dense)."""
        cells = ["base/base_dropout", "Dropout 0.3", "base/base_dense", "on", "off", "off",
                 "base"]
        lines = render_table(TABLE_HEADERS, [cells], 60, shrink=(0, 2, 6, 1))
        assert all(len(line) <= 60 for line in lines)
        text = "\n".join(lines)
        assert "base_dense" in text and "base/" in text, text
        assert "Dropout" in text and "0.3" in text

    def test_a_long_path_breaks_at_an_underscore_before_it_is_cut(self) -> None:
        """A file name wider than the line breaks after a "/", then after a "_"; a word is
        cut only when one piece is itself wider than the line."""
        folder = "a_really_long_folder_name_that_goes_on_and_on_and_on_forever_and_ever"
        lines = wrap(f"/tmp/{folder}/model.keras", 60, "", "  ")
        assert all(len(line) <= 60 for line in lines)
        assert all(line.strip().endswith(("/", "_", ".keras")) for line in lines), lines
        assert "".join(line.strip() for line in lines) == f"/tmp/{folder}/model.keras"


class TestControlCharacters:
    HOSTILE = ("base\x9b31m", "block\x00", "dense\x7f", "\x1b]0;pwned\x07drop")

    def test_names_print_as_escapes(self, tmp_path: Path) -> None:
        """A layer named with a terminal escape sequence is printed as its escape, in the
        report, the diff and on stderr, coloured or not."""
        model = str(_nested_model(tmp_path, self.HOSTILE, "hostile\x1b[2J.json"))
        for colour in ("never", "always"):
            result = CliRunner().invoke(main, [model, *K315, "--color", colour],
                                        env={"COLUMNS": "100"})
            plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout) if colour == "always" else (
                result.stdout)
            assert re.findall(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", plain) == []
            assert "\\x1b]0;pwned\\x07drop" in plain and "base\\x9b31m" in plain
        diff = CliRunner().invoke(main, ["diff", str(_nested_model(tmp_path, LONG_NAMES)), model,
                                         *K315])
        assert "\\x1b]0;pwned\\x07drop" in diff.stdout and "\x1b" not in diff.stdout
        missing = CliRunner().invoke(main, [str(tmp_path / "gone\x1b]0;x\x07.h5")])
        assert missing.exit_code == 3 and "\x1b" not in missing.stderr
        assert "gone\\x1b]0;x\\x07.h5" in missing.stderr

    def test_visible(self) -> None:
        assert visible("a\x1b[2Jb\x9bc\td\x7f") == "a\\x1b[2Jb\\x9bc\\x09d\\x7f"
        assert visible("plain é") == "plain é"


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
