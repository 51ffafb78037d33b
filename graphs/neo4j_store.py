"""The Neo4j store: a case in a Neo4j 5 database, shared by analysts, through the official driver.

Every evidence node carries its schema type as its label, an ``id`` property (the ringmap node
id, unique per label) and its properties; relationships carry their schema type. Writes are
``UNWIND $rows`` batches of ``MERGE`` in managed transactions (``execute_write``), one per batch
of evidence rows, each committing its sightings and the file's ledger record together: a killed
ingest leaves the file's ledger at the last committed row (``FileLoad.last_row``) and a rerun
resumes there. A batch at or before that row is skipped inside its transaction, so a retried or
replayed transaction never duplicates provenance. Cypher lives in :mod:`ringmap.graphs.cypher`.

Configuration: ``NEO4J_URI``, ``NEO4J_USERNAME`` (default ``neo4j``), ``NEO4J_PASSWORD`` and
``NEO4J_DATABASE`` (default ``neo4j``), or the arguments of :meth:`Neo4jStore.connect`. The
password is never printed, logged or put in a message.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime, timezone
from functools import lru_cache
from itertools import islice, repeat
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import neo4j
import numpy as np
from neo4j import GraphDatabase, ManagedTransaction
from neo4j.exceptions import (
    AuthError,
    ClientError,
    ConfigurationError,
    ConstraintError,
    DatabaseUnavailable,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from ringmap.errors import NotFound, QueryTimeout, SchemaError, StoreError, StoreUnavailable
from ringmap.graphs import cypher, neo4j_cells
from ringmap.graphs.codec import (
    Columns,
    datetime_props,
    decode_many,
    decode_props,
    encode_props,
    iso,
    merge_props,
    scan_columns,
)
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
    edge_id,
)
from ringmap.graphs.sameas import SAME_AS
from ringmap.graphs.schema import SCHEMA
from ringmap.graphs.statements import Stated, shown_props
from ringmap.graphs.store import PackedGraph, Store, graded_keys, looked_up

if TYPE_CHECKING:
    from ringmap.graphs.neo4j_bulk import BulkLoad
    from ringmap.queries.catalog import QuerySpec

__all__ = ["DEFAULT_BATCH_ROWS", "Neo4jStore", "require_version"]

#: evidence rows per write transaction (smaller engine batches are combined up to this)
DEFAULT_BATCH_ROWS = 10_000
#: records per ``UNWIND`` statement inside a transaction
_UNWIND_ROWS = 20_000
#: database ids per read of the relationships' files (:meth:`Neo4jStore.packed_gradings`):
#: what the server groups at once
_ID_RANGE = 100_000
_ROW_BITS = 32  # a sighting packs ``file_seq << 32 | row`` into one integer
_ROW_MASK = (1 << _ROW_BITS) - 1

T = TypeVar("T")
Props = dict[str, Any]

#: the schema's properties of each entity and relationship type
_KNOWN: dict[str, frozenset[str]] = {
    **{name: frozenset(spec.properties) for name, spec in SCHEMA.entities.items()},
    **{name: frozenset(spec.properties) for name, spec in SCHEMA.relationships.items()},
}

def _driver(uri: str, auth: tuple[str, str] | None) -> neo4j.Driver:
    return GraphDatabase.driver(uri, auth=auth, user_agent="ringmap",
                                notifications_min_severity="OFF")


def _redact(uri: str) -> str:
    """The URI without any ``user:password@`` part, for messages."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable URI>"
    # a query string may carry a password (?password=...): never shown
    return parts._replace(netloc=parts.netloc.rpartition("@")[2], query="",
                          fragment="").geturl()


def require_version(agent: str, where: str) -> None:
    """Refuse a server older than Neo4j 5, from its agent string (``Neo4j/5.26.0``).

    Examples
    --------

    >>> require_version("Neo4j/5.26.30", "Neo4j at bolt://127.0.0.1:7687")
    >>> require_version("Neo4j/4.4.12", "Neo4j at bolt://db:7687")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ringmap.errors.StoreUnavailable: Neo4j at bolt://db:7687 runs Neo4j/4.4.12; ...
    """
    product, _, version = agent.partition("/")
    major = version.split(".")[0]
    if product != "Neo4j" or not major.isdigit() or int(major) < 5:
        raise StoreUnavailable(
            f"{where} runs {agent}; ringmap needs Neo4j 5 or later (e.g. 5.26 LTS)")


def _file_key(sha256: str, mapping_digest: str) -> str:
    """The ledger key of a file loaded with a mapping."""
    return hashlib.sha256(f"{sha256}\0{mapping_digest}".encode()).hexdigest()[:32]


def _seqs(texts: Iterable[str]) -> set[int]:
    """The file numbers of the loads an item's ``_st`` names."""
    return {int(text.partition(" ")[0]) for text in texts}


def _label(node_id: str) -> str | None:
    """The schema label of a node id (``Type:key``, see ``graphs.schema.node_id``), if any."""
    label = node_id.partition(":")[0]
    return label if label in SCHEMA.entities else None


_RESERVED = frozenset({"id", cypher.SIGHTINGS, cypher.STATEMENTS})


def _to_neo(type_name: str, props: Mapping[str, Any]) -> tuple[Props, Props, cypher.Shape]:
    """Property values as they travel to Neo4j: the schema's properties with the shape of the
    row (see :func:`ringmap.graphs.cypher.merge_nodes`), and any others.

    Nulls are dropped; schema datetimes travel as ISO text the server turns back into
    datetimes; other datetimes and dates become ISO text, tuples lists and sets sorted lists
    (as the embedded store's codec does).
    """
    datetimes = datetime_props(type_name)
    known = _KNOWN[type_name]
    out: Props = {}
    extra: Props = {}
    shape: list[tuple[str, cypher.ValueKind]] = []
    for key, value in props.items():
        if value is None:
            continue
        kind: cypher.ValueKind = "v"
        if isinstance(value, datetime):
            if key in datetimes:
                kind = "ldt" if value.tzinfo is None else "dt"
            value = iso(value)
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, set | frozenset):
            value = sorted(value)
        elif isinstance(value, dict):
            raise StoreError(f"property {key!r} of {type_name} is a mapping; Neo4j stores "
                             "values and lists only")
        if key in known:
            out[key] = value
            shape.append((key, kind))
        elif key in _RESERVED:
            raise StoreError(f"{type_name} may not have a property named {key!r}")
        else:
            extra[key] = value
    return out, extra, tuple(shape)


