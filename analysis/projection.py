"""Project the evidence graph onto the agent graph: agents tied by the identifiers they share.

An *agent* is a suspect Person together with the Accounts only they use, or an Account whose
owner is unknown but that acts like an agent's (it contacted someone, is named in a report or is
tied to identifiers). Two agents are tied by every identifier both reach: devices, SIMs, phones,
emails, cards and wallets (directly, or because victims they contacted paid into them), IPs,
victims contacted, offices and raid sites, reports. Each identifier gives every agent that holds
it its evidence weight, split among its co-holders, so an office Wi-Fi IP or a victim contacted by
two cells barely counts; identifiers held by more agents than the infrastructure threshold are
reported as infrastructure and never expanded into pairs.

Examples
--------
>>> import networkx as nx
>>> g = nx.MultiDiGraph()
>>> for p in ("Person:a", "Person:b"):
...     g.add_node(p, type="Person", role="suspect")
>>> g.add_node("Device:1", type="Device")
>>> g.add_edge("Person:a", "Device:1", key="USES", type="USES")
'USES'
>>> g.add_edge("Person:b", "Device:1", key="USES", type="USES")
'USES'
>>> agents = project_agents(g)
>>> agents.units, agents.graph.ecount()
(['Person:a', 'Person:b'], 1)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Literal, NamedTuple, cast

import igraph as ig
import networkx as nx
import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field

from ringmap.graphs.evidence import (
    PairPositions,
    edge_values,
    nodes_of_type,
    packed_of,
    pair_positions,
)
from ringmap.graphs.model import edge_id
from ringmap.graphs.schema import Role

__all__ = [
    "AGENT_IDENTIFIERS",
    "DEFAULT_WEIGHTS",
    "AgentGraph",
    "Attachment",
    "Holders",
    "Incidence",
    "ProjectionSettings",
    "Reliability",
    "add_ties",
    "project_agents",
]

#: Evidence weight of one shared identifier, by kind (schema type, or a derived kind).
DEFAULT_WEIGHTS: dict[str, float] = {
    "Account": 4.0,  # an account used by several suspects
    "Device": 3.0,
    "SimCard": 3.0,
    "Phone": 3.0,
    "Email": 3.0,
    "IdDocument": 3.0,
    "PaymentCard": 2.0,
    # a masked card (BIN and/or last four only): thousands of cards share a masked form
    "masked_card": 0.5,
    "FinancialAccount": 2.0,
    "mule": 1.5,  # a money mule receiving for several agents
    "Location": 1.5,
    "IPAddress": 1.0,
    "victim": 1.0,
    "contact": 1.0,  # agents contacting each other
    "Report": 1.0,
}

HubWeighting = Literal["inverse", "log", "none"]

#: The 0..1 reliability of the evidence's relationships (their best source,
#: :func:`ringmap.analysis.cells.edge_reliability`): by relationship id, or, for an evidence
#: graph served from a store's packed arrays, one value per packed relationship (no id built)
Reliability = Mapping[str, float] | np.ndarray

#: the identifier types an agent holds directly (the others are reached through them)
AGENT_IDENTIFIERS = frozenset(
    {"Phone", "SimCard", "Device", "Email", "IPAddress", "PaymentCard", "FinancialAccount",
     "IdDocument", "Location"}
)
# identifier-to-identifier relationships through which agents reach further identifiers
# walked in this order (a set's order changes with each process's string hashing, and with
# it which of two equally reliable ways a tie's evidence shows)
_CHAIN_RELS = ("HAS_NUMBER", "REGISTERED_TO", "SIM_IN")
# every relationship type the projection reads: the pairs of the others (places, contact
# lists, family ties: one in seven at 600 cells) are never built
_PROJECTED_RELS = ("USES", "HOLDS", "REGISTERED_TO", "LOGGED_IN_FROM", "LOGGED_IN_ON",
                   "WORKS_AT", "ARRESTED_AT", "NAMES", "EXHIBIT_OF", "SEIZED_AT",
                   "SEIZED_FROM", "CONTACTED", "PAID", "PAID_TO", *_CHAIN_RELS)
# relationships that tie an agent (or its account, the source) to an identifier directly
_DIRECT_RELS = ("USES", "HOLDS", "REGISTERED_TO", "LOGGED_IN_FROM", "LOGGED_IN_ON", "WORKS_AT",
                "ARRESTED_AT")


class ProjectionSettings(BaseModel):
    """How evidence becomes weighted ties between agents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
        description="evidence weight per identifier kind; missing kinds weigh 1",
    )
    hub_weighting: HubWeighting = Field(
        default="inverse",
        description="down-weighting by the number k of agents sharing an identifier: "
        "inverse = w/(k-1), log = w/log2(k), none = w",
    )
    infra_max_agents: int = Field(
        default=30, ge=2,
        description="identifiers shared by more agents than this are infrastructure",
    )
    infra_max_share: float | None = Field(
        default=None, gt=0.0, le=1.0,
        description="also infrastructure: shared by more than this share of all agents",
    )
    indirect_factor: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="weight factor for identifiers reached through another identifier "
        "(a SIM in an agent's device, a report naming an agent's phone)",
    )
    use_grading: bool = Field(
        default=True, description="scale ties by the reliability of their source grading"
    )

    def weight(self, kind: str) -> float:
        """The evidence weight of one shared identifier of this kind."""
        return self.weights.get(kind, 1.0)

    def share_cap(self, n_units: int) -> float:
        """Above this many holders (of ``n_units`` agents) an identifier is infrastructure."""
        cap = float(self.infra_max_agents)
        return cap if self.infra_max_share is None else min(cap, self.infra_max_share * n_units)

    def hub_factor(self, k: int) -> float:
        """The factor applied to each pair among ``k`` agents sharing one identifier."""
        if k < 2 or self.hub_weighting == "none":
            return 1.0
        if self.hub_weighting == "inverse":
            return 1.0 / (k - 1)
        return 1.0 / math.log2(k)


