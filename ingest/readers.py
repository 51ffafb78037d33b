"""Readers for evidence tables: CSV, XLSX and JSON lines, streamed row by row.

Each reader yields ``(row_number, values, problem)``: ``values`` lines up with the table's
``columns`` (text or ``None`` for a blank cell), ``problem`` is ``None`` or why the row cannot be
read at all (a malformed JSON line). Row numbers are 1-based as a person counts them in the file:
the sheet/CSV record number (the header is ``header_row``), or the line number for JSON lines.
Blank rows are skipped but keep their numbers.

:func:`scan_file` hashes a file and, for text formats, checks its encoding in the same pass, so
that a wrong encoding is reported before anything is written.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import partial
from itertools import islice
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from pydantic import ValidationError

from ringmap.errors import InputError, RingmapError
from ringmap.fileio import excerpt
from ringmap.ingest.mapping import (
    Mapping,
    ReadLimits,
    SourceFormat,
    SourceSpec,
    load_mapping,
    shown_columns,
)

__all__ = ["Table", "header_of", "json_lines", "load_mapping_for", "open_table", "scan_file",
           "source_format"]

Row = tuple[int, list[str | None], str | None]

_EXTENSIONS: dict[str, SourceFormat] = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".xlsx": "xlsx", ".xlsm": "xlsx",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}
_CHUNK = 1 << 20
#: JSON lines have no header: a mapped path found in none of the first lines is missing.
_JSONL_SAMPLE_LINES = 1000


def source_format(path: Path, source: SourceSpec) -> SourceFormat:
    """The format to read ``path`` as: the mapping's, else the file extension's."""
    if source.format is not None:
        return source.format
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise InputError(f"{path}: cannot tell the format from the extension "
                         f"{path.suffix or '(none)'}; set source.format in the mapping")
    return found


def _text_encoding(source: SourceSpec) -> str:
    """The codec to read text with: a UTF-8 byte-order mark is accepted and dropped."""
    name = codecs.lookup(source.encoding).name
    return "utf-8-sig" if name == "utf-8" else source.encoding


def scan_file(path: Path, encoding: str | None) -> str:
    """SHA-256 of the file; with ``encoding``, also check that every byte decodes.

    Raises
    ------
    InputError
        The file cannot be read, or (naming the byte offset) does not decode.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)("strict") if encoding else None
    offset = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                if decoder is not None:
                    pending = len(decoder.getstate()[0])
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError as exc:
                        raise _decode_error(path, encoding, offset - pending + exc.start,
                                            exc) from None
                offset += len(chunk)
            if decoder is not None:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError as exc:
                    raise _decode_error(path, encoding, offset - len(exc.object) + exc.start,
                                        exc) from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return digest.hexdigest()


def _decode_error(path: Path, encoding: str | None, offset: int,
                  exc: UnicodeDecodeError) -> InputError:
    bad = exc.object[exc.start:exc.start + 1].hex()
    return InputError(f"{path} is not valid {encoding}: byte 0x{bad} at byte offset {offset} "
                      f"({exc.reason}); set source.encoding in the mapping")


@dataclass
class Table:
    """An open evidence table: its columns and a stream of rows.

    ``columns`` are the names shown in the quarantine (the header of a CSV/XLSX file, the mapped
    paths of JSON lines); ``position()`` is progress so far in the units of ``size`` (bytes of
    a text file, rows of a workbook).
    """

    path: Path
    columns: list[str]
    rows: Iterator[Row]
    size: int
    position: Callable[[], int]

    @property
    def index(self) -> dict[str, int]:
        """Position of each column (the first, when a header repeats a name)."""
        found: dict[str, int] = {}
        for i, name in enumerate(self.columns):
            found.setdefault(name, i)
        return found

    def require(self, needed: Sequence[str]) -> None:
        """:class:`InputError` listing every needed column the table lacks or names twice."""
        have = self.index
        missing = [c for c in needed if c not in have]
        if missing:
            raise InputError(f"{self.path}: missing column(s) named in the mapping: "
                             f"{', '.join(missing)} (file has: {shown_columns(self.columns)})")
        twice = [c for c in dict.fromkeys(needed) if self.columns.count(c) > 1]
        if twice:  # which of the two the mapping means cannot be told
            raise InputError(f"{self.path}: the header names column(s) the mapping reads more "
                             f"than once: {', '.join(map(excerpt, twice))}")


