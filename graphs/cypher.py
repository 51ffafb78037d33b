"""Cypher of the Neo4j store: constants with ``$params``, and statements built from the schema.

Labels, relationship types and property names appear in Cypher text only here, and only names
from the schema's closed set (``SCHEMA.entities``, ``SCHEMA.relationships`` and their properties)
or this module's own bookkeeping labels; every value travels as a parameter. Read statements are
built at import into lookup tables; the merge statements are built (and cached) per shape of row
after checking every name against the schema, so a name that is not in the schema raises
:class:`~ringmap.errors.SchemaError` before any Cypher text exists.

Graph layout (what analysts see in Neo4j Browser or Bloom):

- an evidence node has its schema type as its only label, an ``id`` property (the ringmap node
  id) and its properties (the values shown: :mod:`ringmap.graphs.statements`); ``_sr`` holds
  its sightings, each packed as ``file_seq << 32 | row``, and ``_st`` every load's statement of
  it, one text per load: its ``file_seq``, a space and the JSON of the properties it gave;
- an evidence relationship has its schema type, its properties, ``_sr`` and ``_st``;
- ``(:IngestFile {fid, seq, sha256, mapping_digest, record, complete, last_row})`` is the file
  ledger (a retracted load keeps its node, ``retracted: true``, under a ``fid`` of its own, so
  that the file can be loaded again); ``(:RowRefs {file_seq, first_row, last_row, rows,
  refs})`` the exhibit/report references of the rows of one committed batch;
  ``(:IngestRun {run_id, started, record})`` an ingest run;
- ``(:AnalysisRun {run_id, kind, seq, record})``, ``(:Cell {run_id, cell_id, size,
  summary_json, record})`` and ``(member)-[:MEMBER_OF {run_id, confidence}]->(:Cell)`` are
  analysts' assessments, kept apart from the evidence; ``(:CellRunWriting {run_id, token,
  started, beat})`` marks a cell run whose cells are being written (its run node not yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Literal

from ringmap.errors import SchemaError
from ringmap.graphs.codec import datetime_props
from ringmap.graphs.schema import SCHEMA
from ringmap.privacy import CONTACTABLE

__all__ = [
    "ANALYSIS_RUNS",
    "AWAIT_INDEXES",
    "BEAT_CELL_RUN",
    "BEGIN_CELL_RUN",
    "CELLS",
    "CELLS_BY_ID",
    "COUNT_NODES",
    "COUNT_RELS",
    "CREATE_CELLS",
    "DELETE_EDGES",
    "DELETE_NODES",
    "DELETE_ROW_REFS",
    "DELETE_SAME_AS",
    "DELETE_UNFINISHED_CELLS",
    "DOOM_STALE_CELL_RUNS",
    "EDGES",
    "EDGE_FILES",
    "EDGE_SIGHTINGS",
    "END_CELL_RUN",
    "EVIDENCE_LABELS",
    "FILE_BEGIN",
    "FILE_BY_KEY",
    "FILE_COMPLETE",
    "FILE_GRADINGS",
    "FILE_LOADS",
    "FILE_RECORDS",
    "FINISH_CELL_RUN",
    "GET_NODE",
    "GET_NODES",
    "INGEST_RUNS",
    "LEDGER_STEP",
    "MEMBER_OF",
    "MULTI_STATED_EDGES",
    "MULTI_STATED_NODES",
    "NEIGHBOURS",
    "NODES",
    "PACKED_EDGES",
    "PACKED_NODES",
    "PROVENANCE_EDGE",
    "PROVENANCE_EDGES",
    "PROVENANCE_EDGES_FIRST",
    "PROVENANCE_NODE",
    "PROVENANCE_NODES",
    "PROVENANCE_NODES_FIRST",
    "RECORD_RUN",
    "RELATIONSHIP_TYPES",
    "RESTATE_EDGES",
    "RESTATE_NODES",
    "RETRACT_EDGES",
    "RETRACT_FILES",
    "RETRACT_NODES",
    "ROW_REFS",
    "SAVE_ROW_REFS",
    "SCHEMA_STATEMENTS",
    "SERVER_VERSION",
    "SHOW_CONSTRAINTS",
    "SHOW_INDEXES",
    "SIGHTINGS",
    "STATED_EDGES",
    "STATED_NODES",
    "STATEMENTS",
    "VICTIM_SIDE",
    "WIPE",
    "WRITE_SAME_AS",
    "Shape",
    "ValueKind",
    "merge_edges",
    "merge_nodes",
    "sight_edges",
    "sight_nodes",
]

SIGHTINGS = "_sr"  #: property holding the packed sightings of a node or relationship
STATEMENTS = "_st"  #: property holding every load's statement of a node or relationship

EVIDENCE_LABELS: tuple[str, ...] = tuple(sorted(SCHEMA.entities))
RELATIONSHIP_TYPES: tuple[str, ...] = tuple(sorted(SCHEMA.relationships))

# the evidence properties of a node or relationship, without its id and sightings
_PROPS = (f"[k IN keys({{v}}) WHERE k <> 'id' AND k <> '{SIGHTINGS}' AND k <> '{STATEMENTS}' "
          "| [k, {v}[k]]]")
_NODE_PROPS = _PROPS.format(v="n")
_OTHER_PROPS = _PROPS.format(v="o")
_EDGE_PROPS = _PROPS.format(v="e")

#: labels of the store's own bookkeeping nodes and their constraints / indexes
_INTERNAL_SCHEMA = [
    "CREATE CONSTRAINT ringmap_ingestfile_fid IF NOT EXISTS "
    "FOR (n:IngestFile) REQUIRE n.fid IS UNIQUE",
    "CREATE CONSTRAINT ringmap_ingestfile_seq IF NOT EXISTS "
    "FOR (n:IngestFile) REQUIRE n.seq IS UNIQUE",
    "CREATE INDEX ringmap_rowrefs IF NOT EXISTS FOR (n:RowRefs) ON (n.file_seq, n.last_row)",
    "CREATE CONSTRAINT ringmap_ingestrun_id IF NOT EXISTS "
    "FOR (n:IngestRun) REQUIRE n.run_id IS UNIQUE",
    "CREATE CONSTRAINT ringmap_analysisrun_id IF NOT EXISTS "
    "FOR (n:AnalysisRun) REQUIRE n.run_id IS UNIQUE",
    "CREATE CONSTRAINT ringmap_cellrunwriting_id IF NOT EXISTS "
    "FOR (n:CellRunWriting) REQUIRE n.run_id IS UNIQUE",
    "CREATE CONSTRAINT ringmap_cell_key IF NOT EXISTS "
    "FOR (n:Cell) REQUIRE (n.run_id, n.cell_id) IS UNIQUE",
    "CREATE CONSTRAINT ringmap_counter_key IF NOT EXISTS "
    "FOR (n:RingmapCounter) REQUIRE n.name IS UNIQUE",
]


def _schema_statements() -> dict[str, str]:
    statements: dict[str, str] = {}
    for label, entity in sorted(SCHEMA.entities.items()):
        name = f"ringmap_{label.lower()}_id"
        statements[name] = (f"CREATE CONSTRAINT {name} IF NOT EXISTS "
                            f"FOR (n:`{label}`) REQUIRE n.id IS UNIQUE")
        for key in entity.keys:
            name = f"ringmap_{label.lower()}_{key}"
            statements[name] = f"CREATE INDEX {name} IF NOT EXISTS FOR (n:`{label}`) ON (n.`{key}`)"
    for statement in _INTERNAL_SCHEMA:
        statements[statement.split()[2]] = statement
    return statements


#: name of each constraint / index -> its idempotent ``CREATE ... IF NOT EXISTS``
SCHEMA_STATEMENTS: dict[str, str] = _schema_statements()

SHOW_CONSTRAINTS = "SHOW CONSTRAINTS YIELD name RETURN name"
SHOW_INDEXES = "SHOW INDEXES YIELD name RETURN name"
AWAIT_INDEXES = "CALL db.awaitIndexes(300)"
SERVER_VERSION = "CALL dbms.components() YIELD name, versions RETURN name, versions"

#: how a property value travels: as is, or as ISO text made a datetime / local datetime by the
#: server (the driver's own datetime packing costs more than the whole row otherwise)
ValueKind = Literal["v", "dt", "ldt"]
Shape = tuple[tuple[str, ValueKind], ...]

_VALUE = {"v": "r.p.`{p}`", "dt": "datetime(r.p.`{p}`)", "ldt": "localdatetime(r.p.`{p}`)"}


#: properties of relationships that record when something was seen: repeated sightings widen
#: them (the earliest ``first_seen``, the latest ``last_seen``, the largest ``count``), as
#: :func:`ringmap.graphs.codec.merge_props` does; other properties are overwritten
_WIDEN = {"first_seen": "<", "last_seen": ">", "count": ">"}
_TEMPORAL = frozenset(name for name, rel in SCHEMA.relationships.items()
                      if "first_seen" in rel.properties)


def _assign(var: str, prop: str, kind: ValueKind, widen: bool) -> str:
    value = _VALUE[kind].format(p=prop)
    old = f"{var}.`{prop}`"
    if widen and prop in _WIDEN:
        # a value that does not compare with the old one (null, other type) replaces it
        return (f"{old} = CASE WHEN coalesce({value} {_WIDEN[prop]} {old}, true) "
                f"THEN {value} ELSE {old} END")
    return f"{old} = {value}"


def _set(var: str, type_name: str, known: Iterable[str], shape: Shape, extra: bool) -> str:
    """``SET`` of each schema property the rows give (named, which keeps the planner from
    adding Eager barriers), of other properties from the map ``r.x`` when ``extra``, of the
    sightings and of the statements (``r.st``, all of them, worked out by the caller)."""
    unknown = sorted({p for p, _ in shape} - set(known))
    if unknown:
        raise SchemaError(f"{type_name} has no property {unknown[0]!r}")
    widen = type_name in _TEMPORAL
    sets = [_assign(var, p, kind, widen) for p, kind in shape]
    if extra:
        sets.append(f"{var} += r.x")
    sets.append(f"{var}.{SIGHTINGS} = coalesce({var}.{SIGHTINGS}, []) + r.sr")
    sets.append(f"{var}.{STATEMENTS} = r.st")
    return "SET " + ", ".join(sets)


@cache
def merge_nodes(label: str, shape: Shape, extra: bool, create: bool = False) -> str:
    """Merge nodes of ``label`` by id (with ``create``: create nodes known to be new, with no
    lookup of an existing one), setting the schema properties of ``shape`` (and the others in
    ``r.x`` when ``extra``), appending sightings; :class:`SchemaError` for a label or a named
    property not in the schema."""
    entity = SCHEMA.entity(label)
    return (f"UNWIND $rows AS r {'CREATE' if create else 'MERGE'} (n:`{entity.name}` "
            f"{{id: r.id}}) " + _set("n", label, entity.properties, shape, extra))


@cache
def merge_edges(type_name: str, source: str, target: str, shape: Shape, extra: bool,
                create: bool = False) -> str:
    """Merge relationships by their ends' ids (with ``create``: create them, known to be
    new), setting the properties as :func:`merge_nodes` does, returning how many merged;
    :class:`SchemaError` for a type, end or named property not in the schema."""
    rel = SCHEMA.relationship(type_name)
    if not rel.allows(source, target):
        raise SchemaError(f"{type_name} may not go from {source} to {target}")
    return (f"UNWIND $rows AS r MATCH (s:`{source}` {{id: r.src}}) "
            f"MATCH (d:`{target}` {{id: r.dst}}) {'CREATE' if create else 'MERGE'} "
            f"(s)-[e:`{rel.name}`]->(d) "
            + _set("e", type_name, rel.properties, shape, extra) + " RETURN count(e) AS merged")


def _sighted(var: str, restate: bool) -> str:
    """``SET`` of an existing item whose values shown stay as they are: its new sightings,
    and its statements when this load's statement of it changed."""
    sets = f"{var}.{SIGHTINGS} = coalesce({var}.{SIGHTINGS}, []) + r.sr"
    return "SET " + sets + (f", {var}.{STATEMENTS} = r.st" if restate else "")


