"""Benchmark: the Neo4j loaders, all in one run: bulk import, batched (new and today's), naive.

The same synthetic case (``ringmap synth``, kept in ``--case`` for later runs) is loaded, the
database emptied before each, by:

- ``bulk``: ``ingest_files(..., bulk=True)``: the case merged in Python, written as the bulk
  importer's CSV files, imported by ``tools/neo4j-dev/neo4j-dev import`` (the server stopped,
  ``neo4j-admin database import full``, started again), then constraints, ledger and runs.
  Besides the whole, its own part is timed: the import files and the import (server stop,
  import, start), i.e. everything but reading and normalising the evidence;
- ``batched``: ``ingest_files(..., bulk=False)`` with today's loader (``UNWIND`` batches that
  create new items, only add sightings to unchanged ones and merge the rest), table by table
  into the live database;
- ``before``: the same with the loader at ``--baseline`` (its tree exported with ``git
  archive`` and run in a child process): every item merged;
- ``naive``: one ``MERGE`` per node or relationship per managed transaction, writing what
  ringmap writes (values, sightings and the load's statement), on the first ``--naive-rows``
  rows of the largest table; its rate is rows covered per second.

Goals: bulk >= 200,000 rows/s (its own part), batched >= 2x ``before``. On a shared machine
the wall clock mostly measures the other processes, so it also prints CPU seconds: this
process's (with its children: the importer), and the server's (read from the neo4j-dev pid
file of ``RINGMAP_NEO4J_HOME``).

Needs a ``tools/neo4j-dev`` server (``NEO4J_URI``, ``NEO4J_PASSWORD``, ``RINGMAP_NEO4J_HOME``)
with an empty database, or ``--wipe`` to empty it first.

Usage::

    python bench/ingest_neo4j.py --rows 200000 --case /tmp/ringmap-bench-neo4j-case
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from neo4j import ManagedTransaction

import ringmap.ingest.run as run
from ringmap.bench._common import BENCH_SECRET, server_cpu
from ringmap.bench.ingest_embedded import _baseline_tree, _case
from ringmap.graphs.codec import encode_props
from ringmap.graphs.model import Edge, FileLoad, Node
from ringmap.graphs.neo4j_store import Neo4jStore
from ringmap.graphs.schema import SCHEMA
from ringmap.ingest.case import load_case
from ringmap.ingest.engine import Quarantine, compile_mapping, load_batches
from ringmap.ingest.mapping import Mapping
from ringmap.ingest.readers import open_table

_BULK_ROWS_PER_S = 200_000
_RATIO = 2.0
#: the last commit with the loader that merged every item (issue 14 item 2 changed it)
_BASELINE = "c8a8ba2"


def _own_cpu() -> float:
    """CPU seconds of this process and its waited-for children (the importer)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class _Clock:
    """Wall, client CPU and server CPU seconds of the blocks it times (added up)."""

    def __init__(self) -> None:
        self.wall = self.cpu = self.server = 0.0

    def __enter__(self) -> _Clock:
        self._start = (time.perf_counter(), _own_cpu(), server_cpu())
        return self

    def __exit__(self, *_exc: object) -> None:
        wall, cpu, server = self._start
        self.wall += time.perf_counter() - wall
        self.cpu += _own_cpu() - cpu
        self.server += max(server_cpu() - server, 0.0)  # a restarted server starts at 0

    def summary(self, rows: int) -> dict[str, Any]:
        """Rates per wall-clock second and per CPU second (client plus server)."""
        cpu = self.cpu + self.server
        return {"rows": rows, "seconds": round(self.wall, 2),
                "rows_per_s": round(rows / max(self.wall, 1e-9)),
                "client_cpu_s": round(self.cpu, 2), "server_cpu_s": round(self.server, 2),
                "rows_per_cpu_s": round(rows / max(cpu, 1e-9))}


@contextmanager
def _timing(module: Any, name: str, clock: _Clock) -> Iterator[None]:
    """Time every call of ``module.name`` on ``clock``."""
    inner = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        with clock:
            return inner(*args, **kwargs)

    setattr(module, name, timed)
    try:
        yield
    finally:
        setattr(module, name, inner)