@contextmanager
def open_table(path: Path, source: SourceSpec, needed: Sequence[str]) -> Iterator[Table]:
    """Open ``path`` for reading as the mapping's source says; check the needed columns.

    Parameters
    ----------
    path
        The evidence file.
    source
        The mapping's source section (format, encoding, sheet, header row, limits).
    needed
        Columns (dotted paths for JSON lines) the mapping reads.

    Raises
    ------
    InputError
        The file cannot be opened, has no header, lacks needed columns, or breaks one of
        ``source.limits`` in its shape (a CSV record spanning too many lines, too many
        columns, an oversized workbook part). A row that breaks a limit on its own (a value
        too long, JSON nested too deep) is not an error: it comes with its problem.
    """
    fmt = source_format(path, source)
    if fmt in ("xml", "json"):
        from ringmap.ingest.nested import open_nested  # nested builds on this module

        opener: Callable[..., Any] = partial(open_nested, fmt)
    else:
        opener = {"csv": _open_csv, "xlsx": _open_xlsx, "jsonl": _open_jsonl}[fmt]
    with ExitStack() as stack:
        try:
            table = stack.enter_context(opener(path, source, needed))
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise _not_text(path, source, exc) from None
        table.require(needed)
        if len(table.columns) > source.limits.columns:
            raise InputError(f"{path}: {len(table.columns)} columns, more than "
                             f"source.limits.columns ({source.limits.columns})")
        yield table


def _not_text(path: Path, source: SourceSpec, exc: UnicodeDecodeError) -> InputError:
    return InputError(f"{path} is not valid {source.encoding} ({exc.reason}); "
                      f"set source.encoding in the mapping")


def _cut(values: list[str | None], columns: Sequence[str], limit: int) -> str | None:
    """Why the row breaks ``source.limits.field_chars``, its long values cut to the limit (so
    the quarantine never holds them whole); ``None`` if no value is too long."""
    problem = None
    for i, value in enumerate(values):
        if value is not None and len(value) > limit:
            problem = problem or (f"{excerpt(columns[i])} holds {len(value)} characters, more "
                                  f"than source.limits.field_chars ({limit})")
            values[i] = value[:limit]
    return problem


# -- CSV --------------------------------------------------------------------------------------


@contextmanager
def _open_csv(path: Path, source: SourceSpec, needed: Sequence[str]) -> Iterator[Table]:
    delimiter = source.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
    csv.field_size_limit(source.limits.record_chars)
    with path.open("rb") as raw, _text(raw, source) as text:
        reader = csv.reader(text, delimiter=delimiter)
        row_no = 0
        header: list[str] | None = None
        try:
            for record in reader:
                row_no += 1
                if row_no == source.header_row:
                    header = [name.strip() for name in record]
                    break
        except csv.Error as exc:
            raise _csv_error(path, source, row_no + 1, exc) from None
        if not header:
            raise InputError(f"{path}: no header row (header_row {source.header_row})")
        yield Table(path, header, _csv_rows(path, source, reader, row_no, header),
                    size=path.stat().st_size, position=raw.tell)


def _text(raw: IO[bytes], source: SourceSpec) -> io.TextIOWrapper:
    """The binary handle decoded; line ends kept for the csv module (``newline=""``)."""
    return io.TextIOWrapper(raw, encoding=_text_encoding(source), errors="strict", newline="")


def _csv_error(path: Path, source: SourceSpec, row_no: int, exc: csv.Error) -> InputError:
    if "field limit" in str(exc):
        return InputError(f"{path}: row {row_no}: a field longer than "
                          f"source.limits.record_chars ({source.limits.record_chars} characters)"
                          f"; an unclosed quote?")
    return InputError(f"{path}: row {row_no}: {exc}")


