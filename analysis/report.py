"""The report of each cell: who, with what, where, against whom, for how much, and who matters.

Per cell (:class:`~ringmap.graphs.model.CellReport`): members (persons, accounts; ``agents``
counts the identified suspects, ``units`` the agent-graph vertices: suspects plus accounts
whose owner is unknown), the shared infrastructure they hold (phones, SIMs, devices, emails,
cards and wallets, IPs), raid sites and offices, victims by country and money received per
currency, in USD at the payment's date (:mod:`ringmap.analysis.fx`) and per payer's country
(victims and money as :mod:`ringmap.analysis.victims` defines them), reports, key players
(strength, betweenness, PageRank in the cell), brokers (agents with strong ties into several
cells; identifiers several cells hold) and the agents in no cell tied to it. The report is built
once, saved with the cell and read back by ``ringmap cell``/``cells``, maps, packages and run
summaries. Victims appear only by count and country.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, partial
from typing import Any

import networkx as nx
from pydantic import BaseModel, ConfigDict

from ringmap.analysis.cells import Cell, CellsResult
from ringmap.analysis.fx import FxTable
from ringmap.analysis.keyplayers import centralities, participation, ties_by_cell
from ringmap.analysis.victims import (
    Links,
    Paid,
    Reached,
    reached,
    reached_by_cell,
    victim_country,
)
from ringmap.graphs.model import (
    Bridge,
    Broker,
    CellReport,
    Centrality,
    CountryMoney,
    DisputedRole,
    KeyPlayer,
    Listed,
    Listing,
    Money,
    Outsider,
    RoleClaim,
    built,
)
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy

__all__ = ["CELL_COLUMNS", "UNKNOWN_COUNTRY", "Labels", "Reporter", "Reports",
           "UnassignedAgent", "build_reports", "cell_rows", "country_label", "disputed_roles",
           "holdings_by_cell", "money_received", "unassigned_row"]

_INFRA_KINDS = ("Phone", "SimCard", "Device", "Email", "IPAddress", "PaymentCard",
                "FinancialAccount", "IdDocument")
_LIST_CAP = 25
_BROKER_MIN_PARTICIPATION = 0.3
_BROKER_MIN_SHARE = 0.15

#: how a victim with no known country is counted (as the named queries show it)
UNKNOWN_COUNTRY = "??"


def country_label(evidence: nx.MultiDiGraph, person: str | None, links: Links | None = None
                  ) -> str:
    """The country a victim (or payer) is counted under: :func:`victim_country` or unknown."""
    return (victim_country(evidence, person, links) if person else None) or UNKNOWN_COUNTRY


@dataclass
class _Tally:
    """Payments added up: how many, per currency, in USD."""

    payments: int = 0
    by_currency: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    usd: float = 0.0

    def add(self, amount: float, currency: str, usd: float | None) -> None:
        self.payments += 1
        self.by_currency[currency] += amount
        self.usd += usd or 0.0

    def amounts(self) -> dict[str, float]:
        return {c: round(a, 2) for c, a in sorted(self.by_currency.items())}


def money_received(evidence: nx.MultiDiGraph, payments: Sequence[Paid], fx: FxTable,
                   country: Callable[[str | None], str] | None = None) -> Money:
    """Payments into a cell's cards and wallets: count, amount per currency, USD total, what
    was not converted, and the same split by the payer's country (``country``: a payer's
    :func:`country_label` in ``evidence``, remembered across calls where it is given).

    >>> g = nx.MultiDiGraph()
    >>> g.add_node("Payment:wu/1", type="Payment", amount=1000.0, currency="PHP",
    ...            time=datetime(2014, 3, 1))
    >>> money_received(g, [Paid("Payment:wu/1", "PaymentCard:x", None)], FxTable.load()).usd
    22.52
    """
    country = partial(country_label, evidence) if country is None else country
    total = _Tally()
    countries: dict[str, _Tally] = defaultdict(_Tally)
    unconverted = undated = 0
    seen: set[str] = set()
    for paid in payments:
        if paid.payment in seen or paid.payment not in evidence:
            continue
        seen.add(paid.payment)
        attrs = evidence.nodes[paid.payment]
        amount, currency = attrs.get("amount"), attrs.get("currency")
        if amount is None or not currency:
            continue
        when = attrs.get("time")
        if not isinstance(when, datetime | date):
            when = None
            undated += 1
        converted = fx.to_usd(float(amount), str(currency), when)
        unconverted += converted is None
        total.add(float(amount), str(currency), converted)
        countries[country(paid.payer)].add(float(amount), str(currency), converted)
    return Money(
        payments=total.payments, by_currency=total.amounts(), usd=round(total.usd, 2),
        unconverted=unconverted, undated=undated, fx_table=fx.source,
        by_country={code: CountryMoney(payments=t.payments, by_currency=t.amounts(),
                                       usd=round(t.usd, 2))
                    for code, t in sorted(countries.items())})


def holdings_by_cell(result: CellsResult
                     ) -> tuple[dict[int, dict[str, int]], dict[str, list[str]]]:
    """Per cell (by index): identifiers its members hold -> how many of them hold it; and the
    identifiers held in several cells -> the ids of those cells, in order (one list, which
    every report listing the identifier shares: held in k cells, it is listed k times)."""
    held: dict[int, dict[str, int]] = defaultdict(dict)
    spread: dict[str, list[str]] = {}
    membership = result.membership
    ids = [c.cell_id for c in result.cells]
    for ident, holders in result.agents.incidence.items():
        cells = Counter(membership[u] for u in holders)
        cells.pop(-1, None)
        for cell_index, n in cells.items():
            held[cell_index][ident] = n
        if len(cells) > 1:
            spread[ident] = [ids[c] for c in sorted(cells)]
    return held, spread


@dataclass
class Labels:
    """The labels of one evidence graph's nodes as ``privacy`` shows them, each worked out
    once: a run's reports and explanations show the same identifiers over and over, and a
    label reads the node's properties."""

    privacy: Privacy
    graph: nx.MultiDiGraph
    _made: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __call__(self, node: str) -> str:
        """The label of ``node`` (a node of :attr:`graph`)."""
        found = self._made.get(node)
        if found is None:
            found = self._made[node] = self.privacy.label(node, self.graph.nodes[node])
        return found