def _bulk(store: Neo4jStore, case: Path, tmp: Path) -> dict[str, Any]:
    """Load the case through the bulk path; the whole and its own part."""
    from ringmap.graphs import neo4j_bulk

    whole, own = _Clock(), _Clock()
    with _timing(neo4j_bulk.BulkLoad, "write", own), _timing(neo4j_bulk, "_import", own), \
            whole:
        report = run.ingest_files(store, load_case(case), bulk=True,
                                  quarantine_dir=tmp / "bulk-quarantine")
    rows = report.totals()["read"]
    return {**whole.summary(rows), "own": own.summary(rows)}


def _batched(store: Neo4jStore, case: Path, tmp: Path) -> tuple[dict[str, Any], Any]:
    with _Clock() as clock:
        report = run.ingest_files(store, load_case(case), bulk=False,
                                  quarantine_dir=tmp / "batched-quarantine")
    return clock.summary(report.totals()["read"]), store.counts()


def _before(case: Path, tmp: Path, revision: str, batch_size: int | None) -> dict[str, Any]:
    """The loader at ``revision`` in a child process (its own tree), timed from here."""
    tree = _baseline_tree(revision, tmp / "baseline")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    child = [sys.executable, str(Path(__file__).resolve()), "--measure", str(case)]
    if batch_size:
        child += ["--batch-size", str(batch_size)]
    clock = _Clock()
    with clock:
        done = subprocess.run(child, env=env, check=True, capture_output=True, text=True,
                              cwd=tmp)
    # the child's own CPU is in this process's children; its wall includes its start-up:
    # use its own timing of the load
    measured = json.loads(done.stdout)
    clock.wall = measured["seconds"]
    clock.cpu = measured["cpu"]
    return clock.summary(measured["rows"])


def _measure(case: Path, batch_size: int | None) -> None:
    """What the child prints: rows, wall and CPU seconds of one batched load into the
    (emptied) database."""
    with Neo4jStore.connect(batch_size=batch_size) as store, \
            tempfile.TemporaryDirectory() as tmp:
        started, cpu = time.perf_counter(), time.process_time()
        report = run.ingest_files(store, load_case(case), quarantine_dir=Path(tmp))
        print(json.dumps({"rows": report.totals()["read"],
                          "seconds": time.perf_counter() - started,
                          "cpu": time.process_time() - cpu}))


def _statement(seq: int, props: dict[str, Any]) -> list[str]:
    return [f"{seq} {encode_props(props)}"]


def _naive_node(node: Node, sightings: list[int]) -> Callable[[ManagedTransaction], object]:
    label = SCHEMA.entity(node.type).name  # only schema labels reach the Cypher text
    statement = (f"MERGE (n:`{label}` {{id: $id}}) SET n += $props, "
                 "n._sr = coalesce(n._sr, []) + $sr, n._st = $st")
    props = {k: v for k, v in node.props.items() if v is not None}
    return lambda tx: tx.run(statement, id=node.id, props=_plain(props), sr=sightings,
                             st=_statement(1, props)).consume()


def _naive_edge(edge: Edge, sightings: list[int]) -> Callable[[ManagedTransaction], object]:
    rel = SCHEMA.relationship(edge.type).name
    src, dst = (SCHEMA.entity(end.partition(":")[0]).name for end in (edge.src, edge.dst))
    statement = (f"MATCH (s:`{src}` {{id: $src}}) MATCH (d:`{dst}` {{id: $dst}}) "
                 f"MERGE (s)-[e:`{rel}`]->(d) SET e += $props, "
                 "e._sr = coalesce(e._sr, []) + $sr, e._st = $st")
    props = {k: v for k, v in edge.props.items() if v is not None}
    return lambda tx: tx.run(statement, src=edge.src, dst=edge.dst, props=_plain(props),
                             sr=sightings, st=_statement(1, props)).consume()


