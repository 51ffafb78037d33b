"""issue 10 item 2: what real evidence needs, in the schema and both stores: a device's contact
book and e-mail accounts, a payment's sender country, links between persons with their basis,
addresses of sites and persons."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.store import Store
from ringmap.ingest.readers import load_mapping_for
from ringmap.ingest.run import ingest_files

#: One row per kind of fact; each row's entities are optional, so each row builds what it holds.
ROWS = [
    ["kind", "imei", "contact", "number", "email", "payment", "country", "person", "other",
     "link", "basis", "site", "address"],
    ["contact", "358542056252801", "Boss Jun", "0917 123 4567", "", "", "", "", "", "", "", "",
     ""],
    ["contact", "358542056252801", "Ate Joy (GCash)", "", "joy.santos@yahoo.com", "", "", "",
     "", "", "", "", ""],
    ["signed in", "358542056252801", "", "", "maria.s88@gmail.com", "", "", "", "", "", "", "",
     ""],
    ["payment", "", "", "", "", "MTCN-123", "United Kingdom", "", "", "", "", "", ""],
    ["link", "", "", "", "", "", "", "AG-2", "AG-1", "recruited by", "interview", "", ""],
    ["link", "", "", "", "", "", "", "AG-2", "AG-3", "brother", "informant", "", ""],
    ["link", "", "", "", "", "", "", "AG-2", "AG-4", "associate", "chat log", "", ""],
    ["site", "", "", "", "", "", "", "", "", "", "", "RS-1", "207 Mabini St., Naga City"],
    ["home", "", "", "", "", "", "", "AG-2", "", "", "", "", "207 MABINI ST NAGA CITY"],
]

MAPPING = """\
source: {default_region: PH}
entities:
  device: {type: Device, optional: true, properties: {device_id: {column: imei}}}
  phone: {type: Phone, optional: true, properties: {number: {column: number}}}
  email: {type: Email, optional: true, properties: {address: {column: email}}}
  payment:
    type: Payment
    optional: true
    properties:
      channel: {literal: Western Union}
      reference: {column: payment}
      amount: {literal: 250}
      currency: {literal: GBP}
  country: {type: Country, optional: true, properties: {code: {column: country}}}
  person:
    type: Person
    optional: true
    properties: {person_id: {column: person}, role: {literal: suspect}}
  other:
    type: Person
    optional: true
    properties: {person_id: {column: other}, role: {literal: suspect}}
  site: {type: Location, optional: true, properties: {location_id: {column: site}}}
  address: {type: Address, optional: true, properties: {address: {column: address}}}
relationships:
  - type: HAS_CONTACT
    source: device
    target: phone
    properties: {name: {column: contact}}
  - type: HAS_CONTACT
    source: device
    target: email
    when: {column: kind, equals: contact}
    properties: {name: {column: contact}}
  - {type: LOGGED_IN_ON, source: email, target: device, when: {column: kind, equals: signed in}}
  - {type: SENT_FROM, source: payment, target: country}
  - type: RECRUITED
    source: other
    target: person
    when: {column: link, equals: recruited by}
    properties: {basis: {column: basis}}
  - type: FAMILY_OF
    source: person
    target: other
    when: {column: link, in: [brother, sister, cousin]}
    properties: {relation: {column: link}, basis: {column: basis}}
  - type: ASSOCIATE_OF
    source: person
    target: other
    when: {column: link, equals: associate}
    properties: {basis: {column: basis}}
  - {type: HAS_ADDRESS, source: site, target: address, properties: {kind: {literal: office}}}
  - {type: HAS_ADDRESS, source: person, target: address, properties: {kind: {literal: home}}}
"""

DEVICE = "Device:358542056252801"
ADDRESS = "Address:207 mabini st naga city"


def _ingest(store: Store, tmp_path: Path) -> None:
    evidence = tmp_path / "facts.csv"
    with evidence.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(ROWS)
    mapping = tmp_path / "facts.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    report = ingest_files(store, [(evidence, load_mapping_for(mapping, evidence), None)],
                          quarantine_dir=tmp_path / "q")
    (done,) = report.files
    assert (done.read, done.loaded, done.rejected) == (len(ROWS) - 1, len(ROWS) - 1, 0)


def _around(store: Store, node: str) -> dict[tuple[str, str], dict[str, object]]:
    return {(edge.type, other.id): edge.props for edge, other in store.neighbours(node)}


def test_issue_10_new_facts_load_into_every_store(any_store: Store, tmp_path: Path) -> None:
    _ingest(any_store, tmp_path)
    device = _around(any_store, DEVICE)
    assert device[("HAS_CONTACT", "Phone:+639171234567")]["name"] == "Boss Jun"
    assert device[("HAS_CONTACT", "Email:joy.santos@yahoo.com")]["name"] == "Ate Joy (GCash)"
    assert ("LOGGED_IN_ON", "Email:maria.s88@gmail.com") in device
    assert ("SENT_FROM", "Country:GB") in _around(any_store, "Payment:western_union/MTCN-123")
    person = _around(any_store, "Person:AG-2")
    assert person[("RECRUITED", "Person:AG-1")] == {"basis": "interview"}
    assert person[("FAMILY_OF", "Person:AG-3")] == {"relation": "brother", "basis": "informant"}
    assert person[("ASSOCIATE_OF", "Person:AG-4")] == {"basis": "chat log"}
    # the site's address and the suspect's home, spelled apart, are one address
    assert {k for k in _around(any_store, ADDRESS)} == {("HAS_ADDRESS", "Location:RS-1"),
                                                        ("HAS_ADDRESS", "Person:AG-2")}
    counts = any_store.counts().relationships
    assert {t: counts[t] for t in ("HAS_CONTACT", "SENT_FROM", "RECRUITED", "FAMILY_OF",
                                   "ASSOCIATE_OF", "HAS_ADDRESS")} == {
        "HAS_CONTACT": 2, "SENT_FROM": 1, "RECRUITED": 1, "FAMILY_OF": 1, "ASSOCIATE_OF": 1,
        "HAS_ADDRESS": 2}


def test_issue_10_show_lists_contacts_links_and_addresses(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with EmbeddedStore(tmp_path / "case.db") as store:
        _ingest(store, tmp_path)
    monkeypatch.setenv("RINGMAP_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    result = CliRunner().invoke(cli, ["show", "--store", str(tmp_path / "case.db"),
                                      "person:AG-2", "--format", "json"])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    neighbours = {(n["relationship"], n["direction"], n["type"]) for n in shown["neighbours"]}
    assert {("RECRUITED", "in", "Person"), ("FAMILY_OF", "out", "Person"),
            ("ASSOCIATE_OF", "out", "Person"), ("HAS_ADDRESS", "out", "Address")} <= neighbours


def test_issue_10_example_case_has_every_new_fact(strikeback: EmbeddedStore) -> None:
    counts = strikeback.counts()
    for rel in ("HAS_CONTACT", "SENT_FROM", "RECRUITED", "FAMILY_OF", "ASSOCIATE_OF",
                "HAS_ADDRESS"):
        assert counts.relationships.get(rel, 0) > 0, rel
    assert counts.nodes["Address"] > 0
    signed_in = [e for e in strikeback.edges(["LOGGED_IN_ON"]) if e.src.startswith("Email:")]
    assert signed_in
