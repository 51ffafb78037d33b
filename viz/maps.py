"""Cell and entity-neighbourhood maps of a case, and the writer of the victims map.

Each ``*_map`` function reads the store and returns a :class:`~ringmap.viz.render.MapSpec` (the
victims map's is :func:`ringmap.viz.world.victim_map`); each
``write_*_map`` renders it to one self-contained HTML file (see :mod:`ringmap.viz.render`) and
returns what it drew. Node ids on a map are opaque (``n0``, ``n1``, ...), labels and tooltips
are plain text, victims are pseudonymised unless ``reveal=True`` and card numbers are masked.

Example
-------
>>> from ringmap.graphs.store import open_store            # doctest: +SKIP
>>> with open_store("case.db") as store:                    # doctest: +SKIP
...     write_cell_map(store, Path("out/cells.html"))
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path, PurePath
from typing import Any

import networkx as nx

from ringmap.errors import ConfigError
from ringmap.fileio import write_atomic
from ringmap.graphs.evidence import edges_among, edges_within
from ringmap.graphs.model import CellRecord, Node, Provenance, edge_id
from ringmap.graphs.resolve import resolve
from ringmap.graphs.sameas import sightings as same_as_sightings
from ringmap.graphs.sameas import sightings_many
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy, victim_context
from ringmap.viz.aggregate import DEFAULT_BUDGET, PHYSICS_LIMIT, collapse, layout_positions
from ringmap.viz.cities import city_map
from ringmap.viz.overview import OVERVIEW_LIMIT, overview_map
from ringmap.viz.reach import CellReach, cell_of, reach_cells, select_cells
from ringmap.viz.render import (
    LegendEntry,
    LegendSection,
    MapEdge,
    MapNode,
    MapSpec,
    counted,
    render_map,
)
from ringmap.viz.render import clip as _clip
from ringmap.viz.style import NEUTRAL, cell_colour, type_legend, type_style
from ringmap.viz.world import MOST_CELLS, victim_map

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_HOPS",
    "PHYSICS_LIMIT",
    "MapResult",
    "cell_map",
    "cells_detail_map",
    "entity_map",
    "write_cell_map",
    "write_entity_map",
    "write_victim_map",
]

DEFAULT_HOPS = 2
_LABEL_CHARS = 40
_VALUE_CHARS = 160
_PROVENANCE_LINES = 3
_DEGREE = 6.0  # canvas units per degree of latitude/longitude on the victims map
#: cells drawn in detail with more nodes than this fold each IP address that one node alone
#: is linked to into that node (its tooltip lists them): at 5,400 cells a cell's raid map drew
#: 463 nodes, 285 of them addresses one account logged in from, and could not be read
_READABLE = 200
_FOLDED_LISTED = 10  # addresses a tooltip names, then a count


@dataclass(frozen=True, slots=True)
class MapResult:
    """What a written map holds, for messages and the audit log."""

    path: Path
    nodes: int
    edges: int
    aggregated: bool

    def counts(self) -> dict[str, Any]:
        """The numbers as a mapping."""
        return {"nodes": self.nodes, "edges": self.edges, "aggregated": self.aggregated}


def _when(value: Any) -> Any:
    """A UTC time as ``date time UTC``, midnight UTC as its date, other values as they are:
    thousands of tooltips repeat them.

    >>> from datetime import datetime, timezone
    >>> _when(datetime(2014, 4, 4, 5, 51, 42, tzinfo=timezone.utc)), _when(3)
    ('2014-04-04 05:51:42 UTC', 3)
    >>> _when(datetime(2013, 9, 16, tzinfo=timezone.utc))
    '2013-09-16'
    """
    if not isinstance(value, datetime) or value.utcoffset() != timedelta(0):
        return value
    if value.time() == time(0):
        return value.date().isoformat()
    return f"{value.replace(tzinfo=None).isoformat(' ')} UTC"


def _money_text(money: Mapping[str, float]) -> str:
    return "; ".join(f"{amount:,.2f} {currency}" for currency, amount in money.items()) or "none"


@functools.lru_cache(maxsize=1024)
def _file_name(source_file: str) -> str:
    """The name of an evidence file (a case has a few; a cell map names them ~3,000 times)."""
    return PurePath(source_file).name


def _provenance_lines(items: list[Provenance], count: int, privacy: Privacy) -> list[str]:
    """Lines for the first sightings ``items`` of ``count`` in all."""
    lines = []
    for p in items[:_PROVENANCE_LINES]:
        ref = f", ref {p.ref}" if p.ref else ""
        lines.append(privacy.text(
            f"  {_file_name(p.source_file)} row {p.row}{ref}, {p.grading}"))
    if count > _PROVENANCE_LINES:
        lines.append(f"  … and {count - _PROVENANCE_LINES} more sightings")
    return lines


class _Drawer:
    """Turns evidence nodes and edges into map nodes and edges with text tooltips."""

    def __init__(self, store: Store, graph: nx.MultiDiGraph, privacy: Privacy,
                 cells: Mapping[str, str], cell_order: Mapping[str, int]) -> None:
        self.store = store
        self.graph = graph
        self.privacy = privacy
        self.cells = cells
        self.cell_order = cell_order
        self.ids: dict[str, str] = {}
        self.seen: dict[str, tuple[list[Provenance], int]] = {}
        """The first sightings and their count, read ahead by :meth:`read_ahead`."""

    def read_ahead(self, items: Iterable[str]) -> None:
        """Read the sightings of the nodes and relationship ids about to be drawn at once."""
        self.seen.update(sightings_many(self.store, self.graph, items, _PROVENANCE_LINES))

    def sightings(self, item: str) -> tuple[list[Provenance], int]:
        """The first sightings of a node or relationship id and their count (read ahead, or
        read now)."""
        found = self.seen.get(item)
        if found is None:
            every = same_as_sightings(self.store, self.graph, item)
            found = every[:_PROVENANCE_LINES], len(every)
        return found

    def map_id(self, node: str) -> str:
        return self.ids.setdefault(node, f"n{len(self.ids)}")

    def label(self, node: str) -> str:
        return self.privacy.label(node, self.graph.nodes[node])

    def node(self, node: str) -> MapNode:
        attrs = self.graph.nodes[node]
        kind = str(attrs.get("type", ""))
        style = type_style(kind)
        lines = [kind]
        colour = style.color
        cell = self.cells.get(node)
        if cell is not None:
            colour = cell_colour(self.cell_order[cell])
            lines[0] += f" · cell {cell}"
        for name, value in self.privacy.properties(node, attrs).items():
            lines.append(_clip(f"{name}: {_when(value)}", _VALUE_CHARS))
        sightings, count = self.sightings(node)
        if count:
            lines.append("sources:")
            lines.extend(_provenance_lines(sightings, count, self.privacy))
        return MapNode(self.map_id(node), _clip(self.label(node), _LABEL_CHARS),
                       title="\n".join(lines), shape=style.shape, color=colour,
                       size=style.size)

    def edge(self, src: str, dst: str, rel: str) -> MapEdge:
        attrs = {k: _when(self.privacy.value(v))
                 for k, v in self.graph.edges[src, dst, rel].items()
                 if k != "type" and v is not None}
        lines = [rel]  # the page adds the labels of both ends (ends=True)
        first, last = attrs.pop("first_seen", None), attrs.pop("last_seen", None)
        if first is not None or last is not None:
            # one line, and one time when both are the same sighting
            seen = [str(t) for t in dict.fromkeys((first, last)) if t is not None]
            lines.append(_clip(f"seen: {' – '.join(seen)}", _VALUE_CHARS))
        lines.extend(_clip(f"{k}: {v}", _VALUE_CHARS) for k, v in attrs.items())
        sightings, count = self.sightings(edge_id(rel, src, dst))
        lines.append("evidence:" if count else "evidence: no sightings recorded")
        lines.extend(_provenance_lines(sightings, count, self.privacy))
        return MapEdge(self.map_id(src), self.map_id(dst), title="\n".join(lines), ends=True)


def _place(spec: MapSpec, seed: int = 7) -> MapSpec:
    """Compute positions ahead (physics off) when the browser's physics would not settle."""
    if len(spec.nodes) > PHYSICS_LIMIT:
        positions = layout_positions([n.id for n in spec.nodes],
                                     [(e.src, e.dst) for e in spec.edges], seed=seed)
        for node in spec.nodes:
            node.x, node.y = positions[node.id]
        spec.physics = False
    return spec


