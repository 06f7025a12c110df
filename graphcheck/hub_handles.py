"""Hub handles: the ``hf://`` and ``kaggle://`` preset names KerasHub's ``from_preset`` takes.

A handle is fetched with the library KerasHub itself uses (``huggingface_hub``,
``kagglehub``), into that library's own cache, under its own token, cache and
offline settings, and becomes the local folder that holds the preset. Only what the
analysis reads is fetched: the JSON configs, ``metadata.json`` and ``assets/``; the
weights only when asked (for their HDF5 safety walk). Both libraries are imported
when a handle is fetched, never before.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphcheck.errors import GraphcheckError, MissingDependencyError
from graphcheck.preset_layout import (
    ASSETS_DIR,
    CONFIG_FILE,
    CONFIG_FILES,
    WEIGHTS_FILES,
    WEIGHTS_INDEX,
)

__all__ = [
    "ASSETS_DIR", "CONFIG_FILES", "WEIGHTS_FILES", "FetchedPreset", "HubError", "HubHandle",
    "fetch_preset", "fetches_kept", "is_handle", "is_plain_path", "parse_handle", "shard_names",
    "wanted",
]

HF_SCHEME = "hf"
KAGGLE_SCHEME = "kaggle"

# A shard named in model.weights.json: a plain file name, never a path or a pattern.
_SHARD_NAME = re.compile(r"[A-Za-z0-9_.-]+\.weights\.h5")

_INSTALL_HINT = "pip install 'keras-graphcheck[hub]'"


class HubError(GraphcheckError):
    """A handle that is malformed, names nothing, cannot be fetched, or is no KerasHub preset."""


@dataclass(frozen=True, slots=True)
class HubHandle:
    """A parsed handle: ``text`` as given (what reports name), ``name`` without the scheme."""

    text: str
    scheme: str
    name: str


@dataclass(frozen=True, slots=True)
class FetchedPreset:
    """A handle's preset in the local cache: the folder, the files in it the analysis
    reads, and the folder its links may point into (Hugging Face's snapshot files link
    to the repository's blobs)."""

    handle: str
    directory: str
    files: tuple[str, ...]
    link_root: str


def is_handle(text: object) -> bool:
    """True for a string that starts with ``hf://`` or ``kaggle://`` (any case, as KerasHub)."""
    if not isinstance(text, str) or "://" not in text:
        return False
    return text.split("://", 1)[0].lower() in (HF_SCHEME, KAGGLE_SCHEME)


def is_plain_path(name: str) -> bool:
    """True for a relative ``/``-separated name whose every segment is a plain name
    (none empty, ``.`` or ``..``, no backslash): it stays inside the folder it names into."""
    return "\\" not in name and all(part not in ("", ".", "..") for part in name.split("/"))


def parse_handle(text: str) -> HubHandle:
    """Split a handle as ``from_preset`` does; a malformed one raises :class:`HubError`."""
    scheme, _, name = text.partition("://")
    scheme = scheme.lower()
    if scheme in (HF_SCHEME, KAGGLE_SCHEME) and not is_plain_path(name):
        raise HubError(text, "not a hub handle: an empty, '.' or '..' part, or a backslash")
    if scheme == HF_SCHEME:
        parts = name.split("/")
        if len(parts) != 2 or not all(parts):
            raise HubError(text, "not a Hugging Face handle: expected hf://OWNER/NAME")
    elif scheme == KAGGLE_SCHEME:
        parts = name.split("/")
        if len(parts) not in (4, 5) or not all(parts):
            raise HubError(
                text, "not a Kaggle handle: expected kaggle://OWNER/MODEL/keras/VARIATION[/VERSION]"
            )
        if len(parts) == 5 and not parts[4].isdigit():
            raise HubError(text, f"not a Kaggle handle: the version {parts[4]!r} is not a number")
    else:
        raise HubError(text, "not a hub handle: expected hf:// or kaggle://")
    return HubHandle(text, scheme, name)


def wanted(name: str, *, weights: bool = False, shards: Iterable[str] = ()) -> bool:
    """Whether the preset file ``name`` (relative, ``/``-separated) is fetched for the analysis.

    A name that could lead out of the preset (``..``, absolute, a backslash) never is."""
    if not is_plain_path(name):
        return False
    if name in CONFIG_FILES or name.startswith(ASSETS_DIR + "/"):
        return True
    return weights and (name in WEIGHTS_FILES or name in shards)


def shard_names(directory: str | os.PathLike[str]) -> tuple[str, ...]:
    """The weight shards ``model.weights.json`` in ``directory`` names (none without one).

    Names that are not plain ``*.weights.h5`` file names are left out: they are only
    ever asked of the hub, whose files a name cannot escape, and would not load.
    """
    index = Path(directory, WEIGHTS_INDEX)
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        values = weight_map.values() if isinstance(weight_map, dict) else ()
    except (OSError, ValueError, AttributeError):
        return ()
    names: set[str] = set()
    for value in values:
        for name in value if isinstance(value, list) else [value]:
            if isinstance(name, str) and _SHARD_NAME.fullmatch(name):
                names.add(name)
    return tuple(sorted(names))


#: The fetches of this run, while :func:`fetches_kept` holds: ``(handle, weights)``.
_KEPT: dict[tuple[str, bool], FetchedPreset] = {}
#: How many :func:`fetches_kept` blocks are open (a command run inside another).
_KEEPING: list[int] = [0]


@contextmanager
def fetches_kept() -> Iterator[None]:
    """Within: each handle is fetched once, and a fetch with its weights serves one
    without. One command asks for the same handle up to three times (the
    ``--download-weights`` fetch, the reader, ``validate``'s load), and each fetch
    asks the hub which revision is current. Outside it (a notebook's repeated
    ``graphcheck.load``), every call asks again and sees a new revision."""
    _KEEPING[0] += 1
    try:
        yield
    finally:
        _KEEPING[0] -= 1
        if not _KEEPING[0]:
            _KEPT.clear()


def fetch_preset(text: str, *, weights: bool = False) -> FetchedPreset:
    """Fetch what the analysis needs of the preset the handle ``text`` names; say where it lies.

    Raises
    ------
    HubError
        The handle is malformed, unknown, unreachable and not cached, or no KerasHub
        preset (exit 3).
    graphcheck.errors.MissingDependencyError
        ``huggingface_hub`` or ``kagglehub`` is not installed (exit 4).
    """
    if _KEEPING[0]:
        kept = _KEPT.get((text, True)) or _KEPT.get((text, weights))
        if kept is None:
            kept = _KEPT[text, weights] = _fetch_preset(text, weights)
        return kept
    return _fetch_preset(text, weights)


def _fetch_preset(text: str, weights: bool) -> FetchedPreset:
    handle = parse_handle(text)
    if handle.scheme == HF_SCHEME:
        directory = _fetch_hf(handle, weights)
        # models--OWNER--NAME/snapshots/<commit>: its files link into models--OWNER--NAME/blobs.
        link_root = str(Path(directory).parent.parent)
    else:
        directory = _fetch_kaggle(handle, weights)
        link_root = directory
    files = _local_files(directory)
    shards = shard_names(directory)
    _check_preset(handle, directory, files, weights, shards)
    analysed = tuple(f for f in files if wanted(f, weights=True, shards=shards))
    return FetchedPreset(handle.text, directory, analysed, link_root)


def _check_preset(
    handle: HubHandle, directory: str, files: list[str], weights: bool, shards: tuple[str, ...]
) -> None:
    if CONFIG_FILE not in files:
        raise HubError(handle.text, f"not a KerasHub preset: it has no {CONFIG_FILE}")
    try:
        config = json.loads(Path(directory, CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HubError(handle.text, f"config.json is not JSON: {exc}") from None
    if not isinstance(config, dict) or "registered_name" not in config:
        kind = ""
        if isinstance(config, dict) and "model_type" in config:
            kind = " (a Transformers config, which KerasHub converts when it loads)"
        elif isinstance(config, dict) and "architecture" in config:
            kind = " (a timm config, which KerasHub converts when it loads)"
        raise HubError(handle.text, f"not a KerasHub preset: config.json is no Keras config{kind}")
    if weights and not any(f in WEIGHTS_FILES or f in shards for f in files):
        raise HubError(handle.text, "--download-weights: the preset has no weights file "
                       "(or none could be fetched, and none is cached)")


def _local_files(directory: str) -> list[str]:
    """The files under ``directory``, relative and ``/``-separated, hidden folders left out."""
    found = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            found.append(Path(root, name).relative_to(directory).as_posix())
    return found


def _import(module: str, handle: HubHandle) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            handle.text, f"fetching this handle needs {module} (install it: {_INSTALL_HINT})"
        ) from None


# ---- Hugging Face ----

def _fetch_hf(handle: HubHandle, weights: bool) -> str:
    """``snapshot_download`` of the wanted files: it honours HF_HOME, HF_TOKEN, HF_HUB_OFFLINE."""
    hub = _import("huggingface_hub", handle)
    from graphcheck._version import __version__

    def download(patterns: list[str]) -> str:
        return str(hub.snapshot_download(
            handle.name, allow_patterns=patterns, library_name="graphcheck",
            library_version=__version__,
        ))

    try:
        directory = download([*CONFIG_FILES, f"{ASSETS_DIR}/*"])
        if weights:
            directory = download([*WEIGHTS_FILES, *shard_names(directory)])
    except Exception as exc:
        raise HubError(handle.text, _hf_problem(exc)) from None
    return directory


def _hf_problem(exc: Exception) -> str:
    from huggingface_hub import constants, errors

    from graphcheck.readers.source import first_line

    if isinstance(exc, errors.GatedRepoError):
        return "gated repository: accept its terms on huggingface.co, then set HF_TOKEN"
    if isinstance(exc, errors.RepositoryNotFoundError):
        return "no such Hugging Face repository (or a private one: set HF_TOKEN)"
    if isinstance(exc, errors.HFValidationError):
        return "not a Hugging Face repository id: expected hf://OWNER/NAME"
    if isinstance(exc, errors.LocalEntryNotFoundError):
        if constants.HF_HUB_OFFLINE:
            return "not in the Hugging Face cache, and HF_HUB_OFFLINE is set"
        return "cannot reach the Hugging Face Hub, and not in its cache"
    return f"cannot fetch from the Hugging Face Hub: {first_line(exc)}"


# ---- Kaggle ----

def _fetch_kaggle(handle: HubHandle, weights: bool) -> str:
    """``kagglehub.model_download`` file by file: it honours KAGGLEHUB_CACHE and the
    Kaggle credentials; without a network a versioned handle is served from the cache."""
    kagglehub = _import("kagglehub", handle)
    try:
        config = kagglehub.model_download(handle.name, "config.json")
    except Exception as exc:
        problem = _kaggle_problem(exc, "config.json")
        if handle.name.count("/") == 3 and problem.startswith("cannot reach"):
            problem = ("cannot reach Kaggle to find the latest version (a handle ending in "
                       "/VERSION is served from the kagglehub cache)")
        raise HubError(handle.text, problem) from None
    directory = os.path.dirname(config)
    # The version folder says which version an unversioned handle resolved to.
    owner, model, framework, variation = handle.name.split("/")[:4]
    versioned = "/".join((owner, model, framework, variation, os.path.basename(directory)))
    try:
        listed = _kaggle_listing(versioned)
    except Exception as exc:
        raise HubError(handle.text, _kaggle_problem(exc, "the file list")) from None
    names = listed if listed is not None else _local_files(directory)
    for name in names:
        if not is_plain_path(name):
            raise HubError(handle.text, f"Kaggle lists the file {name!r}, which is not a "
                           "plain path inside the preset")
    for pass_weights in (False, True) if weights else (False,):
        shards = shard_names(directory)
        for name in names:
            if name == "config.json" or not wanted(name, weights=pass_weights, shards=shards):
                continue
            try:
                kagglehub.model_download(versioned, name)
            except Exception as exc:
                raise HubError(handle.text, _kaggle_problem(exc, name)) from None
    return directory


def _kaggle_listing(versioned: str) -> list[str] | None:
    """The file names of one model version on Kaggle; None when Kaggle cannot be reached."""
    import requests
    from kagglehub.clients import build_kaggle_client
    from kagglehub.exceptions import handle_call
    from kagglehub.handle import parse_model_handle
    from kagglesdk.models.types.model_api_service import ApiListModelInstanceVersionFilesRequest

    h = parse_model_handle(versioned)
    names: list[str] = []
    token = ""
    try:
        with build_kaggle_client() as client:
            while True:
                request = ApiListModelInstanceVersionFilesRequest()
                request.owner_slug = h.owner
                request.model_slug = h.model
                request.framework = h.framework_enum()
                request.instance_slug = h.variation
                request.version_number = h.version
                if token:
                    request.page_token = token
                response = handle_call(
                    lambda r=request: client.models.model_api_client
                    .list_model_instance_version_files(r), h,
                )
                names += [f.name for f in response.files]
                token = response.next_page_token
                if not token:
                    return names
    except requests.exceptions.ConnectionError:
        return None


def _kaggle_problem(exc: Exception, name: str) -> str:
    import requests
    from kagglehub.exceptions import UnauthenticatedError

    from graphcheck.readers.source import first_line

    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status == 404:
        if name == "config.json":
            return ("not found on Kaggle: no such model, variation or version, or no "
                    "config.json (not a KerasHub preset)")
        return f"{name}: not found on Kaggle"
    if status in (401, 403) or isinstance(exc, UnauthenticatedError):
        return ("not accessible on Kaggle: accept the model's terms on kaggle.com, or set "
                "KAGGLE_USERNAME and KAGGLE_KEY (or ~/.kaggle/kaggle.json)")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "cannot reach Kaggle, and not in the kagglehub cache (KAGGLEHUB_CACHE)"
    if isinstance(exc, ValueError):
        return f"not a Kaggle model handle: {first_line(exc)}"
    return f"cannot fetch from Kaggle: {first_line(exc)}"

