"""Plain value types that cross the store contract: nodes, edges, provenance, ledgers, results.

Hot-path values (nodes, edges, sightings) are slotted dataclasses; ledger records and results are
pydantic models, validated once and serialised to JSON for both stores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AnalysisRun",
    "Batch",
    "CellMember",
    "CellRecord",
    "Counts",
    "Edge",
    "FileLoad",
    "Grading",
    "IngestRun",
    "Node",
    "Provenance",
    "Sighting",
    "edge_id",
    "utcnow",
]

Props = dict[str, Any]


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


@dataclass(slots=True)
class Batch:
    """Accepted rows of one file, ready for the store; ``last_row`` is the last row covered."""

    nodes: list[Node]
    edges: list[Edge]
    sightings: list[Sighting]
    last_row: int


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


class FileLoad(BaseModel):
    """The ledger record of one evidence file loaded with one mapping."""

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


class IngestRun(BaseModel):
    """One ``ringmap ingest``/``run`` invocation and the files it loaded."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    started: datetime = Field(default_factory=utcnow)
    finished: datetime | None = None
    user: str = ""
    command: str = ""
    files: list[str] = Field(default_factory=list, description="sha256 of each file")


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


class CellMember(BaseModel):
    """A member of a cell with the confidence of its membership and why it is there."""

    model_config = ConfigDict(extra="forbid")

    node_id: str
    confidence: float
    explanation: list[dict[str, Any]] = Field(default_factory=list)


class CellRecord(BaseModel):
    """A detected cell: an assessment, kept apart from the evidence facts."""

    model_config = ConfigDict(extra="forbid")

    cell_id: str
    members: list[CellMember]
    summary: dict[str, Any] = Field(default_factory=dict)