@cache
def sight_nodes(label: str, restate: bool) -> str:
    """Add sightings (and, with ``restate``, the statements) to existing nodes of ``label``
    whose values shown stay as they are."""
    entity = SCHEMA.entity(label)
    return (f"UNWIND $rows AS r MATCH (n:`{entity.name}` {{id: r.id}}) "
            + _sighted("n", restate))


@cache
def sight_edges(type_name: str, source: str, target: str, restate: bool) -> str:
    """:func:`sight_nodes` for existing relationships, returning how many matched."""
    rel = SCHEMA.relationship(type_name)
    if not rel.allows(source, target):
        raise SchemaError(f"{type_name} may not go from {source} to {target}")
    # MERGE on the two ends, as merge_edges: it finds the relationship from the end with
    # fewer of them (Expand(Into)); a MATCH of the pattern lets the planner expand every
    # relationship of one end, which costs a hub its degree per row
    return (f"UNWIND $rows AS r MATCH (s:`{source}` {{id: r.src}}) "
            f"MATCH (d:`{target}` {{id: r.dst}}) MERGE (s)-[e:`{rel.name}`]->(d) "
            + _sighted("e", restate) + " RETURN count(e) AS merged")


#: per label: the node with this id
GET_NODE: dict[str, str] = {
    label: f"MATCH (n:`{label}` {{id: $id}}) RETURN n.id AS id, {_NODE_PROPS} AS props"
    for label in EVIDENCE_LABELS
}

