"""What a cell holds and whom it reached: its footprint, victims, money, raid sites, exhibits.

The footprint of a cell is its members (agents and accounts) and the infrastructure around them:
identifiers one hop from a member, and non-account identifiers one hop further (the SIM in an
agent's phone, the number of that SIM). Victims are persons whose accounts or numbers the
footprint contacted, who paid into a card or wallet of the footprint, or whom a report names
together with an identifier of the footprint: victims with a direct evidence path to the cell.
Where cell detection stored its own report with the cell (victims, by country, money),
:func:`figures` prefers those numbers, so maps and packages agree with ``ringmap cell``.

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ringmap.errors import NotFound
from ringmap.graphs.model import CellRecord
from ringmap.graphs.schema import SCHEMA, Role
from ringmap.graphs.store import Store

__all__ = ["INFRA_RELS", "CellReach", "Figures", "cell_of", "figures", "footprint", "linked",
           "reach", "select_cells", "victim_country"]

#: Relationships that tie infrastructure to the people and accounts that use it.
INFRA_RELS = frozenset({"USES", "HOLDS", "REGISTERED_TO", "LOGGED_IN_FROM", "LOGGED_IN_ON",
                        "SIM_IN", "HAS_NUMBER"})
_MONEY = frozenset({"PaymentCard", "FinancialAccount"})
_CONTACTABLE = frozenset({"Account", "Phone"})
_SITE_RELS = frozenset({"WORKS_AT", "ARRESTED_AT"})


def linked(
    graph: nx.MultiDiGraph, node: str, rels: Iterable[str] | None = None
) -> Iterator[tuple[str, str, str]]:
    """``(relationship, direction, other node)`` for every edge touching ``node``.

    ``direction`` is ``"out"`` when ``node`` is the source.
    """
    wanted = None if rels is None else frozenset(rels)
    for direction, adjacent in (("out", graph.succ[node]), ("in", graph.pred[node])):
        for other, keyed in adjacent.items():
            for rel in keyed:  # multigraph edge keys are the relationship types
                if wanted is None or rel in wanted:
                    yield rel, direction, other


def _type(graph: nx.MultiDiGraph, node: str) -> str:
    return str(graph.nodes[node].get("type", ""))


def footprint(graph: nx.MultiDiGraph, members: Iterable[str]) -> set[str]:
    """Members plus the identifiers around them (see the module docstring)."""
    found = {m for m in members if m in graph}
    identifiers = SCHEMA.identifier_types
    ring1 = {other for m in found for _, _, other in linked(graph, m, INFRA_RELS)
             if _type(graph, other) in identifiers}
    ring2 = {other for n in ring1 for _, _, other in linked(graph, n, INFRA_RELS)
             if _type(graph, other) in identifiers and _type(graph, other) != "Account"}
    return found | ring1 | ring2


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
    payments: list[tuple[str, str]] = field(default_factory=list)  # (payment, victim)
    sites: set[str] = field(default_factory=set)
    exhibits: set[str] = field(default_factory=set)

    def money(
        self, graph: nx.MultiDiGraph, victims: Iterable[str] | None = None
    ) -> dict[str, float]:
        """Total paid to the cell per currency (only by ``victims`` when given)."""
        allowed = None if victims is None else set(victims)
        totals: dict[str, float] = defaultdict(float)
        for payment, victim in self.payments:
            if allowed is None or victim in allowed:
                attrs = graph.nodes[payment]
                totals[str(attrs.get("currency") or "?")] += float(attrs.get("amount") or 0.0)
        return {cur: round(total, 2) for cur, total in sorted(totals.items())}


def _victim_users(graph: nx.MultiDiGraph, node: str) -> set[str]:
    return {other for rel, direction, other in linked(graph, node, ("USES",))
            if direction == "in" and graph.nodes[other].get("role") == Role.VICTIM}


def reach(graph: nx.MultiDiGraph, cell: CellRecord) -> CellReach:
    """The footprint, victims, payments, raid sites and exhibits of ``cell`` in ``graph``."""
    members = [m.node_id for m in cell.members if m.node_id in graph]
    result = CellReach(cell.cell_id, members, footprint(graph, members))
    for node in result.footprint:
        kind = _type(graph, node)
        if kind in _CONTACTABLE:
            for _, _, other in linked(graph, node, ("CONTACTED",)):
                result.victims |= _victim_users(graph, other)
        if kind in _MONEY:
            for _, direction, payment in linked(graph, node, ("PAID_TO",)):
                if direction == "in":
                    for _, _, payer in linked(graph, payment, ("PAID",)):
                        if graph.nodes[payer].get("role") == Role.VICTIM:
                            result.victims.add(payer)
                            result.payments.append((payment, payer))
        for _, direction, report in linked(graph, node, ("NAMES",)):
            if direction == "in":  # a report naming this identifier and a victim
                result.victims |= {other for _, _, other in linked(graph, report, ("NAMES",))
                                   if graph.nodes[other].get("role") == Role.VICTIM}
        result.exhibits |= {other for _, direction, other in
                            linked(graph, node, ("SEIZED_FROM", "EXHIBIT_OF")) if direction == "in"}
        if kind == "Person":
            result.sites |= {other for _, _, other in linked(graph, node, _SITE_RELS)}
    for exhibit in result.exhibits:
        result.sites |= {other for _, _, other in linked(graph, exhibit, ("SEIZED_AT",))}
    result.payments.sort()
    return result


@dataclass(frozen=True, slots=True)
class Figures:
    """A cell's victims, victims per country and money received, and where they come from."""

    victims: int
    by_country: dict[str, int]
    money: dict[str, float]
    source: str


