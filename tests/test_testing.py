"""ringmap.testing: cases built in code reach the store through files, mappings and ingest."""

from __future__ import annotations

import doctest
import re
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import pytest

import ringmap.testing
from ringmap.graphs.store import Store
from ringmap.testing import CaseBuilder, Seen


def _case() -> CaseBuilder:
    case = CaseBuilder(grading="C3", cells_run="run-7")
    agent = case.person("AG-1", name="Juan", alias="=1+1")
    victim = case.person("V-1", "victim", nationality="gb", age=17)
    agent_fb = case.account("FB", "@Agent.One", display_name="<b>x</b>")
    victim_fb = case.account("facebook", "victim.one")
    case.link("USES", agent, agent_fb)
    case.link("USES", victim, victim_fb)
    case.link("USES", agent, case.phone("0917 123 4567"))
    case.contact(agent_fb, victim_fb, count=3, first_seen=datetime(2014, 4, 1, tzinfo=UTC))
    pay = case.payment("Western Union", "MTCN-1", 500.0, "usd")
    case.link("PAID", victim, pay)
    case.link("PAID_TO", pay, case.card("4111 1111 1111 1111"))
    case.link("WORKS_AT", agent, case.site("OFF-1", name="Office", lat=14.5, lon=121.0))
    case.link("LOGGED_IN_ON", agent_fb, case.device("35-209900-176148-1"))
    case.cell("C1", {agent: 0.9, agent_fb: 0.8})
    return case


def test_doctests_run() -> None:
    assert doctest.testmod(ringmap.testing).failed == 0


def test_ids_are_the_ones_ingest_gives(any_store: Store, tmp_path: Path) -> None:
    case = _case()
    case.ingest(any_store, tmp_path / "evidence")
    assert {n.id for n in any_store.nodes()} == {
        "Person:AG-1", "Person:V-1", "Account:facebook/agent.one", "Account:facebook/victim.one",
        "Phone:+639171234567", "Payment:western_union/MTCN-1", case.card("4111111111111111"),
        "Location:OFF-1", "Device:352099001761481"}
    assert any_store.get("Person:V-1") is not None
    assert any_store.get("Person:V-1").props == {  # type: ignore[union-attr]
        "person_id": "V-1", "role": "victim", "nationality": "GB", "age": 17}
    card = any_store.get(case.card("4111111111111111"))
    assert card is not None and card.props["masked"] == "411111******1111"
    assert "4111111111111111" not in str(card.props)
    [run] = any_store.analysis_runs("cells")
    assert run.run_id == "run-7"
    [cell] = any_store.load_cells("run-7")
    assert [(m.node_id, m.confidence) for m in cell.members] == [
        ("Person:AG-1", 0.9), ("Account:facebook/agent.one", 0.8)]


def test_rows_are_numbered_per_table_and_match_provenance(any_store: Store,
                                                          tmp_path: Path) -> None:
    case = _case()
    folder = tmp_path / "evidence"
    case.ingest(any_store, folder)
    uses_phone = "USES:Person:AG-1->Phone:+639171234567"
    assert case.where("Person:V-1") == Seen("person.csv", 3, "EX-3")
    assert case.where(uses_phone) == Seen("uses.csv", 4, "EX-4")
    for item in ("Person:V-1", uses_phone, "CONTACTED:Account:facebook/agent.one->"
                 "Account:facebook/victim.one"):
        seen = case.where(item)
        own = [(p.source_file, p.row, p.ref, str(p.grading)) for p in any_store.provenance(item)]
        assert (str(folder / seen.file), seen.row, seen.ref, "admiralty:C3") in own


def test_graph_is_what_the_store_projects(any_store: Store, tmp_path: Path) -> None:
    case = _case()
    graph = case.graph()
    projected = case.ingest(any_store, tmp_path / "evidence").project()
    assert dict(graph.nodes(data=True)) == dict(projected.nodes(data=True))
    assert nx.utils.edges_equal(graph.edges(keys=True, data=True),
                                projected.edges(keys=True, data=True))


def test_adding_again_merges_into_one_row(tmp_path: Path) -> None:
    case = CaseBuilder()
    first = case.phone("0917 123 4567")
    assert case.phone("+63 917 123 4567", carrier="Globe") == first
    case.write(tmp_path)
    assert (tmp_path / "phone.csv").read_text().splitlines() == [
        "ref,number,carrier", "EX-2,+63 917 123 4567,Globe"]


def test_bad_identifiers_fail_when_added() -> None:
    case = CaseBuilder()
    with pytest.raises(ValueError, match=re.escape(
            "SimCard: node.iccid: ICCID '8963012345678901234': Luhn check digit is wrong")):
        case.node("SimCard", iccid="8963012345678901234")
    with pytest.raises(ValueError, match="blank key") as caught:
        case.card("")
    assert "4111" not in str(caught.value)
    with pytest.raises(KeyError, match="Phone:\\+639171234567 is not an entity of this case"):
        case.link("USES", case.person("AG-1"), "Phone:+639171234567")


def test_rows_ingest_cannot_read_are_an_error(tmp_path: Path, any_store: Store) -> None:
    case = CaseBuilder()
    case.payment("wu", "P-1", 500.0, "USD", time="yesterday")
    with pytest.raises(ValueError, match=r"ingest rejected rows: 1 of payment.csv \(see "):
        case.ingest(any_store, tmp_path)
