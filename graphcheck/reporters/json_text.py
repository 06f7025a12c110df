"""How graphcheck writes JSON: keys sorted, the outer levels indented, one item a line.

A report's outer levels (the document, its lists, an entry's fields) are indented
two spaces a level; anything nested deeper is written on one line, so a layer, a
finding or a stochastic layer's answer is one line, which ``grep`` and ``diff``
show whole. Python's indenting encoder is pure Python; the one-line parts come
from its C encoder, about three times faster on a folder's report
(docs/development.md, Measurements). ``jq .`` indents everything, if wanted.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

__all__ = ["INDENTED_LEVELS", "dumps", "dumps_document"]

#: Containers this many levels deep or deeper are written on one line: in a report,
#: the document (0), its ``models`` list (1), a model's entry (2) and the entry's
#: fields (3) are indented; a field's items (4) are one line each.
INDENTED_LEVELS = 4

_ONE_LINE = json.JSONEncoder(sort_keys=True).encode  # the C encoder: no indent
_CONTAINERS = frozenset((dict, list, tuple))  # what json writes as objects and arrays
_NEWLINES = ["\n" + "  " * level for level in range(INDENTED_LEVELS + 1)]


def dumps_document(value: Any) -> str:
    """A whole JSON document (a report, a log) as text ending in a newline."""
    return dumps(value) + "\n"


def dumps(value: Any, level: int = 0) -> str:
    """``value`` as JSON text written ``level`` levels down inside a document.

    The same text as the value has inside :func:`dumps_document` of the document
    that holds it at that level, so parts made apart (a ``--jobs`` worker's model
    entry) can be joined without encoding them again.
    """
    buffer = io.StringIO()
    _write(value, level, buffer.write)
    return buffer.getvalue()


def _write(value: Any, level: int, write: Callable[[str], Any]) -> None:
    kind = type(value)
    if kind not in _CONTAINERS or not value or level >= INDENTED_LEVELS:
        write(_ONE_LINE(value))
        return
    inner = _NEWLINES[level + 1]
    if kind is not dict and level + 1 == INDENTED_LEVELS:  # the items are one line each
        write("[" + inner + ("," + inner).join(map(_ONE_LINE, value)) + _NEWLINES[level] + "]")
        return
    if kind is not dict:
        opening = "[" + inner
        for item in value:
            write(opening)
            _write(item, level + 1, write)
            opening = "," + inner
        write(_NEWLINES[level] + "]")
        return
    if not all(type(key) is str for key in value):
        write(_ONE_LINE(value))  # json's own rules for other keys (ints, None)
        return
    opening = "{" + inner
    for key in sorted(value):
        write(opening)
        write(_ONE_LINE(key))
        write(": ")
        _write(value[key], level + 1, write)
        opening = "," + inner
    write(_NEWLINES[level] + "}")