def _detailed(drawer: _Drawer, nodes: Iterable[str],
              folded: Mapping[str, list[str]] | None = None
              ) -> tuple[list[MapNode], list[MapEdge]]:
    """``nodes`` and the relationships among them; each node of ``folded`` also names, in
    its tooltip, the IP addresses folded into it."""
    wanted = sorted(nodes)
    within = edges_among(drawer.graph, wanted)
    drawer.read_ahead([*wanted, *(edge_id(r, s, d) for s, d, r in within)])
    drawn = [drawer.node(n) for n in wanted]
    for node, drawing in zip(wanted, drawn, strict=True):
        if folded and node in folded:
            drawing.title += "\n" + _folded_text(drawer, folded[node])
    edges = [drawer.edge(s, d, r) for s, d, r in within]
    return drawn, edges


def _lone_addresses(graph: nx.MultiDiGraph, shown: Iterable[str]) -> dict[str, list[str]]:
    """The IP addresses among ``shown`` that one other node of them alone is linked to, by
    that node, in id order.

    >>> g = nx.MultiDiGraph()
    >>> g.add_nodes_from(["Account:a", "Account:b"], type="Account")
    >>> g.add_nodes_from(["IPAddress:1", "IPAddress:2"], type="IPAddress")
    >>> g.add_edges_from([("Account:a", "IPAddress:1", "LOGGED_IN_FROM"),
    ...                   ("Account:a", "IPAddress:2", "LOGGED_IN_FROM"),
    ...                   ("Account:b", "IPAddress:2", "LOGGED_IN_FROM")])
    [...]
    >>> _lone_addresses(g, list(g))
    {'Account:a': ['IPAddress:1']}
    """
    ends: dict[str, set[str]] = defaultdict(set)
    for src, dst, _ in edges_within(graph, shown):
        ends[src].add(dst)
        ends[dst].add(src)
    lone: dict[str, list[str]] = {}
    for node in sorted(ends):
        if graph.nodes[node].get("type") == "IPAddress" and len(ends[node]) == 1:
            (holder,) = ends[node]
            if graph.nodes[holder].get("type") != "IPAddress":
                lone.setdefault(holder, []).append(node)
    return lone


