"""issue 14 item 2: a new case through Neo4j's bulk importer gives the batched loader's graph."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.errors import ConfigError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.neo4j_store import Neo4jStore
from ringmap.ingest.case import load_case
from ringmap.ingest.run import ingest_files
from ringmap.tests.neo4j_fixtures import Neo4jServer

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "strikeback"
#: what differs between two loads of the same files: when, and the records' own times
_TIMES = ("ingested_at", "started", "finished")


def _comparable(props: dict[str, Any]) -> dict[str, Any]:
    out = dict(props)
    for name in _TIMES:
        out.pop(name, None)
    if "record" in out:
        record = json.loads(out["record"])
        out["record"] = {k: v for k, v in record.items() if k not in _TIMES}
    return out


def _graph(store: Neo4jStore) -> tuple[list[str], list[str]]:
    """Every node and relationship with all its properties, ledger and statements included."""
    nodes = store.query("MATCH (n) RETURN labels(n) AS labels, properties(n) AS props")
    rels = store.query("MATCH (s)-[e]->(d) RETURN type(e) AS type, s.id AS src, d.id AS dst, "
                       "properties(e) AS props")
    return (sorted(repr([n["labels"], sorted(_comparable(n["props"]).items())]) for n in nodes),
            sorted(repr([r["type"], r["src"], r["dst"], sorted(_comparable(r["props"]).items())])
                   for r in rels))


def _load(store: Neo4jStore, tmp: Path, bulk: bool) -> None:
    ingest_files(store, load_case(EXAMPLE), run_id="run-1", bulk=bulk,
                 quarantine_dir=tmp / "quarantine")  # the ledger names it


def test_bulk_and_batched_load_the_same_graph(
        neo4j_server: Neo4jServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if neo4j_server.home is None:
        pytest.skip("the bulk path imports into a tools/neo4j-dev server's files")
    monkeypatch.setenv("RINGMAP_NEO4J_HOME", str(neo4j_server.home))
    with neo4j_server.connect() as store:
        store.wipe()
        _load(store, tmp_path, bulk=False)
        batched = _graph(store)
        store.wipe()
        _load(store, tmp_path, bulk=True)
        bulk = _graph(store)
        assert store.counts().total_nodes > 1000
        # a second load of the same files finds them in the bulk path's ledger
        again = ingest_files(store, load_case(EXAMPLE), quarantine_dir=tmp_path / "again")
        assert {f.status for f in again.files} == {"already ingested"}
        assert all(load.complete for load in store.file_loads())
        store.wipe()
    assert len(bulk[0]) == len(batched[0]) and len(bulk[1]) == len(batched[1])
    assert bulk == batched


def test_bulk_refuses_a_database_that_is_not_empty(
        neo4j_server: Neo4jServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if neo4j_server.home is not None:
        monkeypatch.setenv("RINGMAP_NEO4J_HOME", str(neo4j_server.home))
    table = next(iter(load_case(EXAMPLE)))
    with neo4j_server.connect() as store:
        store.wipe()
        ingest_files(store, [table], quarantine_dir=tmp_path / "q1", bulk=False)
        before = store.counts()
        with pytest.raises(ConfigError, match=r"^--bulk: .*(is not empty|neo4j-dev)"):
            ingest_files(store, load_case(EXAMPLE), quarantine_dir=tmp_path / "q2", bulk=True)
        assert store.counts() == before
        store.wipe()


def test_bulk_is_refused_on_the_embedded_store(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "case.db") as store, pytest.raises(
            ConfigError, match=r"^--bulk loads a new case into an empty Neo4j database"):
        ingest_files(store, load_case(EXAMPLE), quarantine_dir=tmp_path / "q", bulk=True)


@pytest.mark.parametrize("command", ["ingest", "run"])
def test_ingest_bulk_flag_gives_one_line(tmp_path: Path, command: str) -> None:
    """Regression: the refusal came from the store, after the case file and its audit log
    had been created; now nothing is written."""
    args = {"ingest": ["ingest", str(EXAMPLE / "exhibits.csv"), "--mapping",
                       str(EXAMPLE / "mappings" / "exhibits.yaml")],
            "run": ["run", str(EXAMPLE), "--out", str(tmp_path)]}[command]
    result = CliRunner().invoke(cli, [*args, "--bulk", "--store", str(tmp_path / "case.db")])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: --bulk loads a new case into an empty Neo4j database; embedded:"
        f"{tmp_path / 'case.db'} is not one (load without --bulk)"]
    assert list(tmp_path.iterdir()) == []
