"""The table renderer: every cell in full, wrapped to a terminal's width, whole lines elsewhere."""

from __future__ import annotations

import io
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from ringmap.cli import cli
from ringmap.cli.queries import catalog_rows
from ringmap.cli.session import emit, table_width
from ringmap.privacy import mask_value
from ringmap.tabular import json_text, render, render_pieces, to_jsonable, write_csv

LONG = ("Account:skype/live:mika.santos71744 -USES-> Person:AG-00009 -WORKS_AT-> "
        "Location:RS-BCL-001 (Naga City call centre 1)")
ROWS: list[dict[str, Any]] = [
    {"id": "AG-00009", "route": LONG, "evidence": "arrests.xlsx:6 A1; exhibits.csv:2 A1"},
    {"id": "AG-00103", "route": "short", "evidence": None},
]


def _words(text: str) -> set[str]:
    return set(text.split())


def _columns(lines: list[str]) -> list[str]:
    """Each column's text read back from a table's body, line breaks and spaces dropped."""
    spans, start = [], 0
    for rule in lines[1].split("  "):
        spans.append((start, start + len(rule)))
        start += len(rule) + 2
    return ["".join(line[a:b].replace(" ", "") for line in lines[2:]) for a, b in spans]


def test_issue_9_a_table_without_width_never_cuts_a_cell() -> None:
    table = render(ROWS, "table")
    assert "…" not in table
    assert LONG in table.splitlines()[2]
    assert len(table.splitlines()) == 4  # header, rule, one line per row


@pytest.mark.parametrize("width", [70, 80, 120])
def test_a_table_fits_the_width_and_loses_nothing(width: int) -> None:
    lines = render(ROWS[:1], "table", width=width).splitlines()
    assert all(len(line) <= width for line in lines), lines
    assert lines[0].split() == ["id", "route", "evidence"]
    assert _columns(lines) == [v.replace(" ", "") for v in ROWS[0].values()]
    assert any("Account:skype/live:mika.santos71744" in line for line in lines)  # ids whole


def test_wrapped_row_continues_under_its_column() -> None:
    lines = render([{"field": "sites", "value": "Naga City call centre 1, Santa Rosa call "
                     "centre 3, Taguig City call centre 4"}], "table", width=40).splitlines()
    assert lines == [
        "field  value",
        "-----  ---------------------------------",
        "sites  Naga City call centre 1, Santa",
        "       Rosa call centre 3, Taguig City",
        "       call centre 4",
    ]


def test_too_many_columns_for_the_terminal_become_one_record_per_row() -> None:
    """Columns that cannot fit even wrapped between words show as ``column  value`` blocks,
    as psql's expanded display does, rather than as a table broken mid-word."""
    lines = render(ROWS, "table", width=50).splitlines()
    assert all(len(line) <= 50 for line in lines), lines
    assert lines[:4] == [
        "-[ 1 ]" + "-" * 44,
        "id        AG-00009",
        "route     Account:skype/live:mika.santos71744",
        "          -USES-> Person:AG-00009 -WORKS_AT->",
    ]
    assert lines[-4:] == ["-[ 2 ]" + "-" * 44, "id        AG-00103", "route     short",
                          "evidence"]
    assert _words(" ".join(lines)) >= set(_words(LONG))


def test_short_tables_are_unchanged_by_a_width() -> None:
    rows: list[dict[str, Any]] = [{"a": 1, "b": "x"}]
    assert render(rows, "table", width=80) == render(rows, "table") == "a  b\n-  -\n1  x"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_issue_9_the_cli_wraps_to_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "50")
    terminal = _Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    assert table_width() == 50
    emit(ROWS, "table")
    lines = terminal.getvalue().splitlines()
    assert all(len(line) <= 50 for line in lines)
    assert "Location:RS-BCL-001" in terminal.getvalue()


def test_issue_9_query_list_shows_whole_descriptions() -> None:
    """Regression: ``query --list`` cut every text at 48 characters."""
    result = CliRunner().invoke(cli, ["query", "--list"])
    assert result.exit_code == 0, result.output
    assert table_width() is None  # not a terminal: whole lines
    for row in catalog_rows():
        for value in row.values():
            assert " ".join(str(value).split()) in result.stdout


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_VALUES = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), _TEXT,
                    st.lists(_TEXT, max_size=3), st.dictionaries(_TEXT, _TEXT, max_size=2))


@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "card", "="]), _VALUES), max_size=4))
def test_issue_14_rows_printed_a_row_at_a_time_read_the_same(rows: list[dict[str, Any]]
                                                             ) -> None:
    """issue 14: `cells --members` prints its rows a cell at a time; the pieces join to the
    text printed at once (escapes, masking, neutralised CSV cells and all)."""
    columns = list(dict.fromkeys(k for row in rows for k in row)) or ["a"]
    shown = [{c: mask_value(to_jsonable(row.get(c)), c) for c in columns} for row in rows]
    assert "".join(render_pieces(rows, "json", columns)) == json_text(shown)
    buffer = io.StringIO()
    write_csv(buffer, rows, columns)
    assert "".join(render_pieces(rows, "csv", columns)) == buffer.getvalue().rstrip("\n")