#: per label: the nodes with the ids ``$ids``
GET_NODES: dict[str, str] = {
    label: (f"UNWIND $ids AS i MATCH (n:`{label}` {{id: i}}) "
            f"RETURN n.id AS id, {_NODE_PROPS} AS props")
    for label in EVIDENCE_LABELS
}

#: per label: every node of it
NODES: dict[str, str] = {
    label: f"MATCH (n:`{label}`) RETURN n.id AS id, {_NODE_PROPS} AS props"
    for label in EVIDENCE_LABELS
}

#: per type: every relationship of it with the ids of its ends
EDGES: dict[str, str] = {
    rel: f"MATCH (s)-[e:`{rel}`]->(d) RETURN s.id AS src, d.id AS dst, {_EDGE_PROPS} AS props"
    for rel in RELATIONSHIP_TYPES
}

# The packed read (Store.packed): the database's own ids (``id()``, deprecated in Cypher 25
# but Cypher 5's: an ``elementId`` is a text of some 40 bytes, an ``id`` a small integer), the
# schema's datetimes as ISO text (the driver makes a Python object of each temporal value
# through some twenty calls: four fifths of the read's CPU at 600 cells), and the rows
# collected into pages by database id (a record per row cost the driver some 15 us each)
_PAGE = 20_000  #: rows per page of the packed read (grouped by database id, so at most)


