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
import hashlib
import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import phonenumbers
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ringmap.errors import MappingError
from ringmap.graphs.model import Grading
from ringmap.graphs.schema import SCHEMA

__all__ = [
    "CARD_FIELDS",
    "CARD_NUMBER",
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
    "template_fields",
]

#: The virtual property of PaymentCard: the card number, hashed and never stored.
CARD_NUMBER = "number"
#: PaymentCard properties derived from :data:`CARD_NUMBER`.
CARD_FIELDS = ("card_hash", "bin", "last4", "masked", "brand")

SourceFormat = Literal["csv", "xlsx", "jsonl"]


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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueSpec(_Strict):
    """Where a value comes from: a column, a literal or a template over columns."""

    column: str | None = Field(default=None, description="column name; dotted path for JSON")
    literal: str | int | float | bool | None = None
    template: str | None = Field(default=None, description='e.g. "{first_name} {last_name}"')
    format: str | None = Field(default=None, description="strptime format for datetimes")
    default: str | None = Field(default=None, description="used when the value is blank")

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
        return self

    def columns(self) -> list[str]:
        """The columns this value reads."""
        if self.column is not None:
            return [self.column]
        if self.template is not None:
            return template_fields(self.template)
        return []


class ReadLimits(_Strict):
    """How much of a hostile file a reader takes before it stops: a breach in one row
    quarantines that row, a breach of the file's shape is an error."""

    field_chars: int = Field(default=32_767, ge=1, description="characters in one value")
    record_chars: int = Field(default=1 << 20, ge=1, description="characters in one record")
    record_lines: int = Field(default=100, ge=1, description="lines one CSV record may span")
    json_depth: int = Field(default=32, ge=1, description="nesting of one JSON line")
    columns: int = Field(default=1000, ge=1, description="columns in the header")
    xlsx_part_bytes: int = Field(default=256 << 20, ge=1,
                                 description="unpacked bytes of one part of a workbook")


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
    limits: ReadLimits = Field(default_factory=ReadLimits)

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

    type: str
    optional: bool = Field(default=False, description="skip the entity when its keys are blank")
    properties: dict[str, ValueSpec]


class RelationshipSpec(_Strict):
    """One relationship a row yields, between two entities of the mapping."""

    type: str
    source: str
    target: str
    properties: dict[str, ValueSpec] = Field(default_factory=dict)


class Mapping(_Strict):
    """A validated mapping; build it with :func:`load_mapping` or :func:`parse_mapping`."""

    name: str = ""
    source: SourceSpec = Field(default_factory=SourceSpec)
    entities: dict[str, EntitySpec]
    relationships: list[RelationshipSpec] = Field(default_factory=list)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of everything that shapes the graph (not ``name``).

        Together with the file's SHA-256 it identifies a load, so re-ingest is a no-op.
        """
        dumped = self.model_dump(mode="json", exclude={"name"})
        if self.source.limits == ReadLimits():  # digests from before limits existed hold
            del dumped["source"]["limits"]
        canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def value_specs(self) -> Iterator[tuple[str, ValueSpec]]:
        """Every value spec with its path in the mapping."""
        if self.source.reference is not None:
            yield "source.reference", self.source.reference
        for name, entity in self.entities.items():
            for prop, spec in entity.properties.items():
                yield f"entities.{name}.properties.{prop}", spec
        for i, rel in enumerate(self.relationships):
            for prop, spec in rel.properties.items():
                yield f"relationships[{i}].properties.{prop}", spec

    def columns(self) -> list[str]:
        """Every column the mapping reads, in first-use order."""
        seen: dict[str, None] = {}
        for _path, spec in self.value_specs():
            seen.update(dict.fromkeys(spec.columns()))
        return list(seen)

    def card_columns(self) -> frozenset[str]:
        """Columns that feed a card number: masked wherever row values are shown."""
        return frozenset(
            column
            for entity in self.entities.values() if entity.type == "PaymentCard"
            for prop, spec in entity.properties.items() if prop == CARD_NUMBER
            for column in spec.columns()
        )

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


def _entity_problems(name: str, raw: Any) -> tuple[list[str], str | None]:
    """Schema problems of one entity and its type name (``None`` if unknown)."""
    where = f"entities.{name}"
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        return [], None
    type_name = raw["type"]
    entity = SCHEMA.entities.get(type_name)
    if entity is None:
        return [f"{where}.type: unknown entity type {type_name!r} "
                f"(known: {_known(SCHEMA.entities)})"], None
    props = raw.get("properties")
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
    return problems, type_name


def _relationship_problems(i: int, raw: Any, types: dict[str, str | None]) -> list[str]:
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
    src, dst = (types.get(local) if isinstance(local := raw.get(key), str) else None
                for key in ("source", "target"))
    if src is not None and dst is not None and not rel.allows(src, dst):
        problems.append(f"{where}: {rel_name} cannot go from {src} to {dst} "
                        f"(allowed: {_known(rel.sources)} -> {_known(rel.targets)})")
    problems.extend(_property_problems(where, rel_name, rel.properties, raw.get("properties")))
    return problems


def _schema_problems(data: dict[str, Any]) -> list[str]:
    """Problems pydantic cannot see: types, properties, keys and links against the schema."""
    problems: list[str] = []
    types: dict[str, str | None] = {}
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
    return problems


def parse_mapping(data: Any, origin: str = "mapping") -> Mapping:
    """Validate mapping data already read from YAML; every problem at once.

    Parameters
    ----------
    data
        The parsed YAML document.
    origin
        Where the data came from, prefixed to every problem (usually the file path).

    Raises
    ------
    MappingError
        Listing every problem as ``<origin>: <path>: <message>``.
    """
    if not isinstance(data, dict):
        raise MappingError([f"{origin}: the mapping must be a YAML mapping with 'entities'"])
    problems: list[str] = []
    mapping: Mapping | None = None
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        problems.extend(format_validation_error(exc))
    problems.extend(_schema_problems(data))
    if problems or mapping is None:
        raise MappingError([f"{origin}: {p}" for p in problems])
    return mapping


def load_yaml(path: Path) -> Any:
    """A YAML file's document; :class:`MappingError` naming the line of a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise MappingError([f"{path}: not UTF-8 text (byte offset {exc.start})"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise MappingError([f"{path}: YAML syntax error{at}: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise MappingError([f"{path}: YAML syntax error: {exc}"]) from None


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file; the name defaults to the file's stem.

    Raises
    ------
    MappingError
        Listing every problem found, each with its path in the file.
    """
    path = Path(path)
    mapping = parse_mapping(load_yaml(path), origin=str(path))
    if not mapping.name:
        mapping = mapping.model_copy(update={"name": path.stem})
    return mapping
