"""Victims across countries on an offline world map: outlines, shading, raid sites, cells, arcs.

Country outlines are Natural Earth's 1:110m admin-0 countries, vendored in ``data/`` (public
domain; see ``data/README.md``), drawn in the Equal Earth projection as inert canvas shapes
under the map: no tiles, no network. Countries are shaded by their victims (every victim of
the case, by :func:`~ringmap.analysis.report.country_label`), with a marker at their centroid
where the arcs end. Raid sites sit at their city in an inset panel below the world,
zoomed on the region that holds them (the Philippine offices of a Strikeback-like case would
be one dot at world scale), linked to the place on the world map they enlarge: a city's sites
stacked one under another, or, past :data:`_STACK` of them, one marker whose tooltip lists
them. No two labels overlap: markers are pushed apart, then what is left overlapping is moved
to the nearest free spot (:func:`_lay_out`). Cells sit
around their raid sites; an arc from a cell to a country carries the cell's victims there and
the money they paid, exactly as the cell report counts them (:mod:`ringmap.analysis.victims`,
read through :func:`~ringmap.viz.reach.figures`). Victims of unknown country go to a marker of
their own and into the legend, never dropped.

Every marker and arc carries the days it was active (:mod:`ringmap.viz.timeline`), so the
map's time filter can hide what was not active in a chosen window.

>>> x, y = equal_earth(0.0, 0.0)
>>> round(x, 6), round(y, 6)
(0.0, -0.0)
>>> equal_earth(180.0, 0.0)[0] == WORLD_HALF_WIDTH
True
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import networkx as nx

from ringmap.analysis.report import UNKNOWN_COUNTRY, country_label
from ringmap.errors import ConfigError
from ringmap.graphs.evidence import nodes_of_type
from ringmap.graphs.model import CellRecord, CountryMoney, Money
from ringmap.graphs.normalise import country_table
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy, is_victim
from ringmap.viz.reach import CellReach, Figures, figures, reach_cells
from ringmap.viz.render import (
    LegendEntry,
    LegendSection,
    MapEdge,
    MapNode,
    MapSpec,
    Shape,
    clip,
    counted,
    natural,
    place,
)
from ringmap.viz.style import cell_colour, over_lines, type_style
from ringmap.viz.timeline import Event, Timeline, case_timeline, cell_timeline

__all__ = ["LISTED", "MOST_CELLS", "OFFENDER", "OUTLINES", "WORLD_HALF_WIDTH", "city_key",
           "equal_earth", "home", "listed", "name_of", "outlines", "site_order", "victim_map"]

OUTLINES = Path(__file__).parent / "data" / "world-110m.json"
#: half the width of the world on the map, in canvas units (vis-network's font sizes are in
#: the same units, so at this size a fitted map shows 12-unit labels at about 12 pixels)
WORLD_HALF_WIDTH = 500.0
_A1, _A2, _A3, _A4 = 1.340264, -0.081106, 0.000893, 0.003796
_M = math.sqrt(3) / 2
_LABEL_CHARS = 40
#: the most cells the victims map draws one by one, each with its marker, arcs and legend
#: line: about what one screen shows readably. Above it (a national case: hundreds of
#: cells) they are drawn per raid city (:func:`_draw_cities`), so the world keeps its size
#: and the arcs say which city's offices hit which countries, and how hard
MOST_CELLS = 40
_INSET_MAX_SPAN = 25.0  # degrees: raid sites spread wider than this are drawn on the world map
_LAND = "#ecebe6"
_BORDER = "#b9b7ae"
_SEA = "#f5f9fc"
#: the cell id of a referral scoped to one offender (:func:`ringmap.viz.referral.scope_of`)
OFFENDER = "offender"


def name_of(cell_id: str) -> str:
    """How the map names a cell, or the one offender a referral is scoped to.

    >>> name_of("C003"), name_of(OFFENDER)
    ('Cell C003', 'Offender')
    """
    return "Offender" if cell_id == OFFENDER else f"Cell {cell_id}"


#: shades of countries by victims (ColorBrewer Blues), lightest first
_SHADES = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
_UNKNOWN = "#8c8c8c"
_MARKER = "#1f4e79"
#: a halo on a box keeps labels readable over outlines and arcs
_HALO = over_lines(11)
#: labels of a map drawn per raid city: its whole-map view is zoomed out on a tall inset, and
#: fewer labels can be larger, drawn where 11-unit ones would be under the page's threshold
_BIG_HALO = over_lines(15)


def _theta_terms(lat: float) -> tuple[float, float, float]:
    theta = math.asin(_M * math.sin(math.radians(lat)))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    return theta, t2, t6


def _unit_equal_earth(lon: float, lat: float) -> tuple[float, float]:
    theta, t2, t6 = _theta_terms(lat)
    x = math.radians(lon) * math.cos(theta) / (
        _M * (_A1 + 3 * _A2 * t2 + t6 * (7 * _A3 + 9 * _A4 * t2)))
    y = theta * (_A1 + _A2 * t2 + t6 * (_A3 + _A4 * t2))
    return x, y


_SCALE = WORLD_HALF_WIDTH / _unit_equal_earth(180.0, 0.0)[0]


def equal_earth(lon: float, lat: float) -> tuple[float, float]:
    """Canvas position of a longitude and latitude in the Equal Earth projection (y down)."""
    x, y = _unit_equal_earth(lon, lat)
    return x * _SCALE, -y * _SCALE


@dataclass(frozen=True, slots=True)
class Outline:
    """A country's outline: its name and rings of (longitude, latitude)."""

    code: str | None
    name: str
    rings: tuple[tuple[tuple[float, float], ...], ...]

    def bbox(self) -> tuple[float, float, float, float]:
        """West, south, east, north."""
        lons = [p[0] for r in self.rings for p in r]
        lats = [p[1] for r in self.rings for p in r]
        return min(lons), min(lats), max(lons), max(lats)


@cache
def outlines() -> tuple[Outline, ...]:
    """The vendored Natural Earth outlines (see ``data/README.md``)."""
    data = json.loads(OUTLINES.read_text(encoding="utf-8"))
    return tuple(
        Outline(c["code"], c["name"], tuple(
            tuple((ring[i] / 10, ring[i + 1] / 10) for i in range(0, len(ring), 2))
            for ring in c["rings"]))
        for c in data["countries"])


def _flat(points: Iterable[tuple[float, float]]) -> list[float]:
    flat: list[float] = []
    for x, y in points:
        pair = [round(x, 1), round(y, 1)]
        if flat[-2:] != pair:
            flat += pair
    return flat


@dataclass(frozen=True, slots=True)
class _Inset:
    """A zoomed panel: local equirectangular projection around (lon0, lat0), ``k`` units per
    degree of latitude, centred on the canvas at (cx, cy)."""

    lon0: float
    lat0: float
    k: float
    cx: float
    cy: float

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        return (self.cx + (lon - self.lon0) * self.k * math.cos(math.radians(self.lat0)),
                self.cy - (lat - self.lat0) * self.k)

    def inverse(self, x: float, y: float) -> tuple[float, float]:
        return (self.lon0 + (x - self.cx) / (self.k * math.cos(math.radians(self.lat0))),
                self.lat0 - (y - self.cy) / self.k)


