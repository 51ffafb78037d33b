"""Counts per type, the ingest ledger and the sources' disagreements of a case, as rows for
the CLI and summaries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from ringmap.graphs.model import Conflict, FileLoad
from ringmap.graphs.schema import SCHEMA
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy

__all__ = ["conflict_counts", "conflict_rows", "count_rows", "every_row_rejected", "file_rows"]


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
    (``loaded``, ``rejected`` when every row was, ``incomplete`` while a load is unfinished,
    ``retracted`` once retracted: then when and why)."""
    return [{"run": f.run_id, "file": f.source_file, "sha256": f.sha256[:12],
             "mapping": f.mapping, "grading": str(f.grading), "read": f.read,
             "loaded": f.loaded, "duplicate": f.duplicate, "rejected": f.rejected,
             "status": ("retracted" if f.retracted is not None else
                        "incomplete" if not f.complete else
                        "rejected" if every_row_rejected(f) else "loaded"),
             "complete": f.complete, "ingested_at": f.ingested_at,
             "retracted_at": f.retracted.at if f.retracted else None,
             "retracted_why": f.retracted.reason if f.retracted else None}
            for f in store.file_loads()]


def conflict_rows(store: Store, types: Iterable[str] | None = None,
                  properties: Iterable[str] | None = None, *,
                  reveal: bool = False) -> list[dict[str, Any]]:
    """One row per source of each property whose sources disagree (:meth:`Store.conflicts`):
    the item, property, value, whether it is the value shown, file, grading, run.

    Victims, and what only victims use, appear under their pseudonyms with only their
    non-identifying properties unless ``reveal``; card numbers are masked.
    """
    conflicts = store.conflicts(types, properties)
    privacy = Privacy(victims=set() if reveal else store.victim_side(
        end for c in conflicts for end in _ends(c)), reveal=reveal)
    rows: list[dict[str, Any]] = []
    for conflict in conflicts:
        ends = _ends(conflict)
        if conflict.property not in privacy.properties(
                conflict.item, {"type": conflict.type, conflict.property: ""}):
            continue  # an identifying property of a pseudonymised victim
        item = "->".join(privacy.public_id(end) for end in ends)
        rows += [{"item": item if len(ends) == 1 else f"{conflict.type}:{item}",
                  "type": conflict.type, "property": conflict.property,
                  "value": privacy.value(s.value, conflict.type, conflict.property),
                  "shown": s.shown, "file": s.source_file, "grading": str(s.grading),
                  "run": s.run_id, "ingested_at": s.ingested_at}
                 for s in conflict.statements]
    return rows


def conflict_counts(store: Store) -> dict[str, int]:
    """How many properties' sources disagree, per ``Type.property`` (for run summaries)."""
    return dict(sorted(Counter(f"{c.type}.{c.property}" for c in store.conflicts()).items()))


def _ends(conflict: Conflict) -> tuple[str, ...]:
    """The node a conflict is about, or the two ends of its relationship."""
    if conflict.type in SCHEMA.relationships:
        src, _, dst = conflict.item.removeprefix(conflict.type + ":").partition("->")
        return src, dst
    return (conflict.item,)
