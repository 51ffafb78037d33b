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
from ringmap.testing import CaseBuilder

SECRET = "links-test-secret-0123456789"
CARD = "4111 1111 1111 1111"
IMEI = "352099001761481"
ICCID = "8963012345678901238"
HUB_IP = "203.0.113.7"
HUB_DEGREE = 5


def card_id() -> str:
    """The node id of the test card under the current key (``RINGMAP_SECRET``)."""
    return CaseBuilder().card(CARD)


def links_case(*, cells: bool = True) -> CaseBuilder:
    """The case, with its two cells unless ``cells=False``."""
    case = CaseBuilder()
    ag1, ag2, ag3, _ag9 = (case.person(p, name=f"Name {p}")
                           for p in ("AG-1", "AG-2", "AG-3", "AG-9"))
    v1 = case.person("V-1", "victim", name="Name V-1")
    one, two, three, victim = (case.account("facebook", h) for h in
                               ("agent.one", "agent.two", "agent.three", "victim.one"))
    fillers = [case.account("facebook", f"filler{i}") for i in range(6)]
    phone1, phone2, _lone = (case.phone(n) for n in
                             ("+639171234567", "+639181111111", "+639999999999"))
    device = case.device(IMEI)
    sim = case.node("SimCard", iccid=ICCID)
    email = case.node("Email", address="agent3@mail.com")
    ip = case.node("IPAddress", address=HUB_IP)
    card = case.card(CARD)
    pay = case.payment("western_union", "P-1", 500.0, "USD")
    office = case.site("L-1", name="Taguig office")
    for person, used in ((ag1, one), (ag2, two), (ag3, three), (v1, victim), (ag1, phone1),
                         (ag2, phone2)):
        case.link("USES", person, used)
    case.link("REGISTERED_TO", one, phone1)
    case.link("REGISTERED_TO", three, email)
    case.link("LOGGED_IN_ON", one, device)
    case.link("LOGGED_IN_ON", two, device)
    case.link("SIM_IN", sim, device)
    case.link("HAS_NUMBER", sim, phone2)
    case.link("WORKS_AT", ag1, office)
    case.link("WORKS_AT", ag2, office)
    case.contact(one, victim, count=12)
    case.link("PAID", v1, pay)
    case.link("PAID_TO", pay, card)
    case.link("HOLDS", ag3, card)
    for account in (one, three, *fillers):
        case.link("LOGGED_IN_FROM", account, ip)
    if cells:
        case.cell("cell-1", dict.fromkeys((ag1, ag2, one, two), 0.9))
        case.cell("cell-2", dict.fromkeys((ag3, three), 0.9))
    return case


def build_case(folder: Path, *, cells: bool = True) -> EmbeddedStore:
    """The case in a fresh embedded store ``folder/c.db``, its evidence in
    ``folder/evidence``, with a cell run unless ``cells=False``."""
    return links_case(cells=cells).ingest(EmbeddedStore(folder / "c.db"), folder / "evidence")


@contextmanager
def shared_case(directory: Path, *, cells: bool = True) -> Iterator[EmbeddedStore]:
    """The case built under :data:`SECRET`, for a module-scoped fixture; tests must set
    ``RINGMAP_SECRET`` to :data:`SECRET` too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RINGMAP_SECRET", SECRET)
        store = build_case(directory, cells=cells)
    try:
        yield store
    finally:
        store.close()
