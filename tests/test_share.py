"""Issue 15 items 1-2: match packages between two agencies of one operation (tests/agencies.py).

Each agency hashes under its own case key and signs with its own key; they share only the
operation key. Every planted overlap is found, nothing else; no identifier leaves.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ringmap.cli import cli
from ringmap.errors import ConfigError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.normalise import card_fields
from ringmap.graphs.schema import node_id
from ringmap.graphs.store import Store
from ringmap.graphs.tokens import TOKEN_TYPES, operation_key
from ringmap.tests.agencies import Operation, operation
from ringmap.viz.share import _references, match_case, read_partner

OP_KEY = "0f" * 32
SECRETS = {"a": "agency-a-case-key-0123456789", "b": "agency-b-case-key-9876543210"}
_TYPES = {"phone": "Phone", "handle": "Account", "email": "Email", "imei": "Device",
          "iccid": "SimCard", "wallet": "FinancialAccount"}


@dataclass
class Agencies:
    """Both agencies' case files, the operation, and how to act as one of them."""

    folder: Path
    op: Operation
    monkeypatch: pytest.MonkeyPatch

    def act_as(self, agency: str, op_key: str | None = OP_KEY) -> None:
        self.monkeypatch.setenv("RINGMAP_SECRET", SECRETS[agency])
        self.monkeypatch.setenv("RINGMAP_SIGNING_KEY_FILE", str(self.folder / f"{agency}.sig"))
        if op_key is None:
            self.monkeypatch.delenv("RINGMAP_OPERATION_KEY_STRIKEBACK", raising=False)
        else:
            self.monkeypatch.setenv("RINGMAP_OPERATION_KEY_STRIKEBACK", op_key)

    def store(self, agency: str) -> Path:
        return self.folder / agency / "case.db"

    def run(self, agency: str, *args: str) -> Result:
        self.act_as(agency, os.environ.get("RINGMAP_OPERATION_KEY_STRIKEBACK") or OP_KEY)
        return CliRunner().invoke(cli, [*args[:1], "--store", str(self.store(agency)),
                                        *args[1:]])

    def expected(self, agency: str = "b") -> set[str]:
        """Node ids of the planted overlap in ``agency``'s case."""
        key = SECRETS[agency].encode()
        ids = {node_id(_TYPES[k], [v]) for k, values in self.op.planted.items()
               if k != "card" for v in values}
        return ids | {node_id("PaymentCard", [card_fields(pan, key).card_hash])
                      for pan in self.op.planted["card"]}


@pytest.fixture(scope="module")
def _cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Operation]:
    """Both agencies' case files, ingested once for the module."""
    folder = tmp_path_factory.mktemp("agencies")
    op = operation()
    with pytest.MonkeyPatch.context() as patch:
        found = Agencies(folder, op, patch)
        for agency, build in (("a", op.a), ("b", op.b)):
            found.act_as(agency)  # the operation key is configured before ingest: cards
            (folder / agency).mkdir()  # get their tokens then
            with EmbeddedStore(found.store(agency)) as store:
                build().ingest(store, folder / agency / "evidence")
    return folder, op


@pytest.fixture
def agencies(_cases: tuple[Path, Operation], monkeypatch: pytest.MonkeyPatch) -> Agencies:
    return Agencies(*_cases, monkeypatch)


def _share(agencies: Agencies, agency: str, out: Path, *extra: str) -> Result:
    result = agencies.run(agency, "share", "--operation", "strikeback", "--out", str(out),
                          "--reason", "INTERPOL request 14/22", *extra)
    assert result.exit_code == 0, result.output
    return result


