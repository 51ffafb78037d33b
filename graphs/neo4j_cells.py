"""A cell run's write-back into Neo4j: its cells in parts, a transaction each, its run last.

A run's records carry every cell's report and its members' explanations (80 KB a cell at 600
cells): one transaction for a whole run held them all in the server's transaction memory, and
at 21,100 cells (10M rows) that outgrew an 8 GB heap and was rolled back. Here each part of a
few cells commits on its own, capped by the bytes of its records, and the run's
``AnalysisRun`` node comes last, in a transaction of its own. Readers find runs by that node
(``analysis_runs``; the named queries' ``run`` and the CLI's ``--run`` are read from it;
``load_cells`` reads a run's cells only where it exists), so they see a run whole or not at all.

The cells committed before a write-back fails must not stay. A writer first creates a marker,
``(:CellRunWriting {run_id, token, started, beat})`` (one per run id: a constraint), and
every part's transaction sets its ``beat`` to the server's clock; the run node replaces the
marker in the last transaction. When the write-back fails (its cells could not be made, the
server refused a part, Ctrl-C), the writer removes its cells (with their ``MEMBER_OF``) a few
hundred per transaction, then its marker, before the error goes on. A writer that dies leaves
its marker: the next ``save_cells`` of any process takes every marker whose ``beat`` is older
than :data:`STALE_S` (or that an earlier removal left), marks it ``doomed`` and removes its
cells and then the marker. A live writer's marker is never that old: a part is committed when
it is full or has been open for :data:`BEAT_S`, so its beat is at most that (plus the making
of one cell) old; and were it ever doomed, the writer's next part or its run node finds its
marker doomed (the marker is locked by both), stops and removes what it wrote. A removal never
touches the cells of a run that has its run node.

Examples
--------
>>> store.save_cells(run, cells)  # doctest: +SKIP
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING, Any

from neo4j import ManagedTransaction, Result
from neo4j.exceptions import DriverError, Neo4jError

from ringmap.errors import StoreError
from ringmap.graphs import cypher
from ringmap.graphs.model import AnalysisRun, CellRecord

if TYPE_CHECKING:
    from ringmap.graphs.neo4j_store import Neo4jStore

__all__ = ["BEAT_S", "CELLS_WRITTEN", "PART_BYTES", "STALE_S", "remove_stale", "save_cells"]

#: at most this many cells a part (a part's members' links are sent a statement per label) ...
CELLS_WRITTEN = 100
#: ... and about this many bytes of their records (UTF-8): the server holds a part's records
#: in its transaction memory until it commits, and the writer holds them as the rows it sends.
#: At 2,400 cells (180 MB of records) the largest transaction was 47 MB of heap by the
#: server's estimate (1.2 GB for the whole run in one); 2 MB parts 14 MB, 32 MB parts 92 MB,
#: the write-back's time the same within the noise
PART_BYTES = 8 << 20
#: a part open this long is committed with the next cell, whatever its size: the marker's beat
BEAT_S = 60.0
#: a marker not beaten for this long is a dead writer's
STALE_S = 15 * 60


class _Part:
    """The cells of one part as the rows sent (each cell's record is dropped once dumped)."""

    def __init__(self) -> None:
        self.cells: list[dict[str, Any]] = []
        self.members: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.size = 0
        self.opened = time.monotonic()

    def add(self, cell: CellRecord) -> None:
        from ringmap.graphs.neo4j_store import _label

        record = cell.model_dump_json()
        summary = cell.summary.model_dump_json() if cell.summary else "{}"
        self.cells.append({"cell_id": cell.cell_id, "size": len(cell.members),
                           "record": record, "summary_json": summary})
        self.size += _utf8(record) + _utf8(summary)
        for member in cell.members:
            label = _label(member.node_id)
            if label is not None:
                self.members[label].append({"node_id": member.node_id, "cell_id": cell.cell_id,
                                            "confidence": member.confidence})

    @property
    def full(self) -> bool:
        return (len(self.cells) >= CELLS_WRITTEN or self.size >= PART_BYTES
                or time.monotonic() - self.opened >= BEAT_S)


def _utf8(text: str) -> int:
    """The UTF-8 size of ``text`` (JSON of evidence is mostly ASCII: no copy then)."""
    return len(text) if text.isascii() else len(text.encode())


def _parts(cells: Iterable[CellRecord]) -> Iterator[_Part]:
    part = _Part()
    for cell in cells:
        part.add(cell)
        if part.full:
            yield part
            part = _Part()
    if part.cells:
        yield part


def save_cells(store: Neo4jStore, run: AnalysisRun, cells: Iterable[CellRecord]) -> None:
    """Write ``run`` and its ``cells`` into ``store`` in parts, all or nothing for readers
    (the module docstring says how).

    Raises
    ------
    StoreError
        The run id is taken, the server refused or kept failing a part, or the write-back
        was found dead and removed; nothing of the run is left.
    """
    remove_stale(store)
    token = uuid.uuid4().hex
    run_id = run.run_id

    def begin(tx: ManagedTransaction) -> bool:
        return tx.run(cypher.BEGIN_CELL_RUN, run_id=run_id, token=token).single() is not None

    if not store._write(begin):
        raise StoreError(f"Neo4j at {store.uri} refused the write: cell run {run_id} exists")
    try:
        for part in _parts(cells):
            store._write(partial(_write_part, run_id=run_id, token=token, part=part))
        store._write(partial(_finish, run=run, token=token))
    except BaseException:
        # whatever stopped it, its cells go before the error does; if even that fails (the
        # server is gone) the marker stays and the next write-back removes them
        with suppress(Neo4jError, DriverError, StoreError):
            _remove(store, run_id, token)
        raise


def _write_part(tx: ManagedTransaction, run_id: str, token: str, part: _Part) -> None:
    _alive(tx.run(cypher.BEAT_CELL_RUN, run_id=run_id, token=token), run_id)
    tx.run(cypher.CREATE_CELLS, run_id=run_id, rows=part.cells).consume()
    for label, rows in part.members.items():
        tx.run(cypher.MEMBER_OF[label], run_id=run_id, rows=rows).consume()


def _finish(tx: ManagedTransaction, run: AnalysisRun, token: str) -> None:
    _alive(tx.run(cypher.FINISH_CELL_RUN, run_id=run.run_id, token=token, kind=run.kind,
                  record=run.model_dump_json()), run.run_id)


def _alive(found: Result, run_id: str) -> None:
    """Stop a write-back whose marker another process doomed (it found the writer dead)."""
    if found.single() is None:
        raise StoreError(f"cell run {run_id} was taken for dead (no part written for "
                         f"{STALE_S // 60} minutes) and removed; run it again")


def remove_stale(store: Neo4jStore) -> list[str]:
    """Remove the cells of the write-backs whose writers died; return their run ids."""

    def doom(tx: ManagedTransaction) -> list[tuple[str, str]]:
        return [(r["run_id"], r["token"]) for r in tx.run(cypher.DOOM_STALE_CELL_RUNS,
                                                          stale=STALE_S)]

    stale = store._write(doom)
    for run_id, token in stale:
        _remove(store, run_id, token)
    return [run_id for run_id, _ in stale]


def _remove(store: Neo4jStore, run_id: str, token: str) -> None:
    """Remove the cells of an unfinished write-back, in transactions of a few hundred, then
    its marker."""
    with store._errors(), store.session() as session:
        session.run(cypher.DELETE_UNFINISHED_CELLS, run_id=run_id).consume()
        session.run(cypher.END_CELL_RUN, run_id=run_id, token=token).consume()
