"""Benchmark: kill -9 trials of ``ringmap run`` (ingest, cells, summaries) and ``ringmap export
cells`` at random moments, then the next start, counting what a kill leaves.

For each ingest trial the run is started on a fresh output folder and killed with SIGKILL
after a random delay within the time a whole run takes; then the store is checked (SQLite's
integrity check, no provenance recorded twice, no file load left incomplete), the same run is
started again to completion and its store compared with a clean run's (every node and
relationship with its properties). For each export trial ``export cells`` is killed the same
way; every package folder it left must verify against its manifest (a half-written package
never stands where a package should), and the next ``export cells`` into the folder must
leave no staging folder behind. After the next start of either, no temporary file or staging
folder of the killed process may remain and every unfinished run must be marked interrupted.

Usage::

    python bench/kill_trials.py --trials 25 --cells 4 --seed 1

Prints one line per trial and a JSON summary; exits 1 if any count that must be zero is not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.viz.package import verify_package

_RINGMAP = [sys.executable, "-c", "from ringmap.cli import main; main()"]
_DB = "ringmap.db"


def ringmap(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the ringmap CLI in a child process to completion."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([*_RINGMAP, *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=900)
    if check and result.returncode != 0:
        raise RuntimeError(f"ringmap {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def killed(args: list[str], cwd: Path, delay: float) -> bool:
    """Start ringmap with ``args`` and SIGKILL it after ``delay`` seconds; whether it was
    still running when killed."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    child = subprocess.Popen([*_RINGMAP, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        child.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return True


def store_digest(path: Path) -> str:
    """SHA-256 over every node and relationship of the case file with its properties."""
    digest = hashlib.sha256()
    with EmbeddedStore(path) as store:
        for node in sorted(store.nodes(), key=lambda n: n.id):
            digest.update(json.dumps([node.id, node.props], sort_keys=True,
                                     default=str).encode())
        for edge in sorted(store.edges(), key=lambda e: (e.type, e.src, e.dst)):
            digest.update(json.dumps([edge.type, edge.src, edge.dst, edge.props],
                                     sort_keys=True, default=str).encode())
    return digest.hexdigest()


def store_problems(path: Path) -> list[str]:
    """What is inconsistent in a case file a kill left: SQLite's own check, provenance
    recorded twice, a file load left incomplete."""
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        problems = [r[0] for r in db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        if not {"node_sightings", "files"} <= tables:  # killed before the schema was made
            return problems
        twice = db.execute("SELECT count(*) FROM (SELECT nid, file_id FROM node_sightings "
                           "GROUP BY nid, file_id HAVING count(*) > 1)").fetchone()[0]
        if twice:
            problems.append(f"{twice} node sightings recorded twice")
        open_loads = db.execute("SELECT count(*) FROM files WHERE "
                                "json_extract(record, '$.complete') IS NOT 1").fetchone()[0]
        if open_loads:
            problems.append(f"{open_loads} file loads left incomplete")
    finally:
        db.close()
    return problems


def leftovers(folder: Path) -> list[str]:
    """Temporary files and staging folders (``.<name>.<pid>.tmp``) under ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*.tmp"))


def unmarked_runs(path: Path) -> int:
    """Runs of the case file neither finished nor marked interrupted."""
    with EmbeddedStore(path) as store:
        return sum(1 for r in store.runs() if r.finished is None and not r.interrupted)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=25, help="trials of each kind")
    parser.add_argument("--cells", type=int, default=4, help="cells of the synthetic case")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None, help="working folder (kept)")
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="ringmap-kill-"))
    work.mkdir(parents=True, exist_ok=True)
    case = work / "case"
    if not case.exists():
        ringmap("synth", str(case), "--cells", str(args.cells), "--seed", str(args.seed),
                cwd=work)

    started = time.monotonic()
    ringmap("run", str(case), "--out", "clean", "--no-maps", cwd=work)
    run_s = time.monotonic() - started
    clean = store_digest(work / "clean" / _DB)
    started = time.monotonic()
    ringmap("export", "cells", "--out", "clean-packages", "--store", f"clean/{_DB}", cwd=work)
    export_s = time.monotonic() - started
    print(f"clean run {run_s:.1f} s, clean export {export_s:.1f} s", flush=True)

    totals: dict[str, Any] = {
        "ingest_trials": 0, "ingest_killed": 0, "inconsistent_stores": 0,
        "differs_after_rerun": 0, "export_trials": 0, "export_killed": 0,
        "packages_left": 0, "packages_failing_verify": 0, "staging_left_by_kill": 0,
        "leftovers_after_next_start": 0, "unmarked_runs_after_next_start": 0,
    }
    for trial in range(args.trials):
        out = work / f"run-{trial}"
        delay = rnd.uniform(0.2, 1.0) * run_s
        was_running = killed(["run", str(case), "--out", out.name, "--no-maps"], work, delay)
        problems = store_problems(out / _DB)
        ringmap("run", str(case), "--out", out.name, "--no-maps", cwd=work)  # the next start
        same = store_digest(out / _DB) == clean
        left = leftovers(out)
        unmarked = unmarked_runs(out / _DB)
        totals["ingest_trials"] += 1
        totals["ingest_killed"] += was_running
        totals["inconsistent_stores"] += bool(problems)
        totals["differs_after_rerun"] += not same
        totals["leftovers_after_next_start"] += len(left)
        totals["unmarked_runs_after_next_start"] += unmarked
        print(f"run {trial}: killed at {delay:.2f} s ({'running' if was_running else 'done'}),"
              f" problems {problems}, rerun {'identical' if same else 'DIFFERS'}, "
              f"leftovers {left}, unmarked runs {unmarked}", flush=True)

    for trial in range(args.trials):
        out = work / f"packages-{trial}"
        delay = rnd.uniform(0.2, 1.0) * export_s
        was_running = killed(["export", "cells", "--out", out.name, "--store", f"clean/{_DB}"],
                             work, delay)
        packages = sorted(p for p in out.iterdir() if not p.name.startswith(".")) \
            if out.exists() else []
        failing = [p.name for p in packages if verify_package(p).problems]
        staging = leftovers(out) if out.exists() else []
        # the next start: it refuses to overwrite the packages already there, but first
        # removes what the killed one left
        ringmap("export", "cells", "--out", out.name, "--store", f"clean/{_DB}", cwd=work,
                check=False)
        left = leftovers(out) if out.exists() else []
        totals["export_trials"] += 1
        totals["export_killed"] += was_running
        totals["packages_left"] += len(packages)
        totals["packages_failing_verify"] += len(failing)
        totals["staging_left_by_kill"] += len(staging)
        totals["leftovers_after_next_start"] += len(left)
        print(f"export {trial}: killed at {delay:.2f} s "
              f"({'running' if was_running else 'done'}), {len(packages)} packages, "
              f"failing verify {failing}, staging left {len(staging)}, leftovers after the "
              f"next start {left}", flush=True)

    print(json.dumps(totals, indent=2))
    must_be_zero = ("inconsistent_stores", "differs_after_rerun", "packages_failing_verify",
                    "leftovers_after_next_start", "unmarked_runs_after_next_start")
    return 1 if any(totals[k] for k in must_be_zero) else 0


if __name__ == "__main__":
    sys.exit(main())
