"""``ringmap synth``: deterministic synthetic cases, their mappings, truth and noise."""

from __future__ import annotations

import csv
import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from ringmap.cli import cli
from ringmap.errors import ConfigError, NormalisationError
from ringmap.graphs.normalise import NORMALISERS, Context, luhn_valid
from ringmap.graphs.schema import SCHEMA
from ringmap.synth import SynthParams, generate, truth_node_id
from ringmap.synth.tables import TABLES, CsvTable, Noise
from ringmap.synth.world import World, cell_size

SECRET = "test-secret-0123456789"
CTX = Context(default_region="PH")
SMALL = SynthParams(cells=4, seed=11, noise=0.0, victims_per_cell=6)
NOISY = SynthParams(cells=4, seed=11, noise=0.6, victims_per_cell=6)


@pytest.fixture(scope="module")
def clean_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "clean"
    generate(out, SMALL)
    return out


@pytest.fixture(scope="module")
def noisy_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "noisy"
    generate(out, NOISY)
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _rows(case: Path, name: str) -> list[dict[str, Any]]:
    """Data rows of one table as dicts (JSON lines flattened to dotted paths)."""
    spec = next(s for s in TABLES if s.name == name)
    path = case / spec.file
    if spec.file.endswith(".jsonl"):
        return [_flatten(json.loads(line)) for line in path.read_text("utf-8").splitlines()]
    if spec.file.endswith(".xlsx"):
        book = load_workbook(path, read_only=True)
        sheet = book.active
        assert sheet is not None
        values = list(sheet.iter_rows(min_row=3, values_only=True))
        book.close()  # a read-only workbook keeps its file open until closed
        header = [str(v) for v in values[0]]
        return [dict(zip(header, row, strict=True)) for row in values[1:]]
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=spec.delimiter))


def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _summary(case: Path) -> dict[str, Any]:
    return json.loads((case / "truth" / "summary.json").read_text("utf-8"))  # type: ignore[no-any-return]


def _truth(case: Path) -> list[dict[str, str]]:
    with (case / "truth" / "cells.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# determinism -----------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", NOISY)
    generate(tmp_path / "b", NOISY)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert "arrests.xlsx" in first
    assert first == second


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    generate(tmp_path / "a", SMALL)
    generate(tmp_path / "b", SynthParams(cells=4, seed=12, noise=0.0, victims_per_cell=6))
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first.keys() == second.keys()
    assert first["platform_records.csv"] != second["platform_records.csv"]
    assert first["truth/cells.csv"] != second["truth/cells.csv"]


# structure -------------------------------------------------------------------------------


def test_requested_cells_with_realistic_sizes(clean_case: Path) -> None:
    summary = _summary(clean_case)
    assert summary["counts"]["cells"] == SMALL.cells
    assert summary["parameters"] == {"cells": 4, "seed": 11, "noise": 0.0,
                                     "victims_per_cell": 6}
    assert {row["cell_id"] for row in _truth(clean_case)} == {"C-0001", "C-0002", "C-0003",
                                                              "C-0004"}
    world = World(seed=3, cells=40, noise=0.0)
    sizes = [len(world.new_cell(i).agents) for i in range(40)]
    assert min(sizes) >= 5 and max(sizes) <= 30
    assert sum(8 <= s <= 20 for s in sizes) > len(sizes) // 2


def test_cell_sizes_are_skewed_and_bounded() -> None:
    sizes = Counter(cell_size(random.Random(i)) for i in range(2000))
    assert min(sizes) >= 5 and max(sizes) <= 30
    assert sum(n for s, n in sizes.items() if 8 <= s <= 20) / 2000 > 0.7


def test_truth_node_ids_are_well_formed(clean_case: Path) -> None:
    truth = _truth(clean_case)
    assert truth
    offices = {row["Raid Site Code"] for row in _rows(clean_case, "exhibits")}
    for row in truth:
        type_name, _, key = row["node_id"].partition(":")
        assert type_name in {"Person", "Account"}
        if type_name == "Person":
            assert re.fullmatch(r"AG-\d{5}", key)
            assert truth_node_id("Person", key) == row["node_id"]
        else:
            platform, handle = key.split("/", 1)
            assert truth_node_id("Account", platform, handle) == row["node_id"]
        assert re.fullmatch(r"C-\d{4}", row["cell_id"])
        assert row["office"] in offices
    assert len({row["node_id"] for row in truth}) == len(truth)


