"""Mapping files: how the rows of one evidence table become entities and relationships.

A mapping is data (YAML, see ``docs/mappings.md``), validated strictly by pydantic models with
``extra="forbid"`` and then checked against the schema; :func:`load_mapping` reports every
problem at once, each with its path in the file, as one :class:`~ringmap.errors.MappingError`.

Examples
--------
>>> m = parse_mapping({
...     "entities": {"phone": {"type": "Phone", "properties": {"number": {"column": "msisdn"}}}},
... }, origin="demo")
>>> m.columns()
['msisdn']
>>> parse_mapping({"entities": {"p": {"type": "Phone", "properties": {}}}}, origin="demo")
Traceback (most recent call last):
...
ringmap.errors.MappingError: 1 problem(s) in mapping: demo: entities.p.properties: key property \
'number' of Phone is not mapped
"""

from __future__ import annotations

import codecs
import copy
import hashlib
import json
import re
import string
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import phonenumbers
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ringmap.errors import MappingError
from ringmap.fileio import excerpt
from ringmap.graphs.identify import KIND_TYPES, Kind
from ringmap.graphs.model import Grading
from ringmap.graphs.schema import SCHEMA

__all__ = [
    "AUTO",
    "CARD_FIELDS",
    "CARD_NUMBER",
    "ColumnSpec",
    "Condition",
    "EntitySpec",
    "Mapping",
    "ReadLimits",
    "RelationshipSpec",
    "SourceSpec",
    "ValueSpec",
    "format_validation_error",
    "load_mapping",
    "load_yaml",
    "parse_grading",
    "parse_mapping",
    "phone_region",
    "shown_columns",
    "template_fields",
]

#: The virtual property of PaymentCard: the card number, hashed and never stored.
CARD_NUMBER = "number"
#: PaymentCard properties derived from :data:`CARD_NUMBER`.
CARD_FIELDS = ("card_hash", "bin", "last4", "masked", "brand", "match_tokens")

#: The entity type of an identifier typed by shape, per row (:mod:`ringmap.graphs.identify`).
AUTO = "auto"

SourceFormat = Literal["csv", "xlsx", "jsonl", "xml", "json"]
#: formats read as documents of records through paths (:mod:`ringmap.ingest.nested`)
NESTED_FORMATS = ("xml", "json")


def template_fields(template: str) -> list[str]:
    """The column names a template refers to, in order; ``ValueError`` if it is malformed.

    >>> template_fields("{first_name} {last_name}")
    ['first_name', 'last_name']
    """
    fields = []
    for _literal, field, _spec, _conv in string.Formatter().parse(template):
        if field is None:
            continue
        if not field.strip():
            raise ValueError("template has an empty {} placeholder")
        fields.append(field)
    return fields


def parse_grading(value: Any) -> Any:
    """A grading given as text (``B2``, ``uk_3x5x2:1A``) parsed; other values unchanged."""
    if isinstance(value, str):
        return Grading.parse(value)
    return value


def phone_region(value: str | None) -> str | None:
    """A phone region code upper-cased; ``ValueError`` if phonenumbers does not know it."""
    if value is None:
        return None
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {value!r} (use an ISO code such as PH)")
    return region


def _regex(value: str | None) -> str | None:
    """A regular expression as given; ``ValueError`` naming the fault if it does not compile."""
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Text = str | int | float | bool


class Condition(_Strict):
    """When an entity or relationship applies to a row: one test of a column, or a
    combination (``all``, ``any``, ``not``) of conditions."""

    column: str | None = None
    equals: Text | None = Field(default=None, description="case and spacing ignored")
    in_: list[Text] | None = Field(default=None, alias="in", description="one of these")
    matches: str | None = Field(default=None, description="regular expression, re.search")
    blank: bool | None = Field(default=None, description="true: is blank; false: is not")
    all_: list[Condition] | None = Field(default=None, alias="all")
    any_: list[Condition] | None = Field(default=None, alias="any")
    not_: Condition | None = Field(default=None, alias="not")

    _matches = field_validator("matches")(_regex)

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [v for v in (self.equals, self.in_, self.matches, self.blank) if v is not None]
        combined = [v for v in (self.all_, self.any_, self.not_) if v is not None]
        if self.column is not None:
            if len(tests) != 1 or combined:
                raise ValueError("a column condition needs exactly one of equals, in, matches "
                                 "or blank")
        elif tests or len(combined) != 1:
            raise ValueError("give a column with one test, or exactly one of all, any or not")
        return self


