"""Plain value types that cross the store contract: nodes, edges, provenance, ledgers, results.

Hot-path values (nodes, edges, sightings) are slotted dataclasses; ledger records and results are
pydantic models, validated once and serialised to JSON for both stores.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Literal, TypeVar, overload

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from ringmap.errors import StoreError

__all__ = [
    "AnalysisRun",
    "Batch",
    "BatchColumns",
    "Bridge",
    "Broker",
    "CellFigures",
    "CellMember",
    "CellRecord",
    "CellReport",
    "Centrality",
    "Conflict",
    "CountryMoney",
    "Counts",
    "DisputedRole",
    "Edge",
    "EvidenceRow",
    "FileLoad",
    "Grading",
    "IngestRun",
    "KeyPlayer",
    "Listed",
    "Listing",
    "Money",
    "Node",
    "Outsider",
    "Provenance",
    "Retracted",
    "Retraction",
    "RoleClaim",
    "Seen",
    "Sighting",
    "Statement",
    "Tie",
    "built",
    "edge_id",
    "utcnow",
]

Props = dict[str, Any]


_Model = TypeVar("_Model", bound=BaseModel)

#: per model: its field names in order, and one set of them that all it builds share
_FIELDS: dict[type[BaseModel], tuple[tuple[str, ...], set[str]]] = {}


def built(model: type[_Model], **values: Any) -> _Model:
    """``model(**values)`` for values the caller made with every field's own type: not
    validated again, and one set of field names shared by all the models built so.

    A validated model keeps a set of the fields given, most of a small model's memory (about
    0.7 KB of a 1 KB :class:`Listed`): a large run's reports hold hundreds of thousands of
    them. Every field must be given, and no other (``KeyError``, ``TypeError``); the values
    are kept in the model's field order, as validation keeps them and as they are serialised.

    >>> built(Listed, label="+441", id="Phone:+441", members=2, shared_by=3,
    ...       infrastructure=False) == Listed(id="Phone:+441", label="+441", members=2,
    ...                                       shared_by=3)
    True
    """
    known = _FIELDS.get(model)
    if known is None:
        names = tuple(model.model_fields)
        known = _FIELDS[model] = (names, set(names))
    names, fields = known
    if len(values) != len(names):
        raise TypeError(f"{model.__name__} takes {', '.join(names)}; given {', '.join(values)}")
    made = model.__new__(model)
    object.__setattr__(made, "__dict__", {name: values[name] for name in names})
    object.__setattr__(made, "__pydantic_fields_set__", fields)
    object.__setattr__(made, "__pydantic_extra__", None)
    object.__setattr__(made, "__pydantic_private__", None)
    return made


def utcnow() -> datetime:
    """The current time in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(slots=True)
class Node:
    """An entity: its deterministic id (``Type:key``), type and normalised properties."""

    id: str
    type: str
    props: Props = field(default_factory=dict)


def edge_id(type_: str, src: str, dst: str) -> str:
    """The id of the relationship ``type_`` from ``src`` to ``dst``: one per triple."""
    return f"{type_}:{src}->{dst}"


@dataclass(slots=True)
class Edge:
    """A relationship; repeated sightings of the same (type, src, dst) merge into one."""

    type: str
    src: str
    dst: str
    props: Props = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The relationship's id (see :func:`edge_id`)."""
        return edge_id(self.type, self.src, self.dst)


@dataclass(slots=True)
class Sighting:
    """One evidence row that saw a node or relationship."""

    item: str  # node id or edge id
    row: int
    ref: str | None = None  # exhibit / report reference of the row


class Seen(Sequence[Sighting]):
    """A batch's sightings grouped by item, as the ingest engine gathers them: the rows that
    saw each node (by id) and each relationship (by type, source and target id), each in row
    order, and the rows' references.

    A store that reads the groups skips a :class:`Sighting` per item and row (a million rows
    see some two million items); read as a sequence, it is the sightings in row order (the
    nodes of a row before its relationships).
    """

    __slots__ = ("_flat", "edges", "nodes", "refs")

    def __init__(self, nodes: dict[str, list[int]], edges: dict[tuple[str, str, str], list[int]],
                 refs: dict[int, str]) -> None:
        self.nodes, self.edges, self.refs = nodes, edges, refs
        self._flat: list[Sighting] | None = None

    def _sightings(self) -> list[Sighting]:
        if self._flat is None:
            seen = [(row, item) for item, rows in self.nodes.items() for row in rows]
            seen += [(row, edge_id(*key)) for key, rows in self.edges.items() for row in rows]
            seen.sort(key=itemgetter(0))  # stable: a row's nodes stay before its relationships
            refs = self.refs
            self._flat = [Sighting(item, row, refs.get(row)) for row, item in seen]
        return self._flat

    def __len__(self) -> int:
        return len(self._sightings())

    @overload
    def __getitem__(self, index: int) -> Sighting: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Sighting]: ...

    def __getitem__(self, index: int | slice) -> Sighting | Sequence[Sighting]:
        return self._sightings()[index]

    def __iter__(self) -> Iterator[Sighting]:
        return iter(self._sightings())


