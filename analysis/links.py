"""Link analysis: shortest evidence paths, neighbourhoods, shared identifiers, connecting networks.

All four work on the projected evidence graph with relationships treated as undirected for
reachability; every step of an answer carries the relationships behind it, their direction and
their provenance (file, row, reference, grading), so an analyst can cite the evidence.

Hubs
----
An office Wi-Fi address, a carrier's CGNAT address or a victim contacted by many agents links
everything to everything. A node's *hub degree* is the number of its distinct neighbours, not
counting the ones it contacted itself (an agent account working through a list of victims is
therefore not a hub, a victim contacted by many agents is). :func:`shortest_paths` with
``avoid_hubs=True`` keeps out of its intermediate steps (the two ends are always allowed):

- every node whose hub degree is above a threshold (:data:`DEFAULT_HUB_DEGREE`);
- context nodes (:data:`CONTEXT_TYPES`): a country or a raid site says where things happened,
  and everyone in it would be "linked" through it;
- the identifiers that the latest cell run set aside as shared infrastructure.

:func:`connect` always *weights* by hub degree: passing a shared identifier, a victim or a
context node of hub degree ``d`` costs ``ln(d - 1)`` extra.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

import networkx as nx
from networkx.algorithms.approximation import steiner_tree
from pydantic import BaseModel, Field

from ringmap.errors import AnalysisError
from ringmap.graphs.model import Node, Provenance, edge_id
from ringmap.graphs.resolve import resolve
from ringmap.graphs.sameas import canonical, sightings
from ringmap.graphs.schema import SCHEMA, Role
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy

__all__ = [
    "CONTEXT_TYPES",
    "DEFAULT_HUB_DEGREE",
    "EdgeInfo",
    "EvidenceGraph",
    "EvidencePath",
    "Hop",
    "Link",
    "Neighbourhood",
    "Network",
    "NodeInfo",
    "PathResult",
    "SharedIdentifier",
    "SharedResult",
    "connect",
    "evidence_text",
    "expand",
    "multi_source_bfs",
    "shared",
    "shortest_paths",
]

#: Identifier nodes with more distinct neighbours than this are hubs (see the module notes).
DEFAULT_HUB_DEGREE = 25
#: Entity types that place evidence (where, which country) rather than tie people together.
CONTEXT_TYPES = frozenset({"Country", "Location"})
_SHAREABLE = SCHEMA.identifier_types | {"Location"}
_INTERMEDIARIES = frozenset({"Account", "Person"})
_ROUTES_PER_SIDE = 5


def evidence_text(evidence: Iterable[Provenance]) -> str:
    """Provenance as compact text: ``file:row ref grade`` per sighting, ``; ``-separated."""
    parts = []
    for prov in evidence:
        ref = f" {prov.ref}" if prov.ref else ""
        parts.append(f"{Path(prov.source_file).name}:{prov.row}{ref} {prov.grading.grade}")
    return "; ".join(parts)


class Link(BaseModel):
    """One relationship met on a walk, oriented as the walk went through it."""

    type: str
    source: str
    target: str
    forward: bool = Field(description="the walk followed the relationship's direction")
    properties: dict[str, Any] = Field(default_factory=dict)
    evidence: list[Provenance] = Field(default_factory=list)

    @property
    def arrow(self) -> str:
        """``-TYPE->`` when walked along the relationship, ``<-TYPE-`` when against it."""
        return f"-{self.type}->" if self.forward else f"<-{self.type}-"


class Hop(BaseModel):
    """One step between adjacent nodes, with every relationship joining them."""

    start: str
    end: str
    links: list[Link]

    @property
    def arrow(self) -> str:
        """The relationships of the step as arrows, ``|``-separated."""
        return "|".join(link.arrow for link in self.links)


class EvidencePath(BaseModel):
    """A walk through the evidence graph: its nodes and the hops between them."""

    nodes: list[str]
    hops: list[Hop]

    @property
    def length(self) -> int:
        """Number of hops."""
        return len(self.hops)

    def text(self, name: Callable[[str], str] = str) -> str:
        """The walk as one line, ``A -USES-> B <-REGISTERED_TO- C``; ``name`` shows a node id
        (a pseudonym for a victim, say)."""
        parts = [name(self.nodes[0])]
        for hop in self.hops:
            parts += [hop.arrow, name(hop.end)]
        return " ".join(parts)

    def evidence_text(self) -> str:
        """The first sighting of every relationship on the walk, hop by hop."""
        return " | ".join(evidence_text(link.evidence[:1]) for hop in self.hops
                          for link in hop.links)


class NodeInfo(BaseModel):
    """A node as shown in a result: id, type and a non-sensitive label."""

    id: str
    type: str
    label: str
    hops: int | None = Field(default=None, description="distance from the start, if any")


class EvidenceGraph:
    """The store's evidence graph, projected once, with an undirected view for reachability.

    Provenance is fetched from the store on demand and cached per relationship.

    Parameters
    ----------
    store
        The case.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.graph: nx.MultiDiGraph = store.project()
        if self.graph.number_of_nodes() == 0:
            raise AnalysisError("the case holds no evidence yet: ingest some files first")
        self.undirected: nx.Graph = nx.Graph()
        self.undirected.add_nodes_from(self.graph)
        self.undirected.add_edges_from(self.graph.edges(keys=False))
        self._provenance: dict[str, list[Provenance]] = {}
        self._hub_degree: dict[str, int] = {}

    # -- nodes ---------------------------------------------------------------------------
    def find(self, key: str, default_region: str = "PH") -> str:
        """The node of the graph that ``key`` names: a reference merged into a same-as group
        is found as its group's node (:func:`ringmap.graphs.sameas.canonical`)."""
        return canonical(self.graph, resolve(self.store, key, default_region).id)

    def type_of(self, node: str) -> str:
        """The entity type of ``node``."""
        return str(self.graph.nodes[node]["type"])

    def get(self, node: str) -> Node | None:
        """The node with this id, from the projection, or ``None``."""
        if node not in self.graph:
            return None
        attrs = dict(self.graph.nodes[node])
        return Node(node, str(attrs.pop("type")), attrs)

    @cached_property
    def privacy(self) -> Privacy:
        """The policy every output follows, the maps' own: victims pseudonymised."""
        return Privacy.for_graph(self.graph)

    def label(self, node: str) -> str:
        """``node``'s label as the maps show it (a name, handle or number; a victim's
        pseudonym)."""
        return self.privacy.label(node, self.graph.nodes[node])

    def info(self, node: str, hops: int | None = None) -> NodeInfo:
        """``node`` as shown in results, labelled as the maps label it."""
        return NodeInfo(id=node, type=self.type_of(node), label=self.label(node), hops=hops)

    def is_suspect(self, node: str) -> bool:
        """Whether ``node`` is a Person with the suspect role."""
        attrs = self.graph.nodes[node]
        return bool(attrs["type"] == "Person" and attrs.get("role") == Role.SUSPECT)

    # -- hubs ----------------------------------------------------------------------------
    def hub_degree(self, node: str) -> int:
        """Distinct neighbours of ``node``, not counting those it contacted itself."""
        cached = self._hub_degree.get(node)
        if cached is None:
            contacted = {v for v, keys in self.graph.succ[node].items() if "CONTACTED" in keys}
            others = (set(self.graph.succ[node]) - contacted) | set(self.graph.pred[node])
            cached = self._hub_degree[node] = len(others)
        return cached

    def can_be_hub(self, node: str) -> bool:
        """Whether ``node`` is a shared identifier, a victim or a context node: the kinds of
        node that cost extra to pass (see :meth:`hub_cost`)."""
        attrs = self.graph.nodes[node]
        if attrs["type"] == "Person":
            return bool(attrs.get("role") == Role.VICTIM)
        return attrs["type"] in SCHEMA.identifier_types | CONTEXT_TYPES

    @cached_property
    def infrastructure(self) -> frozenset[str]:
        """The identifiers the latest cell run set aside as shared infrastructure."""
        runs = self.store.analysis_runs("cells")
        marked = runs[-1].infrastructure if runs else []
        return frozenset(item for item in marked if item in self.graph)

    def hubs(self, threshold: int = DEFAULT_HUB_DEGREE) -> set[str]:
        """Nodes a walk that avoids hubs does not pass through: hub degree above
        ``threshold``, context nodes, and the cell run's infrastructure."""
        return {n for n in self.graph
                if self.type_of(n) in CONTEXT_TYPES or n in self.infrastructure
                or (self.undirected.degree[n] > threshold and self.hub_degree(n) > threshold)}

    def hub_cost(self, node: str) -> float:
        """Extra cost of passing through ``node``: ``ln(hub degree - 1)`` for hub kinds."""
        if not self.can_be_hub(node):
            return 0.0
        return math.log(max(1, self.hub_degree(node) - 1))

    # -- evidence ------------------------------------------------------------------------
    def evidence(self, type_: str, src: str, dst: str) -> list[Provenance]:
        """Every sighting of the relationship ``type_`` from ``src`` to ``dst``."""
        rel = edge_id(type_, src, dst)
        if rel not in self._provenance:
            self._provenance[rel] = sightings(self.store, self.graph, rel)
        return self._provenance[rel]

    def hop(self, start: str, end: str) -> Hop:
        """Every relationship between adjacent ``start`` and ``end``, oriented from ``start``."""
        links: list[Link] = []
        for src, dst, forward in ((start, end, True), (end, start, False)):
            for type_, attrs in sorted((self.graph.get_edge_data(src, dst) or {}).items()):
                props = {k: v for k, v in attrs.items() if k != "type"}
                links.append(Link(type=type_, source=src, target=dst, forward=forward,
                                  properties=props, evidence=self.evidence(type_, src, dst)))
        return Hop(start=start, end=end, links=links)

    def path(self, nodes: Sequence[str]) -> EvidencePath:
        """The walk through ``nodes`` with its relationships and their provenance."""
        hops = [self.hop(a, b) for a, b in pairwise(nodes)]
        return EvidencePath(nodes=list(nodes), hops=hops)


