"""issue 16 item 1: the evidence graph read from packed arrays is the networkx one, read for read.

``Store.evidence`` serves the graph from the store's arrays, properties decoded on demand;
everything downstream (the agent projection, cells, reports, maps) reads it in place of
``Store.project``. It must be the same graph: the same nodes, relationships, properties and
iteration order, same-as groups collapsed alike, and the same agent ties and weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

from ringmap.analysis import projection
from ringmap.analysis.cells import edge_reliability
from ringmap.analysis.projection import (
    AgentGraph,
    Incidence,
    ProjectionSettings,
    project_agents,
)
from ringmap.graphs.evidence import (
    EvidenceGraph,
    adjacent,
    edge_values,
    edges_among,
    edges_by_rel,
    neighbours_by_rel,
    node_types,
    node_values,
    nodes_of_type,
    pair_positions,
    pairs_by_rel,
    relationships_at,
)
from ringmap.graphs.model import edge_id
from ringmap.graphs.sameas import merge
from ringmap.graphs.store import Store
from ringmap.testing import CaseBuilder
from ringmap.tests.cells_synth import planted_case


def _merged_case(store: Store, folder: Path) -> Store:
    """A planted case (hubs: CGNAT and office IPs, victims of two cells, mules' cards) with
    a second source graded low, and same-as groups of persons and of accounts, one of three
    references whose members are tied to each other and to the same identifiers."""
    case = planted_case(4, seed=3)
    case.builder.ingest(store, folder / "evidence")
    late = CaseBuilder(grading="E5")  # a poor source restating and adding links
    persons, accounts, devices = ([late.node(n.type, **n.props) for n in store.nodes([t])]
                                  for t in ("Person", "Account", "Device"))
    for person in persons[:6]:
        late.link("USES", person, devices[0])
    late.link("CONTACTED", accounts[0], accounts[1], first_seen="2014-01-02",
              last_seen="2014-01-03", count=2)
    late.link("CONTACTED", accounts[2], accounts[1], first_seen="2013-12-30",
              last_seen="2014-02-01", count=5)
    late.ingest(store, folder / "late")
    persons = [n.id for n in store.nodes(["Person"])]
    merge(store, persons[0], persons[1], "same passport")
    merge(store, persons[2], persons[1], "same passport again")
    merge(store, persons[-1], persons[-2], "same face")
    merge(store, accounts[0], accounts[2], "same recovery e-mail")
    return store


def _reads(graph: nx.MultiDiGraph) -> dict[str, Any]:
    """Everything a reader of an evidence graph sees, in the order it sees it."""
    return {
        "nodes": [(n, dict(a)) for n, a in graph.nodes(data=True)],
        "edges": [(u, v, k, dict(d)) for u, v, k, d in graph.edges(keys=True, data=True)],
        "succ": [(n, [(v, list(keyed)) for v, keyed in graph.succ[n].items()]) for n in graph],
        "pred": [(n, [(v, list(keyed)) for v, keyed in graph.pred[n].items()]) for n in graph],
        "adjacency": [(n, list(nbrs)) for n, nbrs in graph.adjacency()],
        "graph": graph.graph,
        "sizes": (graph.number_of_nodes(), graph.number_of_edges()),
        # the readers that skip the adjacency on arrays (maps, timelines: issue 16)
        "by_rel": {r: [(u, v, dict(a)) for u, v, a in found] for r, found in
                   edges_by_rel(graph, ("CONTACTED", "USES", "SAME_AS", "NONE")).items()},
        "pairs": pairs_by_rel(graph), "types": node_types(graph),
        "persons": [(n, dict(a)) for n, a in nodes_of_type(graph, "Person")],
        # one property of every node or relationship of a type, decoded in bulk (issue 16)
        "roles": list(node_values(graph, "Person", "role", "")),
        # read once per graph by the victim side and the reach of cells (issue 16)
        "having": [sorted(found.ids[i] for i in np.flatnonzero(
            found.having("Person", "role", roles)).tolist())
            for found in [pair_positions(graph, ())]
            for roles in ({"victim"}, {"suspect", "mule"}, {None}, set())],
        "values": [edge_values(graph, rel, key) for rel, key in (
            ("CONTACTED", "count"), ("USES", "first_seen"), ("NAMES", "role"))],
        # a reach's and a map's reads (issue 16: from the arrays, no attribute objects)
        "adjacent": [(n, adjacent(graph, n, out=True), adjacent(graph, n, out=False))
                     for n in graph],
        "relationships": [(n, [(r, o, dict(a)) for out in (True, False) for r, o, a in
                               relationships_at(graph, n, out, {"CONTACTED", "USES"})])
                          for n in graph],
        "by_rel_of": [(n, neighbours_by_rel(graph, n, out=True),
                       neighbours_by_rel(graph, n, out=False)) for n in graph],
        "among": [edges_among(graph, nodes) for nodes in (
            list(graph), [*list(graph)[::2], *graph.graph.get("same_as", {})])],
    }


def _ties(agents: AgentGraph) -> dict[str, Any]:
    """The agent projection without its evidence graph: units, weighted ties, identifiers."""
    units = agents.units
    return {
        "units": units,
        "ties": sorted((units[e.source], units[e.target], round(e["weight"], 12))
                       for e in agents.graph.es),
        "accounts": agents.accounts, "shared_accounts": agents.shared_accounts,
        "incidence": {i: {units[u]: a for u, a in h.items()} for i, h in
                      agents.incidence.items()},
        "kinds": agents.kinds, "infrastructure": agents.infrastructure,
    }


def test_issue_16_evidence_graph_reads_as_the_projected_graph(
        any_store: Store, tmp_path: Path) -> None:
    store = _merged_case(any_store, tmp_path)
    evidence, projected = store.evidence(), store.project()
    assert isinstance(evidence, EvidenceGraph)
    assert evidence.graph["same_as_edges"]  # the groups moved relationships
    assert _reads(evidence) == _reads(projected)
    some = next(iter(projected.graph["same_as"].values()))
    assert dict(evidence.nodes[some]) == projected.nodes[some]
    assert "Person:nobody" not in evidence and next(iter(projected.graph["same_as"])) \
        not in evidence


def test_issue_16_agent_projection_from_arrays_is_the_networkx_one(
        any_store: Store, tmp_path: Path) -> None:
    store = _merged_case(any_store, tmp_path)
    reliability, grading = edge_reliability(store)
    assert grading == "applied"
    for settings in (ProjectionSettings(), ProjectionSettings(infra_max_agents=4)):
        arrays = project_agents(store.evidence(), settings, reliability)
        dicts = project_agents(store.project(), settings, reliability)
        assert _ties(arrays) == _ties(dicts)
    assert arrays.infrastructure  # hubs set aside alike


def test_issue_16_attachments_made_a_part_at_a_time_are_made_alike(
        any_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the contacts' attachments are made one by one and added to the arrays a part at a
    # time: parts of a few attachments give what one part gives
    store = _merged_case(any_store, tmp_path)
    reliability, _ = edge_reliability(store)
    whole = _ties(project_agents(store.evidence(), reliability=reliability))
    monkeypatch.setattr(projection, "_PART", 3)
    assert _ties(project_agents(store.evidence(), reliability=reliability)) == whole


def test_issue_16_edges_among_a_few_nodes_read_from_their_own_relationships(
        any_store: Store, tmp_path: Path) -> None:
    # a raid package's map asks for the relationships among its cell's few hundred nodes:
    # read from those nodes' relationships, not from a pass over every one of the case
    store = _merged_case(any_store, tmp_path)
    evidence, projected = store.evidence(), store.project()
    nodes = list(projected)
    merged = list(projected.graph["same_as"])
    picks = [[n, *projected.succ[n], *projected.pred[n]] for n in nodes]  # a node's reach
    picks += [[*nodes[i::7], *merged[i::2], "Person:nobody"] for i in range(7)]
    picks += [[], ["Person:nobody"], merged, nodes[:1] * 3]
    assert any(edges_among(projected, p) for p in picks)
    for pick in picks:
        assert edges_among(evidence, pick) == edges_among(projected, pick), pick


def test_issue_16_persons_roles_decoded_once_for_the_victim_side_and_the_reach(
        tmp_path: Path) -> None:
    # an export reads every person's role for its privacy policy and again for the reach
    # of the run's cells: 1.1 CPU-s each at 5,400 cells; the graph decodes them once, and
    # the agent projection reads them from there too (ringmap run decoded them twice)
    from dataclasses import replace

    from ringmap.analysis.victims import reached_by_cell
    from ringmap.graphs.embedded import EmbeddedStore
    from ringmap.privacy import Privacy

    store = _merged_case(EmbeddedStore(tmp_path / "case.db"), tmp_path)
    packed = store.packed()
    decoded: list[str] = []

    def counted(types: Any, raw: Any) -> list[dict[str, Any]]:
        decoded.extend(types)
        return packed.decode(types, raw)

    roles = list(node_values(EvidenceGraph(replace(packed, decode=counted)), "Person", "role"))
    once, decoded[:] = decoded.count("Person"), []
    evidence = EvidenceGraph(replace(packed, decode=counted))
    privacy = Privacy.for_graph(evidence)
    reached_by_cell(evidence, {"C1": [n for n, role in roles if role == "suspect"][:5]})
    agents = project_agents(evidence)
    assert decoded.count("Person") == once  # the roles read once, for all three
    assert agents.units == project_agents(store.evidence()).units
    assert privacy == Privacy.for_graph(store.evidence())


def test_issue_16_evidence_graph_is_read_only(tmp_path: Path) -> None:
    from ringmap.graphs.embedded import EmbeddedStore

    store = _merged_case(EmbeddedStore(tmp_path / "case.db"), tmp_path)
    evidence = store.evidence()
    with pytest.raises((TypeError, AttributeError)):
        evidence.add_edge("Person:x", "Person:y", key="USES")
    copy = evidence.copy()  # a plain graph the caller owns
    copy.add_edge("Person:x", "Person:y", key="USES")
    assert "Person:x" in copy and "Person:x" not in evidence


def test_issue_16_attachments_are_held_as_arrays(tmp_path: Path) -> None:
    # the projection's attachments were a dict per identifier of Attachment tuples, each
    # with its evidence path as text: 666 MB at 5,400 cells; they are arrays now, the
    # attachments and their paths' relationship ids made when read
    from ringmap.graphs.embedded import EmbeddedStore

    store = _merged_case(EmbeddedStore(tmp_path / "case.db"), tmp_path)
    evidence = store.evidence()
    reliability, _grading = edge_reliability(store, evidence)
    agents = project_agents(evidence, reliability=reliability)
    incidence = agents.incidence
    assert isinstance(incidence, Incidence)
    assert len(incidence.units) == len(incidence.reliability) == sum(
        len(held) for held in incidence.values()) > 100
    paths = [a.via for held in incidence.values() for a in held.values()]
    assert {len(path) for path in paths} == {1, 2, 3, 4}  # a mule: contact, paid, paid to, holds
    relationships = {edge_id(rel, src, dst) for src, dst, rel in evidence.edges(keys=True)}
    assert {eid for path in paths for eid in path} <= relationships
    # read from the arrays by unit as the dict of dicts answered: holdings, in the order met
    held: dict[int, list[str]] = {}
    for ident, holders in incidence.items():
        for unit in holders:
            held.setdefault(unit, []).append(ident)
    assert list(agents.holdings().items()) == list(held.items())
    for unit in range(len(agents.units)):
        assert [(i, incidence[i][unit]) for i in held.get(unit, [])] == list(
            incidence.held_by(unit))


_VIA = """
import networkx as nx
from ringmap.analysis.projection import project_agents
g = nx.MultiDiGraph()
for p in ("Person:a", "Person:b"):
    g.add_node(p, type="Person", role="suspect")
for n in ("Device:1", "Phone:+1", "SimCard:9"):
    g.add_node(n, type=n.split(":")[0])
for src, rel, dst in [("Person:a", "USES", "Device:1"), ("Person:a", "USES", "Phone:+1"),
                      ("Person:b", "USES", "SimCard:9"), ("SimCard:9", "SIM_IN", "Device:1"),
                      ("SimCard:9", "HAS_NUMBER", "Phone:+1")]:
    g.add_edge(src, dst, key=rel, type=rel)
print(project_agents(g).incidence["SimCard:9"][0].via)
"""


def test_issue_16_a_tie_reached_two_ways_explains_itself_alike_in_every_process() -> None:
    # a SIM in the agent's device and the SIM of the agent's phone weigh the same: the
    # evidence shown for it must not depend on the process's string hashing (the chain
    # relationships were walked in the order of a frozenset)
    import os
    import subprocess
    import sys

    vias = {subprocess.run([sys.executable, "-c", _VIA], check=True, capture_output=True,
                           text=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}
                           ).stdout for seed in (0, 6, 9, 10, 13)}  # both orders on 3.11
    assert len(vias) == 1, vias


def test_issue_16_packed_read_keeps_id_order_and_texts_whatever_the_row_order(
        tmp_path: Path) -> None:
    # the packed read takes the ids in id order from their index and the rest in the
    # table's row order, the property texts as bytes in one buffer: nodes stored in another
    # order than their ids', and texts beyond ASCII, come back as the store gives them
    from ringmap.graphs.embedded import EmbeddedStore

    store = EmbeddedStore(tmp_path / "case.db")
    case = CaseBuilder()
    persons = [case.node("Person", person_id=f"P-{i:02d}", name=f"Peña {chr(0x4e00 + i)} {i}",
                         role="suspect") for i in range(30, 0, -1)]  # rows against id order
    phone = case.node("Phone", number="+63 917 555 0101")
    accounts = [case.node("Account", platform="facebook", handle=f"ñ.{i}") for i in range(9)]
    for person, account in zip(persons, accounts, strict=False):
        case.link("USES", person, phone)
        case.link("USES", person, account)
    for i, account in enumerate(accounts[1:]):
        case.link("CONTACTED", account, accounts[0], first_seen=f"2014-01-0{i + 1}", count=i)
    case.ingest(store, tmp_path / "evidence")
    expected_nodes = [(n.id, n.type, n.props) for n in store.nodes()]
    expected_edges = [(e.type, e.src, e.dst, e.props) for e in store.edges()]
    assert sorted(persons) != persons  # stored against their ids' order
    for types in (None, ["Person"]):
        packed = store.packed(types)
        wanted = [n for n in expected_nodes if types is None or n[1] in types]
        assert [(packed.ids[i], packed.type_names[packed.node_type[i]], packed.node_props(i))
                for i in range(len(packed.ids))] == wanted
    packed = store.packed()
    assert [(packed.rel_names[packed.rel[j]], packed.ids[packed.src[j]],
             packed.ids[packed.dst[j]], packed.edge_props(j))
            for j in range(len(packed.rel))] == expected_edges


def test_issue_16_evidence_graph_holds_its_relationships_in_32_bits(
        any_store: Store, tmp_path: Path) -> None:
    # at 10M rows the cells process peaked at 7.4 GB (issue 14): each relationship's ends,
    # index, type and adjacency order were 64-bit copies of the packed 32-bit arrays; they
    # are the packed arrays themselves where no same-as group moves a relationship, and
    # 32-bit where one does, and readers still get 64-bit positions (their keys outgrow 32)
    case = planted_case(3, seed=5)
    case.builder.ingest(any_store, tmp_path / "plain")
    plain = any_store.evidence()
    assert plain._src is plain.packed.src and plain._rel is plain.packed.rel
    grouped = _merged_case(any_store, tmp_path).evidence()
    for graph in (plain, grouped):
        assert {a.dtype for a in (graph._src, graph._dst, graph._first, graph._out.order,
                                  graph._in.order)} == {np.dtype(np.int32)}
        assert {a.dtype for ends in pair_positions(graph, ["USES"]).pairs.values()
                for a in ends} == {np.dtype(np.int64)}
