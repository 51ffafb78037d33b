"""Benchmark: how a whole run's time and memory grow with the case (issue 16).

For each size a synthetic Strikeback-like case is generated (kept under ``--cases``), then one
fresh process per ringmap tree runs the stages of ``ringmap run --packages`` one after the
other on an embedded store and reports, after each stage, its CPU and wall seconds and the
process's peak memory so far (``ru_maxrss``: memory is a high-water mark, so a stage's figure
includes what earlier stages still hold; CPU seconds include the forked workers that write
packages, and ``worker_gb`` is the largest worker's peak, pages it shares with its parent
counted too). Stages: ingest, projection, detection, write-back,
maps (cell map, victims map, timelines, drawn as ``ringmap run`` draws them: one reach of the
cells and one set of timelines for all of them, one privacy policy for the cells and the cell
map, where the tree measured takes them) and packages (one raid package per cell).

Beside each figure the goals of issue 16 are printed: peak memory <= 0.5 GB + 1.5 GB per
million rows; each stage's time grows no faster than 1.15 x the rows (``growth``: the time
ratio over the rows ratio between consecutive sizes, goal <= 1.15); raid packages <= 0.2 s each
at 600 cells; 2.5M rows end to end under 15 minutes.

``--baseline DIR`` runs the same stages with the ringmap of ``DIR`` too (a folder holding a
``ringmap`` package, e.g. ``git archive`` of an older commit extracted into ``DIR/ringmap``),
so today's code and the checkout's are measured in the same run.

Usage::

    python bench/run_scale.py --cells 30 150 600 2400
    python bench/run_scale.py --cells 30 150 --baseline /tmp/main-at-start --json
    python bench/run_scale.py --cells 5100 --until maps   # 2.5M rows, a run without packages
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAGES = ("ingest", "projection", "detection", "write-back", "maps", "packages")
#: a stage's CPU time over the previous size's, divided by the rows' ratio (1: linear)
GROWTH_GOAL = 1.15
PACKAGE_GOAL_S = 0.2
END_TO_END_GOAL_S = 15 * 60


def memory_goal_gb(rows: int) -> float:
    """Peak memory goal of a whole run with packages on a case of ``rows`` rows.

    >>> memory_goal_gb(1_000_000)
    2.0
    """
    return 0.5 + 1.5 * rows / 1e6


def _peak_gb(who: int = resource.RUSAGE_SELF) -> float:
    # Linux reports ru_maxrss in KiB; of the children, that of the largest one
    return resource.getrusage(who).ru_maxrss / 2**20


def _cpu_s() -> float:
    """CPU seconds of this process and of the workers it waited for (packages are written
    by forked workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def child(case: Path, work: Path, until: str = STAGES[-1]) -> None:
    """Run the stages on ``case`` into ``work`` (fresh), up to and with ``until``, and print
    one JSON line per stage."""
    from ringmap.analysis.cells import CellSettings, detect_cells
    from ringmap.analysis.explain import write_cells
    from ringmap.graphs.embedded import EmbeddedStore
    from ringmap.ingest.case import load_case
    from ringmap.ingest.run import check_files, ingest_files
    from ringmap.privacy import Privacy
    from ringmap.viz import timeline
    from ringmap.viz.maps import cell_map, write_cell_map, write_victim_map
    from ringmap.viz.package import export_cells
    from ringmap.viz.reach import reach_cells
    from ringmap.viz.timeline import (
        case_timeline,
        cell_timelines,
        write_cells_timeline,
        write_timeline,
    )
    from ringmap.viz.world import victim_map

    store = EmbeddedStore(work / "ringmap.db")
    state: dict[str, Any] = {}

    def ingest() -> None:
        state["rows"] = ingest_files(store, check_files(load_case(case)),
                                     quarantine_dir=work / "quarantine").totals()["read"]

    def projection() -> None:
        # the graph as ringmap run reads it: Store.evidence, or project in an older tree
        state["graph"] = getattr(store, "evidence", store.project)()

    def detection() -> None:
        state["result"] = detect_cells(store, CellSettings(), state["graph"])

    def write_back() -> None:
        # as ringmap run: the privacy policy made once, for the cells and the cell map, where
        # the tree takes it
        # and the cells saved kept for the maps and packages, where the tree keeps them only
        # when asked
        if "privacy" in inspect.signature(write_cells).parameters:
            state["privacy"] = Privacy.for_graph(state["graph"])
        state["keep"] = True
        saved = write_cells(store, state["result"],
                            **_taken(write_cells, state, "privacy", "keep"))
        state["records"], state["run_id"] = saved.records, saved.run.run_id

    def maps() -> None:
        # as ringmap run: the saved cells handed to the maps, their reach found and their
        # timelines drawn once for every map, where the tree takes them
        graph, records = state["graph"], state["records"]
        state["latest"], state["cells"] = (state["run_id"], records), records
        if "reaches" in inspect.signature(cell_map).parameters:
            state["reaches"] = reach_cells(graph, records)
        if hasattr(timeline, "run_timelines"):  # every contact decoded once for all of them
            lines = timeline.run_timelines(graph, records, reaches=state.get("reaches"))
        else:
            lines = [case_timeline(graph), *cell_timelines(graph, records,
                                                           **_taken(cell_timelines, state,
                                                                    "reaches"))]
        if "timelines" in inspect.signature(victim_map).parameters:
            state["timelines"] = (lines[0], {r.cell_id: line for r, line in
                                             zip(records, lines[1:], strict=True)})
        write_cell_map(store, work / "maps" / "cells.html", graph=graph,
                       **_taken(cell_map, state, "latest", "reaches", "privacy"))
        write_victim_map(store, work / "maps" / "victims.html", graph=graph,
                         **_taken(victim_map, state, "cells", "reaches", "timelines"))
        write_timeline(lines[0], work / "timeline.svg")
        write_cells_timeline(lines[1:], work / "timeline-cells.svg")

    def packages() -> None:
        # as ringmap run: the saved cells, their reach and the privacy policy of the maps
        # handed to the packages where the tree takes them
        state["packages"] = len(export_cells(store, work / "packages", graph=state["graph"],
                                             **_taken(export_cells, state, "latest", "reaches",
                                                      "privacy")))

    steps: dict[str, Callable[[], None]] = {
        "ingest": ingest, "projection": projection, "detection": detection,
        "write-back": write_back, "maps": maps, "packages": packages}
    for name in STAGES[: STAGES.index(until) + 1]:
        wall, cpu = time.perf_counter(), _cpu_s()
        steps[name]()
        print(json.dumps({"stage": name, "wall_s": round(time.perf_counter() - wall, 2),
                          "cpu_s": round(_cpu_s() - cpu, 2),
                          "peak_gb": round(_peak_gb(), 3),
                          "worker_gb": round(_peak_gb(resource.RUSAGE_CHILDREN), 3),
                          "rows": state.get("rows"),
                          "packages": state.get("packages")}), flush=True)
    store.close()


def _taken(func: Callable[..., Any], state: dict[str, Any], *names: str) -> dict[str, Any]:
    """The values in ``state`` of those of ``names`` that ``func`` takes (an older tree, run
    with ``--baseline``, may take fewer)."""
    taken = inspect.signature(func).parameters
    return {name: state[name] for name in names if name in taken and name in state}


def _measure(tree: str, root: Path | None, case: Path, work: Path, until: str
             ) -> list[dict[str, Any]]:
    """The stages of one tree on one case, each in the same fresh child process."""
    env = dict(os.environ)
    if root is not None:
        env["PYTHONPATH"] = str(root)
    work.mkdir(parents=True, exist_ok=False)
    done = subprocess.run([sys.executable, __file__, "--child", str(case), str(work), until],
                          env=env, check=True, capture_output=True, text=True)
    return [{"tree": tree, **json.loads(line)} for line in done.stdout.splitlines()
            if line.startswith("{")]


def _goals(rows: list[dict[str, Any]]) -> None:
    """Add the growth over the previous size and the goals' verdicts to each row."""
    previous: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["tree"], row["stage"])
        before = previous.get(key)
        if before is not None and before["cpu_s"] > 0:
            row["growth"] = round((row["cpu_s"] / before["cpu_s"])
                                  / (row["case_rows"] / before["case_rows"]), 2)
        previous[key] = row
        goal = memory_goal_gb(row["case_rows"])
        row["memory_goal_gb"] = round(goal, 2)
        verdicts = ["mem ok" if row["peak_gb"] <= goal else "MEM OVER"]
        if "growth" in row:
            verdicts.append("growth ok" if row["growth"] <= GROWTH_GOAL else "GROWTH OVER")
        if row["stage"] == "packages" and row.get("packages"):
            row["s_per_package"] = round(row["wall_s"] / row["packages"], 3)
            verdicts.append("pkg ok" if row["s_per_package"] <= PACKAGE_GOAL_S else "PKG SLOW")
        row["goals"] = ", ".join(verdicts)


