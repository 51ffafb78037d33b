"""Cells: split the agents into the call-centre cells they work in, with confidence and reasons.

:func:`find_cells` runs on an evidence graph, :func:`detect_cells` on a store; both return a
:class:`CellsResult`. :func:`write_cells` explains every member from provenance, builds each
cell's report and saves the run (with its parameters) through ``Store.save_cells``, where maps,
exports and queries read it.

Pipeline: project the evidence onto the agent graph (:mod:`ringmap.analysis.projection`),
choose the resolution (size-plausible cells, :func:`~ringmap.analysis.community.scan_resolution`),
run ``runs`` seeds and keep the best partition, cut disconnected cells, put agents with no cell
(no ties) into ``unassigned``.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from ringmap.analysis.community import (
    Method,
    Scan,
    consensus,
    scan_resolution,
)
from ringmap.analysis.projection import AgentGraph, ProjectionSettings, project_agents
from ringmap.errors import AnalysisError
from ringmap.graphs.model import (
    AnalysisRun,
    CellMember,
    CellRecord,
    Provenance,
    edge_id,
    utcnow,
)
from ringmap.graphs.store import Store
from ringmap.perf import paused_gc
from ringmap.privacy import Privacy

__all__ = [
    "Cell",
    "CellSettings",
    "CellsResult",
    "EvidenceReader",
    "detect_cells",
    "edge_reliability",
    "explain_members",
    "find_cells",
    "public_edge",
    "write_cells",
]


class CellSettings(BaseModel):
    """Parameters of one cell-detection run (all recorded with the run)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method = "leiden"
    resolution: float | Literal["auto"] = Field(
        default="auto", description="modularity resolution, or auto: size-plausible cells"
    )
    seed: int = 42
    runs: int = Field(default=10, ge=1, le=100, description="seeds in the consensus")
    min_size: int = Field(default=5, ge=1, description="smallest realistic cell (agents)")
    max_size: int = Field(default=40, ge=2, description="largest realistic cell (agents)")
    scan: tuple[float, ...] = Field(
        default=(0.02, 0.04, 0.08, 0.15, 0.3, 0.6),
        description="size-free resolution scale points tried by auto",
    )
    anchor: float = Field(default=0.08, gt=0, description="preferred scale point of auto")
    accounts_per_agent: float = Field(
        default=3.0, ge=1.0,
        description="accounts an agent runs: an account of unknown owner counts as this "
        "fraction of an agent when judging cell sizes",
    )
    min_cell: int = Field(default=2, ge=1, description="smaller groups are unassigned")
    explain_top: int = Field(default=3, ge=1, description="strongest ties kept per member")
    evidence_per_tie: int = Field(default=3, ge=1, description="provenance rows per tie")
    evidence_lookups: int = Field(
        default=200_000, ge=0,
        description="most provenance lookups spent on explanations in one run",
    )
    projection: ProjectionSettings = Field(default_factory=ProjectionSettings)


@dataclass
class Cell:
    """One detected cell."""

    cell_id: str
    units: list[int]
    """Vertex ids of the agent graph."""
    members: dict[str, float]
    """Member node id (agents and their accounts) -> confidence."""
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class CellsResult:
    """What a detection run found."""

    settings: CellSettings
    agents: AgentGraph
    membership: list[int]
    """Cell index per agent-graph vertex; -1 for unassigned."""
    confidence: list[float]
    cells: list[Cell]
    unassigned: list[str]
    resolution: float | None
    scan: list[Scan]
    grading: str = "off"
    """How source gradings weighed ties: uniform, applied, skipped (too many) or off."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent per stage: projection, resolution, consensus."""

    def cell_of(self) -> dict[str, str]:
        """Member node id -> cell id."""
        return {m: c.cell_id for c in self.cells for m in c.members}


# relationships that never tie agents, so their grading is never looked up
_UNGRADED = frozenset({"LOCATED_IN"})


def _resolution(agents_graph: AgentGraph, settings: CellSettings) -> tuple[float, list[Scan]]:
    if settings.resolution != "auto":
        return float(settings.resolution), []
    if settings.method == "lpa":
        return 1.0, []
    persons = {p for p, t in agents_graph.evidence.nodes(data="type") if t == "Person"}
    agents = [1.0 if u in persons else 1.0 / settings.accounts_per_agent
              for u in agents_graph.units]
    return scan_resolution(agents_graph.graph, settings.method, settings.seed,
                           settings.min_size, settings.max_size, settings.scan, settings.anchor,
                           agents)


