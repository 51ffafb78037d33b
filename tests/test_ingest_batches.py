"""The engine's batches and row accounting against the rows merged one by one (issue 14):
the contract a faster engine (column by column, or in a worker) must keep exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ringmap.graphs.model import BatchColumns, FileLoad, Grading
from ringmap.ingest.engine import (
    BatchBuilder,
    CompiledMapping,
    Quarantine,
    RowRejected,
    compile_mapping,
    load_batches,
)
from ringmap.ingest.mapping import parse_mapping
from ringmap.ingest.readers import Row, open_table

KEY = b"k" * 16
COLUMNS = ["Target", "Service", "Mobile", "Email", "Created", "Login", "IP", "Kind", "Ref"]
LOGIN = {"column": "Login", "format": "%m/%d/%Y %H:%M:%S"}
#: platform records: optional keys, a login time on each login, a link only on some rows
MAPPING: dict[str, Any] = {
    "source": {"default_region": "PH", "reference": {"column": "Ref"}},
    "entities": {
        "account": {"type": "Account", "properties": {
            "platform": {"column": "Service"}, "handle": {"column": "Target"},
            "created": {"column": "Created", "format": "%m/%d/%Y"}}},
        "phone": {"type": "Phone", "optional": True,
                  "properties": {"number": {"column": "Mobile"}}},
        "email": {"type": "Email", "optional": True,
                  "properties": {"address": {"column": "Email"}}},
        "ip": {"type": "IPAddress", "optional": True,
               "properties": {"address": {"column": "IP"}}},
    },
    "relationships": [
        {"type": "REGISTERED_TO", "source": "account", "target": "phone"},
        {"type": "REGISTERED_TO", "source": "account", "target": "email",
         "when": {"column": "Kind", "equals": "web"}},
        {"type": "LOGGED_IN_FROM", "source": "account", "target": "ip",
         "properties": {"first_seen": LOGIN, "last_seen": LOGIN}},
    ],
}
TIMES = ["11/06/2013 00:14:53", "1/6/2013 0:14:53", "12/10/2013 23:23:16", "02/30/2014 00:00:00",
         "13/45/2013 25:00:00", "2014-01-15T14:54:24", "2014-01-15T14:54:24+08:00", "yesterday",
         "", " ", "11/06/2013  00:14:53"]
CELLS = {
    "Target": ["nicole.reyes.52", "Nicole.Reyes.52", "mark_1", "", "x"],
    "Service": ["LINE", "line", "Facebook", ""],
    "Mobile": ["+639354576802", "09354576802", "12", "", "n/a"],
    "Email": ["A@b.ph", "a@b.ph", "not an email", ""],
    "Created": ["10/22/2013", "02/29/2013", "", "2013-10-22"],
    "Login": TIMES,
    "IP": ["110.54.55.136", "110.054.55.136", "::1", "999.1.1.1", ""],
    "Kind": ["web", "WEB ", "app", ""],
    "Ref": ["EX-1", "", "EX-2"],
}
rows_of = st.lists(st.tuples(*(st.sampled_from(CELLS[c]) for c in COLUMNS)).map(list),
                   max_size=40)
Rows = list[list[str]]


def _compiled(mapping: dict[str, Any] = MAPPING, on_error: str = "skip") -> CompiledMapping:
    index = {c: i for i, c in enumerate(COLUMNS)}
    return compile_mapping(parse_mapping({**mapping, "on_error": on_error}), index, KEY)


def _one_by_one(rows: list[Row], compiled: CompiledMapping, batch_size: int, resume_row: int
                ) -> tuple[list[BatchColumns], list[Any]]:
    """The batches and accounting of the rows loaded one by one, as before issue 14."""
    seen: set[int] = set()
    batches, builder, read = [], BatchBuilder(), 0
    counts: dict[str, Any] = {"loaded": 0, "duplicate": 0, "rejected": [], "skipped": []}
    for row_no, values, _problem in rows:
        read += 1
        try:
            ref, nodes, edges, signature, skips = compiled.row(values)
        except RowRejected as exc:
            counts["rejected"].append((row_no, exc.reason))
        else:
            counts["skipped"] += [(row_no, bad.reason) for _label, bad in skips]
            if signature in seen:
                counts["duplicate"] += 1
            else:
                seen.add(signature)
                counts["loaded"] += 1
                if row_no > resume_row:
                    builder.add(row_no, ref, nodes, edges)
        if read % batch_size == 0 and builder.sightings:
            batches.append(builder.batch(row_no))
    if builder.sightings:
        batches.append(builder.batch(rows[-1][0]))
    return batches, [counts[k] for k in ("loaded", "duplicate", "rejected", "skipped")]


class _Kept(Quarantine):
    """A quarantine that keeps its rows in memory."""

    def __init__(self) -> None:
        self.path = Path("kept.csv")
        self.rows: list[tuple[int, str]] = []

    def add(self, row: int, reason: str, values: Any) -> None:
        self.rows.append((row, reason))

    @property
    def used(self) -> bool:
        return bool(self.rows)


def _by_engine(rows: list[Row], compiled: CompiledMapping, batch_size: int, resume_row: int
               ) -> tuple[list[BatchColumns], list[Any]]:
    load = FileLoad(sha256="s", source_file="f", mapping="m", mapping_digest="d", run_id="r",
                    grading=Grading())
    quarantine, skip_log = _Kept(), _Kept()
    batches = list(load_batches(iter(rows), compiled, load, quarantine, batch_size=batch_size,
                                resume_row=resume_row, skip_log=skip_log))
    assert load.read == len(rows)
    assert load.rejected == len(quarantine.rows)
    return batches, [load.loaded, load.duplicate, quarantine.rows, skip_log.rows]


def _numbered(rows: Rows) -> list[Row]:
    """``rows`` as a reader yields them, the first after a header."""
    return [(i + 2, list[str | None](values), None) for i, values in enumerate(rows)]


def _same(rows: Rows, compiled: CompiledMapping, again: CompiledMapping,
          batch_size: int, resume_row: int = 0) -> None:
    numbered = _numbered(rows)
    assert _by_engine(numbered, compiled, batch_size, resume_row) == _one_by_one(
        numbered, again, batch_size, resume_row)


@settings(max_examples=60, deadline=None)
@given(rows=rows_of, batch_size=st.integers(1, 9), resume_row=st.integers(0, 12),
       strict=st.booleans())
def test_issue_14_batches_are_the_rows_merged_one_by_one(
        rows: Rows, batch_size: int, resume_row: int, strict: bool) -> None:
    """Blank optional keys, bad and ISO dates, duplicate rows, conditions, rejected and
    skipped rows: the same batches, accounting, quarantine and skip log as row by row."""
    on_error = "reject" if strict else "skip"
    _same(rows, _compiled(on_error=on_error), _compiled(on_error=on_error), batch_size,
          resume_row)


def test_issue_14_duplicates_across_batches_with_warm_memos() -> None:
    rows = [["mark_1", "LINE", "", "", "10/22/2013", t, "110.54.55.136", "app", ""]
            for t in ("11/06/2013 00:14:53", "02/30/2014 00:00:00", "11/06/2013 00:14:53",
                      "12/10/2013 23:23:16", "1/6/2013 0:14:53")] * 3
    compiled = _compiled()
    for batch_size in (1, 2, 5, 100):
        _same(rows, compiled, _compiled(), batch_size)  # memos warm from the run before


def test_issue_14_types_read_from_the_value_split_cells_and_regions() -> None:
    """Entities typed by shape, multi-valued cells (one value failing) and phone regions
    read from a column (an unknown one)."""
    mapping = {
        "entities": {
            "account": {"type": "Account", "properties": {
                "platform": {"column": "Service"}, "handle": {"column": "Target"}}},
            "who": {"type": "auto", "optional": True, "value": {"column": "Email"},
                    "kinds": ["phone", "email"]},
            "ips": {"type": "IPAddress", "optional": True,
                    "properties": {"address": {"column": "IP", "split": ";"}}},
            "phone": {"type": "Phone", "optional": True, "properties": {
                "number": {"column": "Mobile", "region": {"column": "Kind"}}}},
        },
        "relationships": [{"type": "LOGGED_IN_FROM", "source": "account", "target": "ips",
                           "properties": {"first_seen": LOGIN}},
                          {"type": "REGISTERED_TO", "source": "account", "target": "phone"},
                          {"type": "REGISTERED_TO", "source": "account", "target": "who"}],
    }
    rows = [["mark_1", "LINE", "0917 123 4567", who, "", t, ips, kind, ""]
            for who, t, ips, kind in (
                ("+639354576802", "11/06/2013 00:14:53", "1.2.3.4;5.6.7.8", "PH"),
                ("a@b.ph", "yesterday", "1.2.3.4", "Philippines"),
                ("mark_1", "11/06/2013 00:14:53", "1.2.3.4;1.2.3.4;x", "Atlantis"),
                ("", "11/06/2013 00:14:53", "", "GB"))]
    for batch_size in (1, 3, 10):
        for on_error in ("skip", "reject"):
            _same(rows * 2, _compiled(mapping, on_error), _compiled(mapping, on_error),
                  batch_size)


def _file_batches(path: Path, compiled_for: Any, batch_size: int) -> Iterator[Any]:
    mapping = parse_mapping({**MAPPING, "source": {**MAPPING["source"], **compiled_for}})
    with open_table(path, mapping.source, mapping.columns()) as table:
        rows = list(table.rows)
        compiled = compile_mapping(mapping, table.index, KEY)
        again = compile_mapping(mapping, table.index, KEY)
    yield _by_engine(rows, compiled, batch_size, 0)
    yield _one_by_one(rows, again, batch_size, 0) if rows else ([], [0, 0, [], []])


def test_issue_14_files_with_a_bom_latin_1_quoted_line_breaks_and_one_row(tmp_path: Path
                                                                          ) -> None:
    header = ",".join(COLUMNS)
    body = ('nicole.reyes.52,LINE,+639354576802,,10/22/2013,11/06/2013 00:14:53,'
            '110.54.55.136,app,"EX\n1"\r\nmark_1,Facebook,,"a@b.ph",,"12/10/2013 23:23:16",'
            '1.2.3.4,web,Ré\r\n')
    files = {"bom.csv": (("\ufeff" + header + "\r\n" + body).encode(), {}),
             "latin.csv": ((header + "\n" + body).encode("latin-1"), {"encoding": "latin-1"}),
             "one.csv": ((header + "\nx,LINE,,,,,,,").encode(), {})}
    for name, (data, source) in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        for batch_size in (1, 5000):
            by_engine, one_by_one = _file_batches(path, source, batch_size)
            assert by_engine == one_by_one, name
            assert by_engine[0], name


def test_issue_14_login_spans_widen_within_a_batch() -> None:
    rows = [["mark_1", "LINE", "", "", "", t, "1.2.3.4", "", ""]
            for t in ("12/10/2013 23:23:16", "11/06/2013 00:14:53", "01/15/2014 14:54:24")]
    batches, _counts = _by_engine(_numbered(rows), _compiled(), 10, 0)
    (batch,) = batches
    assert batch.rel_props[-1] == {"first_seen": datetime(2013, 11, 6, 0, 14, 53, tzinfo=UTC),
                                   "last_seen": datetime(2014, 1, 15, 14, 54, 24, tzinfo=UTC)}
    assert batch.rel_rows[-1] == [2, 3, 4]
