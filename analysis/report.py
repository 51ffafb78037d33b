"""The report of each cell: who, with what, where, against whom, for how much, and who matters.

Per cell: members (persons, accounts; ``agents`` counts the identified suspects, ``units``
the agent-graph vertices: suspects plus accounts whose owner is unknown), the shared
infrastructure they hold (phones, SIMs, devices, emails, cards and wallets, IPs), raid sites
and offices, victims by country, money received per currency and in USD at the payment's date
(:mod:`ringmap.analysis.fx`), reports, key players (strength, betweenness, PageRank in the
cell) and brokers (agents with strong ties into several cells; identifiers several cells
hold). Everything is plain JSON so it is stored with the cell and read back by
``ringmap cell``, maps and exports. Victims appear only under pseudonyms and by country.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import networkx as nx

from ringmap.analysis.cells import Cell, CellsResult
from ringmap.analysis.fx import FxTable
from ringmap.analysis.keyplayers import centralities, participation, ties_by_cell
from ringmap.privacy import Privacy

__all__ = ["CELL_COLUMNS", "build_reports", "cell_rows", "money_received", "victim_country"]

_INFRA_KINDS = ("Phone", "SimCard", "Device", "Email", "IPAddress", "PaymentCard",
                "FinancialAccount", "IdDocument")
_MONEY_KINDS = frozenset({"PaymentCard", "FinancialAccount"})
_LIST_CAP = 25
_BROKER_MIN_PARTICIPATION = 0.3
_BROKER_MIN_SHARE = 0.15


def victim_country(evidence: nx.MultiDiGraph, victim: str) -> str:
    """A victim's country: LOCATED_IN, else nationality, else ``unknown``."""
    if victim not in evidence:
        return "unknown"
    for _src, dst, rel in evidence.out_edges(victim, keys=True):
        if rel == "LOCATED_IN":
            return str(evidence.nodes[dst].get("code") or dst.split(":", 1)[-1])
    return str(evidence.nodes[victim].get("nationality") or "unknown")


def money_received(
    evidence: nx.MultiDiGraph, cards: Sequence[str], fx: FxTable
) -> dict[str, Any]:
    """Payments into ``cards``: count, amount per currency, USD total and what was not converted.

    >>> g = nx.MultiDiGraph()
    >>> g.add_node("Payment:wu/1", type="Payment", amount=1000.0, currency="PHP",
    ...            time=datetime(2014, 3, 1))
    >>> _ = g.add_edge("Payment:wu/1", "PaymentCard:x", key="PAID_TO")
    >>> money_received(g, ["PaymentCard:x"], FxTable.load())["usd"]
    22.52
    """
    by_currency: dict[str, float] = defaultdict(float)
    usd = 0.0
    payments = unconverted = undated = 0
    seen: set[str] = set()
    for card in cards:
        if card not in evidence:
            continue
        for payment, _dst, rel in evidence.in_edges(card, keys=True):
            if rel != "PAID_TO" or payment in seen:
                continue
            seen.add(payment)
            attrs = evidence.nodes[payment]
            amount, currency = attrs.get("amount"), attrs.get("currency")
            if amount is None or not currency:
                continue
            payments += 1
            by_currency[str(currency)] += float(amount)
            when = attrs.get("time")
            if not isinstance(when, datetime | date):
                when = None
                undated += 1
            converted = fx.to_usd(float(amount), str(currency), when)
            if converted is None:
                unconverted += 1
            else:
                usd += converted
    return {"payments": payments,
            "by_currency": {c: round(a, 2) for c, a in sorted(by_currency.items())},
            "usd": round(usd, 2), "unconverted": unconverted, "undated": undated,
            "fx_table": fx.source}


