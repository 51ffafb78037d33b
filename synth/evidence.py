"""Evidence rows of synthetic cells, streamed into the case's tables with noise applied.

A :class:`CaseWriter` turns each :class:`~ringmap.synth.world.Cell` into rows of the
tables of :data:`~ringmap.synth.tables.TABLES` as soon as the cell is drawn, so a
case of any size is written in constant memory; with ``raw`` the tables take the raw shapes
of :mod:`~ringmap.synth.raw`. It remembers which agents and agent-run
accounts made it into evidence (a row that was written and is not deliberately bad), since
only those become nodes and belong in the ground truth.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ringmap.synth.extras import Extras
from ringmap.synth.raw import raw_tables, reshaper
from ringmap.synth.tables import (
    TABLES,
    Noise,
    handle_spellings,
    open_table,
    phone_spellings,
)
from ringmap.synth.world import (
    CONTACT_PLATFORMS,
    VICTIM_COUNTRIES,
    Account,
    Agent,
    Card,
    Cell,
    Device,
    Mule,
    Victim,
    Wallet,
    World,
)

__all__ = ["CaseWriter", "TableCount"]

# strftime formats, one per table, matching the formats in the mappings
_EXHIBIT_TIME = "%Y-%m-%d %H:%M"
_ARREST_TIME = "%d-%b-%Y %H:%M"
_EXTRACTED_TIME = "%Y-%m-%dT%H:%M:%S"
_ISO_DATE = "%Y-%m-%d"
_CREATED_DATE = "%m/%d/%Y"
_LOGIN_TIME = "%m/%d/%Y %H:%M:%S"
_REMITTANCE_TIME = "%d/%m/%Y %H:%M"
_CHAT_TIME = "%Y/%m/%d %H:%M"

# house styles of phone numbers per table (see Noise.phone)
_E164, _SPACED, _DASHED = 0, 1, 2

_DAY = 86400
_HOUR = 3600
_ID_TYPES = (("UMID", "CRN-", 12), ("Driver License", "N01-", 8), ("Postal ID", "PRN", 12),
             ("Voter ID", "VIN-", 16))
_REMARKS = ("", "", "on desk", "in drawer", "in bag", "on charging rack", "in locker")
_BASES = ("subscriber return", "interview", "seized device", "ID match")
_CURRENCIES = {"GB": ("GBP", 0.6), "AU": ("AUD", 1.07), "SG": ("SGD", 1.25),
               "HK": ("HKD", 7.75)}
_AGENCIES = {code: agency for code, _, _, agency in VICTIM_COUNTRIES}
_PAYMENT_REFS = {"Western Union": ("", 10), "MoneyGram": ("", 8), "GCash": ("GC", 13),
                 "PayMaya": ("PM", 12), "Cebuana Lhuillier": ("CL", 10),
                 "Palawan Express": ("PX", 11)}


def _at(seconds: int, fmt: str) -> str:
    return time.strftime(fmt, time.gmtime(seconds))


@lru_cache(maxsize=1024)
def _login_day(day: int) -> str:
    return _at(day * _DAY, "%m/%d/%Y")


def _login_time(seconds: int) -> str:
    """``seconds`` in the platform records' format, ``_LOGIN_TIME``, without strftime."""
    day, rest = divmod(seconds, _DAY)
    hours, rest = divmod(rest, _HOUR)
    minutes, secs = divmod(rest, 60)
    return f"{_login_day(day)} {hours:02d}:{minutes:02d}:{secs:02d}"


@dataclass
class TableCount:
    """Rows written to one table, and how many of them are deliberately bad or repeated."""

    rows: int = 0
    bad: int = 0
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class _Instrument:
    """A card or wallet of a mule that victims pay into."""

    mule: Mule
    card: Card | None
    wallet: Wallet | None


