"""Benchmark: ingest a synthetic case of >= 1M evidence rows into the embedded store, with
today's engine and, in the same run, the previous one.

End to end, as ``ringmap run`` does it: read ``case.yaml`` and the mappings, hash and check
every file, normalise and load every row, write the quarantine, commit. The case is generated
once with ``ringmap synth`` (kept in ``--case`` for later runs); the store is always new.

Each engine ingests in a child process of its own (this file with ``--measure``): today's from this
checkout, the previous one from the tree of ``--previous`` (a git revision, default ``main``: a
branch's engine against the one landed) exported with ``git archive``; ``--rounds`` rounds
alternate the two. Each child reports wall-clock and CPU seconds (its own and its engine worker's,
where the engine ran in a worker process beside the store:
:func:`ringmap.ingest.run.ingest_files`'s ``parallel``), the CPU split into the engine's (reading
and normalising, timed around each batch it produces, or the worker's whole CPU) and the store's
(the rest), the CPU of reading the files once more without the engine (the readers' part of the
engine's), and its peak resident memory (and its worker's). On a shared machine the wall clock
mostly measures the other processes: the rate that counts is rows per CPU second, best round of
each engine; the wall rate (rows per second) is shown beside it, as the worker exists to cut the
wall time.

Both engines must give the same store byte for byte and the same row accounting
(:func:`ringmap.testing.store_fingerprint`, the report's counts): the run fails otherwise.
The same comparison then runs on the case written by ``ringmap synth --raw`` (every table in
raw shapes, read by v2 mappings: conditions, null values, split, extract, region from a
column, identifiers typed by shape), unless ``--skip-raw``.

Usage::

    python bench/ingest_embedded.py --rows 1000000 --case /tmp/ringmap-bench-case
    python bench/ingest_embedded.py --rows 100000 --skip-raw
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import resource
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
from ringmap.graphs.model import BatchColumns
from ringmap.ingest.case import load_case
from ringmap.ingest.mapping import Mapping

#: Evidence rows a synthetic cell yields at the default victims per cell (measured).
_ROWS_PER_CELL = 450
_TARGET_ROWS_PER_CPU_S = 50_000
#: the engine landed: a branch's engine is measured against it (on main itself, pass the
#: revision before the change measured)
_PREVIOUS = "main"
_ROOT = Path(__file__).resolve().parents[1]


def _case(folder: Path, rows: int, seed: int, raw: bool = False) -> Path:
    if (folder / "case.yaml").is_file():
        return folder
    from ringmap.synth import SynthParams, generate  # not in a child running the previous

    cells = math.ceil(rows / _ROWS_PER_CELL)
    print(f"generating a {'raw ' if raw else ''}case of {cells} cells in {folder} ...",
          file=sys.stderr)
    started = time.perf_counter()
    result = generate(folder, SynthParams(cells=cells, seed=seed, noise=0.2, raw=raw),
                      force=True)
    print(f"  {result.total_rows:,} rows in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
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

    def _timed(self, *args: Any, **kwargs: Any) -> Iterator[BatchColumns]:
        batches = self._inner(*args, **kwargs)
        while True:
            started = time.process_time()
            batch = next(batches, None)
            self.seconds += time.process_time() - started
            if batch is None:
                return
            yield batch


def _measure(case: Path, work: Path, batch_size: int) -> dict[str, Any]:
    """What a child prints: one ingest of ``case`` into a new store in ``work``."""
    started, cpu_started = time.perf_counter(), time.process_time()
    with EmbeddedStore(work / "case.db") as store, _EngineClock() as clock:
        report = run.ingest_files(store, load_case(case), run_id="bench",
                                  batch_size=batch_size, quarantine_dir=work / "quarantine")
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    # the engine's worker process, if it ran in one (joined by now): its CPU is the engine's
    worker = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = worker.ru_utime + worker.ru_stime
    return {"rows": report.totals()["read"], "seconds": seconds, "cpu": cpu + worker_cpu,
            "engine": clock.seconds + worker_cpu, "reading": _reading(case),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_peak_rss_mib": worker.ru_maxrss / 1024,
            "accounting": [[Path(f.file).name, f.read, f.loaded, f.duplicate, f.rejected,
                            f.status, f.skipped] for f in report.files]}


def _reading(case: Path) -> float:
    """CPU seconds of reading every table of ``case`` again, row by row, without the
    engine: the part of the engine's time that is the readers'."""
    from ringmap.ingest.readers import open_table

    started = time.process_time()
    for task in load_case(case):
        mapping = task[1]
        if isinstance(mapping, Mapping):
            with open_table(Path(task[0]), mapping.source, mapping.columns()) as table:
                for _row in table.rows:
                    pass
    return time.process_time() - started


def _child(case: Path, work: Path, batch_size: int, tree: Path | None) -> dict[str, Any]:
    """One ingest in a child process (with ``tree`` first on its path, if given), and the
    fingerprint of the store it wrote."""
    from ringmap.testing import store_fingerprint

    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    work.mkdir(parents=True)
    done: dict[str, Any] = json.loads(subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure", str(case), "--work",
         str(work), "--batch-size", str(batch_size)],
        env=env, check=True, capture_output=True, text=True, cwd=work).stdout)
    done["fingerprint"] = store_fingerprint(work / "case.db", work / "quarantine")
    return done


def _compare(case: Path, tmp: Path, tree: Path, rounds: int, batch_size: int
             ) -> dict[str, Any]:
    """Today's engine against the previous one on ``case``, alternating rounds."""
    runs: dict[str, list[dict[str, Any]]] = {"now": [], "previous": []}
    for i in range(rounds):
        for name, path in (("now", None), ("previous", tree)):
            runs[name].append(_child(case, tmp / f"{case.name}-{name}-{i}", batch_size, path))
    first = runs["now"][0]
    same = all(r["fingerprint"] == first["fingerprint"] and r["accounting"] == first["accounting"]
               for made in runs.values() for r in made)
    result: dict[str, Any] = {"case": str(case), "rows": first["rows"], "same_store": same}
    for name, made in runs.items():
        best = min(made, key=lambda r: r["cpu"])
        result[name] = {
            "seconds": round(best["seconds"], 2), "cpu_seconds": round(best["cpu"], 2),
            "engine_cpu_seconds": round(best["engine"], 2),
            "reading_cpu_seconds": round(best["reading"], 2),
            "store_cpu_seconds": round(best["cpu"] - best["engine"], 2),
            "rows_per_s": round(best["rows"] / best["seconds"]),
            "rows_per_cpu_s": round(best["rows"] / best["cpu"]),
            "peak_rss_mib": round(max(r["peak_rss_mib"] for r in made)),
            "worker_peak_rss_mib": round(max(r.get("worker_peak_rss_mib", 0) for r in made)),
            "cpu_seconds_all": [round(r["cpu"], 2) for r in made]}
    result["speedup_cpu"] = round(result["previous"]["cpu_seconds"]
                                  / result["now"]["cpu_seconds"], 2)
    result["speedup_engine_cpu"] = round(result["previous"]["engine_cpu_seconds"]
                                         / result["now"]["engine_cpu_seconds"], 2)
    totals = [sum(row[k] for row in first["accounting"]) for k in (2, 3, 4)]
    result.update(zip(("loaded", "duplicate", "rejected"), totals, strict=True))
    return result


