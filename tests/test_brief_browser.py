"""Issue 13: the raid brief in headless Chromium — offline, inert, printed one page per site.

The screenshot and the printed PDF are kept as test output (``RINGMAP_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringmap.tests.browser.case import IMG, open_case
from ringmap.tests.browser.chromium import artifact_dir, chromium, open_map
from ringmap.viz.package import export_cell

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def briefs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The briefs of both cells of the hostile case."""
    folder = tmp_path_factory.mktemp("brief-case")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RINGMAP_SECRET", "browser-test-secret-0123456789")
        with open_case(folder) as store:
            yield {c: export_cell(store, c, folder / c).path / "brief.html"
                   for c in ("C1", "C2")}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.mark.parametrize("cell", ["C1", "C2"])
def test_issue_13_brief_is_offline_inert_and_one_page_per_site(
        browser: Any, briefs: dict[str, Path], cell: str, tmp_path: Path) -> None:
    with open_map(browser, briefs[cell], wait=False) as shown:
        assert shown.attempted == [] and shown.errors == []
        assert shown.csp_violations() == []
        assert shown.js("window.__x === undefined")
        sites = shown.js("document.querySelectorAll('section.site').length")
        assert sites == 1
        heading = shown.js("document.querySelector('section.site h1').textContent")
        if cell == "C2":  # the Taguig site's name carries markup: shown as text
            assert heading == f"Raid site: Taguig {IMG}"
        assert shown.js("document.querySelectorAll('img:not(.timeline)').length") == 0
        assert shown.js("document.querySelector('img.timeline').naturalWidth") > 0
        out = artifact_dir(tmp_path)
        shown.page.emulate_media(media="print")
        shown.page.screenshot(path=str(out / f"brief-{cell}.png"), full_page=True)
        pdf = shown.page.pdf(format="A4", print_background=True)
    (out / f"brief-{cell}.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf))
    assert pages == 1 + sites  # the cell page, then each site on a page of its own
