"""The README and docs/ stay short, linked and free of issue numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

#: The README is the front page: what graphcheck answers, one example, the commands, links.
README_MAX_LINES = 150
#: A table cell longer than this is prose that belongs under a heading.
CELL_MAX_CHARS = 200
#: Pages whose tables still hold long cells; remove an entry once its tables are cut.
CELL_EXEMPT: set[str] = set()
#: Pages being merged from other branches; a link to one is checked once it exists.
PENDING_PAGES: set[str] = set()

FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
ISSUE_NUMBER = re.compile(r"\b[Ii]ssues? #?\d+|(?:^|[\s(\[])#\d{1,5}\b")


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for _, line in prose_lines(path):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in prose_lines(path):
        line = re.sub(r"`[^`]*`", "", line)
        for match in LINK.finditer(line):
            found.append((number, match.group(1) or match.group(2)))
    return found


def table_cells(path: Path) -> list[tuple[int, str]]:
    cells = []
    for number, line in prose_lines(path):
        if line.lstrip().startswith("|"):
            for cell in re.split(r"(?<!\\)\|", line.strip().strip("|")):
                cells.append((number, cell.strip()))
    return cells


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_relative_links_resolve(page: Path) -> None:
    """Every relative link names a file that exists and, after '#', one of its headings."""
    broken = []
    for number, target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if rel_or_none(linked) in PENDING_PAGES and not linked.exists():
            continue
        if not linked.exists():
            broken.append(f"{rel(page)}:{number}: {target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{rel(page)}:{number}: {target}: no heading #{anchor}")
    assert not broken, "\n".join(broken)


def rel_or_none(path: Path) -> str | None:
    try:
        return rel(path)
    except ValueError:
        return None


@pytest.mark.parametrize("page", [p for p in PAGES if rel(p) not in CELL_EXEMPT], ids=rel)
def test_table_cells_are_short(page: Path) -> None:
    long = [
        f"{rel(page)}:{number}: {len(cell)} characters: {cell[:60]}..."
        for number, cell in table_cells(page) if len(cell) > CELL_MAX_CHARS
    ]
    assert not long, "\n".join(long)


def test_cell_exemptions_still_needed() -> None:
    """An exempt page whose cells are all short loses its exemption."""
    for name in CELL_EXEMPT:
        cells = table_cells(ROOT / name)
        assert any(len(c) > CELL_MAX_CHARS for _, c in cells), f"{name} needs no exemption"


def test_no_issue_numbers_in_code_or_docs() -> None:
    """History belongs to commit messages; the code and docs say what is true now."""
    files = [*ROOT.glob("graphcheck/**/*.py"), *ROOT.glob("graphcheck/**/*.js"), *PAGES]
    hits = []
    for path in files:
        if rel(path) in ISSUE_EXEMPT:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ISSUE_NUMBER.search(line.replace("keras-team/keras#", "")):
                hits.append(f"{rel(path)}:{number}: {line.strip()}")
    assert not hits, "\n".join(hits)


#: Files another change is rewriting; remove an entry once its issue numbers are gone.
ISSUE_EXEMPT: set[str] = set()


def test_the_checks_find_what_they_look_for() -> None:
    """The parsers see a table cell, a link, an anchor and an issue number where they are."""
    heading = "Load safety only: `--select load-safety`"
    assert slug(heading) == "load-safety-only---select-load-safety"
    assert ISSUE_NUMBER.search("the headline of issue 2")
    assert ISSUE_NUMBER.search("fixed in (#12)")
    assert not ISSUE_NUMBER.search("keras-team/keras 23364 and GC101, 3.15.1")


def test_readme_links_every_docs_page() -> None:
    """A new reader finds every page from the front page."""
    linked = {(README.parent / target.partition("#")[0]).resolve() for _, target in links(README)}
    missing = [rel(page) for page in DOCS if page.resolve() not in linked]
    assert not missing, f"README.md does not link {missing}"
