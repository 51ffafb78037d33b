"""Cells over time: the cells of each time window, their lineage, and the agents who moved.

An agent is *active* in a window when its evidence has timestamps in it: a contact
(``CONTACTED`` from its first to its last message), a login (``LOGGED_IN_FROM``,
``LOGGED_IN_ON``) or a SIM sighting, each from ``first_seen`` to ``last_seen``; a report
naming it (``Report.received``). Payments (``Payment.time``) date the money side. The graph of
a window keeps every undated relationship (who uses what, registrations, seizures: what ties an
agent to his identifiers whenever he is active) and the dated ones that overlap the window;
accounts with no dated evidence in the window are left out, and suspects none of whose
accounts is active. Its cells are found as for the whole case
(:func:`~ringmap.analysis.cells.find_cells`).

Lineage matches each cell with the cells of the next window (the next that has cells: a
window without any is skipped) by the agents they share:
``A`` and ``B`` are linked when they share at least ``min_shared`` agents and those are at
least ``overlap`` of the smaller cell (the overlap coefficient; their Jaccard index is
reported beside it). Then, per cell: one link each way *continues*; a cell linked to several
of the next window *splits*; a cell linked from several *merges*; a cell linked from none
*appears*, one linked to none *ends*.

A *move* is an agent found in cell ``A`` (the last window he was in a cell) and now in cell
``B`` where ``B`` is neither linked to ``A`` nor descended from it, and ``B`` existed before
without him (it has an ancestor in an earlier window). Its evidence: the agent's links to
what he shares with the other members of each cell, with their dates, in each window.

>>> from datetime import date
>>> [str(w) for w in windows_between(date(2014, 1, 1), date(2014, 2, 15), parse_window("30d"))]
['2014-01-01 to 2014-01-30', '2014-01-31 to 2014-03-01']
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from ringmap.analysis.cells import CellSettings, CellsResult, find_cells
from ringmap.errors import AnalysisError, ConfigError
from ringmap.graphs.model import edge_id
from ringmap.graphs.schema import Role

__all__ = [
    "ACTIVITY",
    "CellOverTime",
    "Detection",
    "Link",
    "Move",
    "PlantedMove",
    "Tie",
    "Window",
    "WindowSettings",
    "WindowedCells",
    "cells_over_time",
    "day_of",
    "majority",
    "parse_window",
    "score_moves",
    "span_of",
    "window_graph",
    "windows_between",
]

#: relationships whose dates make their ends active (contacts, logins, SIM sightings)
ACTIVITY = frozenset({"CONTACTED", "LOGGED_IN_FROM", "LOGGED_IN_ON", "SIM_IN"})
#: entity types that are events, dated by one property; outside a window they are left out
_EVENTS = {"Payment": "time", "Report": "received"}
#: relationships from an event that make its other end active (a report naming an account)
_EVENT_ACTIVITY = frozenset({"NAMES"})
_AGENT_SIDE = frozenset({"Account", "Person"})
_WINDOW = re.compile(r"\s*(\d+)\s*([dw])\s*", re.IGNORECASE)

Event = Literal["continues", "splits", "merges", "appears", "ends"]


def parse_window(text: str) -> timedelta:
    """A window length such as ``30d`` or ``2w``; :class:`ConfigError` otherwise.

    >>> parse_window("2w")
    datetime.timedelta(days=14)
    """
    found = _WINDOW.fullmatch(text)
    if not found or int(found[1]) < 1:
        raise ConfigError(f"--window must be a number of days or weeks such as 30d or 2w, "
                          f"got {text!r}")
    return timedelta(days=int(found[1]) * (7 if found[2].lower() == "w" else 1))


def day_of(value: Any) -> date | None:
    """The day of a stored timestamp (a datetime, a date or ISO text), else ``None``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            return None
    return None


def _span(attrs: Mapping[str, Any]) -> tuple[date, date] | None:
    """First and last day of a dated relationship, or ``None`` if it has no date."""
    first, last = day_of(attrs.get("first_seen")), day_of(attrs.get("last_seen"))
    first = first or day_of(attrs.get("time")) or last
    if first is None:
        return None
    return first, max(last or first, first)


