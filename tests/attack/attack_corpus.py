"""The standing attack corpus: every hostile input found against ringmap, as a small generator.

Each attack writes its files into a work folder (the working directory of the run) and names the
command line to run there. ``{outside}`` in the arguments is a folder beside the work folder
that holds what an attacker wants: a copy of the environment with the secrets in it
(``environ``) and the hashing key file (``secret.key``). ``test_attacks.py`` runs every attack
through the CLI and checks its outcome, the absence of tracebacks, secrets and file content in
every output, and that nothing was written outside the work folder.

Outcomes:

- ``error``: exit code 1 and one ``Error: ...`` line matching ``error``;
- ``usage``: exit code 2, click's usage error (a bad option value);
- ``quarantine``: exit code 0 with at least one row quarantined, and the accounting adding up;
- ``ok``: exit code 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Outcome = Literal["error", "usage", "quarantine", "ok"]
Build = Callable[[Path, Path], None]

#: secrets the attacks try to reach; the test sets them in the environment
SECRET_CANARY = "CANARY-secret-7f3a9c1e55d2b4a8"
PASSWORD_CANARY = "CANARY-password-0c8e2d7b61f9"
KEY_CANARY = "CANARY-keyfile-4b1d9e7a2c6f0e3d"

#: a mapping of people tables: columns ``pid`` and ``name`` (paths in JSON lines)
PEOPLE_MAPPING = """\
name: people
entities:
  p:
    type: Person
    properties:
      person_id: {column: pid}
      name: {column: name}
"""


@dataclass(frozen=True)
class Attack:
    """One hostile input and what ringmap must make of it."""

    name: str
    family: str
    argv: list[str]
    outcome: Outcome
    build: Build
    error: str = ""  # a regex the Error: line must match
    env: dict[str, str] = field(default_factory=dict)

    def args(self, outside: Path) -> list[str]:
        """The command line with ``{outside}`` filled in."""
        return [a.replace("{outside}", str(outside)) for a in self.argv]


ATTACKS: list[Attack] = []


def attack(family: str, argv: list[str], outcome: Outcome, error: str = "",
           env: dict[str, str] | None = None) -> Callable[[Build], Build]:
    """Register the decorated builder as an attack named after it."""
    def register(build: Build) -> Build:
        ATTACKS.append(Attack(build.__name__.replace("_", "-"), family, argv, outcome, build,
                              error, env or {}))
        return build
    return register


def prepare_outside(outside: Path) -> None:
    """The attacker's targets: the secrets as ``/proc/self/environ`` holds them, and a key."""
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "environ").write_bytes(
        f"NEO4J_PASSWORD={PASSWORD_CANARY}\0RINGMAP_SECRET={SECRET_CANARY}\0".encode())
    (outside / "secret.key").write_text(KEY_CANARY + "\n")
    (outside / "people.yaml").write_text(PEOPLE_MAPPING)


