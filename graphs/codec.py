"""Property values to and from JSON text, typed by the schema (datetimes round-trip)."""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, overload

import numpy as np

from ringmap.graphs.schema import SCHEMA

_loads = json.JSONDecoder().decode

__all__ = ["WIDENED", "Columns", "Texts", "datetime_props", "decode_many", "decode_props",
           "encode_props", "iso", "merge_props", "scan_columns"]


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    raise TypeError(f"cannot store a {type(value).__name__} as a property")


def encode_props(props: dict[str, Any]) -> str:
    """Canonical JSON of the non-null properties (sorted keys, datetimes as ISO 8601).

    Properties are mostly a few texts, numbers and datetimes: those are written here, each
    as the encoder writes it (ingest writes a statement per item and load), and anything
    else (a list, a set, a number that is not finite, a subclass) by the encoder.

    >>> from datetime import UTC, datetime
    >>> encode_props({"n": 1, "a": "é\\n", "t": datetime(2014, 5, 1, tzinfo=UTC),
    ...               "f": 0.5, "b": True, "x": None})
    '{"a":"é\\\\n","b":true,"f":0.5,"n":1,"t":"2014-05-01T00:00:00+00:00"}'
    """
    if not props:
        return "{}"
    names = tuple(props)
    parts: list[str] = []
    for name, head in _SHAPES.get(names) or _shape(names):
        value = props[name]
        kind = type(value)
        if kind is str:
            parts += head, _text(value)
        elif kind is datetime and value.tzinfo is UTC:
            parts += head, _ISO.get(value) or _iso(value)
        elif kind is datetime or kind is date:
            parts += head, f'"{value.isoformat()}"'
        elif kind is int:
            parts += head, int.__repr__(value)
        elif kind is bool:
            parts += head, "true" if value else "false"
        elif kind is float and math.isfinite(value):
            parts += head, float.__repr__(value)
        else:  # a null (left out), or a value the encoder writes
            return _encode({k: v for k, v in props.items() if v is not None})
    parts.append("}")
    return "".join(parts)


#: per tuple of property names, in the order a dict of properties holds them: the names in
#: sorted order, each with the JSON text before its value (``{"name":`` or ``,"name":``).
#: Properties come in a few shapes, one per mapping and type, so each is made once
_SHAPES: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
_SHAPES_SIZE = 1 << 12


