"""The raid plan of a cell: per raid site whom to arrest and, per person, what to seize.

A cell's raid sites are the places its people work or were arrested at and where items tied to
it were seized (:func:`~ringmap.viz.reach.reach`). At a site, *whom to arrest* is every person
other than a victim tied to it — working there, arrested there, or holding an item seized
there — whatever cell they fell in, or none. *What to seize* from a person is every device,
SIM card, phone, payment card and ID document they use or hold, the SIM cards that sat in
their devices, and the items already seized from them (with the exhibit reference); their
e-wallets and bank accounts are to be frozen. Every text is as the privacy policy shows it.

>>> import networkx as nx
>>> from ringmap.privacy import Privacy
>>> g = nx.MultiDiGraph()
>>> g.add_node("Location:S1", type="Location", name="Office", city="Naga", lat=13.6, lon=123.2)
>>> g.add_node("Person:A", type="Person", role="suspect", name="Ana")
>>> g.add_node("Device:1", type="Device", device_id="SN-1", kind="laptop")
>>> _ = g.add_edge("Person:A", "Location:S1", key="WORKS_AT")
>>> _ = g.add_edge("Person:A", "Device:1", key="USES")
>>> site = raid_sites(g, ["Location:S1"], Privacy(), {})[0]
>>> site.label, site.address, [(a.label, a.ties) for a in site.arrests]
('Office', 'Office, Naga', [('Ana', ['works here'])])
>>> [(i.kind, i.label, i.action) for i in site.arrests[0].items]
[('Device', 'SN-1', 'seize')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ringmap.graphs.schema import Role
from ringmap.privacy import Privacy
from ringmap.viz.reach import linked

__all__ = ["Arrest", "Item", "RaidSite", "arrest_rows", "raid_sites", "seize_rows"]

#: what is taken from a person, by type, and what is done with it
ACTIONS = {"Device": "seize", "SimCard": "seize", "Phone": "seize", "PaymentCard": "seize",
           "IdDocument": "seize", "FinancialAccount": "freeze"}
_SITE_TIES = {"WORKS_AT": "works here", "ARRESTED_AT": "arrested here"}
_ADDRESS = ("name", "city", "region")


@dataclass(frozen=True, slots=True)
class Item:
    """Something to seize or freeze from a person."""

    node: str
    id: str
    kind: str
    label: str
    tie: str
    """How it is the person's: ``uses``, ``holds``, ``SIM in their device``, ``seized from``."""
    exhibits: tuple[str, ...]
    """Exhibit references of it already seized."""
    action: str


@dataclass(slots=True)
class Arrest:
    """A person to arrest at a site."""

    node: str
    id: str
    label: str
    alias: str
    role: str
    cell: str | None
    ties: list[str]
    items: list[Item] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RaidSite:
    """A raid site with its address, coordinates and the persons to arrest there."""

    node: str
    id: str
    label: str
    address: str
    lat: float | None
    lon: float | None
    arrests: list[Arrest]


def _exhibits_at(graph: nx.MultiDiGraph, site: str) -> list[str]:
    return sorted(o for _, d, o in linked(graph, site, ("SEIZED_AT",)) if d == "in")


def _seized_from(graph: nx.MultiDiGraph, exhibit: str) -> list[str]:
    return [o for _, d, o in linked(graph, exhibit, ("SEIZED_FROM",)) if d == "out"]


def _persons_at(graph: nx.MultiDiGraph, site: str) -> dict[str, list[str]]:
    """Persons tied to a site (victims left out), with how."""
    ties: dict[str, list[str]] = {}
    for rel, direction, person in sorted(linked(graph, site, _SITE_TIES)):
        if direction == "in":
            ties.setdefault(person, []).append(_SITE_TIES[rel])
    for exhibit in _exhibits_at(graph, site):
        for person in _seized_from(graph, exhibit):
            ties.setdefault(person, [])
            if "items seized from them here" not in ties[person]:
                ties[person].append("items seized from them here")
    return {p: t for p, t in ties.items() if graph.nodes[p].get("role") != Role.VICTIM}


