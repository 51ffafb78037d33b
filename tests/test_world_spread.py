"""Markers pushed apart on the victims map (issue 16): the grid that names the pairs to test
gives the positions the all-pairs loop gave, float for float, and the layout settles."""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import CellMember, CellRecord
from ringmap.viz import world
from ringmap.viz.render import MapNode, MapSpec, read_payload, render_map

Points = dict[str, tuple[float, float]]


def _all_pairs(points: Points, boxes: Mapping[str, tuple[float, float, float]],
               heavy: set[str], rounds: int = 120) -> Points:
    """``_spread`` as it was before issue 16: every pair tested every round."""
    pos = {k: [x, y] for k, (x, y) in points.items()}
    keys = sorted(pos)
    for _ in range(rounds):
        moved = False
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                (wa, ua, da), (wb, ub, db) = boxes[a], boxes[b]
                ca, cb = pos[a][1] + (da - ua) / 2, pos[b][1] + (db - ub) / 2
                dx, dy = pos[b][0] - pos[a][0], cb - ca
                over_x = wa + wb + 4 - abs(dx)
                over_y = (ua + da + ub + db) / 2 + 2 - abs(dy)
                if over_x <= 0 or over_y <= 0:
                    continue
                if over_y <= over_x:
                    step = [0.0, math.copysign(over_y, dy or (1 if a < b else -1))]
                else:
                    step = [math.copysign(over_x, dx or (1 if a < b else -1)), 0.0]
                move_a = a not in heavy or b in heavy
                move_b = b not in heavy or a in heavy
                share = 0.5 if move_a and move_b else 1.0
                for axis in (0, 1):
                    if move_a:
                        pos[a][axis] -= step[axis] * share
                    if move_b:
                        pos[b][axis] += step[axis] * share
                moved = True
        if not moved:
            break
    return {k: (v[0], v[1]) for k, v in pos.items()}


def _layout(seed: int, count: int, spread: float) -> tuple[Points, dict[str, MapNode], set[str]]:
    """``count`` markers of every kind the map draws, crowded within ``spread`` units (some
    on the very same spot, as cells sharing a site)."""
    rng = random.Random(seed)
    points: Points = {}
    nodes: dict[str, MapNode] = {}
    heavy: set[str] = set()
    for i in range(count):
        kind = rng.choice(("country", "cell", "site"))
        key = f"{kind}:{i:04d}"
        label = "x" * rng.randint(1, 40)
        if kind == "site":
            nodes[key] = MapNode(key, label, shape="box", size=7)
        else:
            font: dict[str, Any] | None = rng.choice((None, {"size": 11}))
            nodes[key] = MapNode(key, label, size=rng.uniform(5, 40), font=font)
        if kind == "country":
            heavy.add(key)
        if i and rng.random() < 0.1:  # on top of an earlier marker
            points[key] = points[rng.choice(sorted(points))]
        else:
            points[key] = (rng.uniform(-spread, spread), rng.uniform(-spread / 2, spread / 2))
    return points, nodes, heavy


@pytest.mark.parametrize(("seed", "count", "spread"),
                         [(1, 2, 5.0), (2, 30, 50.0), (3, 80, 300.0), (4, 120, 600.0),
                          (5, 150, 2000.0), (6, 40, 0.0)])
def test_issue_16_spread_places_markers_as_the_all_pairs_loop(seed: int, count: int,
                                                              spread: float) -> None:
    points, nodes, heavy = _layout(seed, count, spread)
    for rounds in (1, 120):
        boxes = {k: world._box(n) for k, n in nodes.items()}
        assert world._spread(points, boxes, heavy, rounds) == _all_pairs(
            points, boxes, heavy, rounds)


