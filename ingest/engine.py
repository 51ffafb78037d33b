"""Rows to normalised nodes, relationships and sightings, with row accounting and quarantine.

A mapping is compiled once into tuples of closures (:func:`compile_mapping`), so the per-row path
does no validation, no schema look-ups and no pydantic: it reads cells, normalises them and
builds node ids. Evidence repeats the same identifiers many times, so each entity's result is
remembered per distinct combination of the cells it reads, and each converted value per raw text.

Values are stored as the schema's kinds: text, ``int``, ``float``, ``bool``, and datetimes as
timezone-aware UTC :class:`~datetime.datetime` (naive input is taken as UTC; the stores keep
them as ISO 8601 and give back the same ``datetime``).

Every row read is counted once: ``read = loaded + duplicate + rejected``; rejected rows go to the
quarantine with their reason. A file is loaded in :class:`~ringmap.graphs.model.Batch`\\ es whose
``last_row`` lets a store that commits per batch resume exactly after a kill.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

from ringmap.errors import NormalisationError
from ringmap.fileio import make_dirs, open_private
from ringmap.graphs.codec import merge_props
from ringmap.graphs.model import Batch, Edge, FileLoad, Node, Sighting, edge_id
from ringmap.graphs.normalise import NORMALISERS, Context, card_fields
from ringmap.graphs.schema import SCHEMA, PropertySpec, node_id
from ringmap.ingest.mapping import CARD_FIELDS, CARD_NUMBER, ValueSpec
from ringmap.ingest.mapping import Mapping as MappingSpec
from ringmap.ingest.readers import Row
from ringmap.privacy import key_problem
from ringmap.tabular import neutralise

__all__ = ["CompiledMapping", "Quarantine", "RowRejected", "compile_mapping", "load_batches",
           "mask_digits"]

Values = Sequence[str | None]

#: Entries a memo (of converted values, entities or relationship properties) holds before it
#: starts over: bounds memory on files with millions of distinct values.
_CACHE_SIZE = 1 << 17
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


class RowRejected(Exception):
    """A row cannot be loaded; ``reason`` says why (never quoting a card number)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Bad:
    reason: str


_MISS = object()


def mask_digits(text: str) -> str:
    """Every digit but the last four replaced by ``*`` (for card numbers shown anywhere).

    >>> mask_digits("4111 1111 1111 1111")
    '**** **** **** 1111'
    """
    total = sum(ch.isdigit() for ch in text)
    out = []
    seen = 0
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - 4 else "*")
        else:
            out.append(ch)
    return "".join(out)


# -- value conversion -------------------------------------------------------------------------


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _to_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        number = _to_float(text)
        if not number.is_integer():
            raise NormalisationError(f"{_shown(text)} is not a whole number") from None
        return int(number)


def _to_float(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        try:
            number = float(text.replace(",", "").replace(" ", ""))
        except ValueError:
            raise NormalisationError(f"{_shown(text)} is not a number") from None
    if not math.isfinite(number):
        raise NormalisationError(f"{_shown(text)} is not a finite number")
    return number


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise NormalisationError(f"{_shown(text)} is not true/false/yes/no/1/0")


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
            raise NormalisationError(f"{_shown(text)} is not a date/time in {expected}") from None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    return parse


_KINDS: dict[str, Callable[[str], Any]] = {"int": _to_int, "float": _to_float, "bool": _to_bool}


def _converter(prop: PropertySpec, spec: ValueSpec, ctx: Context) -> Callable[[str], Any] | None:
    """The text → value function of one property, or ``None`` when the text is the value."""
    steps: list[Callable[[str], Any]] = []
    if prop.normaliser is not None:
        normaliser = NORMALISERS[prop.normaliser]
        steps.append(lambda text: normaliser(text, ctx))
    if prop.kind == "datetime":
        steps.append(_datetime_parser(spec.format))
    elif prop.kind in _KINDS:
        steps.append(_KINDS[prop.kind])
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]
    first, second = steps
    return lambda text: second(first(text))


def _card_converter(key: bytes) -> Callable[[str], dict[str, str]]:
    def convert(text: str) -> dict[str, str]:
        fields = card_fields(text, key)
        return {name: getattr(fields, name) for name in CARD_FIELDS}

    return convert