def _plain(props: dict[str, Any]) -> dict[str, Any]:
    """Values the driver sends (sets and tuples as lists)."""
    return {k: sorted(v) if isinstance(v, set | frozenset) else
            list(v) if isinstance(v, tuple) else v for k, v in props.items()}


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
        for columns in batches:
            batch = columns.batch()
            seen: dict[str, list[int]] = {}
            for sighting in batch.sightings:
                seen.setdefault(sighting.item, []).append(1 << 32 | sighting.row)
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


def _line(name: str, numbers: dict[str, Any]) -> str:
    return (f"{name:13} {numbers['rows']:>9,} rows in {numbers['seconds']:>7.1f} s = "
            f"{numbers['rows_per_s']:>8,} rows/s; CPU client {numbers['client_cpu_s']} s, "
            f"server {numbers['server_cpu_s']} s = {numbers['rows_per_cpu_s']:,} rows/CPU-s")


def main() -> int:
    """Run the benchmark; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="evidence rows (about)")
    parser.add_argument("--naive-rows", type=int, default=2_000,
                        help="rows of the largest table for the naive loader")
    parser.add_argument("--case", type=Path, default=Path(tempfile.gettempdir())
                        / "ringmap-bench-neo4j-case", help="case folder (generated if missing)")
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="evidence rows per write transaction (store default if unset)")
    parser.add_argument("--baseline", default=_BASELINE,
                        help="git revision whose loader is 'before'")
    parser.add_argument("--wipe", action="store_true", help="empty a non-empty database first")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    os.environ.setdefault("RINGMAP_SECRET", BENCH_SECRET)
    if args.measure:
        _measure(args.measure, args.batch_size)
        return 0

    case = _case(args.case, args.rows, args.seed)
    store = Neo4jStore.connect(batch_size=args.batch_size)
    with store, tempfile.TemporaryDirectory(prefix="ringmap-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if store.counts().total_nodes and not args.wipe:
            print(f"Error: {store.describe()} is not empty; use an empty database or --wipe",
                  file=sys.stderr)
            return 2
        store.wipe()
        bulk = _bulk(store, case, tmp)
        bulk_counts = store.counts()
        store.wipe()
        batched, counts = _batched(store, case, tmp)
        store.wipe()
        before = _before(case, tmp, args.baseline, args.batch_size)
        store.wipe()
        naive_clock = _Clock()
        naive_rows = _naive(store, case, args.naive_rows, tmp, naive_clock)
        store.wipe()
    naive = naive_clock.summary(naive_rows)
    result = {"bulk": bulk, "batched": batched, "before": before, "naive": naive,
              "batched_vs_before": round(batched["rows_per_s"] / before["rows_per_s"], 2),
              "batched_vs_before_cpu": round(batched["rows_per_cpu_s"]
                                             / before["rows_per_cpu_s"], 2),
              "batched_vs_naive": round(batched["rows_per_s"] / naive["rows_per_s"], 1),
              "same_counts": bulk_counts == counts,
              "nodes": counts.total_nodes, "relationships": counts.total_relationships,
              "batch_size": store.batch_size, "baseline": args.baseline,
              "load_average": os.getloadavg()[0],
              "targets": {"bulk_rows_per_s": _BULK_ROWS_PER_S, "batched_vs_before": _RATIO}}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(_line("bulk", bulk))
        print(_line("  its own part", bulk["own"]) + " (import files, stop, import, start)")
        print(_line("batched", batched))
        print(_line(f"before {args.baseline}", before))
        print(_line("naive", naive))
        print(f"batched {result['batched_vs_before']}x before ({result['batched_vs_before_cpu']}"
              f"x per CPU-s; target {_RATIO}x), {result['batched_vs_naive']}x naive; bulk target "
              f"{_BULK_ROWS_PER_S:,} rows/s; {counts.total_nodes:,} nodes, "
              f"{counts.total_relationships:,} relationships (bulk the same: "
              f"{result['same_counts']}); batch {store.batch_size} rows; load average "
              f"{result['load_average']:.1f}")
    met = (bulk["own"]["rows_per_s"] >= _BULK_ROWS_PER_S and result["same_counts"]
           and result["batched_vs_before"] >= _RATIO)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
