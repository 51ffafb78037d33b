"""Benchmark: how well ringmap's cells recover the planted cells of synthetic cases.

Each case is generated with ``ringmap synth`` (kept under ``--cases`` for later runs),
ingested into an embedded store through the ingest engine, and scored against
``truth/cells.csv`` (node_id,cell_id) with ARI and NMI over every planted agent and account.
In the same run, on the same evidence:

- ``ringmap``: ``detect_cells`` with default settings, through the store;
- ``components``: connected components of the agents linked by any shared identifier;
- ``louvain``: networkx Louvain at its defaults on that unweighted agent graph;
- ``ceiling``: the planted cells cut into the pieces the observed evidence connects at all
  (planted cell ∩ components of the same agent graph restricted to links inside the cell).

The goal: ringmap's ARI >= 0.95 x the ceiling's on every case, with no per-case tuning.

Usage::

    python bench/cells_quality.py --cells 15,150,1700 --noise 0.1,0.4
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from ringmap.analysis.cells import CellsResult, detect_cells
from ringmap.analysis.projection import AgentGraph, ProjectionSettings, project_agents
from ringmap.analysis.quality import adjusted_rand_index, normalised_mutual_information
from ringmap.bench import _common
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.testing import synth_case

GOAL = 0.95
#: Everything the evidence links, with no hub handling: what naive approaches see.
NAIVE = ProjectionSettings(hub_weighting="none", infra_max_agents=10**9, use_grading=False)


def prepare_case(root: Path, cells: int, noise: float, seed: int) -> tuple[dict[str, str], Path]:
    """The planted cells of a synthetic case and its embedded store, generated and ingested
    once (:func:`ringmap.testing.synth_case`)."""
    folder = root / f"cells{cells}-noise{noise}-seed{seed}"
    print(f"preparing {folder.name} ...", file=sys.stderr)
    case = synth_case(folder, cells=cells, seed=seed, noise=noise, detect=False)
    case.store.close()
    return case.truth, folder / "case.db"


def _unit_labels(agents: AgentGraph, labels: list[Hashable]) -> dict[str, Hashable]:
    """Label of every agent node (units and the accounts folded into them)."""
    out: dict[str, Hashable] = {}
    for v, unit in enumerate(agents.units):
        out[unit] = labels[v]
        for account in agents.accounts.get(unit, ()):
            out[account] = labels[v]
    for account, users in agents.shared_accounts.items():
        out[account] = out[users[0]]
    return out


def _score(truth: Mapping[str, str], predicted: Mapping[str, Hashable]) -> dict[str, float]:
    keys = sorted(truth)
    planted = [truth[k] for k in keys]
    found = [predicted.get(k, f"alone:{k}") for k in keys]
    return {"ari": round(adjusted_rand_index(planted, found), 4),
            "nmi": round(normalised_mutual_information(planted, found), 4)}


def _components(agents: AgentGraph) -> dict[str, Hashable]:
    return _unit_labels(agents, list(agents.graph.connected_components().membership))


def _louvain(agents: AgentGraph, seed: int) -> dict[str, Hashable]:
    g: nx.Graph = nx.Graph()
    g.add_nodes_from(range(len(agents.units)))
    g.add_edges_from(agents.graph.get_edgelist())
    labels: list[Hashable] = [0] * len(agents.units)
    for label, community in enumerate(nx.community.louvain_communities(g, seed=seed)):
        for v in community:
            labels[v] = label
    return _unit_labels(agents, labels)


def _ceiling(agents: AgentGraph, truth: Mapping[str, str]) -> dict[str, Hashable]:
    cell = [truth.get(u) for u in agents.units]
    inside = agents.graph.copy()
    inside.delete_edges([e.index for e in inside.es
                         if cell[e.source] is None or cell[e.source] != cell[e.target]])
    return _unit_labels(agents, list(inside.connected_components().membership))


def _timed(func: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = func()
    return value, round(time.perf_counter() - started, 2)


def run_case(root: Path, cells: int, noise: float, seed: int) -> dict[str, Any]:
    """Score ringmap and the baselines on one synthetic case."""
    truth, db = prepare_case(root, cells, noise, seed)
    with EmbeddedStore(db) as store:
        result, seconds = _timed(lambda: detect_cells(store, None))
        evidence = store.project()
    assert isinstance(result, CellsResult)
    naive = project_agents(evidence, NAIVE)
    row: dict[str, Any] = {
        "cells": cells, "noise": noise, "agents": sum(1 for k in truth if k.startswith("Person:")),
        "truth_nodes": len(truth), "relationships": evidence.number_of_edges(),
        "found": len(result.cells), "seconds": seconds, "grading": result.grading,
    }
    scores = {
        "ringmap": _score(truth, result.cell_of()),
        "components": _score(truth, _components(naive)),
        "louvain": _score(truth, _louvain(naive, seed)),
        "ceiling": _score(truth, _ceiling(naive, truth)),
    }
    for name, score in scores.items():
        row[f"{name}_ari"], row[f"{name}_nmi"] = score["ari"], score["nmi"]
    ceiling = scores["ceiling"]["ari"]
    row["of_ceiling"] = round(scores["ringmap"]["ari"] / ceiling, 4) if ceiling else None
    return row


def main() -> int:
    """Run every case; exit 1 if ringmap misses the goal on any."""
    parser = _common.parser(__doc__, "ringmap-cells-bench")
    parser.add_argument("--cells", default="15,150,1700",
                        help="cells per case, comma-separated (about 13 agents a cell)")
    parser.add_argument("--noise", default="0.1,0.4", help="noise levels, comma-separated")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args()
    _common.prepare(args)
    rows = []
    for cells in (int(c) for c in args.cells.split(",")):
        for noise in (float(n) for n in args.noise.split(",")):
            row = run_case(args.cases, cells, noise, args.seed)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    _common.emit(rows, ["cells", "noise", "agents", "relationships", "found", "seconds",
                        "ringmap_ari", "ringmap_nmi", "components_ari", "louvain_ari",
                        "ceiling_ari", "of_ceiling"], args.json)
    missed = [r for r in rows if r["of_ceiling"] is not None and r["of_ceiling"] < GOAL]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