def _folded_text(drawer: _Drawer, addresses: list[str]) -> str:
    named = ", ".join(drawer.label(a) for a in addresses[:_FOLDED_LISTED])
    more = len(addresses) - _FOLDED_LISTED
    return _clip(f"IP addresses only it is linked to ({len(addresses):,}): {named}"
                 + (f" … and {more:,} more" if more > 0 else ""), 2 * _VALUE_CHARS)


def _group_edges(collapsed_edges: Mapping[tuple[str, str], Counter[str]],
                 ids: Mapping[str, str]) -> list[MapEdge]:
    out = []
    for (a, b), rels in collapsed_edges.items():
        total = sum(rels.values())
        title = "\n".join(f"{rel} × {n}" for rel, n in sorted(rels.items()))
        out.append(MapEdge(ids[a], ids[b], title=title, width=1 + math.log2(total),
                           arrows=False))
    return out


def _cells_legend(records: list[CellRecord], order: Mapping[str, int]) -> LegendSection:
    return LegendSection("Cells", [
        LegendEntry("●", cell_colour(order[c.cell_id]),
                    _clip(f"{c.cell_id} · {len(c.members)} members", 60))
        for c in records])


def cell_map(
    store: Store,
    cells: Iterable[str] | None = None,
    *,
    detailed: bool = False,
    budget: int = DEFAULT_BUDGET,
    reveal: bool = False,
    graph: nx.MultiDiGraph | None = None,
    latest: tuple[str, list[CellRecord]] | None = None,
    reaches: list[CellReach] | None = None,
    privacy: Privacy | None = None,
) -> MapSpec:
    """The cells of the latest run: an overview of every cell, or the named cells in detail.

    Parameters
    ----------
    store
        The case; its latest cell run is drawn.
    cells
        Draw only these cell ids, in detail: every agent, account, identifier and raid site
        of their footprint, with the evidence behind each edge.
    detailed
        Draw every cell in detail (the default without ``cells`` is the overview of
        :mod:`ringmap.viz.overview`).
    budget
        Most nodes a detailed map draws individually; above it each cell becomes one
        super-node with its infrastructure counted per type (and the map says so in a
        banner). The overview falls back to the same above ``OVERVIEW_LIMIT`` nodes. Above
        :data:`~ringmap.viz.world.MOST_CELLS` cells the overview, and a detailed map over
        the budget, are drawn per raid city instead (:mod:`ringmap.viz.cities`).
    reveal
        Show victims' identities instead of pseudonyms.
    graph
        The evidence graph if the caller already projected it.
    latest
        The latest cell run's id and its cells (not empty) if the caller holds them, as
        ``ringmap run`` does after saving them: not read again (at 600 cells they take
        0.4 GB). Used when no ``cells`` are named.
    reaches
        The reach of each of ``latest``'s cells (:func:`~ringmap.viz.reach.reach_cells` of
        ``graph``) if the caller already found them, as ``ringmap run`` does once for all its
        maps, timelines and packages. Used with ``latest``.
    privacy
        :meth:`Privacy.for_graph` of ``graph`` (and ``reveal``) if the caller made it
        already, as ``ringmap run`` does once for its cells, maps and packages.
    """
    if budget < 1:
        raise ConfigError("the node budget must be at least 1")
    if latest is not None and cells is None:
        run_id, records = latest
    else:
        # the figures of each cell's report, not the report: a map draws no more of it
        (run_id, records), reaches = select_cells(store, cells, reports=False), None
    # read from the packed arrays, not built as Python dicts (6 GB at 2.6M rows)
    graph = store.evidence() if graph is None else graph
    reaches = reach_cells(graph, records) if reaches is None else reaches
    privacy = Privacy.for_graph(graph, reveal=reveal) if privacy is None else privacy
    title = (f"Cell {records[0].cell_id}" if cells is not None and len(records) == 1
             else f"Cells of run {run_id}")
    if cells is None and not detailed:
        if len(records) > MOST_CELLS:
            return _by_city(store, graph, records, reaches, privacy, title)
        run = store.analysis_runs("cells")[-1]  # the run select_cells read
        spec = overview_map(graph, run, records, reaches, privacy,
                            f"Overview of the cells of run {run_id}", OVERVIEW_LIMIT)
        if spec is not None:
            return spec
        budget = min(budget, OVERVIEW_LIMIT)
    return cells_detail_map(store, graph, records, reaches, privacy, title, budget)


