"""The printable raid brief of a cell: one HTML page for the cell, then one page per raid site.

The cell page gives the figures of the cell report, the freeze list (every card and wallet the
cell owns, with the payments into each and their USD total) and the cell's timeline; each site
page its address and coordinates, whom to arrest there and, per person, what to seize and
freeze (the persons with nothing known to seize named in one line). The file is
self-contained and inert: no script, no external resource (a Content-Security-Policy that
allows only inline styles and ``data:`` images), every evidence text escaped and isolated
(``<bdi>``) so markup stays text and bidirectional controls cannot reorder what surrounds it.

>>> "<b>" in cell_text("<b>x</b>"), cell_text("a\\u202eb")
(False, '<bdi>a\\u202eb</bdi>')
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ringmap.privacy import mask_value
from ringmap.viz.raid import Arrest, RaidSite

__all__ = ["Brief", "cell_text", "render_brief"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'")

_STYLE = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.35 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       color: #111; margin: 0; background: #eee; }
.page { background: #fff; max-width: 210mm; margin: 8mm auto; padding: 12mm;
        box-shadow: 0 1px 4px rgba(0,0,0,.25); }
h1 { font-size: 17pt; margin: 0 0 2mm; }
h2 { font-size: 12.5pt; margin: 5mm 0 2mm; border-bottom: 1.5px solid #333; }
h3 { font-size: 11pt; margin: 3mm 0 1mm; }
.meta { color: #444; font-size: 9pt; margin: 0 0 3mm; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.5mm 5mm; margin: 2mm 0; }
.facts dt { font-weight: 600; } .facts dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm; font-size: 9.5pt; }
th, td { border: 0.5px solid #999; padding: 1mm 1.5mm; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
th { background: #e4e4e4; } td.n { text-align: right; white-space: nowrap; }
thead { display: table-header-group; } tr { break-inside: avoid; }
.person { break-inside: avoid; margin-bottom: 2mm; }
.tag { display: inline-block; padding: 0 1.5mm; border: 0.5px solid #666; border-radius: 1mm;
       font-size: 8.5pt; }
.tag.other { background: #fff3c4; } .tag.none { background: #ffd9d9; }
.none-found { color: #555; font-style: italic; }
.id { color: #555; font-size: 8pt; }
footer { margin-top: 4mm; font-size: 8pt; color: #555; }
img.timeline { width: 100%; max-height: 120mm; object-fit: contain; }
@media print {
  body { background: #fff; }
  .page { box-shadow: none; margin: 0; padding: 0; max-width: none; break-after: page; }
  .page:last-child { break-after: auto; }
}
"""


def cell_text(value: Any) -> str:
    """Evidence text as HTML: masked (card numbers), escaped, control characters shown as
    ``?``, isolated in ``<bdi>``."""
    text = "" if value is None else str(mask_value(str(value)))
    return f"<bdi>{html.escape(_CONTROL.sub('?', text), quote=True)}</bdi>"


@dataclass(frozen=True, slots=True)
class Brief:
    """What the brief shows; texts already as the privacy policy allows."""

    cell_id: str
    cell_run: str
    created: str
    figures: Mapping[str, Any]
    """``members``, ``victims``, ``victims_by_country``, ``money`` (by currency), ``usd``."""
    freeze: Sequence[Mapping[str, Any]]
    """The cards.csv rows the cell owns."""
    sites: Sequence[RaidSite]
    signed_by: str
    victims: str
    """How victims are shown: pseudonymised, or in full with the reason."""
    timeline_png: str | None = None
    """A timeline picture as a ``data:image/png;base64,`` URL, if any."""


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()
           ) -> str:
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    if not body:
        return '<p class="none-found">none</p>'
    return ("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)
            + f"</tr></thead><tbody>{body}</tbody></table>")


def _usd(value: Any) -> str:
    return f"{float(value or 0):,.2f}"


