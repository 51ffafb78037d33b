"""The bulk path into Neo4j: a new case built offline by Neo4j's own importer.

A case loaded into an *empty* database need not go through Cypher at all. The evidence of every
file is merged here, in Python, exactly as the batched loader merges it (nodes by id,
relationships by type and ends, one statement per load, the values shown from the best-graded
load, sightings in row order), without holding the case: each batch's items go to runs on disk
(sorted by id, in a private temporary folder) that are merged item by item into the importer's
CSV files (one per label and per relationship type and end labels, a typed header, ids in one
id space per label, items in the order they came);
``tools/neo4j-dev/neo4j-dev import`` stops the local server, builds its ``neo4j`` database with
``neo4j-admin database import full`` and starts it again on the same port; then the
constraints and indexes are created and the ledger (files, row references, runs) is written
as the batched loader writes it. The graph is the same either way (``tests/test_neo4j_bulk.py``
compares them).

It applies only to the database ``neo4j`` of a server started by ``tools/neo4j-dev`` on this
machine (the importer writes the server's files; Neo4j Community cannot create a database
while running), and only when that database is empty: :func:`bulk_loading` refuses anything
else with one line and leaves the database as it was.

Examples
--------
>>> with store.bulk_loading(True, size) as bulk:  # doctest: +SKIP
...     ingest_files(store, tasks)                # loads collect; the import runs at the end
"""

from __future__ import annotations

import heapq
import math
import multiprocessing as mp
import os
import pickle
import re
import subprocess
import tempfile
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from itertools import chain, groupby, repeat
from multiprocessing.connection import Connection
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast
from urllib.parse import urlsplit

from ringmap.errors import ConfigError, SchemaError, StoreError, StoreUnavailable
from ringmap.fileio import remove_stale_temporaries, temporary_suffix
from ringmap.graphs import cypher
from ringmap.graphs.codec import encode_props, merge_props
from ringmap.graphs.model import Batch, BatchColumns, FileLoad, IngestRun, Seen, edge_id
from ringmap.graphs.neo4j_store import Neo4jStore, _label, _to_neo
from ringmap.graphs.neo4j_store import _shown as _stated_shown
from ringmap.graphs.schema import SCHEMA

__all__ = ["AUTO_MIN_BYTES", "LAUNCHER", "BulkLoad", "bulk_loading"]

#: the launcher that imports (it ships in the repository, not in a wheel)
LAUNCHER = Path(__file__).resolve().parents[1] / "tools" / "neo4j-dev" / "neo4j-dev"
#: evidence bytes from which the automatic choice takes the bulk path: a smaller case loads
#: faster through Cypher than the server takes to stop and start again
AUTO_MIN_BYTES = 16 << 20
_ARRAY = "\x1f"  # array delimiter of the import files: JSON statements never hold it raw
_ROW_BITS = 32
_LINE_BREAKS = ("\n", "\r")

Props = dict[str, Any]
_T = TypeVar("_T")

_ANY_NODE = "MATCH (n) RETURN count(n) AS n"
_CREATE_FILES = """
UNWIND $rows AS r
CREATE (:IngestFile {fid: r.fid, seq: r.seq, sha256: r.sha256, mapping_digest: r.mapping_digest,
                     record: r.record, complete: true, last_row: r.last_row})
"""
_CREATE_ROW_REFS = """
UNWIND $rows AS r
CREATE (:RowRefs {file_seq: r.file_seq, last_row: r.last_row, first_row: r.first_row,
                  rows: r.rows, refs: r.refs})
"""
_FILE_COUNTER = "CREATE (:RingmapCounter {name: 'file', value: $value})"