def _shape(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    if len(_SHAPES) >= _SHAPES_SIZE:
        _SHAPES.clear()
    shape = _SHAPES[names] = tuple((name, ("," if i else "{") + _text(name) + ":")
                                   for i, name in enumerate(sorted(names)))
    return shape


#: UTC datetimes (as the engine makes them) written so far, as JSON texts: a time is written
#: once per item and load that states it (a login's time on its account's and its address's
#: relationships, again in each batch), and an aware datetime's ``isoformat`` costs more than
#: looking it up. Only UTC ones: equal datetimes in other zones are written differently
_ISO: dict[datetime, str] = {}
_ISO_SIZE = 1 << 16


def _iso(value: datetime) -> str:
    if len(_ISO) >= _ISO_SIZE:
        _ISO.clear()
    text = _ISO[value] = f'"{value.isoformat()}"'
    return text


def iso(value: datetime) -> str:
    """``value.isoformat()``, a UTC one kept for :func:`encode_props`: the Neo4j stores
    write an item's datetimes as values and again in its statement (the two were a tenth
    of the CPU of the bulk path's relationships' import files at 600 cells).

    >>> iso(datetime(2014, 5, 1, 5, 42, tzinfo=UTC)), iso(datetime(2014, 5, 1))
    ('2014-05-01T05:42:00+00:00', '2014-05-01T00:00:00')
    """
    if value.tzinfo is UTC and type(value) is datetime:
        return (_ISO.get(value) or _iso(value))[1:-1]
    return value.isoformat()


_encode = json.JSONEncoder(default=_default, sort_keys=True, ensure_ascii=False,
                           separators=(",", ":")).encode
#: a text as the encoder writes it (``ensure_ascii=False``)
_text: Callable[[str], str] = json.encoder.encode_basestring


@cache
def datetime_props(type_name: str) -> frozenset[str]:
    """Properties of an entity or relationship type that hold datetimes."""
    spec = SCHEMA.entities.get(type_name) or SCHEMA.relationships.get(type_name)
    if spec is None:
        return frozenset()
    return frozenset(n for n, p in spec.properties.items() if p.kind == "datetime")


def decode_props(type_name: str, text: str) -> dict[str, Any]:
    """Properties from :func:`encode_props` text, datetimes back as ``datetime``."""
    if text == "{}":  # most relationships carry no properties: skip the parser
        return {}
    return _typed(type_name, _loads(text))


def _typed(type_name: str, props: dict[str, Any]) -> dict[str, Any]:
    for name in datetime_props(type_name):
        value = props.get(name)
        if isinstance(value, str):
            props[name] = datetime.fromisoformat(value)
    return props


_BULK = 100_000  # texts parsed as one JSON array


def decode_many(type_names: Sequence[str], texts: Sequence[str]) -> list[dict[str, Any]]:
    """:func:`decode_props` of many texts (``type_names[i]`` the type of ``texts[i]``).

    Parsed as one JSON array per bulk of texts: one parser call instead of one per text,
    which takes a third of the time over a whole graph.

    >>> decode_many(["Account", "CONTACTED"], ['{"handle":"x"}',
    ...                                        '{"first_seen":"2014-05-01T05:42:00"}'])
    [{'handle': 'x'}, {'first_seen': datetime.datetime(2014, 5, 1, 5, 42)}]
    """
    found: list[dict[str, Any]] = []
    for start in range(0, len(texts), _BULK):
        found += _loads("[" + ",".join(texts[start:start + _BULK]) + "]")
    return [_typed(type_name, props) if datetime_props(type_name) else props
            for type_name, props in zip(type_names, found, strict=True)]


class Texts(Sequence[str]):
    """Texts held as UTF-8 in one buffer, text ``i`` the ``sizes[i]`` bytes from
    ``starts[i]``: the property texts of a whole case, millions of a few dozen bytes each,
    weighed twice their bytes as string objects (issue 16).

    >>> texts = Texts(bytearray(b'{}{"a":1}'), np.array([0, 2]), np.array([2, 7]))
    >>> texts[1], texts.take(np.array([1, 0]))[:]
    ('{"a":1}', ['{"a":1}', '{}'])
    """

    __slots__ = ("_buffer", "_sizes", "_starts")

    def __init__(self, buffer: bytes | bytearray, starts: np.ndarray, sizes: np.ndarray
                 ) -> None:
        self._buffer = buffer
        self._starts = starts
        self._sizes = sizes

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            buffer = self._buffer
            return [buffer[s:s + n].decode() for s, n in zip(
                self._starts[i].tolist(), self._sizes[i].tolist(), strict=True)]
        start = int(self._starts[i])
        return self._buffer[start:start + int(self._sizes[i])].decode()

    def __len__(self) -> int:
        return len(self._starts)

    def take(self, at: np.ndarray) -> Texts:
        """The texts at the positions ``at``, in their order (the buffer shared, not copied)."""
        return Texts(self._buffer, self._starts[at], self._sizes[at])


#: what :func:`scan_columns` reads: integer columns, names, texts
Columns = tuple[list[np.ndarray], list[str], Texts]


def scan_columns(rows: Iterable[tuple[Any, ...]], ints: int) -> Columns:
    """Rows of ``ints`` integers (1 or 3), a name and a text as UTF-8 bytes, as columns:
    the integers as arrays, the names one string object per distinct name, the texts in one
    buffer (a string object per text weighed twice its bytes): how a store reads a whole
    case's items (:meth:`~ringmap.graphs.store.Store.packed`). One loop per shape of row: a
    loop over each row's values took a third of the read of the whole case (issue 16).

    >>> (ids,), names, texts = scan_columns([(7, "Phone", b"{}"), (9, "Phone", b'{"a":1}')], 1)
    >>> ids.tolist(), names, texts[:]
    ([7, 9], ['Phone', 'Phone'], ['{}', '{"a":1}'])
    """
    numbers = [array("q") for _ in range(ints)]
    names: list[str] = []
    sizes, buffer, distinct = array("q"), bytearray(), dict[str, str]()
    name, size, text, one = names.append, sizes.append, buffer.extend, distinct.setdefault
    first = numbers[0].append
    if ints == 1:
        for a, n, t in rows:
            first(a), name(one(n, n)), size(len(t)), text(t)
    else:
        second, third = numbers[1].append, numbers[2].append
        for a, b, c, n, t in rows:
            first(a), second(b), third(c), name(one(n, n)), size(len(t)), text(t)
    lengths = np.frombuffer(sizes, dtype=np.int64)
    return ([np.frombuffer(column, dtype=np.int64) for column in numbers], names,
            Texts(buffer, np.cumsum(lengths) - lengths, lengths.astype(np.int32)))


_EARLIEST = "first_seen"
_LATEST = "last_seen"
_LARGEST = "count"
#: properties that repeated sightings widen (a time span, a count) instead of replacing
WIDENED = frozenset({_EARLIEST, _LATEST, _LARGEST})


def merge_props(into: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Merge a new sighting's properties into ``into`` (in place; returned for chaining).

    Non-null values overwrite, except that ``first_seen`` keeps the earliest, ``last_seen``
    the latest and ``count`` the largest value seen, so repeated sightings of a contact or
    login widen its time span instead of replacing it.

    >>> merge_props({"first_seen": 1, "last_seen": 5, "count": 3},
    ...             {"first_seen": 0, "last_seen": 4, "count": 2, "channel": "sms"})
    {'first_seen': 0, 'last_seen': 5, 'count': 3, 'channel': 'sms'}
    """
    for key, value in new.items():
        if value is None:
            continue
        old = into.get(key)
        if old is None or type(old) is not type(value):
            into[key] = value
        elif key == _EARLIEST:
            into[key] = min(old, value)
        elif key in (_LATEST, _LARGEST):
            into[key] = max(old, value)
        else:
            into[key] = value
    return into
