"""issue 12: one writer at a time per embedded case; no stale id cache across writers."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.errors import StoreBusy
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.ingest.run import ingest_files
from ringmap.tests.attack.attack_corpus import PEOPLE_MAPPING


def people(folder: Path, name: str, ids: range) -> Path:
    path = folder / name
    path.write_text("pid,name\n" + "".join(f"P{i},Person {i}\n" for i in ids))
    return path


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "people.yaml"
    path.write_text(PEOPLE_MAPPING)
    return path


def test_issue_12_a_second_writer_is_told_who_writes(tmp_path: Path, mapping: Path) -> None:
    case = tmp_path / "case.db"
    data = people(tmp_path, "a.csv", range(5))
    with EmbeddedStore(case) as holder, holder.writing("ingest"):
        result = CliRunner().invoke(cli, ["ingest", str(data), "-m", str(mapping),
                                          "--store", str(case)])
        assert result.exit_code == 1
        assert re.fullmatch(
            rf"Error: case {re.escape(str(case))} is busy \(ingest by PID {os.getpid()}, since "
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\); try again when it is done, or pass "
            r"--wait\n", result.stderr)
        with EmbeddedStore(case) as other, pytest.raises(StoreBusy):
            ingest_files(other, [(data, mapping, None)], quarantine_dir=tmp_path / "q")
    with EmbeddedStore(case) as store:
        assert store.counts().total_nodes == 0
        assert store.runs() == []


def test_issue_12_wait_waits_for_the_writer(tmp_path: Path, mapping: Path) -> None:
    case = tmp_path / "case.db"
    data = people(tmp_path, "a.csv", range(5))
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with EmbeddedStore(case) as holder, holder.writing("cells"):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(10)
    threading.Timer(1.0, release.set).start()
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["ingest", str(data), "-m", str(mapping), "--store",
                                      str(case), "--wait"])
    thread.join()
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 0.9
    assert f"waiting: case {case} is busy (cells by PID {os.getpid()}" in result.stderr


def test_issue_12_no_stale_id_cache_across_writers(tmp_path: Path, mapping: Path) -> None:
    """Two stores on one case take turns: each sees the other's nodes (``UNIQUE constraint
    failed: nodes.nid`` before)."""
    case = tmp_path / "case.db"
    with EmbeddedStore(case) as first, EmbeddedStore(case) as second:
        for store, name, ids in [(first, "a.csv", range(0, 10)), (second, "b.csv", range(5, 20)),
                                 (first, "c.csv", range(15, 30))]:
            ingest_files(store, [(people(tmp_path, name, ids), mapping, None)],
                         quarantine_dir=tmp_path / "q")
        assert first.counts().nodes == {"Person": 30}
        assert len(first.provenance("Person:P7")) == 2


def test_issue_12_two_ingests_at_once_both_finish_with_wait(tmp_path: Path,
                                                           mapping: Path) -> None:
    case = tmp_path / "case.db"
    files = [people(tmp_path, f"{n}.csv", range(i, i + 3000)) for n, i in (("a", 0), ("b", 2000))]
    env = {**os.environ, "RINGMAP_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    runs = [subprocess.Popen([sys.executable, "-c", "from ringmap.cli import main; main()",
                              "ingest", str(f), "-m", str(mapping), "--store", str(case),
                              "--wait"], env=env, stderr=subprocess.PIPE, text=True)
            for f in files]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    assert not any("Traceback" in e for e in errors)
    with EmbeddedStore(case) as store:
        assert store.counts().nodes == {"Person": 5000}
        assert all(load.complete for load in store.file_loads())


def test_issue_12_a_case_made_by_two_processes_at_once_opens_in_both(tmp_path: Path) -> None:
    """Two ingests started at once on a new case both found no schema version and both wrote
    it: the second failed with ``cannot open case file ...: UNIQUE constraint failed:
    meta.key`` (1 in about 30 runs of the test above). The other process's write, between
    this one's read and write, is played here by a trigger that writes the version first."""
    case = tmp_path / "case.db"
    db = sqlite3.connect(case)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TRIGGER other_process BEFORE INSERT ON meta BEGIN "
        "INSERT OR IGNORE INTO meta VALUES (NEW.key, NEW.value); END;")
    db.close()
    with EmbeddedStore(case) as store:
        assert store.counts().total_nodes == 0