class BulkLoad:
    """The loads of one new case, spilled to sorted runs in ``folder`` until :meth:`write`
    merges them into the importer's files; stands in for the store's writes while
    :func:`bulk_loading` runs.

    Python holds a batch, a run being sorted and the merge's buffers, never the whole case:
    each batch's nodes and relationships go to a run (sorted by id when it is full), and
    :meth:`write` merges the runs by id, applies the merge rule to each item's records (in
    the order they came) and puts each item's row in a bucket by where the item came first,
    so that the import files list items in that order.
    """

    def __init__(self, batch_rows: int, folder: Path) -> None:
        self.batch_rows = batch_rows
        self.folder = folder
        self.loads: dict[str, tuple[int, FileLoad]] = {}  # by ledger key: number, record
        self.row_refs = _RowRefs(folder / "row-refs.part")
        self.runs: dict[str, IngestRun] = {}
        self.rows = 0
        self._nodes = _Runs(folder, "nodes")
        self._edges = _Runs(folder, "edges", typed=True)
        self._order = 0  # records so far: where each item came first
        self._ends: set[str] = set()  # relationship ends not among their batch's nodes
        self._types: Counter[str] = Counter()  # relationship records by type

    def file_load(self, fid: str) -> FileLoad | None:
        """The record of a file loaded earlier in this case (listed twice), if any."""
        found = self.loads.get(fid)
        return None if found is None else found[1]

    def record_run(self, run: IngestRun) -> None:
        """Keep the run's latest record for the ledger."""
        self.runs[run.run_id] = run.model_copy()

    def load_file(self, fid: str, load: FileLoad,
                  batches: Iterable[Batch | BatchColumns]) -> FileLoad:
        """Merge one file's batches, as the batched loader's transactions would."""
        seq = len(self.loads) + 1
        committed = last = 0
        refs: dict[int, str] = {}
        for batch in batches:
            self._spill(seq, batch if isinstance(batch, BatchColumns) else _columns(batch),
                        refs)
            last = batch.last_row
            # the references go in chunks where the batched loader's transactions end, so
            # that provenance reads the same few rows either way
            if last - committed >= self.batch_rows:
                self._refs(seq, committed + 1, last, refs)
                committed, refs = last, {}
        if last > committed:
            self._refs(seq, committed + 1, last, refs)
            committed = last
        done = load.model_copy(update={"complete": True,
                                       "last_row": max(committed, load.last_row)})
        self.loads[fid] = (seq, done)
        self.rows += done.read
        return done

    def _spill(self, seq: int, batch: BatchColumns, refs: dict[int, str]) -> None:
        """One record per node and relationship of the batch (with the rows that saw it),
        and the references of the rows that saw one."""
        types, rel_types = batch.types, batch.rel_types
        if not SCHEMA.entities.keys() >= set(types):
            bad = next(t for t in types if t not in SCHEMA.entities)
            raise SchemaError(f"unknown entity type {bad!r}")
        if not SCHEMA.relationships.keys() >= set(rel_types):
            bad = next(t for t in rel_types if t not in SCHEMA.relationships)
            raise SchemaError(f"unknown relationship type {bad!r}")
        sighted = set().union(*filter(None, batch.node_rows), *batch.rel_rows)
        refs.update((row, ref) for row, ref in batch.refs.items() if ref and row in sighted)
        order, nodes, edges = self._order, len(types), len(rel_types)
        self._nodes.add(batch.ids, range(order, order + nodes), repeat(seq, nodes), types,
                        batch.node_props, batch.node_rows)
        order += nodes
        sources, targets = batch.sources, batch.targets
        self._edges.add(map(edge_id, rel_types, sources, targets), range(order, order + edges),
                        repeat(seq, edges), rel_types, batch.rel_props, batch.rel_rows,
                        sources, targets)
        self._order = order + edges
        self._types.update(rel_types)
        named = set(batch.ids)
        self._ends.update(set(sources) - named, set(targets) - named)

    def _refs(self, seq: int, first: int, last: int, refs: Mapping[int, str]) -> None:
        if refs:
            rows = sorted(refs)
            self.row_refs.add({"file_seq": seq, "first_row": first, "last_row": last,
                               "rows": rows, "refs": [refs[r] for r in rows]})

    # -- import files ----------------------------------------------------------------------
    def write(self, folder: Path) -> list[str]:
        """Write the import files into ``folder``; the importer's options that read them.

        A process of its own (forked) writes the relationships' files while this one writes
        the nodes'; then both take the relationship types left one at a time, the most
        records first, so that they end together (one core wrote it all at 10M rows for 9.5
        minutes; nodes here and relationships beside, at 2,400 cells 22 and 38 CPU-s). A
        relationship whose end was in none of its batch's nodes is checked once both are
        done: no node came to that end, the load is refused.
        """
        loads = {seq: record for seq, record in self.loads.values()}
        self._edges.spill()  # here: the runs it leaves are removed below
        types = _Shared(sorted(self._types, key=lambda name: (-self._types[name], name)))
        with _aside(lambda: self._write_edges(folder, loads, types, "beside")) as beside:
            written = self._write_nodes(folder, loads)
            mine, joining = self._write_edges(folder, loads, types, "here")
            more, joined = beside()
        for type_name, src, dst, ends in chain(joined, joining):
            missing = [end for end in ends if end in self._ends]
            if missing:
                raise StoreError(f"relationship {type_name} from {src} to {dst} "
                                 f"joins a node that does not exist: {missing[0]}")
        for path in chain(self._nodes.paths, self._edges.paths):  # merged: room for the import
            path.unlink()
        return _options(folder, [*written, *mine, *more])

    def _write_nodes(self, folder: Path, loads: Mapping[int, FileLoad]) -> list[_Written]:
        """The nodes' files; each node's id leaves the ends no node came to."""
        ends = self._ends
        with _Buckets(self.folder, self._order, "nodes") as buckets:
            files = _Files(folder, buckets, "nodes")
            for node_id, group in self._nodes.merged():
                type_name, stated, sightings, order = _fold(list(group))
                ends.discard(node_id)
                files.add(order, ("nodes", type_name, (type_name,)), (_cell(node_id),),
                          _shown(type_name, stated, loads), stated, sightings)
            return files.close()

    def _write_edges(self, folder: Path, loads: Mapping[int, FileLoad], types: _Shared,
                     part: str) -> tuple[list[_Written], list[_Joining]]:
        """The files of the relationships of the types this process takes from ``types``,
        named by ``part`` (:func:`_options` numbers them after the nodes'), and the
        relationships among them with an end in none of their batch's nodes (after
        :meth:`_write_nodes`, an end no node came to)."""
        ends = self._ends
        joining: list[_Joining] = []
        name = f"relationships.{part}"
        with _Buckets(self.folder, self._order, name) as buckets:
            files = _Files(folder, buckets, name)
            for _key, group in chain.from_iterable(map(self._edges.merged, types)):
                records = list(group)
                type_name, stated, sightings, order = _fold(records)
                src, dst = records[0][6], records[0][7]
                source, target = _label(src), _label(dst)
                rel = SCHEMA.relationship(type_name)
                if source is None or target is None or not rel.allows(source, target):
                    raise SchemaError(f"{type_name} may not go from {src} to {dst}")
                away = [end for end in (src, dst) if end in ends]
                if away:
                    joining.append((type_name, src, dst, away))
                files.add(order, ("relationships", type_name, (source, target)),
                          (_cell(src), _cell(dst)), _shown(type_name, stated, loads), stated,
                          sightings)
            return files.close(), joining


