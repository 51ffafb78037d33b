"""The evidence graph read from packed arrays: networkx's interface, no graph of Python dicts.

:class:`EvidenceGraph` is what :meth:`ringmap.graphs.store.Store.evidence` returns: a read-only
networkx ``MultiDiGraph`` whose nodes, adjacency and properties are served from a
:class:`~ringmap.graphs.store.PackedGraph` (integer arrays, the store's raw property text) when
they are asked for. Same-as groups are collapsed in the arrays, exactly as
:func:`ringmap.graphs.sameas.collapse` collapses them in a networkx graph: the same nodes, the
same relationships in the same iteration order, the same properties, ``graph["same_as"]`` and
``graph["same_as_edges"]``. Everything that reads a networkx evidence graph reads this one
unchanged; a node's or relationship's properties are decoded only when a reader looks at them
(its ``type`` needs no decoding), and only the nodes' last few thousand are kept.

The graph cannot be changed (``add_edge`` and the like fail): a reader that must change it
works on ``graph.copy()`` or a subgraph copy, as with any graph it does not own.

>>> import numpy as np
>>> from ringmap.graphs.model import Edge
>>> from ringmap.graphs.store import PackedGraph, _as_given
>>> packed = PackedGraph.assemble(
...     ["Device:1", "Person:a", "Person:b"], ["Device", "Person", "Person"],
...     [{}, {"role": "suspect"}, {"name": "B"}], ["USES", "USES"], np.array([1, 2]),
...     np.array([0, 0]), [{}, {}], [Edge("SAME_AS", "Person:b", "Person:a", {})], _as_given)
>>> g = EvidenceGraph(packed)
>>> sorted(g), g.nodes["Person:a"]["type"], g.nodes["Person:a"]["same_as"]
(['Device:1', 'Person:a'], 'Person', ['Person:b'])
>>> list(g.edges(keys=True)), g.graph["same_as_edges"]["USES:Person:a->Device:1"]
([('Person:a', 'Device:1', 'USES')], ['USES:Person:a->Device:1', 'USES:Person:b->Device:1'])
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from functools import partial
from itertools import repeat
from typing import TYPE_CHECKING, Any, NamedTuple

import networkx as nx
import numpy as np

from ringmap.graphs.codec import merge_props
from ringmap.graphs.model import edge_id
from ringmap.graphs.sameas import SameAsGroups, group_role

if TYPE_CHECKING:  # the store hands its packed graph over: no import at run time
    from ringmap.graphs.store import PackedGraph

__all__ = ["EvidenceGraph", "FarEnds", "PairPositions", "adjacent", "edge_values", "edges_among",
           "edges_by_rel", "edges_within", "neighbours_by_rel", "node_types", "node_values",
           "nodes_of_type", "packed_of", "pair_positions", "pairs_by_rel", "relationships_at",
           "runs"]


#: how many nodes' decoded attributes an :class:`EvidenceGraph` keeps (a cell's footprint
#: and the nodes its rosters name are some thousand)
_RECENT = 8192
#: relationships :meth:`EvidenceGraph.among` makes at once
_PART = 65536


class _Attrs(Mapping[str, Any]):
    """The attributes of one node or relationship: ``type`` at once, the rest decoded when
    first read."""

    __slots__ = ("_data", "_load", "_type")

    def __init__(self, type_: str, load: Callable[[], dict[str, Any]]) -> None:
        self._type = type_
        self._load = load
        self._data: dict[str, Any] | None = None

    def _full(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self._load()
        return self._data

    def __getitem__(self, key: str) -> Any:
        if key == "type":
            return self._type
        return self._full()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())

    def copy(self) -> dict[str, Any]:
        """A plain dict of the attributes (what ``dict.copy`` gives networkx's copies)."""
        return dict(self._full())


class _Nodes(Mapping[str, _Attrs]):
    """Node id -> attributes, the members of same-as groups other than their head left out."""

    def __init__(self, graph: EvidenceGraph) -> None:
        self._g = graph

    def __getitem__(self, node: str) -> _Attrs:
        i = self._g.position(node)
        if i is None:
            raise KeyError(node)
        return _Attrs(self._g.type_of(i), lambda: self._g.node_attrs(i))

    def __contains__(self, node: object) -> bool:
        return isinstance(node, str) and self._g.position(node) is not None

    def __iter__(self) -> Iterator[str]:
        ids = self._g._p.ids
        return (ids[i] for i in self._g.visible.tolist())

    def __len__(self) -> int:
        return len(self._g.visible)


class _Adjacency(Mapping[str, dict[str, dict[str, _Attrs]]]):
    """Node id -> {neighbour id -> {relationship type -> attributes}}, built when asked for,
    successors (``out``) or predecessors."""

    def __init__(self, graph: EvidenceGraph, out: bool) -> None:
        self._g = graph
        self._out = out

    def __getitem__(self, node: str) -> dict[str, dict[str, _Attrs]]:
        i = self._g.position(node)
        if i is None:
            raise KeyError(node)
        return self._g.neighbours(i, self._out)

    def __contains__(self, node: object) -> bool:
        return isinstance(node, str) and self._g.position(node) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._g)

    def __len__(self) -> int:
        return len(self._g.visible)


