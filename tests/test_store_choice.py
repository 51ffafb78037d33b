"""Which store a command opens: one precedence, decided by ``StoreChoice.choose`` alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.cli.session import Session
from ringmap.errors import ConfigError
from ringmap.graphs.store import StoreChoice, open_store
from ringmap.tests.queries_case import queries_case

URI, ENV_URI = "bolt://127.0.0.1:7687", "bolt://env:7687"


@pytest.mark.parametrize(("path", "uri", "env_store", "env_uri", "default", "expected"), [
    (None, None, None, None, None, StoreChoice(path=Path("ringmap.db"))),
    (None, None, None, None, "out/ringmap.db", StoreChoice(path=Path("out/ringmap.db"))),
    (None, None, None, ENV_URI, "out/ringmap.db", StoreChoice(neo4j_uri=ENV_URI)),
    (None, None, "env.db", ENV_URI, "out/ringmap.db", StoreChoice(path=Path("env.db"))),
    ("case.db", None, "env.db", ENV_URI, None, StoreChoice(path=Path("case.db"))),
    (None, URI, "env.db", ENV_URI, "out/ringmap.db", StoreChoice(neo4j_uri=URI)),
], ids=["default", "run-default", "env-uri", "env-store-beats-env-uri", "path", "uri"])
def test_precedence(
    monkeypatch: pytest.MonkeyPatch, path: str | None, uri: str | None, env_store: str | None,
    env_uri: str | None, default: str | None, expected: StoreChoice,
) -> None:
    for name, value in (("RINGMAP_STORE", env_store), ("NEO4J_URI", env_uri)):
        if value is not None:
            monkeypatch.setenv(name, value)
    assert StoreChoice.choose(path, uri, default=default) == expected
    session = Session(store_path=path, neo4j_uri=uri,
                      default_path=Path(default) if default else None)
    assert session.choice == expected
    assert session.uses_neo4j == expected.uses_neo4j


def test_library_and_cli_agree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """issue 9: with RINGMAP_STORE and NEO4J_URI both set, the CLI opened the case file and
    open_store the Neo4j server."""
    monkeypatch.setenv("RINGMAP_STORE", str(tmp_path / "env.db"))
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")  # nothing listens there
    with open_store() as store:  # the case file: nothing listens at that URI
        queries_case().ingest(store, tmp_path / "evidence")
    result = CliRunner().invoke(cli, ["query", "cell-members", "-p", "cell=C1"])
    assert result.exit_code == 0, result.output
    assert "Person:AG-1" in result.stdout


def test_store_and_neo4j_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="give one"):
        StoreChoice.choose(tmp_path / "case.db", URI)
    result = CliRunner().invoke(cli, ["stats", "--store", str(tmp_path / "case.db"),
                                      "--neo4j", URI])
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: --store and --neo4j name two different stores: "
                                     "give one")


def test_audit_beside_the_chosen_case_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("RINGMAP_AUDIT_LOG")
    monkeypatch.setenv("RINGMAP_STORE", str(tmp_path / "env.db"))
    with open_store() as store:
        queries_case().ingest(store, tmp_path / "evidence")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["query", "cross-border-summary"])
    assert result.exit_code == 0, result.output
    assert [name for name in os.listdir(tmp_path) if "audit" in name] == ["env.db.audit.jsonl"]
