"""Benchmark: batch link analysis of a large watchlist against a large evidence graph.

Builds a synthetic case straight into an embedded store (cells of agents with accounts,
phones, shared devices, an office and its IP; victims contacted and paying into mules'
cards; a few CGNAT addresses shared by everyone), writes a watchlist mixing known, unknown
and malformed identifiers, and times :func:`ringmap.analysis.batch.batch` stage by stage.
It also times the alternative, one breadth-first search per row stopping at the first
suspect, on a sample of rows, to justify the single multi-source search.

Usage::

    python bench/links_batch.py --cells 2000 --rows 5000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from ringmap.analysis.batch import batch
from ringmap.analysis.links import EvidenceGraph, multi_source_bfs
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import (
    AnalysisRun,
    Batch,
    CellMember,
    CellRecord,
    Edge,
    FileLoad,
    Grading,
    Node,
    Sighting,
)


def _build(path: Path, cells: int, seed: int) -> tuple[EmbeddedStore, list[str]]:
    """The case, and phone numbers it holds (for the watchlist)."""
    rng = random.Random(seed)
    nodes: list[Node] = []
    edges: list[Edge] = []
    phones: list[str] = []
    cell_records = []
    cgnat = [f"IPAddress:100.64.0.{i}" for i in range(10)]
    nodes += [Node(ip, "IPAddress", {"address": ip.split(":", 1)[1]}) for ip in cgnat]
    number = 9170000000
    for c in range(cells):
        office = f"Location:OFF-{c}"
        office_ip = f"IPAddress:10.{c // 250}.{c % 250}.1"
        devices = [f"Device:SN:C{c}D{d}" for d in range(3)]
        card = f"PaymentCard:{c:032x}"
        mule = f"Person:MULE-{c}"
        nodes += [Node(office, "Location", {"location_id": f"OFF-{c}"}),
                  Node(office_ip, "IPAddress", {"address": office_ip.split(":", 1)[1]}),
                  Node(card, "PaymentCard", {"card_hash": f"{c:032x}"}),
                  Node(mule, "Person", {"person_id": f"MULE-{c}", "role": "mule"}),
                  *(Node(d, "Device", {"device_id": d.split(":", 1)[1]}) for d in devices)]
        edges.append(Edge("HOLDS", mule, card))
        members = []
        accounts = []
        for a in range(rng.randint(5, 30)):
            person = f"Person:AG-{c}-{a}"
            number += 1
            phone = f"Phone:+63{number}"
            phones.append(phone.split(":", 1)[1])
            acc = [f"Account:facebook/ag{c}.{a}.{k}" for k in range(2)]
            accounts += acc
            members += [person, *acc]
            nodes += [Node(person, "Person", {"person_id": f"AG-{c}-{a}", "role": "suspect"}),
                      Node(phone, "Phone", {"number": phone.split(":", 1)[1]}),
                      *(Node(x, "Account", {"platform": "facebook", "handle": x[17:]})
                        for x in acc)]
            edges += [Edge("USES", person, phone), Edge("WORKS_AT", person, office),
                      Edge("REGISTERED_TO", acc[0], phone)]
            for x in acc:
                edges += [Edge("USES", person, x), Edge("LOGGED_IN_FROM", x, office_ip),
                          Edge("LOGGED_IN_ON", x, rng.choice(devices))]
                if rng.random() < 0.3:
                    edges.append(Edge("LOGGED_IN_FROM", x, rng.choice(cgnat)))
        for v in range(30):
            victim, vacc = f"Person:V-{c}-{v}", f"Account:instagram/v{c}.{v}"
            nodes += [Node(victim, "Person", {"person_id": f"V-{c}-{v}", "role": "victim"}),
                      Node(vacc, "Account", {"platform": "instagram", "handle": vacc[19:]})]
            edges += [Edge("USES", victim, vacc),
                      Edge("CONTACTED", rng.choice(accounts), vacc, {"count": 3})]
            if rng.random() < 0.3:
                pay = f"Payment:western_union/P-{c}-{v}"
                nodes.append(Node(pay, "Payment", {"channel": "western_union",
                                                   "reference": f"P-{c}-{v}", "amount": 500.0,
                                                   "currency": "USD"}))
                edges += [Edge("PAID", victim, pay), Edge("PAID_TO", pay, card)]
        cell_records.append(CellRecord(cell_id=f"cell-{c}", members=[
            CellMember(node_id=m, confidence=1.0) for m in members]))
    edges = list({e.id: e for e in edges}.values())
    sightings = [Sighting(n.id, 1) for n in nodes]
    sightings += [Sighting(e.id, i + 2, f"EX-{i}") for i, e in enumerate(edges)]
    store = EmbeddedStore(path)
    load = FileLoad(sha256="00" * 32, source_file="bench.csv", mapping="bench",
                    mapping_digest="00" * 32, run_id="bench", grading=Grading.parse("B2"))
    store.load_file(load, [Batch(nodes, edges, sightings, last_row=len(edges) + 1)])
    store.save_cells(AnalysisRun(run_id="bench-cells"), cell_records)
    return store, phones


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("RINGMAP_SECRET", "bench-secret-0123456789")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        store, phones = _build(Path(tmp) / "bench.db", args.cells, args.seed)
        counts = store.counts()
        print(f"case: {counts.total_nodes:,} nodes, {counts.total_relationships:,} "
              f"relationships, built in {time.perf_counter() - started:.1f} s")
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
        store.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
