"""Rows out: readable tables, JSON and CSV whose cells cannot run as spreadsheet formulas.

Evidence text is attacker-controlled; a cell such as ``=HYPERLINK(...)`` must stay text when an
investigator opens a roster in a spreadsheet, so every CSV cell that starts with ``= + - @``, a
tab or a carriage return is prefixed with a single quote.
"""

from __future__ import annotations

import csv
import io
import json
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


def _table(rows: list[Mapping[str, Any]], cols: list[str], max_width: int = 48) -> str:
    def cell(value: Any) -> str:
        text = "" if value is None else _scalar_text(value)
        text = " ".join(text.split())  # no control characters or line breaks from evidence
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    body = [[cell(row.get(c)) for c in cols] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in body)]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                 for r in body)
    return "\n".join(lines)


def render(
    rows: Iterable[Mapping[str, Any]],
    fmt: Format = "table",
    columns: Sequence[str] | None = None,
) -> str:
    """Rows as an aligned text table, a JSON array or neutralised CSV.

    >>> print(render([{"a": 1, "b": "x"}], "table"))
    a  b
    -  -
    1  x
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
    return _table(materialised, cols)
