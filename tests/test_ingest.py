"""Evidence ingest: row accounting, quarantine, card safety, idempotence, resume, CLI."""

from __future__ import annotations

import csv
import gc
import hashlib
import json
import re
import weakref
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import Batch, BatchColumns, FileLoad, Grading
from ringmap.graphs.store import Store
from ringmap.ingest import run
from ringmap.ingest.engine import CompiledMapping, compile_mapping
from ringmap.ingest.mapping import load_mapping, parse_mapping
from ringmap.ingest.run import IngestTask, ingest_files

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
MAPPINGS = FIXTURES / "mappings"
REMITTANCES = FIXTURES / "remittances.csv"
REMIT_MAP = MAPPINGS / "remittances.yaml"
PANS = ("4111111111111111", "5500000000000004", "4111111111111112")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with EmbeddedStore(tmp_path / "case.db") as opened:
        yield opened


def checksum(store: Store) -> str:
    """A digest of every node and relationship with its properties."""
    items = [[n.id, n.type, n.props] for n in store.nodes()]
    items += [[e.type, e.src, e.dst, e.props] for e in store.edges()]
    return hashlib.sha256(json.dumps(items, default=str, sort_keys=True).encode()).hexdigest()


def quarantine_rows(path: str | None) -> list[dict[str, str]]:
    assert path is not None
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_row_accounting_and_quarantine(store: EmbeddedStore, tmp_path: Path) -> None:
    report = ingest_files(store, [(REMITTANCES, REMIT_MAP, None)],
                          quarantine_dir=tmp_path / "q")
    (result,) = report.files
    assert (result.read, result.loaded, result.duplicate, result.rejected) == (9, 3, 1, 5)
    assert result.status == "loaded"
    sha8 = hashlib.sha256(REMITTANCES.read_bytes()).hexdigest()[:8]
    digest8 = load_mapping(REMIT_MAP).digest()[:8]
    name = f"remittances-{sha8}-remittances-{digest8}.csv"
    assert result.quarantine == str(tmp_path / "q" / name)
    rows = quarantine_rows(result.quarantine)
    assert [(r["row"], r["reason"]) for r in rows] == [
        ("5", "device.device_id: IMEI '490154203237519': Luhn check digit is wrong"),
        ("6", "phone.number: phone '12': too short"),
        ("7", "victim.person_id: blank key"),
        ("8", "card.number: card number: Luhn check digit is wrong"),
        ("10", "payment.amount: 'abc' is not a number"),
    ]
    assert rows[0]["victim_phone"] == "'+65 9123 4567"  # neutralised: would read as formula
    assert rows[3]["card_number"] == "411111******1112"
    assert rows[4]["first_name"] == "'=HYPERLINK(\"http://x\")"
    counts = store.counts()
    assert counts.nodes == {"Device": 2, "Payment": 3, "PaymentCard": 2, "Person": 5, "Phone": 2}
    assert counts.relationships == {"PAID": 3, "PAID_TO": 2, "USES": 4}
    (load,) = store.file_loads()
    assert (load.read, load.loaded, load.duplicate, load.rejected) == (9, 3, 1, 5)
    assert load.complete and load.quarantine == result.quarantine
    assert load.grading == Grading(scheme="admiralty", grade="B2")


def test_values_are_normalised_and_provenance_recorded(store: EmbeddedStore,
                                                       tmp_path: Path) -> None:
    report = ingest_files(store, [(REMITTANCES, REMIT_MAP, Grading.parse("A1"))],
                          quarantine_dir=tmp_path / "q", run_id="run-1")
    assert report.run_id == "run-1"
    payment = store.get("Payment:moneygram/MG-555-01")
    assert payment is not None
    assert payment.props == {"channel": "moneygram", "reference": "MG-555-01", "amount": 1500.0,
                             "currency": "USD",
                             "time": datetime(2014, 5, 2, 11, 30, tzinfo=UTC)}
    victim = store.get("Person:V001")
    assert victim is not None and victim.props["name"] == "Juan Cruz"
    assert store.get("Phone:+639171234567") is not None
    card = next(store.nodes(["PaymentCard"]))
    assert set(card.props) == {"card_hash", "bin", "last4", "masked", "brand"}
    (seen,) = store.provenance("Person:V001")  # row 4 is a duplicate: no second sighting
    assert (seen.row, seen.ref, seen.run_id, seen.grading.grade) == (2, "EX-1", "run-1", "A1")
    (run,) = store.runs()
    assert run.run_id == "run-1" and run.finished is not None and len(run.files) == 1


