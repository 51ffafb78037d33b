"""``ringmap show KEY``: one entity's properties, neighbours and sources, victims pseudonymised,
card numbers masked, every consultation audited (issue 9)."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ringmap.analysis.entity import entity_report
from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.testing import CaseBuilder
from ringmap.tests.links_case import SECRET, shared_case

CARD = "4242424835326259"  # a card number in the example's remittances and exhibits


def _show(store_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["show", *args, "--store", str(store_path)])


def _sections(result: Result) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(result.stdout)):
        found.setdefault(row.pop("section"), []).append({k: v for k, v in row.items() if v})
    return found


def _audit(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with shared_case(tmp_path_factory.mktemp("show")) as store:
        path = store.path
    yield path


def test_exact_csv_on_a_small_case(small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINGMAP_SECRET", SECRET)
    result = _show(small, "0917 123 4567", "--format", "csv")
    assert result.exit_code == 0, result.output
    sections = _sections(result)
    assert sections["entity"] == [
        {"field": "id", "value": "Phone:+639171234567"},
        {"field": "type", "value": "Phone"},
        {"field": "label", "value": "+639171234567"},  # a number: no formula, no quote
        {"field": "number", "value": "+639171234567"},
    ]
    assert sections["neighbours"] == [
        {"relationship": "REGISTERED_TO", "direction": "in", "type": "Account", "count": "1"},
        {"relationship": "USES", "direction": "in", "type": "Person", "count": "1"},
    ]
    with EmbeddedStore(small) as store:
        sightings = store.provenance("Phone:+639171234567")
    assert [(r["file"], r["row"], r.get("ref"), r["run"], r["grading"], r["sha256"])
            for r in sections["sources"]] == [
        (p.source_file, str(p.row), p.ref, p.run_id, "admiralty:B2", p.sha256)
        for p in sightings]


def test_issue_9_show_every_property_neighbour_and_source(strikeback: EmbeddedStore) -> None:
    node = strikeback.get("Person:AG-00009")
    assert node is not None
    result = _show(strikeback.path, "person:AG-00009", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["id"], doc["type"], doc["label"]) == (node.id, "Person", node.props["name"])
    assert doc["properties"] == json.loads(json.dumps(node.props, default=str))
    around = strikeback.neighbours(node.id)
    assert sum(n["count"] for n in doc["neighbours"]) == len(around)
    assert {n["relationship"] for n in doc["neighbours"]} == {e.type for e, _ in around}
    sources = strikeback.provenance(node.id)
    assert [(s["source_file"], s["row"], s["ref"]) for s in doc["sources"]] == [
        (p.source_file, p.row, p.ref) for p in sources]
    assert all(s["run_id"] and s["grading"]["grade"] for s in doc["sources"])


def test_table_has_three_titled_sections(strikeback: EmbeddedStore) -> None:
    result = _show(strikeback.path, "Location:RS-BCL-001")
    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines() if line.endswith(":")] == [
        "entity:", "neighbours:", "values:", "sources:"]
    assert "Naga City" in result.stdout


def test_a_victim_is_pseudonymised_unless_revealed_with_a_reason(
        strikeback: EmbeddedStore, tmp_path: Path) -> None:
    victim = strikeback.get("Person:V-000002")
    assert victim is not None
    hidden = _show(strikeback.path, "Person:V-000002")
    assert hidden.exit_code == 0, hidden.output
    assert victim.props["name"] not in hidden.stdout
    assert "V-000002" not in hidden.stdout
    account = _show(strikeback.path, "jack.taylor.74", "--format", "json")
    doc = json.loads(account.stdout)
    assert doc["pseudonymised"] and doc["id"].startswith("Account:V-")
    assert "jack.taylor.74" not in account.stdout
    refused = _show(strikeback.path, "jack.taylor.74", "--include-victim-details")
    assert (refused.exit_code, refused.output) == (
        1, "Error: --include-victim-details needs --reason TEXT saying why\n")
    shown = _show(strikeback.path, "jack.taylor.74", "--include-victim-details", "--reason",
                  "referral to GB")
    assert shown.exit_code == 0, shown.output
    assert "Account:snapchat/jack.taylor.74" in shown.stdout
    entry = _audit(tmp_path)[-1]
    assert (entry["command"], entry["reason"], entry["counts"]["revealed"]) == (
        "show", "referral to GB", True)


def test_a_card_is_only_ever_masked(strikeback: EmbeddedStore, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["show", f"card:{CARD}", "--reason", "payout trace"]
    monkeypatch.setattr(sys, "argv", ["ringmap", *args])
    for fmt in ("table", "json", "csv"):
        result = _show(strikeback.path, *args[1:], "--format", fmt)
        assert result.exit_code == 0, result.output
        assert "424242******6259" in result.stdout
        assert CARD not in result.stdout.replace(" ", "")
    entries = _audit(tmp_path)
    assert [e["command"] for e in entries] == ["show"] * 3
    assert entries[0]["counts"]["sources"] > 0
    assert CARD not in json.dumps(entries)


def test_unknown_entity_is_one_line(strikeback: EmbeddedStore) -> None:
    result = _show(strikeback.path, "phone:0917 000 0000")
    assert (result.exit_code, result.output) == (
        1, "Error: no entity 'phone:0917 000 0000' in this case "
           "(looked for Phone:+639170000000)\n")


def test_library_report_matches_the_store(strikeback: EmbeddedStore) -> None:
    report = entity_report(strikeback, "Country:PH")
    assert not report.pseudonymised
    assert report.field_rows()[:3] == [{"field": "id", "value": "Country:PH"},
                                       {"field": "type", "value": "Country"},
                                       {"field": "label", "value": "PH"}]
    assert len(report.source_rows()) == len(strikeback.provenance("Country:PH"))


def test_issue_15_a_likely_victim_is_pseudonymised(tmp_path: Path) -> None:
    """issue 15: an account of no known user that an agent contacted is a likely victim
    (privacy.likely_victims): shown under its pseudonym, as on the maps; it was shown in full,
    the agent's side not being read beyond the entity's own neighbours."""
    case = CaseBuilder()
    agent = case.account("Facebook", "ag1")
    case.link("USES", case.person("AG-1"), agent)
    case.contact(agent, case.account("Facebook", "oliver.smith.77"),
                 first_seen=datetime(2014, 1, 6))
    with EmbeddedStore(tmp_path / "case.db") as store:
        case.ingest(store, tmp_path / "evidence")
        report = entity_report(store, "account:facebook/oliver.smith.77")
    assert report.pseudonymised and report.id.startswith("Account:V-")
    shown = _show(tmp_path / "case.db", "account:facebook/oliver.smith.77")
    assert shown.exit_code == 0, shown.output
    assert "oliver" not in shown.output.lower()
