"""The case graph and its cells as FollowTheMoney entities (JSON lines) that Aleph loads.

Every node, relationship and cell becomes an entity built with the FtM model
(``model.make_entity``) and checked before anything is written: each value as FtM cleans it
(what ``ftm validate`` does) and every property the schema requires present. The mapping is
:mod:`ringmap.graphs.ftm`'s, which the import reads back. Victims are pseudonymised as in
every export (:mod:`ringmap.privacy`), card numbers appear only as BIN and last four, and
the file is written whole or not at all.

A same-as group (references an analyst merged, :mod:`ringmap.graphs.sameas`) is one entity,
as the graph shows it, with the ids its other members would have as Aleph's ``referents``.
Cells are assessments, not evidence: each cell of the latest run is an ``Organization``
(classification ``ringmap cell``) with a ``Membership`` per member person and an
``UnknownLink`` (role ``member of cell``) per member account whose owner is unknown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from ringmap.errors import ExportError
from ringmap.fileio import write_atomic
from ringmap.graphs.ftm import (
    CELL_MARKER,
    DEFAULT_EDGE,
    EDGE_FORMS,
    FOLDED,
    MARKER,
    NODE_FORMS,
    PLACEHOLDER_MARKER,
    RINGMAP_NOTE,
    entity_id,
    ftm_model,
    ftm_text,
    marker_property,
)
from ringmap.graphs.model import AnalysisRun, CellRecord
from ringmap.graphs.schema import SCHEMA
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy

if TYPE_CHECKING:
    from followthemoney.model import Model
    from followthemoney.proxy import EntityProxy

__all__ = ["FtmExport", "export_ftm"]


@dataclass
class FtmExport:
    """What an FtM export wrote: entities per FtM schema, and what it could not write."""

    path: Path
    schemata: dict[str, int] = field(default_factory=dict)
    not_exported: dict[str, int] = field(default_factory=dict)
    """Nodes and relationships per ringmap type that have no FtM form (Country nodes)."""

    @property
    def entities(self) -> int:
        """Entities written."""
        return sum(self.schemata.values())

    def counts(self) -> dict[str, Any]:
        """The counts for the audit log and the CLI."""
        return {"entities": self.entities, **self.schemata,
                **{f"not exported {k}": v for k, v in self.not_exported.items()}}


class _Writer:
    """Builds the entities of one export, checked, in a deterministic order."""

    def __init__(self, model: Model, graph: nx.MultiDiGraph, privacy: Privacy) -> None:
        self.model = model
        self.graph = graph
        self.privacy = privacy
        self.public = {node: privacy.public_id(node) for node in graph}
        self.entities: dict[str, EntityProxy] = {}
        self.result = FtmExport(Path())

    def node_entity(self, node: str) -> EntityProxy | None:
        return self.entities.get(self.public[node])

    def make(self, schema: str, key: str, *parts: str) -> EntityProxy:
        entity = self.model.make_entity(schema)
        entity.id = entity_id(*parts)
        self.entities[key] = entity
        return entity

    def add_node(self, node: str, attrs: Mapping[str, Any]) -> None:
        type_ = str(attrs.get("type"))
        form = NODE_FORMS.get(type_)
        if form is None:
            self.result.not_exported[type_] = self.result.not_exported.get(type_, 0) + 1
            return
        public = self.public[node]
        entity = self.make(form.schema, public, public)
        entity.add(marker_property(form.schema), MARKER + public)
        entity.add(form.name, self.privacy.label(node, attrs))
        for prop, value in form.fixed.items():
            entity.add(prop, value)
        shown = self.privacy.properties(node, attrs)
        shown.pop("pseudonym", None)
        merged = shown.pop("same_as", None)
        if merged:  # an analyst's same-as group is one entity, as Aleph keeps a merged one
            entity.context["referents"] = sorted(entity_id(self.privacy.public_id(str(m)))
                                                 for m in merged)
        _write(entity, shown, form.props, set(SCHEMA.entity(type_).keys))  # marker: keys
        for prop in entity.schema.required:  # a pseudonymised node's label stands in
            if not entity.get(prop) and not _links(entity, prop):
                entity.add(prop, self.privacy.label(node, attrs))

    def add_edge(self, src: str, dst: str, rel: str, attrs: Mapping[str, Any]) -> None:
        source, target = self.node_entity(src), self.node_entity(dst)
        if source is not None and self.graph.nodes[dst].get("type") == "Country":
            self.add_country(source, rel, dst.split(":", 1)[-1])
            return
        if source is None or target is None:
            self.result.not_exported[rel] = self.result.not_exported.get(rel, 0) + 1
            return
        for holder, other, end in ((target, source, "target"), (source, target, "source")):
            folded = FOLDED.get((rel, holder.schema.name))
            if folded is not None and folded[0] == end:
                holder.add(folded[1], other.id)
                return
        form = EDGE_FORMS.get(rel, DEFAULT_EDGE)
        edge = self.make(form.schema, f"{rel}:{self.public[src]}->{self.public[dst]}", rel,
                         self.public[src], self.public[dst])
        edge.add(form.source, source.id)
        edge.add(form.target, target.id)
        if edge.schema.get("role") is not None:
            edge.add("role", rel)
        _write(edge, {name: self.privacy.value(value, rel, name) for name, value in attrs.items()
                      if name != "type" and value is not None}, form.props)

    def add_country(self, source: EntityProxy, rel: str, code: str) -> None:
        """A relationship to a country: FtM has no country entities, so it is the source's
        ``country`` (LOCATED_IN), or named in its ringmap note."""
        if rel == "LOCATED_IN" and source.schema.get("country") is not None:
            source.add("country", code)
            if code.lower() in source.get("country"):
                return
        notes = _notes(source)
        notes["@" + rel] = sorted({*notes.get("@" + rel, []), code})
        _note(source, notes)

    def fill_required(self) -> None:
        """Parties FtM requires that the evidence does not name: a payment's beneficiary is
        the holder of the card or wallet it went to; any still missing is a placeholder."""
        holders: dict[str, list[str]] = {}
        for src, dst, rel in self.graph.edges(keys=True):
            held, person = self.node_entity(dst), self.node_entity(src)
            if rel == "HOLDS" and held is not None and person is not None:
                holders.setdefault(held.id or "", []).append(person.id or "")
        for entity in list(self.entities.values()):
            if entity.schema.name == "Payment":
                for account in entity.get("beneficiaryAccount"):
                    entity.add("beneficiary", holders.get(account, []))
            for prop in sorted(entity.schema.required):
                if not entity.get(prop) and _links(entity, prop):
                    entity.add(prop, self.placeholder(entity, prop).id)

    def placeholder(self, entity: EntityProxy, prop: str) -> EntityProxy:
        party = self.make("LegalEntity", f"placeholder:{entity.id}:{prop}", "placeholder",
                          entity.id or "", prop)
        party.add("name", f"unknown {prop} ({entity.schema.name} {entity.caption})")
        party.add("keywords", PLACEHOLDER_MARKER)
        return party

    def add_cells(self, run: AnalysisRun, cells: Iterable[CellRecord]) -> None:
        for cell in cells:
            key = f"{run.run_id}/{cell.cell_id}"
            org = self.make("Organization", CELL_MARKER + key, "cell", key)
            org.add("name", f"cell {cell.cell_id}")
            org.add("classification", "ringmap cell")
            org.add("keywords", CELL_MARKER + key)
            org.add("description", f"an assessment by ringmap cell run {run.run_id}, not "
                                   "evidence")
            for member in cell.members:
                entity = self.node_entity(member.node_id) if member.node_id in self.public \
                    else None
                if entity is None:
                    continue
                person = entity.schema.is_a("LegalEntity")
                link = self.make("Membership" if person else "UnknownLink",
                                 f"member:{key}:{entity.id}", "member", key, entity.id or "")
                link.add("member" if person else "subject", entity.id)
                link.add("organization" if person else "object", org.id)
                link.add("role", "member of cell")
                link.add("status", f"confidence {member.confidence:.2f}")

    def checked(self) -> list[dict[str, Any]]:
        """Every entity as FtM data, each checked as ``ftm validate`` and the schema do."""
        out = []
        for entity in sorted(self.entities.values(), key=lambda e: (e.schema.name, e.id)):
            data = entity.to_dict()
            clean = self.model.get_proxy(data, cleaned=False).to_dict()
            missing = [p for p in entity.schema.required if not entity.get(p)]
            if clean != data or missing:
                raise ExportError(f"FtM entity {entity.schema.name} {entity.id} does not "
                                  f"validate (missing {missing})")
            self.result.schemata[entity.schema.name] = (
                self.result.schemata.get(entity.schema.name, 0) + 1)
            out.append(data)
        return out


def _write(entity: EntityProxy, props: Mapping[str, Any], places: Mapping[str, str],
           left_out: set[str] | frozenset[str] = frozenset()) -> None:
    """Write ringmap ``props`` to ``entity``: each to its FtM property in ``places``, and
    into the ringmap note when it has none or FtM spells it differently (``left_out``
    excepted)."""
    rest: dict[str, Any] = {}
    for name, value in sorted(props.items()):
        target = places.get(name)
        text = ftm_text(value)
        if target is not None:
            entity.add(target, text)
            if text in entity.get(target):
                continue
        if name not in left_out:
            rest[name] = value
    _note(entity, rest)


def _links(entity: EntityProxy, prop: str) -> bool:
    """Whether ``prop`` of ``entity`` names other entities."""
    found = entity.schema.get(prop)
    return found is not None and found.type.name == "entity"


def _notes(entity: EntityProxy) -> dict[str, Any]:
    """The ringmap properties written to ``entity``'s description so far."""
    for text in entity.get("description"):
        if text.startswith(RINGMAP_NOTE):
            found: dict[str, Any] = json.loads(text[len(RINGMAP_NOTE):])
            return found
    return {}


