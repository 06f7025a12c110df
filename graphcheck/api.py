"""The public entry points: read a file, build its graph, analyse it. Writes nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx

from graphcheck.analyses.model_analysis import ModelAnalysis, analyse_graph
from graphcheck.annotate import annotated_graph
from graphcheck.graph import build_graph
from graphcheck.model import SavedModelDesc
from graphcheck.readers import read_model
from graphcheck.profile_choice import ProfileChoice, choose_profile
from graphcheck.semantics import profile_for_version

if TYPE_CHECKING:  # importing graphcheck.runtime costs numpy; only --rebuild needs it
    from graphcheck.runtime.rebuild import RebuildOptions

__all__ = ["LoadedModel", "analyse", "load"]


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A saved model read statically: its description and its flattened call graph."""

    saved: SavedModelDesc
    graph: nx.MultiDiGraph

    def analyse(self, keras_version: str | None = None) -> ModelAnalysis:
        """Analyse under the profile of ``keras_version``.

        The default is the installed Keras for a file, and the Keras the object
        belongs to for a live model (it is that Keras which will run it).
        """
        if self.saved.format == "live" and not keras_version and self.saved.keras_version:
            version = self.saved.keras_version
            choice = ProfileChoice(profile_for_version(version), version, "the object's own Keras")
        else:
            choice = choose_profile(self.saved.keras_version, keras_version)
        return analyse_graph(self.graph, choice)

    def _repr_html_(self) -> str:
        """Jupyter display: the analysis under the default profile, lines and drawing."""
        return self.analyse()._repr_html_()

    def to_networkx(self, keras_version: str | None = None) -> nx.MultiDiGraph:
        """A copy of the call graph whose nodes also carry the analysis results.

        Node and edge attributes are plain strings, numbers and booleans, so the
        graph can be written as GraphML or node-link JSON as it is.
        """
        return annotated_graph(self.analyse(keras_version))


def load(
    path: str | os.PathLike[str] | Any, *, rebuild: RebuildOptions | bool | None = None
) -> LoadedModel:
    """Read a saved Keras model without importing TensorFlow or Keras.

    ``path`` may also be a ``keras.Model`` or ``tf_keras.Model`` object: it is then
    described from memory (its trainable flags as they are now, which a file may
    not reproduce after loading), by the Keras it belongs to.

    With ``rebuild`` (``--rebuild``; True, or a ``RebuildOptions`` from
    :mod:`graphcheck.runtime.rebuild` to trust the model), the file's config is
    built with the installed Keras 3, without weights, and the built object is
    described: the way to analyse KerasHub and subclassed models, whose configs
    store no layer graph. This imports Keras.

    Raises
    ------
    graphcheck.errors.GraphcheckError
        The file cannot be read or holds no analysable layer graph.

    Examples
    --------
    >>> import graphcheck
    >>> model = graphcheck.load("samples/inverted_dropout.keras")  # doctest: +SKIP
    >>> model.to_networkx().number_of_nodes()  # doctest: +SKIP
    5
    """
    if not isinstance(path, (str, os.PathLike)):
        # Only an object the caller already holds gets here, so its Keras is loaded.
        from graphcheck.runtime.live import describe_model_object

        saved = describe_model_object(path)
    elif rebuild:
        from graphcheck.runtime.rebuild import RebuildOptions, rebuild_model

        saved = rebuild_model(path, rebuild if isinstance(rebuild, RebuildOptions) else RebuildOptions())
    else:
        saved = read_model(path)
    return LoadedModel(saved, build_graph(saved))


def analyse(
    path: str | os.PathLike[str] | Any,
    keras_version: str | None = None,
    *,
    rebuild: RebuildOptions | bool | None = None,
) -> dict[str, Any]:
    """Analyse one file or live model; return its entry of the JSON report.

    See docs/report.schema.json; ``source`` says whether the graph was read from
    the file, rebuilt, or taken from a live object.
    """
    from graphcheck.reporters.json_report import model_entry

    return model_entry(load(path, rebuild=rebuild).analyse(keras_version))
