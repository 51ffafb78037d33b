"""Issue 15 item 3: referral packages by victims' country, verified like raid packages, their
victim counts the cell reports'."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.tests.browser.case import IMG
from ringmap.tests.browser.chromium import artifact_dir, open_map
from ringmap.tests.offender_case import COUNTRIES, open_offender_case
from ringmap.viz.package import verify_package
from ringmap.viz.reach import figures, reach_cells, select_cells
from ringmap.viz.referral import export_referrals

_FILES = {"victims.csv", "offenders.csv", "payments.csv", "evidence.csv", "map.html",
          "timeline.png", "summary.md", "summary.json", "signing-key.pub", "manifest.json",
          "manifest.sig"}


@pytest.fixture
def offender(tmp_path: Path) -> EmbeddedStore:
    return open_offender_case(tmp_path)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _by_country(store: EmbeddedStore, cell: str) -> dict[str, int]:
    graph = store.project()
    _, records = select_cells(store, [cell])
    _, run = select_cells(store, None)
    return figures(graph, reach_cells(graph, records, run)[0], records[0]).by_country


def test_issue_15_one_referral_per_victim_country_for_one_offender(
        offender: EmbeddedStore, tmp_path: Path) -> None:
    out = tmp_path / "referrals"
    result = CliRunner().invoke(cli, ["export", "referral", "--store", str(offender.path),
                                      "--country", "all", "--offender", "Person:OF-1",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = {c for c in COUNTRIES if c is not None}
    assert {p.name for p in out.iterdir()} == {f"referral-{c}" for c in expected}
    counts = _by_country(offender, "C1")
    for code in sorted(expected):
        package = out / f"referral-{code}"
        assert {p.name for p in package.iterdir()} == _FILES
        checked = verify_package(package)
        assert checked.problems == [] and checked.signed_by is not None
        summary = json.loads((package / "summary.json").read_text(encoding="utf-8"))
        victims = _rows(package / "victims.csv")
        # the cell report's figure for that country, and every victim listed
        assert summary["victims"] == len(victims) == counts[code]
        assert {v["country"] for v in victims} == {code}
        assert all(v["id"].startswith("Person:V-") and not v["name"] for v in victims)
        offenders = _rows(package / "offenders.csv")
        assert offenders and {o["used_by"] for o in offenders} == {"Max " + IMG}
        assert all(r["grading"] == "B2 (admiralty)" for r in _rows(package / "evidence.csv"))
        kinds = {r["kind"] for r in _rows(package / "evidence.csv")}
        assert {"victim", "victim's country", "contact"} <= kinds
    # payments from a country are its victims' payments
    gb = _rows(out / "referral-GB" / "payments.csv")
    assert len(gb) == 1 and gb[0]["payer_id"] == _rows(out / "referral-GB" /
                                                       "victims.csv")[0]["id"]


def test_issue_15_referral_counts_equal_the_cell_report(
        strikeback: EmbeddedStore, tmp_path: Path) -> None:
    latest = strikeback.latest_cells()
    assert latest is not None
    cell = max(latest[1], key=lambda c: c.summary.victims if c.summary else 0)
    assert cell.summary is not None
    results = export_referrals(strikeback, "all", tmp_path / "r", cell=cell.cell_id)
    shown = {r.country: r.victims for r in results}
    expected = {c: n for c, n in cell.summary.victims_by_country.items() if c != "??"}
    assert shown == expected and len(shown) >= 2
    assert all(verify_package(r.path).problems == [] for r in results)


def test_issue_15_referral_pseudonymises_unless_asked_with_a_reason(
        offender: EmbeddedStore, tmp_path: Path) -> None:
    [hidden] = export_referrals(offender, "gb", tmp_path / "gb", offender="Person:OF-1")
    names = [f"Victim {i} " for i in range(len(COUNTRIES))]
    for path in hidden.path.iterdir():
        data = path.read_bytes()
        assert not [n for n in names if n.encode() in data], path.name
    result = CliRunner().invoke(cli, ["export", "referral", "--store", str(offender.path),
                                      "--country", "GB", "--out", str(tmp_path / "shown"),
                                      "--include-victim-details"])
    assert result.exit_code == 1 and "--reason" in result.output
    [shown] = export_referrals(offender, "GB", tmp_path / "shown", reveal=True,
                               reason="UK police request 22/17")
    [victim] = _rows(shown.path / "victims.csv")
    assert victim["name"].startswith("Victim 1 ")


def test_issue_15_edited_referral_fails_verify(offender: EmbeddedStore, tmp_path: Path) -> None:
    [ref] = export_referrals(offender, "US", tmp_path / "us")
    with (ref.path / "victims.csv").open("a", encoding="utf-8") as handle:
        handle.write("Person:V-00000000,,,,,US\n")
    result = CliRunner().invoke(cli, ["verify", str(ref.path)])
    assert result.exit_code == 1 and "changed: victims.csv" in result.output


def test_issue_15_referral_refuses_a_country_without_victims(
        offender: EmbeddedStore, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "referral", "--store", str(offender.path),
                                      "--country", "KR", "--out", str(tmp_path / "kr")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no victim of the case is located in KR")


_CELL_TIPS = """window.ringmapNetwork.body.data.nodes.get()
  .filter(n => String(n.label).startsWith('Cell ') || String(n.label) === 'Offender')
  .map(n => [n.label, n.title ? (n.title.textContent || String(n.title)) : ''])"""


@pytest.mark.browser
@pytest.mark.parametrize("shape", ["strikeback", "offender"])
def test_issue_15_referral_map_reads_for_the_partner(
        shape: str, browser: Any, strikeback: EmbeddedStore, tmp_path: Path) -> None:
    """issue 15: a referral's map is titled for its country and scope and draws only the
    cells (or the offender) that reached victims there: the example case's GB referral drew
    every cell of the run, one with "0 members, 0 victims", under "Victims across countries".
    Nothing is requested, no raw control character, no victim's name on the page."""
    offender = "Person:OF-1" if shape == "offender" else None
    store = open_offender_case(tmp_path / "case") if offender else strikeback
    graph = store.project()
    names = {str(a["name"]) for a in graph.nodes.values() if a.get("role") == "victim"
             and a.get("name")}
    assert names
    [ref] = export_referrals(store, "GB", tmp_path / "gb", offender=offender)
    if offender:
        store.close()
    page = (ref.path / "map.html").read_text(encoding="utf-8")
    assert not [n for n in names if n in page]
    with open_map(browser, ref.path / "map.html") as shown:
        shown.page.screenshot(path=str(artifact_dir(tmp_path) / f"referral-GB-{shape}.png"))
        shown.assert_clean()
        heading = shown.js("document.getElementById('rm-heading').textContent")
        assert heading.startswith("Referral GB (United Kingdom): victims of the ")
        cells = shown.js(_CELL_TIPS)
        assert cells and all("\n0 victims" not in tip for _, tip in cells)
    assert heading.endswith(f"offender {offender}" if offender else "case")


