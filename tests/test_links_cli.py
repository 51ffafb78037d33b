"""The link-analysis commands: wiring, formats, exit codes, one-line errors and the audit log."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ringmap.cli import cli
from ringmap.cli.links import COMMANDS
from ringmap.tests.links_case import HUB_IP, SECRET, shared_case


@pytest.fixture(scope="module")
def case_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("links_cli")
    with shared_case(directory) as store:
        path = store.path  # built and closed before the CLI opens it
    yield path


@pytest.fixture(autouse=True)
def _case_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINGMAP_SECRET", SECRET)


def _run(case_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--store", str(case_path)])


def _audit(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_path_table(case_path: Path) -> None:
    result = _run(case_path, "path", "person:AG-1", "person:AG-3", "--paths", "1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["path", "hops", "hop", "from", "from_label", "relationship",
                                "direction", "to", "to_label", "properties", "evidence"]
    assert lines[2].split() == ["1", "4", "1", "Person:AG-1", "Name", "AG-1", "USES", "→",
                                "Account:facebook/agent.one", "agent.one", "uses.csv:2",
                                "EX-2", "B2"]
    assert len(lines) == 6


def test_path_json_has_full_provenance(case_path: Path) -> None:
    result = _run(case_path, "path", "person:AG-1", "person:AG-3", "--avoid-hubs",
                  "--hub-degree", "5", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["excluded_hubs"] == [f"IPAddress:{HUB_IP}", "Location:L-1"]
    assert doc["labels"]["Person:AG-1"] == "Name AG-1"
    evidence = doc["paths"][0]["hops"][0]["links"][0]["evidence"][0]
    assert (evidence["source_file"], evidence["row"], evidence["grading"]) == (
        str(case_path.parent / "evidence" / "uses.csv"), 2, {"scheme": "admiralty", "grade": "B2"})


def test_path_without_a_path_is_a_note(case_path: Path) -> None:
    result = _run(case_path, "path", "person:AG-1", "person:AG-9")
    assert result.exit_code == 0
    assert result.stdout == "(no rows)\n"
    assert result.stderr == "Note: not connected\n"


def test_expand_exact_output(case_path: Path) -> None:
    result = _run(case_path, "expand", "+639999999999", "--hops", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "nodes:\n"
        "id                   type   label          hops\n"
        "-------------------  -----  -------------  ----\n"
        "Phone:+639999999999  Phone  +639999999999  0\n"
        "\n"
        "relationships:\n"
        "(no rows)\n")


def test_expand_csv_has_a_section_column(case_path: Path) -> None:
    result = _run(case_path, "expand", "person:AG-9", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["section"], r["id"]) for r in rows] == [("nodes", "Person:AG-9")]


def test_shared_and_connect(case_path: Path) -> None:
    result = _run(case_path, "shared", "person:AG-1", "person:AG-2", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert [r["shared"] for r in csv.DictReader(io.StringIO(result.stdout))] == [
        "Location:L-1", "Device:352099001761481"]
    result = _run(case_path, "connect", "person:AG-1", "person:AG-2", "person:AG-9")
    assert result.exit_code == 0, result.output
    assert result.stderr == "Note: not connectable to the others: Person:AG-9\n"
    assert "Location:L-1" in result.stdout


def test_card_is_masked_in_the_audit_log(case_path: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["connect", "person:AG-3", "card:4111 1111 1111 1111", "--reason", "case 7"]
    monkeypatch.setattr(sys, "argv", ["ringmap", *args])
    result = _run(case_path, *args)
    assert result.exit_code == 0, result.output
    [entry] = _audit(tmp_path)
    assert entry["command"] == "connect"
    assert entry["reason"] == "case 7"
    assert entry["counts"] == {"terminals": 2, "nodes": 2, "unconnectable": 0}
    assert "card:411111******1111" in entry["args"]  # type: ignore[operator]
    assert "1111 1111 1111" not in json.dumps(entry)


@pytest.mark.parametrize(("args", "message"), [
    (["path", "person:AG-1", "phone:0917 000 0000"],
     "Error: no entity 'phone:0917 000 0000' in this case (looked for Phone:+639170000000)"),
    (["path", "person:AG-1", "AG-1"], "Error: both ends are the same entity Person:AG-1"),
    (["expand", "card:4111 1111 1111 1112"], "Error: card number: Luhn check digit is wrong"),
    (["connect", "person:AG-1"], "Error: give at least two distinct entities to connect"),
    # issue 10: a card number by shape is never read as an IMEI(SV) too
    (["shared", "person:AG-1", "5555 5555 5555 4444"],
     "Error: no entity '555555******4444' in this case (looked for PaymentCard:555555******4444)"),
])
def test_user_mistakes_are_one_line_errors(case_path: Path, args: list[str],
                                           message: str) -> None:
    result = _run(case_path, *args)
    assert (result.exit_code, result.output) == (1, message + "\n")


def test_missing_case_file_is_an_error(tmp_path: Path) -> None:
    result = _run(tmp_path / "none.db", "expand", "person:AG-1")
    assert result.exit_code == 1
    assert result.output.startswith("Error: no case file at ")
    assert not (tmp_path / "none.db").exists()


def test_empty_case_is_an_error(tmp_path: Path) -> None:
    from ringmap.graphs.embedded import EmbeddedStore

    EmbeddedStore(tmp_path / "empty.db").close()
    result = _run(tmp_path / "empty.db", "path", "a", "b")
    assert (result.exit_code, result.output) == (
        1, "Error: the case holds no evidence yet: ingest some files first\n")


def test_batch_to_file(case_path: Path, tmp_path: Path) -> None:
    watchlist = tmp_path / "w.csv"
    watchlist.write_text("identifier,type,note\n0917 123 4567,phone,=cmd()\n"
                         "4111 1111 1111 1111,,card\n35-209900-176148-2,imei,bad\n",
                         encoding="utf-8")
    out = tmp_path / "hits.csv"
    result = _run(case_path, "batch", str(watchlist), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stderr == f"3 rows written to {out}\n"
    text = out.read_text(encoding="utf-8")
    assert "4111 1111 1111 1111" not in text and "4111111111111111" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["row"], r["status"], r["note"]) for r in rows] == [
        ("2", "linked", "'=cmd()"), ("3", "linked", "card"),
        ("4", "error: IMEI '35-209900-176148-2': Luhn check digit is wrong", "bad")]
    intent, done = _audit(tmp_path)  # issue 12: a file written is audited before and after
    assert (intent["phase"], done["phase"]) == ("intent", "done")
    assert done["counts"] == {"rows": 3, "known": 2, "linked": 2, "errors": 1}


def test_batch_json_to_stdout(case_path: Path, tmp_path: Path) -> None:
    watchlist = tmp_path / "w.csv"
    watchlist.write_text("identifier\nAG-3\n", encoding="utf-8")
    result = _run(case_path, "batch", str(watchlist), "--format", "json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert (row["suspect"], row["cell"]) == ("Person:AG-3", "cell-2")


def test_malformed_watchlist_is_one_line(case_path: Path, tmp_path: Path) -> None:
    watchlist = tmp_path / "w.csv"
    watchlist.write_text("phone\n0917\n", encoding="utf-8")
    out = tmp_path / "hits.csv"
    result = _run(case_path, "batch", str(watchlist), "--out", str(out))
    assert (result.exit_code, result.output) == (
        1, f"Error: watchlist {watchlist} has no identifier column (columns: phone)\n")
    assert not out.exists()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_command_is_documented(command: object) -> None:
    name = getattr(command, "name", "")
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example: ringmap " + name in result.output


def test_victim_details_need_a_reason(case_path: Path, tmp_path: Path) -> None:
    watchlist = tmp_path / "w.csv"
    watchlist.write_text("identifier\nperson:V-1\n", encoding="utf-8")
    result = _run(case_path, "batch", str(watchlist), "--include-victim-details")
    assert (result.exit_code, result.output) == (
        1, "Error: --include-victim-details needs --reason TEXT saying why\n")
    result = _run(case_path, "batch", str(watchlist), "--include-victim-details",
                  "--reason", "victim liaison", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["node"] == "Person:V-1"
