"""Benchmark: ``ringmap share`` and ``ringmap match`` on packages of a million tokens or more.

Two agencies each hold ``--tokens`` identifiers (phones, handles, e-mails, IMEIs, ICCIDs,
wallets and card tokens in equal parts), ``--overlap`` of them in common. *share* is what
``ringmap share`` does once the case's identifiers are read: tokenise every identifier under
the operation key, make its opaque reference under the case key, sort, write ``tokens.csv``,
the summary and the signed manifest. *match* is ``ringmap match A --against B``: verify both
packages (signature, SHA-256 of every file), read and check every row, intersect. The Bloom
leg shares A as a filter at ``--rate`` and checks B's tokens against it, counting the false
positives (B's tokens A does not hold that the filter says it may).

Wall and CPU time are both reported: on a shared machine the CPU time is the work's own.
Peak memory is the process's maximum resident set (``ru_maxrss``), after each phase; the
phases run in that order in one process, so each figure includes those before it.

Goal: share and match each <= 10 s at 1,000,000 tokens per package.

Usage::

    nice python bench/match.py --tokens 1000000 --overlap 100000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ringmap.graphs.tokens import TOKEN_TYPES, operation_key, tokenizer
from ringmap.perf import paused_gc
from ringmap.viz.share import Entry, match_packages, read_partner, write_share

GOAL_SECONDS = 10.0
OPERATION = "BENCH"
T = TypeVar("T")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(label: str, results: dict[str, Any], work: Callable[[], T]) -> T:
    start, cpu = time.perf_counter(), time.process_time()
    out = work()
    results[label] = {"seconds": round(time.perf_counter() - start, 2),
                      "cpu_seconds": round(time.process_time() - cpu, 2),
                      "peak_rss_mb": round(_peak_mb(), 1)}
    print(f"{label}: {results[label]['seconds']:.2f} s ({results[label]['cpu_seconds']:.2f} s "
          f"CPU), peak RSS {results[label]['peak_rss_mb']:,.0f} MB", file=sys.stderr)
    return out


def _values(agency: str, n: int, common: int) -> list[tuple[str, str]]:
    """``n`` identifiers (kind, normalised value): the first ``common`` the same at both
    agencies, the rest the agency's own."""
    kinds = list(TOKEN_TYPES)
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        who = "x" if i < common else agency
        out.append((kind, f"{who}-{kind}-{i:09d}"))
    return out


def _entries(key: bytes, values: list[tuple[str, str]]) -> list[Entry]:
    make = tokenizer(key)  # as local_entries makes them
    return [Entry(make(kind, value), kind, f"Node:{value}") for kind, value in values]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--overlap", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1e-6, help="Bloom false-positive rate")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"tokens": args.tokens, "overlap": args.overlap}
    with tempfile.TemporaryDirectory(prefix="ringmap-match-bench-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("RINGMAP_SECRET", "bench-case-key-0123456789abcdef")
        os.environ["RINGMAP_SIGNING_KEY_FILE"] = str(folder / "signing.key")
        os.environ[f"RINGMAP_OPERATION_KEY_{OPERATION}"] = "be" * 32
        key = operation_key(OPERATION)
        a_values = _values("a", args.tokens, args.overlap)
        b_values = _values("b", args.tokens, args.overlap)
        results["baseline_rss_mb"] = round(_peak_mb(), 1)

        def share(values: list[tuple[str, str]], out: Path, rate: float | None = None
                  ) -> None:
            with paused_gc():  # as share_case
                write_share(_entries(key, values), OPERATION, out, bloom_rate=rate)

        _timed("share A", results, lambda: share(a_values, folder / "a"))
        _timed("share B", results, lambda: share(b_values, folder / "b"))
        results["package_mb"] = round(sum(p.stat().st_size for p in (folder / "a").iterdir())
                                      / 1e6, 1)
        matches, _ = _timed("match A against B", results, lambda: match_packages(
            read_partner(folder / "a"), read_partner(folder / "b")))
        results["matches"] = len(matches)
        _timed("share A as Bloom", results,
               lambda: share(a_values, folder / "a-bloom", args.rate))
        summary = json.loads((folder / "a-bloom" / "summary.json").read_text())
        results["bloom"] = summary["bloom"] | {"mb": round(
            (folder / "a-bloom" / "tokens.bloom").stat().st_size / 1e6, 1)}
        bloom_matches, _ = _timed("match B against Bloom A", results, lambda: match_packages(
            read_partner(folder / "b"), read_partner(folder / "a-bloom")))
        results["bloom_matches"] = len(bloom_matches)
        results["bloom_false_positives"] = len(bloom_matches) - args.overlap
        results["bloom_false_positives_expected"] = round(
            summary["bloom"]["false_positive_rate"] * (args.tokens - args.overlap), 2)
    slowest = max(v["seconds"] for v in results.values() if isinstance(v, dict)
                  and "seconds" in v)
    results["goal_seconds"] = GOAL_SECONDS
    results["goal_met"] = slowest <= GOAL_SECONDS and results["matches"] == args.overlap
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if results["goal_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
