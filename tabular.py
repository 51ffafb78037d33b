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
_MIN_WIDTH = 8  # a wrapped column keeps at least its header, or this many characters


def _cell_text(value: Any) -> str:
    text = "" if value is None else _scalar_text(value)
    return " ".join(text.split())  # no control characters or line breaks from evidence


def _fit(natural: list[int], floors: list[int], width: int) -> list[int]:
    """Column widths that fit ``width``: the widest columns are narrowed first, to one common
    cap, none below its floor (a table that cannot fit at its floors overflows)."""
    room = width - len(_GAP) * (len(natural) - 1)

    def capped(cap: int) -> list[int]:
        return [max(f, min(n, cap)) for n, f in zip(natural, floors, strict=True)]

    low, high = 1, max(natural)  # the largest cap whose widths fit, by bisection
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if sum(capped(mid)) <= room else (low, mid - 1)
    return capped(low)


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def _table(rows: list[Mapping[str, Any]], cols: list[str], width: int | None) -> str:
    body = [[_cell_text(row.get(c)) for c in cols] for row in rows]
    natural = [max([len(c), *(len(r[i]) for r in body)]) for i, c in enumerate(cols)]
    widths = natural if width is None else _fit(
        natural, [min(n, max(len(c), _MIN_WIDTH)) for n, c in zip(natural, cols, strict=True)],
        width)

    def lines_of(cells: list[str]) -> list[str]:
        wrapped = [_wrap(v, w) if len(v) > w else [v] for v, w in zip(cells, widths, strict=True)]
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

    A table shows every cell in full: with ``width`` (a terminal's) the widest columns are
    narrowed to fit it and their text wraps onto further lines of the row; without, lines are
    as long as their content (for files, pipes and ``grep``).

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
