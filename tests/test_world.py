"""The victims world map and the timelines: outlines, shading, counts, time (issue 13)."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image

from ringmap.analysis.report import country_label
from ringmap.analysis.victims import reached_by_cell
from ringmap.cli import cli
from ringmap.errors import ExportError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.pipeline import run_case
from ringmap.tests.browser.case import IMG, SCRIPT
from ringmap.tests.example_case import STRIKEBACK
from ringmap.tests.offender_case import BIDI, COUNTRIES, offender_case, open_offender_case
from ringmap.viz import timeline
from ringmap.viz.render import MapSpec, render_map
from ringmap.viz.timeline import (
    Event,
    Timeline,
    case_timeline,
    cell_timeline,
    write_timeline,
)
from ringmap.viz.world import (
    _SHADES,
    OUTLINES,
    WORLD_HALF_WIDTH,
    _shade,
    _shade_legend,
    equal_earth,
    outlines,
    shade_breaks,
    victim_map,
)

_VICTIMS = re.compile(r"\n([\d,]+) victims?\b")


@pytest.fixture
def offender(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with open_offender_case(tmp_path) as store:
        yield store


def _legend(spec: MapSpec) -> str:
    return "\n".join(item.label for section in spec.legend for item in section.items)


def _victims(title: str) -> int:
    found = _VICTIMS.search(title)
    assert found is not None, title
    return int(found.group(1).replace(",", ""))


def test_outlines_are_vendored_with_provenance_and_licence() -> None:
    readme = (OUTLINES.parent / "README.md").read_text(encoding="utf-8")
    assert "Natural Earth" in readme and "public domain" in readme
    assert "world-atlas@2.0.2" in readme and "tools/world_outlines.py" in readme
    assert "ISC" in (OUTLINES.parent / "LICENSE-world-atlas-ISC").read_text(encoding="utf-8")
    shapes = {o.code: o for o in outlines()}
    assert len(shapes) > 170 and {"US", "PH", "GB", "RU", "FJ"} <= shapes.keys()
    for outline in outlines():  # cut at the antimeridian: no ring jumps across the map
        for ring in outline.rings:
            assert all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in ring)
            assert all(abs(a[0] - b[0]) < 180 for a, b in itertools.pairwise(ring))


def test_equal_earth_keeps_the_world_within_its_width() -> None:
    assert equal_earth(-180, 0)[0] == -WORLD_HALF_WIDTH
    assert equal_earth(0, 60)[1] < equal_earth(0, 0)[1] < equal_earth(0, -60)[1]  # north up


def test_victim_map_draws_outlines_shaded_by_victims(offender: EmbeddedStore) -> None:
    spec = victim_map(offender)
    fills = Counter(shape.fill for shape in spec.backdrop if shape.clip is None)
    shaded = {code for code in COUNTRIES if code}
    # every country outline drawn, those with victims in the lightest shade of blue
    assert sum(fills.values()) > 170 + 1  # the outlines and the inset's frame
    assert fills["#c6dbef"] == len(shaded - {"SG", "HK"})
    assert "1 victim" in _legend(spec) or "1–2 victims" in _legend(spec)
    assert spec.bounds is not None
    left, top, right, bottom = spec.bounds
    for node in spec.nodes:  # every marker on the canvas the fit shows
        assert node.x is not None and node.y is not None
        assert left <= node.x <= right and top <= node.y <= bottom, node.label


def test_issue_16_countries_of_a_national_case_are_told_apart_by_shade() -> None:
    """issue 16: at 5,400 cells every country had thousands of victims, all one shade of
    "100 or more"; the classes now follow the country with the most victims."""
    assert shade_breaks(99) == (1, 3, 10, 30, 100)  # a small case's classes, as before
    breaks = shade_breaks(4_000)
    assert breaks == (1, 100, 300, 1_000, 3_000)
    assert [_shade(n, breaks) for n in (40, 150, 400, 1_500, 4_000)] == list(_SHADES)
    assert [e.label for e in _shade_legend(4_000)] == [
        "1–99 victims", "100–299 victims", "300–999 victims", "1,000–2,999 victims",
        "3,000 or more victims"]
    assert [e.label for e in _shade_legend(12)] == ["1–2 victims", "3–9 victims",
                                                    "10–29 victims"]


def test_victims_of_unknown_country_are_counted_not_dropped(offender: EmbeddedStore) -> None:
    """issue 13: victims with no country were left off the victims map."""
    spec = victim_map(offender)
    unknown = COUNTRIES.count(None)
    nodes = {n.id: n for n in spec.nodes}
    assert nodes["country:??"].label == f"Country unknown · {unknown}"
    assert f"country unknown: {unknown} victims" in _legend(spec)
    arcs = [e for e in spec.edges if e.dst.startswith("country:")]
    assert sum(_victims(e.title) for e in arcs) == len(COUNTRIES)
    assert _victims(next(e.title for e in arcs if e.dst == "country:??")) == unknown


def test_arcs_count_as_the_cell_report_does(offender: EmbeddedStore) -> None:
    graph = offender.project()
    run = offender.latest_cells()
    assert run is not None
    members = {c.cell_id: [m.node_id for m in c.members] for c in run[1]}
    hit = reached_by_cell(graph, members)["C1"]
    expected = Counter(country_label(graph, v) for v in hit.victims)
    spec = victim_map(offender, graph=graph)
    drawn = {e.dst.removeprefix("country:"): _victims(e.title) for e in spec.edges
             if e.src == "cell:C1" and e.dst.startswith("country:")}
    assert drawn == dict(expected)
    cell = next(n for n in spec.nodes if n.id == "cell:C1")
    assert f"{len(hit.victims)} victims" in cell.title


def test_map_elements_carry_their_active_days(offender: EmbeddedStore) -> None:
    spec = victim_map(offender)
    assert spec.window == ("2021-02-01", "2021-08-20")
    arcs = {e.dst: e for e in spec.edges if e.dst.startswith("country:")}
    assert arcs["country:US"].active == ("2021-02-01", "2021-02-13")  # victim 0: contact
    assert all(e.active is not None and spec.window[0] <= e.active[0] <= e.active[1]
               <= spec.window[1] for e in arcs.values())
    assert arcs["country:US"].weights is not None and {"victims", "usd"} <= set(
        arcs["country:US"].weights)
    payload = re.search(r'id="rm-data">(.*?)</script>', render_map(spec), re.S)
    assert payload is not None
    data = json.loads(payload.group(1))
    assert data["window"] == list(spec.window) and len(data["backdrop"]) == len(spec.backdrop)


def test_hostile_text_stays_out_of_the_page_markup(offender: EmbeddedStore) -> None:
    html = render_map(victim_map(offender))
    for hostile in (IMG, SCRIPT, "<a href"):
        assert hostile not in html
    assert "\\u202e" in html or BIDI[0] in html  # kept as text, shown by textContent


def test_timelines_count_contacts_payments_reports_and_arrests(offender: EmbeddedStore) -> None:
    graph = offender.project()
    paid = [i for i in range(len(COUNTRIES)) if i % 3 != 2]
    case = case_timeline(graph)
    assert case.totals() == {"contact": len(COUNTRIES),
                             "payment": sum(100.0 + 50 * i for i in paid),
                             "report": 5, "arrest": 1}
    assert case.first_contact is not None and case.first_contact.isoformat() == "2021-02-01"
    run = offender.latest_cells()
    assert run is not None
    members = [m.node_id for m in run[1][0].members]
    hit = reached_by_cell(graph, {"C1": members})["C1"]
    cell = cell_timeline(graph, members, hit.payments, title="Cell C1")
    assert cell.totals() == case.totals()
    weekly = cell.weekly()["contact"]
    assert sum(weekly.values()) == len(COUNTRIES)
    assert all(week.weekday() == 0 for week in weekly)  # weeks start on Monday


def test_timeline_picture_is_inert_and_reproducible(offender: EmbeddedStore,
                                                    tmp_path: Path) -> None:
    line = case_timeline(offender.project(), title=f"{SCRIPT} {IMG} {BIDI}")
    svg = write_timeline(line, tmp_path / "a.svg").read_bytes()
    assert svg == write_timeline(line, tmp_path / "b.svg").read_bytes()
    text = svg.decode("utf-8")
    assert "<script" not in text and "<text" not in text and "<img" not in text
    assert "href=\"http" not in text and "javascript:" not in text
    png = write_timeline(line, tmp_path / "a.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    with pytest.raises(ExportError, match=r"as \.svg or \.png"):
        write_timeline(line, tmp_path / "a.html")


def test_issue_16_timeline_png_shows_each_kind_in_its_panel_colour(tmp_path: Path) -> None:
    """issue 16: a package's timeline PNG is drawn straight onto matplotlib's rasteriser (no
    artist layer, no constrained layout): same size as before, the bars of each kind that
    happened in its panel's colour, none of a kind that did not, the same bytes every time."""
    line = Timeline("Cell C1", [Event("contact", date(2014, 3, 3), until=date(2014, 4, 2)),
                                Event("payment", date(2014, 3, 12), usd=1_234_567.0),
                                Event("contact", date(2014, 4, 1))])
    png = write_timeline(line, tmp_path / "a.png")
    with Image.open(png) as image:
        assert image.size == (1100, 704)
        assert image.mode == "RGB"  # opaque: no alpha to encode (issue 16)
        colours = {rgb for _, rgb in image.convert("RGB").getcolors(1 << 20) or []}
    assert {(0x00, 0x72, 0xb2), (0x8a, 0x6d, 0x00), (0xe8, 0xee, 0xf6)} <= colours
    assert not {(0xcc, 0x79, 0xa7), (0xd5, 0x5e, 0x00)} & colours  # no report, no arrest
    assert png.read_bytes() == write_timeline(line, tmp_path / "b.png").read_bytes()
    for name, events in (("empty", []), ("unconverted", [Event("payment", date(2014, 3, 3))])):
        drawn = write_timeline(Timeline("Cell C2", events), tmp_path / f"{name}.png")
        assert drawn.read_bytes().startswith(b"\x89PNG")