class Attachment(NamedTuple):
    """How one agent reaches one identifier: reliability and the evidence edges on the way."""

    reliability: float
    via: tuple[str, ...]


class Incidence(Mapping[str, Mapping[int, Attachment]]):
    """Identifier id -> the units holding it, in the order met -> how (an
    :class:`Attachment`), in the order the identifiers were met.

    Held as arrays: per identifier a run of attachments (``start``), each a unit, a
    reliability and a run of relationship keys that ``spell`` makes into relationship ids
    when an attachment is read. As a dict of attachments per identifier, each with its
    evidence path as text, they were 666 MB at 5,400 cells (issue 16).
    """

    def __init__(self, idents: list[str], start: np.ndarray, units: np.ndarray,
                 reliability: np.ndarray, path_start: np.ndarray, path: np.ndarray,
                 spell: Callable[[int], str]) -> None:
        self.idents = idents
        self.start = start
        """Where each identifier's attachments start, and where the last one's end."""
        self.units = units
        self.reliability = reliability
        self._at = dict(zip(idents, range(len(idents)), strict=True))
        self._path_start = path_start
        self._path = path
        self._spell = spell
        self._hubs: dict[int, dict[int, int]] = {}
        # read one at a time as Python ints: a numpy scalar each was a tenth of explaining
        self._bounds = start.data

    def __getitem__(self, ident: str) -> Holders:
        i = self._at[ident]
        return Holders(self, i, self._bounds[i], self._bounds[i + 1])

    def __contains__(self, ident: object) -> bool:
        return ident in self._at

    def __iter__(self) -> Iterator[str]:
        return iter(self.idents)

    def __len__(self) -> int:
        return len(self.idents)

    def counts(self) -> np.ndarray:
        """How many units hold each identifier, in identifier order."""
        found: np.ndarray = np.diff(self.start)
        return found

    def held_by(self, unit: int) -> Iterator[tuple[str, Attachment]]:
        """The identifiers ``unit`` holds, in their order, each with its attachment (found
        in the arrays, not by asking every identifier for the unit)."""
        at = np.flatnonzero(self.units == unit)
        for a, i in zip(at.tolist(), (np.searchsorted(self.start, at, side="right") - 1
                                      ).tolist(), strict=True):
            yield self.idents[i], self.attachment(a)

    def position(self, i: int, unit: int) -> int | None:
        """Where identifier ``i``'s attachment to ``unit`` is in :attr:`units`, if any. A
        hub's holders are indexed the first time (each of its thousands of holders looked
        up in turn, as explanations do, searched them all each time)."""
        lo, hi = self._bounds[i], self._bounds[i + 1]
        if hi - lo <= _SEARCHED:
            found = np.flatnonzero(self.units[lo:hi] == unit)
            return lo + int(found[0]) if len(found) else None
        where = self._hubs.get(i)
        if where is None:
            where = self._hubs[i] = {u: lo + j for j, u in
                                     enumerate(self.units[lo:hi].tolist())}
        return where.get(unit)

    def attachment(self, at: int) -> Attachment:
        """Attachment ``at`` (a position in :attr:`units`)."""
        path = self._path[self._path_start[at]:self._path_start[at + 1]].tolist()
        return Attachment(float(self.reliability[at]), tuple(map(self._spell, path)))


class Holders(Mapping[int, Attachment]):
    """The holders of identifier ``i`` of an :class:`Incidence`, its attachments ``lo`` to
    ``hi``."""

    __slots__ = ("_hi", "_i", "_incidence", "_lo")

    def __init__(self, incidence: Incidence, i: int, lo: int, hi: int) -> None:
        self._incidence = incidence
        self._i = i
        self._lo = lo
        self._hi = hi

    def __getitem__(self, unit: int) -> Attachment:
        return self._incidence.attachment(self._at(unit))

    def reliability(self, unit: int) -> float:
        """``self[unit].reliability``, without spelling its evidence path."""
        return float(self._incidence.reliability[self._at(unit)])

    def _at(self, unit: int) -> int:
        at = self._incidence.position(self._i, unit)
        if at is None:
            raise KeyError(unit)
        return at

    def __iter__(self) -> Iterator[int]:
        units: list[int] = self._incidence.units[self._lo:self._hi].tolist()
        return iter(units)

    def __len__(self) -> int:
        return self._hi - self._lo