@dataclass(slots=True)
class Batch:
    """Accepted rows of one file, ready for the store; ``last_row`` is the last row covered."""

    nodes: list[Node]
    edges: list[Edge]
    sightings: Sequence[Sighting]  # a Seen when the ingest engine made the batch
    last_row: int


@dataclass(slots=True)
class BatchColumns:
    """A batch the ingest engine made (:class:`Batch` with a :class:`Seen`), as columns of
    plain values: each node once, with its id, type, properties and the rows that saw it
    (none: an end seen on no row); each relationship once, with its type, ends,
    properties and rows; the rows' references. What the engine's worker process sends and
    the embedded store writes column by column (issue 14), without an object per item.

    >>> seen = Seen({"A:1": [3]}, {("USES", "A:1", "P:2"): [3]}, {3: "EX-3"})
    >>> batch = Batch([Node("A:1", "Account"), Node("P:2", "Phone")],
    ...               [Edge("USES", "A:1", "P:2")], seen, 3)
    >>> columns = BatchColumns.of(batch)
    >>> columns.ids, columns.node_rows, columns.rel_rows
    (['A:1', 'P:2'], [[3], []], [[3]])
    >>> again = columns.batch()
    >>> (again.nodes, again.edges, list(again.sightings)) == (batch.nodes, batch.edges, list(seen))
    True
    """

    ids: list[str]
    types: list[str]
    node_props: list[Props]
    node_rows: list[list[int]]
    rel_types: list[str]
    sources: list[str]
    targets: list[str]
    rel_props: list[Props]
    rel_rows: list[list[int]]
    refs: dict[int, str]
    last_row: int

    @classmethod
    def of(cls, batch: Batch) -> BatchColumns:
        """The columns of a batch the engine made: its sightings a :class:`Seen` listing its
        relationships' rows in the order of its relationships."""
        seen = batch.sightings
        if not isinstance(seen, Seen):
            raise TypeError("only a batch whose sightings are grouped (Seen) has columns")
        rows_of = seen.nodes.get
        return cls.with_rows(batch, [rows_of(n.id) or [] for n in batch.nodes],
                             list(seen.edges.values()), seen.refs)

    @classmethod
    def with_rows(cls, batch: Batch, node_rows: list[list[int]], rel_rows: list[list[int]],
                  refs: dict[int, str]) -> BatchColumns:
        """The columns of ``batch``'s nodes and relationships, with the rows that saw each
        (in the order of its nodes and of its relationships) and the rows' references."""
        nodes, edges = batch.nodes, batch.edges
        return cls([n.id for n in nodes], [n.type for n in nodes], [n.props for n in nodes],
                   node_rows, [e.type for e in edges], [e.src for e in edges],
                   [e.dst for e in edges], [e.props for e in edges], rel_rows, refs,
                   batch.last_row)

    def batch(self) -> Batch:
        """The batch again, with a node, relationship and :class:`Seen` as :meth:`of` read."""
        keys = zip(self.rel_types, self.sources, self.targets, strict=True)
        return Batch(list(map(Node, self.ids, self.types, self.node_props)),
                     list(map(Edge, self.rel_types, self.sources, self.targets, self.rel_props)),
                     Seen({nid: rows for nid, rows in zip(self.ids, self.node_rows, strict=True)
                           if rows}, dict(zip(keys, self.rel_rows, strict=True)), self.refs),
                     self.last_row)


GradingScheme = Literal["admiralty", "uk_3x5x2"]


