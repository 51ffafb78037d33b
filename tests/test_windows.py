"""issue 15 item 4: cells over time — cells per time window among the agents active in it,
their lineage (continues, splits, merges, appears, ends), the agents who moved with the dated
links that show it, on a hand-built case and on a synthetic case with planted moves;
``ringmap cells --window`` and ``ringmap timeline``."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.analysis.cells import CellSettings
from ringmap.analysis.windows import (
    CellOverTime,
    Window,
    WindowSettings,
    _lineage,
    cells_over_time,
    parse_window,
    score_moves,
    span_of,
    window_graph,
    windows_between,
)
from ringmap.cli import cli
from ringmap.errors import ConfigError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.testing import CaseBuilder, planted_moves, synth_case
from ringmap.tests.attack.hostile_files import FORMULAS, live_cells

JAN, MAR = datetime(2014, 1, 5, 10), datetime(2014, 3, 10, 10)


def _moving_case() -> CaseBuilder:
    """Two cells of five agents, each on its office's phone of the month, in January and in
    March 2014; agent ``m`` signs in on cell A's phone in January and on cell B's in March."""
    case = CaseBuilder()
    phones = {(cell, when): case.device(f"SN:OFFICE-{cell}{when.month}")
              for cell in "AB" for when in (JAN, MAR)}
    for cell in ("A", "B"):
        for i in range(5):
            agent = f"AG-{cell}{i}"
            person = case.person(agent)
            account = case.account("Facebook", f"{cell.lower()}.agent.{i}")
            case.link("USES", person, account)
            for when in (JAN, MAR):
                case.link("LOGGED_IN_ON", account, phones[cell, when], first_seen=when,
                          last_seen=when + timedelta(days=20))
    mover = case.person("AG-M")
    old = case.account("Facebook", "m.old")
    new = case.account("Facebook", "m.new")
    case.link("USES", mover, old)
    case.link("USES", mover, new)
    case.link("LOGGED_IN_ON", old, phones["A", JAN], first_seen=JAN,
              last_seen=JAN + timedelta(days=9))
    case.link("LOGGED_IN_ON", new, phones["B", MAR], first_seen=MAR,
              last_seen=MAR + timedelta(days=9))
    return case


def _ingested(case: CaseBuilder, folder: Path) -> str:
    """The case ingested into ``folder/case.db``: its path for ``--store``."""
    with EmbeddedStore(folder / "case.db") as store:
        case.ingest(store, folder / "evidence")
    return str(folder / "case.db")


def test_issue_15_parse_window_and_windows() -> None:
    assert parse_window("30d") == timedelta(days=30)
    assert parse_window("2W") == timedelta(days=14)
    for bad in ("30", "0d", "1m", "-3d"):
        with pytest.raises(ConfigError, match="--window must be"):
            parse_window(bad)
    windows = windows_between(date(2014, 1, 1), date(2014, 3, 31), timedelta(days=30))
    assert [str(w) for w in windows] == ["2014-01-01 to 2014-01-30", "2014-01-31 to 2014-03-01",
                                         "2014-03-02 to 2014-03-31"]


def test_issue_15_a_window_keeps_the_agents_active_in_it(tmp_path: Path) -> None:
    case = _moving_case()
    graph = case.graph()
    assert span_of(graph) == (date(2014, 1, 5), date(2014, 3, 30))
    march = Window(2, date(2014, 3, 2), date(2014, 3, 31))
    inside, dated = window_graph(graph, march)
    # the mover's old account fell silent in January: left out, his new one kept
    assert "Account:facebook/m.old" not in inside and "Account:facebook/m.new" in inside
    assert "Person:AG-M" in inside
    assert all(first <= march.end and last >= march.start for first, last in dated.values())


def test_issue_15_a_planted_move_between_two_cells_is_found_with_its_evidence() -> None:
    case = _moving_case()
    graph = case.graph()
    first, last = span_of(graph)  # type: ignore[misc]
    windows = windows_between(first, last, timedelta(days=30))
    result = cells_over_time(graph, windows, CellSettings(runs=2))
    (move,) = result.moves
    assert move.agent == "Person:AG-M"
    before = {c.cell_id: c for c in result.cells}[move.from_cell]
    after = {c.cell_id: c for c in result.cells}[move.to_cell]
    assert "Person:AG-A0" in before.agents and "Person:AG-B0" in after.agents
    assert move.from_window.index == 0 and move.to_window.index == 2
    assert [(t.relationship, t.source, t.target, t.first) for t in move.before] == [
        ("LOGGED_IN_ON", "Account:facebook/m.old", "Device:SN:OFFICE-A1", date(2014, 1, 5))]
    assert [(t.relationship, t.target, t.first) for t in move.after] == [
        ("LOGGED_IN_ON", "Device:SN:OFFICE-B3", date(2014, 3, 10))]
    # February holds no activity: March's cells continue January's
    assert {c.event for c in result.cells if c.window.index == 2} == {"continues"}
    assert result.active == {0: 11, 1: 0, 2: 11}


def _cell(window: int, name: str, agents: str) -> CellOverTime:
    return CellOverTime(Window(window, date(2014, 1, 1), date(2014, 1, 1)), name,
                        frozenset(agents), {})


def test_issue_15_lineage_continues_splits_merges_appears_ends() -> None:
    first = [_cell(0, "W1-A", "abcdef"), _cell(0, "W1-B", "ghij"), _cell(0, "W1-C", "klmn"),
             _cell(0, "W1-D", "opqr")]
    second = [_cell(1, "W2-A", "abcdeg"),  # A continues (g wandered in)
              _cell(1, "W2-B1", "hi"), _cell(1, "W2-B2", "jx"),  # B splits (B2: j alone)
              _cell(1, "W2-CD", "klmnopq"),  # C and D merge
              _cell(1, "W2-E", "yz")]  # appears
    links = _lineage([first, second], WindowSettings())
    by = {c.cell_id: c for c in [*first, *second]}
    assert by["W2-A"].event == "continues" and by["W2-A"].line == by["W1-A"].line
    assert by["W2-B1"].event == "continues"  # one shared agent is no link: B2 appears
    assert by["W2-B2"].event == "appears"
    assert by["W2-CD"].event == "merges" and by["W2-CD"].previous == ["W1-C", "W1-D"]
    assert by["W2-E"].event == "appears"
    assert sorted((k.before, k.after) for k in links) == [
        ("W1-A", "W2-A"), ("W1-B", "W2-B1"), ("W1-C", "W2-CD"), ("W1-D", "W2-CD")]
    split = [_cell(1, "W2-X", "ghk"), _cell(1, "W2-Y", "ijl")]
    _lineage([[_cell(0, "W1-G", "ghij")], split], WindowSettings())
    assert {c.event for c in split} == {"splits"}
    ended = [_cell(0, "W1-Z", "stuv")]
    _lineage([ended, [_cell(1, "W2-Q", "wxyz")]], WindowSettings())
    assert ended[0].ending


@pytest.fixture(scope="module")
def moves_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("moves")
    case = synth_case(folder, cells=6, seed=11, noise=0.1, moves=5, detect=False)
    case.store.close()
    return folder


def test_issue_15_synth_plants_moves_at_known_dates(moves_case: Path) -> None:
    case = moves_case / "case"
    with (case / "truth" / "moves.csv").open(encoding="utf-8") as handle:
        moves = list(csv.DictReader(handle))
    assert len(moves) == 5
    assert [(m["from_cell"], m["to_cell"]) for m in moves] == [
        (f"C-{i:04d}", f"C-{i + 1:04d}") for i in range(1, 6)]
    assert all("2013-12-01" <= m["moved"] <= "2014-02-28" for m in moves)
    summary = json.loads((case / "truth" / "summary.json").read_text())
    assert summary["parameters"]["moves"] == 5 and summary["counts"]["moves"] == 5
    assert "--moves 5" in (case / "README.md").read_text()


def test_issue_15_windowed_cells_find_the_planted_moves(moves_case: Path) -> None:
    case = moves_case / "case"
    with EmbeddedStore(moves_case / "case.db") as store:
        graph = store.project()
    with (case / "truth" / "cells.csv").open(encoding="utf-8") as handle:
        truth = {r["node_id"]: r["cell_id"] for r in csv.DictReader(handle)}
    planted = planted_moves(case)
    first, last = span_of(graph)  # type: ignore[misc]
    result = cells_over_time(graph, windows_between(first, last, timedelta(days=30)),
                             CellSettings(runs=2))
    found = score_moves(result, planted, truth)
    detected = [d for d in found if d.found is not None]
    assert len(detected) / len(planted) >= 0.6
    # the window that shows a move is the one holding its date, or the next
    assert all(d.lag in (0, 1) for d in detected)
    assert all(d.found.before and d.found.after for d in detected)  # type: ignore[union-attr]


def test_issue_15_cells_window_cli(moves_case: Path) -> None:
    db = str(moves_case / "case.db")
    result = CliRunner().invoke(cli, ["cells", "--window", "30d", "--runs", "1", "--store", db,
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"windows", "cells", "lineage", "moves"}
    assert doc["windows"][0]["window"] == 1 and doc["cells"] and doc["moves"]
    assert {c["event"] for c in doc["cells"]} <= {"continues", "splits", "merges", "appears"}
    assert result.stderr.endswith(f"{len(doc['moves'])} moves\n")
    one = CliRunner().invoke(cli, ["cells", "--from", "2014-01-01", "--to", "2014-01-31",
                                   "--runs", "1", "--store", db, "--format", "json"])
    assert one.exit_code == 0, one.output
    assert [w["from"] for w in json.loads(one.stdout)["windows"]] == ["2014-01-01"]
    bad = CliRunner().invoke(cli, ["cells", "--window", "3 months", "--store", db])
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: --window must be")
    back = CliRunner().invoke(cli, ["cells", "--from", "2014-02-01", "--to", "2014-01-01",
                                    "--store", db])
    assert back.exit_code == 1 and "is before --from" in back.stderr


def test_issue_15_timeline_of_an_entity(tmp_path: Path) -> None:
    case = _moving_case()
    agent = case.account("Facebook", "agent.x")
    victim_person = case.person("V-1", role="victim", name="Oliver Smith")
    victim = case.account("Facebook", "oliver.smith.77")
    case.link("USES", victim_person, victim)
    case.link("USES", "Person:AG-A0", agent)
    case.contact(agent, victim, first_seen=datetime(2014, 2, 1), last_seen=datetime(2014, 2, 3),
                 channel=FORMULAS[0])
    db = _ingested(case, tmp_path)
    result = CliRunner().invoke(cli, ["timeline", "person:AG-M", "--store", db,
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["when"], r["event"], r["entity"], r["other"]) for r in rows] == [
        ("2014-01-05", "LOGGED_IN_ON", "Account:facebook/m.old", "Device:SN:OFFICE-A1"),
        ("2014-03-10", "LOGGED_IN_ON", "Account:facebook/m.new", "Device:SN:OFFICE-B3")]
    assert rows[0]["until"] == "2014-01-14"
    assert result.stderr == "Person:AG-M: 2 dated events from 2014-01-05 to 2014-03-10\n"
    out = CliRunner().invoke(cli, ["timeline", "person:AG-A0", "--store", db, "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert "oliver" not in out.stdout.lower() and "V-" in out.stdout  # the victim pseudonymised
    assert "HYPERLINK" in out.stdout and live_cells(out.stdout) == []  # neutralised
    missing = CliRunner().invoke(cli, ["timeline", "person:nobody", "--store", db])
    assert missing.exit_code == 1 and missing.stderr.startswith("Error: ")


def test_issue_15_timeline_and_moves_pseudonymise_like_the_maps(tmp_path: Path) -> None:
    """The one rule of every map and export (privacy.victim_side, likely victims included)
    decides what a timeline and a move's evidence show: a contacted account of no known user
    is a likely victim also when it is the timeline's own entity or a tie of a move, and an
    agent's account of unknown user (it signs in on the office phone) is not."""
    case = _moving_case()
    victim = case.account("Facebook", "oliver.smith.77")
    for agent in ("Account:facebook/m.old", "Account:facebook/a.agent.0",
                  "Account:facebook/a.agent.1"):
        case.contact(agent, victim, first_seen=datetime(2014, 1, 6),
                     last_seen=datetime(2014, 1, 8))
    unknown = case.account("Facebook", "agent.nobody")  # acting: no victim
    case.link("LOGGED_IN_ON", unknown, "Device:SN:OFFICE-A1", first_seen=JAN, last_seen=JAN)
    case.contact(unknown, victim, first_seen=datetime(2014, 1, 7))
    db = _ingested(case, tmp_path)
    own = CliRunner().invoke(cli, ["timeline", "account:facebook/oliver.smith.77", "--store", db,
                                   "--format", "json"])
    assert own.exit_code == 0, own.output
    rows = json.loads(own.stdout)
    assert "oliver" not in own.output.lower()
    assert {r["entity"] for r in rows} == {rows[0]["entity"]}
    assert rows[0]["entity"].startswith("Account:V-")
    assert "Account:facebook/agent.nobody" in {r["other"] for r in rows}
    moves = CliRunner().invoke(cli, ["cells", "--window", "30d", "--runs", "1", "--store", db,
                                     "--format", "json"])
    assert moves.exit_code == 0, moves.output
    (move,) = json.loads(moves.stdout)["moves"]
    assert "CONTACTED Account:facebook/m.old -> Account:V-" in move["before"]
    assert "oliver" not in moves.output.lower()