def _holdings(graph: nx.MultiDiGraph, person: str) -> dict[str, str]:
    """Items of a person -> how they are theirs."""
    held: dict[str, str] = {}
    for rel, direction, item in linked(graph, person, ("USES", "HOLDS")):
        if direction == "out" and graph.nodes[item].get("type") in ACTIONS:
            held.setdefault(item, rel.lower())
    for device in [i for i, _ in held.items() if graph.nodes[i].get("type") == "Device"]:
        for _, direction, sim in linked(graph, device, ("SIM_IN",)):
            if direction == "in":
                held.setdefault(sim, "SIM in their device")
    for _, direction, exhibit in linked(graph, person, ("SEIZED_FROM",)):
        if direction == "in":
            for _, d, item in linked(graph, exhibit, ("EXHIBIT_OF",)):
                if d == "out" and graph.nodes[item].get("type") in ACTIONS:
                    held.setdefault(item, "seized from them")
    return held


def _items(graph: nx.MultiDiGraph, person: str, privacy: Privacy) -> list[Item]:
    items = []
    for node, tie in _holdings(graph, person).items():
        kind = str(graph.nodes[node]["type"])
        exhibits = sorted(privacy.label(e, graph.nodes[e])
                          for _, d, e in linked(graph, node, ("EXHIBIT_OF",)) if d == "in")
        items.append(Item(node, privacy.public_id(node), kind,
                          privacy.label(node, graph.nodes[node]), tie, tuple(exhibits),
                          ACTIONS[kind]))
    items.sort(key=lambda i: (list(ACTIONS).index(i.kind), i.label, i.id))
    return items


def _address(attrs: Mapping[str, Any], privacy: Privacy) -> str:
    parts = dict.fromkeys(str(privacy.value(attrs[k])) for k in _ADDRESS if attrs.get(k))
    return ", ".join(parts)


def _coordinate(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _degrees(value: float | None) -> str | None:
    """A coordinate as text to five decimals (about a metre): CSV writes floats to two."""
    return None if value is None else f"{value:.5f}"


def raid_sites(graph: nx.MultiDiGraph, sites: Iterable[str], privacy: Privacy,
               cell_of: Mapping[str, str]) -> list[RaidSite]:
    """The raid plan of ``sites`` (see the module docstring); ``cell_of`` gives each person's
    cell in the run (none: not in any)."""
    out = []
    for site in sorted(sites):
        attrs = graph.nodes[site]
        arrests = []
        for person, ties in _persons_at(graph, site).items():
            shown = privacy.properties(person, graph.nodes[person])
            arrests.append(Arrest(person, privacy.public_id(person),
                                  privacy.label(person, graph.nodes[person]),
                                  str(shown.get("alias") or ""), str(shown.get("role") or ""),
                                  cell_of.get(person), ties, _items(graph, person, privacy)))
        arrests.sort(key=lambda a: (a.role != Role.SUSPECT, a.label.casefold(), a.id))
        out.append(RaidSite(site, privacy.public_id(site), privacy.label(site, attrs),
                            _address(attrs, privacy), _coordinate(attrs.get("lat")),
                            _coordinate(attrs.get("lon")), arrests))
    return out


def arrest_rows(sites: Iterable[RaidSite]) -> list[dict[str, Any]]:
    """One row per site and person to arrest there."""
    return [{"site_id": s.id, "site": s.label, "address": s.address, "lat": _degrees(s.lat),
             "lon": _degrees(s.lon), "person_id": a.id, "name": a.label, "alias": a.alias,
             "role": a.role, "cell": a.cell or "none", "ties": "; ".join(a.ties),
             "items_to_seize": sum(i.action == "seize" for i in a.items),
             "accounts_to_freeze": sum(i.action == "freeze" for i in a.items)}
            for s in sites for a in s.arrests]


def seize_rows(sites: Iterable[RaidSite]) -> list[dict[str, Any]]:
    """One row per person and item to seize or freeze (a person at two sites once)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for s in sites:
        for a in s.arrests:
            for i in a.items:
                row = rows.setdefault((a.id, i.id), {
                    "person_id": a.id, "person": a.label, "sites": [], "action": i.action,
                    "type": i.kind, "item_id": i.id, "item": i.label, "tie": i.tie,
                    "exhibits": "; ".join(i.exhibits)})
                row["sites"].append(s.label)
    return [{**r, "sites": "; ".join(r["sites"])} for r in rows.values()]
