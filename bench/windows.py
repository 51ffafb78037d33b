"""Benchmark: cells over time find the agents who changed cell, and in which window.

Each case is generated with ``ringmap synth --moves N`` (N identified agents leave their cell
for the next one on a known date, ``truth/moves.csv``), ingested into an embedded store, and
its cells are found per time window (:func:`ringmap.analysis.windows.cells_over_time`). A
planted move is *detected* when a move of that agent leaves a cell whose other agents are
mostly of the planted first cell for one mostly of the planted second cell
(:func:`~ringmap.analysis.windows.score_moves`); its *lag* is how many windows after the one
holding the move's date the move shows (0: that very window, -1: the window before, when
the agent's last days in his first cell already tie him to the second). Moves found of agents
never planted are counted apart (``other_moves``: the case's own noise, agents of earlier
cells signing in on a later cell's devices in its last weeks, resold devices).

Goal: at least 80% of planted moves detected, each within one window of its date.

Usage::

    python bench/windows.py --cells 24 --moves 20 --window 30d,14d
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ringmap.analysis.cells import CellSettings
from ringmap.analysis.windows import (
    cells_over_time,
    parse_window,
    score_moves,
    span_of,
    windows_between,
)
from ringmap.bench import _common
from ringmap.testing import planted_moves, synth_case

GOAL_DETECTED = 0.8
GOAL_LAG = 1


def run_case(cases: Path, cells: int, moves: int, windows: list[str], noise: float, seed: int,
             runs: int) -> list[dict[str, Any]]:
    """Generate and ingest one case, then find its cells in windows of each size."""
    folder = cases / f"moves-{cells}-{moves}-{noise}-{seed}"
    print(f"preparing {folder.name} ...", file=sys.stderr)
    case = synth_case(folder, cells=cells, seed=seed, noise=noise, moves=moves, detect=False)
    evidence = case.store.project()
    case.store.close()
    planted = planted_moves(case.folder)
    span = span_of(evidence)
    assert span is not None
    rows = []
    for text in windows:
        started = time.perf_counter()
        found = cells_over_time(evidence, windows_between(*span, parse_window(text)),
                                CellSettings(runs=runs))
        seconds = time.perf_counter() - started
        scored = score_moves(found, planted, case.truth)
        hits = [d for d in scored if d.found is not None]
        movers = {m.agent for m in planted}
        lags = Counter(d.lag for d in hits if d.lag is not None)
        rows.append({
            "cells": cells, "window": text, "windows": len(found.windows),
            "window_cells": len(found.cells), "planted": len(planted), "detected": len(hits),
            "detected_share": round(len(hits) / max(len(planted), 1), 3),
            "lags": ", ".join(f"{lag:+d}: {n}" for lag, n in sorted(lags.items())),
            "within_one": sum(n for lag, n in lags.items() if abs(lag) <= GOAL_LAG),
            "other_moves": sum(1 for m in found.moves if m.agent not in movers),
            "seconds": round(seconds, 1),
            "shown_in": "; ".join(f"{d.planted.agent} {d.planted.moved} -> "
                                  f"{d.found.to_window}" for d in hits if d.found),
        })
    return rows


def _met(row: dict[str, Any]) -> bool:
    return bool(row["detected_share"] >= GOAL_DETECTED
                and row["within_one"] == row["detected"])


def main() -> int:
    """Run every case; exit 1 if a window size misses the goal."""
    parser = _common.parser(__doc__, "ringmap-windows-bench")
    parser.add_argument("--cells", default="24", help="cells per case, comma-separated")
    parser.add_argument("--moves", type=int, default=20, help="planted moves per case")
    parser.add_argument("--window", default="30d,14d", help="window sizes, comma-separated")
    parser.add_argument("--noise", type=float, default=0.2, help="the cases' noise level")
    parser.add_argument("--runs", type=int, default=3, help="consensus runs per window")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args()
    _common.prepare(args)
    rows = []
    for cells in (int(c) for c in args.cells.split(",")):
        rows += run_case(args.cases, cells, args.moves, args.window.split(","), args.noise,
                         args.seed, args.runs)
    _common.emit(rows, [c for c in rows[0] if c != "shown_in"], args.json)
    if not args.json:
        for row in rows:
            print(f"{row['window']}: {row['shown_in']}")
    return 0 if all(_met(r) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
