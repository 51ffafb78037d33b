"""issue 12: ``ringmap cypher`` against the real Neo4j: every disguise of a write, an
administration command or a procedure outside the allowlist is refused by the text check and
again by the server's plan, nothing changes, and ``--timeout`` is a real bound."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.errors import StoreError
from ringmap.graphs.neo4j_store import Neo4jStore
from ringmap.graphs.store import Store
from ringmap.queries.guard import WriteRefused, check_plan, check_read_only
from ringmap.tests.neo4j_fixtures import Neo4jServer

pytestmark = pytest.mark.neo4j

PAYLOADS = [
    "CREATE (n:Person {id: 'x'})",
    "MATCH (n) DETACH DELETE n",
    "MATCH (n) SET n.x = 1",
    "MERGE (n:Phone {id: 'y'})",
    "MATCH (n) REMOVE n.name",
    "CALL dbms.killConnections(['bolt-1'])",
    "CALL dbms.listConfig()",
    "CALL dbms.listConnections()",
    "CALL db.clearQueryCaches()",
    "CALL db.stats.retrieve('QUERIES')",
    "CALL db.stats.collect('QUERIES')",
    "CALL dbms.security.createUser('x', 'y', false)",
    "CALL db.createLabel('X')",
    "CALL dbms.components()",
    "SHOW USERS",
    "SHOW SETTINGS",
    "SHOW TRANSACTIONS",
    "SHOW DATABASES",
    "SHOW PROCEDURES",
    "TERMINATE TRANSACTIONS 'neo4j-transaction-1'",
    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "UNWIND [1] AS x CALL { CREATE (:X) } IN TRANSACTIONS",
    "FOREACH (i IN [1] | CREATE (:X))",
    "RETURN dbms.info()",
    "DROP INDEX foo IF EXISTS",
]
#: what the server plans as a read (administration, LOAD CSV reading its files): the text
#: check refuses them
ADMIN = {i for i, p in enumerate(PAYLOADS)
         if p.startswith(("SHOW", "TERMINATE", "RETURN", "LOAD"))}


def _escaped(text: str) -> str:
    """The first letter as a Unicode escape, as Cypher decodes it."""
    return f"\\u{ord(text[0]):04x}{text[1:]}"


def _backticked(text: str) -> str:
    """Every dotted name part of a CALL in backticks."""
    if not text.startswith("CALL "):
        return text
    name, sep, rest = text[5:].partition("(")
    return "CALL " + ".".join(f"`{part}`" for part in name.split(".")) + sep + rest


DISGUISES: dict[str, Callable[[str], str]] = {
    "plain": lambda s: s,
    "lower": str.lower,
    "escaped": _escaped,
    "comment-cr": lambda s: f"RETURN 1 AS one // c\r{s}",
    "comment-ls": lambda s: f"RETURN 1 AS one // c\u2028{s}",
    "block-comment": lambda s: s.replace(" ", " /* x */ ", 1),
    "backticks": _backticked,
    "escaped-backticks": lambda s: _escaped(_backticked(s)),
    "union": lambda s: f"MATCH (n) RETURN count(n) AS c UNION {s}",
}
ATTEMPTS = [(f"{name}:{i}", disguise(payload)) for i, payload in enumerate(PAYLOADS)
            for name, disguise in DISGUISES.items()]


@pytest.fixture
def neo4j(neo4j_server: Neo4jServer, neo4j_store_factory: Callable[[], Store],
          monkeypatch: pytest.MonkeyPatch) -> Neo4jStore:
    store = neo4j_store_factory()
    assert isinstance(store, Neo4jStore)
    for name, value in neo4j_server.env.items():
        monkeypatch.setenv(name, value)
    return store


def test_issue_12_at_least_200_attempts() -> None:
    assert len(ATTEMPTS) >= 200


def test_issue_12_every_attempt_is_refused_twice_and_changes_nothing(
        neo4j: Neo4jStore, tmp_path: Path) -> None:
    before = neo4j.counts()
    runner = CliRunner()
    passed_the_server: list[str] = []
    for label, statement in ATTEMPTS:
        # the text check
        with pytest.raises(WriteRefused):
            check_read_only(statement)
        # the server's plan, asked directly (as if the text check had missed it)
        try:
            neo4j.read_cypher(statement, {}, timeout=5, limit=10, check=check_plan)
        except (WriteRefused, StoreError):
            pass
        else:
            passed_the_server.append(label)
        # the command
        result = runner.invoke(cli, ["cypher", statement])
        assert result.exit_code == 1, (label, result.output)
        assert result.stderr.startswith("Error: refused") or "Neo4j" in result.stderr, label
    assert neo4j.counts() == before
    # only what the server plans as reads rely on the text check alone; a payload after a
    # U+2028 in a // comment is still comment to the server (the text check is stricter)
    assert {int(label.partition(":")[2]) for label in passed_the_server
            if not label.startswith("comment-ls:")} <= ADMIN
    log = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert len(log) == len(ATTEMPTS)
    assert {e["counts"].get("refused") for e in log} == {1}


@pytest.mark.parametrize("statement", [
    "MATCH (n) RETURN count(n) AS n",
    "CALL db.labels() YIELD label RETURN label",
    "CALL `db`.`labels`() YIELD label RETURN label",
    "SHOW INDEXES",
    "RETURN date('2014-05-02') AS d, point.distance(point({x: 0, y: 0}), "
    "point({x: 3, y: 4})) AS far",
])
def test_reads_still_run(neo4j: Neo4jStore, statement: str) -> None:
    result = CliRunner().invoke(cli, ["cypher", statement, "--format", "json"])
    assert result.exit_code == 0, result.output


def test_issue_12_timeout_is_a_real_bound(neo4j: Neo4jStore, tmp_path: Path) -> None:
    slow = "UNWIND range(1, 2000000000) AS x WITH x WHERE x < 0 RETURN count(x) AS c"
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["cypher", slow, "--timeout", "2"])
    took = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert "ran past --timeout 2" in result.stderr
    assert took < 10  # 53 s for --timeout 3 before
    with neo4j.session() as session:
        running = [r for r in session.run("SHOW TRANSACTIONS YIELD currentQuery "
                                          "RETURN currentQuery").data()
                   if "range(1, 2000000000)" in (r["currentQuery"] or "")]
    assert running == []
    (entry,) = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert entry["counts"] == {"timed_out": 1}