def _owner_cells(result: CellsResult, kinds: frozenset[str]) -> dict[str, int]:
    """Identifier of these kinds -> the one cell holding most of it (ties: the first cell)."""
    owner: dict[str, int] = {}
    for ident, holders in result.agents.incidence.items():
        if result.agents.kinds[ident] not in kinds:
            continue
        votes = Counter(result.membership[u] for u in holders if result.membership[u] >= 0)
        if votes:
            owner[ident] = min(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return owner


def _holdings(result: CellsResult) -> dict[int, dict[str, int]]:
    """Per cell: identifiers its members hold -> how many of them hold it."""
    held: dict[int, dict[str, int]] = defaultdict(dict)
    membership = result.membership
    for ident, holders in result.agents.incidence.items():
        for cell_index, n in Counter(membership[u] for u in holders).items():
            if cell_index >= 0:
                held[cell_index][ident] = n
    return held


def _listing(
    result: CellsResult, privacy: Privacy, held: Mapping[str, int], kind: str
) -> dict[str, Any]:
    agents = result.agents
    items = sorted((i for i in held if agents.kinds[i] == kind), key=lambda i: (-held[i], i))
    return {"count": len(items), "items": [
        {"id": privacy.public_id(i), "label": privacy.label(i, agents.evidence.nodes[i]),
         "members": held[i],
         "shared_by": len(agents.incidence[i]), "infrastructure": i in agents.infrastructure}
        for i in items[:_LIST_CAP]]}


def _brokers(result: CellsResult) -> dict[int, list[dict[str, Any]]]:
    """Per cell: agents of any cell with strong ties into it and into others."""
    graph, membership = result.agents.graph, result.membership
    ties = ties_by_cell(graph, membership)
    coefficient = participation(graph, membership)
    ids = [c.cell_id for c in result.cells]
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for v, by_cell in enumerate(ties):
        total = sum(by_cell.values())
        strong = {c: w for c, w in by_cell.items() if c >= 0 and w >= _BROKER_MIN_SHARE * total}
        if coefficient[v] < _BROKER_MIN_PARTICIPATION or len(strong) < 2:
            continue
        entry = {"node": result.agents.units[v],
                 "cell": ids[membership[v]] if membership[v] >= 0 else None,
                 "participation": round(coefficient[v], 3),
                 "ties": {ids[c]: round(w, 3) for c, w in sorted(strong.items())}}
        for c in strong:
            out[c].append(entry)
    return out


def _bridges(
    result: CellsResult, privacy: Privacy, held: Mapping[str, int]
) -> list[dict[str, Any]]:
    """Identifiers this cell shares with other cells, the most specific (fewest holders)
    first: a handset passed between two cells says more than a carrier address."""
    ids = [c.cell_id for c in result.cells]
    rows: list[dict[str, Any]] = []
    for ident in held:
        cells = sorted({result.membership[u] for u in result.agents.incidence[ident]
                        if result.membership[u] >= 0})
        if len(cells) > 1:
            holders = len(result.agents.incidence[ident])
            rows.append({"identifier": privacy.public_id(ident),
                         "kind": result.agents.kinds[ident], "shared_by": holders,
                         "cells": [ids[c] for c in cells],
                         "infrastructure": ident in result.agents.infrastructure})
    rows.sort(key=lambda r: (r["shared_by"], len(r["cells"]), r["identifier"]))
    return rows[:_LIST_CAP]


def _cell_report(
    result: CellsResult,
    cell: Cell,
    privacy: Privacy,
    held: Mapping[str, int],
    money_cards: Sequence[str],
    brokers: Sequence[dict[str, Any]],
    fx: FxTable,
) -> dict[str, Any]:
    agents = result.agents
    evidence = agents.evidence
    types = {m: evidence.nodes[m].get("type") if m in evidence else None for m in cell.members}
    victims = sorted(i for i in held if agents.kinds[i] == "victim")
    scores = centralities(agents.graph, cell.units)
    ranked = sorted(scores, key=lambda v: (-scores[v].pagerank, agents.units[v]))
    confidences = list(cell.members.values())
    return {
        "agents": sum(1 for t in types.values() if t == "Person"),
        "units": len(cell.units),
        "persons": sorted(m for m, t in types.items() if t == "Person"),
        "accounts": sorted(m for m, t in types.items() if t == "Account"),
        "confidence": round(sum(confidences) / len(confidences), 4),
        "infrastructure": {k: _listing(result, privacy, held, k) for k in _INFRA_KINDS
                           if any(agents.kinds[i] == k for i in held)},
        "sites": _listing(result, privacy, held, "Location")["items"],
        "victims": len(victims),
        "victims_by_country": dict(sorted(Counter(
            victim_country(evidence, v) for v in victims).items())),
        "money": money_received(evidence, money_cards, fx),
        "reports": sorted(i for i in held if agents.kinds[i] == "Report")[:_LIST_CAP],
        "key_players": [{"node": agents.units[v], "degree": round(scores[v].degree, 3),
                         "betweenness": round(scores[v].betweenness, 4),
                         "pagerank": round(scores[v].pagerank, 4)} for v in ranked[:3]],
        "centrality": {agents.units[v]: [round(s.degree, 3), round(s.betweenness, 4),
                                         round(s.pagerank, 4)] for v, s in scores.items()},
        "brokers": list(brokers)[:_LIST_CAP],
        "bridging_identifiers": _bridges(result, privacy, held),
    }


def build_reports(
    result: CellsResult, privacy: Privacy, fx: FxTable | None = None
) -> dict[str, dict[str, Any]]:
    """The report of every cell of ``result``, by cell id (JSON-ready; victims as ``privacy``
    shows them)."""
    fx = fx or FxTable.load()
    owner = _owner_cells(result, _MONEY_KINDS)
    cards: dict[int, list[str]] = defaultdict(list)
    for card, cell_index in sorted(owner.items()):
        cards[cell_index].append(card)
    brokers = _brokers(result)
    held = _holdings(result)
    return {cell.cell_id: _cell_report(result, cell, privacy, held[i], cards[i], brokers[i], fx)
            for i, cell in enumerate(result.cells)}


#: the columns of :func:`cell_rows`, in order
CELL_COLUMNS = ["cell", "agents", "accounts", "victims", "countries", "usd", "key_player",
                "confidence"]


def cell_rows(cell_id: str, summary: Mapping[str, Any]) -> dict[str, Any]:
    """The one-line overview of a cell, as ``ringmap cells`` prints it."""
    players = summary.get("key_players") or [{}]
    return {
        "cell": cell_id,
        "agents": summary.get("agents", 0),
        "accounts": len(summary.get("accounts", [])),
        "victims": summary.get("victims", 0),
        "countries": ",".join(summary.get("victims_by_country", {})),
        "usd": summary.get("money", {}).get("usd", 0.0),
        "key_player": players[0].get("node"),
        "confidence": summary.get("confidence"),
    }
