"""The agent-graph projection: who is an agent, which identifiers tie them and how strongly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringmap.analysis.cells import CellSettings, find_cells
from ringmap.analysis.projection import (
    AgentGraph,
    Attachment,
    ProjectionSettings,
    project_agents,
)
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.evidence import EvidenceGraph
from ringmap.graphs.model import Edge, edge_id
from ringmap.graphs.sameas import SAME_AS, collapse, merge
from ringmap.graphs.store import Store
from ringmap.testing import CaseBuilder
from ringmap.tests.cells_synth import planted_case


def _graph(*edges: tuple[str, str, str], **roles: str) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for src, rel, dst in edges:
        for node in (src, dst):
            if node not in g:
                g.add_node(node, type=node.split(":", 1)[0])
        g.add_edge(src, dst, key=rel, type=rel)
    for person, role in roles.items():
        g.nodes[f"Person:{person}"]["role"] = role
    return g


def _weight(agents_graph: object, a: str, b: str) -> float:
    from ringmap.analysis.projection import AgentGraph

    assert isinstance(agents_graph, AgentGraph)
    index = agents_graph.index
    eid = agents_graph.graph.get_eid(index[a], index[b], error=False)
    return 0.0 if eid == -1 else float(agents_graph.graph.es[eid]["weight"])


def test_suspect_and_own_accounts_are_one_agent() -> None:
    g = _graph(("Person:a", "USES", "Account:fb/a1"), ("Person:a", "USES", "Account:fb/a2"),
               ("Person:b", "USES", "Account:fb/b1"),
               ("Account:fb/a1", "LOGGED_IN_ON", "Device:1"),
               ("Account:fb/b1", "LOGGED_IN_ON", "Device:1"), a="suspect", b="suspect")
    agents = project_agents(g)
    assert agents.units == ["Person:a", "Person:b"]
    assert agents.accounts == {"Person:a": ["Account:fb/a1", "Account:fb/a2"],
                               "Person:b": ["Account:fb/b1"]}
    assert _weight(agents, "Person:a", "Person:b") == pytest.approx(3.0)


def test_account_shared_by_two_suspects_ties_them() -> None:
    g = _graph(("Person:a", "USES", "Account:fb/x"), ("Person:b", "USES", "Account:fb/x"),
               a="suspect", b="suspect")
    agents = project_agents(g)
    assert agents.shared_accounts == {"Account:fb/x": ["Person:a", "Person:b"]}
    assert _weight(agents, "Person:a", "Person:b") == pytest.approx(4.0)


def test_victim_side_accounts_are_not_agents() -> None:
    g = _graph(("Person:v", "USES", "Account:fb/victim"),
               ("Account:fb/agent", "CONTACTED", "Account:fb/victim"),
               ("Account:fb/talker", "CONTACTED", "Account:fb/agent"),
               ("Account:fb/agent", "LOGGED_IN_FROM", "IPAddress:1.2.3.4"),
               ("Report:r/1", "NAMES", "Account:fb/named-victim"), v="victim")
    g.edges["Report:r/1", "Account:fb/named-victim", "NAMES"]["role"] = "victim"
    agents = project_agents(g)
    # the unowned account that contacted a victim is an agent; one that only talks to an
    # agent, and one a report names as a victim's, are not
    assert agents.units == ["Account:fb/agent"]
    assert agents.kinds["Person:v"] == "victim"


def test_identifier_weight_is_split_among_holders() -> None:
    edges = [(f"Person:p{i}", "USES", "Device:shared") for i in range(4)]
    g = _graph(*edges, **{f"p{i}": "suspect" for i in range(4)})
    agents = project_agents(g)
    assert _weight(agents, "Person:p0", "Person:p1") == pytest.approx(3.0 / 3)
    flat = project_agents(g, ProjectionSettings(hub_weighting="none"))
    assert _weight(flat, "Person:p0", "Person:p1") == pytest.approx(3.0)


def test_hubs_above_threshold_are_infrastructure_not_ties() -> None:
    edges = [(f"Person:p{i}", "USES", "Device:hub") for i in range(6)]
    edges.append(("Person:p0", "USES", "Device:pair"))
    edges.append(("Person:p1", "USES", "Device:pair"))
    g = _graph(*edges, **{f"p{i}": "suspect" for i in range(6)})
    agents = project_agents(g, ProjectionSettings(infra_max_agents=5))
    assert agents.infrastructure == {"Device:hub": 6}
    assert agents.graph.ecount() == 1  # only the pair device ties anyone
    relative = project_agents(g, ProjectionSettings(infra_max_share=0.5))
    assert "Device:hub" in relative.infrastructure


def test_card_victims_paid_into_belongs_with_agents_who_contacted_them() -> None:
    g = _graph(("Person:v1", "USES", "Account:fb/v1"), ("Person:v2", "USES", "Account:fb/v2"),
               ("Person:a", "USES", "Account:fb/a"), ("Person:b", "USES", "Account:fb/b"),
               ("Account:fb/a", "CONTACTED", "Account:fb/v1"),
               ("Account:fb/b", "CONTACTED", "Account:fb/v2"),
               ("Person:v1", "PAID", "Payment:wu/1"), ("Person:v2", "PAID", "Payment:wu/2"),
               ("Payment:wu/1", "PAID_TO", "PaymentCard:k"),
               ("Payment:wu/2", "PAID_TO", "PaymentCard:k"),
               ("Person:mule", "HOLDS", "PaymentCard:k"),
               v1="victim", v2="victim", a="suspect", b="suspect", mule="mule")
    agents = project_agents(g)
    index = agents.index
    assert set(agents.incidence["PaymentCard:k"]) == {index["Person:a"], index["Person:b"]}
    assert set(agents.incidence["Person:mule"]) == {index["Person:a"], index["Person:b"]}
    via = agents.incidence["PaymentCard:k"][index["Person:a"]].via
    assert via == (edge_id("CONTACTED", "Account:fb/a", "Account:fb/v1"),
                   edge_id("PAID", "Person:v1", "Payment:wu/1"),
                   edge_id("PAID_TO", "Payment:wu/1", "PaymentCard:k"))


def test_issue_10_a_masked_card_is_a_weak_tie() -> None:
    g = _graph(("Person:a", "HOLDS", "PaymentCard:full"), ("Person:b", "HOLDS", "PaymentCard:full"),
               ("Person:c", "HOLDS", "PaymentCard:masked"),
               ("Person:d", "HOLDS", "PaymentCard:masked"),
               a="suspect", b="suspect", c="suspect", d="suspect")
    g.nodes["PaymentCard:masked"]["partial"] = True
    agents = project_agents(g)
    assert agents.kinds["PaymentCard:masked"] == "masked_card"
    assert _weight(agents, "Person:c", "Person:d") == pytest.approx(0.5)
    assert _weight(agents, "Person:a", "Person:b") == pytest.approx(2.0)
    assert _weight(agents, "Person:a", "Person:c") == 0.0  # never the full card by itself


def test_low_graded_link_weighs_less() -> None:
    g = _graph(("Person:a", "USES", "Device:1"), ("Person:b", "USES", "Device:1"),
               a="suspect", b="suspect")
    weak = {edge_id("USES", "Person:b", "Device:1"): 0.09}
    assert _weight(project_agents(g, reliability=weak), "Person:a", "Person:b") == \
        pytest.approx(3.0 * 0.09)


def test_sim_in_a_shared_device_reaches_its_holders() -> None:
    g = _graph(("Person:a", "USES", "Device:1"), ("Person:b", "USES", "SimCard:9"),
               ("SimCard:9", "SIM_IN", "Device:1"), a="suspect", b="suspect")
    agents = project_agents(g, ProjectionSettings(indirect_factor=0.5))
    assert _weight(agents, "Person:a", "Person:b") == pytest.approx(3.0 * 0.5 * 2)


def test_issue_16_agents_and_chains_found_over_the_arrays() -> None:
    # issue 16: acting accounts and identifier chains are found by position over the arrays;
    # who acts and what is reached are as before: an account a victim contacted, one a report
    # names (not as a victim's), a SIM reached through its number, an account's own number
    # never chained, and the report naming that SIM reached one step further
    g = _graph(("Person:v", "USES", "Account:fb/victim"),
               ("Account:fb/victim", "CONTACTED", "Account:fb/called"),
               ("Report:r/1", "NAMES", "Account:fb/named"),
               ("Person:a", "USES", "Phone:+1"), ("SimCard:9", "HAS_NUMBER", "Phone:+1"),
               ("Account:fb/called", "REGISTERED_TO", "Phone:+1"),
               ("Report:r/2", "NAMES", "SimCard:9"), v="victim", a="suspect")
    agents = project_agents(g)
    assert agents.units == ["Person:a", "Account:fb/called", "Account:fb/named"]
    assert list(agents.incidence) == ["Phone:+1", "Report:r/1", "SimCard:9", "Report:r/2",
                                      "Person:v"]
    assert agents.incidence["SimCard:9"][1] == Attachment(0.5, (
        "REGISTERED_TO:Account:fb/called->Phone:+1", "HAS_NUMBER:SimCard:9->Phone:+1"))
    assert agents.incidence["Report:r/2"][0] == Attachment(0.25, (
        "USES:Person:a->Phone:+1", "HAS_NUMBER:SimCard:9->Phone:+1",
        "NAMES:Report:r/2->SimCard:9"))


def test_issue_16_direct_ties_in_bulk_keep_the_strongest_first_met() -> None:
    # issue 16: an agent's direct identifiers are attached in bulk (3.1M attachments at
    # 5,400 cells), as one by one: the strongest way kept, of equal ones the first, the
    # identifiers and their holders in the order first met, a shared account's for each user
    g = _graph(("Person:a", "USES", "Account:fb/a1"), ("Person:a", "USES", "Account:fb/s"),
               ("Person:a", "USES", "Device:1"), ("Person:a", "USES", "Phone:+1"),
               ("Person:b", "USES", "Account:fb/s"), ("Person:b", "USES", "Device:1"),
               ("Account:fb/a1", "LOGGED_IN_ON", "Device:1"),
               ("Account:fb/a1", "REGISTERED_TO", "Phone:+1"),
               ("Account:fb/s", "LOGGED_IN_FROM", "IPAddress:9"), a="suspect", b="suspect")
    graded = {edge_id("USES", "Person:a", "Device:1"): 0.5,
              edge_id("LOGGED_IN_ON", "Account:fb/a1", "Device:1"): 0.8,
              edge_id("USES", "Person:a", "Phone:+1"): 0.7,
              edge_id("REGISTERED_TO", "Account:fb/a1", "Phone:+1"): 0.7}
    agents = project_agents(g, reliability=graded)
    a, b = agents.index["Person:a"], agents.index["Person:b"]
    assert list(agents.incidence) == ["Account:fb/s", "Device:1", "Phone:+1", "IPAddress:9"]
    assert agents.incidence["Device:1"] == {
        a: Attachment(0.8, (edge_id("LOGGED_IN_ON", "Account:fb/a1", "Device:1"),)),
        b: Attachment(1.0, (edge_id("USES", "Person:b", "Device:1"),))}
    assert list(agents.incidence["Device:1"]) == [a, b]
    assert agents.incidence["Phone:+1"] == {
        a: Attachment(0.7, (edge_id("USES", "Person:a", "Phone:+1"),))}
    assert list(agents.incidence["IPAddress:9"]) == [a, b]
    assert {agents.incidence["IPAddress:9"][u].via for u in (a, b)} == {
        (edge_id("LOGGED_IN_FROM", "Account:fb/s", "IPAddress:9"),)}
    assert agents.kinds == {"Account:fb/s": "Account", "Device:1": "Device", "Phone:+1": "Phone",
                            "IPAddress:9": "IPAddress"}


def test_planted_case_projection_is_deterministic() -> None:
    case = planted_case(4, seed=5)
    one, two = project_agents(case.graph), project_agents(case.graph)
    assert one.units == two.units
    assert sorted(one.graph.get_edgelist()) == sorted(two.graph.get_edgelist())
    assert set(one.units) <= set(case.truth)


def _row_by_row(store: Store, node_types: list[str] | None, rel_types: list[str] | None
                ) -> nx.MultiDiGraph:
    """The evidence graph as ``Store.project`` built it before issue 14: one ``add_node`` per
    node and one ``add_edge`` per relationship, in the order the store lists them."""
    g = nx.MultiDiGraph()
    for node in store.nodes(node_types):
        g.add_node(node.id, type=node.type, **node.props)
    for edge in store.edges(rel_types):
        if edge.type != SAME_AS and edge.src in g and edge.dst in g:
            g.add_edge(edge.src, edge.dst, key=edge.type, type=edge.type, **edge.props)
    return collapse(g, store.edges([SAME_AS]))


@pytest.mark.parametrize(("node_types", "rel_types"), [
    (None, None), (["Person", "Account", "Device"], None), (None, ["USES", SAME_AS])])
def test_issue_14_packed_projection_is_the_row_by_row_graph(
        any_store: Store, tmp_path: Path, node_types: list[str] | None,
        rel_types: list[str] | None) -> None:
    case = planted_case(3, seed=5)
    case.builder.ingest(any_store, tmp_path / "evidence")
    persons = [n.id for n in any_store.nodes(["Person"])]
    merge(any_store, persons[0], persons[1], "same passport")
    packed = any_store.project(node_types, rel_types)
    reference = _row_by_row(any_store, node_types, rel_types)
    assert list(packed.nodes(data=True)) == list(reference.nodes(data=True))
    assert list(packed.edges(keys=True, data=True)) == list(reference.edges(keys=True,
                                                                            data=True))
    assert [list(packed.pred[n]) for n in packed] == [list(reference.pred[n]) for n in reference]
    assert packed.graph == reference.graph and packed.graph["same_as"]
    assert find_cells(packed, CellSettings(runs=2)).membership == find_cells(
        reference, CellSettings(runs=2)).membership


def test_a_report_naming_many_is_read_beside_its_pairs(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 16: each name's role was read through the report's neighbourhood, built anew
    # for every name (the square of a report's names); it is read beside the pairs now, with
    # the same agents as on the networkx graph
    case = CaseBuilder()
    report = case.node("Report", source="ncmec", reference="CT-1")
    for i in range(6):
        suspect = case.person(f"s{i}")
        own = case.account("facebook", f"own{i}")
        case.link("USES", suspect, own)
        named = case.account("facebook", f"named{i}")
        case.link("NAMES", report, named, role="victim" if i % 2 else "suspect")
        case.link("NAMES", report, own, role="suspect")
        case.link("LOGGED_IN_ON", own, case.device(f"SN:dev{i // 2}"))
    store = case.ingest(EmbeddedStore(tmp_path / "case.db"), tmp_path / "case")
    expected = project_agents(store.project())
    monkeypatch.setattr(EvidenceGraph, "neighbours", _no_neighbourhood)
    agents = project_agents(store.evidence())
    assert agents.units == expected.units
    assert sorted(u for u in agents.units if u.startswith("Account:")) == [
        f"Account:facebook/named{i}" for i in (0, 2, 4)]
    assert agents.incidence == expected.incidence


def _no_neighbourhood(*_args: object) -> None:
    raise AssertionError("the projection built a node's neighbourhood")


def test_issue_16_a_hubs_holders_are_found_by_unit() -> None:
    # explanations look up each holder of an identifier in turn: a hub's thousands of
    # holders were searched in full for each (their square at 5,400 cells); an identifier
    # held by many is indexed once, and answers as one held by few
    g = nx.MultiDiGraph()
    g.add_node("IPAddress:1", type="IPAddress")
    g.add_node("Device:1", type="Device")
    for i in range(100):
        person = f"Person:{i:03d}"
        g.add_node(person, type="Person", role="suspect")
        g.add_edge(person, "IPAddress:1", key="USES", type="USES")
        if i < 3:
            g.add_edge(person, "Device:1", key="USES", type="USES")
    agents = project_agents(g, ProjectionSettings(infra_max_agents=200))
    for ident, many in (("IPAddress:1", 100), ("Device:1", 3)):
        holders = agents.incidence[ident]
        assert len(holders) == many
        for unit in reversed(list(holders)):
            person = agents.units[unit]
            assert holders[unit] == Attachment(1.0, (edge_id("USES", person, ident),))
            assert holders.reliability(unit) == 1.0
        with pytest.raises(KeyError):
            holders[len(agents.units)]


def test_issue_16_agents_read_by_position_as_by_id(tmp_path: Path) -> None:
    # issue 16: who uses which account, who acts, and the kind of each identifier reached are
    # read by position over the packed arrays (node ids looked up in bulk, -1 for a node
    # merged into another), not per relationship by id: the same agents, attachments and
    # kinds as from the networkx graph, merged persons of either role included
    case = planted_case(3, seed=5)
    store = EmbeddedStore(tmp_path / "case.db")
    case.builder.ingest(store, tmp_path / "evidence")
    persons = {n.id: n.props.get("role") for n in store.nodes(["Person"])}
    for role in ("suspect", "victim"):
        first, second = [p for p, r in persons.items() if r == role][:2]
        merge(store, first, second, "same passport")
    evidence = store.evidence()
    assert evidence.packed is not None
    merged = next(iter(evidence.graph["same_as"]))
    at = evidence.positions_of([merged, "Person:nobody", *list(evidence)[:2]])
    assert at.tolist() == [-1, -1, *(evidence.position(n) for n in list(evidence)[:2])]
    packed, expected = project_agents(evidence), project_agents(store.project())
    assert packed.units == expected.units
    assert (packed.accounts, packed.shared_accounts) == (expected.accounts,
                                                         expected.shared_accounts)
    assert list(packed.kinds.items()) == list(expected.kinds.items())
    assert {"victim", "Device", "SimCard"} <= set(packed.kinds.values())
    assert list(packed.incidence) == list(expected.incidence)
    assert packed.incidence == expected.incidence


# -- issue 16: the attachments built as arrays, against the dict of holders they replaced -------

_TYPES = ("Person", "Account", "Phone", "SimCard", "Device", "Email", "IPAddress",
          "PaymentCard", "FinancialAccount", "IdDocument", "Location", "Report", "Exhibit",
          "Payment")
#: relationships of the schema the projection reads, by the types of their ends
_SHAPES = (("USES", "Person", "Account"), ("USES", "Person", "Phone"),
           ("USES", "Person", "Device"), ("USES", "Person", "SimCard"),
           ("HOLDS", "Person", "PaymentCard"), ("HOLDS", "Person", "FinancialAccount"),
           ("HOLDS", "Person", "IdDocument"), ("REGISTERED_TO", "Account", "Phone"),
           ("REGISTERED_TO", "Account", "Email"), ("REGISTERED_TO", "FinancialAccount", "Phone"),
           ("LOGGED_IN_FROM", "Account", "IPAddress"), ("LOGGED_IN_ON", "Account", "Device"),
           ("LOGGED_IN_ON", "Email", "Device"), ("SIM_IN", "SimCard", "Device"),
           ("HAS_NUMBER", "SimCard", "Phone"), ("CONTACTED", "Account", "Account"),
           ("CONTACTED", "Phone", "Phone"), ("CONTACTED", "Account", "Phone"),
           ("PAID", "Person", "Payment"), ("PAID_TO", "Payment", "PaymentCard"),
           ("PAID_TO", "Payment", "FinancialAccount"), ("SEIZED_AT", "Exhibit", "Location"),
           ("SEIZED_FROM", "Exhibit", "Person"), ("EXHIBIT_OF", "Exhibit", "Device"),
           ("EXHIBIT_OF", "Exhibit", "SimCard"), ("EXHIBIT_OF", "Exhibit", "Phone"),
           ("WORKS_AT", "Person", "Location"), ("ARRESTED_AT", "Person", "Location"),
           ("NAMES", "Report", "Account"), ("NAMES", "Report", "Person"),
           ("NAMES", "Report", "Phone"), ("NAMES", "Report", "PaymentCard"))
_ROLES = ("suspect", "suspect", "suspect", "victim", "victim", "mule", "other")


@st.composite
def _evidence(draw: st.DrawFn) -> tuple[nx.MultiDiGraph, dict[str, float]]:
    """A small evidence graph of the schema's shapes (a few nodes of each type, so that
    identifiers are shared, hubs form and numbers are contacted), same-as groups collapsed,
    and a reliability for some relationships (equal ones too)."""
    g = nx.MultiDiGraph()
    size = draw(st.integers(2, 4))
    for t in _TYPES:
        for i in range(size):
            node = f"{t}:{i}"
            g.add_node(node, type=t)
            if t == "Person":
                g.nodes[node]["role"] = draw(st.sampled_from(_ROLES))
            if t == "PaymentCard" and draw(st.booleans()):
                g.nodes[node]["partial"] = True
    reliability: dict[str, float] = {}
    for rel, src, dst in draw(st.lists(st.sampled_from(_SHAPES), min_size=20, max_size=80)):
        s, d = f"{src}:{draw(st.integers(0, size - 1))}", f"{dst}:{draw(st.integers(0, size - 1))}"
        when = draw(st.sampled_from(["", "2014-03-01T10:00:00Z"]))  # blank times too
        g.add_edge(s, d, key=rel, type=rel, first_seen=when)
        if rel == "NAMES":
            g.edges[s, d, rel]["role"] = draw(st.sampled_from(["victim", "suspect", ""]))
        grade = draw(st.sampled_from([None, 0.25, 0.5, 1.0]))
        if grade is not None:
            reliability[edge_id(rel, s, d)] = grade
    links = [Edge(SAME_AS, f"{t}:{a}", f"{t}:{b}") for t, a, b in draw(st.lists(st.tuples(
        st.sampled_from(["Person", "Account", "Phone", "Device"]), st.integers(0, size - 1),
        st.integers(0, size - 1)), max_size=3)) if a != b]
    return collapse(g, links), reliability


def _reference(g: nx.MultiDiGraph, agents: AgentGraph, reliability: Mapping[str, float],
               settings: ProjectionSettings) -> tuple[dict[str, dict[int, Attachment]],
                                                       dict[str, str]]:
    """The attachments and kinds as the projection made them one at a time before issue 16:
    a dict of holders per identifier, each attachment replaced only by a stronger one, the
    identifier of the kind of its last (its units and accounts taken from ``agents``)."""
    index = agents.index
    owners = {u: [i] for i, u in enumerate(agents.units)}
    owners |= {a: [index[p]] for p, accounts in agents.accounts.items() for a in accounts}
    owners |= {a: [index[p] for p in ps] for a, ps in agents.shared_accounts.items()}
    kind_of = {n: a["type"] for n, a in g.nodes(data=True)}
    weak = {n for n, a in g.nodes(data=True) if a.get("partial")}
    role = {n: a.get("role") for n, a in g.nodes(data=True) if a["type"] == "Person"}
    held = {"Phone", "SimCard", "Device", "Email", "IPAddress", "PaymentCard",
            "FinancialAccount", "IdDocument", "Location"}

    def edges(rel: str) -> list[tuple[str, str, float, str]]:
        return [(s, d, reliability.get(edge_id(rel, s, d), 1.0), edge_id(rel, s, d))
                for s, d, k in g.edges(keys=True) if k == rel]

    incidence: dict[str, dict[int, Attachment]] = {}
    kinds: dict[str, str] = {}

    def attach(ident: str, kind: str, units: Iterable[int], rel: float,
               via: tuple[str, ...]) -> None:
        for unit in units:
            kinds[ident] = "masked_card" if ident in weak else kind
            holders = incidence.setdefault(ident, {})
            if unit not in holders or holders[unit].reliability < rel:
                holders[unit] = Attachment(rel, via)

    def propagate(source: str, target: str, kind: str, eid: str, rel: float) -> None:
        for unit, att in list(incidence.get(source, {}).items()):
            attach(target, kind, [unit], att.reliability * (settings.indirect_factor * rel),
                   (*att.via, eid))

    for account, persons in agents.shared_accounts.items():
        for p in persons:
            attach(account, "Account", [index[p]], 1.0, (edge_id("USES", p, account),))
    for rel in ("USES", "HOLDS", "REGISTERED_TO", "LOGGED_IN_FROM", "LOGGED_IN_ON",
                "WORKS_AT", "ARRESTED_AT"):
        for s, d, r, eid in edges(rel):
            if s in owners and kind_of[d] in held:
                attach(d, kind_of[d], owners[s], r, (eid,))
    for report, named, r, eid in edges("NAMES"):
        if named in owners:
            attach(report, "Report", owners[named], r, (eid,))
    items = [(e, i, r, eid) for e, i, r, eid in edges("EXHIBIT_OF")]
    places = [(e, p, r, eid) for e, p, r, eid in edges("SEIZED_AT")]
    for exhibit, person, seized_rel, seized in edges("SEIZED_FROM"):
        for e, node, r, eid in [*items, *places]:
            if e == exhibit and person in owners:
                attach(node, kind_of[node], owners[person], min(seized_rel, r), (seized, eid))
    for exhibit, place, r, eid in places:
        for e, item, _r, _eid in items:
            if e == exhibit:
                propagate(item, place, "Location", eid, r)
    pending = [(s, d, r, eid) for rel in ("HAS_NUMBER", "REGISTERED_TO", "SIM_IN")
               for s, d, r, eid in edges(rel)
               if s not in owners and kind_of[s] in held and kind_of[d] in held]
    snapshot = {i: dict(h) for i, h in incidence.items()}
    for s, d, r, eid in pending:
        for a, b in ((s, d), (d, s)):
            for unit, att in snapshot.get(a, {}).items():
                attach(b, kind_of[b], [unit], att.reliability * (settings.indirect_factor * r),
                       (*att.via, eid))
    for report, named, r, eid in edges("NAMES"):
        if kind_of[named] in held:
            propagate(named, report, "Report", eid, r)
    victim_of = {d: s for s, d, _r, _e in edges("USES") if role.get(s) == "victim"}
    for _s, d, k, props in g.edges(keys=True, data=True):
        if k == "NAMES" and props.get("role") == "victim":
            victim_of.setdefault(d, d)

    def side(node: str) -> list[int]:
        if node in owners:
            return owners[node]
        return list(incidence.get(node, ())) if kind_of[node] == "Phone" else []

    victims = set()
    for s, d, r, eid in edges("CONTACTED"):
        here, there = side(s), side(d)
        if here and there:
            attach(eid, "contact", {*here, *there}, r, (eid,))
        elif here or there:
            victim = victim_of.get(d if here else s, d if here else s)
            victims.add(victim)
            attach(victim, "victim", here or there, r, (eid,))
    for payment, card, to_rel, paid_to in edges("PAID_TO"):
        for person, pay, paid_rel, paid in edges("PAID"):
            if pay == payment and person in victims:
                for unit, att in list(incidence[person].items()):
                    attach(card, kind_of[card], [unit], min(att.reliability, paid_rel, to_rel),
                           (*att.via, paid, paid_to))
    for person, card, r, eid in edges("HOLDS"):
        if role.get(person) == "mule":
            propagate(card, person, "mule", eid, r)
    return incidence, kinds


@given(_evidence(), st.sampled_from([2, 3, 30]))
def test_issue_16_attachments_as_arrays_are_the_dict_of_holders(
        case: tuple[nx.MultiDiGraph, dict[str, float]], infra: int) -> None:
    # issue 16: the attachments are built into arrays as they are read and grouped by
    # identifier with stable sorts; the identifiers, their holders, the strongest way of each
    # (of equals the first), its evidence path and each identifier's kind are as the dict of
    # holders made them, one attachment at a time, same-as groups, hubs and contacted numbers
    # included
    g, reliability = case
    settings = ProjectionSettings(infra_max_agents=infra)
    agents = project_agents(g, settings, reliability)
    suspects = sorted(n for n, a in g.nodes(data=True) if a.get("role") == "suspect")
    assert agents.units[:len(suspects)] == suspects
    incidence, kinds = _reference(g, agents, reliability, settings)
    assert [(i, list(h.items())) for i, h in agents.incidence.items()] == [
        (i, list(h.items())) for i, h in incidence.items()]
    assert list(agents.kinds.items()) == list(kinds.items())
    assert agents.infrastructure == {i: len(h) for i, h in incidence.items() if len(h) > infra}