def _listed(result: CellsResult, labels: Labels, ident: str, members: int) -> Listed:
    agents = result.agents
    # a run's reports list hundreds of thousands of identifiers: built, not validated (see
    # built), as are the other many parts of a report below
    return built(Listed, id=labels.privacy.public_id(ident), label=labels(ident),
                 members=members, shared_by=len(agents.incidence[ident]),
                 infrastructure=ident in agents.infrastructure)


def _listing(result: CellsResult, labels: Labels, held: Mapping[str, int], of_kind: list[str]
             ) -> Listing:
    """``of_kind``, identifiers of one kind the cell holds, the most held first."""
    items = sorted(of_kind, key=lambda i: (-held[i], i))
    return built(Listing, count=len(items),
                 items=[_listed(result, labels, i, held[i]) for i in items[:_LIST_CAP]])


def _brokers(result: CellsResult) -> dict[int, list[Broker]]:
    """Per cell: agents of any cell with strong ties into it and into others."""
    graph, membership = result.agents.graph, result.membership
    # the ties read once (for the participation too), a part at a time
    ties = ties_by_cell(graph, membership, result.agents.ends)
    coefficient = participation(graph, membership, ties)
    ids = [c.cell_id for c in result.cells]
    out: dict[int, list[Broker]] = defaultdict(list)
    for v, by_cell in enumerate(ties):
        total = sum(by_cell.values())
        strong = {c: w for c, w in by_cell.items() if c >= 0 and w >= _BROKER_MIN_SHARE * total}
        if coefficient[v] < _BROKER_MIN_PARTICIPATION or len(strong) < 2:
            continue
        entry = Broker(node=result.agents.units[v],
                       cell=ids[membership[v]] if membership[v] >= 0 else None,
                       participation=round(coefficient[v], 3),
                       ties={ids[c]: round(w, 3) for c, w in sorted(strong.items())})
        for c in strong:
            out[c].append(entry)
    return out


