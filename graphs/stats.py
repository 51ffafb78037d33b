"""Counts per type and the ingest ledger of a case, as rows for the CLI and summaries."""

from __future__ import annotations

from typing import Any

from ringmap.graphs.store import Store

__all__ = ["count_rows", "file_rows"]


def count_rows(store: Store) -> list[dict[str, Any]]:
    """One row per node label and relationship type: kind, type, count."""
    counts = store.counts()
    rows: list[dict[str, Any]] = [{"kind": "node", "type": t, "count": n}
                                  for t, n in sorted(counts.nodes.items())]
    rows += [{"kind": "relationship", "type": t, "count": n}
             for t, n in sorted(counts.relationships.items())]
    return rows


def file_rows(store: Store) -> list[dict[str, Any]]:
    """One row per loaded evidence file with its row accounting and grading."""
    return [{"run": f.run_id, "file": f.source_file, "sha256": f.sha256[:12],
             "mapping": f.mapping, "grading": str(f.grading), "read": f.read,
             "loaded": f.loaded, "duplicate": f.duplicate, "rejected": f.rejected,
             "complete": f.complete, "ingested_at": f.ingested_at}
            for f in store.file_loads()]
