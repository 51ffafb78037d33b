"""issue 14 item 1, the store side of embedded ingest: what makes it cheaper changes nothing
it stores (the golden ingests of ``test_ingest_golden`` cover the whole store)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import pytest

from ringmap.errors import StoreError
from ringmap.graphs.codec import encode_props
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import Batch, BatchColumns, Edge, FileLoad, Grading, Node, Seen, Sighting
from ringmap.ingest.case import load_case
from ringmap.ingest.run import ingest_files
from ringmap.testing import store_fingerprint

ROOT = Path(__file__).resolve().parents[1]


class _Colour(StrEnum):
    RED = "red"


class _Level(IntEnum):
    HIGH = 3


def _as_encoder_writes(props: dict[str, Any]) -> str:
    def default(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        return sorted(value)

    return json.dumps({k: v for k, v in props.items() if v is not None}, sort_keys=True,
                      ensure_ascii=False, separators=(",", ":"), default=default)


def test_issue14_encode_props_writes_what_the_json_encoder_writes() -> None:
    when = datetime(2014, 5, 1, 5, 42, 7, tzinfo=UTC)
    cases: list[dict[str, Any]] = [
        {}, {"x": None}, {"a": None, "b": "x"}, {"b": "x", "a": None}, {"b": 1, "a": "é\n\"<"},
        {"a": "é\n\"<", "b": 1},  # the same names in another order: another shape
        {"t": when, "n": 2, "f": 0.1, "y": True, "z": False, "big": 10**30, "neg": -1.5e-300},
        {"naive": datetime(2014, 5, 1, 5, 42), "day": date(2014, 5, 1),
         "zoned": datetime(2014, 5, 1, tzinfo=timezone(timedelta(hours=8)))},
        {"nan": float("nan"), "a": 1}, {"inf": float("inf")}, {"l": [3, 1], "s": {"b", "a"}},
        {"colour": _Colour.RED, "level": _Level.HIGH}, {"nested": {"b": 1, "a": None}},
        {"\u2028": "\x00\x1f", "k": "\ud7ff"},
    ]
    for props in cases:
        assert encode_props(props) == _as_encoder_writes(props), props
        assert encode_props(props) == _as_encoder_writes(props), props  # shape known now


def test_issue14_new_case_file_has_16k_pages_and_an_old_one_loads_the_same(
        tmp_path: Path) -> None:
    old = tmp_path / "old" / "case.db"
    old.parent.mkdir()
    with sqlite3.connect(old) as db:  # a case file made before: SQLite's default pages
        db.execute("PRAGMA page_size=4096")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    found = {}
    for path in (old, tmp_path / "new" / "case.db"):
        with EmbeddedStore(path) as store:
            ingest_files(store, load_case(ROOT / "examples" / "strikeback"), run_id="pages",
                         quarantine_dir=path.parent / "q", batch_size=50)
            found[path.parent.name] = (
                store._db.execute("PRAGMA page_size").fetchone()[0],
                store_fingerprint(path, path.parent / "q"))
    assert found["old"][0] == 4096
    assert found["new"][0] == 16384
    assert found["old"][1] == found["new"][1]


def test_issue_16_an_ingest_lets_go_of_its_id_cache(tmp_path: Path) -> None:
    # the id cache (every node's and relationship's integer id, 1.03 GB at 5,400 cells) speeds
    # the loads of one ingest; ringmap run kept it through projection, cells and maps, under
    # every later stage's peak. The next ingest reads it again and loads the same.
    case = load_case(ROOT / "examples" / "strikeback")
    with EmbeddedStore(tmp_path / "case.db") as store:
        ingest_files(store, case, run_id="first", quarantine_dir=tmp_path / "q")
        assert store._ids is None
        first = store.counts()
        ingest_files(store, case, run_id="again", quarantine_dir=tmp_path / "q")
        assert store._ids is None
        assert store.counts() == first


def test_issue_16_a_batch_joins_nodes_of_its_own_and_of_earlier_batches(tmp_path: Path) -> None:
    # the store looks a relationship's ends and the sightings up among the batch's own nodes
    # first, then among the case's: an end stored by an earlier batch or load is found too
    agent = Node("Person:AG-1", "Person", {"person_id": "AG-1", "role": "suspect"})
    account = Node("Account:line/maria", "Account", {"platform": "line", "handle": "maria"})
    phone = Node("Phone:+639171234567", "Phone", {"number": "+639171234567"})
    uses = Edge("USES", agent.id, account.id)
    registered = Edge("REGISTERED_TO", account.id, phone.id)
    first = Batch([agent, account], [uses], Seen({agent.id: [1], account.id: [1]},
                                                 {("USES", agent.id, account.id): [1]}, {}), 1)
    # the account comes from the batch before, the phone is the batch's own
    second = Batch([phone], [registered], Seen(
        {phone.id: [2]}, {("REGISTERED_TO", account.id, phone.id): [2]}, {2: "R-2"}), 2)
    load = FileLoad(sha256="a" * 64, source_file="x.csv", mapping="x", mapping_digest="d",
                    run_id="r", grading=Grading.parse("B2"), read=2, loaded=2)
    with EmbeddedStore(tmp_path / "case.db") as store:
        store.load_file(load, [first, second])
        assert sorted((e.type, e.src, e.dst) for e in store.edges()) == [
            ("REGISTERED_TO", account.id, phone.id), ("USES", agent.id, account.id)]
        assert [(p.row, p.ref) for p in store.provenance(phone.id)] == [(2, "R-2")]
        assert [p.row for p in store.provenance(account.id)] == [1]


def _batches_of_two_producers() -> tuple[list[Batch], list[Batch | BatchColumns]]:
    """The same two batches as a producer other than the engine gives them (an item twice,
    sightings one by one, a node of the first batch seen again on the second) and as the
    engine's worker sends them (columns: each item once, its rows beside it)."""
    agent = {"person_id": "AG-1", "role": "suspect"}
    account = Node("Account:line/maria", "Account", {"platform": "line", "handle": "maria"})
    seen = datetime(2014, 5, 1, 5, 42, tzinfo=UTC)
    logins = [Edge("LOGGED_IN_FROM", account.id, "IPAddress:10.0.0.1",
                   {"first_seen": seen + timedelta(hours=h), "last_seen": seen
                    + timedelta(hours=h)}) for h in (2, 0)]
    address = Node("IPAddress:10.0.0.1", "IPAddress", {"address": "10.0.0.1"})
    plain = [
        Batch([Node("Person:AG-1", "Person", agent), account, address,
               Node("Person:AG-1", "Person", {"name": "A", "role": None})],
              [Edge("USES", "Person:AG-1", account.id), logins[0]],
              [Sighting("Person:AG-1", 1, "EX-1"), Sighting(account.id, 1, "EX-1"),
               Sighting("USES:Person:AG-1->Account:line/maria", 1, "EX-1"),
               Sighting(address.id, 2), Sighting(logins[0].id, 2), Sighting("Person:AG-1", 2)],
              2),
        Batch([], [logins[1]], [Sighting(account.id, 3), Sighting(logins[1].id, 3)], 3)]
    columns: list[Batch | BatchColumns] = [
        BatchColumns(["Person:AG-1", account.id, address.id], ["Person", "Account", "IPAddress"],
                     [{**agent, "name": "A"}, account.props, address.props], [[1, 2], [1], [2]],
                     ["USES", "LOGGED_IN_FROM"], ["Person:AG-1", account.id],
                     [account.id, address.id], [{}, logins[0].props], [[1], [2]], {1: "EX-1"},
                     2),
        BatchColumns([account.id, address.id], ["Account", "IPAddress"], [{}, {}], [[3], []],
                     ["LOGGED_IN_FROM"], [account.id], [address.id], [logins[1].props], [[3]],
                     {}, 3)]
    return plain, columns


