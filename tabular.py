"""Rows out: readable tables, JSON and CSV whose cells cannot run as spreadsheet formulas.

Evidence text is attacker-controlled; a cell such as ``=HYPERLINK(...)`` must stay text when an
investigator opens a roster in a spreadsheet, so every CSV cell that starts with ``= + - @``, a
tab or a carriage return is prefixed with a single quote.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

__all__ = ["Format", "neutralise", "render", "to_jsonable", "write_csv"]

Format = Literal["table", "json", "csv"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """A CSV cell's text, defused if a spreadsheet would read it as a formula.

    >>> neutralise("=1+1"), neutralise("-5"), neutralise("plain"), neutralise(None)
    ("'=1+1", "'-5", 'plain', '')
    """
    if value is None:
        return ""
    text = _scalar_text(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
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
    materialised = list(rows)
    cols = _columns(materialised, columns)
    if isinstance(target, Path):
        with target.open("w", encoding="utf-8", newline="") as handle:
            return _write_csv_rows(handle, materialised, cols)
    return _write_csv_rows(target, materialised, cols)


def _write_csv_rows(handle: Any, rows: list[Mapping[str, Any]], cols: list[str]) -> int:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow([neutralise(c) for c in cols])
    for row in rows:
        writer.writerow([neutralise(row.get(c)) for c in cols])
    return len(rows)


_GAP = "  "
_WORD = 40  # longer words (hashes, long ids) may break across lines; shorter ones never do


def _cell_text(value: Any) -> str:
    text = "" if value is None else _scalar_text(value)
    return " ".join(text.split())  # no control characters or line breaks from evidence


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


def _table(rows: list[Mapping[str, Any]], cols: list[str], width: int | None) -> str:
    body = [[_cell_text(row.get(c)) for c in cols] for row in rows]
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
    materialised = list(rows)
    cols = _columns(materialised, columns)
    if fmt == "json":
        return json.dumps([{c: to_jsonable(r.get(c)) for c in cols} for r in materialised],
                          indent=2, ensure_ascii=False, default=str)
    if fmt == "csv":
        buffer = io.StringIO()
        _write_csv_rows(buffer, materialised, cols)
        return buffer.getvalue().rstrip("\n")
    if not materialised:
        return "(no rows)"
    return _table(materialised, cols, width)
