"""A cross-border single offender: one suspect, victims in many countries, hostile text.

Modelled on the Swiss case of the design notes: one man at home in Zurich, two accounts, and
victims on every continent who paid into his e-wallet; three victims have no known country.
Attacker-controlled strings (display names, the site's name) carry markup, a script, a
``javascript:`` URL and bidirectional-text controls.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.testing import CaseBuilder
from ringmap.tests.browser.case import IMG, JS_URL, SCRIPT

#: right-to-left override and isolates: would reverse or hide text if interpreted
BIDI = "\u202egnp.exe\u202c \u2067evil\u2069"
#: where the victims live; None: no country in the evidence
COUNTRIES = ("US", "GB", "AU", "CA", "DE", "FR", "BR", "ZA", "IN", "JP", "NZ", "MX", "SE",
             "PH", None, None, None)
START = datetime(2021, 2, 1, 9, 0, tzinfo=UTC)


def offender_case() -> CaseBuilder:
    """The case and its one cell ``C1`` (the offender and his accounts)."""
    case = CaseBuilder()
    offender = case.person("OF-1", name="Max " + IMG)
    accounts = [case.account("instagram", "max.fake", display_name=SCRIPT + BIDI),
                case.account("snapchat", "max.snap", display_name=JS_URL)]
    for account in accounts:
        case.link("USES", offender, account)
    wallet = case.node("FinancialAccount", provider="paypal", account_id="MAXWALLET01",
                       kind="e-wallet")
    case.link("HOLDS", offender, wallet)
    home = case.site("ZH-1", name="Home " + HOSTILE_SITE, kind="raid site", lat=47.3769,
                     lon=8.5417, city="Zürich")
    case.link("WORKS_AT", offender, home)
    case.link("ARRESTED_AT", offender, home, time=START + timedelta(days=200))
    countries: dict[str, str] = {}
    for i, code in enumerate(COUNTRIES):
        victim = case.person(f"V-{i:02d}", "victim", name=f"Victim {i} {IMG}")
        if code is not None:
            countries.setdefault(code, case.node("Country", code=code))
            case.link("LOCATED_IN", victim, countries[code])
        handle = case.account("instagram", f"victim.{i:02d}")
        case.link("USES", victim, handle)
        first = START + timedelta(days=9 * i)
        case.contact(accounts[i % 2], handle, first_seen=first,
                     last_seen=first + timedelta(days=12), count=5 + i)
        if i % 3 != 2:
            payment = case.payment("paypal", f"PP-{i:03d}", 100.0 + 50 * i, "USD",
                                   time=first + timedelta(days=3))
            case.link("PAID", victim, payment)
            case.link("PAID_TO", payment, wallet)
        if i % 4 == 0:
            report = case.node("Report", source="NCMEC", reference=f"CT-{i:04d}",
                               received=first + timedelta(days=20))
            case.link("NAMES", report, accounts[i % 2])
    case.cell("C1", {offender: 1.0, accounts[0]: 1.0, accounts[1]: 1.0})
    return case


HOSTILE_SITE = f"{IMG} {JS_URL} {BIDI}"


def open_offender_case(folder: Path) -> EmbeddedStore:
    """A new embedded case ``folder/case.db`` holding :func:`offender_case`."""
    return offender_case().ingest(EmbeddedStore(folder / "case.db"), folder / "evidence")