class Grading(BaseModel):
    """Source grading kept with its scheme: Admiralty/NATO 6x6 (``B2``) or UK 3x5x2 (``1A1``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scheme: GradingScheme = "admiralty"
    grade: str = "F6"

    @classmethod
    def parse(cls, text: str, scheme: GradingScheme | None = None) -> Grading:
        """Parse ``B2`` / ``admiralty:B2`` / ``uk_3x5x2:1A1``; raises ``ValueError`` if invalid."""
        import re

        if ":" in text:
            prefix, text = text.split(":", 1)
            if prefix not in ("admiralty", "uk_3x5x2"):
                raise ValueError(f"unknown grading scheme {prefix!r}")
            scheme = prefix  # type: ignore[assignment]
        grade = text.strip().upper()
        if scheme is None:
            scheme = "uk_3x5x2" if re.fullmatch(r"[1-3][A-E][PC12]?", grade) else "admiralty"
        if scheme == "admiralty" and not re.fullmatch(r"[A-F][1-6]", grade):
            raise ValueError(f"Admiralty grade must be A-F then 1-6, like B2; got {text!r}")
        if scheme == "uk_3x5x2" and not re.fullmatch(r"[1-3][A-E][PC12]?", grade):
            raise ValueError(f"UK 3x5x2 grade must be 1-3, A-E, then P/C, like 1A; got {text!r}")
        return cls(scheme=scheme, grade=grade)

    def reliability(self) -> float:
        """A 0-1 weight for how far a link graded like this should be trusted."""
        if self.scheme == "admiralty":
            source = "ABCDEF".index(self.grade[0])
            info = int(self.grade[1]) - 1
            table = (1.0, 0.9, 0.7, 0.5, 0.3, 0.6)  # 6 = "cannot be judged": neutral-ish
            return round(table[source] * table[info], 4)
        source = int(self.grade[0]) - 1
        info = "ABCDE".index(self.grade[1])
        return round((1.0, 0.7, 0.4)[source] * (1.0, 0.9, 0.7, 0.5, 0.3)[info], 4)

    def __str__(self) -> str:
        return f"{self.scheme}:{self.grade}"


class Retraction(BaseModel):
    """Why, when and by whom a load was retracted: what it contributed left the case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime = Field(default_factory=utcnow)
    user: str = ""
    reason: str


class FileLoad(BaseModel):
    """The ledger record of one evidence file loaded with one mapping.

    A retracted load stays in the ledger with its :class:`Retraction`; the same file can then
    be loaded again as a new load.
    """

    model_config = ConfigDict(extra="forbid")

    sha256: str
    source_file: str
    mapping: str
    mapping_digest: str
    run_id: str
    grading: Grading
    ingested_at: datetime = Field(default_factory=utcnow)
    read: int = 0
    loaded: int = 0
    duplicate: int = 0
    rejected: int = 0
    quarantine: str | None = None
    skipped: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="optional entities/relationships skipped, per label and reason")
    skip_log: str | None = None
    complete: bool = False
    last_row: int = Field(
        default=0,
        description="row number of the last row covered by committed batches (resume point)",
    )
    retracted: Retraction | None = None


class IngestRun(BaseModel):
    """One ``ringmap ingest``/``run`` invocation and the files it loaded."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    started: datetime = Field(default_factory=utcnow)
    finished: datetime | None = None
    user: str = ""
    command: str = ""
    files: list[str] = Field(default_factory=list, description="sha256 of each file")
    interrupted: bool = Field(default=False, description="never finished: its writer died")


class Provenance(BaseModel):
    """Where a node or relationship was seen: file, row, reference, run, time and grading."""

    model_config = ConfigDict(extra="forbid")

    source_file: str
    sha256: str
    row: int
    ref: str | None
    run_id: str
    ingested_at: datetime
    grading: Grading


class Statement(BaseModel):
    """One source's value of one property of a node or relationship.

    Every load that stated the property keeps its value; ``shown`` marks the value the case
    shows (the best-graded source's, the newest on a tie; see
    :mod:`ringmap.graphs.statements`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    item: str
    property: str
    value: Any
    shown: bool
    source_file: str
    sha256: str
    mapping: str
    run_id: str
    ingested_at: datetime
    grading: Grading


class Conflict(BaseModel):
    """A property of a node or relationship whose sources disagree, with every statement of
    it (the best-graded source first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item: str
    type: str
    property: str
    statements: list[Statement]


class Retracted(BaseModel):
    """What a retraction removed: loads, provenance, and the nodes and relationships that no
    other load supports; and how many others had their shown values recomputed."""

    model_config = ConfigDict(extra="forbid")

    files: list[str] = Field(default_factory=list, description="source file of each load")
    nodes_removed: int = 0
    relationships_removed: int = 0
    nodes_restated: int = 0
    relationships_restated: int = 0


class Counts(BaseModel):
    """Nodes and relationships per type."""

    nodes: dict[str, int]
    relationships: dict[str, int]

    @property
    def total_nodes(self) -> int:
        """All nodes."""
        return sum(self.nodes.values())

    @property
    def total_relationships(self) -> int:
        """All relationships."""
        return sum(self.relationships.values())


class AnalysisRun(BaseModel):
    """An analysts' assessment run (e.g. cell detection) with its parameters."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    kind: str = "cells"
    created: datetime = Field(default_factory=utcnow)
    params: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)

    @property
    def infrastructure(self) -> list[str]:
        """The ids a cell run set aside as shared infrastructure (its summary lists them, most
        shared first; a victim-side one only under its pseudonym)."""
        return [str(item["identifier"]) for item in self.summary.get("infrastructure", [])]


