"""The Neo4j store against a live server: parity with the embedded store, hostile values,
retried and replayed transactions, a killed ingest that resumes, and one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from click.testing import CliRunner
from neo4j.exceptions import TransientError

from ringmap.cli import cli
from ringmap.errors import SchemaError, StoreError, StoreUnavailable
from ringmap.graphs import neo4j_cells, neo4j_store
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import (
    AnalysisRun,
    Batch,
    CellMember,
    CellRecord,
    Edge,
    FileLoad,
    Grading,
    Node,
    Sighting,
    Tie,
)
from ringmap.graphs.neo4j_store import Neo4jStore, require_version
from ringmap.graphs.store import Store
from ringmap.ingest.case import load_case
from ringmap.ingest.run import ingest_files
from ringmap.synth import SynthParams, generate
from ringmap.tests.neo4j_fixtures import Neo4jServer, require_neo4j
from ringmap.tests.reports import a_report

HOSTILE = "x' WITH 1 AS a MATCH (n) DETACH DELETE n //"
SCRIPT = "</script><script>alert(1)</script>"


def _load(sha: str = "c" * 64) -> FileLoad:
    return FileLoad(sha256=sha, source_file="evidence.csv", mapping="m", mapping_digest="d1",
                    run_id="run-1", grading=Grading.parse("B2"))


def _rows(first: int, last: int) -> Batch:
    """Rows ``first..last``: each an agent using an account, sighted on that row."""
    nodes, edges, sightings = [], [], []
    for row in range(first, last + 1):
        agent = Node(f"Person:AG-{row % 7}", "Person", {"person_id": f"AG-{row % 7}",
                                                        "role": "suspect"})
        account = Node(f"Account:telegram/a{row % 11}", "Account",
                       {"platform": "telegram", "handle": f"a{row % 11}"})
        edge = Edge("USES", agent.id, account.id)
        nodes += [agent, account]
        edges.append(edge)
        sightings += [Sighting(agent.id, row, f"EX-{row}"), Sighting(account.id, row),
                      Sighting(edge.id, row)]
    return Batch(nodes, edges, sightings, last_row=last)


def _batches(size: int, rows: int) -> list[Batch]:
    return [_rows(first, min(first + size - 1, rows)) for first in range(1, rows + 1, size)]


def _snapshot(store: Store, every: int = 1) -> tuple[Any, ...]:
    """Everything a reader sees (provenance of every ``every``-th item, without the run's id
    and time)."""
    nodes = list(store.nodes())
    edges = list(store.edges())
    items = [n.id for n in nodes] + [e.id for e in edges]
    provenance = {item: [(p.source_file, p.sha256, p.row, p.ref, p.grading)
                         for p in store.provenance(item)] for item in items[::every]}
    return store.counts(), nodes, edges, provenance


@pytest.fixture
def neo4j(neo4j_store_factory: Callable[[], Store]) -> Neo4jStore:
    store = neo4j_store_factory()
    assert isinstance(store, Neo4jStore)
    return store


# -- parity with the embedded store -------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synth") / "case"
    os.environ.setdefault("RINGMAP_SECRET", "test-secret-0123456789abcdef")
    generate(folder, SynthParams(cells=2, seed=11, noise=0.2, victims_per_cell=4))
    return folder


def test_synthetic_case_reads_the_same_on_both_stores(
    neo4j: Neo4jStore, synth_case: Path, tmp_path: Path
) -> None:
    tasks = load_case(synth_case)
    with EmbeddedStore(tmp_path / "case.db") as embedded:
        ingest_files(embedded, tasks, quarantine_dir=tmp_path / "q1", batch_size=50)
        ingest_files(neo4j, tasks, quarantine_dir=tmp_path / "q2", batch_size=50)
        want = _snapshot(embedded, every=5)
        assert want[0].total_nodes > 100
        assert _snapshot(neo4j, every=5) == want
        for node in want[1][::7]:
            assert neo4j.get(node.id) == embedded.get(node.id)
            assert neo4j.neighbours(node.id) == embedded.neighbours(node.id)
        assert nx.utils.graphs_equal(neo4j.project(), embedded.project())
        people = neo4j.project(node_types=["Person", "Account"], rel_types=["USES"])
        assert nx.utils.graphs_equal(
            people, embedded.project(node_types=["Person", "Account"], rel_types=["USES"]))
        assert [f.source_file for f in neo4j.file_loads()] == [
            f.source_file for f in embedded.file_loads()]

        again = ingest_files(neo4j, tasks, quarantine_dir=tmp_path / "q2")
        assert {f.status for f in again.files} == {"already ingested"}
        assert _snapshot(neo4j, every=5) == want


def test_values_round_trip_like_the_embedded_store(neo4j: Neo4jStore, tmp_path: Path) -> None:
    props = {"first_seen": datetime(2014, 4, 30, 8, 15, tzinfo=UTC),
             "last_seen": datetime(2014, 5, 1, 9, 0, 1, 250_000,
                                   tzinfo=timezone(timedelta(hours=8))),
             "count": 3, "channel": "viber", "note": date(2014, 5, 2), "tags": ("b", "a"),
             "score": 0.125, "flag": True}
    naive = {"first_seen": datetime(2014, 4, 30, 8, 15)}
    a, b = Node("Phone:+639171234567", "Phone", {"number": "+639171234567"}), Node(
        "Phone:+639181234567", "Phone", {"number": "+639181234567"})
    edges = [Edge("CONTACTED", a.id, b.id, props), Edge("CONTACTED", b.id, a.id, naive)]
    batch = Batch([a, b], edges, [Sighting(e.id, 1) for e in edges], last_row=1)
    with EmbeddedStore(tmp_path / "case.db") as embedded:
        for store in (embedded, neo4j):
            store.load_file(_load(), [batch])
        assert list(neo4j.edges()) == list(embedded.edges())
        got = {e.src: e.props for e in neo4j.edges()}
        assert got[a.id]["last_seen"].utcoffset() == timedelta(hours=8)
        assert got[a.id]["note"] == "2014-05-02" and got[a.id]["tags"] == ["b", "a"]
        assert got[b.id]["first_seen"].tzinfo is None



def test_issue_14_gradings_are_read_a_range_of_ids_at_a_time(
    neo4j: Neo4jStore, synth_case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 14: the files of every relationship are grouped by the server a range of
    database ids at a time (at national size one group by files of the whole case held some
    1 GB of its heap); the gradings read so are those read in one range."""
    ingest_files(neo4j, load_case(synth_case), quarantine_dir=tmp_path / "q")
    packed = neo4j.packed()

    def resolved() -> list[frozenset[Grading]]:
        codes, sets = neo4j.packed_gradings(packed)
        return [sets[c] if c >= 0 else frozenset() for c in codes.tolist()]

    whole = resolved()
    assert packed.keys is not None and int(packed.keys.max()) > 50
    assert len(set(whole)) > 1 and frozenset() not in whole
    monkeypatch.setattr(neo4j_store, "_ID_RANGE", 7)
    assert resolved() == whole

