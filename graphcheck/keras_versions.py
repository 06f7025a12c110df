"""Keras version strings, parsed, and the Keras 3 backends; stdlib only.

A leaf module so that readers (which know the version that saved a file) and
:mod:`graphcheck.profile_choice` (which picks the Keras that will run it) can share the
parsing without importing the semantics profiles, and the CLI can offer the
validator's backends without importing the validator.
"""

from __future__ import annotations

__all__ = ["BACKENDS", "major_version"]

#: The Keras 3 backends `graphcheck validate` runs on.
BACKENDS: tuple[str, ...] = ("tensorflow", "jax", "torch")


def major_version(version: str | None) -> int | None:
    """The major number of a Keras version string (``"2.2.4-tf"`` -> 2), None if absent.

    Examples
    --------
    >>> major_version("2.2.4-tf"), major_version("3.15.1"), major_version(None)
    (2, 3, None)
    """
    head = (version or "").strip().split(".", 1)[0]
    return int(head) if head.isdigit() else None
