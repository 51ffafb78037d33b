"""Benchmark: the Neo4j store's batched loader against a naive one-MERGE-per-transaction loader.

The same synthetic case (``ringmap synth``, kept in ``--case`` for later runs) is loaded in the
same run by:

- ``batched``: ``ringmap ingest`` end to end (``ingest_files`` on :class:`Neo4jStore`: ``UNWIND
  $rows`` ``MERGE`` batches, sightings and ledger in each batch's transaction);
- ``naive``: the same engine's batches written one node or relationship per ``MERGE``, one
  managed transaction each, on the first ``--naive-rows`` rows of the largest table (it is too
  slow for the whole case); its rate is rows covered per second.

The database is wiped before each loader. It prints rows/s of both and their ratio (goals:
batched >= 30,000 rows/s and >= 30x naive). On a shared machine the wall clock mostly measures
the other processes, so it also prints CPU seconds: this process's, and the server's when
``--server-pid`` names a local Neo4j process.

Needs ``NEO4J_URI`` and ``NEO4J_PASSWORD`` (e.g. ``tools/neo4j-dev/neo4j-dev start``) and an empty
database, or ``--wipe`` to empty it first.

Usage::

    python bench/ingest_neo4j.py --rows 200000 --case /tmp/ringmap-bench-case
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neo4j import ManagedTransaction

import ringmap.ingest.run as run
from ringmap.bench.ingest_embedded import _case
from ringmap.graphs.model import Batch, Edge, FileLoad, Node
from ringmap.graphs.neo4j_store import Neo4jStore
from ringmap.graphs.schema import SCHEMA
from ringmap.ingest.case import load_case
from ringmap.ingest.engine import Quarantine, compile_mapping, load_batches
from ringmap.ingest.mapping import Mapping
from ringmap.ingest.readers import open_table

_TARGET_ROWS_PER_S = 30_000
_TARGET_RATIO = 30.0


def _server_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) the server process has used, 0 if unknown."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Clock:
    """Wall, client CPU and server CPU seconds of a block."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.wall = self.cpu = self.server = 0.0

    def __enter__(self) -> _Clock:
        self._start = (time.perf_counter(), time.process_time(), _server_cpu(self.server_pid))
        return self

    def __exit__(self, *_exc: object) -> None:
        wall, cpu, server = self._start
        self.wall = time.perf_counter() - wall
        self.cpu = time.process_time() - cpu
        self.server = _server_cpu(self.server_pid) - server

    def summary(self, rows: int) -> dict[str, Any]:
        """Rates per wall-clock second and per CPU second (client plus server)."""
        cpu = self.cpu + self.server
        return {"rows": rows, "seconds": round(self.wall, 2),
                "rows_per_s": round(rows / self.wall),
                "client_cpu_s": round(self.cpu, 2), "server_cpu_s": round(self.server, 2),
                "rows_per_cpu_s": round(rows / cpu) if self.server else None}


def _naive_node(node: Node, sightings: list[int]) -> Callable[[ManagedTransaction], object]:
    label = SCHEMA.entity(node.type).name  # only schema labels reach the Cypher text
    statement = (f"MERGE (n:`{label}` {{id: $id}}) SET n += $props, "
                 "n._sr = coalesce(n._sr, []) + $sr")
    props = {k: v for k, v in node.props.items() if v is not None}
    return lambda tx: tx.run(statement, id=node.id, props=props, sr=sightings).consume()


def _naive_edge(edge: Edge, sightings: list[int]) -> Callable[[ManagedTransaction], object]:
    rel = SCHEMA.relationship(edge.type).name
    src, dst = (SCHEMA.entity(end.partition(":")[0]).name for end in (edge.src, edge.dst))
    statement = (f"MATCH (s:`{src}` {{id: $src}}) MATCH (d:`{dst}` {{id: $dst}}) "
                 f"MERGE (s)-[e:`{rel}`]->(d) SET e += $props, e._sr = coalesce(e._sr, []) + $sr")
    props = {k: v for k, v in edge.props.items() if v is not None}
    return lambda tx: tx.run(statement, src=edge.src, dst=edge.dst, props=props,
                             sr=sightings).consume()


