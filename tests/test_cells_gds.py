"""issue 14 item 3: cells inside Neo4j with OpenGDS — the same cells as the Python engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import CliRunner

from ringmap.analysis import gds, gds_ties
from ringmap.analysis.cells import (
    CellSettings,
    CellsResult,
    detect_cells,
    edge_reliability,
    find_cells,
)
from ringmap.analysis.gds import GdsGraph, choose_engine, detect_cells_gds, gds_version
from ringmap.analysis.gds_ties import computed_ties, file_reliability
from ringmap.analysis.keyplayers import centralities
from ringmap.analysis.projection import (
    AgentGraph,
    ProjectionSettings,
    add_ties,
    project_agents,
)
from ringmap.analysis.quality import adjusted_rand_index
from ringmap.analysis.report import build_reports
from ringmap.cli import cli
from ringmap.errors import ConfigError, StoreError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy
from ringmap.testing import ingest_case, synth_case
from ringmap.tests.cells_synth import planted_case
from ringmap.tests.conftest import StoreFactory
from ringmap.tests.example_case import STRIKEBACK
from ringmap.tests.neo4j_fixtures import Neo4jServer


def _cells(result: CellsResult) -> list[tuple[str, dict[str, float]]]:
    return [(c.cell_id, c.members) for c in result.cells]


# The GDS engine's key players until issue 14 moved them to igraph per cell: every tie inside
# a cell as one GDS graph (a strong tie is a short one for betweenness), the three algorithms
# in one call. Kept as the reference igraph's scores are held to.
_KEY_PLAYERS = """
UNWIND range(0, size($src) - 1) AS i
WITH gds.graph.project($graph, $src[i], $dst[i],
       {relationshipProperties: {weight: $weight[i], distance: 1.0 / $weight[i]}},
       {undirectedRelationshipTypes: ['*']}) AS projected
CALL gds.degree.stream($graph, {relationshipWeightProperty: 'weight'})
YIELD nodeId, score
WITH collect([nodeId, score]) AS strength
CALL gds.betweenness.stream($graph, {relationshipWeightProperty: 'distance'})
YIELD nodeId, score
WITH strength, collect([nodeId, score]) AS between
CALL gds.pageRank.stream($graph, {relationshipWeightProperty: 'weight', dampingFactor: 0.85,
                                  maxIterations: 1000, tolerance: 1e-12})
