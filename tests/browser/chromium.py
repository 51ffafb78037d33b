"""Drive Debian's headless Chromium with Playwright, with every request but the map blocked.

Playwright (``pip install playwright``) is used only as a driver for the system Chromium
(``/usr/bin/chromium``, or ``RINGMAP_CHROMIUM``); ``playwright install`` is never needed. It
was chosen over Selenium because it can intercept and log every request the page attempts
(``context.route``), which is the point of the offline test, without a proxy.

Without Chromium or Playwright the browser tests skip with the reason, except in CI (``CI``
set), where a missing browser fails them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: the JSON block, vis-network, the layers script and the map script
SCRIPTS = 4
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

#: The ids of nodes (with their labels), of the rectangle the map asked to show and of the
#: halos of its groups that do not lie inside the map's frame, in page pixels.
OUTSIDE_VIEW = """(() => {
  const net = window.ringmapNetwork;
  const frame = document.getElementById('mynetwork');
  const w = frame.clientWidth, h = frame.clientHeight;
  const data = JSON.parse(document.getElementById('rm-data').textContent);
  const boxes = net.body.nodeIndices.map(id => [id, net.getBoundingBox(id)]);
  if (data.bounds) {
    boxes.push(['bounds', {left: data.bounds[0], top: data.bounds[1], right: data.bounds[2],
                           bottom: data.bounds[3]}]);
  }
  for (const g of data.groups || []) {
    boxes.push(['halo ' + g.node, {left: g.x - g.r, top: g.y - g.r, right: g.x + g.r,
                                   bottom: g.y + g.r}]);
  }
  const out = [];
  for (const [id, b] of boxes) {
    const a = net.canvasToDOM({x: b.left, y: b.top});
    const c = net.canvasToDOM({x: b.right, y: b.bottom});
    if (a.x < 0 || a.y < 0 || c.x > w || c.y > h) out.push(id);
  }
  return out;
})()"""

#: Texts of a map page (title, heading, legend, every label and tooltip) that still hold a
#: control or format character (bidi overrides and isolates, zero-width): evidence text
#: shows them as ``\\uXXXX`` escapes, or they would reorder what the canvas draws.
RAW_CONTROLS = r"""(() => {
  const net = window.ringmapNetwork;
  if (!net) return [];
  const raw = new RegExp('[\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f\\u00ad\\u061c' +
                         '\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]');
  const tip = (item) => item.title ? (item.title.textContent || String(item.title)) : '';
  const texts = [document.title, document.getElementById('rm-heading').textContent,
                 document.getElementById('rm-legend').textContent];
  net.body.data.nodes.get().forEach(n => texts.push(String(n.label || ''), tip(n)));
  net.body.data.edges.get().forEach(e => texts.push(tip(e)));
  return texts.filter(t => raw.test(t));
})()"""

# Collects Content-Security-Policy violations before any page script runs.
_CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def chromium_path() -> str:
    """The Chromium executable; skips the test (fails it in CI) when it or Playwright is absent."""
    path = os.environ.get("RINGMAP_CHROMIUM", "/usr/bin/chromium")
    problem = None
    if not Path(path).is_file():
        problem = f"Chromium not found at {path} (apt-get install chromium, or RINGMAP_CHROMIUM)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install playwright)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {problem}")
        pytest.skip(problem)
    return path


def artifact_dir(fallback: Path) -> Path:
    """Where screenshots go: ``$RINGMAP_TEST_ARTIFACTS`` if set, else ``fallback``."""
    target = Path(os.environ.get("RINGMAP_TEST_ARTIFACTS") or fallback)
    target.mkdir(parents=True, exist_ok=True)
    return target


@dataclass
class MapPage:
    """A map opened in Chromium and what it tried to do."""

    page: Any
    url: str
    attempted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def js(self, expression: str) -> Any:
        """Evaluate a JavaScript expression in the page."""
        return self.page.evaluate(expression)

    def csp_violations(self) -> list[str]:
        """Content-Security-Policy violations the page reported."""
        found: list[str] = self.js("window.__cspViolations || []")
        return found

    def wait_stable(self, timeout_ms: int = 20_000) -> None:
        """Wait until the map says its layout is stable."""
        self.page.wait_for_function("() => window.ringmapStable === true", timeout=timeout_ms)

    def hover(self, label: str, other: str | None = None) -> str:
        """Move the mouse onto the node labelled ``label`` (or the middle of the edge from it
        to the node labelled ``other``); the tooltip's text."""
        x, y = self.js(f"""(() => {{
          const net = window.ringmapNetwork;
          const at = (label) => net.getPosition(
            net.body.data.nodes.getIds({{filter: n => n.label === label}})[0]);
          const a = at({json.dumps(label)});
          const b = {json.dumps(other)} === null ? a : at({json.dumps(other)});
          const p = net.canvasToDOM({{x: (a.x + b.x) / 2, y: (a.y + b.y) / 2}});
          const box = document.getElementById('mynetwork').getBoundingClientRect();
          return [box.left + p.x, box.top + p.y];
        }})()""")
        corner = self.js("(() => { const b = document.getElementById('mynetwork')"
                         ".getBoundingClientRect(); return [b.left + 3, b.top + 3]; })()")
        self.page.mouse.move(*corner)  # a blank spot of the canvas: the last tooltip goes
        self.page.wait_for_function(
            "() => document.querySelector('div.vis-tooltip')?.style.visibility !== 'visible'")
        self.page.mouse.move(x, y)
        self.page.wait_for_function(
            "() => document.querySelector('div.vis-tooltip')?.style.visibility === 'visible'")
        text: str = self.js("document.querySelector('div.vis-tooltip').textContent")
        return text

    def assert_clean(self) -> None:
        """No request left the page, no error, no CSP violation, no injected script ran and
        no element came from evidence."""
        assert self.attempted == []
        assert self.errors == []
        assert self.csp_violations() == []
        assert self.js("typeof window.__x") == "undefined"
        assert self.js("document.querySelectorAll('img, a, iframe, object, embed').length") == 0
        assert self.js("document.scripts.length") == SCRIPTS
        assert self.js(RAW_CONTROLS) == []


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (a fresh temporary profile per launch)."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=path, args=CHROMIUM_ARGS,
                                         headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_map(browser: Any, html: Path, wait: bool = True) -> Iterator[MapPage]:
    """Open ``html`` in a fresh context where every other request is blocked and logged."""
    url = html.resolve().as_uri()
    context = browser.new_context(viewport={"width": 1280, "height": 800},
                                  service_workers="block")
    shown = MapPage(page=None, url=url)

    def route(handle: Any) -> None:
        if handle.request.url == url:
            handle.continue_()
        else:
            shown.attempted.append(handle.request.url)
            handle.abort()

    context.route("**/*", route)
    page = context.new_page()
    shown.page = page
    page.add_init_script(_CSP_PROBE)
    page.on("request", lambda r: None if r.url == url else shown.attempted.append(r.url))
    page.on("pageerror", lambda e: shown.errors.append(str(e)))
    page.on("console", lambda m: shown.errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(url)
        if wait:
            shown.wait_stable()
        yield shown
    finally:
        context.close()
