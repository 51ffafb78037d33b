"""issue 14: the bulk path spills its merge to sorted runs and writes the importer's files
the in-memory merge wrote (captured from 096a69e), and leaves no run behind."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringmap import fileio
from ringmap.errors import StoreError
from ringmap.graphs import neo4j_bulk
from ringmap.graphs.codec import merge_props
from ringmap.graphs.model import (
    Batch,
    BatchColumns,
    Edge,
    FileLoad,
    Grading,
    Node,
    Seen,
    Sighting,
)
from ringmap.graphs.neo4j_bulk import BulkLoad, bulk_loading
from ringmap.graphs.neo4j_store import Neo4jStore
from ringmap.graphs.schema import SCHEMA

EXPECTED = Path(__file__).parent / "fixtures" / "neo4j_bulk" / "spill-expected.json"
T0 = datetime(2014, 5, 1, tzinfo=UTC)
#: the files of the case: name, grading, day loaded (the third ties the first's grading:
#: the newer shows)
FILES = (("platform.csv", "B2", 1), ("chats.csv", "A1", 2), ("extraction.csv", "B2", 3))
BATCHES = 3
ROWS = 10  # a batch's rows


def _account(i: int) -> str:
    return f"Account:facebook/agent.{i}"


def _row(f: int, row: int) -> tuple[list[Node], list[Edge]]:
    """What row ``row`` of file ``f`` sees: two accounts that contacted each other and the
    first one's phone; their values differ from file to file."""
    i, j, p = (row * 7 + f) % 9, (row * 7 + f + 1) % 9, (row + f) % 4
    phone = f"Phone:+6391700000{p}"
    first: dict[str, Any] = {"platform": "facebook", "handle": f"agent.{i}",
                             "display": f"Agent {i} ({FILES[f][0]})" if row % 3 else None}
    if f == 1:
        first["score"] = row if i % 2 else f"s{row}"  # a property of two types
    if f == 1 and row == 13:
        first["note"] = "two\nlines, \"quoted\""
    nodes = [Node(_account(i), "Account", first),
             Node(_account(j), "Account", {"platform": "facebook", "handle": f"agent.{j}"}),
             Node(phone, "Phone", {"number": phone.partition(":")[2]})]
    seen = T0 + timedelta(days=row, hours=f)
    edges = [Edge("CONTACTED", _account(i), _account(j),
                  {"first_seen": seen, "last_seen": seen + timedelta(hours=row % 4),
                   "count": row % 5 + 1, "channel": "sms" if f else "call"}),
             Edge("REGISTERED_TO", _account(i), phone, {})]
    return nodes, edges


def _batch(f: int, b: int) -> Batch:
    """Batch ``b`` of file ``f``: as the ingest engine groups it (each item once, its rows
    in a :class:`Seen`) in the first two files, a sighting per item and row in the third."""
    rows = range(b * ROWS + 1, (b + 1) * ROWS + 1)
    if f == 2:
        nodes: list[Node] = []
        edges: list[Edge] = []
        sightings = []
        for row in rows:
            row_nodes, row_edges = _row(f, row)
            nodes += row_nodes
            edges += row_edges
            ids = [node.id for node in row_nodes] + [edge.id for edge in row_edges]
            sightings += [Sighting(item, row, f"EX-{row}" if row % 2 else None) for item in ids]
        if b == BATCHES - 1:  # a relationship to a node of an earlier batch only
            late = Edge("REGISTERED_TO", _account(8), "Phone:+63917000009", {})
            edges.append(late)
            sightings.append(Sighting(late.id, rows[-1], None))
        else:
            nodes.append(Node("Phone:+63917000009", "Phone", {"number": "+63917000009"}))
        return Batch(nodes, edges, sightings, last_row=rows[-1])
    merged: dict[str, tuple[Node, list[int]]] = {}
    links: dict[tuple[str, str, str], tuple[Edge, list[int]]] = {}
    for row in rows:
        row_nodes, row_edges = _row(f, row)
        for node in row_nodes:
            known = merged.setdefault(node.id, (Node(node.id, node.type, {}), []))
            merge_props(known[0].props, node.props)
            known[1].append(row)
        for edge in row_edges:
            key = (edge.type, edge.src, edge.dst)
            link = links.setdefault(key, (Edge(*key, {}), []))
            merge_props(link[0].props, edge.props)
            link[1].append(row)
    seen = Seen({nid: rows for nid, (_n, rows) in merged.items()},
                {key: rows for key, (_e, rows) in links.items()},
                {row: f"EX-{f}-{row}" for row in rows if row % 3})
    return Batch([node for node, _r in merged.values()], [edge for edge, _r in links.values()],
                 seen, last_row=rows[-1])


def _batches(f: int) -> Iterator[Batch]:
    for b in range(BATCHES):
        yield _batch(f, b)