def _assemble(
    agents: AgentGraph, labels: list[int], confidence: list[float], settings: CellSettings
) -> tuple[list[int], list[Cell], list[str]]:
    sizes = Counter(labels)
    kept = [lab for lab in sizes if sizes[lab] >= settings.min_cell]
    units_of: dict[int, list[int]] = {lab: [] for lab in kept}
    unassigned: list[str] = []
    for v, lab in enumerate(labels):
        if lab in units_of:
            units_of[lab].append(v)
        else:
            unassigned.append(agents.units[v])
            unassigned.extend(agents.accounts.get(agents.units[v], ()))
    order = sorted(kept, key=lambda lab: (-sizes[lab], agents.units[units_of[lab][0]]))
    width = max(3, len(str(len(order))))
    membership = [-1] * len(labels)
    cells: list[Cell] = []
    for index, lab in enumerate(order):
        members: dict[str, float] = {}
        for v in units_of[lab]:
            membership[v] = index
            unit = agents.units[v]
            members[unit] = round(confidence[v], 4)
            for account in agents.accounts.get(unit, ()):
                members[account] = round(confidence[v], 4)
        cells.append(Cell(f"C{index + 1:0{width}d}", units_of[lab], members))
    index_of = agents.index
    for account, users in sorted(agents.shared_accounts.items()):
        votes = Counter(membership[index_of[u]] for u in users if membership[index_of[u]] >= 0)
        if not votes:
            unassigned.append(account)
            continue
        cell_index, count = min(votes.items(), key=lambda kv: (-kv[1], kv[0]))
        cells[cell_index].members[account] = round(count / len(users), 4)
    return membership, cells, sorted(unassigned)


def find_cells(
    evidence: nx.MultiDiGraph,
    settings: CellSettings | None = None,
    reliability: Mapping[str, float] | None = None,
) -> CellsResult:
    """Detect the cells of an evidence graph.

    Parameters
    ----------
    evidence
        The evidence graph (:meth:`ringmap.graphs.store.Store.project`).
    settings
        Method, resolution, seed, consensus runs, size bounds and projection weights.
    reliability
        Optional edge id -> 0..1 source reliability (:func:`edge_reliability`).

    Returns
    -------
    CellsResult
        Cells (each connected, every agent in exactly one cell or unassigned) with
        per-member confidence.

    Raises
    ------
    AnalysisError
        When the graph holds no suspects or agent accounts.
    """
    settings = settings or CellSettings()
    if evidence.number_of_nodes() == 0:
        raise AnalysisError("the store holds no evidence: ingest evidence before finding cells")
    # the evidence graph holds millions of live objects: a cyclic collection triggered by
    # the small allocations below (igraph's random numbers, pair keys) would walk them all
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now

    with paused_gc():
        agents = project_agents(evidence, settings.projection, reliability)
        lap("projection")
        if not agents.units:
            raise AnalysisError("no suspects or agent accounts in the evidence: nothing to "
                                "group into cells (are suspects marked with role suspect?)")
        resolution, scan = _resolution(agents, settings)
        lap("resolution")
        labels, confidence = consensus(agents.graph, settings.method, resolution,
                                       settings.seed, settings.runs)
        membership, cells, unassigned = _assemble(agents, labels, confidence, settings)
        lap("consensus")
    return CellsResult(settings, agents, membership, confidence, cells, unassigned,
                       None if settings.method == "lpa" else resolution, scan,
                       timings=timings)


def edge_reliability(store: Store, evidence: nx.MultiDiGraph) -> tuple[dict[str, float], str]:
    """Edge id -> reliability of its best source, and how grading was applied.

    With a single grading every tie scales alike, so nothing is looked up (``uniform``).
    Otherwise the gradings of every relationship are read in one pass
    (:meth:`~ringmap.graphs.store.Store.edge_gradings`).
    """
    gradings = {load.grading for load in store.file_loads()}
    if len(gradings) <= 1:
        return {}, "uniform"
    seen = store.edge_gradings()
    out: dict[str, float] = {}
    for src, dst, rel in evidence.edges(keys=True):
        if rel in _UNGRADED:
            continue
        eid = edge_id(rel, src, dst)
        sources = seen.get(eid)
        if sources:
            out[eid] = max(g.reliability() for g in sources)
    return out, "applied"


