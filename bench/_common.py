"""What every benchmark under ``bench/`` shares: its command line, its case folder and its output.

Benchmarks run from a checkout (``python bench/NAME.py``) and import it as
``from ringmap.bench import _common``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

#: The hashing key benchmarks run under unless the environment gives one (never a real case's).
BENCH_SECRET = "bench-secret-0123456789"


def parser(doc: str | None, cases: str, seed: int = 7) -> argparse.ArgumentParser:
    """The argument parser with the options every benchmark takes.

    Parameters
    ----------
    doc
        The benchmark's module docstring; its first line describes the command.
    cases
        Name of the folder under the system's temporary folder that keeps generated cases.
    seed
        Default seed of the generated cases.
    """
    made = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    made.add_argument("--seed", type=int, default=seed)
    made.add_argument("--cases", type=Path, default=Path(tempfile.gettempdir()) / cases,
                      help="folder for generated cases and their stores (kept)")
    return made


def prepare(args: argparse.Namespace) -> None:
    """Create the cases folder and set the benchmark's keys and audit log (unless the
    environment sets them): the signing key and the audit log live in the cases folder, never
    beside the user's own keys."""
    args.cases.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("RINGMAP_SECRET", BENCH_SECRET)
    os.environ.setdefault("RINGMAP_SIGNING_KEY_FILE", str(args.cases / "signing.key"))
    os.environ.setdefault("RINGMAP_AUDIT_LOG", str(args.cases / "audit.jsonl"))


def emit(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    """Print the rows as indented JSON or as a table of the given columns."""
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from ringmap.tabular import render

    print(render(rows, "table", columns))


def server_cpu() -> float:
    """CPU seconds (user + system) the tools/neo4j-dev server has used, 0 if unknown (its pid
    file is in ``RINGMAP_NEO4J_HOME``; a bulk import restarts it under a new pid)."""
    from ringmap.graphs import neo4j_bulk  # not in a child running an older ringmap

    try:
        pid = int((neo4j_bulk._state_dir() / "neo4j-dev.pid").read_text())
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
