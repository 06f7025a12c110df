#!/usr/bin/env python3
"""Write docs/rules/ from the rule docstrings, or check that it is current.

    .venv/bin/python scripts/rules_docs.py          # rewrite the stale pages
    .venv/bin/python scripts/rules_docs.py --check  # exit 1 when a page is stale or missing

The pages come from :func:`graphcheck.rules.docs.render_pages`;
tests/rules/test_rules.py fails when docs/rules/ does not match it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphcheck.rules.docs import render_pages  # noqa: E402


def stale_pages(out: Path, pages: dict[str, str]) -> list[str]:
    """The names of the pages whose file under ``out`` is missing or differs."""
    stale = []
    for name, text in pages.items():
        target = out / name
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current != text:
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/rules_docs.py",
        description="Write docs/rules/ from the rule docstrings, or check that it is current.",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "rules",
                        help="output directory (default: docs/rules of this repository)")
    parser.add_argument("--check", action="store_true", help="only report stale or missing pages")
    args = parser.parse_args(argv)
    pages = render_pages()
    stale = stale_pages(args.out, pages)
    if args.check:
        if stale:
            print(f"{args.out}: stale rule pages: {', '.join(stale)} (run python scripts/rules_docs.py)")
            return 1
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (args.out / name).write_text(pages[name], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