def _packed_props(v: str, type_name: str) -> str:
    """:data:`_PROPS` of ``v``, a ``type_name``, its datetimes as text."""
    times = ", ".join(f"'{name}'" for name in sorted(datetime_props(type_name)))
    value = (f"CASE WHEN k IN [{times}] THEN toString({v}[k]) ELSE {v}[k] END" if times
             else f"{v}[k]")
    return (f"[k IN keys({v}) WHERE k <> 'id' AND k <> '{SIGHTINGS}' AND k <> '{STATEMENTS}' "
            f"| [k, {value}]]")


def _pages(pattern: str, v: str, type_name: str, columns: list[str]) -> str:
    """The items ``v`` (of ``type_name``) that ``pattern`` matches, in pages by the first of
    ``columns`` (``expression AS name``): each column's list and the properties' list."""
    names = [column.rpartition(" AS ")[2] for column in columns] + ["prop"]
    return (f"MATCH {pattern} WITH {', '.join(columns)}, {_packed_props(v, type_name)} AS prop "
            f"WITH {names[0]} / {_PAGE} AS page, "
            + ", ".join(f"collect({name}) AS {name}s" for name in names)
            + " RETURN " + ", ".join(f"{name}s" for name in names))


#: per label: every node of it, pages of its database ids, ids and properties
PACKED_NODES: dict[str, str] = {
    label: _pages(f"(n:`{label}`)", "n", label, ["id(n) AS nid", "n.id AS id"])
    for label in EVIDENCE_LABELS
}

#: per type: every relationship of it, pages of its database ids, those of its ends and its
#: properties
PACKED_EDGES: dict[str, str] = {
    rel: _pages(f"(s)-[e:`{rel}`]->(d)", "e", rel,
                ["id(e) AS eid", "id(s) AS src", "id(d) AS dst"])
    for rel in RELATIONSHIP_TYPES
}

#: the relationships of the types ``$types`` with database ids ``$first`` to ``$last`` by
#: the files that saw them: each distinct list of file numbers (in the order their rows were
#: first seen) with the database ids of its relationships; a few records where one per
#: relationship cost the driver some 15 us each. The ids are sought one by one, a range at a
#: time, so that the server groups one range at once, not the whole case (issue 14)
EDGE_FILES = f"""
MATCH ()-[e]->() WHERE id(e) IN range($first, $last) AND type(e) IN $types
WITH id(e) AS eid, reduce(seqs = [], seen IN coalesce(e.{SIGHTINGS}, []) |
  CASE WHEN seen / 4294967296 IN seqs THEN seqs ELSE seqs + [seen / 4294967296] END) AS files
RETURN files, collect(eid) AS eids
"""

#: per label: relationships touching the node either way, with the node at the other end
NEIGHBOURS: dict[str, str] = {
    label: (
        f"MATCH (n:`{label}` {{id: $id}}) CALL (n) {{ "
        f"MATCH (n)-[e]->(o) WHERE type(e) IN $types RETURN e, o "
        f"UNION ALL "
        f"MATCH (n)<-[e]-(o) WHERE type(e) IN $types AND o <> n RETURN e, o }} "
        f"RETURN type(e) AS type, startNode(e).id AS src, endNode(e).id AS dst, "
        f"{_EDGE_PROPS} AS props, o.id AS oid, labels(o)[0] AS otype, {_OTHER_PROPS} AS oprops")
    for label in EVIDENCE_LABELS
}

