"""graphcheck: static analysis of saved Keras models.

Reads ``.h5``, ``.keras``, architecture JSON, TF.js ``model.json`` and SavedModel
metadata without importing TensorFlow or Keras, and says for every stochastic layer
what it masks and when it is active: is dropout still active inside a frozen
submodel during ``fit()``, is anything stochastic active at inference, and how kept
units are scaled.

Functions
---------
load(path, rebuild=None)
    Read a model file (or take a live ``keras.Model``): a :class:`LoadedModel`.
    ``load(path).analyse()`` gives the typed analysis.
analyse(path, keras_version=None, rebuild=None)
    One model's entry of the JSON report, as a dict.
check(paths, fail_on=None, select=(), ignore=(), keras_version=None, rebuild=None)
    The rules' findings and the gate's verdict (``report.passed``) for files,
    folders or live models, as ``graphcheck check`` gives them.

``graphcheck.api.diff(old, new)`` says what changed between two models (the name
``graphcheck.diff`` is the module that computes it). Errors are
:class:`GraphcheckError` (one line naming the file). See docs/python.md.

Examples
--------
>>> import graphcheck
>>> graphcheck.load("samples/frozen_base_dropout.keras")  # doctest: +SKIP
<LoadedModel 'samples/frozen_base_dropout.keras': 5 calls, saved by Keras 3.15.1>
>>> graphcheck.check("samples/frozen_base_dropout.keras").passed  # doctest: +SKIP
False
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphcheck._version import __version__
from graphcheck.errors import GraphcheckError

if TYPE_CHECKING:
    from graphcheck.api import CheckReport, LoadedModel, analyse, check, load

__all__ = [
    "CheckReport",
    "GraphcheckError",
    "LoadedModel",
    "__version__",
    "analyse",
    "check",
    "load",
]

_FROM_API = frozenset({"CheckReport", "LoadedModel", "analyse", "check", "load"})


def __getattr__(name: str) -> Any:
    # Lazy (PEP 562): `graphcheck.cli` imports this package, and `graphcheck --help`,
    # `rules` or `explain` need neither networkx nor the analyses graphcheck.api pulls in.
    if name in _FROM_API:
        from graphcheck import api

        value = getattr(api, name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module 'graphcheck' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The public names, lazy ones included, so that dir() and help() list them.
    return sorted(set(__all__) | {name for name in globals() if name.startswith("__")})
