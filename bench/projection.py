"""Benchmark: reading the evidence graph out of the embedded store, and writing cells back.

On one synthetic case of >= 1M links (``ringmap synth``, ingested once and kept under
``--cases``, shared with ``bench/cells_quality.py``), each measurement in a fresh subprocess
so that its peak resident memory (``ru_maxrss``) is its own:

- ``packed``: ``store.packed()``, the adjacency as arrays, properties left as stored;
- ``project``: ``store.project()``, the networkx evidence graph built from that one read;
- ``project_previous``: the same graph as the previous ``project()`` built it (one
  ``Node``/``Edge`` per row, ordered by text in SQLite, one ``add_edge`` each), kept here
  only, to compare in the same run;
- ``write_back``: explaining, reporting and saving a detection run of the case
  (:func:`ringmap.analysis.explain.write_cells`), and ``write_back_previous`` with the
  explanations' evidence rows read as before (four statements per relationship).

Times are wall clock and CPU seconds of the process (on a shared machine the wall clock
mostly measures the other processes).

Goals: ``project`` <= 5 s at 1M links; ``write_back`` <= 10 s for 20,000 agents.

Usage::

    python bench/projection.py --cells 2400
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterable
from itertools import groupby
from pathlib import Path
from typing import Any

import networkx as nx

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import Provenance
from ringmap.graphs.sameas import SAME_AS, collapse
from ringmap.graphs.store import Store

GOAL_LINKS = 1_000_000
GOAL_PROJECT_S = 5.0
GOAL_AGENTS = 20_000
GOAL_WRITE_S = 10.0


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def previous_project(store: Store) -> nx.MultiDiGraph:
    """The evidence graph as ``Store.project`` built it before the packed read."""
    graph: nx.MultiDiGraph = nx.MultiDiGraph()
    for node in store.nodes():
        graph.add_node(node.id, type=node.type, **node.props)
    links = []
    for edge in store.edges():
        if edge.type == SAME_AS:
            links.append(edge)
        elif edge.src in graph and edge.dst in graph:
            graph.add_edge(edge.src, edge.dst, key=edge.type, type=edge.type, **edge.props)
    return collapse(graph, links)


def measure(db: Path, what: str) -> dict[str, Any]:
    """One measurement on one stored case (run in its own process)."""
    with EmbeddedStore(db, create=False) as store:
        if what == "packed":
            started, cpu = time.perf_counter(), time.process_time()
            packed = store.packed()
            return {"seconds": round(time.perf_counter() - started, 2),
                    "cpu_s": round(time.process_time() - cpu, 2),
                    "links": len(packed.src), "rss_peak_mb": _rss_mb()}
        if what in ("project", "project_previous"):
            started, cpu = time.perf_counter(), time.process_time()
            graph = store.project() if what == "project" else previous_project(store)
            return {"seconds": round(time.perf_counter() - started, 2),
                    "cpu_s": round(time.process_time() - cpu, 2),
                    "links": graph.number_of_edges(), "rss_peak_mb": _rss_mb()}
        return _write_back(store, what == "write_back_previous")


def _write_back(store: Store, previous: bool) -> dict[str, Any]:
    from ringmap.analysis.cells import CellSettings, detect_cells
    from ringmap.analysis.explain import write_cells

    result = detect_cells(store, CellSettings(runs=2))
    rss = _rss_mb()
    if previous:
        _use_previous_write_back()
    started, cpu = time.perf_counter(), time.process_time()
    saved = write_cells(store, result)
    return {"seconds": round(time.perf_counter() - started, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "agents": len(result.agents.units), "cells": len(saved.records),
            "rss_before_mb": rss, "rss_peak_mb": _rss_mb()}


def _use_previous_write_back() -> None:
    """Read provenance as the embedded store did before issue 14: four statements per item."""

    def provenance(self: EmbeddedStore, item_id: str) -> list[Provenance]:
        found = self._item(item_id)
        if found is None:
            return []
        table, key, _type = found
        sightings = sorted({(file_id, int(row)) for file_id, rows in
                            self._db.execute(table.sightings, (key,))
                            if rows for row in rows.split(",")})
        out: list[Provenance] = []
        for file_id, rows_seen in groupby(sightings, key=lambda fr: fr[0]):
            load = self._file(file_id)
            rows = [row for _, row in rows_seen]
            refs = dict(self._db.execute(
                "SELECT row, ref FROM row_refs WHERE file_id=? AND row IN "
                "(SELECT value FROM json_each(?))", (file_id, json.dumps(rows))))
            out.extend(Provenance.model_construct(
                source_file=load.source_file, sha256=load.sha256, row=row, ref=refs.get(row),
                run_id=load.run_id, ingested_at=load.ingested_at, grading=load.grading)
                for row in rows)
        return out

    def provenance_many(self: EmbeddedStore, item_ids: Iterable[str]
                        ) -> dict[str, list[Provenance]]:
        found = {item: provenance(self, item) for item in dict.fromkeys(item_ids)}
        return {item: rows for item, rows in found.items() if rows}

    EmbeddedStore.provenance = provenance  # type: ignore[method-assign]
    EmbeddedStore.provenance_many = provenance_many  # type: ignore[method-assign]


def main() -> int:
    """Measure; exit 1 when a goal is missed."""
    from ringmap.bench import _common

    parser = _common.parser(__doc__, "ringmap-cells-bench")
    parser.add_argument("--cells", type=int, default=2400,
                        help="cells of the case (about 450 links a cell)")
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--db", type=Path, help="measure this stored case instead")
    parser.add_argument("--measure", nargs=2, metavar=("DB", "WHAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    _common.prepare(args)
    if args.measure is not None:
        print(json.dumps(measure(Path(args.measure[0]), args.measure[1])))
        return 0

    from ringmap.bench.cells_quality import prepare_case
    from ringmap.tabular import render

    db = args.db
    if db is None:
        _truth, db = prepare_case(args.cases, args.cells, args.noise, args.seed)
    rows = []
    for what in ("packed", "project", "project_previous", "write_back", "write_back_previous"):
        out = subprocess.run([sys.executable, __file__, "--measure", str(db), what],
                             check=True, capture_output=True, text=True)
        row = {"measure": what, **json.loads(out.stdout)}
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    print(render(rows, "table", ["measure", "seconds", "cpu_s", "links", "agents", "cells",
                                 "rss_before_mb", "rss_peak_mb"]))
    by = {r["measure"]: r for r in rows}
    slow_read = by["project"]["links"] >= GOAL_LINKS and by["project"]["seconds"] > GOAL_PROJECT_S
    slow_write = (by["write_back"]["agents"] >= GOAL_AGENTS
                  and by["write_back"]["seconds"] > GOAL_WRITE_S)
    return 1 if slow_read or slow_write else 0


if __name__ == "__main__":
    sys.exit(main())
