"""Large graphs on a map: groups collapsed into counted super-nodes, layouts computed ahead.

A browser cannot draw, nor a physics simulation settle, tens of thousands of nodes. Above the
node budget the map collapses groups of nodes into one super-node each (a cell; the phones of a
cell; the accounts two hops from an entity), keeps the few nodes that matter individually, and
merges the edges between groups into one counted edge. Above a smaller limit the layout is
computed here with igraph (Fruchterman-Reingold on a grid, seeded) and sent as fixed positions
with physics off, so the page is still the moment it is drawn.

>>> collapsed = collapse([("a", "b", "USES"), ("a", "c", "USES")], keep={"a"},
...                      group_of={"b": "phones", "c": "phones"}.__getitem__)
>>> collapsed.members["phones"], collapsed.edges[("a", "phones")]
(['b', 'c'], Counter({'USES': 2}))
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import igraph

__all__ = ["DEFAULT_BUDGET", "PHYSICS_LIMIT", "Collapsed", "collapse", "layout_positions"]

#: Most nodes a map draws individually; above it the map is aggregated.
DEFAULT_BUDGET = 2000
#: Most nodes laid out by the browser's physics; above it positions are computed ahead.
PHYSICS_LIMIT = 250


@dataclass
class Collapsed:
    """Kept nodes, group members, and edge counts per relationship type between endpoints."""

    kept: list[str] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)
    edges: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)


def collapse(
    edges: Iterable[tuple[str, str, str]],
    keep: set[str],
    group_of: Callable[[str], str],
    nodes: Iterable[str] = (),
) -> Collapsed:
    """Collapse every node not in ``keep`` into its group; count the edges between endpoints.

    Parameters
    ----------
    edges
        ``(source, target, relationship type)`` triples.
    keep
        Nodes drawn individually.
    group_of
        The group of any other node (a key for its super-node).
    nodes
        Nodes to place even if no edge touches them.
    """
    result = Collapsed()
    members: dict[str, set[str]] = defaultdict(set)
    kept: set[str] = set()
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)

    def end(node: str) -> str:
        if node in keep:
            kept.add(node)
            return node
        group = group_of(node)
        members[group].add(node)
        return group

    for node in nodes:
        end(node)
    for src, dst, rel in edges:
        a, b = end(src), end(dst)
        if a != b:
            counts[(a, b)][rel] += 1
    result.kept = sorted(kept)
    result.members = {group: sorted(found) for group, found in sorted(members.items())}
    result.edges = dict(sorted(counts.items()))
    return result


def layout_positions(
    nodes: Sequence[Hashable],
    edges: Iterable[tuple[Hashable, Hashable]],
    seed: int = 7,
    spacing: float = 60.0,
) -> dict[Hashable, tuple[float, float]]:
    """Positions for ``nodes`` from a seeded Fruchterman-Reingold layout, in canvas units.

    The same nodes, edges and seed always give the same positions; the drawing spans about
    ``spacing * sqrt(len(nodes))`` units across.
    """
    if not nodes:
        return {}
    index = {node: i for i, node in enumerate(nodes)}
    pairs = sorted({(index[a], index[b]) for a, b in edges if a in index and b in index})
    graph = igraph.Graph(n=len(nodes), edges=pairs)
    # igraph draws from a global generator; give it a seeded one and put the default back.
    igraph.set_random_number_generator(random.Random(seed))
    try:
        coords = graph.layout_fruchterman_reingold(niter=300, grid=len(nodes) > 100).coords
    finally:
        igraph.set_random_number_generator(random)
    xs = [c[0] for c in coords]
    ys = [c[1] for c in coords]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    scale = spacing * math.sqrt(len(nodes)) / span
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return {node: ((coords[i][0] - cx) * scale, (coords[i][1] - cy) * scale)
            for node, i in index.items()}
