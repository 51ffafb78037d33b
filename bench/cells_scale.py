"""Benchmark: time and peak memory of cell detection on growing cases, up to >= 1M links, with
the Python engine and the GDS engine (OpenGDS inside Neo4j) side by side.

Each case is a ``ringmap synth`` case ingested into an embedded store (both kept under
``--cases``, shared with ``bench/cells_quality.py``). Each measurement runs in a fresh
subprocess so that its peak resident memory (``ru_maxrss``) is its own. Engines:

- ``python``: igraph here (the ties by :func:`~ringmap.analysis.projection.project_agents`);
- ``gds-py``: GDS Leiden in Neo4j on the ties built here and sent there;
- ``gds-db``: the ties built inside Neo4j from the case's evidence
  (:mod:`ringmap.analysis.gds_ties`), only with ``--load-neo4j``, which wipes the
  ``NEO4J_URI`` database and loads each case into it first (not timed).

Columns:

- ``load``: ``store.project()``, the evidence graph out of the embedded store (every engine
  reads it: the explanations and reports need it);
- ``projection``: the agent graph (units and attachments; ``python`` also the ties);
- ``engine``: GDS only, the ties into a GDS in-memory graph (``gds-py``: built here and sent;
  ``gds-db``: built in the database);
- ``detection``: resolution scan, consensus runs and cell assembly (GDS: Leiden in Neo4j);
- ``keyplayers``: strength, betweenness and PageRank of every member in its cell, by igraph
  on the cell's subgraph with every engine (:mod:`ringmap.analysis.gds` says why);
- ``cpu``: CPU time of this process for projection + detection + key players (the Neo4j
  server's CPU is not in it);
- ``server_cpu``: the tools/neo4j-dev server's CPU time over the same span, where a GDS engine
  does its work (its pid file in ``RINGMAP_NEO4J_HOME``; 0 when unknown; the ``python`` row:
  the idle server's);
- ``rss_load_mb`` / ``rss_peak_mb``: resident memory of this process after loading and at
  the end;
- ``ari``: agreement of a GDS engine's cells with the Python engine's (goal >= 0.99).

Every engine weighs ties by the case's source gradings, as ``ringmap cells`` does. Without
``NEO4J_URI`` (and ``NEO4J_PASSWORD``) only the Python engine runs; without ``--load-neo4j``
the database is never read or written (only in-memory graphs, dropped after).

The goal: projection + detection of a case with >= 1M evidence links in <= 30 s.

Usage::

    tools/neo4j-dev/neo4j-dev start && eval "$(tools/neo4j-dev/neo4j-dev env)"
    python bench/cells_scale.py --cells 15,150,600,2000 [--load-neo4j]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ringmap.bench import _common

GOAL_LINKS = 1_000_000
GOAL_SECONDS = 30.0
GOAL_ARI = 0.99


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure(db: Path, engine: str, labels: Path) -> dict[str, Any]:
    """Load, project, detect and score key players on one stored case with one engine (run in
    its own process); the cell of every agent-graph vertex goes to ``labels``."""
    from ringmap.analysis.cells import CellSettings, edge_reliability, find_cells
    from ringmap.analysis.gds import Ties, detection
    from ringmap.analysis.keyplayers import centralities
    from ringmap.bench._common import server_cpu
    from ringmap.graphs.embedded import EmbeddedStore
    from ringmap.graphs.store import open_store

    settings = CellSettings()
    with EmbeddedStore(db) as store:
        started = time.perf_counter()
        evidence = store.project()
        reliability, _grading = edge_reliability(store)
        loaded = time.perf_counter()
    rss_load = _rss_mb()
    cpu, served = time.process_time(), server_cpu()
    if engine.startswith("gds"):
        ties: Ties = "python" if engine == "gds-py" else "database"
        with open_store(neo4j_uri=os.environ["NEO4J_URI"]) as server:
            result = find_cells(evidence, settings, reliability,
                                detection=detection(server, ties=ties))
    else:
        result = find_cells(evidence, settings, reliability)
    clock = time.perf_counter()
    for cell in result.cells:
        centralities(result.agents.graph, cell.units)
    ranked = time.perf_counter() - clock
    cpu, served = time.process_time() - cpu, server_cpu() - served
    labels.write_text(json.dumps(result.membership))
    seconds = result.timings
    return {
        "engine": engine,
        "links": evidence.number_of_edges(), "nodes": evidence.number_of_nodes(),
        "units": len(result.agents.units), "ties": result.agents.graph.ecount(),
        "cells_found": len(result.cells),
        "load_s": round(loaded - started, 2),
        "projection_s": round(seconds["projection"], 2),
        "engine_s": round(seconds.get("engine", 0.0), 2),
        "detection_s": round(seconds["resolution"] + seconds["consensus"], 2),
        "keyplayers_s": round(ranked, 2),
        "total_s": round(sum(seconds.values()) + ranked, 2),
        "cpu_s": round(cpu, 2), "server_cpu_s": round(served, 2),
        "rss_load_mb": rss_load, "rss_peak_mb": _rss_mb(),
    }


def load_neo4j(case: Path) -> float:
    """Wipe the ``NEO4J_URI`` database and ingest the case folder ``case`` into it; seconds."""
    from ringmap.graphs.neo4j_store import Neo4jStore
    from ringmap.graphs.store import open_store
    from ringmap.testing import ingest_case

    started = time.perf_counter()
    with open_store(neo4j_uri=os.environ["NEO4J_URI"]) as server:
        assert isinstance(server, Neo4jStore)
        server.wipe()
        ingest_case(server, case / "case", case / "quarantine-neo4j")
    return round(time.perf_counter() - started, 1)


def main() -> int:
    """Measure every case with each engine; exit 1 when the >= 1M-link case misses a goal."""
    parser = _common.parser(__doc__, "ringmap-cells-bench")
    parser.add_argument("--cells", default="15,150,600,2000",
                        help="cells per case, comma-separated (about 500 links a cell)")
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    parser.add_argument("--load-neo4j", action="store_true",
                        help="wipe the NEO4J_URI database and load each case into it, to "
                        "measure the ties built in the database (engine gds-db)")
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    _common.prepare(args)
    if args.measure is not None:
        db, engine, labels = args.measure
        print(json.dumps(measure(Path(db), engine, Path(labels))))
        return 0

    from ringmap.analysis.quality import adjusted_rand_index
    from ringmap.bench.cells_quality import prepare_case

    engines = ["python"]
    if os.environ.get("NEO4J_URI"):
        engines += ["gds-py", "gds-db"] if args.load_neo4j else ["gds-py"]
    rows = []
    for cells in (int(c) for c in args.cells.split(",")):
        _truth, db = prepare_case(args.cases, cells, args.noise, args.seed)
        if args.load_neo4j and os.environ.get("NEO4J_URI"):
            print(f"loaded into Neo4j in {load_neo4j(db.parent)} s", file=sys.stderr)
        found: dict[str, list[int]] = {}
        for engine in engines:
            labels = db.with_suffix(f".{engine}.json")
            out = subprocess.run([sys.executable, __file__, "--measure", str(db), engine,
                                  str(labels)], check=True, capture_output=True, text=True)
            row = {"cells": cells, **json.loads(out.stdout)}
            found[engine] = json.loads(labels.read_text())
            if engine != "python":
                row["ari"] = round(adjusted_rand_index(found["python"], found[engine]), 4)
            row["load_avg"] = round(os.getloadavg()[0], 2)
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
    _common.emit(rows, ["cells", "engine", "links", "units", "ties", "cells_found", "load_s",
                        "projection_s", "engine_s", "detection_s", "keyplayers_s", "total_s",
                        "cpu_s", "server_cpu_s", "rss_load_mb", "rss_peak_mb", "ari",
                        "load_avg"], args.json)
    big = [r for r in rows if r["links"] >= GOAL_LINKS]
    slow = any(r["projection_s"] + r["engine_s"] + r["detection_s"] > GOAL_SECONDS for r in big)
    apart = any(r.get("ari", 1.0) < GOAL_ARI for r in rows)
    return 1 if slow or apart else 0


if __name__ == "__main__":
    sys.exit(main())
