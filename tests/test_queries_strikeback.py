"""Every named query on the Strikeback example case: rows on the embedded store, and the same
rows on Neo4j (the Neo4j leg runs when a server is available)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

from ringmap.analysis.links import EvidenceGraph, shared
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.store import Store
from ringmap.queries.catalog import catalog
from ringmap.queries.engine import run_named
from ringmap.testing import ingest_case
from ringmap.tests.example_case import STRIKEBACK


def _first(store: Store, rel: str, src_type: str | None = None,
           dst_type: str | None = None) -> tuple[str, str]:
    for edge in store.edges([rel]):
        if (src_type is None or edge.src.startswith(src_type + ":")) and (
                dst_type is None or edge.dst.startswith(dst_type + ":")):
            return edge.src, edge.dst
    raise AssertionError(f"the example case has no {rel} from {src_type} to {dst_type}")


def _shared_pair(store: Store) -> tuple[str, str]:
    """Two accounts seen on the same device."""
    on_device: dict[str, list[str]] = defaultdict(list)
    for edge in store.edges(["LOGGED_IN_ON"]):
        on_device[edge.dst].append(edge.src)
    pair = next(accounts for accounts in on_device.values() if len(accounts) > 1)
    return pair[0], pair[1]


def _agents(store: Store) -> tuple[str, str]:
    """The first two suspects of the first cell."""
    latest = store.latest_cells()
    assert latest is not None
    people = [m.node_id for m in latest[1][0].members if m.node_id.startswith("Person:")]
    return people[0], people[1]


def _calls(store: Store) -> list[tuple[str, dict[str, str]]]:
    """Parameters that name real entities of the case, for every named query."""
    account, device = _first(store, "LOGGED_IN_ON")
    a, b = _shared_pair(store)
    agent_a, agent_b = _agents(store)
    latest = store.latest_cells()
    assert latest is not None
    return [
        ("accounts-on-device", {"device": device}),
        ("devices-of-account", {"account": account}),
        ("who-used-identifier", {"identifier": _first(store, "HAS_NUMBER")[1]}),
        ("shared-identifiers", {"a": a, "b": b}),
        ("shared-identifiers", {"a": agent_a, "b": agent_b}),
        ("contacts-of-account", {"account": _first(store, "CONTACTED", "Account")[0]}),
        ("agents-at-site", {"site": _first(store, "ARRESTED_AT")[1]}),
        ("reports-for-account", {"account": _first(store, "NAMES", dst_type="Account")[1]}),
        ("cell-members", {"cell": latest[1][0].cell_id}),
        ("victims-by-country", {}),
        ("money-by-cell", {}),
        ("money-trail", {"instrument": _first(store, "PAID_TO")[1]}),
        ("top-brokers", {"limit": "1000"}),
        ("cross-border-summary", {}),
    ]


def test_every_query_answers_on_the_example(strikeback: EmbeddedStore) -> None:
    calls = _calls(strikeback)
    assert {name for name, _ in calls} == set(catalog())
    for name, params in calls:
        assert run_named(strikeback, name, params).rows, name


def test_shared_identifiers_as_ringmap_shared(strikeback: EmbeddedStore) -> None:
    """issue 9: the query found nothing for two agents where `ringmap shared` found seven (the
    issue's pair, AG-00002 and AG-00008); it now finds what `ringmap shared` finds, in its order,
    and fills every column."""
    graph = EvidenceGraph(strikeback)
    latest = strikeback.latest_cells()
    assert latest is not None
    people = [m.node_id for cell in latest[1] for m in cell.members
              if m.node_id.startswith("Person:")]
    pairs = [("Person:AG-00002", "Person:AG-00008"), *pairwise(people[:7]),
             (people[0], people[-1])]
    for a, b in pairs:
        rows = run_named(strikeback, "shared-identifiers", {"a": a, "b": b}, reveal=True).rows
        found = shared(strikeback, a, b, graph=graph).shared
        assert [(r["identifier"], r["hops_a"], r["hops_b"], r["ties"]) for r in rows] == [
            (s.node.id, s.routes_a[0].length, s.routes_b[0].length, s.hub_degree)
            for s in found], (a, b)
        assert rows or (a, b) != pairs[0]
        for row in rows:
            assert (row["via_a"] is None) == (row["hops_a"] == 1), row
            assert (row["via_b"] is None) == (row["hops_b"] == 1), row


def test_top_brokers_are_no_infrastructure(strikeback: EmbeddedStore) -> None:
    """issue 9: raid sites and office Wi-Fi that the cell run set aside as infrastructure were
    listed as brokers between cells."""
    run = strikeback.analysis_runs()[-1]
    infrastructure = {item["identifier"] for item in run.summary["infrastructure"]}
    assert any(i.startswith("Location:") for i in infrastructure)
    rows = run_named(strikeback, "top-brokers", {"limit": "1000"}).rows
    assert rows and not infrastructure & {r["broker"] for r in rows}


def test_widespread_carrier_nat_is_infrastructure(strikeback: EmbeddedStore) -> None:
    """issue 9: top-brokers listed 63 carrier-NAT addresses touching 4 to 8 of the example's 8
    cells, each shared by too few agents (14-23) to cross the infrastructure threshold. After
    detection, an identifier whose agents lie in at least max(3, half of the cells) is
    infrastructure, with its reason; brokers between two or three cells stay."""
    run = strikeback.analysis_runs()[-1]
    latest = strikeback.latest_cells()
    assert latest is not None
    least = max(3, -(-len(latest[1]) // 2))
    widespread = {i["identifier"] for i in run.summary["infrastructure"]
                  if i["reason"].startswith("widespread")}
    assert len(widespread) >= 60 and all(i.startswith("IPAddress:") for i in widespread)
    rows = run_named(strikeback, "top-brokers", {"limit": "1000"}).rows
    assert rows and max(r["cells"] for r in rows) < least
    bridges = [b for cell in latest[1] if cell.summary
               for b in cell.summary.bridging_identifiers]
    assert all(b.infrastructure for b in bridges if len(b.cells) >= least
               and b.kind not in ("PaymentCard", "FinancialAccount", "mule"))
    money = [b for b in bridges if b.kind in ("PaymentCard", "FinancialAccount")]
    assert money and not any(b.infrastructure for b in money)


def test_money_by_cell_is_the_cell_reports_money(strikeback: EmbeddedStore) -> None:
    """issue 9: money-by-cell counted the payments made by the victims a cell contacted; it
    now counts the payments into the cards and wallets the cell owns, as the cell report
    does (and as test_same_rows_on_neo4j checks, the same on Neo4j)."""
    latest = strikeback.latest_cells()
    assert latest is not None
    report: dict[tuple[str, str], float] = {}
    payments: dict[str, int] = {}
    for cell in latest[1]:
        assert cell.summary is not None
        payments[cell.cell_id] = cell.summary.money.payments
        for currency, amount in cell.summary.money.by_currency.items():
            report[cell.cell_id, currency] = amount
    rows = run_named(strikeback, "money-by-cell", {}).rows
    assert {(r["cell"], r["currency"]): r["total"] for r in rows} == report
    counted: dict[str, int] = defaultdict(int)
    for r in rows:
        counted[r["cell"]] += r["payments"]
    assert counted == {c: n for c, n in payments.items() if n}
    one = run_named(strikeback, "money-by-cell", {"cell": rows[-1]["cell"]}).rows
    assert one == [r for r in rows if r["cell"] == rows[-1]["cell"]]


def test_same_rows_on_neo4j(
    strikeback: EmbeddedStore, neo4j_store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    neo4j = neo4j_store_factory()
    ingest_case(neo4j, STRIKEBACK, tmp_path / "quarantine")
    run = strikeback.analysis_runs()[-1]
    neo4j.save_cells(run, strikeback.load_cells(run.run_id))  # the very same cells
    assert neo4j.counts() == strikeback.counts()
    for name, params in _calls(strikeback):
        for reveal in (False, True):
            expected = run_named(strikeback, name, params, reveal=reveal).rows
            assert run_named(neo4j, name, params, reveal=reveal).rows == expected, name