def test_issue_16_spread_of_the_example_victims_map_is_unchanged(
        strikeback: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    spread = world._spread
    calls: list[tuple[Points, Points]] = []

    def both(points: Points, boxes: Mapping[str, tuple[float, float, float]],
             heavy: set[str], tally: world._Tally) -> Points:
        found = spread(points, boxes, heavy, tally=tally)
        calls.append((found, _all_pairs(points, boxes, heavy)))
        return found

    monkeypatch.setattr(world, "_spread", both)
    world.victim_map(strikeback)
    assert len(calls) == 1
    found, before = calls[0]
    assert len(found) > 20
    assert found == before


#: cities of a Strikeback-like case: (city, longitude, latitude)
_CITIES = [(f"City {i}", 120.5 + 0.31 * (i % 5), 13.2 + 0.27 * (i // 5)) for i in range(13)]


def _crowded_case(cells: int) -> tuple[nx.MultiDiGraph, list[CellRecord]]:
    """``cells`` one-member cells, each working at its own office; the offices stand in 13
    cities, every office of a city on the city's very spot (a generated layout of many
    co-located raid sites): the first city holds a quarter of them, the last three."""
    graph = nx.MultiDiGraph()
    records = []
    for i in range(cells):
        city, lon, lat = _CITIES[12 if i < 3 else 0 if i % 4 == 0 else 1 + i % 11]
        site, person = f"Location:S{i:05d}", f"Person:P{i:05d}"
        graph.add_node(site, type="Location", name=f"{city} call centre {i}", city=city,
                       region="Region", lat=lat, lon=lon)
        graph.add_node(person, type="Person", name=f"Agent {i}")
        graph.add_edge(person, site, key="WORKS_AT")
        records.append(CellRecord(cell_id=f"C{i:05d}",
                                  members=[CellMember(node_id=person, confidence=1.0)]))
    return graph, records


@pytest.fixture
def one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cells drawn one by one however many (above ``MOST_CELLS`` they are drawn per raid
    city): the layout of many markers is tested at sizes that show its cost."""
    monkeypatch.setattr(world, "MOST_CELLS", 10**6)


def _overlapping(spec: MapSpec) -> list[tuple[str, str]]:
    # a city's dot, with no label, lies under the markers (issue 16)
    drawn = [n for n in spec.nodes if n.x is not None and n.y is not None
             and not n.id.startswith("spot:")]
    pos = [[float(n.x or 0), float(n.y or 0)] for n in drawn]
    boxes = [world._box(n) for n in drawn]
    return [(drawn[i].id, drawn[j].id) for i, j in itertools.combinations(range(len(drawn)), 2)
            if world._overlap(i, j, pos, boxes)]


@pytest.mark.usefixtures("one_by_one")
def test_issue_16_no_labels_overlap_with_many_co_located_sites(tmp_path: Path) -> None:
    graph, records = _crowded_case(240)
    store = EmbeddedStore(tmp_path / "case.db")
    spec = world.victim_map(store, graph=graph, cells=records)
    assert _overlapping(spec) == []
    by_id = {n.id: n for n in spec.nodes}
    # a city of more sites than a column holds is one marker, its tooltip listing them all;
    # a city of a few has them drawn one by one
    crowded = [n for n in spec.nodes if n.label == "City 0: 59 raid sites"]
    assert len(crowded) == 1
    assert all(f"City 0 call centre {i} (13.2000, 120.5000)" in crowded[0].title
               for i in range(4, 240, 4))
    assert [n.label for n in spec.nodes if n.label.startswith("City 12")] == [
        f"City 12 call centre {i}" for i in range(3)]
    # every site is drawn or listed, and linked to its cell (naming it, when listed)
    for i, record in enumerate(records):
        site = f"Location:S{i:05d}"
        (edge,) = [e for e in spec.edges if e.src == f"cell:{record.cell_id}" and e.dashes]
        marker = by_id[edge.dst]
        assert marker.label == f"{graph.nodes[site]['name']}" or (
            f"{graph.nodes[site]['name']} (" in marker.title
            and edge.title.endswith(f"raid sites: {graph.nodes[site]['name']}"))


@pytest.mark.usefixtures("one_by_one")
def test_issue_16_layout_cost_grows_with_the_markers_not_their_pairs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lay_out = world._lay_out
    tallies: list[world._Tally] = []

    def counting(points: Points, boxes: Mapping[str, tuple[float, float, float]],
                 heavy: set[str]) -> Points:
        tallies.append(world._Tally())
        return lay_out(points, boxes, heavy, tallies[-1])

    monkeypatch.setattr(world, "_lay_out", counting)
    store = EmbeddedStore(tmp_path / "case.db")
    for cells in (150, 600):
        graph, records = _crowded_case(cells)
        assert _overlapping(world.victim_map(store, graph=graph, cells=records)) == []
    small, large = (t.tests for t in tallies)
    assert small > 0
    assert large / small < 4 * 1.5  # four times the markers, not sixteen


@pytest.mark.usefixtures("one_by_one")
def test_issue_16_cells_take_turns_on_rings_not_one_ring_wider_than_the_world(
        tmp_path: Path) -> None:
    """600 cells on one ring 60 units apart made the map 11,000 units wide, the world 1,000."""
    graph, records = _crowded_case(600)
    spec = world.victim_map(EmbeddedStore(tmp_path / "case.db"), graph=graph, cells=records)
    left, _, right, _ = spec.bounds or (0.0, 0.0, 0.0, 0.0)
    assert right - left < 4 * 2 * world.WORLD_HALF_WIDTH


def _city_arcs(spec: MapSpec) -> dict[str, tuple[int, float]]:
    """Victims and USD of the arcs into each country, added over the markers they come from."""
    found: dict[str, tuple[int, float]] = {}
    for edge in spec.edges:
        if edge.dst.startswith("country:") and not edge.dashes:
            victims = int(edge.title.split("\n")[1].split(" ")[0].replace(",", ""))
            paid = re.search(r"USD ([\d,.]+)", edge.title)
            usd = float(paid.group(1).replace(",", "")) if paid else 0.0
            was = found.get(edge.dst, (0, 0.0))
            found[edge.dst] = (was[0] + victims, was[1] + usd)
    return found


def test_issue_16_above_most_cells_a_marker_per_raid_city_adds_up_its_cells(
        strikeback: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The threshold: the example's 8 cells are drawn one by one at MOST_CELLS = 8 (the map
    as without it), per raid city at 7; the cities' arcs carry into each country what the
    cells' arcs carried, every cell is in one city's tooltip and search names, and the
    countries stay at their places."""
    graph = strikeback.project()
    records = (strikeback.latest_cells() or ("", []))[1]
    assert len(records) == 8
    as_ever = render_map(world.victim_map(strikeback, graph=graph))
    monkeypatch.setattr(world, "MOST_CELLS", 8)
    one_by_one = world.victim_map(strikeback, graph=graph)
    assert render_map(one_by_one) == as_ever
    assert one_by_one.finds == {} and "finds" not in read_payload(as_ever)
    monkeypatch.setattr(world, "MOST_CELLS", 7)
    by_city = world.victim_map(strikeback, graph=graph)
    assert not any(n.id.startswith("cell:") for n in by_city.nodes)
    cities = [n for n in by_city.nodes if n.id.startswith("city:")]
    assert 1 < len(cities) < len(records)
    # each city's arcs into a country add up its cells' (the cell reports' counts)
    cells_in = {n.id: by_city.finds[n.id] for n in cities}
    assert sorted(c for found in cells_in.values() for c in found) == sorted(
        f"Cell {r.cell_id}" for r in records)
    for city in cities:
        assert all(name in city.title for name in cells_in[city.id])
    one, agg = _city_arcs(one_by_one), _city_arcs(by_city)
    assert one.keys() == agg.keys() and len(one) > 3
    for country, (victims, usd) in one.items():
        assert agg[country][0] == victims
        assert agg[country][1] == pytest.approx(usd, abs=0.01 * len(records))
    assert sum(v for v, _ in agg.values()) == sum(
        sum(r.summary.victims_by_country.values()) for r in records if r.summary)
    # the countries are where they were (no pile of cells to push them off)
    at = {n.id: (n.x, n.y) for n in one_by_one.nodes}
    for node in by_city.nodes:
        if node.id.startswith("country:") and node.x is not None:
            x, y = at[node.id]
            assert math.hypot((node.x or 0) - (x or 0), (node.y or 0) - (y or 0)) < 40
    assert _overlapping(by_city) == []
    legend = [item.label for section in by_city.legend for item in section.items]
    assert any(label.startswith("Malolos · ") for label in legend)


def test_issue_16_hundreds_of_cells_make_a_readable_map(tmp_path: Path) -> None:
    """600 cells: one marker per raid city (13), no label over another, the world's width
    kept, a legend of a few dozen lines, every cell found by the search box at its city and
    named in its tooltip up to a count."""
    graph, records = _crowded_case(600)
    spec = world.victim_map(EmbeddedStore(tmp_path / "case.db"), graph=graph, cells=records)
    cities = [n for n in spec.nodes if n.id.startswith("city:")]
    assert len(cities) == len(_CITIES)
    assert not any(n.id.startswith(("cell:", "Location:", "sites:")) for n in spec.nodes)
    assert _overlapping(spec) == []
    left, _, right, _ = spec.bounds or (0.0, 0.0, 0.0, 0.0)
    assert right - left < 1.5 * 2 * world.WORLD_HALF_WIDTH
    assert sum(len(section.items) for section in spec.legend) < 60
    found = [name for names in spec.finds.values() for name in names]
    assert sorted(found) == sorted(f"Cell {r.cell_id}" for r in records)
    busiest = next(n for n in cities if n.label == "City 0 · 149 cells")
    assert f"… and {149 - world.LISTED} more cells: search a cell id" in busiest.title
    assert busiest.title.count("\nCell C") == world.LISTED
    assert "149 raid sites: City 0 call centre 4; City 0 call centre 8;" in busiest.title
    # each city tied to the dot where its sites are, drawn under the markers
    assert sorted(spec.strokes) == sorted((f"spot:{n.id}", n.id) for n in cities)
    data = read_payload(render_map(spec))
    assert sorted(len(names) for names in data["finds"].values()) == sorted(
        len(spec.finds[n.id]) for n in cities)


def test_issue_16_a_city_with_no_cell_keeps_its_sites_and_cells_with_none_are_apart(
        tmp_path: Path) -> None:
    graph, records = _crowded_case(60)
    graph.add_node("Location:idle", type="Location", name="Idle office", city="Nowhere",
                   lat=14.0, lon=121.0)
    records.append(CellRecord(cell_id="C99999", members=[CellMember(node_id="Person:none",
                                                                    confidence=1.0)]))
    spec = world.victim_map(EmbeddedStore(tmp_path / "case.db"), graph=graph, cells=records)
    labels = {n.label for n in spec.nodes}
    assert "Idle office" in labels and "No known raid site · 1 cell" in labels
    assert spec.finds["city:"] == ["Cell C99999"]
    assert _overlapping(spec) == []


def test_issue_16_the_victims_map_puts_each_cell_in_the_city_the_cell_map_does(
        tmp_path: Path) -> None:
    """A cell with as many raid sites in two cities went, on the victims map, to the city
    whose first site id came first, and on the cell map to the first city by name: at
    21,100 cells the two maps gave one city 1,307 and 1,642 cells."""
    from ringmap.privacy import Privacy
    from ringmap.tests.cities_case import tied_case
    from ringmap.viz.cities import cities
    from ringmap.viz.reach import reach_cells

    graph, records = tied_case(world.MOST_CELLS + 20)
    spots: dict[str, tuple[float, float]] = {}
    for _node, attrs in graph.nodes(data=True):  # each city's offices at one spot
        if attrs["type"] == "Location":
            lat, lon = spots.setdefault(attrs["city"], (13.0 + len(spots) / 2, 121.0))
            attrs.update(lat=lat, lon=lon)
    for i, record in enumerate(records):  # a victim each, so every cell is on the map
        victim = f"Person:V{i:04d}"
        graph.add_node(victim, type="Person", name=f"Victim {i}", role="victim",
                       country="GB")
        graph.add_edge(record.members[0].node_id, victim, key="CONTACTED", type="CONTACTED")
    spec = world.victim_map(EmbeddedStore(tmp_path / "case.db"), graph=graph, cells=records)
    on_victims_map = sorted(sorted(spec.finds[n.id]) for n in spec.nodes
                            if n.id.startswith("city:"))
    on_cell_map = sorted(sorted(f"Cell {cell}" for cell in c.cells)
                         for c in cities(graph, reach_cells(graph, records), Privacy()) if c.cells)
    assert len(on_cell_map) == 5 and on_victims_map == on_cell_map
