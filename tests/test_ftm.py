"""Issue 10 item 4: FollowTheMoney entities in and out, with ids stable across a round trip."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from followthemoney import model
from followthemoney.util import make_entity_id

from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.ftm import NAMESPACE, RINGMAP_NOTE, entity_id
from ringmap.graphs.model import Grading
from ringmap.graphs.sameas import merge
from ringmap.graphs.store import Store
from ringmap.ingest.case import load_case
from ringmap.ingest.ftm import FtmFormat
from ringmap.ingest.run import IngestReport, ingest_files
from ringmap.privacy import mask_card_numbers, mask_value
from ringmap.testing import CaseBuilder
from ringmap.viz.ftm import export_ftm

FIXTURES = Path(__file__).parent / "fixtures" / "ftm"
ALEPH = FIXTURES / "aleph.ftm.json"
PAN = "4111111111111111"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _import(store: Store, path: Path, tmp_path: Path, grading: str | None = "B2"
            ) -> IngestReport:
    return ingest_files(store, [(path, FtmFormat(),
                                 Grading.parse(grading) if grading else None)],
                        quarantine_dir=tmp_path / "quarantine")


def _assert_valid(entities: list[dict[str, Any]]) -> None:
    """What ``ftm validate`` checks (every value as FtM cleans it) and required properties."""
    for data in entities:
        proxy = model.get_proxy(data, cleaned=False)
        assert proxy.to_dict() == data
        assert all(proxy.get(p) for p in proxy.schema.required), data


def _evidence(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entities that are evidence: without the cells (an assessment) and their links."""
    cells = {e["id"] for e in entities if e["schema"] == "Organization"}
    return [e for e in entities if e["schema"] not in ("Organization", "Membership")
            and not set(e["properties"].get("object", [])) & cells]


def _no_pan(path: Path) -> None:
    """No card number in the file: not the test PAN, and no value that privacy would mask
    (read as the field it is in, so an IMSI in an ``imsi`` field is an IMSI)."""
    text = path.read_text(encoding="utf-8")
    assert PAN not in text and "4111 1111 1111 1111" not in text
    if path.suffix == ".csv":
        assert mask_card_numbers(text) == text
        return
    for entity in _lines(path):
        for values in entity["properties"].values():
            for value in values:
                shown = (json.loads(value[len(RINGMAP_NOTE):])
                         if value.startswith(RINGMAP_NOTE) else value)
                assert mask_value(shown) == shown, value


def test_ids_are_make_entity_id_over_the_node_id_with_the_namespace() -> None:
    assert entity_id("Person:AG-00012") == make_entity_id("Person:AG-00012",
                                                          key_prefix=NAMESPACE)
    assert entity_id("USES", "Person:A", "Phone:+1") == make_entity_id(
        "USES", "Person:A", "Phone:+1", key_prefix=NAMESPACE)


@pytest.mark.slow  # ~20 s: two exports and an import of the whole example case
def test_example_case_round_trips(strikeback: EmbeddedStore, tmp_path: Path) -> None:
    first = tmp_path / "case.ftm.json"
    result = export_ftm(strikeback, first)
    entities = _lines(first)
    _assert_valid(entities)
    assert result.entities == len(entities) == len({e["id"] for e in entities})
    assert result.schemata["Organization"] == len(strikeback.latest_cells()[1])  # type: ignore[index]
    assert result.not_exported == {"Country": strikeback.counts().nodes["Country"]}
    _no_pan(first)
    with EmbeddedStore(tmp_path / "fresh.db") as fresh:
        report = _import(fresh, first, tmp_path)
        (loaded,) = report.files
        assert (loaded.read, loaded.loaded, loaded.duplicate, loaded.rejected) == (
            len(entities), len(entities), 0, 0)
        cells = sum(1 for e in entities if e["schema"] in ("Organization", "Membership")
                    or "member of cell" in e["properties"].get("role", []))
        assert loaded.skipped == {k: {"a ringmap cell: an assessment, not evidence": v}
                                  for k, v in _per_schema(entities, cells).items()}
        again = tmp_path / "again.ftm.json"
        export_ftm(fresh, again)
        # the same FtM ids and the same entities; the cells are not evidence and stay out
        assert _lines(again) == _evidence(entities)
        assert fresh.counts().relationships == {
            k: v for k, v in strikeback.counts().relationships.items()}