def _naive(store: Neo4jStore, case: Path, rows: int, tmp: Path, clock: _Clock) -> int:
    """Load the first ``rows`` rows of the case's largest table one MERGE per transaction;
    returns the rows covered. Only the writes are timed, like the batched loader's store."""
    tasks = run.check_files(load_case(case))
    task = max(tasks, key=lambda t: t.file.stat().st_size)
    mapping = task.mapping
    assert isinstance(mapping, Mapping), "the benchmark cases are tables"
    load = FileLoad(sha256=task.sha256, source_file=str(task.file), mapping=mapping.name,
                    mapping_digest=mapping.digest(), run_id="naive", grading=task.grading)
    covered = 0
    with open_table(task.file, mapping.source, mapping.columns()) as table, \
            store.session() as session:
        quarantine = Quarantine(tmp / "naive-quarantine.csv", table.columns)
        batches = load_batches(table.rows, compile_mapping(mapping, table.index, None), load,
                               quarantine, batch_size=500)
        batch: Batch
        for batch in batches:
            seen: dict[str, list[int]] = {}
            for sighting in batch.sightings:
                seen.setdefault(sighting.item, []).append(sighting.row)
            with clock:
                for node in batch.nodes:
                    session.execute_write(_naive_node(node, seen.get(node.id, [])))
                for edge in batch.edges:
                    session.execute_write(_naive_edge(edge, seen.get(edge.id, [])))
            covered = batch.last_row
            if covered >= rows:
                break
        quarantine.discard()
    return covered


class _Accumulated(_Clock):
    """A clock that adds up the blocks it times."""

    def __exit__(self, *_exc: object) -> None:
        wall, cpu, server = self.wall, self.cpu, self.server
        super().__exit__()
        self.wall += wall
        self.cpu += cpu
        self.server += server


def main() -> int:
    """Run the benchmark; exit 1 when the batched loader misses a goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="evidence rows (about)")
    parser.add_argument("--naive-rows", type=int, default=2_000,
                        help="rows of the largest table for the naive loader")
    parser.add_argument("--case", type=Path, default=Path(tempfile.gettempdir())
                        / "ringmap-bench-neo4j-case", help="case folder (generated if missing)")
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="evidence rows per write transaction (store default if unset)")
    parser.add_argument("--server-pid", type=int, default=None,
                        help="pid of a local Neo4j server, to count its CPU time")
    parser.add_argument("--wipe", action="store_true", help="empty a non-empty database first")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    os.environ.setdefault("RINGMAP_SECRET", "bench-secret-0123456789")

    case = _case(args.case, args.rows, args.seed)
    store = Neo4jStore.connect(batch_size=args.batch_size)
    with store, tempfile.TemporaryDirectory(prefix="ringmap-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if store.counts().total_nodes and not args.wipe:
            print(f"Error: {store.describe()} is not empty; use an empty database or --wipe",
                  file=sys.stderr)
            return 2
        store.wipe()
        naive_clock = _Accumulated(args.server_pid)
        naive_rows = _naive(store, case, args.naive_rows, tmp, naive_clock)
        store.wipe()
        with _Clock(args.server_pid) as clock:
            report = run.ingest_files(store, load_case(case), quarantine_dir=tmp / "quarantine")
        counts = store.counts()
        store.wipe()
    rows = report.totals()["read"]
    batched, naive = clock.summary(rows), naive_clock.summary(naive_rows)
    result = {"batched": batched, "naive": naive,
              "ratio": round(batched["rows_per_s"] / naive["rows_per_s"], 1),
              "nodes": counts.total_nodes, "relationships": counts.total_relationships,
              "batch_size": store.batch_size, "load_average": os.getloadavg()[0],
              "targets": {"rows_per_s": _TARGET_ROWS_PER_S, "ratio": _TARGET_RATIO}}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, numbers in (("batched", batched), ("naive", naive)):
            per_cpu = numbers["rows_per_cpu_s"]
            print(f"{name:8} {numbers['rows']:>9,} rows in {numbers['seconds']:>7.1f} s = "
                  f"{numbers['rows_per_s']:>7,} rows/s; CPU client {numbers['client_cpu_s']} s"
                  f", server {numbers['server_cpu_s']} s"
                  + (f" = {per_cpu:,} rows/CPU-s" if per_cpu else ""))
        print(f"ratio {result['ratio']}x (target {_TARGET_RATIO:.0f}x); batched target "
              f"{_TARGET_ROWS_PER_S:,} rows/s; {counts.total_nodes:,} nodes, "
              f"{counts.total_relationships:,} relationships; batch {store.batch_size} rows; "
              f"load average {result['load_average']:.1f}")
    met = batched["rows_per_s"] >= _TARGET_ROWS_PER_S and result["ratio"] >= _TARGET_RATIO
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
