"""Counts per type and the ingest ledger of a case, as rows for the CLI and summaries."""

from __future__ import annotations

from typing import Any

from ringmap.graphs.model import FileLoad
from ringmap.graphs.store import Store

__all__ = ["count_rows", "every_row_rejected", "file_rows"]


def count_rows(store: Store) -> list[dict[str, Any]]:
    """One row per node label and relationship type: kind, type, count."""
    counts = store.counts()
    rows: list[dict[str, Any]] = [{"kind": "node", "type": t, "count": n}
                                  for t, n in sorted(counts.nodes.items())]
    rows += [{"kind": "relationship", "type": t, "count": n}
             for t, n in sorted(counts.relationships.items())]
    return rows


def every_row_rejected(load: FileLoad) -> bool:
    """Whether a load rejected every row it read: nothing of the file is in the case.

    >>> from ringmap.graphs.model import Grading
    >>> every_row_rejected(FileLoad(sha256="0", source_file="a.csv", mapping="m",
    ...     mapping_digest="d", run_id="r", grading=Grading.parse("B2"), read=3, rejected=3))
    True
    """
    return load.read > 0 and load.rejected == load.read


def file_rows(store: Store) -> list[dict[str, Any]]:
    """One row per loaded evidence file with its row accounting, grading and status
    (``loaded``, ``rejected`` when every row was, ``incomplete`` while a load is unfinished)."""
    return [{"run": f.run_id, "file": f.source_file, "sha256": f.sha256[:12],
             "mapping": f.mapping, "grading": str(f.grading), "read": f.read,
             "loaded": f.loaded, "duplicate": f.duplicate, "rejected": f.rejected,
             "status": ("incomplete" if not f.complete else
                        "rejected" if every_row_rejected(f) else "loaded"),
             "complete": f.complete, "ingested_at": f.ingested_at}
            for f in store.file_loads()]
