"""Benchmark: rows loaded from evidence in its raw real-world shapes, against the same case
pre-processed by hand.

``ringmap synth`` writes one case twice from the same world: clean (the tables as an analyst
would pre-process them with pandas) and ``--raw`` (as police and platforms export them: one
identifier column typed by the item, placeholders, masked cards and e-wallet ids in one payout
column, amount and currency in one cell, victims' phones in national format, multi-valued
cells, platform prefixes, blank partial keys), each with its mappings (v2 for the raw one).
Both are ingested into fresh embedded stores; printed per case: rows read, loaded, duplicate,
rejected, the share of rows loaded (loaded + duplicate: the row's facts are in the graph) and
optional entities skipped; then how many of the clean graph's nodes the raw graph holds.

Usage::

    python bench/raw_shapes.py --cells 30 --victims-per-cell 30 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.ingest.case import load_case
from ringmap.ingest.run import ingest_files
from ringmap.synth import SynthParams, generate


def _ingest(case: Path, work: Path) -> tuple[dict[str, Any], set[str]]:
    started = time.perf_counter()
    with EmbeddedStore(work / f"{case.name}.db") as store:
        report = ingest_files(store, load_case(case), quarantine_dir=work / case.name)
        ids = {node.id for node in store.nodes()}
    seconds = time.perf_counter() - started
    totals = report.totals()
    return {
        **{k: totals[k] for k in ("read", "loaded", "duplicate", "rejected")},
        "loaded_share": round((totals["loaded"] + totals["duplicate"]) / totals["read"], 4),
        "skipped_entities": sum(f.skipped_total for f in report.files),
        "nodes": len(ids), "rows_per_s": round(totals["read"] / seconds),
    }, ids


def main() -> int:
    """Generate the case both ways, ingest both, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--noise", type=float, default=0.2)
    parser.add_argument("--victims-per-cell", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    os.environ.setdefault("RINGMAP_SECRET", "bench-secret-0123456789")
    params = SynthParams(cells=args.cells, seed=args.seed, noise=args.noise,
                         victims_per_cell=args.victims_per_cell)
    with tempfile.TemporaryDirectory(prefix="ringmap-raw-") as tmp:
        work = Path(tmp)
        generate(work / "clean", params)
        generate(work / "raw", SynthParams(**{**params.__dict__, "raw": True}))
        clean, clean_ids = _ingest(work / "clean", work)
        raw, raw_ids = _ingest(work / "raw", work)
    result: dict[str, Any] = {
        "parameters": {k: v for k, v in params.__dict__.items() if k != "name"},
        "clean": clean, "raw_v2": raw,
        "clean_nodes_in_raw": round(len(clean_ids & raw_ids) / len(clean_ids), 4),
        "raw_only_nodes": len(raw_ids - clean_ids),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name in ("clean", "raw_v2"):
            r = result[name]
            print(f"{name:7} {r['read']:>7,} rows read, {r['loaded']:,} loaded, "
                  f"{r['duplicate']:,} duplicate, {r['rejected']:,} rejected: "
                  f"{r['loaded_share']:.2%} of rows loaded; {r['skipped_entities']:,} optional "
                  f"entities skipped; {r['nodes']:,} nodes; {r['rows_per_s']:,} rows/s")
        print(f"the raw graph holds {result['clean_nodes_in_raw']:.2%} of the clean graph's "
              f"nodes, and {result['raw_only_nodes']:,} of its own (masked cards)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