def _bridges(result: CellsResult, privacy: Privacy, held: Mapping[str, int],
             spread: Mapping[str, list[str]]) -> list[Bridge]:
    """Identifiers this cell shares with other cells (``spread``: see
    :func:`holdings_by_cell`), the most specific (fewest holders) first: a handset passed
    between two cells says more than a carrier address."""
    agents = result.agents
    # ranked before any is built, only the first few kept (ties: in the order held)
    ranked = sorted((len(agents.incidence[ident]), len(cells), privacy.public_id(ident), n,
                     ident) for n, ident in enumerate(held) if (cells := spread.get(ident)))
    return [built(Bridge, identifier=shown, kind=agents.kinds[ident], shared_by=shared_by,
                  cells=spread[ident],
                  infrastructure=ident in agents.infrastructure)
            for shared_by, _cells, shown, _n, ident in ranked[:_LIST_CAP]]


def _outsiders(result: CellsResult, labels: Labels, held: Mapping[int, Mapping[str, int]],
               units_held: Mapping[int, list[str]]) -> dict[int, list[Outsider]]:
    """Per cell: agents in no cell holding identifiers its members hold, most shared first
    (``units_held``: :meth:`AgentGraph.holdings`)."""
    out: dict[int, list[Outsider]] = defaultdict(list)
    for v, idents in sorted(units_held.items()):
        if result.membership[v] >= 0:
            continue
        shared: dict[int, list[str]] = defaultdict(list)
        for ident in idents:
            for cell_index in {result.membership[u] for u in result.agents.incidence[ident]}:
                if cell_index >= 0:
                    shared[cell_index].append(ident)
        for cell_index, found in shared.items():
            cell_held = held[cell_index]
            found.sort(key=lambda i: (-cell_held[i], i))
            out[cell_index].append(built(
                Outsider, node=result.agents.units[v],
                shared=[_listed(result, labels, i, cell_held[i]) for i in found[:_LIST_CAP]]))
    for outsiders in out.values():
        outsiders.sort(key=lambda o: (-len(o.shared), o.node))
        del outsiders[_LIST_CAP:]
    return out


def _by_country(country: Callable[[str], str], victims: Collection[str]) -> dict[str, int]:
    return dict(sorted(Counter(country(v) for v in victims).items()))


def _cell_report(
    result: CellsResult,
    cell: Cell,
    labels: Labels,
    country: Callable[[str | None], str],
    held: Mapping[str, int],
    spread: Mapping[str, list[str]],
    hit: Reached,
    brokers: Sequence[Broker],
    outsiders: Sequence[Outsider],
    fx: FxTable,
    disputed: list[DisputedRole],
) -> CellReport:
    agents = result.agents
    evidence = agents.evidence
    types = {m: evidence.nodes[m].get("type") if m in evidence else None for m in cell.members}
    scores = centralities(agents.graph, cell.units)
    ranked = sorted(scores, key=lambda v: (-scores[v].pagerank, agents.units[v]))
    confidences = list(cell.members.values())
    # the identifiers held, by kind (in the order held): one pass, not one per kind listed
    by_kind: dict[str, list[str]] = defaultdict(list)
    for ident in held:
        by_kind[agents.kinds[ident]].append(ident)

    def centrality(v: int) -> dict[str, float]:
        return {"degree": round(float(scores[v].degree), 3),
                "betweenness": round(float(scores[v].betweenness), 4),
                "pagerank": round(float(scores[v].pagerank), 4)}

    return CellReport(
        agents=sum(1 for t in types.values() if t == "Person"),
        units=len(cell.units),
        persons=sorted(m for m, t in types.items() if t == "Person"),
        accounts=sorted(m for m, t in types.items() if t == "Account"),
        confidence=round(sum(confidences) / len(confidences), 4),
        infrastructure={k: _listing(result, labels, held, by_kind[k]) for k in _INFRA_KINDS
                        if k in by_kind},
        sites=_listing(result, labels, held, by_kind.get("Location", [])).items,
        victims=len(hit.victims),
        victims_by_country=_by_country(country, hit.victims),
        unidentified_contacts=len(hit.unidentified),
        money=money_received(evidence, hit.payments, fx, country),
        reports=sorted(by_kind.get("Report", []))[:_LIST_CAP],
        key_players=[built(KeyPlayer, node=agents.units[v], **centrality(v))
                     for v in ranked[:3]],
        centrality={agents.units[v]: built(Centrality, **centrality(v)) for v in scores},
        brokers=list(brokers)[:_LIST_CAP],
        bridging_identifiers=_bridges(result, labels.privacy, held, spread),
        unassigned=list(outsiders),
        disputed_roles=disputed,
    )