def write(path: Path, text: str | bytes) -> None:
    """Write a file, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def case(work: Path, tables: str, **files: str | bytes) -> None:
    """A case folder ``case/`` with a ``case.yaml`` listing ``tables`` and the given files."""
    write(work / "case" / "case.yaml", f"name: attack\ntables:\n{tables}")
    write(work / "case" / "people.yaml", PEOPLE_MAPPING)
    for name, text in files.items():
        write(work / "case" / name.replace("__", "/"), text)


RUN = ["run", "case", "--out", "out", "--no-maps"]
INGEST = ["ingest", "--mapping", "people.yaml", "--format", "json"]


def people(work: Path, fmt: str | None = None) -> None:
    """The people mapping in the work folder, reading files as ``fmt`` if given."""
    source = f"source: {{format: {fmt}}}\n" if fmt else ""
    write(work / "people.yaml", PEOPLE_MAPPING + source)


# -- path escapes: a case folder or an ingest reaching files it should not -------------------


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_proc_environ(work: Path, outside: Path) -> None:
    case(work, "  - {file: /proc/self/environ, mapping: people.yaml}\n")


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_absolute(work: Path, outside: Path) -> None:
    case(work, f"  - {{file: {outside}/environ, mapping: people.yaml}}\n")


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_dotdot(work: Path, outside: Path) -> None:
    case(work, "  - {file: ../../outside/environ, mapping: people.yaml}\n")


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_symlink(work: Path, outside: Path) -> None:
    case(work, "  - {file: people.csv, mapping: people.yaml}\n")
    (work / "case" / "people.csv").symlink_to(outside / "environ")


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_symlinked_folder(work: Path, outside: Path) -> None:
    case(work, "  - {file: data/environ, mapping: people.yaml}\n")
    (work / "case" / "data").symlink_to(outside)


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_key(work: Path, outside: Path) -> None:
    case(work, f"  - {{file: {outside}/secret.key, mapping: people.yaml}}\n")


@attack("paths", RUN, "error", r"outside the case folder")
def case_mapping_outside(work: Path, outside: Path) -> None:
    case(work, "  - {file: p.csv, mapping: ../../outside/people.yaml}\n", **{"p.csv": "pid\n1\n"})


@attack("paths", RUN, "error", r"outside the case folder")
def case_mapping_proc(work: Path, outside: Path) -> None:
    case(work, "  - {file: p.csv, mapping: /proc/self/environ}\n", **{"p.csv": "pid\n1\n"})


@attack("paths", RUN, "error", r"not a regular file")
def case_file_fifo(work: Path, outside: Path) -> None:
    case(work, "  - {file: pipe.csv, mapping: people.yaml}\n")
    os.mkfifo(work / "case" / "pipe.csv")  # reading it would block forever


@attack("paths", RUN, "error", r"not a regular file")
def case_file_folder(work: Path, outside: Path) -> None:
    case(work, "  - {file: sub, mapping: people.yaml}\n")
    (work / "case" / "sub").mkdir()


@attack("paths", RUN, "error", r"case\.yaml.*outside the case folder")
def case_yaml_symlink(work: Path, outside: Path) -> None:
    (work / "case").mkdir()
    (work / "case" / "case.yaml").symlink_to(outside / "environ")


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_dev_zero(work: Path, outside: Path) -> None:
    """An endless device: refused before it is opened."""
    case(work, "  - {file: /dev/zero, mapping: people.yaml}\n")


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_dotdot_inside_then_out(work: Path, outside: Path) -> None:
    case(work, "  - {file: ./sub/../../../outside/environ, mapping: people.yaml}\n")
    (work / "case" / "sub").mkdir()


@attack("paths", RUN, "error", r"embedded null byte")
def case_file_nul_in_name(work: Path, outside: Path) -> None:
    """A NUL byte in a table's name (a ValueError traceback before)."""
    case(work, '  - {file: "p.csv\\0../../outside/environ", mapping: people.yaml}\n',
         **{"p.csv": "pid\n1\n"})


@attack("paths", RUN, "error", r"no such file")
def case_file_home(work: Path, outside: Path) -> None:
    """``~`` is not expanded: the file is looked for inside the case folder."""
    case(work, "  - {file: ~/secret.key, mapping: people.yaml}\n")


@attack("paths", RUN, "error", r"no such file")
def case_file_url(work: Path, outside: Path) -> None:
    case(work, f"  - {{file: 'file://{outside}/environ', mapping: people.yaml}}\n")


@attack("paths", RUN, "error", r"mapping")
def case_mapping_is_case_yaml(work: Path, outside: Path) -> None:
    case(work, "  - {file: p.csv, mapping: case.yaml}\n", **{"p.csv": "pid\n1\n"})


@attack("paths", RUN, "error", r"outside the case folder")
def case_mapping_symlink(work: Path, outside: Path) -> None:
    case(work, "  - {file: p.csv, mapping: linked.yaml}\n", **{"p.csv": "pid\n1\n"})
    (work / "case" / "linked.yaml").symlink_to(outside / "people.yaml")


@attack("paths", [*INGEST, "{outside}/secret.key"], "error", r"hashing key file")
def ingest_key_file(work: Path, outside: Path) -> None:
    people(work)


