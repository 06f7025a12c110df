"""graphcheck: static analysis of saved Keras models.

Reads ``.h5``, ``.keras``, architecture JSON, TF.js ``model.json`` and SavedModel
metadata without importing TensorFlow or Keras, and says for every stochastic layer
what it masks and when it is active.
"""

from __future__ import annotations

from graphcheck.api import LoadedModel, analyse, load
from graphcheck.errors import GraphcheckError

__all__ = ["GraphcheckError", "LoadedModel", "__version__", "analyse", "load"]

__version__ = "0.1.0"