def _drawn(reach: CellReach) -> set[str]:
    """What a cell's map draws: its footprint, its raid sites and the exhibits that tie the
    sites to it (without them a site where only an exhibit ties the cell stood alone)."""
    return reach.footprint | reach.sites | reach.exhibits


def cells_detail_map(store: Store, graph: nx.MultiDiGraph, records: list[CellRecord],
                     reaches: list[CellReach], privacy: Privacy, title: str,
                     budget: int = DEFAULT_BUDGET) -> MapSpec:
    """``records`` in detail (see :func:`cell_map`), from their ``reaches`` and the
    ``privacy`` a caller drawing many cells computed once: only the cells' footprints and
    their sightings are read."""
    shown = {n for r in reaches for n in _drawn(r)}
    if len(shown) > budget and len(records) > MOST_CELLS:
        return _by_city(store, graph, records, reaches, privacy, title)
    order = {c.cell_id: i for i, c in enumerate(records)}
    drawer = _Drawer(store, graph, privacy, cell_of(records), order)
    legend = [_cells_legend(records, order)]
    if len(shown) <= budget:
        folded = _lone_addresses(graph, shown) if len(shown) > _READABLE else {}
        hidden = {a for found in folded.values() for a in found}
        drawn = shown - hidden
        nodes, edges = _detailed(drawer, drawn, folded)
        legend.append(LegendSection("Entities", type_legend(
            {str(graph.nodes[n].get("type")) for n in drawn})))
        return _place(MapSpec(title, nodes, edges, legend, notes=[
            "Hover a node or edge for its properties, evidence and sources.",
            "Agents and accounts are coloured by cell."], banner=_folded_banner(
                graph, shown, hidden, len(folded))))
    return _place(_cell_overview(drawer, reaches, shown, budget, title, legend))


