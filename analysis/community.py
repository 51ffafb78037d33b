"""Community detection on the agent graph: Leiden, Louvain, label propagation, consensus.

Every function takes an explicit ``seed`` and returns the same partition for the same seed.
A partition is a *membership*: one community label per vertex of the igraph graph.

The modularity resolution is expressed on a size-free scale ``x``: two groups merge when the
tie between them exceeds about ``x`` times the strength of a typical cell, whatever the size of
the whole graph (see :func:`resolution_for`). That sidesteps the resolution limit of plain
modularity, which merges small cells once a case grows.

Examples
--------
>>> import igraph as ig
>>> g = ig.Graph.Famous("Zachary")
>>> g.es["weight"] = 1.0
>>> detect(g, "leiden", 1.0, seed=7) == detect(g, "leiden", 1.0, seed=7)
True
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import igraph as ig
import networkx as nx

__all__ = [
    "Method",
    "Scan",
    "co_assignment",
    "consensus",
    "detect",
    "resolution_for",
    "scan_resolution",
    "size_plausibility",
    "split_disconnected",
]

Method = Literal["leiden", "louvain", "lpa"]

#: Cell size around which the size-free resolution scale is anchored (geometric mean of 5-40).
REFERENCE_CELL = 14.0


@contextmanager
def _igraph_seed(seed: int) -> Iterator[None]:
    """Run igraph on its own seeded generator, then give it back Python's ``random``."""
    ig.set_random_number_generator(random.Random(seed))
    try:
        yield
    finally:
        ig.set_random_number_generator(random)


def _to_networkx(graph: ig.Graph) -> nx.Graph:
    g: nx.Graph = nx.Graph()
    g.add_nodes_from(range(graph.vcount()))
    if graph.ecount():
        g.add_weighted_edges_from(
            (s, t, w) for (s, t), w in zip(graph.get_edgelist(), graph.es["weight"], strict=True)
        )
    return g


def _membership(n: int, communities: Sequence[set[int]] | Iterator[set[int]]) -> list[int]:
    labels = [0] * n
    ordered = sorted((sorted(c) for c in communities), key=lambda c: c[0])
    for label, community in enumerate(ordered):
        for v in community:
            labels[v] = label
    return labels


