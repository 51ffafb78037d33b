"""issue 12: what a killed command leaves is cleaned or marked at the next start; a bad case
leaves no empty case file."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import IngestRun
from ringmap.ingest.run import ingest_files
from ringmap.tests.attack.attack_corpus import PEOPLE_MAPPING


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)


def test_issue_12_killed_runs_are_marked_and_their_temporaries_removed(tmp_path: Path) -> None:
    (tmp_path / "people.yaml").write_text(PEOPLE_MAPPING)
    data = tmp_path / "p.csv"
    data.write_text("pid,name\nP1,Ana\n,nobody\n")
    quarantine = tmp_path / "q"
    quarantine.mkdir()
    with EmbeddedStore(tmp_path / "case.db") as store:
        store.record_run(IngestRun(run_id="killed", command="ingest"))  # never finished
        first = ingest_files(store, [(data, tmp_path / "people.yaml", None)],
                             quarantine_dir=quarantine)
        name = Path(str(first.files[0].quarantine)).name
        stale = quarantine / f".{name}.{dead_pid()}.tmp"
        stale.write_text("row,reason\n")
        store.record_run(IngestRun(run_id="killed-too", command="run"))
    with EmbeddedStore(tmp_path / "case.db") as store:
        data.write_text("pid,name\nP2,Ben\n,nobody\n")  # another file, the same quarantine name
        ingest_files(store, [(data, tmp_path / "people.yaml", None)], quarantine_dir=quarantine)
        runs = {run.run_id: run for run in store.runs()}
    assert runs["killed"].interrupted and runs["killed-too"].interrupted
    assert not any(r.interrupted for r in runs.values() if r.run_id.startswith("20"))
    assert all(r.finished for r in runs.values() if not r.interrupted)
    assert not stale.exists()


def test_a_live_writers_temporary_is_kept(tmp_path: Path) -> None:
    import os

    from ringmap.fileio import remove_stale_temporaries

    live = tmp_path / f".q.csv.{os.getpid()}.tmp"
    dead = tmp_path / f".q.csv.{dead_pid()}.tmp"
    other = tmp_path / ".other.csv.1.tmp"
    for path in (live, dead, other):
        path.write_text("")
    remove_stale_temporaries(tmp_path)
    assert live.exists() and not dead.exists()
    assert other.exists()  # pid 1 lives


def test_issue_12_a_zombie_writers_temporary_is_removed(tmp_path: Path) -> None:
    """A killed package worker stays a zombie where nothing reaps it (a container whose first
    process never waits: CI's kill trials left two staging folders so); it writes no more."""
    from ringmap.fileio import remove_stale_temporaries

    child = subprocess.Popen([sys.executable, "-c", ""])  # ends, and is not waited for
    stat = Path(f"/proc/{child.pid}/stat")
    while stat.read_bytes().rpartition(b")")[2].split()[0] != b"Z":
        time.sleep(0.01)
    zombie = tmp_path / f".cell-C001.x1y2.{child.pid}.tmp"
    zombie.mkdir()
    (zombie / "roster.csv").write_text("")
    remove_stale_temporaries(tmp_path)
    child.wait()
    assert not zombie.exists()


def test_issue_12_an_invalid_case_leaves_no_case_file(tmp_path: Path) -> None:
    case = tmp_path / "case"
    case.mkdir()
    (case / "case.yaml").write_text("name: x\ntables: []\n")
    result = CliRunner().invoke(cli, ["run", str(case), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert not (tmp_path / "out").exists()


def test_issue_12_a_killed_writers_temporaries_go_at_the_next_write(tmp_path: Path) -> None:
    from ringmap.fileio import write_atomic
    from ringmap.tabular import write_csv

    dead = dead_pid()
    stale_file = tmp_path / f".summary.json.x1y2.{dead}.tmp"
    stale_staging = tmp_path / f".cell-C001.a8b7.{dead}.tmp"
    stale_file.write_text("{")
    stale_staging.mkdir()
    (stale_staging / "persons.csv").write_text("half")
    write_atomic(tmp_path / "summary.md", "# done\n")
    assert not stale_file.exists() and not stale_staging.exists()
    stale_file.write_text("{")
    write_csv(tmp_path / "cells.csv", [{"cell": "C001"}])
    assert not stale_file.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.csv", "summary.md"]


def test_issue_12_export_cells_removes_a_killed_exports_staging_even_when_it_stops(
        tmp_path: Path) -> None:
    from ringmap.errors import RingmapError
    from ringmap.viz.package import export_cells

    stale = tmp_path / f".cell-C001.k3j4.{dead_pid()}.tmp"
    stale.mkdir()
    with EmbeddedStore(tmp_path / "case.db") as store, \
            contextlib.suppress(RingmapError):  # no cell run: the export stops
        export_cells(store, tmp_path)
    assert not stale.exists()