def shade_breaks(most: int) -> tuple[int, ...]:
    """The lower bound of each shade's class when the country with the most victims has
    ``most``: 1, then four steps of the series 3, 10, 30, 100, 300, 1,000, ..., the last the
    largest one at most ``most`` but never under 100. A small case's classes are 1, 3, 10, 30
    and 100; a national case's countries, each with thousands of victims, are still told apart
    instead of all being "100 or more".

    >>> shade_breaks(0), shade_breaks(299)
    ((1, 3, 10, 30, 100), (1, 3, 10, 30, 100))
    >>> shade_breaks(300), shade_breaks(5_000)
    ((1, 10, 30, 100, 300), (1, 100, 300, 1000, 3000))
    """
    step = 4  # the series' steps are 10 ** (i // 2), times 3 when i is odd: 100 is step 4
    while _series(step + 1) <= most:
        step += 1
    return (1, *(_series(i) for i in range(step - 3, step + 1)))


def _series(step: int) -> int:
    power: int = 10 ** (step // 2)
    return power * (3 if step % 2 else 1)


def _shade(victims: int, breaks: tuple[int, ...]) -> str:
    return _SHADES[sum(1 for b in breaks if victims >= b) - 1]


def _shade_legend(most: int) -> list[LegendEntry]:
    entries = []
    breaks = shade_breaks(most)
    for i, low in enumerate(breaks):
        if low > most:
            break
        high = breaks[i + 1] - 1 if i + 1 < len(breaks) else None
        span = (f"{low:,}" if high == low else f"{low:,}–{high:,}" if high else f"{low:,} or more")
        entries.append(LegendEntry("■", _SHADES[i], f"{span} victim{'' if span == '1' else 's'}"))
    return entries


def _money_text(money: Money | CountryMoney | None) -> str:
    if money is None or not money.payments:
        return "no payments traced"
    paid = "; ".join(f"{a:,.2f} {c}" for c, a in money.by_currency.items())
    return f"{paid} = USD {money.usd:,.2f} in {counted(money.payments, 'payment')}"


def _span(events: Iterable[Event]) -> tuple[str, str] | None:
    found = list(events)
    if not found:
        return None
    first: date = min(e.when for e in found)
    last: date = max(e.end for e in found)
    return first.isoformat(), last.isoformat()


def _box(node: MapNode) -> tuple[float, float, float]:
    """Half width, and extent above and below its position, of a marker with its label
    (vis-network draws a dot's label below it, a box's inside it)."""
    size = float((node.font or {}).get("size", 12))
    half = 0.3 * size * len(node.label) + 4  # about 0.6 em a character
    if node.shape == "box":
        return half, size, size
    return max(half, node.size), node.size + 2, node.size + 1.4 * size + 2


def _bounds(nodes: Iterable[MapNode], box: tuple[float, float, float, float]
            ) -> tuple[float, float, float, float]:
    """``box`` grown to hold every node with its label."""
    left, top, right, bottom = box
    for node in nodes:
        if node.x is None or node.y is None:
            continue
        half, above, below = _box(node)
        left, right = min(left, node.x - half), max(right, node.x + half)
        top, bottom = min(top, node.y - above), max(bottom, node.y + below)
    return left, top, right, bottom


def _spread(points: dict[str, tuple[float, float]],
            boxes_of: Mapping[str, tuple[float, float, float]], heavy: set[str],
            rounds: int = 120, tally: _Tally | None = None) -> dict[str, tuple[float, float]]:
    """Push markers apart until no two of them, labels included, overlap.

    A light marker (site, cell) gives way to a heavy one (country); two of a kind share the
    move. Each pair moves along the axis where they overlap least, so close countries stack
    their labels rather than fly apart.

    A round takes the markers in key order and pushes each one off every later marker its
    box overlaps, in key order, at their current positions (a move counts at once). Only
    pairs whose boxes can meet are tested: a grid of the current boxes, kept up to date on
    every move, names the candidates, so a round costs about the markers and their overlaps,
    not every pair (600 cells with their sites and countries made 845k pairs a round).
    ``boxes_of`` gives each marker's box (:func:`_box`, or a block of raid sites' together).

    Rounds are capped, so some overlaps may be left: :func:`_settle` clears them.
    """
    keys = sorted(points)
    pos = [[points[k][0], points[k][1]] for k in keys]
    boxes = [boxes_of[k] for k in keys]
    tally = _Tally() if tally is None else tally
    light = [k not in heavy for k in keys]
    grid = _Grid(boxes)
    for i, (x, y) in enumerate(pos):
        grid.put(i, x, y)
    for _ in range(rounds):
        moved = False
        for i in range(len(keys)):
            after = i  # the later markers up to here are done with (no overlap, or pushed)
            while (j := _next_overlap(i, after, pos, boxes, grid, tally)) is not None:
                (wa, ua, da), (wb, ub, db) = boxes[i], boxes[j]
                ca, cb = pos[i][1] + (da - ua) / 2, pos[j][1] + (db - ub) / 2
                dx, dy = pos[j][0] - pos[i][0], cb - ca
                over_x = wa + wb + 4 - abs(dx)
                over_y = (ua + da + ub + db) / 2 + 2 - abs(dy)
                # markers on the same spot: the later one (in key order) goes down or right
                if over_y <= over_x:
                    step = [0.0, math.copysign(over_y, dy or 1.0)]
                else:
                    step = [math.copysign(over_x, dx or 1.0), 0.0]
                move_a = light[i] or not light[j]
                move_b = light[j] or not light[i]
                share = 0.5 if move_a and move_b else 1.0
                for axis in (0, 1):
                    if move_a:
                        pos[i][axis] -= step[axis] * share
                    if move_b:
                        pos[j][axis] += step[axis] * share
                if move_a:
                    grid.put(i, *pos[i])
                if move_b:
                    grid.put(j, *pos[j])
                moved = True
                after = j
        if not moved:
            break
    return {k: (p[0], p[1]) for k, p in zip(keys, pos, strict=True)}


def _lay_out(points: dict[str, tuple[float, float]],
             boxes: Mapping[str, tuple[float, float, float]], heavy: set[str],
             tally: _Tally | None = None) -> dict[str, tuple[float, float]]:
    """Markers pushed apart (:func:`_spread`), then what is left overlapping moved
    (:func:`_settle`): no two boxes overlap."""
    tally = _Tally() if tally is None else tally
    return _settle(_spread(points, boxes, heavy, tally=tally), boxes, heavy, tally)


def _overlap(a: int, b: int, pos: list[list[float]],
             boxes: list[tuple[float, float, float]]) -> bool:
    """Whether the boxes of markers ``a`` and ``b`` overlap (the test :func:`_spread` pushes
    on, computed exactly as it computes the push)."""
    (wa, ua, da), (wb, ub, db) = boxes[a], boxes[b]
    ca, cb = pos[a][1] + (da - ua) / 2, pos[b][1] + (db - ub) / 2
    return (wa + wb + 4 - abs(pos[b][0] - pos[a][0]) > 0
            and (ua + da + ub + db) / 2 + 2 - abs(cb - ca) > 0)


def _next_overlap(i: int, after: int, pos: list[list[float]],
                  boxes: list[tuple[float, float, float]], grid: _Grid, tally: _Tally
                  ) -> int | None:
    """The first marker after ``after`` (in key order) whose box overlaps that of ``i``."""
    for j in sorted(j for j in grid.near(i, *pos[i]) if j > after):
        tally.tests += 1
        if _overlap(i, j, pos, boxes):
            return j
    return None


@dataclass(slots=True)
class _Tally:
    """The pairs of boxes a layout tested: its cost, counted rather than timed."""

    tests: int = 0


def _settle(points: Mapping[str, tuple[float, float]],
            boxes_of: Mapping[str, tuple[float, float, float]], heavy: set[str],
            tally: _Tally | None = None) -> dict[str, tuple[float, float]]:
    """``points`` with no two boxes overlapping, in one pass with no pushing back and forth.

    Markers that overlap none stay where they are. Heavy markers (countries) that do are
    taken from the top down, each moved down just below what it overlaps, so they stack in
    the order of their places (Hong Kong stays above the Philippines). Light ones (sites,
    cells) then go to the nearest free spot of a spiral around them. Each marker tests only
    the placed markers near the spots it tries, so the cost grows with the markers, not
    their pairs. After :func:`_spread` it moves only what its capped rounds left
    overlapping.
    """
    tally = _Tally() if tally is None else tally
    crowded = {k for k, n in _overlaps(points, boxes_of, tally).items() if n}
    keys = sorted(points, key=lambda k: (k in crowded, k not in heavy, points[k][1], k))
    pos = [[points[k][0], points[k][1]] for k in keys]
    boxes = [boxes_of[k] for k in keys]
    grid = _Grid(boxes)

    def overlapped(i: int) -> int | None:
        for j in sorted(grid.near(i, *pos[i])):
            tally.tests += 1
            if _overlap(i, j, pos, boxes):
                return j
        return None

    for i, key in enumerate(keys):
        if key in crowded and key in heavy:
            while (j := overlapped(i)) is not None:
                (_, ua, da), (_, ub, db) = boxes[i], boxes[j]
                below = pos[j][1] + (db - ub) / 2 + (ua + da + ub + db) / 2 + 2.001
                pos[i][1] = below - (da - ua) / 2
        elif key in crowded:
            x, y = pos[i]
            half, above, below_ = boxes[i]
            for dx, dy in _spiral((2 * half + 4) / 4, (above + below_ + 2) / 4):
                pos[i] = [x + dx, y + dy]
                if overlapped(i) is None:
                    break
        grid.put(i, *pos[i])
    return {k: (p[0], p[1]) for k, p in zip(keys, pos, strict=True)}


def _overlaps(points: Mapping[str, tuple[float, float]],
              boxes_of: Mapping[str, tuple[float, float, float]],
              tally: _Tally | None = None) -> dict[str, int]:
    """How many other markers each marker's box overlaps."""
    keys = sorted(points)
    pos = [[points[k][0], points[k][1]] for k in keys]
    boxes = [boxes_of[k] for k in keys]
    grid = _Grid(boxes)
    for i, (x, y) in enumerate(pos):
        grid.put(i, x, y)
    found = dict.fromkeys(keys, 0)
    for i, key in enumerate(keys):
        for j in grid.near(i, *pos[i]):
            if tally is not None:
                tally.tests += 1
            found[key] += _overlap(i, j, pos, boxes)
    return found


def _spiral(sx: float, sy: float) -> Iterator[tuple[float, float]]:
    """Offsets on a lattice of ``sx`` by ``sy`` (a quarter of a box's width and height with
    the gap kept: the nearest free spot is found within a quarter box), nearest first,
    endless."""
    shell, inner = max(sx, sy), -1.0
    reach = shell
    while True:
        nx_, ny_ = math.floor(reach / sx), math.floor(reach / sy)
        ring = sorted((math.hypot(dx * sx, dy * sy), dy, dx)
                      for dx in range(-nx_, nx_ + 1) for dy in range(-ny_, ny_ + 1))
        for dist, dy, dx in ring:
            if inner < dist <= reach:
                yield dx * sx, dy * sy
        inner, reach = reach, reach + shell


class _Grid:
    """Markers by the square cells of the plane their boxes (with the gap kept between
    labels) cover: two boxes that overlap share a cell.

    Cells are as large as the median box, so most boxes cover a few cells and a cell holds a
    few boxes.
    """

    def __init__(self, boxes: list[tuple[float, float, float]]) -> None:
        # half extents around the box's centre, 2 units of gap and a little slack for
        # rounding: the exact test is made by the caller
        self._half = [(w + 2.001, (u + d) / 2 + 1.001, (d - u) / 2) for w, u, d in boxes]
        sizes = sorted(2 * max(hx, hy) for hx, hy, _ in self._half)
        self._size = sizes[len(sizes) // 2] if sizes else 1.0
        self._cells: dict[tuple[int, int], set[int]] = defaultdict(set)
        self._at: dict[int, list[tuple[int, int]]] = {}

    def _span(self, i: int, x: float, y: float) -> list[tuple[int, int]]:
        hx, hy, shift = self._half[i]
        size, cy = self._size, y + shift
        return [(gx, gy)
                for gx in range(math.floor((x - hx) / size), math.floor((x + hx) / size) + 1)
                for gy in range(math.floor((cy - hy) / size), math.floor((cy + hy) / size) + 1)]

    def put(self, i: int, x: float, y: float) -> None:
        """Place marker ``i`` at (``x``, ``y``), wherever it was before."""
        for cell in self._at.get(i, ()):
            self._cells[cell].discard(i)
        self._at[i] = self._span(i, x, y)
        for cell in self._at[i]:
            self._cells[cell].add(i)

    def near(self, i: int, x: float, y: float) -> set[int]:
        """The markers sharing a cell with marker ``i`` at (``x``, ``y``)."""
        found: set[int] = set()
        for cell in self._span(i, x, y):
            found |= self._cells.get(cell, set())
        found.discard(i)
        return found


#: a city's raid sites are drawn one by one, stacked at the city, up to this many; more are
#: one marker naming them all (a column of dozens of labels is read no better than a list)
_STACK = 8
_ROW = 28.0  # units between stacked site labels: a box's label is 24 high, 2 kept clear


@dataclass(frozen=True, slots=True)
class _Block:
    """The raid sites of one city as drawn: their markers, stacked around one point."""

    key: str
    """The block's name in the layout (its first site's, if that site is drawn alone)."""
    at: tuple[float, float]
    sites: tuple[str, ...]
    nodes: tuple[MapNode, ...]
    offsets: tuple[tuple[float, float], ...]
    """Each node's place from ``at``."""

    @property
    def box(self) -> tuple[float, float, float]:
        """Half width and extent above and below ``at`` of the whole stack (as :func:`_box`)."""
        boxes = [_box(n) for n in self.nodes]
        return (max(b[0] for b in boxes),
                -min(dy - b[1] for b, (_, dy) in zip(boxes, self.offsets, strict=True)),
                max(dy + b[2] for b, (_, dy) in zip(boxes, self.offsets, strict=True)))

    @property
    def drawn_as(self) -> dict[str, str]:
        """Each site and the marker that shows it."""
        if len(self.nodes) == len(self.sites):
            return {site: site for site in self.sites}
        return dict.fromkeys(self.sites, self.nodes[0].id)


def site_order(graph: nx.MultiDiGraph, privacy: Privacy) -> Callable[[str], tuple[Any, ...]]:
    """The sort key of raid sites: their labels as shown, in natural order ("call centre 2"
    before "call centre 10"), then their ids."""
    return lambda site: (natural(privacy.label(site, graph.nodes[site])), site)


def city_key(graph: nx.MultiDiGraph, site: str) -> str:
    """The city of the raid site ``site`` as :func:`home` breaks ties by: its city and region,
    or the site itself where it has no city (the cell map and the victims map place a cell
    with as many sites in two cities in the same one)."""
    attrs = graph.nodes[site]
    if attrs.get("city"):
        return f"city\x00{attrs['city']}\x00{attrs.get('region') or ''}"
    return f"site\x00{site}"


def home(held: Counter[str], none: str) -> str:
    """Where a cell works, of the places ``held`` counts its raid sites in: the one with most
    of them (of equals, the first by key); ``none`` for a cell with no known site.

    >>> home(Counter({"b": 2, "a": 2, "c": 1}), ""), home(Counter(), "none")
    ('a', 'none')
    """
    return min(held, key=lambda k: (-held[k], k)) if held else none


def _site_blocks(graph: nx.MultiDiGraph, site_geo: Mapping[str, tuple[float, float]],
                 project: Callable[[float, float], tuple[float, float]], privacy: Privacy
                 ) -> list[_Block]:
    """Raid sites grouped by city: each city's sites stacked in a column at the mean of their
    points, or, above :data:`_STACK` of them, one marker "Taguig City: 50 raid sites" whose
    tooltip lists them (with their coordinates). Sites with no city are grouped by their
    spot."""
    cities: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for site in site_geo:
        attrs = graph.nodes[site]
        city = attrs.get("city")
        # sites with no city that share a spot (to about 100 m) are one pile all the same
        lon, lat = site_geo[site]
        cities[(str(city), str(attrs.get("region") or "")) if city
               else ("", f"{lon:.3f}", f"{lat:.3f}")].append(site)
    blocks = []
    for group in cities.values():
        group.sort(key=site_order(graph, privacy))
        points = [project(*site_geo[s]) for s in group]
        at = (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
        shown = [_site_node(graph, site, site_geo[site], privacy) for site in group]
        if len(group) <= _STACK:
            rows = [(0.0, (i - (len(group) - 1) / 2) * _ROW) for i in range(len(group))]
            blocks.append(_Block(min(group), at, tuple(group), tuple(shown), tuple(rows)))
            continue
        attrs = graph.nodes[group[0]]
        where = place(attrs)
        listed = "\n".join(f"{n.label} ({site_geo[s][1]:.4f}, {site_geo[s][0]:.4f})"
                           for n, s in zip(shown, group, strict=True))
        key = f"sites:{min(group)}"
        node = MapNode(key, clip(f"{attrs['city']}: {counted(len(group), 'raid site')}",
                                 _LABEL_CHARS), shape="box", size=7,
                       color=type_style("Location").color, title=privacy.text(
                           f"{counted(len(group), 'raid site')} in {where}\n{listed}"))
        blocks.append(_Block(key, at, tuple(group), (node,), ((0.0, 0.0),)))
    return sorted(blocks, key=lambda b: b.key)


def _site_node(graph: nx.MultiDiGraph, site: str, where: tuple[float, float],
               privacy: Privacy) -> MapNode:
    """A raid site's marker, its tooltip saying where it is."""
    lon, lat = where
    attrs = graph.nodes[site]
    label = privacy.label(site, attrs)
    return MapNode(site, clip(label, _LABEL_CHARS), shape="box", size=7,
                   color=type_style("Location").color, title=privacy.text(
                       f"Raid site: {label}\n{place(attrs)}\n{lat:.4f}, {lon:.4f}"))


_RING_GAP = 80.0  # units between rings of cells: more than a cell's label is wide or high


def _cell_ring(reaches: list[CellReach], points: Mapping[str, tuple[float, float]],
               gap: float) -> dict[str, tuple[float, float]]:
    """Cells with known raid sites on a ring around those sites, each on the side of its own.

    Dozens of cells share a few offices in one region; drawn at their sites they would hide
    the sites and each other, so they sit around them, linked to their sites by dashed lines.
    Hundreds of cells on one ring ``gap`` apart would make it many times wider than the
    world (600 cells: 11,000 units), so they take turns on a few rings ``_RING_GAP`` apart:
    each cell stays at its bearing, and the rings' span grows with the square root of the
    cells.
    """
    located = {r.cell_id: [points[s] for s in sorted(r.sites) if s in points] for r in reaches}
    located = {c: here for c, here in located.items() if here}
    if not located:
        return {}
    every = [p for here in located.values() for p in here]
    cx, cy = sum(p[0] for p in every) / len(every), sum(p[1] for p in every) / len(every)
    reach_out = max(math.hypot(p[0] - cx, p[1] - cy) for p in every)
    # the number of rings that keeps the outer one nearest: n cells on k rings, each ring's
    # neighbours ``gap`` apart, reach gap * n / (2 pi k) + (k - 1) * _RING_GAP
    rings = max(1, round(math.sqrt(gap * len(located) / (2 * math.pi * _RING_GAP))))
    # far enough out that neighbours on a ring are ``gap`` apart
    radius = max(reach_out + 40, gap * len(located) / (2 * math.pi * rings))

    def bearing(cell: str) -> float:
        here = located[cell]
        x = sum(p[0] for p in here) / len(here) - cx
        y = sum(p[1] for p in here) / len(here) - cy
        return math.atan2(y, x) if (x, y) != (0.0, 0.0) else 0.0

    ordered = sorted(located, key=lambda c: (bearing(c), c))
    step = 2 * math.pi / len(ordered)
    start = bearing(ordered[0])
    return {cell: (cx + (radius + i % rings * _RING_GAP) * math.cos(start + i * step),
                   cy + (radius + i % rings * _RING_GAP) * math.sin(start + i * step))
            for i, cell in enumerate(ordered)}


def _sites(graph: nx.MultiDiGraph) -> dict[str, tuple[float, float]]:
    """Raid sites and other places with coordinates: node -> (lon, lat)."""
    found = {}
    for node, attrs in nodes_of_type(graph, "Location"):
        lat, lon = attrs.get("lat"), attrs.get("lon")
        if (isinstance(lat, int | float)
                and isinstance(lon, int | float) and -90 <= lat <= 90 and -180 <= lon <= 180):
            found[node] = (float(lon), float(lat))
    return dict(sorted(found.items()))


def _world_bottom() -> float:
    return max(equal_earth(lon, lat)[1] for o in outlines() for r in o.rings for lon, lat in r)


def _world_top() -> float:
    return min(equal_earth(lon, lat)[1] for o in outlines() for r in o.rings for lon, lat in r)


def _inset(sites: Mapping[str, tuple[float, float]]) -> _Inset | None:
    """The zoomed panel for the raid sites, or None when they are spread too wide for one."""
    if not sites:
        return None
    lons = [p[0] for p in sites.values()]
    lats = [p[1] for p in sites.values()]
    span = max(max(lons) - min(lons), max(lats) - min(lats))
    if span > _INSET_MAX_SPAN:
        return None
    lon0, lat0 = (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2
    k = min(100.0, 140.0 / max(span, 0.5))  # the sites over about 140 units
    return _Inset(lon0, lat0, k, 0.0, 0.0)


@dataclass
class _Canvas:
    """What is placed where: marker positions, their radius, and the backdrop shapes."""

    points: dict[str, tuple[float, float]]
    radius: dict[str, float]
    shapes: list[Shape]


def _country_radius(victims: int) -> float:
    """A country marker's radius: by the square root of its victims up to 64 of them (25
    units), by their logarithm beyond, so thousands of victims of a country of a national
    case make a marker about the size of a small country, not one over its neighbours.

    >>> _country_radius(16), round(_country_radius(2048), 1)
    (15.0, 32.5)
    """
    if victims <= 64:
        return 5 + 2.5 * math.sqrt(victims)
    return 25 + 1.5 * math.log2(victims / 64)


def _country_nodes(per_country: Counter[str], money: Mapping[str, CountryMoney],
                   active: Mapping[str, tuple[str, str] | None], canvas: _Canvas,
                   radius: Callable[[int], float] = _country_radius,
                   font: Mapping[str, Any] = _HALO) -> dict[str, MapNode]:
    table, _ = country_table()
    nodes: dict[str, MapNode] = {}
    for code, count in sorted(per_country.items()):
        key = f"country:{code}"
        if code in table:
            row = table[code]
            name, where = row.name, f"{row.name} ({code})"
            canvas.points[key] = equal_earth(row.lon, row.lat)
            colour = _MARKER
        else:
            name = "Country unknown"
            where = ("Country unknown: victims with no country in the evidence"
                     + ("" if code == UNKNOWN_COUNTRY else f" (recorded as {code})"))
            colour = _UNKNOWN
        canvas.radius[key] = radius(count)
        nodes[key] = MapNode(key, clip(f"{name} · {count:,}", _LABEL_CHARS), color=colour,
                             font=dict(font), size=canvas.radius[key], active=active.get(code),
                             title=f"{where}\n{counted(count, 'victim')}\n"
                                   f"paid to cells: {_money_text(money.get(code))}")
    return nodes


def victim_map(store: Store, *, graph: nx.MultiDiGraph | None = None,
               active: tuple[date | None, date | None] = (None, None),
               cells: list[CellRecord] | None = None,
               timelines: tuple[Timeline, Mapping[str, Timeline]] | None = None,
               reaches: list[CellReach] | None = None) -> MapSpec:
    """Victims across countries on a world map (see the module docstring).

    No victim is drawn individually: countries carry counts, and each cell-to-country arc
    the number of victims and the money paid.

    Parameters
    ----------
    store
        The case; its latest cell run is drawn.
    graph
        The evidence graph if the caller already projected it.
    active
        First and last day the map's time filter opens on (either may be None: the case's
        first or last day); what was not active then is hidden until the filter is widened.
    cells
        The cells to draw (default: the latest run's, read from ``store``: a caller that
        holds them passes them); one saved without a report is counted from ``graph`` (a
        referral draws its part of the case that way).
    timelines
        The case's timeline and each cell's by cell id, if the caller already drew them
        (:func:`~ringmap.viz.timeline.case_timeline`, :func:`~ringmap.viz.timeline.
        cell_timelines` of ``graph`` and ``cells``): a run writes them too.
    reaches
        The reach of each of ``cells`` (:func:`~ringmap.viz.reach.reach_cells` of ``graph``
        and ``cells``) if the caller already found them: a run finds them once for every map,
        timeline and package. Used with ``cells``.
    """
    # read from the packed arrays, not built as Python dicts (6 GB at 2.6M rows)
    graph = store.evidence() if graph is None else graph
    table, _ = country_table()
    if cells is None:
        latest = store.latest_cells(explanations=False, reports=False)  # figures drawn
        cells, reaches = (latest[1] if latest is not None else []), None
    records: list[CellRecord] = cells
    order = {c.cell_id: i for i, c in enumerate(records)}
    reaches = reach_cells(graph, records) if reaches is None else reaches
    victims = sorted(n for n, a in nodes_of_type(graph, "Person") if is_victim(a))
    label_of = {v: country_label(graph, v) for v in victims}
    # codes the country table does not know are victims of unknown country for the map
    placed = {v: (c if c in table else UNKNOWN_COUNTRY) for v, c in label_of.items()}
    per_country = Counter(placed.values())
    case_line, cell_lines = timelines if timelines is not None else (case_timeline(graph), {})
    case_events = case_line.events
    window = _span(case_events)
    spans = {code: _span(e for e in case_events if e.victim and placed.get(e.victim) == code)
             for code in per_country}

    canvas = _Canvas({}, {}, [])
    breaks = shade_breaks(max((n for c, n in per_country.items() if c in table), default=0))
    shades = {code: _shade(n, breaks) for code, n in per_country.items() if code in table}
    for outline in outlines():
        fill = shades.get(outline.code or "", _LAND)
        canvas.shapes.append(Shape(
            [_flat(equal_earth(lon, lat) for lon, lat in ring) for ring in outline.rings],
            fill=fill, stroke=_BORDER))
    world_top, world_bottom = _world_top(), _world_bottom()

    figures_of = {r.cell_id: figures(graph, r, records[order[r.cell_id]]) for r in reaches}
    money_by_country: dict[str, CountryMoney] = {}
    for tally in figures_of.values():
        for code, paid in tally.money.by_country.items():
            code = code if code in table else UNKNOWN_COUNTRY
            money_by_country[code] = _add_money(money_by_country.get(code), paid)
    for tally in figures_of.values():  # a stale report may name a country the graph lacks
        for code in tally.by_country:
            per_country[code if code in table else UNKNOWN_COUNTRY] += 0
    by_city = len(reaches) > MOST_CELLS
    # drawn per raid city, the countries of a national case are as large as those of a
    # small one, their labels giving the counts: markers over their neighbours would be
    # pushed off their places
    most = max(per_country.values(), default=0) or 1
    nodes = _country_nodes(per_country, money_by_country, spans, canvas,
                           radius=(lambda n: 6 + 9 * math.sqrt(n / most)) if by_city
                           else _country_radius, font=_BIG_HALO if by_city else _HALO)

    site_geo = _sites(graph)
    inset = _inset(site_geo)
    privacy = Privacy()
    blocks = _site_blocks(graph, site_geo, equal_earth if inset is None else inset.project,
                          privacy)
    events_of = {r.cell_id: (cell_lines[r.cell_id] if r.cell_id in cell_lines
                             else cell_timeline(graph, r.members, r.payments)).events
                 for r in reaches}
    d = _Drawing(graph, canvas, nodes, figures_of, events_of, placed, privacy)
    cities = _draw_cities(d, reaches, blocks) if by_city else None
    if cities is None:
        _draw_cells(d, reaches, blocks, order)
    blocks = [b for b in blocks if b.key in canvas.points]  # not those a city marker stands for
    boxes = {k: _box(nodes[k]) for k in canvas.points} | {b.key: b.box for b in blocks}
    held, spots = None, {}
    if cities is not None:
        # the city markers are moved apart, labels and all, and the panel sized to hold them;
        # a dot stays where each city is, its marker tied to it
        spots = {f"spot:{k}": canvas.points[k] for k in d.inside if k.startswith("city:")}
        # to the nearest free spot (a compact cluster), not pushed apart (a tall column)
        canvas.points |= _settle({k: canvas.points[k] for k in d.inside}, boxes, set())
        canvas.points |= spots
        held = boxes | dict.fromkeys(spots, (3.0, 3.0, 3.0))
    panel = _place_inset(inset, site_geo, canvas, [*d.inside, *spots], world_bottom, held)
    spots = {k: canvas.points.pop(k) for k in spots}
    _place_apart(nodes, canvas, d.unplaced, world_bottom if panel is None else panel[3])
    boxes |= {k: _box(nodes[k]) for k in canvas.points if k not in boxes}
    heavy = {k for k in canvas.points if k.startswith("country:")}
    laid = _lay_out(canvas.points, boxes, heavy)
    offsets = {node.id: (block.key, dx, dy) for block in blocks
               for node, (dx, dy) in zip(block.nodes, block.offsets, strict=True)}
    for key, node in nodes.items():
        at, dx, dy = offsets.get(key, (key, 0.0, 0.0))
        node.x, node.y = laid[at][0] + dx, laid[at][1] + dy
        node.fixed = True
    for city in cities or ():
        if (spot := f"spot:{city.key}") in spots:
            x, y = spots[spot]
            # a blank label: an empty one is drawn as the node's id
            nodes[spot] = MapNode(spot, " ", title=f"{city.name}: where its raid sites are",
                                  size=3, color=city.colour, x=x, y=y, fixed=True)
    bounds = _bounds(nodes.values(), (-WORLD_HALF_WIDTH, world_top, WORLD_HALF_WIDTH,
                                      world_bottom if panel is None else panel[3]))
    attributed = len(set().union(*(r.victims for r in reaches))) if reaches else 0
    legend = _legend(records, order, figures_of, per_country, attributed, len(victims),
                     None if cities is None else _city_legend(cities, figures_of))
    notes = (_cell_notes(records, inset is not None, len(d.unplaced)) if cities is None
             else _city_notes(cities, inset is not None))
    return MapSpec("Victims across countries", list(nodes.values()), d.edges, legend, notes,
                   physics=False, backdrop=canvas.shapes, bounds=bounds,
                   weights={"victims": "victims", "usd": "money (USD)"},
                   window=window, window_shown=_shown(window, active), finds=d.finds,
                   strokes=[(k, k.removeprefix("spot:")) for k in spots])


@dataclass
class _Drawing:
    """What cells (or raid cities) are drawn onto and from: the canvas and markers so far
    (countries), each cell's figures and events, the country each victim is drawn in; and
    what drawing them adds besides markers."""

    graph: nx.MultiDiGraph
    canvas: _Canvas
    nodes: dict[str, MapNode]
    figures_of: Mapping[str, Figures]
    events_of: Mapping[str, Sequence[Event]]
    placed: Mapping[str, str]
    privacy: Privacy
    edges: list[MapEdge] = field(default_factory=list)
    inside: list[str] = field(default_factory=list)
    """Markers that go into the inset panel with the raid sites."""
    unplaced: list[str] = field(default_factory=list)
    """Markers of cells with no known raid site (drawn apart, at the left)."""
    finds: dict[str, list[str]] = field(default_factory=dict)
    """The cells the search box finds at a marker that does not name them."""

    def block_nodes(self, block: _Block) -> None:
        """Draw a city's raid sites as they are: stacked, or one marker listing them."""
        self.canvas.points[block.key] = block.at
        for node in block.nodes:
            self.canvas.radius[node.id] = 7
            self.nodes[node.id] = node
        self.inside.append(block.key)

    def arcs(self, key: str, name: str, colour: str, by_country: Mapping[str, int],
             money: Mapping[str, CountryMoney], events: Iterable[Event], of: str = "",
             widths: tuple[Callable[[int], float], Callable[[float], float]] = (
                 lambda hit: 1 + 2 * math.log2(1 + hit),
                 lambda usd: 1 + 1.2 * math.log2(1 + usd / 250))) -> None:
        """Arcs from marker ``key`` (called ``name``) to the countries of its victims,
        ``by_country`` victims and ``money`` paid each, active on the days of ``events``
        that concern a victim there; ``of`` says whose figures they are, ``widths`` the
        width of an arc of so many victims, and of so many USD paid."""
        active: dict[str, list[Event]] = defaultdict(list)
        for e in events:
            if e.victim and e.victim in self.placed:
                active[self.placed[e.victim]].append(e)
        table, _ = country_table()
        by_victims, by_usd = widths
        for code, hit in sorted(by_country.items()):
            traced = money.get(code)
            usd = traced.usd if traced else 0.0
            self.edges.append(MapEdge(
                key, f"country:{code}", color=colour, arrows=False, smooth=0.18,
                width=by_victims(hit), weights={"victims": by_victims(hit), "usd": by_usd(usd)},
                active=_span(active.get(code, ())),
                title=f"{name} → {table[code].name if code in table else 'country unknown'}\n"
                      f"{counted(hit, 'victim')}{of}\npaid: {_money_text(traced)}"))

    def countries_of(self, cells: Iterable[str]) -> tuple[dict[str, int], dict[str, CountryMoney]]:
        """The victims and money per country (as drawn: a code the country table does not
        know is the unknown country) of these cells, their own figures added."""
        table, _ = country_table()
        victims: dict[str, int] = defaultdict(int)
        money: dict[str, CountryMoney] = {}
        for cell in cells:
            tally = self.figures_of[cell]
            for code, hit in tally.by_country.items():
                victims[code if code in table else UNKNOWN_COUNTRY] += hit
            for code, paid in tally.money.by_country.items():
                code = code if code in table else UNKNOWN_COUNTRY
                money[code] = _add_money(money.get(code), paid)
        return victims, money


def _draw_cells(d: _Drawing, reaches: list[CellReach], blocks: list[_Block],
                order: Mapping[str, int]) -> None:
    """Each cell a marker around the raid sites, linked to its sites and arcs to the
    countries of its victims (a map of up to :data:`MOST_CELLS` cells)."""
    canvas, nodes, graph, privacy = d.canvas, d.nodes, d.graph, d.privacy
    drawn_as: dict[str, str] = {}  # raid site -> the marker that shows it
    for block in blocks:
        d.block_nodes(block)
        drawn_as |= block.drawn_as
    ring = _cell_ring(reaches, {site: canvas.points[b.key] for b in blocks for site in b.sites},
                      gap=60.0)
    for r in reaches:
        key = f"cell:{r.cell_id}"
        if r.cell_id in ring:
            canvas.points[key] = ring[r.cell_id]
            d.inside.append(key)
        else:
            d.unplaced.append(key)
        canvas.radius[key] = 6 + 1.5 * math.sqrt(len(r.members))
        colour = cell_colour(order[r.cell_id])
        tally = d.figures_of[r.cell_id]
        events = d.events_of[r.cell_id]
        nodes[key] = MapNode(key, clip(name_of(r.cell_id), _LABEL_CHARS), color=colour, font=_HALO,
                             size=canvas.radius[key], active=_span(events), title=privacy.text(
                                 f"{name_of(r.cell_id)}\n{counted(len(r.members), 'member')}\n"
                                 f"{counted(tally.victims, 'victim')}\n"
                                 f"received: {_money_text(tally.money)}\n"
                                 f"(figures from the {tally.source})"))
        shown: dict[str, list[str]] = defaultdict(list)  # marker -> the cell's sites there
        for site in sorted(r.sites):
            if site in drawn_as:
                shown[drawn_as[site]].append(site)
        for marker, here in shown.items():
            what = ("raid site" if marker == here[0] else "raid sites: " + "; ".join(
                privacy.label(site, graph.nodes[site]) for site in here))
            d.edges.append(MapEdge(key, marker, dashes=True, color=colour, arrows=False,
                                   title=privacy.text(f"{name_of(r.cell_id)} — {what}")))
        victims, _ = d.countries_of([r.cell_id])
        d.arcs(key, name_of(r.cell_id), colour, victims, tally.money.by_country, events)

@dataclass(frozen=True, slots=True)
class _City:
    """The cells of one raid city drawn as one marker (a map of more than
    :data:`MOST_CELLS` cells)."""

    key: str
    name: str
    colour: str
    cells: tuple[str, ...]
    """By victims, most first."""
    victims: int
    """Its cells' victims, added (a victim of two of its cells counts twice)."""
    usd: float


def _draw_cities(d: _Drawing, reaches: list[CellReach], blocks: list[_Block]) -> list[_City]:
    """Cells drawn per raid city: one marker where a city's raid sites are, for the cells
    that work there (a cell with sites in several cities at the one with most of them),
    arcs from it to the countries of its cells' victims with their figures added; cells with
    no known raid site one marker apart. The marker's tooltip names the city's cells by
    victims (the first :data:`LISTED`, the rest counted) and the search box finds every
    one of them there. A city whose raid sites no cell works at keeps its sites as drawn."""
    graph, privacy = d.graph, d.privacy
    block_of = {site: b for b in blocks for site in b.sites}
    # a block's city as the cell map names it, which breaks a tie between cities
    city_of = {b.key: city_key(graph, b.sites[0]) for b in blocks}
    block_at = {city: key for key, city in city_of.items()}
    members: dict[str, list[str]] = defaultdict(list)  # block key ("" for none) -> cells
    for r in reaches:
        held = Counter(city_of[block_of[s].key] for s in r.sites if s in block_of)
        members[block_at.get(home(held, ""), "")].append(r.cell_id)

    def victims(cell: str) -> int:
        return int(d.figures_of[cell].victims)

    by_block = {b.key: b for b in blocks}
    # the city of most victims takes the first colour
    ranked = sorted(members, key=lambda k: (-sum(map(victims, members[k])), k))
    cities = []
    for i, key in enumerate(ranked):
        cells = tuple(sorted(members[key], key=lambda c: (-victims(c), c)))
        block = by_block.get(key)
        name = _city_name(graph, block, privacy) if block else "No known raid site"
        usd = sum(d.figures_of[c].money.usd for c in cells)
        cities.append(_City(f"city:{key}", name, cell_colour(i), cells,
                            sum(map(victims, cells)), usd))
    for block in blocks:
        if block.key not in members:
            d.block_nodes(block)
    figures_of = {city.key: d.countries_of(city.cells) for city in cities}
    # arcs as wide as their share of the widest: which city hits which country how hard
    most = max((hit for victims_, _ in figures_of.values() for hit in victims_.values()),
               default=0) or 1
    richest = max((paid.usd for _, money in figures_of.values() for paid in money.values()),
                  default=0.0) or 1.0
    widths = (lambda hit: 1 + 11 * hit / most, lambda usd: 1 + 11 * usd / richest)
    for city in cities:
        block = by_block.get(city.key.removeprefix("city:"))
        if block is None:
            d.unplaced.append(city.key)
        else:
            d.canvas.points[city.key] = block.at
            d.inside.append(city.key)
        d.canvas.radius[city.key] = min(8 + 1.5 * math.sqrt(len(city.cells)), 24.0)
        events = [e for c in city.cells for e in d.events_of[c]]
        by_victims = "\n".join(f"{name_of(c)} · {counted(victims(c), 'victim')} · "
                           f"USD {d.figures_of[c].money.usd:,.0f}"
                           for c in city.cells[:LISTED])
        more = len(city.cells) - LISTED
        sites = "" if block is None else "\n" + listed(
            [privacy.label(s, graph.nodes[s]) for s in block.sites], "raid site")
        d.nodes[city.key] = MapNode(
            city.key, clip(f"{city.name} · {counted(len(city.cells), 'cell')}", _LABEL_CHARS),
            color=city.colour, font=_BIG_HALO, size=d.canvas.radius[city.key],
            active=_span(events),
            title=privacy.text(
                f"{city.name}: {counted(len(city.cells), 'cell')}, "
                f"{counted(city.victims, 'victim')}, USD {city.usd:,.0f}{sites}\n"
                f"Cells by victims (victims, USD received):\n{by_victims}"
                + (f"\n… and {counted(more, 'more cell')}: search a cell id" if more > 0 else "")
                + "\n(figures from the cells' reports, added: a victim of two cells counts "
                  "twice)"))
        d.finds[city.key] = [name_of(c) for c in city.cells]
        by_country, money = figures_of[city.key]
        d.arcs(city.key, city.name, city.colour, by_country, money, events,
               of=f" of its {counted(len(city.cells), 'cell')}, their counts added",
               widths=widths)
    return cities


#: cells (and raid sites) a city marker's tooltip, and the legend, list by name; the rest
#: are counted, and the search box finds them
LISTED = 20


def listed(names: Sequence[str], noun: str) -> str:
    """``names`` counted, the first :data:`LISTED` of them named.

    >>> listed(["a", "b"], "raid site")
    '2 raid sites: a; b'
    """
    more = len(names) - LISTED
    return (f"{counted(len(names), noun)}: " + "; ".join(names[:LISTED])
            + (f"; … and {more:,} more" if more > 0 else ""))


def _city_name(graph: nx.MultiDiGraph, block: _Block, privacy: Privacy) -> str:
    """What a city marker is called: the city of its raid sites, or, for sites with no city,
    the site (or their number)."""
    attrs = graph.nodes[block.sites[0]]
    if attrs.get("city"):
        return str(attrs["city"])
    if len(block.sites) == 1:
        return privacy.label(block.sites[0], attrs)
    return counted(len(block.sites), "raid site")


def _city_legend(cities: list[_City], figures_of: Mapping[str, Figures]
                 ) -> list[LegendSection]:
    """The legend's cities, its top cells by victims (never hundreds of lines) and its
    map signs, for a map drawn per raid city."""
    city_of = {c: city for city in cities for c in city.cells}
    top = sorted(city_of, key=lambda c: (-figures_of[c].victims, c))
    cells = [LegendEntry("●", city_of[c].colour, clip(
        f"{c} · {figures_of[c].victims:,} · USD {figures_of[c].money.usd:,.0f} · "
        f"{city_of[c].name}", 60)) for c in top[:LISTED]]
    if len(top) > LISTED:
        cells.append(LegendEntry("…", _UNKNOWN, f"and {counted(len(top) - LISTED, 'more cell')}"
                                                ": search a cell id"))
    places = [LegendEntry("●", city.colour, clip(
        f"{city.name} · {counted(len(city.cells), 'cell')} · {city.victims:,}", 60))
        for city in cities[:LISTED]]
    if len(cities) > LISTED:
        rest = counted(len(cities) - LISTED, "more city", "more cities")
        places.append(LegendEntry("…", _UNKNOWN, f"and {rest}"))
    return [
        LegendSection("Raid cities (cells, victims)", places),
        LegendSection(f"Top cells of {len(top):,} (victims, USD received, city)", cells),
        LegendSection("Map", [
            LegendEntry("●", _MARKER, "raid city: its cells (hover for them)"),
            LegendEntry("▬", type_style("Location").color, "raid site no cell works at"),
            LegendEntry("⌒", "#555555", "raid city → country of its cells' victims")])]


def _city_notes(cities: list[_City], inset: bool) -> list[str]:
    cells = sum(len(c.cells) for c in cities)
    notes = [f"{cells:,} cells, more than {MOST_CELLS} one map shows readably: each raid city "
             "is one marker for the cells working there (a cell with raid sites in several "
             "cities at the one with most of them). Arcs run from it to the countries of its "
             "cells' victims, the cells' counts added (width: victims, or money with the "
             "switch above). Search a cell id to find its city; hover a city for its cells.",
             "Outlines: Natural Earth 1:110m (public domain)."]
    if inset:
        notes.append("The framed panel enlarges the region of the raid sites.")
    return notes


def _cell_notes(records: list[CellRecord], inset: bool, unplaced: int) -> list[str]:
    # a referral scoped to one offender draws him, not cells: the notes say so, as the legend
    cells_, their, drawn = (("the offender", "its", "the offender is drawn beside")
                            if _alone(records) else ("cells", "their", "cells are drawn around"))
    notes = [f"Countries are shaded by victims and marked at their centroid; arcs run from "
             f"{cells_} to the countries of {their} victims (width: victims, or money with the "
             "switch above). Hover anything for its figures.",
             "Outlines: Natural Earth 1:110m (public domain)."]
    if inset:
        notes.append("The framed panel enlarges the region of the raid sites, which sit at "
                     f"their city (more than {_STACK} in a city: one marker, its tooltip "
                     f"listing them); {drawn} them.")
    if unplaced:
        notes.append(f"{unplaced} cell(s) with no known raid site are drawn at the left.")
    return notes


def _shown(window: tuple[str, str] | None, active: tuple[date | None, date | None]
           ) -> tuple[str, str] | None:
    if window is None or active == (None, None):
        return None
    start, end = active
    if start is not None and end is not None and start > end:
        raise ConfigError(f"the time window ends ({end}) before it starts ({start})")
    return (start.isoformat() if start else window[0], end.isoformat() if end else window[1])


def _add_money(total: CountryMoney | None, more: CountryMoney) -> CountryMoney:
    if total is None:
        return more
    currencies = Counter(total.by_currency) + Counter(more.by_currency)
    return CountryMoney(payments=total.payments + more.payments,
                        by_currency={c: round(a, 2) for c, a in sorted(currencies.items())},
                        usd=round(total.usd + more.usd, 2))


def _place_inset(inset: _Inset | None, site_geo: Mapping[str, tuple[float, float]],
                 canvas: _Canvas, inside: list[str], world_bottom: float,
                 boxes: Mapping[str, tuple[float, float, float]] | None = None
                 ) -> tuple[float, float, float, float] | None:
    """Move the raid sites and their cells (``inside``) into a framed panel below the world,
    draw the region's outlines in it and the frame on the world map; the panel's rectangle.
    With their ``boxes`` (:func:`_box`) the panel holds their labels too."""
    if inset is None:
        return None
    xs = [canvas.points[k][0] for k in inside]
    ys = [canvas.points[k][1] for k in inside]
    margin = 45.0
    if boxes is not None:
        margin = 10.0
        xs += [canvas.points[k][0] + sign * boxes[k][0] for k in inside for sign in (-1, 1)]
        ys += [canvas.points[k][1] - boxes[k][1] for k in inside]
        ys += [canvas.points[k][1] + boxes[k][2] for k in inside]
    width = max(max(xs) - min(xs) + 2 * margin, 300.0)
    height = max(max(ys) - min(ys) + 2 * margin, 200.0)
    # the panel sits below the world, under the region it enlarges (kept on the canvas)
    region_x = equal_earth(inset.lon0, inset.lat0)[0]
    left = min(max(region_x - width / 2, -WORLD_HALF_WIDTH), WORLD_HALF_WIDTH - width)
    top = world_bottom + 40
    dx = left + width / 2 - (min(xs) + max(xs)) / 2
    dy = top + height / 2 - (min(ys) + max(ys)) / 2
    for key in inside:
        x, y = canvas.points[key]
        canvas.points[key] = (x + dx, y + dy)
    placed = _Inset(inset.lon0, inset.lat0, inset.k, inset.cx + dx, inset.cy + dy)
    west, north = placed.inverse(left, top)
    east, south = placed.inverse(left + width, top + height)
    clip = (left, top, left + width, top + height)
    canvas.shapes.append(Shape([[left, top, left + width, top, left + width, top + height,
                                 left, top + height]], fill=_SEA, stroke="#555555"))
    for outline in outlines():
        w, s, e, n = outline.bbox()
        if e < west or w > east or n < south or s > north:
            continue
        canvas.shapes.append(Shape(
            [_flat(placed.project(lon, lat) for lon, lat in ring_) for ring_ in outline.rings],
            fill=_LAND, stroke=_BORDER, clip=clip))
    corners = [equal_earth(lon, lat) for lon, lat in
               ((west, north), (east, north), (east, south), (west, south))]
    frame = _flat(corners)
    canvas.shapes.append(Shape([frame], stroke="#555555"))
    (x1, _), (x2, y2) = corners[3], corners[2]
    canvas.shapes.append(Shape([[x1, y2, left, top], [x2, y2, left + width, top]],
                               stroke="#888888", closed=False))
    return left, top, left + width, top + height


def _place_apart(nodes: Mapping[str, MapNode], canvas: _Canvas, unplaced: list[str],
                 below: float) -> None:
    """The unknown-country marker and cells with no raid site, in a column at the left,
    below the world."""
    x, y = -WORLD_HALF_WIDTH + 60, below + 60
    unknown = f"country:{UNKNOWN_COUNTRY}"
    if unknown in nodes:
        canvas.points[unknown] = (x, y)
        y += 2 * canvas.radius[unknown] + 40
    for key in unplaced:
        canvas.points[key] = (x, y)
        y += 2 * canvas.radius[key] + 30


def _alone(records: list[CellRecord]) -> bool:
    """Whether the map draws one offender (a referral scoped to him has him as its only
    "cell"), not cells: its legend and notes say so."""
    return bool(records) and all(c.cell_id == OFFENDER for c in records)


def _legend(records: list[CellRecord], order: Mapping[str, int],
            figures_of: Mapping[str, Any], per_country: Counter[str], attributed: int,
            victims: int, cities: list[LegendSection] | None = None) -> list[LegendSection]:
    """The legend: victims, shades, then each cell and the map's signs, or ``cities``
    (:func:`_city_legend`) in their place on a map drawn per raid city."""
    table, _ = country_table()
    known = {c: n for c, n in per_country.items() if c in table}
    unknown = sum(n for c, n in per_country.items() if c not in table)
    entries = [LegendEntry("●", _MARKER, f"{counted(len(known), 'country', 'countries')}, "
                                         f"{counted(sum(known.values()), 'victim')}")]
    entries.append(LegendEntry("●", _UNKNOWN, f"country unknown: {counted(unknown, 'victim')}"))
    if victims > attributed:
        entries.append(LegendEntry("○", _UNKNOWN,
                                   f"{victims - attributed:,} of {counted(victims, 'victim')} "
                                   "linked to no cell"))
    sections = [LegendSection("Victims", entries),
                LegendSection("Countries shaded by victims",
                              _shade_legend(max(known.values(), default=0)))]
    if cities is not None:
        return sections + cities
    alone = _alone(records)
    who = "offender" if alone else "cell"
    if records:
        title = "Offender" if alone else "Cells"
        sections.append(LegendSection(f"{title} (victims, USD received)", [
            LegendEntry("●", cell_colour(order[c.cell_id]), clip(
                f"{'Offender' if c.cell_id == OFFENDER else c.cell_id} · "
                f"{figures_of[c.cell_id].victims:,} · "
                f"USD {figures_of[c.cell_id].money.usd:,.0f}", 60))
            for c in records if c.cell_id in figures_of]))
    sections.append(LegendSection("Map", [
        LegendEntry("▬", type_style("Location").color, "raid site (at its city)"),
        LegendEntry("⌒", "#555555", f"{who} → country of its victims"),
        LegendEntry("┈", "#555555", f"{who} — its raid site")]))
    return sections
