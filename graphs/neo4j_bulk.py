"""The bulk path into Neo4j: a new case built offline by Neo4j's own importer.

A case loaded into an *empty* database need not go through Cypher at all. The evidence of every
file is merged here, in Python, exactly as the batched loader merges it (nodes by id,
relationships by type and ends, one statement per load, the values shown from the best-graded
load, sightings in row order); the result is written as the importer's CSV files (one per label
and per relationship type and end labels, a typed header, ids in one id space per label);
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

import math
import os
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ringmap.errors import ConfigError, SchemaError, StoreError, StoreUnavailable
from ringmap.graphs import cypher
from ringmap.graphs.codec import encode_props, merge_props
from ringmap.graphs.model import Batch, FileLoad, IngestRun
from ringmap.graphs.schema import SCHEMA

if TYPE_CHECKING:
    from ringmap.graphs.neo4j_store import Neo4jStore

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


@dataclass(slots=True)
class _Item:
    """A node or relationship of the case: its type, each load's statement, its sightings."""

    type: str
    stated: dict[int, Props]
    sightings: list[int] = field(default_factory=list)
    src: str = ""
    dst: str = ""


class BulkLoad:
    """The loads of one new case, merged in memory until :meth:`write` hands them to the
    importer; stands in for the store's writes while :func:`bulk_loading` runs."""

    def __init__(self, batch_rows: int) -> None:
        self.batch_rows = batch_rows
        self.loads: dict[str, tuple[int, FileLoad]] = {}  # by ledger key: number, record
        self.nodes: dict[str, _Item] = {}
        self.edges: dict[str, _Item] = {}
        self.row_refs: list[Props] = []
        self.runs: dict[str, IngestRun] = {}
        self.rows = 0

    def file_load(self, fid: str) -> FileLoad | None:
        """The record of a file loaded earlier in this case (listed twice), if any."""
        found = self.loads.get(fid)
        return None if found is None else found[1]

    def record_run(self, run: IngestRun) -> None:
        """Keep the run's latest record for the ledger."""
        self.runs[run.run_id] = run.model_copy()

    def load_file(self, fid: str, load: FileLoad, batches: Iterable[Batch]) -> FileLoad:
        """Merge one file's batches, as the batched loader's transactions would."""
        seq = len(self.loads) + 1
        base = seq << _ROW_BITS
        committed = last = 0
        refs: dict[int, str] = {}
        for batch in batches:
            self._merge(seq, base, batch, refs)
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

    def _merge(self, seq: int, base: int, batch: Batch, refs: dict[int, str]) -> None:
        nodes, edges = self.nodes, self.edges
        for node in batch.nodes:
            if node.type not in SCHEMA.entities:
                raise SchemaError(f"unknown entity type {node.type!r}")
            item = nodes.get(node.id)
            if item is None:
                nodes[node.id] = _Item(node.type, {seq: dict(node.props)})
            elif (mine := item.stated.get(seq)) is None:
                item.stated[seq] = dict(node.props)
            else:
                merge_props(mine, node.props)
        for edge in batch.edges:
            if edge.type not in SCHEMA.relationships:
                raise SchemaError(f"unknown relationship type {edge.type!r}")
            key = edge.id
            item = edges.get(key)
            if item is None:
                edges[key] = _Item(edge.type, {seq: dict(edge.props)}, src=edge.src,
                                   dst=edge.dst)
            elif (mine := item.stated.get(seq)) is None:
                item.stated[seq] = dict(edge.props)
            else:
                merge_props(mine, edge.props)
        for sighting in batch.sightings:
            item = nodes.get(sighting.item) or edges.get(sighting.item)
            if item is None or seq not in item.stated:
                raise StoreError(f"sighting of an item not in its batch: {sighting.item!r}")
            item.sightings.append(base | sighting.row)
            if sighting.ref:
                refs[sighting.row] = sighting.ref

    def _refs(self, seq: int, first: int, last: int, refs: Mapping[int, str]) -> None:
        if refs:
            rows = sorted(refs)
            self.row_refs.append({"file_seq": seq, "first_row": first, "last_row": last,
                                  "rows": rows, "refs": [refs[r] for r in rows]})

    # -- import files ----------------------------------------------------------------------
    def write(self, folder: Path) -> list[str]:
        """Write the import files into ``folder``; the importer's options that read them."""
        from ringmap.graphs.neo4j_store import _label

        loads = {seq: record for seq, record in self.loads.values()}
        files = _Files(folder)
        for node_id, item in self.nodes.items():
            values, kinds = _shown(item, loads)
            files.add("nodes", item.type, (item.type,), node_id, "", values, kinds, item)
        for item in self.edges.values():
            source, target = _label(item.src), _label(item.dst)
            rel = SCHEMA.relationship(item.type)
            if source is None or target is None or not rel.allows(source, target):
                raise SchemaError(f"{item.type} may not go from {item.src} to {item.dst}")
            missing = [end for end in (item.src, item.dst) if end not in self.nodes]
            if missing:
                raise StoreError(f"relationship {item.type} from {item.src} to {item.dst} "
                                 f"joins a node that does not exist: {missing[0]}")
            values, kinds = _shown(item, loads)
            files.add("relationships", item.type, (source, target), item.src, item.dst,
                      values, kinds, item)
        return files.close()