#: a spilled record: item id, where it came, load number, type, properties, rows that saw
#: it in its batch (none: an end seen on no row), and for a relationship its source and
#: target ids
_Record = tuple[Any, ...]
#: records a run of each kind holds before it is sorted and written (about 30 MB)
_RUN_RECORDS = 50_000
#: records per frame of a run or bucket file, pickled as columns (what the merge holds of
#: each run: at 10M rows some 200 runs of each kind)
_FRAME = 512
#: buckets an item's row goes into by where it came first (each read back whole)
_BUCKETS = 64
#: row references the ledger's statements take at a time (and the load holds)
_REFS_PART = 20_000


class _Shared:
    """Names this process and the one forked beside it take one at a time, in order, each
    name once (a counter in shared memory)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.taken = mp.Value("i", 0)

    def __iter__(self) -> Iterator[str]:
        while True:
            with self.taken.get_lock():
                at = self.taken.value
                self.taken.value = at + 1
            if at >= len(self.names):
                return
            yield self.names[at]


class _RowRefs:
    """The ledger's row references (a chunk per batched loader's transaction), kept on disk
    in parts: at 2,400 cells 258,000 references took 28.5 MB as Python objects (some 250 MB
    at 10M rows), a part some 2 MB."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part: list[Props] = []
        self.size = 0  # references in the part

    def add(self, chunk: Props) -> None:
        self.part.append(chunk)
        self.size += len(chunk["rows"])
        if self.size >= _REFS_PART:
            self._flush()

    def _flush(self) -> None:
        if self.part:
            with self.path.open("ab") as out:
                _dump(out, self.part)
            self.part, self.size = [], 0

    def parts(self) -> Iterator[list[Props]]:
        """The chunks in parts of some :data:`_REFS_PART` references, in order (each call
        reads them again: a retried transaction writes them all)."""
        self._flush()
        if self.path.exists():
            yield from _frames(self.path)


