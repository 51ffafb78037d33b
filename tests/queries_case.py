"""A small case that every named query has rows on, loaded through the store contract.

Two cells (C1: agents AG-1, AG-2; C2: AG-3 and the account it runs) share a phone, an email, an
IP, a laptop and an office; three victims in GB, US (nationality only) and nowhere; a mule's
card and wallet take their payments; two reports name an account. Some text is hostile.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ringmap.graphs.model import (
    AnalysisRun,
    Batch,
    CellMember,
    CellRecord,
    Edge,
    FileLoad,
    Grading,
    Node,
    Sighting,
)
from ringmap.graphs.normalise import card_fields
from ringmap.graphs.secrets import load_key
from ringmap.graphs.store import Store

HOSTILE = "x' }) MATCH (n) DETACH DELETE n // '; DROP TABLE nodes; --"
FORMULA = "=HYPERLINK(\"http://evil\",\"x\")"
CARD_NUMBER = "4111 1111 1111 1111"

IMEI = "Device:352099001761481"
LAPTOP = "Device:SN:LAPTOP1"
PHONE = "Phone:+639171234567"
SIM = "SimCard:8963012345678901234"
EMAIL = "Email:agent@example.com"
IP = "IPAddress:10.0.0.1"
WALLET = "FinancialAccount:gcash/W-1"
OFFICE = "Location:OFFICE-1"
A1, A2, A3 = ("Account:facebook/agent.one", "Account:facebook/agent.two",
              "Account:facebook/agent.three")
VA1, VA2, VA3 = ("Account:facebook/victim.one", "Account:facebook/victim.two",
                 "Account:instagram/victim.three")


def card_id() -> str:
    """The node id of the case's card (keyed hash of its number under the test key)."""
    return f"PaymentCard:{card_fields(CARD_NUMBER, load_key()).card_hash}"


def _t(month: int, day: int = 1) -> datetime:
    return datetime(2014, month, day, 10, 0, tzinfo=UTC)


def _nodes() -> list[Node]:
    card = card_fields(CARD_NUMBER, load_key())
    people = [("AG-1", "suspect", "Agent One"), ("AG-2", "suspect", "Agent Two"),
              ("AG-3", "suspect", HOSTILE), ("MU-1", "mule", "Mule"),
              ("V-1", "victim", "Victim One"), ("V-2", "victim", "Victim Two"),
              ("V-3", "victim", FORMULA)]
    nodes = [Node(f"Person:{pid}", "Person", {"person_id": pid, "role": role, "name": name})
             for pid, role, name in people]
    nodes[5].props["nationality"] = "US"
    for account in (A1, A2, A3, VA1, VA2, VA3):
        platform, handle = account.split(":", 1)[1].split("/")
        nodes.append(Node(account, "Account", {"platform": platform, "handle": handle}))
    nodes[-1].props["display_name"] = FORMULA
    nodes += [
        Node(IMEI, "Device", {"device_id": "352099001761481", "kind": "phone", "make": "Nokia"}),
        Node(LAPTOP, "Device", {"device_id": "SN:LAPTOP1", "kind": "laptop"}),
        Node(PHONE, "Phone", {"number": "+639171234567"}),
        Node(SIM, "SimCard", {"iccid": "8963012345678901234"}),
        Node(EMAIL, "Email", {"address": "agent@example.com"}),
        Node(IP, "IPAddress", {"address": "10.0.0.1"}),
        Node(card_id(), "PaymentCard", {"card_hash": card.card_hash, "bin": card.bin,
                                        "last4": card.last4, "masked": card.masked}),
        Node(WALLET, "FinancialAccount", {"provider": "gcash", "account_id": "W-1"}),
        Node(OFFICE, "Location", {"location_id": "OFFICE-1", "name": HOSTILE}),
        Node("Report:ncmec/CT-1", "Report", {"source": "ncmec", "reference": "CT-1",
                                             "kind": "cybertip", "received": _t(5)}),
        Node("Report:police/R-2", "Report", {"source": "police", "reference": "R-2",
                                             "agency": FORMULA}),
    ]
    for code in ("GB", "PH", "US"):
        nodes.append(Node(f"Country:{code}", "Country", {"code": code}))
    payments = [("wu", "P1", 500.0, "USD", _t(3)), ("wu", "P2", 1000.0, "GBP", _t(2)),
                ("wu", "P3", 2500.0, "PHP", None), ("bank", "P4", 1200.5, "USD", _t(4))]
    nodes += [Node(f"Payment:{ch}/{ref}", "Payment",
                   {"channel": ch, "reference": ref, "amount": amount, "currency": cur,
                    "time": time}) for ch, ref, amount, cur, time in payments]
    return nodes


