"""The public entry points: read a file, build its graph, analyse it. Writes nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import networkx as nx

from graphcheck.analyses.model_analysis import ModelAnalysis, analyse_graph
from graphcheck.annotate import annotated_graph
from graphcheck.graph import build_graph
from graphcheck.model import SavedModelDesc
from graphcheck.readers import read_model
from graphcheck.profile_choice import choose_profile

__all__ = ["LoadedModel", "analyse", "load"]


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A saved model read statically: its description and its flattened call graph."""

    saved: SavedModelDesc
    graph: nx.MultiDiGraph

    def analyse(self, keras_version: str | None = None) -> ModelAnalysis:
        """Analyse under the profile of ``keras_version`` (default: installed Keras)."""
        choice = choose_profile(self.saved.keras_version, keras_version)
        return analyse_graph(self.graph, choice)

    def to_networkx(self, keras_version: str | None = None) -> nx.MultiDiGraph:
        """A copy of the call graph whose nodes also carry the analysis results.

        Node and edge attributes are plain strings, numbers and booleans, so the
        graph can be written as GraphML or node-link JSON as it is.
        """
        return annotated_graph(self.analyse(keras_version))


def load(path: str | os.PathLike[str]) -> LoadedModel:
    """Read a saved Keras model without importing TensorFlow or Keras.

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
    saved = read_model(path)
    return LoadedModel(saved, build_graph(saved))


def analyse(path: str | os.PathLike[str], keras_version: str | None = None) -> dict[str, Any]:
    """Analyse one file and return its entry of the JSON report (see docs/report.schema.json)."""
    from graphcheck.reporters.json_report import model_entry

    return model_entry(load(path).analyse(keras_version))
