"""The embedded store: one SQLite case file, no server, durable across crashes.

WAL journal with ``synchronous=FULL``; a file loads in one transaction together with its
ledger record, so a killed ingest leaves either the whole file or none of it, and a retraction
is one transaction too. Nodes and relationships get integer row ids; each load's statement of an
item is one record (``node_src``/``edge_src``) holding the rows that saw it, packed, and the
properties it gave, so the provenance of millions of rows stays compact. ``nodes.props`` and
``edges.props`` hold the shown values (:mod:`ringmap.graphs.statements`), materialised so that
reads and named queries read one column; they are recomputed from the statements only for items
that more than one load stated, and not written again when nothing changed.
"""

from __future__ import annotations

import fcntl
import heapq
import json
import os
import sqlite3
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from itertools import compress, repeat
from operator import ne
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np

from ringmap.errors import NotFound, StoreBusy, StoreError, StoreUnavailable
from ringmap.fileio import make_dirs, open_private
from ringmap.graphs.codec import decode_many, decode_props, encode_props, merge_props, scan_columns
from ringmap.graphs.model import (
    AnalysisRun,
    Batch,
    BatchColumns,
    CellRecord,
    Counts,
    Edge,
    FileLoad,
    Grading,
    IngestRun,
    Node,
    Provenance,
    Retracted,
    Retraction,
    Seen,
    Sighting,
    built,
    edge_id,
    utcnow,
)
from ringmap.graphs.sameas import SAME_AS
from ringmap.graphs.schema import SCHEMA
from ringmap.graphs.statements import Stated, shown_props
from ringmap.graphs.store import PackedGraph, Store, graded_keys
from ringmap.queries.twins import TWINS

if TYPE_CHECKING:
    from ringmap.queries.catalog import QuerySpec

__all__ = ["EmbeddedStore"]

SCHEMA_VERSION = "3"

_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"

_DDL = """
CREATE TABLE IF NOT EXISTS nodes (
    nid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    props TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS nodes_by_type ON nodes (type, id);
CREATE TABLE IF NOT EXISTS edges (
    eid INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    src INTEGER NOT NULL REFERENCES nodes (nid),
    dst INTEGER NOT NULL REFERENCES nodes (nid),
    props TEXT NOT NULL,
    UNIQUE (type, src, dst)
);
CREATE INDEX IF NOT EXISTS edges_by_src ON edges (src);
CREATE INDEX IF NOT EXISTS edges_by_dst ON edges (dst);
CREATE TABLE IF NOT EXISTS files (
    file_id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    mapping_digest TEXT NOT NULL,
    record TEXT NOT NULL,
    retracted INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS files_active ON files (sha256, mapping_digest)
    WHERE retracted = 0;
CREATE TABLE IF NOT EXISTS node_src (
    nid INTEGER NOT NULL, file_id INTEGER NOT NULL, rows TEXT NOT NULL, props TEXT NOT NULL,
    PRIMARY KEY (nid, file_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edge_src (
    eid INTEGER NOT NULL, file_id INTEGER NOT NULL, rows TEXT NOT NULL, props TEXT NOT NULL,
    PRIMARY KEY (eid, file_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS row_refs (file_id INTEGER NOT NULL, row INTEGER NOT NULL,
                                     ref TEXT NOT NULL, PRIMARY KEY (file_id, row))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS analysis_runs (
    run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    run_id TEXT NOT NULL, cell_id TEXT NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (run_id, cell_id));
CREATE TABLE IF NOT EXISTS memberships (
    run_id TEXT NOT NULL, cell_id TEXT NOT NULL, node_id TEXT NOT NULL, confidence REAL NOT NULL,
    PRIMARY KEY (run_id, node_id));
CREATE INDEX IF NOT EXISTS memberships_by_node ON memberships (node_id);
"""

# Which of the ids in the JSON list :ids are on the victim side: victims, what victims and no
# other person use or hold, and likely victims: accounts and phones of no known user, holding no
# identifiers of their own, that an agent's account or phone contacted (the rule of
# ringmap.privacy.victim_side and likely_victims).
_VICTIM_SIDE = """
WITH owned AS (SELECT e.dst AS nid, json_extract(p.props, '$.role') AS role FROM edges e
               JOIN nodes p ON p.nid = e.src AND p.type = 'Person'
               WHERE +e.type IN ('USES', 'HOLDS')),
     other AS (SELECT e.dst AS nid FROM edges e JOIN nodes p ON p.nid = e.src
               WHERE +e.type IN ('USES', 'HOLDS')
                 AND NOT (p.type = 'Person' AND json_extract(p.props, '$.role') IS 'victim')),
     acting AS (SELECT DISTINCT src AS nid FROM edges
                WHERE +type IN ('REGISTERED_TO', 'LOGGED_IN_FROM', 'LOGGED_IN_ON'))
SELECT n.id FROM nodes n
WHERE n.id IN (SELECT value FROM json_each(:ids)) AND (
    (n.type = 'Person' AND json_extract(n.props, '$.role') IS 'victim')
    OR (n.nid IN (SELECT nid FROM owned WHERE role IS 'victim')
        AND n.nid NOT IN (SELECT nid FROM other))
    OR (n.type IN ('Account', 'Phone') AND n.nid NOT IN (SELECT nid FROM owned)
        AND n.nid NOT IN (SELECT nid FROM acting)
        AND EXISTS (SELECT 1 FROM (
                SELECT c.dst AS near FROM edges c WHERE c.src = n.nid AND +c.type = 'CONTACTED'
                UNION ALL SELECT c.src FROM edges c WHERE c.dst = n.nid AND +c.type = 'CONTACTED')
            WHERE near IN (SELECT nid FROM owned WHERE role IS 'suspect')
               OR (near NOT IN (SELECT nid FROM owned) AND near IN (SELECT nid FROM acting)))))"""

_EDGE_SELECT = """
SELECT e.type, s.id, d.id, e.props FROM edges e
JOIN nodes s ON s.nid = e.src JOIN nodes d ON d.nid = e.dst
"""

