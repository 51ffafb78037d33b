"""The cells of a national case drawn per raid city: where they work and which are tied.

Above :data:`~ringmap.viz.world.MOST_CELLS` cells a node per cell is a ball of hundreds of
colours that no one reads (600 cells; 5,400 in a national case). The cell map then draws, as
the victims map does, one node per raid city for the cells working there (a cell with raid
sites in several cities at the one with most of them; a site with no city is a group of its
own, cells with no known site one group), on a circle where the cities of a region sit side
by side. A line joins two cities whose cells share identifiers (:func:`shared`: in the
footprints of cells of both, not set aside by the cell run as infrastructure), as wide as its
share of the most; its tooltip counts them by kind and names the most tied pairs of cells.
A city's tooltip gives its cells, agents, raid sites, victims and money, the identifiers its
cells share with other cities and among themselves, and its first cells by ties. The legend
lists the cities, the most tied and the largest cells with the others counted, and the search
box finds any cell id at its city.

>>> held = shared({"C1": {"a", "x"}, "C2": {"b", "x", "y"}, "C3": {"c", "y"}}, set_aside={"y"})
>>> held
{'x': ('C1', 'C2')}
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from ringmap.graphs.model import CellRecord
from ringmap.privacy import Privacy
from ringmap.viz.reach import CellReach, Figures, figures
from ringmap.viz.render import (
    LegendEntry,
    LegendSection,
    MapEdge,
    MapNode,
    MapSpec,
    clip,
    counted,
)
from ringmap.viz.style import cell_colour, over_lines, type_style
from ringmap.viz.world import (
    LISTED,
    MOST_CELLS,
    city_key,
    home,
    listed,
    name_of,
    site_order,
)

__all__ = ["City", "cities", "city_map", "shared"]

_NO_SITE = ""
_LABEL_CHARS = 40
_PAIRS_SHOWN = 5  # most tied pairs of cells named in a line's tooltip
_LARGEST = 10  # largest cells, and most tied pairs, in the legend (most tied: LISTED)
_STEP = 400.0  # canvas units between neighbouring cities on the circle: a label's width
_LINE = "#5a5a5a"
_FAINT, _DARK = 0xc8, 0x2e  # grey of the line of fewest and of most shared identifiers
_MORE = "#8c8c8c"
_FONT = over_lines(26)
#: how far (canvas units) a label moves up to stand above its dot, beyond the dot's width:
#: vis-network hangs a dot's label 17 below it, one line of ``_FONT`` is 26 high, 6 apart
_LABEL_GAP = 17 + 26 + 6


def shared(footprints: Mapping[str, Collection[str]], set_aside: Collection[str]
           ) -> dict[str, tuple[str, ...]]:
    """The identifiers in the footprints of two or more cells (by cell id), less those
    ``set_aside`` (the cell run's infrastructure: an office Wi-Fi ties every cell there and
    says nothing), each with the cells holding it in id order."""
    first: dict[str, str] = {}  # a node's first cell: a tuple per node was 0.1 GB at 5,400
    held: dict[str, list[str]] = {}
    for cell, nodes in footprints.items():
        for node in nodes:
            other = first.setdefault(node, cell)
            if other != cell:
                held.setdefault(node, [other]).append(cell)
    return {node: tuple(sorted(cells)) for node, cells in sorted(held.items())
            if node not in set_aside}


@dataclass
class City:
    """The cells one marker of the map stands for: a raid city's, a site's with no city, or
    those with no known raid site (``key`` empty)."""

    key: str
    name: str
    region: str = ""
    sites: list[str] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)


def cities(graph: nx.MultiDiGraph, reaches: Iterable[CellReach], privacy: Privacy
           ) -> list[City]:
    """The cities of ``reaches``' raid sites, each with its sites (by label) and the cells
    with most of their sites there (a tie: the first city by key), most cells first; the
    cells with no known raid site last.

    >>> g = nx.MultiDiGraph()
    >>> g.add_node("Location:a", type="Location", name="Office A", city="Naga City")
    >>> g.add_node("Location:b", type="Location", name="Office B")
    >>> found = cities(g, [CellReach("C1", [], set(), sites={"Location:a", "Location:b"}),
    ...                    CellReach("C2", [], set(), sites={"Location:a"}),
    ...                    CellReach("C3", [], set())], Privacy())
    >>> [(c.name, c.sites, c.cells) for c in found]  # doctest: +NORMALIZE_WHITESPACE
    [('Naga City', ['Location:a'], ['C1', 'C2']), ('Office B', ['Location:b'], []),
     ('No known raid site', [], ['C3'])]
    """
    found: dict[str, City] = {}
    for reach in reaches:
        held: Counter[str] = Counter()
        for site in reach.sites:
            key = city_key(graph, site)
            held[key] += 1
            if key not in found:
                attrs = graph.nodes[site]
                found[key] = City(key, privacy.text(str(attrs["city"])) if attrs.get("city")
                                  else privacy.label(site, attrs),
                                  privacy.text(str(attrs.get("region") or "")))
            if site not in found[key].sites:
                found[key].sites.append(site)
        found.setdefault(home(held, _NO_SITE), City(_NO_SITE, "No known raid site")
                         ).cells.append(reach.cell_id)
    for city in found.values():
        city.sites.sort(key=site_order(graph, privacy))
    return sorted(found.values(), key=lambda c: (c.key == _NO_SITE, -len(c.cells), c.name,
                                                 c.key))


@dataclass(frozen=True, slots=True)
class _Cell:
    """What the map says of one cell: its city, size and ties."""

    cell_id: str
    city: int
    members: int
    agents: int
    ties: int
    """Identifiers it shares with other cells."""
    figures: Figures


def _grey(share: float) -> str:
    """The colour of a line of ``share`` of the most shared identifiers: faint to dark, so
    that in a case where every city is tied to every other the strong ties stand out.

    >>> _grey(0.0), _grey(1.0)
    ('#c8c8c8', '#2e2e2e')
    """
    level = round(_FAINT + (_DARK - _FAINT) * share)
    return f"#{level:02x}{level:02x}{level:02x}"


def _agents(graph: nx.MultiDiGraph, reach: CellReach, record: CellRecord) -> int:
    report = record.summary or record.figures
    if report is not None:
        return report.agents
    return sum(1 for m in reach.members if graph.nodes[m].get("type") == "Person")


def _positions(found: list[City]) -> list[tuple[float, float]]:
    """Cities on a circle (one alone in the middle), those of a region side by side and the
    cells with no known site last, ``_STEP`` apart."""
    order = sorted(range(len(found)), key=lambda i: (found[i].key == _NO_SITE,
                                                     found[i].region, found[i].name, i))
    radius = max(_STEP, _STEP * len(found) / (2 * math.pi)) if len(found) > 1 else 0.0
    at = [(0.0, 0.0)] * len(found)
    for turn, i in enumerate(order):
        angle = 2 * math.pi * turn / len(order) - math.pi / 2
        at[i] = (radius * math.cos(angle), radius * math.sin(angle))
    return at


def _label_font(at: tuple[float, float], size: float) -> dict[str, object]:
    """The label of a city at ``at`` drawn ``size`` wide: on the upper half of the circle
    above its dot (on its halo alone: the box would stay below), elsewhere below: outside the
    circle, but for the cities at its sides, whose labels the lines pass under.

    >>> above = _label_font((0.0, -400.0), 10.0)
    >>> above["vadjust"], "background" in above, "vadjust" in _label_font((400.0, 0), 10)
    (-69.0, False, False)
    """
    if at[1] >= -1:
        return _FONT
    above = {key: value for key, value in _FONT.items() if key != "background"}
    return {**above, "vadjust": -(2 * size + _LABEL_GAP)}


class _Drawing:
    """The cells, cities and ties of a map drawn per raid city, and the text about them."""

    def __init__(self, graph: nx.MultiDiGraph, records: list[CellRecord],
                 reaches: list[CellReach], privacy: Privacy, set_aside: Collection[str]) -> None:
        self.graph = graph
        self.privacy = privacy
        self.cities = cities(graph, reaches, privacy)
        city_of = {c: i for i, city in enumerate(self.cities) for c in city.cells}
        self.held = shared({r.cell_id: r.footprint for r in reaches}, set_aside)
        self.set_aside = sum(1 for n in set_aside if n in graph)
        ties: Counter[str] = Counter(c for cells in self.held.values() for c in cells)
        record_of = {c.cell_id: c for c in records}
        self.cells = {r.cell_id: _Cell(
            r.cell_id, city_of[r.cell_id], len(r.members),
            _agents(graph, r, record_of[r.cell_id]), ties[r.cell_id],
            figures(graph, r, record_of[r.cell_id])) for r in reaches}
        for city in self.cities:
            city.cells.sort(key=self.rank)
        # per pair of cities (by index, the lower first; a city with itself for the ties
        # among its own cells): the shared identifiers by kind, and per pair of cells
        self.kinds: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
        self.pairs: dict[tuple[int, int], Counter[tuple[str, str]]] = defaultdict(Counter)
        for node, cells in self.held.items():
            kind = type_style(str(graph.nodes[node].get("type", ""))).label
            seen: set[tuple[int, int]] = set()
            for n, a in enumerate(cells):
                for b in cells[n + 1:]:
                    ends = (city_of[a], city_of[b])
                    pair = (min(ends), max(ends))
                    self.pairs[pair][(a, b) if ends[0] <= ends[1] else (b, a)] += 1
                    if pair not in seen:
                        seen.add(pair)
                        self.kinds[pair][kind] += 1

    def rank(self, cell: str) -> tuple[int, int, str]:
        """Most tied first, then the largest."""
        found = self.cells[cell]
        return -found.ties, -found.members, cell

    def city_pair(self, a: str, b: str) -> str:
        """Where cells ``a`` and ``b`` are: one city, or two."""
        here, there = (self.cities[self.cells[c].city].name for c in (a, b))
        return here if here == there else f"{here} – {there}"

    def city_label(self, i: int) -> str:
        city = self.cities[i]
        return clip(f"{city.name} · {counted(len(city.cells), 'cell')}", _LABEL_CHARS)

    def cell_line(self, cell: str) -> str:
        found = self.cells[cell]
        return (f"{name_of(cell)} · {found.ties:,} shared · {counted(found.agents, 'agent')}"
                f" · {counted(found.members, 'member')} · "
                f"{counted(found.figures.victims, 'victim')}")

    def city_node(self, i: int, at: tuple[float, float], most: int) -> MapNode:
        city = self.cities[i]
        cells = [self.cells[c] for c in city.cells]
        outside = Counter[str]()
        for (a, b), kinds in self.kinds.items():
            if i in (a, b) and a != b:
                outside[self.cities[b if a == i else a].name] += sum(kinds.values())
        within = sum(self.kinds.get((i, i), Counter()).values())
        agents = sum(c.agents for c in cells)
        region = f", {city.region}" if city.region and city.region != city.name else ""
        lines = [
            f"{city.name}{region}: "
            f"{counted(len(cells), 'cell')}, {counted(agents, 'agent')}, "
            f"{counted(sum(c.members for c in cells) - agents, 'account')}",
            f"victims: {sum(c.figures.victims for c in cells):,}; received: USD "
            f"{sum(c.figures.money.usd for c in cells):,.0f} (the cells' reports added: a "
            "victim of two cells counts twice)",
            f"shared identifiers: {within:,} among its own cells, "
            f"{sum(outside.values()):,} with cells of other places"
            + (" (" + "; ".join(f"{name} {n:,}" for name, n in
                                sorted(outside.items(), key=lambda x: (-x[1], x[0]))[:LISTED])
               + ")" if outside else "")]
        if city.sites:
            lines.append(listed([self.privacy.label(s, self.graph.nodes[s])
                                 for s in city.sites], "raid site"))
        lines.append("Cells by shared identifiers (then size):")
        lines.extend(self.cell_line(c) for c in city.cells[:LISTED])
        if len(city.cells) > LISTED:
            lines.append(f"… and {counted(len(city.cells) - LISTED, 'more cell')}: "
                         "search a cell id")
        size = 10 + 22 * math.sqrt(len(cells) / most)
        return MapNode(f"city{i}", self.city_label(i), title=self.privacy.text("\n".join(lines)),
                       color=cell_colour(i), font=_label_font(at, size), x=at[0], y=at[1],
                       fixed=True, size=size)

    def tie_edge(self, pair: tuple[int, int], widest: int) -> MapEdge:
        a, b = pair
        kinds, cells = self.kinds[pair], self.pairs[pair]
        total = sum(kinds.values())
        top = sorted(cells.items(), key=lambda x: (-x[1], x[0]))
        lines = [f"{self.cities[a].name} — {self.cities[b].name}: "
                 f"{counted(total, 'shared identifier')}",
                 f"between {counted(len(cells), 'pair')} of cells, one in each "
                 f"(the first in {self.cities[a].name})",
                 ", ".join(f"{n:,} × {kind}" for kind, n in sorted(kinds.items())),
                 "most tied pairs:"]
        lines.extend(f"  {x} – {y}: {n:,}" for (x, y), n in top[:_PAIRS_SHOWN])
        if len(top) > _PAIRS_SHOWN:
            lines.append(f"  … and {counted(len(top) - _PAIRS_SHOWN, 'more pair')}")
        return MapEdge(f"city{a}", f"city{b}", title=self.privacy.text("\n".join(lines)),
                       width=1 + 11 * total / widest, color=_grey(total / widest),
                       arrows=False)

    def legend(self) -> list[LegendSection]:
        places = [LegendEntry("●", cell_colour(i), clip(
            f"{city.name} · {counted(len(city.cells), 'cell')} · "
            f"{sum(self.cells[c].agents for c in city.cells):,} agents", 60))
            for i, city in enumerate(self.cities[:LISTED])]
        if len(self.cities) > LISTED:
            rest = counted(len(self.cities) - LISTED, "more place")
            places.append(LegendEntry("…", _MORE, f"and {rest}: hover the map"))
        tied = sorted(self.cells, key=self.rank)
        largest = sorted(self.cells, key=lambda c: (-self.cells[c].members, c))

        def entry(cell: str, text: str) -> LegendEntry:
            city = self.cells[cell].city
            return LegendEntry("●", cell_colour(city),
                               clip(f"{cell} · {text} · {self.cities[city].name}", 60))

        most_tied = [entry(c, f"{self.cells[c].ties:,} shared") for c in tied[:LISTED]]
        if len(tied) > LISTED:
            rest = counted(len(tied) - LISTED, "more cell")
            most_tied.append(LegendEntry("…", _MORE, f"and {rest}: search a cell id"))
        # the pairs of cells most tied, in one city or two: perhaps one organisation
        pairs = sorted(((n, pair) for found in self.pairs.values()
                        for pair, n in found.items()), key=lambda x: (-x[0], x[1]))
        return [
            LegendSection("Raid cities (cells, agents)", places),
            LegendSection(f"Most tied cells of {len(tied):,} (identifiers shared with other "
                          "cells, city)", most_tied),
            LegendSection("Most tied pairs of cells (identifiers they share)", [
                LegendEntry("—", _LINE, clip(f"{a} – {b} · {n:,} · {self.city_pair(a, b)}", 60))
                for n, (a, b) in pairs[:_LARGEST]]),
            LegendSection("Largest cells (members, city)",
                          [entry(c, counted(self.cells[c].members, "member"))
                           for c in largest[:_LARGEST]]),
            LegendSection("Map", [
                LegendEntry("●", _LINE, "raid city: its cells (hover for them)"),
                LegendEntry("—", _LINE, "cells of two cities share identifiers "
                                        "(width: how many)")])]

    def banner(self) -> str:
        return (f"{len(self.cells):,} cells, more than {MOST_CELLS} one map shows readably, "
                f"drawn per raid city: each circle is one city's cells (a cell with raid "
                f"sites in several cities at the one with most of them), sized by their "
                f"number; a line joins two cities whose cells share identifiers (devices, "
                f"SIM cards, emails, …), wider for more. {len(self.held):,} identifiers "
                f"are shared between cells; those the cell run set aside as shared "
                f"infrastructure ({self.set_aside:,}) are not counted. Hover a city or a line "
                f"for the counts, search a cell id to find its city.")


def city_map(graph: nx.MultiDiGraph, records: list[CellRecord], reaches: list[CellReach],
             privacy: Privacy, title: str, set_aside: Collection[str]) -> MapSpec:
    """The cells of ``records`` (with their ``reaches``) drawn per raid city (see the module
    docstring); ``set_aside`` are the identifiers the cell run set aside as infrastructure."""
    d = _Drawing(graph, records, reaches, privacy, set_aside)
    most = max((len(c.cells) for c in d.cities), default=0) or 1
    at = _positions(d.cities)
    nodes = [d.city_node(i, at[i], most) for i in range(len(d.cities))]
    between = [pair for pair in sorted(d.kinds) if pair[0] != pair[1]]
    widest = max((sum(d.kinds[p].values()) for p in between), default=1)
    edges = [d.tie_edge(pair, widest) for pair in between]
    return MapSpec(title, nodes, edges, d.legend(), [
        "Hover a city for its cells, raid sites and figures, a line for the identifiers "
        "its two cities' cells share and the most tied pairs of cells.",
        "Search a cell id to find its city; 'ringmap map cells --cell ID' draws a cell in "
        "detail."], banner=d.banner(), physics=False, directed=False,
        finds={f"city{i}": [name_of(c) for c in city.cells]
               for i, city in enumerate(d.cities)})
