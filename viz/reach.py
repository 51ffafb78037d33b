"""What a cell holds and whom it reached: its footprint, victims, money, raid sites, exhibits.

The footprint of a cell is its members (agents and accounts) and the infrastructure around them:
identifiers one hop from a member, and non-account identifiers one hop further (the SIM in an
agent's phone, the number of that SIM). Its victims and the payments into its cards and
wallets are those of :mod:`ringmap.analysis.victims`, the definition the cell report and the
``victims-by-country`` query use. :func:`figures` reads the cell's saved report, so maps and
packages say what ``ringmap cell`` says; a cell saved without one is counted the same way.

>>> import networkx as nx
>>> g = nx.MultiDiGraph()
>>> g.add_node("Person:a", type="Person", role="suspect")
>>> g.add_node("Phone:+1", type="Phone", number="+1")
>>> g.add_edge("Person:a", "Phone:+1", key="USES", type="USES")
'USES'
>>> sorted(footprint(g, ["Person:a"]))
['Person:a', 'Phone:+1']
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress

import networkx as nx
import numpy as np

from ringmap.analysis.fx import FxTable
from ringmap.analysis.report import country_label, money_received
from ringmap.analysis.victims import Paid, Reached, reached_by_cell
from ringmap.errors import NotFound
from ringmap.graphs.evidence import FarEnds, adjacent, pair_positions
from ringmap.graphs.model import CellRecord, Money
from ringmap.graphs.schema import SCHEMA
from ringmap.graphs.store import Store

__all__ = ["INFRA_RELS", "CellReach", "Figures", "cell_of", "figures", "footprint", "linked",
           "named_cells", "reach", "reach_cells", "select_cells"]

#: Relationships that tie infrastructure to the people and accounts that use it.
INFRA_RELS = frozenset({"USES", "HOLDS", "REGISTERED_TO", "LOGGED_IN_FROM", "LOGGED_IN_ON",
                        "SIM_IN", "HAS_NUMBER"})
_SITE_RELS = frozenset({"WORKS_AT", "ARRESTED_AT"})
_EXHIBIT_RELS = frozenset({"SEIZED_FROM", "EXHIBIT_OF"})


def linked(
    graph: nx.MultiDiGraph, node: str, rels: Iterable[str] | None = None
) -> Iterator[tuple[str, str, str]]:
    """``(relationship, direction, other node)`` for every edge touching ``node``.

    ``direction`` is ``"out"`` when ``node`` is the source.
    """
    wanted = None if rels is None else frozenset(rels)
    for direction, out in (("out", True), ("in", False)):
        for rel, other in adjacent(graph, node, out):
            if wanted is None or rel in wanted:
                yield rel, direction, other


def _type(graph: nx.MultiDiGraph, node: str) -> str:
    return str(graph.nodes[node].get("type", ""))


def footprint(graph: nx.MultiDiGraph, members: Iterable[str]) -> set[str]:
    """Members plus the identifiers around them (see the module docstring)."""
    return _Near(graph).footprint(members)


class _Near:
    """The few relationships a reach follows, as arrays by node position, made in one pass
    over the graph's arrays.

    A cell's footprint and raid sites are found from these alone, so each cell costs the edges
    it follows, not every contact of its busy accounts (``linked`` walks all of a node's
    edges): 150 cells took 7.4 CPU-s walking about ten times the graph's edges. Kept as
    arrays, not a set per node: at 5,400 cells those sets, made by a Python loop over every
    followed relationship, were about 8 CPU-s and a few hundred MB of the maps stage.
    """

    def __init__(self, graph: nx.MultiDiGraph) -> None:
        found = pair_positions(graph, INFRA_RELS | _EXHIBIT_RELS | _SITE_RELS | {"SEIZED_AT"})
        self.ids, self.position, self.positions_of = found.ids, found.position, found.positions_of
        n = len(found.ids)

        def ends(rels: Iterable[str], both: bool) -> tuple[np.ndarray, np.ndarray]:
            """The near and far ends of the relationships of ``rels`` (each also the other
            way round when ``both``)."""
            src, dst = found.ends(sorted(rels))
            if not both:
                return src, dst
            return np.concatenate((src, dst)), np.concatenate((dst, src))

        # identifier neighbours by INFRA_RELS (either direction), accounts among them apart
        near, far = ends(INFRA_RELS, both=True)
        identifier = found.of_types(*SCHEMA.identifier_types)[far]
        account = found.of_types("Account")[far]
        self.infra = FarEnds(near[identifier & ~account], far[identifier & ~account], n)
        self.infra_accounts = FarEnds(near[identifier & account], far[identifier & account], n)
        # exhibits seized from (or of) a node; raid sites of a person; where an item was seized
        exhibit, of = ends(_EXHIBIT_RELS, both=False)
        self.exhibits = FarEnds(of, exhibit, n)
        self.seized_at = FarEnds(*ends({"SEIZED_AT"}, both=True), n)
        near, far = ends(_SITE_RELS, both=True)
        person = found.of_types("Person")[near]
        self.person_sites = FarEnds(near[person], far[person], n)

    def members(self, cell: CellRecord) -> tuple[list[str], np.ndarray]:
        """Those of the cell's members the graph holds, in the cell's order, and their
        positions (looked up in bulk: a test per member grew faster than the case)."""
        ids = [m.node_id for m in cell.members]
        at = self.positions_of(ids)
        held = at >= 0
        return list(compress(ids, held.tolist())), at[held]

    def at(self, members: Iterable[str]) -> np.ndarray:
        """The positions of those of ``members`` the graph holds."""
        return np.array([i for i in map(self.position, members) if i is not None],
                        dtype=np.int64)

    def around(self, groups: Sequence[np.ndarray]
               ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The footprint, raid sites and exhibits, as positions, of each of ``groups`` of
        members (positions), found for all the groups at once as (group, position) pairs:
        some ten array operations per cell were 2.7 of the 4.5 CPU-s reach_cells took at
        5,400 cells (issue 16)."""
        n = max(len(self.ids), 1)
        group = np.repeat(np.arange(len(groups), dtype=np.int64), [len(g) for g in groups])
        members = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int64)
        row, ring = self.infra.pairs(members)
        row2, accounts = self.infra_accounts.pairs(members)
        ring_group = np.concatenate((group[row], group[row2]))
        ring = np.concatenate((ring, accounts))
        row, ring2 = self.infra.pairs(ring)
        # each group's positions, in order: one integer per pair, the group's first
        footprint = _distinct(np.concatenate((group, ring_group, ring_group[row])) * n
                              + np.concatenate((members, ring, ring2)))
        row, exhibits = self.exhibits.pairs(footprint % n)
        exhibits += footprint[row] // n * n
        row, sites = self.person_sites.pairs(footprint % n)
        row2, seized = self.seized_at.pairs(exhibits % n)
        sites = _distinct(np.concatenate((footprint[row] // n * n + sites,
                                          exhibits[row2] // n * n + seized)))
        bounds = np.arange(len(groups) + 1) * n
        (fp, fp_at), (st, st_at), (ex, ex_at) = (
            (found % n, np.searchsorted(found, bounds).tolist())
            for found in (footprint, sites, exhibits))
        for g in range(len(groups)):
            yield (fp[fp_at[g]:fp_at[g + 1]], st[st_at[g]:st_at[g + 1]],
                   ex[ex_at[g]:ex_at[g + 1]])

    def named(self, found: np.ndarray) -> set[str]:
        """The ids of the nodes at positions ``found``."""
        ids = self.ids
        return {ids[i] for i in found.tolist()}

    def footprint(self, members: Iterable[str]) -> set[str]:
        """Members plus the identifiers around them (see the module docstring)."""
        return self.named(next(self.around([self.at(members)]))[0])


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct values of ``keys``, sorted: by a sort, since ``np.unique``'s hash table
    (numpy 2.4) took 6.9 CPU-s for 4M keys that a sort makes distinct in 0.36.

    >>> _distinct(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    keys = np.sort(keys)
    found: np.ndarray = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys
    return found


def cell_of(cells: Iterable[CellRecord]) -> dict[str, str]:
    """Cell id by member node id; a node in several cells goes to its most confident one."""
    best: dict[str, tuple[float, str]] = {}
    for cell in cells:
        for member in cell.members:
            current = best.get(member.node_id)
            if current is None or member.confidence > current[0]:
                best[member.node_id] = (member.confidence, cell.cell_id)
    return {node: cell for node, (_, cell) in best.items()}


@dataclass
class CellReach:
    """Everything the maps and packages say about one cell."""

    cell_id: str
    members: list[str]
    footprint: set[str]
    victims: set[str] = field(default_factory=set)
    payments: list[Paid] = field(default_factory=list)
    """Payments into the cell's cards and wallets."""
    cards: set[str] = field(default_factory=set)
    """The cards and wallets that go to the cell (whoever holds them)."""
    sites: set[str] = field(default_factory=set)
    exhibits: set[str] = field(default_factory=set)

    def money(
        self, graph: nx.MultiDiGraph, victims: Iterable[str] | None = None
    ) -> dict[str, float]:
        """Total paid to the cell per currency (only by ``victims`` when given)."""
        allowed = None if victims is None else set(victims)
        totals: dict[str, float] = defaultdict(float)
        for paid in self.payments:
            if allowed is None or paid.payer in allowed:
                attrs = graph.nodes[paid.payment]
                totals[str(attrs.get("currency") or "?")] += float(attrs.get("amount") or 0.0)
        return {cur: round(total, 2) for cur, total in sorted(totals.items())}


def reach_cells(graph: nx.MultiDiGraph, cells: Sequence[CellRecord],
                run: Sequence[CellRecord] | None = None) -> list[CellReach]:
    """The reach of each of ``cells``; cards and wallets go to one cell each among the cells
    of ``run`` (default: ``cells``), as in the cell report."""
    near = _Near(graph)
    members = {c.cell_id: near.members(c) for c in run or cells}  # looked up once
    hits = reached_by_cell(graph, {cell: ids for cell, (ids, _) in members.items()})
    return _reaches(cells, [members[c.cell_id] for c in cells], hits, near)


def reach(graph: nx.MultiDiGraph, cell: CellRecord, hit: Reached,
          near: _Near | None = None) -> CellReach:
    """The footprint, victims, payments, raid sites and exhibits of ``cell`` in ``graph``;
    ``hit`` is what it reached among its run's cells (see :func:`reach_cells`), ``near`` the
    graph's index if a caller reaching many cells built it once."""
    near = _Near(graph) if near is None else near
    return _reaches([cell], [near.members(cell)], {cell.cell_id: hit}, near)[0]


def _reaches(cells: Sequence[CellRecord], members: Sequence[tuple[list[str], np.ndarray]],
             hits: Mapping[str, Reached], near: _Near) -> list[CellReach]:
    """:func:`reach` of each of ``cells``, of its ``members`` (:meth:`_Near.members`)."""
    found = near.around([at for _, at in members])
    return [CellReach(cell.cell_id, held, near.named(footprint), set(hit.victims),
                      list(hit.payments), set(hit.cards), sites=near.named(sites),
                      exhibits=near.named(exhibits))
            for cell, (held, _), hit, (footprint, sites, exhibits) in zip(
                cells, members, map(hits.__getitem__, (c.cell_id for c in cells)), found,
                strict=True)]


@dataclass(frozen=True, slots=True)
class Figures:
    """A cell's victims, victims per country and money received, and where they come from."""

    victims: int
    by_country: dict[str, int]
    money: Money
    source: str


def figures(graph: nx.MultiDiGraph, found: CellReach, cell: CellRecord) -> Figures:
    """The cell report's figures (of its report, or as read without it: ``figures``); for a
    cell saved without a report, the same counted from ``graph``."""
    report = cell.summary or cell.figures
    if report is not None:
        return Figures(report.victims, report.victims_by_country, report.money, "cell report")
    counted: dict[str, int] = defaultdict(int)
    for victim in found.victims:
        counted[country_label(graph, victim)] += 1
    return Figures(len(found.victims), dict(sorted(counted.items())),
                   money_received(graph, found.payments, FxTable.load()), "traced evidence")


def select_cells(store: Store, only: Iterable[str] | None, *, reports: bool = True
                 ) -> tuple[str, list[CellRecord]]:
    """The latest cell run's id and its cells (only those named, in that order, see
    :func:`named_cells`), without their explanations: no map, timeline or package shows
    them; without ``reports``, with only their figures (see :meth:`Store.load_cells`)."""
    latest = store.latest_cells(explanations=False, reports=reports)
    if latest is None:
        raise NotFound("no cells in this case yet: run cell detection first")
    run, records = latest
    if not records:
        raise NotFound(f"the latest cell run {run.run_id} found no cells (no two agents tied "
                       "closely enough; see ringmap cells)")
    return run.run_id, records if only is None else named_cells(run.run_id, records, only)


def named_cells(run_id: str, records: Sequence[CellRecord], only: Iterable[str]
                ) -> list[CellRecord]:
    """Those of the cells ``records`` of the run ``run_id`` that ``only`` names, in that order
    (a caller that needs the whole run too reads it once: each read validates every cell's
    report, some 2.5 ms a cell)."""
    wanted = list(dict.fromkeys(only))
    known = {c.cell_id: c for c in records}
    missing = [c for c in wanted if c not in known]
    if missing:
        raise NotFound(f"no cell {', '.join(missing)} in the latest cell run {run_id} "
                       f"(cells: {', '.join(sorted(known)[:10])}"
                       f"{', …' if len(known) > 10 else ''})")
    return [known[c] for c in wanted]