# -- hostile input --------------------------------------------------------------------------------


def test_hostile_values_are_stored_literally(neo4j: Neo4jStore) -> None:
    person = Node(f"Person:{HOSTILE}", "Person",
                  {"person_id": HOSTILE, "role": "victim", "name": SCRIPT, HOSTILE: SCRIPT})
    phone = Node("Phone:+639171234567", "Phone", {"number": "+639171234567"})
    uses = Edge("USES", person.id, phone.id, {"`) DETACH DELETE n //": HOSTILE})
    sightings = [Sighting(person.id, 1, HOSTILE), Sighting(phone.id, 2, SCRIPT),
                 Sighting(uses.id, 2)]
    neo4j.load_file(_load(), [Batch([person, phone], [uses], sightings, last_row=2)])
    assert neo4j.counts().total_nodes == 2 and neo4j.counts().total_relationships == 1
    got = neo4j.get(person.id)
    assert got is not None and got.props["name"] == SCRIPT and got.props[HOSTILE] == SCRIPT
    assert [e.props for e in neo4j.edges()] == [{"`) DETACH DELETE n //": HOSTILE}]
    assert [p.ref for p in neo4j.provenance(person.id)] == [HOSTILE]
    assert [p.ref for p in neo4j.provenance(phone.id)] == [SCRIPT]
    assert [n.id for _, n in neo4j.neighbours(phone.id)] == [person.id]