class _Runs:
    """The records of one kind (nodes or relationships) as columns, spilled in runs sorted
    by id; ``typed``: a relationship's id starts with its type (:func:`edge_id`), and each
    run keeps each type's records in frames of their own, found by type."""

    def __init__(self, folder: Path, name: str, typed: bool = False) -> None:
        self.folder, self.name, self.typed = folder, name, typed
        self.columns: list[list[Any]] = []
        self.paths: list[Path] = []
        self.spans: list[dict[str, tuple[int, int]]] = []  # per run: each type's bytes

    def add(self, *columns: Iterable[Any]) -> None:
        """Take a batch's records, a column each; spill them when a run is full."""
        if not self.columns:
            self.columns = [[] for _column in columns]
        for mine, more in zip(self.columns, columns, strict=True):
            mine.extend(more)
        if len(self.columns[0]) >= _RUN_RECORDS:
            self.spill()

    def spill(self) -> None:
        if self.columns and self.columns[0]:
            ids = self.columns[0]
            by_id = sorted(range(len(ids)), key=ids.__getitem__)  # stable: records in order
            path = self.folder / f"{self.name}-{len(self.paths)}.run"
            names = [""]  # where each type's records start, in the order of their ids
            starts = [0]
            if self.typed:
                names = sorted(set(self.columns[3]), key=lambda name: f"{name}:")
                starts = [bisect_left(by_id, f"{name}:", key=ids.__getitem__)
                          for name in names]
            spans: dict[str, tuple[int, int]] = {}
            with path.open("wb") as out:
                for name, first, end in zip(names, starts, [*starts[1:], len(by_id)],
                                            strict=True):
                    begin = out.tell()
                    for start in range(first, end, _FRAME):
                        picked = by_id[start:min(start + _FRAME, end)]
                        _dump(out, [list(map(column.__getitem__, picked))
                                    for column in self.columns])
                    spans[name] = (begin, out.tell())
            self.paths.append(path)
            self.spans.append(spans)
            self.columns = []

    def merged(self, type_name: str = "") -> Iterator[tuple[str, Iterator[_Record]]]:
        """Each item's id and records, in the order they came, the items by id (of one type
        where the runs are ``typed``)."""
        self.spill()
        # (id, where it came) orders the records: the properties are never compared
        return groupby(heapq.merge(*[_records(path, *spans[type_name]) for path, spans
                                     in zip(self.paths, self.spans, strict=True)
                                     if type_name in spans]), key=itemgetter(0))


def _columns(batch: Batch) -> BatchColumns:
    """A batch of another producer as the ingest engine's columns; with a sighting per item
    and row (not grouped), an item listed twice has its rows on its first listing."""
    if isinstance(batch.sightings, Seen):
        return BatchColumns.of(batch)
    rows: dict[str, list[int]] = defaultdict(list)
    refs: dict[int, str] = {}
    for sighting in batch.sightings:
        rows[sighting.item].append(sighting.row)
        if sighting.ref:
            refs[sighting.row] = sighting.ref
    node_rows = [rows.pop(node.id, []) for node in batch.nodes]
    rel_rows = [rows.pop(edge.id, []) for edge in batch.edges]
    if rows:
        raise StoreError(f"sighting of an item not in its batch: {min(rows)!r}")
    return BatchColumns.with_rows(batch, node_rows, rel_rows, refs)


def _dump(out: BinaryIO, frame: list[Any]) -> None:
    """Write one frame (the columns of some records, or a part of the row references)."""
    pickle.dump(frame, out, protocol=pickle.HIGHEST_PROTOCOL)


def _records(path: Path, begin: int, end: int) -> Iterator[_Record]:
    """The records of a run's frames from byte ``begin`` to ``end``, in order."""
    return chain.from_iterable(zip(*frame, strict=True) for frame in _frames(path, begin, end))


def _frames(path: Path, begin: int = 0, end: int | None = None) -> Iterator[list[Any]]:
    """The frames of a file written by :func:`_dump` (from byte ``begin`` to ``end``, or
    to its end), in order."""
    with path.open("rb") as stream:
        stream.seek(begin)
        while end is None or stream.tell() < end:
            try:
                yield pickle.load(stream)
            except EOFError:
                return


def _fold(records: list[_Record]) -> tuple[str, dict[int, Props], list[int], int]:
    """An item's type, each load's statement and its sightings from its records, as the
    batched loader merges them; where it came first."""
    first = records[0]
    if len(records) == 1:  # most items: one batch saw them
        seq, rows = first[2], first[5]
        base = seq << _ROW_BITS
        return first[3], {seq: first[4]}, [base | row for row in rows or ()], first[1]
    stated: dict[int, Props] = {}
    sightings: list[int] = []
    for _id, _order, seq, _type_name, props, rows, *_ends in records:
        mine = stated.get(seq)
        if mine is None:
            stated[seq] = dict(props)
        else:
            merge_props(mine, props)
        if rows:
            base = seq << _ROW_BITS
            sightings += [base | row for row in rows]
    return first[3], stated, sightings, first[1]


