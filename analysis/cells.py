"""Cells: split the agents into the call-centre cells they work in, with a confidence each.

:func:`find_cells` runs on an evidence graph, :func:`detect_cells` on a store; both return a
:class:`CellsResult`, the partition. Explaining the members and saving the run is
:mod:`ringmap.analysis.explain`; each cell's report is :mod:`ringmap.analysis.report`.

Pipeline: project the evidence onto the agent graph (:mod:`ringmap.analysis.projection`),
choose the resolution (size-plausible cells, :func:`~ringmap.analysis.community.scan_resolution`),
run ``runs`` seeds and keep the best partition, cut disconnected cells, put agents with no cell
(no ties) into ``unassigned``.

Infrastructure is set aside twice. Before detection, an identifier shared by more agents than
the projection's threshold never ties anyone. After it, an identifier whose agents lie in at
least max(3, half of the cells) is *widespread*: a carrier NAT address or a public hotspot that
every cell passes through, shared by too few agents to cross the threshold. It still tied
agents in detection (the cells do not change), but brokers, the ``top-brokers`` query and
paths that avoid hubs leave it out. Cards, wallets and mules never become widespread: money
that half the cells send to one place is the ring's own financier, the broker to find.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Literal

import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ringmap.analysis.community import (
    Components,
    Detector,
    Method,
    Scan,
    consensus,
    remembering,
    scan_resolution,
)
from ringmap.analysis.projection import (
    AgentGraph,
    ProjectionSettings,
    Reliability,
    project_agents,
)
from ringmap.errors import AnalysisError
from ringmap.graphs.evidence import packed_of
from ringmap.graphs.store import Store
from ringmap.perf import paused_gc

__all__ = [
    "Cell",
    "CellSettings",
    "CellsResult",
    "Detection",
    "detect_cells",
    "edge_reliability",
    "find_cells",
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
    min_cell: float = Field(
        default=2.0, ge=2.0,
        description="smallest cell, in agents (an account of unknown owner counts as "
        "1/accounts_per_agent); a lone agent, or one with a few such accounts, is unassigned",
    )
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
    widespread: dict[str, int] = field(default_factory=dict)
    """Identifiers set aside after detection (also in ``agents.infrastructure``) -> the
    number of cells their agents lie in."""
    engine: str = "python"
    """Where the partitions were computed: ``python`` (igraph/networkx) or ``gds`` (Neo4j)."""

    def infrastructure_reason(self, ident: str) -> str:
        """Why ``ident`` is infrastructure, in words for the run summary."""
        if ident in self.widespread:
            return (f"widespread: agents in {self.widespread[ident]} of {len(self.cells)} "
                    "cells")
        return f"shared by {self.agents.infrastructure[ident]} agents, above the threshold"

    def cell_of(self) -> dict[str, str]:
        """Member node id -> cell id."""
        return {m: c.cell_id for c in self.cells for m in c.members}


#: Opens a :data:`~ringmap.analysis.community.Detector` on a run's agent graph for the time
#: of its detection. The agent graph comes without ties: the detection adds them to its
#: ``graph`` (the GDS engine computes them in Neo4j, or projects Python's there, and drops
#: its graph after).
Detection = Callable[[AgentGraph], AbstractContextManager[Detector]]


# relationships that never tie agents, so their grading is never looked up
_UNGRADED = frozenset({"LOCATED_IN"})
# kinds never widespread infrastructure: the money trail (see the module docstring)
_MONEY_KINDS = frozenset({"PaymentCard", "FinancialAccount", "mule"})
_WIDESPREAD_MIN_CELLS = 3


def _widespread(agents: AgentGraph, membership: list[int], cells: int) -> dict[str, int]:
    """Identifiers whose agents lie in at least max(3, half of the ``cells``) cells -> how
    many, left out: those already infrastructure, and the money trail."""
    least = max(_WIDESPREAD_MIN_CELLS, math.ceil(cells / 2))
    found: dict[str, int] = {}
    for ident, holders in agents.incidence.items():
        if (len(holders) < least or ident in agents.infrastructure
                or agents.kinds[ident] in _MONEY_KINDS):
            continue
        spread = len({membership[u] for u in holders} - {-1})
        if spread >= least:
            found[ident] = spread
    return found


def _resolution(agents_graph: AgentGraph, settings: CellSettings, counts: list[float],
                detector: Detector | None) -> tuple[float, list[Scan]]:
    if settings.resolution != "auto":
        return float(settings.resolution), []
    if settings.method == "lpa":
        return 1.0, []
    return scan_resolution(agents_graph.graph, settings.method, settings.seed,
                           settings.min_size, settings.max_size, settings.scan, settings.anchor,
                           counts, detector=detector)


def _agent_counts(agents_graph: AgentGraph, settings: CellSettings) -> list[float]:
    """How many agents each unit stands for: a suspect 1, an account of unknown owner a
    fraction (its owner may well run several of them, or be a suspect already counted)."""
    types = agents_graph.evidence.nodes
    return [1.0 if types[u].get("type") == "Person" else 1.0 / settings.accounts_per_agent
            for u in agents_graph.units]


def _assemble(
    agents: AgentGraph, labels: list[int], confidence: list[float], settings: CellSettings,
    counts: list[float],
) -> tuple[list[int], list[Cell], list[str]]:
    sizes = Counter(labels)
    # a cell is two agents or more: a suspect with accounts of unknown owner that may be
    # his own is one agent, and the runs agreeing on it would claim a certainty it lacks
    weight: dict[int, float] = defaultdict(float)
    for lab, count in zip(labels, counts, strict=True):
        weight[lab] += count
    kept = [lab for lab in sizes if weight[lab] >= settings.min_cell - 1e-9]  # 6 x 1/3 is 2
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
    reliability: Reliability | None = None,
    detection: Detection | None = None,
) -> CellsResult:
    """Detect the cells of an evidence graph.

    Parameters
    ----------
    evidence
        The evidence graph (:meth:`ringmap.graphs.store.Store.project`).
    settings
        Method, resolution, seed, consensus runs, size bounds and projection weights.
    reliability
        Optional 0..1 source reliability of the relationships (:func:`edge_reliability`).
    detection
        Where the partitions run (:data:`Detection`); default: igraph/networkx here.

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
        agents = project_agents(evidence, settings.projection, reliability,
                                ties=detection is None)
        lap("projection")
        if not agents.units:
            raise AnalysisError("no suspects or agent accounts in the evidence: nothing to "
                                "group into cells (are suspects marked with role suspect?)")
        with nullcontext(None) if detection is None else detection(agents) as detector:
            if detector is not None:
                lap("engine")  # the agent ties in the engine
            # each connected component on its own, its vertices in node-id order
            components = Components(agents.graph, agents.units, agents.ends)
            # the consensus's first seed is the scan's run at the chosen resolution
            detector = remembering(agents.graph, settings.method,
                                   detector or components.detector(settings.method))
            counts = _agent_counts(agents, settings)  # agents each unit stands for
            resolution, scan = _resolution(agents, settings, counts, detector)
            lap("resolution")
            labels, confidence = consensus(agents.graph, settings.method, resolution,
                                           settings.seed, settings.runs, detector, components)
        membership, cells, unassigned = _assemble(agents, labels, confidence, settings,
                                                  counts)
        lap("consensus")
        widespread = _widespread(agents, membership, len(cells))
        agents.infrastructure.update({i: len(agents.incidence[i]) for i in widespread})
    return CellsResult(settings, agents, membership, confidence, cells, unassigned,
                       None if settings.method == "lpa" else resolution, scan,
                       timings=timings, widespread=widespread)