@pytest.mark.parametrize("bad", [
    Node("Person:x", "Person`) DETACH DELETE n //", {}),
    Node("Person:x", "Cell", {}),
])
def test_labels_only_from_the_schema(neo4j: Neo4jStore, bad: Node) -> None:
    with pytest.raises(SchemaError):
        neo4j.load_file(_load(), [Batch([bad], [], [Sighting(bad.id, 1)], last_row=1)])
    assert neo4j.counts().total_nodes == 0


def test_relationship_types_only_from_the_schema(neo4j: Neo4jStore) -> None:
    batch = _rows(1, 1)
    batch.edges = [Edge("OWNS]->() DETACH DELETE n //", e.src, e.dst) for e in batch.edges]
    batch.sightings = [s for s in batch.sightings if not s.item.startswith("USES")]
    with pytest.raises(SchemaError):
        neo4j.load_file(_load(), [batch])
    assert neo4j.counts().total_nodes == 0


# -- transactions: retried, replayed, killed ------------------------------------------------------


def test_transient_error_is_retried_without_duplicates(
    neo4j: Neo4jStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = Neo4jStore._write_batch
    attempts: list[int] = []

    def flaky(self: Neo4jStore, tx: Any, *args: Any) -> None:
        real(self, tx, *args)  # every statement of the batch ran, not yet committed
        attempts.append(1)
        if len(attempts) == 1:
            raise TransientError("injected: deadlock detected")

    monkeypatch.setattr(Neo4jStore, "_write_batch", flaky)
    neo4j.batch_size = 10
    neo4j.load_file(_load(), _batches(5, 30))
    assert len(attempts) == 4  # three transactions, the first one twice
    with EmbeddedStore(tmp_path / "case.db") as embedded:
        embedded.load_file(_load(), _batches(5, 30))
        assert _snapshot(neo4j) == _snapshot(embedded)


def test_replayed_batches_add_no_provenance(neo4j: Neo4jStore, tmp_path: Path) -> None:
    def interrupted() -> Iterator[Batch]:
        yield from _batches(5, 20)
        raise KeyboardInterrupt

    neo4j.batch_size = 5
    with pytest.raises(KeyboardInterrupt):
        neo4j.load_file(_load(), interrupted())
    record = neo4j.file_load("c" * 64, "d1")
    assert record is not None and not record.complete and record.last_row == 20
    # a rerun that sends every batch again (the engine skips committed rows; this one doesn't)
    done = neo4j.load_file(_load(), _batches(7, 40))
    assert done.complete and done.last_row == 40
    with EmbeddedStore(tmp_path / "case.db") as embedded:
        embedded.load_file(_load(), _batches(5, 40))
        assert _snapshot(neo4j) == _snapshot(embedded)


_KILLED_INGEST = """
import os, signal, sys
from pathlib import Path
from ringmap.graphs.neo4j_store import Neo4jStore
from ringmap.ingest.case import load_case
from ringmap.ingest.run import ingest_files

real = Neo4jStore._write_batch
calls = []

def dying(self, tx, *args):
    calls.append(1)
    if len(calls) == int(os.environ["KILL_AT"]):
        real(self, tx, *args)
        os.kill(os.getpid(), signal.SIGKILL)  # mid-transaction, nothing flushed
    real(self, tx, *args)

Neo4jStore._write_batch = dying
store = Neo4jStore.connect(batch_size=40)
ingest_files(store, load_case(Path(sys.argv[1])), quarantine_dir=Path(sys.argv[2]),
             batch_size=20)
"""


def test_killed_ingest_resumes_exactly(
    neo4j: Neo4jStore, neo4j_server: Neo4jServer, synth_case: Path, tmp_path: Path
) -> None:
    env = {**os.environ, **neo4j_server.env, "KILL_AT": "4"}
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_INGEST), str(synth_case),
         str(tmp_path / "q")], env=env, capture_output=True, text=True, timeout=300,
        check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr
    partial = [f for f in neo4j.file_loads() if not f.complete]
    assert len(partial) == 1 and partial[0].last_row > 0  # three batches committed, one lost

    report = ingest_files(neo4j, load_case(synth_case), quarantine_dir=tmp_path / "q",
                          batch_size=20)
    assert "resumed" in {f.status for f in report.files}
    with EmbeddedStore(tmp_path / "case.db") as embedded:
        want = ingest_files(embedded, load_case(synth_case), quarantine_dir=tmp_path / "q1",
                            batch_size=20)
        assert [(f.read, f.loaded, f.duplicate, f.rejected) for f in report.files] == [
            (f.read, f.loaded, f.duplicate, f.rejected) for f in want.files]
        assert _snapshot(neo4j, every=3) == _snapshot(embedded, every=3)


