"""issue 14 item 1: the engine hands the embedded store its sightings grouped per item
(:class:`~ringmap.graphs.model.Seen`) and the store writes properties without the JSON
encoder where it can: the same store as from one :class:`~ringmap.graphs.model.Sighting` per
item and row, and the same text as the encoder's."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ringmap.graphs.codec import encode_props
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import Batch, BatchColumns, FileLoad, Grading, Node, Seen, Sighting
from ringmap.ingest.case import load_case
from ringmap.ingest.mapping import Mapping
from ringmap.ingest.run import ingest_files
from ringmap.testing import store_fingerprint

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "strikeback"


class _Ungrouped(EmbeddedStore):
    """An embedded store given every batch's sightings one by one, as other producers do."""

    def _load_file(self, load: FileLoad, batches: Iterable[Batch | BatchColumns]) -> FileLoad:
        whole = (b if isinstance(b, Batch) else b.batch() for b in batches)
        return super()._load_file(load, (replace(b, sightings=list(b.sightings)) for b in whole))


def _fingerprint(store_type: type[EmbeddedStore], work: Path) -> dict[str, str]:
    with store_type(work / "case.db") as store:
        ingest_files(store, load_case(EXAMPLE), run_id="same", quarantine_dir=work / "q",
                     batch_size=50)
    return store_fingerprint(work / "case.db", work / "q")


def test_issue14_grouped_sightings_store_as_one_by_one(tmp_path: Path) -> None:
    assert (_fingerprint(EmbeddedStore, tmp_path / "grouped")
            == _fingerprint(_Ungrouped, tmp_path / "plain"))


def test_issue14_an_item_twice_in_a_batch_merges_leaving_the_batch_unchanged(
        tmp_path: Path) -> None:
    """The store states a batch's nodes without copying them, so merging a second sighting
    of one id must not write into the first node's properties."""
    first, second = Node("Account:a", "Account", {"handle": "a", "display_name": "A"}), \
        Node("Account:a", "Account", {"display_name": "B", "notes": None})
    load = FileLoad(sha256="0" * 64, source_file="f.csv", mapping="m", mapping_digest="d",
                    run_id="r", grading=Grading.parse("B2"))
    with EmbeddedStore(tmp_path / "case.db") as store:
        store.load_file(load, [Batch([first, second], [], [Sighting("Account:a", 1)], 1)])
        shown = store.get("Account:a")
    assert first.props == {"handle": "a", "display_name": "A"}
    assert shown is not None and shown.props == {"handle": "a", "display_name": "B"}


def test_issue14_seen_reads_as_sightings_in_row_order() -> None:
    seen = Seen({"Account:a": [1, 3], "Device:d": [3]},
                {("USES", "Person:p", "Account:a"): [2, 3]}, {3: "EX-3"})
    assert list(seen) == [Sighting("Account:a", 1), Sighting("USES:Person:p->Account:a", 2),
                          Sighting("Account:a", 3, "EX-3"), Sighting("Device:d", 3, "EX-3"),
                          Sighting("USES:Person:p->Account:a", 3, "EX-3")]
    assert len(seen) == 5 and seen[-1].row == 3


_ENCODER = json.JSONEncoder(default=lambda v: v.isoformat() if isinstance(v, date)
                            else sorted(v), sort_keys=True, ensure_ascii=False,
                            separators=(",", ":"))


