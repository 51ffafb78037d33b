"""The cell map of many cells, drawn per raid city, in headless Chromium (issue 16): every
city inside the fitted view, a city's and a line's tooltip as text, the search box finds a
cell id no label shows and says which city it is in, hostile text inert.

Screenshots go to ``$RINGMAP_TEST_ARTIFACTS`` (else the test's temporary folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ringmap.tests.browser.case import IMG
from ringmap.tests.browser.chromium import (
    OUTSIDE_VIEW,
    RAW_CONTROLS,
    SCRIPTS,
    artifact_dir,
    open_map,
)
from ringmap.tests.cities_case import draw
from ringmap.viz.render import clip, render_map, shown
from ringmap.viz.world import LISTED

pytestmark = pytest.mark.browser

#: Cities whose label is not outside the circle, where no line runs: above the dot on the
#: circle's upper half, below it elsewhere (in canvas units, the label as drawn).
LABELS_CROSSING_DOTS = """(() => {
  const net = window.ringmapNetwork;
  return net.body.nodeIndices.map(id => net.body.nodes[id]).filter(n => {
    const box = n.labelModule.size, top = box.top + (n.options.font.vadjust || 0);
    return n.y < 0 ? top + box.height > n.y - n.options.size : top < n.y + n.options.size;
  }).map(n => n.options.label);
})()"""


def test_issue_16_a_cell_map_per_raid_city_is_readable_and_finds_every_cell(
        browser: Any, tmp_path: Path) -> None:
    spec, _, records = draw(5 * (LISTED + 3))
    html = tmp_path / "cities.html"
    html.write_text(render_map(spec), encoding="utf-8")
    with open_map(browser, html) as page:
        page.page.screenshot(path=str(artifact_dir(tmp_path) / "cells-per-city.png"))
        assert page.js(OUTSIDE_VIEW) == []
        assert page.js(LABELS_CROSSING_DOTS) == []
        banner = page.js("document.getElementById('rm-banner').textContent")
        assert banner.startswith(f"{len(records)} cells, more than 40 one map shows readably")
        tip = page.hover("Baliwag · 23 cells")
        assert tip.startswith("Baliwag, Bulacan: 23 cells, 46 agents, 0 accounts\n")
        assert "\nshared identifiers: 0 among its own cells, 22 with cells of other places (" in tip
        assert "… and 3 more cells: search a cell id" in tip
        hostile = clip(f"Taguig {IMG} · 11 cells", 40)
        line = page.hover("Baliwag · 23 cells", shown(hostile))
        assert "shared identifier" in line and "most tied pairs:" in line
        assert f"Taguig {IMG}" in page.hover(shown(hostile))
        search = page.page.locator("#rm-search")
        search.fill("C0113")  # no label shows it
        assert page.js("document.getElementById('rm-search-status').textContent") == (
            "Cell C0113: in Malolos · 23 cells")
        selected = page.js("window.ringmapNetwork.getSelectedNodes().map(id => "
                           "window.ringmapNetwork.body.data.nodes.get(id).label)")
        assert selected == ["Malolos · 23 cells"]
        legend = page.js("document.getElementById('rm-legend').textContent")
        assert "Most tied cells of 115" in legend
        assert "and 95 more cells: search a cell id" in legend
        assert page.attempted == [] and page.errors == [] and page.csp_violations() == []
        assert page.js("typeof window.__x") == "undefined"
        assert page.js("document.querySelectorAll('img, a, iframe, object, embed').length") == 0
        assert page.js("document.scripts.length") == SCRIPTS + 1  # the search of names
        assert page.js(RAW_CONTROLS) == []
