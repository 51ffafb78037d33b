"""Mapping files and case folders: strict validation, every problem at once, stable digests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ringmap.errors import InputError, MappingError
from ringmap.graphs.model import Grading
from ringmap.ingest.case import load_case
from ringmap.ingest.mapping import Mapping, load_mapping, parse_mapping

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
MAPPINGS = FIXTURES / "mappings"


def _problems(data: Any) -> list[str]:
    with pytest.raises(MappingError) as caught:
        parse_mapping(data, origin="m.yaml")
    return caught.value.problems


def _phone_mapping(**source: Any) -> dict[str, Any]:
    return {"source": source,
            "entities": {"phone": {"type": "Phone", "properties": {"number": {"column": "n"}}}}}


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping(MAPPINGS / "broken.yaml")
    problems = [p.split(": ", 1)[1] for p in caught.value.problems]
    assert all(p.startswith(str(MAPPINGS / "broken.yaml")) for p in caught.value.problems)
    expected = [
        "source.grading: Admiralty grade must be A-F then 1-6",
        "source.colour: unknown field",
        "entities.account.properties.handle: give exactly one of column, literal or template",
        "entities.payment.properties.channel: template refers to no column",
        "entities.victim.type: unknown entity type 'Persn'",
        "entities.account.properties.shoe_size: Account has no property 'shoe_size'",
        "entities.account.properties: key property 'platform' of Account is not mapped",
        "relationships[0].target: 'nobody' is not an entity of this mapping",
        "relationships[1]: PAID_TO cannot go from Account to Payment",
        "relationships[2].type: unknown relationship type 'OWNS'",
    ]
    assert len(problems) == len(expected)
    for start in expected:
        assert any(p.startswith(start) for p in problems), start
    assert str(caught.value).startswith("10 problem(s) in mapping: ")


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(MappingError, match=r"YAML syntax error at line 5, column 3"):
        load_mapping(MAPPINGS / "malformed.yaml")


def test_a_mapping_that_is_not_a_yaml_mapping_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(MappingError, match="must be a YAML mapping"):
        load_mapping(path)


def test_value_spec_needs_exactly_one_source() -> None:
    data = _phone_mapping()
    data["entities"]["phone"]["properties"] = {"number": {"format": "%Y"}}
    problems = _problems(data)
    assert "m.yaml: entities.phone.properties.number: give exactly one of column, literal or " \
           "template, got none" in problems
    assert any("format applies to datetime properties only" in p for p in problems)


def test_card_number_covers_the_card_key_but_not_alongside_derived_fields() -> None:
    props: dict[str, Any] = {"number": {"column": "pan"}}
    card = {"type": "PaymentCard", "properties": props}
    mapping = parse_mapping({"entities": {"card": card}})
    assert mapping.card_columns() == {"pan"}
    props["last4"] = {"column": "l4"}
    assert _problems({"entities": {"card": card}}) == [
        "m.yaml: entities.card.properties.last4: derived from number, never mapped"]


def test_issue_9_card_fields_from_columns_are_refused_all_at_once() -> None:
    """issue 9: ``card_hash: {column: card}`` stored the full card number in clear."""
    card = {"type": "PaymentCard", "properties": {
        "card_hash": {"column": "card"}, "bin": {"column": "card"},
        "last4": {"literal": "1111"}, "masked": {"template": "{card}"}}}
    phone = {"type": "Phone", "properties": {}}
    assert _problems({"entities": {"card": card, "phone": phone}}) == [
        "m.yaml: entities.card.properties: a PaymentCard is mapped from its 'number' (hashed, "
        "never stored)",
        *(f"m.yaml: entities.card.properties.{name}: derived from number, never mapped"
          for name in ("card_hash", "bin", "last4", "masked")),
        "m.yaml: entities.phone.properties: key property 'number' of Phone is not mapped"]
    assert _problems({"entities": {"p": {"type": "Phone", "properties": {"number": {
        "column": "n"}}, "optional": "maybe"}}})[0].startswith("m.yaml: entities.p.optional:")


def test_relationship_properties_are_checked_against_the_schema() -> None:
    data = {
        "entities": {
            "a": {"type": "Account", "properties": {"platform": {"literal": "fb"},
                                                    "handle": {"column": "a"}}},
            "b": {"type": "Account", "properties": {"platform": {"literal": "fb"},
                                                    "handle": {"column": "b"}}},
        },
        "relationships": [{"type": "CONTACTED", "source": "a", "target": "b",
                           "properties": {"first_seen": {"column": "t", "format": "%d/%m/%Y"},
                                          "mood": {"column": "m"}}}],
    }
    problems = _problems(data)
    assert len(problems) == 1
    assert problems[0].startswith("m.yaml: relationships[0].properties.mood: CONTACTED has no "
                                  "property 'mood'")


def test_source_settings_are_validated() -> None:
    problems = _problems(_phone_mapping(encoding="utf-99", delimiter=";;", default_region="XX",
                                        header_row=0, format="docx"))
    assert [p.split(":")[1].strip() for p in problems] == [
        "source.format", "source.encoding", "source.delimiter", "source.header_row",
        "source.default_region"]


def test_mapping_name_defaults_to_the_file_stem_and_grading_parses() -> None:
    mapping = load_mapping(MAPPINGS / "devices.yaml")
    assert mapping.name == "devices"
    assert mapping.source.grading == Grading(scheme="admiralty", grade="A1")
    assert load_mapping(MAPPINGS / "contacts.yaml").source.grading == Grading(
        scheme="uk_3x5x2", grade="1A")


def test_digest_is_stable_ignores_the_name_and_follows_content() -> None:
    mapping = load_mapping(MAPPINGS / "remittances.yaml")
    assert mapping.digest() == load_mapping(MAPPINGS / "remittances.yaml").digest()
    assert mapping.model_copy(update={"name": "other"}).digest() == mapping.digest()
    assert mapping.with_default_region("GB").digest() == mapping.digest()  # mapping sets PH
    source = mapping.source.model_copy(update={"default_region": "GB"})
    assert mapping.model_copy(update={"source": source}).digest() != mapping.digest()


def test_columns_lists_every_column_read_once_in_order() -> None:
    mapping = load_mapping(MAPPINGS / "remittances.yaml")
    assert mapping.columns() == [
        "exhibit_no", "victim_ref", "first_name", "last_name", "victim_phone", "service", "mtcn",
        "amount_usd", "sent", "card_number", "agent_ref", "agent_imei"]


def _case(tmp_path: Path, text: str) -> Path:
    case = tmp_path / "case"
    (case / "mappings").mkdir(parents=True)
    for name in ("remittances.csv", "contacts.jsonl"):
        shutil.copy(FIXTURES / name, case / name)
    for name in ("remittances.yaml", "contacts.yaml"):
        shutil.copy(MAPPINGS / name, case / "mappings" / name)
    (case / "case.yaml").write_text(text)
    return case


def test_load_case_resolves_tables_gradings_and_the_default_region(tmp_path: Path) -> None:
    case = _case(tmp_path, """
