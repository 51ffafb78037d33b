"""Rows out: readable tables, JSON and CSV whose cells cannot run as spreadsheet formulas.

Every value shown passes the privacy policy first (:func:`ringmap.privacy.mask_value`: card
numbers as BIN + last four). Evidence text is attacker-controlled; a cell such as
``=HYPERLINK(...)`` must stay text when an investigator opens a roster in a spreadsheet.
:class:`CsvWriter`, the one writer of every CSV ringmap writes, prefixes with a single quote
what a spreadsheet would run: text starting ``=``, ``@``, a tab or a carriage return, or ``+``
or ``-`` not followed by a plain number (``+639171234567`` and ``-12.5`` stay numbers) — at the
start of a cell and after every line break in it; a cell holding a line break is quoted.

Evidence text must not drive the terminal it is shown on either: tables and JSON show control
characters (ANSI and OSC escape sequences start with ESC), format characters (bidi overrides,
zero-width) and lone surrogates as ``\\uXXXX`` escapes (:func:`terminal_safe`).
"""

from __future__ import annotations

import io
import json
import re
import textwrap
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from ringmap.fileio import atomic_file
from ringmap.privacy import mask_value

__all__ = [
    "CsvWriter",
    "Format",
    "json_text",
    "neutralise",
    "render",
    "render_pieces",
    "terminal_safe",
    "to_jsonable",
    "write_csv",
]

Format = Literal["table", "json", "csv"]
# A line of a cell that a spreadsheet runs: = @ tab CR (and their full-width forms), or a sign
# not followed by a plain number. Matched at the start of the cell and after each line break.
_LIVE = re.compile(
    r"(?:\A|(?<=[\r\n]))(?=[=@\t\r\uff1d\uff20]"
    r"|[+\-\uff0b\uff0d](?![0-9]+(?:\.[0-9]+)?(?:[eE][+\-]?[0-9]+)?(?:\Z|[\r\n])))")
_QUOTED = re.compile(r'[",\r\n]')


def neutralise(value: Any) -> str:
    r"""A CSV cell's text, defused if a spreadsheet would read it (or a line of it) as a formula.

    >>> neutralise("=1+1"), neutralise("-5"), neutralise("+639171234567"), neutralise("-1+1")
    ("'=1+1", '-5', '+639171234567', "'-1+1")
    >>> neutralise("on desk\r+cmd|' /C calc'!A0"), neutralise(None)
    ("on desk\r'+cmd|' /C calc'!A0", '')
    """
    if value is None:
        return ""
    return _LIVE.sub("'", _scalar_text(value))


class CsvWriter:
    r"""The one CSV writer: every cell neutralised, quoted when it holds a comma, a quote or a
    line break (bare ``\r`` too, which :mod:`csv` leaves unquoted with ``\n`` line ends), and
    rows ended by ``\n``.

    >>> import io
    >>> out = io.StringIO()
    >>> CsvWriter(out).writerow(["a,b", "x\r=1", "-12.5", "+cmd"])
    >>> out.getvalue()
    '"a,b","x\r\'=1",-12.5,\'+cmd\n'

    With ``raw=True`` cells are written as they are (``str``, None as empty), quoted the same
    way but not neutralised: synthetic *evidence*, which must read back exactly as written,
    spreadsheet formulas included.

    >>> out = io.StringIO()
    >>> CsvWriter(out, delimiter=";", raw=True).writerow(["a,b", "x\r=1", None, 2.5])
    >>> out.getvalue()
    'a,b;"x\r=1";;2.5\n'
    """

    def __init__(self, handle: Any, *, delimiter: str = ",", raw: bool = False) -> None:
        self._write = handle.write
        self._delimiter = delimiter
        self._raw = raw
        self._quoted = (_QUOTED if delimiter == "," else
                        re.compile(f'["{re.escape(delimiter)}\r\n]'))

    def writerow(self, cells: Iterable[Any]) -> None:
        """Write one row."""
        texts = [("" if cell is None else str(cell)) if self._raw else neutralise(cell)
                 for cell in cells]
        fields = [_csv_field(text, self._quoted) for text in texts]
        self._write((self._delimiter.join(fields) if fields != [""] else '""') + "\n")

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write several rows."""
        for row in rows:
            self.writerow(row)


def _csv_field(text: str, quoted: re.Pattern[str] = _QUOTED) -> str:
    if quoted.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _scalar_text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "; ".join(_scalar_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.4g}"
    return str(value)


def _escape(char: str) -> str:
    """``char`` as JSON escapes it, readable in a table too (astral ones as a surrogate pair)."""
    code = ord(char)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def terminal_safe(text: str, keep: str = "") -> str:
    r"""``text`` with every character that is not printable — C0 and C1 controls (ESC starts
    ANSI and OSC sequences), format characters (bidi overrides, zero-width), lone surrogates,
    line breaks but those in ``keep`` — written as a ``\uXXXX`` escape; spaces of every width
    stay.

    >>> print(terminal_safe("\x1b]8;;http://x\x07red\x1b[0m \u202etxt.exe"))
    \u001b]8;;http://x\u0007red\u001b[0m \u202etxt.exe
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep or unicodedata.category(c) == "Zs"
                   else _escape(c) for c in text)