#: the sightings of the item matched as ``item``, per file: the file's ledger record, the rows
#: (sightings are packed ``file_seq * 2^32 + row``) and the references of those rows' batches
_PROVENANCE = f"""
UNWIND coalesce(item.{SIGHTINGS}, []) AS packed
WITH DISTINCT packed / 4294967296 AS seq, packed % 4294967296 AS row
WITH seq, collect(row) AS rows, min(row) AS first, max(row) AS last
MATCH (f:IngestFile {{seq: seq}})
OPTIONAL MATCH (b:RowRefs {{file_seq: seq}}) WHERE b.last_row >= first AND b.first_row <= last
RETURN seq, f.record AS record, rows, collect(b.rows) AS ref_rows, collect(b.refs) AS refs
"""

#: the first ``$first`` sightings of ``item`` (by file, then row) and how many it has in all
#: (``total``), their references read apart (:data:`ROW_REFS`): an item seen in thousands of
#: rows sent every sighting and every reference block of its files, again for each item (a
#: run's explanations on a 600-cell case: 2.4 GB in Python)
_PROVENANCE_FIRST = f"""
UNWIND coalesce(item.{SIGHTINGS}, []) AS packed
WITH DISTINCT packed ORDER BY packed
WITH collect(packed) AS seen
WITH size(seen) AS total, seen[0..$first] AS firsts
UNWIND firsts AS packed
WITH total, packed / 4294967296 AS seq, packed % 4294967296 AS row
WITH total, seq, collect(row) AS rows
MATCH (f:IngestFile {{seq: seq}})
RETURN total, seq, f.record AS record, rows
"""

#: the reference blocks holding any of ``$wanted`` rows (``{seq, row}``), each block once
ROW_REFS = """
UNWIND $wanted AS w
MATCH (b:RowRefs {file_seq: w.seq}) WHERE b.last_row >= w.row AND b.first_row <= w.row
WITH DISTINCT b
RETURN b.file_seq AS seq, b.rows AS rows, b.refs AS refs
"""

#: per label: the provenance of a node
PROVENANCE_NODE: dict[str, str] = {
    label: f"MATCH (item:`{label}` {{id: $id}})" + _PROVENANCE for label in EVIDENCE_LABELS
}

#: per (type, source label, target label): the provenance of a relationship
PROVENANCE_EDGE: dict[tuple[str, str, str], str] = {
    (rel.name, src, dst): (f"MATCH (:`{src}` {{id: $src}})-[item:`{rel.name}`]->(:`{dst}` "
                           f"{{id: $dst}})" + _PROVENANCE)
    for rel in SCHEMA.relationships.values()
    for src in sorted(rel.sources) for dst in sorted(rel.targets)
}

def _per_id(tail: str, columns: str) -> dict[str, str]:
    """Per label: ``tail`` of each node ``item`` of ``$ids`` that exists, one row per item
    and file, its ``columns``."""
    return {label: (f"UNWIND $ids AS id MATCH (item:`{label}` {{id: id}}) "
                    f"CALL (item) {{ {tail} }} RETURN id AS item, {columns}")
            for label in EVIDENCE_LABELS}


_SIGHTED = "seq, record, rows, ref_rows, refs"
#: per label: the provenance of many nodes (``$ids``), one row per item and file
PROVENANCE_NODES = _per_id(_PROVENANCE, _SIGHTED)
#: per label: the first ``$first`` sightings of many nodes and their ``total``
PROVENANCE_NODES_FIRST = _per_id(_PROVENANCE_FIRST, "total, seq, record, rows")

#: per (type, source label, target label): the provenance of many relationships (``$pairs``
#: of ``{src, dst}``), one row per relationship and file
def _per_pair(tail: str) -> dict[tuple[str, str, str], str]:
    """Per (type, source label, target label): each relationship ``item`` between the ends
    ``$pairs`` (``{src, dst}``) that exists, then ``tail``."""
    return {(rel.name, src, dst): (f"UNWIND $pairs AS p MATCH (:`{src}` {{id: p.src}})-[item:"
                                   f"`{rel.name}`]->(:`{dst}` {{id: p.dst}}) " + tail)
            for rel in SCHEMA.relationships.values()
            for src in sorted(rel.sources) for dst in sorted(rel.targets)}


PROVENANCE_EDGES = _per_pair(f"CALL (item) {{ {_PROVENANCE} }} RETURN p.src AS src, "
                             f"p.dst AS dst, {_SIGHTED}")
#: per (type, source label, target label): the first ``$first`` sightings of many
#: relationships and their ``total``
PROVENANCE_EDGES_FIRST = _per_pair(f"CALL (item) {{ {_PROVENANCE_FIRST} }} RETURN p.src AS src, "
                                   "p.dst AS dst, total, seq, record, rows")