def detect_cells(store: Store, settings: CellSettings | None = None) -> CellsResult:
    """Detect the cells of the case in ``store`` (see :func:`find_cells`)."""
    settings = settings or CellSettings()
    evidence = store.project()
    reliability: dict[str, float] = {}
    grading = "off"
    if settings.projection.use_grading:
        reliability, grading = edge_reliability(store, evidence)
    result = find_cells(evidence, settings, reliability)
    result.grading = grading
    return result


def public_edge(privacy: Privacy, eid: str) -> str:
    """An edge id with its victim-side ends pseudonymised (see :mod:`ringmap.privacy`)."""
    rel, _, ends = eid.partition(":")
    src, sep, dst = ends.partition("->")
    if not sep:
        return privacy.public_id(eid)
    return f"{rel}:{privacy.public_id(src)}->{privacy.public_id(dst)}"


@dataclass
class EvidenceReader:
    """Provenance rows behind ties, within a budget of store lookups for the whole run.

    A tie's evidence comes from the first relationship on its way that has sightings (the one
    tying the agent to the identifier); once ``budget`` lookups are spent, further ties keep
    their identifiers but no rows, and :attr:`exhausted` says so.
    """

    store: Store
    privacy: Privacy
    rows_per_tie: int
    budget: int
    lookups: int = 0
    exhausted: bool = False

    fetched: dict[str, list[Provenance]] | None = None
    prefetched: frozenset[str] = frozenset()
    deferred: list[tuple[tuple[str, ...], list[dict[str, Any]]]] | None = None

    def rows(self, items: tuple[str, ...]) -> list[dict[str, Any]]:
        """Up to ``rows_per_tie`` provenance rows of the first of ``items`` seen anywhere.

        While :meth:`deferring`, returns an empty list that :meth:`resolve` fills later.
        """
        if self.deferred is not None:
            placeholder: list[dict[str, Any]] = []
            self.deferred.append((items, placeholder))
            return placeholder
        for item in items:
            if self.lookups >= self.budget or (
                    self.fetched is not None and item not in self.prefetched):
                self.exhausted = True
                return []
            self.lookups += 1
            sightings = (self.store.provenance(item) if self.fetched is None
                         else self.fetched.get(item, []))
            if sightings:
                public = public_edge(self.privacy, item)
                return [{"item": public, "file": p.source_file, "row": p.row, "ref": p.ref,
                         "grading": str(p.grading)} for p in sightings[: self.rows_per_tie]]
        return []

    def deferring(self) -> None:
        """Hand out placeholders instead of reading, until :meth:`resolve`."""
        self.deferred = []

    def resolve(self) -> None:
        """Read every deferred item's provenance in one bulk call (within the lookup budget)
        and fill the placeholders in the order they were handed out, so explanations cost a
        few store round trips rather than one per tie."""
        deferred, self.deferred = self.deferred or [], None
        wanted = list(dict.fromkeys(item for items, _ in deferred for item in items))
        self.prefetched = frozenset(wanted[: self.budget])
        self.fetched = self.store.provenance_many(wanted[: self.budget])
        for items, placeholder in deferred:
            placeholder.extend(self.rows(items))


def _shown(privacy: Privacy, graph: nx.MultiDiGraph, ident: str) -> dict[str, str]:
    """How an identifier appears: a node as privacy shows it; a contact as its edge."""
    if ident in graph:
        return {"identifier": privacy.public_id(ident), "label": privacy.label(ident,
                                                                                graph.nodes[ident])}
    shown = public_edge(privacy, ident)
    return {"identifier": shown, "label": shown}


def _uses_tie(evidence: EvidenceReader, person: str, account: str, users: int
              ) -> dict[str, Any]:
    """An account is in its user's cell: the USES link and its evidence."""
    return {"kind": "uses", "identifier": person, "label": person, "weight": None,
            "shared_by": users, "in_cell": 1, "infrastructure": False,
            "evidence": evidence.rows((edge_id("USES", person, account),))}