class _Report(BaseModel):
    """A part of a saved cell run: frozen, and strict about its fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EvidenceRow(_Report):
    """One provenance row behind a tie: the file and row that saw it."""

    item: str = Field(description="the node or relationship seen (victims pseudonymised)")
    file: str
    row: int
    ref: str | None = None
    grading: str


class Tie(_Report):
    """Why a member is in its cell: an identifier it shares with other members."""

    kind: str = Field(description="the identifier's type, or victim, contact, uses")
    identifier: str
    label: str
    weight: float | None = Field(default=None, description="its contribution to the tie")
    shared_by: int = Field(description="agents holding it")
    in_cell: int = Field(description="of them in this cell")
    infrastructure: bool = False
    evidence: list[EvidenceRow] = Field(default_factory=list)


class CellMember(BaseModel):
    """A member of a cell with the confidence of its membership and why it is there."""

    model_config = ConfigDict(extra="forbid")

    node_id: str
    confidence: float
    explanation: list[Tie] = Field(default_factory=list)


class Listed(_Report):
    """An identifier or raid site the cell's members hold."""

    id: str
    label: str
    members: int = Field(description="members of the cell holding it")
    shared_by: int = Field(description="agents of the whole case holding it")
    infrastructure: bool = False


class Listing(_Report):
    """Identifiers of one type the cell holds: how many, and the most held first."""

    count: int
    items: list[Listed] = Field(default_factory=list)


class CountryMoney(_Report):
    """The part of a cell's money paid by victims of one country."""

    payments: int = 0
    by_currency: dict[str, float] = Field(default_factory=dict)
    usd: float = 0.0


class Money(_Report):
    """Payments into a cell's cards and wallets: count, per currency, in USD, per country."""

    payments: int
    by_currency: dict[str, float]
    usd: float = Field(description="at the rate of each payment's date")
    unconverted: int = Field(description="payments with no rate for their currency")
    undated: int = Field(description="payments converted at the latest rate")
    fx_table: str
    by_country: dict[str, CountryMoney] = Field(
        default_factory=dict, description="by the payer's country")


class Centrality(_Report):
    """An agent's standing in its cell: weighted degree, betweenness, PageRank."""

    degree: float
    betweenness: float
    pagerank: float

    @model_validator(mode="before")
    @classmethod
    def _from_triple(cls, data: Any) -> Any:
        """Runs saved before the model kept ``[degree, betweenness, pagerank]``."""
        if isinstance(data, list | tuple) and len(data) == 3:
            return dict(zip(("degree", "betweenness", "pagerank"), data, strict=True))
        return data


class KeyPlayer(Centrality):
    """One of the cell's most central agents."""

    node: str


class Broker(_Report):
    """An agent with strong ties into this cell and into others."""

    node: str
    cell: str | None = Field(description="its own cell; None when in no cell")
    participation: float
    ties: dict[str, float] = Field(description="cell id -> tie strength into it")


class Bridge(_Report):
    """An identifier this cell shares with other cells."""

    identifier: str
    kind: str
    shared_by: int
    cells: list[str]
    infrastructure: bool = False


class Outsider(_Report):
    """An agent in no cell that holds identifiers this cell's members hold."""

    node: str
    shared: list[Listed] = Field(description="what it shares with the cell, most held first")


class RoleClaim(_Report):
    """One source's word on a person's role."""

    role: str
    file: str
    grading: str
    shown: bool = Field(description="the role the case shows: the best-graded source's")