def feed(bulk: Any, columns: bool = False) -> None:
    """Load the case's files into ``bulk`` (a :class:`BulkLoad`, of 096a69e or now); with
    ``columns``, the grouped batches as the engine's worker sends them (columns)."""
    for f, (name, grade, day) in enumerate(FILES):
        load = FileLoad(sha256=name.encode().hex().ljust(64, "0")[:64], source_file=name,
                        mapping="m", mapping_digest="d1", run_id="run-1",
                        grading=Grading.parse(grade),
                        ingested_at=datetime(2026, 1, day, tzinfo=UTC), read=BATCHES * ROWS)
        batches: Iterable[Batch | BatchColumns] = _batches(f)
        if columns and f < 2:
            batches = map(BatchColumns.of, _batches(f))
        bulk.load_file(f"file-{f}", load, batches)


def written(bulk: Any, folder: Path) -> dict[str, Any]:
    """The import files ``bulk`` writes into ``folder`` and the importer's options."""
    options = [o.replace(str(folder), "{folder}") for o in bulk.write(folder)]
    row_refs = bulk.row_refs if isinstance(bulk.row_refs, list) else [
        chunk for part in bulk.row_refs.parts() for chunk in part]
    return {"options": options, "row_refs": row_refs,
            "files": {p.name: p.read_text(encoding="utf-8")
                      for p in sorted(folder.glob("*.csv"))}}


def _types_to(monkeypatch: pytest.MonkeyPatch, here: bool) -> None:
    """Every relationship type goes to the loading process (``here``) or to the one forked
    beside it, never to the other."""
    loading, taking = os.getpid(), neo4j_bulk._Shared.__iter__

    def only(shared: neo4j_bulk._Shared) -> Iterator[str]:
        if (os.getpid() == loading) == here:
            yield from taking(shared)

    monkeypatch.setattr(neo4j_bulk._Shared, "__iter__", only)


@pytest.mark.parametrize("types", ["shared", "here", "beside"])
@pytest.mark.parametrize("small", [False, True])
def test_issue_14_spilled_merge_writes_the_files_of_the_in_memory_merge(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: bool, types: str) -> None:
    """Several loads of the same ids across batches and files, gradings that differ and tie,
    sightings in row order, a relationship seen in every file, a property of two types, a
    line break: the files are 096a69e's byte for byte, in one run or in many small ones (and
    with the engine's batches as the columns its worker sends), whichever process writes
    which relationship type."""
    if types != "shared":
        _types_to(monkeypatch, types == "here")
    if small:  # many runs, frames, buckets and parts of the row references
        monkeypatch.setattr(neo4j_bulk, "_RUN_RECORDS", 7)
        monkeypatch.setattr(neo4j_bulk, "_FRAME", 3)
        monkeypatch.setattr(neo4j_bulk, "_BUCKETS", 5)
        monkeypatch.setattr(neo4j_bulk, "_REFS_PART", 4)
    runs, out = tmp_path / "runs", tmp_path / "out"
    runs.mkdir()
    out.mkdir()
    bulk = BulkLoad(ROWS * 2, runs)
    feed(bulk, columns=small)
    if small:
        assert len(list(runs.glob("*.run"))) > 10
    assert written(bulk, out) == json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert not list(runs.glob("*.run"))  # merged runs make room for the import


class _Tx:
    """A transaction that records the row references each statement creates."""

    def __init__(self, parts: list[list[Any]]) -> None:
        self.parts = parts

    def run(self, statement: str, **params: Any) -> SimpleNamespace:
        if statement == neo4j_bulk._CREATE_ROW_REFS:
            self.parts.append(params["rows"])
        return SimpleNamespace(consume=lambda: None)