def _folded_banner(graph: nx.MultiDiGraph, shown: set[str], hidden: set[str],
                   holders: int) -> str | None:
    if not hidden:
        return None
    addresses = sum(1 for n in shown if graph.nodes[n].get("type") == "IPAddress")
    return (f"{len(shown):,} nodes are more than a map shows readably: {len(hidden):,} of "
            f"the {addresses:,} IP addresses, each linked to one node alone, are folded into "
            f"it ({counted(holders, 'node')}: hover one for its addresses); the "
            f"{addresses - len(hidden):,} linked to two or more are drawn.")


def _by_city(store: Store, graph: nx.MultiDiGraph, records: list[CellRecord],
             reaches: list[CellReach], privacy: Privacy, title: str) -> MapSpec:
    """More than :data:`~ringmap.viz.world.MOST_CELLS` cells, too many for a node (or a
    group) each: drawn per raid city (:mod:`ringmap.viz.cities`)."""
    run = store.analysis_runs("cells")[-1]  # the run select_cells read
    return city_map(graph, records, reaches, privacy, f"{title}, per raid city",
                    run.infrastructure)


def _cell_overview(drawer: _Drawer, reaches: list[CellReach], shown: set[str], budget: int,
                   title: str, legend: list[LegendSection]) -> MapSpec:
    """Cells as super-nodes; their infrastructure counted per type, in groups of its own or,
    when even those exceed the budget, inside the cell's node."""
    graph = drawer.graph
    # each node's first cell (by id) and whether another cell holds it too: all a group
    # asks of its owners (a set of cells per node was 0.1 GB at 5,400 cells)
    first: dict[str, str] = {}
    several: set[str] = set()
    for r in reaches:
        for n in _drawn(r):
            held = first.setdefault(n, r.cell_id)
            if held != r.cell_id:
                several.add(n)
                first[n] = min(held, r.cell_id)
    shared = {n for n in several if drawer.cells.get(n) is None}
    keep = shared if len(shared) <= budget // 4 else set()

    def group_of(node: str, fold: bool) -> str:
        kind = str(graph.nodes[node].get("type"))
        cell = drawer.cells.get(node)
        if cell is None and node in several:
            return f"shared\x00{kind}"
        if cell is None and not fold:
            return f"infra\x00{first[node]}\x00{kind}"
        return f"cell\x00{cell or first[node]}"

    # every node of an edge inside is shown: the nodes alone say how many a map of a group
    # per type would draw, and so whether to fold, without collapsing the edges twice
    folded = len(keep) + len({group_of(n, False) for n in shown if n not in keep}) > budget
    # once per node, not at every end of every edge; the edges one at a time, in no order
    # (collapse counts them): a sorted list of them was 0.1 GB at 5,400 cells
    collapsed = collapse(edges_within(graph, shown), keep,
                         functools.cache(functools.partial(group_of, fold=folded)),
                         nodes=sorted(shown))
    drawer.read_ahead(collapsed.kept)
    nodes = [drawer.node(n) for n in collapsed.kept]
    ids = {n: drawer.map_id(n) for n in collapsed.kept}
    for i, (group, found) in enumerate(collapsed.members.items()):
        ids[group] = f"g{i}"
        nodes.append(_group_node(drawer, group, found, f"g{i}"))
    kept_note = ("identifiers shared between cells are drawn one by one" if keep else
                 f"the {len(shared):,} identifiers shared between cells are counted per type")
    where = "inside the cell's node (hover it)" if folded else "in one node per type"
    banner = (f"Aggregated view: {len(shown):,} nodes exceed the map budget of {budget:,}. "
              f"Each cell is one node and its infrastructure is counted per type {where}; "
              f"{kept_note}.")
    legend.append(LegendSection("Entities", type_legend(
        {str(graph.nodes[n].get("type")) for n in shown})))
    return MapSpec(title, nodes, _group_edges(collapsed.edges, ids), legend, banner=banner,
                   notes=["Hover a group for its counts, an edge for the links it stands for."])


