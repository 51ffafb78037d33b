"""A file of which every row is rejected is said to be, and fails the command (issue 9).

Its rows stay accounted and quarantined, and the store's ledger records the load, so a
re-ingest changes nothing and says the same; ``ringmap run`` goes on with the other tables
and fails at the end.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from ringmap.tests.small_case import BAD_IMEI, IMEI, error_line, invoke, write_case

GOOD = [f"S1,facebook,a1,{IMEI}", f"S2,facebook,b1,{IMEI}"]
BAD = [f"S3,facebook,c{i},{BAD_IMEI}" for i in range(3)]


def test_ingest_fails_when_every_row_of_a_file_is_rejected(tmp_path: Path) -> None:
    """issue 9: such a file reported ``status loaded`` and exit 0."""
    case = write_case(tmp_path / "case", GOOD, BAD)
    db = tmp_path / "case.db"
    args: list[str | Path] = ["ingest", case / "table1.csv", case / "table2.csv",
                              "-m", case / "evidence.yaml", "--store", db, "--format", "json"]
    for attempt in ("first", "again"):
        result = invoke(*args)
        good, bad = json.loads(result.stdout)
        assert good["status"] == ("loaded" if attempt == "first" else "already ingested")
        assert (bad["read"], bad["loaded"], bad["rejected"], bad["status"]) == (
            3, 0, 3, "rejected")
        assert error_line(result) == (
            f"Error: every row of {case / 'table2.csv'} (3 of 3; see {bad['quarantine']}) "
            "was rejected: nothing of it is in the case")
    with open(bad["quarantine"], encoding="utf-8", newline="") as handle:
        assert [r["row"] for r in csv.DictReader(handle)] == ["2", "3", "4"]
    stats = json.loads(invoke("stats", "--store", db, "--format", "json").stdout)
    assert [(Path(f["file"]).name, f["status"]) for f in stats["files"]] == [
        ("table1.csv", "loaded"), ("table2.csv", "rejected")]


def test_run_goes_on_and_fails_at_the_end(tmp_path: Path) -> None:
    """issue 9: ``ringmap run`` said nothing about a table rejected whole."""
    out = tmp_path / "out"
    result = invoke("run", write_case(tmp_path / "case", GOOD, BAD), "--out", out)
    line = error_line(result)
    assert line.startswith("Error: every row of ") and "table2.csv (3 of 3; see " in line
    assert line.endswith(f"the rest of the run completed: see {out}/summary.md")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [f["status"] for f in summary["ingest"]] == ["loaded", "rejected"]
    assert len(summary["cells"]) == 1 and (out / "maps" / "cells.html").is_file()
    assert "**Warning: every row of " in (out / "summary.md").read_text(encoding="utf-8")


def test_each_mapping_of_a_file_keeps_its_own_quarantine(tmp_path: Path) -> None:
    """issue 9: a second mapping on the same file overwrote the first one's quarantine."""
    case = write_case(tmp_path / "case", [*GOOD, *BAD])
    # the same mapping (same name) graded differently is a different load: its digest
    # tells the two quarantines apart
    (case / "graded.yaml").write_text(
        (case / "evidence.yaml").read_text(encoding="utf-8").replace("B2", "C3"),
        encoding="utf-8")
    db = tmp_path / "case.db"
    paths = []
    for mapping in ("evidence.yaml", "graded.yaml"):
        result = invoke("ingest", case / "table1.csv", "-m", case / mapping, "--store", db,
                        "--format", "json")
        assert result.exit_code == 0, result.output
        (row,) = json.loads(result.stdout)
        sha8 = hashlib.sha256((case / "table1.csv").read_bytes()).hexdigest()[:8]
        assert Path(row["quarantine"]).name.startswith(f"table1-{sha8}-evidence-")
        paths.append(row["quarantine"])
    assert len(set(paths)) == 2
    for path in paths:
        with open(path, encoding="utf-8", newline="") as handle:
            assert [r["row"] for r in csv.DictReader(handle)] == ["4", "5", "6"]
