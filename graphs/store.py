"""The store contract: a small abstract class that every store implements, and the one place
that decides which store a command opens.

Template methods (``project``, ``get_many``) are final and built on a few abstract hooks, so the
embedded and Neo4j stores answer the same questions the same way; the contract tests in
``tests/test_store_contract.py`` run against every store. Named queries belong to the store
too (:meth:`Store.named_rows`, :meth:`Store.victim_side`): callers never test which backend
they hold. :class:`StoreChoice` holds the precedence of ``--store``, ``--neo4j``,
``RINGMAP_STORE`` and ``NEO4J_URI``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar, final

import networkx as nx
import numpy as np

from ringmap.errors import ConfigError, StoreError
from ringmap.graphs.codec import Texts
from ringmap.graphs.evidence import EvidenceGraph
from ringmap.graphs.model import (
    AnalysisRun,
    Batch,
    BatchColumns,
    CellRecord,
    Conflict,
    Counts,
    Edge,
    FileLoad,
    Grading,
    IngestRun,
    Node,
    Provenance,
    Retracted,
    Retraction,
    Statement,
    edge_id,
)
from ringmap.graphs.sameas import SAME_AS, collapse
from ringmap.graphs.statements import Stated, disputed, statements
from ringmap.perf import paused_gc
from ringmap.privacy import key_problem

if TYPE_CHECKING:
    from ringmap.queries.catalog import QuerySpec

__all__ = ["DEFAULT_STORE", "PackedGraph", "Store", "StoreChoice", "graded_keys", "looked_up",
           "open_store"]

DEFAULT_STORE = "ringmap.db"
H = TypeVar("H", bound=Hashable)


def _refuse_card_keys(batch: Batch | BatchColumns) -> Batch | BatchColumns:
    """``batch`` itself; :class:`StoreError` if a node key holds a card number (a defence
    behind the ingest engine, which rejects such rows before they get here)."""
    if isinstance(batch, BatchColumns):
        keys: Iterable[tuple[str, str]] = zip(batch.types, batch.ids, strict=True)
    else:
        keys = ((node.type, node.id) for node in batch.nodes)
    for type_, node_id in keys:
        problem = key_problem(type_, node_id)
        if problem is not None:
            raise StoreError(f"refused to store {problem}")
    return batch


def _whole(batch: Batch | BatchColumns) -> Batch:
    return batch.batch() if isinstance(batch, BatchColumns) else batch


def _as_given(_types: Sequence[str], props: Sequence[Any]) -> list[dict[str, Any]]:
    """Properties a store handed over decoded already (copies)."""
    return [dict(p) for p in props]


def _codes(names: list[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """The distinct ``names`` in order, and each name's position among them."""
    distinct = tuple(sorted(dict.fromkeys(names)))
    at = {name: i for i, name in enumerate(distinct)}
    return distinct, np.fromiter(map(at.__getitem__, names), dtype=np.int32, count=len(names))


