"""Whom a cell hit and what it took: its victims, its cards and wallets, the payments into them.

One definition, used by the cell report (:mod:`ringmap.analysis.report`), the victims map, the
raid packages and the ``victims-by-country`` named query, for the cells of one run:

- A cell's **side** is its members, the accounts and phones its member persons use, and the
  persons who use its member accounts.
- Its **contacted victims** are persons with the victim role who use an account or phone its
  side contacted, or was contacted by.
- **Cards and wallets** go to one cell each: the cell with the most claims on it, a claim being
  a person of its side who holds it or a contacted victim of it who paid into it (ties: the
  first cell id). A victim contacted by two cells, a hub, does not hand one cell's mule card
  to the other.
- Its **victims** are its contacted victims, and the victims who paid into its cards and
  wallets: a victim whose chats were never seized is still found through the money.
- Its **money** is every payment into its cards and wallets; **payments per country** split
  that money by the payer's country (:func:`victim_country`). Each payment counts for one
  cell; a victim contacted by two cells counts for both.

An account or phone the side contacted that no person is known to use is an *unidentified
contact*: likely a victim whose identity is not in the evidence, counted apart, never as a
victim.

>>> import networkx as nx
>>> g = nx.MultiDiGraph()
>>> for node, role in [("Person:AG-1", "suspect"), ("Person:V-1", "victim"),
...                    ("Person:V-2", "victim")]:
...     g.add_node(node, type="Person", role=role)
>>> for node in ["Account:fb/ag", "Account:fb/v1", "Payment:1", "Payment:2", "PaymentCard:k"]:
...     g.add_node(node, type=node.split(":")[0])
>>> for src, rel, dst in [("Person:AG-1", "USES", "Account:fb/ag"),
...                       ("Account:fb/ag", "CONTACTED", "Account:fb/v1"),
...                       ("Person:V-1", "USES", "Account:fb/v1"),
...                       ("Person:V-1", "PAID", "Payment:1"),
...                       ("Payment:1", "PAID_TO", "PaymentCard:k"),
...                       ("Person:V-2", "PAID", "Payment:2"),
...                       ("Payment:2", "PAID_TO", "PaymentCard:k")]:
...     _ = g.add_edge(src, dst, key=rel)
>>> hit = reached(g, ["Person:AG-1"])
>>> sorted(hit.contacted), sorted(hit.victims), sorted(hit.cards)
(['Person:V-1'], ['Person:V-1', 'Person:V-2'], ['PaymentCard:k'])
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np

from ringmap.graphs.evidence import (
    FarEnds,
    adjacent,
    neighbours_by_rel,
    pair_positions,
)
from ringmap.graphs.schema import Role

__all__ = ["Links", "Paid", "Reached", "cell_side", "reached", "reached_by_cell", "victim_country"]

_MONEY = frozenset({"PaymentCard", "FinancialAccount"})
_CONTACTABLE = frozenset({"Account", "Phone"})


def victim_country(graph: nx.MultiDiGraph, person: str, links: Links | None = None
                   ) -> str | None:
    """A victim's country (ISO code): its LOCATED_IN country, else its nationality, else None
    (``links``: ``graph`` as read so far, see :class:`Links`).

    >>> g = nx.MultiDiGraph()
    >>> g.add_node("Person:v", type="Person", nationality="GB")
    >>> g.add_node("Country:SG", type="Country", code="SG")
    >>> victim_country(g, "Person:v"), victim_country(g, "Person:absent")
    ('GB', None)
    >>> _ = g.add_edge("Person:v", "Country:SG", key="LOCATED_IN")
    >>> victim_country(g, "Person:v")
    'SG'
    """
    if person not in graph:
        return None
    for country in (Links(graph) if links is None else links).out(person, "LOCATED_IN"):
        return str(graph.nodes[country].get("code") or country.split(":", 1)[-1])
    nationality = graph.nodes[person].get("nationality")
    return str(nationality) if nationality else None


def cell_side(graph: nx.MultiDiGraph, members: Iterable[str]) -> set[str]:
    """The members, the accounts and phones member persons use, the persons using member
    accounts (members missing from ``graph`` are left out)."""
    # node by node: a package's timeline asks for one cell's, and the arrays of the whole
    # graph (:meth:`Links.arrays`) made for each was most of a package's time
    side: set[str] = set()
    for member in members:
        if member not in graph:
            continue
        side.add(member)
        kind = graph.nodes[member].get("type")
        if kind in ("Person", "Account"):
            person = kind == "Person"
            side.update(o for rel, o in adjacent(graph, member, out=person) if rel == "USES"
                        and (graph.nodes[o].get("type") in _CONTACTABLE if person
                             else graph.nodes[o].get("type") == "Person"))
    return side


@dataclass(frozen=True, slots=True)
class Paid:
    """A payment into one of the cell's cards or wallets, and who paid it (None: unknown)."""

    payment: str
    card: str
    payer: str | None


