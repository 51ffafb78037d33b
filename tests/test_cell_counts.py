"""Issue 9: one count of a cell's victims and money everywhere, agents in no cell listed, and
``ringmap run`` projecting the evidence graph once, on the committed Strikeback example."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from click.testing import CliRunner

from ringmap.analysis import cells, projection, victims
from ringmap.analysis.projection import AgentGraph
from ringmap.analysis.report import UNKNOWN_COUNTRY
from ringmap.analysis.victims import Reached
from ringmap.cli import cli
from ringmap.errors import StoreError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import AnalysisRun, CellRecord
from ringmap.graphs.store import Store
from ringmap.pipeline import RunSummary, run_case
from ringmap.queries.engine import run_named
from ringmap.tests.conftest import TEST_SECRET
from ringmap.tests.example_case import STRIKEBACK
from ringmap.viz import reach
from ringmap.viz.package import verify_package
from ringmap.viz.render import counted, read_payload


@dataclass
class Example:
    """The example case after ``ringmap run --packages``."""

    store: EmbeddedStore
    projections: int
    agent_projections: int
    """Agent graphs built (issue 16: one per run, detection's)."""
    reaches: int
    """Times every cell's reach was found (issue 16: once, for every map, timeline and
    package)."""
    out: Path
    summary: RunSummary
    records: list[CellRecord]


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    """``ringmap run --packages`` on the example, counting the projections it makes."""
    out = tmp_path_factory.mktemp("run")
    projected: list[nx.MultiDiGraph] = []
    with pytest.MonkeyPatch.context() as patch, EmbeddedStore(out / "ringmap.db") as store:
        patch.setenv("RINGMAP_SECRET", TEST_SECRET)

        def tallied(read: Callable[..., nx.MultiDiGraph]) -> Callable[..., nx.MultiDiGraph]:
            def reading(*args: Any) -> nx.MultiDiGraph:
                projected.append(read(store, *args))
                return projected[-1]
            return reading

        # every read of the whole graph counted, still the real store's graph
        patch.setattr(store, "project", tallied(Store.project))
        patch.setattr(store, "evidence", tallied(Store.evidence))
        agents: list[AgentGraph] = []

        def project_agents(*args: Any, **kwargs: Any) -> AgentGraph:
            agents.append(projection.project_agents(*args, **kwargs))
            return agents[-1]

        patch.setattr(cells, "project_agents", project_agents)
        reached: list[int] = []

        def reached_by_cell(graph: nx.MultiDiGraph, members: dict[str, list[str]]
                            ) -> dict[str, Reached]:
            reached.append(len(members))
            return victims.reached_by_cell(graph, members)

        # every reach_cells finds what the run's cells reached through this
        patch.setattr(reach, "reached_by_cell", reached_by_cell)
        summary = run_case(store, STRIKEBACK, out, packages=True)
        latest = store.latest_cells()
        assert latest is not None
        yield Example(store, len(projected), len(agents), len(reached), out, summary, latest[1])


def _cli(example: Example, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(example.out / "ringmap.db"), *args])
    return result.exit_code, result.stdout, result.stderr


def test_issue9_run_projects_the_graph_once(example: Example) -> None:
    assert example.summary.files.count("maps/victims.html") == 1
    assert any(f.startswith("packages/") for f in example.summary.files)
    assert example.projections == 1  # it was 4: cells, two maps, packages
    assert example.agent_projections == 1  # issue 16: nothing but detection builds one


def test_issue_16_run_finds_each_cells_reach_once(example: Example) -> None:
    """The cell map, the victims map, the cell timelines and the packages share one reach of
    the run's cells: each found it again (4 whole-graph passes, 30 CPU-s at 600 cells)."""
    assert example.summary.cells and "maps/cells.html" in example.summary.files
    assert any(f.startswith("packages/") for f in example.summary.files)
    assert example.reaches == 1


def test_issue9_cell_report_and_query_count_the_same_victims(example: Example) -> None:
    rows = run_named(example.store, "victims-by-country", {}).rows
    queried: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        queried[row["cell"]][row["country"]] = row["victims"]
    for record in example.records:
        assert record.summary is not None
        assert record.summary.victims_by_country == queried[record.cell_id], record.cell_id
        assert record.summary.victims == sum(queried[record.cell_id].values())
    code, out, _ = _cli(example, "cell", "C001", "--format", "json")
    assert code == 0
    shown = json.loads(out)[0]["summary"]
    assert shown["victims"] == sum(queried["C001"].values()) == 4  # it said 10