def _note(entity: EntityProxy, props: Mapping[str, Any]) -> None:
    """Write ``props`` (with any written before) as the ``ringmap: {json}`` description."""
    merged = {**_notes(entity), **props}
    kept = [t for t in entity.get("description") if not t.startswith(RINGMAP_NOTE)]
    if merged:
        kept.append(RINGMAP_NOTE + json.dumps(merged, sort_keys=True, ensure_ascii=False,
                                              default=ftm_text))
    entity.set("description", kept)


def export_ftm(store: Store, out: Path, *, reveal: bool = False, cells: bool = True,
               graph: nx.MultiDiGraph | None = None) -> FtmExport:
    """Write the evidence graph (and the latest run's cells) to ``out`` as FtM JSON lines.

    Parameters
    ----------
    store
        The case.
    out
        The file to write (replaced whole, or left as it was if anything fails).
    reveal
        Show victims as they are (the CLI asks for a reason); pseudonyms by default.
    cells
        Also write the latest cell run's cells and memberships.
    graph
        The store's projection, when the caller has it already.

    Raises
    ------
    ConfigError
        The ``followthemoney`` package is not installed.
    ExportError
        The file cannot be written.
    """
    model = ftm_model()
    graph = store.project() if graph is None else graph
    writer = _Writer(model, graph, Privacy.for_graph(graph, reveal=reveal))
    for node, attrs in sorted(graph.nodes(data=True)):
        writer.add_node(node, attrs)
    for src, dst, rel, attrs in sorted(graph.edges(keys=True, data=True)):
        writer.add_edge(src, dst, rel, attrs)
    latest = store.latest_cells(explanations=False) if cells else None
    if latest is not None:
        writer.add_cells(*latest)
    writer.fill_required()
    lines = [json.dumps(data, sort_keys=True, ensure_ascii=False) for data in writer.checked()]
    write_atomic(Path(out), "".join(line + "\n" for line in lines))
    writer.result.path = Path(out)
    return writer.result