def _native(value: Any) -> Any:
    """A property value as the embedded store returns it (datetimes with fixed offsets)."""
    if isinstance(value, neo4j.time.DateTime):
        native = value.to_native()
        offset = native.utcoffset()
        return native if offset is None else native.replace(tzinfo=timezone(offset))
    return value


def _props(pairs: list[list[Any]]) -> Props:
    return {key: _native(value) for key, value in pairs}


def _text(pairs: list[list[Any]]) -> bytes:
    """Properties as the packed read has them (datetimes as ISO text) as the embedded store's
    JSON text, which :func:`~ringmap.graphs.codec.decode_many` parses as it parses that."""
    return encode_props(dict(pairs)).encode() if pairs else b"{}"


def _node_rows(tx: ManagedTransaction, labels: list[str], ids: list[str]
               ) -> Iterator[tuple[int, str, bytes]]:
    """The nodes of ``labels`` as :func:`~ringmap.graphs.codec.scan_columns` reads them, a
    page at a time; their ids appended to ``ids``."""
    keep = ids.extend
    for label in labels:
        for nids, page, props in tx.run(cypher.PACKED_NODES[label]):
            keep(page)
            yield from zip(nids, repeat(label), map(_text, props))


def _edge_rows(tx: ManagedTransaction, rels: list[str]
               ) -> Iterator[tuple[int, int, int, str, bytes]]:
    """The relationships of ``rels`` as :func:`~ringmap.graphs.codec.scan_columns` reads
    them, a page at a time."""
    for rel in rels:
        for eids, srcs, dsts, props in tx.run(cypher.PACKED_EDGES[rel]):
            yield from zip(eids, srcs, dsts, repeat(rel), map(_text, props))


class _Payload:
    """The items and sightings of one write transaction, merged before it starts; the values
    shown are worked out inside it (:meth:`statements`), from what other loads stated."""

    def __init__(self, file_seq: int, committed: int, batches: list[Batch]) -> None:
        self.file_seq = file_seq
        self.last_row = batches[-1].last_row
        self.first_row = committed + 1
        base = file_seq << _ROW_BITS
        sightings: dict[str, list[int]] = defaultdict(list)
        self.refs: dict[int, str] = {}
        self.nodes: dict[str, tuple[str, Props]] = {}
        self.edges: dict[str, Edge] = {}
        for batch in batches:
            for node in batch.nodes:
                seen = self.nodes.get(node.id)
                if seen is None:
                    self.nodes[node.id] = (node.type, dict(node.props))
                else:
                    merge_props(seen[1], node.props)
            for edge in batch.edges:
                key = edge.id
                known = self.edges.get(key)
                if known is None:
                    self.edges[key] = Edge(edge.type, edge.src, edge.dst, dict(edge.props))
                else:
                    merge_props(known.props, edge.props)
            for sighting in batch.sightings:
                if sighting.row > committed:  # rows up to ``committed`` are in the store
                    sightings[sighting.item].append(base | sighting.row)
                    if sighting.ref:
                        self.refs[sighting.row] = sighting.ref
        unknown = sightings.keys() - self.nodes.keys() - self.edges.keys()
        if unknown:
            raise StoreError(f"sighting of an item not in its batch: {min(unknown)!r}")
        self.sightings = sightings
        for type_name, _props in self.nodes.values():
            if type_name not in SCHEMA.entities:
                raise SchemaError(f"unknown entity type {type_name!r}")
        for edge in self.edges.values():
            if edge.type not in SCHEMA.relationships:
                raise SchemaError(f"unknown relationship type {edge.type!r}")

    def lookups(self) -> tuple[dict[str, list[str]], dict[tuple[str, str, str], list[Props]]]:
        """The node ids per label and relationship ends per (type, labels) to read the
        statements of."""
        ids: dict[str, list[str]] = defaultdict(list)
        for node_id, (type_name, _props) in self.nodes.items():
            ids[type_name].append(node_id)
        pairs: dict[tuple[str, str, str], list[Props]] = defaultdict(list)
        for edge in self.edges.values():
            pairs[_ends(edge)].append({"src": edge.src, "dst": edge.dst})
        return ids, pairs

    def statements(self, stated: Mapping[str, list[str]], loads: Mapping[int, FileLoad]
                   ) -> list[tuple[str, list[Props]]]:
        """The write statements and their rows, given what each item's ``_st`` holds now
        and the ledger records of the loads it names.

        An item not in ``stated`` is new and is created (no lookup, no lock on a match); an
        existing one whose values shown stay as they are only gets its new sightings (and
        its statements when this load's statement of it changed); the others are merged.
        """
        writes: dict[tuple[Any, ...], list[Props]] = defaultdict(list)
        for node_id, (type_name, props) in self.nodes.items():
            old = stated.get(node_id)
            shown, texts = _restated(type_name, old, self.file_seq, props, loads)
            row: Props = {"id": node_id, "sr": self.sightings.get(node_id, [])}
            if old is not None and texts == old:
                writes[cypher.sight_nodes, type_name, False].append(row)
                continue
            row["st"] = texts
            if shown is None:
                writes[cypher.sight_nodes, type_name, True].append(row)
                continue
            values, extra, shape = _to_neo(type_name, shown)
            row["p"] = values
            if extra:
                row["x"] = extra
            writes[cypher.merge_nodes, type_name, shape, bool(extra), old is None].append(row)
        for key, edge in self.edges.items():
            old = stated.get(key)
            shown, texts = _restated(edge.type, old, self.file_seq, edge.props, loads)
            row = {"src": edge.src, "dst": edge.dst, "sr": self.sightings.get(key, [])}
            if old is not None and texts == old:
                writes[cypher.sight_edges, *_ends(edge), False].append(row)
                continue
            row["st"] = texts
            if shown is None:
                writes[cypher.sight_edges, *_ends(edge), True].append(row)
                continue
            values, extra, shape = _to_neo(edge.type, shown)
            row["p"] = values
            if extra:
                row["x"] = extra
            writes[cypher.merge_edges, *_ends(edge), shape, bool(extra), old is None
                   ].append(row)
        return [(build(*args), rows) for (build, *args), rows in writes.items()]


