"""Self-contained, offline map HTML drawn by pyvis through the project's own template.

pyvis 0.3.2's stock template links Bootstrap from a CDN even in ``in_line`` mode, writes the
heading raw into the page and renders every tooltip as HTML once a title contains
"href". ``templates/map.html`` replaces it: vis-network is inlined from ``vendor/``, the graph
goes in as one JSON block with ``< > &`` and U+2028/2029 escaped, and ``templates/map.js`` turns
every title into an element filled with ``textContent``. A Content-Security-Policy allows only
the page's own two scripts and its stylesheet (by SHA-256) and no network access at all.

>>> html = render_map(MapSpec(title="</script><b>x", nodes=[MapNode("n0", "a")], edges=[]))
>>> "</script><b>" in html, "cdn" in html.lower()
(False, False)
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from pyvis.network import Network

from ringmap.errors import ExportError
from ringmap.tabular import terminal_safe

__all__ = ["LABEL_THRESHOLD", "LegendEntry", "LegendSection", "MapEdge", "MapGroup", "MapNode",
           "MapSpec", "Shape", "clip", "counted", "natural", "place", "read_payload",
           "render_map", "script_json", "shown"]

_HERE = Path(__file__).parent
TEMPLATES = _HERE / "templates"
VENDOR = _HERE / "vendor"
_SOURCE_MAP = re.compile(r"\n//# sourceMappingURL=\S*\s*$")
_EDGE_COLOUR = "#9a9a9a"
_COLOUR = re.compile(r"#[0-9a-f]{6}")
#: On-screen label size (px) below which the page does not draw a label: with per-node font
#: sizes this makes labels appear by zoom level.
LABEL_THRESHOLD = 9


def shown(text: str) -> str:
    r"""Evidence text as a map may show it: controls and format characters (bidi overrides and
    isolates, zero-width) written as ``\uXXXX`` escapes, line breaks kept. Labels are drawn
    on the canvas, which honours bidi controls just as the page's text does: an RLO in a
    handle would reorder what is drawn after it (``txt.exe`` shown as ``exe.txt``).

    >>> print(shown("\u202egnp.exe\u202c \u2067x\u2069\nnext"))
    \u202egnp.exe\u202c \u2067x\u2069
    next
    """
    if all(line.isprintable() for line in text.split("\n")):
        return text  # most text: the character by character walk costs seconds on big maps
    return terminal_safe(text, "\n")


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis.

    >>> clip("a  b c", 10), clip("abcdef", 4)
    ('a b c', 'abc…')
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def natural(text: str) -> list[str | int]:
    """A sort key for names with numbers in them: "call centre 2" before "call centre 10".

    >>> sorted(["office 10", "office 2", "annex"], key=natural)
    ['annex', 'office 2', 'office 10']
    """
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, plural unless ``n`` is one (a single offender is "1 agent");
    ``plural`` where it is not ``noun`` + "s".

    >>> counted(1, "agent"), counted(1200, "account"), counted(9, "country", "countries")
    ('1 agent', '1,200 accounts', '9 countries')
    """
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def place(attrs: Mapping[str, Any]) -> str:
    """Where a raid site is, as its tooltips say it: its city and region, those it has.

    >>> place({"city": "Taguig City", "region": "Metro Manila"}), place({"region": "Bicol"})
    ('Taguig City, Metro Manila', 'Bicol')
    """
    return ", ".join(str(attrs[k]) for k in ("city", "region") if attrs.get(k))


@dataclass(slots=True)
class MapNode:
    """A node as drawn: opaque id, text label and tooltip, style and optional fixed position."""

    id: str
    label: str
    title: str = ""
    shape: str = "dot"
    color: str = "#97c2fc"
    size: float = 12.0
    x: float | None = None
    y: float | None = None
    fixed: bool = False
    active: tuple[str, str] | None = None
    """First and last day (ISO) it was active; the time filter hides it outside them."""
    font: dict[str, Any] | None = None
    """vis-network label options, for this node only."""