@attack("paths", [*INGEST, "/proc/self/environ"], "error", r"system file")
def ingest_proc_environ(work: Path, outside: Path) -> None:
    people(work)


@attack("paths", ["ingest", "p.csv", "--mapping", "/proc/self/environ"], "error",
        r"system file")
def ingest_mapping_proc(work: Path, outside: Path) -> None:
    write(work / "p.csv", "pid\n1\n")


@attack("paths", ["ingest", "p.csv", "--mapping", "{outside}/secret.key"], "error",
        r"hashing key file")
def ingest_mapping_key_file(work: Path, outside: Path) -> None:
    write(work / "p.csv", "pid\n1\n")


@attack("paths", [*INGEST, "{outside}/environ"], "error", r"missing column")
def ingest_environ_copy(work: Path, outside: Path) -> None:
    """A copy of the environment ingested on purpose: the error names no variable's value."""
    people(work, "csv")


@attack("paths", [*INGEST, "env.csv"], "error", r"missing column")
def ingest_secret_header(work: Path, outside: Path) -> None:
    """Header cells that are secrets: the missing-column error shows masked prefixes."""
    people(work)
    write(work / "env.csv", f"{KEY_CANARY},{SECRET_CANARY}\n1,2\n")


# -- spreadsheets ----------------------------------------------------------------------------


def xlsx(path: Path, rows: Sequence[Sequence[object]], *,
         patch: Callable[[str, bytes], bytes] | None = None,
         extra: dict[str, bytes] | None = None) -> None:
    """A workbook with ``rows`` (inline strings), each of its parts then passed through
    ``patch(name, data)``, and the ``extra`` parts added."""
    import zipfile

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("evidence")
    for row in rows:
        sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    if patch is None and not extra:
        return
    with zipfile.ZipFile(path) as archive:
        parts = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in [*parts, *(extra or {}).items()]:
            archive.writestr(name, patch(name, data) if patch else data)


