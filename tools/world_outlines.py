"""Convert Natural Earth 1:110m admin-0 outlines (world-atlas TopoJSON) into viz/data.

Run once when the outlines should change; the output is committed::

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python tools/world_outlines.py package/countries-110m.json viz/data/world-110m.json

world-atlas (ISC, Mike Bostock) is Natural Earth's public-domain admin-0 countries as
quantised TopoJSON, with ISO 3166-1 numeric ids and short names. This script decodes the
arcs, cuts rings crossing the antimeridian at ±180 degrees, keys every country by its ISO
alpha-2 code (through ringmap's own country table, and the few short names it does not know
below), drops Antarctica (no victims live there and it would take a third of the map), and
writes each country's rings as flat integer lists of longitude and latitude in tenths of a
degree (about 11 km, finer than the detail of a 1:110m source).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ringmap.graphs.normalise import country_table

#: world-atlas short names the country table does not spell that way; None: not a country
#: with an ISO code (Natural Earth draws it separately), kept under its own key.
_NAMES: dict[str, str | None] = {
    "Bosnia and Herz.": "BA", "Central African Rep.": "CF", "Dem. Rep. Congo": "CD",
    "Dominican Rep.": "DO", "Eq. Guinea": "GQ", "Falkland Is.": "FK",
    "Fr. S. Antarctic Lands": "TF", "Solomon Is.": "SB", "S. Sudan": "SS",
    "W. Sahara": "EH", "eSwatini": "SZ", "Macedonia": "MK", "Côte d'Ivoire": "CI",
    "Kosovo": "XK", "N. Cyprus": None, "Somaliland": None, "Palestine": "PS",
    "Congo": "CG", "North Korea": "KP", "South Korea": "KR", "Czechia": "CZ",
}
_SCALE = 10  # tenths of a degree


def _arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    decoded = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        decoded.append(points)
    return decoded


def _unwrap(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The ring with longitudes made continuous: a ring crossing the antimeridian (Russia's
    Chukotka, Fiji) jumps by 360 degrees in the source."""
    out = [points[0]]
    for lon, lat in points[1:]:
        previous = out[-1][0]
        while lon - previous > 180:
            lon -= 360
        while previous - lon > 180:
            lon += 360
        out.append((lon, lat))
    return out


def _clip(points: list[tuple[float, float]], edge: float, keep_west: bool
          ) -> list[tuple[float, float]]:
    """Sutherland-Hodgman: the part of a ring west (or east) of the meridian ``edge``."""
    def inside(p: tuple[float, float]) -> bool:
        return p[0] <= edge if keep_west else p[0] >= edge

    out: list[tuple[float, float]] = []
    for i, current in enumerate(points):
        previous = points[i - 1]
        if inside(current) != inside(previous):
            t = (edge - previous[0]) / (current[0] - previous[0])
            out.append((edge, previous[1] + t * (current[1] - previous[1])))
        if inside(current):
            out.append(current)
    return out


def _rings(arcs: list[list[tuple[float, float]]], indices: list[int]) -> list[list[int]]:
    """The ring of these arcs, cut at the antimeridian into pieces within -180..180."""
    points: list[tuple[float, float]] = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc[1:] if points else arc)  # arcs share their end points
    points = _unwrap(points)
    pieces = [_clip(_clip(points, 180, True), -180, False),
              [(lon - 360, lat) for lon, lat in _clip(points, 180, False)],
              [(lon + 360, lat) for lon, lat in _clip(points, -180, True)]]
    out = []
    for piece in pieces:
        flat: list[int] = []
        for lon, lat in piece:
            pair = [round(lon * _SCALE), round(lat * _SCALE)]
            if flat[-2:] != pair:
                flat.extend(pair)
        if len(flat) >= 6:
            out.append(flat)
    return out


def convert(topology: dict[str, Any]) -> dict[str, Any]:
    """The outlines file's content from world-atlas's ``countries-110m.json``."""
    rows, lookup = country_table()
    arcs = _arcs(topology)
    countries = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        name = geometry["properties"]["name"]
        if name == "Antarctica":
            continue
        code = _NAMES[name] if name in _NAMES else lookup.get(name.lower())
        if name not in _NAMES and code is None:
            raise SystemExit(f"no ISO code for {name!r}: add it to _NAMES")
        polygons = (geometry["arcs"] if geometry["type"] == "MultiPolygon"
                    else [geometry["arcs"]])
        rings = [piece for polygon in polygons for ring in polygon
                 for piece in _rings(arcs, ring)]
        countries.append({"code": code, "name": rows[code].name if code in rows else name,
                          "rings": rings})
    countries.sort(key=lambda c: (c["code"] or "~", c["name"]))
    return {
        "source": "Natural Earth 1:110m Cultural Vectors, Admin 0 - Countries (public domain), "
                  "as TopoJSON from the npm package world-atlas 2.0.2 (ISC); converted by "
                  "tools/world_outlines.py",
        "units": "longitude, latitude in tenths of a degree",
        "countries": countries,
    }


def main() -> None:
    """``world_outlines.py SOURCE.json TARGET.json``."""
    source, target = (Path(a) for a in sys.argv[1:3])
    data = convert(json.loads(source.read_text(encoding="utf-8")))
    target.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n",
                      encoding="utf-8")
    print(f"{len(data['countries'])} countries written to {target}")


if __name__ == "__main__":
    main()