def main() -> None:
    """Generate the cases, measure every tree on each and print the table."""
    if sys.argv[1:2] == ["--child"]:
        child(Path(sys.argv[2]), Path(sys.argv[3]), *sys.argv[4:5])
        return
    # imported here: the child may run an older ringmap (--baseline) that has no bench helpers
    from ringmap.bench import _common

    parser = _common.parser(__doc__, "ringmap-run-scale")
    parser.add_argument("--cells", type=int, nargs="+", default=[30, 150, 600, 2400],
                        help="case sizes in cells (about 490 rows per cell)")
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument("--baseline", type=Path,
                        help="also measure the ringmap package under this folder")
    parser.add_argument("--until", choices=STAGES, default=STAGES[-1],
                        help="last stage to run (e.g. maps: a whole run without packages)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    _common.prepare(args)
    from ringmap.synth import SynthParams, generate

    trees: list[tuple[str, Path | None]] = [("checkout", None)]
    if args.baseline:
        trees.insert(0, ("baseline", args.baseline.resolve()))
    rows: list[dict[str, Any]] = []
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for cells in args.cells:
        case = args.cases / f"case-{cells}-{args.seed}"
        if not (case / "case.yaml").is_file():
            generate(case, SynthParams(cells=cells, seed=args.seed, noise=args.noise),
                     force=True)
        for tree, root in trees:
            found = _measure(tree, root, case, args.cases / f"run-{stamp}-{tree}-{cells}",
                             args.until)
            for r in found:  # as measured: a run stopped early still tells what it measured
                print(json.dumps({**r, "cells": cells}), file=sys.stderr, flush=True)
            case_rows = next(r["rows"] for r in found if r["rows"])
            total = {"tree": tree, "stage": "total", "cells": cells, "case_rows": case_rows,
                     "wall_s": round(sum(r["wall_s"] for r in found), 2),
                     "cpu_s": round(sum(r["cpu_s"] for r in found), 2),
                     "peak_gb": max(r["peak_gb"] for r in found),
                     "worker_gb": max(r.get("worker_gb", 0.0) for r in found)}
            rows += [{**r, "cells": cells, "case_rows": case_rows} for r in found]
            rows.append(total)
            if case_rows >= 2_500_000:
                total["end_to_end_ok"] = total["wall_s"] <= END_TO_END_GOAL_S
    rows.sort(key=lambda r: (r["tree"], STAGES.index(r["stage"]) if r["stage"] in STAGES
                             else len(STAGES), r["cells"]))
    _goals(rows)
    _common.emit(rows, ["tree", "stage", "cells", "case_rows", "wall_s", "cpu_s", "peak_gb",
                        "worker_gb", "growth", "s_per_package", "memory_goal_gb", "goals"],
                 args.json)


if __name__ == "__main__":
    main()
