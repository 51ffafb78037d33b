"""Evidence cases for tests and benchmarks, loaded as real evidence is: files, mappings, ingest.

:class:`CaseBuilder` collects entities and relationships in a few lines, writes them as evidence
tables (one CSV per entity type and one per relationship type, each with its mapping, listed in
a ``case.yaml``), ingests them into any store with :func:`~ringmap.ingest.run.ingest_files` and
saves the cells a test plants. Node ids are the ones ingest gives, computed by the ingest engine
itself, so identifiers are normalised (``0917 123 4567`` is ``Phone:+639171234567``) and checked
(a bad Luhn digit is a :class:`ValueError` when the entity is added). Rows are numbered the same
way every time: each table's rows start at 2, below the header, in the order things were added,
and each row's exhibit reference is ``EX-<row>``; :meth:`CaseBuilder.where` says where an item
was written. :func:`synth_case` generates a synthetic case (:mod:`ringmap.synth`), ingests it and
detects its cells, for the benchmarks; :func:`ingest_case` does the last two steps for any case
folder (the committed example, say).

Examples
--------
>>> import tempfile
>>> from ringmap.graphs.embedded import EmbeddedStore
>>> case = CaseBuilder()
>>> agent = case.person("AG-1", name="Juan Dela Cruz")
>>> phone = case.phone("0917 123 4567")
>>> case.link("USES", agent, phone)
'USES:Person:AG-1->Phone:+639171234567'
>>> case.cell("C1", {agent: 0.9})
>>> folder = Path(tempfile.mkdtemp())
>>> with case.ingest(EmbeddedStore(folder / "case.db"), folder / "evidence") as store:
...     print(store.counts().total_nodes, [c.cell_id for c in store.load_cells("cells-1")])
2 ['C1']
>>> case.where(phone)
Seen(file='phone.csv', row=2, ref='EX-2')
>>> case.where("USES:Person:AG-1->Phone:+639171234567")
Seen(file='uses.csv', row=2, ref='EX-2')
"""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import networkx as nx
import numpy as np
import yaml

from ringmap.analysis.cells import detect_cells
from ringmap.analysis.explain import write_cells
from ringmap.analysis.windows import PlantedMove
from ringmap.graphs.codec import merge_props
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.evidence import EvidenceGraph
from ringmap.graphs.model import AnalysisRun, CellMember, CellRecord, CellReport, Edge, edge_id
from ringmap.graphs.schema import SCHEMA
from ringmap.graphs.secrets import load_key
from ringmap.graphs.store import PackedGraph, Store
from ringmap.ingest.case import load_case
from ringmap.ingest.engine import CompiledMapping, RowRejected, compile_mapping
from ringmap.ingest.mapping import CARD_NUMBER, parse_mapping
from ringmap.ingest.run import check_files, ingest_files
from ringmap.synth import SynthParams, generate

__all__ = ["CaseBuilder", "Seen", "SynthCase", "Value", "ingest_case", "packed_graph",
           "planted_moves", "store_fingerprint", "synth_case"]

Value = str | int | float | bool | datetime
"""A property value as a test writes it; it reaches the store as ingest reads its text."""

StoreT = TypeVar("StoreT", bound=Store)

#: Phone numbers without a country code are read as Philippine numbers, as in the cases.
REGION = "PH"
_REF = "ref"
_CARD = "PaymentCard"


@dataclass(frozen=True)
class Seen:
    """Where an item was written: the table's file name, its row (the header is row 1) and the
    row's exhibit reference."""

    file: str
    row: int
    ref: str


@dataclass(frozen=True)
class _Table:
    name: str
    mapping: dict[str, Any]
    columns: list[str]
    rows: list[list[str]]


def _text(value: Value | None) -> str:
    """A value as a cell of the evidence table, the way ingest reads it back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _keys(type_name: str) -> tuple[str, ...]:
    """The columns that identify an entity: its key properties, or a card's number."""
    return (CARD_NUMBER,) if type_name == _CARD else SCHEMA.entity(type_name).keys


def _entity(type_name: str, columns: Mapping[str, str], optional: bool = False) -> dict[str, Any]:
    return {"type": type_name, "optional": optional,
            "properties": {prop: {"column": column} for prop, column in columns.items()}}