def _per_schema(entities: list[dict[str, Any]], total: int) -> dict[str, int]:
    cells = {e["id"] for e in entities if e["schema"] == "Organization"}
    counts: dict[str, int] = {}
    for e in entities:
        if e["id"] in cells or set(e["properties"].get("organization", [])) & cells or \
                set(e["properties"].get("object", [])) & cells:
            counts[e["schema"]] = counts.get(e["schema"], 0) + 1
    assert sum(counts.values()) == total
    return counts


def _single_offender(store: Store, folder: Path) -> dict[str, str]:
    """The Swiss single offender: one suspect, accounts on three platforms, victims abroad
    who paid to his card, and reports that name him."""
    case = CaseBuilder(grading="A2")
    ids = {
        "offender": case.person("CH-0001", name="Marco Keller", alias="mk"),
        "insta": case.account("instagram", "lena.sunny", display_name="Lena"),
        "snap": case.account("snapchat", "lena_sun"),
        "phone": case.phone("+41 79 123 45 67"),
        "card": case.card("4111 1111 1111 1111", issuer="PostFinance"),
        "device": case.device("352099001761481", make="Apple"),
    }
    for what in ("insta", "snap", "phone", "device"):
        case.link("USES", ids["offender"], ids[what])
    case.link("HOLDS", ids["offender"], ids["card"])
    for i, (country, number) in enumerate([("US", "+1 202 555 0143"), ("GB", "+44 7700 900456"),
                                           ("SG", "+65 8123 4567")]):
        victim = case.person(f"V-{i}", role="victim", name=f"Victim Name {i}", age=15 + i)
        account = case.account("instagram", f"victim.{i}")
        ids[f"victim{i}"] = victim
        case.node("Country", code=country)
        case.link("LOCATED_IN", victim, f"Country:{country}")
        case.link("USES", victim, account)
        case.link("USES", victim, case.phone(number))
        case.contact(ids["insta"], account, first_seen=f"2019-03-0{i + 1}", count=3 + i)
        payment = case.payment("twint", f"TW-{i}", 100.0 * (i + 1), "CHF",
                               time=f"2019-03-1{i}T10:00:00")
        case.link("PAID", victim, payment)
        case.link("PAID_TO", payment, ids["card"])
    report = case.node("Report", source="ncmec", reference="CT-2019-1", kind="cybertip")
    case.link("NAMES", report, ids["insta"], role="reported account")
    case.cell("C001", {ids["offender"]: 1.0, ids["snap"]: 0.5})
    case.ingest(store, folder)
    return ids


def test_single_offender_round_trips_pseudonymised_without_pan(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "case.db") as store:
        ids = _single_offender(store, tmp_path / "case")
        first = tmp_path / "first.ftm.json"
        export_ftm(store, first)
    entities = _lines(first)
    _assert_valid(entities)
    _no_pan(first)
    text = first.read_text(encoding="utf-8")
    assert "Victim Name" not in text and "victim.0" not in text and "+12025550143" not in text
    assert "411111******1111" in text and "Marco Keller" in text
    by_marker = {m: e for e in entities for m in e["properties"].get("keywords", [])}
    person = by_marker[f"ringmap:{ids['offender']}"]
    assert person["schema"] == "Person" and person["properties"]["classification"] == ["suspect"]
    card = by_marker[f"ringmap:{ids['card']}"]
    assert card["schema"] == "BankAccount" and card["properties"]["name"] == ["411111******1111"]
    payments = [e for e in entities if e["schema"] == "Payment"]
    assert len(payments) == 3
    assert {p["properties"]["beneficiary"][0] for p in payments} == {person["id"]}
    org = next(e for e in entities if e["schema"] == "Organization")
    members = [e for e in entities if org["id"] in e["properties"].get("organization", [])
               + e["properties"].get("object", [])]
    assert sorted(e["schema"] for e in members) == ["Membership", "UnknownLink"]
    with EmbeddedStore(tmp_path / "fresh.db") as fresh:
        _import(fresh, first, tmp_path)
        again = tmp_path / "again.ftm.json"
        export_ftm(fresh, again)
        victims = [n for n in fresh.nodes(["Person"]) if n.props["role"] == "victim"]
        assert len(victims) == 3 and all(n.id.startswith("Person:V-") for n in victims)
        assert {n.props.get("age") for n in victims} == {15, 16, 17}
    assert _lines(again) == _evidence(entities)


