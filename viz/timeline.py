"""When a case or a cell was active: dated events, weekly counts and a static timeline picture.

The events of a cell are those of its side (:func:`ringmap.analysis.victims.cell_side`): every
contact with an account or phone outside it (from its first to its last message), every
payment into the cell's cards and wallets (in USD at the payment's date, as the cell report
counts it), every report naming its side and every arrest of one of its persons. The events of
a case are all of them. The same events decide what the maps' time filter hides.

The picture is drawn by matplotlib (Agg, no display needed): four panels sharing one weekly
axis — contacts begun, payments in USD, reports and arrests per week — with the span from the
first to the last contact shaded. SVGs carry their text as paths (no fonts, no ``<text>``, no
script); a PNG is pixels, drawn straight onto matplotlib's rasteriser with the layout computed
from the labels' sizes (every raid package holds one: the figure machinery with its
constrained layout cost five times as much, issue 16).

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

import functools
import io
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.dates
import networkx as nx
import numpy as np
from matplotlib.backend_bases import GraphicsContextBase
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager, get_font
from matplotlib.ft2font import RenderMode
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.path import Path as Outline
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Affine2D, Bbox, IdentityTransform
from PIL import Image

from ringmap.analysis.fx import FxTable
from ringmap.analysis.victims import Paid, cell_side
from ringmap.analysis.windows import day_of
from ringmap.errors import ExportError
from ringmap.fileio import write_atomic
from ringmap.graphs.evidence import adjacent, edges_by_rel, nodes_of_type, relationships_at
from ringmap.graphs.model import CellRecord
from ringmap.graphs.schema import Role
from ringmap.graphs.store import Store
from ringmap.viz.reach import CellReach, reach_cells, select_cells
from ringmap.viz.render import counted

__all__ = ["KINDS", "LANES", "TIMELINE_COLUMNS", "Event", "Timeline", "case_timeline",
           "cell_timeline", "cell_timelines", "run_timelines", "timeline_of", "timeline_png",
           "timeline_row", "write_cell_timeline", "write_cells_timeline", "write_timeline"]

#: what a timeline counts, in the order of its panels
KINDS = ("contact", "payment", "report", "arrest")
_PANELS = {"contact": ("contacts begun", "#0072b2"), "payment": ("paid (USD)", "#8a6d00"),
           "report": ("reports", "#cc79a7"), "arrest": ("arrests", "#d55e00")}
_CONTACTABLE = frozenset({"Account", "Phone"})
_OUT_RELS = frozenset({"CONTACTED", "ARRESTED_AT"})  # what a cell's timeline reads of its side
_IN_RELS = frozenset({"CONTACTED", "NAMES"})
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


def _first_victim(graph: nx.MultiDiGraph, node: str) -> str | None:
    """The first (in id order) victim using ``node``, an account or phone; None if none."""
    if graph.nodes[node].get("type") not in _CONTACTABLE:
        return None
    victims = []
    for rel, user in adjacent(graph, node, out=False):
        if rel == "USES":
            attrs = graph.nodes[user]
            if attrs.get("type") == "Person" and attrs.get("role") == Role.VICTIM:
                victims.append(user)
    return min(victims, default=None)


#: a contact's first day and the last day of its last message (None: as the first), or None
#: if it has no date
_Days = tuple[date, date | None] | None


def _contact_days(attrs: Mapping[str, Any]) -> _Days:
    first, last = day_of(attrs.get("first_seen")), day_of(attrs.get("last_seen"))
    when = first or last
    if when is None:
        return None
    return when, max(last, when) if last else None


class _Reads:
    """What the timelines of one graph read of it, each once for all of them: each account's
    or phone's first victim (a hub is contacted thousands of times) and, when ``keep``, each
    contact's days (the properties of every contact, decoded for the case's timeline and
    again for its cells', were some 7 of a 5,400-cell run's maps' 52 CPU-s, issue 16)."""

    def __init__(self, graph: nx.MultiDiGraph, keep: bool = False) -> None:
        self.victim_of = functools.cache(functools.partial(_first_victim, graph))
        self._days: dict[tuple[str, str], _Days] | None = {} if keep else None

    def days(self, src: str, dst: str, attrs: Mapping[str, Any]) -> _Days:
        """The days of the contact of ``src`` with ``dst`` (``attrs``: its properties)."""
        if self._days is None:
            return _contact_days(attrs)
        if (src, dst) not in self._days:
            self._days[src, dst] = _contact_days(attrs)
        return self._days[src, dst]


