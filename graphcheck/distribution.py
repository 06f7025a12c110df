"""The name graphcheck is installed under, and the pip command for an extra that works here.

The command and the import are ``graphcheck``, but the distribution is
``keras-graphcheck``: ``graphcheck`` on the package index is an unrelated project, so
a hint naming ``graphcheck[runtime]`` would install someone else's code.
"""

from __future__ import annotations

import shlex
from pathlib import Path

__all__ = ["DISTRIBUTION", "install_command"]

DISTRIBUTION = "keras-graphcheck"


def install_command(extra: str, source: Path | None = None) -> str:
    """The shell command that installs graphcheck's ``extra``, quoted for any shell.

    From a clone (``source``, default: this package's parent folder, holds our
    ``pyproject.toml``) that is an editable install of the clone, since the index may
    hold a different version; otherwise the published distribution.

    Examples
    --------
    >>> install_command("runtime", Path("/nonexistent"))
    "pip install 'keras-graphcheck[runtime]'"
    """
    root = Path(__file__).resolve().parent.parent if source is None else source
    if _is_clone(root):
        where = "." if root == Path.cwd().resolve() else str(root)
        return f"pip install -e {shlex.quote(f'{where}[{extra}]')}"
    return f"pip install {shlex.quote(f'{DISTRIBUTION}[{extra}]')}"


def _is_clone(root: Path) -> bool:
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return False
    return f'name = "{DISTRIBUTION}"' in text