def _edges() -> list[Edge]:
    card = card_id()
    seen = {"first_seen": _t(1), "last_seen": _t(6), "count": 4}
    edges = [Edge("USES", f"Person:{p}", a) for p, a in
             (("AG-1", A1), ("AG-2", A2), ("AG-3", A3), ("V-1", VA1), ("V-2", VA2),
              ("V-3", VA3), ("AG-1", PHONE), ("AG-3", PHONE), ("AG-1", IMEI))]
    edges += [
        Edge("HOLDS", "Person:MU-1", card), Edge("HOLDS", "Person:MU-1", WALLET),
        Edge("LOGGED_IN_ON", A1, IMEI, seen), Edge("LOGGED_IN_ON", A2, IMEI),
        Edge("LOGGED_IN_ON", A2, LAPTOP), Edge("LOGGED_IN_ON", A3, LAPTOP, seen),
        Edge("REGISTERED_TO", A1, PHONE), Edge("REGISTERED_TO", A1, EMAIL),
        Edge("REGISTERED_TO", A3, EMAIL),
        Edge("LOGGED_IN_FROM", A1, IP), Edge("LOGGED_IN_FROM", A3, IP, seen),
        Edge("HAS_NUMBER", SIM, PHONE), Edge("SIM_IN", SIM, IMEI),
        Edge("CONTACTED", A1, VA1, {**seen, "channel": "messenger"}),
        Edge("CONTACTED", VA1, A1, {"count": 1}),
        Edge("CONTACTED", A2, VA2), Edge("CONTACTED", A3, VA1), Edge("CONTACTED", A3, VA3),
        Edge("PAID", "Person:V-1", "Payment:wu/P1"), Edge("PAID", "Person:V-2", "Payment:wu/P2"),
        Edge("PAID", "Person:V-3", "Payment:wu/P3"),
        Edge("PAID_TO", "Payment:wu/P1", card), Edge("PAID_TO", "Payment:wu/P2", card),
        Edge("PAID_TO", "Payment:wu/P3", WALLET),
        Edge("PAID_FROM", "Payment:bank/P4", card), Edge("PAID_TO", "Payment:bank/P4", WALLET),
        Edge("WORKS_AT", "Person:AG-1", OFFICE), Edge("ARRESTED_AT", "Person:AG-2", OFFICE),
        Edge("WORKS_AT", "Person:AG-3", OFFICE),
        Edge("NAMES", "Report:ncmec/CT-1", A1, {"role": "suspect"}),
        Edge("NAMES", "Report:police/R-2", A1),
        Edge("LOCATED_IN", "Person:V-1", "Country:GB"), Edge("LOCATED_IN", OFFICE, "Country:PH"),
        Edge("LOCATED_IN", "Report:ncmec/CT-1", "Country:US"),
    ]
    return edges


def load_case(store: Store) -> None:
    """Load the case and one cell-detection run (``run-1``: cells C1 and C2) into ``store``."""
    nodes, edges = _nodes(), _edges()
    sightings = [Sighting(n.id, i + 1) for i, n in enumerate(nodes)]
    sightings += [Sighting(e.id, len(nodes) + i + 1) for i, e in enumerate(edges)]
    load = FileLoad(sha256="c" * 64, source_file="case.csv", mapping="case",
                    mapping_digest="m1", run_id="ingest-1", grading=Grading.parse("B2"))
    store.load_file(load, [Batch(nodes, edges, sightings, last_row=len(sightings))])
    cells = [CellRecord(cell_id="C1", members=[CellMember(node_id="Person:AG-1", confidence=0.9),
                                               CellMember(node_id="Person:AG-2", confidence=0.8)]),
             CellRecord(cell_id="C2", members=[CellMember(node_id="Person:AG-3", confidence=1.0),
                                               CellMember(node_id=A3, confidence=0.75)])]
    store.save_cells(AnalysisRun(run_id="run-1"), cells)
