"""Rows to normalised nodes, relationships and sightings, with row accounting and quarantine.

A mapping is compiled once into tuples of closures (:func:`compile_mapping`), so the per-row path
does no validation, no schema look-ups and no pydantic: it reads cells, normalises them and
builds node ids. Evidence repeats the same identifiers many times, so each entity's result is
remembered per distinct combination of the cells it reads, and each converted value per raw text.

Values are stored as the schema's kinds: text, ``int``, ``float``, ``bool``, and datetimes as
timezone-aware UTC :class:`~datetime.datetime` (naive input is taken as UTC; the stores keep
them as ISO 8601 and give back the same ``datetime``).

Every row read is counted once: ``read = loaded + duplicate + rejected``; rejected rows go to the
quarantine with their reason. A file is loaded in batches
(:class:`~ringmap.graphs.model.BatchColumns`) whose ``last_row`` lets a store that commits per
batch resume exactly after a kill.
"""

from __future__ import annotations

import json
import math
import os
import re
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

import phonenumbers

from ringmap.errors import NormalisationError
from ringmap.fileio import make_dirs, open_private, remove_stale_temporaries, temporary_suffix
from ringmap.graphs.codec import merge_props
from ringmap.graphs.identify import KINDS, Identified, identify
from ringmap.graphs.model import BatchColumns, FileLoad
from ringmap.graphs.normalise import NORMALISERS, Context, card_fields, masked_card_fields
from ringmap.graphs.schema import SCHEMA, PropertySpec, node_id
from ringmap.graphs.tokens import operation_keys
from ringmap.ingest.mapping import (
    AUTO,
    CARD_FIELDS,
    CARD_NUMBER,
    Condition,
    EntitySpec,
    ValueSpec,
)
from ringmap.ingest.mapping import Mapping as MappingSpec
from ringmap.ingest.readers import Row
from ringmap.ingest.signatures import Signatures
from ringmap.privacy import key_problem, mask_card_field, mask_card_numbers
from ringmap.tabular import CsvWriter

__all__ = ["BatchBuilder", "CompiledMapping", "Quarantine", "RowRejected", "compile_mapping",
           "converter", "load_batches"]

Values = Sequence[str | None]

#: Entries a memo (of converted values, entities or relationship properties) holds before it
#: starts over: bounds memory on files with millions of distinct values.
_CACHE_SIZE = 1 << 17
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