def _csv_rows(path: Path, source: SourceSpec, reader: Any, row_no: int,
              columns: list[str]) -> Iterator[Row]:
    limits, width = source.limits, len(columns)
    line = start = reader.line_num
    record: Any = []  # the csv reader's rows, the last one checked after the loop
    try:
        for record in reader:
            row_no += 1
            start, line = line + 1, reader.line_num
            if line - start >= limits.record_lines:
                raise InputError(
                    f"{path}: row {row_no} spans lines {start}-{line}, more than "
                    f"source.limits.record_lines ({limits.record_lines}); an unclosed quote?")
            n = len(record)
            if n == 0 or not any(record):
                continue
            problem = (_cut(record, columns, limits.field_chars)
                       if sum(map(len, record)) > limits.field_chars else None)
            if n < width:  # trailing empty cells left out, as some exporters do
                record += [""] * (width - n)
            elif n > width:
                problem, record = f"row has {n} fields, the header {width}", record[:width]
            yield row_no, record, problem
        if line > start or _may_end_open(path, record):
            _check_closed(path, source, reader.dialect, row_no, start, line)
    except csv.Error as exc:
        raise _csv_error(path, source, row_no + 1, exc) from None
    except UnicodeDecodeError as exc:
        raise _not_text(path, source, exc) from None


def _may_end_open(path: Path, record: Sequence[str]) -> bool:
    """Whether the last record, read from one line, may end inside a quoted field: a value
    ending in a line break (``P1,"`` then the end), or a file not ending with one."""
    if any(value.endswith(("\n", "\r")) for value in record):
        return True
    with path.open("rb") as raw:
        if raw.seek(0, io.SEEK_END) == 0:
            return False
        raw.seek(-1, io.SEEK_END)
        return raw.read(1) not in (b"\n", b"\r")


def _check_closed(path: Path, source: SourceSpec, dialect: Any, row_no: int, start: int,
                  end: int) -> None:
    """Refuse a last record that ends inside a quoted field: the csv module takes the rest of
    the file as one value, and every row after the stray quote would be lost unseen."""
    with path.open("rb") as raw, _text(raw, source) as text:
        lines = "".join(islice(text, start - 1, end))
    try:
        for _record in csv.reader(io.StringIO(lines, newline=""), dialect, strict=True):
            pass
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise InputError(f"{path}: row {row_no} (line {start}) opens a quoted field that "
                             f"is never closed; the {end - start} line(s) after it would "
                             f"become one value") from None


# -- XLSX -------------------------------------------------------------------------------------

#: what openpyxl raises on a malformed workbook (it has no error class of its own for most)
_XLSX_ERRORS = (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError, IndexError,
                ParseError, EOFError, zlib.error, NotImplementedError)
#: a part that unpacks to this many times its packed size is a decompression bomb, not data
_XLSX_RATIO = 100
_XLSX_RATIO_ABOVE = 1 << 20
_XLSX_COLUMNS = 16_384  # XFD, the last column a sheet may have


def _cell_text(value: Any) -> str | None:
    """An XLSX cell as text: whole floats without ``.0``, dates in ISO 8601."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _check_workbook(path: Path, limit: int) -> None:
    """Refuse a workbook whose parts unpack beyond ``limit`` bytes or as a decompression
    bomb, before openpyxl reads its shared strings into memory."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable XLSX workbook ({type(exc).__name__})") from None
    for part in parts:
        if part.file_size > limit or (
                part.file_size > _XLSX_RATIO_ABOVE
                and part.file_size > _XLSX_RATIO * max(part.compress_size, 1)):
            raise InputError(f"{path}: part {part.filename[:80]!r} unpacks to "
                             f"{part.file_size} bytes from {part.compress_size}; over "
                             f"source.limits.xlsx_part_bytes ({limit}) or a decompression bomb")


@contextmanager
def _open_xlsx(path: Path, source: SourceSpec, needed: Sequence[str]) -> Iterator[Table]:
    from openpyxl import load_workbook

    _check_workbook(path, source.limits.xlsx_part_bytes)
    with ExitStack() as stack:
        # opened here, so that it is closed even when openpyxl fails half-way through
        handle = stack.enter_context(path.open("rb"))
        try:
            book = load_workbook(handle, read_only=True, data_only=True)
        except _XLSX_ERRORS as exc:
            raise InputError(
                f"{path}: not a readable XLSX workbook ({type(exc).__name__})") from None
        stack.callback(book.close)
        yield _xlsx_table(path, source, book)