class UnassignedAgent(BaseModel):
    """An agent in no cell, with its accounts and what it reached on its own (victims, and
    money into every card or wallet it claims, see :func:`~ringmap.analysis.victims.reached`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str
    accounts: list[str]
    victims: int
    victims_by_country: dict[str, int]
    money: Money
    tied_to: list[str]
    """Cells whose members hold identifiers it holds."""


@dataclass(frozen=True)
class Reports:
    """The report of every cell of a run, and the agents in no cell."""

    cells: dict[str, CellReport]
    unassigned: list[UnassignedAgent]


def _agent_side(result: CellsResult) -> frozenset[str]:
    """Every agent-graph vertex and the accounts it runs: contacts among them are not
    victims."""
    agents = result.agents
    return frozenset({*agents.units, *agents.shared_accounts,
                      *(a for accounts in agents.accounts.values() for a in accounts)})


class Reporter:
    """What the reports of a run's cells share, worked out once; each cell's report made when
    asked (:meth:`cell`), so that a caller saving them as it goes never holds them all (at
    national size every report of a run at once is gigabytes, issue 14).

    Parameters are those of :func:`build_reports`.
    """

    def __init__(
        self, result: CellsResult, privacy: Privacy, fx: FxTable | None = None,
        disputed: Mapping[str, DisputedRole] | None = None, labels: Labels | None = None,
        holdings: tuple[dict[int, dict[str, int]], dict[str, list[str]]] | None = None,
        units_held: Mapping[int, list[str]] | None = None,
    ) -> None:
        self.result = result
        self.fx = fx or FxTable.load()
        self.disputed = disputed or {}
        evidence = result.agents.evidence
        self.labels = Labels(privacy, evidence) if labels is None else labels
        self.links = Links(evidence)  # the cells and the agents in none read each node once
        # a victim's or payer's country, looked up once for the whole run
        self.country = cache(partial(country_label, evidence, links=self.links))
        self.everyone = _agent_side(result)
        self.brokers = _brokers(result)
        self.held, self.spread = holdings_by_cell(result) if holdings is None else holdings
        self.outsiders = _outsiders(
            result, self.labels, self.held,
            result.agents.holdings() if units_held is None else units_held)
        self.hits = reached_by_cell(evidence, {c.cell_id: c.members for c in result.cells},
                                    self.everyone, self.links)

    def cell(self, index: int) -> CellReport:
        """The report of the run's cell ``index``, made once: what it reached is let go once
        its report has it (issue 16)."""
        cell = self.result.cells[index]
        return _cell_report(
            self.result, cell, self.labels, self.country, self.held[index], self.spread,
            self.hits.pop(cell.cell_id), self.brokers[index], self.outsiders[index], self.fx,
            [self.disputed[m] for m in sorted(cell.members) if m in self.disputed])

    def unassigned(self) -> list[UnassignedAgent]:
        """The agents in no cell, by node id, each with the cells it is tied to."""
        result, evidence = self.result, self.result.agents.evidence
        tied: dict[str, list[str]] = defaultdict(list)
        for i, cell in enumerate(result.cells):  # as each cell's report lists them
            for outsider in self.outsiders.get(i, ()):
                tied[outsider.node].append(cell.cell_id)
        unassigned = []
        for v, unit in enumerate(result.agents.units):
            if result.membership[v] >= 0:
                continue
            accounts = result.agents.accounts.get(unit, [])
            hit = reached(evidence, [unit, *accounts], self.everyone, self.links)
            unassigned.append(UnassignedAgent(
                node=unit, accounts=accounts, victims=len(hit.victims),
                victims_by_country=_by_country(self.country, hit.victims),
                money=money_received(evidence, hit.payments, self.fx, self.country),
                tied_to=tied[unit]))
        return sorted(unassigned, key=lambda a: a.node)


def build_reports(
    result: CellsResult, privacy: Privacy, fx: FxTable | None = None,
    disputed: Mapping[str, DisputedRole] | None = None, labels: Labels | None = None,
    holdings: tuple[dict[int, dict[str, int]], dict[str, list[str]]] | None = None,
    units_held: Mapping[int, list[str]] | None = None,
) -> Reports:
    """The report of every cell of ``result``, by cell id, and the agents in no cell
    (victims as ``privacy`` shows them); ``disputed`` are the persons whose sources disagree
    on their role (see :func:`disputed_roles`), flagged in their cells' reports.

    ``labels`` (of ``result``'s evidence graph, by ``privacy``), ``holdings``
    (:func:`holdings_by_cell`) and ``units_held`` (:meth:`AgentGraph.holdings`) are passed in
    by a caller that uses them too. A caller that saves the reports as they are made uses
    :class:`Reporter` instead.
    """
    reporter = Reporter(result, privacy, fx, disputed, labels, holdings, units_held)
    cells = {cell.cell_id: reporter.cell(i) for i, cell in enumerate(result.cells)}
    return Reports(cells, reporter.unassigned())


def disputed_roles(store: Store, privacy: Privacy) -> dict[str, DisputedRole]:
    """The persons whose sources disagree on their role, by node id, each with every source's
    claim (the person as ``privacy`` shows them)."""
    return {c.item: DisputedRole(person=privacy.public_id(c.item), claims=[
        RoleClaim(role=str(s.value), file=s.source_file, grading=str(s.grading), shown=s.shown)
        for s in c.statements]) for c in store.conflicts(["Person"], ["role"])}


#: the columns of :func:`cell_rows`, in order
CELL_COLUMNS = ["cell", "agents", "accounts", "victims", "countries", "usd", "key_player",
                "confidence"]


def cell_rows(cell_id: str, report: CellReport | None) -> dict[str, Any]:
    """The one-line overview of a cell, as ``ringmap cells`` prints it (only its id when it
    was saved without a report)."""
    if report is None:
        return dict.fromkeys(CELL_COLUMNS) | {"cell": cell_id}
    return {
        "cell": cell_id,
        "agents": report.agents,
        "accounts": len(report.accounts),
        "victims": report.victims,
        "countries": ",".join(report.victims_by_country),
        "usd": report.money.usd,
        "key_player": report.key_players[0].node if report.key_players else None,
        "confidence": report.confidence,
    }


def unassigned_row(agent: UnassignedAgent) -> dict[str, Any]:
    """An agent in no cell as a row of :data:`CELL_COLUMNS`: cell ``unassigned``, the agent
    as its key player."""
    return {
        "cell": "unassigned",
        "agents": int(agent.node.startswith("Person:")),
        "accounts": len(agent.accounts) + int(agent.node.startswith("Account:")),
        "victims": agent.victims,
        "countries": ",".join(agent.victims_by_country),
        "usd": agent.money.usd,
        "key_player": agent.node,
        "confidence": None,
    }
