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
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

import networkx as nx

from ringmap.graphs.schema import Role

__all__ = ["Paid", "Reached", "cell_side", "reached", "reached_by_cell", "victim_country"]

_MONEY = frozenset({"PaymentCard", "FinancialAccount"})
_CONTACTABLE = frozenset({"Account", "Phone"})


def _type(graph: nx.MultiDiGraph, node: str) -> str:
    return str(graph.nodes[node].get("type", ""))


def _out(graph: nx.MultiDiGraph, node: str, rel: str) -> Iterator[str]:
    return (dst for dst, keyed in graph.succ[node].items() if rel in keyed)


def _in(graph: nx.MultiDiGraph, node: str, rel: str) -> Iterator[str]:
    return (src for src, keyed in graph.pred[node].items() if rel in keyed)


def _is_victim(graph: nx.MultiDiGraph, node: str) -> bool:
    attrs = graph.nodes[node]
    return bool(attrs.get("type") == "Person" and attrs.get("role") == Role.VICTIM)


def victim_country(graph: nx.MultiDiGraph, person: str) -> str | None:
    """A victim's country (ISO code): its LOCATED_IN country, else its nationality, else None.

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
    for country in _out(graph, person, "LOCATED_IN"):
        return str(graph.nodes[country].get("code") or country.split(":", 1)[-1])
    nationality = graph.nodes[person].get("nationality")
    return str(nationality) if nationality else None


def cell_side(graph: nx.MultiDiGraph, members: Iterable[str]) -> set[str]:
    """The members, the accounts and phones member persons use, the persons using member
    accounts (members missing from ``graph`` are left out)."""
    side: set[str] = set()
    for member in members:
        if member not in graph:
            continue
        side.add(member)
        kind = _type(graph, member)
        if kind == "Person":
            side.update(o for o in _out(graph, member, "USES") if _type(graph, o) in _CONTACTABLE)
        elif kind == "Account":
            side.update(o for o in _in(graph, member, "USES") if _type(graph, o) == "Person")
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


def _contacts(graph: nx.MultiDiGraph, side: set[str], agents: Collection[str]
              ) -> tuple[set[str], set[str]]:
    """Victims the side contacted, and contacted accounts and phones of no known user."""
    contacted: set[str] = set()
    unidentified: set[str] = set()
    for node in side:
        for other in {*_out(graph, node, "CONTACTED"), *_in(graph, node, "CONTACTED")}:
            if _type(graph, other) not in _CONTACTABLE:
                continue
            users = [u for u in _in(graph, other, "USES") if _type(graph, u) == "Person"]
            contacted.update(u for u in users if _is_victim(graph, u))
            if not users and other not in side and other not in agents:
                unidentified.add(other)
    return contacted, unidentified


def _claims(graph: nx.MultiDiGraph, side: set[str], contacted: set[str]) -> dict[str, set[str]]:
    """Card or wallet -> who claims it for the cell: side persons holding it, contacted
    victims paying into it."""
    claims: dict[str, set[str]] = defaultdict(set)
    for person in side:
        if _type(graph, person) == "Person":
            for card in _out(graph, person, "HOLDS"):
                if _type(graph, card) in _MONEY:
                    claims[card].add(person)
    for victim in contacted:
        for payment in _out(graph, victim, "PAID"):
            for card in _out(graph, payment, "PAID_TO"):
                if _type(graph, card) in _MONEY:
                    claims[card].add(victim)
    return claims


def reached_by_cell(
    graph: nx.MultiDiGraph, cells: Mapping[str, Iterable[str]], agents: Collection[str] = ()
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
    """
    sides = {cell: cell_side(graph, members) for cell, members in cells.items()}
    contacts = {cell: _contacts(graph, side, agents) for cell, side in sides.items()}
    votes: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for cell, side in sides.items():
        for card, claimants in _claims(graph, side, contacts[cell][0]).items():
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
            for payment in _in(graph, card, "PAID_TO"):
                payers = sorted(_in(graph, payment, "PAID"))
                payments.append(Paid(payment, card, payers[0] if payers else None))
                victims.update(p for p in payers if _is_victim(graph, p))
        payments.sort(key=lambda p: (p.payment, p.card))
        out[cell] = Reached(frozenset(side), frozenset(contacted), frozenset(cards[cell]),
                            tuple(payments), frozenset(victims), frozenset(unidentified))
    return out


def reached(
    graph: nx.MultiDiGraph, members: Iterable[str], agents: Collection[str] = ()
) -> Reached:
    """What one group of ``members`` reached on its own, every card it claims its own
    (see :func:`reached_by_cell`)."""
    return reached_by_cell(graph, {"": members}, agents)[""]