class ValueSpec(_Strict):
    """Where a value comes from (a column, a literal or a template over columns) and how it
    is cut out of the cell."""

    column: str | None = Field(default=None, description="column name; dotted path for JSON")
    literal: str | int | float | bool | None = None
    template: str | None = Field(default=None, description='e.g. "{first_name} {last_name}"')
    format: str | None = Field(default=None, description="strptime format for datetimes")
    default: str | None = Field(default=None, description="used when the value is blank")
    split: str | None = Field(default=None, min_length=1,
                              description="separator of several values in one cell")
    extract: str | None = Field(default=None, description="regex; its first group is the value")
    strip_prefix: str | list[str] | None = Field(default=None, description="case ignored")
    case: Literal["upper", "lower"] | None = None
    region: ValueSpec | None = Field(default=None,
                                     description="phone numbers: the row's country or region")

    _extract = field_validator("extract")(_regex)

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ValueSpec:
        given = [n for n in ("column", "literal", "template") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of column, literal or template, got "
                             + (" and ".join(given) if given else "none"))
        if self.template is not None and not template_fields(self.template):
            raise ValueError("template refers to no column; use literal for fixed text")
        if self.column is not None and not self.column.strip():
            raise ValueError("column name is empty")
        if self.region is not None and (self.region.split or self.region.region):
            raise ValueError("a region is one value: no split or region of its own")
        return self

    def columns(self) -> list[str]:
        """The columns this value reads (its region's included)."""
        own = ([self.column] if self.column is not None
               else template_fields(self.template) if self.template is not None else [])
        return own + (self.region.columns() if self.region is not None else [])

    def prefixes(self) -> tuple[str, ...]:
        """The prefixes to strip, lower-cased."""
        found = self.strip_prefix
        return tuple(p.lower() for p in ([found] if isinstance(found, str) else found or []))


class ColumnSpec(_Strict):
    """Settings of one column of the table, wherever it is read."""

    null_values: list[str] = Field(default_factory=list,
                                   description="cells that mean no value (case ignored)")


class ReadLimits(_Strict):
    """How much of a hostile file a reader takes before it stops: a breach in one row
    quarantines that row, a breach of the file's shape is an error."""

    field_chars: int = Field(default=32_767, ge=1, description="characters in one value")
    record_chars: int = Field(default=1 << 20, ge=1, description="characters in one record")
    record_lines: int = Field(default=100, ge=1, description="lines one CSV record may span")
    json_depth: int = Field(default=32, ge=1,
                            description="nesting of one JSON line, or of an XML/JSON document")
    columns: int = Field(default=1000, ge=1, description="columns in the header")
    xlsx_part_bytes: int = Field(default=256 << 20, ge=1,
                                 description="unpacked bytes of one part of a workbook")
    document_bytes: int = Field(default=256 << 20, ge=1,
                                description="characters of a JSON document (read whole)")


