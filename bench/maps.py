"""Benchmark: cell maps of about 500 and 2,000 nodes, written and opened in headless Chromium.

For each size: build a synthetic case in a fresh embedded store (cells of agents with their
accounts, phones, SIMs, devices, cards, office IPs and raid sites), write the cell map, open it
in Chromium with every request blocked, and measure the time from navigation to the map's
"layout stable" flag (``window.ringmapStableAt``), plus the HTML size. The same map is also
timed with the browser's physics only (no layout computed ahead) to show why maps above
``PHYSICS_LIMIT`` nodes get fixed positions. Goals: stable within 10 s at 2,000 nodes, HTML
at most 1.5 MB.

Usage::

    python bench/maps.py                 # 500 and 2000 nodes
    python bench/maps.py --nodes 5000    # any sizes; above the budget the map aggregates
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

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
from ringmap.tests.browser.chromium import chromium, open_map
from ringmap.viz import maps
from ringmap.viz.maps import write_cell_map

GOAL_SECONDS = 10.0
GOAL_BYTES = 1_500_000
_NODES_PER_AGENT = 6.7  # person, 2 accounts, phone, SIM, device, half a card, cell IP+site


def _luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def synthetic_case(store: EmbeddedStore, nodes: int, agents_per_cell: int = 10) -> None:
    """Load about ``nodes`` footprint nodes, in cells of ``agents_per_cell`` agents."""
    agents = max(1, int(nodes / _NODES_PER_AGENT))
    found: list[Node] = []
    links: list[Edge] = []
    cells: dict[str, list[str]] = {}
    for a in range(agents):
        cell = f"C{a // agents_per_cell:03d}"
        person = Node(f"Person:AG-{a}", "Person", {"person_id": f"AG-{a}", "role": "suspect",
                                                  "name": f"Agent {a}"})
        accounts = [Node(f"Account:facebook/agent{a}.{k}", "Account",
                         {"platform": "facebook", "handle": f"agent{a}.{k}",
                          "display_name": f"Lovely profile {a}-{k}"}) for k in range(2)]
        phone = Node(f"Phone:+63917{a:07d}", "Phone", {"number": f"+63917{a:07d}"})
        iccid = _luhn(f"896301{a:012d}")
        sim = Node(f"SimCard:{iccid}", "SimCard", {"iccid": iccid})
        imei = _luhn(f"35693803{a:06d}")
        device = Node(f"Device:{imei}", "Device", {"device_id": imei, "kind": "phone"})
        found += [person, *accounts, phone, sim, device]
        links += [Edge("USES", person.id, phone.id), Edge("SIM_IN", sim.id, device.id),
                  Edge("HAS_NUMBER", sim.id, phone.id)]
        for account in accounts:
            links += [Edge("USES", person.id, account.id),
                      Edge("LOGGED_IN_ON", account.id, device.id, {"count": 3})]
        if a % 2 == 0:
            card = Node(f"PaymentCard:{a:032x}", "PaymentCard",
                        {"card_hash": f"{a:032x}", "masked": f"411111******{a % 10000:04d}"})
            found.append(card)
            links.append(Edge("HOLDS", person.id, card.id))
        cells.setdefault(cell, []).extend([person.id, *(x.id for x in accounts)])
    for c, cell in enumerate(cells):
        ip = Node(f"IPAddress:10.{c // 250}.{c % 250}.1", "IPAddress",
                  {"address": f"10.{c // 250}.{c % 250}.1"})
        site = Node(f"Location:SITE-{c}", "Location", {"location_id": f"SITE-{c}",
                                                      "name": f"Office {c}", "lat": 14.5,
                                                      "lon": 121.0})
        found += [ip, site]
        for member in cells[cell]:
            if member.startswith("Account:"):
                links.append(Edge("LOGGED_IN_FROM", member, ip.id))
            else:
                links.append(Edge("WORKS_AT", member, site.id))
    items = [n.id for n in found] + [e.id for e in links]
    sightings = [Sighting(item, row, f"EX-{row}") for row, item in enumerate(items, start=2)]
    load = FileLoad(sha256="b" * 64, source_file="bench.csv", mapping="bench",
                    mapping_digest="m", run_id="bench", grading=Grading.parse("B2"),
                    read=len(items), loaded=len(items))
    store.load_file(load, [Batch(found, links, sightings, last_row=len(items) + 1)])
    store.save_cells(AnalysisRun(run_id="bench-cells"), [
        CellRecord(cell_id=cell, members=[CellMember(node_id=m, confidence=1.0)
                                          for m in members])
        for cell, members in cells.items()])


def _open(browser: Any, html: Path) -> float:
    with open_map(browser, html, wait=False) as shown:
        shown.wait_stable(timeout_ms=120_000)
        if shown.attempted or shown.errors:
            raise SystemExit(f"map made requests or errors: {shown.attempted} {shown.errors}")
        stable_ms: float = shown.js("window.ringmapStableAt")
        return stable_ms / 1000


def run(sizes: list[int], budget: int) -> list[dict[str, Any]]:
    """Measure each size; one result row per size and layout mode."""
    results = []
    ahead = maps.PHYSICS_LIMIT
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser:
        for size in sizes:
            folder = Path(tmp) / str(size)
            folder.mkdir()
            with EmbeddedStore(folder / "case.db") as store:
                synthetic_case(store, size)
                for mode, limit in (("as drawn", ahead), ("browser physics only", 10**9)):
                    maps.PHYSICS_LIMIT = limit  # the benchmark's one knob on the module
                    try:
                        started = time.perf_counter()
                        result = write_cell_map(store, folder / f"map-{limit}.html",
                                                budget=budget)
                        written = time.perf_counter() - started
                    finally:
                        maps.PHYSICS_LIMIT = ahead
                    seconds = _open(browser, result.path)
                    results.append({"nodes": result.nodes, "edges": result.edges,
                                    "mode": mode, "aggregated": result.aggregated,
                                    "write_s": round(written, 2),
                                    "stable_s": round(seconds, 2),
                                    "html_bytes": result.path.stat().st_size})
    return results


def main() -> None:
    """Run the benchmark and print one line per measurement, then the goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--budget", type=int, default=maps.DEFAULT_BUDGET)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    os.environ.setdefault("RINGMAP_SECRET", "bench-secret-0123456789")
    results = run(args.nodes, args.budget)
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


if __name__ == "__main__":
    main()
