"""Named queries: the catalog, parameter binding, privacy, and the same rows on every store."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ringmap.analysis.links import shared
from ringmap.errors import ConfigError, NormalisationError, NotFound, RingmapError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import AnalysisRun, Batch, Edge, FileLoad, Grading, Node, Sighting
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy, victim_side
from ringmap.queries.catalog import catalog, get_query, parse_query
from ringmap.queries.engine import parse_assignments, run_named
from ringmap.queries.twins import TWINS
from ringmap.testing import CaseBuilder
from ringmap.tests.likely_case import add_likely_victim
from ringmap.tests.queries_case import (
    A1,
    A3,
    CARD_NUMBER,
    EMAIL,
    HOSTILE,
    IMEI,
    IP,
    LAPTOP,
    OFFICE,
    PHONE,
    VA1,
    WALLET,
    card_id,
    queries_case,
)

REQUIRED = {"accounts-on-device", "devices-of-account", "who-used-identifier",
            "shared-identifiers", "contacts-of-account", "victims-by-country", "money-by-cell",
            "money-trail", "agents-at-site", "reports-for-account", "cell-members",
            "top-brokers", "cross-border-summary"}

#: parameters that give every named query rows on the case (as an analyst would type them)
CALLS: dict[str, dict[str, str]] = {
    "accounts-on-device": {"device": "imei:352099001761481"},
    "devices-of-account": {"account": "facebook/agent.two"},
    "who-used-identifier": {"identifier": "phone:0917 123 4567"},
    "shared-identifiers": {"a": A1, "b": A3},
    "contacts-of-account": {"account": A1},
    "agents-at-site": {"site": OFFICE},
    "reports-for-account": {"account": A1},
    "cell-members": {"cell": "C1"},
    "victims-by-country": {"country": "gb"},
    "money-by-cell": {"run": "run-1"},
    "money-trail": {"instrument": f"card:{CARD_NUMBER}"},
    "top-brokers": {"limit": "5"},
    "cross-border-summary": {},
}


@pytest.fixture
def case(any_store: Store, tmp_path: Path) -> Store:
    """The queries case, once per store."""
    return queries_case().ingest(any_store, tmp_path / "evidence")


@pytest.fixture
def embedded_case(tmp_path: Path) -> Any:
    """The queries case in an embedded store."""
    with EmbeddedStore(tmp_path / "embedded-case.db") as store:
        yield queries_case().ingest(store, tmp_path / "evidence")


def test_catalog_has_every_query_with_its_twin() -> None:
    assert REQUIRED <= set(catalog())
    assert set(catalog()) == set(TWINS) == set(CALLS)
    for spec in catalog().values():
        assert spec.description and spec.columns
        assert "ORDER BY" in TWINS[spec.name]


def test_bad_header_reports_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.cypher"
    path.write_text("// @name other\n// @param x: banana\n// @column y: str\n"
                    "MATCH (n {id: $z}) RETURN n.id AS y\n")
    with pytest.raises(ConfigError) as caught:
        parse_query(path)
    message = str(caught.value)
    for part in ("must match the file name", "unknown kind 'banana'", "missing @description",
                 "used but not declared: ['z']", "no ORDER BY"):
        assert part in message


def test_unknown_query_names_close_ones() -> None:
    with pytest.raises(NotFound, match="did you mean accounts-on-device"):
        get_query("acounts-on-device")


def test_every_query_has_rows(case: Store) -> None:
    for name, params in CALLS.items():
        result = run_named(case, name, params)
        assert result.rows, name
        assert list(result.rows[0]) == result.columns


def test_same_rows_on_every_store(case: Store, embedded_case: EmbeddedStore) -> None:
    for name, params in CALLS.items():
        for reveal in (False, True):
            got = run_named(case, name, params, reveal=reveal).rows
            assert got == run_named(embedded_case, name, params, reveal=reveal).rows, name


def test_who_used_identifier(case: Store) -> None:
    rows = run_named(case, "who-used-identifier", {"identifier": "+63 917 123 4567"}).rows
    assert [(r["link"], r["user"], r["role"]) for r in rows] == [
        ("HAS_NUMBER", "SimCard:8963012345678901238", None),
        ("REGISTERED_TO", A1, None),
        ("USES", "Person:AG-1", "suspect"),
        ("USES", "Person:AG-3", "suspect"),
    ]


def test_accounts_on_device_types_values(case: Store) -> None:
    rows = run_named(case, "accounts-on-device", {"device": IMEI}).rows
    assert rows[0] == {"account": A1, "first_seen": datetime(2014, 1, 1, 10, tzinfo=UTC),
                       "last_seen": datetime(2014, 6, 1, 10, tzinfo=UTC), "count": 4}
    assert rows[1]["account"] == "Account:facebook/agent.two" and rows[1]["count"] is None


def test_victims_and_money_by_cell(case: Store) -> None:
    rows = run_named(case, "victims-by-country", {}).rows
    assert [tuple(r.values()) for r in rows] == [
        ("C1", "GB", 1), ("C1", "US", 1), ("C2", "??", 1), ("C2", "GB", 1)]
    one = run_named(case, "victims-by-country", {"cell": "C2", "run": "latest"}).rows
    assert [r["country"] for r in one] == ["??", "GB"]
    britain = run_named(case, "victims-by-country", {"country": "United Kingdom"}).rows
    assert [(r["cell"], r["country"]) for r in britain] == [("C1", "GB"), ("C2", "GB")]
    # issue 9: a cell's money is what went into its cards and wallets (the report's), not
    # what its contacted victims paid anywhere: V-1's 500 USD went to C1's card, and the
    # card-to-wallet transfer into C2's wallet (no payer) is C2's
    money = run_named(case, "money-by-cell", {}).rows
    assert [tuple(r.values()) for r in money] == [
        ("C1", "GBP", 1, 1, 1000.0), ("C1", "USD", 1, 1, 500.0),
        ("C2", "PHP", 1, 1, 2500.0), ("C2", "USD", 1, 0, 1200.5)]


def test_money_trail_pseudonymises_victims(case: Store) -> None:
    rows = run_named(case, "money-trail", {"instrument": card_id()}).rows
    assert [(r["direction"], r["payment"], r["amount"]) for r in rows] == [
        ("in", "Payment:western_union/P2", 1000.0), ("in", "Payment:western_union/P1", 500.0),
        ("out", "Payment:bank/P4", 1200.5)]
    payers = [r["counterparty"] for r in rows[:2]]
    assert all(p.startswith("Person:V-") and "V-1" not in p and "V-2" not in p for p in payers)
    assert rows[2]["counterparty"] == WALLET  # an instrument, not a victim
    revealed = run_named(case, "money-trail", {"instrument": card_id()}, reveal=True).rows
    assert [r["counterparty"] for r in revealed[:2]] == ["Person:V-2", "Person:V-1"]
    # the same victim gets the same pseudonym in every query
    again = run_named(case, "money-trail", {"instrument": card_id()}).rows
    assert [r["counterparty"] for r in again[:2]] == payers


def test_victim_accounts_pseudonymised(case: Store) -> None:
    rows = run_named(case, "contacts-of-account", {"account": A1}).rows
    assert {r["contact"] for r in rows} == {rows[0]["contact"]}
    assert rows[0]["contact"].startswith("Account:V-")
    assert "victim" not in repr(rows)


def test_cell_members_and_brokers(case: Store) -> None:
    members = run_named(case, "cell-members", {"cell": "C2"}).rows
    assert [(r["member"], r["type"], r["confidence"]) for r in members] == [
        ("Person:AG-3", "Person", 1.0), (A3, "Account", 0.75)]
    brokers = {r["broker"]: r["cells"] for r in run_named(case, "top-brokers", {}).rows}
    assert brokers[LAPTOP] == 2 and brokers[OFFICE] == 2 and brokers[PHONE] == 2
    assert not any(b.startswith("Person:") for b in brokers)  # members are not brokers


def test_shared_identifiers_through_accounts_and_places(case: Store) -> None:
    """issue 9: two agents share what their accounts share, and their office, as
    `ringmap shared` says; the query used to see direct ties only (one phone here)."""
    rows = run_named(case, "shared-identifiers", {"a": "Person:AG-1", "b": "Person:AG-3"}).rows
    assert [(r["identifier"], r["hops_a"], r["via_a"], r["hops_b"], r["via_b"], r["ties"])
            for r in rows[:4]] == [
        (OFFICE, 1, None, 1, None, 4), (PHONE, 1, None, 1, None, 4),
        (EMAIL, 2, A1, 2, A3, 2), (IP, 2, A1, 2, A3, 2)]
    assert rows[4]["identifier"].startswith("Account:V-")  # the victim both contacted
    assert [r["identifier"] for r in rows] == [
        Privacy(victims={VA1}).public_id(item.node.id)
        for item in shared(case, "Person:AG-1", "Person:AG-3").shared]


def test_top_brokers_leave_out_the_runs_infrastructure(case: Store) -> None:
    """issue 9: what the cell run set aside as infrastructure (its summary lists it) is no
    broker; the analyst cannot pass the list, it is read from the run."""
    run = AnalysisRun(run_id="run-2", summary={"infrastructure": [
        {"identifier": OFFICE, "kind": "Location", "shared_by": 3},
        {"identifier": IP, "kind": "IPAddress", "shared_by": 2}]})
    case.save_cells(run, case.load_cells("run-1"))
    before = {r["broker"] for r in run_named(case, "top-brokers", {"run": "run-1"}).rows}
    brokers = {r["broker"] for r in run_named(case, "top-brokers", {}).rows}
    assert {OFFICE, IP} <= before
    assert brokers == before - {OFFICE, IP} and {LAPTOP, PHONE} <= brokers
    with pytest.raises(ConfigError, match="read from the cell run"):
        run_named(case, "top-brokers", {"infrastructure": "[]"})


def test_victim_side_asked_of_the_store(case: Store) -> None:
    ids = ["Person:V-1", "Person:AG-1", VA1, A1, PHONE, "Person:MU-1", "Nothing:x"]
    assert case.victim_side(ids) == {"Person:V-1", VA1}
    assert case.victim_side([]) == set()


def _likely_victims_case() -> CaseBuilder:
    """Contacts of every kind an agent's side has: a likely victim reached by an agent's own
    account and by an acting account of no known user, an account that acts itself, a
    victim's account shared with a person of no role, and a phone an agent called."""
    case = queries_case()
    own = add_likely_victim(case, "AG-9").own
    also_acting = case.account("skype", "also.acting")
    case.link("LOGGED_IN_ON", also_acting, case.node("Device", device_id="SN:LAPTOP-9"))
    case.contact(own, also_acting)
    case.contact(own, case.phone("+447700900123"))
    shared = case.account("instagram", "shared.with.nobody")
    case.link("USES", case.person("V-9", role="victim"), shared)
    case.link("USES", case.person("X-9", role=""), shared)
    case.contact(case.account("tiktok", "bystander"), case.account("tiktok", "other"))
    return case