class SourceSpec(_Strict):
    """How to read the evidence file and what to record about it."""

    format: SourceFormat | None = Field(default=None, description="default: file extension")
    encoding: str = "utf-8"
    delimiter: str | None = Field(default=None, description="csv only; default , (tab for .tsv)")
    sheet: str | None = Field(default=None, description="xlsx only; default the first sheet")
    header_row: int = Field(default=1, ge=1)
    default_region: str | None = Field(default=None, description="for national phone numbers")
    grading: Grading = Field(default_factory=Grading)
    reference: ValueSpec | None = Field(default=None, description="per-row exhibit reference")
    records: str | None = Field(default=None,
                                description="xml/json: path of the records (reports) read")
    limits: ReadLimits = Field(default_factory=ReadLimits)

    @model_validator(mode="after")
    def _records_of_documents(self) -> SourceSpec:
        nested = self.format in NESTED_FORMATS
        if nested and self.records is None:
            raise ValueError(f"format {self.format} needs records: the path of the report "
                             "elements")
        if not nested and self.records is not None:
            raise ValueError("records applies to format xml or json only")
        return self

    @field_validator("grading", mode="before")
    @classmethod
    def _grading_text(cls, value: Any) -> Any:
        return parse_grading(value)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            info = codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        if not info._is_text_encoding:  # base64, zlib, rot13: bytes to bytes, not text
            raise ValueError(f"{value!r} is not a text encoding")
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError("delimiter must be a single character")
        return value

    _region = field_validator("default_region")(phone_region)


class EntitySpec(_Strict):
    """One entity a row yields."""

    type: str = Field(description="an entity type of the schema, or auto: typed by shape")
    optional: bool = Field(default=False, description="skip the entity when it cannot be built")
    when: Condition | None = Field(default=None, description="rows the entity applies to")
    properties: dict[str, ValueSpec] = Field(default_factory=dict)
    value: ValueSpec | None = Field(default=None, description="type auto: the identifier")
    kinds: list[Kind] | None = Field(default=None, description="type auto: kinds accepted")

    def types(self) -> frozenset[str]:
        """The entity types this entity may be (several for ``type: auto``)."""
        if self.type != AUTO:
            return frozenset({self.type})
        return frozenset(t for k in self.kinds or KIND_TYPES if (t := KIND_TYPES[k]))


class RelationshipSpec(_Strict):
    """One relationship a row yields, between two entities of the mapping."""

    type: str
    source: str
    target: str
    when: Condition | None = Field(default=None, description="rows the relationship applies to")
    properties: dict[str, ValueSpec] = Field(default_factory=dict)


#: The v2 settings and their defaults, left out of the digest when at them.
_V2_DEFAULTS: dict[str, Any] = {
    "when": None, "split": None, "extract": None, "strip_prefix": None, "case": None,
    "region": None, "value": None, "kinds": None, "null_values": [], "columns": {},
    "on_error": "skip", "records": None, "document_bytes": 256 << 20}


def _without_defaults(data: Any) -> Any:
    """``data`` with every v2 setting at its default left out."""
    if isinstance(data, dict):
        return {k: _without_defaults(v) for k, v in data.items()
                if k not in _V2_DEFAULTS or v != _V2_DEFAULTS[k]}
    if isinstance(data, list):
        return [_without_defaults(v) for v in data]
    return data


