"""Benchmark: time and peak memory of cell detection on growing cases, up to >= 1M links, with
the Python engine and the GDS engine (OpenGDS inside Neo4j) side by side.

Each case is a ``ringmap synth`` case ingested into an embedded store (both kept under
``--cases``, shared with ``bench/cells_quality.py``). Each measurement runs in a fresh
subprocess so that its peak resident memory (``ru_maxrss``) is its own:

- ``load``: ``store.project()``, the evidence graph out of the store (the store's cost);
- ``projection``: the agent graph (:func:`ringmap.analysis.projection.project_agents`);
- ``engine``: GDS only, the ties into a GDS in-memory graph (Cypher aggregation projection);
- ``detection``: resolution scan, consensus runs and cell assembly (GDS: Leiden in Neo4j);
- ``keyplayers``: strength, betweenness and PageRank of every member in its cell;
- ``cpu``: CPU time of this process for projection + detection + key players (the Neo4j
  server's CPU is not in it);
- ``rss_load_mb`` / ``rss_peak_mb``: resident memory of this process after loading and at
  the end;
- ``ari``: agreement of the GDS engine's cells with the Python engine's (goal >= 0.99).

Both engines read the same evidence graph from the embedded case, so the two columns differ
only by where the partitions and key players run. With ``NEO4J_URI`` (and ``NEO4J_PASSWORD``)
set, the GDS engine uses that server's GDS (its database is not read or written: only
in-memory graphs, dropped after); without it, only the Python engine runs.

The goal: projection + detection of a case with >= 1M evidence links in <= 30 s.

Usage::

    tools/neo4j-dev/neo4j-dev start && eval "$(tools/neo4j-dev/neo4j-dev env)"
    python bench/cells_scale.py --cells 15,150,600,2000
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
    from ringmap.analysis.cells import CellSettings, find_cells
    from ringmap.analysis.gds import detection, key_players
    from ringmap.analysis.keyplayers import centralities
    from ringmap.graphs.embedded import EmbeddedStore
    from ringmap.graphs.store import open_store

    settings = CellSettings()
    with EmbeddedStore(db) as store:
        started = time.perf_counter()
        evidence = store.project()
        loaded = time.perf_counter()
    rss_load = _rss_mb()
    cpu = time.process_time()
    if engine == "gds":
        with open_store(neo4j_uri=os.environ["NEO4J_URI"]) as server:
            result = find_cells(evidence, settings, detection=detection(server, ties="python"))
            clock = time.perf_counter()
            key_players(server, result)
    else:
        result = find_cells(evidence, settings)
        clock = time.perf_counter()
        for cell in result.cells:
            centralities(result.agents.graph, cell.units)
    ranked = time.perf_counter() - clock
    cpu = time.process_time() - cpu
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
        "cpu_s": round(cpu, 2),
        "rss_load_mb": rss_load, "rss_peak_mb": _rss_mb(),
    }


def main() -> int:
    """Measure every case with each engine; exit 1 when the >= 1M-link case misses a goal."""
    parser = _common.parser(__doc__, "ringmap-cells-bench")
    parser.add_argument("--cells", default="15,150,600,2000",
                        help="cells per case, comma-separated (about 500 links a cell)")
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    _common.prepare(args)
    if args.measure is not None:
        db, engine, labels = args.measure
        print(json.dumps(measure(Path(db), engine, Path(labels))))
        return 0

    from ringmap.analysis.quality import adjusted_rand_index
    from ringmap.bench.cells_quality import prepare_case

    engines = ["python", "gds"] if os.environ.get("NEO4J_URI") else ["python"]
    rows = []
    for cells in (int(c) for c in args.cells.split(",")):
        _truth, db = prepare_case(args.cases, cells, args.noise, args.seed)
        found: dict[str, list[int]] = {}
        for engine in engines:
            labels = db.with_suffix(f".{engine}.json")
            out = subprocess.run([sys.executable, __file__, "--measure", str(db), engine,
                                  str(labels)], check=True, capture_output=True, text=True)
            row = {"cells": cells, **json.loads(out.stdout)}
            found[engine] = json.loads(labels.read_text())
            if engine == "gds":
                row["ari"] = round(adjusted_rand_index(found["python"], found["gds"]), 4)
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
    _common.emit(rows, ["cells", "engine", "links", "units", "ties", "cells_found", "load_s",
                        "projection_s", "engine_s", "detection_s", "keyplayers_s", "total_s",
                        "cpu_s", "rss_load_mb", "rss_peak_mb", "ari"], args.json)
    big = [r for r in rows if r["links"] >= GOAL_LINKS]
    slow = any(r["projection_s"] + r["engine_s"] + r["detection_s"] > GOAL_SECONDS for r in big)
    apart = any(r.get("ari", 1.0) < GOAL_ARI for r in rows)
    return 1 if slow or apart else 0


if __name__ == "__main__":
    sys.exit(main())
