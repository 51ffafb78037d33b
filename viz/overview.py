"""The cells overview: every cell a compact group, only the ties between its people drawn.

Drawn one by one, a case of a few cells is a hairball: every SIM, IP and ID card of every
member, cells interleaved. The overview draws, per cell:

- its *units*: each agent with the accounts it runs folded in, and each account of unknown
  owner (the units cell detection ties);
- the identifiers that tie two or more units — within the cell, or *bridging* cells (drawn in
  the cell with most units on it, with dark edges to the units in other cells);
- everything else in the cell's footprint folded into the unit (or drawn identifier) it hangs
  from, counted per type in that node's tooltip.

Identifiers the cell run set aside as infrastructure (shared above the threshold, or
widespread: agents in at least max(3, half the) cells; see :mod:`ringmap.analysis.cells`) are
drawn once, apart, without edges; their tooltip says which cells use them. Cells are grouped
under the raid site most of their agents are tied to, each group inside a halo of its colour
with the cell id written on it. Every position is computed here (igraph inside a cell, shelf
packing of cells and sites), so the browser runs no physics. Label sizes make labels appear
by zoom level: site and cell names at the whole-map view, people's names closer in, the rest
closest. The detailed map of one cell is :func:`ringmap.viz.maps.cell_map` with ``cells``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ringmap.graphs.model import AnalysisRun, CellRecord
from ringmap.privacy import Privacy
from ringmap.viz.aggregate import layout_positions
from ringmap.viz.reach import INFRA_RELS, CellReach, figures, linked
from ringmap.viz.render import (
    LegendEntry,
    LegendSection,
    MapEdge,
    MapGroup,
    MapNode,
    MapSpec,
    clip,
    counted,
    place,
)
from ringmap.viz.style import cell_colour, type_legend, type_style

__all__ = ["OVERVIEW_LIMIT", "overview_map", "shelf_pack"]

#: Most nodes the overview draws; above it cells become super-nodes (see ringmap.viz.maps).
OVERVIEW_LIMIT = 12_000

_SPACING = 75.0  # canvas units between nodes inside a cell
#: the least width of a cell's drawing: a cell of a handful of nodes (one offender, his phone,
#: his accounts) is otherwise too narrow for their labels, which then overlap
_MIN_SPAN = 300.0
_HALO_MARGIN = 34.0  # from a cell's outermost node to its halo
_GAP = 40.0  # between halos
_BLOCK_GAP = 160.0  # between site blocks
_HUB_STEP = 70.0  # between infrastructure hubs
_ASPECT = 1.6  # width / height the packing aims at (a laptop screen)
_FOLDED_SHOWN = 2  # labels listed per type of folded identifiers
_BRIDGE_COLOUR = "#303030"
_TEXT_COLOUR = "#1d1d1f"
_NO_SITE = "\x00none"
_HUBS = "\x00hubs"
_UNKNOWN = "\x00unknown\x00"  # the unit of a cell's accounts of unknown user
_HEADINGS = {_NO_SITE: "Cells with no known raid site",
             _HUBS: "Shared infrastructure (drawn once, hover for the cells)"}


def _font(size: float) -> dict[str, Any]:
    """Label options of a node whose label is ``size`` canvas units high."""
    return {"size": round(size)}


def shelf_pack(sizes: Sequence[tuple[float, float]], width: float, gap: float
               ) -> tuple[list[tuple[float, float]], float, float]:
    """Top-left corners for boxes of ``sizes`` placed in rows at most ``width`` wide (a box
    wider than that gets a row of its own), and the width and height used.

    >>> shelf_pack([(10, 10), (10, 5), (10, 10)], width=25, gap=2)
    ([(0.0, 0.0), (12.0, 0.0), (0.0, 12.0)], 22.0, 22.0)
    """
    corners: list[tuple[float, float]] = []
    x = y = row_height = used = 0.0
    for w, h in sizes:
        if x > 0 and x + w > width:
            x, y, row_height = 0.0, y + row_height + gap, 0.0
        corners.append((x, y))
        used = max(used, x + w)
        x += w + gap
        row_height = max(row_height, h)
    return corners, used, y + row_height


@dataclass
class _Cell:
    """One cell's drawn nodes (by evidence id), relative positions and halo radius."""

    reach: CellReach
    record: CellRecord
    colour: str
    nodes: list[str] = field(default_factory=list)
    offsets: dict[str, tuple[float, float]] = field(default_factory=dict)
    radius: float = 0.0
    site: str = _NO_SITE


