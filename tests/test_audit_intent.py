"""issue 12: actions that write or export are audited before and after; no audit, no action."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.tests.attack.attack_corpus import PEOPLE_MAPPING


def entries(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture
def people(tmp_path: Path) -> list[str]:
    (tmp_path / "people.yaml").write_text(PEOPLE_MAPPING)
    (tmp_path / "p.csv").write_text("pid,name\nP1,Ana\nP2,Ben\n")
    return [str(tmp_path / "p.csv"), "-m", str(tmp_path / "people.yaml")]


def test_issue_12_intent_before_and_completion_after(tmp_path: Path, people: list[str]) -> None:
    store = ["--store", str(tmp_path / "case.db")]
    assert CliRunner().invoke(cli, ["ingest", *people, *store]).exit_code == 0
    out = tmp_path / "g.json"
    result = CliRunner().invoke(cli, ["export", "graph", "--format", "json", "--out", str(out),
                                      *store])
    assert result.exit_code == 0, result.output
    log = entries(tmp_path / "audit.jsonl")
    assert [(e["command"], e["phase"]) for e in log] == [
        ("ingest", "intent"), ("ingest", "done"), ("export", "intent"), ("export", "done")]
    assert log[0]["action"] == log[1]["action"] != log[2]["action"] == log[3]["action"]
    assert log[0]["counts"] == {} and log[1]["counts"]["loaded"] == 2
    assert log[3]["counts"] == {"format": "json", "nodes": 2, "edges": 0}


def test_issue_12_a_failed_action_is_recorded_as_failed(tmp_path: Path) -> None:
    (tmp_path / "case.db").touch()
    result = CliRunner().invoke(cli, ["export", "cell", "C99", "--out", str(tmp_path / "pkg"),
                                      "--store", str(tmp_path / "case.db")])
    assert result.exit_code == 1
    log = entries(tmp_path / "audit.jsonl")
    assert [e["phase"] for e in log] == ["intent", "failed"]
    assert log[1]["counts"]["error"] in {"NotFound", "AnalysisError", "StoreUnavailable"}


def test_issue_12_no_audit_no_action(tmp_path: Path, people: list[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the log's folder should be")
    monkeypatch.setenv("RINGMAP_AUDIT_LOG", str(blocked / "audit.jsonl"))
    case = tmp_path / "case.db"
    result = CliRunner().invoke(cli, ["ingest", *people, "--store", str(case)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot append to the audit log")
    assert not case.exists()
    out = tmp_path / "g.json"
    result = CliRunner().invoke(cli, ["export", "graph", "--format", "json", "--out", str(out),
                                      "--store", str(case)])
    assert result.exit_code == 1
    assert not out.exists()


def test_issue_12_batch_out_is_audited_before_and_after(tmp_path: Path, people: list[str]) -> None:
    store = ["--store", str(tmp_path / "case.db")]
    assert CliRunner().invoke(cli, ["ingest", *people, *store]).exit_code == 0
    watchlist = tmp_path / "watch.csv"
    watchlist.write_text("identifier\n0917 123 4567\n")
    out = tmp_path / "hits.csv"
    result = CliRunner().invoke(cli, ["batch", str(watchlist), "--out", str(out), *store])
    assert result.exit_code == 0, result.output
    log = entries(tmp_path / "audit.jsonl")[2:]
    assert [(e["command"], e["phase"]) for e in log] == [("batch", "intent"), ("batch", "done")]
    assert log[1]["counts"] == {"rows": 1, "known": 0, "linked": 0, "errors": 0}
    assert out.is_file()