def test_export_reveals_victims_only_when_asked(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "case.db") as store:
        _single_offender(store, tmp_path / "case")
        out = tmp_path / "revealed.ftm.json"
        export_ftm(store, out, reveal=True, cells=False)
    text = out.read_text(encoding="utf-8")
    assert "Victim Name 0" in text and "+12025550143" in text
    assert "Organization" not in text
    _no_pan(out)


def test_aleph_file_maps_and_merges_with_table_evidence(tmp_path: Path) -> None:
    case = CaseBuilder()
    agent = case.person("AG-1")
    case.link("USES", agent, case.phone("0917 123 4567"))
    with EmbeddedStore(tmp_path / "case.db") as store:
        case.ingest(store, tmp_path / "case")
        report = _import(store, ALEPH, tmp_path, grading=None)
        (loaded,) = report.files
        assert (loaded.read, loaded.loaded, loaded.duplicate, loaded.rejected) == (28, 26, 1, 1)
        assert loaded.skipped["Company"] == {"FtM schema Company has no ringmap counterpart": 1}
        assert loaded.skipped["Vessel"] == {"FtM schema Vessel has no ringmap counterpart": 1}
        assert loaded.skipped["Directorship"] == {
            "organization refers to an entity not loaded": 1}
        assert loaded.skipped["Person"] == {"phone: Phone.number: phone: contains letters": 1}
        juan = "Person:FTM-p-juan"
        assert store.get(juan).props == {  # type: ignore[union-attr]
            "person_id": "FTM-p-juan", "role": "suspect", "name": "Juan dela Cruz",
            "alias": "JDC", "nationality": "PH", "birth_year": 1991}
        # the phone of the FtM person is the one the table's agent uses
        users = {e.src for e in store.edges(["USES"]) if e.dst == "Phone:+639171234567"}
        assert users == {agent, juan}
        edges = {(e.type, e.src, e.dst) for e in store.edges()}
        account = "Account:facebook/juan.dc"
        assert {("USES", juan, account), ("REGISTERED_TO", account, "Phone:+639171234567"),
                ("LOGGED_IN_FROM", account, "IPAddress:203.0.113.7"),
                ("USES", juan, "Email:juan.dc@example.com"),
                ("HOLDS", juan, "IdDocument:passport/P1234567A"),
                ("LOCATED_IN", juan, "Country:PH"),
                ("USES", "Person:FTM-p-anna", "Account:snapchat/jack.t"),
                ("HOLDS", "Person:FTM-p-maria", "FinancialAccount:bitcoin/"
                                                "1BOATSLRHTKNNGKDXEEOBR76B53LETTPYT"),
                ("NAMES", "Report:ftm/FTM-note-1", juan),
                ("CONTACTED", "Phone:+639171234567", "Phone:+12025550143"),
                ("USES", juan, "Phone:+639171234567"),
                ("CONTACTED", account, "Account:snapchat/jack.t")} <= edges
        assert loaded.skipped["Call"] == {"a Call without its receiverNumber": 1}
        call = next(e for e in store.edges(["CONTACTED"]) if e.src.startswith("Phone"))
        assert call.props == {"channel": "call", "first_seen": call.props["last_seen"],
                              "last_seen": call.props["first_seen"]}
        assert call.props["first_seen"].isoformat() == "2014-01-02T10:00:00+00:00"
        assert "send the money" not in json.dumps(
            [n.props for n in store.nodes()] + [e.props for e in store.edges()], default=str)
        cards = {n.props["masked"]: n for n in store.nodes(["PaymentCard"])}
        assert set(cards) == {"411111******1111", "************0838"}
        assert cards["************0838"].props["partial"] is True
        paid = {(e.src, e.dst) for e in store.edges(["PAID_TO"])}
        assert paid == {("Payment:western_union/MTCN 123-456-789",
                         cards["411111******1111"].id)}
        note = store.get("Report:ftm/FTM-note-1")
        assert note is not None and PAN not in note.props["summary"]
        sightings = store.provenance(juan)
        assert [(p.row, p.ref, str(p.grading)) for p in sightings] == [
            (1, "p-juan", "admiralty:F6")]
        assert sightings[0].source_file.endswith("aleph.ftm.json")
    assert loaded.quarantine is not None and loaded.skip_log is not None
    quarantine = Path(loaded.quarantine)
    rows = quarantine.read_text(encoding="utf-8")
    assert "a Payment without amount and currency" in rows
    _no_pan(quarantine)
    for log in (tmp_path / "quarantine").glob("*.csv"):
        _no_pan(log)


