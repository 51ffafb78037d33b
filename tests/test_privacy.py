"""issue 9: one privacy policy for every output — card numbers masked by one rule, typed
identifiers readable, and every CSV ringmap writes free of live spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.analysis.projection import project_agents
from ringmap.analysis.victims import reached_by_cell
from ringmap.audit import record
from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import Batch, Edge, FileLoad, Grading, Node, Sighting
from ringmap.ingest.mapping import parse_mapping
from ringmap.ingest.run import ingest_files
from ringmap.privacy import Privacy, likely_victims, mask_card_numbers, mask_field
from ringmap.tabular import render
from ringmap.tests.browser.case import open_case
from ringmap.viz.graphexport import export_graph
from ringmap.viz.package import export_cell

#: Spellings of card numbers seen in evidence, with the number each one spells.
SPELLINGS = [
    ("4111.1111.1111.1111", "4111111111111111"),
    ("4111  1111 1111 1111", "4111111111111111"),
    ("４１１１ １１１１ １１１１ １１１１", "4111111111111111"),
    ("４１１１－１１１１－１１１１－１１１１", "4111111111111111"),
    ("5500\u30000055\u30005555\u30005559", "5500005555555559"),
    ("1234 56789 012347", "123456789012347"),  # UATP: first digit 1, Luhn-valid
    ("3782-822463-10005", "378282246310005"),  # American Express, 15 digits
    ("6011 0009 9013 9424 exp 12/25", "6011000990139424"),
    ("card:4111-1111-1111-1111", "4111111111111111"),
]
#: Identifiers that look like card numbers but are not, as they appear in evidence text.
READABLE = ["IMEI 356938035643809", "imei:490154203237518", "SIM 8963012345678901234",
            "+63 917 123 4567 8901", "tel 639171234567", "ip 203.177.100.200",
            "sha 4111111111111111ab", "ref 2014-05-01", "amount -12.50"]
#: A Luhn-valid IMEI outside the 35/86 ranges: readable in a Device's IMEI field only.
IMEI = "490154203237518"
HOSTILE = ["on desk\r+cmd|' /C calc'!A0", "note\n=1+1", "=HYPERLINK(\"http://x\")",
           "@SUM(1,1)", "\t=1", "-1+1", "+cmd|' /C calc'!A0"]
EVIDENCE = " | ".join(s for s, _ in SPELLINGS) + " | " + " | ".join(HOSTILE)


def leaks(text: str) -> list[str]:
    """The card numbers of :data:`SPELLINGS` that ``text`` shows in clear, however spelled."""
    flat = re.sub(r"[\s.\-]", "", unicodedata.normalize("NFKC", text))
    return sorted({pan for _, pan in SPELLINGS if pan in flat})


def live_formulas(text: str) -> list[str]:
    """Every cell line of a CSV that a spreadsheet would run."""
    found = []
    for row in csv.reader(io.StringIO(text, newline="")):
        for cell in row:
            for line in re.split(r"\r\n|\r|\n", cell):
                if line[:1] in ("=", "@", "\t", "\r") or (
                        line[:1] in ("+", "-")
                        and not re.fullmatch(r"[+-][0-9]+(?:\.[0-9]+)?", line)):
                    found.append(line)
    return found


@pytest.mark.parametrize(("spelled", "pan"), SPELLINGS)
def test_every_spelling_is_masked_as_bin_and_last_four(spelled: str, pan: str) -> None:
    shown = mask_card_numbers(f"paid with {spelled} yesterday")
    assert leaks(shown) == [] and f"{pan[:6]}{'*' * (len(pan) - 10)}{pan[-4:]}" in shown


@pytest.mark.parametrize("text", READABLE)
def test_identifiers_of_other_kinds_stay_readable(text: str) -> None:
    assert mask_card_numbers(text) == text


def test_an_imei_is_readable_in_a_device_field_and_masked_in_free_text() -> None:
    assert mask_field(IMEI, "device_id") == IMEI
    assert mask_field(IMEI, "description") == "490154*****7518"
    assert mask_field("378282246310005", "device_id") == "378282*****0005"  # Amex, never IMEI


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    """The browser case plus hostile text: an exhibit of cell C1 quoting every spelling and
    formula, and a device of its agent with an IMEI outside the 35/86 ranges."""
    with open_case(tmp_path) as opened:
        exhibit = Node("Exhibit:EX-CARDS", "Exhibit", {"reference": "EX-CARDS",
                                                        "description": EVIDENCE})
        device = Node(f"Device:{IMEI}", "Device", {"device_id": IMEI, "model": HOSTILE[0]})
        agent = Node("Person:AG-1", "Person", {"person_id": "AG-1", "alias": EVIDENCE})
        edges = [Edge("SEIZED_FROM", exhibit.id, agent.id), Edge("USES", agent.id, device.id)]
        items = [exhibit.id, device.id, agent.id, *(e.id for e in edges)]
        opened.load_file(
            FileLoad(sha256="d" * 64, source_file="notes.csv", mapping="notes",
                     mapping_digest="m2", run_id="ingest-2", grading=Grading.parse("B2")),
            [Batch([exhibit, device, agent], edges,
                   [Sighting(item, row) for row, item in enumerate(items, 2)], 9)])
        yield opened


def _cli(store: EmbeddedStore, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--store", str(store.path)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_no_output_shows_a_card_number(store: EmbeddedStore, tmp_path: Path) -> None:
    outputs: dict[str, str] = {}
    for fmt in ("graphml", "gexf", "json"):
        export_graph(store, tmp_path / f"graph.{fmt}", fmt)
        outputs[fmt] = (tmp_path / f"graph.{fmt}").read_text(encoding="utf-8")
    package = export_cell(store, "C1", tmp_path / "raid", reveal=True,
                          reason=f"victim paid with {SPELLINGS[0][0]}").path
    outputs |= {p.name: p.read_text(encoding="utf-8") for p in package.iterdir()
                if p.suffix != ".png"}  # the timeline picture is pixels
    rows = [{"note": EVIDENCE, "device_id": IMEI}]
    outputs |= {f"render-{fmt}": render(rows, fmt) for fmt in ("table", "json", "csv")}
    for fmt in ("json", "csv"):
        outputs[f"expand-{fmt}"] = _cli(store, "expand", "Exhibit:EX-CARDS", "--format", fmt)
    audit = tmp_path / "audit.jsonl"
    record(audit, "export", ["--reason", EVIDENCE], reason=EVIDENCE, counts={"note": EVIDENCE})
    outputs["audit"] = audit.read_text(encoding="utf-8")
    assert {name: leaks(text) for name, text in outputs.items() if leaks(text)} == {}
    assert IMEI in outputs["devices.csv"] and IMEI in outputs["graphml"]
    assert "356938035643809" in outputs["devices.csv"]


def test_quarantine_masks_reasons_and_every_cell(store: EmbeddedStore, tmp_path: Path) -> None:
    data = tmp_path / "phones.csv"  # evidence as seized: card numbers and formulas in clear
    with data.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("ref", "note", "phone"),
                                      *(("AG-9", EVIDENCE, s) for s, _ in SPELLINGS)])
    mapping = parse_mapping({"entities": {
        "person": {"type": "Person", "properties": {"person_id": {"column": "ref"},
                                                    "alias": {"column": "note"}}},
        "phone": {"type": "Phone", "properties": {"number": {"column": "phone"}}}}})
    (result,) = ingest_files(store, [(data, mapping, None)], quarantine_dir=tmp_path / "q").files
    assert result.rejected == len(SPELLINGS) and result.quarantine is not None
    text = Path(result.quarantine).read_text(encoding="utf-8")
    assert "phone.number: phone '411111******1111': " in text
    assert leaks(text) == [] and live_formulas(text) == []


def test_no_csv_ringmap_writes_holds_a_live_formula(store: EmbeddedStore,
                                                    tmp_path: Path) -> None:
    """issue 9: a bare CR was left unquoted, so ``on desk\\r+cmd|...`` became a live cell;
    and ``+639171234567`` gained a quote while ``-12.5`` is a number to keep."""
    package = export_cell(store, "C1", tmp_path / "raid").path
    written = {p.name: p.read_text(encoding="utf-8") for p in package.glob("*.csv")}
    watchlist = tmp_path / "watch.csv"
    watchlist.write_text("identifier,type,note\n0917 123 4567,phone,\"on desk\r+cmd|' /C "
                         "calc'!A0\"\n", encoding="utf-8", newline="")
    _cli(store, "batch", str(watchlist), "--out", str(tmp_path / "hits.csv"))
    written["batch"] = (tmp_path / "hits.csv").read_text(encoding="utf-8")
    written["query"] = _cli(store, "query", "agents-at-site", "--param", "site=BICOL-1",
                            "--format", "csv")
    written["cells"] = _cli(store, "cells", "--format", "csv")
    written["expand"] = _cli(store, "expand", "Exhibit:EX-CARDS", "--hops", "2",
                             "--format", "csv")
    assert {name: live_formulas(text) for name, text in written.items()
            if live_formulas(text)} == {}
    assert "\"on desk\n'+cmd" in written["batch"]
    assert render([{"note": HOSTILE[0]}], "csv") == "note\n\"on desk\r'+cmd|' /C calc'!A0\""
    assert any(row.get("number") == "+639171234567"
               for row in csv.DictReader(io.StringIO(written["phones.csv"], newline="")))
    assert render([{"amount": -12.5, "phone": "+639171234567"}], "csv") == (
        "amount,phone\n-12.50,+639171234567")


def test_every_csv_in_the_package_comes_from_the_one_writer() -> None:
    """Only the test case builder's evidence tables (CRLF line ends, so a bare CR is quoted) use
    :mod:`csv`; every output, synthetic evidence too (raw), goes through the one writer."""
    root = Path(__file__).resolve().parents[1]
    writers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                     if "csv.writer(" in p.read_text(encoding="utf-8")
                     and "tests" not in p.parts and ".venv" not in p.parts)
    assert writers == ["testing.py"]


def test_json_outputs_are_masked_too(store: EmbeddedStore) -> None:
    shown = json.loads(_cli(store, "expand", "Exhibit:EX-CARDS", "--format", "json"))
    assert leaks(json.dumps(shown, ensure_ascii=False)) == []


def test_issue_13_likely_victims_are_the_cell_runs_unidentified_contacts(
        strikeback: EmbeddedStore) -> None:
    """One rule: the privacy policy's likely victims are the contacts the projection counts
    as victims and the cell reports as unidentified (all three pseudonymised alike)."""
    graph = strikeback.project()
    agents = project_agents(graph)
    projected = {i for i, kind in agents.kinds.items()
                 if kind == "victim" and graph.nodes[i].get("type") != "Person"}
    latest = strikeback.latest_cells()
    assert latest is not None
    hits = reached_by_cell(graph, {c.cell_id: [m.node_id for m in c.members]
                                   for c in latest[1]}, agents.units)
    unidentified = set().union(*(h.unidentified for h in hits.values()))
    assert projected and likely_victims(graph) == projected == unidentified
    assert likely_victims(graph) <= Privacy.for_graph(graph).victims