@dataclass(frozen=True, slots=True)
class Reached:
    """What a cell reached, by the definition of the module docstring."""

    side: frozenset[str]
    contacted: frozenset[str]
    """Victims the side contacted."""
    cards: frozenset[str]
    """Cards and wallets that go to this cell."""
    payments: tuple[Paid, ...]
    """Payments into :attr:`cards`, sorted, each once."""
    victims: frozenset[str]
    """Victims contacted, and victims who paid into :attr:`cards`."""
    unidentified: frozenset[str]
    """Accounts and phones the side contacted that no person is known to use."""


class Links:
    """What a reach reads of the evidence graph, read once for the cells and agents of a run:
    each node's neighbours by relationship as it is first asked (:meth:`out`), and the
    relationships a reach follows as arrays by node position (:meth:`arrays`).

    One :class:`Links` passed to :func:`reached_by_cell`, :func:`reached` and
    :func:`victim_country` for the cells and agents of one run reads the graph once instead
    of once per call. It keeps what it read: make one per run, not one for a whole session.
    """

    def __init__(self, graph: nx.MultiDiGraph) -> None:
        self.graph = graph
        self._out: dict[str, dict[str, list[str]]] = {}
        self._arrays: _Arrays | None = None

    def out(self, node: str, rel: str) -> list[str]:
        """The targets of ``node``'s ``rel`` relationships, in adjacency order."""
        by_rel = self._out.get(node)
        if by_rel is None:
            by_rel = self._out[node] = neighbours_by_rel(self.graph, node, out=True)
        return by_rel.get(rel, [])

    def arrays(self) -> _Arrays:
        """The relationships a reach follows, as arrays (made on first use)."""
        if self._arrays is None:
            self._arrays = _Arrays(self.graph)
        return self._arrays