class RowRejected(Exception):
    """A row (or an optional entity) cannot be loaded; ``reason`` says why, never quoting a
    card number, and ``category`` says it without the value, for counting."""

    def __init__(self, reason: str, category: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = reason if category is None else category


@dataclass(frozen=True, slots=True)
class _Bad:
    reason: str
    category: str


_MISS = object()
_MASK_CHARS = re.compile(r"[*xX•#]")


# -- value conversion -------------------------------------------------------------------------


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _to_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        number = _to_float(text)
        if not number.is_integer():
            raise NormalisationError(f"{_shown(text)} is not a whole number",
                                     "not a whole number") from None
        return int(number)


def _to_float(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        try:
            number = float(text.replace(",", "").replace(" ", ""))
        except ValueError:
            raise NormalisationError(f"{_shown(text)} is not a number",
                                     "not a number") from None
    if not math.isfinite(number):
        raise NormalisationError(f"{_shown(text)} is not a finite number", "not a finite number")
    return number


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise NormalisationError(f"{_shown(text)} is not true/false/yes/no/1/0",
                             "not true/false/yes/no/1/0")


_DIRECTIVES = {"Y": r"(\d{4})", "y": r"(\d{2})", "m": r"(\d{1,2})", "d": r"(\d{1,2})",
               "H": r"(\d{1,2})", "M": r"(\d{1,2})", "S": r"(\d{1,2})", "f": r"(\d{1,6})"}


def _fast_format(fmt: str) -> Callable[[str], datetime | None] | None:
    """A regex reading of a strptime format made only of numeric fields (``%d/%m/%Y %H:%M``),
    several times faster than :func:`~datetime.datetime.strptime`; ``None`` for other
    formats. The parser gives ``None`` when the text does not match."""
    pattern = ""
    order: list[str] = []
    pieces = iter(fmt)
    for ch in pieces:
        if ch != "%":
            pattern += r"\s+" if ch.isspace() else re.escape(ch)
            continue
        directive = next(pieces, "")
        if directive == "%":
            pattern += "%"
        elif directive in _DIRECTIVES and directive not in order:
            order.append(directive)
            pattern += _DIRECTIVES[directive]
        else:
            return None
    if not {"d", "m"} <= set(order) or not {"Y", "y"} & set(order):
        return None
    matcher = re.compile(pattern).fullmatch
    at = {d: order.index(d) if d in order else -1 for d in _DIRECTIVES}
    two_digit_year = at["Y"] < 0
    fields = [at[d] for d in "YmdHMS"]
    while fields[-1] < 0:
        fields.pop()
    if not two_digit_year and at["f"] < 0 and min(fields) >= 0:
        # year, month, day[, hour[, minute[, second]]]: the groups are datetime's arguments
        pick = itemgetter(*fields)

        def parse_plain(text: str) -> datetime | None:
            found = matcher(text)
            if found is None:
                return None
            # (the checker cannot tell how many of datetime's positional arguments there are)
            return datetime(*map(int, pick(found.groups())), tzinfo=UTC)  # type: ignore[misc,arg-type]

        return parse_plain

    def parse(text: str) -> datetime | None:
        found = matcher(text)
        if found is None:
            return None
        groups = found.groups()
        parts = [int(groups[at[d]]) if at[d] >= 0 else 0 for d in "YymdHMS"]
        if two_digit_year:
            parts[0] = parts[1] + (2000 if parts[1] < 69 else 1900)
        micro = int(groups[at["f"]].ljust(6, "0")) if at["f"] >= 0 else 0
        return datetime(parts[0], parts[2], parts[3], parts[4], parts[5], parts[6], micro,
                        tzinfo=UTC)

    return parse


def _datetime_parser(fmt: str | None) -> Callable[[str], datetime]:
    """ISO 8601 (or ``fmt`` for strptime, ISO still accepted) → aware UTC datetime."""
    fast = _fast_format(fmt) if fmt else None

    def slow(text: str) -> datetime:
        try:
            return datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
        except ValueError:
            return datetime.fromisoformat(text)

    def parse(text: str) -> datetime:
        try:
            value = fast(text) if fast is not None else None
            if value is not None:
                return value
            value = slow(text)
        except ValueError:
            expected = f"format {fmt!r}" if fmt else "ISO 8601"
            raise NormalisationError(f"{_shown(text)} is not a date/time in {expected}",
                                     f"not a date/time in {expected}") from None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    return parse


_KINDS: dict[str, Callable[[str], Any]] = {"int": _to_int, "float": _to_float, "bool": _to_bool}


def converter(prop: PropertySpec, fmt: str | None = None
              ) -> Callable[[str, Context], Any] | None:
    """The (text, context) → value function of one property (normaliser, then kind; ``fmt``
    the strptime format of a datetime), or ``None`` when the text is the value."""
    steps: list[Callable[[str], Any]] = []
    if prop.kind == "datetime":
        steps.append(_datetime_parser(fmt))
    elif prop.kind in _KINDS:
        steps.append(_KINDS[prop.kind])
    if prop.normaliser is None:
        if not steps:
            return None
        (kind,) = steps
        return lambda text, ctx: kind(text)
    normaliser = NORMALISERS[prop.normaliser]
    if not steps:
        return normaliser
    (kind,) = steps
    return lambda text, ctx: kind(normaliser(text, ctx))


def _card_converter(key: bytes) -> Callable[[str, Context], dict[str, Any]]:
    operations = operation_keys()  # a card's match tokens are made now or never

    def convert(text: str, ctx: Context) -> dict[str, Any]:
        if _MASK_CHARS.search(text):
            fields = masked_card_fields(text, key)
            found = {name: getattr(fields, name) for name in CARD_FIELDS}
            return {**{k: v for k, v in found.items() if v}, "partial": True}
        fields = card_fields(text, key, operations)
        found = {name: getattr(fields, name) for name in CARD_FIELDS}
        return {k: v for k, v in found.items() if v or k != "match_tokens"}

    return convert


def _identifier_converter(key: bytes | None) -> Callable[[str, Context], Identified]:
    def no_key() -> bytes:
        raise ValueError("compile_mapping needs card_key for an identifier typed by shape")

    source = no_key if key is None else (lambda: key)
    return lambda text, ctx: identify(text, ctx, source)


def _cached(func: Callable[[str, Context], Any], label: str, name: str,
            cache: dict[Any, Any], ctx: Context) -> Callable[[Any], Any]:
    """``func`` remembered per raw text (or ``(text, context)`` for a value read in its row's
    region) in ``cache``, shared by values converted alike; a failure raises
    :class:`RowRejected` naming ``label`` (and ``name`` in its category). The cache keeps
    failures without them: another value sharing it names itself (issue 14)."""

    def convert(raw: Any) -> Any:
        value = cache.get(raw, _MISS)
        if value is _MISS:
            text, here = raw if type(raw) is tuple else (raw, ctx)
            try:
                value = func(text, here)
            except NormalisationError as exc:
                value = _Bad(str(exc), exc.reason)
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[raw] = value
        if type(value) is _Bad:
            raise RowRejected(f"{label}: {value.reason}", f"{name}: {value.category}")
        return value

    return convert


# -- reading values ---------------------------------------------------------------------------


def _literal_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


Read = Callable[[Values], str | None]


def _cell(i: int, nulls: frozenset[str]) -> Read:
    """A row's cell at ``i``, stripped; ``None`` when blank or one of ``nulls``."""
    if not nulls:
        return lambda row: (row[i].strip() if row[i] else None) or None  # type: ignore[union-attr]

    def read(row: Values) -> str | None:
        cell = row[i]
        if cell:
            cell = cell.strip()
            if cell and cell.casefold() not in nulls:
                return cell
        return None

    return read


def _refiner(spec: ValueSpec) -> Callable[[str], str | None] | None:
    """What ``extract``, ``strip_prefix`` and ``case`` make of a value's text (``None``: no
    value), or ``None`` when the spec sets none of them."""
    steps: list[Callable[[str], str | None]] = []
    if spec.extract is not None:
        pattern = re.compile(spec.extract)
        group = 1 if pattern.groups else 0

        def extract(text: str) -> str | None:
            found = pattern.search(text)
            return ((found.group(group) or "").strip() or None) if found else None

        steps.append(extract)
    prefixes = spec.prefixes()
    if prefixes:
        def strip(text: str) -> str | None:
            lowered = text.lower()
            for prefix in prefixes:
                if lowered.startswith(prefix):
                    return text[len(prefix):].strip() or None
            return text

        steps.append(strip)
    if spec.case is not None:
        steps.append(str.upper if spec.case == "upper" else str.lower)
    if not steps:
        return None

    def refine(text: str) -> str | None:
        value = text
        for step in steps:
            found = step(value)
            if found is None:
                return None
            value = found
        return value

    return refine


def _source(spec: ValueSpec, index: Mapping[str, int],
            nulls: Callable[[str], frozenset[str]]) -> Read:
    """A row's text for ``spec`` before it is refined: a cell, a literal or a template."""
    if spec.column is not None:
        return _cell(index[spec.column], nulls(spec.column))
    if spec.literal is not None:
        fixed = _literal_text(spec.literal).strip() or None
        return lambda row: fixed
    assert spec.template is not None
    pieces = [(text, None if field is None else (index[field], nulls(field)))
              for text, field, _spec, _conv in string.Formatter().parse(spec.template)]

    def render(row: Values) -> str | None:
        out = []
        found = False
        for text, at in pieces:
            out.append(text)
            if at is not None:
                cell = row[at[0]]
                if cell and (value := cell.strip()) and value.casefold() not in at[1]:
                    out.append(cell)
                    found = True
        return " ".join("".join(out).split()) if found else None

    return render


def _reader(spec: ValueSpec, index: Mapping[str, int],
            nulls: Callable[[str], frozenset[str]]) -> Read:
    """The function that takes a row's value for ``spec``: read, refined, else the default."""
    default = spec.default
    if (spec.column is not None and not nulls(spec.column) and spec.split is None
            and _refiner(spec) is None):  # the plain path: one lambda
        i = index[spec.column]
        return lambda row: (row[i].strip() if row[i] else None) or default  # type: ignore[union-attr]
    source = _source(spec, index, nulls)
    refine = None if spec.split is not None else _refiner(spec)
    if refine is None:
        return lambda row: source(row) or default

    def read(row: Values) -> str | None:
        text = source(row)
        return (refine(text) if text is not None else None) or default

    return read


def _parts(spec: ValueSpec, nulls: frozenset[str]) -> Callable[[str], list[str]]:
    """The values of a multi-valued cell: split, trimmed, refined; blanks and nulls dropped."""
    assert spec.split is not None
    separator = spec.split
    refine = _refiner(spec)

    def parts(text: str) -> list[str]:
        out: dict[str, None] = {}
        for part in text.split(separator):
            value: str | None = part.strip()
            if value and value.casefold() not in nulls:
                value = refine(value) if refine is not None else value
                if value:
                    out[value] = None
        return list(out)

    return parts


def _region(spec: ValueSpec, index: Mapping[str, int], nulls: Callable[[str], frozenset[str]],
            default: Context, label: str) -> Callable[[Values], Context]:
    """A row's phone region read from ``spec`` (a country name or ISO code; blank: the
    mapping's default region); :class:`RowRejected` if it is no country phonenumbers knows."""
    read = _reader(spec, index, nulls)
    contexts: dict[str, Context | _Bad] = {}

    def region(row: Values) -> Context:
        text = read(row)
        if text is None:
            return default
        found = contexts.get(text)
        if found is None:
            try:
                code = NORMALISERS["country"](text, default)
                if code not in phonenumbers.SUPPORTED_REGIONS:
                    raise NormalisationError(f"no phone numbering plan for {code}",
                                             "no phone numbering plan for the region")
                found = Context(default_region=code)
            except NormalisationError as exc:
                found = _Bad(f"{label}.region: {exc}", f"region: {exc.reason}")
            contexts[text] = found
        if type(found) is _Bad:
            raise RowRejected(found.reason, found.category)
        return found  # type: ignore[return-value]

    return region


@dataclass(frozen=True, slots=True)
class _Value:
    name: str
    read: Callable[[Values], Any]  # the converter's input: text, or (text, context)
    convert: Callable[[Any], Any] | None
    expand: bool = False  # the value is a dict of properties (a card number's fields)
    parts: Callable[[Any, Values], list[Any]] | None = None  # a multi-valued cell's values


@dataclass(frozen=True, slots=True)
class _Entity:
    local: str
    type: str  # AUTO: typed by shape, per row
    optional: bool
    strict: bool  # a failure rejects the row (else the entity is skipped and counted)
    when: Callable[[Values], bool] | None
    key_inputs: tuple[_Value, ...]
    key_names: tuple[str, ...]
    others: tuple[_Value, ...]
    cells: Callable[[Values], Any]  # the raw cells the entity reads: its memo key
    build: Callable[[_Entity, Values], Any]
    kinds: frozenset[str] = frozenset()  # AUTO: the kinds accepted
    split: _Value | None = None  # the key value whose cell holds several values


@dataclass(frozen=True, slots=True)
class _Link:
    type: str
    label: str
    source: int
    target: int
    strict: bool
    multi: bool  # an end may be several nodes (a multi-valued cell)
    when: Callable[[Values], bool] | None
    props: tuple[_Value, ...]
    cells: Callable[[Values], Any]  # the raw cells its properties read: its memo key
    spec: str  # links whose properties are mapped alike share one memo


@dataclass(frozen=True, slots=True)
class _Multi:
    """The nodes of a multi-valued cell, and the values among them that failed."""

    nodes: tuple[RowNode, ...]
    bad: tuple[_Bad, ...]


def _props(values: tuple[_Value, ...], row: Values, props: dict[str, Any]) -> None:
    for value in values:
        raw = value.read(row)
        if raw is not None:
            props[value.name] = raw if value.convert is None else value.convert(raw)


def _cells(columns: Sequence[int]) -> Callable[[Values], Any]:
    """A row's cells at ``columns`` as a hashable key (C-speed via :func:`itemgetter`)."""
    if not columns:
        return lambda row: ()
    return itemgetter(*columns)


#: One row's node: id, type, properties, and a hash of all three (for duplicate detection).
RowNode = tuple[str, str, dict[str, Any], int]
#: One row's relationship: type, source id, target id, properties and their hash.
RowEdge = tuple[str, str, str, dict[str, Any], int]
#: What a row yields: reference, nodes, relationships, a hash of it all, and what was skipped
#: (the label of each optional entity or relationship that could not be built, and why).
RowResult = tuple[str | None, list[RowNode], list[RowEdge], int, list[tuple[str, _Bad]]]
_SKIPPED = None
_NO_SKIPS: list[tuple[str, _Bad]] = []  # shared, never appended to


def _remember(memo: dict[Any, Any], key: Any, compute: Callable[[Any, Values], Any],
              item: Any, row: Values) -> Any:
    """``compute(item, row)`` stored in ``memo`` under ``key``; a rejection is stored too."""
    try:
        found = compute(item, row)
    except RowRejected as exc:
        found = _Bad(exc.reason, exc.category)
    if len(memo) >= _CACHE_SIZE:
        memo.clear()
    memo[key] = found
    return found


class CompiledMapping:
    """A mapping turned into closures over one table's column positions.

    Build it with :func:`compile_mapping`; :meth:`row` turns one row's values into the row's
    reference, nodes, relationships and skips, or raises :class:`RowRejected`. Each entity's
    result (and each relationship's properties) is remembered per distinct combination of the
    cells it reads, since evidence repeats the same subscriber, device or victim on many rows.
    """

    def __init__(self, ref: Callable[[Values], str | None] | None, entities: list[_Entity],
                 links: list[_Link]) -> None:
        self._ref = ref
        # what the per-row loop reads of each entity and link, unpacked once here
        self._entities: tuple[tuple[_Entity, Callable[[Values], bool] | None,
                                    Callable[[Values], Any], dict[Any, Any]], ...] = tuple(
            (entity, entity.when, entity.cells, {}) for entity in entities)
        memos: dict[str, dict[Any, Any]] = {}
        self._links: tuple[tuple[_Link, int, int, Callable[[Values], bool] | None,
                                 Callable[[Values], Any], dict[Any, Any]], ...] = tuple(
            (link, link.source, link.target, link.when, link.cells,
             memos.setdefault(link.spec, {})) for link in links)

    def row(self, row: Values) -> RowResult:
        """The reference, nodes ``(id, type, props, hash)``, edges ``(type, src, dst, props,
        hash)``, a hash of it all (equal rows, equal hashes) and the skipped entities and
        relationships with why; :class:`RowRejected` if the row cannot be loaded."""
        ref = self._ref(row) if self._ref is not None else None
        ids: list[Any] = []  # per entity: None, a node id, or a tuple of them (a split cell)
        nodes: list[RowNode] = []
        hashes: list[Any] = [ref]
        skips: list[tuple[str, _Bad]] = _NO_SKIPS  # replaced by a list at the first skip
        for entity, when, cells, memo in self._entities:
            if when is not None and not when(row):
                ids.append(None)
                continue
            key = cells(row)
            found = memo.get(key, _MISS)
            if found is _MISS:
                found = _remember(memo, key, entity.build, entity, row)
            if type(found) is tuple:  # one node: the usual case
                ids.append(found[0])
                nodes.append(found)
                hashes.append(found[3])
            elif found is _SKIPPED:
                ids.append(None)
            elif type(found) is _Bad:
                if entity.strict:
                    raise RowRejected(found.reason, found.category)
                ids.append(None)
                skips = [*skips, (entity.local, found)]
            else:
                if entity.strict and found.bad:
                    raise RowRejected(found.bad[0].reason, found.bad[0].category)
                if found.bad:
                    skips = [*skips, *((entity.local, bad) for bad in found.bad)]
                ids.append(tuple(node[0] for node in found.nodes) or None)
                nodes.extend(found.nodes)
                hashes.extend(node[3] for node in found.nodes)
        if not nodes:
            if skips:
                raise RowRejected("nothing to load: " + "; ".join(b.reason for _, b in skips))
            raise RowRejected("nothing to load: every entity's key is blank")
        edges: list[RowEdge] = []
        for link, source, target, when, cells, memo in self._links:
            src, dst = ids[source], ids[target]
            if src is None or dst is None or (when is not None and not when(row)):
                continue
            key = cells(row)
            found = memo.get(key, _MISS)
            if found is _MISS:
                found = _remember(memo, key, _link_props, link, row)
            if type(found) is _Bad:  # (its reason names the property: the link names itself)
                found = _Bad(f"{link.type}.{found.reason}", found.category)
                if link.strict:
                    raise RowRejected(found.reason, found.category)
                skips = [*skips, (link.label, found)]
                continue
            if link.multi:
                edges.extend((link.type, s, d, *found) for s in _ids(src) for d in _ids(dst))
            else:
                edges.append((link.type, src, dst, found[0], found[1]))
            hashes.append(found[1])
        return ref, nodes, edges, hash(tuple(hashes)), skips


def _ids(found: str | tuple[str, ...]) -> tuple[str, ...]:
    return (found,) if type(found) is str else found  # type: ignore[return-value]


def _node(entity: _Entity, type_name: str, props: dict[str, Any],
          keys: Sequence[str]) -> RowNode:
    nid = node_id(type_name, [props[k] for k in keys])
    problem = key_problem(type_name, nid)
    if problem is not None:
        raise RowRejected(f"{entity.local}: {problem}", problem.split(" (", 1)[0])
    return nid, type_name, props, hash((nid, *props.items()))


def _entity_node(entity: _Entity, row: Values) -> RowNode | None:
    """One entity of a row; ``None`` when it is optional and its keys are all blank."""
    props: dict[str, Any] = {}
    blank = None
    for value in entity.key_inputs:
        raw = value.read(row)
        if raw is None:
            blank = blank or value.name
        elif value.convert is None:
            props[value.name] = raw
        elif value.expand:
            props.update(value.convert(raw))
        else:
            props[value.name] = value.convert(raw)
    if blank is not None:
        if entity.optional and not props:
            return _SKIPPED
        raise RowRejected(f"{entity.local}.{blank}: blank key", f"{blank}: blank key")
    _props(entity.others, row, props)
    return _node(entity, entity.type, props, entity.key_names)


def _auto_node(entity: _Entity, row: Values) -> RowNode | None:
    """An identifier typed by its shape (:func:`~ringmap.graphs.identify.identify`)."""
    (value,) = entity.key_inputs
    raw = value.read(row)
    if raw is None:
        if entity.optional:
            return _SKIPPED
        raise RowRejected(f"{entity.local}.value: blank", "value: blank")
    assert value.convert is not None
    found: Identified = value.convert(raw)
    if found.type is None:
        raise RowRejected(f"{entity.local}.value: an IMSI alone names no node (a SimCard is "
                          "keyed by its ICCID)", "value: an IMSI alone names no node")
    if found.kind not in entity.kinds:
        why = f"recognised as {found.kind}, not among kinds {', '.join(sorted(entity.kinds))}"
        raise RowRejected(f"{entity.local}.value: {why}", f"value: recognised as {found.kind}")
    return _node(entity, found.type, dict(found.props), SCHEMA.entity(found.type).keys)


def _constant(value: Any) -> Callable[[Values], Any]:
    return lambda row: value


def _split_nodes(entity: _Entity, row: Values) -> _Multi | None:
    """One node per value of the entity's multi-valued cell; values that fail are kept apart."""
    split = entity.split
    assert split is not None and split.parts is not None
    whole = split.read(row)
    if whole is None:
        return _SKIPPED
    single = _auto_node if entity.type == AUTO else _entity_node
    nodes: dict[str, RowNode] = {}
    bad: list[_Bad] = []
    for part in split.parts(whole, row):
        fixed = replace(split, read=_constant(part))
        one = replace(entity, key_inputs=tuple(fixed if v is split else v
                                               for v in entity.key_inputs))
        try:
            node = single(one, row)
        except RowRejected as exc:
            bad.append(_Bad(exc.reason, exc.category))
        else:
            if node is not None:
                nodes.setdefault(node[0], node)
    return _Multi(tuple(nodes.values()), tuple(bad))


def _link_props(link: _Link, row: Values) -> tuple[dict[str, Any], int]:
    """A relationship's properties in a row, with their hash."""
    props: dict[str, Any] = {}
    _props(link.props, row, props)
    return props, hash(tuple(props.items()))


def _in_region(read: Read, region: Callable[[Values], Context]) -> Callable[[Values], Any]:
    """``read`` paired with the row's region, for a phone number read where it was written."""
    return lambda row: None if (text := read(row)) is None else (text, region(row))


def _condition(cond: Condition, index: Mapping[str, int],
               nulls: Callable[[str], frozenset[str]]) -> Callable[[Values], bool]:
    """A condition as a test of a row; text compared case- and spacing-insensitively."""
    if cond.all_ is not None:
        tests = [_condition(c, index, nulls) for c in cond.all_]
        return lambda row: all(test(row) for test in tests)
    if cond.any_ is not None:
        tests = [_condition(c, index, nulls) for c in cond.any_]
        return lambda row: any(test(row) for test in tests)
    if cond.not_ is not None:
        test = _condition(cond.not_, index, nulls)
        return lambda row: not test(row)
    assert cond.column is not None
    cell = _cell(index[cond.column], nulls(cond.column))
    if cond.blank is not None:
        blank = cond.blank
        return lambda row: (cell(row) is None) is blank
    if cond.matches is not None:
        search = re.compile(cond.matches).search
        return lambda row: (text := cell(row)) is not None and search(text) is not None
    wanted = frozenset(_folded(_literal_text(v)) for v in (
        [cond.equals] if cond.equals is not None else cond.in_ or []))
    return lambda row: (text := cell(row)) is not None and _folded(text) in wanted


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def compile_mapping(mapping: MappingSpec, index: Mapping[str, int],
                    card_key: bytes | None = None) -> CompiledMapping:
    """Compile a validated mapping for a table whose columns sit at ``index``.

    Parameters
    ----------
    mapping
        A mapping from :func:`~ringmap.ingest.mapping.load_mapping`.
    index
        Position of each column the mapping reads in a row's values.
    card_key
        The hashing key for card numbers; needed when the mapping maps a card ``number`` or
        an identifier typed by shape that turns out to be a card.
    """
    region = mapping.source.default_region
    ctx = Context(default_region=region) if region else Context()
    caches: dict[tuple[Any, ...], dict[Any, Any]] = {}
    nulls = cache(mapping.null_cells)
    strict = mapping.on_error == "reject"

    def value(name: str, label: str, vspec: ValueSpec, convert: Callable[[str, Context], Any]
              | None, shape: tuple[Any, ...], expand: bool = False) -> _Value:
        """One mapped value; values converted alike share one cache of results."""
        read: Callable[[Values], Any] = _reader(vspec, index, nulls)
        cached = None if convert is None else _cached(convert, label, name,
                                                      caches.setdefault(shape, {}), ctx)
        parts = None
        if vspec.region is not None:
            read = _in_region(read, _region(vspec.region, index, nulls, ctx, label))
        if vspec.split is not None:
            cut = _parts(vspec, nulls(vspec.column) if vspec.column else frozenset())
            parts = ((lambda whole, row: [(p, whole[1]) for p in cut(whole[0])])
                     if vspec.region is not None else (lambda whole, row: cut(whole)))
        return _Value(name, read, cached, expand, parts)

    entities: list[_Entity] = []
    positions: dict[str, int] = {}
    for local, spec in mapping.entities.items():
        when = None if spec.when is None else _condition(spec.when, index, nulls)
        keys: list[_Value] = []
        others: list[_Value] = []
        if spec.type == AUTO:
            assert spec.value is not None
            keys.append(value("value", f"{local}.value", spec.value,
                              _identifier_converter(card_key), ("auto",)))
            key_names: tuple[str, ...] = ()
        else:
            etype = SCHEMA.entity(spec.type)
            key_names = etype.keys
            for name, vspec in spec.properties.items():
                if name == CARD_NUMBER and spec.type == "PaymentCard":
                    if card_key is None:
                        raise ValueError("compile_mapping needs card_key for a card number")
                    keys.append(value(name, f"{local}.{name}", vspec, _card_converter(card_key),
                                      ("card",), expand=True))
                    continue
                prop = etype.properties[name]
                made = value(name, f"{local}.{name}", vspec, converter(prop, vspec.format),
                             (prop.normaliser, prop.kind, vspec.format))
                (keys if name in etype.keys else others).append(made)
        split = next((v for v in keys if v.parts is not None), None)
        columns = sorted({index[c] for _p, v in _entity_values(spec) for c in v.columns()})
        positions[local] = len(entities)
        entities.append(_Entity(
            local, spec.type, spec.optional, strict or not spec.optional, when, tuple(keys),
            key_names, tuple(others), _cells(columns),
            _split_nodes if split is not None else
            _auto_node if spec.type == AUTO else _entity_node,
            frozenset(spec.kinds or KINDS), split))
    links = []
    for rel in mapping.relationships:
        rtype = SCHEMA.relationship(rel.type)
        values = tuple(value(name, name, vspec,
                             converter(rtype.properties[name], vspec.format),
                             (rtype.properties[name].normaliser, rtype.properties[name].kind,
                              vspec.format))
                       for name, vspec in rel.properties.items())
        columns = sorted({index[c] for v in rel.properties.values() for c in v.columns()})
        shape = json.dumps({n: v.model_dump(mode="json") for n, v in rel.properties.items()},
                           sort_keys=True)
        when = None if rel.when is None else _condition(rel.when, index, nulls)
        ends = (entities[positions[rel.source]], entities[positions[rel.target]])
        links.append(_Link(rel.type, f"{rel.type} {rel.source}->{rel.target}",
                           positions[rel.source], positions[rel.target], strict,
                           any(end.split is not None for end in ends), when, values,
                           _cells(columns), shape))
    ref = mapping.source.reference
    return CompiledMapping(None if ref is None else _reader(ref, index, nulls), entities, links)


def _entity_values(spec: EntitySpec) -> list[tuple[str, ValueSpec]]:
    if spec.value is not None:
        return [("value", spec.value)]
    return list(spec.properties.items())


# -- quarantine -------------------------------------------------------------------------------


class Quarantine:
    """Rejected rows as CSV (row, reason, original columns), written to a temporary file and
    moved into place by :meth:`commit` only once the store has accepted the file.

    Written by :class:`~ringmap.tabular.CsvWriter` (cells neutralised against spreadsheet
    formulas); card numbers in the reason and every cell are masked by :mod:`ringmap.privacy`,
    and a column mapped as a card number is masked whatever its check digit.
    """

    def __init__(self, path: Path, columns: Sequence[str], masked: Sequence[int] = ()) -> None:
        self.path = path
        self._columns = list(columns)
        self._masked = frozenset(masked)
        self._tmp = path.with_name(f".{path.name}{temporary_suffix()}")
        remove_stale_temporaries(path.parent)
        self._handle: TextIO | None = None
        self._writer: CsvWriter | None = None

    def add(self, row: int, reason: str, values: Values) -> None:
        """Quarantine one row."""
        if self._writer is None:
            make_dirs(self.path.parent)
            self._handle = os.fdopen(open_private(self._tmp), "w", encoding="utf-8", newline="")
            self._writer = CsvWriter(self._handle)
            self._writer.writerow(["row", "reason", *self._columns])
        cells = [(mask_card_field if i in self._masked else mask_card_numbers)(v) if v else v
                 for i, v in enumerate(values)]
        self._writer.writerow([row, mask_card_numbers(reason), *cells])

    @property
    def used(self) -> bool:
        """Whether any row was quarantined."""
        return self._handle is not None

    def seal(self) -> Path | None:
        """Write the rows so far durably and close the temporary file, still not in place
        (a worker process hands it so to the process that commits or discards it); the
        temporary's path, or ``None`` if no row."""
        if self._handle is None:
            return None
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
        return self._tmp

    def commit(self) -> str | None:
        """Move the quarantine into place (durably); its path, or ``None`` if no row."""
        if self.seal() is None:
            return None
        os.replace(self._tmp, self.path)
        return str(self.path)

    def discard(self) -> None:
        """Drop the temporary file: the store did not accept the file."""
        if self._handle is not None:
            self._handle.close()
            self._tmp.unlink(missing_ok=True)


# -- batches ----------------------------------------------------------------------------------


def load_batches(
    rows: Iterator[Row],
    compiled: CompiledMapping,
    load: FileLoad,
    quarantine: Quarantine,
    *,
    batch_size: int,
    resume_row: int = 0,
    on_progress: Callable[[], None] | None = None,
    skip_log: Quarantine | None = None,
) -> Iterator[BatchColumns]:
    """The file's batches; ``load``'s counts and ``last_row`` are kept current before each.

    Rows up to ``resume_row`` (committed by an earlier, killed run) are read and counted again,
    so duplicates and the quarantine come out exactly as in one run, but not sent again.
    Optional entities and relationships skipped on rows that are not rejected are counted in
    ``load.skipped`` (per entity, per reason) and listed, one line each, in ``skip_log``.
    """
    seen = Signatures()
    read = loaded = duplicate = rejected = 0
    skipped: dict[str, dict[str, int]] = {}
    builder = BatchBuilder()
    add = builder.add
    in_batch = 0
    row_no = resume_row

    def account() -> None:
        load.read, load.loaded, load.duplicate, load.rejected = (
            read, loaded, duplicate, rejected)
        load.last_row = max(row_no, load.last_row)
        load.quarantine = str(quarantine.path) if quarantine.used else None
        load.skipped = {label: dict(counts) for label, counts in skipped.items()}
        load.skip_log = str(skip_log.path) if skip_log is not None and skip_log.used else None

    for row_no, values, problem in rows:
        read += 1
        in_batch += 1
        try:
            if problem is not None:
                raise RowRejected(problem)
            ref, row_nodes, row_edges, signature, skips = compiled.row(values)
        except RowRejected as exc:
            rejected += 1
            quarantine.add(row_no, exc.reason, values)
        else:
            for label, bad in skips:  # usually none
                counts = skipped.setdefault(label, {})
                counts[bad.category] = counts.get(bad.category, 0) + 1
                if skip_log is not None:
                    skip_log.add(row_no, bad.reason, values)
            if signature in seen:
                duplicate += 1
            else:
                seen.add(signature)
                loaded += 1
                if row_no > resume_row:
                    add(row_no, ref, row_nodes, row_edges)
        if in_batch >= batch_size:
            if on_progress is not None:
                on_progress()
            if builder.sightings:
                account()
                yield builder.batch(row_no)
            in_batch = 0
    account()
    if builder.sightings:
        yield builder.batch(row_no)
    if on_progress is not None:
        on_progress()


class BatchBuilder:
    """Accepted rows merged into the batch being built, as the stores merge sightings
    (:func:`~ringmap.graphs.codec.merge_props`: later values overwrite, contact spans widen),
    and the rows that saw each item gathered per item; the batch comes out as columns
    (:class:`~ringmap.graphs.model.BatchColumns`), as the embedded store writes it and the
    engine's worker sends it, without a node or relationship object per item.

    The properties merged last into each item are remembered: the same remembered properties
    again (a subscriber on each of its logins) change nothing, so merging them is skipped.
    """

    __slots__ = ("_edges", "_nodes", "_refs", "sightings")

    def __init__(self) -> None:
        # per item: (a node's type,) its properties, the rows that saw it, the properties
        # merged into it last
        self._nodes: dict[str, list[Any]] = {}
        self._edges: dict[tuple[str, str, str], list[Any]] = {}
        self._refs: dict[int, str] = {}
        #: sightings in the batch so far
        self.sightings = 0

    def add(self, row_no: int, ref: str | None, row_nodes: Sequence[RowNode],
            row_edges: Sequence[RowEdge]) -> None:
        """Merge one accepted row: its reference, nodes and relationships."""
        nodes, edges = self._nodes, self._edges
        for nid, type_, props, _hash in row_nodes:
            node = nodes.get(nid)
            if node is None:  # ``props`` is remembered: copy
                nodes[nid] = [type_, dict(props), [row_no], props]
            else:
                node[2].append(row_no)
                if props and node[3] is not props:
                    merge_props(node[1], props)
                    node[3] = props
        for type_, src, dst, props, _hash in row_edges:
            key = (type_, src, dst)
            edge = edges.get(key)
            if edge is None:
                edges[key] = [dict(props), [row_no], props]
            else:
                edge[1].append(row_no)
                if props and edge[2] is not props:
                    merge_props(edge[0], props)
                    edge[2] = props
        if ref:
            self._refs[row_no] = ref
        self.sightings += len(row_nodes) + len(row_edges)

    def end(self, nid: str, type_: str) -> None:
        """A relationship's end seen on no row of the batch (the store needs it there)."""
        if nid not in self._nodes:
            self._nodes[nid] = [type_, {}, [], None]

    def batch(self, last_row: int) -> BatchColumns:
        """The batch built so far (covering rows up to ``last_row``); the next starts empty."""
        nodes, edges = self._nodes.values(), self._edges.values()
        keys = self._edges.keys()
        done = BatchColumns(
            list(self._nodes), list(map(_FIRST, nodes)), list(map(_SECOND, nodes)),
            list(map(_THIRD, nodes)), list(map(_FIRST, keys)), list(map(_SECOND, keys)),
            list(map(_THIRD, keys)), list(map(_FIRST, edges)), list(map(_SECOND, edges)),
            self._refs, last_row)
        self._nodes, self._edges, self._refs, self.sightings = {}, {}, {}, 0
        return done


_FIRST, _SECOND, _THIRD = itemgetter(0), itemgetter(1), itemgetter(2)