def _group_node(drawer: _Drawer, group: str, found: list[str], map_id: str) -> MapNode:
    parts = group.split("\x00")
    kinds = Counter(str(drawer.graph.nodes[n].get("type")) for n in found)
    counted = "\n".join(f"{n:,} × {type_style(k).label}" for k, n in sorted(kinds.items()))
    if parts[0] == "cell":
        colour = cell_colour(drawer.cell_order[parts[1]])
        members = sum(1 for n in found if n in drawer.cells)
        return MapNode(map_id, _clip(f"Cell {parts[1]} ({members:,})", _LABEL_CHARS),
                       title=f"Cell {parts[1]}\n{counted}", color=colour,
                       size=16 + 3 * math.sqrt(len(found)))
    style = type_style(parts[-1])
    if parts[0] == "shared":
        label = f"{len(found):,} shared × {style.label}"
        colour = NEUTRAL
    else:
        label = f"{len(found):,} × {style.label}"
        colour = cell_colour(drawer.cell_order[parts[1]])
    return MapNode(map_id, _clip(label, _LABEL_CHARS), title=label, shape=style.shape,
                   color=colour, size=style.size + 2 * math.sqrt(len(found)))


# -- entity neighbourhood ------------------------------------------------------------------

def _neighbourhood(store: Store, centre: Node, hops: int, limit: int
                   ) -> tuple[nx.MultiDiGraph, dict[str, int], bool]:
    graph: nx.MultiDiGraph = nx.MultiDiGraph()
    graph.add_node(centre.id, type=centre.type, **centre.props)
    distance = {centre.id: 0}
    frontier = [centre.id]
    truncated = False
    for hop in range(1, hops + 1):
        nxt: list[str] = []
        for node in frontier:
            for edge, other in store.neighbours(node):
                if other.id not in graph:
                    if len(distance) >= limit:
                        truncated = True
                        continue
                    graph.add_node(other.id, type=other.type, **other.props)
                    distance[other.id] = hop
                    nxt.append(other.id)
                graph.add_edge(edge.src, edge.dst, key=edge.type, type=edge.type, **edge.props)
        frontier = nxt
    # Whether the outermost identifiers are a victim's (pseudonymised) is decided beyond them.
    return victim_context(store, graph, frontier), distance, truncated


