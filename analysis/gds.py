"""Cells inside Neo4j with OpenGDS: Leiden on the agent graph.

The GDS engine runs the partitions of a cell run (the resolution scan and every consensus
seed) in the Neo4j server, with the Graph Data Science library (OpenGDS 2.x), instead of
igraph in this process. The weighted agent ties are built
here by :func:`~ringmap.analysis.projection.project_agents` and sent into a GDS in-memory
graph, or, with ``ties="database"``, built in the database from its evidence by the same rules
(:mod:`ringmap.analysis.gds_ties`) straight into that graph; either way they come back only as
a label per agent and run. Everything after the
partitions is shared with the Python engine (:mod:`ringmap.analysis.cells`): the choice of the
resolution, the consensus, the cell ids and their order, the explanations, the reports and the
write-back, so both engines save runs of one shape.

The key players of each cell (strength, betweenness, PageRank) are computed here too, by
igraph on the cell's own subgraph (:func:`~ringmap.analysis.keyplayers.centralities`, in the
reports), not by GDS. GDS betweenness costs each source vertex the size of its whole graph,
so one GDS graph of every cell grew with the square of the cells (17.2 minutes of server time
at 21,100 cells). Packed into GDS graphs of at most K vertices (one round trip each) it grows
with the cells, but each graph costs about 0.3 s of server CPU whatever its size: at 5,400
cells (140,697 agents) K = 16,000 took 18.6 s of server CPU and 7.2 s here, K = 4,000 24.6 s
and 7.7 s, against igraph's 2.3 s here in all. The scores are those GDS gave: strength and
PageRank to 1e-12, betweenness too but where two shortest paths are as long up to rounding
(igraph counts both, GDS one).

Examples
--------
>>> choose_engine(None, "leiden", gds=None)  # an embedded store, nothing asked for
'python'
>>> choose_engine(None, "leiden", gds="2.13.9")  # on Neo4j with GDS
'gds'
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Literal

import networkx as nx
import numpy as np

from ringmap.analysis.cells import CellSettings, CellsResult, Detection, detect_cells
from ringmap.analysis.community import Detector, Method, tie_ends
from ringmap.analysis.gds_ties import computed_ties
from ringmap.analysis.projection import AgentGraph, add_ties
from ringmap.errors import AnalysisError, ConfigError, StoreError
from ringmap.graphs.store import Store

__all__ = ["Engine", "GdsGraph", "Ties", "choose_engine", "detect_cells_gds", "detection",
           "gds_version"]

Engine = Literal["gds", "python"]
#: where the GDS engine's ties are computed: in the database, or by the Python projection
Ties = Literal["database", "python"]

GDS_VERSION = "RETURN gds.version() AS version"

# The ties as a GDS graph, sent in parts: each part's ties wait in the database as three
# arrays on a scratch node of the run (a statement's parameters travel whole, so one
# statement of every tie held them all here: 182 B a tie as Python lists and packed, about
# 1 GB at national size), then one statement projects every part in order. Agent-graph
# vertex ids are the node ids (GDS keeps them as the original ids its streams return);
# undirected, each tie once.
TIES_PART = ("CREATE (:RingmapTmpTies {run: $run, part: $part, src: $src, dst: $dst, "
             "weight: $weight})")
PROJECT_TIES = """
MATCH (t:RingmapTmpTies) WHERE t.run = $run
WITH t ORDER BY t.part
WITH t.src AS src, t.dst AS dst, t.weight AS weight
UNWIND range(0, size(src) - 1) AS i
WITH gds.graph.project($graph, src[i], dst[i],
       {relationshipProperties: {weight: weight[i]}},
       {undirectedRelationshipTypes: ['*']}) AS projected
RETURN projected.nodeCount AS nodes, projected.relationshipCount AS ties
"""
TIES_CLEANUP = "MATCH (t:RingmapTmpTies) WHERE t.run = $run DELETE t"
#: ties a part: about 117 B each here while a part is sent (58 MB), 15 B each as sent
TIES_PER_PART = 500_000
DROP_GRAPH = "CALL gds.graph.drop($graph, false) YIELD graphName RETURN graphName"
SAME_AS = "RETURN EXISTS { ()-[:SAME_AS]->() } AS found"
# one (resolution, seed): the labels as two lists, not a pair each (about 140 B a vertex as
# Python objects, for every run of a scan or consensus at once when they came in one statement)
LEIDEN = """
CALL gds.leiden.stream($graph, {relationshipWeightProperty: 'weight', gamma: $gamma,
                               randomSeed: $seed, concurrency: $concurrency})
YIELD nodeId, communityId
RETURN collect(nodeId) AS nodes, collect(communityId) AS labels
"""

#: threads of each GDS algorithm: the server's share of this two-core machine
CONCURRENCY = 2

#: the community detection methods GDS runs here
GDS_METHODS: frozenset[Method] = frozenset({"leiden"})


def gds_version(store: Store) -> str | None:
    """The version of the Graph Data Science library in the store's server, if it has one."""
    if store.kind != "neo4j":
        return None
    try:
        rows = store.query(GDS_VERSION)
    except StoreError:  # no gds.version(): the library is not installed
        return None
    return str(rows[0]["version"]) if rows else None