# -- assessments ----------------------------------------------------------------------------------


def test_cells_are_visible_in_the_graph(neo4j: Neo4jStore) -> None:
    neo4j.load_file(_load(), [_rows(1, 7)])
    cells = [CellRecord(cell_id="C02", members=[
                 CellMember(node_id="Person:AG-1", confidence=0.75, explanation=[Tie(
                     kind="Account", identifier="Account:telegram/a1", label=HOSTILE,
                     shared_by=2, in_cell=2)])],
                        summary=a_report(persons=[SCRIPT])),
             CellRecord(cell_id="C01", members=[
                 CellMember(node_id="Person:AG-2", confidence=1.0),
                 CellMember(node_id="Person:not-in-graph", confidence=0.5)])]
    neo4j.save_cells(AnalysisRun(run_id="cells-1", params={"seed": 3}), cells)
    assert neo4j.load_cells("cells-1") == sorted(cells, key=lambda c: c.cell_id)
    rows = neo4j.query("MATCH (p)-[m:MEMBER_OF]->(c:Cell) RETURN p.id AS member, "
                       "c.cell_id AS cell, m.confidence AS confidence, m.run_id AS run "
                       "ORDER BY member")
    assert rows == [
        {"member": "Person:AG-1", "cell": "C02", "confidence": 0.75, "run": "cells-1"},
        {"member": "Person:AG-2", "cell": "C01", "confidence": 1.0, "run": "cells-1"},
    ]
    # assessments stay apart from evidence
    assert [e.type for e, _ in neo4j.neighbours("Person:AG-1")] == ["USES"]
    assert neo4j.counts().nodes == {"Account": 7, "Person": 7}
    with pytest.raises(StoreError, match="refused"):
        neo4j.save_cells(AnalysisRun(run_id="cells-1"), cells)


def _cells(n: int, fail_at: int | None = None, *, hook: Callable[[int], None] | None = None
           ) -> Iterator[CellRecord]:
    """Cells ``C01``.. of one member each (``Person:AG-k``, in the graph of ``_rows``); the
    third is large; the ``fail_at``-th raises KeyboardInterrupt; ``hook`` is told each
    number before its cell."""
    for k in range(1, n + 1):
        if hook is not None:
            hook(k)
        if k == fail_at:
            raise KeyboardInterrupt
        yield CellRecord(cell_id=f"C{k:02d}", members=[
            CellMember(node_id=f"Person:AG-{k % 7}", confidence=1.0, explanation=[Tie(
                kind="Account", identifier=f"Account:telegram/a{k}",
                label=HOSTILE * (100 if k == 3 else 1), shared_by=2, in_cell=2)])],
            summary=a_report(persons=[SCRIPT]))


def _left(store: Neo4jStore) -> dict[str, int]:
    """What a write-back left in the graph: cells, their links, runs and markers."""
    return {what: store.query(f"MATCH {pattern} RETURN count(*) AS n")[0]["n"]
            for what, pattern in [("cells", "(c:Cell)"), ("links", "()-[:MEMBER_OF]->()"),
                                  ("runs", "(a:AnalysisRun)"),
                                  ("markers", "(w:CellRunWriting)")]}