def _xlsx_table(path: Path, source: SourceSpec, book: Any) -> Table:
    if not book.worksheets:
        raise InputError(f"{path}: a workbook without worksheets")
    if source.sheet is None:
        sheet = book.worksheets[0]
    elif source.sheet in book.sheetnames:
        sheet = book[source.sheet]
    else:
        raise InputError(f"{path}: no sheet {source.sheet!r} "
                         f"(sheets: {', '.join(map(excerpt, book.sheetnames))})")
    declared = sheet.max_row or 0
    rows = _sheet_rows(path, sheet, source.header_row)
    first = next(rows, None)
    header = [] if first is None or first[0] != source.header_row else [
        (_cell_text(v) or "").strip() for v in first[1]]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise InputError(f"{path}: no header row (header_row {source.header_row})")
    if len(header) > source.limits.columns:
        raise InputError(f"{path}: {len(header)} columns, more than "
                         f"source.limits.columns ({source.limits.columns})")
    done = [source.header_row]
    return Table(path, header, _xlsx_rows(rows, done, header, source.limits.field_chars),
                 size=max(declared - source.header_row, 0),
                 position=lambda: done[0] - source.header_row)


def _sheet_rows(path: Path, sheet: Any, first: int) -> Iterator[tuple[int, list[Any]]]:
    """``(row number, values)`` of the rows the sheet holds from row ``first`` on: only the
    cells that exist are read, never the range the sheet declares (one cell at XFD1048576
    declares 17 billion), and a missing row is not visited at all."""
    from openpyxl.worksheet._reader import WorkSheetParser

    book = sheet.parent
    try:
        with sheet._get_source() as source:
            parser = WorkSheetParser(source, sheet._shared_strings, data_only=True,
                                     epoch=book.epoch, date_formats=book._date_formats,
                                     timedelta_formats=book._timedelta_formats)
            for row_no, cells in parser.parse():
                if row_no >= first and cells:
                    width = max(c["column"] for c in cells)
                    values: list[Any] = [None] * min(width, _XLSX_COLUMNS)
                    for cell in cells:
                        if cell["column"] <= len(values):
                            values[cell["column"] - 1] = cell["value"]
                    yield row_no, values
    except _XLSX_ERRORS as exc:
        raise InputError(f"{path}: not a readable XLSX sheet ({type(exc).__name__})") from None


def _xlsx_rows(rows: Iterator[tuple[int, list[Any]]], done: list[int], columns: list[str],
               limit: int) -> Iterator[Row]:
    """Rows after the header; ``done[0]`` follows the row number, for progress."""
    width = len(columns)
    for row_no, cells in rows:
        done[0] = row_no
        texts = [_cell_text(v) for v in cells[:width]]
        if not any(texts):
            continue
        if len(texts) < width:
            texts.extend([None] * (width - len(texts)))
        yield row_no, texts, _cut(texts, columns, limit)


# -- JSON lines -------------------------------------------------------------------------------


def _json_text(value: Any) -> str | None:
    if value is None or value is _ABSENT:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


_ABSENT = object()


