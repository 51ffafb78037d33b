"""issue 12: formula payloads in every text field of every table of a case, and no live
formula in any CSV ringmap writes from it: the run's ``cells.csv`` and quarantine, every
roster of every raid package, ``batch --out``, and ``--format csv`` on stdout.

Every column of every table (CSV, JSON lines, XLSX) holds a payload of
:data:`~ringmap.tests.attack.hostile_files.FORMULAS` in one row of four; rows whose key it
breaks are quarantined, the others carry it to the outputs.
"""

from __future__ import annotations

import csv
import json
from itertools import cycle
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.ingest.mapping import load_mapping
from ringmap.synth import SynthParams, generate
from ringmap.tests.attack.hostile_files import FORMULAS, live_cells

pytestmark = pytest.mark.slow

_EVERY = 4  # one row in four holds a payload


def _poison_csv(path: Path, delimiter: str, payloads: cycle[str]) -> int:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=delimiter))
    header, body = rows[0], rows[1:]
    for i, row in enumerate(body):
        if i % _EVERY == 0 and row:
            row[(i // _EVERY) % len(row)] = next(payloads)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=delimiter, lineterminator="\r\n").writerows([header, *body])
    return len(header)


def _poison_jsonl(path: Path, payloads: cycle[str]) -> int:
    objects = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
               if line.strip()]
    keys = sorted({k for o in objects for k in o})
    for i, obj in enumerate(objects):
        if i % _EVERY == 0:
            obj[keys[(i // _EVERY) % len(keys)]] = next(payloads)
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return len(keys)


def _poison_xlsx(path: Path, payloads: cycle[str]) -> int:
    from openpyxl import load_workbook

    book = load_workbook(path)
    sheet = book.worksheets[0]
    width: int = sheet.max_column
    for i, row in enumerate(sheet.iter_rows(min_row=2)):
        if i % _EVERY == 0:
            cell = row[(i // _EVERY) % width]
            cell.value = next(payloads)
            cell.data_type = "s"  # text, as evidence holds it, never a formula of the sheet
    book.save(path)
    return width


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = tmp_path_factory.mktemp("formulas") / "case"
    generate(case, SynthParams(cells=3, seed=12, noise=0.2))
    payloads = cycle(FORMULAS)
    columns = 0
    for mapping_file in sorted((case / "mappings").glob("*.yaml")):
        mapping = load_mapping(mapping_file)
        table = next(p for p in case.iterdir() if p.stem == mapping_file.stem
                     and p.suffix in (".csv", ".jsonl", ".xlsx"))
        if table.suffix == ".csv":
            columns += _poison_csv(table, mapping.source.delimiter or ",", payloads)
        elif table.suffix == ".jsonl":
            columns += _poison_jsonl(table, payloads)
        else:
            columns += _poison_xlsx(table, payloads)
    assert columns >= 50  # every column of every table
    return case


def test_issue_12_no_live_formula_in_any_csv_output(poisoned: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    store = ["--store", "out/ringmap.db"]

    def ok(*args: str) -> str:
        result = runner.invoke(cli, list(args))
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    ok("run", str(poisoned), "--out", "out", "--no-maps")
    ok("export", "cells", "--out", "packages", *store)
    watchlist = tmp_path / "watch.csv"
    with watchlist.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(
            [["identifier", "type", "note"], *(["0917 123 4567", "phone", f] for f in FORMULAS)])
    ok("batch", str(watchlist), "--out", "hits.csv", *store)
    printed = {
        "cells": ok("cells", "--format", "csv", *store),
        "stats": ok("stats", "--format", "csv", *store),
        "cross-border": ok("query", "cross-border-summary", "--format", "csv", *store),
        "batch": ok("batch", str(watchlist), "--format", "csv", *store),
    }
    written = [p for p in tmp_path.rglob("*.csv") if p != watchlist]
    assert {"cells.csv", "hits.csv", "persons.csv", "accounts.csv", "exhibits.csv"} <= {
        p.name for p in written}
    assert any(p.parent.name == "quarantine" for p in written)
    for path in written:
        assert live_cells(path) == [], path
    for name, text in printed.items():
        assert text.count("\n") > 1 and live_cells(text) == [], name
    # the payloads did reach the outputs, neutralised
    shown = "".join(p.read_text(encoding="utf-8") for p in written)
    assert shown.count("'=") + shown.count("'+") + shown.count("'@") >= 10
