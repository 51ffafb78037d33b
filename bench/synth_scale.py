"""Benchmark: how fast ``ringmap synth`` writes a case of about a million evidence rows.

Prints cells, rows, wall and CPU seconds and rows per second as JSON (CPU time beside wall
time, since the machine may be shared). The case goes to a temporary folder unless ``--out``.

Usage::

    python bench/synth_scale.py --cells 2100 --noise 0.2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from ringmap.synth import SynthParams, generate


def main() -> None:
    """Generate one case and print its timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--noise", type=float, default=0.2)
    parser.add_argument("--victims-per-cell", type=int, default=30)
    parser.add_argument("--out", type=Path, help="keep the case here (replaced if a case)")
    args = parser.parse_args()
    params = SynthParams(cells=args.cells, seed=args.seed, noise=args.noise,
                         victims_per_cell=args.victims_per_cell)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "case"
        wall, cpu = time.perf_counter(), time.process_time()
        result = generate(out, params, force=True)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(json.dumps({
        "cells": args.cells, "rows": result.total_rows, "bytes": size,
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "rows_per_s_wall": round(result.total_rows / wall),
        "rows_per_s_cpu": round(result.total_rows / cpu),
    }))


if __name__ == "__main__":
    main()