def _ends(edge: Edge) -> tuple[str, str, str]:
    """A relationship's type and the labels of its ends (``?`` for an id of no label)."""
    return edge.type, _label(edge.src) or "?", _label(edge.dst) or "?"


def _parse(type_name: str, texts: Iterable[str]) -> dict[int, Props]:
    """The statements of an item's ``_st``, by file number."""
    out: dict[int, Props] = {}
    for text in texts:
        seq, _, props = text.partition(" ")
        out[int(seq)] = decode_props(type_name, props)
    return out


def _restated(type_name: str, texts: list[str] | None, file_seq: int, props: Props,
              loads: Mapping[int, FileLoad]) -> tuple[Props | None, list[str]]:
    """The values shown and the ``_st`` of an item once the load ``file_seq`` states
    ``props`` (merged into what it stated in earlier transactions); the values shown are
    ``None`` when the item exists (``texts`` not ``None``) and they stay as they are."""
    stated = _parse(type_name, texts or [])
    before = _shown(stated, loads) if texts is not None else None
    mine = stated.get(file_seq)
    stated[file_seq] = props if mine is None else merge_props(mine, props)
    texts = [f"{seq} {encode_props(found)}" for seq, found in sorted(stated.items())]
    after = _shown(stated, loads)
    return (None if after == before else after), texts


def _shown(stated: dict[int, Props], loads: Mapping[int, FileLoad]) -> Props:
    """The values an item stated by these loads shows (nulls left out)."""
    if len(stated) == 1:
        return {k: v for k, v in next(iter(stated.values())).items() if v is not None}
    return shown_props((loads[seq], seq, found) for seq, found in stated.items())


