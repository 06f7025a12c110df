"""Rewrite the console blocks of the README and docs pages from real runs.

A console block is a fenced ``console`` code block of ``$ graphcheck ...`` commands,
each followed by what it printed (stdout and stderr, as a terminal shows them). This
script runs every command from the repository root and writes its output back under
it, so that the docs show what the tool prints today. A block that ends in a line
``...`` keeps only as many output lines as it showed before.

Usage::

    .venv/bin/python scripts/docs_console.py          # rewrite the blocks
    .venv/bin/python scripts/docs_console.py --check  # exit 1, with a diff, if any block is stale
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("README.md", "docs/guide.md", "docs/report.md", "docs/kerashub.md")
BLOCK = re.compile(r"^```console\n(.*?)^```$", re.S | re.M)
ELLIPSIS = "  ..."


def run(command: str) -> list[str]:
    """The lines one ``$ graphcheck ...`` command prints, run with this checkout's graphcheck."""
    argv = shlex.split(command)
    if argv[0] != "graphcheck":
        raise SystemExit(f"docs_console: only graphcheck commands can be run, not {command!r}")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "100"}
    result = subprocess.run(
        [sys.executable, "-m", "graphcheck", *argv[1:]], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
    )
    return result.stdout.rstrip("\n").split("\n")


def refresh_block(body: str) -> str:
    """One block with every command's output replaced by what it prints now."""
    pieces: list[tuple[str, list[str]]] = []
    for line in body.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            pieces.append((line[2:], []))
        elif pieces:
            pieces[-1][1].append(line)
        else:
            raise SystemExit(f"docs_console: a console block must start with '$ ', not {line!r}")
    lines = []
    for command, shown in pieces:
        output = run(command)
        if shown and shown[-1] == ELLIPSIS:
            output = [*output[: len(shown) - 1], ELLIPSIS]
        lines += [f"$ {command}", *output]
    return "\n".join(lines) + "\n"


def refresh(text: str) -> str:
    return BLOCK.sub(lambda m: f"```console\n{refresh_block(m.group(1))}```", text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in FILES:
        path = ROOT / name
        old = path.read_text(encoding="utf-8")
        new = refresh(old)
        if new == old:
            continue
        stale.append(name)
        if check:
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True), name, f"{name} (now)"
            ))
        else:
            path.write_text(new, encoding="utf-8")
    if check and stale:
        print(f"docs_console: stale console output in {', '.join(stale)}; "
              "run .venv/bin/python scripts/docs_console.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
