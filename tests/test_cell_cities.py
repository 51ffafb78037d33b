"""The cell map of many cells drawn per raid city (issue 16): cells grouped at the city of
most of their raid sites, the identifiers their footprints share added up per pair of
cities (the cell run's infrastructure left out), every cell listed up to a count and found by
the search box, and maps of up to MOST_CELLS cells as they were."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import pytest

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import CellMember, CellRecord
from ringmap.privacy import Privacy
from ringmap.tests.browser.case import IMG
from ringmap.tests.cities_case import CITIES, OFFICE_IP, draw, tied_case
from ringmap.viz import maps
from ringmap.viz.cities import cities, shared
from ringmap.viz.reach import reach_cells
from ringmap.viz.render import read_payload, render_map
from ringmap.viz.world import LISTED, MOST_CELLS


def test_issue_16_shared_identifiers_are_those_of_two_cells_less_infrastructure() -> None:
    held = shared({"C2": {"x", "y", "z"}, "C1": {"x", "a"}, "C3": {"x", "z", "b"}},
                  set_aside={"z"})
    assert held == {"x": ("C1", "C2", "C3")}
    assert shared({"C1": {"a"}, "C2": {"b"}}, set_aside=()) == {}


def test_issue_16_a_cell_is_grouped_at_the_city_of_most_of_its_raid_sites() -> None:
    graph, records = tied_case(12)
    found = cities(graph, reach_cells(graph, records), Privacy())
    by_name = {city.name: city for city in found}
    assert set(by_name) == {name for name, _ in CITIES}
    # cell 0 has one office in the first city and one in the second: a tie, the first key
    # ("city\x00Naga City..." before "city\x00Taguig...") takes it; cell 10 alike
    assert by_name["Naga City"].cells == ["C0000", "C0001", "C0006", "C0010", "C0011"]
    assert by_name[CITIES[0][0]].cells == ["C0005"]
    assert by_name["Naga City"].sites == ["Location:T0000", "Location:T0010", "Location:S0001",
                                          "Location:S0006", "Location:S0011"]  # 2 before 10
    assert found[0].name == "Naga City"  # most cells first
    assert sorted(c for city in found for c in city.cells) == [r.cell_id for r in records]


def test_issue_16_cells_with_no_raid_site_are_one_group_last() -> None:
    graph, records = tied_case(6)
    graph.add_node("Person:lone", type="Person", name="Lone agent", role="suspect")
    records.append(CellRecord(cell_id="C9999",
                              members=[CellMember(node_id="Person:lone", confidence=1.0)]))
    found = cities(graph, reach_cells(graph, records), Privacy())
    assert (found[-1].name, found[-1].cells, found[-1].sites) == (
        "No known raid site", ["C9999"], [])


def test_issue_16_ties_between_cities_add_up_what_their_cells_share() -> None:
    """Each line carries, per pair of cities, the identifiers in the footprints of a cell of
    each (counted by brute force over every pair of cells here), by kind; the office IP the
    cell run set aside counts nowhere."""
    spec, graph, records = draw(60)
    reaches = reach_cells(graph, records)
    city_of = {c: n.label.split(" · ")[0] for n in spec.nodes for c in spec.finds[n.id]}
    expected: Counter[tuple[str, str]] = Counter()
    held: dict[str, set[str]] = {}
    for r in reaches:
        for node in r.footprint - {OFFICE_IP}:
            held.setdefault(node, set()).add(city_of[f"Cell {r.cell_id}"])
    for node, places in held.items():
        holders = [r for r in reaches if node in r.footprint]
        if len(holders) > 1:
            for a, b in itertools.combinations(sorted(places), 2):
                expected[(a, b)] += 1
    label = {n.id: n.label.split(" · ")[0] for n in spec.nodes}
    drawn = {}
    for edge in spec.edges:
        pair = tuple(sorted((label[edge.src], label[edge.dst])))
        found = re.search(r": ([\d,]+) shared identifiers?\n", edge.title)
        assert found is not None, edge.title
        drawn[pair] = int(found.group(1).replace(",", ""))
        assert "SIM card" in edge.title and "IP address" not in edge.title
        assert "most tied pairs:" in edge.title
    assert drawn == dict(expected) and len(drawn) >= 4
    assert "set aside as shared infrastructure (1) are not counted" in (spec.banner or "")


def test_issue_16_every_cell_is_found_and_listed_up_to_a_count() -> None:
    spec, _, records = draw(5 * (LISTED + 3))
    assert len(spec.nodes) == len(CITIES)
    assert sorted(c for names in spec.finds.values() for c in names) == sorted(
        f"Cell {r.cell_id}" for r in records)
    for node in spec.nodes:
        cells = len(spec.finds[node.id])
        assert node.title.count("\nCell C") == min(cells, LISTED)
        if cells > LISTED:
            assert f"… and {cells - LISTED} more cells: search a cell id" in node.title
    legend = {section.title: [item.label for item in section.items] for section in spec.legend}
    assert sum(len(items) for items in legend.values()) < 60
    tied = legend[f"Most tied cells of {len(records)} (identifiers shared with other cells, "
                  "city)"]
    assert len(tied) == LISTED + 1 and tied[-1] == (
        f"and {len(records) - LISTED} more cells: search a cell id")
    assert tied[0].startswith("C0000 · 1 shared · ")
    assert len(legend["Largest cells (members, city)"]) == 10
    pairs = legend["Most tied pairs of cells (identifiers they share)"]
    assert pairs[:2] == ["C0000 – C0001 · 1 · Naga City", "C0002 – C0003 · 1 · Iriga City – "
                                                          "Malolos"]
    assert len(pairs) == 10
    # nothing drawn over another: one city per spot on the circle, the page runs no physics
    assert len({(n.x, n.y) for n in spec.nodes}) == len(spec.nodes) and not spec.physics


def test_issue_16_hostile_city_names_stay_text_in_the_page() -> None:
    spec, _, _ = draw(MOST_CELLS + 5)
    html = render_map(spec)
    assert IMG not in html and "<img" not in html
    data = read_payload(html)
    labels = [node["label"] for node in data["nodes"]]
    assert any(label.startswith(f"Taguig {IMG}") for label in labels)


def test_issue_16_maps_of_most_cells_or_fewer_are_as_before(
        strikeback: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The threshold on the example's 8 cells: at MOST_CELLS = 8 the overview and the
    aggregated detailed map are as ever; at 7 both are drawn per raid city, every cell
    found at one city."""
    graph = strikeback.project()
    overview = render_map(maps.cell_map(strikeback, graph=graph))
    detailed = render_map(maps.cell_map(strikeback, graph=graph, detailed=True, budget=5))
    monkeypatch.setattr(maps, "MOST_CELLS", 8)
    assert render_map(maps.cell_map(strikeback, graph=graph)) == overview
    assert render_map(maps.cell_map(strikeback, graph=graph, detailed=True,
                                    budget=5)) == detailed
    monkeypatch.setattr(maps, "MOST_CELLS", 7)
    for spec in (maps.cell_map(strikeback, graph=graph),
                 maps.cell_map(strikeback, graph=graph, detailed=True, budget=5)):
        assert spec.title.endswith(", per raid city")
        assert sorted(c for names in spec.finds.values() for c in names) == [
            f"Cell C{i:03d}" for i in range(1, 9)]
        assert 1 < len(spec.nodes) < 8 and spec.banner is not None
    # a detailed map within the budget stays detailed however many cells: no cell folded
    # into a node, only the IP addresses one account alone used (933 nodes are too many)
    banner = maps.cell_map(strikeback, graph=graph, detailed=True).banner or ""
    assert banner.startswith("933 nodes are more than a map shows readably: 38 of the 176 IP")


def test_city_labels_hide_the_lines_under_their_letters() -> None:
    # San Pablo's label on the 5,400-cell map was crossed by the ties of its neighbours: each
    # label has a halo 0.4 of its size wide, on a box where vis-network draws it in place (the
    # box would not follow a label moved above its dot)
    spec, _, _ = draw(5 * (LISTED + 3))
    fonts = [node.font or {} for node in spec.nodes if node.label]
    assert fonts and all(f["strokeWidth"] >= 0.4 * f["size"] - 0.05 for f in fonts)
    assert all(("background" in f) != ("vadjust" in f) for f in fonts)
    assert {"background" in f for f in fonts} == {True, False}  # some above, some below
