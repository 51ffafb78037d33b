"""Nested evidence documents: XML and JSON reports read one record (report) at a time.

Platform disclosures and CyberTipline-style reports are documents, not tables: one report names
several accounts, uploaded files (by reference), IP addresses, an incident time and the
reporting platform. A mapping with ``source.format: xml`` or ``json`` says where the reports
are (``source.records``) and reads each value through a *path* relative to the report
(``docs/mappings.md``, "Nested reports"):

- XML: steps separated by ``/`` (``reportedPerson/espIdentifier``), matched on local names
  (a ``ns:`` prefix is ignored); a last step ``@name`` reads an attribute; a step takes the
  first matching element, or every one with ``[*]`` (``uploadedFiles/file[*]/fileName``).
- JSON: steps separated by ``.`` (``reporter.platform``); ``[*]`` steps into every item of a
  list (``accounts[*].handle``).

A path with ``[*]`` *fans out*: its values reach the engine in one cell joined by
:data:`FANOUT`, and the mapping splits that cell into one entity (and one link) per value, so
a report becomes one Report with all its links. A record's row number is the line its element
starts on (XML) or its position among the records, from 1 (JSON).

XML is parsed by the standard library's expat, streamed; a document with a DOCTYPE or an
entity declaration is refused with one line (no entity expansion, no external entity can
happen). JSON documents are read whole, up to ``source.limits.document_bytes``.

>>> steps = parse_path("uploadedFiles/file[*]/@id", "xml")
>>> [(s.name, s.every) for s in steps]
[('uploadedFiles', False), ('file', True), ('@id', False)]
>>> values_at({"accounts": [{"handle": "a"}, {"handle": "b"}]},
...           parse_path("accounts[*].handle", "json"))
['a', 'b']
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal
from xml.parsers import expat

from ringmap.errors import InputError
from ringmap.ingest.mapping import SourceSpec
from ringmap.ingest.readers import Row, Table, _cut, _depth, _json_text, _text

__all__ = ["FANOUT", "NestedFormat", "Step", "fans_out", "open_nested", "parse_path",
           "path_problem", "values_at"]

NestedFormat = Literal["xml", "json"]

#: Joins the values of a fanned-out path in one cell (the mapping splits on it); a value
#: holding it is refused, so no report can fan out a value of its own.
FANOUT = "\x1f"
_EVERY = "[*]"
_XML_NAME = re.compile(r"@?[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?")
_JSON_STEP = re.compile(r"[^.\[\]]+")
#: the first records searched for each mapped path (a path in none of them is a typo)
_SAMPLE_RECORDS = 1000
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a path: a name (``@name``: an XML attribute) and whether it fans out."""

    name: str
    every: bool


def path_problem(path: str, fmt: NestedFormat) -> str | None:
    """Why ``path`` is not a path of ``fmt``, or ``None``.

    >>> path_problem("a//b", "xml")
    "empty step in path 'a//b'"
    """
    parts = path.split("/" if fmt == "xml" else ".")
    for i, part in enumerate(parts):
        name = part.removesuffix(_EVERY)
        if not name:
            return f"empty step in path {path!r}"
        if fmt == "xml":
            if not _XML_NAME.fullmatch(name):
                return f"{name!r} is not an element name or @attribute (path {path!r})"
            if name.startswith("@") and (i < len(parts) - 1 or part.endswith(_EVERY)):
                return f"an @attribute is the last step of a path, once (path {path!r})"
        elif not _JSON_STEP.fullmatch(name):
            return f"{name!r} is not a key, optionally followed by [*] (path {path!r})"
    return None


def parse_path(path: str, fmt: NestedFormat) -> tuple[Step, ...]:
    """The steps of a path (checked by :func:`path_problem`)."""
    problem = path_problem(path, fmt) if path else None
    if problem is not None:
        raise ValueError(problem)
    if not path:
        return ()
    return tuple(Step(p.removesuffix(_EVERY), p.endswith(_EVERY))
                 for p in path.split("/" if fmt == "xml" else "."))


def fans_out(path: str) -> bool:
    """Whether a path may give several values."""
    return _EVERY in path