@dataclass(slots=True)
class MapEdge:
    """An edge as drawn, with its text tooltip."""

    src: str
    dst: str
    title: str = ""
    width: float = 1.0
    color: str = _EDGE_COLOUR
    dashes: bool = False
    arrows: bool = True
    smooth: float = 0.0
    """How much the edge bends (0: straight)."""
    active: tuple[str, str] | None = None
    weights: dict[str, float] | None = None
    """Its width under each of :attr:`MapSpec.weights`."""
    ends: bool = False
    """The page goes on from the tooltip's first line with the labels of both ends
    (``USES`` becomes ``USES: a → b``): written once on the nodes, not in every tooltip."""


@dataclass(slots=True)
class Shape:
    """An inert shape drawn under the map, in canvas units: rings of flat ``x, y, ...``
    lists, filled or not, closed (polygons) or open (lines), clipped to a rectangle
    ``(left, top, right, bottom)`` if given."""

    rings: list[list[float]]
    fill: str | None = None
    stroke: str = "#999999"
    closed: bool = True
    clip: tuple[float, float, float, float] | None = None


@dataclass(slots=True)
class MapGroup:
    """A halo drawn behind a group of nodes (a cell), centred at ``x, y``; a click inside it
    zooms to it. ``node`` is the id of the node that names the group."""

    node: str
    x: float
    y: float
    radius: float
    color: str


@dataclass(slots=True)
class LegendEntry:
    """One legend line: a glyph in a colour and its meaning."""

    glyph: str
    color: str
    label: str


@dataclass(slots=True)
class LegendSection:
    """A titled group of legend lines."""

    title: str
    items: list[LegendEntry]


