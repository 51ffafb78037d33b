"""What ingest says of a file: status ``rejected`` and a failing command when every row of it
is rejected; one quarantine per file and mapping (issue 9).

A file rejected whole keeps its rows accounted and quarantined, and the store's ledger records
the load, so a re-ingest changes nothing and says the same; ``ringmap run`` goes on with the
other tables and fails at the end.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from click.testing import CliRunner, Result

from ringmap.cli import cli
from ringmap.testing import CaseBuilder

IMEI = "490154203237518"
BAD_IMEIS = ["490154203237519", "490154203237510", "490154203237511"]  # wrong Luhn digit


def write_case(folder: Path) -> Path:
    """Two suspects sharing a device (one cell), and ``seized.csv``: a device table of which
    every row is rejected, read with the same mapping as the case's device table."""
    case = CaseBuilder()
    for suspect in ("S1", "S2"):
        case.link("USES", case.person(suspect), case.device(IMEI))
    case.write(folder)
    (folder / "seized.csv").write_text(
        "ref,device_id\n" + "".join(f"EX-{i},{imei}\n" for i, imei in enumerate(BAD_IMEIS)),
        encoding="utf-8")
    with (folder / "case.yaml").open("a", encoding="utf-8") as listing:
        listing.write("- file: seized.csv\n  mapping: mappings/device.yaml\n")
    return folder


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def error_line(result: Result) -> str:
    """The ``Error:`` line that ends a failed command's stderr (exit 1)."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("Error: "), result.output
    return lines[-1]


def quarantined_rows(path: str) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [r["row"] for r in csv.DictReader(handle)]


def test_ingest_fails_when_every_row_of_a_file_is_rejected(tmp_path: Path) -> None:
    """issue 9: such a file reported ``status loaded`` and exit 0."""
    case = write_case(tmp_path / "case")
    db = tmp_path / "case.db"
    args: list[str | Path] = ["ingest", case / "device.csv", case / "seized.csv",
                              "-m", case / "mappings" / "device.yaml", "--store", db,
                              "--format", "json"]
    for attempt in ("first", "again"):
        result = invoke(*args)
        good, bad = json.loads(result.stdout)
        assert good["status"] == ("loaded" if attempt == "first" else "already ingested")
        assert (bad["read"], bad["loaded"], bad["rejected"], bad["status"]) == (
            3, 0, 3, "rejected")
        assert error_line(result) == (
            f"Error: every row of {case / 'seized.csv'} (3 of 3; see {bad['quarantine']}) "
            "was rejected: nothing of it is in the case")
    assert quarantined_rows(bad["quarantine"]) == ["2", "3", "4"]
    stats = json.loads(invoke("stats", "--store", db, "--format", "json").stdout)
    assert [(Path(f["file"]).name, f["status"]) for f in stats["files"]] == [
        ("device.csv", "loaded"), ("seized.csv", "rejected")]


def test_run_goes_on_and_fails_at_the_end(tmp_path: Path) -> None:
    """issue 9: ``ringmap run`` said nothing about a table rejected whole."""
    out = tmp_path / "out"
    result = invoke("run", write_case(tmp_path / "case"), "--out", out)
    line = error_line(result)
    assert line.startswith("Error: every row of ") and "seized.csv (3 of 3; see " in line
    assert line.endswith(f"the rest of the run completed: see {out}/summary.md")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [f["status"] for f in summary["ingest"]][-1] == "rejected"
    assert {f["status"] for f in summary["ingest"][:-1]} == {"loaded"}
    assert len(summary["cells"]) == 1 and (out / "maps" / "cells.html").is_file()
    assert "**Warning: every row of " in (out / "summary.md").read_text(encoding="utf-8")


def test_each_mapping_of_a_file_keeps_its_own_quarantine(tmp_path: Path) -> None:
    """issue 9: a second mapping on the same file overwrote the first one's quarantine."""
    case = write_case(tmp_path / "case")
    mapping = case / "mappings" / "device.yaml"
    # the same mapping (the same name, device) graded differently is a different load: its
    # digest tells the two quarantines apart
    graded = mapping.with_name("graded.yaml")
    graded.write_text(mapping.read_text(encoding="utf-8").replace("B2", "C3") +
                      "name: device\n", encoding="utf-8")
    mixed = case / "mixed.csv"
    mixed.write_text((case / "device.csv").read_text(encoding="utf-8") +
                     (case / "seized.csv").read_text(encoding="utf-8").split("\n", 1)[1],
                     encoding="utf-8")
    sha8 = hashlib.sha256(mixed.read_bytes()).hexdigest()[:8]
    paths = []
    for used in (mapping, graded):
        result = invoke("ingest", mixed, "-m", used, "--store", tmp_path / "case.db",
                        "--format", "json")
        assert result.exit_code == 0, result.output
        (row,) = json.loads(result.stdout)
        assert Path(row["quarantine"]).name.startswith(f"mixed-{sha8}-device-")
        paths.append(row["quarantine"])
    assert len(set(paths)) == 2
    assert [quarantined_rows(p) for p in paths] == [["3", "4", "5"]] * 2
