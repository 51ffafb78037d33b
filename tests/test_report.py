"""Cell reports: money in USD at the payment's date, victims by country, key players, brokers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import igraph as ig
import networkx as nx
import pytest
from pydantic import BaseModel

from ringmap.analysis import keyplayers
from ringmap.analysis.cells import CellSettings, find_cells
from ringmap.analysis.fx import FxTable
from ringmap.analysis.keyplayers import centralities, participation, ties_by_cell
from ringmap.analysis.projection import ProjectionSettings
from ringmap.analysis.report import Labels, build_reports, holdings_by_cell, money_received
from ringmap.analysis.victims import Links, Paid, reached, reached_by_cell, victim_country
from ringmap.errors import ConfigError
from ringmap.graphs.model import CellReport
from ringmap.privacy import Privacy
from ringmap.tests.cells_synth import planted_case


@pytest.fixture
def fx(tmp_path: Path) -> FxTable:
    table = tmp_path / "fx.csv"
    table.write_text("date,currency,usd_per_unit\n2014-01-01,GBP,1.5\n2015-01-01,GBP,2.0\n"
                     "2014-01-01,USD,1\n")
    return FxTable.load(table)


def test_rate_is_the_nearest_earlier_one(fx: FxTable) -> None:
    assert fx.rate("GBP", date(2014, 12, 31)) == 1.5
    assert fx.rate("gbp", date(2015, 1, 1)) == 2.0
    assert fx.rate("GBP", datetime(2020, 6, 1, 12)) == 2.0
    assert fx.rate("GBP", date(2013, 12, 31)) is None  # older than every rate
    assert fx.rate("GBP", None) == 2.0  # undated: the latest rate
    assert fx.rate("EUR", date(2015, 1, 1)) is None


def test_shipped_table_covers_the_case_currencies() -> None:
    table = FxTable.load()
    for currency in ("USD", "PHP", "GBP", "EUR", "HKD", "SGD", "IDR", "MYR", "AUD", "KRW"):
        assert table.rate(currency, date(2014, 6, 1)), currency


def test_bad_fx_table_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,currency,usd_per_unit\nyesterday,GBP,1.5\n")
    with pytest.raises(ConfigError, match="line 2"):
        FxTable.load(bad)


def _payment(g: nx.MultiDiGraph, ref: str, amount: float, currency: str,
             when: datetime | None) -> None:
    g.add_node(ref, type="Payment", amount=amount, currency=currency,
               **({"time": when} if when else {}))
    g.add_edge(ref, "PaymentCard:k", key="PAID_TO", type="PAID_TO")


def test_money_received_per_currency_and_in_usd(fx: FxTable) -> None:
    g = nx.MultiDiGraph()
    g.add_node("PaymentCard:k", type="PaymentCard")
    _payment(g, "Payment:1", 100.0, "GBP", datetime(2014, 5, 1))
    _payment(g, "Payment:2", 100.0, "GBP", datetime(2015, 5, 1))
    _payment(g, "Payment:3", 50.0, "USD", None)
    _payment(g, "Payment:4", 10.0, "XXX", datetime(2015, 5, 1))
    g.add_node("Person:v", type="Person", role="victim", nationality="GB")
    paid = [Paid(f"Payment:{i}", "PaymentCard:k", "Person:v" if i < 3 else None)
            for i in range(1, 5)]
    money = money_received(g, [*paid, paid[0], Paid("Payment:absent", "PaymentCard:k", None)],
                           fx)
    assert money.payments == 4
    assert money.by_currency == {"GBP": 200.0, "USD": 50.0, "XXX": 10.0}
    assert money.usd == 150.0 + 200.0 + 50.0
    assert money.unconverted == 1 and money.undated == 1
    assert {c: m.by_currency for c, m in money.by_country.items()} == {
        "??": {"USD": 50.0, "XXX": 10.0}, "GB": {"GBP": 200.0}}


def test_victim_country_prefers_located_in() -> None:
    g = nx.MultiDiGraph()
    g.add_node("Person:v1", type="Person", nationality="GB")
    g.add_node("Country:SG", type="Country", code="SG")
    g.add_edge("Person:v1", "Country:SG", key="LOCATED_IN")
    g.add_node("Person:v2", type="Person", nationality="GB")
    assert victim_country(g, "Person:v1") == "SG"
    assert victim_country(g, "Person:v2") == "GB"
    assert victim_country(g, "Account:fb/unknown") is None


def test_key_players_and_participation() -> None:
    star = ig.Graph.Star(5)
    star.es["weight"] = 1.0
    scores = centralities(star, [0, 1, 2, 3, 4])
    assert max(scores, key=lambda v: scores[v].pagerank) == 0
    assert scores[0].betweenness == 1.0 and scores[1].betweenness == 0.0
    assert scores[0].degree == 4.0
    bridge = ig.Graph(n=4, edges=[(0, 1), (1, 2), (2, 3)])
    bridge.es["weight"] = 1.0
    assert participation(bridge, [0, 0, 1, 1]) == [0.0, 0.5, 0.5, 0.0]


def test_issue_14_ties_by_cell_read_in_parts_from_the_held_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """issue 14: a vertex's ties into each cell, read from the projection's tie arrays a few
    ties at a time (the whole edge list as Python tuples was about 1 GB at national size),
    are the sums of the whole edge list, summed in the same order (each cell's weight equal,
    not close) and listed in the same order."""
    result = find_cells(planted_case(6, seed=3, noise=0.1).graph, CellSettings(runs=2))
    graph, membership, ends = result.agents.graph, result.membership, result.agents.ends
    assert ends is not None and graph.ecount() > 50
    whole = ties_by_cell(graph, membership)
    monkeypatch.setattr(keyplayers, "_TIES_READ", 7)
    parted = ties_by_cell(graph, membership, ends)
    assert [list(t.items()) for t in parted] == [list(t.items()) for t in whole]
    assert participation(graph, membership, parted) == participation(graph, membership)


def test_reports_of_a_planted_case() -> None:
    case = planted_case(4, seed=2, noise=0.0)
    result = find_cells(case.graph, CellSettings(runs=2))
    reports = build_reports(result, Privacy.for_graph(case.graph)).cells
    assert set(reports) == {c.cell_id for c in result.cells}
    for cell in result.cells:
        report = reports[cell.cell_id]
        assert report.units == len(cell.units)
        assert report.agents == len(report.persons)
        assert set(report.persons) | set(report.accounts) == set(cell.members)
        assert report.victims == sum(report.victims_by_country.values()) > 0
        assert set(report.victims_by_country) <= {"GB", "US", "HK", "SG"}
        assert report.money.usd > 0 and report.money.unconverted == 0
        assert sum(c.payments for c in report.money.by_country.values()) == report.money.payments
        assert report.key_players[0].node in cell.members
        assert {"Device", "SimCard", "IPAddress"} <= set(report.infrastructure)
        assert report.sites[0].label.startswith("Office")
    # no mule's card serves two planted cells: the cells' totals add up to every payment
    total = sum(r.money.payments for r in reports.values())
    paid = sum(1 for _s, _d, rel in case.graph.edges(keys=True) if rel == "PAID_TO")
    assert total == paid


def test_issue14_one_reading_of_the_graph_serves_every_cell_and_agent() -> None:
    # issue 14 item 4: build_reports reads each node once (Links), labels each identifier
    # once (Labels) and counts holders once (holdings_by_cell, shared with the
    # explanations); the reports are those of fresh reads
    case = planted_case(4, seed=2, noise=0.2)
    result = find_cells(case.graph, CellSettings(runs=2))
    privacy = Privacy.for_graph(case.graph)
    shared = build_reports(result, privacy, labels=Labels(privacy, case.graph),
                           holdings=holdings_by_cell(result))
    alone = build_reports(result, Privacy.for_graph(case.graph))
    assert {c: r.model_dump_json() for c, r in shared.cells.items()} == {
        c: r.model_dump_json() for c, r in alone.cells.items()}
    assert [a.model_dump_json() for a in shared.unassigned] == [
        a.model_dump_json() for a in alone.unassigned]
    cells = {c.cell_id: sorted(c.members) for c in result.cells}
    links = Links(case.graph)
    together = reached_by_cell(case.graph, cells, links=links)
    assert together == reached_by_cell(case.graph, cells)
    for members in cells.values():  # read again through the same links
        assert reached(case.graph, members, links=links) == reached(case.graph, members)
    for person in (n for n, a in case.graph.nodes(data=True) if a.get("type") == "Person"):
        assert victim_country(case.graph, person, links) == victim_country(case.graph, person)


def test_issue_16_reports_built_unvalidated_are_those_validation_gives() -> None:
    # a run's listed identifiers, bridges and centralities are built without validation (most
    # of a large run's report memory was pydantic's per-model set of fields): each report is
    # what validating it again gives, to the type of every value
    case = planted_case(6, seed=3, noise=0.3)
    # and an agent in no cell (its one identifier is infrastructure), tied to two cells
    case.graph.add_node("Person:loner", type="Person", role="suspect")
    case.graph.add_node("Account:facebook/loner", type="Account", platform="facebook",
                        handle="loner")
    case.graph.add_edge("Person:loner", "Account:facebook/loner", key="USES")
    case.graph.add_edge("Account:facebook/loner", "IPAddress:10.0.0.1", key="LOGGED_IN_FROM")
    result = find_cells(case.graph, CellSettings(
        runs=2, projection=ProjectionSettings(infra_max_agents=15)))
    reports = build_reports(result, Privacy.for_graph(case.graph))
    parts = Counter(type(part).__name__ for report in reports.cells.values()
                    for part in _parts(report))
    assert {"Listing", "Listed", "Bridge", "Centrality", "KeyPlayer", "Outsider"} <= set(parts)
    for report in reports.cells.values():
        again = CellReport.model_validate(report.model_dump())
        assert repr(again) == repr(report)
        assert again.model_dump_json() == report.model_dump_json()


def _parts(model: BaseModel) -> Iterator[BaseModel]:
    """Every model within ``model``, itself included."""
    yield model
    for value in vars(model).values():
        for item in (value.values() if isinstance(value, dict)
                     else value if isinstance(value, list) else [value]):
            if isinstance(item, BaseModel):
                yield from _parts(item)
