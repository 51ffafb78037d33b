"""The evidence graph as GraphML, GEXF or node-link JSON for Gephi, yEd and other tools.

Nodes keep their ``type`` and a ``label``; relationships their ``type`` (also the edge key) —
except in GEXF, where an edge's ``type`` attribute means directed/undirected: there the
relationship type is the edge's ``label`` and its ``relationship`` attribute.
Values the formats cannot hold (datetimes, lists, mappings) become text. Victims are
pseudonymised by default, in ids as well as labels, and card numbers in any text are masked.

>>> GRAPH_FORMATS
('graphml', 'gexf', 'json')
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import networkx as nx

from ringmap.errors import ConfigError
from ringmap.fileio import write_atomic
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy
from ringmap.tabular import to_jsonable

__all__ = ["GRAPH_FORMATS", "GraphFormat", "export_graph", "public_graph"]

GraphFormat = Literal["graphml", "gexf", "json"]
GRAPH_FORMATS: tuple[GraphFormat, ...] = ("graphml", "gexf", "json")


def _plain(value: Any) -> str | int | float | bool:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return "; ".join(str(_plain(v)) for v in value)
    return json.dumps(to_jsonable(value), sort_keys=True, ensure_ascii=False, default=str)


def public_graph(graph: nx.MultiDiGraph, privacy: Privacy) -> nx.MultiDiGraph:
    """A copy of ``graph`` as it may leave ringmap: ids, labels and values per ``privacy``."""
    out: nx.MultiDiGraph = nx.MultiDiGraph()
    ids = {node: privacy.public_id(node) for node in graph}
    for node, attrs in graph.nodes(data=True):
        shown = {k: _plain(v) for k, v in privacy.properties(node, attrs).items()}
        out.add_node(ids[node], **shown, type=str(attrs.get("type", "")),
                     label=privacy.label(node, attrs))
    for src, dst, rel, attrs in graph.edges(keys=True, data=True):
        shown = {k: _plain(privacy.value(v)) for k, v in attrs.items()
                 if k != "type" and v is not None}
        out.add_edge(ids[src], ids[dst], key=rel, **shown, type=rel)
    return out


def export_graph(store: Store, out: Path, fmt: str, *, reveal: bool = False) -> dict[str, int]:
    """Write the whole evidence graph to ``out`` in ``fmt``; returns node and edge counts."""
    if fmt not in GRAPH_FORMATS:
        raise ConfigError(f"unknown graph format {fmt!r} (choose {', '.join(GRAPH_FORMATS)})")
    graph = store.evidence()
    public = public_graph(graph, Privacy.for_graph(graph, reveal=reveal))
    if fmt == "graphml":
        text = "\n".join(nx.generate_graphml(public, encoding="utf-8", prettyprint=True))
    elif fmt == "gexf":
        for _, _, attrs in public.edges(data=True):
            attrs["relationship"] = attrs["label"] = attrs.pop("type")
        text = "\n".join(nx.generate_gexf(public, encoding="utf-8", prettyprint=True))
    else:
        data = nx.node_link_data(public, edges="edges")
        text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True)
    write_atomic(Path(out), text + "\n")
    return {"nodes": public.number_of_nodes(), "edges": public.number_of_edges()}
