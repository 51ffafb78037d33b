"""Raid packages, their manifest and verify, and the graph exports."""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ringmap.cli import cli
from ringmap.errors import ConfigError, ExportError, NotFound
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.normalise import luhn_valid
from ringmap.signing import fingerprint, public_key_pem, read_public_key
from ringmap.tests.browser.case import FORMULA, IMG, PANS, VICTIM_NAMES, open_case
from ringmap.viz import package
from ringmap.viz.graphexport import export_graph
from ringmap.viz.package import (
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    TIMELINE,
    export_cell,
    export_cells,
    verify_package,
)

ROSTERS = ["accounts.csv", "arrests.csv", "cards.csv", "devices.csv", "exhibits.csv",
           "payments.csv", "persons.csv", "phones.csv", "seize.csv"]
DIGIT_RUN = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
HEX_DIGEST = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32,}(?![0-9A-Za-z])")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with open_case(tmp_path) as opened:
        yield opened


def _texts(folder: Path) -> dict[str, str]:
    """Every text file under ``folder`` (the timeline picture is pixels)."""
    return {str(p.relative_to(folder)): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".png"}


def _luhn_card_runs(text: str, allowed: set[str]) -> list[str]:
    """Luhn-valid 13-19 digit runs, other than identifiers (IMEI, ICCID) that are meant to be.

    Hex digests and keyed hashes (32 or more hex characters) are left out first: a random one
    holds a Luhn-valid 16-digit run in a few percent of packages (the test was flaky on the
    hashes in ``manifest.json``), and by construction none of them is a card number."""
    text = HEX_DIGEST.sub(" ", text)
    runs = (re.sub(r"[ -]", "", m.group(0)) for m in DIGIT_RUN.finditer(text))
    return [r for r in runs if luhn_valid(r) and r not in allowed]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_package_holds_every_file_and_verifies(store: EmbeddedStore, tmp_path: Path) -> None:
    result = export_cell(store, "C1", tmp_path / "raid")
    names = sorted(p.name for p in result.path.iterdir())
    assert names == sorted([MANIFEST, SIGNATURE, PUBLIC_KEY, TIMELINE, "brief.html", "map.html",
                            "summary.json", "summary.md", *ROSTERS])
    manifest = json.loads((result.path / MANIFEST).read_text())
    assert set(manifest["files"]) == set(names) - {MANIFEST, SIGNATURE}
    assert verify_package(result.path).problems == []
    summary = json.loads((result.path / "summary.json").read_text())
    assert summary["cell_id"] == "C1" and summary["victims"] == 1
    assert summary["victims_by_country"] == {"GB": 1}
    assert summary["money_received"] == {"USD": 500.0}
    assert summary["victims_pseudonymised"] is True
    exhibits = _rows(result.path / "exhibits.csv")
    assert exhibits[0]["raid_site"] == "Bicol office"
    assert exhibits[0]["item"] == "356938035643809"


def test_one_changed_byte_fails_verify(store: EmbeddedStore, tmp_path: Path) -> None:
    folder = export_cell(store, "C1", tmp_path / "raid").path
    data = bytearray((folder / "persons.csv").read_bytes())
    data[-2] ^= 1
    (folder / "persons.csv").write_bytes(bytes(data))
    (folder / "devices.csv").unlink()
    (folder / "notes.txt").write_text("added later")
    assert verify_package(folder).problems == [
        "missing: devices.csv",
        "changed: persons.csv (SHA-256 differs from the manifest)",
        "extra: notes.txt (not in the manifest)",
    ]