def test_issue9_money_splits_by_country_and_adds_up(example: Example) -> None:
    paid_to = sum(1 for edge in example.store.edges(["PAID_TO"]))
    counted = 0
    for record in example.records:
        assert record.summary is not None
        money = record.summary.money
        counted += money.payments
        assert sum(c.payments for c in money.by_country.values()) == money.payments
        for currency, amount in money.by_currency.items():
            assert sum(c.by_currency.get(currency, 0.0) for c in money.by_country.values()) \
                == pytest.approx(amount)
    assert 0 < counted <= paid_to  # a payment counts for one cell at most


def _victim_edges(example: Example) -> dict[tuple[str, str], str]:
    data = read_payload((example.out / "maps" / "victims.html").read_text(encoding="utf-8"))
    keys = {}  # node number -> the victims map's key ("cell:C1", "country:PH")
    for node in data["nodes"]:
        first = node.get("title", "").split("\n", 1)[0]
        code = re.search(r"\(([A-Z]{2})\)$", first)
        if first.startswith("Cell "):
            keys[node["id"]] = "cell:" + first.removeprefix("Cell ")
        elif code or first.startswith("Country unknown"):
            keys[node["id"]] = f"country:{code.group(1) if code else UNKNOWN_COUNTRY}"
    return {(keys[e["from"]], keys[e["to"]]): e["title"] for e in data["edges"]
            if keys.get(e["to"], "").startswith("country:")}


def test_issue13_summary_timelines_count_as_the_cell_reports(example: Example) -> None:
    markdown = (example.out / "summary.md").read_text(encoding="utf-8")
    assert "![Each cell over time](timeline-cells.svg)" in markdown
    assert (example.out / "timeline-cells.svg").is_file()
    rows = {r["timeline"]: r for r in example.summary.timeline}
    for record in example.records:
        assert record.summary is not None
        row = rows[f"Cell {record.cell_id}"]
        assert row["usd"] == pytest.approx(record.summary.money.usd, abs=0.05)
        assert row["first_contact"] <= row["busiest_week"] + timedelta(days=6)
        assert row["busiest_week"] <= row["last_contact"]


def test_issue9_victims_map_shows_what_each_country_paid(example: Example) -> None:
    edges = _victim_edges(example)
    paying = 0
    for record in example.records:
        assert record.summary is not None
        for code, money in record.summary.money.by_country.items():
            victims = record.summary.victims_by_country.get(code)
            title = edges.get((f"cell:{record.cell_id}", f"country:{code}"))
            if title is None or not victims:
                continue
            assert f"\n{counted(victims, 'victim')}\n" in title
            for currency, amount in money.by_currency.items():  # it said "none"
                assert f"{amount:,.2f} {currency}" in title, (record.cell_id, code)
            paying += 1
    assert paying > 0


def test_issue9_agents_in_no_cell_are_listed(example: Example) -> None:
    run = example.store.latest_cells()
    assert run is not None
    unassigned = [a for a in run[0].summary["unassigned"] if a.startswith("Person:")]
    assert len(unassigned) == 8
    listed = [r for r in example.summary.unassigned_agents if r["cell"] == "unassigned"]
    assert [r["key_player"] for r in listed] == unassigned
    with (example.out / "cells.csv").open(encoding="utf-8", newline="") as handle:
        in_csv = [r["key_player"] for r in csv.DictReader(handle) if r["cell"] == "unassigned"]
    assert in_csv == unassigned
    assert "unassigned" in (example.out / "summary.md").read_text(encoding="utf-8")
    code, out, err = _cli(example, "cells", "--format", "json")
    assert code == 0, err
    assert [r["key_player"] for r in json.loads(out) if r["cell"] == "unassigned"] == unassigned


def test_issue9_cell_report_names_its_unassigned_ties(example: Example) -> None:
    tied = {o.node for r in example.records if r.summary for o in r.summary.unassigned}
    assert tied and tied <= set(a["key_player"] for a in example.summary.unassigned_agents)
    record = next(r for r in example.records if r.summary and r.summary.unassigned)
    code, out, _ = _cli(example, "cell", record.cell_id)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("unassigned tied"))
    assert record.summary is not None and record.summary.unassigned[0].node in line


