"""Benchmark: ingest a synthetic case of >= 1M evidence rows into the embedded store.

End to end, as ``ringmap run`` does it: read ``case.yaml`` and the mappings, hash and check
every file, normalise and load every row, write the quarantine, commit. The case is generated
once with ``ringmap synth`` (kept in ``--case`` for later runs); the store is always new.

Besides wall-clock time it reports CPU time, split into the engine's (reading and normalising,
timed around each batch it produces) and the store's (the rest), since on a shared machine the
wall clock mostly measures the other processes.

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ringmap.ingest.engine as engine
import ringmap.ingest.run as run
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import Batch
from ringmap.ingest.case import load_case
from ringmap.synth import SynthParams, generate

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


class _EngineClock:
    """CPU seconds spent producing batches (reading, normalising): the rest is the store's."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._inner = engine.load_batches

    def __enter__(self) -> _EngineClock:
        engine.load_batches = self._timed
        return self

    def __exit__(self, *_exc: object) -> None:
        engine.load_batches = self._inner

    def _timed(self, *args: Any, **kwargs: Any) -> Iterator[Batch]:
        batches = self._inner(*args, **kwargs)
        while True:
            started = time.process_time()
            batch = next(batches, None)
            self.seconds += time.process_time() - started
            if batch is None:
                return
            yield batch


def main() -> int:
    """Run the benchmark; exit 1 when it misses the target rate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="evidence rows (about)")
    parser.add_argument("--case", type=Path, default=Path(tempfile.gettempdir())
                        / "ringmap-bench-case", help="case folder (generated if missing)")
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--batch-size", type=int, default=run.DEFAULT_BATCH_SIZE)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    os.environ.setdefault("RINGMAP_SECRET", "bench-secret-0123456789")

    case = _case(args.case, args.rows, args.seed)
    with tempfile.TemporaryDirectory(prefix="ringmap-bench-") as tmp:
        started, cpu_started = time.perf_counter(), time.process_time()
        with EmbeddedStore(Path(tmp) / "case.db") as store, _EngineClock() as clock:
            report = run.ingest_files(store, load_case(case), batch_size=args.batch_size,
                                  quarantine_dir=Path(tmp) / "quarantine")
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            counts = store.counts()
        size = (Path(tmp) / "case.db").stat().st_size
    totals = report.totals()
    result = {
        "rows": totals["read"], "seconds": round(seconds, 2),
        "rows_per_s": round(totals["read"] / seconds), "target_rows_per_s": _TARGET_ROWS_PER_S,
        "cpu_seconds": round(cpu, 2), "rows_per_cpu_s": round(totals["read"] / cpu),
        "engine_cpu_seconds": round(clock.seconds, 2),
        "store_cpu_seconds": round(cpu - clock.seconds, 2),
        "load_average": os.getloadavg()[0],
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
              f"(target {_TARGET_ROWS_PER_S:,}); CPU {cpu:.1f} s = {result['rows_per_cpu_s']:,} "
              f"rows/CPU-s (engine {clock.seconds:.1f} s, store {cpu - clock.seconds:.1f} s); "
              f"{counts.total_nodes:,} nodes, {counts.total_relationships:,} relationships, "
              f"store {result['store_mib']} MiB; load average {result['load_average']:.1f}")
    return 0 if result["rows_per_s"] >= _TARGET_ROWS_PER_S else 1


if __name__ == "__main__":
    sys.exit(main())
