"""``ringmap query`` and ``ringmap cypher``: wiring, formats, exit codes, the audit log."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.cli.queries import COMMANDS
from ringmap.errors import ConfigError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.queries.catalog import catalog
from ringmap.tests.queries_case import A1, CARD_NUMBER, IMEI, queries_case


@pytest.fixture
def case_file(tmp_path: Path) -> Path:
    """An embedded case file holding the queries case."""
    path = tmp_path / "case.db"
    with EmbeddedStore(path) as store:
        queries_case().ingest(store, tmp_path / "evidence")
    return path


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _audit(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_list_names_every_query() -> None:
    code, out, _ = _run("query", "--list", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert [q["name"] for q in listed] == sorted(catalog())
    assert listed[0]["parameters"]
    brokers = next(q for q in listed if q["name"] == "top-brokers")
    assert "infrastructure: infrastructure (of run)" in brokers["parameters"]


def test_list_is_no_consultation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """issue 9: reading the catalogue consults no case: no audit file, none in the cwd."""
    monkeypatch.delenv("RINGMAP_AUDIT_LOG")
    monkeypatch.chdir(tmp_path)
    for args in (["query", "--list"], ["query", "--list", "--store", "case.db"],
                 ["query", "--list", "--neo4j", "bolt://127.0.0.1:9"]):
        code, out, err = _run(*args)
        assert code == 0 and "top-brokers" in out, err
    assert os.listdir(tmp_path) == []


def test_query_json_and_audit(case_file: Path, tmp_path: Path) -> None:
    code, out, err = _run("query", "accounts-on-device", "--store", str(case_file),
                          "--param", "device=35-209900-176148-1", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["account"] for r in rows] == [A1, "Account:facebook/agent.two"]
    assert rows[0]["first_seen"] == "2014-01-01T10:00:00+00:00"
    entry = _audit(tmp_path)[-1]
    assert entry["command"] == "query"
    assert entry["counts"] == {"query": "accounts-on-device", "rows": 2}


def test_card_number_masked_in_audit(
    case_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["query", "money-trail", "--store", str(case_file), "-p",
            f"instrument=card:{CARD_NUMBER}"]
    monkeypatch.setattr(sys, "argv", ["ringmap", *args])
    code, out, err = _run(*args)
    assert code == 0, err
    assert "Payment:western_union/P1" in out
    logged = _audit(tmp_path)[-1]["args"]
    assert isinstance(logged, list) and "instrument=card:411111******1111" in logged
    assert "4111111111111111" not in json.dumps(logged).replace(" ", "")


def test_csv_cells_neutralised(case_file: Path) -> None:
    code, out, err = _run("query", "reports-for-account", "--store", str(case_file),
                          "-p", f"account={A1}", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[1]["agency"].startswith("'=HYPERLINK")


def test_table_output(case_file: Path) -> None:
    code, out, _ = _run("query", "cell-members", "--store", str(case_file), "-p", "cell=C1")
    assert code == 0
    assert out.splitlines()[0].split() == ["member", "type", "role", "confidence"]
    assert "Person:AG-1" in out


@pytest.mark.parametrize(("args", "message"), [
    (["query", "acounts-on-device"], "unknown query 'acounts-on-device'; did you mean "
                                     "accounts-on-device"),
    (["query", "zzz"], "unknown query 'zzz'; known: accounts-on-device, agents-at-site"),
    (["query", "accounts-on-device"], "needs --param device=VALUE"),
    (["query", "accounts-on-device", "-p", "device"], "--param wants NAME=VALUE"),
    (["query", "accounts-on-device", "-p", f"device={IMEI}", "-p", "limit=-1"],
     "between 1 and"),
    (["query", "money-trail", "-p", "instrument=card:4000 0000 0000 0002"], "no entity"),
    (["query", "cell-members", "-p", "cell=C1", "--reveal-victims"], "needs --reason"),
    (["query"], "give a query NAME"),
    (["cypher", "MATCH (n) RETURN n"], "runs on Neo4j only"),
])
def test_user_mistakes_are_one_line(case_file: Path, args: list[str], message: str) -> None:
    code, out, err = _run(*args[:1], "--store", str(case_file), *args[1:])
    assert code == 1
    assert err.startswith("Error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err and out == ""


def test_missing_case_file_is_refused(tmp_path: Path) -> None:
    code, _, err = _run("query", "top-brokers", "--store", str(tmp_path / "none.db"))
    assert code == 1 and err.startswith("Error: ")
    assert not (tmp_path / "none.db").exists()


def test_embedded_store_refuses_cypher(case_file: Path) -> None:
    with EmbeddedStore(case_file) as store, pytest.raises(ConfigError, match="does not run Cypher"):
        store.query("MATCH (n) RETURN n")


def test_cypher_write_refused_before_connecting(tmp_path: Path) -> None:
    """Refused before anything is sent: no server listens on this port."""
    code, _, err = _run("cypher", "--neo4j", "bolt://127.0.0.1:9", "CREATE (n)")
    assert code == 1
    assert err == "Error: refused: CREATE is a write clause; ringmap cypher only reads\n"
    assert _audit(tmp_path)[-1]["counts"] == {"refused": 1}  # the attempt is on record


def test_commands_documented() -> None:
    for command in COMMANDS:
        assert isinstance(command, click.Command) and command.help
        assert "Example: ringmap " + (command.name or "") in command.help