# provenance of many items: their keys, their sightings, the references of the rows
_NODE_KEYS = "SELECT id, nid FROM nodes WHERE id IN (SELECT value FROM json_each(?))"
_EDGE_KEYS = """
SELECT e.eid, json_extract(j.value, '$[3]') FROM json_each(?) j
JOIN nodes s ON s.id = json_extract(j.value, '$[1]')
JOIN nodes d ON d.id = json_extract(j.value, '$[2]')
JOIN edges e ON e.type = json_extract(j.value, '$[0]') AND e.src = s.nid AND e.dst = d.nid
"""
_CELLS = "SELECT record FROM cells WHERE {} ORDER BY cell_id"
#: the cells' records with each member's explanation removed by SQLite, in order: the text
#: left is parsed, not the explanations (at 600 cells 0.2 CPU-s instead of 4.8)
_CELLS_UNEXPLAINED = """
SELECT json_set(record, '$.members', (
    SELECT json_group_array(json_remove(m.value, '$.explanation'))
    FROM json_each(record, '$.members') AS m))
FROM cells WHERE {} ORDER BY cell_id
"""
#: which cells of a run: all of them, or those of a list of ids (JSON text), each found by
#: the primary key
_OF_RUN = "run_id=?"
_OF_IDS = "run_id=? AND cell_id IN (SELECT value FROM json_each(?))"
_NODE_SIGHTINGS = ("SELECT nid, file_id, rows FROM node_src "
                   "WHERE nid IN (SELECT value FROM json_each(?))")
_EDGE_SIGHTINGS = ("SELECT eid, file_id, rows FROM edge_src "
                   "WHERE eid IN (SELECT value FROM json_each(?))")
#: the relationships by the files that saw them: each distinct list of files with the row
#: ids of its relationships (a few rows, not one per relationship)
_EDGES_BY_FILES = """
SELECT files, json_group_array(eid) FROM (
  SELECT GROUP_CONCAT(file_id) AS files, eid FROM edge_src GROUP BY eid) GROUP BY files
"""
_ROW_REFS = ("SELECT row, ref FROM row_refs "
             "WHERE file_id=? AND row IN (SELECT value FROM json_each(?))")


#: the page size of a new case file: an ingest writes some 4 B-tree entries per item and
#: statement, and on 16 KiB pages it does so in about a fifth less CPU than on SQLite's
#: default 4 KiB (fewer page splits and WAL frames); case files made before keep theirs
_PAGE_BYTES = 16384

#: the page cache (KiB, negative as SQLite takes it): 256 MiB for ingest and lookups; a
#: scan of the whole case, read once, runs with a small one (see ``_packed``)
_CACHE_KIB = -262144
_SCAN_CACHE_KIB = -8192
#: how much of the case file a connection that reads through a memory map maps (SQLite caps
#: it, at 2 GiB in the usual builds; the rest is read as before)
_MAP_BYTES = 1 << 40
#: the page cache while a cell run is saved: its explanations' provenance is read a part at a
#: time as the cells are written (see ``save_cells``), each page about once
_SAVE_CACHE_KIB = -8192