def _graph(store: Store, graph: EvidenceGraph | None) -> EvidenceGraph:
    return graph if graph is not None else EvidenceGraph(store)


def _hop_rows(walk: EvidencePath, labels: Mapping[str, str], **lead: Any
              ) -> list[dict[str, Any]]:
    return [{**lead, "hop": i, "from": hop.start, "from_label": labels.get(hop.start),
             "relationship": link.type, "direction": "→" if link.forward else "←",
             "to": hop.end, "to_label": labels.get(hop.end),
             "properties": link.properties or None, "evidence": evidence_text(link.evidence)}
            for i, hop in enumerate(walk.hops, 1) for link in hop.links]


# -- shortest paths ------------------------------------------------------------------------
class PathResult(BaseModel):
    """The shortest evidence paths between two entities."""

    source: NodeInfo
    target: NodeInfo
    max_hops: int
    avoid_hubs: bool
    hub_degree: int
    excluded_hubs: list[str] = Field(default_factory=list)
    paths: list[EvidencePath] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict,
                                   description="every node on the paths, labelled as on maps")
    note: str | None = None

    def rows(self) -> list[dict[str, Any]]:
        """One row per relationship per hop of every path, each end with its label."""
        return [row for i, path in enumerate(self.paths, 1)
                for row in _hop_rows(path, self.labels, path=i, hops=path.length)]