def test_truth_lists_exactly_the_agents_and_accounts_in_evidence(clean_case: Path) -> None:
    agents: set[str] = set()
    for name, column in (("identifications", "suspect_ref"), ("arrests", "Suspect ID"),
                         ("exhibits", "Seized From (Suspect ID)"),
                         ("extractions", "seized_from.suspect_id")):
        agents |= {truth_node_id("Person", r[column]) for r in _rows(clean_case, name)
                   if r.get(column)}
    accounts: set[str] = set()
    for name, platform, handle in (("identifications", "platform", "profile"),
                                   ("platform_records", "Service", "Target"),
                                   ("extractions", "account.app", "account.user"),
                                   ("reports", "reported_platform", "reported_account"),
                                   ("chats", "platform", "sender")):
        accounts |= {truth_node_id("Account", r[platform], r[handle])
                     for r in _rows(clean_case, name) if r.get(handle)}
    truth = {row["node_id"] for row in _truth(clean_case)}
    assert {n for n in truth if n.startswith("Person:")} == agents
    truth_accounts = {n for n in truth if n.startswith("Account:")}
    assert truth_accounts <= accounts
    # the senders of chats are agents, except victims' replies
    assert truth_accounts


def test_case_yaml_lists_every_table_with_mapping_and_grading(clean_case: Path) -> None:
    case = yaml.safe_load((clean_case / "case.yaml").read_text("utf-8"))
    assert case["name"] == "strikeback-synthetic"
    assert [t["file"] for t in case["tables"]] == [s.file for s in TABLES]
    for table in case["tables"]:
        assert (clean_case / table["file"]).is_file()
        assert (clean_case / table["mapping"]).is_file()
        assert re.fullmatch(r"[A-F][1-6]", table["grading"])
    assert "synthetic" in (clean_case / "README.md").read_text("utf-8").lower()


def test_mappings_fit_the_schema_and_the_tables(clean_case: Path) -> None:
    for spec in TABLES:
        mapping = yaml.safe_load((clean_case / spec.mapping_file).read_text("utf-8"))
        rows = _rows(clean_case, spec.name)
        columns = set().union(*(r.keys() for r in rows))
        types = {}
        for local, entity in mapping["entities"].items():
            etype = SCHEMA.entity(entity["type"])
            allowed = set(etype.properties) | ({"number"} if etype.name == "PaymentCard" else set())
            assert set(entity["properties"]) <= allowed, (spec.name, local)
            covered = set(entity["properties"]) | ({"card_hash"} if "number" in entity[
                "properties"] else set())
            assert set(etype.keys) <= covered, (spec.name, local)
            for value in entity["properties"].values():
                assert "column" not in value or value["column"] in columns, (spec.name, value)
            types[local] = etype.name
        for rel in mapping["relationships"]:
            rtype = SCHEMA.relationship(rel["type"])
            assert rtype.allows(types[rel["source"]], types[rel["target"]]), (spec.name, rel)
            assert set(rel.get("properties", {})) <= set(rtype.properties), (spec.name, rel)


def test_mappings_load_with_the_ingest_mapping_loader(clean_case: Path) -> None:
    from ringmap.ingest.mapping import load_mapping

    for spec in TABLES:
        assert load_mapping(clean_case / spec.mapping_file).name == spec.name


def test_arrest_roster_is_xlsx_with_title_rows(clean_case: Path) -> None:
    book = load_workbook(clean_case / "arrests.xlsx", read_only=True)
    rows = list(book["Arrest Roster"].iter_rows(max_row=3, values_only=True))
    book.close()
    assert "SYNTHETIC" in str(rows[0][0])
    assert tuple(rows[2]) == next(s for s in TABLES if s.name == "arrests").columns


# noise -----------------------------------------------------------------------------------