def test_issue_14_the_ledger_row_references_are_written_in_parts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The load holds the row references of one part (some _REFS_PART references), not the
    case's; the ledger's transaction creates them a part per statement, all of them again
    when the driver retries it."""
    monkeypatch.setattr(neo4j_bulk, "_REFS_PART", 4)
    monkeypatch.setattr(neo4j_bulk, "_import", lambda store, options: None)
    bulk = BulkLoad(ROWS * 2, tmp_path)
    feed(bulk)
    held = sum(len(chunk["rows"]) for chunk in bulk.row_refs.part)
    assert held < 4 + ROWS * 2
    attempts: list[list[list[Any]]] = []

    def write(work: Any) -> None:
        for _attempt in range(2):  # the driver retries a transaction that failed
            attempts.append([])
            work(_Tx(attempts[-1]))

    store = SimpleNamespace(_write=write, reconnect=lambda: None, record_run=lambda run: None)
    (tmp_path / "out").mkdir()
    neo4j_bulk.finish(cast(Neo4jStore, store), bulk, tmp_path / "out")
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))["row_refs"]
    first, again = attempts
    assert len(first) > 2 and first == again
    assert [chunk for part in first for chunk in part] == expected
    assert all(sum(len(chunk["rows"]) for chunk in part) < 4 + ROWS * 2 for part in first)


@given(st.lists(st.one_of(st.text(), st.integers(), st.floats(), st.booleans())))
def test_issue_14_a_joined_row_splits_into_its_fields(values: list[Any]) -> None:
    """A row kept joined in its bucket (ids, values that are texts, numbers or booleans,
    sightings, statements) splits again into exactly its fields, commas, quotes and line
    breaks in texts included."""
    fields = ['"Account:x"', *map(neo4j_bulk._cell, values), '"1\x1f2"', '"1 {""a"":1}"']
    assert neo4j_bulk._split(",".join(fields)) == fields


def test_issue_14_a_relationship_to_no_node_is_refused(tmp_path: Path) -> None:
    bulk = BulkLoad(ROWS, tmp_path)
    lost = Edge("REGISTERED_TO", _account(1), "Phone:+63917000077", {})
    bulk.load_file("file-0", FileLoad(sha256="0" * 64, source_file="x.csv", mapping="m",
                                      mapping_digest="d1", run_id="run-1",
                                      grading=Grading.parse("B2")),
                   [Batch([Node(_account(1), "Account", {"handle": "agent.1"})], [lost],
                          [Sighting(lost.id, 1)], last_row=1)])
    with pytest.raises(StoreError, match="joins a node that does not exist: "
                                         r"Phone:\+63917000077$"):
        bulk.write(tmp_path)


class _Boom(Exception):
    pass


def test_issue_14_the_two_processes_take_each_relationship_type_once() -> None:
    """The relationship types go one at a time to the loading process or to the one beside
    it, each to one of them."""
    names = [f"TYPE_{n:03d}" for n in range(200)]
    shared = neo4j_bulk._Shared(names)
    with neo4j_bulk._aside(lambda: list(shared)) as beside:
        mine = list(shared)
        theirs = beside()
    assert sorted(mine + theirs) == sorted(names)
    assert mine == sorted(mine) and theirs == sorted(theirs)  # in the order given


@pytest.mark.parametrize("fault", [_Boom, KeyboardInterrupt])
@pytest.mark.parametrize("where", ["load", "nodes", "relationships here",
                                   "relationships beside"])
def test_issue_14_no_run_file_is_left_after_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: type[BaseException],
        where: str) -> None:
    """An error (or Ctrl-C) while the files load or while the runs merge into the import
    files (the nodes' here, the relationships' here or in the process beside: its error is
    raised here) removes the private folder of runs and import files; the import never
    runs."""
    _types_to(monkeypatch, where == "relationships here")
    monkeypatch.setenv("RINGMAP_NEO4J_HOME", str(tmp_path))
    monkeypatch.setattr(neo4j_bulk, "_RUN_RECORDS", 7)
    monkeypatch.setattr(neo4j_bulk, "_refusal", lambda store: None)
    monkeypatch.setattr(neo4j_bulk, "_import", lambda store, options: pytest.fail("imported"))
    seen: list[str] = []  # in the process that fails
    shown = neo4j_bulk._shown

    def failing(type_name: str, *args: Any) -> Any:
        runs = next(tmp_path.glob("bulk/.load-*/runs"))
        assert runs.stat().st_mode & 0o777 == 0o700
        assert list(runs.glob("*.run"))
        if (type_name in SCHEMA.relationships) == where.startswith("relationships"):
            seen.append(type_name)
            if len(seen) == 3:
                raise fault
        return shown(type_name, *args)

    monkeypatch.setattr(neo4j_bulk, "_shown", failing)
    store = cast(Neo4jStore, SimpleNamespace(batch_size=ROWS, _bulk=None))
    with pytest.raises(fault), bulk_loading(store, True, 0) as bulk:
        assert bulk
        assert store._bulk is not None
        feed(store._bulk)
        if where == "load":
            assert list(next(tmp_path.glob("bulk/.load-*/runs")).glob("*.run"))
            raise fault
    assert store._bulk is None
    assert len(seen) == (0 if where in ("load", "relationships beside") else 3)
    assert list((tmp_path / "bulk").iterdir()) == []


def test_issue_14_a_killed_bulk_load_leaves_no_folder_for_long(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A load killed outright (SIGKILL) cannot remove its folder of runs and import files:
    the next bulk load removes it, and keeps a live load's."""
    monkeypatch.setenv("RINGMAP_NEO4J_HOME", str(tmp_path))
    monkeypatch.setattr(neo4j_bulk, "_refusal", lambda store: None)
    monkeypatch.setattr(neo4j_bulk, "finish", lambda store, bulk, folder: None)
    (tmp_path / "bulk").mkdir(mode=0o700)
    killed = tmp_path / "bulk" / ".load-x1y2z3ab.999999999.tmp"  # no such process
    live = tmp_path / "bulk" / f".load-a1b2c3d4{fileio.temporary_suffix()}"
    for folder in (killed, live):
        (folder / "runs").mkdir(parents=True)
        (folder / "runs" / "nodes-0.run").write_bytes(b"\x80")
    store = cast(Neo4jStore, SimpleNamespace(batch_size=ROWS, _bulk=None))
    with bulk_loading(store, True, 0) as bulk:
        assert bulk and not killed.exists() and live.exists()
        mine = store._bulk
        assert mine is not None and mine.folder.parent.name.endswith(
            fileio.temporary_suffix())
        assert mine.folder.parent.stat().st_mode & 0o777 == 0o700
    assert sorted((tmp_path / "bulk").iterdir()) == [live]
