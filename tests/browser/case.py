"""A small hand-made case with two cells, three victims and hostile evidence text.

Strings an attacker controls (account names, bios, exhibit notes) carry script injections, a
link with "href", ``javascript:`` URLs and spreadsheet formulas.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.testing import CaseBuilder

IMG = "<img src=x onerror=window.__x=1>"
SCRIPT = "</script><script>window.__x=1</script>"
HREF = '<a href="javascript:window.__x=1">click me</a>'
JS_URL = "javascript:window.__x=1"
FORMULA = '=HYPERLINK("http://evil.example/","open")'
PANS = ("4111111111111111", "5500005555555559")
VICTIM_NAMES = ("John Victim", "Jane Victim", "Sam Victim")
ICCID = "8963012345678901238"
IMEI = "356938035643809"

_T = datetime(2014, 4, 30, 8, 15, tzinfo=UTC)


def browser_case(*, cells: bool = True) -> CaseBuilder:
    """The case, and unless ``cells=False`` its two cells (run ``cells-1``)."""
    case = CaseBuilder()
    ag1 = case.person("AG-1", name="Juan Dela Cruz", alias=FORMULA)
    ag2 = case.person("AG-2", name=IMG)
    ag3 = case.person("AG-3", name="Maria Santos")
    ag4 = case.person("AG-4", name="Pedro Reyes", alias="-1+1")
    acc1 = case.account("facebook", "ag1.fake", display_name=IMG, persona=HREF)
    acc2 = case.account("instagram", "ag2.fake", display_name=SCRIPT)
    acc3 = case.account("facebook", "ag3.fake", display_name=JS_URL)
    acc4 = case.account("skype", "ag4.fake", display_name="@SUM(1,1)")
    phone1 = case.phone("+639171234567")
    phone2 = case.phone("+639181234567")
    sim1 = case.node("SimCard", iccid=ICCID, carrier="Globe")
    dev1 = case.device(IMEI, kind="phone", model=HREF)
    dev2 = case.device("SN:LAPTOP-77", kind="laptop")
    ip = case.node("IPAddress", address="203.0.113.7")
    card1, card2 = (case.card(pan) for pan in PANS)
    wallet = case.node("FinancialAccount", provider="gcash", account_id="09171234567",
                       kind="e-wallet", holder_name="Mule Name")
    bicol = case.site("BICOL-1", name="Bicol office", kind="raid site", lat=13.42, lon=123.41)
    taguig = case.site("TAGUIG-1", name="Taguig " + IMG, kind="raid site", lat=14.52,
                       lon=121.05)
    ex1 = case.node("Exhibit", reference="EX-1", kind="phone",
                    description=f"phone with card {PANS[0][:4]} {PANS[0][4:8]} "
                                f"{PANS[0][8:12]} {PANS[0][12:]}")
    ex2 = case.node("Exhibit", reference="EX-2", kind="laptop", description=FORMULA,
                    media_ref="sha256:abc")
    gb = case.node("Country", code="GB", name="United Kingdom")
    case.node("Country", code="US", name="United States")
    v1 = case.person("V-1", "victim", name=VICTIM_NAMES[0], age=17)
    v2 = case.person("V-2", "victim", name=VICTIM_NAMES[1], nationality="US")
    case.person("V-3", "victim", name=VICTIM_NAMES[2], nationality="SG")
    vacc1 = case.account("facebook", "john.victim.1990", display_name=VICTIM_NAMES[0])
    vacc2 = case.account("instagram", "jane.victim", display_name=VICTIM_NAMES[1])
    pay1 = case.payment("western_union", "MTCN-1", 500.0, "USD", time=_T)
    pay2 = case.payment("gcash", "GC-2", 300.0, "GBP")
    for person, used in ((ag1, acc1), (ag2, acc2), (ag3, acc3), (ag4, acc4), (ag1, phone1),
                         (ag3, phone2), (v1, vacc1), (v2, vacc2)):
        case.link("USES", person, used)
    case.link("SIM_IN", sim1, dev1, first_seen=_T, count=2)
    case.link("HAS_NUMBER", sim1, phone1)
    case.link("LOGGED_IN_ON", acc1, dev1, count=4)
    case.link("LOGGED_IN_ON", acc3, dev2)
    case.link("LOGGED_IN_FROM", acc2, ip)
    case.link("LOGGED_IN_FROM", acc4, ip)
    case.link("HOLDS", ag1, card1)
    case.link("HOLDS", ag3, card2)
    case.link("REGISTERED_TO", wallet, phone2)
    case.link("WORKS_AT", ag1, bicol)
    case.link("WORKS_AT", ag3, taguig)
    case.link("SEIZED_AT", ex1, bicol)
    case.link("EXHIBIT_OF", ex1, dev1)
    case.link("SEIZED_AT", ex2, taguig)
    case.link("SEIZED_FROM", ex2, ag3)
    case.link("LOCATED_IN", v1, gb)
    case.contact(acc1, vacc1, first_seen=_T, count=12, channel=HREF)
    case.contact(acc3, vacc2, count=3)
    case.link("PAID", v1, pay1)
    case.link("PAID_TO", pay1, card1)
    case.link("PAID", v2, pay2)
    case.link("PAID_TO", pay2, wallet)
    if cells:
        case.cell("C1", dict.fromkeys((ag1, ag2, acc1, acc2), 0.9))
        case.cell("C2", dict.fromkeys((ag3, ag4, acc3, acc4), 0.8))
    return case


def open_case(folder: Path, *, cells: bool = True) -> EmbeddedStore:
    """A new embedded case file ``folder/case.db`` holding the case (evidence written to
    ``folder/evidence``)."""
    return browser_case(cells=cells).ingest(EmbeddedStore(folder / "case.db"),
                                            folder / "evidence")