class Mapping(_Strict):
    """A validated mapping; build it with :func:`load_mapping` or :func:`parse_mapping`."""

    name: str = ""
    source: SourceSpec = Field(default_factory=SourceSpec)
    null_values: list[str] = Field(default_factory=list,
                                   description="cells that mean no value in every column")
    columns_: dict[str, ColumnSpec] = Field(default_factory=dict, alias="columns")
    on_error: Literal["skip", "reject"] = Field(
        default="skip", description="an optional entity that cannot be built: skip it, or "
                                    "reject the row")
    entities: dict[str, EntitySpec]
    relationships: list[RelationshipSpec] = Field(default_factory=list)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of everything that shapes the graph (not ``name``).

        Together with the file's SHA-256 it identifies a load, so re-ingest is a no-op.
        Settings of mapping language v2 left at their defaults do not count, so digests from
        before they existed hold.
        """
        dumped = _without_defaults(self.model_dump(mode="json", exclude={"name"}, by_alias=True))
        if self.source.limits == ReadLimits():  # digests from before limits existed hold
            del dumped["source"]["limits"]
        canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def value_specs(self) -> Iterator[tuple[str, ValueSpec]]:
        """Every value spec with its path in the mapping."""
        if self.source.reference is not None:
            yield "source.reference", self.source.reference
        for name, entity in self.entities.items():
            if entity.value is not None:
                yield f"entities.{name}.value", entity.value
            for prop, spec in entity.properties.items():
                yield f"entities.{name}.properties.{prop}", spec
        for i, rel in enumerate(self.relationships):
            for prop, spec in rel.properties.items():
                yield f"relationships[{i}].properties.{prop}", spec

    def columns(self) -> list[str]:
        """Every column the mapping reads (values and conditions), in first-use order."""
        data = self.model_dump(mode="json", by_alias=True, exclude={"columns_"})
        return list(dict.fromkeys(column for _path, column in column_refs(data)))

    def card_columns(self) -> frozenset[str]:
        """Columns that may hold card numbers (a card's number, an identifier typed by
        shape): masked wherever row values are shown."""
        return frozenset(
            column
            for entity in self.entities.values()
            for prop, spec in ([("value", entity.value)] if entity.value is not None
                               else entity.properties.items())
            if entity.type == AUTO or (entity.type == "PaymentCard" and prop == CARD_NUMBER)
            for column in spec.columns()
        )

    def null_cells(self, column: str) -> frozenset[str]:
        """The cells of ``column`` that mean no value, case-folded."""
        extra = self.columns_.get(column)
        values = [*self.null_values, *(extra.null_values if extra is not None else [])]
        return frozenset(v.strip().casefold() for v in values)

    def with_default_region(self, region: str | None) -> Mapping:
        """This mapping with ``region`` as its phone region unless it sets one itself."""
        if region is None or self.source.default_region is not None:
            return self
        source = self.source.model_copy(update={"default_region": region.strip().upper()})
        return self.model_copy(update={"source": source})


# -- problems -------------------------------------------------------------------------------


def _where(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def format_validation_error(exc: ValidationError) -> list[str]:
    """Pydantic errors as ``path: message`` lines, one per problem, without repeats."""
    messages = {"extra_forbidden": "unknown field", "missing": "required field missing"}
    out: dict[str, None] = {}
    for error in exc.errors():
        message = messages.get(error["type"], error["msg"]).removeprefix("Value error, ")
        out[f"{_where(error['loc'])}: {message}"] = None
    return list(out)


def _known(names: Any) -> str:
    return ", ".join(sorted(names))


def column_refs(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every column a mapping's data reads, with its path: ``column`` and the fields of a
    ``template``, wherever they stand (values, conditions, regions); the data need not be
    valid, so that unknown columns are found together with every other problem."""
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "column" and isinstance(value, str):
                yield where, value
            elif key == "template" and isinstance(value, str):
                try:
                    yield from ((where, field) for field in template_fields(value))
                except ValueError:
                    continue
            elif key != "columns" or path:
                yield from column_refs(value, where)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from column_refs(item, f"{path}[{i}]")


def _property_problems(where: str, owner: str, allowed: dict[str, Any], props: Any,
                       extra: frozenset[str] = frozenset()) -> list[str]:
    if not isinstance(props, dict):
        return []
    problems = [f"{where}.properties.{name}: {owner} has no property {name!r} "
                f"(known: {_known(allowed.keys() | extra)})"
                for name in props if name not in allowed and name not in extra]
    for name, spec in props.items():
        if (isinstance(spec, dict) and spec.get("format") is not None and name in allowed
                and allowed[name].kind != "datetime"):
            problems.append(f"{where}.properties.{name}.format: format applies to datetime "
                            f"properties only")
    return problems