def _compile(table: _Table, key: bytes | None) -> CompiledMapping:
    mapping = parse_mapping(table.mapping, f"{table.name} mapping")
    return compile_mapping(mapping, {c: i for i, c in enumerate(table.columns)}, key)


class CaseBuilder:
    """A small evidence case, collected in code and loaded through the real ingest path.

    Adding an entity or a relationship again merges its properties into the first, so each
    item is one row of one table. Relationships join entities added to this builder.

    Parameters
    ----------
    grading
        The source grading of every table (Admiralty, e.g. ``B2``).
    cells_run
        The run id under which :meth:`ingest` saves the cells given to :meth:`cell`.
    """

    def __init__(self, *, grading: str = "B2", cells_run: str = "cells-1") -> None:
        self.grading = grading
        self.cells_run = cells_run
        self._nodes: dict[str, tuple[str, dict[str, Value]]] = {}
        self._links: dict[str, tuple[str, str, str, dict[str, Value]]] = {}
        self._cells: list[CellRecord] = []
        self._id_mappings: dict[str, CompiledMapping] = {}

    # -- collecting -------------------------------------------------------------------------
    def node(self, type_name: str, **props: Value) -> str:
        """Add an entity of ``type_name``; its node id as ingest gives it.

        Raises
        ------
        ValueError
            A key is blank or does not normalise (ingest would reject the row).
        """
        nid = self._node_id(type_name, props)
        if nid in self._nodes:
            self._nodes[nid][1].update(props)
        else:
            self._nodes[nid] = (type_name, dict(props))
        return nid

    def link(self, rel: str, source: str, target: str, **props: Value) -> str:
        """Add the relationship ``rel`` between two entities of this builder; its id."""
        for end in (source, target):
            if end not in self._nodes:
                raise KeyError(f"{end} is not an entity of this case; add it first")
        eid = edge_id(SCHEMA.relationship(rel).name, source, target)
        if eid in self._links:
            self._links[eid][3].update(props)
        else:
            self._links[eid] = (rel, source, target, dict(props))
        return eid

    def person(self, person_id: str, role: str = "suspect", **props: Value) -> str:
        """Add a Person (a suspect unless ``role`` says otherwise)."""
        return self.node("Person", person_id=person_id, role=role, **props)

    def account(self, platform: str, handle: str, **props: Value) -> str:
        """Add an Account on ``platform``."""
        return self.node("Account", platform=platform, handle=handle, **props)

    def phone(self, number: str, **props: Value) -> str:
        """Add a Phone, national numbers read as Philippine."""
        return self.node("Phone", number=number, **props)

    def device(self, device_id: str, **props: Value) -> str:
        """Add a Device by IMEI or serial (``SN:...``)."""
        return self.node("Device", device_id=device_id, **props)

    def card(self, number: str, **props: Value) -> str:
        """Add a PaymentCard by its number; its id is the number's keyed hash, so the key
        (``RINGMAP_SECRET``) must be the one ingest will use."""
        return self.node(_CARD, number=number, **props)

    def payment(self, channel: str, reference: str, amount: float, currency: str,
                **props: Value) -> str:
        """Add a Payment."""
        return self.node("Payment", channel=channel, reference=reference, amount=amount,
                         currency=currency, **props)

    def site(self, location_id: str, **props: Value) -> str:
        """Add a Location: an office or raid site."""
        return self.node("Location", location_id=location_id, **props)

    def contact(self, source: str, target: str, **props: Value) -> str:
        """Add a CONTACTED relationship from one account or number to another."""
        return self.link("CONTACTED", source, target, **props)

    def cell(self, cell_id: str, members: Mapping[str, float],
             summary: CellReport | None = None) -> None:
        """Plant a cell: its members' node ids with their confidence, and its report."""
        unknown = [m for m in members if m not in self._nodes]
        if unknown:
            raise KeyError(f"cell {cell_id}: not entities of this case: {unknown}")
        self._cells.append(CellRecord(
            cell_id=cell_id, summary=summary,
            members=[CellMember(node_id=m, confidence=c) for m, c in members.items()]))

    # -- where things go --------------------------------------------------------------------
    def where(self, item_id: str) -> Seen:
        """The table, row and reference an entity's or relationship's own row has."""
        return self._layout()[1][item_id]

    def write(self, folder: Path) -> Path:
        """Write the tables, their mappings and ``case.yaml`` into ``folder``; the folder."""
        tables = self._layout()[0]
        (folder / "mappings").mkdir(parents=True, exist_ok=True)
        for table in tables:
            with (folder / f"{table.name}.csv").open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)  # CRLF: a value holding a bare CR is quoted
                writer.writerow(table.columns)
                writer.writerows(table.rows)
            (folder / "mappings" / f"{table.name}.yaml").write_text(
                yaml.safe_dump(table.mapping, sort_keys=False), encoding="utf-8")
        case = {"name": folder.name or "case", "default_region": REGION,
                "tables": [{"file": f"{t.name}.csv", "mapping": f"mappings/{t.name}.yaml"}
                           for t in tables]}
        (folder / "case.yaml").write_text(yaml.safe_dump(case, sort_keys=False),
                                          encoding="utf-8")
        return folder

    def ingest(self, store: StoreT, folder: Path) -> StoreT:
        """Write the case into ``folder``, ingest it into ``store`` and save the planted cells
        (run :attr:`cells_run`); the store.

        Raises
        ------
        ValueError
            Ingest rejected rows: the test's data is not what it means to be.
        """
        report = ingest_files(store, load_case(self.write(folder)),
                              quarantine_dir=folder / "quarantine")
        rejected = [f"{f.rejected} of {Path(f.file).name} (see {f.quarantine})"
                    for f in report.files if f.rejected]
        if rejected:
            raise ValueError(f"ingest rejected rows: {'; '.join(rejected)}")
        if self._cells:
            store.save_cells(AnalysisRun(run_id=self.cells_run), self._cells)
        return store

    def graph(self) -> nx.MultiDiGraph:
        """The case as :meth:`~ringmap.graphs.store.Store.project` gives it once ingested, but
        without files or a store (for tests of the analysis alone): every row goes through the
        ingest engine, so ids and values are the ones ingest stores."""
        graph: nx.MultiDiGraph = nx.MultiDiGraph()
        key = load_key() if any(t == _CARD for t, _ in self._nodes.values()) else None
        for table in self._layout()[0]:
            compiled = _compile(table, key)
            for values in table.rows:
                _ref, nodes, edges, _hash, _skips = compiled.row(values)
                for nid, type_name, props, _hash in nodes:
                    if nid in graph:
                        merge_props(graph.nodes[nid], props)
                    else:
                        graph.add_node(nid, type=type_name, **props)
                for rel, src, dst, props, _hash in edges:
                    graph.add_edge(src, dst, key=rel, type=rel, **props)
        return graph

    # -- inside -----------------------------------------------------------------------------
    def _source(self) -> dict[str, Any]:
        return {"default_region": REGION, "grading": self.grading,
                "reference": {"column": _REF}}

    def _node_id(self, type_name: str, props: Mapping[str, Value]) -> str:
        """The id ingest gives the entity: its key columns through a key-only mapping."""
        keys = _keys(type_name)
        compiled = self._id_mappings.get(type_name)
        if compiled is None:
            table = _Table(type_name, {"source": {"default_region": REGION}, "entities": {
                "node": _entity(type_name, {k: k for k in keys})}}, list(keys), [])
            compiled = _compile(table, load_key() if type_name == _CARD else None)
            self._id_mappings[type_name] = compiled
        try:
            _ref, [(nid, *_rest)], _edges, _hash, _skips = compiled.row([_text(props.get(k))
                                                                   for k in keys])
        except RowRejected as exc:  # the reason never quotes a card number
            raise ValueError(f"{type_name}: {exc.reason}") from None
        return nid

    def _layout(self) -> tuple[list[_Table], dict[str, Seen]]:
        """Every table in ingest order (entities first) and where each item was written."""
        by_type: dict[str, list[str]] = {}
        for nid, (type_name, _props) in self._nodes.items():
            by_type.setdefault(type_name, []).append(nid)
        by_rel: dict[str, list[str]] = {}
        for eid, (rel, *_rest) in self._links.items():
            by_rel.setdefault(rel, []).append(eid)
        tables = [self._node_table(t, ids) for t, ids in by_type.items()]
        tables += [self._link_table(rel, ids) for rel, ids in by_rel.items()]
        seen: dict[str, Seen] = {}
        for table, ids in zip(tables, [*by_type.values(), *by_rel.values()], strict=True):
            for row, item in enumerate(ids, start=2):
                seen[item] = Seen(f"{table.name}.csv", row, f"EX-{row}")
        return tables, seen

    def _node_table(self, type_name: str, ids: list[str]) -> _Table:
        props = list(dict.fromkeys(p for nid in ids for p in self._nodes[nid][1]))
        mapping = {"source": self._source(),
                   "entities": {type_name.lower(): _entity(type_name, {p: p for p in props})}}
        rows = [[f"EX-{row}", *(_text(self._nodes[nid][1].get(p)) for p in props)]
                for row, nid in enumerate(ids, start=2)]
        return _Table(type_name.lower(), mapping, [_REF, *props], rows)

    def _link_table(self, rel: str, ids: list[str]) -> _Table:
        """One table per relationship type: an optional entity per end type it joins, so
        each row fills the key columns of one source and one target."""
        links = [self._links[eid] for eid in ids]
        pairs = dict.fromkeys((self._nodes[src][0], self._nodes[dst][0])
                              for _rel, src, dst, _props in links)
        ends = {"source": dict.fromkeys(s for s, _t in pairs),
                "target": dict.fromkeys(t for _s, t in pairs)}
        entities: dict[str, Any] = {}
        slots: list[tuple[str, str, str]] = []  # (end, type, key) of every key column
        for end, types in ends.items():
            for type_name in types:
                local = f"{end}_{type_name.lower()}"
                entities[local] = _entity(type_name, {k: f"{local}_{k}" for k in _keys(type_name)},
                                          optional=True)
                slots += [(end, type_name, k) for k in _keys(type_name)]
        props = list(dict.fromkeys(p for link in links for p in link[3]))
        relationships = [{"type": rel, "source": f"source_{s.lower()}",
                          "target": f"target_{t.lower()}",
                          "properties": {p: {"column": p} for p in props}} for s, t in pairs]
        rows = []
        for row, (_rel, src, dst, link_props) in enumerate(links, start=2):
            node_of = {"source": self._nodes[src], "target": self._nodes[dst]}
            keys = [_text(node_of[end][1].get(key)) if node_of[end][0] == type_name else ""
                    for end, type_name, key in slots]
            rows.append([f"EX-{row}", *keys, *(_text(link_props.get(p)) for p in props)])
        mapping = {"source": self._source(), "entities": entities,
                   "relationships": relationships}
        columns = [f"{end}_{type_name.lower()}_{key}" for end, type_name, key in slots]
        return _Table(rel.lower(), mapping, [_REF, *columns, *props], rows)


