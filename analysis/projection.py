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
from functools import partial
from itertools import chain, pairwise
from operator import itemgetter
from typing import Literal, NamedTuple

import igraph as ig
import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ringmap.graphs.evidence import (
    PairPositions,
    edge_values,
    node_values,
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


class _Held(NamedTuple):
    """An :class:`Attachment` while the projection is built: the evidence edges on the way
    as relationship keys (:class:`_Keys`), not their ids."""

    reliability: float
    via: tuple[int, ...]


#: a :class:`_Held` from its (reliability, via) pair, with no Python frame (tuple's own
#: constructor, as the named tuple's ``__new__`` calls it)
_held: Callable[[tuple[float, tuple[int, ...]]], _Held] = partial(tuple.__new__, _Held)


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

    @classmethod
    def pack(cls, held: Mapping[str, Mapping[int, _Held]], spell: Callable[[int], str]
             ) -> Incidence:
        """The attachments ``held`` as the builder made them, packed."""
        made = list(chain.from_iterable(holders.values() for holders in held.values()))
        paths = list(map(itemgetter(1), made))
        return cls(list(held), _starts(map(len, held.values())),
                   np.fromiter(chain.from_iterable(held.values()), dtype=np.int64,
                               count=len(made)),
                   np.fromiter(map(itemgetter(0), made), dtype=np.float64, count=len(made)),
                   _starts(map(len, paths)),
                   np.fromiter(chain.from_iterable(paths), dtype=np.int64), spell)

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


def _starts(counts: Iterable[int]) -> np.ndarray:
    """Where each of runs of ``counts`` starts, and where the last ends."""
    found: np.ndarray = np.cumsum(np.fromiter(chain((0,), counts), dtype=np.int64))
    return found


#: holders searched for a unit; an identifier with more is indexed (:meth:`Incidence.position`)
_SEARCHED = 64
_NONE = np.empty(0, dtype=np.int64)
#: attachments made from one slice of a batch's arrays (see _Builder._attach_batch)
_PART = 1 << 16
_NO_VALUES = np.empty(0, dtype=np.float64)


def _parts(at: np.ndarray) -> Iterator[np.ndarray]:
    """``at`` a part at a time: as Python lists, whole columns of millions of values
    weighed more than the attachments made from them."""
    for lo in range(0, len(at), _PART):
        yield at[lo:lo + _PART]


def _spans(bounds: np.ndarray) -> Iterator[tuple[int, int]]:
    """Runs ``a`` to ``b`` of runs that start at ``bounds`` (and end at the next), about
    :data:`_PART` items at a time, a run never cut.

    >>> list(_spans(np.array([0, 3, 60_000, 70_001, 70_002])))
    [(0, 2), (2, 4)]
    """
    a, last = 0, len(bounds) - 1
    while a < last:
        b = min(last, max(a + 1, int(np.searchsorted(bounds, bounds[a] + _PART,
                                                     side="right")) - 1))
        yield a, b
        a = b


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


class _Batch:
    """Attachments to make in bulk, in order (:meth:`_Builder._attach_batch`): each
    relationship ``src -> dst`` attaches its identifier end to the units its owner end
    stands for."""

    def __init__(self, placed: PairPositions, keys: Callable[[str, np.ndarray, np.ndarray],
                                                             np.ndarray]) -> None:
        self.type_of = placed.type_of
        self.keys = keys
        self.kinds: list[str] = list(placed.type_names)
        """Kind names: the type names, then the kinds given to :meth:`add`."""
        self._parts: list[tuple[np.ndarray, ...]] = []

    def add(self, rel: str, src: np.ndarray, dst: np.ndarray, values: np.ndarray, *,
            owner_is_src: bool, kind: str | None = None) -> None:
        """Relationships of type ``rel``, in order; the kind of their identifiers is
        ``kind``, or their type."""
        ident, owner = (dst, src) if owner_is_src else (src, dst)
        if kind is None:
            kinds = self.type_of[ident].astype(np.int16)
        else:
            if kind not in self.kinds:
                self.kinds.append(kind)
            kinds = np.full(len(ident), self.kinds.index(kind), dtype=np.int16)
        # compact columns: millions of attachments are sorted and walked from them
        self._parts.append((ident.astype(np.int32), owner, values, self.keys(rel, src, dst),
                            kinds))

    def columns(self, owned: _Owners) -> tuple[np.ndarray, ...]:
        """Per attachment, in order, one per unit each owner stands for (in its order): the
        identifier, the unit, the reliability, the relationship's key and the kind (in
        :attr:`kinds`)."""
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
        # types and pairs straight from the arrays of a store's evidence graph: only
        # persons' and cards' properties are read
        self.role = dict(node_values(evidence, "Person", "role", ""))
        # identifiers weighed as a kind of their own
        self.weak = {node: "masked_card" for node, attrs in
                     nodes_of_type(evidence, "PaymentCard") if attrs.get("partial")}
        # the relationships as positions of their ends, and the reliability of each: pairs
        # of ids are made only for the relationships walked one by one, when walked
        self.placed = pair_positions(evidence, _PROJECTED_RELS)
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
        self.incidence: dict[str, dict[int, _Held]] = {}
        self.kinds: dict[str, str] = {}

    # -- units ---------------------------------------------------------------------------
    def _unit(self, node: str) -> int:
        idx = self.index.get(node)
        if idx is None:
            idx = self.index[node] = len(self.units)
            self.units.append(node)
        return idx

    def collect_units(self) -> None:
        suspects = sorted(p for p, r in self.role.items() if r == Role.SUSPECT)
        for person in suspects:
            self.owners[person] = [self._unit(person)]
        # by position over the arrays: only suspects' uses of accounts walked one by one (a
        # test per use, most of them victims', grew three times as fast as the case, issue 16)
        ids, (person_at, item_at) = self.placed.ids, self._ends("USES")
        victims = np.flatnonzero(self._marked(
            p for p, r in self.role.items() if r == Role.VICTIM)[person_at])
        self.victim_of.update(zip(map(ids.__getitem__, item_at[victims].tolist()),
                                  map(ids.__getitem__, person_at[victims].tolist()), strict=True))
        users: dict[str, list[str]] = defaultdict(list)
        uses: dict[tuple[str, str], int] = {}  # the key of each suspect's use of an account
        for person, item, key in self._keyed("USES", np.flatnonzero(
                self._marked(suspects)[person_at] & self.placed.of_types("Account")[item_at])):
            users[item].append(person)
            uses[person, item] = key
        for account, persons in sorted(users.items()):
            persons = sorted(set(persons))
            if len(persons) == 1:
                self.accounts[persons[0]].append(account)
            else:
                self.shared_accounts[account] = persons
            self.owners[account] = [self.owners[p][0] for p in persons]
        for account, persons in self.shared_accounts.items():
            for person in persons:
                self._attach(account, "Account", self.owners[person][0], 1.0,
                             (uses[person, account],))
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

    def _kinds(self, at: np.ndarray) -> list[str]:
        """The type names of the nodes at positions ``at``."""
        return list(map(self.placed.type_names.__getitem__, self.placed.type_of[at].tolist()))

    # -- attachments ---------------------------------------------------------------------
    def _attach(self, ident: str, kind: str, unit: int, rel: float, via: tuple[int, ...]) -> None:
        self._attach_all(ident, kind, (unit,), rel, via)

    def _attach_all(
        self, ident: str, kind: str, units: Iterable[int], rel: float, via: tuple[int, ...]
    ) -> None:
        # ``ident`` held by each of ``units`` (the stronger attachment kept), the identifier's
        # kind and holders looked up once for them all: 340k attachments at 600 cells
        holders: dict[int, _Held] | None = None
        attachment = _Held(rel, via)
        for unit in units:
            if holders is None:
                self.kinds[ident] = self.weak.get(ident, kind)
                holders = self.incidence.get(ident)
                if holders is None:
                    holders = self.incidence[ident] = {}
            known = holders.get(unit)
            if known is None or known.reliability < rel:
                holders[unit] = attachment

    def direct(self) -> None:
        """Identifiers an agent (or its account) is linked to by one relationship."""
        placed = self.placed
        owned = _Owners(self.owners, placed)
        batch = _Batch(placed, self.keys.of)
        for rel in _DIRECT_RELS:
            src, dst = self._ends(rel)
            at = np.flatnonzero((owned.count[src] > 0) & self.holdable[dst])
            batch.add(rel, src[at], dst[at], self._values(rel)[at], owner_is_src=True)
        report, named = self._ends("NAMES")
        at = np.flatnonzero(owned.count[named] > 0)
        batch.add("NAMES", report[at], named[at], self._values("NAMES")[at],
                  owner_is_src=False, kind="Report")
        self._attach_batch(batch, owned)
        self._exhibits()

    def _attach_batch(self, batch: _Batch, owned: _Owners) -> None:
        """:meth:`_attach_all` of every attachment of ``batch``, in its order, in bulk (3.1M
        attachments at 5,400 cells): per identifier and unit the stronger attachment is kept
        (of equals, the first), identifiers and each one's holders come in the order first
        met, and an identifier is of the kind of its last attachment."""
        ids, incidence, kinds, weak = self.placed.ids, self.incidence, self.kinds, self.weak
        ident, unit, value, via, kind = batch.columns(owned)
        # identifiers attached before the batch (a shared account's) take theirs one by one;
        # found from those few, not by asking of every identifier of the batch (its growth
        # was 13 times the rows' from 600 to 5,400 cells, issue 16)
        before = np.isin(ident, [i for i in map(self.placed.position, incidence)
                                 if i is not None])
        for at in _parts(np.flatnonzero(before)):
            for i, u, v, e, k in zip(ident[at].tolist(), unit[at].tolist(),
                                     _shared_floats(value[at]), via[at].tolist(),
                                     kind[at].tolist(), strict=True):
                self._attach(ids[i], batch.kinds[k], u, v, (e,))
        new = np.flatnonzero(~before)
        if not len(new):
            return
        # per (identifier, unit): the strongest attachment, the first of equals, and when the
        # two first met; per identifier: when first met, and its last attachment
        n = len(self.units)
        key = ident[new].astype(np.int64) * n + unit[new]
        # a stable sort: equals stay in the order met
        by = new[np.lexsort((-value[new], key))]
        del key
        grouped = ident[by].astype(np.int64) * n + unit[by]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        del grouped
        best, met = by[starts], np.minimum.reduceat(by, starts)
        del by, starts
        # by identifier in one pass each, not two sorts of every attachment (issue 16)
        first = np.full(int(ident.max()) + 1, len(ident), dtype=np.int64)
        np.minimum.at(first, ident[new], new)
        last = np.full_like(first, -1)
        np.maximum.at(last, ident[new], new)
        order = best[np.lexsort((met, first[ident[best]]))]
        del best, met, first
        # each identifier's holders made as one dict from its run of attachments, the
        # attachments by map and zip: a Python statement per attachment was the part of
        # the projection that grew fastest with the case (3.1M at 5,400 cells, issue 16)
        starts = np.flatnonzero(np.r_[True, np.diff(ident[order]) != 0])
        bounds = np.r_[starts, len(order)]
        # the holders keyed by one int object per unit, not one per attachment
        unit_of = list(range(len(self.units))).__getitem__
        for a, b in _spans(bounds):
            lo, hi = int(bounds[a]), int(bounds[b])
            at = order[lo:hi]
            holders = list(map(unit_of, unit[at].tolist()))
            made = list(map(_held, zip(_shared_floats(value[at]), zip(via[at].tolist()),
                                       strict=True)))
            cuts = (bounds[a:b + 1] - lo).tolist()
            for i, (start, end) in zip(ident[order[starts[a:b]]].tolist(), pairwise(cuts),
                                       strict=True):
                node = ids[i]
                incidence[node] = dict(zip(holders[start:end], made[start:end], strict=True))
                kinds[node] = weak.get(node, batch.kinds[int(kind[last[i]])])

    def _exhibits(self) -> None:
        """An item seized from a suspect is theirs; it places them where it was seized."""
        items: dict[str, list[tuple[str, str, float, int]]] = defaultdict(list)
        for ((exhibit, item, key), rel), kind in zip(
                self._graded("EXHIBIT_OF"), self._kinds(self._ends("EXHIBIT_OF")[1]),
                strict=True):
            items[exhibit].append((item, kind, rel, key))
        places: dict[str, list[tuple[str, float, int]]] = defaultdict(list)
        for (exhibit, place, key), rel in self._graded("SEIZED_AT"):
            places[exhibit].append((place, rel, key))
        for (exhibit, person, seized), seized_rel in self._graded("SEIZED_FROM"):
            units = self.owners.get(person)
            if not units:
                continue
            for item, kind, rel, key in items[exhibit]:
                self._attach_all(item, kind, units, min(seized_rel, rel), (seized, key))
            for place, rel, key in places[exhibit]:
                self._attach_all(place, "Location", units, min(seized_rel, rel), (seized, key))
        # an item seized at a place puts its holders there, one step removed
        for (exhibit, place, key), rel in self._graded("SEIZED_AT"):
            for item, _, _, _ in items[exhibit]:
                self._propagate(item, place, "Location", key, rel)

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

    def _graded(self, rel: str, at: np.ndarray | None = None
                ) -> Iterator[tuple[tuple[str, str, int], float]]:
        """The (source, target, key) of one relationship type (those ``at``, or all) with
        their reliability."""
        values = self._values(rel)
        return zip(self._keyed(rel, at), _shared_floats(values if at is None else values[at]),
                   strict=True)

    def _propagate(self, source: str, target: str, kind: str, eid: int, rel: float) -> None:
        holders = self.incidence.get(source)
        if not holders:
            return
        factor = self.settings.indirect_factor * rel
        for unit, att in list(holders.items()):
            self._attach(target, kind, unit, att.reliability * factor, (*att.via, eid))

    def chains(self) -> None:
        """Identifiers reached through another identifier (SIM in a device, number of a SIM)."""
        pending: list[tuple[str, str, int, float, str, str]] = []
        # the relationships between identifiers found over the arrays, an agent's own links
        # (already direct) left out: most of them (an account registered to a number)
        owned, holdable = self._marked(self.owners), self.holdable
        for rel in _CHAIN_RELS:
            sources, targets = self._ends(rel)
            at = np.flatnonzero(~owned[sources] & holdable[sources] & holdable[targets])
            pending += [(s, d, key, rel_, of_s, of_d) for ((s, d, key), rel_), of_s, of_d in zip(
                self._graded(rel, at), self._kinds(sources[at]), self._kinds(targets[at]),
                strict=True)]
        # take a snapshot so that one step never chains into the next (each identifier's
        # holders copied once, not once per chain relationship it is in)
        snapshot = {i: dict(self.incidence[i]) for i in dict.fromkeys(
            i for s, d, *_ in pending for i in (s, d)) if i in self.incidence}
        for src, dst, eid, rel_, of_src, of_dst in pending:
            for a, b, kind in ((src, dst, of_dst), (dst, src, of_src)):
                holders = snapshot.get(a)
                if not holders:
                    continue
                factor = self.settings.indirect_factor * rel_
                for unit, att in holders.items():
                    self._attach(b, kind, unit, att.reliability * factor,
                                 (*att.via, eid))
        at = np.flatnonzero(holdable[self._ends("NAMES")[1]])
        for (report, named, key), rel_ in self._graded("NAMES", at):
            if named in self.incidence:
                self._propagate(named, report, "Report", key, rel_)

    def _agent_side(self, node: str, phone: np.ndarray) -> list[int]:
        units = self.owners.get(node)
        if units:
            return units
        holders = self.incidence.get(node)
        if holders and phone[self.placed.position(node)]:
            return list(holders)
        return []

    def contacts(self) -> dict[str, dict[int, _Held]]:
        """Victims each agent contacted (and agents contacting each other)."""
        victims: set[str] = set()
        phone = self.placed.of_types("Phone")
        for (src, dst, key), rel in self._graded("CONTACTED"):
            a, b = self._agent_side(src, phone), self._agent_side(dst, phone)
            if a and b:  # the contact itself is what they share
                self._attach_all(edge_id("CONTACTED", src, dst), "contact", {*a, *b}, rel,
                                 (key,))
                continue
            agents, other = (a, dst) if a else (b, src)
            if agents:
                victim = self.victim_of.get(other, other)
                victims.add(victim)
                self._attach_all(victim, "victim", agents, rel, (key,))
        return {v: self.incidence[v] for v in victims}

    def money(self, victims: Mapping[str, Mapping[int, _Held]]) -> None:
        """Cards and wallets victims paid into belong with the agents who contacted them."""
        payer: dict[str, list[tuple[str, float, int]]] = defaultdict(list)
        for (person, payment, key), rel in self._graded("PAID"):
            payer[payment].append((person, rel, key))
        for ((payment, card, paid_to), to_rel), kind in zip(
                self._graded("PAID_TO"), self._kinds(self._ends("PAID_TO")[1]), strict=True):
            for person, paid_rel, paid in payer.get(payment, ()):
                for unit, att in victims.get(person, {}).items():
                    rel = min(att.reliability, paid_rel, to_rel)
                    self._attach(card, kind, unit, rel, (*att.via, paid, paid_to))
        for (person, card, key), rel in self._graded("HOLDS"):
            if self.role.get(person) == Role.MULE and card in self.incidence:
                self._propagate(card, person, "mule", key, rel)


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
    units, kinds = builder.units, builder.kinds
    incidence = Incidence.pack(builder.incidence, builder.keys)
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