HOSTILE = [
    ("{not json", "malformed JSON"),
    ('{"id": "x", "schema": "Spaceship", "properties": {}}', "unknown FtM schema"),
    ('{"id": "x", "properties": {}}', "no schema"),
    ('{"schema": "Person", "properties": {"name": ["a"]}}', "no entity id"),
    ('[1, 2]', "not a JSON object"),
    ('{"entity_id": "x", "schema": "Person", "prop": "name", "value": "a"}', "FtM statement"),
    ('{"id": "x", "schema": "Person", "properties": {"name": [{"a": 1}]}}',
     "something other than text"),
    ('{"id": "x", "schema": "Person", "properties": []}', "properties is not an object"),
    ('{"id": "d", "schema": "Person", "properties": {"name": ' + "[" * 40 + "]" * 40 + "}}",
     "nested deeper"),
    ('{"id": "big", "schema": "Person", "properties": {"name": ["' + "A" * 40_000 + '"]}}',
     "longer than source.limits.field_chars"),
    ('{"id": "huge", "schema": "Note", "properties": {"name": ["' + "A" * (1 << 20) + '"]}}',
     "line longer than source.limits.record_chars"),
    ('{"id": "c", "schema": "BankAccount", "properties": {"keywords": '
     '["ringmap:PaymentCard:4111111111111111"]}}', "card by something other than a keyed hash"),
    ('{"id": "m", "schema": "UserAccount", "properties": {"keywords": '
     '["ringmap:Phone:0917 123 4567"], "username": ["x"]}}', "not a normalised node id"),
    ('{"id": "w", "schema": "Person", "properties": {"keywords": '
     '["ringmap:Phone:+639171234567"], "name": ["x"]}}', "names no node a Person can be"),
    ('{"id": "n", "schema": "Person", "properties": {"keywords": ["ringmap:Person:AG-1"], '
     '"name": ["x"], "description": ["ringmap: [1"]}}', "ringmap note is not JSON"),
    ('{"id": "u", "schema": "UserAccount", "properties": {"username": ["4111 1111 1111 1111"]}}',
     "username is a card"),
    ('{"id": "p", "schema": "Payment", "properties": {"amount": ["1e999"], "currency": ["USD"]}}',
     "not a finite number"),
]