def _contact(src: str, dst: str, days: _Days, side: set[str],
             victim_of: Callable[[str], str | None]) -> Event | None:
    if days is None:
        return None
    # the victim at the far end from the side (either end for the case as a whole)
    ends = [dst if src in side else src] if side else [dst, src]
    victim = min((v for v in map(victim_of, ends) if v is not None), default=None)
    return Event("contact", days[0], victim, until=days[1])


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
    contacts: Iterable[tuple[str, str, Mapping[str, Any]]],
    side: set[str],
    payments: Iterable[tuple[str, str | None]],
    reports: Iterable[str],
    arrests: Iterable[Mapping[str, Any]],
    fx: FxTable,
    title: str,
    reads: _Reads,
) -> Timeline:
    found: list[Event | None] = []
    undated: Counter[str] = Counter()
    found += [_contact(s, d, reads.days(s, d, a), side, reads.victim_of)
              for s, d, a in contacts]
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
    return _case_timeline(graph, fx or FxTable.load(), title, _Reads(graph))


def _case_timeline(graph: nx.MultiDiGraph, fx: FxTable, title: str, reads: _Reads
                   ) -> Timeline:
    # only the relationships and nodes a timeline reads: no walk of the whole adjacency
    edges = edges_by_rel(graph, ("PAID", "CONTACTED", "ARRESTED_AT"))
    payers: dict[str, str] = {}
    for s, d, _ in edges.get("PAID", ()):
        payers.setdefault(d, s)
    return _events(
        graph,
        contacts=edges.get("CONTACTED", ()),
        side=set(),
        payments=((n, payers.get(n)) for n, _ in nodes_of_type(graph, "Payment")),
        reports=(n for n, _ in nodes_of_type(graph, "Report")),
        arrests=(a for _, _, a in edges.get("ARRESTED_AT", ())),
        fx=fx, title=title, reads=reads)


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
    return _cell_timeline(graph, members, payments, fx or FxTable.load(), title, _Reads(graph))


def _cell_timeline(graph: nx.MultiDiGraph, members: Collection[str], payments: Sequence[Paid],
                   fx: FxTable, title: str, reads: _Reads) -> Timeline:
    side = cell_side(graph, members)
    contacts: list[tuple[str, str, Mapping[str, Any]]] = []
    reports: set[str] = set()
    arrests: list[Mapping[str, Any]] = []
    for node in sorted(side):
        # the three relationships read, not every one of a busy account's
        for rel, dst, attrs in relationships_at(graph, node, True, _OUT_RELS):
            if rel == "CONTACTED":
                contacts.append((node, dst, attrs))
            else:
                arrests.append(attrs)
        for rel, src, attrs in relationships_at(graph, node, False, _IN_RELS):
            if rel == "NAMES":
                reports.add(src)
            elif src not in side:  # a contact between two side nodes: once
                contacts.append((src, node, attrs))
    unique = {p.payment: p.payer for p in reversed(payments)}  # each payment once, first payer
    return _events(graph, contacts, side, sorted(unique.items()), sorted(reports), arrests,
                   fx, title, reads)


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


_DPI = 110
_PANELS_SIZE = (10, 6.4)  # inches, as the SVG's figure
_EPOCH = date(1970, 1, 1)  # matplotlib's date unit: days since


def _day_number(day: date) -> float:
    return float((day - _EPOCH).days)


def _moment(days: float) -> datetime:
    """The UTC time of a matplotlib date number."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=days)


def _agg(width: int, height: int) -> Any:
    """Matplotlib's Agg renderer at :data:`_DPI` (its methods are C++, untyped)."""
    return RendererAgg(width, height, _DPI)  # type: ignore[no-untyped-call]


@functools.cache
def _measuring() -> Any:
    """A renderer that only measures text (sizes depend on the resolution alone)."""
    return _agg(1, 1)


