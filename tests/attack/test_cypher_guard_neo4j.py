"""issue 12: ``ringmap cypher`` against the real Neo4j: every attempt of the Cypher corpus
(``cypher_corpus.py``: writes, administration commands, procedures outside the allowlist, in
every disguise) is refused by the text check and again by the server's plan, nothing changes,
and ``--timeout`` is a real bound."""

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
from ringmap.tests.attack.cypher_corpus import ATTEMPTS, HIDDEN_FROM_THE_SERVER
from ringmap.tests.neo4j_fixtures import Neo4jServer

pytestmark = pytest.mark.neo4j


class _Planned(Exception):
    """The server planned a statement as a read of allowed procedures (it is not run)."""


def _server_verdict(store: Neo4jStore, statement: str) -> str:
    """What the server's plan makes of ``statement``, as if the text check had missed it:
    ``refused`` by the plan check, an ``error`` (the server would not plan it), or ``read``.
    Nothing is ever run: the check stops every statement after its plan."""
    def check(query_type: str, procedures: list[str]) -> None:
        check_plan(query_type, procedures)
        raise _Planned

    try:
        store.read_cypher(statement, {}, timeout=5, limit=1, check=check)
    except WriteRefused:
        return "refused"
    except StoreError:
        return "error"
    except _Planned:
        return "read"
    return "ran"


@pytest.fixture
def neo4j(neo4j_server: Neo4jServer, neo4j_store_factory: Callable[[], Store],
          monkeypatch: pytest.MonkeyPatch) -> Neo4jStore:
    store = neo4j_store_factory()
    assert isinstance(store, Neo4jStore)
    for name, value in neo4j_server.env.items():
        monkeypatch.setenv(name, value)
    return store


def test_issue_12_every_attempt_is_refused_twice_and_changes_nothing(
        neo4j: Neo4jStore, tmp_path: Path) -> None:
    before = neo4j.counts()
    runner = CliRunner()
    verdicts: dict[str, list[str]] = {}
    for label, payload, statement in ATTEMPTS:
        with pytest.raises(WriteRefused):  # the text check
            check_read_only(statement)
        verdict = _server_verdict(neo4j, statement)  # the server's plan
        verdicts.setdefault(verdict, []).append(label)
        if verdict == "read":
            assert payload.server_reads or label.partition(":")[0] in HIDDEN_FROM_THE_SERVER, (
                label, statement)
        result = runner.invoke(cli, ["cypher", statement])  # the command
        assert result.exit_code == 1, (label, result.output)
        assert result.stderr.startswith("Error: refused"), (label, result.stderr)
    assert "ran" not in verdicts
    assert neo4j.counts() == before
    log = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert len(log) == len(ATTEMPTS)
    assert {e["counts"].get("refused") for e in log} == {1}
    print({verdict: len(labels) for verdict, labels in verdicts.items()})


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
