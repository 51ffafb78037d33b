"""Benchmark: ingest a synthetic case of >= 1M evidence rows into the embedded store.

End to end, as ``ringmap run`` does it: read ``case.yaml`` and the mappings, hash and check
every file, normalise and load every row, write the quarantine, commit. The case is generated
once with ``ringmap synth`` (kept in ``--case`` for later runs); the store is always new.

Usage::

    python bench/ingest_embedded.py --rows 1000000 --case /tmp/ringmap-bench-case
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.ingest.case import load_case
from ringmap.ingest.run import DEFAULT_BATCH_SIZE, ingest_files
from ringmap.ingest.synth import SynthParams, generate

#: Evidence rows a synthetic cell yields at the default victims per cell (measured).
_ROWS_PER_CELL = 450
_TARGET_ROWS_PER_S = 50_000


def _case(folder: Path, rows: int, seed: int) -> Path:
    if (folder / "case.yaml").is_file():
        return folder
    cells = math.ceil(rows / _ROWS_PER_CELL)
    print(f"generating a case of {cells} cells in {folder} ...", file=sys.stderr)
    started = time.perf_counter()
    result = generate(folder, SynthParams(cells=cells, seed=seed, noise=0.2), force=True)
    print(f"  {result.total_rows:,} rows in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    return folder


def main() -> int:
    """Run the benchmark; exit 1 when it misses the target rate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="evidence rows (about)")
    parser.add_argument("--case", type=Path, default=Path(tempfile.gettempdir())
                        / "ringmap-bench-case", help="case folder (generated if missing)")
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    os.environ.setdefault("RINGMAP_SECRET", "bench-secret-0123456789")

    case = _case(args.case, args.rows, args.seed)
    with tempfile.TemporaryDirectory(prefix="ringmap-bench-") as tmp:
        started = time.perf_counter()
        with EmbeddedStore(Path(tmp) / "case.db") as store:
            report = ingest_files(store, load_case(case), batch_size=args.batch_size,
                                  quarantine_dir=Path(tmp) / "quarantine")
            seconds = time.perf_counter() - started
            counts = store.counts()
        size = (Path(tmp) / "case.db").stat().st_size
    totals = report.totals()
    result = {
        "rows": totals["read"], "seconds": round(seconds, 2),
        "rows_per_s": round(totals["read"] / seconds), "target_rows_per_s": _TARGET_ROWS_PER_S,
        **{k: totals[k] for k in ("loaded", "duplicate", "rejected")},
        "nodes": counts.total_nodes, "relationships": counts.total_relationships,
        "store_mib": round(size / 2**20, 1), "batch_size": args.batch_size,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for row in report.files:
            print(f"{Path(row.file).name:24} {row.read:>10,} rows")
        print(f"{result['rows']:,} rows in {seconds:.1f} s = {result['rows_per_s']:,} rows/s "
              f"(target {_TARGET_ROWS_PER_S:,}); {counts.total_nodes:,} nodes, "
              f"{counts.total_relationships:,} relationships, store {result['store_mib']} MiB")
    return 0 if result["rows_per_s"] >= _TARGET_ROWS_PER_S else 1


if __name__ == "__main__":
    sys.exit(main())