def shortest_paths(
    store: Store,
    a: str,
    b: str,
    max_hops: int = 6,
    avoid_hubs: bool = False,
    k: int = 3,
    hub_degree: int = DEFAULT_HUB_DEGREE,
    default_region: str = "PH",
    graph: EvidenceGraph | None = None,
) -> PathResult:
    """Up to ``k`` shortest evidence paths (fewest hops first) between two entities.

    Parameters
    ----------
    store
        The case.
    a, b
        The two entities, as anything :func:`~ringmap.graphs.resolve.resolve` reads.
    max_hops
        Longest path reported.
    avoid_hubs
        Keep hubs (hub degree above ``hub_degree``), context nodes and the cell run's
        infrastructure out of the intermediate steps (see the module notes).
    k
        Most paths reported.
    hub_degree
        Hub threshold.
    default_region
        Region in which national phone numbers are read.
    graph
        A projection to reuse.

    Raises
    ------
    NotFound
        If ``a`` or ``b`` names no entity.
    AnalysisError
        If both name the same entity, ``max_hops`` or ``k`` is below 1, or the case is empty.
    """
    if max_hops < 1 or k < 1:
        raise AnalysisError("--max-hops and the number of paths must be at least 1")
    eg = _graph(store, graph)
    source, target = eg.find(a, default_region), eg.find(b, default_region)
    if source == target:
        raise AnalysisError(f"both ends are the same entity {source}")
    view: nx.Graph = eg.undirected
    excluded: list[str] = []
    if avoid_hubs:
        excluded = sorted(eg.hubs(hub_degree) - {source, target})
        view = nx.restricted_view(eg.undirected, excluded, [])
    result = PathResult(source=eg.info(source), target=eg.info(target), max_hops=max_hops,
                        avoid_hubs=avoid_hubs, hub_degree=hub_degree, excluded_hubs=excluded)
    try:
        shortest = len(nx.bidirectional_shortest_path(view, source, target)) - 1
    except nx.NetworkXNoPath:
        result.note = "not connected" + (" once hubs are avoided" if avoid_hubs else "")
        return result
    if shortest > max_hops:
        result.note = f"the shortest path has {shortest} hops, more than --max-hops {max_hops}"
        return result
    for nodes in nx.shortest_simple_paths(view, source, target):
        if len(nodes) - 1 > max_hops or len(result.paths) == k:
            break
        result.paths.append(eg.path(nodes))
    result.labels = {n: eg.label(n) for path in result.paths for n in path.nodes}
    return result


