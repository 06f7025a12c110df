"""graphcheck: static analysis of saved Keras models.

Reads ``.h5``, ``.keras``, architecture JSON, TF.js ``model.json`` and SavedModel
metadata without importing TensorFlow or Keras, and says for every stochastic layer
what it masks and when it is active.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphcheck._version import __version__
from graphcheck.errors import GraphcheckError

if TYPE_CHECKING:
    from graphcheck.api import LoadedModel, analyse, load

__all__ = ["GraphcheckError", "LoadedModel", "__version__", "analyse", "load"]


def __getattr__(name: str) -> Any:
    # Lazy (PEP 562): `graphcheck.cli` imports this package, and `graphcheck --help`,
    # `rules` or `explain` need neither networkx nor the analyses that graphcheck.api
    # pulls in (about 120 ms of imports). `graphcheck.load` etc. work as before.
    if name in ("LoadedModel", "analyse", "load"):
        from graphcheck import api

        value = getattr(api, name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module 'graphcheck' has no attribute {name!r}")