def ingest_case(store: Store, case_dir: Path, quarantine_dir: Path, *,
                detect: bool = False) -> str | None:
    """Ingest every table of a case folder into ``store`` and, with ``detect``, detect and
    save its cells unless the store holds a cell run already.

    Files already in the store are skipped (ingest's own ledger), so a second call is cheap.

    Returns
    -------
    str or None
        With ``detect``, the id of the store's (latest) cell run.
    """
    ingest_files(store, check_files(load_case(case_dir)), quarantine_dir=quarantine_dir)
    if not detect:
        return None
    latest = store.latest_cells(explanations=False)
    return latest[0].run_id if latest else write_cells(store, detect_cells(store)).run.run_id


#: The tables of an embedded case file that ingest writes, each in its key order.
_FINGERPRINTED = {"nodes": "nid", "edges": "eid", "node_src": "nid, file_id",
                  "edge_src": "eid, file_id", "row_refs": "file_id, row", "files": "file_id"}
_PATHS = ("source_file", "quarantine", "skip_log")


def store_fingerprint(path: Path, quarantine: Path | None = None) -> dict[str, str]:
    """SHA-256 of every table of the embedded case file at ``path`` that ingest writes, row
    by row in key order (ledger records without their time of ingest, file paths as file
    names), and of the quarantine files under ``quarantine``: equal fingerprints,
    byte-identical ingests.

    Two ingests of the same files under the same run id compare equal whatever engine or
    process made them (the ingest benchmark compares two engines' stores this way).
    """
    found: dict[str, str] = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        for table, order in _FINGERPRINTED.items():
            digest = hashlib.sha256()
            for row in db.execute(f"SELECT * FROM {table} ORDER BY {order}"):  # noqa: S608
                if table == "files":
                    record = json.loads(row[3])
                    record.pop("ingested_at")
                    for name in _PATHS:  # where the case and quarantine were: file names
                        if record.get(name):
                            record[name] = Path(record[name]).name
                    row = (*row[:3], json.dumps(record, sort_keys=True), *row[4:])
                digest.update(json.dumps(row).encode() + b"\n")
            found[table] = digest.hexdigest()
    if quarantine is not None:
        digest = hashlib.sha256()
        for file in sorted(quarantine.glob("*.csv")):
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
        found["quarantine"] = digest.hexdigest()
    return found