def _cached(func: Callable[[str], Any], label: str,
            cache: dict[str, Any]) -> Callable[[str], Any]:
    """``func`` remembered per raw text in ``cache`` (shared by values converted alike); a
    failure raises :class:`RowRejected` naming ``label``."""

    def convert(text: str) -> Any:
        value = cache.get(text, _MISS)
        if value is _MISS:
            try:
                value = func(text)
            except NormalisationError as exc:
                value = _Bad(str(exc))
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[text] = value
        if type(value) is _Bad:
            raise RowRejected(f"{label}: {value.reason}")
        return value

    return convert


# -- reading values ---------------------------------------------------------------------------


def _literal_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _reader(spec: ValueSpec, index: Mapping[str, int]) -> Callable[[Values], str | None]:
    """The function that takes a row's value for ``spec`` (stripped; blank → default)."""
    default = spec.default
    if spec.column is not None:
        i = index[spec.column]
        return lambda row: (row[i].strip() if row[i] else None) or default  # type: ignore[union-attr]
    if spec.literal is not None:
        fixed = _literal_text(spec.literal).strip() or default
        return lambda row: fixed
    assert spec.template is not None
    pieces = [(text, None if field is None else index[field])
              for text, field, _spec, _conv in string.Formatter().parse(spec.template)]

    def render(row: Values) -> str | None:
        out = []
        found = False
        for text, i in pieces:
            out.append(text)
            if i is not None:
                cell = row[i]
                if cell and cell.strip():
                    out.append(cell)
                    found = True
        return " ".join("".join(out).split()) if found else default

    return render


@dataclass(frozen=True, slots=True)
class _Value:
    name: str
    read: Callable[[Values], str | None]
    convert: Callable[[str], Any] | None
    expand: bool = False  # the value is a dict of properties (a card number's fields)


@dataclass(frozen=True, slots=True)
class _Entity:
    local: str
    type: str
    optional: bool
    key_inputs: tuple[_Value, ...]
    key_names: tuple[str, ...]
    others: tuple[_Value, ...]
    cells: Callable[[Values], Any]  # the raw cells the entity reads: its memo key


@dataclass(frozen=True, slots=True)
class _Link:
    type: str
    source: int
    target: int
    props: tuple[_Value, ...]
    cells: Callable[[Values], Any]  # the raw cells its properties read: its memo key
    spec: str  # links whose properties are mapped alike share one memo


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
_SKIPPED = None


def _remember(memo: dict[Any, Any], key: Any, compute: Callable[[Any, Values], Any],
              item: Any, row: Values) -> Any:
    """``compute(item, row)`` stored in ``memo`` under ``key``; a rejection is stored too."""
    try:
        found = compute(item, row)
    except RowRejected as exc:
        found = _Bad(exc.reason)
    if len(memo) >= _CACHE_SIZE:
        memo.clear()
    memo[key] = found
    return found


class CompiledMapping:
    """A mapping turned into closures over one table's column positions.

    Build it with :func:`compile_mapping`; :meth:`row` turns one row's values into the row's
    reference, nodes and relationships, or raises :class:`RowRejected`. Each entity's result
    (and each relationship's properties) is remembered per distinct combination of the cells
    it reads, since evidence repeats the same subscriber, device or victim on many rows.
    """

    def __init__(self, ref: Callable[[Values], str | None] | None, entities: list[_Entity],
                 links: list[_Link]) -> None:
        self._ref = ref
        self._entities: tuple[tuple[_Entity, dict[Any, Any]], ...] = tuple(
            (entity, {}) for entity in entities)
        memos: dict[str, dict[Any, Any]] = {}
        self._links: tuple[tuple[_Link, dict[Any, Any]], ...] = tuple(
            (link, memos.setdefault(link.spec, {})) for link in links)

    def row(self, row: Values) -> tuple[str | None, list[RowNode], list[RowEdge], int]:
        """The reference, nodes ``(id, type, props, hash)``, edges ``(type, src, dst, props,
        hash)`` and a hash of it all (equal rows, equal hashes); :class:`RowRejected` if the
        row cannot be loaded."""
        ref = self._ref(row) if self._ref else None
        ids: list[str | None] = []
        nodes: list[RowNode] = []
        hashes: list[Any] = [ref]
        for entity, memo in self._entities:
            key = entity.cells(row)
            found = memo.get(key, _MISS)
            if found is _MISS:
                found = _remember(memo, key, _entity_node, entity, row)
            if found is _SKIPPED:
                ids.append(None)
            elif type(found) is _Bad:
                raise RowRejected(found.reason)
            else:
                ids.append(found[0])
                nodes.append(found)
                hashes.append(found[3])
        if not nodes:
            raise RowRejected("nothing to load: every entity's key is blank")
        edges: list[RowEdge] = []
        for link, memo in self._links:
            src, dst = ids[link.source], ids[link.target]
            if src is not None and dst is not None:
                key = link.cells(row)
                found = memo.get(key, _MISS)
                if found is _MISS:
                    found = _remember(memo, key, _link_props, link, row)
                if type(found) is _Bad:
                    raise RowRejected(found.reason)
                edges.append((link.type, src, dst, *found))
                hashes.append(found[1])
        return ref, nodes, edges, hash(tuple(hashes))


