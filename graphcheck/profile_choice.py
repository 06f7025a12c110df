"""Which Keras will run the model, hence which semantics profile applies.

The installed Keras is found from package metadata (``importlib.metadata``), never
by importing it: importing Keras costs seconds and half a gigabyte.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from graphcheck.keras_versions import major_version
from graphcheck.semantics import SemanticsProfile, is_newer_than_measured, profile_for_version

__all__ = ["ProfileChoice", "choose_profile", "installed_kerases"]


@dataclass(frozen=True, slots=True)
class ProfileChoice:
    """The profile used, the Keras version it stands for, and why it was chosen."""

    profile: SemanticsProfile
    keras_version: str | None
    source: str

    @property
    def newer_than_measured(self) -> bool:
        """The version is newer than every build the profiles were proven on.

        Its profile is then the newest family's, unproven for this version.
        """
        if self.keras_version is None:
            return False
        try:
            return is_newer_than_measured(self.keras_version)
        except ValueError:  # a saving version such as "2.2.4-tf" parses; garbage does not
            return False


@cache  # one look-up per process, not one per model of a directory run
def installed_kerases() -> dict[str, str]:
    """Installed Keras distributions and their versions: ``keras`` and ``tf_keras``.

    ``keras`` is whichever of the ``keras`` and ``keras-nightly`` distributions owns
    the ``keras`` package that ``import keras`` would load (both install into the
    same folder, and a nightly may shadow a release through ``PYTHONPATH``).
    """
    found = {}
    keras = _keras_distribution()
    if keras is not None:
        found["keras"] = keras
    for name in ("tf-keras", "tf_keras"):
        try:
            found["tf_keras"] = metadata.version(name)
            break
        except metadata.PackageNotFoundError:
            continue
    return found


def _keras_distribution() -> str | None:
    """The version of the Keras 3 distribution whose ``keras`` package comes first."""
    versions: dict[Path, str] = {}
    for name in ("keras-nightly", "keras"):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        versions[Path(str(dist.locate_file("keras"))).resolve()] = dist.version
    if len(versions) < 2:
        return next(iter(versions.values()), None)
    # Locating a top-level package reads directories only; nothing is imported.
    spec = importlib.util.find_spec("keras")
    if spec is not None and spec.origin:
        owner = versions.get(Path(spec.origin).resolve().parent)
        if owner is not None:
            return owner
    return next(iter(versions.values()))


def choose_profile(
    saving_version: str | None,
    override: str | None = None,
    installed: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProfileChoice:
    """Choose the semantics profile for a model.

    Order: ``--keras-version``; else the installed Keras (tf_keras when
    ``TF_USE_LEGACY_KERAS`` is set, or when the file was saved by Keras 1/2 and
    tf_keras is there to load it; otherwise ``keras``); else the version that saved
    the file; else the profile of Keras 3.15 (``keras3.10``).

    Raises
    ------
    ValueError
        ``override`` is not a Keras version.
    """
    if override:
        return ProfileChoice(profile_for_version(override), override, f"--keras-version {override}")
    installed = installed_kerases() if installed is None else installed
    environ = os.environ if environ is None else environ
    legacy = environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes")
    saved_by_keras2 = major_version(saving_version) in (1, 2)
    if "tf_keras" in installed and (legacy or saved_by_keras2 or "keras" not in installed):
        version = installed["tf_keras"]
        why = f"installed tf_keras {version}"
        if legacy:
            why += " (TF_USE_LEGACY_KERAS is set)"
        elif saved_by_keras2 and "keras" in installed:
            why += " (the file was saved by Keras 2)"
        return ProfileChoice(profile_for_version(version), version, why)
    if "keras" in installed:
        version = installed["keras"]
        return ProfileChoice(profile_for_version(version), version, f"installed keras {version}")
    if saving_version is not None and major_version(saving_version) is not None:
        return ProfileChoice(
            profile_for_version(saving_version), saving_version,
            f"Keras {saving_version}, which saved the file (no Keras installed)"
        )
    return ProfileChoice(profile_for_version("3.15"), None, "default (no Keras installed)")
