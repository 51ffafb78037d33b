"""When a case or a cell was active: dated events, weekly counts and a static timeline picture.

The events of a cell are those of its side (:func:`ringmap.analysis.victims.cell_side`): every
contact with an account or phone outside it (from its first to its last message), every
payment into the cell's cards and wallets (in USD at the payment's date, as the cell report
counts it), every report naming its side and every arrest of one of its persons. The events of
a case are all of them. The same events decide what the maps' time filter hides.

The picture is drawn by matplotlib (Agg, no display needed): four panels sharing one weekly
axis — contacts begun, payments in USD, reports and arrests per week — with the span from the
first to the last contact shaded. SVGs carry their text as paths (no fonts, no ``<text>``, no
script); a PNG is pixels.

>>> import networkx as nx
>>> from datetime import datetime
>>> g = nx.MultiDiGraph()
>>> g.add_node("Account:fb/ag", type="Account")
>>> g.add_node("Account:fb/v", type="Account")
>>> _ = g.add_edge("Account:fb/ag", "Account:fb/v", key="CONTACTED",
...                first_seen=datetime(2014, 3, 3), last_seen=datetime(2014, 3, 20))
>>> line = case_timeline(g)
>>> line.first_contact, line.last_contact, line.weekly()["contact"]
(datetime.date(2014, 3, 3), datetime.date(2014, 3, 20), {datetime.date(2014, 3, 3): 1.0})
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.dates
import networkx as nx
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ringmap.analysis.fx import FxTable
from ringmap.analysis.victims import Paid, cell_side
from ringmap.analysis.windows import day_of
from ringmap.errors import ExportError
from ringmap.fileio import write_atomic
from ringmap.graphs.model import CellRecord
from ringmap.graphs.schema import Role
from ringmap.graphs.store import Store
from ringmap.viz.reach import CellReach, reach_cells, select_cells
from ringmap.viz.render import counted

__all__ = ["KINDS", "LANES", "TIMELINE_COLUMNS", "Event", "Timeline", "case_timeline",
           "cell_timeline", "cell_timelines", "timeline_of", "timeline_row", "write_cell_timeline",
           "write_cells_timeline", "write_timeline"]

#: what a timeline counts, in the order of its panels
KINDS = ("contact", "payment", "report", "arrest")
_PANELS = {"contact": ("contacts begun", "#0072b2"), "payment": ("paid (USD)", "#8a6d00"),
           "report": ("reports", "#cc79a7"), "arrest": ("arrests", "#d55e00")}
_CONTACTABLE = frozenset({"Account", "Phone"})
#: most cells drawn in one picture of cells over time
LANES = 40


@dataclass(frozen=True, slots=True)
class Event:
    """One dated thing that happened: a contact (``until`` its last message), a payment (with
    its ``usd``), a report or an arrest; ``victim`` is the victim it concerns, if known."""

    kind: str
    when: date
    victim: str | None = None
    usd: float = 0.0
    until: date | None = None

    @property
    def end(self) -> date:
        """The last day the event covers."""
        return self.until or self.when


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass
class Timeline:
    """The dated events of a case or a cell, and how many had no date, per kind."""

    title: str
    events: list[Event]
    undated: Counter[str] = field(default_factory=Counter)

    def _contacts(self) -> list[Event]:
        return [e for e in self.events if e.kind == "contact"]

    @property
    def first_contact(self) -> date | None:
        """The day of the first contact."""
        return min((e.when for e in self._contacts()), default=None)

    @property
    def last_contact(self) -> date | None:
        """The day of the last message of any contact."""
        return max((e.end for e in self._contacts()), default=None)

    def span(self) -> tuple[date, date] | None:
        """First and last day of any event."""
        if not self.events:
            return None
        return min(e.when for e in self.events), max(e.end for e in self.events)

    def weekly(self) -> dict[str, dict[date, float]]:
        """Per kind: week (its Monday) -> events begun that week (payments: USD paid)."""
        out: dict[str, dict[date, float]] = {kind: defaultdict(float) for kind in KINDS}
        for e in self.events:
            out[e.kind][_week(e.when)] += e.usd if e.kind == "payment" else 1.0
        return {kind: dict(sorted(weeks.items())) for kind, weeks in out.items()}

    def totals(self) -> dict[str, float]:
        """Per kind: how many events (payments: USD in all)."""
        return {kind: round(sum(weeks.values()), 2) for kind, weeks in self.weekly().items()}


def _victims_using(graph: nx.MultiDiGraph, node: str) -> Iterator[str]:
    for user, keyed in graph.pred[node].items():
        attrs = graph.nodes[user]
        if "USES" in keyed and attrs.get("type") == "Person" and attrs.get("role") == Role.VICTIM:
            yield user


def _contact(graph: nx.MultiDiGraph, src: str, dst: str, attrs: dict[str, Any], side: set[str]
             ) -> Event | None:
    first, last = day_of(attrs.get("first_seen")), day_of(attrs.get("last_seen"))
    when = first or last
    if when is None:
        return None
    # the victim at the far end from the side (either end for the case as a whole)
    ends = [dst if src in side else src] if side else [dst, src]
    victim = min((v for end in ends if graph.nodes[end].get("type") in _CONTACTABLE
                  for v in _victims_using(graph, end)), default=None)
    return Event("contact", when, victim, until=max(last, when) if last else None)


def _payment(graph: nx.MultiDiGraph, payment: str, payer: str | None, fx: FxTable
             ) -> Event | None:
    attrs = graph.nodes[payment]
    when = day_of(attrs.get("time"))
    if when is None:
        return None
    amount, currency = attrs.get("amount"), attrs.get("currency")
    usd = fx.to_usd(float(amount), str(currency), when) if amount and currency else None
    return Event("payment", when, payer, usd=usd or 0.0)  # rounded in totals, as reports do


def _events(
    graph: nx.MultiDiGraph,
    contacts: Iterable[tuple[str, str, dict[str, Any]]],
    side: set[str],
    payments: Iterable[tuple[str, str | None]],
    reports: Iterable[str],
    arrests: Iterable[dict[str, Any]],
    fx: FxTable,
    title: str,
) -> Timeline:
    found: list[Event | None] = []
    undated: Counter[str] = Counter()
    found += [_contact(graph, s, d, a, side) for s, d, a in contacts]
    undated["contact"] = found.count(None)
    paid = [_payment(graph, p, payer, fx) for p, payer in payments]
    undated["payment"] = paid.count(None)
    reported = [day_of(graph.nodes[r].get("received")) for r in reports]
    undated["report"] = reported.count(None)
    arrested = [day_of(a.get("time")) for a in arrests]
    undated["arrest"] = arrested.count(None)
    events = [e for e in [*found, *paid] if e is not None]
    events += [Event("report", d) for d in reported if d is not None]
    events += [Event("arrest", d) for d in arrested if d is not None]
    events.sort(key=lambda e: (e.when, KINDS.index(e.kind), e.victim or "", e.usd))
    return Timeline(title, events, +undated)


def case_timeline(graph: nx.MultiDiGraph, fx: FxTable | None = None,
                  title: str = "Case") -> Timeline:
    """Every dated contact, payment, report and arrest of the case."""
    edges = [(s, d, r, a) for s, d, r, a in graph.edges(keys=True, data=True)]
    payers: dict[str, str] = {}
    for s, d, r, _ in edges:
        if r == "PAID":
            payers.setdefault(d, s)
    return _events(
        graph,
        contacts=((s, d, a) for s, d, r, a in edges if r == "CONTACTED"),
        side=set(),
        payments=((n, payers.get(n)) for n, a in graph.nodes(data=True)
                  if a.get("type") == "Payment"),
        reports=(n for n, a in graph.nodes(data=True) if a.get("type") == "Report"),
        arrests=(a for _, _, r, a in edges if r == "ARRESTED_AT"),
        fx=fx or FxTable.load(), title=title)


def cell_timeline(
    graph: nx.MultiDiGraph,
    members: Collection[str],
    payments: Sequence[Paid],
    fx: FxTable | None = None,
    title: str = "Cell",
) -> Timeline:
    """The dated events of one cell: contacts, reports and arrests of its side (its
    ``members``, see :func:`~ringmap.analysis.victims.cell_side`), and ``payments`` into its
    cards and wallets (``CellReach.payments`` or ``Reached.payments``)."""
    side = cell_side(graph, members)
    contacts: list[tuple[str, str, dict[str, Any]]] = []
    reports: set[str] = set()
    arrests: list[dict[str, Any]] = []
    for node in sorted(side):
        for dst, keyed in graph.succ[node].items():
            if "CONTACTED" in keyed:
                contacts.append((node, dst, keyed["CONTACTED"]))
            if "ARRESTED_AT" in keyed:
                arrests.append(keyed["ARRESTED_AT"])
        for src, keyed in graph.pred[node].items():
            if "CONTACTED" in keyed and src not in side:  # between two side nodes: once
                contacts.append((src, node, keyed["CONTACTED"]))
            if "NAMES" in keyed:
                reports.add(src)
    unique = {p.payment: p.payer for p in reversed(payments)}  # each payment once, first payer
    return _events(graph, contacts, side, sorted(unique.items()),
                   sorted(reports), arrests, fx or FxTable.load(), title)


def _subtitle(line: Timeline) -> str:
    totals = line.totals()
    first, last = line.first_contact, line.last_contact
    contact = (f"contacts {first:%d %b %Y} – {last:%d %b %Y}" if first and last
               else "no dated contact")
    missing = ", ".join(counted(n, kind) for kind, n in sorted(line.undated.items()))
    return (f"{contact} · {counted(int(totals['contact']), 'contact')} · "
            f"USD {totals['payment']:,.0f} paid · {counted(int(totals['report']), 'report')} · "
            f"{counted(int(totals['arrest']), 'arrest')}"
            + (f" · undated: {missing}" if missing else ""))


def _figure(line: Timeline) -> Figure:
    figure = Figure(figsize=(10, 6.4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(KINDS), 1, sharex=True)
    figure.suptitle(f"{line.title}\n{_subtitle(line)}", fontsize=10)
    weekly = line.weekly()
    first, last = line.first_contact, line.last_contact
    for ax, kind in zip(axes, KINDS, strict=True):
        label, colour = _PANELS[kind]
        weeks = weekly[kind]
        ax.bar(list(weeks), list(weeks.values()), width=6, align="edge", color=colour)
        ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.yaxis.get_major_locator().set_params(integer=True)
        if first and last:
            ax.axvspan(first, last + timedelta(days=1), color="#e8eef6", zorder=0)
    span = line.span()
    if span is None:
        axes[0].text(0.5, 0.5, "no dated events", transform=axes[0].transAxes, ha="center")
    else:
        axes[-1].set_xlim(_week(span[0]) - timedelta(days=7), span[1] + timedelta(days=7))
    axes[-1].xaxis.set_major_formatter(
        matplotlib.dates.DateFormatter("%b %Y"))  # type: ignore[no-untyped-call]
    axes[0].annotate("shaded: first to last contact", xy=(1, 1.02),
                     xycoords="axes fraction", ha="right", fontsize=7, color="#555555")
    return figure


def _days(days: Iterable[date]) -> np.ndarray[Any, np.dtype[np.datetime64]]:
    return np.array(list(days), dtype="datetime64[D]")


def _lanes_figure(lines: Sequence[Timeline], title: str) -> Figure:
    rows = max(len(lines), 1)
    figure = Figure(figsize=(10, 1.2 + 0.32 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    figure.suptitle(title, fontsize=10)
    most = max((c for line in lines for c in line.weekly()["contact"].values()), default=1.0)
    biggest = max((e.usd for line in lines for e in line.events), default=1.0) or 1.0
    for row, line in enumerate(lines):
        y = rows - 1 - row
        first, last = line.first_contact, line.last_contact
        if first and last:
            ax.plot(_days([first, last + timedelta(days=1)]), [y, y], color="#c9d6e6", lw=7,
                    solid_capstyle="butt", zorder=1)
        weeks = line.weekly()["contact"]
        ax.bar(_days(weeks), [0.7 * c / most for c in weeks.values()], bottom=y - 0.35,
               width=6, align="edge", color=_PANELS["contact"][1], zorder=2)
        paid = [e for e in line.events if e.kind == "payment"]
        ax.scatter(_days(e.when for e in paid), [y] * len(paid), zorder=3, marker="D",
                   s=[12 + 60 * e.usd / biggest for e in paid], color=_PANELS["payment"][1],
                   edgecolors="white", linewidths=0.5)
        for kind, marker in (("report", "|"), ("arrest", "x")):
            days = [e.when for e in line.events if e.kind == kind]
            ax.scatter(_days(days), [y + 0.3] * len(days), marker=marker, s=28, zorder=4,
                       color=_PANELS[kind][1])
    ax.set_yticks(range(rows), [line.title for line in reversed(lines)] or [""], fontsize=8)
    ax.set_ylim(-0.7, rows - 0.3)
    ax.tick_params(axis="x", labelsize=8)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.xaxis.set_major_formatter(
        matplotlib.dates.DateFormatter("%b %Y"))  # type: ignore[no-untyped-call]
    handles = [Line2D([], [], color="#c9d6e6", lw=7, label="first to last contact"),
               Patch(color=_PANELS["contact"][1], label="contacts begun per week"),
               Line2D([], [], ls="", marker="D", color=_PANELS["payment"][1],
                      label="payment (size: USD)"),
               Line2D([], [], ls="", marker="|", color=_PANELS["report"][1], label="report"),
               Line2D([], [], ls="", marker="x", color=_PANELS["arrest"][1], label="arrest")]
    figure.legend(handles=handles, loc="outside lower center", ncols=5, fontsize=7,
                  frameon=False)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("svg", "png"):
        raise ExportError(f"a timeline is written as .svg or .png, not {path.name}")
    buffer = io.BytesIO()
    # fixed ids and no date: the same case draws the same file (manifests, diffs)
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "ringmap"}):
        figure.savefig(buffer, format=kind, dpi=110,
                       metadata={"Date": None} if kind == "svg" else {"Software": None})
    write_atomic(path, buffer.getvalue())
    return path


def write_timeline(line: Timeline, path: Path) -> Path:
    """Draw ``line`` into ``path``: SVG (text as paths) or PNG, by its suffix."""
    return _save(_figure(line), path)


def write_cells_timeline(lines: Sequence[Timeline], path: Path, title: str = "Cells over time"
                         ) -> Path:
    """Draw one lane per timeline (first :data:`LANES` of them) into ``path``: the span from
    first to last contact, contacts begun per week, payments sized by USD, reports, arrests."""
    shown = list(lines[:LANES])
    if len(lines) > LANES:
        title += f" (the first {LANES} of {len(lines)}; each cell's own is in its raid package)"
    return _save(_lanes_figure(shown, title), path)


def write_cell_timeline(graph: nx.MultiDiGraph, found: CellReach, path: Path,
                        fx: FxTable | None = None) -> Path:
    """The timeline picture of one cell (``found`` as :func:`~ringmap.viz.reach.reach_cells`
    gives it) into ``path``: what a raid package shows."""
    line = cell_timeline(graph, found.members, found.payments, fx, title=f"Cell {found.cell_id}")
    return write_timeline(line, path)


#: the columns of :func:`timeline_row`
TIMELINE_COLUMNS = ["timeline", "first_contact", "last_contact", "busiest_week", "contacts",
                    "usd", "reports", "arrests"]


def timeline_row(line: Timeline) -> dict[str, Any]:
    """One line of a timeline's figures: first and last contact, the week most contacts
    began, and the totals."""
    totals = line.totals()
    weeks = line.weekly()["contact"]
    busiest = max(weeks, key=lambda w: (weeks[w], -w.toordinal()), default=None)
    return {"timeline": line.title, "first_contact": line.first_contact,
            "last_contact": line.last_contact, "busiest_week": busiest,
            "contacts": int(totals["contact"]), "usd": totals["payment"],
            "reports": int(totals["report"]), "arrests": int(totals["arrest"])}


def timeline_of(store: Store, cell: str | None = None) -> Timeline:
    """The case's timeline, or that of ``cell`` of the latest cell run."""
    graph = store.project()
    if cell is None:
        return case_timeline(graph)
    _, records = select_cells(store, [cell])
    return cell_timelines(graph, records)[0]


def cell_timelines(graph: nx.MultiDiGraph, records: Sequence[CellRecord],
                   fx: FxTable | None = None) -> list[Timeline]:
    """The timeline of each cell of one run, in the run's order."""
    fx = fx or FxTable.load()
    return [cell_timeline(graph, r.members, r.payments, fx, title=f"Cell {r.cell_id}")
            for r in reach_cells(graph, records)]