def _shown(type_name: str, stated: dict[int, Props],
           loads: Mapping[int, FileLoad]) -> tuple[Props, cypher.Shape]:
    """The values an item shows (as the batched loader sets them) and the value kind of
    each of its schema properties (see :func:`ringmap.graphs.neo4j_store._to_neo`)."""
    # one load's statement: the values it states (``_to_neo`` leaves the nulls out)
    props = next(iter(stated.values())) if len(stated) == 1 else _stated_shown(stated, loads)
    values, extra, shape = _to_neo(type_name, props)
    return ({**values, **extra} if extra else values), shape


_KIND = {"v": "", "dt": "datetime", "ldt": "localdatetime"}


def _type(value: Any) -> str:
    """The importer's type of a property value (``string[]`` for a list of strings)."""
    if isinstance(value, list):
        inner = {_type(v) for v in value}
        if len(inner) > 1:
            raise StoreError("a list property mixes types; Neo4j cannot store it")
        return (inner.pop() if inner else "string") + "[]"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    return "string"


def _cell(value: Any) -> str:
    """One CSV field: strings always quoted (an empty one is then ``""``, not null)."""
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list):
        parts = [v if isinstance(v, str) else _cell(v) for v in value]
        if any(_ARRAY in part for part in parts):
            raise StoreError("a list property holds the character U+001F; load this case "
                             "with the batched loader (without --bulk)")
        return '"' + _ARRAY.join(parts).replace('"', '""') + '"'
    return repr(value)


#: an item's fields on their way to an import file: its ids, its values in its shape's
#: order, sightings and statements; joined into its line where its values are all written
#: quoted or as one token (:func:`_split` finds them again)
_Fields = tuple[str, ...]
_Row = str | _Fields
#: an item's property names with each value's importer type and datetime kind (or "")
_Shape = tuple[tuple[str, str, str], ...]
_Key = tuple[str, str, tuple[str, ...]]
_Pick = Callable[[_Fields], _Fields]


@contextmanager
def _aside(work: Callable[[], _T]) -> Iterator[Callable[[], _T]]:
    """``work()`` in a forked process while the block runs; yields what waits for its result
    (its error raised here). Without ``fork``, ``work`` runs when its result is asked for."""
    if "fork" not in mp.get_all_start_methods():
        yield work
        return
    context = mp.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_send, args=(work, sending), name="ringmap-bulk-write",
                              daemon=True)
    process.start()
    sending.close()

    def result() -> _T:
        try:
            kind, found = receiving.recv()
        except EOFError:
            process.join()
            raise StoreError(f"the process writing the import files beside this one stopped "
                             f"(exit code {process.exitcode})") from None
        if kind == "error":
            raise found
        return cast(_T, found)

    try:
        yield result
    except BaseException:
        process.terminate()
        raise
    finally:
        process.join()
        receiving.close()


def _send(work: Callable[[], Any], sending: Connection) -> None:
    """Run ``work`` (in the process :func:`_aside` forked) and send what it gave or raised."""
    try:
        found = work()
    except BaseException as exc:  # raised in the process that waits for it
        sending.send(("error", exc))
        raise SystemExit(1) from exc  # quietly: no traceback here
    sending.send(("done", found))