def _auto_problems(where: str, raw: dict[str, Any]) -> tuple[list[str], frozenset[str] | None]:
    """Problems of an entity typed by shape, and the entity types it may be."""
    problems = []
    if raw.get("properties"):
        problems.append(f"{where}.properties: a {AUTO} entity takes its identifier from value, "
                        f"and no properties")
    if not isinstance(raw.get("value"), dict):
        problems.append(f"{where}.value: a {AUTO} entity needs the value to type by shape")
    elif raw["value"].get("split") is not None and raw.get("optional") is not True:
        problems.append(f"{where}.value.split: split needs optional: true (a row may hold "
                        f"no value)")
    kinds = raw.get("kinds")
    if kinds is not None and (not isinstance(kinds, list)
                              or not all(k in KIND_TYPES for k in kinds)):
        return problems, None
    return problems, frozenset(t for k in kinds or KIND_TYPES if (t := KIND_TYPES[k]))


def _value_problems(where: str, entity: Any, props: dict[str, Any],
                    optional: bool) -> list[str]:
    """Problems of the v2 value settings that depend on the schema: split, region."""
    problems = []
    splits = [name for name, spec in props.items()
              if isinstance(spec, dict) and spec.get("split") is not None]
    for name in splits:
        if name not in entity.keys and name != CARD_NUMBER:
            problems.append(f"{where}.properties.{name}.split: split applies to key "
                            f"properties: one entity per value")
        elif not optional:
            problems.append(f"{where}.properties.{name}.split: split on a key of a required "
                            f"entity; make it optional: true (a row may hold no value)")
    if len(splits) > 1:
        problems.append(f"{where}.properties: split on one property only, not "
                        f"{', '.join(splits)}")
    for name, spec in props.items():
        prop = entity.properties.get(name)
        if (isinstance(spec, dict) and spec.get("region") is not None and prop is not None
                and prop.normaliser != "phone"):
            problems.append(f"{where}.properties.{name}.region: region applies to phone "
                            f"numbers only")
    return problems


def _entity_problems(name: str, raw: Any) -> tuple[list[str], frozenset[str] | None]:
    """Schema problems of one entity and the types it may be (``None`` if unknown)."""
    where = f"entities.{name}"
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        return [], None
    type_name = raw["type"]
    if type_name == AUTO:
        return _auto_problems(where, raw)
    misplaced = [f"{where}.{field}: applies to type {AUTO} only"
                 for field in ("value", "kinds") if raw.get(field) is not None]
    entity = SCHEMA.entities.get(type_name)
    if entity is None:
        return [*misplaced, f"{where}.type: unknown entity type {type_name!r} "
                            f"(known: {AUTO}, {_known(SCHEMA.entities)})"], None
    props = raw.get("properties") or {}  # none at all misses every key (a KeyError before)
    is_card = type_name == "PaymentCard"
    problems = _property_problems(where, type_name, entity.properties, props,
                                  frozenset({CARD_NUMBER}) if is_card else frozenset())
    if isinstance(props, dict):
        for key in () if is_card else entity.keys:
            if key not in props:
                problems.append(f"{where}.properties: key property {key!r} of {type_name} "
                                f"is not mapped")
        if is_card:  # a column feeding card_hash, bin, ... would store card numbers in clear
            if CARD_NUMBER not in props:
                problems.append(f"{where}.properties: a PaymentCard is mapped from its "
                                f"{CARD_NUMBER!r} (hashed, never stored)")
            problems.extend(f"{where}.properties.{field}: derived from {CARD_NUMBER}, never "
                            f"mapped" for field in CARD_FIELDS if field in props)
        problems.extend(_value_problems(where, entity, props, raw.get("optional") is True))
    return [*misplaced, *problems], frozenset({type_name})


