"""Benchmark: how well ``ringmap resolve`` finds one person's references across sources.

Each case is generated with ``ringmap synth --spelling-noise LEVEL`` (a second agency lists
agents again under its own references and spellings, some rows contradicting the roster),
ingested into an embedded store, and the person pairs :func:`ringmap.analysis.persons.resolve`
proposes at its default threshold are scored against ``truth/persons.csv`` (every pair of
references of one person that made it into the store); ``groups`` scores the pairs the
proposed pairs join transitively (what merging them all would make one). In the same run, on
the same graph, ``exact`` pairs persons whose names are equal once case and spacing are
ignored.

Goal: recall >= 0.95 at precision >= 0.95, and at least 10x fewer missed pairs than exact
matching. The time of ``resolve`` is reported with the number of persons (>= 20,000 in the
largest default case).

With ``--cells-quality``, the cells of each case are scored (ARI/NMI against
``truth/cells.csv``, as ``bench/cells_quality.py`` does) without merges and again after
merging every proposed pair, as an analyst accepting them would.

Usage::

    python bench/resolve.py --cells 40,420 --spelling-noise 0.1,0.3 --cells-quality
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path
from typing import Any

import networkx as nx

from ringmap.analysis.cells import CellSettings, detect_cells
from ringmap.analysis.persons import exact_name_pairs, resolve
from ringmap.analysis.quality import adjusted_rand_index, normalised_mutual_information
from ringmap.bench import _common
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.sameas import SAME_AS, merge
from ringmap.testing import synth_case

GOAL_RECALL = 0.95
GOAL_PRECISION = 0.95
GOAL_FEWER_MISSED = 10.0


def _truth_pairs(case_dir: Path, graph: nx.MultiDiGraph) -> set[tuple[str, str]]:
    people: dict[str, list[str]] = defaultdict(list)
    with (case_dir / "truth" / "persons.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["node_id"] in graph:
                people[row["person"]].append(row["node_id"])
    return {pair for refs in people.values() for pair in combinations(sorted(refs), 2)}


def _rates(found: Iterable[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, Any]:
    found = set(found)
    hits = len(found & truth)
    return {"proposed": len(found), "hits": hits, "missed": len(truth) - hits,
            "precision": round(hits / len(found), 4) if found else 1.0,
            "recall": round(hits / len(truth), 4) if truth else 1.0}


def _cell_scores(store: EmbeddedStore, truth: dict[str, str]) -> dict[str, float]:
    result = detect_cells(store, CellSettings(runs=3))
    graph = result.agents.evidence
    moved: dict[str, str] = graph.graph.get("same_as", {})
    found = result.cell_of()
    keys = sorted(truth)
    planted = [truth[k] for k in keys]
    labels = [found.get(moved.get(k, k), f"alone:{k}") for k in keys]
    return {"ari": round(adjusted_rand_index(planted, labels), 4),
            "nmi": round(normalised_mutual_information(planted, labels), 4)}


def run_case(root: Path, cells: int, noise: float, spelling: float, seed: int,
             cells_quality: bool) -> dict[str, Any]:
    """Score resolve and exact matching (and, optionally, cells with and without merges)."""
    folder = root / f"cells{cells}-noise{noise}-spelling{spelling}-seed{seed}"
    print(f"preparing {folder.name} ...", file=sys.stderr)
    case = synth_case(folder, cells=cells, seed=seed, noise=noise, spelling_noise=spelling,
                      detect=False)
    store = case.store
    assert isinstance(store, EmbeddedStore)
    try:
        for link in list(store.edges([SAME_AS])):  # a rerun starts from no merges
            store.delete_same_as(link)
        graph = store.project()
        truth = _truth_pairs(case.folder, graph)
        started = time.perf_counter()
        candidates = resolve(graph)
        seconds = round(time.perf_counter() - started, 2)
        persons = [(c.a, c.b) for c in candidates if c.a.startswith("Person:")]
        row: dict[str, Any] = {
            "cells": cells, "noise": noise, "spelling": spelling,
            "persons": sum(1 for _, t in graph.nodes(data="type") if t == "Person"),
            "true_pairs": len(truth), "resolve_seconds": seconds,
        }
        grouped = [pair for group in nx.connected_components(nx.Graph(persons))
                   for pair in combinations(sorted(group), 2)]
        for name, found in (("resolve", persons), ("groups", grouped),
                            ("exact", exact_name_pairs(graph))):
            for key, value in _rates(found, truth).items():
                row[f"{name}_{key}"] = value
        row["fewer_missed"] = (round(row["exact_missed"] / row["resolve_missed"], 1)
                               if row["resolve_missed"] else None)
        if cells_quality:
            before = _cell_scores(store, case.truth)
            accepted: nx.Graph = nx.Graph(persons)
            for a, b in nx.minimum_spanning_edges(accepted, data=False):  # one link per join
                merge(store, a, b, "bench: accepted resolve candidate")
            after = _cell_scores(store, case.truth)
            row |= {"cells_ari": before["ari"], "cells_nmi": before["nmi"],
                    "merged_ari": after["ari"], "merged_nmi": after["nmi"]}
    finally:
        store.close()
    return row


def _met(row: dict[str, Any]) -> bool:
    fewer = row["fewer_missed"]
    return (row["resolve_recall"] >= GOAL_RECALL and row["resolve_precision"] >= GOAL_PRECISION
            and (fewer is None or fewer >= GOAL_FEWER_MISSED))


def main() -> int:
    """Run every case; exit 1 if resolve misses the goal on any."""
    parser = _common.parser(__doc__, "ringmap-resolve-bench")
    parser.add_argument("--cells", default="40,420",
                        help="cells per case, comma-separated (about 50 persons a cell)")
    parser.add_argument("--spelling-noise", default="0.1,0.3",
                        help="spelling-noise levels, comma-separated")
    parser.add_argument("--noise", type=float, default=0.2, help="the cases' other noise")
    parser.add_argument("--cells-quality", action="store_true",
                        help="also score cells without and with the proposed merges")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args()
    _common.prepare(args)
    rows = []
    for cells in (int(c) for c in args.cells.split(",")):
        for spelling in (float(s) for s in args.spelling_noise.split(",")):
            row = run_case(args.cases, cells, args.noise, spelling, args.seed,
                           args.cells_quality)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    columns = ["cells", "spelling", "persons", "true_pairs", "resolve_seconds",
               "resolve_precision", "resolve_recall", "resolve_missed", "groups_precision",
               "groups_recall", "exact_precision", "exact_recall", "exact_missed", "fewer_missed"]
    if args.cells_quality:
        columns += ["cells_ari", "merged_ari", "cells_nmi", "merged_nmi"]
    _common.emit(rows, columns, args.json)
    return 0 if all(_met(r) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