#: a glyph drawn upright: FreeType's 16.16 fixed-point identity matrix
_UPRIGHT = np.array([[0x10000, 0], [0, 0x10000]])


def _glyph_run(text: str, size: float) -> tuple[tuple[Any, int, float, float], ...]:
    """The glyphs of one line of ``text`` in the font of ``size`` points as matplotlib's Agg
    renderer (3.11) lays them out: each glyph's font, index and offset in pixels from the
    line's origin (its fonts and hinting, :func:`get_hinting_flag`, as rcParams has them)."""
    font = get_font(fontManager._find_fonts_by_props(_Raster._font(size)[0]))
    font.clear()
    font.set_size(size, _DPI)
    return tuple((item.ft_object, item.glyph_index, item.x, item.y)
                 for item in font._layout(text, flags=get_hinting_flag()))  # type: ignore[no-untyped-call]


def _glyph(font: Any, size: float, index: int, x64: int, y64: int
           ) -> tuple[np.ndarray[Any, np.dtype[np.uint8]], int, int]:
    """The antialiased bitmap of glyph ``index`` of ``font`` at ``size`` points, placed at
    (``x64``, ``y64``) 64ths of a pixel (0-63: FreeType's 26.6 positions modulo a whole
    pixel), and its left and top edges in whole pixels. The same glyph at a position a whole
    number of pixels away is the same bitmap moved by that many pixels, since FreeType moves
    the hinted outline before rasterising it: a picture's few hundred glyphs are rendered once
    per fraction, not once per draw (the rendering was a fifth of a raid package's timeline)."""
    font.set_size(size, _DPI)
    font._set_transform(_UPRIGHT, [x64, y64])
    bitmap = font._render_glyph(index, get_hinting_flag(),  # type: ignore[no-untyped-call]
                                RenderMode.NORMAL)
    return np.array(bitmap.buffer), bitmap.left, bitmap.top