def resolution_for(graph: ig.Graph, x: float) -> float:
    """The modularity resolution that corresponds to the size-free scale ``x``.

    With ``gamma = x * 2m / (s * REFERENCE_CELL)``, ``s`` the median vertex strength, two cells
    merge roughly when the weight between them exceeds ``x`` times a typical cell's strength.
    """
    strengths = sorted(float(s) for s in graph.strength(weights="weight") if s > 0)
    if not strengths:
        return 1.0
    median = strengths[len(strengths) // 2]
    return x * sum(strengths) / (median * REFERENCE_CELL)


def detect(graph: ig.Graph, method: Method, resolution: float, seed: int) -> list[int]:
    """One partition of ``graph`` by ``method`` at this modularity ``resolution``.

    Parameters
    ----------
    graph
        Undirected igraph graph with edge attribute ``weight``.
    method
        ``leiden`` (igraph, modularity), ``louvain`` (networkx) or ``lpa`` (networkx
        asynchronous label propagation; the resolution is ignored).
    resolution
        Modularity resolution (gamma).
    seed
        Random seed; the same seed gives the same partition.

    Returns
    -------
    list[int]
        A community label per vertex.
    """
    n = graph.vcount()
    if graph.ecount() == 0:
        return list(range(n))
    if method == "leiden":
        with _igraph_seed(seed):
            clustering = graph.community_leiden(
                objective_function="modularity", weights="weight",
                resolution=resolution, n_iterations=-1,
            )
        return list(clustering.membership)
    g = _to_networkx(graph)
    if method == "louvain":
        return _membership(n, nx.community.louvain_communities(
            g, weight="weight", resolution=resolution, seed=seed))
    return _membership(n, nx.community.asyn_lpa_communities(g, weight="weight", seed=seed))


def split_disconnected(graph: ig.Graph, membership: Sequence[int]) -> list[int]:
    """The membership with every community cut into its connected pieces.

    >>> g = ig.Graph(n=4, edges=[(0, 1), (2, 3)])
    >>> split_disconnected(g, [0, 0, 0, 0])
    [0, 0, 1, 1]
    """
    labels = [-1] * graph.vcount()
    next_label = 0
    for v in range(graph.vcount()):
        if labels[v] != -1:
            continue
        labels[v] = next_label
        stack = [v]
        while stack:
            u = stack.pop()
            for w in graph.neighbors(u):
                if labels[w] == -1 and membership[w] == membership[v]:
                    labels[w] = next_label
                    stack.append(w)
        next_label += 1
    return labels


def size_plausibility(
    membership: Sequence[int], components: Sequence[int], min_size: int, max_size: int
) -> float:
    """Share of agents (in components of two or more) whose cell has a realistic size.

    A cell is plausible when it has ``min_size`` to ``max_size`` agents, or when it is smaller
    but is a whole connected component (nothing could make it bigger).
    """
    cell_size = Counter(membership)
    comp_size = Counter(components)
    counted = plausible = 0
    for label, comp in zip(membership, components, strict=True):
        if comp_size[comp] < 2:
            continue
        counted += 1
        size = cell_size[label]
        if min_size <= size <= max_size or (size < min_size and size == comp_size[comp]):
            plausible += 1
    return plausible / counted if counted else 1.0


@dataclass(frozen=True)
class Scan:
    """One point of the resolution scan."""

    x: float
    resolution: float
    cells: int
    plausibility: float


def scan_resolution(
    graph: ig.Graph,
    method: Method,
    seed: int,
    min_size: int,
    max_size: int,
    grid: Sequence[float],
    anchor: float,
    tolerance: float = 0.02,
) -> tuple[float, list[Scan]]:
    """Choose the resolution whose cells have realistic sizes, nearest to ``anchor``.

    Each ``x`` in ``grid`` (the size-free scale of :func:`resolution_for`) is run once; among
    the points within ``tolerance`` of the best size plausibility the one closest to
    ``anchor`` (on a log scale) wins, so sizes move the choice only when the anchor gives
    implausible cells.

    Returns
    -------
    tuple[float, list[Scan]]
        The chosen resolution and every scanned point.
    """
    components = graph.connected_components().membership
    points: list[Scan] = []
    for x in grid:
        resolution = resolution_for(graph, x)
        membership = detect(graph, method, resolution, seed)
        points.append(Scan(x, resolution, len(set(membership)),
                           size_plausibility(membership, components, min_size, max_size)))
    best = max(p.plausibility for p in points)
    eligible = [p for p in points if p.plausibility >= best - tolerance]
    chosen = min(eligible, key=lambda p: (abs(math.log(p.x / anchor)), p.x))
    return chosen.resolution, points


def co_assignment(final: Sequence[int], runs: Sequence[Sequence[int]]) -> list[float]:
    """For each vertex, how often the runs put it with the other members of its final cell.

    A vertex alone in its final cell has confidence 1 when it stays alone, else the share of
    runs that leave it alone.

    >>> co_assignment([0, 0, 1], [[0, 0, 1], [0, 1, 1]])
    [0.5, 0.5, 0.5]
    """
    members: dict[int, list[int]] = {}
    for v, label in enumerate(final):
        members.setdefault(label, []).append(v)
    confidence = [0.0] * len(final)
    for run in runs:
        run_sizes = Counter(run)
        for cell in members.values():
            if len(cell) == 1:
                v = cell[0]
                confidence[v] += 1.0 if run_sizes[run[v]] == 1 else 0.0
                continue
            counts = Counter(run[v] for v in cell)
            for v in cell:
                confidence[v] += (counts[run[v]] - 1) / (len(cell) - 1)
    return [c / len(runs) if runs else 1.0 for c in confidence]


def consensus(
    graph: ig.Graph, method: Method, resolution: float, seed: int, runs: int
) -> tuple[list[int], list[float], list[list[int]]]:
    """Run ``runs`` seeds (``seed``, ``seed+1``, ...), keep the best, score each vertex.

    The kept partition is the one with the highest modularity at ``resolution`` (ties: the
    earliest seed), cut into connected pieces; each vertex's confidence is its co-assignment
    frequency with its kept cell over all runs.

    Returns
    -------
    tuple
        The kept membership, per-vertex confidence in [0, 1], and every run's membership.
    """
    partitions = [detect(graph, method, resolution, seed + i) for i in range(max(1, runs))]
    weights = graph.es["weight"] if graph.ecount() else None

    def quality(membership: list[int]) -> float:
        return float(graph.modularity(membership, weights=weights, resolution=resolution))

    best = max(range(len(partitions)), key=lambda i: (quality(partitions[i]), -i))
    final = split_disconnected(graph, partitions[best])
    return final, co_assignment(final, partitions), partitions