class CaseWriter:
    """Writes the evidence of one cell after another into the tables of a case folder.

    Parameters
    ----------
    folder
        Where the table files are created.
    world
        The world the cells come from; its random stream also drives the noise.
    noise
        Noise level in [0, 1].
    victims_per_cell
        Mean number of new victims each cell contacts.
    raw
        Write the tables in the raw real-world shapes of :mod:`~ringmap.synth.raw`.
    """

    def __init__(self, folder: Path, world: World, noise: float, victims_per_cell: int,
                 raw: bool = False) -> None:
        self.world = world
        self.rng = world.rng
        self.noise = Noise(world.rng, noise)
        self.extras = Extras(world.seed)
        self.victims_per_cell = victims_per_cell
        self.specs = raw_tables() if raw else TABLES
        shapes = random.Random(f"ringmap-synth-raw:{world.seed}")
        self._tables = {spec.name: reshaper(spec, open_table(folder, spec), shapes) if raw
                        else open_table(folder, spec) for spec in self.specs}
        self.counts = {spec.name: TableCount() for spec in self.specs}
        self.seen_agents: set[int] = set()
        self.seen_accounts: set[int] = set()
        self.victims = 0
        self.payments = 0
        self._exhibits: dict[int, int] = {}
        self._arrests = 0
        #: the ID card seized from each arrested agent, and the accounts the police named as
        #: each agent's (what a second record of him can be tied by: synth.spelling)
        self.id_docs: dict[int, tuple[str, str]] = {}
        self.named: dict[int, list[Account]] = {}
        #: account index -> the moment its agent left his cell (synth.moves): silent after it
        self.until: dict[int, int] = {}

    @property
    def total_rows(self) -> int:
        """Rows written so far, over all tables."""
        return sum(c.rows for c in self.counts.values())

    def close(self) -> None:
        """Finish every table file."""
        for name, table in self._tables.items():
            self.counts[name].rows += table.close()

    def _put_all(self, table: str, records: Iterable[tuple[Any, bool]],
                 rng: random.Random | None = None) -> int:
        """Write each ``(record, bad)`` unless it goes unobserved (a good one is sometimes
        written twice), drawing from ``rng`` (default the world's); how many good records
        were written."""
        rng = rng or self.rng
        p_drop, p_duplicate = self.noise.p_drop, self.noise.p_duplicate
        count = self.counts[table]
        out: list[Any] = []
        good = 0
        for record, bad in records:
            if p_drop > 0 and rng.random() < p_drop:
                continue
            out.append(record)
            if bad:
                count.bad += 1
                continue
            good += 1
            if p_duplicate > 0 and rng.random() < p_duplicate:
                out.append(record)
                count.duplicates += 1
        count.rows += self._tables[table].write_many(out)
        return good

    def _put(self, table: str, record: Any, bad: bool = False) -> bool:
        """Write one record unless it goes unobserved; whether it is now good evidence."""
        return self._put_all(table, ((record, bad),)) > 0

    def _spoil(self, phone: str, msisdn: str, device_id: str) -> tuple[str, str, bool]:
        """One bad value for a row that is to be bad: an impossible number or a wrong IMEI
        check digit; the phone as written, the device id and whether the row is bad."""
        if msisdn and (not device_id.isdigit() or self.rng.random() < 0.5):
            return self.noise.bad_phone(msisdn), device_id, True
        if device_id.isdigit():
            return phone, self.noise.bad_imei(device_id), True
        return phone, device_id, False

    def _seen(self, agent: Agent | None = None, account: Account | None = None) -> None:
        if agent is not None:
            self.seen_agents.add(agent.index)
        if account is not None:
            self.seen_accounts.add(account.index)

    def write_cell(self, cell: Cell) -> None:
        """Write all evidence of ``cell``."""
        moved = [(account, self.rng.choice(cell.devices)) for account in cell.movers]
        on_device: dict[str, list[Account]] = {}
        for account in cell.accounts:
            for device in account.devices:
                on_device.setdefault(device.device_id, []).append(account)
        for account, device in moved:
            on_device.setdefault(device.device_id, []).append(account)
        seized = self._raid(cell)
        self._extractions(cell, seized, on_device)
        self._identifications(cell)
        for account in cell.accounts:
            self._logins(cell, account, account.devices, account.logins, account.created)
        for account, device in moved:  # the last weeks before the raids, in the new cell
            self._logins(cell, account, [device], self.rng.randint(2, 5),
                         max(account.created, cell.office.raid_time - 45 * _DAY))
        self._victims(cell)

    # raids -------------------------------------------------------------------------------

    def _raid(self, cell: Cell) -> list[tuple[str, Device, Agent | None]]:
        """Arrests and exhibits at the cell's office; the seized phones with their holders."""
        rng = self.rng
        office = cell.office
        present = [a for a in cell.agents if a.arrested]
        for agent in present:
            self._arrests += 1
            row = (self._arrests, agent.agent_id, f"{agent.surname.upper()}, {agent.given}",
                   agent.alias, agent.gender, agent.birth_year, "Philippines",
                   self.extras.home_address(cell, agent), office.location_id,
                   _at(office.raid_time + rng.randrange(3 * _HOUR), _ARREST_TIME))
            if self._put("arrests", row):
                self._seen(agent)
        seized: list[tuple[str, Device, Agent | None]] = []
        for device in cell.devices:
            if rng.random() < 0.85:
                holder = self._holder(present)
                number = self._exhibit(cell, holder, device.kind, device=device)
                if device.kind == "mobile phone":
                    seized.append((number, device, holder))
        for sim in cell.sims:
            if rng.random() < 0.4:
                self._exhibit(cell, self._holder(present), "SIM card", sim_iccid=sim.iccid,
                              msisdn=sim.msisdn)
        for agent in present:
            id_type, prefix, digits = rng.choice(_ID_TYPES)
            document = (id_type, self.world.reference(prefix, digits))
            logged = self.counts["exhibits"].rows
            self._exhibit(cell, agent, "ID card", id_doc=document)
            if self.counts["exhibits"].rows > logged:  # the row was not lost
                self.id_docs[agent.index] = document
        for mule in cell.mules:
            for card in mule.cards:
                if present and rng.random() < 0.4:
                    self._exhibit(cell, rng.choice(present), card.kind, card=card.pan)
        return seized

    def _holder(self, present: list[Agent]) -> Agent | None:
        """Who an item was seized from: a present agent, or nobody (found at a desk)."""
        if present and self.rng.random() < 0.8:
            return self.rng.choice(present)
        return None

    def _exhibit(
        self,
        cell: Cell,
        holder: Agent | None,
        item: str,
        *,
        device: Device | None = None,
        sim_iccid: str = "",
        msisdn: str = "",
        card: str = "",
        id_doc: tuple[str, str] = ("", ""),
    ) -> str:
        """Write one exhibit-log row; its exhibit number."""
        office = cell.office
        n = self._exhibits.get(office.index, 0) + 1
        self._exhibits[office.index] = n
        number = f"EX-{office.index + 1:03d}-{n:04d}"
        device_id = device.device_id if device is not None else ""
        phone = self.noise.phone(msisdn, _DASHED) if msisdn else ""
        bad = self.noise.bad()
        if bad:
            phone, device_id, bad = self._spoil(phone, msisdn, device_id)
        row = (number, _at(office.raid_time + 60 * n, _EXHIBIT_TIME), office.location_id,
               office.name, self.extras.site_address(office), office.region, office.city,
               office.lat, office.lon,
               holder.agent_id if holder else "", item,
               device.make if device else "", device.model if device else "", device_id,
               sim_iccid, phone, self.noise.separators(card) if card else "", id_doc[0],
               id_doc[1], self.rng.choice(_REMARKS))
        if self._put("exhibits", row, bad):
            self._seen(holder)
        return number

    def _extractions(
        self,
        cell: Cell,
        seized: list[tuple[str, Device, Agent | None]],
        on_device: dict[str, list[Account]],
    ) -> None:
        """One JSON object per SIM and app account found on each extracted phone."""
        noise = self.noise
        for number, device, holder in seized:
            if self.rng.random() >= 0.9:
                continue
            self._contacts(cell, number, device, holder)
            accounts = on_device.get(device.device_id, [])
            sims = device.sims
            extracted = _at(cell.office.raid_time + _DAY * self.rng.randint(7, 40),
                            _EXTRACTED_TIME)
            for i in range(max(len(accounts), len(sims), 1)):
                bad = noise.bad()
                record: dict[str, Any] = {"report": f"FX-{number}", "exhibit": number,
                                          "tool": "UFED 4PC", "extracted": extracted}
                if holder is not None:
                    record["seized_from"] = {"suspect_id": holder.agent_id}
                record["device"] = {
                    "imei": noise.bad_imei(device.device_id) if bad else device.device_id,
                    "make": device.make, "model": device.model}
                if sims:
                    sim = sims[i % len(sims)]
                    record["sim"] = {"iccid": sim.iccid, "imsi": sim.imsi,
                                     "msisdn": noise.phone(sim.msisdn, _E164)}
                account = accounts[i] if i < len(accounts) else None
                if account is not None:
                    record["account"] = {"app": account.platform,
                                         "user": noise.handle(account.platform, account.handle),
                                         "display_name": account.display_name,
                                         "email": account.email}
                if self._put("extractions", record, bad):
                    self._seen(holder, account)

    def _contacts(self, cell: Cell, exhibit: str, device: Device, holder: Agent | None) -> None:
        """The phone book of an extracted phone: one row per number of each entry."""
        rng = self.extras.rng  # not the world's: the phone books left the world as it was
        rows = [((exhibit, device.device_id, entry.name,
                  rng.choice(phone_spellings(number)[1:]), entry.email), False)
                for entry in self.extras.contact_book(cell, holder)
                for number in entry.numbers]
        self._put_all("contacts", rows, rng)

    # police and platforms ----------------------------------------------------------------

    def _identifications(self, cell: Cell) -> None:
        """Police attribution of identified agents to (some of) their accounts."""
        rng = self.rng
        for agent in cell.agents:
            if not agent.identified:
                continue
            named: list[Account | None] = [a for a in agent.accounts if rng.random() < 0.75]
            link = self.extras.person_link(cell, agent)
            linked = (link.other.agent_id, link.link, link.basis) if link else ("", "", "")
            for account in named or [None]:
                row = (agent.agent_id, f"{agent.surname}, {agent.given}", agent.alias,
                       agent.gender, agent.birth_year, cell.office.location_id,
                       account.platform if account else "",
                       self.noise.handle(account.platform, account.handle) if account else "",
                       rng.choice(_BASES),
                       _at(cell.office.raid_time + _DAY * rng.randint(1, 60), _ISO_DATE),
                       *linked)
                if self._put("identifications", row):
                    self._seen(agent, account)
                    if account is not None:
                        self.named.setdefault(agent.index, []).append(account)
                    if link is not None:
                        self._seen(link.other)

    def _logins(self, cell: Cell, account: Account, devices: list[Device], count: int,
                start: int) -> None:
        """Subscriber and login rows of ``account`` while it worked in ``cell``."""
        if self._put_all("platform_records",
                         self._login_rows(cell, account, devices, count, start)):
            self._seen(account=account)

    def _login_rows(self, cell: Cell, account: Account, devices: list[Device], count: int,
                    start: int) -> Iterator[tuple[tuple[Any, ...], bool]]:
        # the hot loop of big cases: random() rather than choice(), spellings drawn once
        rng = self.rng
        noise = self.noise
        p_bad = noise.p_bad
        end = cell.office.raid_time - _HOUR
        end = min(end, self.until.get(account.index, end))
        span = end - start
        times = sorted(start + int(rng.random() * span) for _ in range(count))
        created = _at(account.created, _CREATED_DATE)
        wifi = cell.office.wifi_ips
        cgnat = self.world.cgnat_ips
        msisdn = account.phone.msisdn if account.phone else ""
        phones = phone_spellings(msisdn) if msisdn else ("",)
        handles = handle_spellings(account.platform, account.handle)
        email = account.email or ""
        for i, moment in enumerate(times):
            draw = rng.random()
            if draw < 0.45:
                ip = wifi[int(rng.random() * len(wifi))]
            elif draw < 0.85:
                ip = cgnat[int(rng.random() * len(cgnat))]
            else:
                ip = account.owner.home_ip
            device_id = (devices[int(rng.random() * len(devices))].device_id
                         if rng.random() < 0.7 else "")
            phone = noise.pick(phones)
            bad = False
            if p_bad > 0 and rng.random() < p_bad:
                phone, device_id, bad = self._spoil(phone, msisdn, device_id)
            yield ((noise.pick(handles), account.platform, account.display_name, phone, email,
                    created, _login_time(moment + i), ip, 1024 + int(rng.random() * 64512),
                    device_id), bad)

    # victims -----------------------------------------------------------------------------

    def _victims(self, cell: Cell) -> None:
        """Victims the cell contacts, what they paid and what they reported."""
        rng = self.rng
        contact = [a for a in cell.accounts if a.platform in CONTACT_PLATFORMS]
        if not contact:
            return
        earlier = self.world.recent_victims
        instruments = [_Instrument(m, c, None) for m in cell.mules for c in m.cards]
        instruments += [_Instrument(m, None, w) for m in cell.mules for w in m.wallets]
        on_platform: dict[str, list[Account]] = {}
        for account in contact:
            on_platform.setdefault(account.platform, []).append(account)
        for _ in range(max(1, round(self.victims_per_cell * rng.uniform(0.6, 1.4)))):
            account = rng.choice(contact)
            if earlier and rng.random() < 0.04:  # a victim an earlier cell also contacted
                victim = rng.choice(earlier)
                if victim.platform in on_platform:
                    self._chat(rng.choice(on_platform[victim.platform]), victim)
                continue
            victim = self.world.new_victim(account.platform)
            self.victims += 1
            first = self._chat(account, victim)
            other = rng.choice(on_platform[account.platform])
            if other is not account and rng.random() < 0.2:  # a second agent joins in
                self._chat(other, victim)
            demand = round(math.exp(rng.uniform(math.log(500), math.log(15000))) / 50) * 50
            if rng.random() < 0.55:
                self._payments(cell, victim, first, demand, instruments)
            if rng.random() < 0.35:
                self._report(victim, account, first, demand)

    def _chat(self, account: Account, victim: Victim) -> int:
        """Chat log rows between an agent account and a victim; the first contact time."""
        rng = self.rng
        noise = self.noise
        # contacts end by 2014-03-30, or when the agent left the cell
        first = rng.randrange(account.created, min(1396137600,
                                                   self.until.get(account.index, 1396137600)))
        last = first + rng.randrange(_HOUR, 20 * _DAY)
        agent_handle = noise.handle(account.platform, account.handle)
        victim_handle = noise.handle(victim.platform, victim.handle)
        row = (account.platform, agent_handle, victim_handle, _at(first, _CHAT_TIME),
               _at(last, _CHAT_TIME), rng.randint(5, 300),
               rng.choice(("chat", "chat", "video call")))
        if self._put("chats", row):
            self._seen(account=account)
        if rng.random() < 0.3:  # the victim's replies, logged the other way round
            reply = (account.platform, victim_handle, agent_handle,
                     _at(first + rng.randrange(60, _HOUR), _CHAT_TIME), _at(last, _CHAT_TIME),
                     rng.randint(2, 150), "chat")
            if self._put("chats", reply):
                self._seen(account=account)
        return first

    def _payments(self, cell: Cell, victim: Victim, first: int, demand: int,
                  instruments: list[_Instrument]) -> None:
        """Remittance ledger rows: the victim pays the demand in one to three transfers."""
        rng = self.rng
        noise = self.noise
        parts = rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0]
        currency, rate = _CURRENCIES.get(victim.country, ("USD", 1.0))
        moment = first + rng.randrange(_DAY, 10 * _DAY)
        for _ in range(parts):
            target = rng.choice(instruments)
            if target.card is not None:
                service = rng.choice(("Western Union", "MoneyGram"))
            else:
                assert target.wallet is not None
                service = rng.choice(("Western Union", target.wallet.provider,
                                      "Cebuana Lhuillier", "Palawan Express"))
            prefix, digits = _PAYMENT_REFS[service]
            row = (self.world.reference(prefix, digits), service,
                   _at(moment, _REMITTANCE_TIME), victim.victim_id, victim.name,
                   victim.country_name, f"{demand / parts * rate:.2f}", currency,
                   target.mule.mule_id, target.mule.name,
                   noise.separators(target.card.pan) if target.card else "",
                   target.wallet.provider if target.wallet else "",
                   noise.separators(target.wallet.number) if target.wallet else "",
                   cell.office.city)
            self._put("remittances", row)
            self.payments += 1
            moment += rng.randrange(_DAY, 7 * _DAY)

    def _report(self, victim: Victim, account: Account, first: int, demand: int) -> None:
        """A CyberTipline, platform or police report naming the agent account and victim."""
        rng = self.rng
        draw = rng.random()
        if victim.country == "US" or draw < 0.35:
            source, kind, agency = "NCMEC CyberTipline", "CyberTipline report", "NCMEC"
            reference = self.world.reference("", 8)
        elif draw < 0.6 and victim.platform in ("Facebook", "Instagram"):
            source, kind = victim.platform, "platform report"
            agency = f"{victim.platform} Law Enforcement Response"
            reference = self.world.reference("LE-", 9)
        else:
            source, kind, agency = "Police", "police report", _AGENCIES[victim.country]
            reference = self.world.reference(f"{victim.country}-2014-", 5)
        summary = (f"Victim ({victim.age}) was recorded on a video call with a person posing "
                   f"as '{account.display_name}' and told to pay USD {demand:,} or the "
                   "recording would be sent to family and friends.")
        row = (reference, source, kind, _at(first + _DAY * rng.randint(2, 40), _ISO_DATE),
               agency, victim.victim_id, victim.name, victim.age, victim.gender,
               victim.country_name, self.extras.victim_phone(victim), victim.platform,
               self.noise.handle(victim.platform, victim.handle), account.platform,
               self.noise.handle(account.platform, account.handle), summary)
        if self._put("reports", row):
            self._seen(account=account)