_ACTING = "EXISTS {{ ({n})-[:REGISTERED_TO|LOGGED_IN_FROM|LOGGED_IN_ON]->() }}"
_OWNED = "EXISTS {{ (:Person)-[:USES|HOLDS]->({n}) }}"
#: an account or phone of no known user, holding no identifiers of its own, that an agent's
#: account or phone contacted (the rule of :func:`ringmap.privacy.likely_victims`)
_LIKELY_VICTIM = (
    f"(NOT {_OWNED.format(n='n')} AND NOT {_ACTING.format(n='n')} AND EXISTS {{ "
    f"MATCH (n)-[:CONTACTED]-(m) WHERE "
    f"EXISTS {{ (:Person {{role: 'suspect'}})-[:USES|HOLDS]->(m) }} "
    f"OR (NOT {_OWNED.format(n='m')} AND {_ACTING.format(n='m')}) }})")
#: per label: which of the nodes ``$ids`` are on the victim side (victims, what only victims use
#: or hold, and likely victims), asked per label so that the id index is used
VICTIM_SIDE: dict[str, str] = {
    label: (f"MATCH (n:`{label}`) WHERE n.id IN $ids AND ("
            + ("n.role = 'victim' OR " if label == "Person" else "")
            + "(EXISTS { (:Person {role: 'victim'})-[:USES|HOLDS]->(n) } AND "
            "NOT EXISTS { (p)-[:USES|HOLDS]->(n) "
            "WHERE NOT (p:Person AND coalesce(p.role, '') = 'victim') })"
            + (f" OR {_LIKELY_VICTIM}" if label in CONTACTABLE else "")
            + ") RETURN n.id AS id")
    for label in EVIDENCE_LABELS
}

#: every file's number and ledger record, for the gradings of packed sightings
FILE_GRADINGS = "MATCH (f:IngestFile) RETURN f.seq AS seq, f.record AS record"
#: the ledger records of the files numbered ``$seqs``
FILE_RECORDS = ("MATCH (f:IngestFile) WHERE f.seq IN $seqs "
                "RETURN f.seq AS seq, f.record AS record")

# -- statements ------------------------------------------------------------------------------
#: per label: the statements of the nodes ``$ids`` that exist
STATED_NODES: dict[str, str] = {
    label: (f"UNWIND $ids AS id MATCH (n:`{label}` {{id: id}}) "
            f"RETURN n.id AS id, n.{STATEMENTS} AS st")
    for label in EVIDENCE_LABELS
}

#: per (type, source label, target label): the statements of the relationships ``$pairs``
STATED_EDGES = _per_pair(f"RETURN p.src AS src, p.dst AS dst, item.{STATEMENTS} AS st")

#: per label: the nodes more than one load stated, with their statements
MULTI_STATED_NODES: dict[str, str] = {
    label: (f"MATCH (n:`{label}`) WHERE size(n.{STATEMENTS}) > 1 "
            f"RETURN n.id AS id, n.{STATEMENTS} AS st")
    for label in EVIDENCE_LABELS
}

#: per type: the relationships more than one load stated, with their ends and statements
MULTI_STATED_EDGES: dict[str, str] = {
    rel: (f"MATCH (s)-[e:`{rel}`]->(d) WHERE size(e.{STATEMENTS}) > 1 "
          f"RETURN s.id AS src, d.id AS dst, e.{STATEMENTS} AS st")
    for rel in RELATIONSHIP_TYPES
}

# -- retraction ------------------------------------------------------------------------------
_STATED_BY = (f"any(s IN coalesce({{v}}.{STATEMENTS}, []) "
              "WHERE any(p IN $prefixes WHERE s STARTS WITH p))")

#: per label: the nodes the loads ``$prefixes`` (``"<file_seq> "``) stated, all their properties
RETRACT_NODES: dict[str, str] = {
    label: (f"MATCH (n:`{label}`) WHERE {_STATED_BY.format(v='n')} "
            "RETURN elementId(n) AS eid, n.id AS id, properties(n) AS props")
    for label in EVIDENCE_LABELS
}

#: per type: the relationships the loads ``$prefixes`` stated, with all their properties
RETRACT_EDGES: dict[str, str] = {
    rel: (f"MATCH ()-[e:`{rel}`]->() WHERE {_STATED_BY.format(v='e')} "
          "RETURN elementId(e) AS eid, properties(e) AS props")
    for rel in RELATIONSHIP_TYPES
}