def explain_members(
    result: CellsResult,
    cell: Cell,
    evidence: EvidenceReader,
    held: Mapping[int, list[str]] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Why each member is in ``cell``: its strongest shared identifiers, with provenance.

    Victims are shown as ``evidence.privacy`` shows them (pseudonymised by default);
    ``held`` is :meth:`AgentGraph.holdings`, passed in when explaining many cells.

    Returns
    -------
    dict
        Member node id -> ties, strongest first: ``kind``, ``identifier``, ``label``,
        ``weight`` (its contribution), ``shared_by`` (agents holding it), ``in_cell`` (of them
        in this cell) and ``evidence`` rows (file, row, ref, grading).
    """
    agents, settings = result.agents, result.settings
    index = result.membership
    target = result.cells.index(cell)
    held = agents.holdings() if held is None else held
    out: dict[str, list[dict[str, Any]]] = {}
    for v in cell.units:
        ties: list[tuple[float, str, int, int]] = []
        for ident in held.get(v, ()):
            holders = agents.incidence[ident]
            in_cell = sum(1 for u in holders if index[u] == target)
            if in_cell < 2:
                continue
            kind = agents.kinds[ident]
            k = len(holders)
            weight = 0.0 if ident in agents.infrastructure else (
                settings.projection.weight(kind) * settings.projection.hub_factor(k)
                * (in_cell - 1) * holders[v].reliability)
            ties.append((weight, ident, k, in_cell))
        ties.sort(key=lambda t: (-t[0], t[1]))
        unit = agents.units[v]
        out[unit] = [
            {"kind": agents.kinds[ident], **_shown(evidence.privacy, agents.evidence, ident),
             "weight": round(weight, 4), "shared_by": k, "in_cell": in_cell,
             "infrastructure": ident in agents.infrastructure,
             "evidence": evidence.rows(agents.incidence[ident][v].via)}
            for weight, ident, k, in_cell in ties[: settings.explain_top]
        ]
        for account in agents.accounts.get(unit, ()):
            out[account] = [_uses_tie(evidence, unit, account, 1)]
    for account, users in agents.shared_accounts.items():
        if account in cell.members:
            out[account] = [_uses_tie(evidence, u, account, len(users))
                            for u in users if u in cell.members]
    return out


def write_cells(
    store: Store, result: CellsResult, run_id: str | None = None
) -> tuple[AnalysisRun, list[CellRecord]]:
    """Explain, report and save a detection run; returns the run and cells as saved."""
    with paused_gc():
        return _write_cells(store, result, run_id)


def _write_cells(
    store: Store, result: CellsResult, run_id: str | None
) -> tuple[AnalysisRun, list[CellRecord]]:
    from ringmap.analysis.report import build_reports  # report builds on this module

    privacy = Privacy.for_graph(result.agents.evidence)
    reports = build_reports(result, privacy)
    evidence = EvidenceReader(store, privacy, result.settings.evidence_per_tie,
                              result.settings.evidence_lookups)
    created = utcnow()
    run = AnalysisRun(
        run_id=run_id or f"cells-{created.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}",
        created=created,
        params={**result.settings.model_dump(mode="json"), "resolution_used": result.resolution},
        summary={
            "cells": len(result.cells),
            "agents": len(result.agents.units),
            "assigned": sum(len(c.units) for c in result.cells),
            "unassigned": result.unassigned,
            "infrastructure": [{"identifier": privacy.public_id(i),
                                "kind": result.agents.kinds[i], "shared_by": k}
                               for i, k in sorted(result.agents.infrastructure.items(),
                                                  key=lambda kv: (-kv[1], kv[0]))],
            "scan": [vars(p) for p in result.scan],
            "grading": result.grading,
            "seconds": result.timings,
        },
    )
    records: list[CellRecord] = []
    held = result.agents.holdings()
    evidence.deferring()
    whys = [explain_members(result, cell, evidence, held) for cell in result.cells]
    evidence.resolve()
    for cell, why in zip(result.cells, whys, strict=True):
        records.append(CellRecord(
            cell_id=cell.cell_id,
            members=[CellMember(node_id=m, confidence=c, explanation=why.get(m, []))
                     for m, c in sorted(cell.members.items())],
            summary=reports[cell.cell_id],
        ))
    run.summary["evidence"] = (f"rows for the first {evidence.lookups:,} lookups only"
                               if evidence.exhausted else "complete")
    store.save_cells(run, records)
    return run, records
