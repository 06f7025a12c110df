"""How the text report meets a terminal: width, colour, verbosity, wrapping and tables.

Standard library only (``textwrap``): the report is printed on the static path, where
importing ``rich`` would cost more than rendering (see docs/report.md). The CLI decides
the :class:`TextStyle` from its flags and the environment (:func:`choose_colour`,
:func:`choose_width`); the reporters only format with it.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_WIDTH",
    "TextStyle",
    "choose_colour",
    "choose_width",
    "fold_names",
    "paint",
    "render_table",
    "table_min_width",
    "visible",
    "wrap",
    "wrap_painted",
]

#: The width when stdout is not a terminal and ``COLUMNS`` is not set.
DEFAULT_WIDTH = 100
#: Narrower than this and the report's table cannot hold its columns (tests check that
#: :func:`table_min_width` of the report's headers is within it): wrap at this width anyway.
MIN_WIDTH = 60
# Control characters (C0, DEL, C1): a terminal would act on them, so a name or message
# that holds one (a hostile layer name) shows it as an escape instead.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_BOLD, _DIM, _RED, _YELLOW, _CYAN, _GREEN = "1", "2", "31", "33", "36", "32"
#: ANSI codes by role, so that a reporter names what a word is, not its colour.
ROLES = {
    "error": _RED + ";" + _BOLD,
    "warning": _YELLOW + ";" + _BOLD,
    "info": _CYAN + ";" + _BOLD,
    "ignored": _DIM,
    "model": _BOLD,
    "on": _YELLOW,
    "alarm": _RED + ";" + _BOLD,
    "ok": _GREEN,
    "dim": _DIM,
    "rule": _BOLD,
    "help": _CYAN,
    "failed": _RED + ";" + _BOLD,
    "passed": _GREEN + ";" + _BOLD,
}


@dataclass(frozen=True, slots=True)
class TextStyle:
    """How to print the text report.

    ``verbosity`` is -1 for ``-q`` (findings and the summary only), 0 by default,
    1 for ``-v`` (folded rows unfolded, each call's reasons in words).
    """

    width: int = DEFAULT_WIDTH
    colour: bool = False
    verbosity: int = 0

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0

    @property
    def verbose(self) -> bool:
        return self.verbosity > 0


def choose_colour(choice: str, is_terminal: bool, environ: Mapping[str, str]) -> bool:
    """Whether to print ANSI colour: ``--color always|never``, else the environment.

    ``auto`` colours a terminal only, unless ``NO_COLOR`` is set (to anything but
    the empty string, https://no-color.org) or ``TERM`` is ``dumb``; ``FORCE_COLOR``
    (non-empty) colours even a pipe. ``NO_COLOR`` and ``TERM=dumb`` win over
    ``FORCE_COLOR``; the flag wins over all.
    """
    if choice == "always":
        return True
    if choice == "never":
        return False
    if environ.get("NO_COLOR", "") or environ.get("TERM", "") == "dumb":
        return False
    if environ.get("FORCE_COLOR", ""):
        return True
    return is_terminal


def visible(text: str) -> str:
    """``text`` with every control character shown as its escape (``\\x1b``): names
    and messages from a model file reach the terminal as text, never as commands."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def choose_width(terminal_columns: int | None, environ: Mapping[str, str]) -> int:
    """The report's width: ``COLUMNS`` when set, else the terminal's, else 100."""
    text = environ.get("COLUMNS", "").strip()
    if text.isdigit() and int(text) > 0:
        return max(int(text), MIN_WIDTH)
    if terminal_columns:
        return max(terminal_columns, MIN_WIDTH)
    return DEFAULT_WIDTH


def paint(text: str, role: str, style: TextStyle) -> str:
    """``text`` in the colour of ``role`` when the style has colour, else as it is."""
    text = visible(text)
    if not style.colour or not text:
        return text
    return f"\x1b[{ROLES[role]}m{text}\x1b[0m"


def wrap(text: str, width: int, indent: str = "", hang: str = "    ") -> list[str]:
    """``text`` wrapped to ``width``: first line at ``indent``, the rest at ``indent + hang``.

    Breaks at spaces, and inside a long call path at its slashes. Control characters
    are shown as escapes (:func:`visible`).
    """
    text = visible(text)
    first, rest = indent, indent + hang
    lines = textwrap.wrap(
        text, width=max(width, len(rest) + 10), initial_indent=first, subsequent_indent=rest,
        break_on_hyphens=False, break_long_words=False,
    ) or [first.rstrip()]
    out: list[str] = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
            continue
        lead = first if not out else rest
        pieces = _split_path(line[len(lead):], width - len(rest))
        out.append(lead + pieces[0])
        out.extend(rest + piece for piece in pieces[1:])
    return out


def wrap_painted(
    text: str,
    width: int,
    indent: str = "",
    hang: str = "    ",
    marks: Sequence[tuple[str, str]] = (),
    style: TextStyle | None = None,
) -> list[str]:
    """:func:`wrap`, then each ``(words, role)`` of ``marks`` painted where it first
    appears whole on a line: the breaks are those of the plain text."""
    lines = wrap(text, width, indent, hang)
    if style is None or not style.colour:
        return lines
    start = 0
    for words, role in marks:
        words = visible(words)
        for index in range(start, len(lines)):
            if words in lines[index]:
                lines[index] = lines[index].replace(words, paint(words, role, style), 1)
                start = index
                break
    return lines


def _split_path(text: str, width: int) -> list[str]:
    """Cut a word longer than ``width`` after its slashes (a call path), then after the
    underscores of a name still too long, else anywhere."""
    width = max(width, 8)
    tokens = _pieces(text, width) or [text]  # one word: no spaces to break at
    pieces: list[str] = []
    current = ""
    for token in tokens:
        while len(token) > width:  # one name longer than the line: cut it
            if current:
                pieces.append(current)
                current = ""
            pieces.append(token[:width])
            token = token[width:]
        if len(current) + len(token) > width and current:
            pieces.append(current)
            current = ""
        current += token
    if current:
        pieces.append(current)
    return pieces or [""]


# A cell breaks after a "/" or at a space; a piece still too wide also after a "_",
# and inside a name only when one piece of it is wider than the column.
_COARSE_PIECES = re.compile(r"[^/ ]*[/ ]|[^/ ]+")
_FINE_PIECES = re.compile(r"[^_]*_|[^_]+")


def _pieces(text: str, width: float) -> list[str]:
    """``text`` cut after its "/"s and spaces, and the pieces wider than ``width``
    after their "_"s too (``width`` 0: every piece; infinite: none)."""
    pieces: list[str] = []
    for piece in _COARSE_PIECES.findall(text):
        if len(piece.rstrip(" ")) > width:
            pieces.extend(_FINE_PIECES.findall(piece))
        else:
            pieces.append(piece)
    return pieces


def _cell_lines(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    out: list[str] = []
    current = ""
    for piece in _pieces(text, width):
        if current and len(current + piece.rstrip(" ")) > width:
            out.append(current.rstrip(" "))
            current = ""
        if not current:
            piece = piece.lstrip(" ")
        while len(piece.rstrip(" ")) > width:  # one piece wider than the column: cut it
            out.append(piece[:width])
            piece = piece[width:]
        current += piece
    if current.strip():
        out.append(current.rstrip(" "))
    return out or [""]


def _longest_piece(cells: Sequence[str], underscores: bool) -> int:
    """The widest piece of the cells, broken at "/"s and spaces, and at "_"s too."""
    width = 0 if underscores else math.inf
    return max((len(p.rstrip(" ")) for c in cells for p in _pieces(c, width)), default=0)


def table_min_width(headers: Sequence[str], indent: str = "  ") -> int:
    """The narrowest width :func:`render_table` fits: the stacked rows' headers side by
    side (a header is never broken; a cell is, down to its header's width)."""
    rest = headers[1:]
    return len(indent) + 4 + sum(len(h) for h in rest) + 2 * (len(rest) - 1)


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    indent: str = "  ",
    shrink: Sequence[int] = (0,),
    paints: Sequence[Sequence[str | None]] | None = None,
    style: TextStyle | None = None,
) -> list[str]:
    """A plain table, columns two spaces apart, fitted into ``width``.

    When the columns do not fit side by side, each row's first cell (a call path)
    gets a line of its own and the other cells follow on the next line, indented.
    If they still do not fit, the columns in ``shrink`` (indices, most willing
    first) give up width and their cells wrap onto continuation lines: first each
    down to its longest piece between ``/``s and spaces, in order, then each down to
    its longest piece between ``_``s too, and only then, if need be, down to its
    header's width. The
    other columns keep their natural width. ``paints`` names a role per cell (or
    None) to colour it with ``style``; control characters are shown as escapes.
    """
    rows = [[visible(cell) for cell in row] for row in rows]
    count = len(headers)
    natural = [max([len(headers[i]), *(len(r[i]) for r in rows)]) for i in range(count)]
    if sum(natural) + 2 * (count - 1) + len(indent) <= width:
        return _table_lines(headers, rows, list(natural), indent, paints, style)
    # Stacked: the first column alone, then the rest under it.
    under = indent + "    "
    widths = _shrunk(natural[1:], list(headers[1:]), [r[1:] for r in rows],
                     width - len(under), [i - 1 for i in shrink if i > 0])
    lines = [indent + headers[0]]
    lines.extend(_table_lines(headers[1:], [], widths, under, None, None))
    for row_index, row in enumerate(rows):
        lines.extend(wrap(row[0], width, indent, "  "))
        marks = [p[1:] for p in paints] if paints is not None else None
        body = _table_lines(headers[1:], [row[1:]], widths, under,
                            [marks[row_index]] if marks is not None else None, style)
        lines.extend(body[1:])
    return lines


def _shrunk(natural: Sequence[int], headers: Sequence[str], rows: Sequence[Sequence[str]],
            room: int, shrink: Sequence[int]) -> list[int]:
    widths = list(natural)
    room -= 2 * (len(widths) - 1)
    floors = [
        [max(len(headers[i]), _longest_piece([r[i] for r in rows], underscores))
         for i in range(len(widths))]
        for underscores in (False, True)
    ]
    floors.append([len(h) for h in headers])
    # In order, each down to its longest piece between "/"s and spaces, then between
    # "_"s as well: a name is broken at its "/" before any is at a "_", and none is cut.
    for floor in floors[:2]:
        for index in shrink:
            excess = sum(widths) - room
            if excess <= 0:
                return widths
            widths[index] = max(min(floor[index], widths[index]), widths[index] - excess)
    # Words must be cut: the widest column gives up a column at a time, so that no one
    # column is left a few characters wide while another keeps its width.
    excess = sum(widths) - room
    while excess > 0:
        willing = [i for i in shrink if widths[i] > floors[2][i]]
        if not willing:
            break
        widest = max(willing, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


def _table_lines(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[int],
    indent: str,
    paints: Sequence[Sequence[str | None]] | None,
    style: TextStyle | None,
) -> list[str]:
    count = len(headers)
    lines = [indent + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row_index, row in enumerate(rows):
        cells = [_cell_lines(row[i], widths[i]) for i in range(count)]
        height = max(len(c) for c in cells)
        for line_index in range(height):
            parts = []
            for i in range(count):
                text = cells[i][line_index] if line_index < len(cells[i]) else ""
                padded = text.ljust(widths[i])
                role = paints[row_index][i] if paints is not None else None
                if role and style is not None and text:
                    padded = paint(text, role, style) + " " * (widths[i] - len(text))
                parts.append(padded)
            lines.append((indent + "  ".join(parts)).rstrip())
    return lines


_DIGITS = re.compile(r"(\d+)")


def _braces(values: Sequence[int]) -> str:
    """``{0..11}`` for a run of consecutive numbers, else ``{0,2,5}``."""
    unique = sorted(set(values))
    if len(unique) > 2 and unique == list(range(unique[0], unique[-1] + 1)):
        return f"{{{unique[0]}..{unique[-1]}}}"
    return "{" + ",".join(str(v) for v in unique) + "}"


def fold_key(text: str) -> str:
    """``text`` with every number replaced: names that differ only by an index share it."""
    return _DIGITS.sub("#", text)


def fold_names(names: Sequence[str]) -> str:
    """Names that differ only by their numbers, as one: ``layer_{0..11}/dropout``.

    Every name must have the same :func:`fold_key`; a number that is the same in
    all of them stays as it is.
    """
    split = [_DIGITS.split(name) for name in names]
    merged = []
    for position, piece in enumerate(split[0]):
        if position % 2 == 0:  # text between the numbers: the same in every name
            merged.append(piece)
            continue
        values = [parts[position] for parts in split]
        if len(set(values)) == 1:
            merged.append(piece)
        elif len({len(v) for v in values}) == 1 and any(v.startswith("0") and len(v) > 1
                                                        for v in values):
            merged.append("{" + ",".join(sorted(set(values))) + "}")  # zero-padded: as written
        else:
            merged.append(_braces([int(v) for v in values]))
    return "".join(merged)
