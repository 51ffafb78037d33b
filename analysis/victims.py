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

from ringmap.graphs.evidence import neighbours_by_rel
from ringmap.graphs.schema import Role

__all__ = ["Links", "Paid", "Reached", "cell_side", "reached", "reached_by_cell", "victim_country"]

_MONEY = frozenset({"PaymentCard", "FinancialAccount"})
_CONTACTABLE = frozenset({"Account", "Phone"})


def _type(graph: nx.MultiDiGraph, node: str) -> str:
    return str(graph.nodes[node].get("type", ""))


def _is_victim(graph: nx.MultiDiGraph, node: str) -> bool:
    attrs = graph.nodes[node]
    return bool(attrs.get("type") == "Person" and attrs.get("role") == Role.VICTIM)


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
    return _side(Links(graph), members)


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
    """What a reach reads of the evidence graph, each node's read once: its neighbours by
    relationship, its type, whether it is a victim.

    A cell's side, its contacts' users and the cards they pay into are met again by every
    cell that shares them (a hub is contacted by hundreds): one :class:`Links` passed to
    :func:`reached_by_cell` and :func:`reached` for the cells and agents of one run reads
    each node's neighbours once instead of once per visit. It keeps what it read: make one
    per run, not one for a whole session.
    """

    def __init__(self, graph: nx.MultiDiGraph) -> None:
        self.graph = graph
        self._out: dict[str, dict[str, list[str]]] = {}
        self._in: dict[str, dict[str, list[str]]] = {}
        self._types: dict[str, str] = {}
        self._victims: dict[str, bool] = {}

    def out(self, node: str, rel: str) -> list[str]:
        """The targets of ``node``'s ``rel`` relationships, in adjacency order."""
        by_rel = self._out.get(node)
        if by_rel is None:
            by_rel = self._out[node] = neighbours_by_rel(self.graph, node, out=True)
        return by_rel.get(rel, [])

    def into(self, node: str, rel: str) -> list[str]:
        """The sources of the ``rel`` relationships into ``node``, in adjacency order."""
        by_rel = self._in.get(node)
        if by_rel is None:
            by_rel = self._in[node] = neighbours_by_rel(self.graph, node, out=False)
        return by_rel.get(rel, [])

    def type(self, node: str) -> str:
        """The node's type ("" when it has none)."""
        found = self._types.get(node)
        if found is None:
            found = self._types[node] = _type(self.graph, node)
        return found

    def is_victim(self, node: str) -> bool:
        """Whether the node is a Person with the victim role."""
        found = self._victims.get(node)
        if found is None:
            found = self._victims[node] = _is_victim(self.graph, node)
        return found


def _side(links: Links, members: Iterable[str]) -> set[str]:
    """:func:`cell_side`, read through ``links``."""
    graph = links.graph
    side: set[str] = set()
    for member in members:
        if member not in graph:
            continue
        side.add(member)
        kind = links.type(member)
        if kind == "Person":
            side.update(o for o in links.out(member, "USES") if links.type(o) in _CONTACTABLE)
        elif kind == "Account":
            side.update(o for o in links.into(member, "USES") if links.type(o) == "Person")
    return side


def _contacts(links: Links, side: set[str], agents: Collection[str]
              ) -> tuple[set[str], set[str]]:
    """Victims the side contacted, and contacted accounts and phones of no known user."""
    contacted: set[str] = set()
    unidentified: set[str] = set()
    for node in side:
        for other in {*links.out(node, "CONTACTED"), *links.into(node, "CONTACTED")}:
            if links.type(other) not in _CONTACTABLE:
                continue
            users = [u for u in links.into(other, "USES") if links.type(u) == "Person"]
            contacted.update(u for u in users if links.is_victim(u))
            if not users and other not in side and other not in agents:
                unidentified.add(other)
    return contacted, unidentified


def _claims(links: Links, side: set[str], contacted: set[str]) -> dict[str, set[str]]:
    """Card or wallet -> who claims it for the cell: side persons holding it, contacted
    victims paying into it."""
    claims: dict[str, set[str]] = defaultdict(set)
    for person in side:
        if links.type(person) == "Person":
            for card in links.out(person, "HOLDS"):
                if links.type(card) in _MONEY:
                    claims[card].add(person)
    for victim in contacted:
        for payment in links.out(victim, "PAID"):
            for card in links.out(payment, "PAID_TO"):
                if links.type(card) in _MONEY:
                    claims[card].add(victim)
    return claims


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
    links = Links(graph) if links is None else links
    sides = {cell: _side(links, members) for cell, members in cells.items()}
    contacts = {cell: _contacts(links, side, agents) for cell, side in sides.items()}
    votes: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for cell, side in sides.items():
        for card, claimants in _claims(links, side, contacts[cell][0]).items():
            votes[card].append((-len(claimants), cell))
    cards: dict[str, set[str]] = defaultdict(set)
    for card, ranked in votes.items():
        cards[min(ranked)[1]].add(card)
    out: dict[str, Reached] = {}
    for cell, side in sides.items():
        contacted, unidentified = contacts[cell]
        payments: list[Paid] = []
        victims = set(contacted)
        for card in cards[cell]:
            for payment in links.into(card, "PAID_TO"):
                payers = sorted(links.into(payment, "PAID"))
                payments.append(Paid(payment, card, payers[0] if payers else None))
                victims.update(p for p in payers if links.is_victim(p))
        payments.sort(key=lambda p: (p.payment, p.card))
        out[cell] = Reached(frozenset(side), frozenset(contacted), frozenset(cards[cell]),
                            tuple(payments), frozenset(victims), frozenset(unidentified))
    return out


def reached(
    graph: nx.MultiDiGraph, members: Iterable[str], agents: Collection[str] = (),
    links: Links | None = None,
) -> Reached:
    """What one group of ``members`` reached on its own, every card it claims its own
    (see :func:`reached_by_cell`)."""
    return reached_by_cell(graph, {"": members}, agents, links)[""]