def test_issue9_raid_package_lists_arrested_suspects_in_no_cell(example: Example) -> None:
    arrested = {e.src for e in example.store.edges(["ARRESTED_AT"])}
    outside = arrested & {a["key_player"] for a in example.summary.unassigned_agents}
    assert outside  # AG-00082 and AG-00092 were arrested but fell in no cell
    listed: set[str] = set()
    for folder in sorted((example.out / "packages").iterdir()):
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        with (folder / "persons.csv").open(encoding="utf-8", newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r["id"] in outside]
        assert all(r["in_cell"] == "False" and r["raid_sites"] and not r["cell"] for r in rows)
        assert summary["to_arrest"]["in_no_cell"] >= len(rows)  # and those who work there
        listed |= {r["id"] for r in rows}
    assert listed == outside


def test_issue9_packages_and_maps_read_the_saved_report(example: Example) -> None:
    for folder in sorted((example.out / "packages").iterdir()):
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        record = next(r for r in example.records if r.cell_id == summary["cell_id"])
        assert record.summary is not None
        assert summary["victims"] == record.summary.victims == summary["victims_listed"]
        assert summary["money_received"] == record.summary.money.by_currency


def test_issue9_cards_roster_is_the_freeze_list(example: Example) -> None:
    """issue 9: cards.csv listed only the cards the cell's people hold, not the mule cards and
    e-wallets the cell owns because its victims paid into them; it now lists every card and
    wallet the cell owns with the payments into each, adding up to the cell report's money."""
    holds = [h for h in example.store.edges(["HOLDS"]) if not h.dst.startswith("IdDocument:")]
    mule_owned = 0
    for folder in sorted((example.out / "packages").iterdir()):
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        record = next(r for r in example.records if r.cell_id == summary["cell_id"])
        assert record.summary is not None
        with (folder / "cards.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        owned = [r for r in rows if r["owned_by_cell"] == "True"]
        money = record.summary.money
        assert sum(int(r["payments_received"]) for r in owned) == money.payments
        assert sum(float(r["received_usd"]) for r in owned) == pytest.approx(
            money.usd, abs=0.01 * len(owned))
        assert all(r["payments_received"] == "0" for r in rows if r not in owned)
        members = {m.node_id for m in record.members}
        held = {h.dst for h in holds if h.src in members}
        assert held <= {r["id"] for r in rows}
        mule_owned += sum(1 for r in owned if r["id"] not in held)
    assert mule_owned  # cards no agent of the cell holds are on its list


def test_issue9_unreadable_saved_report_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with EmbeddedStore(path) as store:
        store.save_cells(AnalysisRun(run_id="cells-old"), [CellRecord(cell_id="C01",
                                                                      members=[])])
        store._db.execute("UPDATE cells SET record = ?", (json.dumps(
            {"cell_id": "C01", "members": [], "summary": {"agents": "many"}}),))
        with pytest.raises(StoreError, match="cell 'C01' cannot be read"):
            store.load_cells("cells-old")
    result = CliRunner().invoke(cli, ["--store", str(path), "cell", "C01"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the saved report of cell 'C01' cannot be read")
    assert result.stderr.count("\n") == 1


def test_issue9_reports_saved_before_the_model_still_load() -> None:
    saved = {"agents": 1, "units": 1, "persons": ["Person:AG-1"], "accounts": [],
             "confidence": 1.0, "infrastructure": {}, "sites": [], "victims": 2,
             "victims_by_country": {"GB": 2},
             "money": {"payments": 1, "by_currency": {"GBP": 10.0}, "usd": 15.0,
                       "unconverted": 0, "undated": 0, "fx_table": "fx"},
             "reports": [], "key_players": [{"node": "Person:AG-1", "degree": 1.0,
                                             "betweenness": 0.0, "pagerank": 1.0}],
             "centrality": {"Person:AG-1": [1.0, 0.0, 1.0]}, "brokers": [],
             "bridging_identifiers": []}
    record = CellRecord.model_validate_json(json.dumps(
        {"cell_id": "C1", "members": [], "summary": saved}))
    assert record.summary is not None and record.summary.victims == 2
    assert record.summary.centrality["Person:AG-1"].pagerank == 1.0
    assert record.summary.money.by_country == {} and record.summary.unassigned == []
    assert CellRecord.model_validate_json(
        '{"cell_id": "C1", "members": [], "summary": {}}').summary is None


def test_issue_13_run_summary_names_the_key_that_signed_the_packages(example: Example) -> None:
    signers = {verify_package(p).signed_by for p in (example.out / "packages").iterdir()}
    assert len(signers) == 1 and example.summary.packages_signed_by in signers
    summary = (example.out / "summary.md").read_text(encoding="utf-8")
    assert f"Raid packages signed by key `{example.summary.packages_signed_by}`" in summary