def _facts(pairs: Iterable[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{html.escape(k)}</dt><dd>{v}</dd>"
                                         for k, v in pairs) + "</dl>"


def _coordinates(site: RaidSite) -> str:
    if site.lat is None or site.lon is None:
        return '<span class="none-found">not known</span>'
    return f"{site.lat:.5f}, {site.lon:.5f}"


def _cell_page(brief: Brief) -> str:
    fig = brief.figures
    money = "; ".join(f"{a:,.2f} {html.escape(c)}" for c, a in fig["money"].items()) or "none"
    countries = ", ".join(f"{html.escape(c)} {n}" for c, n in fig["victims_by_country"].items())
    freeze = _table(
        ["Card / wallet", "Type", "Held by", "Payments", "Received", "USD"],
        ([cell_text(r["label"]), cell_text(r["type"]), cell_text(r["held_by"]),
          str(r["payments_received"]), cell_text(r["received"]), _usd(r["received_usd"])]
         for r in brief.freeze), numeric=(3, 5))
    sites = _table(["Raid site", "Address", "Coordinates", "To arrest"],
                   ([cell_text(s.label), cell_text(s.address), _coordinates(s),
                     str(len(s.arrests))] for s in brief.sites), numeric=(3,))
    timeline = (f'<h2>Timeline</h2><img class="timeline" alt="Timeline of cell '
                f'{html.escape(brief.cell_id)}" src="{html.escape(brief.timeline_png)}">'
                if brief.timeline_png else "")
    return (f'<section class="page"><h1>Raid brief — cell {cell_text(brief.cell_id)}</h1>'
            f'<p class="meta">Cell run {cell_text(brief.cell_run)} · created '
            f"{html.escape(brief.created)} · package signed by key "
            f"<code>{html.escape(brief.signed_by)}</code></p>"
            + _facts([("Members", str(fig["members"])),
                      ("Victims", f"{fig['victims']} ({countries or 'no country known'})"),
                      ("Money received", f"{money} = USD {_usd(fig['usd'])}"),
                      ("Raid sites", str(len(brief.sites))),
                      ("Victims are", html.escape(brief.victims))])
            + "<h2>Raid sites</h2>" + sites
            + f"<h2>Freeze: cards and wallets (USD {_usd(fig['usd'])} paid into them)</h2>"
            + freeze
            + timeline + "</section>")


def _person(arrest: Arrest, cell_id: str) -> str:
    cell = arrest.cell or "none"
    tag = "this" if arrest.cell == cell_id else ("other" if arrest.cell else "none")
    items = _table(["Action", "Item", "Type", "How it is theirs", "Exhibit"],
                   ([i.action, cell_text(i.label), cell_text(i.kind), cell_text(i.tie),
                     cell_text("; ".join(i.exhibits))] for i in arrest.items))
    return (f'<div class="person"><h3>{cell_text(arrest.label)}'
            + (f" “{cell_text(arrest.alias)}”" if arrest.alias else "")
            + f' <span class="tag {tag}">cell {cell_text(cell)}</span> '
            f'<span class="tag">{cell_text(arrest.role)}</span></h3>'
            f"<p class=\"meta\">{cell_text(arrest.id)} · {cell_text('; '.join(arrest.ties))}"
            f"</p>{items}</div>")


def _site_page(brief: Brief, site: RaidSite) -> str:
    roster = _table(["Name", "Alias", "Role", "Cell", "Tied by", "Seize", "Freeze"],
                    ([f'{cell_text(a.label)}<br><span class="id">{cell_text(a.id)}</span>',
                      cell_text(a.alias), cell_text(a.role),
                      cell_text(a.cell or "none"), cell_text("; ".join(a.ties)),
                      str(sum(i.action == "seize" for i in a.items)),
                      str(sum(i.action == "freeze" for i in a.items))]
                     for a in site.arrests), numeric=(5, 6))
    nothing = ", ".join(cell_text(a.label) for a in site.arrests if not a.items)
    return (f'<section class="page site"><h1>Raid site: {cell_text(site.label)}</h1>'
            f'<p class="meta">Cell {cell_text(brief.cell_id)} · {cell_text(site.id)}</p>'
            + _facts([("Address", cell_text(site.address)),
                      ("Coordinates", _coordinates(site)),
                      ("To arrest", str(len(site.arrests)))])
            + "<h2>Arrest</h2>" + roster
            + "<h2>Seize and freeze, per person</h2>"
            + "".join(_person(a, brief.cell_id) for a in site.arrests if a.items)
            + (f'<p class="meta">Nothing known to seize from: {nothing}.</p>' if nothing else "")
            + "</section>")


def render_brief(brief: Brief) -> str:
    """The brief as one self-contained HTML document."""
    pages = [_cell_page(brief), *(_site_page(brief, s) for s in brief.sites)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            '<meta name="referrer" content="no-referrer">'
            f"<title>Raid brief: cell {html.escape(brief.cell_id)}</title>"
            f"<style>{_STYLE}</style></head><body>" + "".join(pages)
            + "</body></html>\n")
