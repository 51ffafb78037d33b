"""Issue 11 through the CLI, on every store: a C3 tip never displaces A1 values, ``ringmap
conflicts`` lists both sources, ``ringmap retract`` takes a load out exactly, audited, and the
file can be ingested again."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.store import Store
from ringmap.ingest.mapping import load_mapping
from ringmap.ingest.run import ingest_files
from ringmap.pipeline import run_case
from ringmap.testing import ingest_case
from ringmap.tests.example_case import STRIKEBACK
from ringmap.tests.test_statements import dump

AGENTS = "person_id,name,birth_year,role\nAG-00009,Maria Santos,1991,suspect\n" \
         "AG-00010,Jose Cruz,1988,suspect\n"
TIP = "person_id,name,role\nAG-00009,Paolo Soriano,mule\n"
MAPPING = """
name: {name}
source: {{format: csv, grading: {grade}}}
entities:
  person:
    type: Person
    properties:
{properties}
"""


def _mapping(folder: Path, name: str, grade: str, columns: list[str]) -> Path:
    path = folder / f"{name}.yaml"
    properties = "".join(f"      {c}: {{column: {c}}}\n" for c in columns)
    path.write_text(MAPPING.format(name=name, grade=grade, properties=properties),
                    encoding="utf-8")
    return path


@pytest.fixture
def evidence(tmp_path: Path) -> dict[str, Path]:
    """The A1 register of agents and the C3 one-row tip, each with its mapping."""
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "agents.csv").write_text(AGENTS, encoding="utf-8")
    (folder / "tip.csv").write_text(TIP, encoding="utf-8")
    return {"agents.csv": folder / "agents.csv", "tip.csv": folder / "tip.csv",
            "agents": _mapping(folder, "agents", "A1", ["person_id", "name", "birth_year",
                                                        "role"]),
            "tip": _mapping(folder, "tip", "C3", ["person_id", "name", "role"])}


@pytest.fixture
def ringmap(store_factory: Callable[[], Store], store_opener: tuple[str, dict[str, str]]
            ) -> Callable[..., Result]:
    """``ringmap ARGS`` on the store of ``store_factory``."""
    where, env = store_opener
    option = "--neo4j" if where.startswith(("bolt", "neo4j")) else "--store"

    def run(*args: str) -> Result:
        return CliRunner(env=env).invoke(cli, [*args, option, where])

    return run


def _csv(result: Result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def _audit(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_issue_11_a_c3_tip_conflicts_and_is_retracted_exactly(
        ringmap: Callable[..., Result], evidence: dict[str, Path],
        store_factory: Callable[[], Store], tmp_path: Path) -> None:
    assert ringmap("ingest", str(evidence["agents.csv"]), "-m", str(evidence["agents"]),
                   "--no-progress").exit_code == 0
    store = store_factory()
    without = dump(store)
    tip = ringmap("ingest", str(evidence["tip.csv"]), "-m", str(evidence["tip"]),
                  "--no-progress")
    assert tip.exit_code == 0, tip.output

    shown = ringmap("show", "person:AG-00009", "--format", "json")
    doc = json.loads(shown.stdout)
    assert doc["properties"] == {"person_id": "AG-00009", "name": "Maria Santos",
                                 "birth_year": 1991, "role": "suspect"}
    assert [(v["value"], v["source_file"], v["grading"], v["shown"])
            for v in doc["values"] if v["property"] == "role"] == [
        ("suspect", str(evidence["agents.csv"]), "admiralty:A1", True),
        ("mule", str(evidence["tip.csv"]), "admiralty:C3", False)]

    rows = _csv(ringmap("conflicts", "--type", "Person", "--format", "csv"))
    assert [(r["item"], r["property"], r["value"], r["shown"], r["grading"]) for r in rows] == [
        ("Person:AG-00009", "name", "Maria Santos", "True", "admiralty:A1"),
        ("Person:AG-00009", "name", "Paolo Soriano", "False", "admiralty:C3"),
        ("Person:AG-00009", "role", "suspect", "True", "admiralty:A1"),
        ("Person:AG-00009", "role", "mule", "False", "admiralty:C3")]
    assert {r["file"] for r in rows} == {str(evidence["agents.csv"]), str(evidence["tip.csv"])}
    only = _csv(ringmap("conflicts", "--property", "role", "--format", "csv"))
    assert {r["property"] for r in only} == {"role"}

    retracted = ringmap("retract", str(evidence["tip.csv"]), "--reason", "source withdrew it")
    assert retracted.exit_code == 0, retracted.output
    assert dump(store_factory()) == without
    assert _csv(ringmap("conflicts", "--format", "csv")) == []
    entries = [e for e in _audit(tmp_path) if e["command"] == "retract"]
    assert [e["phase"] for e in entries] == ["intent", "done"]
    assert {e["reason"] for e in entries} == {"source withdrew it"}
    assert entries[1]["counts"]["loads"] == 1
    ledger = json.loads(ringmap("stats", "--format", "json").stdout)["files"]
    assert [(Path(f["file"]).name, f["status"], f["retracted_why"]) for f in ledger] == [
        ("agents.csv", "loaded", None), ("tip.csv", "retracted", "source withdrew it")]

    again = ringmap("retract", str(evidence["tip.csv"]), "--reason", "twice")
    assert again.exit_code == 1 and "retracted already" in again.output
    reloaded = _csv(ringmap("ingest", str(evidence["tip.csv"]), "-m", str(evidence["tip"]),
                            "--no-progress", "--format", "csv"))
    assert reloaded[0]["status"] == "loaded"
    run_id = [f for f in store_factory().file_loads() if f.retracted is None][-1].run_id
    by_run = ringmap("retract", run_id, "--reason", "the whole run")
    assert by_run.exit_code == 0, by_run.output
    assert dump(store_factory()) == without


def test_issue_11_an_unknown_target_is_a_one_line_error(
        ringmap: Callable[..., Result], evidence: dict[str, Path]) -> None:
    assert ringmap("ingest", str(evidence["agents.csv"]), "-m", str(evidence["agents"]),
                   "--no-progress").exit_code == 0
    result = ringmap("retract", str(evidence["tip.csv"]), "--reason", "never loaded")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "never loaded into this case" in result.output
    missing = ringmap("retract", "20990101T000000Z-deadbeef", "--reason", "no such run")
    assert missing.exit_code == 1 and "ingest run 20990101T000000Z-deadbeef" in missing.output
    assert ringmap("retract", str(evidence["agents.csv"])).exit_code == 2  # --reason needed


def test_issue_11_a_c3_row_keeps_the_example_agent(tmp_path: Path) -> None:
    """Regression: `AG-00009,Paolo Soriano,mule` graded C3 replaced an A1-graded suspect's
    name, birth year and role, and cell C001 lost its key player."""
    with EmbeddedStore(tmp_path / "case.db") as store:
        ingest_case(store, STRIKEBACK, tmp_path / "quarantine")
        before = store.get("Person:AG-00009")
        assert before is not None and before.props["role"] == "suspect"
        folder = tmp_path / "tip"
        folder.mkdir()
        (folder / "tip.csv").write_text(TIP, encoding="utf-8")
        mapping = load_mapping(_mapping(folder, "tip", "C3", ["person_id", "name", "role"]))
        ingest_files(store, [(folder / "tip.csv", mapping, None)],
                     quarantine_dir=tmp_path / "quarantine")
        after = store.get("Person:AG-00009")
        assert after is not None and after.props == before.props

        summary = run_case(store, STRIKEBACK, tmp_path / "out", maps=False)
        assert summary.conflicts["Person.role"] == 1  # the example's own names differ too
        assert "Sources disagree on" in (tmp_path / "out" / "summary.md").read_text("utf-8")
        _run, cells = store.latest_cells()  # type: ignore[misc]
        (home,) = [c for c in cells if any(m.node_id == after.id for m in c.members)]
        assert home.summary is not None
        assert home.summary.key_players[0].node == after.id
        (disputed,) = home.summary.disputed_roles
        claims = [(c.role, c.grading, Path(c.file).name, c.shown) for c in disputed.claims]
        assert claims[-1] == ("mule", "admiralty:C3", "tip.csv", False)
        assert {(role, shown) for role, _grade, _file, shown in claims[:-1]} == {
            ("suspect", True)}
        assert [c[1] for c in claims[:2]] == ["admiralty:A1", "admiralty:A1"]
