"""Every case size works end to end, down to one row and zero agents (issue 9).

Each case is a real case folder (``case.yaml``, one evidence CSV, one mapping; see
:mod:`small_case`) run through ``ringmap run``; the commands an investigator runs next
(``cells``, ``cell``, ``map``, ``export cells``) then work on the store it left: a result, or
one ``Error:`` line, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest

from ringmap.tests.small_case import IMEI, invoke, one_line_error, write_case

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "strikeback"

PAYMENTS = ["V-1,GB,Western Union,WU-1,500,USD", "V-2,US,Western Union,WU-2,750,USD"]

#: case name -> (evidence rows, agents, cells expected)
CASES: dict[str, tuple[list[str], int, int]] = {
    "one row": (["S1,facebook,a1"], 1, 0),
    "no agents": ([f",,,,{p}" for p in PAYMENTS], 0, 0),
    "one agent": ([f"S1,facebook,a1,{IMEI}", f"S1,facebook,a2,{IMEI}", "S1,skype,a3"], 1, 0),
    "two agents, no ties": (["S1,facebook,a1", "S2,facebook,b1"], 2, 0),
    "two agents, one device": ([f"S1,facebook,a1,{IMEI}", f"S2,facebook,b1,{IMEI}"], 2, 1),
    # the new user's case: two suspects, five accounts, a device only one suspect used
    "six rows": ([f"S1,facebook,a1,{IMEI}", f"S1,facebook,a2,{IMEI}", "S1,skype,a3",
                  "S2,facebook,b1", "S2,skype,b2", f",,,,{PAYMENTS[0]}"], 2, 0),
    # an account of unknown owner on the suspect's device may be his own: still one agent
    "one agent, an unowned account": ([f"S1,,,{IMEI}", f",facebook,x1,{IMEI}"], 2, 0),
}


class Case(NamedTuple):
    """A case folder, how many agents it holds and how many cells they form."""

    folder: Path
    agents: int
    cells: int


@pytest.fixture(params=[*CASES, "example"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    """Each small case, and the committed example."""
    if request.param == "example":
        return Case(EXAMPLE, 100, 8)
    rows, agents, cells = CASES[request.param]
    return Case(write_case(tmp_path / "case", rows), agents, cells)


def test_run_then_every_command_works_on_every_case_size(case: Case, tmp_path: Path) -> None:
    """issue 9: a case without weighted ties crashed ``ringmap run`` in igraph; cells, cell,
    map and export must then work on the store it left, whatever the case holds."""
    out = tmp_path / "out"
    result = invoke("run", case.folder, "--out", out, "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert len(summary["cells"]) == case.cells
    assert (out / "cells.csv").read_text(encoding="utf-8").startswith("cell,agents,")
    assert summary["files"] == [
        "cells.csv", *(["maps/cells.html"] if case.cells else []), "maps/victims.html",
        "summary.json", "summary.md"]
    assert all((out / f).is_file() for f in summary["files"])
    markdown = (out / "summary.md").read_text(encoding="utf-8")
    if case.cells:
        assert summary["cells_note"] is None and "No cells" not in markdown
    else:
        assert f"No cells: {summary['cells_note']}" in markdown
        assert f"no cells: {summary['cells_note']}" in result.output
    check_commands(case, out / "ringmap.db", tmp_path)


def check_commands(case: Case, db: Path, tmp_path: Path) -> None:
    """cells, cell, map cells|victims and export cells on ``db``: results or one-line errors."""
    store: list[str | Path] = ["--store", db]
    listed = invoke("cells", *store, "--runs", "2", "--format", "json")
    report = invoke("cell", "C001", *store, "--format", "json")
    victims = invoke("map", "victims", *store, "-o", tmp_path / "victims.html")
    cell_map = invoke("map", "cells", *store, "-o", tmp_path / "cells.html")
    export = invoke("export", "cells", *store, "--out", tmp_path / "packages")
    assert victims.exit_code == 0 and (tmp_path / "victims.html").is_file()
    if not case.agents:
        assert one_line_error(listed).startswith("Error: no suspects or agent accounts")
        assert one_line_error(report) == ("Error: no cell run in this store: run "
                                          "`ringmap cells` first")
        for result in (cell_map, export):
            assert one_line_error(result) == ("Error: no cells in this case yet: run cell "
                                              "detection first")
        return
    assert listed.exit_code == 0, listed.output
    assert len([r for r in json.loads(listed.stdout) if r["cell"] != "unassigned"]) == case.cells
    if case.cells:
        assert report.exit_code == 0 and json.loads(report.stdout)[0]["cell"] == "C001"
        assert cell_map.exit_code == 0 and (tmp_path / "cells.html").is_file()
        assert export.exit_code == 0, export.output
        assert len(list((tmp_path / "packages").glob("cell-*"))) == case.cells
        return
    assert one_line_error(report).startswith("Error: no cell 'C001' in run cells-")
    for result in (cell_map, export):
        assert "found no cells" in one_line_error(result)
    assert not (tmp_path / "cells.html").exists()


@pytest.mark.parametrize(("accounts", "cells"), [(1, 0), (2, 0), (3, 1)])
def test_a_cell_needs_two_agents(accounts: int, cells: int, tmp_path: Path) -> None:
    """issue 9: a suspect and an unowned account on his device were a cell of confidence 1.00.

    Accounts of unknown owner count as a third of an agent each, so a suspect with one or
    two of them is one agent (unassigned), with three two agents (a cell).
    """
    rows = [f"S1,,,{IMEI}", *(f",facebook,x{i},{IMEI}" for i in range(accounts))]
    out = tmp_path / "out"
    assert invoke("run", write_case(tmp_path / "case", rows), "--out", out).exit_code == 0
    result = invoke("cells", "--store", out / "ringmap.db", "--format", "json")
    rows = json.loads(result.stdout)
    assert len([r for r in rows if r["cell"] != "unassigned"]) == cells
    unowned = [f"Account:facebook/x{i}" for i in range(accounts)]
    assert [r["key_player"] for r in rows if r["cell"] == "unassigned"] == (
        [] if cells else [*unowned, "Person:S1"])  # issue 9: agents in no cell are listed
    assert f"{cells} cells, {0 if cells else accounts + 1} unassigned" in result.stderr
