"""Maps: self-contained HTML, text-only data, pseudonymised victims, aggregation and layout."""

from __future__ import annotations

import base64
import gc
import hashlib
import itertools
import json
import math
import re
import weakref
from collections.abc import Iterator
from dataclasses import astuple
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from click.testing import CliRunner

from ringmap import pipeline, privacy
from ringmap.analysis import cells, projection
from ringmap.analysis.projection import AgentGraph
from ringmap.cli import cli
from ringmap.errors import ConfigError, ExportError, NotFound
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.evidence import EvidenceGraph, pairs_by_rel
from ringmap.graphs.model import AnalysisRun, CellMember, CellRecord
from ringmap.graphs.normalise import country_table
from ringmap.pipeline import run_case
from ringmap.testing import CaseBuilder
from ringmap.tests.browser.case import IMG, PANS, SCRIPT, VICTIM_NAMES, open_case
from ringmap.tests.browser.chromium import chromium_path
from ringmap.tests.example_case import STRIKEBACK
from ringmap.tests.likely_case import add_likely_victim
from ringmap.tests.reports import a_report
from ringmap.viz import maps, overview
from ringmap.viz.aggregate import PHYSICS_LIMIT, collapse, layout_positions
from ringmap.viz.maps import cell_map, entity_map
from ringmap.viz.palette import cvd_views, oklab
from ringmap.viz.reach import select_cells
from ringmap.viz.render import (
    MapEdge,
    MapGroup,
    MapNode,
    MapSpec,
    read_payload,
    render_map,
    script_json,
)
from ringmap.viz.style import cell_colour
from ringmap.viz.timeline import case_timeline, cell_timelines, run_timelines, timeline_of
from ringmap.viz.world import equal_earth, victim_map

VIZ = Path(maps.__file__).parent
RAW_HTML_SINK = "inner" + "HTML"  # spelled in two parts so a grep of the repo finds no use


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with open_case(tmp_path) as opened:
        yield opened


def _legend_text(spec: MapSpec) -> str:
    return "\n".join(item.label for section in spec.legend for item in section.items)