class EvidenceGraph(nx.MultiDiGraph):  # type: ignore[misc]  # networkx has no type hints
    """The evidence graph of a :class:`PackedGraph`, same-as groups collapsed, read-only.

    Parameters
    ----------
    packed
        The store's evidence as arrays (:meth:`~ringmap.graphs.store.Store.packed`). Without
        it, an ordinary empty graph: what networkx makes of the class for a copy or a
        subgraph view, which it then fills or filters as for any graph.
    """

    def __init__(self, packed: PackedGraph | None = None) -> None:
        super().__init__()
        self.packed = packed
        if packed is None:
            return
        self._p = packed  # the same, never None: what every read below goes through
        n = len(packed.ids)
        self._at: dict[str, int] = dict(zip(packed.ids, range(n), strict=True))
        self._types = list(packed.type_names)
        self._recent: dict[int, dict[str, Any]] = {}  # decoded node attributes, bounded
        # (type, property) -> its code per position and the values coded (see having)
        self._codes: dict[tuple[str, str], tuple[np.ndarray, list[Any]]] = {}
        self._head = np.arange(n, dtype=np.int64)
        self._groups: dict[int, list[int]] = {}  # head -> the other members, in id order
        links = [(link.src, link.dst) for link in packed.same_as
                 if link.src in self._at and link.dst in self._at]
        moved: dict[str, str] = {}
        for members in SameAsGroups(links).groups():
            at = [self._at[m] for m in members]
            self._head[at[1:]] = at[0]
            self._groups[at[0]] = at[1:]
            moved.update(dict.fromkeys(members[1:], members[0]))
        self._shown = self._head == np.arange(n)
        self.visible = np.flatnonzero(self._shown)
        self._src, self._dst, self._first, self._more, behind, self._own = self._collapse()
        self._rel = packed.rel[self._first] if self._groups else packed.rel
        self._out = _Csr(self._src, self._dst, n)
        self._in = _Csr(self._dst, self._src, n)
        self._node = _Nodes(self)
        self._adj = self._succ = _Adjacency(self, out=True)
        self._pred = _Adjacency(self, out=False)
        if moved:  # as collapse leaves them: only a graph with groups has these
            self.graph["same_as"] = moved
            self.graph["same_as_edges"] = behind

    def _collapse(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, list[int]],
                                 dict[str, list[str]], int]:
        """The collapsed relationships in networkx's insertion order (see
        :func:`~ringmap.graphs.sameas.collapse`): their ends, the packed relationship each
        one is first (its own), the further packed relationships merged into some, in
        merge order, the store ids behind each relationship a same-as move touched, and how
        many come first that are the store's own (the rest were made by moves: no
        relationship of the store has their id). Positions and indices as 32-bit integers,
        the packed arrays themselves where no group moves any: 64-bit copies of them were a
        fifth of the evidence graph (issue 16)."""
        packed, head = self._p, self._head
        if not self._groups:
            m = len(packed.src)
            return packed.src, packed.dst, np.arange(m, dtype=np.int32), {}, {}, m
        src, dst = packed.src.astype(np.int64), packed.dst.astype(np.int64)
        moved = ~self._shown
        kept = np.flatnonzero(~(moved[src] | moved[dst]))
        # a moved relationship lands on a group's head: only the kept ones there can meet it
        at_head = kept[np.isin(src[kept], list(self._groups))
                       | np.isin(dst[kept], list(self._groups))]
        rel = packed.rel.astype(np.int64)
        key_of = {(r, s, d): i for i, r, s, d in zip(
            np.searchsorted(kept, at_head).tolist(), rel[at_head].tolist(),
            src[at_head].tolist(), dst[at_head].tolist(), strict=True)}
        ends_src, ends_dst, first = [src[kept]], [dst[kept]], [kept]
        more: dict[int, list[int]] = {}
        added: list[tuple[int, int, int]] = []
        behind: dict[str, list[str]] = {}
        ids, names = packed.ids, packed.rel_names
        out, into = _Csr(src, dst, len(ids)), _Csr(dst, src, len(ids))
        # collapse's walk: each moved member's out- then in-relationships, as networkx
        # iterates them (a relationship between two moved members is walked twice)
        for others in self._groups.values():
            for m in others:
                for j in out.edges_of(m) + into.edges_of(m):
                    s, d, r = int(head[src[j]]), int(head[dst[j]]), int(rel[j])
                    if s == d:
                        continue
                    new_id = edge_id(names[r], ids[s], ids[d])
                    at = key_of.get((r, s, d))
                    if new_id not in behind:
                        behind[new_id] = [new_id] if at is not None else []
                    behind[new_id].append(edge_id(names[r], ids[src[j]], ids[dst[j]]))
                    if at is None:
                        at = key_of[r, s, d] = len(kept) + len(added)
                        added.append((s, d, j))
                        continue
                    own = kept[at] if at < len(kept) else added[at - len(kept)][2]
                    if j != own and j not in more.get(at, ()):
                        more.setdefault(at, []).append(j)
        if added:
            ends_src.append(np.array([a[0] for a in added], dtype=np.int64))
            ends_dst.append(np.array([a[1] for a in added], dtype=np.int64))
            first.append(np.array([a[2] for a in added], dtype=np.int64))
        return (np.concatenate(ends_src).astype(np.int32),
                np.concatenate(ends_dst).astype(np.int32), np.concatenate(first).astype(np.int32),
                more, {k: sorted(set(v)) for k, v in behind.items()}, len(kept))

    # -- reads -------------------------------------------------------------------------------
    def position(self, node: str) -> int | None:
        """The packed position of ``node``; ``None`` when absent or merged into another."""
        i = self._at.get(node)
        return i if i is not None and self._shown[i] else None

    def positions_of(self, nodes: Iterable[str]) -> np.ndarray:
        """:meth:`position` of each of ``nodes``, -1 for ``None``: looked up in bulk (a
        Python call per node grew three times as fast as the case, issue 16)."""
        found = np.fromiter(map(self._at.get, nodes, repeat(-1)), dtype=np.int64)
        known = np.flatnonzero(found >= 0)
        found[known[~self._shown[found[known]]]] = -1
        return found

    def type_of(self, i: int) -> str:
        """The type of the node at packed position ``i``."""
        return self._types[int(self._p.node_type[i])]

    def node_attrs(self, i: int) -> dict[str, Any]:
        """``type`` and properties of the node at ``i`` (a same-as head: the group's), of the
        last :data:`_RECENT` decoded if among them: a raid package reads each node of its
        cell some three times (map, rosters, labels), and decoding them again was a tenth
        of a package's time on arrays."""
        found = self._recent.get(i)
        if found is None:
            if len(self._recent) >= _RECENT:
                self._recent.clear()
            found = self._recent[i] = self._node_attrs(i)
        return found

    def _node_attrs(self, i: int) -> dict[str, Any]:
        packed = self._p
        attrs = {"type": self.type_of(i), **packed.node_props(i)}
        others = self._groups.get(i)
        if others:
            roles = [attrs.get("role")]
            for other in others:
                theirs = {"type": self.type_of(other), **packed.node_props(other)}
                roles.append(theirs.get("role"))
                for key, value in theirs.items():
                    attrs.setdefault(key, value)
            role = group_role(roles)
            if role:
                attrs["role"] = role
            attrs["same_as"] = [packed.ids[o] for o in others]
        return attrs

    def edge_attrs(self, e: int) -> dict[str, Any]:
        """``type`` and properties of collapsed relationship ``e``, merged as collapse
        merges them."""
        packed = self._p
        first = int(self._first[e])
        rel = packed.rel_names[packed.rel[first]]
        attrs = {"type": rel, **packed.edge_props(first)}
        for j in self._more.get(e, ()):
            merge_props(attrs, {"type": rel, **packed.edge_props(j)})
        return attrs

    def neighbours(self, i: int, out: bool) -> dict[str, dict[str, _Attrs]]:
        """{neighbour id -> {relationship type -> attributes}} of the node at ``i``."""
        csr, other = (self._out, self._dst) if out else (self._in, self._src)
        ids, names = self._p.ids, self._p.rel_names
        found: dict[str, dict[str, _Attrs]] = {}
        for e in csr.edges_of(i):
            rel = names[self._rel[e]]
            found.setdefault(ids[other[e]], {})[rel] = _Attrs(rel, partial(self.edge_attrs, e))
        return found

    def pairs(self, rels: Iterable[str] | None = None) -> dict[str, list[tuple[str, str]]]:
        """Relationship type (of ``rels``) -> its (source, target) ids, in the order of
        networkx's ``adjacency()``, no attribute object made."""
        ids, names = self._p.ids, self._p.rel_names
        out: dict[str, list[tuple[str, str]]] = {}
        order = self._order(rels)
        for r, s, d in zip(self._rel[order].tolist(), self._src[order].tolist(),
                           self._dst[order].tolist(), strict=True):
            out.setdefault(names[r], []).append((ids[s], ids[d]))
        return out

    def edges_by(self, rels: Iterable[str]) -> dict[str, list[tuple[str, str, _Attrs]]]:
        """Relationship type (of ``rels``) -> its (source, target, attributes), in the order of
        :meth:`pairs`; the attributes are decoded when read."""
        ids, names = self._p.ids, self._p.rel_names
        order = self._order(rels)
        out: dict[str, list[tuple[str, str, _Attrs]]] = {}
        for e, r, s, d in zip(order.tolist(), self._rel[order].tolist(),
                              self._src[order].tolist(), self._dst[order].tolist(), strict=True):
            rel = names[r]
            out.setdefault(rel, []).append((ids[s], ids[d], _Attrs(rel, partial(self.edge_attrs,
                                                                                 e))))
        return out

    def _order(self, rels: Iterable[str] | None) -> np.ndarray:
        """The relationships (of ``rels``) in the order of networkx's ``adjacency()``."""
        order: np.ndarray = self._out.order
        if rels is None:
            return order
        names = self._p.rel_names
        wanted = np.zeros(len(names), dtype=bool)  # by type code, read once per relationship
        wanted[[names.index(r) for r in set(rels) if r in names]] = True
        found: np.ndarray = order[wanted[self._rel[order]]]
        return found

    def positions(self, rels: Iterable[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Relationship type (of ``rels``) -> the packed positions of its sources and its
        targets, in the order of :meth:`pairs`."""
        return {rel: (self._src[at].astype(np.int64), self._dst[at].astype(np.int64))
                for rel, at in self._per_rel(rels).items()}

    def pair_values(self, per_packed: np.ndarray, default: float,
                    rels: Iterable[str]) -> dict[str, np.ndarray]:
        """Relationship type (of ``rels``) -> the values of its relationships, in the order
        of :meth:`pairs`: ``per_packed`` holds one per packed relationship (a store's, by
        its position in :attr:`packed`), and a relationship made by a same-as move, which is
        none of the store's, gets ``default``."""
        values = np.full(len(self._first), default, dtype=np.float64)
        values[:self._own] = per_packed[self._first[:self._own]]
        return {rel: values[at] for rel, at in self._per_rel(rels).items()}

    def _per_rel(self, rels: Iterable[str]) -> dict[str, np.ndarray]:
        """Relationship type (of ``rels``) -> its relationships in the order of
        :meth:`pairs`."""
        order = self._order(rels)
        of = self._rel[order]
        names = self._p.rel_names
        return {names[r]: order[of == r] for r in np.unique(of).tolist()}

    def _edges_at(self, node: str, out: bool) -> tuple[list[int], list[str], list[str]]:
        """``node``'s relationships out of it (``out``) or into it in adjacency order: their
        indices, types and far ends."""
        i = self.position(node)
        if i is None:
            raise KeyError(node)
        csr, other = (self._out, self._dst) if out else (self._in, self._src)
        at = csr.order[csr.start[i]:csr.start[i + 1]]
        ids, names = self._p.ids, self._p.rel_names
        return (at.tolist(), [names[r] for r in self._rel[at].tolist()],
                [ids[o] for o in other[at].tolist()])

    def adjacent(self, node: str, out: bool) -> list[tuple[str, str]]:
        """``(relationship type, node at the far end)`` of ``node``'s relationships (those it
        is the source of when ``out``), in adjacency order, no attribute object made."""
        _, rels, others = self._edges_at(node, out)
        return list(zip(rels, others, strict=True))

    def relationships(self, node: str, out: bool, rels: Collection[str]
                      ) -> list[tuple[str, str, _Attrs]]:
        """:meth:`adjacent` of the types ``rels`` alone, each with its attributes (decoded
        when read)."""
        return [(rel, other, _Attrs(rel, partial(self.edge_attrs, e)))
                for e, rel, other in zip(*self._edges_at(node, out), strict=True) if rel in rels]

    def among(self, nodes: Iterable[str]) -> Iterator[tuple[str, str, str]]:
        """``(source, target, type)`` of every relationship between ``nodes`` (those absent
        or merged into another left out), in no particular order: read from the
        relationships out of ``nodes`` alone, no adjacency dict or attribute object made (a
        pass over every relationship of the case, once per raid package's map, grew with
        the case)."""
        inside = np.unique(np.array([i for i in map(self.position, nodes) if i is not None],
                                    dtype=np.int64))
        out = self._out.edges_of_many(inside)
        found = np.sort(out[np.isin(self._dst[out], inside)])
        ids, names = self._p.ids, self._p.rel_names
        # made a part at a time: a reader that counts them holds none (2M at 5,400 cells)
        for at in range(0, len(found), _PART):
            part = found[at:at + _PART]
            yield from zip(map(ids.__getitem__, self._src[part].tolist()),
                           map(ids.__getitem__, self._dst[part].tolist()),
                           map(names.__getitem__, self._rel[part].tolist()), strict=True)

    def types(self) -> dict[str, str]:
        """Node id -> type, of every node (made by zip and map: a statement per node, over
        a million at 5,400 cells, grew twice as fast as the case, issue 16)."""
        ids = self._p.ids
        return dict(zip(map(ids.__getitem__, self.visible.tolist()),
                        map(self._types.__getitem__,
                            self._p.node_type[self.visible].tolist()), strict=True))

    def values_of_type(self, type_: str, key: str, default: Any
                       ) -> Iterator[tuple[str, Any]]:
        """``(id, property key or default)`` of the nodes of one type, in node order: what
        :meth:`of_type` reads, decoded in bulk a part at a time, no attribute object made
        and none kept (a role read through an attribute object per person took five Python
        calls each)."""
        ids = self._p.ids
        for i, value in self._values_at(type_, key, default):
            yield ids[i], value

    def _values_at(self, type_: str, key: str, default: Any) -> Iterator[tuple[int, Any]]:
        """:meth:`values_of_type`, each node by its position."""
        if type_ not in self._types:
            return
        packed = self._p
        found = self.visible[packed.node_type[self.visible] == self._types.index(type_)]
        for lo in range(0, len(found), _PART):
            part = found[lo:lo + _PART].tolist()
            decoded = packed.decode([type_] * len(part), list(map(packed.node_raw.__getitem__,
                                                                  part)))
            for i, props in zip(part, decoded, strict=True):
                # a same-as head shows its group's properties
                yield i, (self.node_attrs(i) if i in self._groups else props).get(key, default)

    def having(self, type_: str, key: str, values: Collection[Any]) -> np.ndarray:
        """Whether the node at each position is one of type ``type_`` whose property ``key``
        is one of ``values`` (hashable values, such as a person's role). Each type and key
        is decoded once for the graph: the victim side and the reach of a run's cells both
        read every person's role, which was 1.1 CPU-s each at 5,400 cells (issue 16)."""
        found = self._codes.get((type_, key))
        if found is None:
            codes = np.full(len(self._p.ids), -1, dtype=np.int32)
            distinct: dict[Any, int] = {}
            at = [(i, distinct.setdefault(value, len(distinct)))
                  for i, value in self._values_at(type_, key, None)]
            if at:
                codes[[i for i, _ in at]] = [code for _, code in at]
            found = self._codes[type_, key] = (codes, list(distinct))
        codes, named = found
        return np.isin(codes, [code for code, value in enumerate(named) if value in values])

    def values_of_rel(self, rel: str, key: str, default: Any
                      ) -> list[tuple[str, str, Any]]:
        """``(source, target, property key or default)`` of the relationships of one type,
        in the order of :meth:`edges_by`, decoded in bulk (one parse per relationship was
        most of the time of reading which reports name victims)."""
        packed, ids = self._p, self._p.ids
        at = self._per_rel([rel]).get(rel, np.empty(0, dtype=np.int64))
        decoded = packed.decode([rel] * len(at), list(map(packed.edge_raw.__getitem__,
                                                          self._first[at].tolist())))
        more = self._more
        return [(ids[s], ids[d], (self.edge_attrs(e) if e in more else props).get(key, default))
                for e, s, d, props in zip(at.tolist(), self._src[at].tolist(),
                                          self._dst[at].tolist(), decoded, strict=True)]

    def of_type(self, type_: str) -> Iterator[tuple[str, _Attrs]]:
        """``(id, attributes)`` of the nodes of one type, in node order; the attributes of
        a part of them at a time decoded in bulk ahead of the readers, which mostly read
        them (one parse per node was most of the time of reading every person's role)."""
        if type_ not in self._types:
            return
        packed, ids = self._p, self._p.ids
        code = self._types.index(type_)
        found = self.visible[packed.node_type[self.visible] == code].tolist()
        for lo in range(0, len(found), _RECENT // 2):
            part = found[lo:lo + _RECENT // 2]
            # same-as heads merge their group's (node_attrs); the rest are their own
            alone = [i for i in part if i not in self._groups and i not in self._recent]
            if len(self._recent) + len(alone) > _RECENT:
                self._recent.clear()
            for i, props in zip(alone, packed.decode([type_] * len(alone),
                                                     [packed.node_raw[i] for i in alone]),
                                strict=True):
                self._recent[i] = {"type": type_, **props}
            for i in part:
                yield ids[i], _Attrs(type_, partial(self.node_attrs, i))


class _Csr:
    """Relationships (indices = insertion order) grouped by their ``near`` end, in the order
    networkx iterates a MultiDiGraph's adjacency: by node, then the other end in order of
    first insertion, then insertion order; the order held as 32-bit indices."""

    def __init__(self, near: np.ndarray, far: np.ndarray, n: int) -> None:
        m = len(near)
        near = near.astype(np.int64)  # the keys below outgrow 32 bits
        # two stable sorts of one key each (insertion order kept among equals), half the
        # time of finding each pair's first by np.unique and sorting by three keys (issue 16)
        pair = near * (n + 1) + far
        by_pair = np.argsort(pair, kind="stable")
        pair = pair[by_pair]
        starts = np.flatnonzero(np.r_[m > 0, pair[1:] != pair[:-1]])
        first = np.empty(m, dtype=np.int64)  # each relationship's pair's first relationship
        first[by_pair] = np.repeat(by_pair[starts], np.diff(np.r_[starts, m]))
        self.order = np.argsort(near * max(m, 1) + first, kind="stable").astype(np.int32)
        self.start = np.searchsorted(near[self.order], np.arange(n + 1))

    def edges_of(self, i: int) -> list[int]:
        """The relationships at node ``i``, in adjacency order."""
        found: list[int] = self.order[self.start[i]:self.start[i + 1]].tolist()
        return found

    def edges_of_many(self, nodes: np.ndarray) -> np.ndarray:
        """The relationships at each of ``nodes`` (positions), one node's after another's."""
        found: np.ndarray = self.order[runs(self.start, nodes)]
        return found


class FarEnds:
    """Each node's far ends of some relationships, by node position (a CSR).

    >>> ends = FarEnds(np.array([0, 2, 0]), np.array([1, 0, 2]), 3)
    >>> ends.of(np.array([0, 2])).tolist()
    [1, 2, 0]
    >>> [a.tolist() for a in ends.pairs(np.array([2, 1, 0]))]
    [[0, 2, 2], [0, 1, 2]]
    """

    def __init__(self, near: np.ndarray, far: np.ndarray, n: int) -> None:
        order = np.argsort(near, kind="stable")
        self.far = far[order]
        self.start = np.searchsorted(near[order], np.arange(n + 1))

    def of(self, nodes: np.ndarray) -> np.ndarray:
        """The far ends of the nodes at positions ``nodes`` (repeats kept)."""
        found: np.ndarray = self.far[runs(self.start, nodes)]
        return found

    def pairs(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`of`, each far end with the index in ``nodes`` of its near end."""
        counts = self.start[nodes + 1] - self.start[nodes]
        return np.repeat(np.arange(len(nodes)), counts), self.of(nodes)


def runs(start: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The positions ``start[i]:start[i + 1]`` of each ``i`` of ``nodes``, one node's after
    another's: the runs of a compressed sparse row index, read at once.

    >>> runs(np.array([0, 2, 2, 5]), np.array([2, 0])).tolist()
    [2, 3, 4, 0, 1]
    """
    first, counts = start[nodes], start[nodes + 1] - start[nodes]
    # each node's run: its start, then one step per position
    steps = np.arange(int(counts.sum()), dtype=np.int64)
    found: np.ndarray = np.repeat(first - (np.cumsum(counts) - counts), counts) + steps
    return found


def _packed(graph: nx.MultiDiGraph) -> bool:
    """Whether ``graph`` is served from packed arrays (not a copy or view of one)."""
    return packed_of(graph) is not None


def packed_of(graph: nx.MultiDiGraph) -> PackedGraph | None:
    """The packed arrays ``graph`` is served from; ``None`` for any other graph (a copy or a
    view of one too)."""
    return graph.packed if isinstance(graph, EvidenceGraph) else None


def node_types(graph: nx.MultiDiGraph) -> dict[str, str]:
    """Node id -> type of an evidence graph (no property read on an :class:`EvidenceGraph`)."""
    if _packed(graph):
        types: dict[str, str] = graph.types()
        return types
    return {node: attrs.get("type", "") for node, attrs in graph.nodes(data=True)}


def nodes_of_type(graph: nx.MultiDiGraph, type_: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(id, attributes)`` of the nodes of one type, in node order."""
    if _packed(graph):
        yield from graph.of_type(type_)
        return
    yield from ((n, a) for n, a in graph.nodes(data=True) if a.get("type") == type_)


def node_values(graph: nx.MultiDiGraph, type_: str, key: str, default: Any = None
                ) -> Iterator[tuple[str, Any]]:
    """``(id, property key or default)`` of the nodes of one type, in node order (as
    :func:`nodes_of_type`); on an :class:`EvidenceGraph` decoded in bulk.

    >>> g = nx.MultiDiGraph()
    >>> g.add_node("Person:a", type="Person", role="suspect")
    >>> g.add_node("Person:b", type="Person")
    >>> list(node_values(g, "Person", "role", ""))
    [('Person:a', 'suspect'), ('Person:b', '')]
    """
    if _packed(graph):
        yield from graph.values_of_type(type_, key, default)
        return
    yield from ((n, a.get(key, default)) for n, a in nodes_of_type(graph, type_))


def edge_values(graph: nx.MultiDiGraph, rel: str, key: str, default: Any = None
                ) -> list[tuple[str, str, Any]]:
    """``(source, target, property key or default)`` of every relationship of type ``rel``,
    in the order of :func:`edges_by_rel`; on an :class:`EvidenceGraph` decoded in bulk.

    >>> g = nx.MultiDiGraph()
    >>> g.add_edge("Report:1", "Account:x", key="NAMES", type="NAMES", role="victim")
    'NAMES'
    >>> edge_values(g, "NAMES", "role")
    [('Report:1', 'Account:x', 'victim')]
    """
    if _packed(graph):
        found: list[tuple[str, str, Any]] = graph.values_of_rel(rel, key, default)
        return found
    return [(s, d, a.get(key, default)) for s, d, a in edges_by_rel(graph, [rel]).get(rel, ())]


def edges_by_rel(graph: nx.MultiDiGraph, rels: Iterable[str]
                 ) -> dict[str, list[tuple[str, str, Mapping[str, Any]]]]:
    """Relationship type -> (source, target, attributes) of every relationship of ``rels``, in
    adjacency order (as :func:`pairs_by_rel`); types with none are left out. On an
    :class:`EvidenceGraph` no other relationship is looked at."""
    if _packed(graph):
        edges: dict[str, list[tuple[str, str, Mapping[str, Any]]]] = graph.edges_by(rels)
        return edges
    wanted = set(rels)
    out: dict[str, list[tuple[str, str, Mapping[str, Any]]]] = {}
    for src, targets in graph.adjacency():
        for dst, keyed in targets.items():
            for rel, attrs in keyed.items():
                if rel in wanted:
                    out.setdefault(rel, []).append((src, dst, attrs))
    return out


def adjacent(graph: nx.MultiDiGraph, node: str, out: bool) -> list[tuple[str, str]]:
    """``(relationship type, other end)`` of ``node``'s relationships out of it (``out``) or
    into it, in adjacency order. On an :class:`EvidenceGraph` from its arrays: its adjacency
    makes an attribute object per relationship, two thirds of a reach's time.

    >>> g = nx.MultiDiGraph()
    >>> g.add_edge("a", "b", key="USES")
    'USES'
    >>> adjacent(g, "a", out=True), adjacent(g, "b", out=False)
    ([('USES', 'b')], [('USES', 'a')])
    """
    if _packed(graph):
        found: list[tuple[str, str]] = graph.adjacent(node, out)
        return found
    return [(rel, other) for other, keyed in (graph.succ if out else graph.pred)[node].items()
            for rel in keyed]


def relationships_at(graph: nx.MultiDiGraph, node: str, out: bool, rels: Collection[str]
                     ) -> list[tuple[str, str, Mapping[str, Any]]]:
    """``(relationship type, other end, attributes)`` of ``node``'s relationships of the types
    ``rels``, as :func:`adjacent` orders them; on an :class:`EvidenceGraph` no attribute
    object is made for the other types."""
    if _packed(graph):
        found: list[tuple[str, str, Mapping[str, Any]]] = graph.relationships(node, out, rels)
        return found
    return [(rel, other, attrs)
            for other, keyed in (graph.succ if out else graph.pred)[node].items()
            for rel, attrs in keyed.items() if rel in rels]


def neighbours_by_rel(graph: nx.MultiDiGraph, node: str, out: bool) -> dict[str, list[str]]:
    """Relationship type -> ``node``'s successors (``out``) or predecessors by it, in
    adjacency order (see :func:`adjacent`)."""
    by_rel: dict[str, list[str]] = {}
    for rel, other in adjacent(graph, node, out):
        by_rel.setdefault(rel, []).append(other)
    return by_rel


def edges_within(graph: nx.MultiDiGraph, nodes: Iterable[str]
                 ) -> Iterator[tuple[str, str, str]]:
    """``(source, target, type)`` of every relationship between ``nodes``, in no particular
    order, made one at a time as they are read (a map that counts them holds none: the
    aggregated cell map's were 2M at 5,400 cells). On an :class:`EvidenceGraph` from the
    relationships out of ``nodes`` alone, no adjacency dict or attribute object made."""
    if _packed(graph):
        yield from graph.among(nodes)
        return
    wanted = set(nodes)  # faster than a subgraph view, which re-checks membership each step
    yield from ((src, dst, rel) for src in wanted if src in graph
                for _, dst, rel in graph.out_edges(src, keys=True) if dst in wanted)


def edges_among(graph: nx.MultiDiGraph, nodes: Iterable[str]) -> list[tuple[str, str, str]]:
    """:func:`edges_within`, sorted: a map's nodes' adjacency, built as dicts of attribute
    objects to be filtered, was a third of the cell map at 600 cells."""
    return sorted(edges_within(graph, nodes))


class PairPositions(NamedTuple):
    """The relationships of an evidence graph as positions of their ends (see
    :func:`pair_positions`)."""

    ids: Sequence[str]
    """The node id at each position."""
    type_names: Sequence[str]
    type_of: np.ndarray
    """The type of the node at each position, as its index in ``type_names``."""
    position: Callable[[str], int | None]
    """The position of a node id (``None``: none, or merged into another)."""
    positions_of: Callable[[Iterable[str]], np.ndarray]
    """The positions of node ids, -1 for ``None``."""
    pairs: dict[str, tuple[np.ndarray, np.ndarray]]
    """Relationship type -> the positions of its sources and of its targets, in the order of
    :func:`pairs_by_rel`; types with none are left out."""
    having: Callable[[str, str, Collection[Any]], np.ndarray]
    """Whether the node at each position is of a type (the first argument) whose property
    (the second) is one of some values (see :meth:`EvidenceGraph.having`)."""

    def of_types(self, *kinds: str) -> np.ndarray:
        """Whether the node at each position is of one of ``kinds``."""
        return np.isin(self.type_of, [i for i, t in enumerate(self.type_names) if t in kinds])

    def ends(self, rels: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """The positions of the sources and of the targets of the relationships of ``rels``,
        type after type in that order."""
        found = [self.pairs[r] for r in rels if r in self.pairs]
        empty = np.zeros(0, dtype=np.int64)
        return (np.concatenate([s for s, _ in found] or [empty]),
                np.concatenate([d for _, d in found] or [empty]))


def pair_positions(graph: nx.MultiDiGraph, rels: Iterable[str]) -> PairPositions:
    """The relationships of ``rels`` as arrays of positions (:class:`PairPositions`). On an
    :class:`EvidenceGraph` its packed arrays, no id or pair object made.

    >>> g = nx.MultiDiGraph()
    >>> g.add_node("a", type="Person"); g.add_node("b", type="Device")
    >>> g.add_edge("a", "b", key="USES")
    'USES'
    >>> found = pair_positions(g, ["USES"])
    >>> [found.ids[int(i)] for i in found.pairs["USES"][1]], found.type_names
    (['b'], ['Device', 'Person'])
    """
    wanted = list(rels)
    if _packed(graph):
        packed = graph.packed
        return PairPositions(packed.ids, packed.type_names, packed.node_type, graph.position,
                             graph.positions_of, graph.positions(wanted), graph.having)
    ids = list(graph)
    at = {node: i for i, node in enumerate(ids)}
    types = [attrs.get("type", "") for _node, attrs in graph.nodes(data=True)]
    names = sorted(set(types))
    code = {name: i for i, name in enumerate(names)}

    def having(type_: str, key: str, values: Collection[Any]) -> np.ndarray:
        marked = np.zeros(len(ids), dtype=bool)
        marked[[at[n] for n, value in node_values(graph, type_, key) if value in values]] = True
        return marked

    return PairPositions(
        ids, names, np.array([code[t] for t in types], dtype=np.int64), at.get,
        lambda nodes: np.fromiter(map(at.get, nodes, repeat(-1)), dtype=np.int64),
        {rel: (np.array([at[s] for s, _ in found], dtype=np.int64),
               np.array([at[d] for _, d in found], dtype=np.int64))
         for rel, found in pairs_by_rel(graph, wanted).items()}, having)


def pairs_by_rel(graph: nx.MultiDiGraph, rels: Iterable[str] | None = None
                 ) -> dict[str, list[tuple[str, str]]]:
    """Relationship type -> (source, target) ids of every relationship (of ``rels``), in
    adjacency order; types with none are left out."""
    if _packed(graph):
        pairs: dict[str, list[tuple[str, str]]] = graph.pairs(rels)
        return pairs
    wanted = None if rels is None else set(rels)
    out: dict[str, list[tuple[str, str]]] = {}
    for src, targets in graph.adjacency():
        for dst, keyed in targets.items():
            for rel in keyed:
                if wanted is None or rel in wanted:
                    out.setdefault(rel, []).append((src, dst))
    return out
