"""The embedded store: one SQLite case file, no server, durable across crashes.

WAL journal with ``synchronous=FULL``; a file loads in one transaction together with its
ledger record, so a killed ingest leaves either the whole file or none of it. Nodes and
relationships get integer row ids, and the sightings of one item in one batch are packed into
one record (its row numbers), so the provenance of millions of rows stays compact. Nodes and
relationships whose properties did not change since the last write are not written again.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ringmap.errors import NotFound, StoreBusy, StoreError, StoreUnavailable
from ringmap.fileio import make_dirs, open_private
from ringmap.graphs.codec import decode_props, encode_props, merge_props
from ringmap.graphs.model import (
    AnalysisRun,
    Batch,
    CellRecord,
    Counts,
    Edge,
    FileLoad,
    Grading,
    IngestRun,
    Node,
    Provenance,
    edge_id,
    utcnow,
)
from ringmap.graphs.schema import SCHEMA
from ringmap.graphs.store import Store
from ringmap.queries.twins import TWINS

if TYPE_CHECKING:
    from ringmap.queries.catalog import QuerySpec

__all__ = ["EmbeddedStore"]

SCHEMA_VERSION = "2"

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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
    UNIQUE (sha256, mapping_digest)
);
CREATE TABLE IF NOT EXISTS node_sightings (nid INTEGER NOT NULL, file_id INTEGER NOT NULL,
                                           rows TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS node_sightings_by_nid ON node_sightings (nid);
CREATE TABLE IF NOT EXISTS edge_sightings (eid INTEGER NOT NULL, file_id INTEGER NOT NULL,
                                           rows TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS edge_sightings_by_eid ON edge_sightings (eid);
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

# Which of the ids in the JSON list :ids are on the victim side: victims, and what victims and no
# other person use or hold (the rule of ringmap.privacy.victim_side).
_VICTIM_SIDE = """
SELECT n.id FROM nodes n
WHERE n.id IN (SELECT value FROM json_each(:ids)) AND (
    json_extract(n.props, '$.role') = 'victim'
    OR (EXISTS (SELECT 1 FROM edges e JOIN nodes p ON p.nid = e.src
                WHERE e.dst = n.nid AND +e.type IN ('USES', 'HOLDS')
                  AND json_extract(p.props, '$.role') = 'victim')
        AND NOT EXISTS (SELECT 1 FROM edges e JOIN nodes p ON p.nid = e.src
                        WHERE e.dst = n.nid AND +e.type IN ('USES', 'HOLDS')
                          AND json_extract(p.props, '$.role') != 'victim')))"""

_EDGE_SELECT = """
SELECT e.type, s.id, d.id, e.props FROM edges e
JOIN nodes s ON s.nid = e.src JOIN nodes d ON d.nid = e.dst
"""


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
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=OFF")
            self._db.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache
            self._db.execute("PRAGMA temp_store=MEMORY")
            self._db.executescript(_DDL)
            self._check_version()
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailable(f"cannot open case file {self.path}: {exc}") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot open case file {self.path}: {exc.strerror}") from None
        self._ids: _IdCache | None = None
        self._ids_version = -1  # PRAGMA data_version the id cache was read at
        self._files: dict[int, FileLoad] = {}  # ledger records by file id, for provenance
        self._writer = _WriterLock(self.path.with_name(self.path.name + ".lock"), self.path,
                                   self._mark_interrupted)

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise StoreUnavailable(
                f"case file {self.path} has store schema {row[0]}, this ringmap needs "
                f"{SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

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
    def file_load(self, sha256: str, mapping_digest: str) -> FileLoad | None:
        row = self._db.execute(
            "SELECT record FROM files WHERE sha256=? AND mapping_digest=?",
            (sha256, mapping_digest)).fetchone()
        return FileLoad.model_validate_json(row[0]) if row else None

    def _load_file(self, load: FileLoad, batches: Iterable[Batch]) -> FileLoad:
        db = self._db
        self._files.clear()
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA data_version").fetchone()[0]
            if version != self._ids_version:  # another connection wrote since the cache
                self._ids, self._ids_version = None, version
            db.execute("DELETE FROM files WHERE sha256=? AND mapping_digest=? AND "
                       "json_extract(record, '$.complete') = 0",
                       (load.sha256, load.mapping_digest))
            cur = db.execute(
                "INSERT INTO files (sha256, mapping_digest, record) VALUES (?, ?, ?)",
                (load.sha256, load.mapping_digest, load.model_dump_json()))
            file_id = cur.lastrowid
            assert file_id is not None
            for batch in batches:
                self._write_batch(file_id, batch)
            done = load.model_copy(update={"complete": True})
            db.execute("UPDATE files SET record=? WHERE file_id=?",
                       (done.model_dump_json(), file_id))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._ids = None  # the cache may hold rolled-back ids
            raise
        return done

    def _id_cache(self) -> _IdCache:
        if self._ids is None:
            self._ids = _IdCache(self._db)
        return self._ids

    def _write_batch(self, file_id: int, batch: Batch) -> None:
        ids = self._id_cache()
        merged: dict[str, tuple[str, dict[str, Any]]] = {}
        for node in batch.nodes:
            seen = merged.get(node.id)
            if seen is None:
                merged[node.id] = (node.type, {k: v for k, v in node.props.items()
                                               if v is not None})
            else:
                merge_props(seen[1], node.props)
        node_rows = []
        for node_id, (type_, props) in merged.items():
            nid, _ = ids.node(node_id)
            if ids.changed(("n", nid), props):
                node_rows.append((nid, node_id, type_, encode_props(props)))
        self._db.executemany(
            "INSERT INTO nodes (nid, id, type, props) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET props = json_patch(nodes.props, excluded.props)",
            node_rows)

        edge_props: dict[tuple[str, int, int], dict[str, Any]] = {}
        edge_keys: dict[str, tuple[str, int, int]] = {}
        for edge in batch.edges:
            key = (edge.type, ids.nids[edge.src], ids.nids[edge.dst])
            edge_keys[edge.id] = key
            merge_props(edge_props.setdefault(key, {}), edge.props)
        edge_rows = []
        for key, props in edge_props.items():
            eid, known = ids.edge(key)
            if known and key[0] in _TEMPORAL_RELS and props:
                old = self._db.execute("SELECT props FROM edges WHERE eid=?", (eid,)).fetchone()
                props = merge_props(decode_props(key[0], old[0]), props) if old else props
            if ids.changed(("e", eid), props):
                edge_rows.append((eid, *key, encode_props(props)))
        self._db.executemany(
            "INSERT INTO edges (eid, type, src, dst, props) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (type, src, dst) DO UPDATE SET "
            "props = json_patch(edges.props, excluded.props)",
            edge_rows)

        node_rows_seen: dict[int, list[int]] = {}
        edge_rows_seen: dict[int, list[int]] = {}
        refs: dict[int, str] = {}
        nids, eids = ids.nids, ids.eids
        for sighting in batch.sightings:
            item, row = sighting.item, sighting.row
            node_nid = nids.get(item)
            if node_nid is not None:
                rows = node_rows_seen.get(node_nid)
                if rows is None:
                    node_rows_seen[node_nid] = [row]
                else:
                    rows.append(row)
            else:
                edge_key = edge_keys.get(item)
                if edge_key is None:
                    raise StoreError(f"sighting of unknown item {item!r}")
                edge_rows_seen.setdefault(eids[edge_key], []).append(row)
            if sighting.ref:
                refs[row] = sighting.ref
        self._db.executemany("INSERT INTO node_sightings VALUES (?, ?, ?)",
                             [(k, file_id, _pack(v)) for k, v in node_rows_seen.items()])
        self._db.executemany("INSERT INTO edge_sightings VALUES (?, ?, ?)",
                             [(k, file_id, _pack(v)) for k, v in edge_rows_seen.items()])
        self._db.executemany("INSERT OR REPLACE INTO row_refs VALUES (?, ?, ?)",
                             [(file_id, row, ref) for row, ref in refs.items()])

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
        node = self._db.execute("SELECT nid FROM nodes WHERE id=?", (item_id,)).fetchone()
        if node is not None:
            sql = "SELECT file_id, rows FROM node_sightings WHERE nid=?"
            key: int = node[0]
        else:
            eid = self._edge_rowid(item_id)
            if eid is None:
                return []
            sql, key = "SELECT file_id, rows FROM edge_sightings WHERE eid=?", eid
        sightings = sorted({(file_id, int(row)) for file_id, rows in
                            self._db.execute(sql, (key,)) for row in rows.split(",")})
        out: list[Provenance] = []
        for file_id, rows_seen in groupby(sightings, key=lambda fr: fr[0]):
            load = self._file(file_id)
            rows = [row for _, row in rows_seen]
            refs = dict(self._db.execute(
                "SELECT row, ref FROM row_refs WHERE file_id=? AND row IN "
                "(SELECT value FROM json_each(?))", (file_id, json.dumps(rows))))
            # built from this store's own ledger: no need to validate again
            out.extend(Provenance.model_construct(
                source_file=load.source_file, sha256=load.sha256, row=row, ref=refs.get(row),
                run_id=load.run_id, ingested_at=load.ingested_at, grading=load.grading)
                for row in rows)
        return out

    def _file(self, file_id: int) -> FileLoad:
        load = self._files.get(file_id)
        if load is None:
            record = self._db.execute("SELECT record FROM files WHERE file_id=?",
                                      (file_id,)).fetchone()
            load = self._files[file_id] = FileLoad.model_validate_json(record[0])
        return load

    def _edge_rowid(self, edge_id: str) -> int | None:
        type_, sep, rest = edge_id.partition(":")
        src, arrow, dst = rest.partition("->")
        if not sep or not arrow:
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
            "SELECT e.type, s.id, d.id, GROUP_CONCAT(DISTINCT es.file_id) "
            "FROM edge_sightings es JOIN edges e ON e.eid = es.eid "
            "JOIN nodes s ON s.nid = e.src JOIN nodes d ON d.nid = e.dst GROUP BY es.eid")
        return {edge_id(type_, src, dst): frozenset(gradings[int(f)] for f in files.split(","))
                for type_, src, dst, files in rows}

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

    def save_cells(self, run: AnalysisRun, cells: list[CellRecord]) -> None:
        with self.writing(run.kind):
            self._save_cells(run, cells)

    def _save_cells(self, run: AnalysisRun, cells: list[CellRecord]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM analysis_runs").fetchone()[0]
            db.execute("INSERT INTO analysis_runs VALUES (?, ?, ?, ?)",
                       (run.run_id, run.kind, seq, run.model_dump_json()))
            db.executemany("INSERT INTO cells VALUES (?, ?, ?)",
                           [(run.run_id, c.cell_id, c.model_dump_json()) for c in cells])
            db.executemany("INSERT INTO memberships VALUES (?, ?, ?, ?)",
                           [(run.run_id, c.cell_id, m.node_id, m.confidence)
                            for c in cells for m in c.members])
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

    def load_cells(self, run_id: str) -> list[CellRecord]:
        return [CellRecord.model_validate_json(r[0]) for r in self._db.execute(
            "SELECT record FROM cells WHERE run_id=? ORDER BY cell_id", (run_id,))]

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


def _types_filter(types: Iterable[str] | None) -> list[str] | None:
    return None if types is None else sorted(set(types))


K = TypeVar("K", str, tuple[str, int, int])

_TEMPORAL_RELS = frozenset(name for name, rel in SCHEMA.relationships.items()
                           if "first_seen" in rel.properties)


def _pack(rows: list[int]) -> str:
    return ",".join(map(str, rows))


class _Ids(Generic[K]):
    """Integer ids handed out in order, for keys of one kind."""

    def __init__(self, known: dict[K, int]) -> None:
        self.ids: dict[K, int] = known
        self._next = max(known.values(), default=0) + 1

    def of(self, key: K) -> tuple[int, bool]:
        """The key's integer id, and whether it existed before."""
        found = self.ids.get(key)
        if found is not None:
            return found, True
        new = self.ids[key] = self._next
        self._next += 1
        return new, False


class _IdCache:
    """Integer ids of nodes and relationships, and a digest of what was last written for
    each, kept for the life of a connection (dropped on rollback)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._nodes = _Ids[str](dict(db.execute("SELECT id, nid FROM nodes")))
        self._edges = _Ids[tuple[str, int, int]]({
            (t, s, d): e for e, t, s, d in db.execute("SELECT eid, type, src, dst FROM edges")})
        self.nids, self.eids = self._nodes.ids, self._edges.ids
        self.node, self.edge = self._nodes.of, self._edges.of
        self._written: dict[tuple[str, int], int] = {}

    def changed(self, item: tuple[str, int], props: dict[str, Any]) -> bool:
        """Whether ``props`` differ from what was last written for ``item``: merging the same
        properties again changes nothing, so that write is skipped."""
        try:
            digest = hash(frozenset(props.items()))
        except TypeError:  # a list or set value: hash its canonical text instead
            digest = hash(encode_props(props))
        if self._written.get(item) == digest:
            return False
        self._written[item] = digest
        return True
