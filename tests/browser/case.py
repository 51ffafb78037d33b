"""A small hand-made case with two cells, three victims and hostile evidence text.

Built through the store contract only (``load_file`` and ``save_cells``), so it works against
any store. Strings an attacker controls (account names, bios, exhibit notes) carry script
injections, a link with "href", ``javascript:`` URLs and spreadsheet formulas.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ringmap.graphs.embedded import EmbeddedStore
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

IMG = "<img src=x onerror=window.__x=1>"
SCRIPT = "</script><script>window.__x=1</script>"
HREF = '<a href="javascript:window.__x=1">click me</a>'
JS_URL = "javascript:window.__x=1"
FORMULA = '=HYPERLINK("http://evil.example/","open")'
PANS = ("4111111111111111", "5500005555555559")
VICTIM_NAMES = ("John Victim", "Jane Victim", "Sam Victim")
SOURCE_FILE = "seized_phones.csv"

_T = datetime(2014, 4, 30, 8, 15, tzinfo=UTC)


def _person(pid: str, role: str, **props: object) -> Node:
    return Node(f"Person:{pid}", "Person", {"person_id": pid, "role": role, **props})


def _account(platform: str, handle: str, **props: object) -> Node:
    return Node(f"Account:{platform}/{handle}", "Account",
                {"platform": platform, "handle": handle, **props})


def _card(pan: str) -> Node:
    fields = card_fields(pan, load_key())
    return Node(f"PaymentCard:{fields.card_hash}", "PaymentCard", {
        "card_hash": fields.card_hash, "bin": fields.bin, "last4": fields.last4,
        "masked": fields.masked, "brand": fields.brand})


def case_graph() -> tuple[list[Node], list[Edge]]:
    """The nodes and relationships of the case."""
    ag1 = _person("AG-1", "suspect", name="Juan Dela Cruz", alias=FORMULA)
    ag2 = _person("AG-2", "suspect", name=IMG)
    ag3 = _person("AG-3", "suspect", name="Maria Santos")
    ag4 = _person("AG-4", "suspect", name="Pedro Reyes", alias="-1+1")
    acc1 = _account("facebook", "ag1.fake", display_name=IMG, persona=HREF)
    acc2 = _account("instagram", "ag2.fake", display_name=SCRIPT)
    acc3 = _account("facebook", "ag3.fake", display_name=JS_URL)
    acc4 = _account("skype", "ag4.fake", display_name="@SUM(1,1)")
    phone1 = Node("Phone:+639171234567", "Phone", {"number": "+639171234567"})
    phone2 = Node("Phone:+639181234567", "Phone", {"number": "+639181234567"})
    sim1 = Node("SimCard:8963012345678901234", "SimCard",
                {"iccid": "8963012345678901234", "carrier": "Globe"})
    dev1 = Node("Device:356938035643809", "Device",
                {"device_id": "356938035643809", "kind": "phone", "model": HREF})
    dev2 = Node("Device:SN:LAPTOP-77", "Device", {"device_id": "SN:LAPTOP-77", "kind": "laptop"})
    ip = Node("IPAddress:203.0.113.7", "IPAddress", {"address": "203.0.113.7"})
    card1 = _card(PANS[0])
    card2 = _card(PANS[1])
    wallet = Node("FinancialAccount:gcash/09171234567", "FinancialAccount",
                  {"provider": "gcash", "account_id": "09171234567", "kind": "e-wallet",
                   "holder_name": "Mule Name"})
    bicol = Node("Location:BICOL-1", "Location", {"location_id": "BICOL-1", "name": "Bicol office",
                                                  "kind": "raid site", "lat": 13.42, "lon": 123.41})
    taguig = Node("Location:TAGUIG-1", "Location", {
        "location_id": "TAGUIG-1", "name": "Taguig " + IMG, "kind": "raid site",
        "lat": 14.52, "lon": 121.05})
    ex1 = Node("Exhibit:EX-1", "Exhibit", {"reference": "EX-1", "kind": "phone",
                                           "description": f"phone with card {PANS[0][:4]} "
                                           f"{PANS[0][4:8]} {PANS[0][8:12]} {PANS[0][12:]}"})
    ex2 = Node("Exhibit:EX-2", "Exhibit", {"reference": "EX-2", "kind": "laptop",
                                           "description": FORMULA, "media_ref": "sha256:abc"})
    gb = Node("Country:GB", "Country", {"code": "GB", "name": "United Kingdom"})
    us = Node("Country:US", "Country", {"code": "US", "name": "United States"})
    v1 = _person("V-1", "victim", name=VICTIM_NAMES[0], age=17)
    v2 = _person("V-2", "victim", name=VICTIM_NAMES[1], nationality="US")
    v3 = _person("V-3", "victim", name=VICTIM_NAMES[2], nationality="SG")
    vacc1 = _account("facebook", "john.victim.1990", display_name=VICTIM_NAMES[0])
    vacc2 = _account("instagram", "jane.victim", display_name=VICTIM_NAMES[1])
    pay1 = Node("Payment:western_union/MTCN-1", "Payment", {
        "channel": "western_union", "reference": "MTCN-1", "amount": 500.0, "currency": "USD",
        "time": _T})
    pay2 = Node("Payment:gcash/GC-2", "Payment", {
        "channel": "gcash", "reference": "GC-2", "amount": 300.0, "currency": "GBP"})
    nodes = [ag1, ag2, ag3, ag4, acc1, acc2, acc3, acc4, phone1, phone2, sim1, dev1, dev2, ip,
             card1, card2, wallet, bicol, taguig, ex1, ex2, gb, us, v1, v2, v3, vacc1, vacc2,
             pay1, pay2]
    edges = [
        Edge("USES", ag1.id, acc1.id), Edge("USES", ag2.id, acc2.id),
        Edge("USES", ag3.id, acc3.id), Edge("USES", ag4.id, acc4.id),
        Edge("USES", ag1.id, phone1.id), Edge("USES", ag3.id, phone2.id),
        Edge("SIM_IN", sim1.id, dev1.id, {"first_seen": _T, "count": 2}),
        Edge("HAS_NUMBER", sim1.id, phone1.id),
        Edge("LOGGED_IN_ON", acc1.id, dev1.id, {"count": 4}),
        Edge("LOGGED_IN_ON", acc3.id, dev2.id),
        Edge("LOGGED_IN_FROM", acc2.id, ip.id), Edge("LOGGED_IN_FROM", acc4.id, ip.id),
        Edge("HOLDS", ag1.id, card1.id), Edge("HOLDS", ag3.id, card2.id),
        Edge("REGISTERED_TO", wallet.id, phone2.id),
        Edge("WORKS_AT", ag1.id, bicol.id), Edge("WORKS_AT", ag3.id, taguig.id),
        Edge("SEIZED_AT", ex1.id, bicol.id), Edge("EXHIBIT_OF", ex1.id, dev1.id),
        Edge("SEIZED_AT", ex2.id, taguig.id), Edge("SEIZED_FROM", ex2.id, ag3.id),
        Edge("USES", v1.id, vacc1.id), Edge("USES", v2.id, vacc2.id),
        Edge("LOCATED_IN", v1.id, gb.id),
        Edge("CONTACTED", acc1.id, vacc1.id, {"first_seen": _T, "count": 12,
                                              "channel": HREF}),
        Edge("CONTACTED", acc3.id, vacc2.id, {"count": 3}),
        Edge("PAID", v1.id, pay1.id), Edge("PAID_TO", pay1.id, card1.id),
        Edge("PAID", v2.id, pay2.id), Edge("PAID_TO", pay2.id, wallet.id),
    ]
    return nodes, edges


CELLS = [
    CellRecord(cell_id="C1", members=[
        CellMember(node_id=n, confidence=0.9) for n in
        ("Person:AG-1", "Person:AG-2", "Account:facebook/ag1.fake", "Account:instagram/ag2.fake")],
        summary={"agents": 2}),
    CellRecord(cell_id="C2", members=[
        CellMember(node_id=n, confidence=0.8) for n in
        ("Person:AG-3", "Person:AG-4", "Account:facebook/ag3.fake", "Account:skype/ag4.fake")],
        summary={"agents": 2}),
]


def load_case(store: Store, *, cells: bool = True) -> Store:
    """Load the case (and, unless ``cells=False``, its two cells) into ``store``."""
    nodes, edges = case_graph()
    ids = [n.id for n in nodes] + [e.id for e in edges]
    sightings = [Sighting(item, row, f"EX-{row % 3}" if row % 2 else None)
                 for row, item in enumerate(ids, start=2)]
    load = FileLoad(sha256="c" * 64, source_file=SOURCE_FILE, mapping="seized",
                    mapping_digest="m1", run_id="ingest-1", grading=Grading.parse("B2"),
                    read=len(sightings), loaded=len(sightings))
    store.load_file(load, [Batch(nodes, edges, sightings, last_row=len(sightings) + 1)])
    if cells:
        store.save_cells(AnalysisRun(run_id="cells-1", params={"seed": 1}), CELLS)
    return store


def open_case(folder: Path, *, cells: bool = True) -> EmbeddedStore:
    """A new embedded case file under ``folder`` holding the case."""
    store = EmbeddedStore(folder / "case.db")
    load_case(store, cells=cells)
    return store
