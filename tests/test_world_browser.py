"""The victims world map and a timeline in headless Chromium (issue 13): outlines drawn,
nothing requested, hostile text inert, everything inside the view, the time filter.

Screenshots go to ``$RINGMAP_TEST_ARTIFACTS`` (else the test's temporary folder): the example
case's map, a single offender's, and the offender's map filtered to a window.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import CellMember, CellRecord
from ringmap.tests.browser.case import IMG, JS_URL, SCRIPT, open_case
from ringmap.tests.browser.chromium import (
    OUTSIDE_VIEW,
    SCRIPTS,
    MapPage,
    artifact_dir,
    open_map,
)
from ringmap.tests.offender_case import BIDI, COUNTRIES, HOSTILE_SITE, open_offender_case
from ringmap.viz import render
from ringmap.viz.maps import write_victim_map
from ringmap.viz.timeline import case_timeline, write_timeline
from ringmap.viz.world import MOST_CELLS, victim_map

pytestmark = pytest.mark.browser

# pixels of the canvas in the land colour and in the shades of countries with victims
_PAINTED = """(() => {
  const canvas = document.querySelector('#mynetwork canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const near = (i, r, g, b) => Math.abs(data[i] - r) + Math.abs(data[i + 1] - g)
                               + Math.abs(data[i + 2] - b) < 9;
  let land = 0, shaded = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (near(i, 0xec, 0xeb, 0xe6)) land++;
    if (near(i, 0xc6, 0xdb, 0xef) || near(i, 0x9e, 0xca, 0xe1) || near(i, 0x6b, 0xae, 0xd6)) {
      shaded++;
    }
  }
  return [land, shaded];
})()"""

@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The victims maps of the small hand-made case and of the single offender, and the
    offender's timeline with a hostile title."""
    folder = tmp_path_factory.mktemp("world")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RINGMAP_SECRET", "browser-test-secret-0123456789")
        with open_case(folder / "small") as store:
            write_victim_map(store, folder / "small.html")
        with open_offender_case(folder / "offender") as store:
            write_victim_map(store, folder / "offender.html")
            write_victim_map(store, folder / "march.html", active=(date(2021, 3, 1), None))
            write_timeline(case_timeline(store.project(), title=f"{SCRIPT} {IMG} {BIDI}"),
                           folder / "timeline.svg")
    yield {name: folder / name
           for name in ("small.html", "offender.html", "march.html", "timeline.svg")}


def _shoot(shown: MapPage, folder: Path, name: str) -> Path:
    path = folder / name
    shown.page.screenshot(path=str(path))
    assert path.stat().st_size > 20_000
    return path


@pytest.mark.parametrize("name", ["small.html", "offender.html"])
def test_victims_map_draws_outlines_offline_and_fits(browser: Any, world: dict[str, Path],
                                                     name: str, tmp_path: Path) -> None:
    with open_map(browser, world[name]) as shown:
        _shoot(shown, artifact_dir(tmp_path), f"victims-{name.removesuffix('.html')}.png")
        shown.assert_clean()
        land, shaded = shown.js(_PAINTED)
        assert land > 50_000 and shaded > 500  # outlines drawn, countries shaded by victims


def test_hostile_text_is_inert_in_labels_tooltips_and_legend(browser: Any,
                                                             world: dict[str, Path]) -> None:
    with open_map(browser, world["offender.html"]) as shown:
        label = shown.js("window.ringmapNetwork.body.data.nodes.get()"
                         ".map(n => n.label).find(l => l.startsWith('Home '))")
        assert label.startswith("Home " + IMG[:20])
        tip = shown.hover(label)
        # issue 13: bidi controls written as escapes, in the tooltip as on the canvas
        assert f"Raid site: Home {render.shown(HOSTILE_SITE)}" in tip
        assert "\\u202egnp.exe\\u202c \\u2067evil\\u2069" in tip
        legend = shown.js("document.getElementById('rm-legend').textContent")
        assert f"country unknown: {COUNTRIES.count(None)} victims" in legend
        assert shown.js("document.getElementById('rm-legend').querySelectorAll('*')"
                        ".length") == shown.js(
            "document.getElementById('rm-legend').querySelectorAll('h2, div, span').length")
        search = shown.page.locator("#rm-search")
        for term in (SCRIPT, JS_URL, IMG):
            search.fill(term)
        shown.assert_clean()


