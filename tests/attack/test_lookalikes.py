"""issue 12 item 9: identifiers that look alike are one key; a NUL byte in a key rejects its
row with one reason; evidence text cannot drive the terminal it is shown on."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.ingest.run import ingest_files

ACCOUNTS = """\
name: accounts
entities:
  a:
    type: Account
    properties:
      platform: {column: platform}
      handle: {column: handle}
      display_name: {column: shown}
"""
SPELLINGS = ["juan.dc", "juan.dc\u200b", "\ufeffjuan.dc", "juan\u202e.dc", "ｊｕａｎ.ｄｃ"]


def test_issue_12_look_alike_handles_become_one_account_and_nul_is_quarantined(
        tmp_path: Path) -> None:
    (tmp_path / "accounts.yaml").write_text(ACCOUNTS)
    data = tmp_path / "accounts.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["platform", "handle", "shown"])
        writer.writerows(["facebook", raw, raw] for raw in SPELLINGS)
        writer.writerow(["facebook", "juan\0.dc", "nul"])
    with EmbeddedStore(tmp_path / "case.db") as store:
        report = ingest_files(store, [(data, tmp_path / "accounts.yaml", None)],
                              quarantine_dir=tmp_path / "q")
        accounts = [n.id for n in store.nodes(["Account"])]
    (file,) = report.files
    assert (file.read, file.loaded, file.rejected) == (6, 5, 1)
    assert accounts == ["Account:facebook/juan.dc"]
    with open(str(file.quarantine), encoding="utf-8", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert "handle: holds a NUL byte" in str(row), row


HOSTILE = ("\x1b]8;;http://evil.example\x07click\x1b]8;;\x07 \x1b[2J\x1b[31mred\x1b[0m "
           "\x9b31m \u202etxt.exe \u200bzw \r\x08\x7f")


def _inert(text: str) -> None:
    """Nothing in ``text`` a terminal would act on: no C0/C1 control but line breaks, no bidi
    or zero-width character."""
    assert not [c for c in text if (not c.isprintable() and c not in "\n ")], repr(text)


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_issue_12_evidence_cannot_drive_the_terminal(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "accounts.yaml").write_text(ACCOUNTS)
    data = tmp_path / "accounts.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(
            [["platform", "handle", "shown"], ["facebook", "juan.dc", HOSTILE]])
    store = str(tmp_path / "case.db")
    runner = CliRunner()
    ingested = runner.invoke(cli, ["ingest", str(data), "--mapping",
                                   str(tmp_path / "accounts.yaml"), "--store", store,
                                   "--quarantine", str(tmp_path / "q")])
    assert ingested.exit_code == 0, ingested.output
    shown = runner.invoke(cli, ["show", "account:facebook/juan.dc", "--store", store,
                                "--format", fmt])
    assert shown.exit_code == 0, shown.output
    assert "\\u001b]8;;http://evil.example\\u0007click" in shown.stdout
    _inert(shown.stdout)
    if fmt == "json":  # escaped as JSON escapes: the same text to a JSON reader
        assert json.loads(shown.stdout)["properties"]["display_name"] == HOSTILE


def test_issue_12_error_lines_are_inert(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["show", f"account:facebook/{HOSTILE}",
                                      "--store", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    _inert(result.stderr)