def main() -> int:
    """Run the benchmark; exit 1 when the engines' stores differ or today's engine misses
    the target rate (rows per CPU second)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="evidence rows (about)")
    parser.add_argument("--case", type=Path, default=Path(tempfile.gettempdir())
                        / "ringmap-bench-case", help="case folder (generated if missing)")
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--batch-size", type=int, default=run.DEFAULT_BATCH_SIZE)
    parser.add_argument("--previous", default=_PREVIOUS,
                        help="git revision whose engine today's is compared with")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per engine")
    parser.add_argument("--skip-raw", action="store_true", help="only the clean case")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # a child's job
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    os.environ.setdefault("RINGMAP_SECRET", "bench-secret-0123456789")
    if args.measure is not None:
        print(json.dumps(_measure(args.measure, args.work, args.batch_size)))
        return 0

    cases = [_case(args.case, args.rows, args.seed)]
    if not args.skip_raw:
        cases.append(_case(args.case.with_name(args.case.name + "-raw"), args.rows, args.seed,
                           raw=True))
    with tempfile.TemporaryDirectory(prefix="ringmap-bench-") as tmp:
        tree = _baseline_tree(args.previous, Path(tmp) / "previous")
        results = [_compare(case, Path(tmp), tree, args.rounds, args.batch_size)
                   for case in cases]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            print(_line(result, args.previous))
    rate = results[0]["now"]["rows_per_cpu_s"]
    return 0 if all(r["same_store"] for r in results) and rate >= _TARGET_ROWS_PER_CPU_S else 1


def _line(result: dict[str, Any], previous: str) -> str:
    lines = [f"{result['case']}: {result['rows']:,} rows ({result['loaded']:,} loaded, "
             f"{result['duplicate']:,} duplicate, {result['rejected']:,} rejected); store and "
             f"accounting {'the same' if result['same_store'] else 'DIFFERENT'}"]
    for label, r in (("now", result["now"]), (f"previous {previous}", result["previous"])):
        lines.append(f"  {label:>18}: {r['rows_per_cpu_s']:>7,} rows/CPU-s, CPU "
                     f"{r['cpu_seconds']:.1f} s (engine {r['engine_cpu_seconds']:.1f}, store "
                     f"{r['store_cpu_seconds']:.1f}; reading alone "
                     f"{r['reading_cpu_seconds']:.1f}), wall {r['seconds']:.1f} s = "
                     f"{r['rows_per_s']:,} rows/s (wall), peak RSS {r['peak_rss_mib']:,} MiB"
                     + (f" + engine worker {r['worker_peak_rss_mib']:,} MiB"
                        if r["worker_peak_rss_mib"] else ""))
    lines.append(f"  CPU speed-up {result['speedup_cpu']:.2f}x, the engine's "
                 f"{result['speedup_engine_cpu']:.2f}x "
                 f"(target {_TARGET_ROWS_PER_CPU_S:,} rows/CPU-s)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