def test_offender_referral_map_names_the_offender_and_counts_in_words(
        offender: EmbeddedStore, tmp_path: Path) -> None:
    """A referral scoped to one offender drew him as "Cell offender", and the world map said
    "1 victims" and "1 payments" where a country had one of each."""
    [ref] = export_referrals(offender, "GB", tmp_path / "gb", offender="Person:OF-1")
    page = (ref.path / "map.html").read_text(encoding="utf-8")
    assert "Cell offender" not in page and '["Offender",["Offender","1 member",' in page
    assert not re.search(r"\b1 (victim|payment|member|countrie)s\b", page)


def test_offender_referral_legend_speaks_of_the_offender(
        offender: EmbeddedStore, tmp_path: Path) -> None:
    """The legend of a referral scoped to one offender still said "Cells (victims, USD
    received)", "offender · …" and "cell → country of its victims"."""
    [ref] = export_referrals(offender, "GB", tmp_path / "gb", offender="Person:OF-1")
    page = (ref.path / "map.html").read_text(encoding="utf-8")
    assert "Offender (victims, USD received)" in page and "Cells (victims" not in page
    assert "offender → country of its victims" in page and "offender — its raid site" in page
    assert "cell → country" not in page and "offender · " not in page


def test_issue_16_offender_referral_notes_speak_of_the_offender(
        offender: EmbeddedStore, tmp_path: Path) -> None:
    """The notes under the legend of a referral scoped to one offender still said "arcs run
    from cells to the countries of their victims" and "cells are drawn around them"."""
    [ref] = export_referrals(offender, "GB", tmp_path / "gb", offender="Person:OF-1")
    page = (ref.path / "map.html").read_text(encoding="utf-8")
    assert "arcs run from the offender to the countries of its victims" in page
    assert "the offender is drawn beside them" in page
    assert "from cells" not in page and "cells are drawn" not in page
