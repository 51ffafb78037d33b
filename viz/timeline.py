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
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.dates
import networkx as nx
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ringmap.analysis.fx import FxTable
from ringmap.analysis.victims import Paid, cell_side
from ringmap.errors import ExportError
from ringmap.fileio import write_atomic
from ringmap.graphs.schema import Role

__all__ = ["KINDS", "Event", "Timeline", "case_timeline", "cell_timeline", "write_timeline"]

#: what a timeline counts, in the order of its panels
KINDS = ("contact", "payment", "report", "arrest")
_PANELS = {"contact": ("contacts begun", "#0072b2"), "payment": ("paid (USD)", "#8a6d00"),
           "report": ("reports", "#cc79a7"), "arrest": ("arrests", "#d55e00")}
_CONTACTABLE = frozenset({"Account", "Phone"})


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


def _day(value: Any) -> date | None:
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
    first, last = _day(attrs.get("first_seen")), _day(attrs.get("last_seen"))
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
    when = _day(attrs.get("time"))
    if when is None:
        return None
    amount, currency = attrs.get("amount"), attrs.get("currency")
    usd = fx.to_usd(float(amount), str(currency), when) if amount and currency else None
    return Event("payment", when, payer, usd=round(usd or 0.0, 2))


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
    reported = [_day(graph.nodes[r].get("received")) for r in reports]
    undated["report"] = reported.count(None)
    arrested = [_day(a.get("time")) for a in arrests]
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
    missing = ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in
                        sorted(line.undated.items()))
    return (f"{contact} · {totals['contact']:,.0f} contacts · USD {totals['payment']:,.0f} "
            f"paid · {totals['report']:,.0f} reports · {totals['arrest']:,.0f} arrests"
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


def write_timeline(line: Timeline, path: Path) -> Path:
    """Draw ``line`` into ``path``: SVG (text as paths) or PNG, by its suffix."""
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("svg", "png"):
        raise ExportError(f"a timeline is written as .svg or .png, not {path.name}")
    buffer = io.BytesIO()
    # fixed ids and no date: the same case draws the same file (manifests, diffs)
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "ringmap"}):
        _figure(line).savefig(buffer, format=kind, dpi=110,
                              metadata={"Date": None} if kind == "svg" else {"Software": None})
    write_atomic(path, buffer.getvalue())
    return path
