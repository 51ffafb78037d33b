"""The Neo4j store's Cypher and payloads without a server: only schema names reach Cypher text,
values travel as parameters, and a batch becomes the rows the statements expect."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ringmap.errors import SchemaError, StoreError
from ringmap.graphs import cypher
from ringmap.graphs.model import Batch, Edge, Node, Sighting
from ringmap.graphs.neo4j_store import _Payload, _redact, _to_neo

HOSTILE = "x`) DETACH DELETE n //"


def test_statements_name_only_schema_types_and_properties() -> None:
    statement = cypher.merge_nodes("Phone", (("number", "v"), ("carrier", "v")), False)
    assert statement.startswith("UNWIND $rows AS r MERGE (n:`Phone` {id: r.id}) SET ")
    assert "n.`carrier` = r.p.`carrier`" in statement and "+= r.x" not in statement
    with pytest.raises(SchemaError):
        cypher.merge_nodes(HOSTILE, (), False)
    with pytest.raises(SchemaError):
        cypher.merge_nodes("Phone", ((HOSTILE, "v"),), False)
    with pytest.raises(SchemaError):
        cypher.merge_edges(HOSTILE, "Person", "Account", (), False)
    with pytest.raises(SchemaError, match="may not go"):
        cypher.merge_edges("USES", "Account", "Person", (), False)


def test_contacts_widen_their_time_span_in_cypher() -> None:
    statement = cypher.merge_edges("CONTACTED", "Account", "Account",
                                   (("first_seen", "dt"), ("count", "v")), False)
    assert ("e.`first_seen` = CASE WHEN coalesce(datetime(r.p.`first_seen`) < e.`first_seen`, "
            "true) THEN datetime(r.p.`first_seen`) ELSE e.`first_seen` END") in statement
    assert "coalesce(r.p.`count` > e.`count`, true)" in statement
    plain = cypher.merge_edges("NAMES", "Report", "Account", (("role", "v"),), False)
    assert "e.`role` = r.p.`role`" in plain


def test_values_split_into_schema_properties_and_others() -> None:
    seen = datetime(2014, 4, 30, 8, 15, tzinfo=UTC)
    values, extra, shape = _to_neo("CONTACTED", {"first_seen": seen, "last_seen": None,
                                                 "channel": "sms", HOSTILE: 1})
    assert values == {"first_seen": seen.isoformat(), "channel": "sms"}
    assert shape == (("first_seen", "dt"), ("channel", "v")) and extra == {HOSTILE: 1}
    with pytest.raises(StoreError, match="may not have"):
        _to_neo("Phone", {"_sr": [1]})
    with pytest.raises(StoreError, match="mapping"):
        _to_neo("Phone", {"carrier": {"name": "Globe"}})


def test_payload_merges_a_batch_and_packs_sightings() -> None:
    phone = Node("Phone:+639171234567", "Phone", {"number": "+639171234567"})
    again = Node(phone.id, "Phone", {"number": "+639171234567", "carrier": "Globe"})
    sim = Node("SimCard:8963012345678901234", "SimCard", {"iccid": "8963012345678901234"})
    edge = Edge("HAS_NUMBER", sim.id, phone.id)
    batches = [Batch([phone, sim], [edge], [Sighting(phone.id, 4, "EX-1"),
                                            Sighting(edge.id, 4)], last_row=4),
               Batch([again], [], [Sighting(phone.id, 9)], last_row=9)]
    payload = _Payload(file_seq=3, committed=4, batches=batches)  # row 4 committed already
    assert payload.first_row == 5 and payload.last_row == 9 and payload.refs == {}
    statements = payload.statements({}, {})  # nothing stated before: this load's values
    rows = {row["id"]: row for _, group in statements for row in group if "id" in row}
    assert rows[phone.id]["p"] == {"number": "+639171234567", "carrier": "Globe"}
    assert rows[phone.id]["sr"] == [3 << 32 | 9] and rows[sim.id]["sr"] == []
    assert rows[phone.id]["st"] == ['3 {"carrier":"Globe","number":"+639171234567"}']
    (statement, edge_rows), = [(q, group) for q, group in statements if "src" in group[0]]
    assert "`SimCard`" in statement and edge_rows[0]["sr"] == []


def test_payload_refuses_unknown_types_before_any_cypher() -> None:
    node = Node("Person:x", HOSTILE, {})
    with pytest.raises(SchemaError):
        _Payload(1, 0, [Batch([node], [], [Sighting(node.id, 1)], last_row=1)])
    stray = Batch([], [], [Sighting("Phone:+1", 1)], last_row=1)
    with pytest.raises(StoreError, match="not in its batch"):
        _Payload(1, 0, [stray])


def test_uris_lose_their_credentials_in_messages() -> None:
    assert _redact("bolt://neo4j:s3cret@db.example:7687") == "bolt://db.example:7687"
    assert _redact("neo4j+s://abc.databases.neo4j.io") == "neo4j+s://abc.databases.neo4j.io"