@pytest.fixture
def parts(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The cell ids of each part a write-back commits, parts capped at two small cells'
    bytes."""
    size = len(next(_cells(1)).model_dump_json()) + len(a_report(persons=[SCRIPT])
                                                        .model_dump_json())
    monkeypatch.setattr(neo4j_cells, "PART_BYTES", 2 * size)
    committed: list[list[str]] = []
    write_part = neo4j_cells._write_part

    def recorded(tx: Any, run_id: str, token: str, part: Any) -> None:
        write_part(tx, run_id, token, part)
        committed.append([c["cell_id"] for c in part.cells])

    monkeypatch.setattr(neo4j_cells, "_write_part", recorded)
    return committed


def test_issue_14_cells_written_in_parts_read_back_whole(
        neo4j: Neo4jStore, parts: list[list[str]]) -> None:
    """issue 14: a cell run was written in one transaction, which at 21,100 cells outgrew an
    8 GB heap; it commits in parts capped by their bytes, and readers see the run only once
    its run node is written, last."""
    neo4j.load_file(_load(), [_rows(1, 7)])
    seen: list[tuple[list[str], list[CellRecord], dict[str, int]]] = []

    def reading(k: int) -> None:  # what readers see between parts
        seen.append(([r.run_id for r in neo4j.analysis_runs()], neo4j.load_cells("cells-1"),
                     _left(neo4j)))

    cells = list(_cells(5))
    neo4j.save_cells(AnalysisRun(run_id="cells-1"), _cells(5, hook=reading))
    assert parts == [["C01", "C02"], ["C03"], ["C04", "C05"]]  # the third fills one alone
    assert all(runs == [] and read == [] for runs, read, _ in seen)
    assert seen[3][2] == {"cells": 3, "links": 3, "runs": 0, "markers": 1}  # 2 parts in
    assert neo4j.load_cells("cells-1") == cells
    assert [r.run_id for r in neo4j.analysis_runs()] == ["cells-1"]
    assert _left(neo4j) == {"cells": 5, "links": 5, "runs": 1, "markers": 0}


def test_issue_14_failed_write_back_leaves_nothing(
        neo4j: Neo4jStore, parts: list[list[str]]) -> None:
    """issue 14: a write-back that fails after some parts committed (the cells cannot be
    made, the server refuses a part) removes its cells and links before the error goes on."""
    neo4j.load_file(_load(), [_rows(1, 7)])
    with pytest.raises(KeyboardInterrupt):
        neo4j.save_cells(AnalysisRun(run_id="cells-0"), _cells(5, fail_at=4))
    assert parts == [["C01", "C02"], ["C03"]]
    assert _left(neo4j) == {"cells": 0, "links": 0, "runs": 0, "markers": 0}

    def twice() -> Iterator[CellRecord]:  # the server refuses the second part
        yield from _cells(3)
        yield from _cells(1)

    parts.clear()
    with pytest.raises(StoreError, match=r"^Neo4j at \S+ refused the write: ") as caught:
        neo4j.save_cells(AnalysisRun(run_id="cells-0"), twice())
    assert "\n" not in str(caught.value)
    assert parts == [["C01", "C02"], ["C03"]]
    assert _left(neo4j) == {"cells": 0, "links": 0, "runs": 0, "markers": 0}
    neo4j.save_cells(AnalysisRun(run_id="cells-0"), _cells(2))  # the run id is free again
    with pytest.raises(StoreError, match="refused the write: cell run cells-0 exists"):
        neo4j.save_cells(AnalysisRun(run_id="cells-0"), _cells(1))
    assert _left(neo4j) == {"cells": 2, "links": 2, "runs": 1, "markers": 0}
    assert neo4j.load_cells("cells-0") == list(_cells(2))


def _age(store: Neo4jStore, run_id: str, minutes: int) -> None:
    store.write("MATCH (w:CellRunWriting {run_id: $run_id}) "
                "SET w.beat = datetime() - duration({minutes: $minutes})",
                {"run_id": run_id, "minutes": minutes})


def test_issue_14_stale_partial_run_removed_at_next_save_fresh_one_kept(
        neo4j: Neo4jStore, parts: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """issue 14: a write-back whose process died leaves its cells and its marker; the next
    write-back removes them once the marker is stale, never those of a live writer."""
    neo4j.load_file(_load(), [_rows(1, 7)])
    monkeypatch.setattr(neo4j_cells, "_remove", lambda *args: None)  # as if killed
    for run_id in ["dead", "alive"]:
        with pytest.raises(KeyboardInterrupt):
            neo4j.save_cells(AnalysisRun(run_id=run_id), _cells(3, fail_at=3))
    monkeypatch.undo()
    assert _left(neo4j) == {"cells": 4, "links": 4, "runs": 0, "markers": 2}
    _age(neo4j, "dead", neo4j_cells.STALE_S // 60 + 1)
    _age(neo4j, "alive", neo4j_cells.STALE_S // 60 - 1)
    neo4j.save_cells(AnalysisRun(run_id="cells-1"), _cells(1))
    assert [r.run_id for r in neo4j.analysis_runs()] == ["cells-1"]
    assert neo4j.load_cells("alive") == []  # a run without its run node is not read
    assert neo4j.query("MATCH (c:Cell) RETURN c.run_id AS run, count(*) AS n ORDER BY run") == [
        {"run": "alive", "n": 2}, {"run": "cells-1", "n": 1}]
    assert [r["run"] for r in neo4j.query(
        "MATCH (w:CellRunWriting) RETURN w.run_id AS run")] == ["alive"]


def test_issue_14_writer_taken_for_dead_stops_and_removes_its_cells(
        neo4j: Neo4jStore, parts: list[list[str]]) -> None:
    """issue 14: were a live writer ever taken for dead (no part for the stale time), its
    next part finds its marker doomed: it stops, and its run is never written half."""
    neo4j.load_file(_load(), [_rows(1, 7)])

    def another_process(k: int) -> None:
        if k == 4:
            _age(neo4j, "slow", neo4j_cells.STALE_S // 60 + 1)
            assert neo4j_cells.remove_stale(neo4j) == ["slow"]

    with pytest.raises(StoreError, match="cell run slow was taken for dead"):
        neo4j.save_cells(AnalysisRun(run_id="slow"), _cells(5, hook=another_process))
    assert parts == [["C01", "C02"], ["C03"]]
    assert _left(neo4j) == {"cells": 0, "links": 0, "runs": 0, "markers": 0}


# -- connecting: one line, no password --------------------------------------------------------


def test_describe_and_errors_never_show_the_password(neo4j_server: Neo4jServer) -> None:
    uri = neo4j_server.uri.replace("bolt://", "bolt://neo4j:s3cr3t-in-uri@")
    with pytest.raises(StoreUnavailable) as caught:
        Neo4jStore.connect(uri, password="wrong-password-xyz")
    assert "s3cr3t" not in str(caught.value) and "wrong-password" not in str(caught.value)
    with neo4j_server.connect() as store:
        assert neo4j_server.password is None or neo4j_server.password not in store.describe()


@pytest.mark.parametrize("case", ["wrong password", "server down", "unknown database"])
def test_connection_problems_are_one_line(
    neo4j_server: Neo4jServer, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    password = neo4j_server.password or ""
    args = ["stats", "--neo4j", neo4j_server.uri]
    if case == "wrong password":
        password = "not-the-password-0987"
    elif case == "server down":
        args[2] = "bolt://127.0.0.1:9"  # discard port: nothing listens
    else:
        args += ["--database", "no-such-db"]
    monkeypatch.setenv("NEO4J_PASSWORD", password)
    monkeypatch.setenv("NEO4J_USERNAME", neo4j_server.username)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert {"wrong password": "refused the login", "server down": "cannot reach",
            "unknown database": "no database 'no-such-db'"}[case] in lines[0]
    assert args[2].removeprefix("bolt://") in lines[0]
    assert password not in result.output and "Traceback" not in result.output


def test_old_servers_are_refused() -> None:
    with pytest.raises(StoreUnavailable, match="needs Neo4j 5"):
        require_version("Neo4j/4.4.30", "Neo4j at bolt://db:7687")
    require_version("Neo4j/5.26.0", "Neo4j at bolt://db:7687")


@pytest.mark.slow
def test_ci_fails_a_skipped_neo4j_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert not require_neo4j()
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("RINGMAP_REQUIRE_NEO4J", "1")
    assert require_neo4j()
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    neo4j: live server\n")
    (tmp_path / "test_skipping.py").write_text(
        "import pytest\n\n@pytest.mark.neo4j\ndef test_needs_server():\n"
        "    pytest.skip('no server')\n\ndef test_other():\n    pytest.skip('fine')\n")
    ci = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "neo4j_fixtures", "-p", "no:cacheprovider",
         "-q", "-rfs", "test_skipping.py"],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)}, capture_output=True,
        text=True, check=False, cwd=tmp_path)
    assert ci.returncode == 1, ci.stdout
    assert "1 failed, 1 skipped" in ci.stdout and "RINGMAP_REQUIRE_NEO4J" in ci.stdout
