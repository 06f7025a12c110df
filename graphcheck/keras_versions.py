"""Keras version strings, parsed, and the Keras 3 backends; stdlib only.

A leaf module so that readers (which know the version that saved a file) and
:mod:`graphcheck.profile_choice` (which picks the Keras that will run it) can share the
parsing without importing the semantics profiles, and the CLI can offer the
validator's backends without importing the validator.
"""

from __future__ import annotations

__all__ = ["BACKENDS", "major_version", "parse_version", "version_key"]

#: The Keras 3 backends `graphcheck validate` runs on.
BACKENDS: tuple[str, ...] = ("tensorflow", "jax", "torch")


def parse_version(version: str | None) -> tuple[int, int] | None:
    """(major, minor) of a Keras version string; None when it starts with no number.

    The minor part keeps only its digits (``"3.16rc0"`` -> 160: pre-releases of a
    minor release sort after it, which is enough to choose a profile); a missing
    minor part is 0.

    Examples
    --------
    >>> parse_version("2.2.4-tf"), parse_version("3.15.1"), parse_version("3"), parse_version("x")
    ((2, 2), (3, 15), (3, 0), None)
    """
    parts = (version or "").strip().split(".")
    if not parts[0].isdigit():
        return None
    minor_text = parts[1] if len(parts) > 1 else "0"
    return int(parts[0]), int("".join(ch for ch in minor_text if ch.isdigit()) or "0")


def major_version(version: str | None) -> int | None:
    """The major number of a Keras version string (``"2.2.4-tf"`` -> 2), None if absent.

    Examples
    --------
    >>> major_version("2.2.4-tf"), major_version("3.15.1"), major_version(None)
    (2, 3, None)
    """
    parsed = parse_version(version)
    return None if parsed is None else parsed[0]


def version_key(version: str) -> tuple[int, ...]:
    """A sort key for a Keras version string: release numbers, then pre-release rank.

    ``3.16.0.dev2026102704`` sorts before ``3.16.0``, which sorts before ``3.16.1``;
    local suffixes such as ``-tf`` are ignored.

    Raises
    ------
    ValueError
        The string does not start with a number.

    Examples
    --------
    >>> version_key("3.16.0.dev2026102704") < version_key("3.16.0") < version_key("4.0")
    True
    >>> version_key("2.2.4-tf") == version_key("2.2.4")
    True
    """
    release: list[int] = []
    pre_release: tuple[int, int] = (1, 0)  # a final release ranks above its pre-releases
    for part in version.strip().replace("-", ".").split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if part.isdigit():
            release.append(int(part))
        elif part[:1].isdigit():  # "0rc1", "0b2": a release number with a pre-release tail
            head = len(part) - len(part.lstrip("0123456789"))
            release.append(int(part[:head]))
            tail = part[head:]
            pre_release = (0, int("".join(ch for ch in tail if ch.isdigit()) or 0))
            break
        elif part.startswith(("dev", "rc", "a", "b")) and release:
            pre_release = (0, int(digits or 0))
            break
        else:
            break  # "tf", local labels
    if not release:
        raise ValueError(f"not a Keras version: {version!r}")
    while len(release) < 3:
        release.append(0)
    return (*release, *pre_release)