class DisputedRole(_Report):
    """A member whose sources disagree on its role (suspect, mule, victim ...)."""

    person: str
    claims: list[RoleClaim] = Field(description="the best-graded source first")


class CellReport(_Report):
    """The report of one cell, built once by :mod:`ringmap.analysis.report` and saved with it.

    ``ringmap cell``/``cells``, the maps, raid packages and run summaries all read this one
    model. Victims appear only by count and country; identifiers as privacy shows them.
    """

    agents: int = Field(description="identified suspects (persons)")
    units: int = Field(description="agent-graph vertices: suspects, and accounts whose owner "
                                   "is unknown")
    persons: list[str]
    accounts: list[str]
    confidence: float = Field(description="mean member confidence")
    infrastructure: dict[str, Listing] = Field(description="per identifier type")
    sites: list[Listed] = Field(description="offices and raid sites")
    victims: int
    victims_by_country: dict[str, int]
    unidentified_contacts: int = Field(
        default=0, description="accounts and phones contacted whose user is not identified")
    money: Money
    reports: list[str]
    key_players: list[KeyPlayer]
    centrality: dict[str, Centrality] = Field(description="per agent")
    brokers: list[Broker]
    bridging_identifiers: list[Bridge]
    unassigned: list[Outsider] = Field(
        default_factory=list, description="agents in no cell tied to this one")
    disputed_roles: list[DisputedRole] = Field(
        default_factory=list, description="members whose sources disagree on their role")


class CellFigures(BaseModel):
    """The few figures of a cell's report that the maps draw (see :meth:`CellRecord.sketched`):
    a report read whole is about 0.2 MB of objects, these a few hundred bytes."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    agents: int
    victims: int
    victims_by_country: dict[str, int]
    money: Money


class CellRecord(BaseModel):
    """A detected cell: an assessment, kept apart from the evidence facts.

    ``summary`` is the cell's report; None for a cell saved without one, or read without it
    (:meth:`sketched`), when ``figures`` holds its figures the maps draw (never saved). A saved
    report that this version cannot read raises :class:`~ringmap.errors.StoreError` naming the
    cell.
    """

    model_config = ConfigDict(extra="forbid")

    cell_id: str
    members: list[CellMember]
    summary: CellReport | None = None
    figures: CellFigures | None = Field(default=None, exclude=True)

    @field_validator("summary", "figures", mode="wrap")
    @classmethod
    def _readable(cls, value: Any, handler: ValidatorFunctionWrapHandler,
                  info: ValidationInfo) -> Any:
        if value == {}:  # cells saved before their reports were kept with them
            return None
        try:
            return handler(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise StoreError(
                f"the saved report of cell {info.data.get('cell_id')!r} cannot be read by this "
                f"version of ringmap ({where}: {first['msg']}); run `ringmap cells` again"
            ) from None

    @classmethod
    def unexplained(cls, text: str) -> CellRecord:
        """A saved record (its JSON ``text``) read without its members' explanations,
        which are dropped before any object is made of them.

        >>> CellRecord.unexplained('{"cell_id": "C1", "members": [{"node_id": "Person:a", '
        ...                        '"confidence": 1.0, "explanation": [{"kind": "Phone"}]}]}'
        ...                        ).members
        [CellMember(node_id='Person:a', confidence=1.0, explanation=[])]
        """
        return cls.model_validate(_unexplained(text))

    @classmethod
    def sketched(cls, text: str) -> CellRecord:
        """A saved record (its JSON ``text``) read as the maps draw it: its members without
        their explanations, its report's :class:`CellFigures` instead of the report.

        >>> record = CellRecord.sketched(
        ...     '{"cell_id": "C1", "members": [{"node_id": "Person:a", "confidence": 1.0}], '
        ...     '"summary": {"agents": 1, "victims": 0, "victims_by_country": {}, "reports": [],'
        ...     ' "money": {"payments": 0, "by_currency": {}, "usd": 0.0, "unconverted": 0, '
        ...     '"undated": 0, "fx_table": "t"}}}')
        >>> record.summary is None, record.figures.agents
        (True, 1)
        """
        data = _unexplained(text)
        return cls.model_validate({**data, "summary": None, "figures": data.get("summary")})


def _unexplained(text: str) -> dict[str, Any]:
    """A saved record's JSON ``text`` as data, its members' explanations dropped before any
    object is made of them."""
    data: dict[str, Any] = json.loads(text)
    for member in data.get("members", ()):
        member.pop("explanation", None)
    return data