name: strikeback-demo
default_region: gb
tables:
  - {file: remittances.csv, mapping: mappings/remittances.yaml, grading: A1}
  - {file: contacts.jsonl, mapping: mappings/contacts.yaml}
""")
    tasks = load_case(case)
    assert [t.file for t in tasks] == [case / "remittances.csv", case / "contacts.jsonl"]
    assert tasks[0].grading == Grading(scheme="admiralty", grade="A1")
    assert tasks[1].grading is None
    assert isinstance(tasks[0].mapping, Mapping) and isinstance(tasks[1].mapping, Mapping)
    assert tasks[0].mapping.source.default_region == "PH"  # the mapping's own region wins
    assert tasks[1].mapping.source.default_region == "GB"  # the case fills in


def test_load_case_names_every_missing_file(tmp_path: Path) -> None:
    case = _case(tmp_path, """
name: c
tables:
  - {file: nowhere.csv, mapping: mappings/remittances.yaml}
  - {file: contacts.jsonl, mapping: mappings/none.yaml}
""")
    with pytest.raises(InputError, match=r"tables\[0\].file: \S*nowhere.csv: no such file; "
                                         r"tables\[1\].mapping: \S*mappings/none.yaml: no such"):
        load_case(case)
    with pytest.raises(InputError, match=r"no case\.yaml"):
        load_case(tmp_path)


def test_load_case_reports_case_and_mapping_problems(tmp_path: Path) -> None:
    case = _case(tmp_path, "name: c\nregion: PH\ntables: []\n")
    with pytest.raises(MappingError) as caught:
        load_case(case)
    assert [p.split(": ", 1)[1] for p in caught.value.problems] == [
        "tables: List should have at least 1 item after validation, not 0",
        "region: unknown field"]
    shutil.copy(MAPPINGS / "broken.yaml", case / "mappings" / "contacts.yaml")
    (case / "case.yaml").write_text(
        "name: c\ntables:\n  - {file: contacts.jsonl, mapping: mappings/contacts.yaml}\n")
    with pytest.raises(MappingError, match="10 problem"):
        load_case(case)


@pytest.mark.parametrize("entity", [{"type": "Account"}, {"type": "Account", "properties": None}])
def test_issue_12_an_entity_without_properties_misses_its_keys(entity: dict[str, Any]) -> None:
    """Found by the fuzz test: it validated, then ingest failed with a KeyError traceback."""
    with pytest.raises(MappingError, match=r"key property 'platform' of Account is not mapped"):
        parse_mapping({"entities": {"a": entity}})
