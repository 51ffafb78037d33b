"""Small seeded evidence cases with planted cells, for the cells/projection/report tests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import networkx as nx

from ringmap.graphs.normalise import luhn_valid
from ringmap.testing import CaseBuilder


@dataclass
class Planted:
    """An evidence case and the planted cell of every suspect Person and Account."""

    builder: CaseBuilder
    truth: dict[str, int]

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        """The evidence graph, as the store would project it once ingested."""
        return self.builder.graph()


def _luhn(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def planted_case(
    n_cells: int = 6,
    sizes: tuple[int, int] = (5, 12),
    seed: int = 1,
    noise: float = 0.05,
    cgnat_share: float = 0.3,
) -> Planted:
    """Cells of suspects sharing devices, SIMs, emails, an office, mules' cards and victims.

    Hubs that must not fuse cells: a few carrier CGNAT IPs used by ``cgnat_share`` of all
    accounts, a building Wi-Fi IP shared by two cells, victims contacted by two cells;
    ``noise`` is the chance that a suspect also uses a device of another cell.
    """
    rng = random.Random(seed)
    case = CaseBuilder()
    truth: dict[str, int] = {}
    cgnat = [case.node("IPAddress", address=f"100.64.0.{i}") for i in range(3)]
    devices_of: dict[int, list[str]] = {}
    accounts_of: dict[int, list[str]] = {}
    cards_of: dict[int, list[str]] = {}
    for c in range(n_cells):
        office = case.site(f"office{c}", name=f"Office {c}")
        office_ip = case.node("IPAddress", address=f"10.0.{c // 2}.1")  # two cells a Wi-Fi
        size = rng.randint(*sizes)
        devices = [case.device(f"SN:C{c}D{i}") for i in range(max(2, size // 3))]
        devices_of[c] = devices
        for i, dev in enumerate(devices):
            sim = case.node("SimCard", iccid=_luhn(f"8963{c:06d}{i:08d}"))
            case.link("SIM_IN", sim, dev)
            case.link("HAS_NUMBER", sim, case.phone(f"+6391700{c:03d}{i:02d}"))
        mule = case.person(f"mule{c}", "mule")
        cards_of[c] = [case.card(_luhn(f"4{c:07d}{i:07d}")) for i in range(2)]
        for card in cards_of[c]:
            case.link("HOLDS", mule, card)
        emails = [case.node("Email", address=f"c{c}e{i}@mail.test") for i in range(2)]
        accounts_of[c] = []
        for p in range(size):
            person = case.person(f"c{c}p{p}", name=f"Agent {c}-{p}")
            truth[person] = c
            case.link("WORKS_AT", person, office)
            dev = rng.choice(devices)
            case.link("USES", person, dev)
            for a in range(rng.randint(1, 2)):
                account = case.account("facebook", f"c{c}p{p}a{a}")
                truth[account] = c
                accounts_of[c].append(account)
                case.link("USES", person, account)
                for used in dict.fromkeys((dev, rng.choice(devices))):  # a second handset
                    case.link("LOGGED_IN_ON", account, used)
                case.link("LOGGED_IN_FROM", account, office_ip)
                case.link("REGISTERED_TO", account, rng.choice(emails))
                if rng.random() < cgnat_share:
                    case.link("LOGGED_IN_FROM", account, rng.choice(cgnat))
    victims = 0
    for c in range(n_cells):
        for account in accounts_of[c]:
            for _ in range(2):
                victims += 1
                country = rng.choice(["GB", "US", "HK", "SG"])
                victim = case.person(f"v{victims}", "victim", nationality=country)
                vacc = case.account("facebook", f"v{victims}")
                case.link("USES", victim, vacc)
                case.contact(account, vacc, count=3)
                if rng.random() < 0.05 and n_cells > 1:  # a victim two cells went after
                    other = rng.choice([o for o in range(n_cells) if o != c])
                    case.contact(rng.choice(accounts_of[other]), vacc)
                if rng.random() < 0.5:
                    pay = case.payment("wu", f"v{victims}", float(rng.choice([500, 1000, 2500])),
                                       rng.choice(["USD", "GBP", "PHP"]),
                                       time=datetime(2014, 3, 1, 10))
                    case.link("PAID", victim, pay)
                    case.link("PAID_TO", pay, cards_of[c][rng.randint(0, 1)])
    persons = [p for p in truth if p.startswith("Person:")]
    for person in persons:
        if rng.random() < noise and n_cells > 1:
            other = rng.choice([o for o in range(n_cells) if o != truth[person]])
            case.link("USES", person, rng.choice(devices_of[other]))
    return Planted(case, truth)
