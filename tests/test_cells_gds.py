"""issue 14 item 3: cells inside Neo4j with OpenGDS — the same cells as the Python engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.analysis.cells import CellsResult, detect_cells
from ringmap.analysis.gds import choose_engine, detect_cells_gds, gds_version
from ringmap.analysis.keyplayers import centralities
from ringmap.analysis.quality import adjusted_rand_index
from ringmap.cli import cli
from ringmap.errors import ConfigError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.store import Store
from ringmap.testing import ingest_case
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


def _require_gds(store: Store) -> None:
    if gds_version(store) is None:
        pytest.skip("this Neo4j server has no Graph Data Science library")


def test_gds_engine_finds_the_python_cells_on_the_example(
    neo4j_store_factory: StoreFactory, neo4j_server: Neo4jServer, tmp_path: Path
) -> None:
    store = neo4j_store_factory()
    _require_gds(store)
    ingest_case(store, STRIKEBACK, tmp_path / "quarantine")
    python, gds = detect_cells(store), detect_cells_gds(store)
    assert (gds.engine, python.engine) == ("gds", "python")
    assert gds.resolution == python.resolution
    assert _cells(gds) == _cells(python)  # the same ids, members and confidences
    assert gds.unassigned == python.unassigned
    _assert_same_key_players(python, gds)
    # ringmap cells picks GDS on this store unless told otherwise, and says so in the run
    runner = CliRunner(env=neo4j_server.env)
    for args, engine in (([], "gds"), (["--engine", "python"], "python")):
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