def _entity_node(entity: _Entity, row: Values) -> RowNode | None:
    """One entity of a row; ``None`` when it is optional and its keys are blank."""
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
        raise RowRejected(f"{entity.local}.{blank}: blank key")
    _props(entity.others, row, props)
    nid = node_id(entity.type, [props[k] for k in entity.key_names])
    problem = key_problem(entity.type, nid)
    if problem is not None:
        raise RowRejected(f"{entity.local}: {problem}")
    return nid, entity.type, props, hash((nid, *props.items()))


def _link_props(link: _Link, row: Values) -> tuple[dict[str, Any], int]:
    """A relationship's properties in a row, with their hash."""
    props: dict[str, Any] = {}
    _props(link.props, row, props)
    return props, hash(tuple(props.items()))


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
        The hashing key for card numbers; needed when the mapping maps a card ``number``.
    """
    region = mapping.source.default_region
    ctx = Context(default_region=region) if region else Context()
    caches: dict[tuple[Any, ...], dict[str, Any]] = {}

    def value(name: str, label: str, vspec: ValueSpec, prop: PropertySpec | None) -> _Value:
        """One mapped value; values converted alike share one cache of results."""
        read = _reader(vspec, index)
        if prop is None:  # a card number
            if card_key is None:
                raise ValueError("compile_mapping needs card_key for a card number")
            cache = caches.setdefault(("card",), {})
            return _Value(name, read, _cached(_card_converter(card_key), label, cache), True)
        convert = _converter(prop, vspec, ctx)
        if convert is None:
            return _Value(name, read, None)
        cache = caches.setdefault((prop.normaliser, prop.kind, vspec.format), {})
        return _Value(name, read, _cached(convert, label, cache))

    entities: list[_Entity] = []
    positions: dict[str, int] = {}
    for local, spec in mapping.entities.items():
        etype = SCHEMA.entity(spec.type)
        keys: list[_Value] = []
        others: list[_Value] = []
        for name, vspec in spec.properties.items():
            is_card = name == CARD_NUMBER and spec.type == "PaymentCard"
            made = value(name, f"{local}.{name}", vspec,
                         None if is_card else etype.properties[name])
            (keys if is_card or name in etype.keys else others).append(made)
        columns = sorted({index[c] for v in spec.properties.values() for c in v.columns()})
        positions[local] = len(entities)
        entities.append(_Entity(local, spec.type, spec.optional, tuple(keys), etype.keys,
                                tuple(others), _cells(columns)))
    links = []
    for rel in mapping.relationships:
        rtype = SCHEMA.relationship(rel.type)
        values = tuple(value(name, f"{rel.type}.{name}", vspec, rtype.properties[name])
                       for name, vspec in rel.properties.items())
        columns = sorted({index[c] for v in rel.properties.values() for c in v.columns()})
        shape = json.dumps({n: v.model_dump(mode="json") for n, v in rel.properties.items()},
                           sort_keys=True)
        links.append(_Link(rel.type, positions[rel.source], positions[rel.target], values,
                           _cells(columns), shape))
    ref = mapping.source.reference
    return CompiledMapping(None if ref is None else _reader(ref, index), entities, links)


# -- quarantine -------------------------------------------------------------------------------


class Quarantine:
    """Rejected rows as CSV (row, reason, original columns), written to a temporary file and
    moved into place by :meth:`commit` only once the store has accepted the file.

    Cells are neutralised against spreadsheet formulas; card-number columns are masked.
    """

    def __init__(self, path: Path, columns: Sequence[str], masked: Sequence[int] = ()) -> None:
        self.path = path
        self._columns = list(columns)
        self._masked = frozenset(masked)
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self._handle: TextIO | None = None
        self._writer: Any = None

    def add(self, row: int, reason: str, values: Values) -> None:
        """Quarantine one row."""
        if self._writer is None:
            make_dirs(self.path.parent)
            self._handle = os.fdopen(open_private(self._tmp), "w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle, lineterminator="\n")
            self._writer.writerow([neutralise(c) for c in ("row", "reason", *self._columns)])
        cells = [mask_digits(v) if i in self._masked and v else v for i, v in enumerate(values)]
        self._writer.writerow([str(row), neutralise(reason), *map(neutralise, cells)])

    @property
    def used(self) -> bool:
        """Whether any row was quarantined."""
        return self._handle is not None

    def commit(self) -> str | None:
        """Move the quarantine into place (durably); its path, or ``None`` if no row."""
        if self._handle is None:
            return None
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
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
) -> Iterator[Batch]:
    """The file's batches; ``load``'s counts and ``last_row`` are kept current before each.

    Rows up to ``resume_row`` (committed by an earlier, killed run) are read and counted again,
    so duplicates and the quarantine come out exactly as in one run, but not sent again.
    """
    seen: set[int] = set()
    read = loaded = duplicate = rejected = 0
    nodes: dict[str, Node] = {}
    edges: dict[str, Edge] = {}
    sightings: list[Sighting] = []
    in_batch = 0
    row_no = resume_row

    def account() -> None:
        load.read, load.loaded, load.duplicate, load.rejected = (
            read, loaded, duplicate, rejected)
        load.last_row = max(row_no, load.last_row)
        load.quarantine = str(quarantine.path) if quarantine.used else None

    for row_no, values, problem in rows:
        read += 1
        in_batch += 1
        try:
            if problem is not None:
                raise RowRejected(problem)
            ref, row_nodes, row_edges, signature = compiled.row(values)
        except RowRejected as exc:
            rejected += 1
            quarantine.add(row_no, exc.reason, values)
        else:
            if signature in seen:
                duplicate += 1
            else:
                seen.add(signature)
                loaded += 1
                if row_no > resume_row:
                    _add(nodes, edges, sightings, row_no, ref, row_nodes, row_edges)
        if in_batch >= batch_size:
            if on_progress is not None:
                on_progress()
            if sightings:
                account()
                yield Batch(list(nodes.values()), list(edges.values()), sightings, row_no)
                nodes, edges, sightings = {}, {}, []
            in_batch = 0
    account()
    if sightings:
        yield Batch(list(nodes.values()), list(edges.values()), sightings, row_no)
    if on_progress is not None:
        on_progress()


def _add(nodes: dict[str, Node], edges: dict[str, Edge], sightings: list[Sighting],
         row_no: int, ref: str | None, row_nodes: list[RowNode],
         row_edges: list[RowEdge]) -> None:
    """Merge one accepted row into the batch being built, as the stores merge sightings
    (:func:`~ringmap.graphs.codec.merge_props`: later values overwrite, contact spans widen)."""
    for nid, type_, props, _hash in row_nodes:
        node = nodes.get(nid)
        if node is None:
            nodes[nid] = Node(nid, type_, dict(props))  # ``props`` is remembered: copy
        elif props:
            merge_props(node.props, props)
        sightings.append(Sighting(nid, row_no, ref))
    for type_, src, dst, props, _hash in row_edges:
        eid = edge_id(type_, src, dst)
        edge = edges.get(eid)
        if edge is None:
            edges[eid] = Edge(type_, src, dst, dict(props))
        elif props:
            merge_props(edge.props, props)
        sightings.append(Sighting(eid, row_no, ref))
