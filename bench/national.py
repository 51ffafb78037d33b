"""Benchmark: a national case (10M evidence rows and more) end to end on Neo4j (issue 14).

A synthetic Strikeback-like case of ``--cells`` cells (about 475 rows a cell: 21,100 cells is
10,009,776 rows at seed 7; kept in ``--case`` and reused) goes through what an analyst runs on a
national case, each stage in a fresh process of its own:

- ``synth``: ``ringmap synth`` writes the case (skipped when ``--case`` holds one; not part of
  the goal: the evidence exists before the case does);
- ``load``: the case into the empty database through Neo4j's bulk importer
  (``ingest_files(..., bulk=True)``: merged in Python, written as import files, imported with
  the server stopped, then constraints, ledger and load records);
- ``cells``: ``ringmap cells --engine gds --format json --members``: the agent projection,
  Leiden's resolution scan and consensus and the key players inside Neo4j (OpenGDS), the
  cells saved as a run, and every cell's report with its members printed in one call;
- ``overview``: ``ringmap map cells``, the overview map of that run;
- ``victims``: ``ringmap map victims``, victims across countries.

Each stage prints its wall and CPU seconds (the process's own and its children's: the
ingest engine's worker and the importer's JVM; ``children_cpu_s`` alone), the server's CPU
seconds (read from the neo4j-dev pid file; for ``load``, which restarts the server, those of
the server it started: its start, the constraints and indexes, the ledger) and the peak memory
of the Python process (``ru_maxrss`` of the process alone, so the importer's JVM is not
counted in it) and of its largest child (``children_gb``: for ``load`` the larger of the
ingest engine's worker, a Python process, and the importer's JVM; watch the worker's own with
``ps`` when the two are close). Goals on this machine: load to overview in <= 30 minutes,
<= 4 GB in any Python process.

Needs a ``tools/neo4j-dev`` server with OpenGDS (``NEO4J_URI``, ``NEO4J_PASSWORD``,
``RINGMAP_NEO4J_HOME``) and an empty database, or ``--wipe`` to empty it first; at national
size give the server room: ``RINGMAP_NEO4J_HEAP="-Xms4g -Xmx8g"
RINGMAP_NEO4J_PAGECACHE=4g tools/neo4j-dev/neo4j-dev start``.

Usage::

    python bench/national.py --cells 21100 --case /tmp/ringmap-national --wipe
    python bench/national.py --cells 600 --stages load cells overview --wipe --json
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STAGES = ("synth", "load", "cells", "overview", "victims")
#: the stages the goal covers: from the evidence on disk to the overview map
TIMED = ("load", "cells", "overview")
GOAL_S = 30 * 60
GOAL_GB = 4.0
ROWS_PER_CELL = 475


def _cpu_s() -> tuple[float, float]:
    """CPU seconds of this process, and of the children it waited for (the ingest engine's
    worker, the importer)."""
    times = os.times()
    return times.user + times.system, times.children_user + times.children_system


def _neo4j_args() -> list[str]:
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        raise SystemExit("Error: set NEO4J_URI (and NEO4J_PASSWORD) to a tools/neo4j-dev "
                         "server with OpenGDS")
    return ["--neo4j", uri]


def _commands(out: Path) -> dict[str, list[str]]:
    """The ``ringmap`` command line of each stage that is one."""
    store = _neo4j_args()
    return {
        "cells": [*store, "cells", "--engine", "gds", "--format", "json", "--members"],
        "overview": [*store, "map", "cells", "-o", str(out / "overview.html")],
        "victims": [*store, "map", "victims", "-o", str(out / "victims.html")],
    }


def child(stage: str, case: Path, out: Path, cells: int, seed: int) -> None:
    """Run ``stage`` in this process and print its figures as one JSON line on stderr."""
    from ringmap.bench._common import server_cpu

    wall, (cpu, children), server = time.perf_counter(), _cpu_s(), server_cpu()
    figures: dict[str, Any] = {}
    if stage == "synth":
        from ringmap.synth import SynthParams, generate

        figures["rows"] = generate(case, SynthParams(cells=cells, seed=seed, noise=0.3), force=True
                                   ).total_rows
    elif stage == "load":
        from ringmap.graphs.neo4j_store import Neo4jStore
        from ringmap.ingest.case import load_case
        from ringmap.ingest.run import check_files, ingest_files

        with Neo4jStore.connect() as store:
            report = ingest_files(store, check_files(load_case(case)), bulk=True,
                                  quarantine_dir=out / "quarantine")
            counts = store.counts()
        figures.update(rows=report.totals()["read"], nodes=counts.total_nodes,
                       relationships=counts.total_relationships)
    else:
        from ringmap.cli import cli

        printed = out / f"{stage}.out"
        with printed.open("w", encoding="utf-8") as handle, contextlib.redirect_stdout(handle):
            cli.main(args=_commands(out)[stage], prog_name="ringmap", standalone_mode=False)
        if stage == "cells":
            listed = json.loads(printed.read_text(encoding="utf-8"))  # then agents in no cell
            figures["cells_found"] = sum(1 for r in listed if r["cell"] != "unassigned")
    own, waited = _cpu_s()
    if stage == "load":  # the server the import started: all of its time is this stage's
        server = 0.0
    figures.update(
        wall_s=round(time.perf_counter() - wall, 2),
        cpu_s=round(own - cpu + waited - children, 2), children_cpu_s=round(waited - children, 2),
        server_cpu_s=None if stage == "synth" else round(server_cpu() - server, 2),
        python_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        children_gb=round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 3))
    print(json.dumps({"stage": stage, **figures}), file=sys.stderr, flush=True)


def _run(stage: str, args: Any) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", stage, str(args.case), str(args.out),
         str(args.cells), str(args.seed)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stderr.splitlines() if line.startswith('{"stage"')]
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise SystemExit(f"Error: stage {stage} failed (exit {done.returncode}): {tail[0]}")
    found: dict[str, Any] = json.loads(lines[-1])
    print(json.dumps(found), file=sys.stderr, flush=True)  # as measured, in case a later one fails
    return found


def main() -> None:
    """Run the stages asked for and print their figures and the goals' verdicts."""
    if sys.argv[1:2] == ["--child"]:
        stage, case, out, cells, seed = sys.argv[2:7]
        child(stage, Path(case), Path(out), int(cells), int(seed))
        return
    from ringmap.bench import _common

    parser = _common.parser(__doc__, "ringmap-national")
    parser.add_argument("--cells", type=int, default=21_100,
                        help=f"case size in cells (about {ROWS_PER_CELL} rows a cell)")
    parser.add_argument("--case", type=Path, help="case folder (generated if missing)")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--wipe", action="store_true", help="empty a non-empty database first")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    _common.prepare(args)
    args.case = args.case or args.cases / f"case-{args.cells}-{args.seed}"
    args.out = args.cases / time.strftime("out-%Y%m%dT%H%M%S")
    args.out.mkdir(parents=True)
    stages = [s for s in STAGES if s in args.stages]
    if "synth" in stages and (args.case / "case.yaml").is_file():
        stages.remove("synth")
    if "load" in stages:
        from ringmap.graphs.neo4j_store import Neo4jStore

        with Neo4jStore.connect() as store:
            if store.counts().total_nodes and not args.wipe:
                raise SystemExit(f"Error: {store.describe()} is not empty; use an empty "
                                 "database or --wipe")
            store.wipe()
    rows = [_run(stage, args) for stage in stages]
    timed = [r for r in rows if r["stage"] in TIMED]
    total = {"stage": "total (load to overview)" if len(timed) == len(TIMED) else "total",
             "wall_s": round(sum(r["wall_s"] for r in timed), 2),
             "cpu_s": round(sum(r["cpu_s"] for r in timed), 2),
             "children_cpu_s": round(sum(r["children_cpu_s"] for r in timed), 2),
             "server_cpu_s": round(sum(r["server_cpu_s"] or 0.0 for r in timed), 2),
             "python_gb": max((r["python_gb"] for r in rows), default=0.0),
             "children_gb": max((r["children_gb"] for r in rows), default=0.0),
             "rows": next((r["rows"] for r in rows if r.get("rows")), None),
             "load_average": round(os.getloadavg()[0], 1)}
    total["goals"] = ", ".join([
        "time ok" if total["wall_s"] <= GOAL_S else "TIME OVER",
        "memory ok" if total["python_gb"] <= GOAL_GB else "MEMORY OVER"])
    _common.emit([*rows, total], ["stage", "rows", "wall_s", "cpu_s", "children_cpu_s",
                                  "server_cpu_s", "python_gb", "children_gb", "cells_found",
                                  "goals"], args.json)


if __name__ == "__main__":
    main()