def test_issue_13_the_store_victim_side_is_the_privacy_rule(any_store: Store,
                                                           tmp_path: Path) -> None:
    """Regression: named queries, the cells table and stats asked the store for the victim
    side, whose rule left out likely victims (contacts of agents of no known user), so a
    contacted handle showed in a query that maps and exports pseudonymised."""
    store = _likely_victims_case().ingest(any_store, tmp_path / "evidence")
    graph = store.project()
    asked = store.victim_side(graph.nodes)
    assert asked == victim_side(graph)
    assert {"Account:facebook/who.is.this.1999", "Phone:+447700900123"} <= asked
    assert not {"Account:skype/also.acting", "Account:instagram/shared.with.nobody",
                "Account:tiktok/other"} & asked


def test_reports_oldest_first_then_undated(case: Store) -> None:
    rows = run_named(case, "reports-for-account", {"account": A1}).rows
    assert [(r["report"], r["country"], r["named_as"]) for r in rows] == [
        ("Report:ncmec/CT-1", "US", "suspect"), ("Report:police/R-2", None, None)]


@pytest.mark.parametrize(("params", "error", "message"), [
    ({}, ConfigError, "needs --param device=VALUE (device: node(Device))"),
    ({"device": IMEI, "colour": "red"}, ConfigError, "has no parameter 'colour'"),
    ({"device": IMEI, "limit": "ten"}, ConfigError, "wants a whole number"),
    ({"device": IMEI, "limit": "0"}, ConfigError, "between 1 and"),
    ({"device": PHONE}, NotFound, "is a Phone; this query wants Device"),
    ({"device": "Device:000000000000000"}, NotFound, "no entity"),
])
def test_bad_parameters_are_one_line_errors(
    case: Store, params: dict[str, str], error: type[RingmapError], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)) as caught:
        run_named(case, "accounts-on-device", params)
    assert "\n" not in caught.value.one_line()