#: labels as a timeline draws them, and text of other scripts (its fallback fonts)
_TEXTS = [("Cell C01\ncontacts 03 Mar 2014 – 02 Apr 2014 · 2 contacts", 10),
          ("Jan 2014", 8), ("paid (USD)", 8), ("1,250", 8), ("shaded: first to last", 7),
          (f"{BIDI} {SCRIPT}", 8)]


def _texts_at(shift: float) -> bytes:
    """:data:`_TEXTS` drawn ``shift`` pixels right and up of where they were drawn before."""
    out = timeline._Raster((4, 6.4))
    for k, (text, size) in enumerate(_TEXTS):
        out.text(text, 37.0 + shift, 50.0 + 90 * k + shift, size)
    return bytes(out.renderer.buffer_rgba())


def test_issue_16_forked_processes_draw_text_with_fonts_of_their_own() -> None:
    """issue 16: glyph layouts held the FreeType faces that made them; two processes forked
    from one that had drawn text drew new glyphs with its faces, reading one font file at
    one shared offset, and failed with FT_Load_Glyph 'invalid outline' or 'too many hints'
    (6 of 6 runs with d868c80's cache)."""
    _texts_at(0.0)  # this process's glyphs
    shifts = [i / 64 for i in range(1, 64)]  # each glyph at 63 new 64ths of a pixel
    with ProcessPoolExecutor(2, get_context("fork")) as pool:
        drawn = list(pool.map(_texts_at, shifts))
    assert drawn == [_texts_at(shift) for shift in shifts]