#: replace every property of the nodes ``$rows`` (``{eid, props}``)
RESTATE_NODES = "UNWIND $rows AS r MATCH (n) WHERE elementId(n) = r.eid SET n = r.props"
#: replace every property of the relationships ``$rows`` (``{eid, props}``)
RESTATE_EDGES = "UNWIND $rows AS r MATCH ()-[e]->() WHERE elementId(e) = r.eid SET e = r.props"
#: delete the relationships ``$ids``
DELETE_EDGES = ("UNWIND $ids AS i MATCH ()-[e]->() WHERE elementId(e) = i DELETE e "
                "RETURN count(*) AS removed")
#: delete the nodes ``$ids`` that no evidence relationship joins (cell memberships go with them)
DELETE_NODES = ("UNWIND $ids AS i MATCH (n) WHERE elementId(n) = i AND NOT EXISTS { "
                "MATCH (n)-[e]-() WHERE type(e) IN $types } DETACH DELETE n "
                "RETURN count(*) AS removed")
#: the exhibit/report references of the files numbered ``$seqs``
DELETE_ROW_REFS = "MATCH (b:RowRefs) WHERE b.file_seq IN $seqs DELETE b"
#: mark loads retracted under a ledger key of their own (``$rows``: ``{seq, fid, record}``)
RETRACT_FILES = """
UNWIND $rows AS r MATCH (f:IngestFile {seq: r.seq})
SET f.fid = r.fid, f.record = r.record, f.retracted = true
"""

#: per relationship type: each relationship's ends and packed sightings
EDGE_SIGHTINGS: dict[str, str] = {
    rel: f"MATCH (s)-[r:`{rel}`]->(d) RETURN s.id AS src, d.id AS dst, r.{SIGHTINGS} AS sr"
    for rel in SCHEMA.relationships
}

_SAME_AS = SCHEMA.relationship("SAME_AS")
_SAME_AS_ENDS = [(src, dst) for src in sorted(_SAME_AS.sources) for dst in sorted(_SAME_AS.targets)
                 if src == dst]

#: per (source label, target label): add one same-as link (its decision time as ISO text)
WRITE_SAME_AS: dict[tuple[str, str], str] = {
    (src, dst): (f"MATCH (s:`{src}` {{id: $src}}) MATCH (d:`{dst}` {{id: $dst}}) "
                 f"CREATE (s)-[e:`{_SAME_AS.name}` $props]->(d) "
                 f"SET e.decided_at = datetime(e.decided_at)")
    for src, dst in _SAME_AS_ENDS
}

#: per (source label, target label): remove one same-as link
DELETE_SAME_AS: dict[tuple[str, str], str] = {
    (src, dst): (f"MATCH (:`{src}` {{id: $src}})-[e:`{_SAME_AS.name}`]->(:`{dst}` {{id: $dst}}) "
                 f"DELETE e")
    for src, dst in _SAME_AS_ENDS
}

#: per label: ``MEMBER_OF`` from the members that exist to their cells
MEMBER_OF: dict[str, str] = {
    label: (f"UNWIND $rows AS r MATCH (m:`{label}` {{id: r.node_id}}) "
            f"MATCH (c:Cell {{run_id: $run_id, cell_id: r.cell_id}}) "
            f"CREATE (m)-[:MEMBER_OF {{run_id: $run_id, confidence: r.confidence}}]->(c)")
    for label in EVIDENCE_LABELS
}

#: per label: how many nodes
COUNT_NODES: dict[str, str] = {
    label: f"MATCH (n:`{label}`) RETURN count(n) AS n" for label in EVIDENCE_LABELS}
#: per type: how many relationships
COUNT_RELS: dict[str, str] = {
    rel: f"MATCH ()-[e:`{rel}`]->() RETURN count(e) AS n" for rel in RELATIONSHIP_TYPES}

# -- ledger ----------------------------------------------------------------------------------
_LEDGER = ("RETURN f.record AS record, f.complete AS complete, f.last_row AS last_row, "
           "f.seq AS seq")
FILE_BY_KEY = f"MATCH (f:IngestFile {{fid: $fid}}) {_LEDGER}"
FILE_LOADS = f"MATCH (f:IngestFile) {_LEDGER} ORDER BY f.seq"

#: create or reopen a file's ledger record; a new one takes the next file number
FILE_BEGIN = """
MERGE (c:RingmapCounter {name: 'file'})
WITH c
OPTIONAL MATCH (old:IngestFile {fid: $fid})
WITH c, old, CASE WHEN old IS NULL THEN coalesce(c.value, 0) + 1 ELSE c.value END AS next
SET c.value = next
MERGE (f:IngestFile {fid: $fid})
ON CREATE SET f.seq = next, f.last_row = 0
SET f.sha256 = $sha256, f.mapping_digest = $mapping_digest, f.complete = false,
    f.record = $record
RETURN f.seq AS seq, f.last_row AS last_row
"""

