"""issue 16: what each cell reached, found for all of a run's cells at once on arrays by node
position, is the rule of :mod:`ringmap.analysis.victims` spelled node by node, on a networkx
graph and on an evidence graph of packed arrays (same-as groups collapsed) alike."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from ringmap.analysis.victims import Paid, Reached, cell_side, reached, reached_by_cell
from ringmap.testing import packed_graph

#: few nodes, so that random links meet the cases the rule tells apart
_NODES = [("Person:a", "suspect"), ("Person:b", "victim"), ("Person:c", "victim"),
          ("Person:d", "mule"), ("Person:e", None), ("Account:x", None), ("Account:y", None),
          ("Account:z", None), ("Phone:+1", None), ("Phone:+2", None), ("PaymentCard:k", None),
          ("FinancialAccount:w", None), ("Payment:1", None), ("Payment:2", None),
          ("IPAddress:1", None)]
_IDS = [n for n, _ in _NODES]
_RELS = ["USES", "USES", "CONTACTED", "CONTACTED", "HOLDS", "PAID", "PAID", "PAID_TO",
         "PAID_TO", "LOGGED_IN_FROM"]
_MONEY = ("PaymentCard", "FinancialAccount")


def _rule(graph: nx.MultiDiGraph, cells: Mapping[str, Iterable[str]],
          agents: Collection[str]) -> dict[str, Reached]:
    """The module docstring's rule, node by node on a networkx graph."""
    kind = {n: a["type"] for n, a in graph.nodes(data=True)}

    def victim(node: str) -> bool:
        return bool(kind[node] == "Person" and graph.nodes[node].get("role") == "victim")

    def out(node: str, rel: str) -> list[str]:
        return [o for o, keyed in graph.succ[node].items() if rel in keyed]

    def into(node: str, rel: str) -> list[str]:
        return [o for o, keyed in graph.pred[node].items() if rel in keyed]

    sides, contacts, votes = {}, {}, defaultdict(list)
    for cell, members in cells.items():
        side = {m for m in members if m in graph}
        for m in list(side):
            if kind[m] == "Person":
                side |= {o for o in out(m, "USES") if kind[o] in ("Account", "Phone")}
            elif kind[m] == "Account":
                side |= {o for o in into(m, "USES") if kind[o] == "Person"}
        contacted, unidentified = set(), set()
        for node in side:
            for other in {*out(node, "CONTACTED"), *into(node, "CONTACTED")}:
                if kind[other] not in ("Account", "Phone"):
                    continue
                users = [u for u in into(other, "USES") if kind[u] == "Person"]
                contacted |= {u for u in users if victim(u)}
                if not users and other not in side and other not in agents:
                    unidentified.add(other)
        claims = defaultdict(set)
        for person in (p for p in side if kind[p] == "Person"):
            for card in (c for c in out(person, "HOLDS") if kind[c] in _MONEY):
                claims[card].add(person)
        for v in contacted:
            for card in (c for p in out(v, "PAID") for c in out(p, "PAID_TO")
                         if kind[c] in _MONEY):
                claims[card].add(v)
        for card, claimants in claims.items():
            votes[card].append((-len(claimants), cell))
        sides[cell], contacts[cell] = side, (contacted, unidentified)
    won = defaultdict(set)
    for card, ranked in votes.items():
        won[min(ranked)[1]].add(card)
    found = {}
    for cell, side in sides.items():
        contacted, unidentified = contacts[cell]
        victims, payments = set(contacted), []
        for card in won[cell]:
            for payment in into(card, "PAID_TO"):
                payers = sorted(into(payment, "PAID"))
                payments.append(Paid(payment, card, payers[0] if payers else None))
                victims |= {p for p in payers if victim(p)}
        found[cell] = Reached(frozenset(side), frozenset(contacted), frozenset(won[cell]),
                              tuple(sorted(payments, key=lambda p: (p.payment, p.card))),
                              frozenset(victims), frozenset(unidentified))
    return found


def _of(*kinds: str) -> st.SearchStrategy[str]:
    return st.sampled_from([n for n in _IDS if n.split(":")[0] in kinds])


#: mostly links of the kinds the rule follows, between the types it follows them to
_LINK = st.one_of(
    st.tuples(_of("Person"), st.just("USES"), _of("Account", "Phone")),
    st.tuples(_of("Account", "Phone"), st.just("CONTACTED"), _of("Account", "Phone")),
    st.tuples(_of("Person"), st.just("HOLDS"), _of(*_MONEY)),
    st.tuples(_of("Person"), st.just("PAID"), _of("Payment")),
    st.tuples(_of("Payment"), st.just("PAID_TO"), _of(*_MONEY)),
    st.tuples(st.sampled_from(_IDS), st.sampled_from(_RELS), st.sampled_from(_IDS)))
_CELLS = st.dictionaries(st.sampled_from(["C3", "C1", "C2", "C10"]),
                         st.lists(st.one_of(_of("Person", "Account"),
                                            st.sampled_from([*_IDS, "Person:absent"])),
                                  max_size=4),
                         max_size=4)


@settings(max_examples=300)
@given(st.lists(_LINK, max_size=30), _CELLS, st.sets(st.sampled_from(_IDS), max_size=3),
       st.lists(st.tuples(st.sampled_from(_IDS), st.sampled_from(_IDS)), max_size=2))
def test_issue_16_reached_by_cell_on_arrays_is_the_rule(
        links: list[tuple[str, str, str]], cells: dict[str, list[str]], agents: set[str],
        same_as: list[tuple[str, str]]) -> None:
    graph = nx.MultiDiGraph()
    for node, role in _NODES:
        graph.add_node(node, type=node.split(":")[0], **({"role": role} if role else {}))
    for src, rel, dst in links:
        graph.add_edge(src, dst, key=rel, type=rel)
    assert reached_by_cell(graph, cells, agents) == _rule(graph, cells, agents)
    packed = packed_graph(graph, [(s, d) for s, d in same_as if s != d])
    collapsed = packed.copy()  # a plain networkx graph, same-as groups collapsed
    assert reached_by_cell(packed, cells, agents) == _rule(collapsed, cells, agents)
    for cell, members in cells.items():
        assert reached(packed, members, agents) == _rule(collapsed, {"": members}, agents)[""]
        assert cell_side(packed, members) == _rule(collapsed, {cell: members}, ())[cell].side
