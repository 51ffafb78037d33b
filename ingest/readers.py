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
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from ringmap.errors import InputError
from ringmap.fileio import excerpt
from ringmap.ingest.mapping import SourceFormat, SourceSpec

__all__ = ["Table", "open_table", "scan_file", "source_format"]

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
        """:class:`InputError` listing every needed column the table lacks."""
        have = self.index
        missing = [c for c in needed if c not in have]
        if missing:
            shown = ", ".join(map(excerpt, self.columns[:30])) + (
                " ..." if len(self.columns) > 30 else "")
            raise InputError(f"{self.path}: missing column(s) named in the mapping: "
                             f"{', '.join(missing)} (file has: {shown or 'no columns'})")


@contextmanager
def open_table(path: Path, source: SourceSpec, needed: Sequence[str]) -> Iterator[Table]:
    """Open ``path`` for reading as the mapping's source says; check the needed columns.

    Parameters
    ----------
    path
        The evidence file.
    source
        The mapping's source section (format, encoding, sheet, header row).
    needed
        Columns (dotted paths for JSON lines) the mapping reads.

    Raises
    ------
    InputError
        The file cannot be opened, has no header, or lacks needed columns.
    """
    fmt = source_format(path, source)
    opener = {"csv": _open_csv, "xlsx": _open_xlsx, "jsonl": _open_jsonl}[fmt]
    with ExitStack() as stack:
        try:
            table = stack.enter_context(opener(path, source, needed))
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise _not_text(path, source, exc) from None
        table.require(needed)
        yield table


def _not_text(path: Path, source: SourceSpec, exc: UnicodeDecodeError) -> InputError:
    return InputError(f"{path} is not valid {source.encoding} ({exc.reason}); "
                      f"set source.encoding in the mapping")


# -- CSV --------------------------------------------------------------------------------------


@contextmanager
def _open_csv(path: Path, source: SourceSpec, needed: Sequence[str]) -> Iterator[Table]:
    delimiter = source.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
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
            raise InputError(f"{path}: row {row_no + 1}: {exc}") from None
        if not header:
            raise InputError(f"{path}: no header row (header_row {source.header_row})")
        yield Table(path, header, _csv_rows(path, source, reader, row_no, len(header)),
                    size=path.stat().st_size, position=raw.tell)


def _text(raw: IO[bytes], source: SourceSpec) -> io.TextIOWrapper:
    """The binary handle decoded; line ends kept for the csv module (``newline=""``)."""
    return io.TextIOWrapper(raw, encoding=_text_encoding(source), errors="strict", newline="")


def _csv_rows(path: Path, source: SourceSpec, reader: Any, row_no: int,
              width: int) -> Iterator[Row]:
    try:
        for record in reader:
            row_no += 1
            n = len(record)
            if n == width:
                yield row_no, record, None
            elif n == 0 or not any(record):
                continue
            elif n < width:  # trailing empty cells left out, as some exporters do
                yield row_no, record + [""] * (width - n), None
            else:
                yield row_no, record[:width], f"row has {n} fields, the header {width}"
    except csv.Error as exc:
        raise InputError(f"{path}: row {row_no + 1}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise _not_text(path, source, exc) from None


# -- XLSX -------------------------------------------------------------------------------------


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


@contextmanager
def _open_xlsx(path: Path, source: SourceSpec, needed: Sequence[str]) -> Iterator[Table]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError) as exc:
        raise InputError(f"{path}: not a readable XLSX workbook ({exc})") from None
    try:
        if source.sheet is None:
            sheet = book.worksheets[0]
        elif source.sheet in book.sheetnames:
            sheet = book[source.sheet]
        else:
            raise InputError(f"{path}: no sheet {source.sheet!r} "
                             f"(sheets: {', '.join(book.sheetnames)})")
        values = sheet.iter_rows(min_row=source.header_row, values_only=True)
        first = next(values, None)
        if first is None or not any(v is not None for v in first):
            raise InputError(f"{path}: no header row (header_row {source.header_row})")
        header = [(_cell_text(v) or "").strip() for v in first]
        done = [source.header_row]
        yield Table(path, header, _xlsx_rows(values, done, len(header)),
                    size=max((sheet.max_row or 0) - source.header_row, 0),
                    position=lambda: done[0] - source.header_row)
    finally:
        book.close()


def _xlsx_rows(values: Iterator[tuple[Any, ...]], done: list[int], width: int) -> Iterator[Row]:
    """Rows after the header; ``done[0]`` follows the row number, for progress."""
    for row_no, cells in enumerate(values, start=done[0] + 1):
        done[0] = row_no
        texts = [_cell_text(v) for v in cells[:width]]
        if not any(texts):
            continue
        if len(texts) < width:
            texts.extend([None] * (width - len(texts)))
        yield row_no, texts, None


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
        _check_paths(path, sample, columns)
    with path.open("rb") as raw, _text(raw, source) as lines:
        try:
            yield Table(path, columns, _jsonl_rows(lines, columns), size=path.stat().st_size,
                        position=raw.tell)
        except UnicodeDecodeError as exc:
            raise _not_text(path, source, exc) from None


def _check_paths(path: Path, lines: Iterator[str], columns: list[str]) -> None:
    """Missing columns of a JSON lines file: mapped paths that none of its first lines hold."""
    missing = set(columns)
    for i, line in enumerate(lines):
        if i >= _JSONL_SAMPLE_LINES or not missing:
            break
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            missing = {c for c in missing if _lookup(obj, c) is _ABSENT}
    if missing:
        raise InputError(f"{path}: missing column(s) named in the mapping: "
                         f"{', '.join(c for c in columns if c in missing)} (in none of the "
                         f"first {_JSONL_SAMPLE_LINES} lines)")


def _jsonl_rows(lines: Iterator[str], columns: list[str]) -> Iterator[Row]:
    blank: list[str | None] = [None] * len(columns)
    for row_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            yield row_no, blank, f"malformed JSON: {exc}"
            continue
        if not isinstance(obj, dict):
            yield row_no, blank, f"not a JSON object but {type(obj).__name__}"
            continue
        yield row_no, [_json_text(_lookup(obj, c)) for c in columns], None
