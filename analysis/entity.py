"""One entity as a whole: its type, id, properties, neighbours by relationship, every source's
value of each property, and its sightings.

What ``ringmap show`` prints. The entity is shown as every output shows it
(:mod:`ringmap.privacy`): a victim, or an identifier only victims use, under its pseudonym
with only non-identifying properties unless ``reveal``; card numbers masked in any text.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Literal

import networkx as nx
from pydantic import BaseModel, Field

from ringmap.graphs.model import Provenance
from ringmap.graphs.resolve import resolve
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy, victim_context

__all__ = ["EntityReport", "NeighbourCount", "SourceValue", "entity_report"]


class NeighbourCount(BaseModel):
    """How many neighbours of one type the entity has through one relationship type."""

    relationship: str
    direction: Literal["out", "in"] = Field(description="out: the entity is the source")
    type: str = Field(description="the neighbours' entity type")
    count: int


class SourceValue(BaseModel):
    """One source's value of one property, and whether it is the value shown."""

    property: str
    value: Any
    shown: bool = Field(description="the value the case shows: the best-graded source's")
    source_file: str
    grading: str
    run_id: str
    ingested_at: datetime


class EntityReport(BaseModel):
    """An entity with its properties, neighbour counts, every source's value of each property
    and every sighting of it."""

    id: str = Field(description="the node id, or Type:V-... for a pseudonymised victim")
    type: str
    label: str = Field(description="the label maps show")
    pseudonymised: bool
    properties: dict[str, Any]
    neighbours: list[NeighbourCount]
    values: list[SourceValue] = Field(description="by property, the best-graded source first")
    sources: list[Provenance]

    def field_rows(self) -> list[dict[str, Any]]:
        """Type, id, label and one row per property."""
        head = {"id": self.id, "type": self.type, "label": self.label}
        return [{"field": k, "value": v} for k, v in {**head, **self.properties}.items()]

    def neighbour_rows(self) -> list[dict[str, Any]]:
        """One row per relationship type, direction and neighbour type."""
        return [n.model_dump() for n in self.neighbours]

    def value_rows(self) -> list[dict[str, Any]]:
        """One row per property and source: the value, whether shown, file, grading, run."""
        return [{"property": v.property, "value": v.value, "shown": v.shown,
                 "file": v.source_file, "grading": v.grading, "run": v.run_id,
                 "ingested_at": v.ingested_at} for v in self.values]

    def source_rows(self) -> list[dict[str, Any]]:
        """One row per sighting: file, row, exhibit/report reference, run, grading."""
        return [{"file": p.source_file, "row": p.row, "ref": p.ref, "run": p.run_id,
                 "grading": str(p.grading), "ingested_at": p.ingested_at,
                 "sha256": p.sha256} for p in self.sources]


def entity_report(
    store: Store,
    key: str,
    *,
    reveal: bool = False,
    default_region: str = "PH",
) -> EntityReport:
    """Everything the case holds on one entity.

    Parameters
    ----------
    store
        The case.
    key
        The entity, as anything :func:`~ringmap.graphs.resolve.resolve` reads.
    reveal
        Show a victim as they are (the CLI asks for a reason first).
    default_region
        Region in which national phone numbers are read.

    Raises
    ------
    NotFound
        If ``key`` names no entity, or several.
    """
    node = resolve(store, key, default_region)
    around = store.neighbours(node.id)
    # the entity, its neighbours and the relationships between them, with what decides
    # whether it is on the victim side by the maps' own rule (likely victims included)
    local = nx.MultiDiGraph()
    for found in (node, *(other for _, other in around)):
        local.add_node(found.id, type=found.type, **found.props)
    for edge, _ in around:
        local.add_edge(edge.src, edge.dst, key=edge.type)
    privacy = Privacy.for_graph(victim_context(store, local, [o.id for _, o in around]),
                                reveal=reveal)
    attrs = local.nodes[node.id]
    counts = Counter((edge.type, "out" if edge.src == node.id else "in", other.type)
                     for edge, other in around)
    # a pseudonymised entity shows only its non-identifying properties, from every source too
    stated = store.values(node.id)
    showable = privacy.properties(node.id, {"type": node.type,
                                            **{s.property: s.value for s in stated}})
    values = [SourceValue(property=s.property, value=privacy.value(s.value, node.type, s.property),
                          shown=s.shown, source_file=s.source_file, grading=str(s.grading),
                          run_id=s.run_id, ingested_at=s.ingested_at)
              for s in stated if s.property in showable]
    return EntityReport(
        id=privacy.public_id(node.id), type=node.type, label=privacy.label(node.id, attrs),
        pseudonymised=privacy.hides(node.id),
        properties=privacy.properties(node.id, attrs),
        neighbours=[NeighbourCount(relationship=r, direction=d, type=t, count=n)
                    for (r, d, t), n in sorted(counts.items())],
        values=values,
        sources=store.provenance(node.id),
    )
