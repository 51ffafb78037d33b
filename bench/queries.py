"""Benchmark: p50/p95 latency of every named query on a case of >= 1M evidence rows.

The case is built straight through the store contract (no files, no mappings): cells of agents
with their accounts, devices, SIMs and numbers, shared office IPs and sites, victims in a dozen
countries contacted by the agents' accounts, payments into mules' cards and wallets, reports,
and one cell-detection run holding the planted cells. Each evidence row is one ``Sighting``
row of a batch. The embedded case is kept in ``--store`` for later runs (``--reuse``); with
``--neo4j URI`` (or ``NEO4J_URI``) the same case is loaded into that empty database and timed
too. Single-entity queries are timed over ``--samples`` random entities each, whole-case
queries (every cell, every country) fewer times; the goal is p95 <= 100 ms for every
single-entity query.

Usage::

    python bench/queries.py --rows 1000000 --store /tmp/ringmap-bench-queries.db
    NEO4J_PASSWORD=... python bench/queries.py --neo4j bolt://127.0.0.1:7687 --reuse
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from ringmap.graphs.store import Store, open_store
from ringmap.queries.catalog import catalog
from ringmap.queries.engine import run_named

GOAL_P95_MS = 100.0
#: queries over the whole case or a whole run, timed fewer times and not held to the goal
WHOLE_CASE = frozenset({"victims-by-country", "money-by-cell", "top-brokers",
                        "cross-border-summary"})
_COUNTRIES = ("GB", "US", "HK", "SG", "ID", "MY", "AU", "KR", "PH", "CA", "DE", "FR")
_BATCH_ROWS = 50_000
_CELL_SIZE = 10
#: evidence rows per agent (uses, logins, SIM, registrations, site) + victim rows per agent
_ROWS_PER_AGENT = 50


class _Case:
    """Generates the evidence rows of the benchmark case, deterministically for a seed."""

    def __init__(self, rows: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.agents = max(_CELL_SIZE * 2, rows // _ROWS_PER_AGENT)
        self.cells = self.agents // _CELL_SIZE
        self.victims = self.agents * 8
        self.rows_target = rows
        self.row = 0
        self.start = datetime(2014, 1, 1, tzinfo=UTC)

    def _when(self) -> datetime:
        return self.start + timedelta(minutes=self.rng.randrange(0, 200 * 24 * 60))

    def batches(self) -> Iterator[Batch]:
        """Evidence rows in batches of about ``_BATCH_ROWS``."""
        nodes: list[Node] = []
        edges: list[Edge] = []
        sightings: list[Sighting] = []

        def row(items: list[Node | Edge]) -> None:
            self.row += 1
            for item in items:
                if isinstance(item, Node):
                    nodes.append(item)
                else:
                    edges.append(item)
                sightings.append(Sighting(item.id, self.row, f"EX-{self.row % 997}"))

        def flush() -> Batch:
            batch = Batch(list(nodes), list(edges), list(sightings), last_row=self.row)
            nodes.clear()
            edges.clear()
            sightings.clear()
            return batch

        for rows in (self._agent_rows, self._victim_rows, self._contact_rows):
            for items in rows():
                row(items)
                if len(sightings) >= _BATCH_ROWS:
                    yield flush()
        if sightings:
            yield flush()

    def _agent_rows(self) -> Iterator[list[Node | Edge]]:
        for a in range(self.agents):
            cell = a // _CELL_SIZE
            person = Node(f"Person:AG-{a}", "Person", {"person_id": f"AG-{a}", "role": "suspect",
                                                       "name": f"Agent {a}"})
            device = Node(f"Device:SN:D{a // 2}", "Device", {"device_id": f"SN:D{a // 2}"})
            phone = Node(f"Phone:+63917{a:07d}", "Phone", {"number": f"+63917{a:07d}"})
            sim = Node(f"SimCard:89630{a:014d}", "SimCard", {"iccid": f"89630{a:014d}"})
            ip = Node(f"IPAddress:10.{cell // 250}.{cell % 250}.1", "IPAddress",
                      {"address": f"10.{cell // 250}.{cell % 250}.1"})
            site = Node(f"Location:SITE-{cell // 3}", "Location",
                        {"location_id": f"SITE-{cell // 3}", "name": f"Office {cell // 3}"})
            mule = Node(f"Person:MU-{cell}", "Person", {"person_id": f"MU-{cell}",
                                                        "role": "mule"})
            wallet = Node(f"FinancialAccount:gcash/W-{cell}", "FinancialAccount",
                          {"provider": "gcash", "account_id": f"W-{cell}"})
            card = Node(f"PaymentCard:{cell:032x}", "PaymentCard",
                        {"card_hash": f"{cell:032x}", "masked": "411111******1111"})
            yield [person, phone, Edge("USES", person.id, phone.id)]
            yield [sim, Edge("HAS_NUMBER", sim.id, phone.id), device,
                   Edge("SIM_IN", sim.id, device.id)]
            yield [site, Edge("WORKS_AT", person.id, site.id)]
            yield [mule, wallet, card, Edge("HOLDS", mule.id, wallet.id),
                   Edge("HOLDS", mule.id, card.id)]
            for k in range(2):
                account = Node(f"Account:facebook/ag{a}x{k}", "Account",
                               {"platform": "facebook", "handle": f"ag{a}x{k}"})
                seen = {"first_seen": self._when(), "last_seen": self._when(), "count": 3}
                yield [account, Edge("USES", person.id, account.id)]
                yield [device, Edge("LOGGED_IN_ON", account.id, device.id, seen)]
                yield [ip, Edge("LOGGED_IN_FROM", account.id, ip.id, seen)]
                yield [Edge("REGISTERED_TO", account.id, phone.id)]
                if k == 0:
                    report = Node(f"Report:ncmec/CT-{a}", "Report",
                                  {"source": "ncmec", "reference": f"CT-{a}",
                                   "received": self._when()})
                    yield [report, Edge("NAMES", report.id, account.id, {"role": "suspect"})]

    def _victim_rows(self) -> Iterator[list[Node | Edge]]:
        for v in range(self.victims):
            person = Node(f"Person:V-{v}", "Person", {"person_id": f"V-{v}", "role": "victim"})
            account = Node(f"Account:facebook/v{v}", "Account",
                           {"platform": "facebook", "handle": f"v{v}"})
            country = self.rng.choice(_COUNTRIES)
            yield [person, account, Edge("USES", person.id, account.id),
                   Node(f"Country:{country}", "Country", {"code": country}),
                   Edge("LOCATED_IN", person.id, f"Country:{country}")]

    def _contact_rows(self) -> Iterator[list[Node | Edge]]:
        payments = 0
        while self.row < self.rows_target:
            a = self.rng.randrange(self.agents)
            v = (a * 8 + self.rng.randrange(8)) % self.victims
            account = f"Account:facebook/ag{a}x{self.rng.randrange(2)}"
            yield [Edge("CONTACTED", account, f"Account:facebook/v{v}",
                        {"first_seen": self._when(), "count": 1, "channel": "messenger"})]
            if self.rng.random() < 0.15:
                payments += 1
                cell = a // _CELL_SIZE
                payment = Node(f"Payment:wu/P{payments}", "Payment",
                               {"channel": "wu", "reference": f"P{payments}",
                                "amount": float(self.rng.choice((500, 1000, 2500, 15000))),
                                "currency": self.rng.choice(("USD", "GBP", "PHP")),
                                "time": self._when()})
                target = (f"PaymentCard:{cell:032x}" if self.rng.random() < 0.5
                          else f"FinancialAccount:gcash/W-{cell}")
                yield [payment, Edge("PAID", f"Person:V-{v}", payment.id),
                       Edge("PAID_TO", payment.id, target)]

    def cells_record(self) -> list[CellRecord]:
        """The planted cells, as a cell-detection run would write them."""
        return [CellRecord(cell_id=f"C{c:05d}", members=[
            CellMember(node_id=f"Person:AG-{a}", confidence=0.9)
            for a in range(c * _CELL_SIZE, (c + 1) * _CELL_SIZE)]) for c in range(self.cells)]


def _load(store: Store, case: _Case) -> float:
    started = time.perf_counter()
    load = FileLoad(sha256="b" * 64, source_file="bench", mapping="bench", mapping_digest="b",
                    run_id="bench", grading=Grading.parse("B2"))
    store.load_file(load, case.batches())
    store.save_cells(AnalysisRun(run_id="bench-cells"), case.cells_record())
    elapsed = time.perf_counter() - started
    print(f"  loaded {case.row:,} evidence rows in {elapsed:.0f} s", file=sys.stderr)
    return elapsed


def _samples(case: _Case, rng: random.Random) -> dict[str, Callable[[], dict[str, str]]]:
    """Random parameters for each query, as an analyst would type them."""
    def agent() -> int:
        return rng.randrange(case.agents)

    def cell() -> str:
        return f"C{rng.randrange(case.cells):05d}"

    return {
        "accounts-on-device": lambda: {"device": f"Device:SN:D{agent() // 2}"},
        "devices-of-account": lambda: {"account": f"facebook/ag{agent()}x0"},
        "who-used-identifier": lambda: {"identifier": f"Phone:+63917{agent():07d}"},
        "shared-identifiers": lambda: (lambda a: {"a": f"Account:facebook/ag{a}x0",
                                                  "b": f"Account:facebook/ag{a}x1"})(agent()),
        "contacts-of-account": lambda: {"account": f"Account:facebook/ag{agent()}x0"},
        "agents-at-site": lambda: {"site": f"Location:SITE-{rng.randrange(case.cells) // 3}"},
        "reports-for-account": lambda: {"account": f"Account:facebook/ag{agent()}x0"},
        "cell-members": lambda: {"cell": cell()},
        "money-trail": lambda: {"instrument":
                                f"FinancialAccount:gcash/W-{rng.randrange(case.cells)}"},
        "victims-by-country": lambda: {"cell": cell()},
        "money-by-cell": lambda: {},
        "top-brokers": lambda: {},
        "cross-border-summary": lambda: {},
    }


def _time(store: Store, case: _Case, samples: int, seed: int) -> list[tuple[str, ...]]:
    rng = random.Random(seed)
    params = _samples(case, rng)
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


def main() -> int:
    """Build (or reuse) the case, time every named query on each store, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="evidence rows (at least)")
    parser.add_argument("--store", type=Path,
                        default=Path(tempfile.gettempdir()) / "ringmap-bench-queries.db")
    parser.add_argument("--reuse", action="store_true",
                        help="time the case already in --store instead of rebuilding it")
    parser.add_argument("--neo4j", metavar="URI", default=os.environ.get("NEO4J_URI"),
                        help="also load and time the case on this (empty) Neo4j database")
    parser.add_argument("--no-embedded", action="store_true",
                        help="time Neo4j only (the embedded case is still needed to build it)")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2014)
    args = parser.parse_args()
    os.environ.setdefault("RINGMAP_SECRET", "bench-secret-0123456789")

    case = _Case(args.rows, args.seed)
    if not args.reuse and args.store.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.store}{suffix}").unlink(missing_ok=True)
    with EmbeddedStore(args.store) as store:
        if not args.reuse:
            print(f"building the case in {args.store} ...", file=sys.stderr)
            _load(store, case)
        if not args.no_embedded:
            _report(f"embedded ({args.store}, {case.agents:,} agents, {case.cells:,} cells)",
                    _time(store, case, args.samples, args.seed))
    if args.neo4j:
        with open_store(neo4j_uri=args.neo4j) as neo:
            if neo.counts().total_nodes == 0:
                print("loading the case into Neo4j ...", file=sys.stderr)
                _load(neo, _Case(args.rows, args.seed))
            elif [f.source_file for f in neo.file_loads()] != ["bench"]:
                print(f"{neo.describe()} holds another case; give an empty database",
                      file=sys.stderr)
                return 1
            _report(f"neo4j ({neo.describe()})", _time(neo, case, args.samples, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
