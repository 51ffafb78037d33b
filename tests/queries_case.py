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
    for rel, source, target in (
            ("HOLDS", mule, card), ("HOLDS", mule, WALLET), ("LOGGED_IN_ON", A2, IMEI),
            ("LOGGED_IN_ON", A2, LAPTOP), ("REGISTERED_TO", A1, PHONE),
            ("REGISTERED_TO", A1, EMAIL), ("REGISTERED_TO", A3, EMAIL),
            ("LOGGED_IN_FROM", A1, IP), ("HAS_NUMBER", SIM, PHONE), ("SIM_IN", SIM, IMEI),
            ("CONTACTED", A2, VA2), ("CONTACTED", A3, VA1), ("CONTACTED", A3, VA3),
            ("PAID", v1, p1), ("PAID", v2, p2), ("PAID", v3, p3), ("PAID_TO", p1, card),
            ("PAID_TO", p2, card), ("PAID_TO", p3, WALLET), ("PAID_FROM", p4, card),
            ("PAID_TO", p4, WALLET), ("WORKS_AT", ag1, OFFICE), ("ARRESTED_AT", ag2, OFFICE),
            ("WORKS_AT", ag3, OFFICE), ("NAMES", r2, A1), ("LOCATED_IN", v1, gb),
            ("LOCATED_IN", OFFICE, ph), ("LOCATED_IN", ct1, us)):
        case.link(rel, source, target)
    for source, target in ((A1, IMEI), (A3, LAPTOP)):
        case.link("LOGGED_IN_ON", source, target, **seen)
    case.link("LOGGED_IN_FROM", A3, IP, **seen)
    case.contact(A1, VA1, **seen, channel="messenger")
    case.contact(VA1, A1, count=1)
    case.link("NAMES", ct1, A1, role="suspect")
    case.cell("C1", {ag1: 0.9, ag2: 0.8})
    case.cell("C2", {ag3: 1.0, A3: 0.75})
    return case