# -- neighbourhood -------------------------------------------------------------------------
class EdgeInfo(BaseModel):
    """A relationship as shown in a neighbourhood."""

    type: str
    source: str
    target: str
    properties: dict[str, Any] = Field(default_factory=dict)


class Neighbourhood(BaseModel):
    """The nodes within some hops of an entity and the relationships among them."""

    start: NodeInfo
    hops: int
    limit: int
    capped: bool
    nodes: list[NodeInfo]
    edges: list[EdgeInfo]
    note: str | None = None

    def node_rows(self) -> list[dict[str, Any]]:
        """One row per node, nearest first."""
        return [node.model_dump() for node in self.nodes]

    def edge_rows(self) -> list[dict[str, Any]]:
        """One row per relationship, each end with its label."""
        labels = {node.id: node.label for node in self.nodes}
        return [{"source": e.source, "source_label": labels.get(e.source),
                 "relationship": e.type, "target": e.target,
                 "target_label": labels.get(e.target), "properties": e.properties or None}
                for e in self.edges]


def expand(
    store: Store,
    key: str,
    hops: int = 1,
    limit: int = 500,
    default_region: str = "PH",
    graph: EvidenceGraph | None = None,
) -> Neighbourhood:
    """The entities within ``hops`` of ``key`` (breadth first, at most ``limit`` nodes).

    When the cap is reached the result says so (``capped``, ``note``): nearer nodes are kept,
    farther ones dropped.

    Raises
    ------
    NotFound
        If ``key`` names no entity.
    AnalysisError
        If ``hops`` or ``limit`` is below 1, or the case is empty.
    """
    if hops < 1 or limit < 1:
        raise AnalysisError("--hops and --limit must be at least 1")
    eg = _graph(store, graph)
    start = eg.find(key, default_region)
    distance = {start: 0}
    frontier = [start]
    capped = False
    for depth in range(1, hops + 1):
        layer: list[str] = []
        for node in frontier:
            for other in eg.undirected[node]:
                if other in distance:
                    continue
                if len(distance) >= limit:
                    capped = True
                    break
                distance[other] = depth
                layer.append(other)
        frontier = layer
        if capped or not frontier:
            break
    sub = eg.graph.subgraph(distance)
    edges = [EdgeInfo(type=type_, source=src, target=dst,
                      properties={k: v for k, v in attrs.items() if k != "type"})
             for src, dst, type_, attrs in sorted(sub.edges(keys=True, data=True))]
    note = (f"stopped at {limit} nodes before reaching every node within {hops} hops; "
            "raise --limit or lower --hops") if capped else None
    return Neighbourhood(start=eg.info(start), hops=hops, limit=limit, capped=capped,
                         nodes=[eg.info(n, d) for n, d in distance.items()], edges=edges,
                         note=note)