def test_card_numbers_never_reach_the_store_or_the_outputs(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(REMITTANCES), "--mapping", str(REMIT_MAP),
                                 "--store", str(tmp_path / "case.db"), "--format", "json"])
    assert result.exit_code == 0, result.output
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".csv" for p in written)
    for path in written:
        data = path.read_bytes()
        for pan in PANS:
            assert pan.encode() not in data, path
            assert pan[-8:].encode() not in data, path
    for pan in PANS:
        assert pan not in result.output


def test_reingest_changes_nothing_and_says_so(tmp_path: Path) -> None:
    store_path = str(tmp_path / "case.db")
    args = ["ingest", str(REMITTANCES), "-m", str(REMIT_MAP), "--store", store_path]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "5 row(s) of" in first.stderr and "rejected" in first.stderr
    with EmbeddedStore(Path(store_path)) as store:
        before, counts = checksum(store), store.counts()
    again = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert again.exit_code == 0, again.output
    (row,) = json.loads(again.stdout)
    assert row["status"] == "already ingested"
    assert (row["read"], row["loaded"], row["duplicate"], row["rejected"]) == (9, 3, 1, 5)
    assert "already ingested with this mapping; nothing changed" in again.stderr
    with EmbeddedStore(Path(store_path)) as store:
        assert checksum(store) == before
        assert store.counts() == counts
        assert len(store.file_loads()) == 1


def test_table_output_and_audit_entry(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ingest", str(FIXTURES / "devices.xlsx"), "-m",
                                      str(MAPPINGS / "devices.yaml"), "--store",
                                      str(tmp_path / "case.db")])
    assert result.exit_code == 0, result.output
    header, _rule, line = result.stdout.splitlines()
    assert header.split() == ["file", "read", "loaded", "duplicate", "rejected", "status",
                              "quarantine", "skipped"]
    assert line.split()[1:6] == ["3", "2", "0", "1", "loaded"]
    digest8 = load_mapping(MAPPINGS / "devices.yaml").digest()[:8]
    quarantine = tmp_path / "quarantine" / f"devices-b93b7a7b-devices-{digest8}.csv"
    assert quarantine.is_file()
    assert result.stderr == f"1 row(s) of {FIXTURES / 'devices.xlsx'} rejected; see {quarantine}\n"
    intent, entry = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert (intent["phase"], entry["phase"], entry["command"]) == ("intent", "done", "ingest")
    assert entry["counts"] == {"files": 1, "read": 3, "loaded": 2, "duplicate": 0,
                               "rejected": 1}


@pytest.mark.parametrize(("file", "mapping", "message"), [
    ("remittances-latin1.csv", "remittances.yaml",
     r"^Error: \S+remittances-latin1.csv is not valid utf-8: byte 0xe9 at byte offset 131 "),
    ("remittances-missing.csv", "remittances.yaml",
     r"^Error: \S+remittances-missing.csv: missing column\(s\) named in the mapping: "
     r"victim_ref, card_number \(file has: "),
    ("remittances.csv", "malformed.yaml", r"^Error: 1 problem\(s\) in mapping: \S+malformed.yaml"
                                          r": YAML syntax error at line 5"),
    ("remittances.csv", "broken.yaml", r"^Error: 10 problem\(s\) in mapping: "),
])
def test_user_mistakes_are_one_line_and_write_nothing(tmp_path: Path, file: str, mapping: str,
                                                      message: str) -> None:
    store_path = tmp_path / "case.db"
    with EmbeddedStore(store_path) as store:
        ingest_files(store, [(FIXTURES / "contacts.jsonl", MAPPINGS / "contacts.yaml", None)],
                     quarantine_dir=tmp_path / "q")
        before = (checksum(store), store.file_loads(), store.runs())
    # the good file first: nothing of it may be written either when a later file fails
    result = CliRunner().invoke(cli, ["ingest", str(REMITTANCES),
                                      str(FIXTURES / file), "-m", str(MAPPINGS / mapping),
                                      "--store", str(store_path)])
    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1
    assert result.stdout == ""
    assert re.match(message, result.stderr), result.stderr
    with EmbeddedStore(store_path) as store:
        assert (checksum(store), store.file_loads(), store.runs()) == before
    assert not (tmp_path / "audit.jsonl").exists()


