"""An entity's activity over time: every dated thing the case holds about it, in order.

For an entity (a suspect, an account, a phone, a card, ...) and, for a person, everything he
uses or holds: each dated relationship touching them (a contact from its first to its last
message, a login from an IP or on a device, a SIM in a device, an arrest), each dated event
next to them (a payment into the card, a report naming the account) and their own dates (an
account created, an exhibit seized, a report received). Victims, what only victims use and
likely victims are shown under their pseudonyms unless revealed, by the rule of every map and
export (:func:`ringmap.privacy.victim_side`); card numbers only masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import networkx as nx

from ringmap.analysis.windows import day_of
from ringmap.graphs.model import Node
from ringmap.graphs.resolve import resolve
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy, victim_context

__all__ = ["ACTIVITY_COLUMNS", "Activity", "entity_activity"]

#: columns of ``ringmap timeline``
ACTIVITY_COLUMNS = ["when", "until", "event", "entity", "other", "label", "detail"]
#: a node's own dates, by type: (property, event)
_OWN_DATES = {"Account": (("created", "account created"),),
              "Exhibit": (("seized", "seized"),),
              "Report": (("incident", "incident"), ("received", "report received")),
              "Payment": (("time", "payment"),)}
#: events next to an entity, dated by one of their properties: (type, property)
_NEXT_EVENTS = {"Payment": "time", "Report": "received"}
#: what a person's own things are
_HOLDINGS = frozenset({"USES", "HOLDS"})


@dataclass(frozen=True, slots=True)
class Activity:
    """One dated row of an entity's timeline."""

    when: date
    until: date | None
    event: str
    entity: str
    other: str
    label: str
    detail: str

    def row(self) -> dict[str, Any]:
        """The row ``ringmap timeline`` prints."""
        return {"when": self.when.isoformat(),
                "until": self.until.isoformat() if self.until else "",
                "event": self.event, "entity": self.entity, "other": self.other,
                "label": self.label, "detail": self.detail}


def _detail(edge_props: dict[str, Any], other: Node) -> str:
    parts = [f"{k} {edge_props[k]}" for k in ("channel", "count", "role") if edge_props.get(k)]
    if other.type == "Payment":
        parts.append(f"{other.props.get('currency', '')} {other.props.get('amount', '')}"
                     .strip())
    return ", ".join(parts)


def entity_activity(store: Store, key: str, *, reveal: bool = False,
                    default_region: str = "PH") -> tuple[str, list[Activity]]:
    """The public id of the entity ``key`` names and its dated activity, oldest first.

    Raises
    ------
    NotFound
        If ``key`` names no entity, or several.
    """
    node = resolve(store, key, default_region)
    subjects = {node.id: node}
    around = {node.id: store.neighbours(node.id)}
    if node.type == "Person":
        for edge, other in around[node.id]:
            if edge.type in _HOLDINGS and edge.src == node.id:
                subjects[other.id] = other
                around[other.id] = store.neighbours(other.id)
    # the subjects with all their relationships: the maps' rule decides who is a victim
    local = nx.MultiDiGraph()
    for pairs in around.values():
        for edge, other in pairs:
            local.add_node(other.id, type=other.type, **other.props)
            local.add_edge(edge.src, edge.dst, key=edge.type)
    local.add_nodes_from((n.id, {"type": n.type, **n.props}) for n in subjects.values())
    privacy = Privacy.for_graph(
        victim_context(store, local, [n for n in local if n not in subjects]), reveal=reveal)

    def shown(item: Node) -> tuple[str, str]:
        return (privacy.public_id(item.id),
                privacy.label(item.id, {"type": item.type, **item.props}))

    out: list[Activity] = []
    for subject in subjects.values():
        name = privacy.public_id(subject.id)
        for prop, event in _OWN_DATES.get(subject.type, ()):
            day = day_of(subject.props.get(prop))
            if day is not None:
                out.append(Activity(day, None, event, name, "", shown(subject)[1], ""))
        for edge, other in around[subject.id]:
            first = day_of(edge.props.get("first_seen")) or day_of(edge.props.get("time"))
            last = day_of(edge.props.get("last_seen"))
            dated_by = _NEXT_EVENTS.get(other.type)
            if first is None and last is None and dated_by is not None:
                first = day_of(other.props.get(dated_by))
            when = first or last
            if when is None:
                continue
            direction = "" if edge.src == subject.id else " (in)"
            other_id, label = shown(other)
            out.append(Activity(when, last if last and last != when else None,
                                f"{edge.type}{direction}", name, other_id, label,
                                _detail(edge.props, other)))
    out.sort(key=lambda a: (a.when, a.event, a.entity, a.other))
    return privacy.public_id(node.id), out