def edge_reliability(store: Store, evidence: nx.MultiDiGraph | None = None
                     ) -> tuple[Reliability, str]:
    """The reliability of each relationship's best source, and how grading was applied.

    With a single grading every tie scales alike, so nothing is looked up (``uniform``).
    Otherwise the gradings of every relationship are read in one pass, and each distinct set
    of gradings is scored once (a case has a few gradings, and hundreds of thousands of
    relationships). For ``evidence`` read from the store's packed arrays
    (:meth:`~ringmap.graphs.store.Store.evidence`) the reliabilities are an array aligned
    with those arrays (:meth:`~ringmap.graphs.store.Store.packed_gradings`): no relationship
    id is built. Otherwise they are a dict by relationship id
    (:meth:`~ringmap.graphs.store.Store.edge_gradings`); relationships of members of a
    same-as group keep their store ids: the projection never asks for them.
    """
    gradings = {load.grading for load in store.file_loads()}
    if len(gradings) <= 1:
        return {}, "uniform"
    packed = None if evidence is None else packed_of(evidence)
    if packed is not None:
        codes, sets = store.packed_gradings(packed)
        # one score per distinct set, the last for a relationship no file saw
        values = np.array([max((g.reliability() for g in s), default=1.0) for s in sets]
                          + [1.0])[codes]
        ungraded = [packed.rel_names.index(r) for r in _UNGRADED if r in packed.rel_names]
        values[np.isin(packed.rel, ungraded)] = 1.0
        return values, "applied"
    seen = store.edge_gradings()
    # by the set's identity: stores hand out one set object per combination of files, and
    # comparing equal sets of files with the same grading would compare pydantic models
    best: dict[int, float] = {}
    out: dict[str, float] = {}
    for eid, sources in seen.items():
        if not sources or eid.partition(":")[0] in _UNGRADED:
            continue
        found = best.get(id(sources))
        if found is None:
            found = best[id(sources)] = max(g.reliability() for g in sources)
        out[eid] = found
    return out, "applied"


def detect_cells(
    store: Store,
    settings: CellSettings | None = None,
    evidence: nx.MultiDiGraph | None = None,
    detection: Detection | None = None,
) -> CellsResult:
    """Detect the cells of the case in ``store`` (see :func:`find_cells`).

    ``evidence`` is the store's evidence graph when the caller has read it already
    (``ringmap run`` reads it once, :meth:`~ringmap.graphs.store.Store.evidence`, and hands
    it to cells, maps and packages);
    ``detection`` where the partitions run (default: here).
    """
    settings = settings or CellSettings()
    evidence = store.evidence() if evidence is None else evidence
    reliability: Reliability = {}
    grading = "off"
    if settings.projection.use_grading:
        reliability, grading = edge_reliability(store, evidence)
    result = find_cells(evidence, settings, reliability, detection)
    result.grading = grading
    return result