class _Glyphs:
    """The glyph layouts (:func:`_glyph_run`) and bitmaps (:func:`_glyph`) one process drew,
    kept for its next pictures."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        # tick labels and panel names recur in every cell
        self.run = functools.lru_cache(maxsize=4096)(_glyph_run)
        # at most some 7 MB: 440 bytes a bitmap
        self.bitmap = functools.lru_cache(maxsize=16384)(_glyph)


#: each thread's :class:`_Glyphs` (matplotlib keeps a thread's faces to itself, too)
_drawn = threading.local()


def _own_glyphs() -> _Glyphs:
    """The glyphs this thread of this process drew: a process forked from one that drew some
    starts afresh. A layout holds the FreeType faces that made it, and a face cannot cross a
    fork (its font file's offset is shared with the parent and every other child): package
    workers drawing new glyphs with faces their parent had cached failed with FT_Load_Glyph
    'invalid outline' (issue 16; matplotlib empties its own cache of faces in a forked
    child)."""
    glyphs: _Glyphs | None = getattr(_drawn, "glyphs", None)
    if glyphs is None or glyphs.pid != os.getpid():
        glyphs = _drawn.glyphs = _Glyphs()
    return glyphs


class _Raster:
    """Matplotlib's Agg rasteriser (its fonts, antialiasing and pixel snapping) driven
    directly: the panels' PNG is a few dozen shapes and labels, and the artist layer with its
    constrained layout cost four times their drawing (issue 16: a raid package's timeline).
    Coordinates are pixels from the bottom left, as matplotlib's display coordinates."""

    def __init__(self, size: tuple[float, float]) -> None:
        self.width, self.height = round(size[0] * _DPI), round(size[1] * _DPI)
        self.renderer = _agg(self.width, self.height)
        self.pt = _DPI / 72  # pixels per point
        self.rect(Bbox.from_bounds(0, 0, self.width, self.height), "white")

    def _gc(self, colour: str, clip: Bbox | None = None) -> GraphicsContextBase:
        gc: GraphicsContextBase = self.renderer.new_gc()
        gc.set_foreground(colour)
        gc.set_antialiased(True)
        if clip is not None:
            gc.set_clip_rectangle(clip)
        return gc

    def rect(self, box: Bbox, colour: str, clip: Bbox | None = None) -> None:
        """A filled rectangle (bars, the shaded span)."""
        gc = self._gc(colour, clip)
        gc.set_linewidth(0)
        path = Outline([(box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1),
                     (box.x0, box.y0)], closed=True)
        self.renderer.draw_path(gc, path, IdentityTransform(), to_rgba(colour))
        gc.restore()

    def line(self, points: Sequence[tuple[float, float]], colour: str = "black",
             width: float = 0.8) -> None:
        """A line ``width`` points wide (the spines)."""
        gc = self._gc(colour)
        gc.set_linewidth(width)
        gc.set_capstyle("projecting")
        self.renderer.draw_path(gc, Outline(points), IdentityTransform())
        gc.restore()

    def ticks(self, points: Sequence[tuple[float, float]], down: bool) -> None:
        """Tick marks 3.5 points long and 0.8 wide at ``points``: below (``down``) or left."""
        if not points:
            return
        gc = self._gc("black")
        gc.set_linewidth(0.8)
        mark = Outline([(0, 0), (0, -1)] if down else [(0, 0), (-1, 0)])
        self.renderer.draw_markers(gc, mark, Affine2D().scale(3.5 * self.pt), Outline(points),
                                   IdentityTransform())
        gc.restore()

    @staticmethod
    @functools.cache
    def _font(size: float) -> tuple[FontProperties, float, float, float]:
        """The font of ``size`` points and its least ascent, descent and line gap (pixels at
        :data:`_DPI`), as matplotlib lays text out."""
        prop = FontProperties(size=size)
        font = get_font(fontManager._find_fonts_by_props(prop))
        os2, head = font.get_sfnt_table("OS/2"), font.get_sfnt_table("head")
        assert os2 is not None and head is not None  # matplotlib's own DejaVu Sans has both
        scale = size * _DPI / 72 / head["unitsPerEm"]
        return (prop, os2["sTypoAscender"] * scale, -os2["sTypoDescender"] * scale,
                os2["sTypoLineGap"] * scale)

    @staticmethod
    @functools.lru_cache(maxsize=4096)  # tick labels and panel names recur in every cell
    def measure(text: str, size: float) -> tuple[float, float, float]:
        """Width, ascent and descent of one line of ``text`` in pixels."""
        prop, ascent, descent, _ = _Raster._font(size)
        w, h, d = _measuring().get_text_width_height_descent(text, prop, ismath=False)
        return w, max(h - d, ascent), max(d, descent)

    def text(self, text: str, x: float, y: float, size: float, ha: str = "left",
             va: str = "baseline", colour: str = "black") -> Bbox:
        """Draw ``text`` (lines centred on each other) aligned at (x, y); return its box."""
        *_, gap = self._font(size)
        lines = text.split("\n")
        gap = gap if len(lines) > 1 else 0.0
        metrics = [self.measure(line, size) for line in lines]
        sized = [(w, a + gap / 2, d + gap / 2) for w, a, d in metrics]
        width = max(w for w, _, _ in sized)
        height = sum(a + d for _, a, d in sized)
        left = x - {"left": 0.0, "center": width / 2, "right": width}[ha]
        first_a = sized[0][1]
        top = {"top": y, "bottom": y + height, "center": y + height / 2,
               "baseline": y + first_a, "center_baseline": y + first_a / 2}[va]
        gc = self._gc(colour)
        baseline = top
        for line, (w, a, d) in zip(lines, sized, strict=True):
            baseline -= a
            self._glyphs(gc, left + (width - w) / 2, self.height - baseline, line, size)
            baseline -= d
        gc.restore()
        return Bbox.from_extents(left, top - height, left + width, top)

    def _glyphs(self, gc: GraphicsContextBase, x: float, y: float, line: str, size: float
                ) -> None:
        """Draw one line of text with its baseline's origin at (x, y), y counted down from the
        top: what ``RendererAgg.draw_text`` (matplotlib 3.11) draws, pixel for pixel, with the
        same arithmetic, each glyph's bitmap from :func:`_glyph`."""
        height, glyphs = self.height, _own_glyphs()
        for font, index, dx, dy in glyphs.run(line, size):
            x64, y64 = round(0x40 * (x + dx)), round(0x40 * (height - y + dy))
            bitmap, left, top = glyphs.bitmap(font, size, index, x64 & 0x3F, y64 & 0x3F)
            # draw_text_image's y is downwards and the bitmap's bottom edge
            self.renderer._renderer.draw_text_image(
                bitmap, left + (x64 >> 6), height - top - (y64 >> 6) + bitmap.shape[0], 0, gc)

    def png(self) -> bytes:
        """The picture as PNG: RGB (the picture is opaque; its alpha was a quarter of the
        data to encode), at zlib level 3 (at level 6, as matplotlib's ``savefig`` encodes
        it, the encoding was the largest part of a raid package's timeline: 10.6 vs 18.8 ms
        a picture, 38.4 vs 36.7 KiB, issue 16). No text chunk, so the same picture is the
        same bytes under any matplotlib."""
        buffer = io.BytesIO()
        picture = Image.frombuffer("RGBA", (self.width, self.height),
                                   self.renderer.buffer_rgba(), "raw", "RGBA", 0, 1)
        picture.convert("RGB").save(buffer, "png", dpi=(_DPI, _DPI), compress_level=3)
        return buffer.getvalue()


def _y_ticks(top: float, height_px: float, pt: float) -> list[float]:
    """Whole-number ticks from 0 to ``top``, as many as matplotlib's default locator puts
    on a panel ``height_px`` high (one per two label heights)."""
    bins = max(1, min(int(height_px / pt // 16), 9))
    found = MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10], integer=True).tick_values(0, top)
    return [float(v) for v in found if -1e-9 <= v <= top * (1 + 1e-9)]


def timeline_png(line: Timeline) -> bytes:
    """The four panels of ``line`` over one weekly axis, drawn straight onto the rasteriser
    (the layout computed from the labels' sizes, as matplotlib's constrained layout does)."""
    out = _Raster(_PANELS_SIZE)
    pt = out.pt
    pad, tick, tick_pad, label_pad = 3 * pt, 3.5 * pt, 3.5 * pt, 4 * pt
    weekly = line.weekly()
    first, last = line.first_contact, line.last_contact
    span = line.span()
    if span is None:
        x_lo, x_hi = 0.0, 1.0
        x_ticks: list[tuple[float, str]] = []
    else:
        x_lo = _day_number(_week(span[0]) - timedelta(days=7))
        x_hi = _day_number(span[1] + timedelta(days=7))
        locator: Any = matplotlib.dates.AutoDateLocator()  # type: ignore[no-untyped-call]
        shown = locator.tick_values(_moment(x_lo), _moment(x_hi))
        x_ticks = [(v, _moment(v).strftime("%b %Y")) for v in shown if x_lo <= v <= x_hi]
    # the vertical layout first: panel heights decide how many y ticks each gets
    title = f"{line.title}\n{_subtitle(line)}"
    _, title_a, title_d = out.measure("Cell", 10)
    title_height = 2 * (title_a + title_d + _Raster._font(10)[3])
    note_height = sum(out.measure("shaded", 7)[1:])
    label_height = sum(out.measure("Jan 2014", 8)[1:])
    top = out.height - pad - title_height - pad - note_height - pad
    bottom = pad + label_height + tick_pad + tick
    gap = tick + 2 * pad + 0.02 * (top - bottom) / len(KINDS)
    panel = (top - bottom - gap * (len(KINDS) - 1)) / len(KINDS)
    # a margin above the highest bar; a panel of no events, or of payments not converted to
    # USD (0.0), gets 0..1
    ceilings = {kind: 1.05 * max(weeks.values(), default=0.0) or 1.0
                for kind, weeks in weekly.items()}
    y_ticks = {kind: _y_ticks(ceilings[kind], panel, pt) for kind in KINDS}
    y_labels = {kind: [f"{v:.0f}" if v.is_integer() else f"{v:g}" for v in y_ticks[kind]]
                for kind in KINDS}
    # then the left edge: the widest y label and tick labels of any panel
    decoration = max(out.measure(_PANELS[kind][0], 8)[0] + label_pad
                     + max(out.measure(t, 8)[0] for t in y_labels[kind]) + tick_pad + tick
                     for kind in KINDS)
    left, right = pad + decoration, out.width - pad
    if x_ticks:  # the last month's label may stick out right of the panels
        overhang = out.measure(x_ticks[-1][1], 8)[0] / 2
        x_of_last = left + (x_ticks[-1][0] - x_lo) / (x_hi - x_lo) * (right - left)
        right -= max(0.0, x_of_last + overhang - right)

    def x_at(value: float) -> float:
        return left + (value - x_lo) / (x_hi - x_lo) * (right - left)

    for index, kind in enumerate(KINDS):
        label, colour = _PANELS[kind]
        y0 = top - index * (panel + gap) - panel
        box = Bbox.from_extents(left, y0, right, y0 + panel)
        scale = panel / ceilings[kind]
        if first and last:
            out.rect(Bbox.from_extents(x_at(_day_number(first)), y0,
                                       x_at(_day_number(last + timedelta(days=1))), y0 + panel),
                     "#e8eef6", clip=box)
        for week, value in weekly[kind].items():
            start = _day_number(week)
            out.rect(Bbox.from_extents(x_at(start), y0, x_at(start + 6), y0 + value * scale),
                     colour, clip=box)
        out.line([(left, y0), (left, y0 + panel)])
        out.line([(left, y0), (right, y0)])
        out.ticks([(x_at(v), y0) for v, _ in x_ticks], down=True)
        ys = [y0 + v * scale for v in y_ticks[kind]]
        out.ticks([(left, y) for y in ys], down=False)
        for y, text in zip(ys, y_labels[kind], strict=True):
            out.text(text, left - tick - tick_pad, y, 8, ha="right", va="center_baseline")
        widest = max(out.measure(t, 8)[0] for t in y_labels[kind])
        out.text(label, left - tick - tick_pad - widest - label_pad, y0 + panel / 2, 8,
                 ha="right", va="center")
        if index == 0:
            out.text("shaded: first to last contact", right, y0 + panel * 1.02, 7,
                     ha="right", colour="#555555")
            if span is None:
                out.text("no dated events", (left + right) / 2, y0 + panel / 2, 10,
                         ha="center")
    for v, text in x_ticks:
        out.text(text, x_at(v), bottom - tick - tick_pad, 8, ha="center", va="top")
    out.text(title, out.width / 2, out.height - pad, 10, ha="center", va="top")
    return out.png()


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
    if path.suffix.lower() == ".png":
        write_atomic(path, timeline_png(line))
        return path
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
    graph = store.evidence()  # read from the packed arrays, not built as Python dicts
    if cell is None:
        return case_timeline(graph)
    _, records = select_cells(store, [cell])
    return cell_timelines(graph, records)[0]


def cell_timelines(graph: nx.MultiDiGraph, records: Sequence[CellRecord],
                   fx: FxTable | None = None, reaches: Sequence[CellReach] | None = None
                   ) -> list[Timeline]:
    """The timeline of each cell of one run, in the run's order; ``reaches`` are the cells'
    (:func:`~ringmap.viz.reach.reach_cells` of ``graph`` and ``records``) if the caller
    already found them."""
    return _cell_timelines(graph, records, fx or FxTable.load(), reaches, _Reads(graph))


def _cell_timelines(graph: nx.MultiDiGraph, records: Sequence[CellRecord], fx: FxTable,
                    reaches: Sequence[CellReach] | None, reads: _Reads) -> list[Timeline]:
    return [_cell_timeline(graph, r.members, r.payments, fx, f"Cell {r.cell_id}", reads)
            for r in (reach_cells(graph, records) if reaches is None else reaches)]


def run_timelines(graph: nx.MultiDiGraph, records: Sequence[CellRecord],
                  fx: FxTable | None = None, reaches: Sequence[CellReach] | None = None
                  ) -> list[Timeline]:
    """The case's timeline (:func:`case_timeline`), then each cell's (:func:`cell_timelines`),
    as ``ringmap run`` draws them: every contact's properties decoded once for all of them,
    and each account's first victim looked up once."""
    fx = fx or FxTable.load()
    reads = _Reads(graph, keep=True)
    return [_case_timeline(graph, fx, "Case", reads),
            *_cell_timelines(graph, records, fx, reaches, reads)]