def test_bad_run_or_cell(case: Store) -> None:
    with pytest.raises(NotFound, match="no cell 'C9' in run run-1"):
        run_named(case, "cell-members", {"cell": "C9"})
    with pytest.raises(NotFound, match="no cell-detection run 'run-9'"):
        run_named(case, "money-by-cell", {"run": "run-9"})


def test_no_cells_yet(any_store: Store) -> None:
    with pytest.raises(NotFound, match="run `ringmap cells` first"):
        run_named(any_store, "top-brokers", {})


def test_card_numbers_never_echoed(case: Store) -> None:
    with pytest.raises(RingmapError) as caught:
        run_named(case, "money-trail", {"instrument": "card:4000 0000 0000 0002"})
    assert "4000000000000002" not in str(caught.value).replace(" ", "")


def test_injection_through_parameters_is_data(case: Store) -> None:
    """Hostile text in a parameter is looked up as a value: data back, no effect."""
    hostile = Node("Account:facebook/" + HOSTILE, "Account",
                   {"platform": "facebook", "handle": HOSTILE})
    edge = Edge("LOGGED_IN_ON", hostile.id, LAPTOP)
    load = FileLoad(sha256="d" * 64, source_file="h.csv", mapping="h", mapping_digest="m1",
                    run_id="ingest-2", grading=Grading.parse("C3"))
    case.load_file(load, [Batch([hostile], [edge], [Sighting(hostile.id, 1)], last_row=1)])
    before = case.counts()
    rows = run_named(case, "devices-of-account", {"account": hostile.id}).rows
    assert [r["device"] for r in rows] == [LAPTOP]
    for attempt in (HOSTILE, "Account:" + HOSTILE, "') RETURN 1 UNION SELECT * FROM nodes --"):
        with pytest.raises((NotFound, NormalisationError)):
            run_named(case, "devices-of-account", {"account": attempt})
        with pytest.raises(NotFound):
            run_named(case, "cell-members", {"cell": attempt})
    assert case.counts() == before
    assert case.get(hostile.id) is not None


def test_parse_assignments() -> None:
    assert parse_assignments(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_assignments(["novalue"])
    with pytest.raises(ConfigError, match="given twice"):
        parse_assignments(["a=1", "a=2"])


def test_store_factory_reopens(store_factory: Callable[[], Store], tmp_path: Path) -> None:
    """Rows survive reopening the case (queries read only what the store committed)."""
    queries_case().ingest(store_factory(), tmp_path / "evidence")
    rows = run_named(store_factory(), "cross-border-summary", {}).rows
    assert [(r["country"], r["victims"], r["reports"]) for r in rows] == [
        ("??", 1, 0), ("GB", 1, 0), ("US", 1, 1)]
