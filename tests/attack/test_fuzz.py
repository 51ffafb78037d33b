"""issue 12: property-based fuzzing of the readers, the mappings and the CSV writer, bounded
in time for CI (``max_examples`` per test, no per-example deadline on a shared machine).

Whatever the input: no exception but a :class:`~ringmap.errors.RingmapError`, the accounting
of every file adds up (read = loaded + duplicate + rejected), and every CSV ringmap writes
reads back as the neutralised cells, none of them a live formula.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringmap.errors import RingmapError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.schema import SCHEMA
from ringmap.ingest.mapping import parse_mapping
from ringmap.ingest.run import IngestReport, ingest_files
from ringmap.tabular import CsvWriter, neutralise
from ringmap.tests.attack.attack_corpus import PEOPLE_MAPPING
from ringmap.tests.attack.hostile_files import FORMULAS, live_cells

#: each test at most this many examples: the whole file runs in well under a minute
BOUNDED = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: characters that break readers and spreadsheets: quotes, separators, line breaks of every
#: kind, NUL and escape, bidi and zero-width, full-width look-alikes, formula starts
HOSTILE_CHARS = ('",;\t\r\n\x00\x1b\x07\x85\u2028\u202e\u200b\ufeff\\\'=+-@'
                 "\uff1d\uff0b０１９ abcP1")
hostile_text = st.one_of(st.text(alphabet=HOSTILE_CHARS, max_size=30),
                         st.sampled_from(FORMULAS), st.text(max_size=20))


@contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _ingest(folder: Path, name: str, data: bytes, mapping: Any = None) -> IngestReport | None:
    """Ingest ``data`` as the file ``name``; the report, or ``None`` for a one-line error.
    Anything else than a RingmapError propagates: a traceback is a finding."""
    (folder / name).write_bytes(data)
    if mapping is None:
        (folder / "people.yaml").write_text(PEOPLE_MAPPING)
        mapping = folder / "people.yaml"
    try:
        with EmbeddedStore(folder / "case.db") as store:
            return ingest_files(store, [(folder / name, mapping, None)],
                                quarantine_dir=folder / "q")
    except RingmapError as exc:
        assert "\n" not in exc.one_line()
        return None


def _check(folder: Path, report: IngestReport | None) -> None:
    for f in report.files if report else []:
        assert f.read == f.loaded + f.duplicate + f.rejected, f
    for path in (folder / "q").rglob("*.csv"):  # what ringmap wrote: the quarantine
        assert live_cells(path) == [], path


@BOUNDED
@given(st.lists(st.lists(hostile_text, max_size=4), max_size=12),
       st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())
def test_issue_12_csv_reader(rows: list[list[str]], end: str, raw: bool) -> None:
    if raw:  # cells as they come, quotes and separators unescaped
        text = end.join(["pid,name", *(",".join(r) for r in rows)])
    else:
        out = io.StringIO()
        csv.writer(out, lineterminator=end).writerows([["pid", "name"], *rows])
        text = out.getvalue()
    with _folder() as folder:
        _check(folder, _ingest(folder, "people.csv", text.encode("utf-8", "surrogatepass")))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner,
                                                                 max_size=3),
    max_leaves=8)


@BOUNDED
@given(st.lists(st.one_of(
    st.fixed_dictionaries({"pid": json_values, "name": json_values}),
    json_values.map(lambda v: {"pid": "P1", "name": v}), json_values), max_size=8),
    st.lists(st.text(alphabet='{}[]",:\\u0d8\x00 ', max_size=12), max_size=3))
def test_issue_12_jsonl_reader(objects: list[Any], broken: list[str]) -> None:
    lines = [json.dumps(o, ensure_ascii=o is None) for o in objects] + broken
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    with _folder() as folder:
        _check(folder, _ingest(folder, "people.jsonl", data))


_ENTITY_TYPES = sorted(SCHEMA.entities)
_SPEC_KEYS = ["column", "template", "literal", "entity", "extract", "null_values", "split",
              "when", "case", "strip_prefix", "format", "region", "optional", "type"]
value_specs = st.one_of(
    st.sampled_from(["pid", "name", "{pid}-{name}"]).map(lambda c: {"column": c}),
    st.dictionaries(st.sampled_from(_SPEC_KEYS),
                    st.one_of(st.sampled_from(["pid", "name", "(\\d+)", "upper", "[", "{pid"]),
                              hostile_text, st.booleans(), st.integers(),
                              st.lists(st.sampled_from(["pid", "-", ""]), max_size=2)),
                    max_size=3),
    hostile_text)
entities = st.fixed_dictionaries(
    {"type": st.sampled_from([*_ENTITY_TYPES, "Nope"])},
    optional={"properties": st.dictionaries(
        st.sampled_from(["person_id", "role", "name", "platform", "handle", "number",
                         "address", "reference", "nope"]), value_specs, max_size=4),
              "optional": st.booleans(), "when": value_specs})


@BOUNDED
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), entities, min_size=1, max_size=3),
       st.lists(st.lists(hostile_text, min_size=2, max_size=2), max_size=6))
def test_issue_12_random_mappings(specs: dict[str, Any], rows: list[list[str]]) -> None:
    try:
        mapping = parse_mapping({"name": "fuzz", "entities": specs})
    except RingmapError:
        return
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([["pid", "name"], *rows])
    with _folder() as folder:
        _check(folder, _ingest(folder, "rows.csv", out.getvalue().encode("utf-8",
                                                                         "surrogatepass"),
                               mapping))


@BOUNDED
@given(st.lists(st.lists(st.one_of(hostile_text, st.integers(), st.floats(), st.none()),
                         min_size=1, max_size=5), max_size=10))
def test_issue_12_csv_writer_round_trip(rows: list[list[Any]]) -> None:
    out = io.StringIO()
    writer = CsvWriter(out)
    for row in rows:
        writer.writerow(row)
    read = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert read == [[neutralise(cell) for cell in row] for row in rows]
    with _folder() as folder:
        (folder / "out.csv").write_text(out.getvalue(), encoding="utf-8",
                                        errors="surrogatepass", newline="")
        assert live_cells(folder / "out.csv") == []