@dataclass(frozen=True)
class SynthCase:
    """A generated synthetic case ingested into a store.

    Attributes
    ----------
    folder
        The generated case folder (``case.yaml``, tables, ``truth/``).
    store
        The store holding it; the caller closes it.
    truth
        The planted cell of every agent Person and agent-run Account, by node id.
    cells_run
        The cell-detection run, unless detection was not asked for.
    """

    folder: Path
    store: Store
    truth: dict[str, str]
    cells_run: str | None


def synth_case(
    folder: Path,
    *,
    cells: int,
    seed: int = 7,
    noise: float = 0.1,
    store: Store | None = None,
    detect: bool = True,
    spelling_noise: float = 0.0,
    moves: int = 0,
) -> SynthCase:
    """Generate a synthetic case under ``folder``, ingest it and detect its cells.

    Each step is done once: a case already generated in ``folder/case`` with the same
    parameters is kept, and :func:`ingest_case` skips what the store holds already. Without
    ``store``, the case goes into an embedded store ``folder/case.db`` (started afresh when the
    case is regenerated).

    Examples
    --------
    >>> import tempfile
    >>> case = synth_case(Path(tempfile.mkdtemp()), cells=2, seed=1)
    >>> case.store.counts().nodes["Person"] > len(case.truth) // 2, case.cells_run is not None
    (True, True)
    >>> case.store.close()
    """
    params = SynthParams(cells=cells, seed=seed, noise=noise, spelling_noise=spelling_noise,
                         moves=moves)
    case_dir = folder / "case"
    summary = case_dir / "truth" / "summary.json"
    wanted = params.recorded()
    fresh = not summary.is_file() or json.loads(summary.read_text())["parameters"] != wanted
    if fresh:
        generate(case_dir, params, force=True)
    if store is None:
        db = folder / "case.db"
        for suffix in ("", "-wal", "-shm") if fresh else ():
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        store = EmbeddedStore(db)
    run = ingest_case(store, case_dir, folder / "quarantine", detect=detect)
    with (case_dir / "truth" / "cells.csv").open(encoding="utf-8", newline="") as handle:
        truth = {row["node_id"]: row["cell_id"] for row in csv.DictReader(handle)}
    return SynthCase(case_dir, store, truth, run)