def test_time_filter_hides_what_was_not_active(browser: Any, world: dict[str, Path],
                                               tmp_path: Path) -> None:
    with open_map(browser, world["offender.html"]) as shown:
        visible = ("window.ringmapNetwork.body.data.nodes.get()"
                   ".filter(n => !n.hidden).map(n => n.label)")
        before = shown.js(visible)
        shown.page.locator("#rm-from").fill("2021-02-01")
        shown.page.locator("#rm-to").fill("2021-02-28")
        after = shown.js(visible)
        # victims 0-3 were contacted in February: their countries stay, with the cell, site
        assert {"United States · 1", "United Kingdom · 1", "Australia · 1", "Canada · 1",
                "Cell C1"} <= set(after)
        assert "Japan · 1" in before and "Japan · 1" not in after
        assert shown.js("document.getElementById('rm-time-status').textContent") == (
            f"{len(before) - len(after)} hidden")
        _shoot(shown, artifact_dir(tmp_path), "victims-offender-february.png")
        shown.page.locator("#rm-weights").select_option("usd")
        shown.assert_clean()
    with open_map(browser, world["march.html"]) as shown:  # ringmap map victims --from
        assert shown.js("document.getElementById('rm-from').value") == "2021-03-01"
        opened = set(shown.js(visible))
        assert "Japan · 1" in opened and "United States · 1" not in opened
        assert shown.js(OUTSIDE_VIEW) == []


def test_timeline_picture_is_inert_in_the_browser(browser: Any, world: dict[str, Path],
                                                  tmp_path: Path) -> None:
    with open_map(browser, world["timeline.svg"], wait=False) as shown:
        shown.page.wait_for_load_state("load")
        _shoot(shown, artifact_dir(tmp_path), "timeline-offender.png")
        assert shown.attempted == [] and shown.errors == []
        assert shown.js("typeof window.__x") == "undefined"
        assert shown.js("document.querySelectorAll('script, text, a, image, foreignObject')"
                        ".length") == 0
        assert shown.js("document.querySelectorAll('path').length") > 100


def test_issue_16_a_map_of_many_cells_finds_each_cell_at_its_city(browser: Any,
                                                                    tmp_path: Path) -> None:
    """More than MOST_CELLS cells are drawn per raid city: the search box finds a cell id
    that no label shows and says which city it is in, the script doing it admitted by the
    page's policy, and a hostile city name stays text."""
    graph = nx.MultiDiGraph()
    records = []
    hostile = f"{IMG} {BIDI}"
    for i in range(MOST_CELLS + 10):
        city = hostile if i % 3 == 0 else f"City {i % 3}"
        site, person = f"Location:S{i:03d}", f"Person:P{i:03d}"
        graph.add_node(site, type="Location", name=f"Office {i}", city=city, lat=14 + i % 3,
                       lon=121.0)
        graph.add_node(person, type="Person", name=f"Agent {i}")
        graph.add_edge(person, site, key="WORKS_AT")
        records.append(CellRecord(cell_id=f"C{i:03d}",
                                  members=[CellMember(node_id=person, confidence=1.0)]))
    html = tmp_path / "many.html"
    html.write_text(render.render_map(victim_map(
        EmbeddedStore(tmp_path / "case.db"), graph=graph, cells=records)), encoding="utf-8")
    with open_map(browser, html) as shown:
        _shoot(shown, artifact_dir(tmp_path), "victims-many-cells.png")
        assert shown.js(OUTSIDE_VIEW) == []
        search = shown.page.locator("#rm-search")
        search.fill("C007")  # City 1's, and no label's
        assert shown.js("document.getElementById('rm-search-status').textContent") == (
            "Cell C007: in City 1 · 17 cells")
        selected = shown.js("window.ringmapNetwork.getSelectedNodes().map(id => "
                            "window.ringmapNetwork.body.data.nodes.get(id).label)")
        assert selected == ["City 1 · 17 cells"]
        search.fill("C00")  # Cell C000 to C009, in all three cities
        assert shown.js("document.getElementById('rm-search-status').textContent") == (
            "10 names in 3 markers")
        search.fill("C000")
        status = shown.js("document.getElementById('rm-search-status').textContent")
        # the city's label as drawn: cut to its length, controls written as escapes
        assert status == "Cell C000: in " + render.shown(render.clip(f"{hostile} · 17 cells", 40))
        assert shown.attempted == [] and shown.errors == [] and shown.csp_violations() == []
        assert shown.js("typeof window.__x") == "undefined"
        assert shown.js("document.querySelectorAll('img, a, iframe, object, embed').length") == 0
        assert shown.js("document.scripts.length") == SCRIPTS + 1  # the search of names