def _inline_scripts(html: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", html, re.S)


def test_template_has_no_cdn_and_no_innerhtml() -> None:
    for path in [*VIZ.glob("*.py"), *(VIZ / "templates").iterdir()]:
        text = path.read_text(encoding="utf-8")
        assert RAW_HTML_SINK not in text, path
        if path.parent.name == "templates":
            assert not re.search(r"https?://|cdn|//[a-z]", text, re.I), path


def test_vendored_vis_network_has_its_licence() -> None:
    vendor = VIZ / "vendor"
    assert (vendor / "LICENSE-MIT").is_file() and (vendor / "LICENSE-APACHE-2.0").is_file()
    assert "@version 9.1.9" in (vendor / "vis-network.min.js").read_text()[:400]


def test_script_json_cannot_end_the_script_element() -> None:
    text = script_json({"a": SCRIPT + "<!--&\u2028\u2029"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"a": SCRIPT + "<!--&\u2028\u2029"}


def test_page_is_self_contained_with_a_csp_admitting_only_its_scripts() -> None:
    html = render_map(MapSpec(SCRIPT, [MapNode("n0", IMG, title=IMG)], []))
    assert "<link" not in html and "<script src" not in html and "<img" not in html
    assert SCRIPT not in html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    policy = csp.group(1)
    for directive in ("default-src 'none'", "connect-src 'none'", "img-src data:"):
        assert directive in policy
    assert "unsafe" not in policy
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    for inline in [*_inline_scripts(html), *styles]:
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "sourceMappingURL" not in html
    assert read_payload(html)["heading"] == SCRIPT


def test_cell_map_colours_cells_and_explains_edges(store: EmbeddedStore) -> None:
    spec = cell_map(store, detailed=True)
    labels = {n.label for n in spec.nodes}
    assert {"Juan Dela Cruz", "ag1.fake", "356938035643809", "411111******1111"} <= labels
    colours = {n.label: n.color for n in spec.nodes}
    assert colours["Juan Dela Cruz"] == colours["ag1.fake"] != colours["Maria Santos"]
    shapes = {n.label: n.shape for n in spec.nodes}
    assert shapes["+639171234567"] == "triangle" and shapes["356938035643809"] == "square"
    sim_edge = next(e for e in spec.edges if e.title.startswith("SIM_IN"))
    assert "sim_in.csv row 2" in sim_edge.title and "admiralty:B2" in sim_edge.title
    assert spec.banner is None
    assert not any(name in n.label for n in spec.nodes for name in VICTIM_NAMES)


def test_one_cell_and_unknown_cells(store: EmbeddedStore) -> None:
    spec = cell_map(store, ["C2"])
    assert spec.title == "Cell C2"
    assert "Juan Dela Cruz" not in {n.label for n in spec.nodes}
    with pytest.raises(NotFound, match="no cell C9"):
        cell_map(store, ["C9"])


def test_cell_map_needs_cells(tmp_path: Path) -> None:
    with open_case(tmp_path, cells=False) as bare, pytest.raises(NotFound, match="no cells"):
        cell_map(bare)


def test_cell_map_aggregates_above_the_budget(store: EmbeddedStore) -> None:
    full = cell_map(store, detailed=True)
    spec = cell_map(store, detailed=True, budget=5)
    assert spec.banner is not None and "budget of 5" in spec.banner
    assert len(spec.nodes) < len(full.nodes)
    labels = {n.label for n in spec.nodes}
    assert {"Cell C1 (4)", "Cell C2 (4)", "203.0.113.7"} <= labels  # the shared IP stays
    html = render_map(spec)
    assert read_payload(html)["banner"] == spec.banner


def test_large_maps_get_a_seeded_layout_with_physics_off() -> None:
    n = PHYSICS_LIMIT + 50
    nodes = [MapNode(f"n{i}", str(i)) for i in range(n)]
    edges = [MapEdge(f"n{i}", f"n{(i * 7 + 1) % n}") for i in range(n)]
    first = maps._place(MapSpec("big", nodes, edges))
    assert first.physics is False and all(node.x is not None for node in first.nodes)
    again = layout_positions([f"n{i}" for i in range(n)], [(e.src, e.dst) for e in edges])
    assert again["n3"] == (first.nodes[3].x, first.nodes[3].y)
    assert read_payload(render_map(first))["options"]["physics"]["enabled"] is False


def test_victim_map_places_countries_and_sizes_them(store: EmbeddedStore) -> None:
    spec = victim_map(store)
    nodes = {n.id: n for n in spec.nodes}
    gb = country_table()[0]["GB"]
    assert (nodes["country:GB"].x, nodes["country:GB"].y) == equal_earth(gb.lon, gb.lat)
    assert {"country:GB", "country:US", "country:SG"} <= nodes.keys()
    assert nodes["Location:BICOL-1"].fixed and nodes["cell:C1"].x is not None
    to_gb = next(e for e in spec.edges if e.dst == "country:GB")
    assert to_gb.src == "cell:C1" and "\n1 victim\n" in to_gb.title and "USD 500.00" in to_gb.title
    assert spec.physics is False
    assert "1 of 3 victims linked to no cell" in _legend_text(spec)
    html = render_map(spec)
    assert not any(name in html for name in VICTIM_NAMES)


def test_victim_map_labels_sit_on_a_box_the_arcs_pass_under(store: EmbeddedStore) -> None:
    # at 5,400 cells dozens of arcs crossed out the labels of countries and raid cities that
    # a halo of 3 pixels was meant to keep readable (a box's label is inside it)
    labelled = [n for n in victim_map(store).nodes if n.label.strip() and n.shape != "box"]
    assert labelled
    for node in labelled:
        font = node.font or {}
        assert font.get("background") == "rgba(255,255,255,0.8)", node.id
        assert font["strokeWidth"] >= 0.4 * font["size"] - 0.05, node.id


def test_a_cell_too_large_to_read_folds_addresses_one_account_alone_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # at 5,400 cells a cell's raid map drew 463 nodes, 285 of them IP addresses one account
    # logged in from: the addresses only one node is linked to fold into it, the shared stay
    case = CaseBuilder()
    accounts = [case.account("facebook", f"ag{i}.fake") for i in range(2)]
    shared = case.node("IPAddress", address="203.0.113.1")
    lone = [case.node("IPAddress", address=f"198.51.100.{i}") for i in range(12)]
    for account in accounts:
        case.link("LOGGED_IN_FROM", account, shared)
    for address in lone:
        case.link("LOGGED_IN_FROM", accounts[0], address)
    case.cell("C1", dict.fromkeys(accounts, 0.9))
    with case.ingest(EmbeddedStore(tmp_path / "case.db"), tmp_path / "evidence") as store:
        assert len(cell_map(store, ["C1"]).nodes) == 15  # small enough: every node drawn
        monkeypatch.setattr(maps, "_READABLE", 10)
        spec = cell_map(store, ["C1"])
    labels = {n.label: n for n in spec.nodes}
    assert set(labels) == {"ag0.fake", "ag1.fake", "203.0.113.1"}
    tip = labels["ag0.fake"].title.splitlines()[-1]
    assert tip.startswith("IP addresses only it is linked to (12): 198.51.100.0, 198.51.100.1")
    assert tip.endswith("… and 2 more")
    assert "IP addresses only" not in labels["ag1.fake"].title
    assert spec.banner is not None and ("12 of the 13 IP addresses, each linked to one node "
                                        "alone, are folded into it (1 node: ") in spec.banner
    assert len(spec.edges) == 2


def test_a_cell_map_draws_the_exhibits_that_tie_its_raid_sites(store: EmbeddedStore) -> None:
    # a raid site where only a seized exhibit ties the cell stood alone on its raid map (two
    # of cell C0065's three sites at 5,400 cells): the exhibits are drawn, with their links
    spec = cell_map(store, ["C2"])
    labels = {n.id: n.label for n in spec.nodes}
    ends = {(labels[e.src], labels[e.dst]) for e in spec.edges}
    assert ("EX-2", "Taguig <img src=x onerror=window.__x=1>") in ends  # SEIZED_AT
    assert ("EX-2", "Maria Santos") in ends  # SEIZED_FROM
    assert "EX-1" not in labels.values()  # cell C1's


def test_entity_map_pseudonymises_victims_unless_revealed(store: EmbeddedStore) -> None:
    spec = entity_map(store, "Account:facebook/ag1.fake", hops=2)
    text = json.dumps([(n.label, n.title) for n in spec.nodes])
    assert "john.victim.1990" not in text and VICTIM_NAMES[0] not in text
    assert re.search(r"V-[0-9a-f]{8}", text)
    shown = entity_map(store, "Account:facebook/ag1.fake", hops=2, reveal=True)
    assert VICTIM_NAMES[0] in json.dumps([(n.label, n.title) for n in shown.nodes])


def test_entity_map_resolves_typed_keys_and_aggregates(store: EmbeddedStore) -> None:
    spec = entity_map(store, "phone:0917 123 4567", hops=1)
    assert spec.title.startswith("Neighbourhood of +639171234567")
    small = entity_map(store, "Person:AG-1", hops=3, budget=4)
    assert small.banner is not None and "per hop and type" in small.banner
    with pytest.raises(NotFound):
        entity_map(store, "Person:NOBODY")
    with pytest.raises(ConfigError):
        entity_map(store, "Person:AG-1", hops=0)


def test_maps_never_hold_a_card_number(store: EmbeddedStore) -> None:
    html = "".join(render_map(spec) for spec in (
        cell_map(store), cell_map(store, detailed=True), victim_map(store),
        entity_map(store, "Exhibit:EX-1", reveal=True)))
    for pan in PANS:
        assert pan not in html and pan[:4] + " " + pan[4:8] not in html


def test_map_commands_write_and_audit(store: EmbeddedStore, tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "case.db")
    out = tmp_path / "maps"
    for args in (["map", "cells", "-o", str(out / "c.html")],
                 ["map", "victims", "-o", str(out / "v.html")],
                 ["map", "entity", "Person:AG-1", "-o", str(out / "e.html"), "--hops", "1"]):
        result = runner.invoke(cli, ["--store", db, *args])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("Wrote ")
    assert sorted(p.name for p in out.iterdir()) == ["c.html", "e.html", "v.html"]
    log = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [e["command"] for e in log if e["phase"] == "done"] == [
        "map cells", "map victims", "map entity"]
    refused = runner.invoke(cli, ["--store", db, "map", "cells", "-o", str(out / "x.html"),
                                  "--include-victim-details"])
    assert refused.exit_code == 1
    assert refused.output == "Error: --include-victim-details needs --reason TEXT saying why\n"
    assert not (out / "x.html").exists()


def test_missing_browser_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    monkeypatch.setenv("RINGMAP_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium not found"):
        chromium_path()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="browser tests must run in CI"):
        chromium_path()


def test_cells_fold_their_infrastructure_when_groups_exceed_the_budget(
        store: EmbeddedStore) -> None:
    spec = cell_map(store, detailed=True, budget=3)
    assert spec.banner is not None and "inside the cell's node" in spec.banner
    cells = {n.label: n for n in spec.nodes if n.label.startswith("Cell ")}
    assert set(cells) == {"Cell C1 (4)", "Cell C2 (4)"}
    assert "1 × device" in cells["Cell C1 (4)"].title


def test_issue_16_an_aggregated_cell_map_collapses_its_edges_once(
        store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether to fold a cell's infrastructure into its node is decided from the nodes alone:
    the edges among every footprint were collapsed twice when folding (about 6 CPU-s at
    5,400 cells)."""
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return collapse(*args, **kwargs)

    monkeypatch.setattr("ringmap.viz.maps.collapse", counted)
    banners = set()
    for budget in range(1, 40):
        calls.clear()
        spec = cell_map(store, detailed=True, budget=budget)
        if spec.banner is None:
            continue
        banners.add("inside the cell's node" in spec.banner)
        assert calls == [1]
        if "in one node per type" in spec.banner:
            assert len(spec.nodes) <= budget
    assert banners == {True, False}


def test_victim_map_prefers_the_stored_cell_report(store: EmbeddedStore) -> None:
    report = a_report(victims=7, victims_by_country={"US": 5, "GB": 2, "unknown": 1},
                      money={"payments": 2, "by_currency": {"USD": 1234.5}, "usd": 1234.5,
                             "unconverted": 0, "undated": 0, "fx_table": "test"})
    store.save_cells(AnalysisRun(run_id="cells-2"), [CellRecord(
        cell_id="C9", members=[CellMember(node_id="Person:AG-1", confidence=1.0)],
        summary=report)])
    spec = victim_map(store)
    edges = {e.dst: e for e in spec.edges if e.src == "cell:C9" and e.dst.startswith("country")}
    # issue 13: a victim of unknown country is drawn and counted, never dropped
    assert set(edges) == {"country:US", "country:GB", "country:??"}
    assert "5 victims" in edges["country:US"].title and "\n1 victim\n" in edges["country:??"].title
    cell = next(n for n in spec.nodes if n.id == "cell:C9")
    assert "7 victims" in cell.title and "USD 1,234.50" in cell.title
    assert "cell report" in cell.title


def test_issue_13_overview_draws_cells_as_groups_with_only_their_ties(
        store: EmbeddedStore) -> None:
    spec = cell_map(store)
    assert spec.title.startswith("Overview of the cells") and spec.physics is False
    nodes = {n.label: n for n in spec.nodes}
    # agents with their accounts folded in; the IP two cells share is drawn, as a bridge
    assert {"Juan Dela Cruz", "Maria Santos", "203.0.113.7", "C1",
            "C2", "Bicol office"} <= nodes.keys()
    assert "ag1.fake" not in nodes and "356938035643809" not in nodes  # one agent's only
    juan = nodes["Juan Dela Cruz"].title
    assert "1 × account: ag1.fake" in juan and "1 × device: 356938035643809" in juan
    assert "411111******1111" in juan and "4111111111111111" not in juan
    assert nodes["203.0.113.7"].title.startswith("IPAddress · bridges cells C1, C2")
    bridge = [e for e in spec.edges if e.color != "#9a9a9a"]
    assert [e.title for e in bridge] == ["bridge to cell C2: 1 members (LOGGED_IN_FROM)"]
    assert bridge[0].src == nodes["C2"].id  # to the other cell's name
    assert [g.color for g in spec.groups] == [nodes["C1"].color,
                                               nodes["C2"].color]
    for group in spec.groups:  # every node of a cell lies inside its halo
        cell = "C1" if group.color == nodes["C1"].color else "C2"
        for node in spec.nodes:
            if node.title.startswith(f"Agent · cell {cell}"):
                assert node.x is not None and node.y is not None
                assert math.hypot(node.x - group.x, node.y - group.y) < group.radius
    assert not any(name in json.dumps([(n.label, n.title) for n in spec.nodes])
                   for name in VICTIM_NAMES)


def test_issue_13_overview_draws_infrastructure_once_apart(store: EmbeddedStore) -> None:
    run = store.analysis_runs("cells")[-1]
    records = store.load_cells(run.run_id)
    store.save_cells(AnalysisRun(run_id="cells-2", summary={"infrastructure": [
        {"identifier": "IPAddress:203.0.113.7", "kind": "IPAddress", "shared_by": 2,
         "reason": "widespread: agents in 2 of 2 cells"}]}), records)
    spec = cell_map(store)
    hubs = [n for n in spec.nodes if n.label == "203.0.113.7"]
    assert len(hubs) == 1 and "shared infrastructure" in hubs[0].title
    assert "widespread" in hubs[0].title and "C1 (1), C2 (1)" in hubs[0].title
    assert not spec.edges  # drawn apart: nothing else ties the two cells' agents
    assert any(n.label.startswith("Shared infrastructure") for n in spec.nodes)


def test_issue_13_map_cells_draws_the_overview_or_cells_in_detail(
        store: EmbeddedStore, tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "case.db")
    for extra, title in (([], "Overview of the cells"), (["--cell", "C2"], "Cell C2"),
                         (["--detailed"], "Cells of run")):
        out = tmp_path / "map.html"
        result = runner.invoke(cli, ["--store", db, "map", "cells", "-o", str(out), *extra])
        assert result.exit_code == 0, result.output
        assert str(read_payload(out.read_text())["heading"]).startswith(title)


def test_issue_13_forty_cells_get_forty_distinct_colour_blind_safe_colours() -> None:
    colours = [cell_colour(i) for i in range(40)]
    assert len(set(colours)) == 40
    assert cell_colour(0) == "#0072b2"  # Okabe-Ito first
    for view, coords in cvd_views(colours).items():
        gaps = [float(np.linalg.norm(coords[i] - coords[j]))
                for i, j in itertools.combinations(range(40), 2)]
        # OKLab: about 0.02 is just noticeable; normal vision gets three times that
        assert min(gaps) >= (0.06 if view == "normal" else 0.04), view
    lightness = oklab(colours)[:, 0]
    assert lightness.min() >= 0.4 and lightness.max() <= 0.81  # visible on white


def test_issue_13_render_shares_node_looks_and_checks_group_colours() -> None:
    nodes = [MapNode(f"n{i}", str(i), color="#112233") for i in range(3)]
    data = read_payload(render_map(MapSpec("m", nodes, [], groups=[
        MapGroup("n0", 0, 0, 10, "#0072b2")])))
    assert data["looks"] == {"s0": {"shape": "dot", "color": "#112233", "size": 12.0}}
    assert all(n["look"] == "s0" and "color" not in n for n in data["nodes"])
    with pytest.raises(ExportError, match="#rrggbb"):
        render_map(MapSpec("m", nodes, [], groups=[MapGroup("n0", 0, 0, 1, "red;x")]))


def test_issue_13_entity_maps_pseudonymise_likely_victims(tmp_path: Path) -> None:
    """Regression: an account of no known user that an agent contacted (a likely victim) was
    pseudonymised in the cell reports only; entity maps showed its handle, at any hop."""
    case = CaseBuilder()
    agent, own, likely, acting = astuple(add_likely_victim(case))
    with case.ingest(EmbeddedStore(tmp_path / "case.db"), tmp_path / "evidence") as store:
        for key, hops in ((agent, 2), (agent, 3), (own, 1), (likely, 1), (acting, 1)):
            html = render_map(entity_map(store, key, hops=hops))
            assert "who.is.this" not in html and "Real Name Kid" not in html, (key, hops)
            assert re.search(r"Account V-[0-9a-f]{8}", html), (key, hops)
            assert ("acting.agent" in html) == (hops == 3 or key in (likely, acting))
        revealed = entity_map(store, own, hops=1, reveal=True)
        assert any(n.label == "who.is.this.1999" for n in revealed.nodes)


def test_issue_16_run_draws_its_maps_from_the_cells_it_saved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The maps of ``ringmap run`` take the cells the run just saved: reading them back was a
    second copy of every cell with its explanations (0.4 GB at 600 cells), the run's peak."""
    reads: list[str] = []
    load = EmbeddedStore.load_cells

    def counted(store: EmbeddedStore, run_id: str) -> list[CellRecord]:
        reads.append(run_id)
        return load(store, run_id)

    monkeypatch.setattr(EmbeddedStore, "load_cells", counted)
    with EmbeddedStore(tmp_path / "out" / "ringmap.db") as store:
        summary = run_case(store, STRIKEBACK, tmp_path / "out")
    assert summary.cells and "maps/cells.html" in summary.files
    assert "maps/victims.html" in summary.files
    assert reads == []


def test_issue_16_a_run_decides_its_victim_side_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cells' reports, the cell map and the packages of ``ringmap run`` share one privacy
    policy: each worked out its own (about 20 s at 5,400 cells)."""
    sides: list[int] = []
    victim_side = privacy.victim_side

    def counted(graph: nx.MultiDiGraph) -> set[str]:
        sides.append(graph.number_of_nodes())
        return victim_side(graph)

    monkeypatch.setattr(privacy, "victim_side", counted)
    with EmbeddedStore(tmp_path / "out" / "ringmap.db") as store:
        summary = run_case(store, STRIKEBACK, tmp_path / "out", packages=True)
    assert summary.cells and "maps/cells.html" in summary.files
    assert len(sides) == 1


def test_issue_16_map_commands_read_the_packed_evidence(
        store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ringmap map cells|victims|timeline`` read the evidence from the packed arrays
    (``Store.evidence``), not as a graph of Python dicts (``store.project()`` held 6 GB at 2.58M
    rows), and draw what they drew from that graph."""
    projected = store.project()
    cell = store.latest_cells()
    assert cell is not None and cell[1]
    first = cell[1][0].cell_id
    drawn = [render_map(cell_map(store, graph=projected)),
             render_map(cell_map(store, [first], graph=projected)),
             render_map(victim_map(store, graph=projected))]
    lines = [case_timeline(projected), *cell_timelines(projected, cell[1][:1])]

    def whole_graph(*_: object) -> None:
        raise AssertionError("the whole evidence graph built as Python dicts")

    monkeypatch.setattr(EmbeddedStore, "project", whole_graph)
    assert [render_map(cell_map(store)), render_map(cell_map(store, [first])),
            render_map(victim_map(store))] == drawn
    assert [timeline_of(store), timeline_of(store, first)] == lines


def test_issue_16_run_timelines_decode_each_contact_once(
        strikeback: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ringmap run`` drew the case's timeline, then each cell's, decoding the properties of
    every contact of a cell's side twice (some 7 of the maps' 52 CPU-s at 5,400 cells): its
    timelines decode each contact once and are those drawn one by one."""
    graph = strikeback.evidence()
    _, records = select_cells(strikeback, None)
    one_by_one = [case_timeline(graph), *cell_timelines(graph, records)]
    decoded: list[str] = []
    edge_attrs = EvidenceGraph.edge_attrs

    def counted(self: EvidenceGraph, e: int) -> dict[str, Any]:
        found: dict[str, Any] = edge_attrs(self, e)
        decoded.append(found["type"])
        return found

    monkeypatch.setattr(EvidenceGraph, "edge_attrs", counted)
    assert run_timelines(graph, records) == one_by_one
    contacts = len(pairs_by_rel(graph, ["CONTACTED"])["CONTACTED"])
    assert len(records) > 2 and decoded.count("CONTACTED") == contacts > 0


def test_issue_16_run_lets_go_of_the_agent_graph_before_its_maps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent projection detection built is not held through the maps and packages of
    ``ringmap run``: at 5,400 cells it was part of the run's peak, which the maps set."""
    built: list[weakref.ref[AgentGraph]] = []
    alive: list[bool] = []

    def project_agents(*args: Any, **kwargs: Any) -> AgentGraph:
        agents = projection.project_agents(*args, **kwargs)
        built.append(weakref.ref(agents))
        return agents

    def write_victim_map(*args: Any, **kwargs: Any) -> maps.MapResult:
        gc.collect()
        alive.append(any(ref() is not None for ref in built))
        return maps.write_victim_map(*args, **kwargs)

    monkeypatch.setattr(cells, "project_agents", project_agents)
    monkeypatch.setattr(pipeline, "write_victim_map", write_victim_map)
    with EmbeddedStore(tmp_path / "out" / "ringmap.db") as store:
        summary = run_case(store, STRIKEBACK, tmp_path / "out")
    assert summary.cells and built
    assert alive == [False]


def test_issue_16_an_overview_with_more_agents_than_its_limit_is_not_worked_out(
        store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16: at 5,400 cells the overview was worked out (about 100 s) and then dropped
    for being over its limit, which its agents alone already said."""
    def never(*args: object) -> None:
        raise AssertionError("the overview was worked out")

    monkeypatch.setattr(maps, "OVERVIEW_LIMIT", 1)
    monkeypatch.setattr(overview, "_Overview", never)
    assert cell_map(store).title.startswith("Cells of run")