def test_issue_16_timeline_text_is_what_matplotlib_draws(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """issue 16: a timeline's text is drawn from glyph bitmaps rendered once per 64th of a
    pixel; at any position, repeated or not, it is the picture ``RendererAgg.draw_text``
    draws, pixel for pixel (so the packages' PNGs are unchanged)."""
    positions = [(37.0, 50.0), (37.25, 50.5), (101.015625, 333.3), (37.0 + 64, 50.0 + 7),
                 (250.49, 612.77), (37.25, 50.5)]

    def drawn() -> bytes:
        out = timeline._Raster((4, 6.4))
        for (text, size), (x, y) in itertools.product(_TEXTS, positions):
            out.text(text, x, y, size, ha="center", va="center")
        return bytes(out.renderer.buffer_rgba())

    before = timeline._own_glyphs().bitmap.cache_info()
    cached = drawn()
    after = timeline._own_glyphs().bitmap.cache_info()
    assert after.hits - before.hits > after.misses - before.misses

    def draw_text(raster: Any, gc: Any, x: float, y: float, line: str, size: float) -> None:
        prop = timeline._Raster._font(size)[0]
        raster.renderer.draw_text(gc, x, y, line, prop, 0)

    monkeypatch.setattr(timeline._Raster, "_glyphs", draw_text)
    assert cached == drawn()


def test_run_summary_shows_the_timelines(tmp_path: Path) -> None:
    """issue 13: summary.md had no time at all."""
    case = offender_case().write(tmp_path / "case")
    with EmbeddedStore(tmp_path / "out" / "ringmap.db") as store:
        summary = run_case(store, case, tmp_path / "out")
    out = tmp_path / "out"
    markdown = (out / "summary.md").read_text(encoding="utf-8")
    assert "## Time" in markdown and "](timeline.svg)" in markdown
    assert (out / "timeline.svg").read_bytes().startswith(b"<?xml")
    # a lone offender is no cell: the case's timeline only, no picture of cells
    assert "timeline-cells.svg" not in markdown and not (out / "timeline-cells.svg").exists()
    rows = {r["timeline"]: r for r in summary.timeline}
    assert set(rows) == {"Case"}
    assert rows["Case"]["contacts"] == len(COUNTRIES) and rows["Case"]["arrests"] == 1
    assert str(rows["Case"]["first_contact"]) == "2021-02-01"
    saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert saved["timeline"][0]["usd"] == rows["Case"]["usd"]


def test_cli_draws_timelines_and_opens_the_victims_map_on_a_window(
        offender: EmbeddedStore, tmp_path: Path) -> None:
    store = ["--store", str(offender.path)]
    runner = CliRunner()
    done = runner.invoke(cli, ["map", "timeline", *store, "-o", str(tmp_path / "c1.png"),
                               "--cell", "C1"])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("Wrote the timeline (Cell C1): ")
    assert (tmp_path / "c1.png").read_bytes().startswith(b"\x89PNG")
    done = runner.invoke(cli, ["map", "victims", *store, "-o", str(tmp_path / "v.html"),
                               "--from", "2021-03-01"])
    assert done.exit_code == 0, done.output
    payload = re.search(r'id="rm-data">(.*?)</script>',
                        (tmp_path / "v.html").read_text(encoding="utf-8"), re.S)
    assert payload is not None
    assert json.loads(payload.group(1))["windowShown"] == ["2021-03-01", "2021-08-20"]
    refused = runner.invoke(cli, ["map", "victims", *store, "-o", str(tmp_path / "w.html"),
                                  "--from", "2021-03-01", "--to", "2021-02-01"])
    assert refused.exit_code == 1
    assert refused.output == ("Error: the time window ends (2021-02-01) before it starts "
                              "(2021-03-01)\n")


def test_victims_map_legend_says_countries_not_countrys(tmp_path: Path) -> None:
    """The legend of a victims map with victims in several countries read "3 countrys"."""
    spec = victim_map(open_offender_case(tmp_path))
    texts = [entry.label for section in spec.legend for entry in section.items]
    assert any(re.fullmatch(r"\d+ countries, [\d,]+ victims", t) for t in texts), texts
    assert not any("countrys" in t for t in texts)


def test_issue_16_a_run_draws_each_timeline_once(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``ringmap run`` drew the case's and every cell's timeline twice: once for the victims
    map's time filter, once for the summary and the pictures."""
    drawn: Counter[str] = Counter()
    events = timeline._events

    def counting(*args: Any, **kwargs: Any) -> Timeline:
        line = events(*args, **kwargs)
        drawn[line.title] += 1
        return line

    monkeypatch.setattr(timeline, "_events", counting)
    case = shutil.copytree(STRIKEBACK, tmp_path / "case")
    with EmbeddedStore(tmp_path / "out" / "ringmap.db") as store:
        summary = run_case(store, case, tmp_path / "out")
    assert len(summary.cells) > 1
    assert drawn == Counter(["Case", *(f"Cell {c['cell']}" for c in summary.cells)])