def _lookup(obj: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (a key that itself holds dots wins), or ``_ABSENT``."""
    if path in obj:
        return obj[path]
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return _ABSENT
        current = current[part]
    return current


@contextmanager
def _open_jsonl(path: Path, source: SourceSpec, needed: Sequence[str]) -> Iterator[Table]:
    columns = list(dict.fromkeys(needed))
    with path.open("rb") as probe, _text(probe, source) as sample:
        _check_paths(path, _lines(sample, source.limits.record_chars), columns, source.limits)
    with path.open("rb") as raw, _text(raw, source) as lines:
        try:
            yield Table(path, columns,
                        _jsonl_rows(json_lines(lines, source.limits), columns, source.limits),
                        size=path.stat().st_size, position=raw.tell)
        except UnicodeDecodeError as exc:
            raise _not_text(path, source, exc) from None


def _lines(handle: IO[str], limit: int) -> Iterator[tuple[int, str | None]]:
    """``(line number, line)``; a line longer than ``limit`` characters as ``None``, skipped
    without ever being held whole."""
    row_no = 0
    while line := handle.readline(limit + 1):
        row_no += 1
        if len(line) > limit and line[-1] not in "\r\n":
            while (rest := handle.readline(_CHUNK)) and rest[-1] not in "\r\n":
                pass
            yield row_no, None
        else:
            yield row_no, line


def _parse(line: str | None, limits: ReadLimits) -> tuple[Any, str | None]:
    """A JSON line parsed, or why not (too long, malformed, nested too deep)."""
    if line is None:
        return None, f"line longer than source.limits.record_chars ({limits.record_chars})"
    try:
        obj = json.loads(line)
    except RecursionError:
        obj = None
    except ValueError as exc:
        return None, f"malformed JSON: {exc}"
    if obj is None or (line.count("[") + line.count("{") > limits.json_depth
                       and _depth(obj) > limits.json_depth):
        return None, f"JSON nested deeper than source.limits.json_depth ({limits.json_depth})"
    if _SURROGATE_ESCAPE.search(line):  # "\ud800" alone decodes to what no file can hold
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return None, "a \\uD800-\\uDFFF escape that is half a character, not text"
    return obj, None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _depth(obj: Any) -> int:
    """How deep lists and objects nest in ``obj`` (without recursion: it may be very deep)."""
    deepest, stack = 0, [(obj, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in item)
    return deepest


def _check_paths(path: Path, lines: Iterator[tuple[int, str | None]], columns: list[str],
                 limits: ReadLimits) -> None:
    """Missing columns of a JSON lines file: mapped paths that none of its first lines hold."""
    missing = set(columns)
    for row_no, line in lines:
        if row_no > _JSONL_SAMPLE_LINES or not missing:
            break
        obj, _problem = _parse(line, limits)
        if isinstance(obj, dict):
            missing = {c for c in missing if _lookup(obj, c) is _ABSENT}
    if missing:
        raise InputError(f"{path}: missing column(s) named in the mapping: "
                         f"{', '.join(c for c in columns if c in missing)} (in none of the "
                         f"first {_JSONL_SAMPLE_LINES} lines)")


def json_lines(handle: IO[str], limits: ReadLimits) -> Iterator[tuple[int, Any, str | None]]:
    """``(line number, parsed JSON, problem)`` of each non-blank line of ``handle``; the
    value ``None`` and why when a line breaks ``limits`` or is no JSON."""
    for row_no, line in _lines(handle, limits.record_chars):
        if line is not None and not line.strip():
            continue
        obj, problem = _parse(line, limits)
        yield row_no, obj, problem


def _jsonl_rows(lines: Iterator[tuple[int, Any, str | None]], columns: list[str],
                limits: ReadLimits) -> Iterator[Row]:
    blank: list[str | None] = [None] * len(columns)
    for row_no, obj, problem in lines:
        if problem is not None:
            yield row_no, blank, problem
        elif not isinstance(obj, dict):
            yield row_no, blank, f"not a JSON object but {type(obj).__name__}"
        else:
            values = [_json_text(_lookup(obj, c)) for c in columns]
            yield row_no, values, _cut(values, columns, limits.field_chars)


def header_of(path: Path, source: Any) -> list[str] | None:
    """The column names of a CSV or XLSX file read as a mapping's ``source`` section (raw
    data, not yet validated) says; ``None`` when they cannot be told (JSON lines have no
    header; a broken source section or file is reported elsewhere)."""
    try:
        spec = SourceSpec.model_validate(source if source is not None else {})
        if source_format(path, spec) in ("jsonl", "xml", "json"):  # paths, not a header
            return None
        with open_table(path, spec, ()) as table:
            return table.columns
    except (ValidationError, RingmapError, OSError, UnicodeDecodeError):
        return None


def load_mapping_for(path: Path, evidence: Path) -> Mapping:
    """A mapping file validated together with the header of the ``evidence`` file it reads,
    so that an unknown column is one more problem, with its path, among all the others."""
    return load_mapping(path, lambda source: header_of(evidence, source))
