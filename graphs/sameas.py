"""Same-as links: references an analyst decided are one person (or one account).

A reviewed decision is a ``SAME_AS`` relationship between two Person (or two Account) nodes,
written by :func:`merge` and removed exactly by :func:`unmerge`; nothing of either node is
changed or deleted. Linked references form groups; :func:`collapse` turns the evidence graph
into one where each group is one node, so that cells, link analysis, maps and packages (all of
which read :meth:`ringmap.graphs.store.Store.project`) treat the group as one person. The
group's node is its smallest member id (the *canonical* id, whatever order the merges came
in); it keeps every member's relationships and lists the other members in ``same_as``. The
collapsed graph remembers which store ids stand behind each of its nodes and relationships
(:func:`original_ids`), so provenance is never lost.

Examples
--------
>>> import networkx as nx
>>> g = nx.MultiDiGraph()
>>> g.add_node("Person:A", type="Person", role="suspect", name="Juan dela Cruz")
>>> g.add_node("Person:B", type="Person", role="suspect", name="J. Dela Cruz")
>>> g.add_node("Device:1", type="Device")
>>> g.add_edge("Person:B", "Device:1", key="USES", type="USES")
'USES'
>>> g = collapse(g, [Edge("SAME_AS", "Person:B", "Person:A", {"reason": "same ID card"})])
>>> sorted(g), g.nodes["Person:A"]["same_as"]
(['Device:1', 'Person:A'], ['Person:B'])
>>> original_ids(g, "USES:Person:A->Device:1")
['USES:Person:B->Device:1']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import networkx as nx

from ringmap.errors import ConfigError, NotFound
from ringmap.graphs.codec import merge_props
from ringmap.graphs.model import Edge, Provenance, edge_id, utcnow
from ringmap.graphs.schema import Role

if TYPE_CHECKING:
    from ringmap.graphs.store import Store

__all__ = [
    "MERGEABLE",
    "SAME_AS",
    "SameAsGroups",
    "canonical",
    "collapse",
    "group_role",
    "merge",
    "original_ids",
    "sightings",
    "sightings_many",
    "unmerge",
]

SAME_AS = "SAME_AS"
#: the entity types a same-as link may join (two of the same type)
MERGEABLE = frozenset({"Person", "Account"})

# a group holding a suspect is a suspect's, whatever its other references say
_ROLE_RANK: dict[str, int] = {Role.SUSPECT: 0, Role.MULE: 1, Role.OTHER: 2, Role.VICTIM: 3}


def group_role(roles: Iterable[str | None]) -> str | None:
    """The role of a group whose members have ``roles``: a suspect's if any member is one,
    then a mule's, other, victim; ``None`` when no member has one.

    >>> group_role(["victim", None, "suspect"]), group_role([None])
    ('suspect', None)
    """
    given = [r for r in roles if r]
    return min(given, key=lambda r: _ROLE_RANK.get(r, len(_ROLE_RANK))) if given else None


class SameAsGroups:
    """Groups of node ids joined by same-as links (union-find), canonical id = smallest.

    >>> groups = SameAsGroups([("b", "a"), ("c", "b"), ("x", "y")])
    >>> groups.members("c"), groups.canonical("c"), groups.canonical("z")
    (['a', 'b', 'c'], 'a', 'z')
    """

    def __init__(self, links: Iterable[tuple[str, str]] = ()) -> None:
        self._parent: dict[str, str] = {}
        for a, b in links:
            self._union(a, b)
        self._members: dict[str, list[str]] = {}
        for node in sorted(self._parent):
            self._members.setdefault(self._find(node), []).append(node)

    def _find(self, node: str) -> str:
        parent = self._parent.setdefault(node, node)
        while parent != self._parent[parent]:
            self._parent[parent] = self._parent[self._parent[parent]]
            parent = self._parent[parent]
        self._parent[node] = parent
        return parent

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:  # the smaller id is the root, so the root is the canonical id
            low, high = sorted((ra, rb))
            self._parent[high] = low

    def canonical(self, node: str) -> str:
        """The id the group of ``node`` goes by (``node`` itself when it is in no group)."""
        return self._find(node) if node in self._parent else node

    def members(self, node: str) -> list[str]:
        """Every member of the group of ``node``, sorted (just ``node`` when in none)."""
        return list(self._members.get(self.canonical(node), [node]))

    def groups(self) -> list[list[str]]:
        """Every group of two or more members, each sorted, canonical first."""
        return [m for _, m in sorted(self._members.items())]


def collapse(graph: nx.MultiDiGraph, links: Iterable[Edge]) -> nx.MultiDiGraph:
    """``graph`` (changed in place) with each same-as group made one node.

    The canonical node takes the group's properties (its own first, the others' filling
    gaps; the role a suspect's if any member is one) and ``same_as``, the other members;
    every relationship of a member moves to it (one between two members is dropped).
    ``graph.graph["same_as"]`` maps each other member to its canonical id and
    ``graph.graph["same_as_edges"]`` each moved relationship's id to the store's ids behind it.
    """
    links = [link for link in links if link.src in graph and link.dst in graph]
    if not links:
        return graph
    groups = SameAsGroups((link.src, link.dst) for link in links)
    moved: dict[str, str] = {}
    for members in groups.groups():
        head, others = members[0], members[1:]
        attrs = graph.nodes[head]
        for other in others:
            moved[other] = head
            for key, value in graph.nodes[other].items():
                attrs.setdefault(key, value)
        role = group_role(graph.nodes[m].get("role") for m in members)
        if role:
            attrs["role"] = role
        attrs["same_as"] = others
    behind: dict[str, list[str]] = {}
    touched = [(u, v, k, d) for member in moved
               for u, v, k, d in (*graph.out_edges(member, keys=True, data=True),
                                  *graph.in_edges(member, keys=True, data=True))]
    for u, v, key, data in touched:
        src, dst = moved.get(u, u), moved.get(v, v)
        if src == dst:
            continue
        new_id = edge_id(key, src, dst)
        if new_id not in behind:
            behind[new_id] = [new_id] if graph.has_edge(src, dst, key) else []
        behind[new_id].append(edge_id(key, u, v))
        if graph.has_edge(src, dst, key):
            merge_props(graph.edges[src, dst, key], data)
        else:
            graph.add_edge(src, dst, key=key, **data)
    graph.remove_nodes_from(moved)
    graph.graph["same_as"] = moved
    graph.graph["same_as_edges"] = {k: sorted(set(v)) for k, v in behind.items()}
    return graph


def canonical(graph: nx.MultiDiGraph, node_id: str) -> str:
    """The node of a collapsed ``graph`` that stands for ``node_id`` (itself if not merged)."""
    moved: dict[str, str] = graph.graph.get("same_as", {})
    return moved.get(node_id, node_id)


def original_ids(graph: nx.MultiDiGraph, item: str) -> list[str]:
    """The store ids behind a node or relationship id of a collapsed ``graph``."""
    found: list[str] | None = graph.graph.get("same_as_edges", {}).get(item)
    if found is not None:
        return found
    if item in graph:
        return [item, *graph.nodes[item].get("same_as", ())]
    return [item]


def sightings(store: Store, graph: nx.MultiDiGraph, item: str) -> list[Provenance]:
    """Every sighting of a node or relationship of a collapsed ``graph``: those of each store
    item behind it, in store order."""
    ids = original_ids(graph, item)
    if len(ids) == 1:
        return store.provenance(ids[0])
    found = store.provenance_many(ids)
    return [p for i in ids for p in found.get(i, [])]


def sightings_many(store: Store, graph: nx.MultiDiGraph, items: Iterable[str], first: int
                   ) -> dict[str, tuple[list[Provenance], int]]:
    """The first ``first`` of the :func:`sightings` of each of ``items`` and how many there
    are in all, read in a few batches instead of one read each (a cell map reads those of some
    thousand nodes and relationships, and shows a few sightings of each)."""
    behind = {item: original_ids(graph, item) for item in items}
    found = store.provenance_first((i for ids in behind.values() for i in ids), first)
    out: dict[str, tuple[list[Provenance], int]] = {}
    for item, ids in behind.items():
        heads = [p for i in ids for p in found.get(i, ([], 0))[0]]
        out[item] = (heads[:first], sum(found.get(i, ([], 0))[1] for i in ids))
    return out


def _node_type(store: Store, node_id: str) -> str:
    node = store.get(node_id)
    if node is None:
        raise NotFound(f"no node {node_id!r} in the case")
    if node.type not in MERGEABLE:
        raise ConfigError(f"{node_id} is a {node.type}: only persons and accounts are merged")
    return node.type


def _links(store: Store) -> list[Edge]:
    return list(store.edges([SAME_AS]))


def merge(store: Store, a: str, b: str, reason: str, *, decided_by: str = "",
          score: float | None = None) -> Edge:
    """Record the reviewed decision that ``a`` and ``b`` are one person (or account).

    Adds one ``SAME_AS`` relationship from ``b`` to ``a`` carrying the reason, who decided,
    when, and the resolve score the reviewer saw; neither node changes.

    Raises
    ------
    NotFound
        If either node is not in the case.
    ConfigError
        If they are the same node, of different or unmergeable types, already in one group,
        or the reason is empty.
    """
    if not reason.strip():
        raise ConfigError("a merge needs its reason (--reason TEXT)")
    if a == b:
        raise ConfigError(f"{a} is one node already: nothing to merge")
    kinds = {_node_type(store, a), _node_type(store, b)}
    if len(kinds) > 1:
        raise ConfigError(f"{a} and {b} are of different types: only a person with a person, "
                          "or an account with an account, is merged")
    groups = SameAsGroups((e.src, e.dst) for e in _links(store))
    if groups.canonical(a) == groups.canonical(b):
        raise ConfigError(f"{a} and {b} are merged already (group "
                          f"{', '.join(groups.members(a))})")
    props: dict[str, Any] = {"reason": reason.strip(), "decided_by": decided_by or None,
                             "decided_at": utcnow(), "score": score}
    link = Edge(SAME_AS, b, a, {k: v for k, v in props.items() if v is not None})
    with store.writing("merge"):
        store.write_same_as(link)
    return link


def unmerge(store: Store, a: str, b: str) -> Edge:
    """Remove the same-as link between ``a`` and ``b`` (either direction), exactly as
    :func:`merge` added it; the link removed.

    Raises
    ------
    NotFound
        If no link joins them directly (when they are grouped through other members, the
        message names the links that join them).
    """
    links = _links(store)
    for link in links:
        if {link.src, link.dst} == {a, b}:
            with store.writing("unmerge"):
                store.delete_same_as(link)
            return link
    groups = SameAsGroups((e.src, e.dst) for e in links)
    if a in groups.members(b) and a != b:
        through = [f"{e.src} ~ {e.dst}" for e in links if groups.canonical(e.src) ==
                   groups.canonical(a)]
        raise NotFound(f"{a} and {b} are not linked directly but through others: unmerge "
                       f"one of {'; '.join(through)}")
    raise NotFound(f"{a} and {b} are not merged")