def _distinct(*columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """The distinct rows of ``columns`` (equal-length integer arrays), sorted by the first
    column, then the second, ...; and, last, how many times each row appears."""
    if not len(columns[0]):
        return (*columns, np.zeros(0, dtype=np.int64))
    order = np.lexsort(columns[::-1])
    ordered = [c[order] for c in columns]
    new = np.zeros(len(order), dtype=bool)
    new[0] = True
    for c in ordered:
        new[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(new)
    return (*(c[starts] for c in ordered), np.diff(np.r_[starts, len(order)]))


class _Arrays:
    """The relationships a reach follows, as far ends by node position (:class:`FarEnds`),
    with each node's kind: a cell's side, contacts, claims and payments found for all the
    cells of a run at once, as pairs of (cell, node position) arrays. Reading each node's
    neighbours one at a time (:meth:`Links.out`) grew 10-14 times for 9.15 times the rows
    between 600 and 5,400 cells (issue 16)."""

    def __init__(self, graph: nx.MultiDiGraph) -> None:
        found = pair_positions(graph, ("USES", "CONTACTED", "HOLDS", "PAID", "PAID_TO"))
        self.ids, self.positions_of, n = found.ids, found.positions_of, len(found.ids)
        self.person, self.account = found.of_types("Person"), found.of_types("Account")
        self.contactable, self.money = found.of_types(*_CONTACTABLE), found.of_types(*_MONEY)
        self.victim = found.having("Person", "role", {Role.VICTIM})

        def ends(rel: str, out: bool) -> FarEnds:
            src, dst = found.ends((rel,))
            return FarEnds(src, dst, n) if out else FarEnds(dst, src, n)

        self.uses, self.used_by = ends("USES", True), ends("USES", False)
        src, dst = found.ends(("CONTACTED",))  # either way round
        self.contacted = FarEnds(np.concatenate((src, dst)), np.concatenate((dst, src)), n)
        self.holds, self.pays = ends("HOLDS", True), ends("PAID", True)
        self.paid_by, self.paid_to = ends("PAID", False), ends("PAID_TO", True)
        self.paid_into = ends("PAID_TO", False)
        self._marked: tuple[Collection[str], np.ndarray] | None = None

    def marks(self, nodes: Collection[str]) -> np.ndarray:
        """Whether each position is one of ``nodes``; kept for the last ``nodes`` asked
        (a run's agents, asked again for each agent in no cell)."""
        if self._marked is None or self._marked[0] is not nodes:
            marked = np.zeros(len(self.ids), dtype=bool)
            at = self.positions_of(nodes)
            marked[at[at >= 0]] = True
            self._marked = (nodes, marked)
        return self._marked[1]

    def named(self, found: np.ndarray) -> list[str]:
        """The ids of the nodes at positions ``found``."""
        return list(map(self.ids.__getitem__, found.tolist()))

    def members(self, groups: Iterable[Iterable[str]]) -> tuple[np.ndarray, np.ndarray]:
        """(group index, position) of every member of ``groups`` the graph holds."""
        found = [self.positions_of(members) for members in groups]
        group = np.repeat(np.arange(len(found)), [len(f) for f in found])
        at = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        return group[at >= 0], at[at >= 0]

    def sides(self, members: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(group, position) of each group's side (:func:`cell_side`), distinct."""
        group, at = members
        persons, accounts = self.person[at], self.account[at]
        row, used = self.uses.pairs(at[persons])
        by_person = self.contactable[used]
        row2, users = self.used_by.pairs(at[accounts])
        of_account = self.person[users]
        group, at, _ = _distinct(
            np.concatenate((group, group[persons][row[by_person]],
                            group[accounts][row2[of_account]])),
            np.concatenate((at, used[by_person], users[of_account])))
        return group, at


def _keys(group: np.ndarray, at: np.ndarray, n: int) -> np.ndarray:
    """One integer per (group, position) pair."""
    keys: np.ndarray = group.astype(np.int64) * n + at
    return keys


def reached_by_cell(
    graph: nx.MultiDiGraph, cells: Mapping[str, Iterable[str]], agents: Collection[str] = (),
    links: Links | None = None,
) -> dict[str, Reached]:
    """What each cell of one run reached (see the module docstring), by cell id.

    Parameters
    ----------
    graph
        The evidence graph.
    cells
        Cell id -> its member node ids (members missing from ``graph`` are left out).
    agents
        The agent-side nodes of every cell and of none: a contact with one of them is
        between agents, not an unidentified victim.
    links
        ``graph`` as read so far for the same run (see :class:`Links`); a new one if None.
    """
    found = (Links(graph) if links is None else links).arrays()
    names = list(cells)
    n = len(found.ids)
    side_group, side = found.sides(found.members(cells.values()))
    # contacts of the side: victims among their users; those of no known user unidentified
    row, other = found.contacted.pairs(side)
    kept = found.contactable[other]
    group, other, _ = _distinct(side_group[row[kept]], other[kept])
    row, user = found.used_by.pairs(other)
    person = found.person[user]
    row, user = row[person], user[person]
    known = np.zeros(len(other), dtype=bool)
    known[row] = True
    inside = np.isin(_keys(group, other, n), _keys(side_group, side, n))
    lone = ~known & ~found.marks(agents)[other] & ~inside
    unidentified = (group[lone], other[lone])
    victim = found.victim[user]
    contacted = _distinct(group[row[victim]], user[victim])[:2]
    # claims on cards and wallets: side persons holding one, contacted victims paying in
    holders = found.person[side]
    row, held = found.holds.pairs(side[holders])
    money = found.money[held]
    claim_group = [side_group[holders][row[money]]]
    claim_card, claimant = [held[money]], [side[holders][row[money]]]
    row, payment = found.pays.pairs(contacted[1])
    row2, card = found.paid_to.pairs(payment)
    money = found.money[card]
    claim_group.append(contacted[0][row][row2[money]])
    claim_card.append(card[money])
    claimant.append(contacted[1][row][row2[money]])
    card, group, _, _ = _distinct(np.concatenate(claim_card), np.concatenate(claim_group),
                                  np.concatenate(claimant))
    card, group, claims = _distinct(card, group)
    # each card to the cell with the most claims on it, of equals the first cell id
    rank = np.argsort(np.argsort(np.array(names, dtype=object), kind="stable"))
    order = np.lexsort((rank[group], -claims, card))
    first = order[np.r_[True, card[order][1:] != card[order][:-1]]] if len(order) else order
    won_group, won = group[first], card[first]
    # the payments into them, each with its payers
    row, payment = found.paid_into.pairs(won)
    paid_group, paid_card = won_group[row], won[row]
    row, payer = found.paid_by.pairs(payment)
    victim = found.victim[payer]
    victims = _distinct(np.concatenate((contacted[0], paid_group[row[victim]])),
                        np.concatenate((contacted[1], payer[victim])))[:2]
    payers: dict[int, list[str]] = defaultdict(list)
    for r, p in zip(row.tolist(), found.named(payer), strict=True):
        payers[r].append(p)
    payments: dict[int, list[Paid]] = defaultdict(list)
    for r, (g, paid, into) in enumerate(zip(paid_group.tolist(), found.named(payment),
                                            found.named(paid_card), strict=True)):
        payments[g].append(Paid(paid, into, min(payers[r]) if r in payers else None))

    def per_cell(pairs: tuple[np.ndarray, ...]) -> dict[int, frozenset[str]]:
        out: dict[int, set[str]] = defaultdict(set)
        for g, node in zip(pairs[0].tolist(), found.named(pairs[1]), strict=True):
            out[g].add(node)
        return {g: frozenset(nodes) for g, nodes in out.items()}

    sides, reached, cards, hit, lost = (
        per_cell(p) for p in ((side_group, side), contacted, (won_group, won), victims,
                              unidentified))
    empty: frozenset[str] = frozenset()
    return {name: Reached(sides.get(g, empty), reached.get(g, empty), cards.get(g, empty),
                          tuple(sorted(payments[g], key=lambda p: (p.payment, p.card))),
                          hit.get(g, empty), lost.get(g, empty))
            for g, name in enumerate(names)}


def reached(
    graph: nx.MultiDiGraph, members: Iterable[str], agents: Collection[str] = (),
    links: Links | None = None,
) -> Reached:
    """What one group of ``members`` reached on its own, every card it claims its own
    (see :func:`reached_by_cell`)."""
    return reached_by_cell(graph, {"": members}, agents, links)[""]
