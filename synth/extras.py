"""Evidence beyond the planted cells: addresses, links between suspects, victims' phones and
the phone books of seized phones.

Drawn from a stream of its own (seeded from the case seed), so that adding it left every
cell, agent, identifier and row of the world's stream as it was.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import phonenumbers

from ringmap.synth.world import _PH_MOBILE, RAID_REGIONS, Agent, Cell, Office, Victim

__all__ = ["ContactEntry", "Extras", "PersonLink"]

_STREETS = ("Mabini St.", "Rizal Ave.", "Bonifacio St.", "Luna St.", "Quezon Blvd.",
            "Del Pilar St.", "Burgos St.", "Aguinaldo Hwy.", "Magsaysay Ave.", "Osmeña St.")
_BARANGAYS = ("San Isidro", "San Roque", "Poblacion", "Santo Niño", "Bagong Silang",
              "San Jose", "Malanday", "Sta. Cruz", "San Antonio", "Bagumbayan")
_TOWNS = tuple(town for _, _, towns in RAID_REGIONS for town, _, _ in towns)
#: Links an identification may record, as written, with their weights.
_LINKS = ("recruited by", "associate", "brother", "cousin", "sister")
_LINK_WEIGHTS = (0.4, 0.35, 0.1, 0.1, 0.05)
_LINK_BASES = ("interview", "informant", "chat log", "phone book")
_FAMILY_NAMES = ("Mama", "Papa", "Nanay", "Tatay", "Kuya", "Ate", "Lola", "Tito Boy",
                 "Tita Baby", "Bunso")


@dataclass(frozen=True, slots=True)
class PersonLink:
    """What an identification says about a suspect and another one."""

    other: Agent
    link: str
    basis: str


@dataclass(frozen=True, slots=True)
class ContactEntry:
    """One contact-book entry: its name as stored, its numbers (E.164) and e-mail."""

    name: str
    numbers: tuple[str, ...]
    email: str


class Extras:
    """Draws the extra evidence of a case, each item once, from its own stream."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"ringmap-synth-extras:{seed}")
        self._site: dict[int, str] = {}
        self._staff_house: dict[int, str] = {}
        self._home: dict[int, str] = {}
        self._links: dict[int, PersonLink | None] = {}
        self._phones: dict[str, str] = {}

    def _street_address(self, town: str) -> str:
        rng = self.rng
        return (f"Blk {rng.randint(1, 40)} Lot {rng.randint(1, 30)}, {rng.choice(_STREETS)}, "
                f"Brgy. {rng.choice(_BARANGAYS)}, {town}")

    def site_address(self, office: Office) -> str:
        """The raid site's street address."""
        found = self._site.get(office.index)
        if found is None:
            rng = self.rng
            found = self._site[office.index] = (
                f"{rng.randint(2, 480)} {rng.choice(_STREETS)}, Brgy. {rng.choice(_BARANGAYS)}, "
                f"{office.city}")
        return found

    def home_address(self, cell: Cell, agent: Agent) -> str:
        """A suspect's home: often the cell's staff house, else a house of their own."""
        found = self._home.get(agent.index)
        if found is None:
            if self.rng.random() < 0.4:
                found = self._staff_house.get(cell.index)
                if found is None:
                    found = self._staff_house[cell.index] = self._street_address(
                        cell.office.city)
            else:
                found = self._street_address(self.rng.choice(_TOWNS))
            self._home[agent.index] = found
        return found

    def person_link(self, cell: Cell, agent: Agent) -> PersonLink | None:
        """Whom an identified suspect is linked to in their cell (recruiter, family,
        associate), if anyone: always another identified suspect of the cell."""
        if agent.index in self._links:
            return self._links[agent.index]
        others = [a for a in cell.agents if a.identified and a is not agent]
        link = None
        if others and self.rng.random() < 0.35:
            link = PersonLink(self.rng.choice(others), self.rng.choices(_LINKS, _LINK_WEIGHTS)[0],
                              self.rng.choice(_LINK_BASES))
        self._links[agent.index] = link
        return link

    def victim_phone(self, victim: Victim) -> str:
        """The victim's mobile number (E.164, valid in their country), or ``""`` for none."""
        found = self._phones.get(victim.victim_id)
        if found is None:
            found = self._phones[victim.victim_id] = (
                self._mobile(victim.country) if self.rng.random() < 0.7 else "")
        return found

    def _mobile(self, region: str) -> str:
        example = phonenumbers.example_number_for_type(
            region, phonenumbers.PhoneNumberType.MOBILE)
        assert example is not None
        national = str(example.national_number)
        for _ in range(50):  # a few random endings are not valid numbers in every plan
            candidate = national[:-4] + f"{self.rng.randrange(10_000):04d}"
            number = phonenumbers.parse(f"+{example.country_code}{candidate}")
            if phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return f"+{example.country_code}{national}"

    def contact_book(self, cell: Cell, holder: Agent | None) -> list[ContactEntry]:
        """The contact-book entries of a phone of ``cell``: cell-mates by alias on the cell's
        SIMs, mules on their wallets' numbers, family on numbers of their own, an e-mail."""
        rng = self.rng
        entries = []
        mates = [a for a in cell.agents if a is not holder]
        for mate in rng.sample(mates, min(len(mates), rng.randint(2, 5))):
            name = rng.choice((f"{mate.alias} {mate.given}", mate.given, f"Boss {mate.alias}",
                               f"{mate.given} {mate.surname[0]}. (office)"))
            sims = rng.sample(cell.sims, min(len(cell.sims), 2 if rng.random() < 0.25 else 1))
            email = rng.choice(cell.emails) if rng.random() < 0.15 else ""
            entries.append(ContactEntry(name, tuple(s.msisdn for s in sims), email))
        for mule in cell.mules:
            if mule.wallets and rng.random() < 0.5:
                wallet = rng.choice(mule.wallets)
                entries.append(ContactEntry(f"{mule.name.split()[0]} {wallet.provider}",
                                            ("+63" + wallet.number[1:],), ""))
        for _ in range(rng.randint(1, 3)):
            prefix = rng.choice(_PH_MOBILE)[0]
            entries.append(ContactEntry(rng.choice(_FAMILY_NAMES),
                                        (f"+63{prefix}{rng.randrange(10**7):07d}",), ""))
        return entries