@pytest.mark.parametrize("props", [
    {}, {"handle": "maria.s", "platform": "facebook"},
    {"name": 'Ma"ria\\ \n\t\x01 \u2028 日本', "é": "ü"},
    {"first_seen": datetime(2014, 3, 2, 5, 41, tzinfo=UTC), "day": date(2014, 3, 2),
     "naive": datetime(2014, 3, 2, 5, 41, 7, 12)},
    {"count": 12, "big": -10 ** 22, "flag": True, "off": False, "none": None},
    {"amount": 0.1, "tiny": 1e-7, "huge": 1e16, "zero": -0.0},
    {"amount": float("nan"), "x": 1}, {"amount": float("inf")},
    {"aliases": ["b", "a"], "tags": {"z", "y"}, "name": "x"},
    # one instant in UTC, at +08:00 and with microseconds: UTC times are remembered as
    # written, and an equal time in another zone is still written in its own zone
    {"a": datetime(2014, 3, 2, 5, 41, tzinfo=UTC),
     "b": datetime(2014, 3, 2, 13, 41, tzinfo=timezone(timedelta(hours=8))),
     "c": datetime(2014, 3, 2, 5, 41, 0, 5, tzinfo=UTC)},
])
def test_issue14_properties_written_as_the_encoder_writes_them(props: dict[str, Any]) -> None:
    expected = _ENCODER.encode({k: v for k, v in props.items() if v is not None})
    assert encode_props(props) == expected
    assert encode_props(dict(reversed(props.items()))) == expected  # again, remembered


def _subscribers() -> Mapping:
    """A mapping of subscriber tables (handle, mobile) to accounts and their phones."""
    return Mapping.model_validate({
        "name": "subscribers", "source": {"format": "csv", "default_region": "PH"},
        "entities": {"account": {"type": "Account", "properties": {
            "platform": {"literal": "facebook"}, "handle": {"column": "handle"},
            "display_name": {"column": "name"}}},
            "phone": {"type": "Phone", "optional": True,
                      "properties": {"number": {"column": "mobile"}}}},
        "relationships": [{"type": "REGISTERED_TO", "source": "account", "target": "phone"}]})


@pytest.mark.parametrize("order", [("A1", "C3"), ("C3", "A1")])
def test_issue14_low_graded_rows_do_not_overwrite_a_better_graded_fact(
        tmp_path: Path, order: tuple[str, str]) -> None:
    """Rows merge within a file (the later row's name), but across files the best-graded
    file's statement is shown, whichever file came first."""
    said = {"A1": "Maria Santos", "C3": "M. Cruz"}
    tasks = []
    for grade in order:
        table = tmp_path / f"subscribers-{grade}.csv"
        table.write_text(f"handle,name,mobile\nmaria.s,someone else,\nmaria.s,{said[grade]},"
                         "09171234567\n", encoding="utf-8")
        tasks.append((table, _subscribers(), Grading.parse(grade)))
    with EmbeddedStore(tmp_path / "case.db") as store:
        ingest_files(store, tasks, quarantine_dir=tmp_path / "q", batch_size=1)
        account = store.get("Account:facebook/maria.s")
        assert account is not None and account.props["display_name"] == "Maria Santos"
        (stated,) = store.stated_many(["Account:facebook/maria.s"]).values()
        assert sorted((load.grading.grade, props["display_name"])
                      for load, _id, props in stated) == [("A1", "Maria Santos"),
                                                          ("C3", "M. Cruz")]


def test_issue14_one_value_spelled_several_ways_is_one_node(tmp_path: Path) -> None:
    """Values are normalised once per distinct spelling: spellings of one number are one
    Phone node, seen on every row that spells it; a row that differs from an earlier one
    only in spelling is a duplicate."""
    table = tmp_path / "subscribers.csv"
    table.write_text("handle,name,mobile\nmaria.s,Maria,+63 917 123 4567\n"
                     "juan.dc,Juan,09171234567\nana.r,Ana,0917-123-4567\n"
                     "maria.s,Maria,(0917) 1234567\n", encoding="utf-8")
    with EmbeddedStore(tmp_path / "case.db") as store:
        (report,) = ingest_files(store, [(table, _subscribers(), None)],
                                 quarantine_dir=tmp_path / "q").files
        assert (report.read, report.loaded, report.duplicate) == (4, 3, 1)
        phones = list(store.nodes(["Phone"]))
        assert [p.id for p in phones] == ["Phone:+639171234567"]
        assert [p.row for p in store.provenance("Phone:+639171234567")] == [2, 3, 4]
        assert len(list(store.edges(["REGISTERED_TO"]))) == 3