@dataclass(frozen=True, slots=True)
class Window:
    """A time window: from ``start`` to ``end``, both days included."""

    index: int
    start: date
    end: date

    def __str__(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    def overlaps(self, first: date, last: date) -> bool:
        """Whether the days ``first`` to ``last`` meet this window."""
        return first <= self.end and last >= self.start


def windows_between(first: date, last: date, size: timedelta) -> list[Window]:
    """Consecutive windows of ``size`` from ``first`` until one holds ``last``."""
    out: list[Window] = []
    start = first
    while start <= last:
        out.append(Window(len(out), start, start + size - timedelta(days=1)))
        start += size
    return out


@dataclass(frozen=True, slots=True)
class Tie:
    """One dated (or undated) relationship that shows an agent in a cell in a window."""

    relationship: str
    source: str
    target: str
    first: date | None
    last: date | None
    shared: str
    """The identifier this link reaches that other members of the cell reach too."""


@dataclass
class CellOverTime:
    """One cell of one window, with its place in the lineage."""

    window: Window
    cell_id: str
    """``W<window>-<cell>``, e.g. ``W03-C002``."""
    agents: frozenset[str]
    members: dict[str, float]
    line: str = ""
    """The lineage it belongs to: kept while a cell continues, new after a split or merge."""
    event: Event = "appears"
    previous: list[str] = field(default_factory=list)
    """Cells of the previous window it is linked from."""
    following: list[str] = field(default_factory=list)
    """Cells of the next window it is linked to."""
    ending: bool = False
    """Linked to no cell of the next window (the next window is known)."""


@dataclass(frozen=True, slots=True)
class Link:
    """Two cells of consecutive windows matched by the agents they share."""

    before: str
    after: str
    shared: int
    overlap: float
    jaccard: float


@dataclass
class Move:
    """An agent who left one cell for another, with the ties that show him in each."""

    agent: str
    from_cell: str
    to_cell: str
    from_window: Window
    to_window: Window
    before: list[Tie]
    after: list[Tie]


class WindowSettings(BaseModel):
    """How cells are matched across windows (recorded with the result)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    overlap: float = Field(default=0.5, gt=0.0, le=1.0,
                           description="shared agents / agents of the smaller cell to link two")
    min_shared: int = Field(default=2, ge=1, description="shared agents to link two cells")
    ties_per_cell: int = Field(default=5, ge=1,
                               description="most ties listed per agent and cell of a move")


@dataclass
class WindowedCells:
    """Cells per window, their lineage and the moves between them."""

    windows: list[Window]
    cells: list[CellOverTime]
    links: list[Link]
    moves: list[Move]
    active: dict[int, int]
    """Window index -> agents active in it."""
    settings: WindowSettings

    def of_window(self, window: Window) -> list[CellOverTime]:
        """The cells of ``window``."""
        return [c for c in self.cells if c.window == window]


def window_graph(evidence: nx.MultiDiGraph, window: Window
                 ) -> tuple[nx.MultiDiGraph, dict[str, tuple[date, date]]]:
    """The evidence of one window (see the module docstring) and the dated relationships
    kept in it (edge id -> first and last day)."""
    left_out: set[str] = set()
    for node, attrs in evidence.nodes(data=True):
        prop = _EVENTS.get(attrs.get("type", ""))
        if prop is not None:
            day = day_of(attrs.get(prop))
            if day is None or not window.overlaps(day, day):
                left_out.add(node)
    kept: list[tuple[str, str, str, dict[str, Any]]] = []
    dated: dict[str, tuple[date, date]] = {}
    active: set[str] = set()
    for src, dst, rel, attrs in evidence.edges(keys=True, data=True):
        if src in left_out or dst in left_out:
            continue
        span = _span(attrs)
        if span is not None:
            if not window.overlaps(*span):
                continue
            dated[edge_id(rel, src, dst)] = span
            if rel in ACTIVITY:
                active.update((src, dst))
        elif rel in _EVENT_ACTIVITY and src in evidence and evidence.nodes[src].get(
                "type") in _EVENTS:
            active.add(dst)
        kept.append((src, dst, rel, attrs))
    nodes = evidence.nodes
    for src, dst, rel, _attrs in kept:  # a suspect is active through his active accounts
        if rel == "USES" and dst in active and nodes[dst].get("type") == "Account":
            active.add(src)
    for node, attrs in nodes(data=True):
        kind = attrs.get("type")
        if kind == "Account" or (kind == "Person" and attrs.get("role") == Role.SUSPECT):
            if node not in active:
                left_out.add(node)
    graph = nx.MultiDiGraph()
    graph.add_nodes_from((n, a) for n, a in nodes(data=True) if n not in left_out)
    graph.add_edges_from((s, d, r, a) for s, d, r, a in kept
                         if s not in left_out and d not in left_out)
    return graph, dated


def _find(graph: nx.MultiDiGraph, settings: CellSettings) -> CellsResult | None:
    try:
        return find_cells(graph, settings)
    except AnalysisError:  # nobody active in the window
        return None


def _link(a: CellOverTime, b: CellOverTime, settings: WindowSettings) -> Link | None:
    shared = len(a.agents & b.agents)
    if shared < settings.min_shared:
        return None
    overlap = shared / min(len(a.agents), len(b.agents))
    if overlap < settings.overlap:
        return None
    return Link(a.cell_id, b.cell_id, shared, round(overlap, 4),
                round(shared / len(a.agents | b.agents), 4))


def _lineage(by_window: Sequence[list[CellOverTime]], settings: WindowSettings) -> list[Link]:
    links: list[Link] = []
    lines = 0
    filled = [cells for cells in by_window if cells]  # a window without cells is skipped
    for k, cells in enumerate(filled):
        before = filled[k - 1] if k else []
        for cell in cells:
            for old in before:
                found = _link(old, cell, settings)
                if found is not None:
                    links.append(found)
                    old.following.append(cell.cell_id)
                    cell.previous.append(old.cell_id)
        named = {c.cell_id: c for c in before}
        for cell in cells:
            if len(cell.previous) > 1:
                cell.event = "merges"
            elif len(cell.previous) == 1:
                parent = named[cell.previous[0]]
                cell.event = "splits" if len(parent.following) > 1 else "continues"
            if cell.event == "continues":
                cell.line = named[cell.previous[0]].line
            else:
                lines += 1
                cell.line = f"L{lines:03d}"
        for cell in before:
            cell.ending = not cell.following
    return links


def _ties(agent: str, cell: CellOverTime, result: CellsResult,
          dated: Mapping[str, tuple[date, date]], limit: int) -> list[Tie]:
    """The agent's links to what other members of ``cell`` reach too, dated ones first."""
    agents = result.agents
    index = agents.index
    me = index.get(agent)
    others = {index[a] for a in cell.agents if a != agent and a in index}
    ties: dict[str, Tie] = {}
    for ident, mine in agents.incidence.held_by(me) if me is not None else ():
        if others.isdisjoint(agents.incidence[ident]):
            continue
        for eid in mine.via:
            rel, _, ends = eid.partition(":")
            src, _, dst = ends.partition("->")
            first, last = dated.get(eid, (None, None))
            ties.setdefault(eid, Tie(rel, src, dst, first, last, ident))
    order = sorted(ties.values(), key=lambda t: (t.first is None, t.first or date.min,
                                                 t.relationship, t.target))
    return order[:limit]


def cells_over_time(
    evidence: nx.MultiDiGraph,
    windows: Sequence[Window],
    settings: CellSettings | None = None,
    matching: WindowSettings | None = None,
) -> WindowedCells:
    """Cells per window of ``evidence``, their lineage and the agents who moved.

    Parameters
    ----------
    evidence
        The evidence graph (:meth:`ringmap.graphs.store.Store.project`).
    windows
        Consecutive windows (:func:`windows_between`).
    settings
        Cell detection in each window (as ``ringmap cells``).
    matching
        How cells of consecutive windows are matched.
    """
    settings = settings or CellSettings()
    matching = matching or WindowSettings()
    by_window: list[list[CellOverTime]] = []
    found: list[tuple[CellsResult | None, dict[str, tuple[date, date]]]] = []
    active: dict[int, int] = {}
    for window in windows:
        graph, dated = window_graph(evidence, window)
        result = _find(graph, settings)
        found.append((result, dated))
        cells = []
        if result is not None:
            active[window.index] = len(result.agents.units)
            units = result.agents.units
            cells = [CellOverTime(window, f"W{window.index + 1:02d}-{c.cell_id}",
                                  frozenset(units[v] for v in c.units), c.members)
                     for c in result.cells]
        else:
            active[window.index] = 0
        by_window.append(cells)
    links = _lineage(by_window, matching)
    moves = _moves(by_window, found, matching)
    return WindowedCells(list(windows), [c for cells in by_window for c in cells], links,
                         moves, active, matching)


def _descendants(by_window: Sequence[list[CellOverTime]]) -> dict[str, set[str]]:
    """Cell id -> every later cell reached from it through links."""
    named = {c.cell_id: c for cells in by_window for c in cells}
    out: dict[str, set[str]] = {}
    for cells in reversed(by_window):
        for cell in cells:
            reach: set[str] = set()
            for nxt in cell.following:
                reach.add(nxt)
                reach |= out.get(nxt, set())
            out[cell.cell_id] = reach
    for cell_id in named:
        out.setdefault(cell_id, set())
    return out


def _moves(by_window: Sequence[list[CellOverTime]],
           found: Sequence[tuple[CellsResult | None, dict[str, tuple[date, date]]]],
           matching: WindowSettings) -> list[Move]:
    below = _descendants(by_window)
    last: dict[str, CellOverTime] = {}
    moves: list[Move] = []
    for k, cells in enumerate(by_window):
        for cell in sorted(cells, key=lambda c: c.cell_id):
            for agent in sorted(cell.agents):
                before = last.get(agent)
                last[agent] = cell
                if (before is None or cell.cell_id in below[before.cell_id]
                        or _link(before, cell, matching) is not None
                        or not cell.previous or len(cell.agents) < 3):
                    continue
                old_result, old_dated = found[before.window.index]
                new_result, new_dated = found[k]
                assert old_result is not None and new_result is not None
                moves.append(Move(
                    agent, before.cell_id, cell.cell_id, before.window, cell.window,
                    _ties(agent, before, old_result, old_dated, matching.ties_per_cell),
                    _ties(agent, cell, new_result, new_dated, matching.ties_per_cell)))
    return moves


def span_of(evidence: nx.MultiDiGraph) -> tuple[date, date] | None:
    """The first and last day of the case's dated evidence (activity and events)."""
    days: list[date] = []
    for _src, _dst, rel, attrs in evidence.edges(keys=True, data=True):
        span = _span(attrs) if rel in ACTIVITY else None
        if span is not None:
            days.extend(span)
    for _node, attrs in evidence.nodes(data=True):
        prop = _EVENTS.get(attrs.get("type", ""))
        day = day_of(attrs.get(prop)) if prop else None
        if day is not None:
            days.append(day)
    return (min(days), max(days)) if days else None


def majority(members: Iterable[str], truth: Mapping[str, str]) -> str | None:
    """The planted cell most of ``members`` belong to (ties: the smallest id)."""
    votes: dict[str, int] = defaultdict(int)
    for member in members:
        if member in truth:
            votes[truth[member]] += 1
    return min(votes, key=lambda c: (-votes[c], c)) if votes else None


@dataclass(frozen=True, slots=True)
class PlantedMove:
    """A move known to have happened (a synthetic case's ``truth/moves.csv``)."""

    agent: str
    from_cell: str
    to_cell: str
    moved: date


@dataclass(frozen=True, slots=True)
class Detection:
    """How one planted move was found: the move that shows it (or ``None``) and how many
    windows after the one holding the move's date it shows."""

    planted: PlantedMove
    found: Move | None
    lag: int | None


def score_moves(result: WindowedCells, planted: Sequence[PlantedMove],
                truth: Mapping[str, str]) -> list[Detection]:
    """Match planted moves with found ones: a planted move is found when a move of the same
    agent leaves a cell whose agents are mostly of the planted ``from_cell`` for one whose
    agents are mostly of the planted ``to_cell`` (by ``truth``: node id -> planted cell)."""
    named = {c.cell_id: c for c in result.cells}
    out = []
    for move in planted:
        hit = next((m for m in result.moves if m.agent == move.agent
                    and majority(named[m.from_cell].agents - {m.agent}, truth) == move.from_cell
                    and majority(named[m.to_cell].agents - {m.agent}, truth) == move.to_cell),
                   None)
        at = next((w.index for w in result.windows if w.overlaps(move.moved, move.moved)), None)
        lag = hit.to_window.index - at if hit is not None and at is not None else None
        out.append(Detection(move, hit, lag))
    return out