@dataclass
class MapSpec:
    """Everything a map shows; rendered by :func:`render_map`."""

    title: str
    nodes: list[MapNode]
    edges: list[MapEdge]
    legend: list[LegendSection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    banner: str | None = None
    physics: bool = True
    backdrop: list[Shape] = field(default_factory=list)
    """Shapes drawn under the nodes (country outlines)."""
    bounds: tuple[float, float, float, float] | None = None
    """A rectangle the fitted view must show besides the nodes."""
    weights: dict[str, str] | None = None
    """Edge width choices (key -> label), switchable on the page."""
    window: tuple[str, str] | None = None
    """First and last day of the case: the range of the time filter."""
    groups: list[MapGroup] = field(default_factory=list)
    """Halos behind groups of nodes (the cells of the overview)."""
    directed: bool = True
    """Whether edges get arrows unless they say otherwise."""
    window_shown: tuple[str, str] | None = None
    """The part of :attr:`window` the map opens on (default: all of it)."""
    strokes: list[tuple[str, str]] = field(default_factory=list)
    """Plain lines between two nodes (by id), drawn under the nodes in the edge colour,
    without tooltip or arrow: thousands cost the page almost nothing, where as many edges
    cost it seconds (each edge is an object with its own options and label)."""
    finds: dict[str, list[str]] = field(default_factory=dict)
    """Names the search box also finds at a node (by id), besides its label: the cells a
    marker of the victims map stands for. A map with none is written as before, without the
    script that searches them."""


def script_json(value: Any) -> str:
    """JSON safe to place inside a ``<script>`` element, whatever its strings contain.

    ``<``, ``>`` and ``&`` only occur inside JSON strings, so escaping them as ``\\u003c`` etc.
    keeps the JSON equal while no ``</script>`` or ``<!--`` can appear; U+2028/2029 are escaped
    for older JavaScript parsers.

    >>> script_json({"a": "</script>&\\u2028"})
    '{"a":"\\\\u003c/script\\\\u003e\\\\u0026\\\\u2028"}'
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@cache
def _assets() -> dict[str, str]:
    """The inlined vis-network, the map script and style, and the CSP that admits them."""
    vis_js = _SOURCE_MAP.sub("\n", (VENDOR / "vis-network.min.js").read_text(encoding="utf-8"))
    app_js = (TEMPLATES / "map.js").read_text(encoding="utf-8")
    layers_js = (TEMPLATES / "layers.js").read_text(encoding="utf-8")
    find_js = (TEMPLATES / "find.js").read_text(encoding="utf-8")
    for name, script in (("vis-network", vis_js), ("map.js", app_js), ("layers.js", layers_js),
                         ("find.js", find_js)):
        if "</script" in script.lower():  # would end the inline element early
            raise ExportError(f"the {name} script cannot be inlined: it contains '</script'")
    css = (TEMPLATES / "map.css").read_text(encoding="utf-8")
    return {"vis_js": vis_js, "layers_js": layers_js, "app_js": app_js, "css": css,
            "csp": _csp([vis_js, layers_js, app_js], css), "find_js": find_js}


def _csp(scripts: Sequence[str], css: str) -> str:
    """The page's Content Security Policy: nothing but these inline scripts and style."""
    return "; ".join([
        "default-src 'none'",
        "script-src " + " ".join(_csp_hash(script) for script in scripts),
        # the page's own stylesheet by hash; vis-network styles elements through the CSSOM
        f"style-src {_csp_hash(css)}",
        "img-src data:",
        "font-src 'none'",
        "connect-src 'none'",
        "media-src 'none'",
        "object-src 'none'",
        "frame-src 'none'",
        "worker-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ])


def _options(spec: MapSpec) -> dict[str, Any]:
    return {
        "autoResize": True,
        "nodes": {"font": {"size": 12, "face": "sans-serif"}, "borderWidth": 1,
                  "scaling": {"label": {"drawThreshold": LABEL_THRESHOLD}}},
        "edges": {"smooth": False, "color": {"color": _EDGE_COLOUR, "inherit": False},
                  "width": 1,
                  "arrows": {"to": {"enabled": spec.directed, "scaleFactor": 0.4}}},
        "interaction": {"hover": True, "tooltipDelay": 150, "hideEdgesOnDrag": True,
                        "navigationButtons": False, "keyboard": False},
        "physics": {
            "enabled": spec.physics,
            "solver": "forceAtlas2Based",
            "forceAtlas2Based": {"gravitationalConstant": -40, "springLength": 80,
                                 "avoidOverlap": 0.3},
            "stabilization": {"enabled": True, "iterations": 400, "updateInterval": 50,
                              "fit": True},
        },
        "layout": {"randomSeed": 7, "improvedLayout": len(spec.nodes) <= 150},
    }


class _Ids(list[str]):
    """pyvis keeps node ids in a list and looks each new node and both ends of each new edge
    up in it; a set beside the list makes a map of thousands of nodes linear, not quadratic."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def append(self, item: str) -> None:
        super().append(item)
        self._seen.add(item)

    def __contains__(self, item: object) -> bool:
        return item in self._seen


@cache
def _templates() -> Environment:
    """The environment pyvis's ``set_template_dir`` makes, one per process: each page it
    made compiled the map's template again (5 ms of a raid package). :func:`render_map` sets
    its globals before each page renders."""
    return Environment(loader=FileSystemLoader(str(TEMPLATES) + os.sep))


def _network(spec: MapSpec) -> tuple[Network, dict[str, dict[str, Any]]]:
    """The pyvis network of ``spec``, and the looks its nodes share."""
    net = Network(height="100%", width="100%", directed=True, heading=spec.title,
                  cdn_resources="in_line")
    net.path, net.templateEnv = "map.html", _templates()
    net.node_ids = _Ids()
    # Values equal to the defaults in _options() are left out and a node's look (shape,
    # colour, size, label options) is written once and named by the nodes that share it (the
    # page copies it into them: vis-network's own groups cost seconds on thousands of
    # nodes): maps of thousands of nodes must stay small.
    styles: dict[tuple[str, str, float, str], str] = {}
    looks: dict[str, dict[str, Any]] = {}
    for node in spec.nodes:
        extra: dict[str, Any] = {}
        if node.x is not None and node.y is not None:
            extra = {"x": round(node.x), "y": round(node.y)}
        if node.fixed:
            if spec.physics:
                extra["physics"] = False
            extra["fixed"] = True
        if node.active:
            extra["active"] = list(node.active)
        look = (node.shape, node.color, round(node.size, 1), json.dumps(node.font, sort_keys=True))
        if look not in styles:
            styles[look] = f"s{len(styles)}"
            looks[styles[look]] = {"shape": node.shape, "color": node.color, "size": look[2],
                                   **({"font": node.font} if node.font else {})}
        net.add_node(node.id, label=shown(node.label), title=shown(node.title),
                     look=styles[look], **extra)
        del net.nodes[-1]["shape"], net.nodes[-1]["color"]  # pyvis sets them; the look has them
    for edge in spec.edges:
        options: dict[str, Any] = {"title": shown(edge.title)}
        if edge.width != 1.0:
            options["width"] = round(edge.width, 2)
        if edge.color != _EDGE_COLOUR:
            options["color"] = edge.color
        if edge.dashes:
            options["dashes"] = True
        if edge.smooth:
            options["smooth"] = {"enabled": True, "type": "curvedCW", "roundness": edge.smooth}
        if edge.active:
            options["active"] = list(edge.active)
        if edge.weights:
            options["weights"] = {k: round(w, 2) for k, w in edge.weights.items()}
        if edge.arrows != spec.directed:
            options["arrows"] = "to" if edge.arrows else ""
        if edge.ends:
            options["ends"] = 1
        net.add_edge(edge.src, edge.dst, **options)
        if edge.arrows == spec.directed:
            # the page's default: pyvis adds "to" to every edge of its (directed) network, and
            # an undirected pyvis network would compare each new edge with every other one
            net.edges[-1].pop("arrows", None)
    net.set_options(json.dumps(_options(spec)))
    return net, looks


def _group(group: MapGroup, index: Mapping[str, int]) -> dict[str, Any]:
    if not _COLOUR.fullmatch(group.color):
        raise ExportError(f"a group colour must be #rrggbb, not {group.color!r}")
    return {"node": index[group.node], "x": round(group.x), "y": round(group.y),
            "r": round(group.radius), "color": group.color}


#: Fields of each node and edge row of the payload, in order (see :func:`_rows`); a node's
#: id on the page is its row's index, which edges and groups name.
_FIELDS = {"nodes": ("label", "title", "look", "x", "y"),
           "edges": ("from", "to", "title", "ends")}
_SHARED_LINE = 3  # shortest tooltip line worth sharing (its index takes up to 5 characters)


def _shared_lines(items: Sequence[Mapping[str, Any]]) -> list[str]:
    """Tooltip lines found more than once, most frequent first: written once in the page."""
    counted: Counter[str] = Counter()
    for item in items:
        counted.update(str(item.get("title", "")).split("\n"))
    return [line for line, n in counted.most_common() if n > 1 and len(line) >= _SHARED_LINE]


def _rows(items: Sequence[Mapping[str, Any]], fields: tuple[str, ...], shared: Mapping[str, int]
          ) -> list[list[Any]]:
    """Items as rows of ``fields`` (trailing empty ones left out), then a dict of any other
    keys; a tooltip with shared lines as a list of its lines, each shared one by its index.
    A map of thousands of nodes must stay small: key names and repeated lines (evidence
    sources, property values) are written once."""
    rows = []
    for item in items:
        title = str(item.get("title", ""))
        lines: list[Any] = [shared.get(line, line) for line in title.split("\n")]
        packed = {**item, "title": lines if any(isinstance(x, int) for x in lines) else title}
        row = [packed.pop(f, None) for f in fields]
        while row and row[-1] is None:
            row.pop()
        if packed:
            row.append(packed)
        rows.append(row)
    return rows


def read_payload(html: str) -> dict[str, Any]:
    r"""The data of a rendered map, its nodes and edges as dicts with their tooltips whole
    (what the page builds from the payload; ``ends`` left to the page).

    >>> spec = MapSpec("t", [MapNode("n0", "a", "x\ny"), MapNode("n1", "b", "x\ny")],
    ...                [MapEdge("n0", "n1", "USES")])
    >>> data = read_payload(render_map(spec))
    >>> data["nodes"][1]["title"], data["edges"][0]["to"]
    ('x\ny', 1)
    """
    found = re.search(r'<script type="application/json" id="rm-data">(.*?)</script>', html,
                      re.S)
    if found is None:
        raise ExportError("not a ringmap map: no data block")
    data: dict[str, Any] = json.loads(found.group(1))
    lines = data["lines"]
    for kind, fields in data["fields"].items():
        items = []
        for i, row in enumerate(data[kind]):
            extra = row.pop() if row and isinstance(row[-1], dict) else {}
            item = {"id": i} if kind == "nodes" else {}
            item.update((f, v) for f, v in zip(fields, row, strict=False) if v is not None)
            item.update(extra)
            title = item.get("title", "")
            if isinstance(title, list):
                item["title"] = "\n".join(lines[x] if isinstance(x, int) else x for x in title)
            items.append(item)
        data[kind] = items
    return data


def render_map(spec: MapSpec) -> str:
    """The map as one self-contained HTML page."""
    net, looks = _network(spec)
    assets = dict(_assets())
    if spec.finds:  # the search script, admitted by the policy, only where it has names
        assets["csp"] = _csp([assets["vis_js"], assets["layers_js"], assets["app_js"],
                              assets["find_js"]], assets["css"])
    else:
        del assets["find_js"]
    extras = {
        "legend": [{"title": shown(s.title), "items": [{"glyph": i.glyph, "color": i.color,
                                                        "label": shown(i.label)}
                                                       for i in s.items]}
                   for s in spec.legend],
        "notes": [shown(n) for n in spec.notes],
        "banner": shown(spec.banner) if spec.banner is not None else None,
        "backdrop": [{"rings": b.rings, "fill": b.fill, "stroke": b.stroke, "closed": b.closed,
                      "clip": b.clip} for b in spec.backdrop],
        "bounds": spec.bounds,
        "weights": spec.weights,
        "window": spec.window,
        "looks": looks,
        "windowShown": spec.window_shown,
    }

    def payload(nodes: list[Mapping[str, Any]], edges: list[Mapping[str, Any]], heading: str,
                options: str) -> str:
        lines = _shared_lines([*nodes, *edges])
        shared = {line: i for i, line in enumerate(lines)}
        index = {str(n["id"]): i for i, n in enumerate(nodes)}
        ends = [{**e, "from": index[e["from"]], "to": index[e["to"]]} for e in edges]
        return script_json({"heading": shown(heading), "fields": _FIELDS, "lines": lines,
                            "nodes": _rows([{k: v for k, v in n.items() if k != "id"}
                                            for n in nodes], _FIELDS["nodes"], shared),
                            "edges": _rows(ends, _FIELDS["edges"], shared),
                            "groups": [_group(g, index) for g in spec.groups],
                            "strokes": [index[n] for pair in spec.strokes for n in pair],
                            "options": json.loads(options), **extras,
                            **({"finds": {index[n]: [shown(x) for x in names]
                                          for n, names in spec.finds.items()}}
                               if spec.finds else {})})

    net.templateEnv.globals.update(ringmap=assets, ringmap_payload=payload)
    html: str = net.generate_html(name="map.html")
    return html
