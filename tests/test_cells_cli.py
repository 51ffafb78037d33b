"""``ringmap cells`` and ``ringmap cell``: wiring, formats, exit codes, one-line errors, audit."""

from __future__ import annotations

import csv
import gc
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ringmap.analysis.projection import AgentGraph
from ringmap.cli import cells as cells_cli
from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.evidence import EvidenceGraph
from ringmap.graphs.model import CellRecord
from ringmap.tabular import write_csv
from ringmap.tests.cells_synth import planted_case


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "case.db"
    with EmbeddedStore(path) as store:
        planted_case(3, seed=8, noise=0.0).builder.ingest(store, tmp_path / "evidence")
    return str(path)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _audit(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_cells_lists_one_row_per_cell_and_saves_the_run(db: str, tmp_path: Path) -> None:
    code, out, err = _run("--store", db, "cells", "--runs", "2")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["cell", "agents", "accounts", "victims", "countries", "usd",
                                "key_player", "confidence"]
    assert [line.split()[0] for line in lines[2:]] == ["C001", "C002", "C003"]
    assert err.startswith("run cells-") and "3 cells, 0 unassigned" in err
    with EmbeddedStore(Path(db)) as store:
        latest = store.latest_cells()
    assert latest is not None and latest[0].params["runs"] == 2
    entry = _audit(tmp_path)[-1]
    assert entry["command"] == "cells" and entry["counts"] == {
        "cells": 3, "units": 23, "unassigned": 0}


def test_cells_json_and_csv(db: str) -> None:
    code, out, _ = _run("--store", db, "cells", "--runs", "1", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 3 and rows[0]["cell"] == "C001" and rows[0]["usd"] > 0
    code, out, _ = _run("--store", db, "cells", "--runs", "1", "--method", "louvain",
                        "--resolution", "1.5", "--format", "csv")
    assert code == 0
    assert next(csv.reader(io.StringIO(out)))[0] == "cell"


def test_issue_14_cells_members_in_one_call(db: str) -> None:
    code, out, _ = _run("--store", db, "cells", "--runs", "1", "--members", "--format", "json")
    assert code == 0
    cells = json.loads(out)
    code, out, _ = _run("--store", db, "cell", "C002", "--format", "csv")
    one = list(csv.DictReader(io.StringIO(out)))
    listed = cells[1]["members"]
    assert cells[1]["cell"] == "C002"
    assert [m["member"] for m in listed] == [r["member"] for r in one]
    assert [m["tie"] for m in listed] == [r["tie"] for r in one]
    roles = {m["role"] for c in cells for m in c["members"]}
    assert "key player" in roles and roles <= {"key player", "broker", "agent", "account"}
    code, out, _ = _run("--store", db, "cells", "--runs", "1", "--members", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and list(rows[0])[:5] == ["cell", "member", "label", "type", "role"]
    assert len(rows) == sum(len(c["members"]) for c in cells)
    assert [r["cell"] for r in rows] == sorted(r["cell"] for r in rows)


def test_issue_14_cells_members_asks_the_victim_side_once(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """issue 14: `cells --members` asked the store for the victim side once per cell, each
    question as slow as the one for every member: 108 of 110 CPU-s at 600 cells."""
    asked: list[int] = []
    victim_side = EmbeddedStore.victim_side

    def counted(store: EmbeddedStore, ids: Iterable[str]) -> set[str]:
        asked.append(1)
        return victim_side(store, ids)

    monkeypatch.setattr(EmbeddedStore, "victim_side", counted)
    code, out, _ = _run("--store", db, "cells", "--runs", "1", "--members", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 3
    assert len(asked) == 1



def test_issue_16_cells_members_read_after_the_evidence_graph_is_let_go(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """issue 16 (issue 14's 4 GB): `cells --members` held the detection's evidence graph and
    agent projection while it read every member's row back, at the peak of the 600-cell run;
    they are let go once the run is saved."""
    alive: list[int] = []
    load_cells = EmbeddedStore.load_cells

    def counted(store: EmbeddedStore, run_id: str, **options: Any) -> list[CellRecord]:
        alive.append(sum(isinstance(o, (EvidenceGraph, AgentGraph)) for o in gc.get_objects()))
        return load_cells(store, run_id, **options)

    monkeypatch.setattr(EmbeddedStore, "load_cells", counted)
    code, out, _ = _run("--store", db, "cells", "--runs", "1", "--members", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 3
    assert alive == [0]

def test_issue_14_cells_members_read_a_few_cells_at_a_time(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """issue 14: `cells --members` read the whole run back with every explanation (+0.26 GB
    at 600 cells) and printed it all at once; it reads and prints a few cells at a time."""
    monkeypatch.setattr(cells_cli, "_CELLS_READ", 2)
    asked: list[list[str] | None] = []
    load_cells = EmbeddedStore.load_cells

    def counted(store: EmbeddedStore, run_id: str, **options: Any) -> list[CellRecord]:
        ids = options.get("cell_ids")
        asked.append(None if ids is None else list(ids))
        return load_cells(store, run_id, **{**options, "cell_ids": asked[-1]})

    monkeypatch.setattr(EmbeddedStore, "load_cells", counted)
    code, out, _ = _run("--store", db, "cells", "--runs", "1", "--members", "--format", "json")
    assert code == 0
    assert asked == [["C001", "C002"], ["C003"]]
    listed = json.loads(out)
    assert [c["cell"] for c in listed] == ["C001", "C002", "C003"]
    assert all(c["members"] for c in listed)
    # the same text as the rows printed at once
    assert out == json.dumps(listed, indent=2, ensure_ascii=False) + "\n"
    code, out, _ = _run("--store", db, "cells", "--runs", "1", "--members", "--format", "csv")
    rows = [{"cell": c["cell"], **m} for c in listed for m in c["members"]]
    buffer = io.StringIO()
    write_csv(buffer, rows, ["cell", "member", "label", "type", "role", "confidence", "degree",
                            "betweenness", "pagerank", "tie", "evidence"])
    assert code == 0 and out == buffer.getvalue()


@pytest.mark.parametrize("args,message", [
    (["cells", "--members"], "Error: --members needs --format json or csv"),
    (["cells", "--resolution", "big"], "Error: --resolution must be auto or a positive number"),
    (["cells", "--resolution", "-1"], "Error: --resolution must be auto or a positive number"),
    (["cell", "C001"], "Error: no cell run in this store"),
])
def test_user_mistakes_are_one_line_errors(db: str, args: list[str], message: str) -> None:
    code, out, err = _run("--store", db, *args)
    assert code == 1 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


def test_empty_store_is_an_analysis_error(tmp_path: Path) -> None:
    EmbeddedStore(tmp_path / "empty.db").close()
    code, _out, err = _run("--store", str(tmp_path / "empty.db"), "cells")
    assert code == 1
    assert err == "Error: the store holds no evidence: ingest evidence before finding cells\n"


def test_cell_report_formats_and_unknown_ids(db: str, tmp_path: Path) -> None:
    assert _run("--store", db, "cells", "--runs", "1")[0] == 0
    code, out, _ = _run("--store", db, "cell", "C002")
    assert code == 0
    assert out.splitlines()[0].split() == ["field", "value"]
    assert "member" in out and "Office" in out
    code, out, _ = _run("--store", db, "cell", "C002", "--format", "json")
    record = json.loads(out)[0]
    assert record["cell"] == "C002" and record["summary"]["agents"] > 0
    assert all(m["explanation"] for m in record["members"])
    code, out, _ = _run("--store", db, "cell", "C002", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and all(r["tie"] for r in rows)
    assert _audit(tmp_path)[-1]["command"] == "cell"
    code, _out, err = _run("--store", db, "cell", "C999")
    assert code == 1 and err.startswith("Error: no cell 'C999' in run cells-")
    code, _out, err = _run("--store", db, "cell", "C001", "--run", "nope")
    assert code == 1 and err.startswith("Error: no cell run 'nope'")


def test_commands_have_help_with_an_example() -> None:
    for name in ("cells", "cell"):
        code, out, _ = _run(name, "--help")
        assert code == 0 and "Example: ringmap " + name in out