#: first statement of a batch transaction: lock the ledger record, read how far it got, and
#: move it forward; a batch at or before ``last_row`` was committed already and is skipped
LEDGER_STEP = """
MATCH (f:IngestFile {fid: $fid})
WITH f, f.last_row AS previous
SET f.last_row = CASE WHEN previous < $last_row THEN $last_row ELSE previous END,
    f.record = CASE WHEN previous < $last_row THEN $record ELSE f.record END
RETURN previous
"""

FILE_COMPLETE = """
MATCH (f:IngestFile {fid: $fid})
SET f.complete = true, f.record = $record
"""

SAVE_ROW_REFS = """
MERGE (b:RowRefs {file_seq: $file_seq, last_row: $last_row})
SET b.first_row = $first_row, b.rows = $rows, b.refs = $refs
"""

RECORD_RUN = """
MERGE (r:IngestRun {run_id: $run_id})
SET r.started = $started, r.record = $record
"""

INGEST_RUNS = "MATCH (r:IngestRun) RETURN r.record AS record"

# -- assessments -----------------------------------------------------------------------------
# a cell run's write-back (:mod:`ringmap.graphs.neo4j_cells`): a marker while its cells are
# written in parts, the run node in its place at the end; a dead writer's cells removed
#: the marker of a new write-back, unless the run exists (a second writer of the same run id
#: meets the marker's constraint)
BEGIN_CELL_RUN = """
OPTIONAL MATCH (a:AnalysisRun {run_id: $run_id})
WITH a WHERE a IS NULL
CREATE (w:CellRunWriting {run_id: $run_id, token: $token, started: datetime(),
                          beat: datetime()})
RETURN w.run_id AS run_id
"""

#: first statement of a part's transaction: the writer is alive (no row: it was doomed)
BEAT_CELL_RUN = """
MATCH (w:CellRunWriting {run_id: $run_id, token: $token})
WHERE w.doomed IS NULL
SET w.beat = datetime()
RETURN w.run_id AS run_id
"""

#: the run node in place of its marker (no row: the writer was doomed)
FINISH_CELL_RUN = """
MATCH (w:CellRunWriting {run_id: $run_id, token: $token})
WHERE w.doomed IS NULL
DELETE w
MERGE (c:RingmapCounter {name: 'analysis'})
SET c.value = coalesce(c.value, 0) + 1
CREATE (a:AnalysisRun {run_id: $run_id, kind: $kind, seq: c.value, record: $record})
RETURN a.run_id AS run_id
"""

#: the markers of dead writers (no beat for ``$stale`` seconds, or doomed before), doomed
DOOM_STALE_CELL_RUNS = """
MATCH (w:CellRunWriting)
WHERE w.doomed OR w.beat < datetime() - duration({seconds: $stale})
SET w.doomed = true
RETURN w.run_id AS run_id, w.token AS token
"""

#: the cells of a run without its run node and their ``MEMBER_OF``, a few hundred a
#: transaction (an auto-commit statement)
DELETE_UNFINISHED_CELLS = """
MATCH (c:Cell {run_id: $run_id})
WHERE NOT EXISTS { MATCH (:AnalysisRun {run_id: $run_id}) }
CALL (c) { DETACH DELETE c } IN TRANSACTIONS OF 200 ROWS
"""

END_CELL_RUN = "MATCH (w:CellRunWriting {run_id: $run_id, token: $token}) DELETE w"

CREATE_CELLS = """
UNWIND $rows AS r
CREATE (c:Cell {run_id: $run_id, cell_id: r.cell_id, size: r.size,
                summary_json: r.summary_json, record: r.record})
"""

ANALYSIS_RUNS = "MATCH (a:AnalysisRun {kind: $kind}) RETURN a.record AS record ORDER BY a.seq"

#: the cells of a run (none before its run node is written: its cells come first)
CELLS = """
MATCH (:AnalysisRun {run_id: $run_id})
MATCH (c:Cell {run_id: $run_id})
RETURN c.cell_id AS cell_id, c.record AS record
"""
#: the cells of a run among a list of ids, each found by the (run_id, cell_id) constraint
CELLS_BY_ID = """
MATCH (:AnalysisRun {run_id: $run_id})
UNWIND $cell_ids AS id
MATCH (c:Cell {run_id: $run_id, cell_id: id})
RETURN c.cell_id AS cell_id, c.record AS record
"""

#: empty the database in chunks (tests and ``ringmap`` maintenance only)
WIPE = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
