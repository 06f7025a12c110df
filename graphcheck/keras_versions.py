"""Keras version strings, parsed; stdlib only.

A leaf module so that readers (which know the version that saved a file) and
:mod:`graphcheck.versions` (which picks the Keras that will run it) can share the
parsing without importing the semantics profiles.
"""

from __future__ import annotations

__all__ = ["major_version"]


def major_version(version: str | None) -> int | None:
    """The major number of a Keras version string (``"2.2.4-tf"`` -> 2), None if absent.

    Examples
    --------
    >>> major_version("2.2.4-tf"), major_version("3.15.1"), major_version(None)
    (2, 3, None)
    """
    head = (version or "").strip().split(".", 1)[0]
    return int(head) if head.isdigit() else None