class _Buckets:
    """Rows (an item's form and fields) put aside by where their item came first (one file
    per range, frames of columns), read back in that order, one bucket in memory at a time."""

    def __init__(self, folder: Path, count: int, name: str) -> None:
        self.folder, self.name = folder, name
        self.span = max(1, -(-count // _BUCKETS))
        self.frames: dict[int, tuple[list[int], list[int], list[_Row]]] = {}
        self.files: dict[int, BinaryIO] = {}

    def __enter__(self) -> _Buckets:
        return self

    def __exit__(self, *_exc: object) -> None:
        for out in self.files.values():
            out.close()

    def add(self, order: int, form: int, fields: _Row) -> None:
        bucket = order // self.span
        frame = self.frames.get(bucket)
        if frame is None:
            frame = self.frames[bucket] = ([], [], [])
        orders, forms, rows = frame
        orders.append(order)
        forms.append(form)
        rows.append(fields)
        if len(orders) >= _FRAME:
            self._flush(bucket)

    def _flush(self, bucket: int) -> None:
        out = self.files.get(bucket)
        if out is None:
            out = self.files[bucket] = self._path(bucket).open("wb")
        _dump(out, list(self.frames.pop(bucket)))

    def _path(self, bucket: int) -> Path:
        return self.folder / f"{self.name}-bucket-{bucket}.run"

    def rows(self) -> Iterator[tuple[int, _Row]]:
        """Every row's form and fields, by where its item came first."""
        for bucket in list(self.frames):
            self._flush(bucket)
        for out in self.files.values():
            out.close()
        for bucket in sorted(self.files):
            path = self._path(bucket)
            orders: list[int] = []
            forms: list[int] = []
            rows: list[_Row] = []
            for frame_orders, frame_forms, frame_rows in _frames(path):
                orders += frame_orders
                forms += frame_forms
                rows += frame_rows
            path.unlink()
            by_order = sorted(range(len(orders)), key=orders.__getitem__)
            yield from zip(map(forms.__getitem__, by_order), map(rows.__getitem__, by_order),
                            strict=True)


class _Files:
    """The import files: one per kind, type and ends (and, where one property takes values
    of several types, per combination of those types), each listing its items in the order
    they came first."""

    def __init__(self, folder: Path, buckets: _Buckets, name: str) -> None:
        self.folder, self.name = folder, name  # the files' names start with ``name``
        self.buckets = buckets
        self.keys: dict[_Key, int] = {}  # each file key's number
        # each form's number by its file key and its names, value classes and value kinds
        # (what decides its importer types); each form's key number and shape (by name),
        # what sorts its values by name and whether its rows go joined
        self.found: dict[tuple[_Key, tuple[str, ...], tuple[Any, ...], cypher.Shape], int] = {}
        self.forms: list[tuple[int, _Shape]] = []
        self.layouts: list[tuple[Callable[[list[str]], tuple[str, ...]] | None, bool]] = []

    def add(self, order: int, key: _Key, ids: tuple[str, ...],
            shown: tuple[Props, cypher.Shape], stated: dict[int, Props],
            sightings: list[int]) -> None:
        values, kinds = shown
        classes: tuple[Any, ...] = tuple(map(type, values.values()))
        if list in classes:  # a list's importer type is its items'
            classes = tuple(map(_type, values.values()))
        seen = (key, tuple(values), classes, kinds)
        form = self.found.get(seen)
        if form is None:
            form = self.found[seen] = self._form(key, values, kinds, classes)
        cells = ['"' + v.replace('"', '""') + '"' if type(v) is str else _cell(v)
                 for v in values.values()]
        by_name, joined = self.layouts[form]
        fields = (*ids, *(cells if by_name is None else by_name(cells)),
                  f'"{_ARRAY.join(map(str, sightings))}"', _statements(stated))
        self.buckets.add(order, form, ",".join(fields) if joined else fields)

    def _form(self, key: _Key, values: Props, kinds: cypher.Shape,
              classes: tuple[Any, ...]) -> int:
        """Number a new form of the file ``key``: its shape, its values' order by name, and
        whether its values are all written quoted or as one token (its rows go joined)."""
        datetimes = {name: _KIND[kind] for name, kind in kinds}
        shape = [(name, _type(value), datetimes.get(name, "")) for name, value in values.items()]
        by_name = sorted(range(len(shape)), key=lambda n: shape[n][0])
        self.forms.append((self.keys.setdefault(key, len(self.keys)),
                           tuple(shape[n] for n in by_name)))
        self.layouts.append((None if by_name == sorted(by_name) else itemgetter(*by_name),
                             _PLAIN.issuperset(classes)))
        return len(self.forms) - 1

    def close(self) -> list[_Written]:
        """Write the files; each one's key, group, path and whether a value in it holds a
        line break."""
        files: list[tuple[_Key, int, _File]] = []
        by_key: list[list[tuple[int, _Shape]]] = [[] for _key in self.keys]
        for form, (number, shape) in enumerate(self.forms):
            by_key[number].append((form, shape))
        by_form: dict[int, tuple[_File, _Pick, bool]] = {}
        with ExitStack() as stack:
            for n, key in enumerate(sorted(self.keys)):
                kind, _type_name, ends = key
                forms = by_key[self.keys[key]]
                types: dict[str, set[str]] = defaultdict(set)
                for _form, shape in forms:
                    for name, found, datetime_kind in shape:
                        types[name].add(datetime_kind or found)
                mixed = sorted(name for name, found in types.items() if len(found) > 1)
                groups: dict[tuple[tuple[str, str], ...], list[tuple[int, _Shape]]]
                groups = defaultdict(list)
                for form, shape in forms:
                    typed = {name: found for name, found, _kind in shape}
                    groups[tuple((m, typed[m]) for m in mixed if m in typed)].append(
                        (form, shape))
                for g, signature in enumerate(sorted(groups)):
                    fixed = dict(signature)
                    members = groups[signature]
                    columns = sorted({name for _form, shape in members
                                      for name, _f, _k in shape})
                    header = [f"{c}:{fixed.get(c) or next(iter(types[c]))}" for c in columns]
                    path = _path(self.folder, self.name, n, g)
                    file = stack.enter_context(_File(path, kind, ends, header))
                    files.append((key, g, file))
                    for form, shape in members:
                        # whether its rows go joined, with every column of the file
                        whole = self.layouts[form][1] and [f[0] for f in shape] == columns
                        by_form[form] = (file, _picker(shape, columns, len(ends)), whole)
            for form, row in self.buckets.rows():
                file, pick, whole = by_form[form]
                if whole and isinstance(row, str):
                    file.add(row)
                else:
                    fields = _split(row) if isinstance(row, str) else row
                    file.add(",".join(pick((*fields, ""))))
        return [(key, g, file.path, file.broken) for key, g, file in files]


#: an import file written: its key, group (of value types), path and whether a value in it
#: holds a line break
_Written = tuple[_Key, int, Path, bool]
#: a relationship with an end in none of its batch's nodes: its type, ends and those ends
_Joining = tuple[str, str, str, list[str]]


def _path(folder: Path, name: str, key: int, group: int) -> Path:
    return folder / f"{name}-{key}-{group}.csv"


def _options(folder: Path, written: list[_Written]) -> list[str]:
    """The importer's options that read the files, numbered by key (the nodes' first) and
    renamed so (each part of them numbered its own from 0, under its own name); the files
    a line break is in read as multi-line."""
    numbers = {key: n for n, key in enumerate(sorted({key for key, *_rest in written}))}
    options: list[str] = []
    multiline: list[str] = []
    for key, group, path, broken in sorted(written, key=lambda w: (numbers[w[0]], w[1])):
        kind, type_name, _ends = key
        named = _path(folder, kind, numbers[key], group)
        path.rename(named)
        options.append(f"--{kind}={type_name}={named}")
        if broken:
            multiline.append(str(named))
    if multiline:
        options += ["--multiline-fields-format=v2", "--multiline-fields=" + ",".join(multiline)]
    return [*options, f"--array-delimiter=U+{ord(_ARRAY):04X}"]


def _statements(stated: dict[int, Props]) -> str:
    """The field of an item's statements: each load's number and properties."""
    if len(stated) > 1:
        return _cell([f"{seq} {encode_props(props)}" for seq, props in sorted(stated.items())])
    ((seq, props),) = stated.items()
    return _cell(f"{seq} {encode_props(props)}")  # JSON: never the array delimiter raw


def _picker(shape: _Shape, columns: list[str], ids: int) -> _Pick:
    """What picks a row's fields (ids, a value per column or an empty field, sightings,
    statements) out of the fields its item brought (``ids`` ids, its values in ``shape``'s
    order, sightings, statements, an empty one)."""
    at = {name: n for n, (name, _type, _kind) in enumerate(shape, start=ids)}
    empty = ids + len(shape) + 2
    picks = [*range(1, ids), *[at.get(c, empty) for c in columns], empty - 2, empty - 1]
    return itemgetter(0, *picks)


#: value classes written quoted (texts) or as one token without a comma or a quote
_PLAIN = frozenset({str, bool, int, float})
#: a field of a joined row, quoted (quotes doubled) or one token, and its comma
_FIELD = re.compile(r'("(?:[^"]|"")*"|[^,"]*),')


def _split(line: str) -> list[str]:
    """The fields of a row :class:`_Files` joined.

    >>> _split('"a,""b",1,true,"x"')
    ['"a,""b"', '1', 'true', '"x"']
    """
    return _FIELD.findall(line + ",")


class _File:
    """One import file being written: its header, then its rows as they come."""

    def __init__(self, path: Path, kind: str, ends: tuple[str, ...], header: list[str]
                 ) -> None:
        if kind == "nodes":
            head = [f"id:ID({ends[0]})"]
        else:
            head = [f":START_ID({ends[0]})", f":END_ID({ends[1]})"]
        head += [*header, f"{cypher.SIGHTINGS}:long[]", f"{cypher.STATEMENTS}:string[]"]
        self.path = path
        self.broken = False  # whether a field holds a line break
        self.lines: list[str] = []
        self.out = path.open("w", encoding="utf-8", newline="")
        self.out.write(",".join(head) + "\n")

    def __enter__(self) -> _File:
        return self

    def __exit__(self, *_exc: object) -> None:
        with self.out:
            if self.lines:
                self.out.write("\n".join(self.lines) + "\n")

    def add(self, line: str) -> None:
        if not self.broken and ("\n" in line or "\r" in line):
            self.broken = True
        self.lines.append(line)
        if len(self.lines) >= 10_000:
            self.out.write("\n".join(self.lines) + "\n")
            self.lines = []


# -- choosing and running the bulk path ------------------------------------------------------
def _state_dir() -> Path:
    return Path(os.environ.get("RINGMAP_NEO4J_HOME") or LAUNCHER.parents[2] / ".neo4j-dev")


def _refusal(store: Neo4jStore) -> str | None:
    """Why the bulk path cannot load into ``store``, or ``None`` when it can."""
    if store.database != "neo4j":
        return (f"the bulk importer builds only the database neo4j of a tools/neo4j-dev "
                f"server, not {store.database!r}")
    if not LAUNCHER.is_file():
        return "the bulk path needs tools/neo4j-dev (a checkout of ringmap), not found"
    parts = urlsplit(store.uri)
    state = _state_dir()
    try:
        port = int((state / "neo4j-dev.port").read_text().strip())
        pid = int((state / "neo4j-dev.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        port = -1
    if parts.hostname not in ("127.0.0.1", "localhost") or parts.port != port:
        return (f"{store.uri} is not the tools/neo4j-dev server of {state} "
                "(RINGMAP_NEO4J_HOME): only a local neo4j-dev server can be bulk-loaded")
    with store.session() as session:
        found = session.run(_ANY_NODE).single(strict=True)["n"]
    if found:
        return (f"{store.describe()} is not empty ({found:,} nodes): the bulk importer only "
                "builds a new case in an empty database; load without --bulk to add to it")
    return None


def _workspace() -> tempfile.TemporaryDirectory[str]:
    """A private folder (0700) for the runs and the import files, in ``bulk`` (0700) of the
    launcher's state folder and named by this process's id: a load killed outright (SIGKILL,
    a power cut) leaves its folder, gigabytes at national size, and the next bulk load
    removes it (never a live load's)."""
    parent = _state_dir() / "bulk"
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    remove_stale_temporaries(parent)
    return tempfile.TemporaryDirectory(prefix=".load-", suffix=temporary_suffix(), dir=parent)


@contextmanager
def bulk_loading(store: Neo4jStore, wanted: bool | None, size: int) -> Iterator[bool]:
    """Take the bulk path for the loads inside the block when it applies; yields whether.

    ``wanted``: ``True`` requires it (:class:`~ringmap.errors.ConfigError` with the reason
    when it cannot apply, before anything is read), ``False`` never takes it, ``None``
    takes it for a case of at least :data:`AUTO_MIN_BYTES` bytes (``size``) when it applies.
    The import runs when the block ends without an error; an error inside the block leaves
    the database as it was (empty).
    """
    if wanted is False or (wanted is None and size < AUTO_MIN_BYTES):
        yield False
        return
    reason = _refusal(store)
    if reason is not None:
        if wanted:
            raise ConfigError(f"--bulk: {reason}")
        yield False
        return
    # the runs and the import files go in a private folder (0700), removed however the
    # block ends (Ctrl-C included)
    with _workspace() as folder:
        runs = Path(folder) / "runs"
        runs.mkdir(mode=0o700)
        bulk = BulkLoad(store.batch_size, runs)
        store._bulk = bulk
        try:
            yield True
        finally:
            store._bulk = None
        finish(store, bulk, Path(folder))


def finish(store: Neo4jStore, bulk: BulkLoad, folder: Path) -> None:
    """Import what ``bulk`` holds (its files written into ``folder``), then write the
    schema, the ledger and the runs."""
    options = bulk.write(folder)
    _import(store, options)
    store.reconnect()
    files = [{"fid": fid, "seq": seq, "sha256": done.sha256,
              "mapping_digest": done.mapping_digest, "record": done.model_dump_json(),
              "last_row": done.last_row} for fid, (seq, done) in bulk.loads.items()]

    def work(tx: Any) -> None:
        tx.run(_CREATE_FILES, rows=files).consume()
        for part in bulk.row_refs.parts():
            tx.run(_CREATE_ROW_REFS, rows=part).consume()
        if files:
            tx.run(_FILE_COUNTER, value=len(files)).consume()

    store._write(work)
    for run in bulk.runs.values():
        store.record_run(run)


def _import(store: Neo4jStore, options: list[str]) -> None:
    """Run ``neo4j-dev import``: stop the server, import, start it again."""
    env = {**os.environ, "RINGMAP_NEO4J_HOME": str(_state_dir())}
    password = store.password
    if password is not None:
        env["NEO4J_PASSWORD"] = password
    done = subprocess.run([str(LAUNCHER), "import", *options], env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise StoreUnavailable(f"the bulk import into {store.describe()} failed: "
                               f"{last.removeprefix('neo4j-dev: ')}")