def _identifier_failures(case: Path) -> Counter[str]:
    """Rows per table whose phone, device or SIM value does not normalise."""
    checks = {
        "exhibits": (("phone", "MSISDN"), ("device_id", "IMEI / Serial No."),
                     ("iccid", "ICCID")),
        "extractions": (("phone", "sim.msisdn"), ("device_id", "device.imei"),
                        ("iccid", "sim.iccid")),
        "platform_records": (("phone", "Registered Mobile"), ("device_id", "Device ID"),
                             ("ip", "IP Address"), ("email", "Registered Email")),
    }
    failures: Counter[str] = Counter()
    for name, fields in checks.items():
        for row in _rows(case, name):
            for normaliser, column in fields:
                value = row.get(column)
                if not value:
                    continue
                try:
                    NORMALISERS[normaliser](str(value), CTX)
                except NormalisationError:
                    failures[name] += 1
                    break
    return failures


def test_noise_zero_gives_no_bad_rows_and_no_duplicates(clean_case: Path) -> None:
    summary = _summary(clean_case)
    assert all(t["bad"] == 0 and t["duplicates"] == 0 for t in summary["tables"].values())
    assert not _identifier_failures(clean_case)
    for spec in TABLES:
        rows = [tuple(sorted(r.items())) for r in _rows(clean_case, spec.name)]
        assert rows, spec.name
        assert len(set(rows)) == len(rows), spec.name


def test_bad_rows_are_exactly_the_counted_ones(noisy_case: Path) -> None:
    tables = _summary(noisy_case)["tables"]
    assert sum(t["duplicates"] for t in tables.values()) > 0
    failures = _identifier_failures(noisy_case)
    assert failures == Counter({n: t["bad"] for n, t in tables.items() if t["bad"]})


def test_noise_writes_identifiers_in_several_spellings(noisy_case: Path) -> None:
    phones = [r["Registered Mobile"] for r in _rows(noisy_case, "platform_records")
              if r["Registered Mobile"]]
    assert len({p[:4] for p in phones}) > 2
    handles = [r["Target"] for r in _rows(noisy_case, "platform_records")]
    assert any(h.startswith("@") for h in handles)
    assert any(h.startswith("https://") for h in handles)


def test_card_numbers_in_raw_exports_are_luhn_valid(noisy_case: Path) -> None:
    cards = [r["Payout Card"] for r in _rows(noisy_case, "remittances") if r["Payout Card"]]
    cards += [r["Card No."] for r in _rows(noisy_case, "exhibits") if r["Card No."]]
    assert cards
    for card in cards:
        digits = re.sub(r"[ -]", "", card)
        assert digits.isdigit() and len(digits) == 16 and luhn_valid(digits)


def test_noise_helpers() -> None:
    noise = Noise(random.Random(5), 1.0)
    e164 = "+639171234567"
    spellings = {noise.phone(e164, 0) for _ in range(200)}
    assert len(spellings) == 6
    assert {NORMALISERS["phone"](s, CTX) for s in spellings} == {e164}
    with pytest.raises(NormalisationError):
        NORMALISERS["phone"](noise.bad_phone(e164), CTX)
    with pytest.raises(NormalisationError):
        NORMALISERS["imei"](noise.bad_imei("353318063431372"), CTX)
    handles = {noise.handle("Facebook", "maria.santos.88") for _ in range(200)}
    assert {NORMALISERS["handle"](h, CTX) for h in handles} == {"maria.santos.88"}
    assert len(handles) == 4


# ingest ----------------------------------------------------------------------------------


