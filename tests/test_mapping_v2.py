"""issue 10: mapping language v2, each feature on its own real file (CSV, XLSX, JSON lines).

Conditions, null values, multi-valued cells, extraction and transforms, a phone's region from
its row, identifiers typed by shape, optional entities that are skipped and counted instead of
losing the row, and bad mappings reported all at once with their paths.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import Workbook

from ringmap.cli import cli
from ringmap.errors import MappingError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.ingest.mapping import parse_mapping
from ringmap.ingest.readers import load_mapping_for
from ringmap.ingest.run import FileReport, ingest_files

PANS = ("4111111111111111", "5500000000000004")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with EmbeddedStore(tmp_path / "case.db") as opened:
        yield opened


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _ingest(store: EmbeddedStore, tmp_path: Path, evidence: Path,
            mapping: dict[str, Any]) -> FileReport:
    path = tmp_path / "mapping.yaml"
    # a JSON round trip unshares repeated specs: YAML aliases are refused in mappings
    path.write_text(yaml.safe_dump(json.loads(json.dumps(mapping)), sort_keys=False))
    report = ingest_files(store, [(evidence, load_mapping_for(path, evidence), None)],
                          quarantine_dir=tmp_path / "q")
    (done,) = report.files
    assert done.read == done.loaded + done.duplicate + done.rejected
    return done


def _ids(store: EmbeddedStore, *types: str) -> set[str]:
    return {n.id for n in store.nodes(list(types))}


def _edges(store: EmbeddedStore) -> set[tuple[str, str, str]]:
    return {(e.type, e.src, e.dst) for e in store.edges()}


EXHIBIT = {"type": "Exhibit", "properties": {"reference": {"column": "exhibit"},
                                             "kind": {"column": "item"}}}


def test_conditions_give_each_row_of_a_mixed_table_its_own_entity(
        store: EmbeddedStore, tmp_path: Path) -> None:
    log = _csv(tmp_path / "exhibits.csv", [
        ["exhibit", "item", "identifier", "holder"],
        ["EX-1", "Mobile phone", "35-854205-625280-1", "AG-1"],
        ["EX-2", "SIM card", "8963 0212 3456 7890 125", "AG-1"],
        ["EX-3", "ATM card", "4111 1111 1111 1111", "AG-2"],
        ["EX-4", "ID card", "N01-23-456789", "AG-2"],
        ["EX-5", "laptop", "E2NR8AQ3UV", ""],
        ["EX-6", "notebook", "", "AG-3"],
    ])
    item = {"column": "identifier"}
    done = _ingest(store, tmp_path, log, {"entities": {
        "exhibit": EXHIBIT,
        "holder": {"type": "Person", "optional": True, "when": {"column": "holder",
                                                                "blank": False},
                   "properties": {"person_id": {"column": "holder"},
                                  "role": {"literal": "suspect"}}},
        "device": {"type": "Device", "optional": True,
                   "when": {"column": "item", "in": ["mobile phone", "laptop"]},
                   "properties": {"device_id": item}},
        "sim": {"type": "SimCard", "optional": True,
                "when": {"column": "item", "equals": "sim card"},
                "properties": {"iccid": item}},
        "card": {"type": "PaymentCard", "optional": True,
                 "when": {"all": [{"column": "item", "matches": "(?i)card$"},
                                  {"not": {"column": "item", "matches": "(?i)^(sim|id)"}}]},
                 "properties": {"number": item}},
        "id": {"type": "IdDocument", "optional": True,
               "when": {"any": [{"column": "item", "equals": "ID card"},
                                {"column": "item", "equals": "passport"}]},
               "properties": {"doc_type": {"literal": "national id"}, "number": item}},
    }, "relationships": [
        {"type": "EXHIBIT_OF", "source": "exhibit", "target": target}
        for target in ("device", "sim", "card", "id")
    ] + [{"type": "SEIZED_FROM", "source": "exhibit", "target": "holder"}]})
    assert (done.read, done.loaded, done.rejected, done.skipped) == (6, 6, 0, {})
    assert _ids(store, "Device", "SimCard", "IdDocument") == {
        "Device:358542056252801", "Device:SN:E2NR8AQ3UV", "SimCard:8963021234567890125",
        "IdDocument:national_id/N0123456789"}
    (card,) = store.nodes(["PaymentCard"])
    assert card.props["masked"] == "411111******1111"
    exhibit_of = {(src, dst.split(":")[0]) for kind, src, dst in _edges(store)
                  if kind == "EXHIBIT_OF"}
    assert exhibit_of == {("Exhibit:EX-1", "Device"), ("Exhibit:EX-2", "SimCard"),
                          ("Exhibit:EX-3", "PaymentCard"), ("Exhibit:EX-4", "IdDocument"),
                          ("Exhibit:EX-5", "Device")}


def test_null_values_per_mapping_and_per_column_from_xlsx(store: EmbeddedStore,
                                                         tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["exhibit", "item", "holder", "make"],
                ["EX-1", "phone", "AG-1", "Samsung"],
                ["EX-2", "phone", "office desk", "N/A"],
                ["EX-3", "phone", "Office Desk", "-"],
                ["EX-4", "phone", "unknown", "Nokia"]):
        sheet.append(row)
    book.save(tmp_path / "seized.xlsx")
    done = _ingest(store, tmp_path, tmp_path / "seized.xlsx", {
        "null_values": ["N/A", "-", "unknown"],
        "columns": {"holder": {"null_values": ["office desk"]}},
        "entities": {
            "exhibit": {"type": "Exhibit", "properties": {
                "reference": {"column": "exhibit"}, "description": {"column": "make"}}},
            "holder": {"type": "Person", "optional": True, "properties": {
                "person_id": {"column": "holder"}, "role": {"literal": "suspect"}}},
        }, "relationships": [{"type": "SEIZED_FROM", "source": "exhibit", "target": "holder"}]})
    assert (done.loaded, done.rejected, done.skipped) == (4, 0, {})
    assert _ids(store, "Person") == {"Person:AG-1"}
    assert [n.props.get("description") for n in store.nodes(["Exhibit"])] == [
        "Samsung", None, None, "Nokia"]


def test_a_multi_valued_cell_yields_one_entity_per_value_from_jsonl(
        store: EmbeddedStore, tmp_path: Path) -> None:
    lines = [{"agent": "AG-1", "accounts": "juan.dc; @Maria.S ;juan.dc"},
             {"agent": "AG-2", "accounts": "N/A"},
             {"agent": "AG-3", "accounts": "pedro; bad handle; "}]
    evidence = tmp_path / "agents.jsonl"
    evidence.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = _ingest(store, tmp_path, evidence, {"null_values": ["N/A"], "entities": {
        "agent": {"type": "Person", "properties": {"person_id": {"column": "agent"},
                                                   "role": {"literal": "suspect"}}},
        "account": {"type": "Account", "optional": True, "properties": {
            "platform": {"literal": "facebook"},
            "handle": {"column": "accounts", "split": ";"}}},
    }, "relationships": [{"type": "USES", "source": "agent", "target": "account"}]})
    assert (done.loaded, done.rejected) == (3, 0)
    assert done.skipped == {"account": {"handle: handle: empty, or holds whitespace or , ; < > "
                                        "\" ' \\ /": 1}}
    assert {e for e in _edges(store) if e[0] == "USES"} == {
        ("USES", "Person:AG-1", "Account:facebook/juan.dc"),
        ("USES", "Person:AG-1", "Account:facebook/maria.s"),
        ("USES", "Person:AG-3", "Account:facebook/pedro")}


def test_extract_and_transforms_cut_values_out_of_one_cell(store: EmbeddedStore,
                                                          tmp_path: Path) -> None:
    ledger = _csv(tmp_path / "ledger.csv", [
        ["mtcn", "sent", "receiver"],
        ["mtcn: wu-1001", "GBP 250.00", "snapchat:Jack.Taylor.74"],
        ["MTCN: wu-1002", "usd 1,500", "instagram:maria_s"],
        ["wu-1003", "PHP 500", "jack.t"],
    ])
    done = _ingest(store, tmp_path, ledger, {"entities": {
        "payment": {"type": "Payment", "properties": {
            "channel": {"literal": "Western Union"},
            "reference": {"column": "mtcn", "strip_prefix": ["mtcn:", "ref:"], "case": "upper"},
            "amount": {"column": "sent", "extract": r"([\d.,]+)\s*$"},
            "currency": {"column": "sent", "extract": r"^([A-Za-z]{3})\b"}}},
        "receiver": {"type": "Account", "properties": {
            "platform": {"column": "receiver", "extract": r"^(\w+):", "default": "facebook"},
            "handle": {"column": "receiver", "extract": r"^(?:\w+:)?(.+)$"}}},
    }, "relationships": []})
    assert (done.loaded, done.rejected) == (3, 0)
    payments = {n.id: n.props for n in store.nodes(["Payment"])}
    assert payments["Payment:western_union/WU-1001"]["amount"] == 250.0
    assert payments["Payment:western_union/WU-1001"]["currency"] == "GBP"
    assert payments["Payment:western_union/WU-1002"]["amount"] == 1500.0
    assert _ids(store, "Account") == {"Account:snapchat/jack.taylor.74",
                                      "Account:instagram/maria_s", "Account:facebook/jack.t"}


def test_a_phone_is_read_in_the_region_of_its_row(store: EmbeddedStore, tmp_path: Path) -> None:
    victims = _csv(tmp_path / "victims.csv", [
        ["victim", "victim_country", "phone"],
        ["V-1", "United Kingdom", "07700 900456"],
        ["V-2", "GB", "+63 917 123 4567"],
        ["V-3", "", "0917 123 4567"],
        ["V-4", "Atlantis", "0917 765 4321"],
        ["V-5", "PH", "07700 900456"],
    ])
    done = _ingest(store, tmp_path, victims, {"source": {"default_region": "PH"}, "entities": {
        "victim": {"type": "Person", "properties": {"person_id": {"column": "victim"},
                                                    "role": {"literal": "victim"}}},
        "phone": {"type": "Phone", "optional": True, "properties": {
            "number": {"column": "phone", "region": {"column": "victim_country"}}}},
    }, "relationships": [{"type": "USES", "source": "victim", "target": "phone"}]})
    assert _ids(store, "Phone") == {"Phone:+447700900456", "Phone:+639171234567"}
    assert "Phone:+637700900456" not in _ids(store, "Phone")
    assert (done.loaded, done.rejected) == (5, 0)
    assert done.skipped == {"phone": {
        "region: country: not a known country name or ISO code": 1,
        "number: phone: not a valid number in PH (national numbers are read in PH)": 1}}


def test_identifiers_typed_by_shape_and_no_card_number_anywhere(tmp_path: Path) -> None:
    payouts = _csv(tmp_path / "payouts.csv", [
        ["ref", "mule", "payout"],
        ["P-1", "MU-1", "4111-1111-1111-1111"],
        ["P-2", "MU-1", "************0838"],
        ["P-3", "MU-2", "GCASH-09171234567"],
        ["P-4", "MU-2", "5500 0000 0000 0004; PayMaya 0915 079 9922"],
        ["P-5", "MU-3", "snapchat:jack.t"],
        ["P-6", "MU-3", "4111 1111 1111 1112"],
    ])
    mapping = {"entities": {
        "payment": {"type": "Payment", "properties": {
            "channel": {"literal": "remittance"}, "reference": {"column": "ref"},
            "amount": {"literal": 1}, "currency": {"literal": "USD"}}},
        "mule": {"type": "Person", "properties": {"person_id": {"column": "mule"},
                                                  "role": {"literal": "mule"}}},
        "payout": {"type": "auto", "optional": True,
                   "kinds": ["card", "masked_card", "wallet"],
                   "value": {"column": "payout", "split": ";"}},
    }, "relationships": [{"type": "PAID_TO", "source": "payment", "target": "payout"},
                         {"type": "HOLDS", "source": "mule", "target": "payout"}]}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(mapping))
    result = CliRunner().invoke(cli, ["ingest", str(payouts), "-m", str(tmp_path / "m.yaml"),
                                      "--store", str(tmp_path / "case.db"), "--format", "json"])
    assert result.exit_code == 0, result.output
    with EmbeddedStore(tmp_path / "case.db") as store:
        cards = list(store.nodes(["PaymentCard"]))
        assert sorted(c.props["masked"] for c in cards) == [
            "************0838", "411111******1111", "550000******0004"]
        assert [c.props.get("partial") for c in cards if "*" * 12 in c.props["masked"]] == [True]
        assert _ids(store, "FinancialAccount") == {"FinancialAccount:gcash/09171234567",
                                                   "FinancialAccount:paymaya/09150799922"}
        assert len([e for e in store.edges() if e.type == "PAID_TO"]) == 5
        (load,) = store.file_loads()
    assert load.skipped == {"payout": {"value: recognised as handle": 1,
                                       "value: identifier: phone: too long": 1}}
    assert "3 optional value(s)" not in result.stderr and "2 optional value(s)" in result.stderr
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()
                       and p.name not in ("payouts.csv", "m.yaml"))
    for pan in (*PANS, "4111111111111112"):
        assert pan.encode() not in written and pan[-8:].encode() not in written
        assert pan not in result.output + result.stderr


def test_optional_entities_are_skipped_and_counted_never_a_lost_row(
        store: EmbeddedStore, tmp_path: Path) -> None:
    reports = _csv(tmp_path / "reports.csv", [
        ["report", "victim_platform", "victim_handle", "device", "victim"],
        ["R-1", "facebook", "victim.one", "358542056252801", "V-1"],
        ["R-2", "facebook", "", "358542056252801", "V-2"],  # partial key: platform only
        ["R-3", "instagram", "victim.three", "358542056252802", "V-3"],  # bad IMEI
        ["R-4", "facebook", "victim.four", "", ""],  # the required victim is blank
    ])
    mapping = {"entities": {
        "report": {"type": "Report", "properties": {"source": {"literal": "NCMEC"},
                                                    "reference": {"column": "report"}}},
        "victim": {"type": "Person", "properties": {"person_id": {"column": "victim"},
                                                    "role": {"literal": "victim"}}},
        "account": {"type": "Account", "optional": True, "properties": {
            "platform": {"column": "victim_platform"}, "handle": {"column": "victim_handle"}}},
        "device": {"type": "Device", "optional": True,
                   "properties": {"device_id": {"column": "device"}}},
    }, "relationships": [{"type": "NAMES", "source": "report", "target": "account"},
                         {"type": "NAMES", "source": "report", "target": "victim"},
                         {"type": "LOGGED_IN_ON", "source": "account", "target": "device"}]}
    done = _ingest(store, tmp_path, reports, mapping)
    assert (done.read, done.loaded, done.duplicate, done.rejected) == (4, 3, 0, 1)
    assert done.skipped == {"account": {"handle: blank key": 1},
                            "device": {"device_id: IMEI: Luhn check digit is wrong": 1}}
    assert done.skip_log is not None
    with open(done.skip_log, encoding="utf-8", newline="") as handle:
        logged = [(r["row"], r["reason"]) for r in csv.DictReader(handle)]
    assert logged == [("3", "account.handle: blank key"),
                      ("4", "device.device_id: IMEI '358542056252802': Luhn check digit is "
                            "wrong")]
    assert done.quarantine is not None
    with open(done.quarantine, encoding="utf-8", newline="") as handle:
        assert [(r["row"], r["reason"]) for r in csv.DictReader(handle)] == [
            ("5", "victim.person_id: blank key")]
    assert ("NAMES", "Report:ncmec/R-2", "Person:V-2") in _edges(store)
    assert not any(e[0] == "LOGGED_IN_ON" and e[1] == "Account:instagram/victim.three"
                   for e in _edges(store))
    (load,) = store.file_loads()
    assert load.skipped == done.skipped


def test_on_error_reject_keeps_todays_strictness(store: EmbeddedStore, tmp_path: Path) -> None:
    evidence = _csv(tmp_path / "logins.csv", [["handle", "device"], ["juan", "358542056252802"],
                                              ["maria", ""]])
    done = _ingest(store, tmp_path, evidence, {"on_error": "reject", "entities": {
        "account": {"type": "Account", "properties": {"platform": {"literal": "fb"},
                                                      "handle": {"column": "handle"}}},
        "device": {"type": "Device", "optional": True,
                   "properties": {"device_id": {"column": "device"}}},
    }, "relationships": [{"type": "LOGGED_IN_ON", "source": "account", "target": "device"}]})
    assert (done.loaded, done.rejected, done.skipped) == (1, 1, {})


def test_bad_mappings_give_every_problem_at_once_with_its_path(tmp_path: Path) -> None:
    evidence = _csv(tmp_path / "exhibits.csv", [["exhibit", "item", "identifier"],
                                                ["EX-1", "phone", "358542056252801"]])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"entities": {
        "exhibit": {"type": "Exhibit", "properties": {"reference": {"column": "exhibit"}}},
        "device": {"type": "Device", "optional": True,
                   "when": {"any": [{"column": "itme", "equals": "phone"},
                                    {"column": "item", "matches": "(phone"}]},
                   "properties": {"device_id": {"column": "identifier", "extract": "[0-9"}}},
        "sim": {"type": "SimCard",
                "properties": {"iccid": {"column": "identifier", "split": ";"}}},
        "payout": {"type": "auto", "kinds": ["handle"], "value": {"column": "identifier"}},
    }, "relationships": [{"type": "EXHIBIT_OF", "source": "exhibit", "target": "payout"}],
        "columns": {"holder": {"null_values": ["office desk"]}}}))
    with pytest.raises(MappingError) as caught:
        load_mapping_for(path, evidence)
    problems = [p.removeprefix(f"{path}: ") for p in caught.value.problems]
    expected = [
        "entities.device.when.any[1].matches: invalid regular expression",
        "entities.device.properties.device_id.extract: invalid regular expression",
        "entities.sim.properties.iccid.split: split on a key of a required entity",
        "relationships[0]: EXHIBIT_OF cannot go from Exhibit to Account",
        "columns.holder: the mapping reads no column 'holder'",
        "entities.device.when.any[0].column: missing column 'itme' (the file has: exhibit, "
        "item, identifier)",
    ]
    assert len(problems) == len(expected), problems
    for start in expected:
        assert any(p.startswith(start) for p in problems), start
    result = CliRunner().invoke(cli, ["ingest", str(evidence), "-m", str(path), "--store",
                                      str(tmp_path / "case.db")])
    assert result.exit_code == 1 and "6 problem(s) in mapping" in result.output


def test_a_condition_on_a_column_the_mapping_reads_nowhere_else_is_checked(
        tmp_path: Path) -> None:
    mapping = parse_mapping({"entities": {"p": {
        "type": "Phone", "when": {"column": "kind", "equals": "mobile"},
        "properties": {"number": {"column": "n", "region": {"column": "country"}}}}}})
    assert mapping.columns() == ["kind", "n", "country"]
    with pytest.raises(MappingError, match="region applies to phone numbers only"):
        parse_mapping({"entities": {"p": {"type": "Person", "properties": {
            "person_id": {"column": "id", "region": {"literal": "GB"}},
            "role": {"literal": "victim"}}}}})
