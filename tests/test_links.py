"""Link analysis on a small known case: paths carry evidence, hubs are avoided, shared/connect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

from ringmap.analysis.links import EvidenceGraph, connect, expand, shared, shortest_paths
from ringmap.errors import AnalysisError, NotFound
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import edge_id
from ringmap.privacy import Privacy
from ringmap.tests.links_case import (
    HUB_DEGREE,
    HUB_IP,
    IMEI,
    SECRET,
    card_id,
    links_case,
    shared_case,
)

IP = f"IPAddress:{HUB_IP}"
ONE, THREE = "Account:facebook/agent.one", "Account:facebook/agent.three"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    with shared_case(tmp_path_factory.mktemp("links")) as store:
        yield store


@pytest.fixture(autouse=True)
def _case_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINGMAP_SECRET", SECRET)


def test_shortest_path_goes_through_the_hub_and_carries_evidence(case: EmbeddedStore) -> None:
    result = shortest_paths(case, "person:AG-1", "AG-3")
    best = result.paths[0]
    assert best.nodes == ["Person:AG-1", ONE, IP, THREE, "Person:AG-3"]
    assert best.text() == ("Person:AG-1 -USES-> Account:facebook/agent.one -LOGGED_IN_FROM-> "
                           f"{IP} <-LOGGED_IN_FROM- {THREE} <-USES- Person:AG-3")
    backward = best.hops[2].links[0]
    assert (backward.type, backward.source, backward.target, backward.forward) == (
        "LOGGED_IN_FROM", THREE, IP, False)
    [prov] = backward.evidence
    seen = links_case().where(edge_id("LOGGED_IN_FROM", THREE, IP))
    assert prov.source_file == str(case.path.parent / "evidence" / seen.file)
    assert (prov.row, prov.ref) == (seen.row, seen.ref) == (3, "EX-3")
    assert str(prov.grading) == "admiralty:B2"
    assert [p.length for p in result.paths] == sorted(p.length for p in result.paths)
    assert len(result.paths) == 3


def test_hop_keeps_relationship_properties(case: EmbeddedStore) -> None:
    result = shortest_paths(case, ONE, "Account:facebook/victim.one", k=1)
    [path] = result.paths
    assert path.hops[0].links[0].properties == {"count": 12}
    assert (result.rows()[0]["direction"], result.rows()[0]["relationship"]) == ("→", "CONTACTED")


def test_avoid_hubs_routes_around_the_cgnat_address(case: EmbeddedStore) -> None:
    result = shortest_paths(case, "person:AG-1", "person:AG-3", avoid_hubs=True,
                            hub_degree=HUB_DEGREE)
    assert result.excluded_hubs == [IP, "Location:L-1"]  # the office is context, not a link
    assert result.paths, result.note
    assert all(IP not in p.nodes for p in result.paths)
    assert result.paths[0].nodes == ["Person:AG-1", ONE, "Account:facebook/victim.one",
                                     "Person:V-1", "Payment:western_union/P-1", card_id(),
                                     "Person:AG-3"]


def test_hub_is_allowed_at_either_end(case: EmbeddedStore) -> None:
    result = shortest_paths(case, IP, "person:AG-3", avoid_hubs=True, hub_degree=HUB_DEGREE)
    assert result.paths[0].nodes == [IP, THREE, "Person:AG-3"]


def test_max_hops_and_no_path_are_notes_not_errors(case: EmbeddedStore) -> None:
    far = shortest_paths(case, "person:AG-1", "person:AG-3", max_hops=3)
    assert far.paths == []
    assert far.note == "the shortest path has 4 hops, more than --max-hops 3"
    cut = shortest_paths(case, "person:AG-1", "person:AG-9")
    assert (cut.paths, cut.note) == ([], "not connected")


def test_same_entity_twice_is_an_error(case: EmbeddedStore) -> None:
    with pytest.raises(AnalysisError, match="same entity Person:AG-1"):
        shortest_paths(case, "person:AG-1", "AG-1")


def test_unknown_entity_is_not_found(case: EmbeddedStore) -> None:
    with pytest.raises(NotFound):
        shortest_paths(case, "person:AG-1", "person:NOBODY")


def test_hub_degree_ignores_whom_a_node_contacted(case: EmbeddedStore) -> None:
    graph = EvidenceGraph(case)
    assert graph.hub_degree(ONE) == 4  # person, phone, device, IP; not the victim it contacted
    assert graph.hub_degree("Account:facebook/victim.one") == 2
    assert graph.hub_degree(IP) == 8
    assert graph.hubs(HUB_DEGREE) == {IP, "Location:L-1"}
    assert graph.hub_cost("Person:AG-1") == 0.0


def test_issue_9_labels_are_the_maps_labels(case: EmbeddedStore) -> None:
    """Regression: link results labelled a person by its id, not its name as the maps do."""
    graph = EvidenceGraph(case)
    maps = Privacy.for_graph(graph.graph)
    assert graph.info("Person:AG-1").label == "Name AG-1"
    assert graph.info("Location:L-1").label == "Taguig office"
    assert graph.info(card_id()).label == "411111******1111"
    # victims keep the pseudonyms the maps give them
    assert graph.info("Person:V-1").label == maps.pseudonym("Person:V-1")
    victim_account = "Account:facebook/victim.one"
    assert graph.info(victim_account).label == "Account " + maps.pseudonym(victim_account)
    assert all(graph.info(n).label == maps.label(n, graph.graph.nodes[n]) for n in graph.graph)


def test_expand_one_hop(case: EmbeddedStore) -> None:
    result = expand(case, "person:AG-1", hops=1)
    assert {n.id: n.hops for n in result.nodes} == {
        "Person:AG-1": 0, ONE: 1, "Phone:+639171234567": 1, "Location:L-1": 1}
    assert ("REGISTERED_TO", ONE, "Phone:+639171234567") in {
        (e.type, e.source, e.target) for e in result.edges}  # edges among neighbours too
    assert not result.capped and result.note is None


def test_expand_cap_keeps_nearest_and_says_so(case: EmbeddedStore) -> None:
    result = expand(case, "person:AG-1", hops=3, limit=5)
    assert result.capped
    assert len(result.nodes) == 5
    assert [n.hops for n in result.nodes] == sorted(n.hops or 0 for n in result.nodes)
    assert result.note == ("stopped at 5 nodes before reaching every node within 3 hops; "
                           "raise --limit or lower --hops")


def test_shared_direct_and_through_accounts(case: EmbeddedStore) -> None:
    result = shared(case, "person:AG-1", "person:AG-2")
    assert [s.node.id for s in result.shared] == ["Location:L-1", f"Device:{IMEI}"]
    device = result.shared[1]
    assert device.routes_a[0].nodes == ["Person:AG-1", ONE, f"Device:{IMEI}"]
    assert device.routes_b[0].nodes == ["Person:AG-2", "Account:facebook/agent.two",
                                        f"Device:{IMEI}"]
    row = result.rows()[1]
    assert row["evidence_a"] == "uses.csv:2 EX-2 B2 | logged_in_on.csv:2 EX-2 B2"
    assert (row["hops_a"], row["hops_b"]) == (2, 2)


def test_shared_hub_is_reported_with_its_degree(case: EmbeddedStore) -> None:
    result = shared(case, ONE, THREE)
    assert [(s.node.id, s.hub_degree) for s in result.shared] == [(IP, 8)]


def test_nothing_shared(case: EmbeddedStore) -> None:
    assert shared(case, "person:AG-3", "person:AG-9").shared == []


def test_connect_finds_a_tree_around_the_hub(case: EmbeddedStore) -> None:
    terminals = ["person:AG-1", "person:AG-2", "person:AG-3", "person:AG-9"]
    result = connect(case, terminals)
    assert result.groups == [["Person:AG-1", "Person:AG-2", "Person:AG-3"]]
    assert result.unconnectable == ["Person:AG-9"]
    tree = nx.Graph((hop.start, hop.end) for hop in result.hops)
    assert nx.is_tree(tree)
    assert {"Person:AG-1", "Person:AG-2", "Person:AG-3"} <= set(tree)
    assert IP not in tree  # the CGNAT address costs more than the longer victim route
    assert all(link.evidence for hop in result.hops for link in hop.links)
    assert [n.id for n in result.nodes][:3] == ["Person:AG-1", "Person:AG-2", "Person:AG-3"]
    flags = {r["id"]: r["terminal"] for r in result.node_rows()}
    assert flags["Person:AG-1"] is True and flags[ONE] is False
    assert "Person:AG-9" not in flags


def test_connect_needs_two_entities(case: EmbeddedStore) -> None:
    with pytest.raises(AnalysisError, match="at least two distinct entities"):
        connect(case, ["person:AG-1", "Person:AG-1"])


def test_empty_case_is_an_analysis_error(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "empty.db") as store, pytest.raises(
            AnalysisError, match="the case holds no evidence yet"):
        expand(store, "person:AG-1")