# -- XML ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Element:
    """An element of a record: local name, attributes, its own text and its children."""

    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)
    children: list[_Element] = field(default_factory=list)


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _xml_values(record: _Element, steps: Sequence[Step]) -> list[str]:
    current = [record]
    for step in steps:
        if step.name.startswith("@"):
            attr = step.name[1:]
            return [e.attrs[attr] for e in current if attr in e.attrs]
        found: list[_Element] = []
        for element in current:
            kids = [c for c in element.children if c.tag == step.name]
            found.extend(kids if step.every else kids[:1])
        current = found
    return ["".join(e.text) for e in current]


class _Refused(Exception):
    """The document declares what is never read (a DOCTYPE, an entity)."""


class _XmlRecords:
    """Streams the record elements of an XML document through expat."""

    def __init__(self, records: tuple[Step, ...], source: SourceSpec) -> None:
        self.records = [s.name for s in records]
        self.limits = source.limits
        self.parser = expat.ParserCreate()
        self.parser.buffer_text = True
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartDoctypeDeclHandler = self._refuse
        self.parser.EntityDeclHandler = self._refuse
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._data
        self.stack: list[str] = []
        self.open: list[_Element] = []  # the record being read, outermost first
        self.line = 0
        self.chars = 0
        self.done: list[tuple[int, _Element | None, str | None]] = []

    def _refuse(self, *_args: Any) -> None:
        raise _Refused

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        self.stack.append(_local(name))
        if len(self.stack) > self.limits.json_depth:
            raise InputError(f"elements nested deeper than source.limits.json_depth "
                             f"({self.limits.json_depth})")
        if not self.open and self.stack == self.records:
            self.line, self.chars = self.parser.CurrentLineNumber, 0
            self.open.append(_Element(_local(name), {_local(k): v for k, v in attrs.items()}))
        elif self.open:
            self.chars += sum(len(k) + len(v) for k, v in attrs.items()) + len(name)
            element = _Element(_local(name), {_local(k): v for k, v in attrs.items()})
            self.open[-1].children.append(element)
            self.open.append(element)

    def _data(self, text: str) -> None:
        if self.open:
            self.chars += len(text)
            if self.chars <= self.limits.record_chars:
                self.open[-1].text.append(text)

    def _end(self, _name: str) -> None:
        self.stack.pop()
        if not self.open:
            return
        element = self.open.pop()
        if not self.open:
            if self.chars > self.limits.record_chars:
                self.done.append((self.line, None, f"record longer than "
                                  f"source.limits.record_chars ({self.limits.record_chars})"))
            else:
                self.done.append((self.line, element, None))

    def feed(self, text: str, final: bool = False) -> list[tuple[int, _Element | None, str | None]]:
        """Parse more of the document; the records completed by it."""
        self.parser.Parse(text, final)
        done, self.done = self.done, []
        return done


def _xml_records(path: Path, handle: IO[str], records: tuple[Step, ...], source: SourceSpec
                 ) -> Iterator[tuple[int, _Element | None, str | None]]:
    reader = _XmlRecords(records, source)
    try:
        while chunk := handle.read(_CHUNK):
            yield from reader.feed(chunk)
        yield from reader.feed("", final=True)
    except _Refused:
        raise InputError(f"{path}: XML with a DOCTYPE or entity declaration is refused "
                         "(entity expansion and external entities are never read)") from None
    except expat.ExpatError as exc:
        raise InputError(f"{path}: malformed XML at line {exc.lineno}, column "
                         f"{exc.offset + 1}: {expat.errors.messages[exc.code]}") from None
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


# -- JSON --------------------------------------------------------------------------------------


def values_at(obj: Any, steps: Sequence[Step]) -> list[Any]:
    """The values at a JSON path: ``[*]`` steps into every item of a list; a missing key or
    a step into something that is no object gives nothing."""
    current = [obj]
    for step in steps:
        found: list[Any] = []
        for item in current:
            if not isinstance(item, dict) or step.name not in item:
                continue
            value = item[step.name]
            if step.every:
                found.extend(value if isinstance(value, list) else [value])
            else:
                found.append(value)
        current = found
    return current