def looked_up(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each of ``wanted``, ``values[i]`` where it is ``keys[i]`` (``keys`` sorted), -1
    where it is none of them: a store's own keys of its items to what it read by them.

    >>> looked_up(np.array([2, 5, 9]), np.array([0, 1, 2]), np.array([9, 3, 2])).tolist()
    [2, -1, 0]
    """
    if not len(keys):
        return np.full(len(wanted), -1, dtype=values.dtype)
    where = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    found: np.ndarray = np.where(keys[where] == wanted, values[where], -1)
    return found


def graded_keys(groups: Iterable[tuple[H, Sequence[int]]], files: Callable[[H], Iterable[int]],
                gradings: Mapping[int, Grading], keys: np.ndarray
                ) -> tuple[np.ndarray, list[frozenset[Grading]]]:
    """What :meth:`Store.packed_gradings` answers, from what a store read by its own keys of
    its relationships: ``groups`` of (the files that saw them, as the store spells them; their
    keys), one set of ``gradings`` (by file number) per distinct spelling (a case has a few;
    ``files`` reads one as file numbers), aligned with ``keys``: the index of each one's set,
    -1 where no group holds it.

    >>> codes, sets = graded_keys([("1", [7]), ("1,2", [3, 9])], lambda f: map(int, f.split(",")),
    ...                           {1: Grading.parse("A1"), 2: Grading.parse("C3")},
    ...                           np.array([9, 7, 5]))
    >>> codes.tolist(), [sorted(g.grade for g in s) for s in sets]
    ([1, 0, -1], [['A1'], ['A1', 'C3']])
    """
    sets: list[frozenset[Grading]] = []
    at: dict[H, int] = {}
    read, codes = array("q"), array("i")
    for spelled, found in groups:
        code = at.get(spelled)
        if code is None:
            code = at[spelled] = len(sets)
            sets.append(frozenset(gradings[f] for f in files(spelled) if f in gradings))
        read.extend(found)
        codes.extend(repeat(code, len(found)))
    eids = np.frombuffer(read, dtype=np.int64)
    order = np.argsort(eids)
    aligned = looked_up(eids[order], np.frombuffer(codes, dtype=np.int32)[order], keys)
    return aligned.astype(np.int32), sets


@dataclass(frozen=True, eq=False)
class PackedGraph:
    """The evidence graph as compact arrays: what :meth:`Store.project` reads, in one pass.

    Node ``i`` is ``ids[i]`` (ids in order) of type ``type_names[node_type[i]]``;
    relationship ``j`` goes from node ``src[j]`` to node ``dst[j]``, of type
    ``rel_names[rel[j]]``, relationships ordered by (type, source id, target id) as
    :meth:`Store.edges` orders them. Properties stay as the store holds them (the embedded
    store's JSON text) until :meth:`node_props` or :meth:`edge_props` asks; same-as links
    (an analyst's decisions, never edges of the graph) are kept apart in ``same_as``.

    >>> packed = PackedGraph.assemble(
    ...     ["Device:1", "Person:a"], ["Device", "Person"], [{}, {"role": "suspect"}],
    ...     ["USES"], np.array([1]), np.array([0]), [{}], [], _as_given)
    >>> packed.rel_names, packed.node_props(1), sorted(packed.to_networkx().edges(keys=True))
    (('USES',), {'role': 'suspect'}, [('Person:a', 'Device:1', 'USES')])
    """

    ids: list[str]
    node_type: np.ndarray
    type_names: tuple[str, ...]
    src: np.ndarray
    dst: np.ndarray
    rel: np.ndarray
    rel_names: tuple[str, ...]
    node_raw: Sequence[Any]
    edge_raw: Sequence[Any]
    same_as: list[Edge]
    decode: Callable[[Sequence[str], Sequence[Any]], list[dict[str, Any]]]
    """Type names and raw properties -> the properties (copies the caller may change)."""
    keys: np.ndarray | None = None
    """The store's own key of each relationship (the embedded store's row ids), where it
    has one: what :meth:`Store.packed_gradings` reads by."""

    @classmethod
    def assemble(
        cls, ids: list[str], types: list[str], node_raw: Sequence[Any], rel_types: list[str],
        src: np.ndarray, dst: np.ndarray, edge_raw: Sequence[Any], same_as: list[Edge],
        decode: Callable[[Sequence[str], Sequence[Any]], list[dict[str, Any]]],
        keys: np.ndarray | None = None,
    ) -> PackedGraph:
        """Pack nodes (``ids`` in order) and relationships (``src``/``dst`` as positions in
        ``ids``, -1 for an end that was filtered out: such relationships are dropped;
        ``keys`` the store's key of each, if it has them; ``edge_raw`` a list, or
        :class:`~ringmap.graphs.codec.Texts`)."""
        type_names, node_type = _codes(types)
        kept = np.flatnonzero((src >= 0) & (dst >= 0))
        rel_names, rel = _codes(rel_types)
        rel, src, dst = rel[kept], src[kept], dst[kept]
        # by (type, source, target) as one key, stably: a fifth of the time of sorting by
        # the three in turn (the key fits 64 bits up to some 500M nodes)
        n = max(len(ids), 1)
        order = np.argsort((rel.astype(np.int64) * n + src) * n + dst, kind="stable")
        taken = kept[order]
        return cls(ids=ids, node_type=node_type, type_names=type_names,
                   src=src[order].astype(np.int32), dst=dst[order].astype(np.int32),
                   rel=rel[order], rel_names=rel_names, node_raw=node_raw,
                   edge_raw=(edge_raw.take(taken) if isinstance(edge_raw, Texts)
                             else [edge_raw[i] for i in taken.tolist()]),
                   same_as=same_as, decode=decode, keys=None if keys is None else keys[taken])

    def node_props(self, i: int) -> dict[str, Any]:
        """The properties of node ``i``."""
        return self.decode([self.type_names[self.node_type[i]]], [self.node_raw[i]])[0]

    def edge_props(self, j: int) -> dict[str, Any]:
        """The properties of relationship ``j``."""
        return self.decode([self.rel_names[self.rel[j]]], [self.edge_raw[j]])[0]

    def to_networkx(self) -> nx.MultiDiGraph:
        """The graph as :meth:`Store.project` gives it, before same-as groups are collapsed.

        Filled through networkx's own adjacency dicts (the layout ``add_edge`` builds: one
        key dict shared by ``succ[u][v]`` and ``pred[v][u]``), cheaper than one ``add_edge``
        call per relationship; properties are parsed in bulk.
        """
        graph: nx.MultiDiGraph = nx.MultiDiGraph()
        nodes, succ, pred = graph._node, graph._succ, graph._pred
        types = [self.type_names[t] for t in self.node_type.tolist()]
        for id_, type_, props in zip(self.ids, types, self.decode(types, self.node_raw),
                                     strict=True):
            nodes[id_] = {"type": type_, **props}
            succ[id_] = {}
            pred[id_] = {}
        ids = self.ids
        rels = [self.rel_names[t] for t in self.rel.tolist()]
        for s, d, rel, props in zip(self.src.tolist(), self.dst.tolist(), rels,
                                    self.decode(rels, self.edge_raw), strict=True):
            u, v = ids[s], ids[d]
            keys = succ[u].get(v)
            if keys is None:
                keys = succ[u][v] = pred[v][u] = {}
            keys[rel] = {"type": rel, **props}
        return graph


class Store(ABC):
    """A case: evidence nodes and relationships with provenance, ledgers and assessments."""

    kind: ClassVar[str]

    # -- lifecycle -------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @abstractmethod
    def describe(self) -> str:
        """Where this store lives, for messages (never containing a secret)."""

    def writing(self, command: str, *, wait: bool = False,
                on_wait: Callable[[str], None] | None = None) -> AbstractContextManager[None]:
        """Hold the case for one writer (``command``) while the block runs.

        A store whose server arbitrates concurrent writers needs nothing; the embedded store
        refuses a second writer (:class:`~ringmap.errors.StoreBusy`) or, with ``wait``, waits
        for it after telling ``on_wait`` why.
        """
        return nullcontext()

    # -- ingest ----------------------------------------------------------------------------
    def bulk_loading(self, wanted: bool | None, size: int) -> AbstractContextManager[bool]:
        """A block whose loads go through the store's bulk path when that applies (a new case
        of ``size`` evidence bytes); yields whether they do.

        ``wanted`` ``True`` asks for it and is refused (:class:`~ringmap.errors.ConfigError`)
        where it cannot apply, ``False`` never takes it, ``None`` lets the store choose. Only
        the Neo4j store has one (Neo4j's bulk importer, :mod:`ringmap.graphs.neo4j_bulk`).
        """
        if wanted:
            raise ConfigError(f"--bulk loads a new case into an empty Neo4j database; "
                              f"{self.describe()} is not one (load without --bulk)")
        return nullcontext(False)

    @abstractmethod
    def file_load(self, sha256: str, mapping_digest: str) -> FileLoad | None:
        """The ledger record of this file+mapping, complete or resumable, if any."""

    @final
    def load_file(self, load: FileLoad, batches: Iterable[Batch | BatchColumns]) -> FileLoad:
        """Merge the batches and record ``load`` (marked complete) in the ledger.

        Nodes merge by id, relationships by (type, src, dst); every sighting adds a provenance
        record. The load *states* the properties it gives (its rows merged, later rows
        overwriting); the value shown is the best-graded load's, the newest on a tie
        (:mod:`ringmap.graphs.statements`), and every load's statement is kept. Either the
        whole file becomes visible or, if the process dies, :meth:`file_load` afterwards
        reports how far it got (``complete=False``, ``loaded`` rows committed) so a rerun
        resumes exactly.

        Raises
        ------
        StoreError
            If a node key holds a card number (:func:`ringmap.privacy.key_problem`); nothing
            of the file is stored then.
        """
        with self.writing("ingest"):
            return self._load(load, map(_refuse_card_keys, batches))

    def _load(self, load: FileLoad, batches: Iterable[Batch | BatchColumns]) -> FileLoad:
        """:meth:`_load_file` of batches some of which may be columns (the engine's worker
        sends them so), made whole first; a store that writes columns as they are takes
        them here."""
        return self._load_file(load, map(_whole, batches))

    @abstractmethod
    def _load_file(self, load: FileLoad, batches: Iterable[Batch]) -> FileLoad:
        """:meth:`load_file` of this store, given batches already checked."""

    @final
    def retract(self, loads: Iterable[FileLoad], retraction: Retraction,
                on_step: Callable[[str], None] | None = None) -> Retracted:
        """Remove exactly what ``loads`` contributed, in one transaction.

        Their sightings and statements go; nodes and relationships that no other load states
        are removed (a node still joined by a relationship another load states stays), the
        others show the values of the loads left. The loads stay in the ledger, marked with
        ``retraction``; the same file can then be loaded again. ``on_step`` is told of each
        step inside the transaction (a process killed there leaves the store as before).

        Raises
        ------
        NotFound
            If a load is not (or no longer) in the ledger: nothing is changed.
        """
        with self.writing("retract"):
            return self._retract(list(loads), retraction, on_step or (lambda _step: None))

    @abstractmethod
    def _retract(self, loads: list[FileLoad], retraction: Retraction,
                 on_step: Callable[[str], None]) -> Retracted:
        """:meth:`retract` of this store, holding the writer."""

    @abstractmethod
    def record_run(self, run: IngestRun) -> None:
        """Insert or update an ingest run."""

    @abstractmethod
    def runs(self) -> list[IngestRun]:
        """Every ingest run, oldest first."""

    @abstractmethod
    def file_loads(self) -> list[FileLoad]:
        """Every file ledger record, oldest first."""

    # -- reads -----------------------------------------------------------------------------
    @abstractmethod
    def get(self, node_id: str) -> Node | None:
        """The node with this id, or ``None``."""

    @abstractmethod
    def nodes(self, types: Iterable[str] | None = None) -> Iterator[Node]:
        """Every node (of these types), ordered by id."""

    @abstractmethod
    def edges(self, types: Iterable[str] | None = None) -> Iterator[Edge]:
        """Every relationship (of these types), ordered by (type, src, dst)."""

    @abstractmethod
    def neighbours(
        self, node_id: str, rel_types: Iterable[str] | None = None
    ) -> list[tuple[Edge, Node]]:
        """Relationships touching ``node_id`` in either direction with the node at the other
        end, ordered by (edge type, other node id)."""

    @abstractmethod
    def provenance(self, item_id: str) -> list[Provenance]:
        """Every sighting of a node or relationship id, ordered by (file, row)."""

    def provenance_many(self, item_ids: Iterable[str]) -> dict[str, list[Provenance]]:
        """:meth:`provenance` of many items at once (items never seen are left out); stores
        behind a network override it to answer in a few round trips."""
        found = {item: self.provenance(item) for item in dict.fromkeys(item_ids)}
        return {item: rows for item, rows in found.items() if rows}

    def provenance_first(self, item_ids: Iterable[str], first: int
                         ) -> dict[str, tuple[list[Provenance], int]]:
        """The first ``first`` sightings of each item (ordered as :meth:`provenance_many`)
        and how many it has in all (items never seen are left out): what a map's tooltip
        shows of an item seen in thousands of rows, without building every sighting."""
        return {item: (rows[:first], len(rows))
                for item, rows in self.provenance_many(item_ids).items()}

    @abstractmethod
    def stated_many(self, item_ids: Iterable[str]) -> dict[str, list[Stated]]:
        """Every load's statement of each of these nodes or relationships (items never stated
        are left out)."""

    @abstractmethod
    def multi_stated(self, types: Iterable[str] | None = None
                     ) -> Iterator[tuple[str, str, list[Stated]]]:
        """``(id, type, statements)`` of every node and relationship (of these types) that
        more than one load stated, ordered by type then id."""

    @final
    def values(self, item_id: str) -> list[Statement]:
        """Every source's value of every property of a node or relationship, by property,
        the best-graded first, the one shown marked."""
        return statements(item_id, self.stated_many([item_id]).get(item_id, []))

    @final
    def conflicts(self, types: Iterable[str] | None = None,
                  properties: Iterable[str] | None = None) -> list[Conflict]:
        """The properties (of these types; these names) whose sources disagree, ordered by
        item then property."""
        wanted = None if properties is None else set(properties)
        found: list[Conflict] = []
        for item, type_, stated in self.multi_stated(types):
            names = [n for n in disputed(stated) if wanted is None or n in wanted]
            if names:  # most items stated twice agree: only these are worth their statements
                every = statements(item, stated)
                found += [Conflict(item=item, type=type_, property=name,
                                   statements=[s for s in every if s.property == name])
                          for name in names]
        return found

    @abstractmethod
    def edge_gradings(self) -> dict[str, frozenset[Grading]]:
        """Every relationship id with the gradings of the files it was seen in, in one pass
        (weighing ties by source grading must not cost one lookup per relationship)."""

    def packed_gradings(self, packed: PackedGraph
                        ) -> tuple[np.ndarray, list[frozenset[Grading]]]:
        """:meth:`edge_gradings` aligned with the relationships of ``packed`` (this store's
        :meth:`packed`): the distinct sets of gradings, and for each relationship the index
        of its set among them (-1: seen in no file). No relationship id is built or kept: a
        store that reads its sightings by its own keys (:attr:`PackedGraph.keys`) overrides
        this reading by id."""
        by_id = self.edge_gradings()
        ids, names = packed.ids, packed.rel_names
        sets: list[frozenset[Grading]] = []
        at: dict[int, int] = {}  # by the set's identity, as stores share one set per files
        codes = np.full(len(packed.src), -1, dtype=np.int32)
        for j, (r, s, d) in enumerate(zip(packed.rel.tolist(), packed.src.tolist(),
                                          packed.dst.tolist(), strict=True)):
            found = by_id.get(edge_id(names[r], ids[s], ids[d]))
            if found is not None:
                code = at.get(id(found))
                if code is None:
                    code = at[id(found)] = len(sets)
                    sets.append(found)
                codes[j] = code
        return codes, sets

    @abstractmethod
    def counts(self) -> Counts:
        """Nodes and relationships per type (types with none are left out)."""

    # -- assessments -----------------------------------------------------------------------
    @abstractmethod
    def write_same_as(self, link: Edge) -> None:
        """Add one ``SAME_AS`` relationship (an analyst's reviewed decision, no sightings);
        :func:`ringmap.graphs.sameas.merge` checks it first."""

    @abstractmethod
    def delete_same_as(self, link: Edge) -> None:
        """Remove the ``SAME_AS`` relationship ``link`` and nothing else."""

    @abstractmethod
    def save_cells(self, run: AnalysisRun, cells: Iterable[CellRecord]) -> None:
        """Write a cell-detection run and its cells (kept; earlier runs stay), all or nothing.

        ``cells`` are read once, in order, and may be made as they are read (a large run's
        explanations are not all held at once); ``run`` is written once they are all read,
        so whoever makes them may complete its summary meanwhile.
        """

    @abstractmethod
    def analysis_runs(self, kind: str = "cells") -> list[AnalysisRun]:
        """Analysis runs of a kind, oldest first."""

    @abstractmethod
    def load_cells(self, run_id: str, *, explanations: bool = True, reports: bool = True,
                   cell_ids: Iterable[str] | None = None) -> list[CellRecord]:
        """The cells of one analysis run, ordered by cell id; with ``cell_ids``, only those
        of them that the run has.

        Without ``explanations`` every member's explanation is left empty and never built: a
        large run's explanations are most of its saved records (at 5,400 cells about 3.7 GB
        as objects), and maps, timelines and packages show none. Whoever needs them for every
        cell reads them a few cells at a time by ``cell_ids``. Without ``reports`` (and
        without explanations) each cell is read as :meth:`CellRecord.sketched`: its report's
        figures instead of the report, all that the overview and victims maps draw (whole
        reports were about 0.23 MB a cell as objects).
        """

    # -- named queries ---------------------------------------------------------------------
    @abstractmethod
    def named_rows(
        self, spec: QuerySpec, params: Mapping[str, Any], timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of the named query ``spec`` with its bound ``params``, as tuples in the
        order of its columns: the Neo4j store runs the ``.cypher`` text, the embedded store its
        twin in :mod:`ringmap.queries.twins`. ``timeout`` (seconds) bounds a server's work."""

    @abstractmethod
    def victim_side(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are on the victim side: victims, and what only victims use or hold.

        The same rule as :func:`ringmap.privacy.victim_side`, asked of the store for just
        these ids (a query result's parties), not of the whole projected graph.
        """

    def query(
        self, statement: str, params: Mapping[str, Any] | None = None,
        timeout: float | None = None, limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """At most ``limit`` rows of the read-only Cypher ``statement``, as dicts.

        Only a store that speaks Cypher runs it (Neo4j overrides this); the others refuse.
        """
        raise ConfigError(f"the {self.kind} store does not run Cypher (named queries run on "
                          "every store: ringmap query --list)")

    def write(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a Cypher ``statement`` that writes, in a transaction of its own (so that it may
        batch with ``CALL { ... } IN TRANSACTIONS``): an analysis's scratch state, never
        evidence. Only a store that speaks Cypher runs it (Neo4j overrides this)."""
        raise ConfigError(f"the {self.kind} store does not run Cypher")

    def _packed(self, node_types: list[str] | None, rel_types: list[str] | None
                ) -> PackedGraph:
        """:meth:`packed` of this store, ``rel_types`` never naming ``SAME_AS``; a store
        that can read its adjacency as arrays overrides it."""
        nodes = list(self.nodes(node_types))
        at = {node.id: i for i, node in enumerate(nodes)}
        edges = [e for e in self.edges(rel_types) if e.type != SAME_AS]
        return PackedGraph.assemble(
            [n.id for n in nodes], [n.type for n in nodes], [n.props for n in nodes],
            [e.type for e in edges], np.array([at.get(e.src, -1) for e in edges], np.int64),
            np.array([at.get(e.dst, -1) for e in edges], np.int64), [e.props for e in edges],
            list(self.edges([SAME_AS])), _as_given)

    # -- template methods ------------------------------------------------------------------
    @final
    def packed(
        self,
        node_types: Iterable[str] | None = None,
        rel_types: Iterable[str] | None = None,
    ) -> PackedGraph:
        """The evidence graph (optionally filtered) as compact arrays, properties read only
        when asked for; every same-as link in ``same_as`` whatever the filter."""
        wanted = None if rel_types is None else sorted(set(rel_types) - {SAME_AS})
        with paused_gc():  # millions of small containers that stay alive, and no cycles
            return self._packed(None if node_types is None else sorted(set(node_types)), wanted)

    @final
    def project(
        self,
        node_types: Iterable[str] | None = None,
        rel_types: Iterable[str] | None = None,
    ) -> nx.MultiDiGraph:
        """The evidence graph (optionally filtered) as a networkx MultiDiGraph, each same-as
        group collapsed into one node (:func:`ringmap.graphs.sameas.collapse`).

        Node attributes: ``type`` plus the node's properties; edge key: the relationship type;
        edge attributes: ``type`` plus its properties. Edges whose ends were filtered out are
        dropped.
        """
        packed = self.packed(node_types, rel_types)
        with paused_gc():
            return collapse(packed.to_networkx(), packed.same_as)

    @final
    def evidence(
        self,
        node_types: Iterable[str] | None = None,
        rel_types: Iterable[str] | None = None,
    ) -> nx.MultiDiGraph:
        """The evidence graph as :meth:`project` gives it (same nodes, relationships,
        properties and iteration order, same-as groups collapsed), read from the packed
        arrays on demand instead of held as Python dicts: a fraction of the memory, and
        read-only (:class:`~ringmap.graphs.evidence.EvidenceGraph`)."""
        return EvidenceGraph(self.packed(node_types, rel_types))

    @final
    def get_many(self, node_ids: Iterable[str]) -> dict[str, Node]:
        """The nodes among ``node_ids`` that exist, by id, in the order asked."""
        return self._get_many(list(dict.fromkeys(node_ids)))

    def _get_many(self, node_ids: list[str]) -> dict[str, Node]:
        """:meth:`get_many` of distinct ``node_ids``; a store that reads many nodes in one
        pass overrides it."""
        found: dict[str, Node] = {}
        for node_id in node_ids:
            node = self.get(node_id)
            if node is not None:
                found[node_id] = node
        return found

    @final
    def latest_cells(self, *, explanations: bool = True, reports: bool = True
                     ) -> tuple[AnalysisRun, list[CellRecord]] | None:
        """The most recent cell-detection run and its cells (``explanations`` and ``reports``
        as for :meth:`load_cells`), if any."""
        runs = self.analysis_runs("cells")
        if not runs:
            return None
        return runs[-1], self.load_cells(runs[-1].run_id, explanations=explanations,
                                         reports=reports)


@dataclass(frozen=True, slots=True)
class StoreChoice:
    """Which store to open: a Neo4j server (``neo4j_uri``) or an embedded case file (``path``).

    :meth:`choose` is the only place the precedence of the options is decided; the CLI's
    session, ``ringmap run`` and :func:`open_store` all go through it.

    >>> StoreChoice.choose("case.db")
    StoreChoice(path=PosixPath('case.db'), neo4j_uri=None)
    >>> StoreChoice.choose(neo4j_uri="bolt://127.0.0.1:7687").uses_neo4j
    True
    """

    path: Path | None = None
    neo4j_uri: str | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.neo4j_uri is None):
            raise ValueError("a StoreChoice names one store: a case file or a Neo4j URI")

    @classmethod
    def choose(
        cls,
        path: str | os.PathLike[str] | None = None,
        neo4j_uri: str | None = None,
        *,
        default: str | os.PathLike[str] | None = None,
    ) -> StoreChoice:
        """The store named by, first to last: an explicit ``neo4j_uri`` (``--neo4j``), an
        explicit ``path`` (``--store``), ``RINGMAP_STORE``, ``NEO4J_URI``, then the embedded
        file ``default`` (``ringmap run`` passes ``OUT/ringmap.db``) or ``./ringmap.db``.

        Raises
        ------
        ConfigError
            If both an explicit path and an explicit URI are given: they name two stores.
        """
        if path and neo4j_uri:
            raise ConfigError("--store and --neo4j name two different stores: give one")
        if neo4j_uri:
            return cls(neo4j_uri=neo4j_uri)
        named = path or os.environ.get("RINGMAP_STORE")
        if named:
            return cls(path=Path(named))
        env_uri = os.environ.get("NEO4J_URI")
        if env_uri:
            return cls(neo4j_uri=env_uri)
        return cls(path=Path(default or DEFAULT_STORE))

    @property
    def uses_neo4j(self) -> bool:
        """Whether the chosen store is a Neo4j server."""
        return self.neo4j_uri is not None

    def open(self, *, create: bool = True, **neo4j_options: Any) -> Store:
        """Open the chosen store.

        With ``create=False`` a missing case file is a :class:`~ringmap.errors.NotFound`
        instead of a new empty case (commands that only read must not leave empty files
        behind).
        """
        if self.path is not None:
            from ringmap.graphs.embedded import EmbeddedStore

            return EmbeddedStore(self.path, create=create)
        from ringmap.graphs.neo4j_store import Neo4jStore  # only this module imports the driver

        return Neo4jStore.connect(self.neo4j_uri, **neo4j_options)


def open_store(
    path: str | os.PathLike[str] | None = None,
    neo4j_uri: str | None = None,
    *,
    create: bool = True,
    **neo4j_options: Any,
) -> Store:
    """Open the store :meth:`StoreChoice.choose` picks for ``path`` and ``neo4j_uri``."""
    return StoreChoice.choose(path, neo4j_uri).open(create=create, **neo4j_options)
