"""issue 16: the victim side found on arrays by node position is the rule it spells, on a
networkx graph and on an evidence graph of packed arrays alike."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from ringmap.privacy import ACTING, CONTACTABLE, OWNERSHIP, likely_victims, victim_side
from ringmap.testing import packed_graph

#: few nodes, so that random links meet the cases the rule tells apart
_NODES = [("Person:a", "suspect"), ("Person:b", "victim"), ("Person:c", "victim"),
          ("Person:d", "mule"), ("Person:e", None), ("Account:x", None), ("Account:y", None),
          ("Phone:+1", None), ("IPAddress:1", None)]
_RELS = [*OWNERSHIP, "CONTACTED", "CONTACTED", *ACTING, "WORKS_AT"]


def _rule(graph: nx.MultiDiGraph) -> tuple[set[str], set[str]]:
    """The victim side and the likely victims, spelled out on sets as the rule reads."""
    kind = {n: a.get("type") for n, a in graph.nodes(data=True)}
    role = {n: a.get("role") for n, a in graph.nodes(data=True) if kind[n] == "Person"}
    victims = {n for n, r in role.items() if r == "victim"}
    pairs = [(s, d, r) for s, d, r in graph.edges(keys=True)]
    owners: dict[str, set[str]] = {}
    for s, d, r in pairs:
        if r in OWNERSHIP:
            owners.setdefault(d, set()).add(s)
    owned = {d for d, who in owners.items() if any(kind[w] == "Person" for w in who)}
    agents = {d for d, who in owners.items() if any(role.get(w) == "suspect" for w in who)}
    acting = {s for s, _, r in pairs if r in ACTING}
    likely = {far for s, d, r in pairs if r == "CONTACTED" for near, far in ((s, d), (d, s))
              if far not in owned and kind[far] in CONTACTABLE and far not in acting
              and (near in agents or (near not in owned and near in acting))}
    return victims | {d for d, who in owners.items() if who <= victims} | likely, likely


@settings(max_examples=400)
@given(st.lists(st.tuples(st.sampled_from(_NODES), st.sampled_from(_RELS),
                          st.sampled_from(_NODES)), max_size=20))
def test_issue_16_victim_side_on_arrays_is_the_rule(
        links: list[tuple[tuple[str, str | None], str, tuple[str, str | None]]]) -> None:
    graph = nx.MultiDiGraph()
    for node, role in _NODES:
        graph.add_node(node, type=node.split(":")[0], **({"role": role} if role else {}))
    for (src, _), rel, (dst, _) in links:
        graph.add_edge(src, dst, key=rel, type=rel)
    side, likely = _rule(graph)
    assert (victim_side(graph), likely_victims(graph)) == (side, likely)
    packed = packed_graph(graph)
    assert (victim_side(packed), likely_victims(packed)) == (side, likely)