class Neo4jStore(Store):
    """A case in a Neo4j 5 database; see the module docstring for the graph layout.

    Examples
    --------
    >>> store = Neo4jStore.connect("bolt://127.0.0.1:7687")  # doctest: +SKIP
    >>> store.counts().total_nodes  # doctest: +SKIP
    0
    """

    kind: ClassVar[str] = "neo4j"

    def __init__(self, driver: neo4j.Driver, uri: str, database: str, batch_size: int,
                 auth: tuple[str, str] | None = None) -> None:
        self._driver = driver
        self._uri, self._auth = uri, auth  # to connect again after a bulk import
        self._bulk: BulkLoad | None = None  # set while loads collect for the bulk importer
        # reads see this store's earlier writes also on a cluster (causal consistency)
        self._bookmarks = GraphDatabase.bookmark_manager()
        self.uri = _redact(uri)
        self.database = database
        self.batch_size = batch_size
        self._ledger_records: dict[int, FileLoad] = {}  # by file number: gradings, times

    @classmethod
    def connect(
        cls,
        uri: str | None = None,
        database: str | None = None,
        username: str | None = None,
        password: str | None = None,
        batch_size: int | None = None,
    ) -> Neo4jStore:
        """Connect, check the server and database, and create constraints and indexes.

        Parameters
        ----------
        uri
            Bolt or neo4j URI; default ``NEO4J_URI``.
        database
            Database name; default ``NEO4J_DATABASE`` or ``neo4j``.
        username, password
            Credentials; default ``NEO4J_USERNAME`` (or ``neo4j``) and ``NEO4J_PASSWORD``.
        batch_size
            Evidence rows per write transaction (default 10,000).

        Raises
        ------
        StoreUnavailable
            The server is down, refuses the login, lacks the database or is older than 5.
        """
        uri = uri or os.environ.get("NEO4J_URI")
        if not uri:
            raise StoreUnavailable("no Neo4j URI: pass --neo4j URI or set NEO4J_URI")
        database = database or os.environ.get("NEO4J_DATABASE") or "neo4j"
        username = username or os.environ.get("NEO4J_USERNAME") or "neo4j"
        if password is None:
            password = os.environ.get("NEO4J_PASSWORD")
        if batch_size is not None and batch_size < 1:
            raise StoreError(f"batch size must be at least 1, not {batch_size}")
        shown = _redact(uri)
        if shown != uri:
            raise StoreUnavailable(f"Neo4j URI {shown} carries credentials: put them in "
                                   "NEO4J_USERNAME and NEO4J_PASSWORD instead")
        auth = None if password is None else (username, password)
        try:
            driver = _driver(uri, auth)
        except (ConfigurationError, ValueError) as exc:
            raise StoreUnavailable(f"cannot use Neo4j URI {shown}: {exc}") from None
        store = cls(driver, uri, database, batch_size or DEFAULT_BATCH_ROWS, auth)
        try:
            store._check_server(username)
            store._ensure_schema()
        except BaseException:
            driver.close()
            raise
        return store

    @property
    def password(self) -> str | None:
        """The password this store logs in with (for the launcher; never shown)."""
        return None if self._auth is None else self._auth[1]

    def reconnect(self) -> None:
        """A new driver (the server was restarted: a bulk import), schema ensured."""
        self._driver.close()
        self._driver = _driver(self._uri, self._auth)
        self._bookmarks = GraphDatabase.bookmark_manager()  # the old database's are void
        self._ensure_schema()

    def bulk_loading(self, wanted: bool | None, size: int) -> AbstractContextManager[bool]:
        """Loads inside the block go through Neo4j's bulk importer when the database is
        empty (:func:`ringmap.graphs.neo4j_bulk.bulk_loading`)."""
        from ringmap.graphs.neo4j_bulk import bulk_loading

        return bulk_loading(self, wanted, size)

    def _check_server(self, username: str) -> None:
        where = f"Neo4j at {self.uri}"
        try:
            self._driver.verify_connectivity()
            agent = self._driver.get_server_info().agent
            with self.session() as session:
                session.run("RETURN 1").consume()
        except AuthError:
            raise StoreUnavailable(
                f"{where} refused the login of user {username!r}: check NEO4J_USERNAME and "
                "NEO4J_PASSWORD") from None
        except ServiceUnavailable:
            raise StoreUnavailable(
                f"cannot reach {where}: is the server running? Start one with "
                "tools/neo4j-dev/neo4j-dev start or check NEO4J_URI") from None
        except ClientError as exc:
            if (exc.code or "").startswith("Neo.ClientError.Security."):
                raise StoreUnavailable(
                    f"{where} refused the login of user {username!r} ({exc.code}): check "
                    "NEO4J_USERNAME and NEO4J_PASSWORD") from None
            if exc.code == "Neo.ClientError.Database.DatabaseNotFound":
                raise StoreUnavailable(
                    f"{where} has no database {self.database!r}: check --database / "
                    "NEO4J_DATABASE (Neo4j Community has only 'neo4j')") from None
            raise StoreUnavailable(f"{where} refused the connection: {exc.message}") from None
        except (Neo4jError, DriverError) as exc:
            raise StoreUnavailable(f"{where} is not usable: {exc}") from None
        require_version(agent, where)

    def _ensure_schema(self) -> None:
        with self._errors(), self.session() as session:
            existing = {r["name"] for r in session.run(cypher.SHOW_CONSTRAINTS)}
            existing |= {r["name"] for r in session.run(cypher.SHOW_INDEXES)}
            missing = [s for n, s in cypher.SCHEMA_STATEMENTS.items() if n not in existing]
            for statement in missing:
                session.run(statement).consume()
            if missing:
                session.run(cypher.AWAIT_INDEXES).consume()

    # -- plumbing --------------------------------------------------------------------------
    def session(self) -> neo4j.Session:
        """A driver session on the store's database (tools that need the driver itself)."""
        return self._driver.session(database=self.database, bookmark_manager=self._bookmarks)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver failures during work as the library's errors (bugs keep their tracebacks)."""
        try:
            yield
        except (ServiceUnavailable, SessionExpired, DatabaseUnavailable):
            raise StoreUnavailable(
                f"lost the connection to Neo4j at {self.uri}; rerun to resume") from None
        except TransientError as exc:
            raise StoreError(f"Neo4j at {self.uri} kept failing ({exc.code}); try again") from None
        except ConstraintError as exc:
            raise StoreError(f"Neo4j at {self.uri} refused the write: {exc.message}") from None

    def _write(self, work: Callable[[ManagedTransaction], T]) -> T:
        with self._errors(), self.session() as session:
            return session.execute_write(work)

    def _read(self, statement: str, **params: Any) -> list[neo4j.Record]:
        def work(tx: ManagedTransaction) -> list[neo4j.Record]:
            return list(tx.run(statement, params))

        with self._errors(), self.session() as session:
            return session.execute_read(work)

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self._driver.close()

    def describe(self) -> str:
        return f"neo4j:{self.uri} database {self.database}"

    def wipe(self) -> None:
        """Delete every node and relationship of the database (keeps constraints)."""
        with self._errors(), self.session() as session:
            session.run(cypher.WIPE).consume()
        self._ledger_records.clear()  # file numbers start again at 1

    # -- ingest ----------------------------------------------------------------------------
    def file_load(self, sha256: str, mapping_digest: str) -> FileLoad | None:
        if self._bulk is not None:
            return self._bulk.file_load(_file_key(sha256, mapping_digest))
        rows = self._read(cypher.FILE_BY_KEY, fid=_file_key(sha256, mapping_digest))
        return _ledger(rows[0]) if rows else None

    def _load(self, load: FileLoad, batches: Iterable[Batch | BatchColumns]) -> FileLoad:
        if self._bulk is not None:  # the bulk path spills the engine's columns as they are
            return self._bulk.load_file(_file_key(load.sha256, load.mapping_digest), load,
                                        batches)
        return super()._load(load, batches)

    def _load_file(self, load: FileLoad, batches: Iterable[Batch]) -> FileLoad:
        fid = _file_key(load.sha256, load.mapping_digest)
        begun = self._write(lambda tx: tx.run(
            cypher.FILE_BEGIN, fid=fid, sha256=load.sha256, mapping_digest=load.mapping_digest,
            record=load.model_copy(update={"complete": False}).model_dump_json()).single(
                strict=True))
        file_seq: int = begun["seq"]
        committed: int = begun["last_row"]
        pending: list[Batch] = []
        # one transaction in flight while the next batch is prepared: Python and the server
        # work at the same time, and batches still commit one after another, in order
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ringmap-neo4j") as writer:
            in_flight: Future[None] | None = None
            for batch in batches:
                if batch.last_row <= committed and not pending:
                    continue  # committed by an earlier, interrupted load of this file
                pending.append(batch)
                if batch.last_row - committed >= self.batch_size:
                    in_flight, committed = self._commit(
                        writer, in_flight, fid, file_seq, committed, load, pending)
                    pending = []
            if pending:
                in_flight, committed = self._commit(
                    writer, in_flight, fid, file_seq, committed, load, pending)
            if in_flight is not None:
                in_flight.result()
        done = load.model_copy(update={"complete": True,
                                       "last_row": max(committed, load.last_row)})
        self._write(lambda tx: tx.run(cypher.FILE_COMPLETE, fid=fid,
                                      record=done.model_dump_json()).consume())
        return done

    def _commit(
        self,
        writer: ThreadPoolExecutor,
        in_flight: Future[None] | None,
        fid: str,
        file_seq: int,
        committed: int,
        load: FileLoad,
        batches: list[Batch],
    ) -> tuple[Future[None] | None, int]:
        """Hand batches to the writer as one transaction that also moves the ledger to their
        last row, once the transaction before it has committed."""
        payload = _Payload(file_seq, committed, batches)
        record = load.model_copy(update={"complete": False, "last_row": payload.last_row})
        if in_flight is not None:
            in_flight.result()  # raises what the previous transaction raised
        future = writer.submit(self._write, lambda tx: self._write_batch(
            tx, fid, file_seq, committed, record, payload))
        return future, payload.last_row

    def _write_batch(
        self,
        tx: ManagedTransaction,
        fid: str,
        file_seq: int,
        committed: int,
        record: FileLoad,
        payload: _Payload,
    ) -> None:
        """The unit of work of one batch; safe to run again (the driver retries it)."""
        previous = tx.run(cypher.LEDGER_STEP, fid=fid, last_row=payload.last_row,
                          record=record.model_dump_json()).single(strict=True)["previous"]
        if previous >= payload.last_row:
            return  # this batch committed already (a retry after a lost commit reply)
        if previous != committed:
            raise StoreError(f"{record.source_file} is being loaded by another process")
        ids, pairs = payload.lookups()
        stated = self._stated(tx, ids, pairs)
        loads = self._loads(tx, {seq for texts in stated.values() for seq in _seqs(texts)})
        for statement, rows in payload.statements(stated, {**loads, file_seq: record}):
            for start in range(0, len(rows), _UNWIND_ROWS):
                chunk = rows[start:start + _UNWIND_ROWS]
                found = tx.run(statement, rows=chunk).single()
                if found is not None and found["merged"] != len(chunk):
                    raise StoreError(f"{len(chunk) - found['merged']} relationship(s) in rows "
                                     f"up to {payload.last_row} join nodes that do not exist")
        if payload.refs:
            rows_with_refs = sorted(payload.refs)
            tx.run(cypher.SAVE_ROW_REFS, file_seq=file_seq, first_row=payload.first_row,
                   last_row=payload.last_row, rows=rows_with_refs,
                   refs=[payload.refs[r] for r in rows_with_refs]).consume()

    def _stated(self, tx: ManagedTransaction | None, ids: Mapping[str, list[str]],
                pairs: Mapping[tuple[str, str, str], list[Props]]) -> dict[str, list[str]]:
        """The ``_st`` of the nodes ``ids`` (per label) and relationships ``pairs`` (per type
        and end labels) that exist, by item id; in ``tx``, or in a read transaction."""
        def run(statement: str, **params: Any) -> list[neo4j.Record]:
            return self._read(statement, **params) if tx is None else list(
                tx.run(statement, params))

        found: dict[str, list[str]] = {}
        for label, group in ids.items():
            for record in run(cypher.STATED_NODES[label], ids=group):
                found[record["id"]] = record["st"] or []
        for key, ends in pairs.items():
            if key in cypher.STATED_EDGES:
                for record in run(cypher.STATED_EDGES[key], pairs=ends):
                    found[edge_id(key[0], record["src"], record["dst"])] = record["st"] or []
        return found

    def _loads(self, tx: ManagedTransaction | None, seqs: Iterable[int]) -> dict[int, FileLoad]:
        """The ledger records of the files numbered ``seqs`` (remembered: a load's grading
        and time never change)."""
        wanted = set(seqs)
        missing = sorted(wanted - self._ledger_records.keys())
        if missing:
            rows = (self._read(cypher.FILE_RECORDS, seqs=missing) if tx is None else
                    list(tx.run(cypher.FILE_RECORDS, seqs=missing)))
            self._ledger_records.update((int(r["seq"]), FileLoad.model_validate_json(r["record"]))
                                        for r in rows)
        return {seq: self._ledger_records[seq] for seq in wanted}

    def _retract(self, loads: list[FileLoad], retraction: Retraction,
                 on_step: Callable[[str], None]) -> Retracted:
        def work(tx: ManagedTransaction) -> Retracted:
            found: list[tuple[int, str, FileLoad]] = []
            for load in loads:
                fid = _file_key(load.sha256, load.mapping_digest)
                record = tx.run(cypher.FILE_BY_KEY, fid=fid).single()
                if record is None:
                    raise NotFound(f"{load.source_file} ({load.mapping}) is not loaded in "
                                   f"{self.describe()}: nothing to retract")
                found.append((int(record["seq"]), fid, _ledger(record)))
            seqs = {seq for seq, _fid, _load in found}
            prefixes = [f"{seq} " for seq in sorted(seqs)]
            done = Retracted(files=[load.source_file for _seq, _fid, load in found])
            for kind in ("relationships", "nodes"):  # relationships first: a node they join
                keep: list[Props] = []               # stays
                gone: list[Props] = []
                queries = (cypher.RETRACT_EDGES if kind == "relationships" else
                           cypher.RETRACT_NODES)
                for type_name, statement in queries.items():
                    for record in tx.run(statement, prefixes=prefixes):
                        left = self._left(tx, type_name, dict(record["props"]), seqs)
                        (keep if left[1] else gone).append({"eid": record["eid"],
                                                            "props": left[0]})
                if kind == "relationships":
                    tx.run(cypher.RESTATE_EDGES, rows=keep).consume()
                    done.relationships_removed = tx.run(
                        cypher.DELETE_EDGES, ids=[g["eid"] for g in gone]).single(
                            strict=True)["removed"]
                    done.relationships_restated = len(keep)
                else:
                    tx.run(cypher.RESTATE_NODES, rows=keep + gone).consume()
                    done.nodes_removed = tx.run(
                        cypher.DELETE_NODES, ids=[g["eid"] for g in gone],
                        types=list(cypher.RELATIONSHIP_TYPES)).single(strict=True)["removed"]
                    done.nodes_restated = len(keep)
                on_step(kind)
            tx.run(cypher.DELETE_ROW_REFS, seqs=sorted(seqs)).consume()
            tx.run(cypher.RETRACT_FILES, rows=[
                {"seq": seq, "fid": f"{fid}-retracted-{seq}",
                 "record": load.model_copy(update={"retracted": retraction}).model_dump_json()}
                for seq, fid, load in found]).consume()
            on_step("ledger")
            return done

        return self._write(work)

    def _left(self, tx: ManagedTransaction, type_name: str, props: Props, seqs: set[int]
              ) -> tuple[Props, bool]:
        """Every property of an item once the loads ``seqs`` are retracted, and whether any
        other load still states it (if none, its shown values are left as they were)."""
        texts = [t for t in props.get(cypher.STATEMENTS) or []
                 if int(t.partition(" ")[0]) not in seqs]
        sightings = [s for s in props.get(cypher.SIGHTINGS) or [] if s >> _ROW_BITS not in seqs]
        kept = {cypher.SIGHTINGS: sightings, cypher.STATEMENTS: texts}
        if not texts:
            return {**props, **kept}, False
        stated = _parse(type_name, texts)
        shown = shown_props((load, seq, stated[seq])
                            for seq, load in self._loads(tx, stated).items())
        ident = {"id": props["id"]} if "id" in props else {}
        return {**ident, **shown, **kept}, True

    def record_run(self, run: IngestRun) -> None:
        if self._bulk is not None:
            self._bulk.record_run(run)
            return
        self._write(lambda tx: tx.run(cypher.RECORD_RUN, run_id=run.run_id, started=run.started,
                                      record=run.model_dump_json()).consume())

    def runs(self) -> list[IngestRun]:
        runs = [IngestRun.model_validate_json(r["record"]) for r in
                self._read(cypher.INGEST_RUNS)]
        return sorted(runs, key=lambda r: (r.started, r.run_id))

    def file_loads(self) -> list[FileLoad]:
        return [_ledger(r) for r in self._read(cypher.FILE_LOADS)]

    # -- reads -----------------------------------------------------------------------------
    def get(self, node_id: str) -> Node | None:
        label = _label(node_id)
        if label is None:
            return None
        rows = self._read(cypher.GET_NODE[label], id=node_id)
        return Node(node_id, label, _props(rows[0]["props"])) if rows else None

    def _get_many(self, node_ids: list[str]) -> dict[str, Node]:
        # one statement per label for all its ids: a round trip per node was a fifth of
        # `cells --members` at 600 cells (a get per member of every cell)
        by_label: dict[str, list[str]] = defaultdict(list)
        for node_id in node_ids:
            label = _label(node_id)
            if label is not None:
                by_label[label].append(node_id)

        def work(tx: ManagedTransaction) -> dict[str, Node]:
            return {r["id"]: Node(r["id"], label, _props(r["props"]))
                    for label, ids in by_label.items()
                    for r in tx.run(cypher.GET_NODES[label], ids=ids)}

        if not by_label:
            return {}
        with self._errors(), self.session() as session:
            found = session.execute_read(work)
        return {node_id: found[node_id] for node_id in node_ids if node_id in found}

    def nodes(self, types: Iterable[str] | None = None) -> Iterator[Node]:
        found: list[Node] = []
        for label in _wanted(types, cypher.EVIDENCE_LABELS):
            found.extend(Node(r["id"], label, _props(r["props"]))
                         for r in self._read(cypher.NODES[label]))
        found.sort(key=lambda n: n.id)
        return iter(found)

    def edges(self, types: Iterable[str] | None = None) -> Iterator[Edge]:
        found: list[Edge] = []
        for rel in _wanted(types, cypher.RELATIONSHIP_TYPES):
            found.extend(Edge(rel, r["src"], r["dst"], _props(r["props"]))
                         for r in self._read(cypher.EDGES[rel]))
        found.sort(key=lambda e: (e.type, e.src, e.dst))
        return iter(found)

    def _packed(self, node_types: list[str] | None, rel_types: list[str] | None
                ) -> PackedGraph:
        # the database's integer ids and the properties as JSON text in one buffer, straight
        # into columns (as the embedded store reads its tables): no Node or Edge made, no end
        # looked up by its id as text, no property parsed until someone asks
        labels = _wanted(node_types, cypher.EVIDENCE_LABELS)
        rels = [r for r in _wanted(rel_types, cypher.RELATIONSHIP_TYPES) if r != SAME_AS]

        def work(tx: ManagedTransaction) -> tuple[list[str], Columns, Columns]:
            ids: list[str] = []
            nodes = scan_columns(_node_rows(tx, labels, ids), 1)
            return ids, nodes, scan_columns(_edge_rows(tx, rels), 3)

        with self._errors(), self.session() as session:
            ids, ((nid,), types, node_props), ((eid, src, dst), rel_names, edge_props) = (
                session.execute_read(work))
        order = np.array(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64)
        position = np.empty(len(ids), dtype=np.int64)  # read -> position in id order
        position[order] = np.arange(len(ids))
        by_nid = np.argsort(nid)
        nids, at = nid[by_nid], position[by_nid]
        return PackedGraph.assemble(
            [ids[i] for i in order.tolist()], [types[i] for i in order.tolist()],
            node_props.take(order), rel_names, looked_up(nids, at, src),
            looked_up(nids, at, dst), edge_props, list(self.edges([SAME_AS])), decode_many,
            eid)

    def neighbours(
        self, node_id: str, rel_types: Iterable[str] | None = None
    ) -> list[tuple[Edge, Node]]:
        label = _label(node_id)
        if label is None:
            return []
        rows = self._read(cypher.NEIGHBOURS[label], id=node_id,
                          types=_wanted(rel_types, cypher.RELATIONSHIP_TYPES))
        out = [(Edge(r["type"], r["src"], r["dst"], _props(r["props"])),
                Node(r["oid"], r["otype"], _props(r["oprops"]))) for r in rows]
        out.sort(key=lambda pair: (pair[0].type, pair[1].id, pair[0].src))
        return out

    def provenance(self, item_id: str) -> list[Provenance]:
        prefix, _, rest = item_id.partition(":")
        if prefix in cypher.PROVENANCE_NODE:
            statement, params = cypher.PROVENANCE_NODE[prefix], {"id": item_id}
        else:
            src, arrow, dst = rest.partition("->")
            key = (prefix, _label(src) or "?", _label(dst) or "?")
            if not arrow or key not in cypher.PROVENANCE_EDGE:
                return []
            statement, params = cypher.PROVENANCE_EDGE[key], {"src": src, "dst": dst}

        return _sightings(self._read(statement, **params))

    def provenance_many(self, item_ids: Iterable[str]) -> dict[str, list[Provenance]]:
        found = self._provenance(item_ids, cypher.PROVENANCE_NODES, cypher.PROVENANCE_EDGES)
        return {item: _sightings(records) for item, records in found.items()}

    def provenance_first(self, item_ids: Iterable[str], first: int
                         ) -> dict[str, tuple[list[Provenance], int]]:
        # only the sightings shown cross the wire, and each reference block once, kept only
        # for the rows shown
        found = self._provenance(item_ids, cypher.PROVENANCE_NODES_FIRST,
                                 cypher.PROVENANCE_EDGES_FIRST, first=first)
        wanted: dict[int, set[int]] = defaultdict(set)
        for records in found.values():
            for record in records:
                wanted[record["seq"]].update(record["rows"])
        refs = self._row_refs(wanted)
        return {item: (_sightings(records, refs), int(records[0]["total"]))
                for item, records in found.items()}

    def _row_refs(self, wanted: Mapping[int, set[int]]) -> dict[tuple[int, int], str]:
        """The references of the ``wanted`` rows (by file seq), read block by block as they
        arrive."""
        def work(tx: ManagedTransaction) -> dict[tuple[int, int], str]:
            out: dict[tuple[int, int], str] = {}
            asked = [{"seq": seq, "row": row} for seq, rows in sorted(wanted.items())
                     for row in sorted(rows)]
            for block in tx.run(cypher.ROW_REFS, wanted=asked):
                seq, rows = block["seq"], wanted[block["seq"]]
                out.update(((seq, row), ref) for row, ref in zip(block["rows"], block["refs"],
                                                                  strict=True) if row in rows)
            return out

        if not wanted:
            return {}
        with self._errors(), self.session() as session:
            return session.execute_read(work)

    def _provenance(self, item_ids: Iterable[str], by_label: Mapping[str, str],
                    by_pair: Mapping[tuple[str, str, str], str], **params: Any
                    ) -> dict[str, list[neo4j.Record]]:
        """The rows (one per item and file) of ``by_label``'s statements for the nodes among
        ``item_ids`` and of ``by_pair``'s for the relationships, by item."""
        nodes: dict[str, list[str]] = defaultdict(list)
        edges: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
        for item in dict.fromkeys(item_ids):
            prefix, _, rest = item.partition(":")
            if prefix in by_label:
                nodes[prefix].append(item)
                continue
            src, arrow, dst = rest.partition("->")
            key = (prefix, _label(src) or "?", _label(dst) or "?")
            if arrow and key in by_pair:
                edges[key].append({"src": src, "dst": dst})
        found: dict[str, list[neo4j.Record]] = defaultdict(list)
        for label, ids in nodes.items():
            for record in self._read(by_label[label], ids=ids, **params):
                found[record["item"]].append(record)
        for key, pairs in edges.items():
            for record in self._read(by_pair[key], pairs=pairs, **params):
                found[edge_id(key[0], record["src"], record["dst"])].append(record)
        return found

    def stated_many(self, item_ids: Iterable[str]) -> dict[str, list[Stated]]:
        ids: dict[str, list[str]] = defaultdict(list)
        pairs: dict[tuple[str, str, str], list[Props]] = defaultdict(list)
        types: dict[str, str] = {}
        for item in dict.fromkeys(item_ids):
            prefix, _, rest = item.partition(":")
            types[item] = prefix
            if prefix in SCHEMA.entities:
                ids[prefix].append(item)
                continue
            src, arrow, dst = rest.partition("->")
            if arrow:
                pairs[prefix, _label(src) or "?", _label(dst) or "?"].append(
                    {"src": src, "dst": dst})
        found = self._stated(None, ids, pairs)
        return {item: self._with_loads(types[item], texts)
                for item, texts in found.items() if texts}

    def multi_stated(self, types: Iterable[str] | None = None
                     ) -> Iterator[tuple[str, str, list[Stated]]]:
        found: list[tuple[str, str, list[Stated]]] = []
        for label in _wanted(types, cypher.EVIDENCE_LABELS):
            found += [(r["id"], label, self._with_loads(label, r["st"]))
                      for r in self._read(cypher.MULTI_STATED_NODES[label])]
        for rel in _wanted(types, cypher.RELATIONSHIP_TYPES):
            found += [(edge_id(rel, r["src"], r["dst"]), rel, self._with_loads(rel, r["st"]))
                      for r in self._read(cypher.MULTI_STATED_EDGES[rel])]
        found.sort(key=lambda f: (f[1], f[0]))
        return iter(found)

    def _with_loads(self, type_name: str, texts: list[str]) -> list[Stated]:
        stated = _parse(type_name, texts)
        loads = self._loads(None, stated)
        return [(loads[seq], seq, props) for seq, props in sorted(stated.items())]

    def edge_gradings(self) -> dict[str, frozenset[Grading]]:
        gradings = {int(r["seq"]): _file_record(r["record"]).grading
                    for r in self._read(cypher.FILE_GRADINGS)}
        out: dict[str, frozenset[Grading]] = {}
        for rel, statement in cypher.EDGE_SIGHTINGS.items():
            for found in self._read(statement):
                seqs = {packed >> 32 for packed in found["sr"] or ()}
                out[edge_id(rel, found["src"], found["dst"])] = frozenset(
                    gradings[seq] for seq in seqs if seq in gradings)
        return out

    def packed_gradings(self, packed: PackedGraph
                        ) -> tuple[np.ndarray, list[frozenset[Grading]]]:
        keys = packed.keys
        if keys is None:
            return super().packed_gradings(packed)

        def work(tx: ManagedTransaction) -> tuple[np.ndarray, list[frozenset[Grading]]]:
            gradings = {int(r["seq"]): _file_record(r["record"]).grading
                        for r in tx.run(cypher.FILE_GRADINGS)}
            # by database id, without the ends' ids, a range of ids at a time
            types = list(packed.rel_names)
            first = range(int(keys.min()), int(keys.max()) + 1, _ID_RANGE) if len(keys) else ()
            groups = ((frozenset(files), ids) for start in first for files, ids in tx.run(
                cypher.EDGE_FILES, types=types, first=start, last=start + _ID_RANGE - 1))
            return graded_keys(groups, iter, gradings, keys)

        with self._errors(), self.session() as session:
            return session.execute_read(work)

    def counts(self) -> Counts:
        with self._errors(), self.session() as session:
            nodes = {label: session.run(q).single(strict=True)["n"]
                     for label, q in cypher.COUNT_NODES.items()}
            rels = {rel: session.run(q).single(strict=True)["n"]
                    for rel, q in cypher.COUNT_RELS.items()}
        return Counts(nodes={k: v for k, v in nodes.items() if v},
                      relationships={k: v for k, v in rels.items() if v})

    # -- assessments -----------------------------------------------------------------------
    def write_same_as(self, link: Edge) -> None:
        props = {k: v.isoformat() if isinstance(v, datetime) else v
                 for k, v in link.props.items()}
        self._same_as(cypher.WRITE_SAME_AS, link, props=props)

    def delete_same_as(self, link: Edge) -> None:
        self._same_as(cypher.DELETE_SAME_AS, link)

    def _same_as(self, statements: Mapping[tuple[str, str], str], link: Edge,
                 **params: Any) -> None:
        statement = statements.get((_label(link.src) or "?", _label(link.dst) or "?"))
        if statement is None:
            raise SchemaError(f"SAME_AS may not go from {link.src} to {link.dst}")

        def work(tx: ManagedTransaction) -> None:
            tx.run(statement, src=link.src, dst=link.dst, **params).consume()

        self._write(work)

    def save_cells(self, run: AnalysisRun, cells: Iterable[CellRecord]) -> None:
        # in parts, each its own transaction, the run node last (one transaction for a whole
        # run outgrew an 8 GB heap at 21,100 cells): ringmap.graphs.neo4j_cells
        neo4j_cells.save_cells(self, run, cells)

    def analysis_runs(self, kind: str = "cells") -> list[AnalysisRun]:
        return [AnalysisRun.model_validate_json(r["record"]) for r in
                self._read(cypher.ANALYSIS_RUNS, kind=kind)]

    def load_cells(self, run_id: str, *, explanations: bool = True, reports: bool = True,
                   cell_ids: Iterable[str] | None = None) -> list[CellRecord]:
        read = (CellRecord.sketched if not reports else
                CellRecord.model_validate_json if explanations else CellRecord.unexplained)
        wanted = None if cell_ids is None else list(dict.fromkeys(cell_ids))

        def work(tx: ManagedTransaction) -> list[CellRecord]:
            found = (tx.run(cypher.CELLS, run_id=run_id) if wanted is None
                     else tx.run(cypher.CELLS_BY_ID, run_id=run_id, cell_ids=wanted))
            # each record read as it arrives: the texts of a large run are never all held
            return [read(r["record"]) for r in found]

        with self._errors(), self.session() as session:
            return sorted(session.execute_read(work), key=lambda c: c.cell_id)

    # -- analysts' Cypher ------------------------------------------------------------------
    def read_cypher(
        self, statement: str, params: Mapping[str, Any], *, timeout: float, limit: int,
        check: Callable[[str, list[str]], None],
    ) -> list[dict[str, Any]]:
        """Run an analyst's Cypher once the server has said what it is.

        The statement is planned with ``EXPLAIN`` and ``check`` gets the plan's query type
        (``"r"`` for read-only) and the procedures it calls, to refuse it before it runs.
        It then runs once (a timed-out statement is not retried) in a READ transaction the
        server ends after ``timeout`` seconds; at most ``limit`` rows are pulled.

        Raises
        ------
        QueryTimeout
            The statement ran past ``timeout``.
        StoreError
            The server refused it (syntax, a write).
        """
        values = dict(params)
        try:
            with self._errors(), self._driver.session(
                    database=self.database, default_access_mode=neo4j.READ_ACCESS,
                    bookmark_manager=self._bookmarks) as session:
                summary = session.run(f"EXPLAIN {statement}", values).consume()
                check(summary.query_type or "", _procedures(summary.plan))
                with session.begin_transaction(timeout=timeout) as tx:
                    return [{k: _native(v) for k, v in record.data().items()}
                            for record in islice(tx.run(statement, values), limit)]
        except Neo4jError as exc:  # the statement's fault: syntax, a write, a timeout
            if "TimedOut" in (exc.code or "") or "Terminated" in (exc.code or ""):
                raise QueryTimeout(f"the query ran past --timeout {timeout:g} s; the server "
                                   "stopped it") from None
            raise StoreError(f"Neo4j refused the query: {exc.message or exc.code}") from None

    # -- named queries ---------------------------------------------------------------------
    def named_rows(
        self, spec: QuerySpec, params: Mapping[str, Any], timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        rows = self.query(spec.cypher, params, timeout)
        return [tuple(row[c] for c in spec.column_names) for row in rows]

    def victim_side(self, ids: Iterable[str]) -> set[str]:
        by_label: dict[str, list[str]] = defaultdict(list)
        for node_id in sorted(set(ids)):
            label = _label(node_id)
            if label is not None:
                by_label[label].append(node_id)
        return {row["id"] for label, group in by_label.items()
                for row in self.query(cypher.VICTIM_SIDE[label], {"ids": group})}

    def query(
        self, statement: str, params: Mapping[str, Any] | None = None,
        timeout: float | None = None, limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Run a read-only Cypher statement with ``$params``; rows as dicts.

        It runs in a READ transaction, so the server refuses writes; ``timeout`` (seconds)
        makes the server cancel a slow query; with ``limit`` at most that many rows are
        pulled and the rest is discarded on the server.
        """
        @neo4j.unit_of_work(timeout=timeout)
        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [{k: _native(v) for k, v in record.data().items()}
                    for record in islice(tx.run(statement, dict(params or {})), limit)]

        try:
            with self._errors(), self.session() as session:
                return session.execute_read(work)
        except ClientError as exc:  # the statement's fault: syntax, a write, a timeout
            raise StoreError(f"Neo4j refused the query: {exc.message or exc.code}") from None

    def write(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        try:
            with self._errors(), self.session() as session:
                session.run(statement, dict(params or {})).consume()
        except ClientError as exc:
            raise StoreError(f"Neo4j refused the statement: {exc.message or exc.code}"
                             ) from None


def _procedures(plan: Mapping[str, Any] | None) -> list[str]:
    """The procedures a plan calls, by the names the server resolved."""
    found: list[str] = []
    stack = [plan] if plan else []
    while stack:
        operator = stack.pop()
        if str(operator.get("operatorType", "")).startswith("ProcedureCall"):
            details = str(operator.get("args", {}).get("Details", ""))
            found.append(details.partition("(")[0].strip() or "?")
        stack.extend(operator.get("children", []))
    return found


def _wanted(types: Iterable[str] | None, known: tuple[str, ...]) -> list[str]:
    """The schema types asked for (all when ``None``); unknown names match nothing."""
    return list(known) if types is None else sorted(set(types) & set(known))


@lru_cache(maxsize=256)
def _file_record(text: str) -> FileLoad:
    """A ledger record read for provenance (parsed once per version of the record)."""
    return FileLoad.model_validate_json(text)


def _ledger(record: neo4j.Record) -> FileLoad:
    """A ledger record with its authoritative progress from the node's properties."""
    return FileLoad.model_validate_json(record["record"]).model_copy(
        update={"complete": bool(record["complete"]), "last_row": int(record["last_row"])})


def _sightings(found: Iterable[neo4j.Record],
               refs: Mapping[tuple[int, int], str] | None = None) -> list[Provenance]:
    """Provenance rows from the per-file records the provenance statements return, their
    references from ``refs`` (file seq, row) when given, else from the records' blocks."""
    out: list[Provenance] = []
    for record in sorted(found, key=lambda r: r["seq"]):
        load, seq = _file_record(record["record"]), record["seq"]
        of = refs if refs is not None else {
            (seq, row): ref for rows, texts in zip(record["ref_rows"], record["refs"], strict=True)
            for row, ref in zip(rows, texts, strict=True)}
        out.extend(Provenance(source_file=load.source_file, sha256=load.sha256, row=row,
                              ref=of.get((seq, row)), run_id=load.run_id,
                              ingested_at=load.ingested_at, grading=load.grading)
                   for row in sorted(record["rows"]))
    return out
