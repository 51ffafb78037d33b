"""issue 15 item 5: nested report sources — XML and nested JSON reports read through mappings
with paths, each report one Report with its links (accounts, e-mails, phones, IPs and files
by reference), from fixtures shaped like a CyberTipline batch and a platform disclosure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.errors import InputError, MappingError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.ingest.mapping import load_mapping, parse_mapping
from ringmap.ingest.run import ingest_files

NESTED = Path(__file__).parent / "fixtures" / "nested"
XML, XML_MAP = NESTED / "cybertip-batch.xml", NESTED / "cybertip-batch.yaml"
JSON, JSON_MAP = NESTED / "platform-disclosure.json", NESTED / "platform-disclosure.yaml"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with EmbeddedStore(tmp_path / "case.db") as opened:
        yield opened


def _named(store: EmbeddedStore, report: str) -> dict[str, set[str]]:
    graph = store.project()
    out: dict[str, set[str]] = {}
    for _, target, rel in graph.out_edges(report, keys=True):
        assert rel == "NAMES"
        out.setdefault(graph.nodes[target]["type"], set()).add(target)
    return out


def test_issue_15_a_cybertipline_xml_report_is_one_report_with_all_its_links(
        store: EmbeddedStore, tmp_path: Path) -> None:
    report = ingest_files(store, [(XML, XML_MAP, None)], quarantine_dir=tmp_path / "q")
    (done,) = report.files
    assert (done.read, done.loaded, done.rejected) == (2, 2, 0)
    reports = [n for n, a in store.project().nodes(data=True) if a["type"] == "Report"]
    assert sorted(reports) == ["Report:ncmec_cybertipline/48812345",
                               "Report:ncmec_cybertipline/48819020"]
    named = _named(store, "Report:ncmec_cybertipline/48812345")
    assert named == {
        "Account": {"Account:facebook/jessica.lim.72", "Account:facebook/angel.tan.1994"},
        "Email": {"Email:jessica.lim4471@example.com"},
        "IPAddress": {"IPAddress:203.0.113.47", "IPAddress:198.51.100.203"},
        "Exhibit": {"Exhibit:F-48812345-1", "Exhibit:F-48812345-2"}}
    node = store.get_many(["Report:ncmec_cybertipline/48812345"])[
        "Report:ncmec_cybertipline/48812345"]
    assert node.props["incident"].isoformat() == "2014-02-11T22:40:00+00:00"
    assert node.props["kind"] == "Online Enticement of Children for Sexual Acts"
    # the second report names the same account: one node, two reports
    assert "Account:facebook/jessica.lim.72" in _named(
        store, "Report:ncmec_cybertipline/48819020")["Account"]


def test_issue_15_a_platform_disclosure_in_nested_json(store: EmbeddedStore,
                                                       tmp_path: Path) -> None:
    report = ingest_files(store, [(JSON, JSON_MAP, None)], quarantine_dir=tmp_path / "q")
    (done,) = report.files
    assert (done.read, done.loaded, done.rejected) == (2, 2, 0)
    named = _named(store, "Report:instagram/IG-LE-220418837")
    assert named == {
        "Account": {"Account:instagram/nicole.chua.88", "Account:instagram/trisha.go_19"},
        "Phone": {"Phone:+639175229793"},
        "Email": {"Email:nicole.chua2231@example.com"},
        "IPAddress": {"IPAddress:192.0.2.14", "IPAddress:203.0.113.47"},
        "Exhibit": {"Exhibit:IG-ATT-77120931"}}
    # "@Nicole.Chua.88" and "nicole.chua.88" are one account
    assert _named(store, "Report:instagram/IG-LE-220420015")["Account"] == {
        "Account:instagram/nicole.chua.88"}
    again = ingest_files(store, [(JSON, JSON_MAP, None)], quarantine_dir=tmp_path / "q")
    assert again.files[0].status == "already ingested"


def test_issue_15_nested_sources_through_the_cli(tmp_path: Path) -> None:
    db = str(tmp_path / "case.db")
    for evidence, mapping in ((XML, XML_MAP), (JSON, JSON_MAP)):
        result = CliRunner().invoke(cli, ["ingest", str(evidence), "-m", str(mapping),
                                          "--store", db, "--quarantine", str(tmp_path / "q")])
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["stats", "--store", db, "--no-files", "--format", "json"])
    counts = {(c["kind"], c["type"]): c["count"] for c in json.loads(result.output)["counts"]}
    assert counts[("node", "Report")] == 4
    assert counts[("relationship", "NAMES")] == 19


def _mapping(fmt: str, **entities: Any) -> dict[str, Any]:
    return {"source": {"format": fmt, "records": "reports/report" if fmt == "xml" else "r"},
            "entities": {"report": {"type": "Report", "properties": {
                "source": {"literal": "NCMEC"}, "reference": {"column": "id"}}}, **entities}}


def test_issue_15_path_mistakes_are_reported_with_their_place() -> None:
    data = _mapping("xml",
                    account={"type": "Account", "properties": {
                        "platform": {"literal": "Facebook"},
                        "handle": {"column": "user[*]/screenName"}}},
                    ip={"type": "IPAddress", "optional": True, "properties": {
                        "address": {"column": "a//b"}}},
                    file={"type": "Exhibit", "optional": True, "properties": {
                        "reference": {"column": "file[*]/@id"},
                        "description": {"column": "file[*]/name"}}})
    with pytest.raises(MappingError) as caught:
        parse_mapping(data, origin="m.yaml")
    text = str(caught.value)
    assert ("entities.account.properties.handle.column: a path with [*] fans out; make the "
            "entity optional: true") in text
    assert "entities.ip.properties.address.column: empty step in path 'a//b'" in text
    assert ("entities.file.properties.description.column: a path with [*] gives several "
            "values: only the key of an entity fans out") in text
    with pytest.raises(MappingError, match="format xml needs records"):
        parse_mapping({"source": {"format": "xml"}, "entities": _mapping("xml")["entities"]})
    with pytest.raises(MappingError, match="records applies to format xml or json only"):
        parse_mapping({"source": {"format": "csv", "records": "a"},
                       "entities": _mapping("xml")["entities"]})


def test_issue_15_a_mistyped_path_found_in_no_report_is_an_error(store: EmbeddedStore,
                                                                  tmp_path: Path) -> None:
    data = yaml.safe_load(XML_MAP.read_text())
    data["entities"]["report"]["properties"]["kind"] = {"column": "incidentSumary/incidentType"}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match="incidentSumary/incidentType"):
        ingest_files(store, [(XML, load_mapping(path), None)], quarantine_dir=tmp_path / "q")


def test_issue_15_the_digest_of_older_mappings_is_unchanged() -> None:
    # the nested settings at their defaults leave a mapping's identity as it was
    mapping = parse_mapping({"entities": {"p": {"type": "Phone", "properties": {
        "number": {"column": "msisdn"}}}}})
    assert mapping.digest() == (
        parse_mapping({"source": {"limits": {"document_bytes": 256 << 20}},
                       "entities": {"p": {"type": "Phone", "properties": {
                           "number": {"column": "msisdn"}}}}}).digest())