def _relationship_problems(i: int, raw: Any,
                           types: dict[str, frozenset[str] | None]) -> list[str]:
    where = f"relationships[{i}]"
    if not isinstance(raw, dict):
        return []
    problems = []
    for end in ("source", "target"):
        local = raw.get(end)
        if isinstance(local, str) and local not in types:
            problems.append(f"{where}.{end}: {local!r} is not an entity of this mapping "
                            f"(declared: {_known(types)})")
    rel_name = raw.get("type")
    if not isinstance(rel_name, str):
        return problems
    rel = SCHEMA.relationships.get(rel_name)
    if rel is None:
        return [*problems, f"{where}.type: unknown relationship type {rel_name!r} "
                           f"(known: {_known(SCHEMA.relationships)})"]
    if rel.assessment:
        return [*problems, f"{where}.type: {rel_name} is an analyst's reviewed decision "
                           "(ringmap merge), never mapped from evidence"]
    sources, targets = (types.get(local) if isinstance(local := raw.get(key), str) else None
                        for key in ("source", "target"))
    for src, dst in ((s, t) for s in sorted(sources or ()) for t in sorted(targets or ())):
        if not rel.allows(src, dst):
            problems.append(f"{where}: {rel_name} cannot go from {src} to {dst} "
                            f"(allowed: {_known(rel.sources)} -> {_known(rel.targets)})")
    problems.extend(_property_problems(where, rel_name, rel.properties, raw.get("properties")))
    return problems


def _schema_problems(data: dict[str, Any]) -> list[str]:
    """Problems pydantic cannot see: types, properties, keys and links against the schema."""
    problems: list[str] = []
    types: dict[str, frozenset[str] | None] = {}
    entities = data.get("entities")
    if isinstance(entities, dict):
        if not entities:
            problems.append("entities: a mapping needs at least one entity")
        for name, raw in entities.items():
            found, types[str(name)] = _entity_problems(str(name), raw)
            problems.extend(found)
    relationships = data.get("relationships")
    if isinstance(relationships, list):
        for i, raw in enumerate(relationships):
            problems.extend(_relationship_problems(i, raw, types))
    columns = data.get("columns")
    if isinstance(columns, dict):
        read = {column for _path, column in column_refs(data)}
        problems.extend(f"columns.{name}: the mapping reads no column {name!r}"
                        for name in columns if name not in read)
    return problems


def _nested_format(data: dict[str, Any]) -> Any:
    source = data.get("source")
    fmt = source.get("format") if isinstance(source, dict) else None
    return fmt if fmt in NESTED_FORMATS else None