@pytest.mark.parametrize(("line", "reason"), HOSTILE, ids=[r for _l, r in HOSTILE])
def test_hostile_lines_are_quarantined_with_their_reason(tmp_path: Path, line: str,
                                                         reason: str) -> None:
    path = tmp_path / "hostile.ftm.json"
    path.write_text('{"id": "ok", "schema": "Person", "properties": {"name": ["Ok"]}}\n'
                    + line + "\n", encoding="utf-8")
    with EmbeddedStore(tmp_path / "case.db") as store:
        (loaded,) = _import(store, path, tmp_path).files
        assert (loaded.read, loaded.loaded, loaded.rejected) == (2, 1, 1)
        assert store.get("Person:FTM-ok") is not None
    assert loaded.quarantine is not None
    text = Path(loaded.quarantine).read_text(encoding="utf-8")
    assert reason in text
    _no_pan(Path(loaded.quarantine))
    assert "A" * 32_768 not in text


def test_national_numbers_are_read_in_the_entity_country(tmp_path: Path) -> None:
    path = tmp_path / "phones.ftm.json"
    path.write_text(
        '{"id": "uk", "schema": "Person", "properties": {"name": ["Sam"], "country": ["gb"], '
        '"phone": ["07700 900456"]}}\n'
        '{"id": "ph", "schema": "Person", "properties": {"name": ["Jo"], '
        '"phone": ["0917 123 4567"]}}\n'
        '{"id": "call", "schema": "Call", "properties": {"callerNumber": ["0917 123 4567"], '
        '"receiverNumber": ["+447700900456"]}}\n', encoding="utf-8")
    with EmbeddedStore(tmp_path / "case.db") as store:
        (loaded,) = _import(store, path, tmp_path).files
        assert (loaded.loaded, loaded.skipped) == (3, {})
        assert {(e.src, e.dst) for e in store.edges(["USES"])} == {
            ("Person:FTM-uk", "Phone:+447700900456"), ("Person:FTM-ph", "Phone:+639171234567")}
        assert {(e.src, e.dst) for e in store.edges(["CONTACTED"])} == {
            ("Phone:+639171234567", "Phone:+447700900456")}


def test_cli_ingests_ftm_and_exports_it_audited(tmp_path: Path) -> None:
    runner = CliRunner()
    store = str(tmp_path / "case.db")
    done = runner.invoke(cli, ["ingest", str(ALEPH), "--ftm", "--grading", "B2",
                               "--store", store, "--format", "json"])
    assert done.exit_code == 0, done.output
    (row,) = json.loads(done.stdout)
    assert (row["read"], row["loaded"], row["duplicate"], row["rejected"]) == (28, 26, 1, 1)
    assert "optional value(s)" in done.stderr and "Company 1" in done.stderr
    again = runner.invoke(cli, ["ingest", str(ALEPH), "--ftm", "--store", store])
    assert "already ingested" in again.stderr
    out = tmp_path / "out.ftm.json"
    exported = runner.invoke(cli, ["export", "ftm", "--out", str(out), "--store", store])
    assert exported.exit_code == 0, exported.output
    assert exported.stdout.startswith("Wrote ") and out.is_file()
    _assert_valid(_lines(out))
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    exports = [a for a in audit if a["command"] == "export"]
    assert [a["phase"] for a in exports] == ["intent", "done"]
    assert exports[1]["counts"]["format"] == "ftm"
    assert exports[1]["counts"]["entities"] == len(_lines(out))


@pytest.mark.parametrize(("args", "message"), [
    (["--ftm", "--mapping", "MAP"], "give --mapping MAP for tables, or --ftm"),
    ([], "give --mapping MAP for tables, or --ftm"),
    (["--ftm", "--region", "XX"], "--region: unknown phone region"),
])
def test_cli_ingest_needs_one_way_of_reading(tmp_path: Path, args: list[str],
                                             message: str) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("entities: {}\n")
    args = [str(mapping) if a == "MAP" else a for a in args]
    result = CliRunner().invoke(cli, ["ingest", str(ALEPH), *args,
                                      "--store", str(tmp_path / "case.db")],
                                catch_exceptions=False)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_invalid_file_gives_one_line_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "binary.ftm.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    result = CliRunner().invoke(cli, ["ingest", str(path), "--ftm",
                                      "--store", str(tmp_path / "case.db")],
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and len(result.output.splitlines()) == 1