def test_verify_refuses_what_is_not_a_package(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        verify_package(tmp_path / "absent")
    with pytest.raises(ExportError, match=r"no manifest\.json"):
        verify_package(tmp_path)
    (tmp_path / MANIFEST).write_text('{"files": {"../etc/passwd": {"sha256": "0"}}}')
    problems = verify_package(tmp_path).problems
    assert problems[0] == "unsigned: no signing-key.pub"
    assert problems[1].startswith("invalid: '../etc/passwd'")


def test_verify_does_not_follow_links(store: EmbeddedStore, tmp_path: Path) -> None:
    folder = export_cell(store, "C1", tmp_path / "raid").path
    (tmp_path / "elsewhere.csv").write_bytes((folder / "cards.csv").read_bytes())
    (folder / "cards.csv").unlink()
    (folder / "cards.csv").symlink_to(tmp_path / "elsewhere.csv")
    assert verify_package(folder).problems == ["changed: cards.csv is a link, not a file"]


def test_verify_writes_no_audit_log_in_the_cwd(store: EmbeddedStore, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """issue 9: verifying a package wrote ./ringmap.db.audit.jsonl in the current folder; it
    needs no case, writes nothing beside the package, and audits only to RINGMAP_AUDIT_LOG."""
    folder = export_cell(store, "C2", tmp_path / "raid" / "cell").path
    beside = sorted(folder.parent.iterdir())
    cwd = tmp_path / "empty"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("RINGMAP_AUDIT_LOG", raising=False)
    assert CliRunner().invoke(cli, ["verify", str(folder)]).exit_code == 0
    assert list(cwd.iterdir()) == [] and sorted(folder.parent.iterdir()) == beside
    log = tmp_path / "logs" / "audit.jsonl"
    monkeypatch.setenv("RINGMAP_AUDIT_LOG", str(log))
    assert CliRunner().invoke(cli, ["verify", str(folder)]).exit_code == 0
    entry = json.loads(log.read_text())
    assert (entry["command"], entry["store"]) == ("verify", None)
    assert entry["counts"] == {"problems": 0, "key_checked": False,
                               "signed_by": verify_package(folder).signed_by}
    assert list(cwd.iterdir()) == []


def test_verify_command_exit_codes(store: EmbeddedStore, tmp_path: Path) -> None:
    folder = export_cell(store, "C2", tmp_path / "raid").path
    runner = CliRunner()
    ok = runner.invoke(cli, ["verify", str(folder)])
    assert ok.exit_code == 0 and ok.output.startswith("OK: every file")
    (folder / "cards.csv").write_text("tampered\n")
    bad = runner.invoke(cli, ["verify", str(folder)])
    assert bad.exit_code == 1
    assert bad.output.splitlines() == [
        "changed: cards.csv (SHA-256 differs from the manifest)",
        f"Error: {folder} does not match its signed manifest: 1 problem(s)"]


def test_no_card_number_in_any_exported_file(store: EmbeddedStore, tmp_path: Path) -> None:
    export_cells(store, tmp_path / "out" / "packages", reveal=True, reason="test")
    for fmt in ("graphml", "gexf", "json"):
        export_graph(store, tmp_path / "out" / f"case.{fmt}", fmt, reveal=True)
    allowed = {n.props["device_id"] for n in store.nodes(["Device"])} | {
        n.props["iccid"] for n in store.nodes(["SimCard"])}
    texts = _texts(tmp_path / "out")
    assert len(texts) == 2 * 16 + 3
    for name, text in texts.items():
        assert _luhn_card_runs(text, allowed) == [], name
        assert not any(pan in text for pan in PANS), name
    cards = _rows(tmp_path / "out" / "packages" / "cell-C1" / "cards.csv")
    assert [c["masked"] for c in cards] == ["411111******1111"]


def test_victims_pseudonymised_by_default(store: EmbeddedStore, tmp_path: Path) -> None:
    export_cells(store, tmp_path / "out" / "packages")
    export_graph(store, tmp_path / "out" / "case.json", "json")
    for name, text in _texts(tmp_path / "out").items():
        assert not any(v in text for v in VICTIM_NAMES), name
        assert "john.victim.1990" not in text, name
    victims = [r for r in _rows(tmp_path / "out" / "packages" / "cell-C1" / "persons.csv")
               if r["role"] == "victim"]
    assert len(victims) == 1
    assert re.fullmatch(r"Person:V-[0-9a-f]{8}", victims[0]["id"])
    assert victims[0]["name"] == "" and victims[0]["age"] == "17"
    assert victims[0]["country"] == "GB"


def test_victim_details_need_a_reason_and_are_audited(store: EmbeddedStore,
                                                       tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "case.db")
    refused = runner.invoke(cli, ["--store", db, "export", "cell", "C1", "--out",
                                  str(tmp_path / "p"), "--include-victim-details"])
    assert refused.exit_code == 1
    assert refused.output == "Error: --include-victim-details needs --reason TEXT saying why\n"
    assert not (tmp_path / "p").exists()
    with pytest.raises(ConfigError):
        export_cell(store, "C1", tmp_path / "p", reveal=True, reason="  ")
    shown = runner.invoke(cli, ["--store", db, "export", "cell", "C1", "--out",
                                str(tmp_path / "p"), "--include-victim-details",
                                "--reason", "MLAT request 2024-17"])
    assert shown.exit_code == 0, shown.output
    persons = _rows(tmp_path / "p" / "persons.csv")
    assert VICTIM_NAMES[0] in {r["name"] for r in persons}
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert summary["victim_details_reason"] == "MLAT request 2024-17"
    log = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert log[-1]["command"] == "export" and log[-1]["reason"] == "MLAT request 2024-17"


def test_roster_cells_are_neutralised(store: EmbeddedStore, tmp_path: Path) -> None:
    folder = export_cell(store, "C1", tmp_path / "raid").path
    persons = {r["id"]: r for r in _rows(folder / "persons.csv")}
    assert persons["Person:AG-1"]["alias"] == "'" + FORMULA
    c2 = export_cell(store, "C2", tmp_path / "raid2").path
    assert {r["alias"] for r in _rows(c2 / "persons.csv")} >= {"'-1+1"}
    assert "'@SUM(1,1)" in {r["display_name"] for r in _rows(c2 / "accounts.csv")}
    assert _rows(c2 / "exhibits.csv")[0]["description"] == "'" + FORMULA


def test_failed_export_leaves_nothing(store: EmbeddedStore, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(package, "render_map", broken)
    with pytest.raises(ExportError, match="No space left on device"):
        export_cell(store, "C1", tmp_path / "out" / "raid")
    assert list((tmp_path / "out").iterdir()) == []


def test_existing_targets_are_refused(store: EmbeddedStore, tmp_path: Path) -> None:
    export_cells(store, tmp_path / "packages")
    with pytest.raises(ExportError, match="already exist"):
        export_cells(store, tmp_path / "packages")
    with pytest.raises(ExportError, match="already exists"):
        export_cell(store, "C1", tmp_path / "packages" / "cell-C1")
    assert sorted(p.name for p in (tmp_path / "packages").iterdir()) == ["cell-C1", "cell-C2"]


def test_export_cells_command(store: EmbeddedStore, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--store", str(tmp_path / "case.db"), "export", "cells",
                                      "--out", str(tmp_path / "packages")])
    assert result.exit_code == 0, result.output
    signed_by = verify_package(tmp_path / "packages" / "cell-C1").signed_by
    assert result.output == (f"Wrote 2 raid packages under {tmp_path / 'packages'}, signed by "
                             f"key {signed_by}\n")
    for folder in (tmp_path / "packages").iterdir():
        assert verify_package(folder).problems == []


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "json"])
def test_graph_export_keeps_types_and_stringifies(store: EmbeddedStore, tmp_path: Path,
                                                  fmt: str) -> None:
    out = tmp_path / f"case.{fmt}"
    counts = export_graph(store, out, fmt)
    if fmt == "graphml":
        graph = nx.read_graphml(out)
    elif fmt == "gexf":
        graph = nx.read_gexf(out)
    else:
        graph = nx.node_link_graph(json.loads(out.read_text()), edges="edges")
    assert counts == {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges()}
    assert counts["nodes"] == store.counts().total_nodes
    ag1 = graph.nodes["Person:AG-1"]
    assert ag1["type"] == "Person" and ag1["label"] == "Juan Dela Cruz"
    rel = "relationship" if fmt == "gexf" else "type"  # GEXF's edge type is its direction
    sim = [d for _, _, d in graph.edges(data=True) if d.get(rel) == "SIM_IN"]
    assert sim and sim[0]["first_seen"] == "2014-04-30T08:15:00+00:00"
    victims = [n for n, d in graph.nodes(data=True) if d.get("role") == "victim"]
    assert len(victims) == 3 and all(re.fullmatch(r"Person:V-[0-9a-f]{8}", v) for v in victims)


