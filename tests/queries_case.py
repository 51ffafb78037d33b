"""A small case that every named query has rows on.

Two cells (C1: agents AG-1, AG-2; C2: AG-3 and the account it runs) share a phone, an email, an
IP, a laptop and an office; three victims in GB, US (nationality only) and nowhere; a mule's
card and wallet take their payments; two reports name an account. Some text is hostile.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ringmap.testing import CaseBuilder, Value

HOSTILE = "x' }) MATCH (n) DETACH DELETE n // '; DROP TABLE nodes; --"
FORMULA = "=HYPERLINK(\"http://evil\",\"x\")"
CARD_NUMBER = "4111 1111 1111 1111"

IMEI = "Device:352099001761481"
LAPTOP = "Device:SN:LAPTOP1"
PHONE = "Phone:+639171234567"
SIM = "SimCard:8963012345678901238"
EMAIL = "Email:agent@example.com"
IP = "IPAddress:10.0.0.1"
WALLET = "FinancialAccount:gcash/W1"  # account numbers lose their separators
OFFICE = "Location:OFFICE-1"
A1, A2, A3 = ("Account:facebook/agent.one", "Account:facebook/agent.two",
              "Account:facebook/agent.three")
VA1, VA2, VA3 = ("Account:facebook/victim.one", "Account:facebook/victim.two",
                 "Account:instagram/victim.three")


def card_id() -> str:
    """The node id of the case's card (keyed hash of its number under the test key)."""
    return CaseBuilder().card(CARD_NUMBER)


def _t(month: int, day: int = 1) -> datetime:
    return datetime(2014, month, day, 10, 0, tzinfo=UTC)


def queries_case() -> CaseBuilder:
    """The case and one cell-detection run (``run-1``: cells C1 and C2)."""
    case = CaseBuilder(cells_run="run-1")
    ag1, ag2, ag3 = (case.person(f"AG-{i}", name=name) for i, name in
                     ((1, "Agent One"), (2, "Agent Two"), (3, HOSTILE)))
    mule = case.person("MU-1", "mule", name="Mule")
    v1 = case.person("V-1", "victim", name="Victim One")
    v2 = case.person("V-2", "victim", name="Victim Two", nationality="US")
    v3 = case.person("V-3", "victim", name=FORMULA)
    for account in (A1, A2, A3, VA1, VA2):
        case.account(*account.split(":", 1)[1].split("/"))
    case.account("instagram", "victim.three", display_name=FORMULA)
    case.device("352099001761481", kind="phone", make="Nokia")
    case.device("SN:LAPTOP1", kind="laptop")
    case.phone("+639171234567")
    case.node("SimCard", iccid="8963012345678901238")
    case.node("Email", address="agent@example.com")
    case.node("IPAddress", address="10.0.0.1")
    card = case.card(CARD_NUMBER)
    case.node("FinancialAccount", provider="gcash", account_id="W-1")
    case.site("OFFICE-1", name=HOSTILE)
    ct1 = case.node("Report", source="ncmec", reference="CT-1", kind="cybertip",
                    received=_t(5))
    r2 = case.node("Report", source="police", reference="R-2", agency=FORMULA)
    gb, ph, us = (case.node("Country", code=code) for code in ("GB", "PH", "US"))
    p1 = case.payment("wu", "P1", 500.0, "USD", time=_t(3))
    p2 = case.payment("wu", "P2", 1000.0, "GBP", time=_t(2))
    p3 = case.payment("wu", "P3", 2500.0, "PHP")
    p4 = case.payment("bank", "P4", 1200.5, "USD", time=_t(4))

    seen: dict[str, Value] = {"first_seen": _t(1), "last_seen": _t(6), "count": 4}
    for person, used in ((ag1, A1), (ag2, A2), (ag3, A3), (v1, VA1), (v2, VA2), (v3, VA3),
                         (ag1, PHONE), (ag3, PHONE), (ag1, IMEI)):
        case.link("USES", person, used)
    case.link("HOLDS", mule, card)
    case.link("HOLDS", mule, WALLET)
    case.link("LOGGED_IN_ON", A1, IMEI, **seen)
    case.link("LOGGED_IN_ON", A2, IMEI)
    case.link("LOGGED_IN_ON", A2, LAPTOP)
    case.link("LOGGED_IN_ON", A3, LAPTOP, **seen)
    case.link("REGISTERED_TO", A1, PHONE)
    case.link("REGISTERED_TO", A1, EMAIL)
    case.link("REGISTERED_TO", A3, EMAIL)
    case.link("LOGGED_IN_FROM", A1, IP)
    case.link("LOGGED_IN_FROM", A3, IP, **seen)
    case.link("HAS_NUMBER", SIM, PHONE)
    case.link("SIM_IN", SIM, IMEI)
    case.contact(A1, VA1, **seen, channel="messenger")
    case.contact(VA1, A1, count=1)
    case.contact(A2, VA2)
    case.contact(A3, VA1)
    case.contact(A3, VA3)
    for person, payment in ((v1, p1), (v2, p2), (v3, p3)):
        case.link("PAID", person, payment)
    case.link("PAID_TO", p1, card)
    case.link("PAID_TO", p2, card)
    case.link("PAID_TO", p3, WALLET)
    case.link("PAID_FROM", p4, card)
    case.link("PAID_TO", p4, WALLET)
    case.link("WORKS_AT", ag1, OFFICE)
    case.link("ARRESTED_AT", ag2, OFFICE)
    case.link("WORKS_AT", ag3, OFFICE)
    case.link("NAMES", ct1, A1, role="suspect")
    case.link("NAMES", r2, A1)
    case.link("LOCATED_IN", v1, gb)
    case.link("LOCATED_IN", OFFICE, ph)
    case.link("LOCATED_IN", ct1, us)
    case.cell("C1", {ag1: 0.9, ag2: 0.8})
    case.cell("C2", {ag3: 1.0, A3: 0.75})
    return case

