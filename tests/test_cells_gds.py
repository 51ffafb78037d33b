"""issue 14 item 3: cells inside Neo4j with OpenGDS — the same cells as the Python engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.analysis import gds_ties
from ringmap.analysis.cells import CellsResult, detect_cells, edge_reliability
from ringmap.analysis.gds import choose_engine, detect_cells_gds, gds_version
from ringmap.analysis.gds_ties import computed_ties, file_reliability
from ringmap.analysis.keyplayers import centralities
from ringmap.analysis.projection import ProjectionSettings, project_agents
from ringmap.analysis.quality import adjusted_rand_index
from ringmap.cli import cli
from ringmap.errors import ConfigError, StoreError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.store import Store
from ringmap.testing import ingest_case, synth_case
from ringmap.tests.cells_synth import planted_case
from ringmap.tests.conftest import StoreFactory
from ringmap.tests.example_case import STRIKEBACK
from ringmap.tests.neo4j_fixtures import Neo4jServer


def _cells(result: CellsResult) -> list[tuple[str, dict[str, float]]]:
    return [(c.cell_id, c.members) for c in result.cells]


def _assert_same_key_players(python: CellsResult, gds: CellsResult) -> None:
    assert gds.key_players is not None
    for cell in python.cells:
        for v, want in centralities(python.agents.graph, cell.units).items():
            got = gds.key_players[v]
            assert got.degree == pytest.approx(want.degree, rel=1e-9, abs=1e-9)
            assert got.betweenness == pytest.approx(want.betweenness, rel=1e-6, abs=1e-9)
            assert got.pagerank == pytest.approx(want.pagerank, rel=1e-6, abs=1e-9)


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
    _assert_same_key_players(python, gds)
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