def _fan_out_keys(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """Every value spec of an entity's key (or a card's number, an auto entity's value):
    the places a path may fan out, with whether the entity is optional."""
    entities = data.get("entities")
    for name, raw in (entities.items() if isinstance(entities, dict) else ()):
        if not isinstance(raw, dict):
            continue
        optional = raw.get("optional") is True
        if isinstance(raw.get("value"), dict):
            yield f"entities.{name}.value", raw["value"], optional
        entity = SCHEMA.entities.get(raw.get("type"))  # type: ignore[arg-type]
        keys = (*entity.keys, CARD_NUMBER) if entity is not None else ()
        props = raw.get("properties")
        for prop, spec in (props.items() if isinstance(props, dict) else ()):
            if prop in keys and isinstance(spec, dict):
                yield f"entities.{name}.properties.{prop}", spec, optional


def _nested_problems(data: dict[str, Any], fmt: Any) -> list[str]:
    """Paths of an XML/JSON mapping: each well formed, and ``[*]`` (several values) only on
    the key of an optional entity, which it then fans out into one entity per value."""
    from ringmap.ingest.nested import fans_out, path_problem  # nested reads this module

    problems = [f"{where}: {problem}" for where, column in column_refs(data)
                if (problem := path_problem(column, fmt)) is not None]
    records = data["source"].get("records")
    if isinstance(records, str) and records and (problem := path_problem(records, fmt)):
        problems.append(f"source.records: {problem}")
    keys = {f"{where}.column": optional for where, spec, optional in _fan_out_keys(data)}
    for where, column in column_refs(data):
        if not fans_out(column):
            continue
        if where not in keys:
            problems.append(f"{where}: a path with [*] gives several values: only the key "
                            f"of an entity fans out (one entity per value)")
        elif not keys[where]:
            problems.append(f"{where}: a path with [*] fans out; make the entity optional: "
                            f"true (a report may hold no value)")
    return problems


def _fanned(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every key path holding ``[*]`` split on the reader's separator."""
    from ringmap.ingest.nested import FANOUT, fans_out

    data = copy.deepcopy(data)  # the caller's document stays as read
    for _where, spec, _optional in _fan_out_keys(data):
        column = spec.get("column")
        if isinstance(column, str) and fans_out(column) and spec.get("split") is None:
            spec["split"] = FANOUT
    return data


def shown_columns(columns: Sequence[str]) -> str:
    """A table's column names as a message may show them: the first 30, each as
    :func:`~ringmap.fileio.excerpt` allows (a header is file content)."""
    shown = ", ".join(map(excerpt, columns[:30])) + (" ..." if len(columns) > 30 else "")
    return shown or "no columns"


def _column_problems(data: dict[str, Any], columns: Sequence[str]) -> list[str]:
    """Columns the mapping reads that the table lacks, each with its path."""
    have = set(columns)
    return [f"{path}: missing column {column!r} (the file has: {shown_columns(columns)})"
            for path, column in column_refs(data) if column not in have]


def parse_mapping(data: Any, origin: str = "mapping",
                  columns: Sequence[str] | None = None) -> Mapping:
    """Validate mapping data already read from YAML; every problem at once.

    Parameters
    ----------
    data
        The parsed YAML document.
    origin
        Where the data came from, prefixed to every problem (usually the file path).
    columns
        The columns of the table the mapping is for, when known: a column the mapping reads
        that is not among them is one more problem, with its path.

    Raises
    ------
    MappingError
        Listing every problem as ``<origin>: <path>: <message>``.
    """
    if not isinstance(data, dict):
        raise MappingError([f"{origin}: the mapping must be a YAML mapping with 'entities'"])
    problems: list[str] = []
    mapping: Mapping | None = None
    fmt = _nested_format(data)
    if fmt is not None:
        problems.extend(_nested_problems(data, fmt))
        data = _fanned(data)
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        problems.extend(format_validation_error(exc))
    problems.extend(_schema_problems(data))
    if columns is not None:
        problems.extend(_column_problems(data, columns))
    if problems or mapping is None:
        raise MappingError([f"{origin}: {p}" for p in problems])
    return mapping


class _PlainLoader(yaml.SafeLoader):
    """Safe YAML without aliases: no mapping or case file needs them, and aliases of aliases
    expand a few hundred bytes into billions of values for every walk over the document."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed",
                self.peek_event().start_mark)  # type: ignore[no-untyped-call]
        return super().compose_node(parent, index)


def load_yaml(path: Path) -> Any:
    """A YAML file's document; :class:`MappingError` naming the line of a syntax error.

    Aliases are refused (see :class:`_PlainLoader`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise MappingError([f"{path}: not UTF-8 text (byte offset {exc.start})"]) from None
    try:
        return yaml.load(text, Loader=_PlainLoader)  # a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise MappingError([f"{path}: YAML syntax error{at}: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise MappingError([f"{path}: YAML syntax error: {exc}"]) from None


def load_mapping(path: str | Path,
                 columns_of: Callable[[Any], Sequence[str] | None] | None = None) -> Mapping:
    """Read and validate a mapping file; the name defaults to the file's stem.

    ``columns_of``, when given, tells from the mapping's ``source`` section (as read, not yet
    validated) the columns of the table it is for, or ``None`` if they cannot be told; see
    :func:`parse_mapping` and :func:`ringmap.ingest.readers.load_mapping_for`.

    Raises
    ------
    MappingError
        Listing every problem found, each with its path in the file.
    """
    path = Path(path)
    data = load_yaml(path)
    columns = None
    if columns_of is not None and isinstance(data, dict):
        columns = columns_of(data.get("source"))
    mapping = parse_mapping(data, origin=str(path), columns=columns)
    if not mapping.name:
        mapping = mapping.model_copy(update={"name": path.stem})
    return mapping