def choose_engine(asked: str | None, method: Method, *, gds: str | None) -> Engine:
    """The engine of a cell run: the one ``asked`` for, else GDS where the store has it.

    ``gds`` is :func:`gds_version` of the store (``None``: embedded, or Neo4j without GDS).
    GDS runs Leiden only; another method runs in Python unless GDS was asked for.

    Raises
    ------
    ConfigError
        GDS asked for where there is none, or with a method it does not run here.
    """
    if asked == "gds":
        if gds is None:
            raise ConfigError("--engine gds needs a Neo4j store with the Graph Data Science "
                              "library (OpenGDS); this store has none: use --engine python")
        if method not in GDS_METHODS:
            raise ConfigError(f"--engine gds runs leiden only, not {method}: use --engine "
                              "python for other methods")
        return "gds"
    if asked == "python" or gds is None or method not in GDS_METHODS:
        return "python"
    return "gds"


class GdsGraph:
    """A weighted graph over vertex ids ``0..n-1`` in the GDS catalog of ``store``'s server.

    Use :meth:`projected`, which drops it again when done.
    """

    def __init__(self, store: Store, name: str, n: int) -> None:
        self.store = store
        self.name = name
        self.n = n

    @classmethod
    @contextmanager
    def projected(cls, store: Store, agents: AgentGraph,
                  per_part: int = TIES_PER_PART) -> Iterator[GdsGraph]:
        """``agents``' ties as a GDS graph, dropped on leaving; sent ``per_part`` ties at a
        time (:data:`TIES_PER_PART`), so that only one part of them is ever copied here."""
        graph = agents.graph
        ties = graph.ecount()
        made = cls(store, f"ringmap-{uuid.uuid4().hex}", graph.vcount())
        if ties:
            ends = tie_ends(graph, agents.ends)
            run = made.name
            try:
                for part, start in enumerate(range(0, ties, per_part)):
                    stop = min(start + per_part, ties)
                    store.write(TIES_PART, {
                        "run": run, "part": part, "src": ends[start:stop, 0].tolist(),
                        "dst": ends[start:stop, 1].tolist(),
                        "weight": graph.es[start:stop]["weight"]})
                store.query(PROJECT_TIES, {"graph": made.name, "run": run})
            finally:
                store.write(TIES_CLEANUP, {"run": run})
        try:
            yield made
        finally:
            if ties:
                store.query(DROP_GRAPH, {"graph": made.name})

    def leiden(self, runs: Sequence[tuple[float, int]]) -> list[list[int]]:
        """A Leiden partition per (modularity resolution, seed) of ``runs``, a round trip
        each (a label per vertex; a vertex without ties is alone)."""
        out = []
        for resolution, seed in runs:
            # vertices GDS never saw: each on its own
            labels = np.arange(self.n, 2 * self.n, dtype=np.int64)
            for row in self.store.query(LEIDEN, {"graph": self.name, "gamma": resolution,
                                                 "seed": seed, "concurrency": CONCURRENCY}):
                labels[np.asarray(row["nodes"], dtype=np.int64)] = row["labels"]
            out.append(labels.tolist())
        return out


def detection(store: Store, ties: Ties = "python") -> Detection:
    """Partitions by GDS Leiden in ``store``'s server, for
    :func:`~ringmap.analysis.cells.find_cells`: the agent ties go into the GDS catalog for the
    time of the detection, computed in the database from its evidence
    (:func:`~ringmap.analysis.gds_ties.computed_ties`, ``ties="database"``) or by
    :func:`~ringmap.analysis.projection.add_ties` here and sent there (the default: on two
    cores building them in the database took 16x as long at 150 cells, and a 1 GB server heap
    ran out of transaction memory at 600 cells; ``bench/cells_scale.py``). Where analysts linked
    references as one (same-as links), which only the Python projection collapses, the
    Python ties are used.

    Raises
    ------
    AnalysisError
        The database and the Python projection disagree on who the agents are.
    """
    @contextmanager
    def opened(agents: AgentGraph) -> Iterator[Detector]:
        if ties == "python" or store.query(SAME_AS)[0]["found"]:
            add_ties(agents)
            opening: AbstractContextManager[GdsGraph] = GdsGraph.projected(store, agents)
        else:
            opening = _computed(store, agents)
        with opening as projected:
            if agents.graph.ecount() == 0:  # no ties: every agent alone, as igraph says
                yield lambda runs: [list(range(agents.graph.vcount())) for _ in runs]
            else:
                yield projected.leiden

    return opened


@contextmanager
def _computed(store: Store, agents: AgentGraph) -> Iterator[GdsGraph]:
    """The ties of ``agents`` computed in the database, added to ``agents.graph`` (in the
    order :func:`~ringmap.analysis.projection.project_agents` adds them) and kept there as a
    GDS graph for the time of the block."""
    with computed_ties(store, agents.settings) as computed:
        if computed.units != agents.units:  # a rule of one projection the other lacks
            missing = sorted(set(computed.units) ^ set(agents.units)) or ["their order"]
            raise AnalysisError(f"the agents found in Neo4j differ from the Python projection's "
                                f"({missing[0]}): use --engine python")
        agents.graph.add_edges([(a, b) for a, b, _ in computed.ties])
        if computed.ties:
            agents.graph.es["weight"] = [w for _, _, w in computed.ties]
        yield GdsGraph(store, computed.graph, len(agents.units))


def detect_cells_gds(store: Store, settings: CellSettings | None = None,
                     evidence: nx.MultiDiGraph | None = None, ties: Ties = "python"
                     ) -> CellsResult:
    """Detect the cells of the case in ``store`` with its server's GDS library (see
    :func:`~ringmap.analysis.cells.detect_cells`; ``evidence`` as there, ``ties`` as in
    :func:`detection`).

    Raises
    ------
    ConfigError
        The store's server has no GDS, or the method is not one GDS runs here.
    """
    settings = settings or CellSettings()
    choose_engine("gds", settings.method, gds=gds_version(store))
    result = detect_cells(store, settings, evidence, detection=detection(store, ties))
    result.engine = "gds"
    return result