def _shown(item: _Item, loads: Mapping[int, FileLoad]) -> tuple[Props, dict[str, str]]:
    """The values an item shows (as the batched loader sets them) and the import type of
    each datetime among them."""
    from ringmap.graphs.neo4j_store import _shown, _to_neo

    values, extra, shape = _to_neo(item.type, _shown(item.stated, loads))
    kinds = {name: _KIND[kind] for name, kind in shape if kind != "v"}
    return {**values, **extra}, kinds


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


class _Files:
    """The import files being written: one per kind, type and ends (and, where one property
    takes values of several types, per combination of those types)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # (kind, type, ends) -> rows of (start id, end id, values, item)
        self.rows: dict[tuple[str, str, tuple[str, ...]], list[tuple[str, str, Props, _Item]]]
        self.rows = defaultdict(list)
        self.types: dict[tuple[str, str, tuple[str, ...]], dict[str, set[str]]]
        self.types = defaultdict(lambda: defaultdict(set))

    def add(self, kind: str, type_name: str, ends: tuple[str, ...], start: str, end: str,
            values: Props, kinds: Mapping[str, str], item: _Item) -> None:
        key = (kind, type_name, ends)
        self.rows[key].append((start, end, values, item))
        seen = self.types[key]
        for name, value in values.items():
            seen[name].add(kinds.get(name) or _type(value))

    def close(self) -> list[str]:
        options: list[str] = []
        multiline: list[str] = []
        for n, (key, rows) in enumerate(sorted(self.rows.items())):
            kind, type_name, ends = key
            types = self.types[key]
            mixed = sorted(name for name, found in types.items() if len(found) > 1)
            groups: dict[tuple[tuple[str, str], ...], list[tuple[str, str, Props, _Item]]]
            groups = defaultdict(list)
            for row in rows:
                values = row[2]
                groups[tuple((m, _type(values[m])) for m in mixed if m in values)].append(row)
            for g, (signature, members) in enumerate(sorted(groups.items())):
                fixed = dict(signature)
                columns = sorted({name for _s, _e, values, _i in members for name in values})
                header = [f"{c}:{fixed.get(c) or next(iter(types[c]))}" for c in columns]
                path = self.folder / f"{kind}-{n}-{g}.csv"
                broken = _write(path, kind, ends, header, columns, members)
                options.append(f"--{kind}={type_name}={path}")
                if broken:
                    multiline.append(str(path))
        if multiline:
            options += ["--multiline-fields-format=v2",
                        "--multiline-fields=" + ",".join(multiline)]
        return [*options, f"--array-delimiter=U+{ord(_ARRAY):04X}"]


def _write(path: Path, kind: str, ends: tuple[str, ...], header: list[str],
           columns: list[str], rows: list[tuple[str, str, Props, _Item]]) -> bool:
    """Write one import file; whether a field holds a line break."""
    if kind == "nodes":
        head = [f"id:ID({ends[0]})"]
    else:
        head = [f":START_ID({ends[0]})", f":END_ID({ends[1]})"]
    head += [*header, f"{cypher.SIGHTINGS}:long[]", f"{cypher.STATEMENTS}:string[]"]
    broken = False
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(head) + "\n")
        lines = []
        for start, end, values, item in rows:
            fields = [_cell(start)] if kind == "nodes" else [_cell(start), _cell(end)]
            fields += ["" if (v := values.get(c)) is None else _cell(v) for c in columns]
            fields.append('"' + _ARRAY.join(map(str, item.sightings)) + '"')
            fields.append(_cell([f"{seq} {encode_props(props)}"
                                 for seq, props in sorted(item.stated.items())]))
            line = ",".join(fields)
            if not broken and ("\n" in line or "\r" in line):
                broken = True
            lines.append(line)
            if len(lines) >= 10_000:
                out.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            out.write("\n".join(lines) + "\n")
    return broken


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
    bulk = BulkLoad(store.batch_size)
    store._bulk = bulk
    try:
        yield True
    finally:
        store._bulk = None
    finish(store, bulk)


def finish(store: Neo4jStore, bulk: BulkLoad) -> None:
    """Import what ``bulk`` holds, then write the schema, the ledger and the runs."""
    with tempfile.TemporaryDirectory(prefix="ringmap-bulk-") as folder:
        options = bulk.write(Path(folder))
        _import(store, options)
    store.reconnect()
    files = [{"fid": fid, "seq": seq, "sha256": done.sha256,
              "mapping_digest": done.mapping_digest, "record": done.model_dump_json(),
              "last_row": done.last_row} for fid, (seq, done) in bulk.loads.items()]

    def work(tx: Any) -> None:
        tx.run(_CREATE_FILES, rows=files).consume()
        tx.run(_CREATE_ROW_REFS, rows=bulk.row_refs).consume()
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