# -- shared identifiers --------------------------------------------------------------------
class SharedIdentifier(BaseModel):
    """An identifier linked to both entities, with the routes from each side."""

    node: NodeInfo
    hub_degree: int
    routes_a: list[EvidencePath]
    routes_b: list[EvidencePath]


class SharedResult(BaseModel):
    """What two entities share."""

    a: NodeInfo
    b: NodeInfo
    shared: list[SharedIdentifier]

    def rows(self) -> list[dict[str, Any]]:
        """One row per shared identifier, with the shortest route from each side."""
        rows = []
        for item in self.shared:
            route_a, route_b = item.routes_a[0], item.routes_b[0]
            rows.append({
                "shared": item.node.id, "label": item.node.label, "type": item.node.type,
                "hub_degree": item.hub_degree,
                "hops_a": route_a.length, "route_a": route_a.text(),
                "evidence_a": route_a.evidence_text(),
                "hops_b": route_b.length, "route_b": route_b.text(),
                "evidence_b": route_b.evidence_text(),
                "routes": f"{len(item.routes_a)}+{len(item.routes_b)}",
            })
        return rows


def _routes(eg: EvidenceGraph, start: str, other: str) -> dict[str, list[list[str]]]:
    """Shareable nodes next to ``start`` or two hops away through an account or person."""
    routes: dict[str, list[list[str]]] = {}
    for mid in eg.undirected[start]:
        if mid == other:
            continue
        if eg.type_of(mid) in _SHAREABLE:
            routes.setdefault(mid, []).append([start, mid])
        if eg.type_of(mid) in _INTERMEDIARIES:
            for far in eg.undirected[mid]:
                if far not in (start, other) and eg.type_of(far) in _SHAREABLE:
                    routes.setdefault(far, []).append([start, mid, far])
    return routes


def shared(
    store: Store,
    a: str,
    b: str,
    default_region: str = "PH",
    graph: EvidenceGraph | None = None,
) -> SharedResult:
    """Identifiers (and places) linked to both ``a`` and ``b``.

    A node counts when it is next to an entity, or two hops away through an account or a
    person (a person's account logged in from an IP; an account's owner uses a phone). Each
    side keeps its shortest routes (at most five) with their evidence. Results are ordered by
    total hops, then the least shared (lowest hub degree) first.

    Raises
    ------
    NotFound
        If ``a`` or ``b`` names no entity.
    AnalysisError
        If both name the same entity, or the case is empty.
    """
    eg = _graph(store, graph)
    first, second = eg.find(a, default_region), eg.find(b, default_region)
    if first == second:
        raise AnalysisError(f"both entities are the same, {first}")
    side_a, side_b = _routes(eg, first, second), _routes(eg, second, first)
    items = []
    for node in side_a.keys() & side_b.keys():
        routes = []
        for side in (side_a[node], side_b[node]):
            ranked = sorted(side, key=lambda walk: (len(walk), walk))[:_ROUTES_PER_SIDE]
            routes.append([eg.path(walk) for walk in ranked])
        items.append(SharedIdentifier(node=eg.info(node), hub_degree=eg.hub_degree(node),
                                      routes_a=routes[0], routes_b=routes[1]))
    items.sort(key=lambda it: (it.routes_a[0].length + it.routes_b[0].length, it.hub_degree,
                               it.node.id))
    return SharedResult(a=eg.info(first), b=eg.info(second), shared=items)


