"""Benchmark: ingest a synthetic case of >= 1M evidence rows into the embedded store.

End to end, as ``ringmap run`` does it: read ``case.yaml`` and the mappings, hash and check
every file, normalise and load every row, write the quarantine, commit. The case is generated
once with ``ringmap synth`` (kept in ``--case`` for later runs); the store is always new.

Besides wall-clock time it reports CPU time, split into the engine's (reading and normalising,
timed around each batch it produces) and the store's (the rest), since on a shared machine the
wall clock mostly measures the other processes.

Two more measurements, in the same run:

- the plain path against the engine before mapping language v2 (``--baseline``, a git
  revision, default the last commit before v2 landed): the tables of the case whose mappings
  use no v2 setting (platform records and chats, most of the rows) are ingested by today's
  engine and by the baseline's (its tree exported with ``git archive``, run in a child
  process), ``--rounds`` times each, alternating; the best engine CPU time of each is
  compared, and the plain path may be at most 10% slower;
- a v2-heavy case: the same case written by ``ringmap synth --raw`` (every table in raw
  shapes, read by v2 mappings: conditions, null values, split, extract, region from a column,
  identifiers typed by shape), its rows/s.

Usage::

    python bench/ingest_embedded.py --rows 1000000 --case /tmp/ringmap-bench-case
    python bench/ingest_embedded.py --rows 200000 --skip-full   # the comparisons only
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
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

#: Evidence rows a synthetic cell yields at the default victims per cell (measured).
_ROWS_PER_CELL = 450
_TARGET_ROWS_PER_S = 50_000
#: The last commit before mapping language v2 (5dc6ef5) landed: the plain path's baseline.
_BASELINE = "5dc6ef5^"
#: Tables whose synthetic mappings use no v2 setting, and every relationship type of which
#: the baseline's schema knows.
_PLAIN_TABLES = ("platform_records", "chats")
_MAX_SLOWDOWN = 1.10
_ROOT = Path(__file__).resolve().parents[1]


def _case(folder: Path, rows: int, seed: int, raw: bool = False) -> Path:
    if (folder / "case.yaml").is_file():
        return folder
    from ringmap.synth import SynthParams, generate  # not in a child running the baseline

    cells = math.ceil(rows / _ROWS_PER_CELL)
    print(f"generating a {'raw ' if raw else ''}case of {cells} cells in {folder} ...",
          file=sys.stderr)
    started = time.perf_counter()
    result = generate(folder, SynthParams(cells=cells, seed=seed, noise=0.2, raw=raw),
                      force=True)
    print(f"  {result.total_rows:,} rows in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    return folder


def _plain_case(case: Path, folder: Path) -> Path:
    """A case folder with only the tables of ``case`` whose mappings are plain."""
    if (folder / "case.yaml").is_file():
        return folder
    (folder / "mappings").mkdir(parents=True, exist_ok=True)
    lines = ["name: plain", "tables:"]
    for name in _PLAIN_TABLES:
        table = next(case.glob(f"{name}.*"))
        shutil.copyfile(table, folder / table.name)
        shutil.copyfile(case / "mappings" / f"{name}.yaml", folder / "mappings" / f"{name}.yaml")
        lines += [f"- file: {table.name}", f"  mapping: mappings/{name}.yaml"]
    (folder / "case.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _baseline_tree(revision: str, folder: Path) -> Path:
    """The package at ``revision`` exported under ``folder/ringmap``; the PYTHONPATH entry."""
    archive = subprocess.run(["git", "-C", str(_ROOT), "archive", "--format=tar", revision],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder / "ringmap", filter="data")
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


def _measure(case: Path, batch_size: int) -> dict[str, Any]:
    """Ingest ``case`` into a new embedded store; rows, wall, CPU and engine CPU seconds."""
    with tempfile.TemporaryDirectory(prefix="ringmap-bench-") as tmp:
        started, cpu_started = time.perf_counter(), time.process_time()
        with EmbeddedStore(Path(tmp) / "case.db") as store, _EngineClock() as clock:
            report = run.ingest_files(store, load_case(case), batch_size=batch_size,
                                      quarantine_dir=Path(tmp) / "quarantine")
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            counts = store.counts()
        size = (Path(tmp) / "case.db").stat().st_size
    return {"report": report, "seconds": seconds, "cpu": cpu, "engine": clock.seconds,
            "nodes": counts.total_nodes, "relationships": counts.total_relationships,
            "size": size}


def _engine_only(case: Path, batch_size: int) -> dict[str, float]:
    """What the child prints: rows and engine CPU seconds of one ingest of ``case``."""
    done = _measure(case, batch_size)
    return {"rows": done["report"].totals()["read"], "engine_cpu_seconds": done["engine"],
            "seconds": done["seconds"]}


def _compare_plain(case: Path, work: Path, revision: str, rounds: int,
                   batch_size: int) -> dict[str, Any]:
    """Today's engine against the baseline's on the plain tables, alternating rounds."""
    plain = _plain_case(case, work / "plain")
    tree = _baseline_tree(revision, work / "baseline")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    child = [sys.executable, str(Path(__file__).resolve()), "--measure", str(plain),
             "--batch-size", str(batch_size)]
    now: list[float] = []
    before: list[float] = []
    rows = 0
    for _ in range(rounds):
        mine = _engine_only(plain, batch_size)
        theirs = json.loads(subprocess.run(child, env=env, check=True, capture_output=True,
                                           text=True, cwd=work).stdout)
        rows = int(mine["rows"])
        if theirs["rows"] != rows:
            raise SystemExit(f"baseline read {theirs['rows']} rows, today {rows}")
        now.append(mine["engine_cpu_seconds"])
        before.append(theirs["engine_cpu_seconds"])
    ratio = min(now) / min(before)
    return {"baseline": revision, "tables": list(_PLAIN_TABLES), "rows": rows,
            "rounds": rounds, "engine_cpu_seconds_now": [round(s, 2) for s in now],
            "engine_cpu_seconds_baseline": [round(s, 2) for s in before],
            "rows_per_engine_cpu_s_now": round(rows / min(now)),
            "rows_per_engine_cpu_s_baseline": round(rows / min(before)),
            "slowdown": round(ratio, 3), "max_slowdown": _MAX_SLOWDOWN,
            "ok": ratio <= _MAX_SLOWDOWN}


def _v2_heavy(folder: Path, rows: int, seed: int, batch_size: int) -> dict[str, Any]:
    """Rows/s of the raw-shaped case, read by v2 mappings."""
    done = _measure(_case(folder, rows, seed, raw=True), batch_size)
    totals = done["report"].totals()
    return {"rows": totals["read"], "seconds": round(done["seconds"], 2),
            "rows_per_s": round(totals["read"] / done["seconds"]),
            "rows_per_cpu_s": round(totals["read"] / done["cpu"]),
            "rows_per_engine_cpu_s": round(totals["read"] / done["engine"]),
            "skipped": sum(f.skipped_total for f in done["report"].files),
            **{k: totals[k] for k in ("loaded", "duplicate", "rejected")}}


def main() -> int:
    """Run the benchmark; exit 1 when it misses the target rate or the plain path slowed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="evidence rows (about)")
    parser.add_argument("--case", type=Path, default=Path(tempfile.gettempdir())
                        / "ringmap-bench-case", help="case folder (generated if missing)")
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--batch-size", type=int, default=run.DEFAULT_BATCH_SIZE)
    parser.add_argument("--baseline", default=_BASELINE,
                        help="git revision whose engine the plain path is compared with")
    parser.add_argument("--rounds", type=int, default=3, help="plain-path rounds per engine")
    parser.add_argument("--skip-full", action="store_true",
                        help="only the plain-path comparison and the v2-heavy case")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's job
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    os.environ.setdefault("RINGMAP_SECRET", "bench-secret-0123456789")
    if args.measure is not None:
        print(json.dumps(_engine_only(args.measure, args.batch_size)))
        return 0

    case = _case(args.case, args.rows, args.seed)
    with tempfile.TemporaryDirectory(prefix="ringmap-bench-") as tmp:
        plain = _compare_plain(case, Path(tmp), args.baseline, args.rounds, args.batch_size)
    v2 = _v2_heavy(args.case.with_name(args.case.name + "-raw"), args.rows, args.seed,
                   args.batch_size)
    if args.skip_full:
        result: dict[str, Any] = {"plain_path": plain, "v2_heavy": v2}
        print(json.dumps(result, indent=2) if args.json else _comparisons(result))
        return 0 if plain["ok"] else 1
    done = _measure(case, args.batch_size)
    report, seconds, cpu = done["report"], done["seconds"], done["cpu"]
    clock_seconds, size = done["engine"], done["size"]
    totals = report.totals()
    result = {
        "rows": totals["read"], "seconds": round(seconds, 2),
        "rows_per_s": round(totals["read"] / seconds), "target_rows_per_s": _TARGET_ROWS_PER_S,
        "cpu_seconds": round(cpu, 2), "rows_per_cpu_s": round(totals["read"] / cpu),
        "engine_cpu_seconds": round(clock_seconds, 2),
        "store_cpu_seconds": round(cpu - clock_seconds, 2),
        "load_average": os.getloadavg()[0],
        **{k: totals[k] for k in ("loaded", "duplicate", "rejected")},
        "nodes": done["nodes"], "relationships": done["relationships"],
        "store_mib": round(size / 2**20, 1), "batch_size": args.batch_size,
        "plain_path": plain, "v2_heavy": v2,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for row in report.files:
            print(f"{Path(row.file).name:24} {row.read:>10,} rows")
        print(f"{result['rows']:,} rows in {seconds:.1f} s = {result['rows_per_s']:,} rows/s "
              f"(target {_TARGET_ROWS_PER_S:,}); CPU {cpu:.1f} s = {result['rows_per_cpu_s']:,} "
              f"rows/CPU-s (engine {clock_seconds:.1f} s, store {cpu - clock_seconds:.1f} s); "
              f"{done['nodes']:,} nodes, {done['relationships']:,} relationships, "
              f"store {result['store_mib']} MiB; load average {result['load_average']:.1f}")
        print(_comparisons(result))
    return 0 if result["rows_per_s"] >= _TARGET_ROWS_PER_S and plain["ok"] else 1


def _comparisons(result: dict[str, Any]) -> str:
    plain, v2 = result["plain_path"], result["v2_heavy"]
    return (f"plain path ({', '.join(plain['tables'])}, {plain['rows']:,} rows): engine "
            f"{plain['rows_per_engine_cpu_s_now']:,} rows/CPU-s now, "
            f"{plain['rows_per_engine_cpu_s_baseline']:,} at {plain['baseline']} "
            f"(best of {plain['rounds']}): {plain['slowdown']:.3f}x "
            f"(at most {plain['max_slowdown']}x: {'ok' if plain['ok'] else 'SLOWER'})\n"
            f"v2-heavy (--raw, {v2['rows']:,} rows): {v2['rows_per_s']:,} rows/s, "
            f"{v2['rows_per_cpu_s']:,} rows/CPU-s, engine {v2['rows_per_engine_cpu_s']:,} "
            f"rows/CPU-s; {v2['loaded']:,} loaded, {v2['rejected']:,} rejected, "
            f"{v2['skipped']:,} optional entities skipped")


if __name__ == "__main__":
    sys.exit(main())