def _match(agencies: Agencies, agency: str, *args: str) -> list[dict[str, str]]:
    result = agencies.run(agency, "match", *args, "--reason", "INTERPOL request 14/22",
                          "--format", "json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, str]] = json.loads(result.stdout)
    return rows


def test_issue_15_share_and_match_find_every_planted_overlap_and_nothing_else(
        agencies: Agencies, tmp_path: Path) -> None:
    result = _share(agencies, "a", tmp_path / "pkg-a")
    assert "Wrote the match package of operation STRIKEBACK" in result.output
    agencies.act_as("b")
    partner = read_partner(tmp_path / "pkg-a")
    with EmbeddedStore(agencies.store("b")) as store:
        matches, note = match_case(store, partner)
    assert note is None
    assert {m.node for m in matches} == agencies.expected("b")
    assert sorted({m.kind for m in matches}) == sorted(TOKEN_TYPES)
    # each partner reference is A's reference of the same identifier, once
    refs = [m.partner_ref for m in matches]
    assert len(set(refs)) == len(refs) and all(r and r.startswith("R-") for r in refs)
    rows = _match(agencies, "b", str(tmp_path / "pkg-a"))
    assert len(rows) == len(matches)
    # the victims' phones both hold are shown under their pseudonyms
    victims = [r for r in rows if r["entity"].startswith("Phone:V-")]
    assert len(victims) == 2 and all(r["label"].startswith("Phone V-") for r in victims)


def test_issue_15_match_package_holds_no_identifier_card_or_victim_detail(
        agencies: Agencies, tmp_path: Path) -> None:
    _share(agencies, "b", tmp_path / "pkg-b")
    normalised = {v for values in agencies.op.planted.values() for v in values}
    with EmbeddedStore(agencies.store("b")) as store:
        stored = {n.id.split(":", 1)[1] for n in store.nodes()}
    forbidden = agencies.op.raw | normalised | stored
    forbidden = {f for f in forbidden if len(f) >= 6}
    assert len(forbidden) > 150
    files = sorted((tmp_path / "pkg-b").iterdir())
    assert {p.name for p in files} == {"tokens.csv", "summary.json", "signing-key.pub",
                                       "manifest.json", "manifest.sig"}
    for path in files:
        data = path.read_bytes()
        leaked = sorted(f for f in forbidden if f.encode() in data)
        assert not leaked, f"{path.name} holds {leaked[:3]}"
    # nor does the audit log record more than counts
    log = Path(os.environ["RINGMAP_AUDIT_LOG"]).read_text(encoding="utf-8")
    assert not [f for f in agencies.op.raw if f in log]


def test_issue_15_wrong_operation_key_gives_zero_matches(
        agencies: Agencies, tmp_path: Path) -> None:
    _share(agencies, "a", tmp_path / "pkg-a")
    agencies.act_as("b", "ab" * 32)
    result = agencies.run("b", "match", str(tmp_path / "pkg-a"), "--reason", "r",
                          "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    assert "another key for operation STRIKEBACK" in result.stderr


def test_issue_15_edited_package_is_refused(agencies: Agencies, tmp_path: Path) -> None:
    package = tmp_path / "pkg-a"
    _share(agencies, "a", package)
    tokens = package / "tokens.csv"
    lines = tokens.read_text(encoding="ascii").splitlines()
    lines[1] = lines[1][:-4] + "beef"  # another reference for one token
    tokens.write_text("\n".join(lines) + "\n", encoding="ascii")
    result = agencies.run("b", "match", str(package), "--reason", "r")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith(
        f"Error: the match package {package} is refused: changed: tokens.csv")
    # the hash recomputed in the manifest: the signature no longer matches
    manifest = json.loads((package / "manifest.json").read_text())
    import hashlib
    manifest["files"]["tokens.csv"]["sha256"] = hashlib.sha256(tokens.read_bytes()).hexdigest()
    (package / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    result = agencies.run("b", "match", str(package), "--reason", "r")
    assert result.exit_code == 1 and "does not match its signature" in result.output


def test_issue_15_package_signed_by_another_key_is_refused(
        agencies: Agencies, tmp_path: Path) -> None:
    _share(agencies, "a", tmp_path / "pkg-a")
    _share(agencies, "b", tmp_path / "pkg-b")
    b_key = tmp_path / "pkg-b" / "signing-key.pub"
    result = agencies.run("b", "match", str(tmp_path / "pkg-a"), "--key", str(b_key),
                          "--reason", "r")
    assert result.exit_code == 1 and "wrong key" in result.output


def test_issue_15_two_packages_match_each_other(agencies: Agencies, tmp_path: Path) -> None:
    _share(agencies, "a", tmp_path / "pkg-a")
    _share(agencies, "b", tmp_path / "pkg-b")
    rows = _match(agencies, "b", str(tmp_path / "pkg-a"), "--against", str(tmp_path / "pkg-b"))
    assert len(rows) == len(agencies.expected("b"))
    assert all(r["ref"].startswith("R-") and r["partner_ref"].startswith("R-") for r in rows)


def test_issue_15_bloom_filter_states_its_rate_and_finds_the_overlap(
        agencies: Agencies, tmp_path: Path) -> None:
    result = _share(agencies, "a", tmp_path / "bloom-a", "--bloom", "1e-6")
    assert "false-positive rate" in result.output
    summary = json.loads((tmp_path / "bloom-a" / "summary.json").read_text())
    assert summary["form"] == "bloom" and summary["bloom"]["false_positive_rate"] < 2e-6
    assert not (tmp_path / "bloom-a" / "tokens.csv").exists()
    agencies.act_as("b")
    with EmbeddedStore(agencies.store("b")) as store:
        matches, _ = match_case(store, read_partner(tmp_path / "bloom-a"))
    assert {m.node for m in matches} == agencies.expected("b")
    assert {m.partner_ref for m in matches} == {None}
    # two filters cannot be matched with each other
    _share(agencies, "b", tmp_path / "bloom-b", "--bloom", "1e-6")
    result = agencies.run("b", "match", str(tmp_path / "bloom-a"), "--against",
                          str(tmp_path / "bloom-b"), "--reason", "r")
    assert result.exit_code == 1 and "two Bloom filters" in result.output


def test_issue_15_share_and_match_are_audited_with_their_reason(
        agencies: Agencies, tmp_path: Path) -> None:
    _share(agencies, "a", tmp_path / "pkg-a", "--types", "phone,card")
    summary = json.loads((tmp_path / "pkg-a" / "summary.json").read_text())
    assert sorted(summary["by_type"]) == ["card", "phone"]
    _match(agencies, "b", str(tmp_path / "pkg-a"))
    entries = [json.loads(line) for line in
               Path(os.environ["RINGMAP_AUDIT_LOG"]).read_text().splitlines()]
    done = {e["command"]: e for e in entries if e.get("phase") == "done"}
    assert done["share"]["reason"] == done["match"]["reason"] == "INTERPOL request 14/22"
    assert done["match"]["counts"]["matches"] == sum(
        len(agencies.op.planted[k]) for k in ("phone", "card"))
    # --reason is required
    result = agencies.run("a", "share", "--operation", "strikeback", "--out",
                          str(tmp_path / "x"))
    assert result.exit_code == 2 and "--reason" in result.output


def test_issue_15_cards_read_before_the_key_have_no_token_and_are_counted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    op = operation(seed=3, agents=2, victims=1)
    monkeypatch.delenv("RINGMAP_OPERATION_KEY_STRIKEBACK", raising=False)
    with EmbeddedStore(tmp_path / "case.db") as store:
        op.a().ingest(store, tmp_path / "evidence")
        cards = [n for n in store.nodes(["PaymentCard"])]
        assert cards and not any("match_tokens" in n.props for n in cards)
    monkeypatch.setenv("RINGMAP_OPERATION_KEY_STRIKEBACK", OP_KEY)
    result = CliRunner().invoke(cli, ["share", "--store", str(tmp_path / "case.db"),
                                      "--operation", "strikeback", "--out",
                                      str(tmp_path / "pkg"), "--reason", "r"])
    assert result.exit_code == 0, result.output
    assert f"Left out: {len(cards)} card without a token" in result.output


def test_issue_15_operation_key_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="no key for operation NOPE"):
        operation_key("nope")
    monkeypatch.setenv("RINGMAP_OPERATION_KEY_SAME", os.environ["RINGMAP_SECRET"] + "x" * 8)
    monkeypatch.setenv("RINGMAP_SECRET", os.environ["RINGMAP_SECRET"] + "x" * 8)
    with pytest.raises(ConfigError, match="is the case hashing key"):
        operation_key("same")
    folder = tmp_path / "operations"
    folder.mkdir()
    (folder / "filed.key").write_text("cd" * 32)
    (folder / "filed.key").chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        operation_key("filed")
    (folder / "filed.key").chmod(0o600)
    assert operation_key("FILED") == b"cd" * 32


def test_issue_15_keep_stores_matched_by_links_once(
        agencies: Agencies, store_factory: Callable[[], Store],
        store_opener: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    """``match --keep`` on either store: one MATCHED_BY link per match to a PartnerReference,
    none again from the same package, all taken out by ``ringmap retract``."""
    _share(agencies, "a", tmp_path / "pkg-a")
    agencies.act_as("b")  # the operation key configured before ingest: cards get tokens
    store = agencies.op.b().ingest(store_factory(), tmp_path / "evidence")
    where, env = store_opener
    option = "--neo4j" if where.startswith(("bolt", "neo4j")) else "--store"
    server = {k: v for k, v in env.items() if k.startswith("NEO4J_")}  # keys stay agency b's

    def ringmap(*args: str) -> Result:
        return CliRunner(env=server).invoke(cli, [*args, option, where])

    for kept in (len(agencies.expected("b")), 0):
        result = ringmap("match", str(tmp_path / "pkg-a"), "--keep", "--reason", "r")
        assert result.exit_code == 0, result.output
        assert f"Kept {kept:,} MATCHED_BY link(s)" in result.stderr
    links = list(store.edges(["MATCHED_BY"]))
    refs = {n.id: n.props for n in store.nodes(["PartnerReference"])}
    assert {e.src for e in links} == agencies.expected("b")
    assert {e.dst for e in links} == set(refs)
    assert {p["operation"] for p in refs.values()} == {"STRIKEBACK"}
    assert all(p["reference"].startswith("R-") for p in refs.values())
    # each kept reference is the partner's own, as its package lists it
    listed = {row.partition(",")[2] for row in read_partner(tmp_path / "pkg-a").rows.values()}
    assert {p["reference"] for p in refs.values()} <= listed
    result = ringmap("retract", str(tmp_path / "pkg-a" / "tokens.csv"), "--reason", "wrong op")
    assert result.exit_code == 0, result.output
    assert not list(store.edges(["MATCHED_BY"])) and not list(store.nodes(["PartnerReference"]))


def test_issue_15_references_encoded_at_once_are_base32_of_each_digest() -> None:
    """The bulk encoding (bench/match.py: share at a million tokens) writes what
    ``base64.b32encode`` of each reference's digest gives."""
    key = b"agency-a-case-key-0123456789"
    ids = [f"Phone:+63917{i:07d}" for i in range(500)] + ["Account:facebook/ä.ß", "Email:"]
    expected = ["R-" + base64.b32encode(hmac.digest(
        key, f"match-ref\x00STRIKEBACK\x00{n}".encode(), "sha256")[:10]).decode().lower()
        for n in ids]
    assert _references(key, "STRIKEBACK", ids) == expected
    assert _references(key, "STRIKEBACK", []) == []
