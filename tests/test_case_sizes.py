"""Every case size works end to end, down to one row and zero agents (issue 9).

Each case is a real case folder written by :class:`ringmap.testing.CaseBuilder` and run
through ``ringmap run``; the commands an investigator runs next (``cells``, ``cell``, ``map``,
``export cells``) then work on the store it left: a result, or one ``Error:`` line, never a
traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner, Result

from ringmap.cli import cli
from ringmap.testing import CaseBuilder

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "strikeback"
IMEI = "490154203237518"


@dataclass(frozen=True)
class Spec:
    """A small case: suspects with their accounts, who used one shared device (suspects, their
    accounts, or accounts of unknown owner), and victims who paid."""

    suspects: Mapping[str, Sequence[str]] = field(default_factory=dict)
    on_device: Sequence[str] = ()
    victims: int = 0

    def write(self, folder: Path) -> Path:
        case = CaseBuilder()
        for person, handles in self.suspects.items():
            suspect = case.person(person)
            for handle in handles:
                case.link("USES", suspect, case.account("facebook", handle))
        for user in self.on_device:
            if user in self.suspects:
                case.link("USES", case.person(user), case.device(IMEI))
            else:
                case.link("LOGGED_IN_ON", case.account("facebook", user), case.device(IMEI))
        for n in range(1, self.victims + 1):
            victim = case.person(f"V-{n}", role="victim")
            case.link("LOCATED_IN", victim, case.node("Country", code="GB"))
            case.link("PAID", victim, case.payment("Western Union", f"WU-{n}", 500, "USD"))
        return case.write(folder)


#: case name -> (the case, agents in it, cells expected)
CASES: dict[str, tuple[Spec, int, int]] = {
    "one row": (Spec({"S1": []}), 1, 0),
    "no agents": (Spec(victims=2), 0, 0),
    "one agent": (Spec({"S1": ["a1", "a2", "a3"]}, on_device=["S1"]), 1, 0),
    "two agents, no ties": (Spec({"S1": ["a1"], "S2": ["b1"]}), 2, 0),
    "two agents, one device": (Spec({"S1": ["a1"], "S2": ["b1"]}, on_device=["S1", "S2"]), 2, 1),
    # the new user's case: two suspects, five accounts, a device only one suspect's used
    "six rows": (Spec({"S1": ["a1", "a2", "a3"], "S2": ["b1", "b2"]}, on_device=["a1", "a2"],
                      victims=1), 2, 0),
    # an account of unknown owner on the suspect's device may be his own: still one agent
    "one agent, an unowned account": (Spec({"S1": []}, on_device=["S1", "x1"]), 2, 0),
}


class Case(NamedTuple):
    """A case folder, how many agents it holds and how many cells they form."""

    folder: Path
    agents: int
    cells: int


def invoke(*args: str | Path) -> Result:
    """Run the CLI; a traceback (an exception other than exiting) fails the test."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def one_line_error(result: Result) -> str:
    """The ``Error:`` line of a failed command that printed nothing else."""
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.fixture(params=[*CASES, pytest.param("example", marks=pytest.mark.slow)])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    """Each small case, and the committed example."""
    if request.param == "example":
        return Case(EXAMPLE, 100, 8)
    spec, agents, cells = CASES[request.param]
    return Case(spec.write(tmp_path / "case"), agents, cells)


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
        "timeline.svg", *(["timeline-cells.svg"] if case.cells else []),
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
    spec = Spec({"S1": []}, on_device=["S1", *(f"x{i}" for i in range(accounts))])
    out = tmp_path / "out"
    assert invoke("run", spec.write(tmp_path / "case"), "--out", out).exit_code == 0
    result = invoke("cells", "--store", out / "ringmap.db", "--format", "json")
    rows = json.loads(result.stdout)
    assert len([r for r in rows if r["cell"] != "unassigned"]) == cells
    unowned = [f"Account:facebook/x{i}" for i in range(accounts)]
    assert [r["key_player"] for r in rows if r["cell"] == "unassigned"] == (
        [] if cells else [*unowned, "Person:S1"])  # issue 9: agents in no cell are listed
    assert f"{cells} cells, {0 if cells else accounts + 1} unassigned" in result.stderr
