"""Benchmark: p50/p95 latency of every named query on a case of >= 1M evidence rows.

The case is a synthetic one (``ringmap synth``, through :func:`ringmap.testing.synth_case`:
generated once under ``--cases``, ingested, cells detected): cells of agents with their
accounts, devices, SIMs and numbers, offices and raid sites, victims in nine countries
contacted by the agents' accounts, payments into mules' cards and wallets, reports. Rerunning
with the same parameters reuses the case and its embedded store; with ``--neo4j URI`` (or
``NEO4J_URI``) the same files are ingested into that database (empty, or holding this case
only) and timed too. Single-entity queries are timed over ``--samples`` random entities of the
case each, whole-case queries (every cell, every country) fewer times; the goal is p95 <= 100
ms for every single-entity query.

Usage::

    python bench/queries.py --rows 1000000
    NEO4J_PASSWORD=... python bench/queries.py --neo4j bolt://127.0.0.1:7687 --no-embedded
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ringmap.bench import _common
from ringmap.graphs.store import Store, open_store
from ringmap.ingest.case import load_case
from ringmap.ingest.run import check_files
from ringmap.queries.catalog import catalog
from ringmap.queries.engine import run_named
from ringmap.testing import SynthCase, synth_case

GOAL_P95_MS = 100.0
#: queries over the whole case or a whole run, timed fewer times and not held to the goal
WHOLE_CASE = frozenset({"victims-by-country", "money-by-cell", "top-brokers",
                        "cross-border-summary"})
#: Evidence rows a synthetic cell yields at the default victims per cell (measured).
_ROWS_PER_CELL = 450


def _samples(case: SynthCase, rng: random.Random) -> dict[str, Callable[[], dict[str, str]]]:
    """Random parameters for each query, drawn from the case's own entities."""
    def ids(type_name: str) -> list[str]:
        return sorted(n.id for n in case.store.nodes([type_name]))

    devices, phones, sites = ids("Device"), ids("Phone"), ids("Location")
    instruments = ids("FinancialAccount") + ids("PaymentCard")
    accounts = sorted(n for n in case.truth if n.startswith("Account:"))
    run = case.cells_run
    cells = sorted({c.cell_id for c in case.store.load_cells(run)}) if run else []

    def account() -> str:
        return rng.choice(accounts)

    def pair() -> dict[str, str]:
        cell = case.truth[account()]
        a, b = rng.sample([a for a in accounts if case.truth[a] == cell], 2)
        return {"a": a, "b": b}

    return {
        "accounts-on-device": lambda: {"device": rng.choice(devices)},
        "devices-of-account": lambda: {"account": account()},
        "who-used-identifier": lambda: {"identifier": rng.choice(phones)},
        "shared-identifiers": pair,
        "contacts-of-account": lambda: {"account": account()},
        "agents-at-site": lambda: {"site": rng.choice(sites)},
        "reports-for-account": lambda: {"account": account()},
        "cell-members": lambda: {"cell": rng.choice(cells)},
        "money-trail": lambda: {"instrument": rng.choice(instruments)},
        "victims-by-country": lambda: {"cell": rng.choice(cells)},
        "money-by-cell": lambda: {},
        "top-brokers": lambda: {},
        "cross-border-summary": lambda: {},
    }


def _time(case: SynthCase, samples: int, seed: int) -> list[tuple[str, ...]]:
    rng = random.Random(seed)
    params = _samples(case, rng)
    store = case.store
    lines: list[tuple[str, ...]] = []
    for name in catalog():
        runs = 3 if name in WHOLE_CASE and name != "victims-by-country" else samples
        run_named(store, name, params[name]())  # warm the caches once
        times, rows = [], 0
        for _ in range(runs):
            chosen = params[name]()
            started = time.perf_counter()
            rows += len(run_named(store, name, chosen).rows)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        single = name not in WHOLE_CASE or name == "victims-by-country"
        verdict = ("ok" if p95 <= GOAL_P95_MS else "SLOW") if single else "whole case"
        lines.append((name, str(runs), f"{statistics.median(times):.1f}", f"{p95:.1f}",
                      f"{rows / runs:.0f}", verdict))
    return lines


def _report(title: str, lines: list[tuple[str, ...]]) -> None:
    header = ("query", "runs", "p50 ms", "p95 ms", "rows/run", "goal p95<=100ms")
    widths = [max(len(r[i]) for r in (header, *lines)) for i in range(len(header))]
    print(f"\n{title}")
    for line in (header, *lines):
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def _holds_other_evidence(store: Store, folder: Path) -> bool:
    """Whether ``store`` holds files that are not this case's (it would mix two cases)."""
    ours = {checked.sha256 for checked in check_files(load_case(folder))}
    return any(load.sha256 not in ours for load in store.file_loads())


def main() -> int:
    """Prepare (or reuse) the case, time every named query on each store, print the table."""
    parser = _common.parser(__doc__, "ringmap-bench-queries", seed=2014)
    parser.add_argument("--rows", type=int, default=1_000_000, help="evidence rows (about)")
    parser.add_argument("--neo4j", metavar="URI", default=os.environ.get("NEO4J_URI"),
                        help="also load and time the case on this Neo4j database")
    parser.add_argument("--no-embedded", action="store_true", help="time Neo4j only")
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    _common.prepare(args)

    cells = math.ceil(args.rows / _ROWS_PER_CELL)
    folder = args.cases / f"cells{cells}-seed{args.seed}"
    print(f"preparing the case in {folder} ...", file=sys.stderr)
    started = time.perf_counter()
    case = synth_case(folder, cells=cells, seed=args.seed)
    with case.store:
        print(f"  ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        if not args.no_embedded:
            _report(f"embedded ({case.store.describe()}, {cells:,} cells, "
                    f"{case.store.counts().total_relationships:,} relationships)",
                    _time(case, args.samples, args.seed))
    if args.neo4j:
        with open_store(neo4j_uri=args.neo4j) as neo:
            if _holds_other_evidence(neo, case.folder):
                print(f"{neo.describe()} holds another case; give an empty database",
                      file=sys.stderr)
                return 1
            print("loading the case into Neo4j ...", file=sys.stderr)
            on_neo4j = synth_case(folder, cells=cells, seed=args.seed, store=neo)
            _report(f"neo4j ({neo.describe()})", _time(on_neo4j, args.samples, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