def entity_map(
    store: Store,
    key: str,
    *,
    hops: int = DEFAULT_HOPS,
    budget: int = DEFAULT_BUDGET,
    reveal: bool = False,
) -> MapSpec:
    """The neighbourhood of one entity, ``hops`` relationships deep.

    ``key`` is a node id, ``type:value`` or a bare identifier (see
    :func:`ringmap.graphs.resolve.resolve`). Above ``budget`` nodes, everything beyond the
    first hop is counted per hop and type instead of drawn.
    """
    if hops < 1:
        raise ConfigError("--hops must be at least 1")
    if budget < 1:
        raise ConfigError("the node budget must be at least 1")
    centre = resolve(store, key)
    context, distance, truncated = _neighbourhood(store, centre, hops, 20 * budget)
    latest = store.latest_cells(explanations=False, reports=False)
    records = latest[1] if latest is not None else []
    order = {c.cell_id: i for i, c in enumerate(records)}
    drawer = _Drawer(store, context, Privacy.for_graph(context, reveal=reveal),
                     cell_of(records), order)
    title = f"Neighbourhood of {_clip(drawer.label(centre.id), 60)} ({hops} hops)"
    legend = [LegendSection("Entities", type_legend(
        {str(context.nodes[n].get("type")) for n in distance}))]
    if records:
        legend.insert(0, _cells_legend(
            [c for c in records if any(m.node_id in distance for m in c.members)], order))
    notes = ["The entity searched for is drawn larger than the rest."]
    if len(distance) <= budget:
        nodes, edges = _detailed(drawer, distance)
        spec = MapSpec(title, nodes, edges, legend, notes)
    else:
        spec = _hop_overview(drawer, distance, budget, title, legend, notes, truncated)
    for node in spec.nodes:
        if node.id == drawer.ids.get(centre.id):
            node.size *= 1.6
    return _place(spec)


def _hop_overview(drawer: _Drawer, distance: Mapping[str, int], budget: int, title: str,
                  legend: list[LegendSection], notes: list[str], truncated: bool) -> MapSpec:
    first = {n for n, d in distance.items() if d <= 1}
    keep = first if len(first) <= budget else {n for n, d in distance.items() if d == 0}

    def group_of(node: str) -> str:
        return f"{distance[node]}\x00{drawer.graph.nodes[node].get('type')}"

    collapsed = collapse(edges_among(drawer.graph, distance), keep, group_of,
                         nodes=sorted(distance))
    drawer.read_ahead(collapsed.kept)
    nodes = [drawer.node(n) for n in collapsed.kept]
    ids: dict[str, str] = {n: drawer.map_id(n) for n in collapsed.kept}
    for i, (group, found) in enumerate(collapsed.members.items()):
        hop, kind = group.split("\x00")
        style = type_style(kind)
        label = f"{len(found):,} × {style.label} at {hop} hops"
        ids[group] = f"g{i}"
        nodes.append(MapNode(f"g{i}", label, title=label, shape=style.shape, color=style.color,
                             size=style.size + 2 * math.sqrt(len(found))))
    more = " (the walk stopped early: there were even more)" if truncated else ""
    banner = (f"Aggregated view: {len(distance):,} nodes{more} exceed the map budget of "
              f"{budget:,}. Nodes beyond the first hop are counted per hop and type.")
    return MapSpec(title, nodes, _group_edges(collapsed.edges, ids), legend, notes,
                   banner=banner)


# -- writers -------------------------------------------------------------------------------

def _write(spec: MapSpec, path: Path) -> MapResult:
    write_atomic(path, render_map(spec))
    return MapResult(Path(path), len(spec.nodes), len(spec.edges) + len(spec.strokes),
                     spec.banner is not None)


def write_cell_map(store: Store, path: Path, **options: Any) -> MapResult:
    """Render :func:`cell_map` to ``path`` (options as for :func:`cell_map`)."""
    return _write(cell_map(store, **options), path)


def write_victim_map(store: Store, path: Path, **options: Any) -> MapResult:
    """Render :func:`~ringmap.viz.world.victim_map` to ``path`` (options as for it)."""
    return _write(victim_map(store, **options), path)


def write_entity_map(store: Store, key: str, path: Path, **options: Any) -> MapResult:
    """Render :func:`entity_map` of ``key`` to ``path`` (options as for :func:`entity_map`)."""
    return _write(entity_map(store, key, **options), path)