def _json_records(path: Path, handle: IO[str], records: tuple[Step, ...], source: SourceSpec
                  ) -> Iterator[tuple[int, Any, str | None]]:
    limits = source.limits
    text = handle.read(limits.document_bytes + 1)
    if len(text) > limits.document_bytes:
        raise InputError(f"{path}: a JSON document longer than source.limits.document_bytes "
                         f"({limits.document_bytes}) characters")
    try:
        document = json.loads(text)
    except RecursionError:
        raise InputError(f"{path}: JSON nested deeper than source.limits.json_depth "
                         f"({limits.json_depth})") from None
    except ValueError as exc:
        raise InputError(f"{path}: malformed JSON: {exc}") from None
    del text
    if _depth(document) > limits.json_depth:
        raise InputError(f"{path}: JSON nested deeper than source.limits.json_depth "
                         f"({limits.json_depth})")
    found = values_at(document, records)
    items = found[0] if len(found) == 1 and isinstance(found[0], list) else found
    for number, item in enumerate(items, start=1):
        yield number, item, None if isinstance(item, dict) else (
            f"a record is not a JSON object but {type(item).__name__}")


# -- the table ---------------------------------------------------------------------------------


def _cell(values: list[str], every: bool) -> str | bool | None:
    """One cell from a path's values: all joined for a fanned-out path, else the first;
    ``False`` when a value holds :data:`FANOUT`."""
    texts = [t.strip() for t in values]
    if any(FANOUT in t for t in texts):
        return False
    texts = [t for t in texts if t]
    if not texts:
        return None
    return FANOUT.join(texts) if every else texts[0]


def _rows(path: Path, records: Iterator[tuple[int, Any, str | None]], columns: list[str],
          steps: list[tuple[Step, ...]], fmt: NestedFormat, source: SourceSpec
          ) -> Iterator[Row]:
    blank: list[str | None] = [None] * len(columns)
    for row_no, record, problem in records:
        if problem is not None or record is None:
            yield row_no, blank, problem or "empty record"
            continue
        values: list[str | None] = []
        bad = None
        for column, walk in zip(columns, steps, strict=True):
            found = (_xml_values(record, walk) if fmt == "xml"
                     else [t for v in values_at(record, walk) if (t := _json_text(v))])
            cell = _cell(found, fans_out(column))
            if cell is False:
                bad = bad or f"{column}: a value holds the control character U+001F"
                cell = None
            values.append(cell if isinstance(cell, str) else None)
        yield row_no, values, bad or _cut(values, columns, source.limits.field_chars)


def _records(fmt: NestedFormat, path: Path, handle: IO[str], source: SourceSpec
             ) -> Iterator[tuple[int, Any, str | None]]:
    records = parse_path(source.records or "", fmt)
    if fmt == "xml":
        return _xml_records(path, handle, records, source)
    return _json_records(path, handle, records, source)


def _check(path: Path, fmt: NestedFormat, source: SourceSpec, columns: list[str],
           steps: list[tuple[Step, ...]]) -> None:
    """Read the whole document once (so that a malformed or refused one fails before
    anything is loaded); a mapped path in none of the first records is missing."""
    missing = dict.fromkeys(columns)
    count = 0
    with path.open("rb") as raw, _text(raw, source) as handle:
        for _row, record, problem in _records(fmt, path, handle, source):
            count += 1
            if count > _SAMPLE_RECORDS or problem is not None or not missing:
                continue
            for column, walk in zip(columns, steps, strict=True):
                found = (_xml_values(record, walk) if fmt == "xml"
                         else values_at(record, walk))
                if column in missing and found:
                    del missing[column]
    if count and missing:
        raise InputError(f"{path}: path(s) named in the mapping found in none of the first "
                         f"{min(count, _SAMPLE_RECORDS)} records: {', '.join(missing)}")


@contextmanager
def open_nested(fmt: NestedFormat, path: Path, source: SourceSpec, needed: Sequence[str]
                ) -> Iterator[Table]:
    """Open an XML or JSON document as a table of its records (see the module docstring):
    the columns are the mapped paths, one row per record.

    Raises
    ------
    InputError
        The document is malformed, declares a DOCTYPE or entities (XML), nests deeper than
        ``source.limits.json_depth``, is longer than ``source.limits.document_bytes`` (JSON),
        or holds none of a mapped path in its first records.
    """
    columns = list(dict.fromkeys(needed))
    steps = [parse_path(c, fmt) for c in columns]
    _check(path, fmt, source, columns, steps)
    with path.open("rb") as raw, _text(raw, source) as handle:
        yield Table(path, columns,
                    _rows(path, _records(fmt, path, handle, source), columns, steps, fmt,
                          source),
                    size=path.stat().st_size, position=raw.tell)
