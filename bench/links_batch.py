"""Benchmark: batch link analysis of a large watchlist against a large evidence graph.

Generates a synthetic case (``ringmap synth`` through :func:`ringmap.testing.synth_case`:
ingested into an embedded store, cells detected; kept under ``--cases`` for later runs), writes
a watchlist mixing known, unknown and malformed identifiers (the known ones are the case's
phone numbers), and times :func:`ringmap.analysis.batch.batch` stage by stage.
It also times the alternative, one breadth-first search per row stopping at the first
suspect, on a sample of rows, to justify the single multi-source search.

Usage::

    python bench/links_batch.py --cells 2000 --rows 5000
"""

from __future__ import annotations

import random
import sys
import time
from collections import deque

from ringmap.analysis.batch import batch
from ringmap.analysis.links import EvidenceGraph, multi_source_bfs
from ringmap.bench import _common
from ringmap.testing import synth_case


def _watchlist(phones: list[str], rows: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(rows):
        roll = rng.random()
        if roll < 0.5:
            ident, kind = rng.choice(phones), "phone"
        elif roll < 0.9:
            ident, kind = f"+63{rng.randint(9500000000, 9599999999)}", ""
        else:
            ident, kind = "35-209900-176148-2", "imei"
        out.append({"row": str(i + 2), "identifier": ident, "type": kind, "note": ""})
    return out


def _per_row_bfs(eg: EvidenceGraph, start: str, max_hops: int) -> int | None:
    """Hops from ``start`` to its nearest suspect by its own breadth-first search."""
    seen = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if eg.is_suspect(node):
            return seen[node]
        if seen[node] == max_hops:
            continue
        for other in eg.undirected[node]:
            if other not in seen:
                seen[other] = seen[node] + 1
                queue.append(other)
    return None


class _Clock:
    """Wall and CPU time since the last lap; CPU time is what counts on a shared machine."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self) -> str:
        wall, cpu = time.perf_counter(), time.process_time()
        text = f"{wall - self._wall:.2f} s wall / {cpu - self._cpu:.2f} s CPU"
        self._wall, self._cpu = wall, cpu
        return text


def main() -> None:
    """Build, run, print timings."""
    parser = _common.parser(__doc__, "ringmap-bench-links")
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    _common.prepare(args)
    started = time.perf_counter()
    case = synth_case(args.cases / f"cells{args.cells}-seed{args.seed}", cells=args.cells,
                      seed=args.seed)
    with case.store as store:
        counts = store.counts()
        print(f"case: {counts.total_nodes:,} nodes, {counts.total_relationships:,} "
              f"relationships, ready in {time.perf_counter() - started:.1f} s")
        phones = [str(n.props["number"]) for n in store.nodes(["Phone"])]
        rows = _watchlist(phones, args.rows, args.seed)

        clock = _Clock()
        eg = EvidenceGraph(store)
        projection = clock.lap()
        suspects = [n for n in eg.graph if eg.is_suspect(n)]
        reached = multi_source_bfs(eg, suspects, 6)
        search = clock.lap()
        results = batch(store, rows, graph=eg)
        whole = clock.lap()
        linked = sum(r["status"] == "linked" for r in results)
        print(f"projection {projection}; multi-source BFS from {len(suspects):,} suspects "
              f"({len(reached):,} nodes reached) {search}; batch of {len(rows):,} rows "
              f"(incl. its own BFS) {whole}; {linked:,} linked")

        known = [r["node"] for r in results if r["node"]][:500]
        anywhere = random.Random(args.seed).sample(sorted(eg.graph), 500)
        for label, sample in (("known watchlist", known), ("random graph", anywhere)):
            clock.lap()
            for node in sample:
                _per_row_bfs(eg, node, 6)
            print(f"per-row BFS alternative on {len(sample)} {label} nodes, without paths: "
                  f"{clock.lap()}")
    sys.exit(0)


if __name__ == "__main__":
    main()
