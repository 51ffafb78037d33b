"""Batch link analysis: watchlist rows known and unknown, cells, nearest suspects, bad rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ringmap.analysis.batch import COLUMNS, batch, read_watchlist
from ringmap.errors import InputError
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.ingest.mapping import parse_mapping
from ringmap.ingest.run import ingest_files
from ringmap.tests.links_case import (
    CARD,
    HUB_DEGREE,
    IMEI,
    SECRET,
    build_case,
    card_id,
    shared_case,
)


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    with shared_case(tmp_path_factory.mktemp("batch")) as store:
        yield store


@pytest.fixture(autouse=True)
def _case_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINGMAP_SECRET", SECRET)


def _one(case: EmbeddedStore, identifier: str, type_: str = "", **options: object) -> dict[
        str, object]:
    [result] = batch(case, [{"identifier": identifier, "type": type_, "note": "n"}],
                     **options)  # type: ignore[arg-type]
    assert list(result) == list(COLUMNS)
    return result


def test_known_phone_links_to_its_agent(case: EmbeddedStore) -> None:
    row = _one(case, "0917 123 4567", "phone")
    assert row == {
        "row": 1, "input": "0917 123 4567", "type": "phone", "note": "n", "status": "linked",
        "key": "Phone:+639171234567", "known": "yes", "node": "Phone:+639171234567",
        "node_type": "Phone", "cell": "cell-1", "suspect": "Person:AG-1", "hops": 1,
        "path": "Phone:+639171234567 <-USES- Person:AG-1", "evidence": "uses.csv:6 EX-6 B2",
    }


def test_issue_9_a_bare_handle_is_found_on_its_platform(case: EmbeddedStore) -> None:
    """Regression: a handle without its platform was reported unknown."""
    for text, type_ in (("agent.three", ""), ("@agent.three", ""), ("agent.three", "handle")):
        row = _one(case, text, type_)
        assert (row["known"], row["node"], row["suspect"]) == (
            "yes", "Account:facebook/agent.three", "Person:AG-3"), text


def test_card_row_is_masked_and_placed_in_the_holders_cell(case: EmbeddedStore) -> None:
    row = _one(case, CARD)
    assert row["input"] == "411111******1111"
    assert (row["node"], row["cell"], row["suspect"], row["hops"]) == (
        card_id(), "cell-2", "Person:AG-3", 1)
    assert "4111111111111111" not in json.dumps(row).replace(" ", "")


def test_unknown_card_shows_only_masked_readings(case: EmbeddedStore) -> None:
    row = _one(case, "5555 5555 5555 4444")
    assert (row["status"], row["known"], row["input"]) == ("unknown", "no", "555555******4444")
    assert "5555555555554444" not in json.dumps(row).replace(" ", "")


def test_unknown_identifier_reports_its_normalised_key(case: EmbeddedStore) -> None:
    row = _one(case, "+63 917 000 0000")
    assert (row["status"], row["known"], row["key"], row["node"]) == (
        "unknown", "no", "Phone:+639170000000", None)


def test_member_row_is_its_own_cell_and_suspect(case: EmbeddedStore) -> None:
    row = _one(case, "AG-3")
    assert (row["cell"], row["suspect"], row["hops"], row["path"]) == (
        "cell-2", "Person:AG-3", 0, "Person:AG-3")


def test_device_found_through_an_agents_account(case: EmbeddedStore) -> None:
    row = _one(case, IMEI, "imei")
    assert (row["input"], row["cell"], row["hops"]) == (IMEI, "cell-1", 2)


def test_known_but_out_of_reach(case: EmbeddedStore) -> None:
    row = _one(case, "+639999999999")
    assert (row["status"], row["known"], row["suspect"], row["cell"]) == (
        "known", "yes", None, None)


def test_avoid_hubs_stops_at_the_cgnat_address(case: EmbeddedStore) -> None:
    assert _one(case, "fb/filler0")["hops"] == 3
    row = _one(case, "fb/filler0", avoid_hubs=True, hub_degree=HUB_DEGREE)
    assert (row["status"], row["suspect"]) == ("known", None)


@pytest.mark.parametrize(("identifier", "type_", "status"), [
    ("35-209900-176148-2", "imei", "error: IMEI '35-209900-176148-2': Luhn check digit is wrong"),
    ("0917 123 4567", "fax", "error: unknown identifier type 'fax' (use phone, handle, email, "
                             "card, imei, iccid, ip, person or an entity type name)"),
    ("", "", "error: empty identifier"),
    ("@", "", "error: handle '@': empty, or holds whitespace or , ; < > \" ' \\ /"),
])
def test_malformed_row_is_reported_not_raised(case: EmbeddedStore, identifier: str,
                                              type_: str, status: str) -> None:
    row = _one(case, identifier, type_)
    assert (row["status"], row["known"], row["node"]) == (status, "no", None)


def test_max_hops_limits_the_search(case: EmbeddedStore) -> None:
    assert _one(case, IMEI, "imei", max_hops=1)["status"] == "known"


def test_no_cell_run_leaves_cells_empty(tmp_path: Path) -> None:
    with build_case(tmp_path / "c.db", cells=False) as store:
        [row] = batch(store, [{"identifier": "0917 123 4567"}])
    assert (row["cell"], row["suspect"]) == (None, "Person:AG-1")


def test_read_watchlist(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("\ufeffNote,Identifier,TYPE,extra\nfirst,0917 123 4567,phone,x\n,,,\n"
                    "second,AG-3\n", encoding="utf-8")
    assert read_watchlist(path) == [
        {"row": 2, "identifier": "0917 123 4567", "type": "phone", "note": "first"},
        {"row": 4, "identifier": "AG-3", "type": "", "note": "second"},
    ]


@pytest.mark.parametrize(("content", "message"), [
    (b"phone,note\n0917,x\n", "has no identifier column (columns: phone, note)"),
    (b"", "is empty: expected a header row with an identifier column"),
    (b"identifier\n0917 \xe9\n", "is not UTF-8 text; save it as UTF-8 CSV"),
])
def test_malformed_watchlist_is_one_input_error(tmp_path: Path, content: bytes,
                                                message: str) -> None:
    path = tmp_path / "w.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_watchlist(path)
    assert str(err.value) == f"watchlist {path} {message}"


def test_missing_watchlist(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read watchlist"):
        read_watchlist(tmp_path / "nope.csv")


def test_victims_are_pseudonymised_by_default(case: EmbeddedStore) -> None:
    row = _one(case, "person:V-1")
    assert str(row["node"]).startswith("Person:V-") and row["node"] != "Person:V-1"
    path = str(row["path"])
    assert path.split()[0] == row["node"]
    assert "victim.one" not in path and "Person:V-1 " not in path
    assert path.endswith("-CONTACTED- Account:facebook/agent.one <-USES- Person:AG-1")


def test_victim_details_on_request(case: EmbeddedStore) -> None:
    row = _one(case, "person:V-1", reveal_victims=True)
    assert row["path"] == ("Person:V-1 -USES-> Account:facebook/victim.one <-CONTACTED- "
                           "Account:facebook/agent.one <-USES- Person:AG-1")


def test_issue_9_a_wallet_is_read_as_a_wallet_not_a_phone(tmp_path: Path) -> None:
    evidence = tmp_path / "payouts.csv"
    evidence.write_text("agent,wallet,phone\nAG-1,0917-123-4567,0917 123 4567\n")
    mapping = parse_mapping({"source": {"default_region": "PH"}, "entities": {
        "agent": {"type": "Person", "properties": {"person_id": {"column": "agent"},
                                                   "role": {"literal": "suspect"}}},
        "wallet": {"type": "FinancialAccount", "properties": {
            "provider": {"literal": "GCash"}, "account_id": {"column": "wallet"}}},
        "phone": {"type": "Phone", "properties": {"number": {"column": "phone"}}},
    }, "relationships": [{"type": "HOLDS", "source": "agent", "target": "wallet"},
                         {"type": "USES", "source": "agent", "target": "phone"}]})
    with EmbeddedStore(tmp_path / "c.db") as store:
        ingest_files(store, [(evidence, mapping, None)], quarantine_dir=tmp_path / "q")
        rows = batch(store, [{"identifier": "GCASH-09171234567"},
                             {"identifier": "09171234567", "type": "wallet"},
                             {"identifier": "gcash/0917-123-4567", "type": "e-wallet"},
                             {"identifier": "0917 123 4567"}])
    wallet = "FinancialAccount:gcash/09171234567"
    assert [(r["status"], r["node"]) for r in rows] == [
        ("linked", wallet), ("linked", wallet), ("linked", wallet),
        ("linked", "Phone:+639171234567")]
