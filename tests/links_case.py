"""A small evidence case for the link-analysis, batch and resolver tests.

Two cells: agents AG-1 and AG-2 share an office, a device and a SIM; AG-3 works alone, holds
the card victim V-1 paid into. Agent accounts and six filler accounts log in from one CGNAT
address (a hub at threshold 5). AG-9 and a lone phone are cut off from everything.

::

    AG-1 -USES-> fb/agent.one -LOGGED_IN_FROM-> 203.0.113.7 <-LOGGED_IN_FROM- fb/agent.three
    fb/agent.one -CONTACTED-> fb/victim.one <-USES- V-1 -PAID-> P-1 -PAID_TO-> card <-HOLDS- AG-3
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

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
from ringmap.graphs.schema import node_id
from ringmap.graphs.secrets import load_key

SECRET = "links-test-secret-0123456789"
CARD = "4111 1111 1111 1111"
IMEI = "352099001761481"
ICCID = "8963012345678901238"
HUB_IP = "203.0.113.7"
HUB_DEGREE = 5


def card_id() -> str:
    """The node id of the test card under the current key (``RINGMAP_SECRET``)."""
    return node_id("PaymentCard", [card_fields(CARD, load_key()).card_hash])


def _nodes() -> list[Node]:
    fields = card_fields(CARD, load_key())
    people = [("AG-1", "suspect"), ("AG-2", "suspect"), ("AG-3", "suspect"),
              ("AG-9", "suspect"), ("V-1", "victim")]
    nodes = [Node(f"Person:{p}", "Person", {"person_id": p, "role": r, "name": f"Name {p}"})
             for p, r in people]
    handles = ["agent.one", "agent.two", "agent.three", "victim.one",
               *(f"filler{i}" for i in range(6))]
    nodes += [Node(f"Account:facebook/{h}", "Account", {"platform": "facebook", "handle": h})
              for h in handles]
    nodes += [
        Node("Phone:+639171234567", "Phone", {"number": "+639171234567"}),
        Node("Phone:+639181111111", "Phone", {"number": "+639181111111"}),
        Node("Phone:+639999999999", "Phone", {"number": "+639999999999"}),
        Node(f"Device:{IMEI}", "Device", {"device_id": IMEI}),
        Node(f"SimCard:{ICCID}", "SimCard", {"iccid": ICCID}),
        Node("Email:agent3@mail.com", "Email", {"address": "agent3@mail.com"}),
        Node(f"IPAddress:{HUB_IP}", "IPAddress", {"address": HUB_IP}),
        Node(card_id(), "PaymentCard", {"card_hash": fields.card_hash, "bin": fields.bin,
                                        "last4": fields.last4, "masked": fields.masked}),
        Node("Payment:western_union/P-1", "Payment",
             {"channel": "western_union", "reference": "P-1", "amount": 500.0,
              "currency": "USD"}),
        Node("Location:L-1", "Location", {"location_id": "L-1", "name": "Taguig office"}),
    ]
    return nodes


def _edges() -> list[Edge]:
    acc = "Account:facebook/"
    edges = [
        Edge("USES", "Person:AG-1", acc + "agent.one"),
        Edge("USES", "Person:AG-2", acc + "agent.two"),
        Edge("USES", "Person:AG-3", acc + "agent.three"),
        Edge("USES", "Person:V-1", acc + "victim.one"),
        Edge("USES", "Person:AG-1", "Phone:+639171234567"),
        Edge("USES", "Person:AG-2", "Phone:+639181111111"),
        Edge("REGISTERED_TO", acc + "agent.one", "Phone:+639171234567"),
        Edge("REGISTERED_TO", acc + "agent.three", "Email:agent3@mail.com"),
        Edge("LOGGED_IN_ON", acc + "agent.one", f"Device:{IMEI}"),
        Edge("LOGGED_IN_ON", acc + "agent.two", f"Device:{IMEI}"),
        Edge("SIM_IN", f"SimCard:{ICCID}", f"Device:{IMEI}"),
        Edge("HAS_NUMBER", f"SimCard:{ICCID}", "Phone:+639181111111"),
        Edge("WORKS_AT", "Person:AG-1", "Location:L-1"),
        Edge("WORKS_AT", "Person:AG-2", "Location:L-1"),
        Edge("CONTACTED", acc + "agent.one", acc + "victim.one", {"count": 12}),
        Edge("PAID", "Person:V-1", "Payment:western_union/P-1"),
        Edge("PAID_TO", "Payment:western_union/P-1", card_id()),
        Edge("HOLDS", "Person:AG-3", card_id()),
        Edge("LOGGED_IN_FROM", acc + "agent.one", f"IPAddress:{HUB_IP}"),
        Edge("LOGGED_IN_FROM", acc + "agent.three", f"IPAddress:{HUB_IP}"),
    ]
    edges += [Edge("LOGGED_IN_FROM", f"{acc}filler{i}", f"IPAddress:{HUB_IP}") for i in range(6)]
    return edges


def edge_row(edge: Edge) -> int:
    """The row of ``calls.csv`` that saw ``edge`` (rows start at 2, after the header)."""
    return [e.id for e in _edges()].index(edge.id) + 2


def build_case(path: Path, *, cells: bool = True) -> EmbeddedStore:
    """The case in a fresh embedded store at ``path``, with a cell run unless ``cells=False``."""
    store = EmbeddedStore(path)
    nodes, edges = _nodes(), _edges()
    sightings = [Sighting(n.id, 1) for n in nodes]
    sightings += [Sighting(e.id, edge_row(e), f"EX-{edge_row(e)}") for e in edges]
    load = FileLoad(sha256="ab" * 32, source_file="/evidence/calls.csv", mapping="calls",
                    mapping_digest="cd" * 32, run_id="run-1", grading=Grading.parse("B2"))
    store.load_file(load, [Batch(nodes, edges, sightings, last_row=len(edges) + 1)])
    if cells:
        members = {"cell-1": ["Person:AG-1", "Person:AG-2", "Account:facebook/agent.one",
                              "Account:facebook/agent.two"],
                   "cell-2": ["Person:AG-3", "Account:facebook/agent.three"]}
        store.save_cells(AnalysisRun(run_id="cells-1"),
                         [CellRecord(cell_id=c, members=[CellMember(node_id=m, confidence=0.9)
                                                         for m in ms])
                          for c, ms in members.items()])
    return store


@contextmanager
def shared_case(directory: Path, *, cells: bool = True) -> Iterator[EmbeddedStore]:
    """The case built under :data:`SECRET`, for a module-scoped fixture; tests must set
    ``RINGMAP_SECRET`` to :data:`SECRET` too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RINGMAP_SECRET", SECRET)
        store = build_case(directory / "c.db", cells=cells)
    try:
        yield store
    finally:
        store.close()