class EmbeddedStore(Store):
    """A case in a single SQLite file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with EmbeddedStore(pathlib.Path(tempfile.mkdtemp()) / "case.db") as store:
    ...     store.counts().total_nodes
    0
    """

    kind: ClassVar[str] = "embedded"

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise NotFound(f"no case file at {self.path}: ingest evidence first "
                           "(ringmap ingest / ringmap run), or pass --store")
        try:
            make_dirs(self.path.parent)
            os.close(open_private(self.path, os.O_RDWR | os.O_CREAT))  # -wal, -shm follow its mode
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            # (a new case file only: the page size is fixed once the file has any)
            self._db.execute(f"PRAGMA page_size={_PAGE_BYTES}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=OFF")
            self._db.execute(f"PRAGMA cache_size={_CACHE_KIB}")
            self._db.execute("PRAGMA temp_store=MEMORY")
            self._db.execute(_META)
            self._check_version()
            self._db.executescript(_DDL)
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailable(f"cannot open case file {self.path}: {exc}") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot open case file {self.path}: {exc.strerror}") from None
        self._ids: _IdCache | None = None
        self._ids_version = -1  # PRAGMA data_version the id cache was read at
        self._files: dict[int, FileLoad] = {}  # ledger records by file id, for provenance
        # the first node and relationship id the load in progress handed out: items from
        # there on are the ones it created (ids are handed out in order)
        self._first_new: dict[str, int] | None = None
        # per table, the items it stated so far, with a digest of the properties stated last
        self._stated_here: dict[str, dict[int, int]] = {"n": {}, "e": {}}
        self._writer = _WriterLock(self.path.with_name(self.path.name + ".lock"), self.path,
                                   self._mark_interrupted)

    @contextmanager
    def _cache(self, kib: int) -> Iterator[None]:
        """The page cache at ``kib`` (KiB, negative as SQLite takes it), what it held let go,
        for one pass over much of the case; the usual cache again after."""
        self._db.execute(f"PRAGMA cache_size={kib}")
        self._db.execute("PRAGMA shrink_memory")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA cache_size={_CACHE_KIB}")

    def _check_version(self) -> None:
        version = "SELECT value FROM meta WHERE key='schema_version'"
        row = self._db.execute(version).fetchone()
        if row is None:
            # a new case file; another process may be making it at this very moment (two
            # ingests started at once): whichever writes the version first, both read it
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                             (SCHEMA_VERSION,))
            row = self._db.execute(version).fetchone()
        if row[0] != SCHEMA_VERSION:
            raise StoreUnavailable(
                f"case file {self.path} has store schema {row[0]}, this ringmap needs "
                f"{SCHEMA_VERSION}: ingest its evidence into a new case file")

    def close(self) -> None:
        self._db.close()

    def read_mapped(self) -> None:
        """Read the case file through a memory map from now on: pages straight from the
        operating system's cache, not copied into this connection's own page cache, which
        starts empty. For a short-lived connection that reads a few thousand scattered
        pages, as a raid package worker's does (issue 16: a cell's sightings read 4.7-5.3
        instead of 6.5-6.8 ms at 5,400 cells)."""
        self._db.execute(f"PRAGMA mmap_size={_MAP_BYTES}")

    def describe(self) -> str:
        return f"embedded:{self.path}"

    def _mark_interrupted(self) -> None:
        """Runs left unfinished are marked: whoever wrote them is gone, as this store now
        holds the writer lock."""
        self._db.execute("UPDATE runs SET record = json_set(record, '$.interrupted', json('true'))"
                         " WHERE json_extract(record, '$.finished') IS NULL")

    def writing(self, command: str, *, wait: bool = False,
                on_wait: Callable[[str], None] | None = None) -> AbstractContextManager[None]:
        return self._writer.hold(command, wait, on_wait)

    # -- ingest ----------------------------------------------------------------------------
    @contextmanager
    def bulk_loading(self, wanted: bool | None, size: int) -> Iterator[bool]:
        """No bulk path here (``wanted`` is refused as by :class:`Store`); the id cache lives
        for the block, the loads of one ingest: kept after them it was the largest thing
        ``ringmap run`` held through cells and maps (1.03 GB at 5,400 cells, issue 16)."""
        with super().bulk_loading(wanted, size) as bulk:
            try:
                yield bulk
            finally:
                self._ids = None

    def file_load(self, sha256: str, mapping_digest: str) -> FileLoad | None:
        row = self._db.execute(
            "SELECT record FROM files WHERE sha256=? AND mapping_digest=? AND retracted=0",
            (sha256, mapping_digest)).fetchone()
        return FileLoad.model_validate_json(row[0]) if row else None

    def _load(self, load: FileLoad, batches: Iterable[Batch | BatchColumns]) -> FileLoad:
        return self._load_file(load, batches)  # columns as they are

    def _load_file(self, load: FileLoad, batches: Iterable[Batch | BatchColumns]) -> FileLoad:
        db = self._db
        self._files.clear()
        self._first_new, self._stated_here = None, {"n": {}, "e": {}}
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA data_version").fetchone()[0]
            if version != self._ids_version:  # another connection wrote since the cache
                self._ids, self._ids_version = None, version
            db.execute("DELETE FROM files WHERE sha256=? AND mapping_digest=? AND retracted=0 "
                       "AND json_extract(record, '$.complete') = 0",
                       (load.sha256, load.mapping_digest))
            cur = db.execute(
                "INSERT INTO files (sha256, mapping_digest, record) VALUES (?, ?, ?)",
                (load.sha256, load.mapping_digest, load.model_dump_json()))
            file_id = cur.lastrowid
            assert file_id is not None
            for batch in batches:
                if self._first_new is None:  # ids from here on are new to the case
                    self._first_new = self._id_cache().next_ids()
                if isinstance(batch, BatchColumns):
                    self._write_batch(file_id, batch, {})
                else:
                    self._write_batch(file_id, *self._columns(batch))
            done = load.model_copy(update={"complete": True})
            db.execute("UPDATE files SET record=? WHERE file_id=?",
                       (done.model_dump_json(), file_id))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._ids = None  # the cache may hold rolled-back ids
            raise
        finally:
            self._first_new, self._stated_here = None, {"n": {}, "e": {}}
        return done

    def _id_cache(self) -> _IdCache:
        if self._ids is None:
            self._ids = _IdCache(self._db)
        return self._ids

    def _columns(self, batch: Batch) -> tuple[BatchColumns, dict[str, list[int]]]:
        """A batch of any producer as the engine makes them (:class:`BatchColumns`): its
        items merged (a node by id, a relationship by type and ends, the first one's type,
        later properties merged in) and its sightings grouped; beside it the rows of nodes
        its rows saw but it does not state (nodes of earlier batches)."""
        nodes: dict[str, Node] = {}
        for node in batch.nodes:
            had = nodes.get(node.id)
            if had is None:
                nodes[node.id] = Node(node.id, node.type, _stated(node.props))
            else:  # (a copy: the first node's properties may be the caller's)
                had.props = merge_props(dict(had.props), node.props)
        edges: dict[tuple[str, str, str], Edge] = {}
        for edge in batch.edges:
            key = (edge.type, edge.src, edge.dst)
            was = edges.get(key)
            if was is None:
                edges[key] = Edge(*key, _stated(edge.props))
            else:
                was.props = merge_props(dict(was.props), edge.props)
        ids = self._id_cache()
        known, node_of = ids.nids.get, ids.node
        for nid in nodes:  # ids in the batch's order, before sightings are told apart by them
            known(nid) or node_of(nid)
        seen = batch.sightings
        if not isinstance(seen, Seen):
            seen = _grouped(seen, ids.nids)
        unknown = [edge_id(*key) for key in seen.edges.keys() - edges.keys()]
        unknown += [item for item in seen.nodes.keys() - nodes.keys() if known(item) is None]
        if unknown:
            raise StoreError(f"sighting of unknown item {min(unknown)!r}")
        return (BatchColumns.of(Batch(list(nodes.values()), list(edges.values()), Seen(
            seen.nodes, {key: seen.edges.get(key) or [] for key in edges}, seen.refs),
            batch.last_row)),
            {item: rows for item, rows in seen.nodes.items() if item not in nodes})

    def _write_batch(self, file_id: int, batch: BatchColumns,
                     seen_only: Mapping[str, list[int]]) -> None:
        """Write a batch, column by column; ``seen_only``: rows of nodes it does not state."""
        ids = self._id_cache()
        nids, known, node_of = ids.nids, ids.nids.get, ids.node
        node_keys = [known(nid) or node_of(nid) for nid in batch.ids]  # (ids start at 1)
        # the batch's node ids, looked up below instead of the case's: a relationship's ends
        # are nearly always the batch's own nodes, and a small map stays in the CPU's cache
        # where one of every node of a large case does not (issue 16)
        here = dict(zip(batch.ids, node_keys, strict=True)).get
        ends = list(zip(batch.rel_types, [here(end) or nids[end] for end in batch.sources],
                        [here(end) or nids[end] for end in batch.targets], strict=True))
        found, edge_of = ids.eids.get, ids.edge
        edge_keys = [found(key) or edge_of(key) for key in ends]
        also = [(nids[item], _pack(rows)) for item, rows in seen_only.items()]

        fresh_nodes = self._state(_NODES, file_id, node_keys, batch.types, batch.node_props,
                                  batch.node_rows, list(zip(batch.ids, batch.types, strict=True)),
                                  also)
        self._db.executemany(
            "INSERT INTO nodes (nid, id, type, props) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET props = json_patch(nodes.props, excluded.props)",
            fresh_nodes)
        fresh_edges = self._state(_EDGES, file_id, edge_keys, batch.rel_types, batch.rel_props,
                                  batch.rel_rows, ends, [])
        self._db.executemany(
            "INSERT INTO edges (eid, type, src, dst, props) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (type, src, dst) DO UPDATE SET "
            "props = json_patch(edges.props, excluded.props)", fresh_edges)
        self._db.executemany("INSERT OR REPLACE INTO row_refs VALUES (?, ?, ?)",
                             zip(repeat(file_id), batch.refs.keys(), batch.refs.values()))

    def _state(self, table: _Table, file_id: int, keys: list[int], types: list[str],
               given: list[dict[str, Any]], seen: Sequence[list[int]],
               rows: list[tuple[Any, ...]], also: list[tuple[int, str]]
               ) -> list[tuple[Any, ...]]:
        """Record this load's statements of a batch's items of one kind (columns: each
        item's key, type, properties, the rows that saw it and its ``rows`` entry, a node's
        id and type or a relationship's type and ends; ``also``: items seen, not stated,
        with their rows packed), update the shown values of items other loads stated too,
        and return the rows to write of the items only this load stated whose shown value
        changed: key, ``rows`` entry, properties."""
        db, ids, tag = self._db, self._id_cache(), table.tag
        here, agreeing = self._stated_here[tag], ids.agreeing[tag]
        assert self._first_new is not None
        first_new = self._first_new[tag]
        props = list(map(_stated, given))
        if tag == "e":  # a temporal relationship this load stated already widens its span
            widen = {k: i for i, (k, type_, p) in enumerate(zip(keys, types, props, strict=True))
                     if p and k in here and type_ in _TEMPORAL_RELS}
            for k, text in self._by_keys(table.stated_by_file, list(widen), file_id):
                i = widen[k]
                props[i] = merge_props(decode_props(types[i], text), props[i])
        # nearly every statement is new to the load and must be written: its text is made
        # once and its hash is the digest (a text is hashed in C, and only once); a column
        # at a time (a batch states an item once)
        texts = list(map(encode_props, props))
        digests = list(map(hash, texts))
        said = list(map(here.get, keys))  # what the load's earlier batches stated
        here.update(zip(keys, digests, strict=True))
        statements = list(zip(keys, repeat(file_id), map(_pack, seen), [
            "{}" if was == digest else text  # the same statement again: rows only
            for was, digest, text in zip(said, digests, texts, strict=True)]))
        # items seen but not stated here (their statement is the empty one)
        statements += [(k, file_id, rows_seen, "{}") for k, rows_seen in also]
        statements.sort()
        db.executemany(table.state, statements)

        # the items whose values shown may change (those that agree are shown already):
        # stated by this load alone, its statement is shown; by others too, checked
        changed = list(compress(range(len(keys)), map(ne, map(agreeing.get, keys), digests)))
        alone = [i for i in changed if keys[i] >= first_new]
        agreeing.update({keys[i]: digests[i] for i in alone})
        check = {keys[i]: i for i in changed if keys[i] < first_new}  # key: its position

        restate: list[int] = []
        for k, text in self._by_keys(table.shown, list(check)):
            i = check[k]
            if _within(props[i], decode_props(types[i], text)):
                agreeing[k] = digests[i]
            else:
                restate.append(k)
        for k, shown in self._shown(table, restate).items():
            i = check[k]
            if _within(props[i], shown):
                agreeing[k] = digests[i]
            else:
                agreeing.pop(k, None)
        return [(keys[i], *rows[i], texts[i]) for i in alone]

    def _shown(self, table: _Table, keys: list[int]) -> dict[int, dict[str, Any]]:
        """Recompute and write the shown values of these items from their statements;
        returns them by key (items no load states are left out, unchanged)."""
        stated: dict[int, list[Stated]] = {}
        for k, file_id, text, type_ in self._by_keys(table.stated, keys):
            stated.setdefault(k, []).append((self._file(file_id), file_id,
                                             decode_props(type_, text)))
        shown = {k: shown_props(found) for k, found in stated.items()}
        self._db.executemany(table.show, [(encode_props(props), k) for k, props in shown.items()])
        return shown

    def _by_keys(self, sql: str, keys: list[Any], *first: Any) -> list[Any]:
        """The rows of ``sql`` for ``keys`` (its last parameter, a JSON list), in chunks."""
        out: list[Any] = []
        for start in range(0, len(keys), _CHUNK):
            out += self._db.execute(sql, (*first, json.dumps(keys[start:start + _CHUNK])))
        return out

    def _retract(self, loads: list[FileLoad], retraction: Retraction,
                 on_step: Callable[[str], None]) -> Retracted:
        db = self._db
        self._files.clear()
        db.execute("BEGIN IMMEDIATE")
        try:
            found = []
            for load in loads:
                row = db.execute("SELECT file_id, record FROM files WHERE sha256=? AND "
                                 "mapping_digest=? AND retracted=0",
                                 (load.sha256, load.mapping_digest)).fetchone()
                if row is None:
                    raise NotFound(f"{load.source_file} ({load.mapping}) is not loaded in "
                                   f"{self.path}: nothing to retract")
                found.append((int(row[0]), FileLoad.model_validate_json(row[1])))
            files = json.dumps([file_id for file_id, _ in found])
            done = Retracted(files=[load.source_file for _, load in found])
            for table in (_EDGES, _NODES):  # relationships first: a node they join stays
                keys = [k for (k,) in db.execute(table.stated_in, (files,))]
                db.execute(table.unstate, (files,))
                restated = self._shown(table, keys)
                orphans = [k for k in keys if k not in restated]
                removed = sum(db.execute(table.remove, (k,)).rowcount for k in orphans)
                if table is _EDGES:
                    done.relationships_removed = removed
                    done.relationships_restated = len(restated)
                else:
                    done.nodes_removed = removed
                    done.nodes_restated = len(restated)
                on_step(table.main)
            db.execute("DELETE FROM row_refs WHERE file_id IN (SELECT value FROM json_each(?))",
                       (files,))
            db.executemany("UPDATE files SET retracted = 1, record = ? WHERE file_id = ?",
                           [(load.model_copy(update={"retracted": retraction})
                             .model_dump_json(), file_id) for file_id, load in found])
            on_step("ledger")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            self._ids = None  # shown values and ids changed, or were rolled back
            self._files.clear()
        return done

    def record_run(self, run: IngestRun) -> None:
        with self.writing(run.command):
            self._db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)",
                             (run.run_id, run.model_dump_json()))

    def runs(self) -> list[IngestRun]:
        rows = self._db.execute("SELECT record FROM runs").fetchall()
        return sorted((IngestRun.model_validate_json(r[0]) for r in rows),
                      key=lambda r: (r.started, r.run_id))

    def file_loads(self) -> list[FileLoad]:
        return [FileLoad.model_validate_json(r[0]) for r in
                self._db.execute("SELECT record FROM files ORDER BY file_id")]

    # -- reads -----------------------------------------------------------------------------
    def get(self, node_id: str) -> Node | None:
        row = self._db.execute("SELECT id, type, props FROM nodes WHERE id=?",
                               (node_id,)).fetchone()
        return Node(row[0], row[1], decode_props(row[1], row[2])) if row else None

    def nodes(self, types: Iterable[str] | None = None) -> Iterator[Node]:
        sql, params = "SELECT id, type, props FROM nodes", _types_filter(types)
        if params is not None:
            sql += f" WHERE type IN ({','.join('?' * len(params))})"
        for id_, type_, props in self._db.execute(sql + " ORDER BY id", params or ()):
            yield Node(id_, type_, decode_props(type_, props))

    def edges(self, types: Iterable[str] | None = None) -> Iterator[Edge]:
        sql, params = _EDGE_SELECT, _types_filter(types)
        if params is not None:
            sql += f" WHERE e.type IN ({','.join('?' * len(params))})"
        for type_, src, dst, props in self._db.execute(
                sql + " ORDER BY e.type, s.id, d.id", params or ()):
            yield Edge(type_, src, dst, decode_props(type_, props))

    def _packed(self, node_types: list[str] | None, rel_types: list[str] | None
                ) -> PackedGraph:
        # integer row ids straight from the tables: no join, no sort by text in SQLite, and
        # no property parsed until someone asks for it
        by_id = "SELECT nid, id FROM nodes"
        scan = "SELECT nid, type, CAST(props AS BLOB) FROM nodes"
        params = node_types or []
        if node_types is not None:
            where = f" WHERE type IN ({','.join('?' * len(node_types))})"
            by_id, scan = by_id + where, scan + where
        # one pass over the whole case: a page cache the size of the case file would only
        # add that much to the run's peak memory (issue 16); and rows go into columns one by
        # one, each type name kept once, the properties as bytes in one buffer (rows fetched
        # all at once were held twice over, and a string per property text weighed twice
        # its bytes); every statement reads the same case (one snapshot)
        with self._cache(_SCAN_CACHE_KIB), self._snapshot():
            # the ids in id order from their index alone, the rest in the table's order: the
            # table read in id order was a lookup of the table per node, whose cost grew
            # faster than the case (21 times for 9 times the nodes, issue 16)
            nids, ids = array("q"), list[str]()
            nid_of, id_of = nids.append, ids.append
            for nid, node in self._db.execute(by_id + " ORDER BY id", params):
                nid_of(nid), id_of(node)
            (scanned,), types, node_props = scan_columns(self._db.execute(scan, params), 1)
            sql, params = ("SELECT eid, src, dst, type, CAST(props AS BLOB) FROM edges "
                           "WHERE type != ?", [SAME_AS])
            if rel_types is not None:
                sql += f" AND type IN ({','.join('?' * len(rel_types))})"
                params += rel_types
            (eid, src, dst), rel_types_, edge_props = scan_columns(self._db.execute(sql, params), 3)
            same_as = list(self.edges([SAME_AS]))
        nid = np.frombuffer(nids, dtype=np.int64)
        end_of = np.full(1 + max(int(a.max(initial=0)) for a in (nid, src, dst)), -1,
                         dtype=np.int64)  # row id -> position in ids, -1: filtered out
        end_of[nid] = np.arange(len(nid))
        # the nodes as read from the table, in id order
        order = np.argsort(end_of[scanned])
        return PackedGraph.assemble(
            ids, [types[i] for i in order.tolist()], node_props.take(order), rel_types_,
            end_of[src], end_of[dst], edge_props, same_as, decode_many, eid)

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One read transaction for the block, so that its statements read the same case
        (the block's own, if one is open already)."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    def neighbours(
        self, node_id: str, rel_types: Iterable[str] | None = None
    ) -> list[tuple[Edge, Node]]:
        wanted = None if rel_types is None else set(rel_types)
        rows = self._db.execute(
            """
            SELECT e.type, s.id, d.id, e.props, o.id, o.type, o.props
            FROM nodes n JOIN edges e ON e.src = n.nid
            JOIN nodes s ON s.nid = e.src JOIN nodes d ON d.nid = e.dst
            JOIN nodes o ON o.nid = e.dst WHERE n.id = ?1
            UNION ALL
            SELECT e.type, s.id, d.id, e.props, o.id, o.type, o.props
            FROM nodes n JOIN edges e ON e.dst = n.nid
            JOIN nodes s ON s.nid = e.src JOIN nodes d ON d.nid = e.dst
            JOIN nodes o ON o.nid = e.src WHERE n.id = ?1 AND e.src != e.dst
            """, (node_id,)).fetchall()
        out = [(Edge(t, s, d, decode_props(t, p)), Node(oid, otype, decode_props(otype, oprops)))
               for t, s, d, p, oid, otype, oprops in rows if wanted is None or t in wanted]
        out.sort(key=lambda pair: (pair[0].type, pair[1].id, pair[0].src))
        return out

    def provenance(self, item_id: str) -> list[Provenance]:
        return self.provenance_many([item_id]).get(item_id, [])

    def provenance_many(self, item_ids: Iterable[str]) -> dict[str, list[Provenance]]:
        return {item: heads for item, (heads, _) in self._provenance(item_ids, None).items()}

    def provenance_first(self, item_ids: Iterable[str], first: int
                         ) -> dict[str, tuple[list[Provenance], int]]:
        return self._provenance(item_ids, first)

    def _provenance(self, item_ids: Iterable[str], first: int | None
                    ) -> dict[str, tuple[list[Provenance], int]]:
        """Each item's first ``first`` sightings (all if None) and how many it has in all."""
        # a few statements per batch of items, not four per item: explaining a run of
        # 20,000 agents reads the provenance of some 100,000 relationships
        seen = self._sightings(list(dict.fromkeys(item_ids)), first)
        wanted: dict[int, set[int]] = {}
        for sightings, _ in seen.values():
            for file_id, row in sightings:
                wanted.setdefault(file_id, set()).add(row)
        refs = {file_id: dict(self._by_keys(_ROW_REFS, sorted(rows), file_id))
                for file_id, rows in wanted.items()}
        made: dict[tuple[int, int], Provenance] = {}  # a row sees several items: one each

        def sighting(file_id: int, row: int) -> Provenance:
            found = made.get((file_id, row))
            if found is None:
                load = self._file(file_id)
                # built from this store's own ledger: no need to validate again (and
                # model_construct took as long as the rest of a cell map's provenance)
                found = made[file_id, row] = built(
                    Provenance,
                    source_file=load.source_file, sha256=load.sha256, row=row,
                    ref=refs[file_id].get(row), run_id=load.run_id,
                    ingested_at=load.ingested_at, grading=load.grading)
            return found

        return {item: ([sighting(*seen_at) for seen_at in sightings], count)
                for item, (sightings, count) in seen.items()}

    def _sightings(self, items: list[str], first: int | None
                   ) -> dict[str, tuple[list[tuple[int, int]], int]]:
        """Item id -> its first ``first`` sightings (file id, row), ordered (all if None), and
        how many it has in all; items never seen left out."""
        nodes: dict[str, int] = dict(self._by_keys(_NODE_KEYS, items))
        ends = [[*_edge_ends(item), item] for item in items if item not in nodes]
        edges: dict[int, str] = {eid: item for eid, item in self._by_keys(
            _EDGE_KEYS, [e for e in ends if e[0] is not None])}
        found: dict[str, list[tuple[int, str]]] = {}
        for sql, keys in ((_NODE_SIGHTINGS, {nid: item for item, nid in nodes.items()}),
                          (_EDGE_SIGHTINGS, edges)):
            for key, file_id, rows in self._by_keys(sql, list(keys)):
                if rows:
                    found.setdefault(keys[key], []).append((file_id, rows))
        return {item: _first_rows(found[item], first) for item in items if item in found}

    def _file(self, file_id: int) -> FileLoad:
        load = self._files.get(file_id)
        if load is None:
            record = self._db.execute("SELECT record FROM files WHERE file_id=?",
                                      (file_id,)).fetchone()
            load = self._files[file_id] = FileLoad.model_validate_json(record[0])
        return load

    def _item(self, item_id: str) -> tuple[_Table, int, str] | None:
        """Which table holds a node or relationship id, its key there and its type."""
        node = self._db.execute("SELECT nid, type FROM nodes WHERE id=?", (item_id,)).fetchone()
        if node is not None:
            return _NODES, int(node[0]), str(node[1])
        eid = self._edge_rowid(item_id)
        return None if eid is None else (_EDGES, eid, item_id.partition(":")[0])

    def _edge_rowid(self, edge_id: str) -> int | None:
        type_, src, dst = _edge_ends(edge_id)
        if type_ is None:
            return None
        row = self._db.execute(
            "SELECT e.eid FROM edges e JOIN nodes s ON s.nid = e.src "
            "JOIN nodes d ON d.nid = e.dst WHERE e.type=? AND s.id=? AND d.id=?",
            (type_, src, dst)).fetchone()
        return int(row[0]) if row else None

    def edge_gradings(self) -> dict[str, frozenset[Grading]]:
        gradings = {file_id: FileLoad.model_validate_json(record).grading
                    for file_id, record in self._db.execute("SELECT file_id, record FROM files")}
        rows = self._db.execute(
            "SELECT e.type, s.id, d.id, GROUP_CONCAT(es.file_id) "
            "FROM edge_src es JOIN edges e ON e.eid = es.eid "
            "JOIN nodes s ON s.nid = e.src JOIN nodes d ON d.nid = e.dst GROUP BY es.eid")
        # a case has a few gradings: one set object per distinct list of files, not one per
        # relationship (and its hash computed once)
        sets: dict[str, frozenset[Grading]] = {}

        def graded(files: str) -> frozenset[Grading]:
            found = sets.get(files)
            if found is None:
                found = sets[files] = frozenset(gradings[f] for f in _file_ids(files))
            return found

        return {edge_id(type_, src, dst): graded(files) for type_, src, dst, files in rows}

    def packed_gradings(self, packed: PackedGraph
                        ) -> tuple[np.ndarray, list[frozenset[Grading]]]:
        if packed.keys is None:
            return super().packed_gradings(packed)
        gradings = {file_id: FileLoad.model_validate_json(record).grading
                    for file_id, record in self._db.execute("SELECT file_id, record FROM files")}
        # by row id, without the joins that spell each relationship's id
        rows = self._db.execute(_EDGES_BY_FILES)
        return graded_keys(((files, json.loads(eids)) for files, eids in rows), _file_ids,
                           gradings, packed.keys)

    def stated_many(self, item_ids: Iterable[str]) -> dict[str, list[Stated]]:
        found: dict[str, list[Stated]] = {}
        for item in dict.fromkeys(item_ids):
            where = self._item(item)
            if where is None:
                continue
            table, key, type_ = where
            stated: list[Stated] = [
                (self._file(file_id), file_id, decode_props(type_, text))
                for file_id, text in self._db.execute(table.statements, (key,))]
            if stated:
                found[item] = stated
        return found

    def multi_stated(self, types: Iterable[str] | None = None
                     ) -> Iterator[tuple[str, str, list[Stated]]]:
        wanted = _types_filter(types)
        found: dict[tuple[str, str], list[Stated]] = {}
        # a pass over every statement of the table: with a small page cache (issue 16), and
        # not over the relationships' statements for node types only (the persons' roles
        # every cell run reads, see ringmap.analysis.report.disputed_roles), nor the other way
        tables = [table for table, others in ((_NODES, SCHEMA.relationships),
                                              (_EDGES, SCHEMA.entities))
                  if wanted is None or not others.keys() >= set(wanted)]
        with self._cache(_SCAN_CACHE_KIB):
            for table in tables:
                for type_, item, file_id, text in self._db.execute(table.multi, {
                        "every": wanted is None, "types": json.dumps(wanted or [])}):
                    found.setdefault((type_, item), []).append(
                        (self._file(file_id), file_id, decode_props(type_, text)))
        for (type_, item), stated in sorted(found.items()):
            yield item, type_, sorted(stated, key=lambda s: s[1])

    def counts(self) -> Counts:
        nodes = dict(self._db.execute("SELECT type, COUNT(*) FROM nodes GROUP BY type"))
        rels = dict(self._db.execute("SELECT type, COUNT(*) FROM edges GROUP BY type"))
        return Counts(nodes=nodes, relationships=rels)

    # -- assessments -----------------------------------------------------------------------
    def write_same_as(self, link: Edge) -> None:
        self._db.execute(
            "INSERT INTO edges (type, src, dst, props) SELECT ?, s.nid, d.nid, ? "
            "FROM nodes s, nodes d WHERE s.id = ? AND d.id = ?",
            (link.type, encode_props(link.props), link.src, link.dst))
        self._ids = None  # the id cache does not know the new relationship

    def delete_same_as(self, link: Edge) -> None:
        eid = self._edge_rowid(link.id)
        self._db.execute("DELETE FROM edges WHERE eid = ?", (eid,))
        self._ids = None

    def save_cells(self, run: AnalysisRun, cells: Iterable[CellRecord]) -> None:
        # a page cache the size of the case would be most of the memory a run's write-back
        # adds (issue 16): the cells' reads and writes each meet a page about once
        with self.writing(run.kind), self._cache(_SAVE_CACHE_KIB):
            self._save_cells_in(run, cells)

    def _save_cells_in(self, run: AnalysisRun, cells: Iterable[CellRecord]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM analysis_runs").fetchone()[0]
            # one cell at a time, as it comes: a large run's records are tens of megabytes of
            # text, and their explanations far more as objects
            for c in cells:
                db.execute("INSERT INTO cells VALUES (?, ?, ?)",
                           (run.run_id, c.cell_id, c.model_dump_json()))
                db.executemany("INSERT INTO memberships VALUES (?, ?, ?, ?)",
                               ((run.run_id, c.cell_id, m.node_id, m.confidence)
                                for m in c.members))
            # the run last: its summary may have been completed while its cells were made
            db.execute("INSERT INTO analysis_runs VALUES (?, ?, ?, ?)",
                       (run.run_id, run.kind, seq, run.model_dump_json()))
            db.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            db.execute("ROLLBACK")
            raise StoreError(f"cannot save analysis run {run.run_id}: {exc}") from None
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def analysis_runs(self, kind: str = "cells") -> list[AnalysisRun]:
        return [AnalysisRun.model_validate_json(r[0]) for r in self._db.execute(
            "SELECT record FROM analysis_runs WHERE kind=? ORDER BY seq", (kind,))]

    def load_cells(self, run_id: str, *, explanations: bool = True, reports: bool = True,
                   cell_ids: Iterable[str] | None = None) -> list[CellRecord]:
        where, params = ((_OF_RUN, (run_id,)) if cell_ids is None
                         else (_OF_IDS, (run_id, json.dumps(list(cell_ids)))))
        read = CellRecord.model_validate_json if reports else CellRecord.sketched
        return [read(r[0]) for r in self._db.execute(
            (_CELLS if explanations and reports else _CELLS_UNEXPLAINED).format(where), params)]

    # -- named queries ---------------------------------------------------------------------
    def named_rows(
        self, spec: QuerySpec, params: Mapping[str, Any], timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        # SQLite binds no lists: a list travels as JSON text and the twin reads it by json_each
        bound = {k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()}
        return self._select(TWINS[spec.name], bound)

    def victim_side(self, ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        return {row[0] for row in self._select(_VICTIM_SIDE, {"ids": json.dumps(wanted)})}

    def _select(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """All rows of a query run read-only (``query_only``: a twin can never write)."""
        self._db.execute("PRAGMA query_only=ON")
        try:
            return self._db.execute(sql, params).fetchall()
        finally:
            self._db.execute("PRAGMA query_only=OFF")


class _WriterLock:
    """One writer per case file, across processes: an exclusive ``flock`` on ``<case>.lock``
    (released by the kernel when the holder dies), which names its holder for the message a
    second writer gets. Re-entrant within one store."""

    def __init__(self, path: Path, case: Path, on_acquire: Callable[[], None]) -> None:
        self.path, self._case, self._on_acquire = path, case, on_acquire
        self._depth = 0

    @contextmanager
    def hold(self, command: str, wait: bool,
             on_wait: Callable[[str], None] | None) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreUnavailable(f"cannot lock case file {self._case}: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                busy = f"case {self._case} is busy ({self._holder(fd)})"
                if not wait:
                    raise StoreBusy(f"{busy}; try again when it is done, or pass --wait") from None
                if on_wait is not None:
                    on_wait(busy)
                fcntl.flock(fd, fcntl.LOCK_EX)
            holder = {"pid": os.getpid(), "command": command,
                      "since": utcnow().isoformat(timespec="seconds")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            self._on_acquire()
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
        finally:
            os.close(fd)  # releases the lock

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            holder = json.loads(os.pread(fd, 4096, 0))
            return f"{holder['command']} by PID {holder['pid']}, since {holder['since']}"
        except (ValueError, KeyError, TypeError, OSError):  # not written yet, or torn
            return "another process is writing"


@dataclass(frozen=True, slots=True)
class _Table:
    """Nodes or relationships: the table of shown values (``main``), keyed by ``nid`` or
    ``eid``, beside the loads' statements (``*_src``), and the SQL that reads and writes them
    (JSON lists of keys or file ids are read by ``json_each``)."""

    tag: str
    main: str
    #: a load's statement of an item, with the rows that saw it
    state: str
    #: key, properties: one load's statements of the items listed
    stated_by_file: str
    #: key, properties: the shown values of the items listed
    shown: str
    #: key, file id, properties, type: every statement of the items listed
    stated: str
    #: write the shown properties of one item
    show: str
    #: the items the listed loads stated; deleting those statements
    stated_in: str
    unstate: str
    #: remove one item (a node only when no relationship joins it)
    remove: str
    #: file id, rows / file id, properties of one item
    sightings: str
    statements: str
    #: type, id, file id, properties of the items more than one load stated (``:every`` or of
    #: the ``:types`` listed)
    multi: str


_NODES = _Table(
    tag="n", main="nodes",
    state="INSERT INTO node_src VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
          "rows = CASE WHEN excluded.rows = '' THEN rows WHEN rows = '' THEN excluded.rows "
          "ELSE rows || ',' || excluded.rows END, props = json_patch(props, excluded.props)",
    stated_by_file="SELECT nid, props FROM node_src WHERE file_id = ? "
                   "AND nid IN (SELECT value FROM json_each(?))",
    shown="SELECT nid, props FROM nodes WHERE nid IN (SELECT value FROM json_each(?))",
    stated="SELECT s.nid, s.file_id, s.props, m.type FROM node_src s JOIN nodes m "
           "ON m.nid = s.nid WHERE s.nid IN (SELECT value FROM json_each(?))",
    show="UPDATE nodes SET props = ? WHERE nid = ?",
    stated_in="SELECT DISTINCT nid FROM node_src WHERE file_id IN (SELECT value FROM json_each(?))",
    unstate="DELETE FROM node_src WHERE file_id IN (SELECT value FROM json_each(?))",
    remove="DELETE FROM nodes WHERE nid = ? AND NOT EXISTS "
           "(SELECT 1 FROM edges e WHERE e.src = nodes.nid OR e.dst = nodes.nid)",
    sightings="SELECT file_id, rows FROM node_src WHERE nid = ?",
    statements="SELECT file_id, props FROM node_src WHERE nid = ? ORDER BY file_id",
    multi="SELECT m.type, m.id, x.file_id, x.props FROM node_src x JOIN nodes m ON m.nid = x.nid "
          "WHERE x.nid IN (SELECT nid FROM node_src GROUP BY nid HAVING COUNT(*) > 1) "
          "AND (:every OR m.type IN (SELECT value FROM json_each(:types)))",
)
_EDGES = _Table(
    tag="e", main="edges",
    state="INSERT INTO edge_src VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
          "rows = CASE WHEN excluded.rows = '' THEN rows WHEN rows = '' THEN excluded.rows "
          "ELSE rows || ',' || excluded.rows END, props = json_patch(props, excluded.props)",
    stated_by_file="SELECT eid, props FROM edge_src WHERE file_id = ? "
                   "AND eid IN (SELECT value FROM json_each(?))",
    shown="SELECT eid, props FROM edges WHERE eid IN (SELECT value FROM json_each(?))",
    stated="SELECT s.eid, s.file_id, s.props, m.type FROM edge_src s JOIN edges m "
           "ON m.eid = s.eid WHERE s.eid IN (SELECT value FROM json_each(?))",
    show="UPDATE edges SET props = ? WHERE eid = ?",
    stated_in="SELECT DISTINCT eid FROM edge_src WHERE file_id IN (SELECT value FROM json_each(?))",
    unstate="DELETE FROM edge_src WHERE file_id IN (SELECT value FROM json_each(?))",
    remove="DELETE FROM edges WHERE eid = ?",
    sightings="SELECT file_id, rows FROM edge_src WHERE eid = ?",
    statements="SELECT file_id, props FROM edge_src WHERE eid = ? ORDER BY file_id",
    multi="SELECT m.type, m.type || ':' || s.id || '->' || d.id, x.file_id, x.props "
          "FROM edge_src x JOIN edges m ON m.eid = x.eid JOIN nodes s ON s.nid = m.src "
          "JOIN nodes d ON d.nid = m.dst "
          "WHERE x.eid IN (SELECT eid FROM edge_src GROUP BY eid HAVING COUNT(*) > 1) "
          "AND (:every OR m.type IN (SELECT value FROM json_each(:types)))",
)
_CHUNK = 50_000  # keys per json_each list


def _file_ids(files: str) -> list[int]:
    """The file ids of a ``GROUP_CONCAT(file_id)``."""
    return [int(f) for f in files.split(",")]


def _edge_ends(edge_id: str) -> tuple[str, str, str] | tuple[None, None, None]:
    """Type, source and target id of a relationship id (``None``s: not one)."""
    type_, sep, rest = edge_id.partition(":")
    src, arrow, dst = rest.partition("->")
    return (type_, src, dst) if sep and arrow else (None, None, None)


def _grouped(sightings: Iterable[Sighting], nodes: Mapping[str, int]) -> Seen:
    """Sightings grouped as the ingest engine groups them (``nodes``: the known node ids)."""
    node_rows: dict[str, list[int]] = {}
    edge_rows: dict[tuple[str, str, str], list[int]] = {}
    refs: dict[int, str] = {}
    for sighting in sightings:
        item, row = sighting.item, sighting.row
        if item in nodes:
            node_rows.setdefault(item, []).append(row)
        else:
            ends = _edge_ends(item)
            if ends[0] is None:
                raise StoreError(f"sighting of unknown item {item!r}")
            edge_rows.setdefault(ends, []).append(row)
        if sighting.ref:
            refs[row] = sighting.ref
    return Seen(node_rows, edge_rows, refs)


def _stated(props: dict[str, Any]) -> dict[str, Any]:
    """``props`` without null values, as a batch's statement of an item starts: ``props``
    itself when it holds none (never changed here: an item seen twice in a batch merges
    into a copy)."""
    if None in props.values():
        return {k: v for k, v in props.items() if v is not None}
    return props


def _within(props: Mapping[str, Any], shown: Mapping[str, Any]) -> bool:
    """Whether every value of ``props`` is the one shown (stating them changes nothing)."""
    return all(shown.get(name) == value for name, value in props.items())


def _types_filter(types: Iterable[str] | None) -> list[str] | None:
    return None if types is None else sorted(set(types))


K = TypeVar("K", str, tuple[str, int, int])

_TEMPORAL_RELS = frozenset(name for name, rel in SCHEMA.relationships.items()
                           if "first_seen" in rel.properties)


def _first_rows(packed: list[tuple[int, str]], first: int | None
                ) -> tuple[list[tuple[int, int]], int]:
    """The first ``first`` (all if None) of the rows that saw an item, as (file id, row) in
    order, and how many there are, from its sightings as stored: one entry per file, its rows
    packed as they were loaded (:func:`_pack`, not in order). Only the rows of the files
    shown become numbers, to pick the first; the others are counted: a map shows three
    sightings of each item, and a pair for every sighting of a hub, all sorted, was most of
    a raid package's provenance (issue 16)."""
    heads: list[tuple[int, int]] = []
    count = 0
    for file_id, rows in sorted(packed):
        distinct = set(rows.split(","))  # as stored by _pack: one text per number
        count += len(distinct)
        wanted = len(distinct) if first is None else first - len(heads)
        if wanted > 0:
            heads += [(file_id, row) for row in heapq.nsmallest(wanted, map(int, distinct))]
    return heads, count


def _pack(rows: list[int]) -> str:
    """The rows that saw an item as stored (most items are seen on one row of a batch; an
    end of a relationship on none)."""
    if not rows:
        return ""
    return str(rows[0]) if len(rows) == 1 else ",".join(map(str, rows))


class _Ids(Generic[K]):
    """Integer ids handed out in order, for keys of one kind."""

    def __init__(self, known: dict[K, int]) -> None:
        self.ids: dict[K, int] = known
        self.next = max(known.values(), default=0) + 1

    def of(self, key: K) -> int:
        """The key's integer id (a new one if the key is new)."""
        found = self.ids.get(key)
        if found is not None:
            return found
        new = self.ids[key] = self.next
        self.next += 1
        return new


class _IdCache:
    """Integer ids of nodes and relationships, and digests of values each is known to show,
    kept for the life of a connection (dropped on rollback and retraction)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._nodes = _Ids[str](dict(db.execute("SELECT id, nid FROM nodes")))
        self._edges = _Ids[tuple[str, int, int]]({
            (t, s, d): e for e, t, s, d in db.execute("SELECT eid, type, src, dst FROM edges")})
        self.nids, self.eids = self._nodes.ids, self._edges.ids
        self.node, self.edge = self._nodes.of, self._edges.of
        #: per table, digests of properties known to be values each item shows: stating
        #: them again changes nothing, so that write (or check) is skipped
        self.agreeing: dict[str, dict[int, int]] = {"n": {}, "e": {}}

    def next_ids(self) -> dict[str, int]:
        """The ids the next new node and relationship will get, by table tag."""
        return {"n": self._nodes.next, "e": self._edges.next}