def json_text(value: Any) -> str:
    """``value`` as indented JSON for a terminal or a file: non-ASCII text as it is, but what
    :func:`terminal_safe` escapes as JSON escapes (the same text to a JSON reader)."""
    return terminal_safe(json.dumps(value, indent=2, ensure_ascii=False, default=str), "\n")


def to_jsonable(value: Any) -> Any:
    """Datetimes as ISO text, tuples as lists, the rest unchanged."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return value


def _columns(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def write_csv(
    target: io.TextIOBase | Path,
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
) -> int:
    """Write rows as neutralised CSV to a path or text stream; returns the row count."""
    materialised, cols = _shown(rows, columns)
    if isinstance(target, Path):
        with atomic_file(target) as handle:  # whole or absent, even if the writer is killed
            return _write_csv_rows(handle, materialised, cols)
    return _write_csv_rows(target, materialised, cols)


def _shown(rows: Iterable[Mapping[str, Any]],
           columns: Sequence[str] | None) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The rows as they may be shown (privacy policy applied per column) and their columns."""
    materialised = list(rows)
    cols = _columns(materialised, columns)
    return [{c: mask_value(to_jsonable(r.get(c)), c) for c in cols} for r in materialised], cols


def _write_csv_rows(handle: Any, rows: list[Mapping[str, Any]], cols: list[str]) -> int:
    writer = CsvWriter(handle)
    writer.writerow(cols)
    for row in rows:
        writer.writerow(row[c] for c in cols)
    return len(rows)


_GAP = "  "
_WORD = 40  # longer words (hashes, long ids) may break across lines; shorter ones never do


def _cell_text(value: Any) -> str:
    text = "" if value is None else _scalar_text(value)
    return terminal_safe(" ".join(text.split()))  # no line breaks or controls from evidence


def _fit(natural: list[int], floors: list[int], room: int) -> list[int]:
    """Column widths that fill ``room``: the widest columns are narrowed first, to one common
    cap, none below its floor."""

    def capped(cap: int) -> list[int]:
        return [max(f, min(n, cap)) for n, f in zip(natural, floors, strict=True)]

    low, high = 1, max(natural)  # the largest cap whose widths fit, by bisection
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if sum(capped(mid)) <= room else (low, mid - 1)
    return capped(low)