def test_ingest_rejects_only_the_bad_rows_and_keeps_no_card_number(
    noisy_case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ringmap.graphs.store import open_store
    from ringmap.ingest.case import load_case
    from ringmap.ingest.run import ingest_files

    monkeypatch.setenv("RINGMAP_SECRET", SECRET)
    store_path = tmp_path / "case.db"
    store = open_store(store_path)
    try:
        report = ingest_files(store, load_case(noisy_case), quarantine_dir=tmp_path / "q")
        truth = [row["node_id"] for row in _truth(noisy_case)]
        found = store.get_many(truth)
        suspects = {n.id for n in store.nodes(["Person"]) if n.props.get("role") == "suspect"}
    finally:
        store.close()
    tables = _summary(noisy_case)["tables"]
    by_file = {Path(f.file).name: f for f in report.files}
    for spec in TABLES:  # a bad value is a rejected row, or a skipped optional entity
        done = by_file[spec.file]
        assert done.rejected + done.skipped_total == tables[spec.name]["bad"], spec.name
        assert by_file[spec.file].duplicate == tables[spec.name]["duplicates"], spec.name
    assert set(found) == set(truth)
    assert suspects == {n for n in truth if n.startswith("Person:")}
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    pans = {re.sub(r"\D", "", r["Payout Card"]) for r in _rows(noisy_case, "remittances")
            if r["Payout Card"]}
    assert pans
    assert not [p for p in pans if p.encode() in stored]


# CLI -------------------------------------------------------------------------------------


def test_cli_writes_a_case_and_prints_rows_per_table(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["synth", str(tmp_path / "case"), "--cells", "2",
                                      "--seed", "3", "--noise", "0", "--victims-per-cell", "3",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["table"] for r in rows] == [s.name for s in TABLES]
    summary = _summary(tmp_path / "case")
    assert sum(r["rows"] for r in rows) == summary["total_rows"]


def test_cli_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["synth", str(tmp_path / "case"), "--cells", "1", "--victims-per-cell", "2"]
    assert runner.invoke(cli, args).exit_code == 0
    again = runner.invoke(cli, args)
    assert again.exit_code == 1
    assert again.output.startswith("Error: ") and "--force" in again.output
    assert runner.invoke(cli, [*args, "--force"]).exit_code == 0


def test_force_never_replaces_a_folder_that_is_not_a_case(tmp_path: Path) -> None:
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["synth", str(precious), "--cells", "1", "--force"])
    assert result.exit_code == 1
    assert "not a generated case" in result.output
    assert (precious / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]


@pytest.mark.parametrize(("params", "message"), [
    (SynthParams(cells=0, seed=1, noise=0.0), "--cells"),
    (SynthParams(cells=1, seed=1, noise=1.5), "--noise"),
    (SynthParams(cells=1, seed=1, noise=0.0, victims_per_cell=0), "--victims-per-cell"),
])
def test_bad_parameters_are_user_errors(params: SynthParams, message: str,
                                        tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        generate(tmp_path / "case", params)
    assert not list(tmp_path.iterdir())


def test_committed_example_is_what_the_generator_writes(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "strikeback"
    params = SynthParams(**_summary(example)["parameters"])
    generate(tmp_path / "strikeback", params)
    assert _files(tmp_path / "strikeback") == _files(example)


def test_cli_reports_progress_on_stderr_for_big_cases(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from ringmap.cli import synth as synth_cli

    monkeypatch.setattr(synth_cli, "_PROGRESS_FROM_CELLS", 2)
    result = CliRunner().invoke(cli, ["synth", str(tmp_path / "case"), "--cells", "2",
                                      "--victims-per-cell", "2", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "synth: 2/2 cells" in result.stderr
    assert result.stdout.splitlines()[0] == "table,rows,bad,duplicates"


def test_csv_evidence_quotes_a_bare_carriage_return(tmp_path: Path) -> None:
    """Regression: synthetic CSV evidence was written by csv.writer with "\\n" line ends, which
    leaves a cell holding a bare CR unquoted; a reader then splits the row there (and a formula
    after it starts a line). Now it goes through the one CSV writer, raw: quoted, not
    neutralised, so the evidence reads back as written."""
    spec = next(t for t in TABLES if t.file.endswith(".csv"))
    path = tmp_path / spec.file
    table = CsvTable(path, spec)
    row = ["x\r=HYPERLINK(1)", "-", "a;b", None, 2.5, *[""] * (len(spec.columns) - 5)]
    table.write_many([row])
    table.close()
    with path.open(encoding="utf-8", newline="") as handle:
        read = list(csv.reader(handle, delimiter=spec.delimiter))
    assert read == [list(spec.columns), ["x\r=HYPERLINK(1)", "-", "a;b", "", "2.5",
                                         *[""] * (len(spec.columns) - 5)]]
