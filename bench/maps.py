"""Benchmark: detailed cell maps of about 500 and 2,000 nodes and the overview of a 150-cell
case, written and opened in headless Chromium.

For each size: generate a synthetic case of about that many map nodes (``ringmap synth``, with
:func:`ringmap.testing.synth_case`: ingested into an embedded store, cells detected), write the
detailed cell map (``--detailed``), open it in Chromium with every request blocked, and measure
the time from navigation to the map's "layout stable" flag (``window.ringmapStableAt``), plus
the HTML size. The same map is also timed with the browser's physics only (no layout computed
ahead) to show why maps above ``PHYSICS_LIMIT`` nodes get fixed positions. Goals: stable within
10 s at 2,000 nodes, HTML at most 1.5 MB. Then the default overview of a case of
``--overview-cells`` cells (150): goals stable within 5 s, HTML at most 2 MB.

Usage::

    python bench/maps.py                        # 500 and 2000 nodes, a 150-cell overview
    python bench/maps.py --nodes 5000           # any sizes; above the budget the map aggregates
    python bench/maps.py --cases /tmp/cases     # keep the generated cases for the next run
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ringmap.testing import synth_case
from ringmap.tests.browser.chromium import chromium, open_map
from ringmap.viz import maps
from ringmap.viz.maps import write_cell_map

GOAL_SECONDS = 10.0
GOAL_BYTES = 1_500_000
OVERVIEW_SECONDS = 5.0
OVERVIEW_BYTES = 2_000_000
#: nodes a synthetic cell adds to the cell map (agents, accounts, phones, SIMs, devices,
#: cards, office IP and site; measured on seed 7)
_NODES_PER_CELL = 107


def _open(browser: Any, html: Path) -> float:
    with open_map(browser, html, wait=False) as shown:
        shown.wait_stable(timeout_ms=120_000)
        if shown.attempted or shown.errors:
            raise SystemExit(f"map made requests or errors: {shown.attempted} {shown.errors}")
        stable_ms: float = shown.js("window.ringmapStableAt")
        return stable_ms / 1000


def _measure(browser: Any, result: maps.MapResult, mode: str, written: float
             ) -> dict[str, Any]:
    seconds = _open(browser, result.path)
    return {"nodes": result.nodes, "edges": result.edges, "mode": mode,
            "aggregated": result.aggregated, "write_s": round(written, 2),
            "stable_s": round(seconds, 2), "html_bytes": result.path.stat().st_size}


def run(sizes: list[int], budget: int, overview_cells: int, cases: Path,
        physics_only: bool = True) -> list[dict[str, Any]]:
    """Measure each size; one result row per size and layout mode, then the overview's."""
    results = []
    ahead = maps.PHYSICS_LIMIT
    modes = [("as drawn", ahead)] + ([("browser physics only", 10**9)] if physics_only else [])
    with chromium() as browser:
        for size in sizes:
            folder = cases / f"nodes-{size}"
            folder.mkdir(parents=True, exist_ok=True)
            cells = max(1, round(size / _NODES_PER_CELL))
            with synth_case(folder, cells=cells, seed=7).store as store:
                for mode, limit in modes:
                    maps.PHYSICS_LIMIT = limit  # the benchmark's one knob on the module
                    try:
                        started = time.perf_counter()
                        result = write_cell_map(store, folder / f"map-{limit}.html",
                                                detailed=True, budget=budget)
                        written = time.perf_counter() - started
                    finally:
                        maps.PHYSICS_LIMIT = ahead
                    results.append(_measure(browser, result, mode, written))
        folder = cases / f"cells-{overview_cells}"
        folder.mkdir(parents=True, exist_ok=True)
        with synth_case(folder, cells=overview_cells, seed=7).store as store:
            started = time.perf_counter()
            result = write_cell_map(store, folder / "overview.html")
            written = time.perf_counter() - started
            row = _measure(browser, result, f"overview, {overview_cells} cells", written)
            results.append(row)
    return results


def main() -> None:
    """Run the benchmark and print one line per measurement, then the goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="*", default=[500, 2000],
                        help="sizes of the detailed maps (none: the overview only)")
    parser.add_argument("--no-physics-only", dest="physics_only", action="store_false",
                        help="skip timing the detailed maps with the browser's physics only")
    parser.add_argument("--budget", type=int, default=maps.DEFAULT_BUDGET)
    parser.add_argument("--overview-cells", type=int, default=150)
    parser.add_argument("--cases", type=Path, default=None,
                        help="keep the generated cases here (default: a temporary folder)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    os.environ.setdefault("RINGMAP_SECRET", "bench-secret-0123456789")
    with tempfile.TemporaryDirectory() as tmp:
        results = run(args.nodes, args.budget, args.overview_cells, args.cases or Path(tmp),
                      args.physics_only)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"{r['nodes']:>6} nodes {r['edges']:>6} edges  {r['mode']:<22} "
              f"write {r['write_s']:>6.2f} s  stable {r['stable_s']:>6.2f} s  "
              f"html {r['html_bytes'] / 1e6:5.2f} MB{'  (aggregated)' if r['aggregated'] else ''}")
    ahead = [r for r in results if r["mode"] == "as drawn"]
    ok = all(r["stable_s"] <= GOAL_SECONDS and r["html_bytes"] <= GOAL_BYTES for r in ahead)
    print(f"goal (maps as drawn, <= {GOAL_SECONDS:.0f} s and <= {GOAL_BYTES / 1e6:.1f} MB): "
          f"{'met' if ok else 'NOT met'}")
    over = [r for r in results if r["mode"].startswith("overview")]
    ok_over = all(r["stable_s"] <= OVERVIEW_SECONDS and r["html_bytes"] <= OVERVIEW_BYTES
                  for r in over)
    print(f"goal (overview, <= {OVERVIEW_SECONDS:.0f} s and <= {OVERVIEW_BYTES / 1e6:.1f} MB): "
          f"{'met' if ok_over else 'NOT met'}")
    # the sizes do not depend on the machine: a map over its budget fails the run
    over_size = [r for r in ahead if r["html_bytes"] > GOAL_BYTES] + [
        r for r in over if r["html_bytes"] > OVERVIEW_BYTES]
    if over_size:
        raise SystemExit(f"maps over their size budget: {over_size}")


if __name__ == "__main__":
    main()
