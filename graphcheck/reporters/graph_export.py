"""The call graph with analysis results on its nodes, as GraphML or node-link JSON.

The attributes come from :func:`graphcheck.reporters.annotate.annotated_graph`; this module
only writes them out.
"""

from __future__ import annotations

import networkx as nx

from graphcheck.reporters.json_text import dumps_document

__all__ = ["render_graphml", "render_node_link"]


def render_graphml(graph: nx.MultiDiGraph) -> str:
    return "\n".join(nx.generate_graphml(graph)) + "\n"


def render_node_link(graph: nx.MultiDiGraph) -> str:
    data = nx.node_link_data(graph, edges="edges")
    return dumps_document(data)
