"""``ringmap stats``: one document per output format (issue 9: JSON and CSV came out twice)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A case file holding two ingested files."""
    path = str(tmp_path / "case.db")
    for table, mapping in (("remittances.csv", "remittances.yaml"),
                           ("contacts.jsonl", "contacts.yaml")):
        result = CliRunner().invoke(cli, ["ingest", str(FIXTURES / table), "-m",
                                          str(FIXTURES / "mappings" / mapping), "--store", path])
        assert result.exit_code == 0, result.output
    return path


def stats(db: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["stats", "--store", db, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_is_one_object(db: str) -> None:
    """issue 9: ``--format json`` printed two JSON documents back to back."""
    document = json.loads(stats(db, "--format", "json"))
    assert list(document) == ["counts", "files"]
    assert {"kind": "node", "type": "Payment", "count": 3} in document["counts"]
    assert [Path(f["file"]).name for f in document["files"]] == ["remittances.csv",
                                                                 "contacts.jsonl"]
    assert document["files"][0]["read"] == 9 and document["files"][0]["rejected"] == 5
    assert list(json.loads(stats(db, "--format", "json", "--no-files"))) == ["counts"]


def test_csv_is_one_table_with_a_section_column(db: str) -> None:
    """issue 9: ``--format csv`` printed two tables, the second with its own header."""
    rows = list(csv.DictReader(io.StringIO(stats(db, "--format", "csv"))))
    assert list(rows[0])[:4] == ["section", "kind", "type", "count"]
    sections = [r["section"] for r in rows]
    assert sections == sorted(sections) and set(sections) == {"counts", "files"}
    files = [r for r in rows if r["section"] == "files"]
    assert [Path(r["file"]).name for r in files] == ["remittances.csv", "contacts.jsonl"]
    assert all(r["kind"] == "" for r in files)
    alone = list(csv.DictReader(io.StringIO(stats(db, "--format", "csv", "--no-files"))))
    assert list(alone[0]) == ["kind", "type", "count"] and len(alone) == sections.count("counts")


def test_table_titles_each_section(db: str) -> None:
    out = stats(db)
    assert out.startswith("counts:\nkind ")
    assert "\n\nfiles:\nrun " in out
    assert stats(db, "--no-files").startswith("kind ")