class _Keys:
    """Relationships on evidence paths as one int each, of their type's place in
    :data:`_PROJECTED_RELS` and their ends' positions among ``ids``; called with a key, the
    relationship's id."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = ids
        self.n = max(len(ids), 1)

    def of(self, rel: str, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """The keys of the relationships ``rel`` from ``src`` to ``dst`` (positions)."""
        found: np.ndarray = (_PROJECTED_RELS.index(rel) * self.n + src.astype(np.int64)) \
            * self.n + dst
        return found

    def __call__(self, key: int) -> str:
        rel, ends = divmod(key, self.n * self.n)
        src, dst = divmod(ends, self.n)
        return edge_id(_PROJECTED_RELS[rel], self.ids[src], self.ids[dst])


#: holders searched for a unit; an identifier with more is indexed (:meth:`Incidence.position`)
_SEARCHED = 64
_NONE = np.empty(0, dtype=np.int64)
#: attachments made one by one (contacts) before they are added to the log as arrays
_PART = 1 << 16
_NO_VALUES = np.empty(0, dtype=np.float64)


def _shared_floats(values: np.ndarray) -> list[float]:
    """``values`` as floats, one float object per distinct value: a case has a few gradings
    and millions of relationships, and the values are held on in the attachments."""
    distinct, at = np.unique(values, return_inverse=True)
    table: list[float] = distinct.tolist()
    return [table[i] for i in at.tolist()]


class _Owners:
    """The units each node stands for (the builder's ``owners``), by position: ``count`` of
    them, from ``start`` in ``units``."""

    def __init__(self, owners: Mapping[str, list[int]], placed: PairPositions) -> None:
        at = placed.positions_of(owners)
        sizes = np.array([len(units) for units in owners.values()], dtype=np.int64)
        self.count = np.zeros(len(placed.ids), dtype=np.int64)
        self.count[at] = sizes
        self.start = np.zeros_like(self.count)
        self.start[at] = np.cumsum(sizes) - sizes
        self.units = np.fromiter(chain.from_iterable(owners.values()), dtype=np.int64)

    def of(self, node: int) -> list[int]:
        """The units the node at position ``node`` stands for."""
        start = int(self.start[node])
        found: list[int] = self.units[start:start + int(self.count[node])].tolist()
        return found


class _Batch:
    """Attachments to make in bulk, in order: each relationship ``src -> dst`` attaches its
    identifier end to the units its owner end stands for."""

    def __init__(self, placed: PairPositions, keys: Callable[[str, np.ndarray, np.ndarray],
                                                             np.ndarray],
                 kind: Callable[[str], int]) -> None:
        self.type_of = placed.type_of
        self.keys = keys
        self.kind = kind
        self._parts: list[tuple[np.ndarray, ...]] = []

    def add(self, rel: str, src: np.ndarray, dst: np.ndarray, values: np.ndarray, *,
            owner_is_src: bool, kind: str | None = None) -> None:
        """Relationships of type ``rel``, in order; the kind of their identifiers is
        ``kind``, or their type."""
        ident, owner = (dst, src) if owner_is_src else (src, dst)
        kinds = (self.type_of[ident] if kind is None else np.full(len(ident), self.kind(kind))
                 ).astype(np.int16)
        # compact columns: millions of attachments are sorted and walked from them
        self._parts.append((ident.astype(np.int32), owner, values, kinds,
                            self.keys(rel, src, dst)))

    def columns(self, owned: _Owners) -> tuple[np.ndarray, ...]:
        """Per attachment, in order, one per unit each owner stands for (in its order): the
        identifier, the unit, the reliability, the kind and the relationship's key (the
        columns of :meth:`_Log.add`)."""
        owner = np.concatenate([part[1] for part in self._parts])
        count = owned.count[owner]
        each = np.repeat(np.arange(len(count)), count)
        within = np.arange(len(each)) - np.repeat(np.cumsum(count) - count, count)
        unit = owned.units[owned.start[owner][each] + within].astype(np.int32)
        del owner, count, within
        return (self._column(0, each), unit, self._column(2, each),
                self._column(3, each), self._column(4, each))

    def _column(self, c: int, each: np.ndarray) -> np.ndarray:
        found: np.ndarray = np.concatenate([part[c] for part in self._parts])[each]
        return found


#: a row of :meth:`_Log.add_rows`: identifier, unit, reliability, kind, key, second key
_Row = tuple[int, int, float, int, int, int]


class _Log:
    """Every attachment of a unit to an identifier, in the order made, as arrays.

    Each is an identifier (a node's position, or past the nodes one that is no node: a
    contact between agents, :meth:`code`), a unit, a reliability, a kind (in :attr:`kinds`)
    and an evidence path: the attachment it extends (-1: none) and one or two relationship
    keys after that one's path (-1: no second). Per identifier and unit the strongest
    attachment counts, of equals the first made; the identifiers and each one's holders come
    in the order first met; an identifier is of the kind of its last attachment: as when
    each replaced the one before in a dict of holders per identifier, whose tuples of
    reliability and path were some 170 bytes an attachment, +830 MiB at 5,400 cells and
    never given back (issue 16).
    """

    def __init__(self, nodes: int, kinds: Sequence[str]) -> None:
        self.nodes = nodes
        self.kinds = list(kinds)
        """Kind names: the type names, then the kinds given to :meth:`kind`."""
        self.named: dict[str, int] = {}
        """Identifiers that are no node -> their codes, from ``nodes`` on."""
        self._parts: list[tuple[np.ndarray, ...]] = []

    def kind(self, name: str) -> int:
        """The code of kind ``name``."""
        if name not in self.kinds:
            self.kinds.append(name)
        return self.kinds.index(name)

    def code(self, name: str) -> int:
        """The code of ``name``, an identifier that is no node."""
        return self.named.setdefault(name, self.nodes + len(self.named))

    def add(self, ident: ArrayLike, unit: ArrayLike, rel: ArrayLike, kind: ArrayLike,
            key: ArrayLike, key2: ArrayLike = -1, parent: ArrayLike = -1) -> None:
        """Attachments, in order (a kind, second key or parent given once is each's)."""
        n = len(np.asarray(ident))
        if n:
            self._parts.append(
                (np.asarray(ident, dtype=np.int32), np.asarray(unit, dtype=np.int32),
                 *(np.broadcast_to(np.asarray(c, dtype=t), (n,)) for c, t in (
                     (rel, np.float64), (kind, np.int16), (key, np.int64),
                     (key2, np.int64), (parent, np.int64)))))

    def add_rows(self, rows: Sequence[_Row]) -> None:
        """Attachments as rows, in order."""
        if rows:
            self.add(*zip(*rows, strict=True))

    def _columns(self) -> tuple[np.ndarray, ...]:
        """Identifier, unit, reliability, kind, key, second key and parent of every
        attachment so far, as one array each."""
        if len(self._parts) != 1:
            empty = (np.empty(0, dtype=t) for t in (np.int32, np.int32, np.float64, np.int16,
                                                      np.int64, np.int64, np.int64))
            self._parts = [tuple(np.concatenate(c) for c in zip(*self._parts, strict=True))
                           if self._parts else tuple(empty)]
        return self._parts[0]

    def held(self, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The units and reliabilities of attachments ``at``."""
        _ident, unit, rel, *_ = self._columns()
        return unit[at], rel[at]

    def _kept(self, of: np.ndarray) -> tuple[np.ndarray, ...]:
        """Of the attachments ``of`` (in order), per identifier and unit, by identifier:
        the identifier, the attachment kept, and the first and last made."""
        ident, unit, rel, *_ = self._columns()
        if not len(of):
            return (_NONE,) * 4
        pair = ident[of].astype(np.int64) * (int(unit.max()) + 1) + unit[of]
        # a stable sort: of equally strong attachments the first made comes first
        by = np.lexsort((-rel[of], pair))
        pair, by = pair[by], of[by]
        starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        kept = by[starts]
        return (ident[kept], kept, np.minimum.reduceat(by, starts),
                np.maximum.reduceat(by, starts))

    def reach(self, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The holders each of ``sources`` (identifier codes) has now, source after source,
        each one's in the order met: for each, which source (its place in ``sources``) and
        the attachment kept."""
        wanted = np.zeros(self.nodes + len(self.named), dtype=bool)
        wanted[sources] = True
        held, kept, met, _last = self._kept(np.flatnonzero(wanted[self._columns()[0]]))
        if not len(held):
            return _NONE, _NONE
        by = np.lexsort((met, held))
        held, kept = held[by], kept[by]
        codes, first, count = np.unique(held, return_index=True, return_counts=True)
        at = np.minimum(np.searchsorted(codes, sources), len(codes) - 1)
        many = np.where(codes[at] == sources, count[at], 0)
        which = np.repeat(np.arange(len(sources)), many)
        within = np.arange(len(which)) - np.repeat(np.cumsum(many) - many, many)
        return which, kept[first[at[which]] + within]

    def incidence(self, ids: Sequence[str], spell: Callable[[int], str],
                  weak: Mapping[str, str]) -> tuple[Incidence, dict[str, str]]:
        """The attachments kept, as an :class:`Incidence`, and each identifier's kind (or
        its ``weak`` one), in the order first met; the log is emptied."""
        ident, unit, rel, kind, *_ = self._columns()
        held, kept, met, last = self._kept(np.arange(len(ident)))
        runs = np.flatnonzero(np.r_[True, held[1:] != held[:-1]]) if len(held) else _NONE
        sizes = np.diff(np.r_[runs, len(held)])
        first = np.minimum.reduceat(met, runs) if len(runs) else _NONE
        by = np.argsort(first)
        # the holders by when their identifier was first met, each one's by when it was: one
        # sort of distinct keys (half the time of two stable sorts, 2.5M at 5,400 cells)
        rank = np.empty_like(by)
        rank[by] = np.arange(len(by))
        kept = kept[np.argsort(np.repeat(rank, sizes) * len(ident) + met)]
        named = list(self.named)
        idents = [ids[c] if c < self.nodes else named[c - self.nodes]
                  for c in held[runs[by]].tolist()]
        kinds = kind[np.maximum.reduceat(last, runs)[by]].tolist() if len(runs) else []
        path_start, path = self._paths(kept)
        incidence = Incidence(idents, np.r_[0, np.cumsum(sizes[by])],
                              unit[kept].astype(np.int64), rel[kept], path_start, path, spell)
        self._parts = []
        return incidence, {i: weak.get(i, self.kinds[k]) for i, k in zip(idents, kinds,
                                                                          strict=True)}

    def _paths(self, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The evidence paths of attachments ``at``: where each starts and ends among the
        keys, and the keys; each spelt from its end back, through the attachments it
        extends."""
        *_, key, key2, parent = self._columns()
        length = np.zeros(len(at), dtype=np.int64)
        live, step = np.arange(len(at)), at
        while len(live):
            length[live] += 1 + (key2[step] >= 0)
            step = parent[step]
            live, step = live[step >= 0], step[step >= 0]
        start = np.r_[0, np.cumsum(length)]
        path = np.empty(int(start[-1]), dtype=np.int64)
        end = start[1:].copy()
        live, step = np.arange(len(at)), at
        while len(live):
            two = key2[step] >= 0
            last = end[live] - 1
            path[last[two]] = key2[step[two]]
            last -= two
            path[last] = key[step]
            end[live] = last
            step = parent[step]
            live, step = live[step >= 0], step[step >= 0]
        return start, path


@dataclass
class AgentGraph:
    """The agent graph with what is needed to explain and report on it."""

    evidence: nx.MultiDiGraph
    settings: ProjectionSettings
    units: list[str]
    """Agent node ids (suspect Persons and unowned Accounts), index = igraph vertex id."""
    graph: ig.Graph
    """Undirected weighted tie graph over ``units`` (edge attribute ``weight``)."""
    accounts: dict[str, list[str]]
    """Accounts collapsed into each unit (a suspect's own accounts)."""
    shared_accounts: dict[str, list[str]]
    """Accounts used by several suspects: account -> its user units."""
    incidence: Incidence
    """Identifier id -> the units holding it (including infrastructure)."""
    kinds: dict[str, str]
    """Identifier id -> kind (a schema type, ``victim``, ``mule`` or ``contact``)."""
    infrastructure: dict[str, int] = field(default_factory=dict)
    """Identifiers above the infrastructure threshold -> how many agents share them."""
    ends: np.ndarray | None = None
    """The ``(ties, 2)`` vertex ids of ``graph``'s ties in edge order, where the projection
    made them (``graph.get_edgelist()`` makes two ints and a tuple per tie: 190 MB at
    5,400 cells); ``None`` where another engine added them."""

    @property
    def index(self) -> dict[str, int]:
        """Unit id -> vertex id."""
        return {u: i for i, u in enumerate(self.units)}

    def holdings(self) -> dict[int, list[str]]:
        """Vertex id -> identifiers it holds (the inverse of :attr:`incidence`): the vertices
        in the order first met among the holders, each one's identifiers in their order."""
        idents, units = self.incidence.idents, self.incidence.units
        owner = np.repeat(np.arange(len(idents)), self.incidence.counts())
        # by unit, each one's in identifier order
        held = [idents[i] for i in owner[np.argsort(units, kind="stable")].tolist()]
        distinct, first, count = np.unique(units, return_index=True, return_counts=True)
        unit_at, ends, sizes = distinct.tolist(), np.cumsum(count).tolist(), count.tolist()
        return {unit_at[k]: held[ends[k] - sizes[k]:ends[k]]
                for k in np.argsort(first).tolist()}  # the units in the order first met


class _Builder:
    """One pass over the evidence that collects units and identifier attachments."""

    def __init__(
        self,
        evidence: nx.MultiDiGraph,
        settings: ProjectionSettings,
        reliability: Reliability,
    ) -> None:
        self.g = evidence
        self.settings = settings
        # identifiers weighed as a kind of their own
        self.weak = {node: "masked_card" for node, attrs in
                     nodes_of_type(evidence, "PaymentCard") if attrs.get("partial")}
        # the relationships as positions of their ends, and the reliability of each: pairs
        # of ids are made only for the relationships walked one by one, when walked
        self.placed = pair_positions(evidence, _PROJECTED_RELS)
        # persons' roles as the evidence graph decoded them, once for every reader of the
        # run (the victim side reads them too)
        self.suspect, self.victim, self.mule = (
            self.placed.having("Person", "role", {role})
            for role in (Role.SUSPECT, Role.VICTIM, Role.MULE))
        # whether the node at each position is of a type agents hold
        self.holdable = self.placed.of_types(*AGENT_IDENTIFIERS)
        self.keys = _Keys(self.placed.ids)
        self.rel_of = _pair_reliability(evidence, self.placed, reliability)
        self.units: list[str] = []
        self.index: dict[str, int] = {}
        self.owners: dict[str, list[int]] = {}  # account/person id -> units it stands for
        self.accounts: dict[str, list[str]] = defaultdict(list)
        self.shared_accounts: dict[str, list[str]] = {}
        self.victim_of: dict[str, str] = {}  # victim-side node -> victim key
        self.log = _Log(len(self.placed.ids), self.placed.type_names)

    # -- units ---------------------------------------------------------------------------
    def _unit(self, node: str) -> int:
        idx = self.index.get(node)
        if idx is None:
            idx = self.index[node] = len(self.units)
            self.units.append(node)
        return idx

    def collect_units(self) -> None:
        ids = self.placed.ids
        suspects = sorted(map(ids.__getitem__, np.flatnonzero(self.suspect).tolist()))
        for person in suspects:
            self.owners[person] = [self._unit(person)]
        # by position over the arrays: only suspects' uses of accounts walked one by one (a
        # test per use, most of them victims', grew three times as fast as the case, issue 16)
        person_at, item_at = self._ends("USES")
        victims = np.flatnonzero(self.victim[person_at])
        self.victim_of.update(zip(map(ids.__getitem__, item_at[victims].tolist()),
                                  map(ids.__getitem__, person_at[victims].tolist()), strict=True))
        users: dict[str, list[str]] = defaultdict(list)
        uses: dict[tuple[str, str], int] = {}  # the key of each suspect's use of an account
        for person, item, key in self._keyed("USES", np.flatnonzero(
                self.suspect[person_at] & self.placed.of_types("Account")[item_at])):
            users[item].append(person)
            uses[person, item] = key
        for account, persons in sorted(users.items()):
            persons = sorted(set(persons))
            if len(persons) == 1:
                self.accounts[persons[0]].append(account)
            else:
                self.shared_accounts[account] = persons
            self.owners[account] = [self.owners[p][0] for p in persons]
        shared = [(account, person) for account, persons in self.shared_accounts.items()
                  for person in persons]
        self.log.add(self.placed.positions_of(a for a, _ in shared),
                     [self.owners[p][0] for _, p in shared], 1.0, self.log.kind("Account"),
                     [uses[p, a] for a, p in shared])
        acting = self._acting_accounts() & ~self._marked(self.owners) \
            & ~self._marked(self.victim_of)
        for account in sorted(map(ids.__getitem__, np.flatnonzero(acting).tolist())):
            self.owners[account] = [self._unit(account)]

    def _acting_accounts(self) -> np.ndarray:
        """Whether the account at each position acts like an agent's (its owner or not).

        An account is an agent's when it holds identifiers (registered to a phone or email,
        logged in from an IP or on a device), when a report names it other than as a victim,
        or when it contacted, or was contacted by, a known victim. An account named as a
        victim's, or one that only talks to agents, is on the victim side.
        """
        # marked by position over the arrays: a set of ids and a test per relationship grew
        # half as fast again as the case (issue 16)
        placed = self.placed
        acting = np.zeros(len(placed.ids), dtype=bool)
        for rel in ("REGISTERED_TO", "LOGGED_IN_FROM", "LOGGED_IN_ON"):
            acting[self._ends(rel)[0]] = True
        # the attributes beside each pair (edges[report, named] built the report's whole
        # neighbourhood for each name: reports naming many cost the square of their names)
        named = self._ends("NAMES")[1]
        victims = np.array([role == Role.VICTIM for _report, _named, role in
                            edge_values(self.g, "NAMES", "role")], dtype=bool)
        for node in map(placed.ids.__getitem__, named[victims].tolist()):
            self.victim_of.setdefault(node, node)
        acting[named[~victims]] = True
        victim = self._marked(self.victim_of)
        src, dst = self._ends("CONTACTED")
        acting[src[victim[dst]]] = True
        acting[dst[victim[src] & ~victim[dst]]] = True
        found: np.ndarray = acting & self.placed.of_types("Account")
        return found

    def _marked(self, nodes: Iterable[str]) -> np.ndarray:
        """Whether each position is of one of ``nodes``."""
        marked = np.zeros(len(self.placed.ids), dtype=bool)
        at = self.placed.positions_of(nodes)
        marked[at[at >= 0]] = True
        return marked

    # -- attachments ---------------------------------------------------------------------
    def direct(self) -> None:
        """Identifiers an agent (or its account) is linked to by one relationship."""
        placed = self.placed
        owned = _Owners(self.owners, placed)
        batch = _Batch(placed, self.keys.of, self.log.kind)
        for rel in _DIRECT_RELS:
            src, dst = self._ends(rel)
            at = np.flatnonzero((owned.count[src] > 0) & self.holdable[dst])
            batch.add(rel, src[at], dst[at], self._values(rel)[at], owner_is_src=True)
        report, named = self._ends("NAMES")
        at = np.flatnonzero(owned.count[named] > 0)
        batch.add("NAMES", report[at], named[at], self._values("NAMES")[at],
                  owner_is_src=False, kind="Report")
        self.log.add(*batch.columns(owned))
        self._exhibits(owned)

    def _exhibits(self, owned: _Owners) -> None:
        """An item seized from a suspect is theirs; it places them where it was seized."""
        type_of = self.placed.type_of.tolist()
        location = self.log.kind("Location")
        items: dict[int, list[tuple[int, int, float, int]]] = defaultdict(list)
        for exhibit, item, key, rel in self._positioned("EXHIBIT_OF"):
            items[exhibit].append((item, type_of[item], rel, key))
        places: dict[int, list[tuple[int, int, float, int]]] = defaultdict(list)
        for exhibit, place, key, rel in self._positioned("SEIZED_AT"):
            places[exhibit].append((place, location, rel, key))
        made: list[_Row] = []
        for exhibit, person, seized, seized_rel in self._positioned("SEIZED_FROM"):
            units = owned.of(person)
            for item, kind, rel, key in chain(items[exhibit], places[exhibit]):
                made += [(item, unit, min(seized_rel, rel), kind, seized, key)
                         for unit in units]
        self.log.add_rows(made)
        # an item seized at a place puts its holders there, one step removed
        seized_at, place_at = self._ends("SEIZED_AT")
        at = [(row, item) for row, exhibit in enumerate(seized_at.tolist())
              for item, *_ in items[exhibit]]
        rows = np.array([row for row, _ in at], dtype=np.int64)
        self._propagate(np.array([item for _, item in at], dtype=np.int64), place_at[rows],
                        location, self.keys.of("SEIZED_AT", seized_at, place_at)[rows],
                        self._values("SEIZED_AT")[rows])

    def _ends(self, rel: str) -> tuple[np.ndarray, np.ndarray]:
        """The positions of the sources and targets of one relationship type."""
        return self.placed.pairs.get(rel, (_NONE, _NONE))

    def _values(self, rel: str) -> np.ndarray:
        """The reliability of each relationship of one type, in the order of its pairs."""
        return self.rel_of.get(rel, _NO_VALUES)

    def _keyed(self, rel: str, at: np.ndarray | None = None
               ) -> Iterator[tuple[str, str, int]]:
        """The (source, target) pairs of one relationship type (those ``at``, or all), each
        with its key."""
        ids = self.placed.ids
        src, dst = self._ends(rel)
        if at is not None:
            src, dst = src[at], dst[at]
        return zip(map(ids.__getitem__, src.tolist()), map(ids.__getitem__, dst.tolist()),
                   self.keys.of(rel, src, dst).tolist(), strict=True)

    def _positioned(self, rel: str) -> Iterator[tuple[int, int, int, float]]:
        """The (source, target) positions of one relationship type, each with its key and
        reliability."""
        src, dst = self._ends(rel)
        return zip(src.tolist(), dst.tolist(), self.keys.of(rel, src, dst).tolist(),
                   _shared_floats(self._values(rel)), strict=True)

    def _propagate(self, source: np.ndarray, target: np.ndarray, kind: ArrayLike,
                   key: np.ndarray, rel: np.ndarray) -> None:
        """Each holder each of ``source`` has now holds its ``target`` too, one step removed
        (in order, of source after source): weaker by the indirect factor and ``rel``, the
        evidence path one ``key`` longer."""
        which, kept = self.log.reach(source)
        unit, strength = self.log.held(kept)
        factor = self.settings.indirect_factor * rel
        self.log.add(target[which], unit, strength * factor[which],
                     np.broadcast_to(kind, len(target))[which], key[which], parent=kept)

    def chains(self) -> None:
        """Identifiers reached through another identifier (SIM in a device, number of a SIM)."""
        # the relationships between identifiers found over the arrays, an agent's own links
        # (already direct) left out: most of them (an account registered to a number)
        owned, holdable = self._marked(self.owners), self.holdable
        found: list[tuple[np.ndarray, ...]] = [(_NONE, _NONE, _NONE, _NO_VALUES)]
        for rel in _CHAIN_RELS:
            sources, targets = self._ends(rel)
            at = np.flatnonzero(~owned[sources] & holdable[sources] & holdable[targets])
            found.append((sources[at], targets[at],
                          self.keys.of(rel, sources[at], targets[at]), self._values(rel)[at]))
        src, dst, key, value = (np.concatenate(c) for c in zip(*found, strict=True))
        # each both ways, from the holders before any: one step never chains into the next
        there = np.column_stack((dst, src)).ravel()
        self._propagate(np.column_stack((src, dst)).ravel(), there, self.placed.type_of[there],
                        np.repeat(key, 2), np.repeat(value, 2))
        report, named = self._ends("NAMES")
        at = np.flatnonzero(self.holdable[named])
        self._propagate(named[at], report[at], self.log.kind("Report"),
                        self.keys.of("NAMES", report[at], named[at]), self._values("NAMES")[at])

    def contacts(self) -> np.ndarray:
        """Victims each agent contacted (and agents contacting each other): the victims'
        positions."""
        placed, log, owners, victim_of = self.placed, self.log, self.owners, self.victim_of
        position = cast(Callable[[str], int], placed.position)  # victims are nodes
        src, dst = self._ends("CONTACTED")
        ends = np.unique(np.concatenate((src, dst)))
        numbers = ends[placed.of_types("Phone")[ends]]
        # a number's holders are on the agent side: those it has, and those it is a victim
        # of here, in the order met (a number no agent holds becomes one's on contact)
        side: dict[str, dict[int, None]] = {}
        number_ids = list(map(placed.ids.__getitem__, numbers.tolist()))
        which, kept = log.reach(numbers)
        for i, unit in zip(which.tolist(), log.held(kept)[0].tolist(), strict=True):
            side.setdefault(number_ids[i], {})[unit] = None
        numbered = set(number_ids)
        contact, victim_kind = log.kind("contact"), log.kind("victim")
        victims: dict[int, None] = {}
        made: list[_Row] = []
        for (s, d, key), rel in self._graded("CONTACTED"):
            a, b = owners.get(s) or list(side.get(s, ())), owners.get(d) or list(side.get(d, ()))
            if a and b:  # the contact itself is what they share
                code = log.code(edge_id("CONTACTED", s, d))
                made += [(code, unit, rel, contact, key, -1) for unit in {*a, *b}]
            else:
                agents, other = (a, d) if a else (b, s)
                if not agents:
                    continue
                victim = victim_of.get(other, other)
                code = position(victim)
                victims[code] = None
                made += [(code, unit, rel, victim_kind, key, -1) for unit in agents]
                if victim in numbered:
                    side.setdefault(victim, {}).update(dict.fromkeys(agents))
            if len(made) >= _PART:
                log.add_rows(made)
                made = []
        log.add_rows(made)
        return np.fromiter(victims, dtype=np.int64, count=len(victims))

    def _graded(self, rel: str) -> Iterator[tuple[tuple[str, str, int], float]]:
        """The (source, target, key) of one relationship type with their reliability."""
        return zip(self._keyed(rel), _shared_floats(self._values(rel)), strict=True)

    def money(self, victims: np.ndarray) -> None:
        """Cards and wallets victims paid into belong with the agents who contacted them."""
        victim = np.zeros(len(self.placed.ids), dtype=bool)
        victim[victims] = True
        payer: dict[int, list[tuple[int, float, int]]] = defaultdict(list)
        for payer_at, payment, key, rel in self._positioned("PAID"):
            if victim[payer_at]:
                payer[payment].append((payer_at, rel, key))
        paid = [(paying, card_at, min(paid_rel, to_rel), paid_key, paid_to)
                for payment, card_at, paid_to, to_rel in self._positioned("PAID_TO")
                for paying, paid_rel, paid_key in payer.get(payment, ())]
        person, card, cap, keys, keys2 = (np.array(c) for c in zip(*paid, strict=True)) \
            if paid else (_NONE, _NONE, _NO_VALUES, _NONE, _NONE)
        which, kept = self.log.reach(person)
        unit, strength = self.log.held(kept)
        self.log.add(card[which], unit, np.minimum(strength, cap[which]),
                     self.placed.type_of[card[which]], keys[which], keys2[which], kept)
        holder, card = self._ends("HOLDS")
        at = np.flatnonzero(self.mule[holder])
        self._propagate(card[at], holder[at], self.log.kind("mule"),
                        self.keys.of("HOLDS", holder[at], card[at]), self._values("HOLDS")[at])


def _pair_reliability(evidence: nx.MultiDiGraph, placed: PairPositions,
                      reliability: Reliability) -> dict[str, np.ndarray]:
    """Relationship type -> the reliability of each of its ``placed`` pairs, in their order
    (1 for a relationship of no known source)."""
    if isinstance(reliability, np.ndarray):
        packed = packed_of(evidence)
        if packed is None or len(packed.rel) != len(reliability):
            raise ValueError("reliability per packed relationship needs the evidence graph "
                             "read from those packed arrays")
        values: dict[str, np.ndarray] = evidence.pair_values(reliability, 1.0, placed.pairs)
        return values
    if not reliability:
        return {rel: np.ones(len(src)) for rel, (src, _dst) in placed.pairs.items()}
    get, ids = reliability.get, placed.ids
    return {rel: np.array([get(edge_id(rel, ids[s], ids[d]), 1.0)
                           for s, d in zip(src.tolist(), dst.tolist(), strict=True)],
                          dtype=np.float64)
            for rel, (src, dst) in placed.pairs.items()}


def _pairs(
    incidence: Incidence, kinds: Mapping[str, str], n_units: int,
    settings: ProjectionSettings,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Tie weights summed over shared identifiers, expanded in bulk per holder count.

    Identifiers above the infrastructure threshold are set aside first (and returned with
    their holder counts), so no hub is ever expanded into its pairs; the rest are grouped by
    holder count ``k`` and expanded as ``(identifiers x k)`` arrays, so the cost is numpy's,
    not a Python loop per pair. Returns the ``(pairs, 2)`` vertex ids, their weights and the
    infrastructure.
    """
    infrastructure = _infrastructure(incidence, n_units, settings)
    counts = incidence.counts()
    tied = np.flatnonzero((counts >= 2) & (counts <= settings.share_cap(n_units)))
    # by holder count, the counts in the order first met, each one's identifiers in order
    sizes, first_met = np.unique(counts[tied], return_index=True)
    keys: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for k in sizes[np.argsort(first_met)].tolist():
        group = tied[counts[tied] == k]
        at = incidence.start[group][:, None] + np.arange(k)  # their attachments
        holder, rel = incidence.units[at], incidence.reliability[at]
        bases = [settings.weight(kinds[incidence.idents[i]]) * settings.hub_factor(k)
                 for i in group.tolist()]
        first, second = np.triu_indices(k, 1)
        u, v = holder[:, first], holder[:, second]
        low, high = np.minimum(u, v), np.maximum(u, v)
        keys.append((low * n_units + high).ravel())
        weights.append((np.asarray(bases)[:, None]
                        * np.minimum(rel[:, first], rel[:, second])).ravel())
    if not keys:
        return np.empty((0, 2), dtype=np.int64), np.empty(0), infrastructure
    pair_keys, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    summed = np.bincount(inverse, weights=np.concatenate(weights))
    return np.stack([pair_keys // n_units, pair_keys % n_units], axis=1), summed, infrastructure


def _infrastructure(incidence: Incidence, n_units: int, settings: ProjectionSettings
                    ) -> dict[str, int]:
    """Identifiers above the infrastructure threshold -> their holder counts."""
    counts = incidence.counts()
    return {incidence.idents[i]: int(counts[i]) for i in
            np.flatnonzero(counts > settings.share_cap(n_units)).tolist()}


def add_ties(agents: AgentGraph) -> None:
    """Add the ties to an agent graph built without them (``project_agents(ties=False)``)."""
    edges, weights, _infra = _pairs(agents.incidence, agents.kinds, len(agents.units),
                                    agents.settings)
    agents.graph.add_edges(edges)
    agents.ends = edges
    if len(weights):
        agents.graph.es["weight"] = weights.tolist()


def project_agents(
    evidence: nx.MultiDiGraph,
    settings: ProjectionSettings | None = None,
    reliability: Reliability | None = None,
    ties: bool = True,
) -> AgentGraph:
    """Build the weighted agent graph from an evidence graph.

    Parameters
    ----------
    evidence
        The evidence graph as :meth:`ringmap.graphs.store.Store.project` returns it.
    settings
        Weights, hub down-weighting and the infrastructure threshold.
    reliability
        Optional 0..1 reliability of each relationship's best source (see
        :func:`ringmap.analysis.cells.edge_reliability` and :data:`Reliability`); missing
        relationships count as 1.

    ties
        Whether to compute the ties; without them, ``graph`` has the agents and no edges (an
        engine that computes the ties itself adds them, :func:`add_ties` adds Python's).

    Returns
    -------
    AgentGraph
        The agents, their weighted ties and the identifiers behind them.
    """
    settings = settings or ProjectionSettings()
    builder = _Builder(evidence, settings, {} if reliability is None else reliability)
    builder.collect_units()
    builder.direct()
    builder.chains()
    builder.money(builder.contacts())
    units = builder.units
    incidence, kinds = builder.log.incidence(builder.placed.ids, builder.keys, builder.weak)
    accounts = {k: sorted(v) for k, v in builder.accounts.items()}
    shared_accounts = builder.shared_accounts
    # let go of the builder's pairs, reliabilities and node types before the ties are
    # expanded: they were held through it, at the peak of the detection (issue 16)
    del builder
    if ties:
        edges, weights, infrastructure = _pairs(incidence, kinds, len(units), settings)
    else:
        edges, weights = np.empty((0, 2), dtype=np.int64), np.empty(0)
        infrastructure = _infrastructure(incidence, len(units), settings)
    # straight from the pair arrays: no Python list per tie, and added to an empty graph,
    # half the time of the constructor given them (0.7 against 1.5 CPU-s for 1.5M ties)
    graph = ig.Graph(n=len(units))
    graph.add_edges(edges)
    if len(weights):  # no tie, no weight attribute: every agent alone (see community._weights)
        graph.es["weight"] = weights.tolist()
    agents = AgentGraph(
        evidence=evidence,
        settings=settings,
        units=units,
        graph=graph,
        accounts=accounts,
        shared_accounts=shared_accounts,
        incidence=incidence,
        kinds=kinds,
        infrastructure=infrastructure,
        ends=edges if ties else None,
    )
    return agents