def _wrap(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def _floor(header: str, texts: list[str]) -> int:
    """The narrowest a column may wrap to: its header and its longest word (up to _WORD)."""
    words = (len(word) for text in texts for word in text.split())
    return max(len(header), min(_WORD, max(words, default=0)))


def _records(body: list[list[str]], cols: list[str], width: int) -> str:
    """One block per row, ``column  value`` a line, values wrapped (psql's expanded display)."""
    name_width = max(len(c) for c in cols)
    room = max(width - name_width - len(_GAP), _WORD)
    blocks = []
    for number, cells in enumerate(body, 1):
        lines = [f"-[ {number} ]".ljust(min(width, name_width + len(_GAP) + room), "-")]
        for col, text in zip(cols, cells, strict=True):
            for i, part in enumerate(_wrap(text, room)):
                lines.append(f"{col if i == 0 else '':<{name_width}}{_GAP}{part}".rstrip())
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _table(rows: list[Mapping[str, Any]], keys: list[str], width: int | None) -> str:
    body = [[_cell_text(row.get(c)) for c in keys] for row in rows]
    cols = [_cell_text(c) for c in keys]  # a Cypher column name is the analyst's text
    natural = [max([len(c), *(len(r[i]) for r in body)]) for i, c in enumerate(cols)]
    widths = natural
    room = None if width is None else width - len(_GAP) * (len(cols) - 1)
    if room is not None and sum(natural) > room:
        floors = [_floor(c, [r[i] for r in body]) for i, c in enumerate(cols)]
        if sum(floors) > room:  # too many columns to wrap readably: a record per row
            return _records(body, cols, width or 0)
        widths = _fit(natural, floors, room)

    def lines_of(cells: list[str]) -> list[str]:
        wrapped = [_wrap(v, w) for v, w in zip(cells, widths, strict=True)]
        return [_GAP.join(part[i].ljust(w) if i < len(part) else " " * w
                          for part, w in zip(wrapped, widths, strict=True)).rstrip()
                for i in range(max(len(part) for part in wrapped))]

    lines = lines_of(cols)
    lines.append(_GAP.join("-" * w for w in widths))
    for cells in body:
        lines.extend(lines_of(cells))
    return "\n".join(lines)


def render(
    rows: Iterable[Mapping[str, Any]],
    fmt: Format = "table",
    columns: Sequence[str] | None = None,
    width: int | None = None,
) -> str:
    """Rows as an aligned text table, a JSON array or neutralised CSV.

    A table shows every cell in full. With ``width`` (a terminal's) the widest columns are
    narrowed to fit it and their text wraps, between words, onto further lines of the row;
    when even that cannot fit, each row is shown as a block of ``column  value`` lines (as
    psql's expanded display). Without ``width`` lines are as long as their content (for files,
    pipes and ``grep``).

    >>> print(render([{"a": 1, "b": "x"}], "table"))
    a  b
    -  -
    1  x
    >>> print(render([{"id": "AG-9", "note": "posed as a nurse from Cebu"}], "table", width=22))
    id    note
    ----  ----------------
    AG-9  posed as a nurse
          from Cebu
    """
    if fmt != "table":
        materialised = list(rows)
        return "".join(render_pieces(materialised, fmt, _columns(materialised, columns)))
    shown, cols = _shown(rows, columns)
    if not shown:
        return "(no rows)"
    return _table(shown, cols, width)


def render_pieces(rows: Iterable[Mapping[str, Any]], fmt: Literal["json", "csv"],
                  columns: Sequence[str]) -> Iterator[str]:
    """:func:`render` of ``rows`` as JSON or CSV, a row at a time: the pieces join to the
    same text, and only one row is held at once (``columns`` as :func:`render` would find
    them, since the rows are not all seen first).

    >>> list(render_pieces([{"a": 1}, {"a": "=x"}], "csv", ["a"]))
    ['a', '\\n1', "\\n'=x"]
    >>> "".join(render_pieces([{"a": 1}], "json", ["a"])) == render([{"a": 1}], "json")
    True
    """
    shown = ({c: mask_value(to_jsonable(r.get(c)), c) for c in columns} for r in rows)
    if fmt == "json":
        # a row as json.dumps indents an item of a list: each of its lines two spaces in
        # (a line break inside a string is escaped, never one of these)
        start = "[\n  "
        for row in shown:
            yield start + json_text(row).replace("\n", "\n  ")
            start = ",\n  "
        yield "[]" if start == "[\n  " else "\n]"
        return
    buffer = io.StringIO()
    writer = CsvWriter(buffer)

    def line(cells: Iterable[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()[:-1]  # a row's own line break (one inside it is quoted)

    yield line(columns)
    for row in shown:
        yield "\n" + line(row[c] for c in columns)
