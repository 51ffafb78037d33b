"""How each kind of node looks on a map: cell colours, a shape per entity type, legend lines."""

from __future__ import annotations

from dataclasses import dataclass

from ringmap.viz.palette import PALETTE_SIZE, generate
from ringmap.viz.render import LegendEntry

__all__ = ["CELL_COLOURS", "NEUTRAL", "TYPE_STYLES", "TypeStyle", "cell_colour", "over_lines",
           "type_legend", "type_style"]

#: Distinct colours for cells, for normal and colour-blind eyes (:mod:`ringmap.viz.palette`),
#: cycled when there are more cells; maps write the cell id beside its colour.
CELL_COLOURS = generate(PALETTE_SIZE)
NEUTRAL = "#b0b0b0"
#: the box behind a label drawn where lines run: at case size dozens of arcs or ties pass a
#: city's or a country's label, and a halo of 3 pixels left it crossed out; the box hides the
#: lines under the text and lets them show faintly through
_LABEL_BOX = "rgba(255,255,255,0.8)"
_HALO_SHARE = 0.4  # of the font's size: a halo as wide covers a line under the letters


def over_lines(size: float) -> dict[str, object]:
    """vis-network options of a label of ``size`` drawn over lines: a wide white halo around
    the letters, on a box that the lines pass under. vis-network draws the box where the label
    would be without ``vadjust`` (visjs/vis-network#2118): a label moved by it keeps the halo
    and drops the box.

    >>> over_lines(10) == {"size": 10, "strokeWidth": 4.0, "strokeColor": "#ffffff",
    ...                    "background": "rgba(255,255,255,0.8)"}
    True
    """
    return {"size": size, "strokeWidth": round(size * _HALO_SHARE, 1), "strokeColor": "#ffffff",
            "background": _LABEL_BOX}


@dataclass(frozen=True, slots=True)
class TypeStyle:
    """Shape, colour, size and legend glyph of an entity type."""

    shape: str
    color: str
    size: float
    glyph: str
    label: str


TYPE_STYLES: dict[str, TypeStyle] = {
    "Person": TypeStyle("dot", NEUTRAL, 16, "●", "agent / person"),
    "Account": TypeStyle("dot", NEUTRAL, 9, "•", "account"),
    "Phone": TypeStyle("triangle", "#6b6b6b", 9, "▲", "phone number"),
    "SimCard": TypeStyle("triangleDown", "#6b6b6b", 9, "▼", "SIM card"),
    "Device": TypeStyle("square", "#4d4d4d", 9, "■", "device"),
    "PaymentCard": TypeStyle("diamond", "#8a6d00", 10, "◆", "payment card"),
    "FinancialAccount": TypeStyle("star", "#8a6d00", 11, "★", "wallet / bank account"),
    "IPAddress": TypeStyle("hexagon", "#7a7a7a", 8, "⬢", "IP address"),
    "Email": TypeStyle("triangle", "#9c5a9c", 8, "▲", "email address"),
    "IdDocument": TypeStyle("square", "#9c5a9c", 8, "■", "ID document"),
    "Payment": TypeStyle("dot", "#8a6d00", 6, "•", "payment"),
    "Location": TypeStyle("box", "#e3c98f", 10, "▬", "raid site / place"),
    "Country": TypeStyle("dot", "#5e8fc7", 14, "●", "country"),
    "Report": TypeStyle("box", "#b8cde6", 8, "▬", "report"),
    "Exhibit": TypeStyle("box", "#d0d0d0", 8, "▬", "exhibit"),
}
_FALLBACK = TypeStyle("dot", NEUTRAL, 8, "•", "other")


def type_style(type_name: str) -> TypeStyle:
    """The style of an entity type (a plain grey dot for anything unknown)."""
    return TYPE_STYLES.get(type_name, _FALLBACK)


def cell_colour(index: int) -> str:
    """The colour of the ``index``-th cell."""
    return CELL_COLOURS[index % len(CELL_COLOURS)]


def type_legend(types: set[str]) -> list[LegendEntry]:
    """Legend lines for these entity types, in the order of :data:`TYPE_STYLES`."""
    return [LegendEntry(style.glyph, style.color, style.label)
            for name, style in TYPE_STYLES.items() if name in types]