def in_sheet(transform: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
    """A patch that changes the first worksheet only."""
    return lambda name, data: transform(data) if name.endswith("sheet1.xml") else data


XLSX_INGEST = [*INGEST, "people.xlsx"]
PEOPLE = [["pid", "name"], ["P1", "Ana"]]


@attack("xlsx", XLSX_INGEST, "ok")
def xlsx_far_cell(work: Path, outside: Path) -> None:
    """One cell at XFD1048576: the declared range is 17 billion cells (hung ingest 150 s)."""
    people(work)
    xlsx(work / "people.xlsx", PEOPLE, patch=in_sheet(lambda d: d.replace(
        b"</sheetData>",
        b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        b"</sheetData>")))


@attack("xlsx", XLSX_INGEST, "ok")
def xlsx_declared_dimension(work: Path, outside: Path) -> None:
    """A dimension claiming the whole sheet, over two real rows."""
    people(work)
    xlsx(work / "people.xlsx", PEOPLE, patch=in_sheet(lambda d: d.replace(
        b"<sheetViews>", b'<dimension ref="A1:XFD1048576"/><sheetViews>')))


@attack("xlsx", XLSX_INGEST, "error", r"columns, more than source\.limits\.columns")
def xlsx_far_header(work: Path, outside: Path) -> None:
    """A header cell at XFD1: 16,384 columns."""
    people(work)
    xlsx(work / "people.xlsx", PEOPLE, patch=in_sheet(lambda d: d.replace(
        b'</c></row><row r="2">',
        b'</c><c r="XFD1" t="inlineStr"><is><t>far</t></is></c></row><row r="2">', 1)))


@attack("xlsx", XLSX_INGEST, "error", r"decompression bomb")
def xlsx_shared_string_bomb(work: Path, outside: Path) -> None:
    """A 20 MB value packed into a few kilobytes (a 300 MB one took 1.9 GB to read)."""
    people(work)
    shared = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
              b'count="1" uniqueCount="1"><si><t>' + b"A" * 20_000_000 + b"</t></si></sst>")

    def patch(name: str, data: bytes) -> bytes:
        if name.endswith("sheet1.xml"):
            return data.replace(b'<c r="B2" t="inlineStr"><is><t>Ana</t></is></c>',
                                b'<c r="B2" t="s"><v>0</v></c>')
        if name == "xl/_rels/workbook.xml.rels":
            return data.replace(b"</Relationships>", (
                b'<Relationship Id="rIdS" Target="sharedStrings.xml" Type="http://schemas.'
                b'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
                b"</Relationships>"))
        if name == "[Content_Types].xml":
            return data.replace(b"</Types>", (
                b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
                b'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
        return data

    xlsx(work / "people.xlsx", PEOPLE, patch=patch, extra={"xl/sharedStrings.xml": shared})


@attack("xlsx", XLSX_INGEST, "error", r"decompression bomb")
def xlsx_inline_string_bomb(work: Path, outside: Path) -> None:
    people(work)
    xlsx(work / "people.xlsx", PEOPLE, patch=in_sheet(lambda d: d.replace(
        b"<t>Ana</t>", b"<t>" + b"B" * 20_000_000 + b"</t>")))


@attack("xlsx", XLSX_INGEST, "quarantine")
def xlsx_long_cell(work: Path, outside: Path) -> None:
    """A value over the 32,767-character cell limit: that row is quarantined."""
    people(work)
    xlsx(work / "people.xlsx", PEOPLE, patch=in_sheet(lambda d: d.replace(
        b"<t>Ana</t>", b"<t>" + os.urandom(20_000).hex().encode() + b"</t>")))


@attack("xlsx", XLSX_INGEST, "error", r"not a readable XLSX")
def xlsx_dtd_entities(work: Path, outside: Path) -> None:
    """A DTD with nested entities (billion laughs) in the sheet."""
    people(work)
    dtd = (b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
           + b"".join(f'<!ENTITY {n} "{("&" + p + ";") * 10}">'.encode()
                      for p, n in zip("abcdefgh", "bcdefghi", strict=True))
           + b"]>")
    xlsx(work / "people.xlsx", PEOPLE, patch=in_sheet(
        lambda d: dtd + d.replace(b"<t>Ana</t>", b"<t>&i;</t>")))


@attack("xlsx", XLSX_INGEST, "error", r"not a readable XLSX")
def xlsx_dtd_external_entity(work: Path, outside: Path) -> None:
    """An external entity naming a file outside: never fetched, never shown."""
    people(work)
    dtd = f'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file://{outside}/environ">]>'.encode()
    xlsx(work / "people.xlsx", PEOPLE, patch=in_sheet(
        lambda d: dtd + d.replace(b"<t>Ana</t>", b"<t>&x;</t>")))


@attack("xlsx", XLSX_INGEST, "error", r"not a readable XLSX")
def xlsx_not_a_zip(work: Path, outside: Path) -> None:
    people(work)
    write(work / "people.xlsx", b"pid,name\nP1,Ana\n")


@attack("xlsx", XLSX_INGEST, "error", r"not a readable XLSX")
def xlsx_truncated(work: Path, outside: Path) -> None:
    people(work)
    xlsx(work / "people.xlsx", PEOPLE)
    data = (work / "people.xlsx").read_bytes()
    write(work / "people.xlsx", data[: len(data) // 2])


@attack("xlsx", XLSX_INGEST, "error", r"without worksheets")
def xlsx_sheet_missing(work: Path, outside: Path) -> None:
    """The workbook names a sheet part the archive does not hold."""
    people(work)
    xlsx(work / "people.xlsx", PEOPLE, patch=lambda name, data: data.replace(
        b"worksheets/sheet1.xml", b"worksheets/nothere.xml"))


@attack("xlsx", XLSX_INGEST, "error", r"not a readable XLSX")
def xlsx_malformed_xml(work: Path, outside: Path) -> None:
    people(work)
    xlsx(work / "people.xlsx", PEOPLE, patch=in_sheet(lambda d: d.replace(b"</row>", b"", 1)))


@attack("xlsx", XLSX_INGEST, "error", r"not a readable XLSX sheet")
def xlsx_bad_cell_reference(work: Path, outside: Path) -> None:
    """A cell reference past the last column of a sheet."""
    people(work)
    xlsx(work / "people.xlsx", PEOPLE, patch=in_sheet(lambda d: d.replace(b'r="B2"', b'r="ZZZZ2"')))


# -- JSON lines ------------------------------------------------------------------------------

JSONL_INGEST = [*INGEST, "people.jsonl"]
GOOD_LINE = '{"pid": "P1", "name": "Ana"}\n'


def jsonl(work: Path, *lines: str) -> None:
    """The people mapping and a JSON lines file: one good line, then ``lines``."""
    people(work)
    write(work / "people.jsonl", GOOD_LINE + "".join(lines))


@attack("jsonl", JSONL_INGEST, "quarantine")
def jsonl_nested_10000(work: Path, outside: Path) -> None:
    """Nesting 10,000 deep (a RecursionError traceback before)."""
    jsonl(work, '{"pid": "P2", "name": ' + "[" * 10_000 + "]" * 10_000 + "}\n")


@attack("jsonl", JSONL_INGEST, "quarantine")
def jsonl_nested_40(work: Path, outside: Path) -> None:
    jsonl(work, '{"pid": "P2", "name": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}\n")


@attack("jsonl", JSONL_INGEST, "quarantine")
def jsonl_long_line(work: Path, outside: Path) -> None:
    """A 2 MB line: skipped without being read whole."""
    jsonl(work, '{"pid": "P2", "name": "' + "x" * 2_000_000 + '"}\n')


@attack("jsonl", JSONL_INGEST, "quarantine")
def jsonl_long_field(work: Path, outside: Path) -> None:
    jsonl(work, '{"pid": "P2", "name": "' + "x" * 40_000 + '"}\n')


@attack("jsonl", JSONL_INGEST, "quarantine")
def jsonl_huge_integer(work: Path, outside: Path) -> None:
    """An integer of 5,000 digits: beyond Python's conversion limit."""
    jsonl(work, '{"pid": "P2", "name": ' + "9" * 5000 + "}\n")


@attack("jsonl", JSONL_INGEST, "quarantine")
def jsonl_not_objects(work: Path, outside: Path) -> None:
    jsonl(work, "[1, 2]\n", '"text"\n', "null\n", "{broken\n")


@attack("jsonl", JSONL_INGEST, "ok")
def jsonl_nan_and_infinity(work: Path, outside: Path) -> None:
    jsonl(work, '{"pid": "P2", "name": NaN}\n', '{"pid": "P3", "name": -Infinity}\n')


@attack("jsonl", JSONL_INGEST, "error", r"not valid utf-8")
def jsonl_bad_utf8(work: Path, outside: Path) -> None:
    people(work)
    write(work / "people.jsonl", GOOD_LINE.encode() + b'{"pid": "P2", "name": "\xff"}\n')


# -- CSV ---------------------------------------------------------------------------------------

CSV_INGEST = [*INGEST, "people.csv"]


def table(work: Path, text: str | bytes) -> None:
    """The people mapping and ``people.csv``."""
    people(work)
    write(work / "people.csv", text)


GOOD_ROWS = "".join(f"P{i},Person {i}\n" for i in range(2, 1002))


@attack("csv", CSV_INGEST, "error", r"row 2 spans lines 2-\d+, more than")
def csv_unclosed_quote(work: Path, outside: Path) -> None:
    """An unclosed quote before 1,000 good rows (gave read 1, loaded 1, rc 0)."""
    table(work, 'pid,name\nP1,"Alice\n' + GOOD_ROWS)


@attack("csv", CSV_INGEST, "error", r"quoted field that is never closed")
def csv_unclosed_quote_near_the_end(work: Path, outside: Path) -> None:
    table(work, "pid,name\nP0,Zed\n" + 'P1,"Alice\n' + GOOD_ROWS[:60])


@attack("csv", CSV_INGEST, "error", r"longer than source\.limits\.record_chars")
def csv_field_of_two_megabytes(work: Path, outside: Path) -> None:
    table(work, "pid,name\nP1," + "x" * 2_000_000 + "\n")


@attack("csv", CSV_INGEST, "quarantine")
def csv_long_field(work: Path, outside: Path) -> None:
    table(work, "pid,name\nP1,Ana\nP2," + "x" * 40_000 + "\n")


@attack("csv", CSV_INGEST, "error", r"more than once: pid")
def csv_duplicate_header(work: Path, outside: Path) -> None:
    """Two ``pid`` columns: the first silently won before."""
    table(work, "pid,name,pid\nP1,Ana,P9\n")


@attack("csv", CSV_INGEST, "error", r"columns, more than source\.limits\.columns")
def csv_wide_header(work: Path, outside: Path) -> None:
    table(work, "pid,name," + ",".join(f"c{i}" for i in range(100_000)) + "\nP1,Ana\n")


@attack("csv", CSV_INGEST, "ok")
def csv_nul_and_controls(work: Path, outside: Path) -> None:
    table(work, "pid,name\nP1,A\0na\nP2,\x1b[31mred\x1b[0m\nP3,\u202etxt.exe\n")


@attack("csv", CSV_INGEST, "ok")
def csv_mixed_line_ends_and_bom(work: Path, outside: Path) -> None:
    table(work, "\ufeffpid,name\r\nP1,Ana\rP2,Ben\nP3,\"multi\r\nline\"\n")


@attack("csv", CSV_INGEST, "quarantine")
def csv_too_many_fields(work: Path, outside: Path) -> None:
    table(work, "pid,name\nP1,Ana\nP2,Ben,extra,more\n")


@attack("csv", CSV_INGEST, "error", r"not valid utf-8")
def csv_bad_utf8(work: Path, outside: Path) -> None:
    table(work, b"pid,name\nP1,\xc3\x28\n")


@attack("csv", CSV_INGEST, "error", r"no header row")
def csv_empty(work: Path, outside: Path) -> None:
    table(work, "")


@attack("csv", CSV_INGEST, "error", r"not a text encoding")
def mapping_encoding_base64(work: Path, outside: Path) -> None:
    """A bytes-to-bytes codec as the encoding (a traceback before)."""
    table(work, "pid,name\nP1,Ana\n")
    write(work / "people.yaml", PEOPLE_MAPPING + "source: {encoding: base64}\n")


@attack("csv", CSV_INGEST, "error", r"not a text encoding")
def mapping_encoding_rot13(work: Path, outside: Path) -> None:
    table(work, "pid,name\nP1,Ana\n")
    write(work / "people.yaml", PEOPLE_MAPPING + "source: {encoding: rot13}\n")


# -- options and other inputs ------------------------------------------------------------------


@attack("options", ["cypher", "RETURN $x AS x", "--neo4j", "bolt://127.0.0.1:1", "-p",
                    "x=" + "[" * 10_000 + "]" * 10_000], "error", r"nests its JSON too deeply")
def cypher_deeply_nested_param(work: Path, outside: Path) -> None:
    """A --param value nested 10,000 deep (a traceback before)."""


@attack("options", ["path", "Person:A", "Person:B", "--paths", "100000"], "usage")
def path_paths_unbounded(work: Path, outside: Path) -> None:
    """--paths 100000 asked for an unbounded search."""


@attack("options", RUN, "error", r"case\.yaml")
def case_yaml_invalid(work: Path, outside: Path) -> None:
    """An invalid case.yaml: one line, and no empty case file left behind."""
    case(work, "  - {file: p.csv, mapping: people.yaml, extra: 1}\n", **{"p.csv": "pid\n1\n"})


@attack("options", RUN, "error", r"YAML syntax error")
def case_yaml_not_yaml(work: Path, outside: Path) -> None:
    write(work / "case" / "case.yaml", "tables: [\n  - {file: x\n")


@attack("options", ["ingest", "p.csv", "--mapping", "m.yaml"], "error", r"mapping")
def mapping_yaml_bomb(work: Path, outside: Path) -> None:
    """A billion-laughs YAML mapping (aliases of aliases)."""
    write(work / "p.csv", "pid\n1\n")
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
              for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
    write(work / "m.yaml", "\n".join(lines) + "\nentities: *i\n")