def test_a_failed_ingest_leaves_no_new_case_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ingest", str(FIXTURES / "remittances-missing.csv"),
                                      "-m", str(REMIT_MAP), "--store",
                                      str(tmp_path / "case.db")])
    assert result.exit_code == 1
    assert not (tmp_path / "case.db").exists()


def test_bad_grading_and_batch_size_are_usage_errors(tmp_path: Path) -> None:
    base = ["ingest", str(REMITTANCES), "-m", str(REMIT_MAP), "--store", str(tmp_path / "c.db")]
    result = CliRunner().invoke(cli, [*base, "--grading", "Q7"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --grading: Admiralty grade must be A-F then 1-6")
    assert CliRunner().invoke(cli, [*base, "--batch-size", "0"]).exit_code == 2


def test_xlsx_reader_rows_numbers_and_typed_cells(store: EmbeddedStore, tmp_path: Path) -> None:
    (result,) = ingest_files(store, [(FIXTURES / "devices.xlsx", MAPPINGS / "devices.yaml",
                                      None)], quarantine_dir=tmp_path / "q").files
    assert (result.read, result.loaded, result.duplicate, result.rejected) == (3, 2, 0, 1)
    assert [r["row"] for r in quarantine_rows(result.quarantine)] == ["6"]  # title row 1
    device = store.get("Device:490154203237518")  # a numeric cell, not 4.9e14
    assert device is not None and device.props["make"] == "Nokia"
    exhibit = store.get("Exhibit:EX-11")
    assert exhibit is not None
    assert exhibit.props["seized"] == datetime(2014, 5, 2, 7, 0, tzinfo=UTC)
    assert [p.row for p in store.provenance("Device:356938035643809")] == [5]  # blank row 4
    assert store.counts().relationships == {"EXHIBIT_OF": 2, "SIM_IN": 2}


def test_jsonl_reader_paths_and_malformed_lines(store: EmbeddedStore, tmp_path: Path) -> None:
    (result,) = ingest_files(store, [(FIXTURES / "contacts.jsonl", MAPPINGS / "contacts.yaml",
                                      None)], quarantine_dir=tmp_path / "q").files
    assert (result.read, result.loaded, result.duplicate, result.rejected) == (5, 2, 1, 2)
    rows = quarantine_rows(result.quarantine)
    assert [r["row"] for r in rows] == ["2", "5"]
    assert rows[0]["reason"].startswith("malformed JSON: ")
    assert rows[1]["reason"] == "not a JSON object but list"
    (edge, _other) = store.neighbours("Account:facebook/juan.dc")[0]
    assert edge.dst == "Account:facebook/victim.one"
    assert edge.props == {"count": 3, "first_seen": datetime(2014, 5, 1, 2, 0, tzinfo=UTC)}
    assert store.file_loads()[0].grading == Grading(scheme="uk_3x5x2", grade="1A")


def test_jsonl_path_in_no_line_is_a_missing_column(store: EmbeddedStore, tmp_path: Path) -> None:
    mapping = load_mapping(MAPPINGS / "contacts.yaml")
    entity = mapping.entities["agent"]
    props = {**entity.properties,
             "handle": entity.properties["handle"].model_copy(update={"column": "from.nick"})}
    broken = mapping.model_copy(update={"entities": {
        **mapping.entities, "agent": entity.model_copy(update={"properties": props})}})
    with pytest.raises(Exception, match=r"missing column\(s\) named in the mapping: from.nick"):
        ingest_files(store, [IngestTask(FIXTURES / "contacts.jsonl", broken)],
                     quarantine_dir=tmp_path / "q")


def _big_csv(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["exhibit_no", "victim_ref", "first_name", "last_name", "victim_phone",
                         "service", "mtcn", "amount_usd", "sent", "card_number", "agent_ref",
                         "agent_imei"])
        for i in range(rows):
            bad = i % 97 == 0
            writer.writerow([f"EX-{i}", f"V{i % 400}", "N", f"L{i}",
                             "12" if bad else f"0917 {i % 1000:03d} {i % 7919:04d}",
                             "Western Union", f"MT{i}", str(100 + i % 50),
                             "01/05/2014 10:00", "", f"A{i % 20}", ""])
            if i % 50 == 0:  # a repeated row
                writer.writerow([f"EX-{i}", f"V{i % 400}", "N", f"L{i}",
                                 "12" if bad else f"0917 {i % 1000:03d} {i % 7919:04d}",
                                 "Western Union", f"MT{i}", str(100 + i % 50),
                                 "01/05/2014 10:00", "", f"A{i % 20}", ""])
    return path


def test_batch_size_does_not_change_the_result(tmp_path: Path) -> None:
    data = _big_csv(tmp_path / "big.csv", 600)
    results = []
    for size in (7, 5000):
        with EmbeddedStore(tmp_path / f"case-{size}.db") as store:
            (result,) = ingest_files(store, [(data, REMIT_MAP, None)], batch_size=size,
                                     quarantine_dir=tmp_path / f"q{size}").files
            results.append(((result.read, result.loaded, result.duplicate, result.rejected),
                            checksum(store)))
            assert result.read == result.loaded + result.duplicate + result.rejected
    assert results[0] == results[1]
    assert results[0][0] == (612, 593, 11, 8)


class _Resuming(EmbeddedStore):
    """An embedded store whose ledger says an earlier load got as far as ``last_row``."""

    def __init__(self, path: Path, last_row: int) -> None:
        super().__init__(path)
        self.last_row = last_row
        self.batches: list[Batch] = []

    def file_load(self, sha256: str, mapping_digest: str) -> FileLoad | None:
        done = super().file_load(sha256, mapping_digest)
        if done is not None:
            return done
        return FileLoad(sha256=sha256, source_file="x", mapping="m",
                        mapping_digest=mapping_digest, run_id="killed",
                        grading=Grading(), last_row=self.last_row, loaded=1)

    def _load_file(self, load: FileLoad, batches: Iterable[Batch | BatchColumns]) -> FileLoad:
        def keep() -> Iterator[Batch | BatchColumns]:
            for batch in batches:
                self.batches.append(batch if isinstance(batch, Batch) else batch.batch())
                yield batch
        return super()._load_file(load, keep())


def test_resume_sends_only_rows_after_the_committed_row(tmp_path: Path) -> None:
    data = _big_csv(tmp_path / "big.csv", 300)
    with _Resuming(tmp_path / "case.db", last_row=101) as store:
        (result,) = ingest_files(store, [(data, REMIT_MAP, None)], batch_size=40,
                                 quarantine_dir=tmp_path / "q").files
        assert result.status == "resumed"
        assert (result.read, result.loaded, result.duplicate, result.rejected) == (306, 296, 5, 5)
        rows = [s.row for b in store.batches for s in b.sightings]
        assert min(rows) == 102
        assert [b.last_row for b in store.batches][-1] == 307
        assert len(quarantine_rows(result.quarantine)) == 5  # earlier rows too
        (load,) = store.file_loads()
        assert load.complete and load.last_row == 307


def test_progress_bar_can_be_asked_for(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ingest", str(REMITTANCES), "-m", str(REMIT_MAP),
                                      "--store", str(tmp_path / "c.db"), "--progress"])
    assert result.exit_code == 0, result.output
    assert "remittances.csv" in result.stderr


def test_repeated_contacts_in_one_file_widen_their_span(store: EmbeddedStore,
                                                        tmp_path: Path) -> None:
    """Regression: rows merged within a batch let the later row's first_seen win."""
    lines = [
        {"exhibit": "EX-1", "from": {"platform": "fb", "handle": "juan.dc"},
         "to": {"platform": "fb", "handle": "victim.one"},
         "first": "2014-05-09T10:00:00+00:00", "count": 7},
        {"exhibit": "EX-2", "from": {"platform": "fb", "handle": "juan.dc"},
         "to": {"platform": "fb", "handle": "victim.one"},
         "first": "2014-05-01T10:00:00+00:00", "count": 2},
    ]
    evidence = tmp_path / "contacts.jsonl"
    evidence.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    ingest_files(store, [IngestTask(evidence, load_mapping(MAPPINGS / "contacts.yaml"))],
                 quarantine_dir=tmp_path / "q")
    (edge,) = store.edges(["CONTACTED"])
    assert edge.props == {"first_seen": datetime(2014, 5, 1, 10, tzinfo=UTC), "count": 7}


def test_issue_9_a_row_whose_key_is_a_card_number_is_rejected(store: EmbeddedStore,
                                                              tmp_path: Path) -> None:
    """issue 9: a card number mapped as another entity's key was stored in clear."""
    data = tmp_path / "persons.csv"
    data.write_text("ref,name\nAG-1,Juan\n4111 1111 1111 1111,Maria\n", encoding="utf-8")
    mapping = parse_mapping({"entities": {"person": {"type": "Person", "properties": {
        "person_id": {"column": "ref"}, "name": {"column": "name"},
        "role": {"literal": "suspect"}}}}})
    (result,) = ingest_files(store, [(data, mapping, None)],
                             quarantine_dir=tmp_path / "q").files
    assert (result.loaded, result.rejected) == (1, 1)
    assert [r["reason"] for r in quarantine_rows(result.quarantine)] == [
        "person: Person key holds a card number (411111******1111); map card numbers as a "
        "PaymentCard number"]
    assert [n.id for n in store.nodes()] == ["Person:AG-1"]


def test_issue_14_a_files_engine_is_freed_before_the_next_with_the_collector_paused(
        store: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """issue 14: a phone number phonenumbers cannot place leaves a cycle through a traceback
    that held the engine of its file (its duplicate signatures, memos, compiled mapping)
    until the end of the run, the collector being paused: 2 GB at 10M rows."""
    report, alive = _engines_alive(store, tmp_path, monkeypatch, "")
    assert [(f.loaded, f.skipped_total) for f in report.files] == [(2, 1), (2, 1)]
    assert alive == [False]


def test_issue_14_no_phone_number_leaves_a_cycle_that_holds_the_engine(
        store: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """issue 14: with no collection after each file, the engines are freed all the same:
    neither a phone number that phonenumbers cannot place nor a quarantined row's card-like
    number that it cannot place as a phone number (read to mask it) leaves a cycle. The
    collection after each file walked what the worker inherited, 1.4 of its 19 CPU-s at 600
    cells; phonenumbers' cycles held the platform file's engine until it ran."""
    monkeypatch.setattr(gc, "collect", lambda *_args: 0)
    report, alive = _engines_alive(store, tmp_path, monkeypatch, ",9990 0000 0000 11\n")
    assert [(f.loaded, f.skipped_total, f.rejected) for f in report.files] == [(2, 1, 1)] * 2
    (masked,) = {row["phone"] for f in report.files for row in quarantine_rows(f.quarantine)}
    assert masked != "9990 0000 0000 11"  # read as a card number: the masking ran
    assert alive == [False]


def _engines_alive(store: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   more_rows: str) -> tuple[run.IngestReport, list[bool]]:
    """Two files ingested in this process, each with a phone number of no known country
    code (and ``more_rows``), and, at each file's compile, whether the earlier files'
    compiled mappings (and so their engines) were still alive."""
    mapping = parse_mapping({"entities": {
        "person": {"type": "Person", "properties": {"person_id": {"column": "ref"},
                                                    "role": {"literal": "victim"}}},
        "phone": {"type": "Phone", "optional": True,
                  "properties": {"number": {"column": "phone"}}}},
        "relationships": [{"type": "USES", "source": "person", "target": "phone"}]})
    files = []
    for name in ("a", "b"):
        data = tmp_path / f"{name}.csv"
        data.write_text(f"ref,phone\n{name}1,+999 123 4567\n{name}2,0917 123 4567\n"
                        + more_rows, encoding="utf-8")
        files.append((data, mapping, None))
    compiled: list[weakref.ref[CompiledMapping]] = []
    alive: list[bool] = []  # at each compile, whether the earlier files' engines live on

    def compile_and_watch(*args: Any) -> CompiledMapping:
        alive.extend(ref() is not None for ref in compiled)
        found = compile_mapping(*args)
        compiled.append(weakref.ref(found))
        return found

    monkeypatch.setattr(run, "compile_mapping", compile_and_watch)
    report = ingest_files(store, files, quarantine_dir=tmp_path / "q", parallel=False)
    return report, alive
