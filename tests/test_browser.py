"""Maps in headless Chromium: offline, drawn, and hostile evidence text shown as text.

Every request other than the map file itself is blocked and logged; a map passes when it made
none, reported no error or CSP violation, and drew its nodes on a non-blank canvas.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringmap.tests.browser.case import HREF, ICCID, IMEI, IMG, JS_URL, SCRIPT, open_case
from ringmap.tests.browser.chromium import artifact_dir, open_map
from ringmap.viz.maps import write_cell_map, write_entity_map, write_victim_map

pytestmark = pytest.mark.browser

_INKED_PIXELS = """(() => {
  const canvas = document.querySelector('#mynetwork canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0 && (data[i] < 235 || data[i + 1] < 235 || data[i + 2] < 235)) inked++;
  }
  return inked;
})()"""


@pytest.fixture(scope="module")
def maps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The maps of the case, written once for the module (the secret set here, since the
    per-test secret fixture is not active yet at module scope)."""
    folder = tmp_path_factory.mktemp("browser-case")
    out = folder / "maps"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RINGMAP_SECRET", "browser-test-secret-0123456789")
        with open_case(folder) as store:
            write_cell_map(store, out / "cells.html", detailed=True)
            write_cell_map(store, out / "overview.html", detailed=True, budget=5)
            write_victim_map(store, out / "victims.html")
            write_entity_map(store, "Person:AG-2", out / "entity.html")
    yield {p.stem: p for p in out.iterdir()}


@pytest.mark.parametrize("name", ["cells", "overview", "victims", "entity"])
def test_map_loads_offline_and_draws(browser: Any, maps: dict[str, Path], name: str) -> None:
    with open_map(browser, maps[name]) as shown:
        shown.assert_clean()
        expected = len(json.loads(shown.js("document.getElementById('rm-data').textContent"))
                       ["nodes"])
        assert expected >= 3
        assert shown.js("window.ringmapNetwork.body.data.nodes.length") == expected
        assert shown.js("window.ringmapNetwork.body.nodeIndices.length") == expected
        assert shown.js(_INKED_PIXELS) > 500
        assert shown.js("window.ringmapNetwork.physics.physicsEnabled") is False


def test_hostile_labels_and_tooltips_are_text(browser: Any, maps: dict[str, Path],
                                              tmp_path: Path) -> None:
    shots = artifact_dir(tmp_path)
    with open_map(browser, maps["cells"]) as shown:
        shown.page.screenshot(path=str(shots / "cell-map.png"))
        tip = shown.hover(IMG)
        assert tip.startswith("Person · cell C1") and f"name: {IMG}" in tip
        tip = shown.hover("ag1.fake")
        assert f"display_name: {IMG}" in tip and f"persona: {HREF}" in tip
        tip = shown.hover("ag3.fake")
        assert f"display_name: {JS_URL}" in tip
        tip = shown.hover("ag2.fake")
        assert f"display_name: {SCRIPT}" in tip
        tip = shown.hover(ICCID, IMEI)
        assert tip.startswith(f"SIM_IN: {ICCID} → {IMEI}")
        assert "sim_in.csv row 2" in tip and "admiralty:B2" in tip
        shown.page.screenshot(path=str(shots / "cell-map-tooltip.png"))
        shown.assert_clean()
    assert (shots / "cell-map.png").stat().st_size > 10_000


def test_hostile_heading_and_search_are_text(browser: Any, maps: dict[str, Path]) -> None:
    with open_map(browser, maps["entity"]) as shown:
        heading = f"Neighbourhood of {IMG} (2 hops)"
        assert shown.js("document.getElementById('rm-heading').textContent") == heading
        assert shown.js("document.title") == heading
        search = shown.page.locator("#rm-search")
        for term, found in ((SCRIPT, "0 matches"), (JS_URL, "0 matches"), ("<img", "1 match")):
            search.fill(term)
            assert shown.js("document.getElementById('rm-search-status').textContent") == found
        assert len(shown.js("window.ringmapNetwork.getSelectedNodes()")) == 1
        shown.assert_clean()


def test_aggregated_map_says_so(browser: Any, maps: dict[str, Path]) -> None:
    with open_map(browser, maps["overview"]) as shown:
        assert shown.page.locator("#rm-banner").is_visible()
        assert shown.page.locator("#rm-banner").text_content().startswith("Aggregated view")
        legend = shown.page.locator("#rm-legend").text_content()
        assert "C1 · 4 members" in legend and "raid site / place" in legend