YIELD nodeId, score
WITH strength, between, collect([nodeId, score]) AS rank
CALL gds.graph.drop($graph) YIELD graphName
RETURN strength, between, rank
"""


def _assert_scored_as_gds(store: Store, result: CellsResult) -> None:
    """igraph's key players of every cell (the reports') are GDS's on one graph of all the
    cells: strength to 1e-9, normalised betweenness and PageRank (normalised within the cell)
    to a relative 1e-6."""
    graph, membership = result.agents.graph, result.membership
    inside = [e for e in graph.es
              if membership[e.source] >= 0 and membership[e.source] == membership[e.target]]
    row = store.query(_KEY_PLAYERS, {"graph": "ringmap-test-key-players",
                                     "src": [e.source for e in inside],
                                     "dst": [e.target for e in inside],
                                     "weight": [e["weight"] for e in inside]})[0]
    strength, between, rank = ({int(v): float(x) for v, x in row[column]}
                               for column in ("strength", "between", "rank"))
    for cell in result.cells:
        n, total = len(cell.units), sum(rank[v] for v in cell.units)
        pairs = (n - 1) * (n - 2) / 2.0 if n > 2 else 1.0
        for v, want in centralities(graph, cell.units).items():
            assert want.degree == pytest.approx(strength[v], rel=1e-9, abs=1e-9)
            assert want.betweenness == pytest.approx(between[v] / pairs, rel=1e-6, abs=1e-9)
            assert want.pagerank == pytest.approx(rank[v] / total, rel=1e-6, abs=1e-9)


def _reports(result: CellsResult) -> dict[str, str]:
    privacy = Privacy.for_graph(result.agents.evidence)
    return {cell: report.model_dump_json()
            for cell, report in build_reports(result, privacy).cells.items()}


def test_choose_engine() -> None:
    assert choose_engine(None, "leiden", gds=None) == "python"
    assert choose_engine(None, "leiden", gds="2.13.9") == "gds"
    assert choose_engine("python", "leiden", gds="2.13.9") == "python"
    assert choose_engine(None, "louvain", gds="2.13.9") == "python"  # GDS runs leiden here
    with pytest.raises(ConfigError, match="--engine gds runs leiden only"):
        choose_engine("gds", "lpa", gds="2.13.9")
    with pytest.raises(ConfigError, match="has none"):
        choose_engine("gds", "leiden", gds=None)


def test_engine_gds_refused_on_the_embedded_store(tmp_path: Path) -> None:
    path = tmp_path / "case.db"
    with EmbeddedStore(path) as store:
        planted_case(2, seed=4, noise=0.0).builder.ingest(store, tmp_path / "evidence")
        assert gds_version(store) is None
    result = CliRunner().invoke(cli, ["--store", str(path), "cells", "--engine", "gds"])
    assert result.exit_code == 1
    assert result.stderr == ("Error: --engine gds needs a Neo4j store with the Graph Data "
                             "Science library (OpenGDS); this store has none: use --engine "
                             "python\n")



def test_run_engine_gds_refused_before_anything_is_written(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(STRIKEBACK), "--out", str(tmp_path / "out"),
                                      "--engine", "gds"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --engine gds needs a Neo4j store with the Graph "
                                    "Data Science library")
    assert list(tmp_path.iterdir()) == []


def test_run_finds_its_cells_with_gds_on_neo4j(
    neo4j_store_factory: StoreFactory, neo4j_server: Neo4jServer, tmp_path: Path
) -> None:
    """ringmap run on Neo4j found its cells in Python even where ringmap cells used GDS."""
    store = neo4j_store_factory()
    _require_gds(store)
    out = CliRunner(env=neo4j_server.env).invoke(cli, [
        "--neo4j", neo4j_server.uri, "run", str(STRIKEBACK), "--out", str(tmp_path / "out"),
        "--no-maps", "--format", "json"])
    assert out.exit_code == 0, out.stderr
    assert store.analysis_runs("cells")[-1].summary["engine"] == "gds"
    assert [r["cell"] for r in json.loads(out.stdout) if r["cell"] != "unassigned"] == [
        c.cell_id for c in detect_cells(store).cells]


def _require_gds(store: Store) -> None:
    if gds_version(store) is None:
        pytest.skip("this Neo4j server has no Graph Data Science library")


_SCRATCH = ("MATCH ()-[x:RINGMAP_TMP_OWNS|RINGMAP_TMP_HOLDS]->() RETURN count(x) AS n "
            "UNION ALL CALL gds.graph.list() YIELD graphName RETURN count(*) AS n")


def _assert_same_ties(store: Store, settings: ProjectionSettings) -> int:
    """The agents, infrastructure and ties computed in Neo4j are the Python projection's,
    tie for tie within 1e-9, and nothing of the run is left in the database; their count."""
    reliability = edge_reliability(store)[0] if settings.use_grading else {}
    python = project_agents(store.project(), settings, reliability)
    with computed_ties(store, settings) as computed:
        assert store.query("CALL gds.graph.list($g) YIELD relationshipCount RETURN "
                           "relationshipCount AS n", {"g": computed.graph}) == [
            {"n": 2 * python.graph.ecount()}]  # each tie both ways
    assert computed.units == python.units
    assert computed.infrastructure == python.infrastructure
    assert [(a, b) for a, b, _ in computed.ties] == python.graph.get_edgelist()
    weights = [w for _, _, w in computed.ties]
    assert weights == pytest.approx(python.graph.es["weight"], rel=1e-9, abs=1e-9)
    assert [r["n"] for r in store.query(_SCRATCH)] == [0, 0]
    return len(computed.ties)


def test_gds_engine_finds_the_python_cells_on_the_example(
    neo4j_store_factory: StoreFactory, neo4j_server: Neo4jServer, tmp_path: Path
) -> None:
    """issue 14 item 3: the ties built in the database (hub down-weighting, the
    infrastructure threshold and the example's five source gradings) are the Python
    projection's, with any settings, so the cells are the same."""
    store = neo4j_store_factory()
    _require_gds(store)
    ingest_case(store, STRIKEBACK, tmp_path / "quarantine")
    assert file_reliability(store)  # grading applies
    assert _assert_same_ties(store, ProjectionSettings()) > 0
    # the other hub weightings, a lower threshold, a share cap and no grading
    assert _assert_same_ties(store, ProjectionSettings(
        hub_weighting="log", infra_max_agents=4, infra_max_share=0.5, indirect_factor=0.25,
        weights={"Device": 7.0, "victim": 0.5})) > 0
    _assert_same_ties(store, ProjectionSettings(hub_weighting="none", use_grading=False))
    python, gds = detect_cells(store), detect_cells_gds(store)
    assert (gds.engine, python.engine) == ("gds", "python")
    assert gds.resolution == python.resolution
    assert _cells(gds) == _cells(python)  # the same ids, members and confidences
    assert gds.unassigned == python.unassigned
    _assert_scored_as_gds(store, python)  # issue 14: the key players of GDS until now
    assert _reports(gds) == _reports(python)  # byte for byte
    # ringmap cells picks GDS on this store unless told otherwise, and says so in the run
    runner = CliRunner(env=neo4j_server.env)
    for args, engine in (([], "gds"), (["--ties", "database"], "gds"),
                         (["--engine", "python"], "python")):
        out = runner.invoke(cli, ["--neo4j", neo4j_server.uri, "cells", "--runs", "3",
                                  "--format", "json", *args])
        assert out.exit_code == 0, out.stderr
        assert [r["cell"] for r in json.loads(out.stdout) if r["cell"] != "unassigned"] == [
            c.cell_id for c in python.cells]
        assert store.analysis_runs("cells")[-1].summary["engine"] == engine


def test_issue_14_key_players_of_many_cells_score_as_one_gds_graph_of_them(
    neo4j_store_factory: StoreFactory,
) -> None:
    """issue 14 item 3: the GDS engine's key players are igraph's on each cell's subgraph
    (GDS betweenness on one graph of every cell grew with the square of the cells: 17.2
    minutes of server time at 21,100 cells); on 40 planted cells they are what that GDS graph
    scored."""
    store = neo4j_store_factory()
    _require_gds(store)
    result = find_cells(planted_case(40, seed=5, noise=0.1).graph, CellSettings(runs=2))
    assert len(result.cells) >= 30
    _assert_scored_as_gds(store, result)
    assert store.query("CALL gds.graph.list() YIELD graphName RETURN graphName") == []


def test_gds_engine_agrees_on_a_planted_case(
    neo4j_store_factory: StoreFactory, tmp_path: Path
) -> None:
    store = neo4j_store_factory()
    _require_gds(store)
    case = planted_case(12, seed=11, noise=0.1)  # hubs, CGNAT addresses, shared devices
    case.builder.ingest(store, tmp_path / "evidence")
    python, gds = detect_cells(store), detect_cells_gds(store)
    assert len(python.cells) >= 10
    assert adjusted_rand_index(python.membership, gds.membership) >= 0.99
    if python.membership == gds.membership:  # then the ids and members are the same too
        assert [(c, sorted(m)) for c, m in _cells(gds)] == [
            (c, sorted(m)) for c, m in _cells(python)]


def test_ties_built_in_neo4j_on_a_graded_synthetic_case(
    neo4j_store_factory: StoreFactory, tmp_path: Path
) -> None:
    """issue 14 item 3: a ``ringmap synth`` case (CGNAT and office hubs above the threshold,
    SIMs in devices, seized exhibits, mules' cards, tables of several gradings) gets the
    Python ties from the database, and the same cells."""
    store = neo4j_store_factory()
    _require_gds(store)
    synth_case(tmp_path, cells=4, seed=3, store=store, detect=False)
    assert len(set(file_reliability(store).values())) > 1
    settings = ProjectionSettings(infra_max_agents=12)
    assert _assert_same_ties(store, settings) > 0
    assert _assert_same_ties(store, ProjectionSettings()) > 0
    python, gds = detect_cells(store), detect_cells_gds(store)
    assert python.agents.infrastructure  # hubs were set aside
    assert adjusted_rand_index(python.membership, gds.membership) >= 0.99


def test_ties_built_in_neo4j_leave_nothing_behind_on_failure(
    neo4j_store_factory: StoreFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 14 item 3: a stage that fails half-way still deletes the run's scratch
    relationships; a failure inside the block drops the GDS graph."""
    store = neo4j_store_factory()
    _require_gds(store)
    planted_case(3, seed=2).builder.ingest(store, tmp_path / "evidence")
    with pytest.raises(RuntimeError), computed_ties(store, ProjectionSettings()):
        assert store.query(_SCRATCH)[1]["n"] == 1  # the graph, and no scratch left
        raise RuntimeError
    assert [r["n"] for r in store.query(_SCRATCH)] == [0, 0]
    monkeypatch.setattr(gds_ties, "STAGES", (*gds_ties.STAGES[:5], "RETURN 1 / 0 AS n"))
    with pytest.raises(StoreError, match="by zero"), computed_ties(store, ProjectionSettings()):
        pass
    assert [r["n"] for r in store.query(_SCRATCH)] == [0, 0]


class _Recording:
    """The two calls :class:`GdsGraph` makes of a store, recorded; a part fails if asked."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_at = fail_at

    def write(self, statement: str, params: dict[str, Any]) -> None:
        if statement == gds.TIES_PART and params["part"] == self.fail_at:
            raise StoreError("refused")
        self.calls.append((statement, params))

    def query(self, statement: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.calls.append((statement, params))
        return []


def _tied(ties: int) -> AgentGraph:
    agents = project_agents(planted_case(3, seed=2).graph, ties=False)
    add_ties(agents)
    assert agents.graph.ecount() == ties
    return agents


def test_issue_14_ties_go_to_gds_a_part_at_a_time() -> None:
    """issue 14: the ties are sent in parts of at most ``per_part`` (every tie in one
    statement's parameters held them all as Python lists, about 110 B a tie), in edge order,
    the scratch parts removed after the projection, and also when a part is refused."""
    agents = _tied(122)
    store = _Recording()
    with GdsGraph.projected(cast(Store, store), agents, per_part=7) as projected:
        parts = [p for s, p in store.calls if s == gds.TIES_PART]
        assert [len(p["src"]) for p in parts] == [7] * 17 + [3]
        assert [p["part"] for p in parts] == list(range(18))
        assert [(a, b) for p in parts for a, b in zip(p["src"], p["dst"], strict=True)] == (
            agents.graph.get_edgelist())
        assert [w for p in parts for w in p["weight"]] == agents.graph.es["weight"]
        assert {p["run"] for p in parts} == {projected.name}
        assert [s for s, _ in store.calls[len(parts):]] == [gds.PROJECT_TIES,
                                                             gds.TIES_CLEANUP]
    assert store.calls[-1] == (gds.DROP_GRAPH, {"graph": projected.name})
    failing = _Recording(fail_at=2)
    with pytest.raises(StoreError), GdsGraph.projected(cast(Store, failing), agents,
                                                      per_part=7):
        pass
    assert [s for s, _ in failing.calls] == [gds.TIES_PART, gds.TIES_PART, gds.TIES_CLEANUP]


def test_issue_14_ties_in_parts_make_the_same_gds_graph(
    neo4j_store_factory: StoreFactory,
) -> None:
    """issue 14: the ties sent in parts of 5 give the partitions of one part, and no scratch
    part is left in the database."""
    store = neo4j_store_factory()
    _require_gds(store)
    agents = _tied(122)
    runs = [(0.3, 1), (1.0, 7)]
    with GdsGraph.projected(store, agents, per_part=len(agents.units) ** 2) as whole:
        one = whole.leiden(runs)
    with GdsGraph.projected(store, agents, per_part=5) as parted:
        assert store.query("MATCH (t:RingmapTmpTies) RETURN count(t) AS n") == [{"n": 0}]
        assert store.query("CALL gds.graph.list($g) YIELD relationshipCount RETURN "
                           "relationshipCount AS n", {"g": parted.name}) == [{"n": 2 * 122}]
        assert parted.leiden(runs) == one
    assert store.query(_SCRATCH)[1] == {"n": 0}