def planted_moves(case_dir: Path) -> list[PlantedMove]:
    """The moves a synthetic case planted (``truth/moves.csv``; none if it has no such file)."""
    path = case_dir / "truth" / "moves.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [PlantedMove(r["node_id"], r["from_cell"], r["to_cell"],
                            date.fromisoformat(r["moved"])) for r in csv.DictReader(handle)]


def packed_graph(graph: nx.MultiDiGraph, same_as: list[tuple[str, str]] | None = None
                 ) -> EvidenceGraph:
    """``graph`` (every node with a ``type``) as an evidence graph of packed arrays, with the
    ``same_as`` links (source, target) between its nodes collapsed as a store's are.

    >>> g = nx.MultiDiGraph()
    >>> g.add_node("Person:a", type="Person"); g.add_node("Person:b", type="Person")
    >>> sorted(packed_graph(g, [("Person:b", "Person:a")]))
    ['Person:a']
    """
    ids = sorted(graph)
    at = {n: i for i, n in enumerate(ids)}
    edges = sorted(graph.edges(keys=True))
    return EvidenceGraph(PackedGraph.assemble(
        ids, [graph.nodes[n]["type"] for n in ids],
        [{k: v for k, v in graph.nodes[n].items() if k != "type"} for n in ids],
        [r for _, _, r in edges], np.array([at[s] for s, _, _ in edges], dtype=np.int64),
        np.array([at[d] for _, d, _ in edges], dtype=np.int64), [{} for _ in edges],
        [Edge("SAME_AS", s, d, {}) for s, d in same_as or ()],
        lambda _types, props: [dict(p) for p in props]))