def test_graph_export_rejects_unknown_formats(store: EmbeddedStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown graph format"):
        export_graph(store, tmp_path / "x.dot", "dot")
    result = CliRunner().invoke(cli, ["--store", str(tmp_path / "case.db"), "export", "graph",
                                      "--format", "json", "--out", str(tmp_path / "g.json")])
    assert result.exit_code == 0 and "as json" in result.output


class _Tags(HTMLParser):
    """Every element of a document with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[tuple[str, str]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, [(k, v or "") for k, v in attrs]))


def _rehash(folder: Path, name: str) -> None:
    """Recompute ``name``'s entry in the manifest, as someone covering an edit would."""
    manifest = json.loads((folder / MANIFEST).read_text())
    data = (folder / name).read_bytes()
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def test_issue_13_edited_and_rehashed_package_fails_verify(store: EmbeddedStore,
                                                            tmp_path: Path) -> None:
    """Regression: a file edited and its hash recomputed in the manifest passed verify."""
    folder = export_cell(store, "C1", tmp_path / "raid").path
    cards = (folder / "cards.csv").read_text()
    (folder / "cards.csv").write_text(cards.replace("500.00", "5.00"))
    _rehash(folder, "cards.csv")
    assert verify_package(folder).problems == [
        "changed: manifest.json does not match its signature (edited after signing, or "
        "signed with another key than signing-key.pub)"]
    result = CliRunner().invoke(cli, ["verify", str(folder)])
    assert result.exit_code == 1 and "does not match its signature" in result.output


def test_issue_13_package_resigned_with_another_key_fails_with_the_senders_key(
        store: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = export_cell(store, "C1", tmp_path / "raid").path
    sender = (folder / PUBLIC_KEY).read_bytes()
    (tmp_path / "sender.pub").write_bytes(sender)
    ours = fingerprint(read_public_key(sender))
    runner = CliRunner()
    for key in (str(tmp_path / "sender.pub"), ours.upper(), " ".join(ours[i:i + 4]
                                                                  for i in range(0, 32, 4))):
        ok = runner.invoke(cli, ["verify", str(folder), "--key", key])
        assert ok.exit_code == 0, ok.output
        assert ok.output == (f"OK: every file of {folder} matches its manifest, signed by key "
                             f"{ours}\n")
    # someone edits a roster, rehashes it and signs the manifest with a key of their own
    forger = Ed25519PrivateKey.generate()
    theirs = fingerprint(forger.public_key())
    (folder / "cards.csv").write_text("id\nforged\n")
    (folder / PUBLIC_KEY).write_bytes(public_key_pem(forger.public_key()))
    _rehash(folder, "cards.csv")
    _rehash(folder, PUBLIC_KEY)
    manifest = json.loads((folder / MANIFEST).read_text()) | {"signed_by": theirs}
    raw = (json.dumps(manifest, indent=2) + "\n").encode()
    (folder / MANIFEST).write_bytes(raw)
    (folder / SIGNATURE).write_text(base64.b64encode(forger.sign(raw)).decode() + "\n")
    unchecked = runner.invoke(cli, ["verify", str(folder)])
    assert unchecked.exit_code == 0  # a valid signature, by some key: the trust note says so
    assert unchecked.output.splitlines() == [
        f"OK: every file of {folder} matches its manifest, signed by key {theirs}",
        "Trust: this says which key signed, not whose it is; compare the fingerprint with "
        "the one the sender gave you, or pass --key."]
    wrong = runner.invoke(cli, ["verify", str(folder), "--key", str(tmp_path / "sender.pub")])
    assert wrong.exit_code == 1
    assert wrong.output.splitlines() == [
        f"wrong key: signed by {theirs}, not by the expected {ours}",
        f"Error: {folder} does not match its signed manifest: 1 problem(s)"]


def test_issue_13_unsigned_or_unreadable_signature_fails(store: EmbeddedStore,
                                                         tmp_path: Path) -> None:
    folder = export_cell(store, "C1", tmp_path / "raid").path
    (folder / SIGNATURE).write_text("not base64 !\n")
    assert verify_package(folder).problems == [
        "unsigned: signing-key.pub or manifest.sig is not readable"]
    (folder / SIGNATURE).unlink()
    assert verify_package(folder).problems == ["unsigned: no manifest.sig"]
    bad = CliRunner().invoke(cli, ["verify", str(folder), "--key", "not-a-key"])
    assert bad.exit_code == 1 and bad.output == (
        "Error: --key must be a public key file or a fingerprint of 32 hex characters\n")


def test_issue_13_brief_is_inert_and_offline(store: EmbeddedStore, tmp_path: Path) -> None:
    """The brief escapes hostile evidence text, runs nothing and loads nothing."""
    folder = export_cell(store, "C2", tmp_path / "raid").path
    brief = (folder / "brief.html").read_text(encoding="utf-8")
    tags = _Tags()
    tags.feed(brief)
    assert {t for t, _ in tags.seen} <= {"html", "head", "meta", "title", "style", "body",
                                         "section", "h1", "h2", "h3", "p", "dl", "dt", "dd",
                                         "table", "thead", "tbody", "tr", "th", "td", "div",
                                         "span", "bdi", "code", "img", "br"}
    attributes = {name for _, attrs in tags.seen for name, _ in attrs}
    assert attributes <= {"lang", "charset", "http-equiv", "content", "name", "class", "alt",
                          "src"}
    assert all(v.startswith("data:image/png;base64,") for t, attrs in tags.seen
               for name, v in attrs if name == "src")
    assert "http://" not in brief and "https://" not in brief and "@import" not in brief
    assert "Content-Security-Policy" in brief and "default-src 'none'" in brief
    assert IMG not in brief and html.escape(IMG) in brief  # the Taguig site's name
    assert brief.count('<section class="page site">') == 1
    for pan in PANS:
        assert pan not in brief