# -- connecting network --------------------------------------------------------------------
class Network(BaseModel):
    """The smallest network found that connects a set of entities."""

    terminals: list[NodeInfo]
    groups: list[list[str]] = Field(description="terminals connected to each other")
    unconnectable: list[str] = Field(description="terminals in no group")
    nodes: list[NodeInfo]
    hops: list[Hop]
    cost: float

    def node_rows(self) -> list[dict[str, Any]]:
        """One row per node of the network; terminals marked."""
        terminals = {t.id for t in self.terminals}
        return [{**node.model_dump(exclude={"hops"}), "terminal": node.id in terminals}
                for node in self.nodes]

    def link_rows(self) -> list[dict[str, Any]]:
        """One row per relationship of the network, with its ends' labels and its evidence."""
        labels = {node.id: node.label for node in self.nodes}
        return [{"from": link.source, "from_label": labels.get(link.source),
                 "relationship": link.type, "to": link.target,
                 "to_label": labels.get(link.target), "properties": link.properties or None,
                 "evidence": evidence_text(link.evidence)}
                for hop in self.hops for link in hop.links]


def connect(
    store: Store,
    keys: Sequence[str],
    default_region: str = "PH",
    graph: EvidenceGraph | None = None,
) -> Network:
    """The smallest network connecting the entities (i2's "find connecting network").

    A Steiner-tree approximation (Mehlhorn's, via networkx) on the undirected evidence graph,
    per connected component holding two or more of the entities, with hub-aware weights: an
    edge costs 1 plus the hub cost of its ends (see the module notes), so routes through an
    office Wi-Fi or a much-contacted victim are taken only when nothing else connects.

    Raises
    ------
    NotFound
        If a key names no entity.
    AnalysisError
        If fewer than two distinct entities are given, or the case is empty.
    """
    eg = _graph(store, graph)
    terminals = list(dict.fromkeys(eg.find(key, default_region) for key in keys))
    if len(terminals) < 2:
        raise AnalysisError("give at least two distinct entities to connect")
    components: list[tuple[list[str], set[str]]] = []
    placed: set[str] = set()
    for terminal in terminals:
        if terminal in placed:
            continue
        component = nx.node_connected_component(eg.undirected, terminal)
        group = [t for t in terminals if t in component]
        placed.update(group)
        if len(group) > 1:
            components.append((group, component))
    tree_nodes: dict[str, None] = {}
    hops: list[Hop] = []
    cost = 0.0
    for group, component in components:
        weighted = nx.Graph()
        for u, v in eg.undirected.subgraph(component).edges():
            weighted.add_edge(u, v, weight=1.0 + eg.hub_cost(u) + eg.hub_cost(v))
        tree = steiner_tree(weighted, group, weight="weight", method="mehlhorn")
        tree_nodes.update(dict.fromkeys(group))
        tree_nodes.update(dict.fromkeys(sorted(tree.nodes)))
        for u, v in sorted(tuple(sorted(edge)) for edge in tree.edges()):
            cost += weighted[u][v]["weight"]
            hops.append(eg.hop(u, v))
    groups = [group for group, _ in components]
    grouped = {t for group in groups for t in group}
    return Network(terminals=[eg.info(t) for t in terminals], groups=groups,
                   unconnectable=[t for t in terminals if t not in grouped],
                   nodes=[eg.info(n) for n in tree_nodes], hops=hops, cost=round(cost, 4))


def multi_source_bfs(
    eg: EvidenceGraph,
    sources: Iterable[str],
    max_hops: int,
    blocked: set[str] | frozenset[str] = frozenset(),
) -> dict[str, tuple[int, str | None]]:
    """Distance to, and BFS parent towards, the nearest of ``sources`` for every node within
    ``max_hops``; ``blocked`` nodes are reached but not passed through.

    Sources are visited in the order given, so ties go to the earlier source.
    """
    reached: dict[str, tuple[int, str | None]] = {s: (0, None) for s in sources}
    queue = deque(reached)
    while queue:
        node = queue.popleft()
        depth = reached[node][0]
        if depth == max_hops or (depth and node in blocked):
            continue
        for other in eg.undirected[node]:
            if other not in reached:
                reached[other] = (depth + 1, node)
                queue.append(other)
    return reached
