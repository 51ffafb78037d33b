"""Key players inside a cell and brokers between cells, on the weighted agent graph.

Inside a cell: weighted degree (strength), betweenness (ties as distances ``1/weight``,
normalised to 0-1) and PageRank, all on the cell's own subgraph. Between cells: the
participation coefficient ``1 - sum_c (s_ic / s_i)^2`` of each agent's tie strength over the
cells, so an agent with strong ties into several cells scores high.

Examples
--------
>>> import igraph as ig
>>> g = ig.Graph(n=4, edges=[(0, 1), (1, 2), (2, 3)])
>>> g.es["weight"] = [1.0, 1.0, 1.0]
>>> scores = centralities(g, [0, 1, 2, 3])
>>> max(scores, key=lambda v: scores[v].betweenness) in (1, 2)
True
>>> participation(g, [0, 0, 1, 1])[1]
0.5
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import igraph as ig
import numpy as np

from ringmap.analysis.community import tie_ends

__all__ = ["Centrality", "centralities", "participation", "ties_by_cell"]


@dataclass(frozen=True)
class Centrality:
    """One agent's standing in its cell."""

    degree: float
    betweenness: float
    pagerank: float


def centralities(graph: ig.Graph, vertices: Sequence[int]) -> dict[int, Centrality]:
    """Strength, normalised betweenness and PageRank of ``vertices`` in their subgraph.

    Parameters
    ----------
    graph
        The weighted agent graph (edge attribute ``weight``).
    vertices
        The cell's vertex ids.

    Returns
    -------
    dict[int, Centrality]
        Vertex id (of ``graph``) -> its scores within the cell.
    """
    order = sorted(vertices)
    sub = graph.induced_subgraph(order)
    n = len(order)
    if sub.ecount() == 0:
        return {v: Centrality(0.0, 0.0, 1.0 / n) for v in order}
    weights = sub.es["weight"]
    strength = sub.strength(weights=weights)
    distances = [1.0 / w for w in weights]
    between = sub.betweenness(weights=distances)
    scale = (n - 1) * (n - 2) / 2.0 if n > 2 else 1.0
    rank = sub.pagerank(weights=weights)
    return {v: Centrality(float(strength[i]), float(between[i]) / scale, float(rank[i]))
            for i, v in enumerate(order)}


#: ties read from the graph at a time: as Python objects (a pair and its weight, about 130 B
#: a tie) only a part of them is ever made
_TIES_READ = 1 << 16


def ties_by_cell(graph: ig.Graph, membership: Sequence[int], ends: np.ndarray | None = None
                 ) -> list[dict[int, float]]:
    """For each vertex, its total tie weight into each cell (label -> weight).

    ``ends`` are the graph's ties as ``(ties, 2)`` vertex ids in edge order where the caller
    holds them (:attr:`~ringmap.analysis.projection.AgentGraph.ends`): read a part at a time,
    where ``graph.get_edgelist()`` makes a tuple and two ints of every tie at once (about
    1 GB at national size), each weight summed in the same order.
    """
    ties: list[dict[int, float]] = [defaultdict(float) for _ in range(graph.vcount())]
    count = graph.ecount()
    if count == 0:
        return ties
    pairs = tie_ends(graph, ends)
    for start in range(0, count, _TIES_READ):
        stop = min(start + _TIES_READ, count)
        for (u, v), w in zip(pairs[start:stop].tolist(), graph.es[start:stop]["weight"],
                             strict=True):
            ties[u][membership[v]] += w
            ties[v][membership[u]] += w
    return ties


def participation(graph: ig.Graph, membership: Sequence[int],
                  ties: Sequence[dict[int, float]] | None = None) -> list[float]:
    """The participation coefficient of every vertex (0: all ties in one cell); ``ties`` are
    :func:`ties_by_cell` of them when the caller has them."""
    out: list[float] = []
    for by_cell in ties_by_cell(graph, membership) if ties is None else ties:
        total = sum(by_cell.values())
        out.append(1.0 - sum((w / total) ** 2 for w in by_cell.values()) if total else 0.0)
    return out
