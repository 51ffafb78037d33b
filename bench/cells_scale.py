"""Benchmark: time and peak memory of cell detection on growing cases, up to >= 1M links.

Each case is a ``ringmap synth`` case ingested into an embedded store (both kept under
``--cases``, shared with ``bench/cells_quality.py``). Each measurement runs in a fresh
subprocess so that its peak resident memory (``ru_maxrss``) is its own:

- ``load``: ``store.project()``, the evidence graph out of the store (the store's cost);
- ``projection``: the agent graph (:func:`ringmap.analysis.projection.project_agents`);
- ``detection``: resolution scan, consensus runs and cell assembly;
- ``cpu``: process CPU time of projection + detection (all threads);
- ``rss_load_mb`` / ``rss_peak_mb``: resident memory after loading and at the end.

The goal: projection + detection of a case with >= 1M evidence links in <= 30 s.

Usage::

    python bench/cells_scale.py --cells 15,150,600,1800
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
from pathlib import Path
from typing import Any

GOAL_LINKS = 1_000_000
GOAL_SECONDS = 30.0


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure(db: Path) -> dict[str, Any]:
    """Load, project and detect on one stored case (run in its own process)."""
    from ringmap.analysis.cells import CellSettings, find_cells
    from ringmap.graphs.embedded import EmbeddedStore

    settings = CellSettings()
    with EmbeddedStore(db) as store:
        started = time.perf_counter()
        evidence = store.project()
        loaded = time.perf_counter()
    rss_load = _rss_mb()
    cpu = time.process_time()
    result = find_cells(evidence, settings)
    cpu = time.process_time() - cpu
    seconds = result.timings
    return {
        "links": evidence.number_of_edges(), "nodes": evidence.number_of_nodes(),
        "units": len(result.agents.units), "ties": result.agents.graph.ecount(),
        "cells_found": len(result.cells),
        "load_s": round(loaded - started, 2),
        "projection_s": round(seconds["projection"], 2),
        "detection_s": round(seconds["resolution"] + seconds["consensus"], 2),
        "total_s": round(sum(seconds.values()), 2),
        "cpu_s": round(cpu, 2),
        "rss_load_mb": rss_load, "rss_peak_mb": _rss_mb(),
    }


def main() -> int:
    """Measure every case; exit 1 when the >= 1M-link case misses the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default="15,150,600,1800",
                        help="cells per case, comma-separated (about 450 links a cell)")
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cases", type=Path,
                        default=Path(tempfile.gettempdir()) / "ringmap-cells-bench",
                        help="folder for generated cases and their stores (kept)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("RINGMAP_SECRET", "bench-secret-0123456789")
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
        return 0

    from ringmap.bench.cells_quality import prepare_case

    args.cases.mkdir(parents=True, exist_ok=True)
    rows = []
    for cells in (int(c) for c in args.cells.split(",")):
        _truth, db = prepare_case(args.cases, cells, args.noise, args.seed)
        out = subprocess.run([sys.executable, __file__, "--measure", str(db)], check=True,
                             capture_output=True, text=True)
        row = {"cells": cells, **json.loads(out.stdout)}
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    from ringmap.tabular import render

    print(render(rows, "table", ["cells", "links", "units", "ties", "cells_found", "load_s",
                                 "projection_s", "detection_s", "total_s", "cpu_s",
                                 "rss_load_mb", "rss_peak_mb"]))
    big = [r for r in rows if r["links"] >= GOAL_LINKS]
    return 1 if any(r["total_s"] > GOAL_SECONDS for r in big) else 0


if __name__ == "__main__":
    sys.exit(main())
