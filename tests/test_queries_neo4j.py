"""``ringmap query`` and ``ringmap cypher`` against a live Neo4j server (skipped without one)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.errors import StoreError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.neo4j_store import Neo4jStore
from ringmap.graphs.store import Store
from ringmap.tests.neo4j_fixtures import Neo4jServer
from ringmap.tests.queries_case import A1, IMEI, queries_case

pytestmark = pytest.mark.neo4j


@pytest.fixture
def neo4j_case(
    neo4j_server: Neo4jServer,
    neo4j_store_factory: Callable[[], Store],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> tuple[Neo4jServer, Store]:
    """The queries case on the test server, and the CLI's environment pointed at it."""
    store = queries_case().ingest(neo4j_store_factory(), tmp_path / "evidence")
    for name, value in neo4j_server.env.items():
        if name != "NEO4J_URI":  # given as --neo4j, as an analyst would
            monkeypatch.setenv(name, value)
    return neo4j_server, store


def _run(server: Neo4jServer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [args[0], "--neo4j", server.uri, *args[1:]])
    return result.exit_code, result.stdout, result.stderr


def test_cypher_reads(neo4j_case: tuple[Neo4jServer, Store]) -> None:
    server, _ = neo4j_case
    statement = ("MATCH (a:Account)-[:LOGGED_IN_ON]->(:Device {id: $id}) "
                 "RETURN a.id AS account, 'CREATE' AS word ORDER BY account")
    code, out, err = _run(server, "cypher", statement, "-p", f"id={IMEI}", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [{"account": A1, "word": "CREATE"},
                               {"account": "Account:facebook/agent.two", "word": "CREATE"}]
    code, out, err = _run(server, "cypher", statement, "-p", f"id={IMEI}", "--limit", "1",
                          "--format", "csv")
    assert code == 0 and out.splitlines() == ["account,word", f"{A1},CREATE"]
    assert "first 1 rows; there are more" in err


@pytest.mark.parametrize("statement", [
    "CREATE (n)",
    "MATCH (n) DETACH DELETE n",
    "MATCH (n:Person) SET n.role = 'victim'",
    "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS",
])
def test_cypher_writes_refused(neo4j_case: tuple[Neo4jServer, Store], statement: str) -> None:
    server, store = neo4j_case
    before = store.counts()
    code, out, err = _run(server, "cypher", statement)
    assert code == 1 and out == ""
    assert err.startswith("Error: refused: ") and err.count("\n") == 1
    assert store.counts() == before


def test_named_query_same_on_both_stores(
    neo4j_case: tuple[Neo4jServer, Store], tmp_path: Path
) -> None:
    server, _ = neo4j_case
    case_file = tmp_path / "case.db"
    with EmbeddedStore(case_file) as embedded:
        queries_case().ingest(embedded, tmp_path / "evidence")
    args = ["query", "money-trail", "-p", "instrument=card:4111 1111 1111 1111",
            "--format", "json"]
    code, on_neo4j, err = _run(server, *args)
    assert code == 0, err
    result = CliRunner().invoke(cli, [args[0], "--store", str(case_file), *args[1:]])
    assert result.exit_code == 0 and json.loads(result.stdout) == json.loads(on_neo4j)


def test_cypher_syntax_error_is_one_line(neo4j_case: tuple[Neo4jServer, Store]) -> None:
    server, _ = neo4j_case
    code, out, err = _run(server, "cypher", "MATCH (n RETURN n")
    assert code == 1 and out == ""
    assert err.startswith("Error: Neo4j refused the query: ") and err.count("\n") == 1


def test_read_transaction_refuses_writes(neo4j_case: tuple[Neo4jServer, Store]) -> None:
    """The second line of defence: what gets past the guard still runs in READ mode."""
    _, store = neo4j_case
    before = store.counts()
    assert isinstance(store, Neo4jStore)
    with pytest.raises(StoreError, match="read access mode"):
        store.query("CREATE (n:Person {id: 'Person:X'}) RETURN n")
    assert store.counts() == before