class _Overview:
    """Works out units, ties, folds and hubs of a run's cells, then lays them out."""

    def __init__(self, graph: nx.MultiDiGraph, run: AnalysisRun, records: list[CellRecord],
                 reaches: list[CellReach], privacy: Privacy) -> None:
        self.graph = graph
        self.privacy = privacy
        self.records = {c.cell_id: c for c in records}
        self.cells = [_Cell(r, self.records[r.cell_id], cell_colour(i))
                      for i, r in enumerate(reaches)]
        self.cell_by_id = {c.reach.cell_id: c for c in self.cells}
        self.confidence = {m.node_id: m.confidence for c in records for m in c.members}
        self.member_cell = {m: c.reach.cell_id for c in self.cells for m in c.reach.members}
        self.unit_of = self._units()
        self.reasons = {str(i["identifier"]): str(i.get("reason", ""))
                        for i in run.summary.get("infrastructure", [])}
        self.hubs = sorted(i for i in run.infrastructure if i in graph
                           and self.kind(i) != "Location" and i not in self.member_cell)
        self.ties: dict[str, set[str]] = {}  # drawn identifier -> units it touches
        self.home: dict[str, str] = {}  # drawn node -> its cell
        self.folded: dict[str, list[str]] = defaultdict(list)  # drawn node -> folded into it
        self._classify()

    def kind(self, node: str) -> str:
        return str(self.graph.nodes[node].get("type", ""))

    def label(self, node: str) -> str:
        return self.privacy.label(node, self.graph.nodes[node])

    def _units(self) -> dict[str, str]:
        """Each member's unit: an account goes to the agent of its cell that uses it, the
        accounts of unknown user of a cell to one unit of the cell."""
        unit = {}
        for member, cell in sorted(self.member_cell.items()):
            unit[member] = member
            if self.kind(member) == "Account":
                users = sorted(other for rel, direction, other in linked(self.graph, member,
                                                                         ("USES",))
                               if direction == "in" and self.member_cell.get(other) == cell
                               and self.kind(other) == "Person")
                unit[member] = users[0] if users else f"{_UNKNOWN}{cell}"
        self.member_cell.update({u: u.removeprefix(_UNKNOWN) for u in unit.values()
                                 if u.startswith(_UNKNOWN)})
        return unit

    def _classify(self) -> None:
        hubs = set(self.hubs)
        footprint = sorted({n for c in self.cells for n in c.reach.footprint}
                           - set(self.member_cell) - hubs)
        touched: dict[str, set[str]] = {}
        for node in footprint:
            touched[node] = {self.unit_of[o] for _, _, o in linked(self.graph, node, INFRA_RELS)
                             if o in self.unit_of}
        units = sorted(set(self.unit_of.values()))
        for unit in units:
            self.home[unit] = self.member_cell[unit]
        for node, found in touched.items():
            if len(found) >= 2:
                self.ties[node] = found
                on = Counter(self.member_cell[u] for u in found)
                self.home[node] = min(on, key=lambda c: (-on[c], c))
        for member, unit in self.unit_of.items():
            if member != unit:
                self.folded[unit].append(member)
        hanging = []
        for node, found in touched.items():
            if len(found) == 1:
                self.folded[next(iter(found))].append(node)
            elif not found:
                hanging.append(node)
        # identifiers two hops out (the SIM in an agent's phone) fold into what they hang from
        target = {n: next(iter(found)) for n, found in touched.items() if len(found) == 1}
        target.update({n: n for n in [*self.ties, *hubs]})
        for node in hanging:
            near = sorted(target[o] for _, _, o in linked(self.graph, node, INFRA_RELS)
                          if o in target)
            if near:
                self.folded[near[0]].append(node)
        for unit in units:
            self.cell_by_id[self.home[unit]].nodes.append(unit)
        for node in self.ties:
            self.cell_by_id[self.home[node]].nodes.append(node)

    # -- text ------------------------------------------------------------------------------

    def _folded_lines(self, node: str) -> list[str]:
        by_kind: dict[str, list[str]] = defaultdict(list)
        for other in self.folded.get(node, []):
            by_kind[self.kind(other)].append(self.label(other))
        lines = []
        for kind, labels in sorted(by_kind.items()):
            shown = ", ".join(clip(x, 40) for x in sorted(labels)[:_FOLDED_SHOWN])
            more = ", …" if len(labels) > _FOLDED_SHOWN else ""
            lines.append(f"  {len(labels):,} × {type_style(kind).label}: {shown}{more}")
        return ["not drawn:", *lines] if lines else []

    def _properties(self, node: str) -> list[str]:
        """Property lines of a node's tooltip, less those that only repeat its label (an
        overview of thousands of nodes must stay small)."""
        label = self.label(node)
        return [clip(f"{k}: {v}", 100)
                for k, v in self.privacy.properties(node, self.graph.nodes[node]).items()
                if str(v) != label]

    def _unit_node(self, unit: str) -> MapNode:
        cell = self.member_cell[unit]
        colour = self.cell_by_id[cell].colour
        if unit.startswith(_UNKNOWN):
            # what is folded into the unit: its accounts and the identifiers only they hold
            accounts = [n for n in self.folded.get(unit, []) if self.kind(n) == "Account"]
            return MapNode("", f"{counted(len(accounts), 'account')}, user unknown",
                           title="\n".join([f"Accounts of unknown user · cell {cell}",
                                            *self._folded_lines(unit)]),
                           shape="dot", color=colour, size=type_style("Account").size,
                           font=_font(11))
        lines = [f"Agent · cell {cell} · confidence {self.confidence.get(unit, 0):.2f}"]
        lines.extend(self._properties(unit))
        lines.extend(self._folded_lines(unit))
        return MapNode("", clip(self.label(unit), 40), title="\n".join(lines), shape="dot",
                       color=colour, size=type_style("Person").size, font=_font(14))

    def _tie_node(self, node: str) -> MapNode:
        style = type_style(self.kind(node))
        cells = sorted({self.member_cell[u] for u in self.ties[node]})
        what = (f"bridges cells {', '.join(cells)}" if len(cells) > 1
                else f"ties {len(self.ties[node])} members of cell {cells[0]}")
        home = [u for u in self.ties[node] if self.home[u] == self.home[node]]
        lines = [f"{self.kind(node)} · {what}", f"links: {self._rels(node, home)}",
                 *self._properties(node)]
        lines.extend(self._folded_lines(node))
        return MapNode("", clip(self.label(node), 40), title="\n".join(lines),
                       shape=style.shape, color=style.color, size=style.size, font=_font(10))

    def _hub_node(self, node: str) -> MapNode:
        style = type_style(self.kind(node))
        users = Counter(self.member_cell[self.unit_of[o]]
                        for _, _, o in linked(self.graph, node, INFRA_RELS)
                        if o in self.unit_of)
        used = ", ".join(f"{c} ({n})" for c, n in sorted(users.items()))
        lines = [f"{self.kind(node)} · shared infrastructure",
                 clip(f"reason: {self.reasons.get(node) or 'set aside by the cell run'}", 100),
                 clip(f"used in {len(users)} cells: {used or 'none drawn'}", 400)]
        lines.extend(self._folded_lines(node))
        return MapNode("", clip(self.label(node), 40), title="\n".join(lines),
                       shape=style.shape, color=style.color, size=style.size, font=_font(11))

    def _cell_text(self, cell: _Cell, graph_sites: Mapping[str, str]) -> tuple[str, str]:
        """The cell's name on the map and its tooltip."""
        reach = cell.reach
        agents = sum(1 for m in reach.members if self.kind(m) == "Person")
        found = figures(self.graph, reach, cell.record)
        money = "; ".join(f"{v:,.2f} {k}" for k, v in found.money.by_currency.items())
        sites = ", ".join(clip(graph_sites[s], 40) for s in sorted(reach.sites)) or "none known"
        label = f"{reach.cell_id} · {counted(agents, 'agent')}"
        title = "\n".join([
            f"Cell {reach.cell_id}",
            f"{counted(agents, 'agent')}, {counted(len(reach.members) - agents, 'account')}",
            f"raid sites: {sites}",
            f"victims: {found.victims:,}; received: {money or 'none'}",
            f"(figures from the {found.source})",
            "click the group to zoom in; ringmap map cells --cell "
            f"{reach.cell_id} draws it in detail"])
        return label, title

    # -- layout ----------------------------------------------------------------------------

    def _lay_out_cells(self) -> None:
        for cell in self.cells:
            edges = [(a, b) for a in cell.nodes for b in sorted(self.ties.get(a, ()))
                     if self.home[b] == cell.reach.cell_id]
            spacing = max(_SPACING, _MIN_SPAN / math.sqrt(max(len(cell.nodes), 1)))
            placed = layout_positions(cell.nodes, edges, seed=7, spacing=spacing)
            cell.offsets = {str(node): at for node, at in placed.items()}
            far = max((math.hypot(x, y) for x, y in cell.offsets.values()), default=0.0)
            cell.radius = far + _HALO_MARGIN

    def _assign_sites(self) -> None:
        for cell in self.cells:
            per_site: Counter[str] = Counter()
            for member in cell.reach.members:
                for _, _, other in linked(self.graph, member, ("WORKS_AT", "ARRESTED_AT")):
                    per_site[other] += 1
            per_site.update({s: 0 for s in cell.reach.sites})
            if per_site:
                cell.site = min(per_site, key=lambda s: (-per_site[s], s))

    def build(self, title: str) -> MapSpec:
        self._lay_out_cells()
        self._assign_sites()
        site_names = {s: self.label(s) for c in self.cells for s in c.reach.sites}
        texts = {c.reach.cell_id: self._cell_text(c, site_names) for c in self.cells}
        blocks: dict[str, list[_Cell]] = defaultdict(list)
        for cell in self.cells:
            blocks[cell.site].append(cell)
        order = sorted(blocks, key=lambda s: (s == _NO_SITE, -len(blocks[s]),
                                              site_names.get(s, "")))
        area = sum((2 * c.radius + _GAP) ** 2 for c in self.cells)
        hub_cols = max(1, math.ceil(math.sqrt(len(self.hubs) * _ASPECT)))
        hub_w = hub_cols * _HUB_STEP
        hub_h = math.ceil(len(self.hubs) / hub_cols) * _HUB_STEP
        width = max(math.sqrt((area + hub_w * hub_h) * _ASPECT), hub_w)
        head = max(40.0, width / 45)  # heading font: readable at the whole-map view
        laid: dict[str, tuple[list[tuple[float, float]], float, float]] = {}
        for site in order:
            cells = sorted(blocks[site], key=lambda c: (-c.radius, c.reach.cell_id))
            blocks[site] = cells
            sizes = [(2 * c.radius, 2 * c.radius) for c in cells]
            block_area = sum((w + _GAP) * (h + _GAP) for w, h in sizes)
            laid[site] = shelf_pack(sizes, max(math.sqrt(block_area * _ASPECT),
                                               max(w for w, _ in sizes)), _GAP)
        keys = list(order) + ([_HUBS] if self.hubs else [])
        headings = {k: _HEADINGS.get(k) or clip(site_names[k], 60) for k in keys}
        sized = {k: (laid[k][1], laid[k][2]) if k in laid else (hub_w, hub_h) for k in keys}
        for _ in range(2):  # headings about 16 px high once the whole map is fitted on screen
            # a block is as wide as its heading (about 0.6 of the font size per character)
            boxes = [(max(sized[k][0], 0.6 * head * len(headings[k])), sized[k][1] + 2 * head)
                     for k in keys]
            width = max(math.sqrt(sum((w + _BLOCK_GAP) * (h + _BLOCK_GAP) for w, h in boxes)
                                  * _ASPECT), max(w for w, _ in boxes))
            corners, used_w, used_h = shelf_pack(boxes, width, _BLOCK_GAP)
            head = max(head, 16 * max(used_w / 1000, used_h / 700))
        nodes: list[MapNode] = []
        edges: list[MapEdge] = []
        strokes: list[tuple[str, str]] = []
        groups: list[MapGroup] = []
        ids: dict[str, str] = {}

        def add(key: str, node: MapNode, x: float, y: float) -> None:
            node.id = ids.setdefault(key, f"n{len(ids)}")
            node.x, node.y = x, y  # physics is off: they stay
            nodes.append(node)

        for key, (bx, by), (bw, _) in zip(keys, corners, boxes, strict=True):
            mid, top = bx + bw / 2, by + head / 2  # where the block's heading goes
            add(key, self._heading(key, headings[key], head), mid, top)
            if key == _HUBS:
                for i, hub in enumerate(self.hubs):
                    add(hub, self._hub_node(hub), bx + (i % hub_cols + 0.5) * _HUB_STEP,
                        by + 2 * head + (i // hub_cols + 0.5) * _HUB_STEP)
                continue
            for cell, (cx, cy) in zip(blocks[key], laid[key][0], strict=True):
                ox, oy = bx + cx + cell.radius, by + 2 * head + cy + cell.radius
                label, tip = texts[cell.reach.cell_id]
                group_id = f"cell\x00{cell.reach.cell_id}"
                # the id alone over the group: neighbouring names must not run together
                add(group_id, MapNode("", cell.reach.cell_id, title=f"{label}\n{tip}",
                                      shape="text", color=cell.colour,
                                      font=_font(head * 0.75)),
                    ox, oy - cell.radius - head * 0.45)
                groups.append(MapGroup(ids[group_id], ox, oy, cell.radius, cell.colour))
                for node in cell.nodes:
                    dx, dy = cell.offsets[node]
                    made = self._tie_node(node) if node in self.ties else self._unit_node(node)
                    add(node, made, ox + dx, oy + dy)
        for node, units in sorted(self.ties.items()):
            away: dict[str, list[str]] = defaultdict(list)
            for unit in sorted(units):
                if self.home[unit] == self.home[node]:
                    # a plain line: the tie's tooltip says what it links
                    strokes.append((ids[unit], ids[node]))
                else:
                    away[self.home[unit]].append(unit)
            # a bridge: one edge to the name of each other cell, not one per member there
            for other, there in sorted(away.items()):
                edges.append(MapEdge(
                    ids[f"cell\x00{other}"], ids[node], arrows=False, color=_BRIDGE_COLOUR,
                    width=2.0, title=f"bridge to cell {other}: {len(there)} members "
                                     f"({self._rels(node, there)})"))
        # the fitted view shows every halo whole, not only the nodes inside them
        bounds = (min((g.x - g.radius for g in groups), default=0.0),
                  min((g.y - g.radius for g in groups), default=0.0),
                  max((g.x + g.radius for g in groups), default=0.0),
                  max((g.y + g.radius for g in groups), default=0.0))
        return MapSpec(title, nodes, edges, self._legend(texts), self._notes(), physics=False,
                       groups=groups, directed=False, bounds=bounds, strokes=strokes)

    def _heading(self, key: str, text: str, size: float) -> MapNode:
        """The heading of a block: its raid site, or words."""
        if key in _HEADINGS:
            return MapNode("", text, shape="text", color=_TEXT_COLOUR, font=_font(size))
        attrs = self.graph.nodes[key]
        where = place(attrs)
        tip = self.privacy.text(f"Raid site: {text}\n{where}".strip())
        return MapNode("", text, shape="box", color=type_style("Location").color,
                       font=_font(size), title=tip)

    def _rels(self, node: str, units: list[str]) -> str:
        counted = Counter(rel for rel, _, other in linked(self.graph, node, INFRA_RELS)
                          if self.unit_of.get(other) in units)
        return ", ".join(f"{rel} × {n}" if n > 1 else rel for rel, n in sorted(counted.items()))

    def _legend(self, texts: Mapping[str, tuple[str, str]]) -> list[LegendSection]:
        cells = LegendSection("Cells (id on each group)", [
            LegendEntry("●", c.colour, clip(texts[c.reach.cell_id][0], 60)) for c in self.cells])
        drawn = {self.kind(n) for n in [*self.ties, *self.hubs]}
        return [cells, LegendSection("Ties and infrastructure", [
            *type_legend(drawn),
            LegendEntry("—", _BRIDGE_COLOUR, "bridge between cells"),
            LegendEntry("▬", type_style("Location").color, "raid site (cells below it)")])]

    def _notes(self) -> list[str]:
        return [
            "Each cell is one group: its agents (with the accounts they run) and the "
            "identifiers tying two or more of them. Identifiers of one agent only are counted "
            "in its tooltip.",
            "Dark edges bridge cells. Shared infrastructure is drawn once, apart.",
            "Zoom in for names; click a group to zoom to it; 'ringmap map cells --cell ID' "
            "draws one cell in full detail."]


def overview_map(graph: nx.MultiDiGraph, run: AnalysisRun, records: list[CellRecord],
                 reaches: list[CellReach], privacy: Privacy, title: str, limit: int
                 ) -> MapSpec | None:
    """The overview of ``records`` (the cells of ``run``, with their ``reaches``), or None
    when it would draw more than ``limit`` nodes."""
    # each agent among the members is a node of its own: when they alone are over the limit,
    # the overview is not worked out only to be dropped (about 100 s at 5,400 cells)
    agents = {m.node_id for c in records for m in c.members
              if m.node_id in graph and graph.nodes[m.node_id].get("type") == "Person"}
    if len(agents) > limit:
        return None
    found = _Overview(graph, run, records, reaches, privacy)
    if len(found.home) + len(found.hubs) > limit:
        return None
    return found.build(title)