def test_issue_14_columns_store_as_a_batch_of_any_producer(tmp_path: Path) -> None:
    # the embedded store writes the engine's columns as they are, and reads any other
    # producer's batch into columns first: the same case either way
    load = FileLoad(sha256="a" * 64, source_file="x.csv", mapping="x", mapping_digest="d",
                    run_id="r", grading=Grading.parse("B2"), read=3, loaded=3)
    plain, columns = _batches_of_two_producers()
    with EmbeddedStore(tmp_path / "plain.db") as store:
        store.load_file(load, plain)
    with EmbeddedStore(tmp_path / "columns.db") as store:
        store.load_file(load, columns)
    assert store_fingerprint(tmp_path / "plain.db") == store_fingerprint(tmp_path / "columns.db")


def test_issue_14_a_sighting_of_an_unknown_item_is_refused(tmp_path: Path) -> None:
    load = FileLoad(sha256="a" * 64, source_file="x.csv", mapping="x", mapping_digest="d",
                    run_id="r", grading=Grading.parse("B2"), read=1, loaded=1)
    for item in ("Phone:+639171234567", "USES:Person:AG-1->Account:line/maria"):
        with EmbeddedStore(tmp_path / "case.db") as store, pytest.raises(
                StoreError, match="sighting of unknown item"):
            store.load_file(load, [Batch([], [], [Sighting(item, 1)], 1)])