def figures(graph: nx.MultiDiGraph, found: CellReach, cell: CellRecord) -> Figures:
    """The cell report's figures when cell detection stored them, else the traced ones."""
    report = cell.summary
    victims, by_country, money = (report.get("victims"), report.get("victims_by_country"),
                                  report.get("money"))
    if isinstance(victims, int) and isinstance(by_country, dict):
        currencies = money.get("by_currency") if isinstance(money, dict) else None
        return Figures(
            victims, {str(k): int(v) for k, v in sorted(by_country.items())},
            ({str(k): round(float(v), 2) for k, v in sorted(currencies.items())}
             if isinstance(currencies, dict) else found.money(graph)),
            "cell report")
    counted: dict[str, int] = defaultdict(int)
    for victim in found.victims:
        counted[victim_country(graph, victim) or "unknown"] += 1
    return Figures(len(found.victims), dict(sorted(counted.items())), found.money(graph),
                   "traced evidence")


def victim_country(graph: nx.MultiDiGraph, person: str) -> str | None:
    """The ISO code of a victim's country: a LOCATED_IN edge, else the nationality."""
    for _, direction, other in linked(graph, person, ("LOCATED_IN",)):
        if direction == "out":
            code = graph.nodes[other].get("code")
            if code:
                return str(code)
    nationality: Any = graph.nodes[person].get("nationality")
    return str(nationality) if nationality else None


def select_cells(store: Store, only: Iterable[str] | None) -> tuple[str, list[CellRecord]]:
    """The latest cell run's id and its cells (only those named, in that order)."""
    latest = store.latest_cells()
    if latest is None:
        raise NotFound("no cells in this case yet: run cell detection first")
    run, records = latest
    if not records:
        raise NotFound(f"the latest cell run {run.run_id} found no cells (no two agents tied "
                       "closely enough; see ringmap cells)")
    if only is not None:
        wanted = list(dict.fromkeys(only))
        known = {c.cell_id: c for c in records}
        missing = [c for c in wanted if c not in known]
        if missing:
            raise NotFound(f"no cell {', '.join(missing)} in the latest cell run {run.run_id} "
                           f"(cells: {', '.join(sorted(known)[:10])}"
                           f"{', …' if len(known) > 10 else ''})")
        records = [known[c] for c in wanted]
    return run.run_id, records