def test_without_the_extra_one_line_names_it(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "followthemoney", None)
    runner = CliRunner()
    for args in (["ingest", str(ALEPH), "--ftm"], ["export", "ftm", "--out", "x.json"]):
        result = runner.invoke(cli, [*args, "--store", str(tmp_path / "case.db")],
                               catch_exceptions=False)
        assert result.exit_code == 1
        assert result.output == ("Error: FollowTheMoney import and export need the "
                                 "followthemoney package: install ringmap[ftm]\n")


def test_case_folder_reads_a_table_as_ftm(tmp_path: Path) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "aleph.ftm.json").write_bytes(ALEPH.read_bytes())
    (folder / "case.yaml").write_text(
        "name: aleph\ndefault_region: gb\ntables:\n"
        "  - {file: aleph.ftm.json, format: ftm, grading: C3}\n", encoding="utf-8")
    (task,) = load_case(folder)
    assert task.mapping == FtmFormat(default_region="GB")
    assert task.grading == Grading.parse("C3")
    with EmbeddedStore(tmp_path / "case.db") as store:
        (loaded,) = ingest_files(store, [task], quarantine_dir=tmp_path / "q").files
        assert loaded.loaded == 26
        (seen,) = store.provenance("Person:FTM-p-anna")
        assert str(seen.grading) == "admiralty:C3"
    (folder / "case.yaml").write_text(
        "name: aleph\ntables:\n  - {file: aleph.ftm.json}\n", encoding="utf-8")
    with pytest.raises(Exception, match="a table needs a mapping"):
        load_case(folder)


def test_import_is_the_same_on_every_store(any_store: Store, tmp_path: Path) -> None:
    (loaded,) = _import(any_store, ALEPH, tmp_path / "any").files
    with EmbeddedStore(tmp_path / "reference.db") as reference:
        (expected,) = _import(reference, ALEPH, tmp_path / "reference").files
        assert (loaded.read, loaded.loaded, loaded.duplicate, loaded.rejected) == (
            expected.read, expected.loaded, expected.duplicate, expected.rejected)
        assert loaded.skipped == expected.skipped
        assert [(n.id, n.props) for n in any_store.nodes()] == [
            (n.id, n.props) for n in reference.nodes()]
        assert [(e.id, e.props) for e in any_store.edges()] == [
            (e.id, e.props) for e in reference.edges()]
        juan = "Person:FTM-p-juan"
        assert [(p.row, p.ref) for p in any_store.provenance(juan)] == [
            (p.row, p.ref) for p in reference.provenance(juan)]


def test_a_same_as_group_is_one_entity_with_its_referents(tmp_path: Path) -> None:
    case = CaseBuilder()
    first = case.person("AG-1", name="Juan dela Cruz")
    second = case.person("AG-2", name="J. Dela Cruz")
    case.link("USES", second, case.phone("0917 123 4567"))
    with EmbeddedStore(tmp_path / "case.db") as store:
        case.ingest(store, tmp_path / "case")
        merge(store, first, second, "same passport")
        out = tmp_path / "merged.ftm.json"
        export_ftm(store, out)
    entities = _lines(out)
    _assert_valid(entities)
    (person,) = [e for e in entities if e["schema"] == "Person"]
    assert person["id"] == entity_id(first) and person["referents"] == [entity_id(second)]
    with EmbeddedStore(tmp_path / "fresh.db") as fresh:
        _import(fresh, out, tmp_path)
        assert [n.id for n in fresh.nodes(["Person"])] == [first]
        assert {(e.src, e.dst) for e in fresh.edges(["USES"])} == {
            (first, "Phone:+639171234567")}
