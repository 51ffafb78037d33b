"""Evidence as analysts receive it: the raw real-world shapes of ``ringmap synth --raw``.

The same rows as a clean case (the world and its noise are drawn from the same stream), then
reshaped the way police and platforms export them, each table with a mapping of mapping
language v2 that reads it as it is (``docs/mappings.md``):

- exhibits: one ``Identifier`` column holding an IMEI, a serial, an ICCID, a card or an ID
  number depending on ``Item``; ``Seized From`` says ``office desk``, ``N/A``, ``-`` or
  ``unknown`` when nobody held the item;
- remittances: amount and currency in one cell (``GBP 250.00``); one ``Payout To`` column
  holding a card, a masked card (``************0838``) or an e-wallet
  (``GCASH-09171234567``);
- reports: the victim's phone in the national format of the ``victim_country``, a victim
  platform without its handle (a blank partial key), the reported account with its platform
  prefix (``snapchat:jack.t``), ``unknown`` and ``-`` for unknown ages and genders;
- identifications: one row per suspect, the accounts in one cell (``facebook:a; skype:b``);
- contacts: a contact-book entry's numbers in one cell (``0917 123 4567; 0918 765 4321``);
- arrests and platform records: placeholders where a value is missing.

Reshaping draws only from its own random stream, so a raw case and the clean case of the same
parameters describe the same world: the clean tables are the raw ones pre-processed by hand.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import phonenumbers

from ringmap.synth.tables import TABLES, Table, TableSpec

__all__ = ["RawTable", "raw_tables", "reshaper"]

_PLACEHOLDERS = ("N/A", "-", "unknown")
_NULLS = '["N/A", "-", "unknown"]'

_EXHIBITS = """\
# Raid exhibit log as exported: one Identifier column read by the Item column.
name: exhibits
source:
  format: csv
  default_region: PH
  grading: $grading
  reference: {column: "Exhibit No."}
null_values: $nulls
columns:
  "Seized From": {null_values: ["office desk"]}
entities:
  exhibit:
    type: Exhibit
    properties:
      reference: {column: "Exhibit No."}
      kind: {column: "Item"}
      description: {column: "Remarks"}
      seized: {column: "Date/Time Seized", format: "%Y-%m-%d %H:%M"}
  site:
    type: Location
    properties:
      location_id: {column: "Raid Site Code"}
      name: {column: "Raid Site"}
      kind: {literal: raid site}
      region: {column: "Region"}
      city: {column: "City/Municipality"}
      lat: {column: "Latitude"}
      lon: {column: "Longitude"}
  site_address:
    type: Address
    optional: true
    properties:
      address: {column: "Site Address"}
      city: {column: "City/Municipality"}
      region: {column: "Region"}
      country: {literal: PH}
  country:
    type: Country
    properties:
      code: {literal: PH}
  holder:
    type: Person
    optional: true
    properties:
      person_id: {column: "Seized From"}
      role: {literal: suspect}
  device:
    type: Device
    optional: true
    when: {column: "Item", in: [mobile phone, laptop]}
    properties:
      device_id: {column: "Identifier"}
      kind: {column: "Item"}
      make: {column: "Make"}
      model: {column: "Model"}
  sim:
    type: SimCard
    optional: true
    when: {column: "Item", equals: SIM card}
    properties:
      iccid: {column: "Identifier"}
  phone:
    type: Phone
    optional: true
    properties:
      number: {column: "MSISDN"}
  card:
    type: PaymentCard
    optional: true
    when: {column: "Item", matches: "(?i)^(atm|credit|debit) card$$"}
    properties:
      number: {column: "Identifier"}
      card_type: {column: "Item"}
  id_document:
    type: IdDocument
    optional: true
    when: {column: "Item", equals: ID card}
    properties:
      doc_type: {column: "ID Type"}
      number: {column: "Identifier"}
      issuer: {literal: PH}
relationships:
  - {type: SEIZED_AT, source: exhibit, target: site}
  - {type: SEIZED_FROM, source: exhibit, target: holder}
  - {type: EXHIBIT_OF, source: exhibit, target: device}
  - {type: EXHIBIT_OF, source: exhibit, target: sim}
  - {type: EXHIBIT_OF, source: exhibit, target: card}
  - {type: EXHIBIT_OF, source: exhibit, target: id_document}
  - {type: HAS_NUMBER, source: sim, target: phone}
  - {type: LOCATED_IN, source: site, target: country}
  - type: HAS_ADDRESS
    source: site
    target: site_address
    properties: {kind: {literal: raid site}}
  - {type: LOCATED_IN, source: site_address, target: country}
  - {type: WORKS_AT, source: holder, target: site}
  - {type: USES, source: holder, target: device}
  - {type: HOLDS, source: holder, target: card}
  - {type: HOLDS, source: holder, target: id_document}
"""

_ARRESTS = """\
# Arrest roster (XLSX): two title rows, the header on row 3; placeholders for no address.
name: arrests
source:
  format: xlsx
  sheet: Arrest Roster
  header_row: 3
  grading: $grading
null_values: $nulls
columns:
  "Home Address": {null_values: ["no fixed address"]}
entities:
  suspect:
    type: Person
    properties:
      person_id: {column: "Suspect ID"}
      role: {literal: suspect}
      name: {column: "Name (Surname, Given)"}
      alias: {column: "Alias"}
      gender: {column: "Sex"}
      birth_year: {column: "Year of Birth"}
      nationality: {column: "Nationality"}
  home:
    type: Address
    optional: true
    properties:
      address: {column: "Home Address"}
  site:
    type: Location
    properties:
      location_id: {column: "Raid Site Code"}
relationships:
  - type: HAS_ADDRESS
    source: suspect
    target: home
    properties: {kind: {literal: home}}
  - type: ARRESTED_AT
    source: suspect
    target: site
    properties:
      time: {column: "Date/Time of Arrest", format: "%d-%b-%Y %H:%M"}
  - {type: WORKS_AT, source: suspect, target: site}
"""

_IDENTIFICATIONS = """\
# Police identifications: one row per suspect, the accounts in one cell with their platform.
name: identifications
source:
  format: csv
  grading: $grading
entities:
  suspect:
    type: Person
    properties:
      person_id: {column: suspect_ref}
      role: {literal: suspect}
      name: {column: full_name}
      alias: {column: alias}
      gender: {column: sex}
      birth_year: {column: yob}
  office:
    type: Location
    properties:
      location_id: {column: office_code}
  accounts:
    type: auto
    optional: true
    kinds: [handle]
    value: {column: accounts, split: ";"}
$linked
relationships:
  - {type: USES, source: suspect, target: accounts}
  - {type: WORKS_AT, source: suspect, target: office}
$links
"""

_PLATFORM = """\
# Platform subscriber and login records: one row per login; N/A or - where nothing is held.
name: platform_records
source:
  format: csv
  default_region: PH
  grading: $grading
null_values: $nulls
entities:
  account:
    type: Account
    properties:
      platform: {column: "Service"}
      handle: {column: "Target"}
      display_name: {column: "Subscriber Name"}
      created: {column: "Account Created", format: "%m/%d/%Y"}
  phone:
    type: Phone
    optional: true
    properties:
      number: {column: "Registered Mobile"}
  email:
    type: Email
    optional: true
    properties:
      address: {column: "Registered Email"}
  ip:
    type: IPAddress
    optional: true
    properties:
      address: {column: "IP Address"}
  device:
    type: Device
    optional: true
    properties:
      device_id: {column: "Device ID"}
relationships:
  - {type: REGISTERED_TO, source: account, target: phone}
  - {type: REGISTERED_TO, source: account, target: email}
  - type: LOGGED_IN_FROM
    source: account
    target: ip
    properties:
      first_seen: {column: "Login Time (UTC)", format: "%m/%d/%Y %H:%M:%S"}
      last_seen: {column: "Login Time (UTC)", format: "%m/%d/%Y %H:%M:%S"}
  - type: LOGGED_IN_ON
    source: account
    target: device
    properties:
      first_seen: {column: "Login Time (UTC)", format: "%m/%d/%Y %H:%M:%S"}
      last_seen: {column: "Login Time (UTC)", format: "%m/%d/%Y %H:%M:%S"}
"""

_REMITTANCES = """\
# Remittance ledger as exported: amount and currency in one cell; the payout a card, a
# masked card or an e-wallet, in one column.
name: remittances
source:
  format: csv
  delimiter: ";"
  default_region: PH
  grading: $grading
  reference: {column: "Ref No"}
entities:
  victim:
    type: Person
    properties:
      person_id: {column: "Sender Ref"}
      role: {literal: victim}
      name: {column: "Sender Name"}
  country:
    type: Country
    properties:
      code: {column: "Sender Country"}
  payment:
    type: Payment
    properties:
      channel: {column: "Service"}
      reference: {column: "Ref No"}
      amount: {column: "Amount Sent", extract: '([\\d.,]+)\\s*$$'}
      currency: {column: "Amount Sent", extract: '^([A-Za-z]{3})\\b'}
      time: {column: "Date Sent", format: "%d/%m/%Y %H:%M"}
  mule:
    type: Person
    optional: true
    properties:
      person_id: {column: "Receiver Ref"}
      role: {literal: mule}
      name: {column: "Receiver Name"}
  payout:
    type: auto
    optional: true
    kinds: [card, masked_card, wallet]
    value: {column: "Payout To"}
relationships:
  - {type: PAID, source: victim, target: payment}
  - {type: PAID_TO, source: payment, target: payout}
  - {type: HOLDS, source: mule, target: payout}
  - {type: LOCATED_IN, source: victim, target: country}
  - {type: SENT_FROM, source: payment, target: country}
"""

_REPORTS = """\
# Victim reports as received: the victim's phone in national format, read in the victim's
# country; the reported account with its platform prefix.
name: reports
source:
  format: csv
  grading: $grading
  reference: {column: report_id}
null_values: $nulls
entities:
  report:
    type: Report
    properties:
      source: {column: source}
      reference: {column: report_id}
      kind: {column: report_type}
      received: {column: received, format: "%Y-%m-%d"}
      agency: {column: agency}
      summary: {column: summary}
  country:
    type: Country
    properties:
      code: {column: victim_country}
  victim:
    type: Person
    properties:
      person_id: {column: victim_ref}
      role: {literal: victim}
      name: {column: victim_name}
      age: {column: victim_age}
      gender: {column: victim_gender}
  victim_phone:
    type: Phone
    optional: true
    properties:
      number: {column: victim_phone, region: {column: victim_country}}
  victim_account:
    type: Account
    optional: true
    properties:
      platform: {column: victim_platform}
      handle: {column: victim_handle}
  reported_account:
    type: auto
    kinds: [handle]
    value: {column: reported_account}
relationships:
  - type: NAMES
    source: report
    target: reported_account
    properties: {role: {literal: suspect}}
  - type: NAMES
    source: report
    target: victim
    properties: {role: {literal: victim}}
  - {type: LOCATED_IN, source: report, target: country}
  - {type: LOCATED_IN, source: victim, target: country}
  - {type: USES, source: victim, target: victim_account}
  - {type: USES, source: victim, target: victim_phone}
"""

_CONTACTS = """\
# Phone books of extracted phones: one row per contact-book entry, its numbers in one cell.
name: contacts
source:
  format: csv
  default_region: PH
  grading: $grading
  reference: {column: "Exhibit"}
entities:
  device:
    type: Device
    properties:
      device_id: {column: "Device IMEI"}
  phone:
    type: Phone
    optional: true
    properties:
      number: {column: "Phone Numbers", split: ";"}
  email:
    type: Email
    optional: true
    properties:
      address: {column: "Email"}
relationships:
  - type: HAS_CONTACT
    source: device
    target: phone
    properties: {name: {column: "Contact Name"}}
  - type: HAS_CONTACT
    source: device
    target: email
    properties: {name: {column: "Contact Name"}}
"""

#: Raw layouts by table: columns and mapping template (``nulls``: the placeholders).
_RAW: dict[str, tuple[tuple[str, ...], str]] = {
    "exhibits": (
        ("Exhibit No.", "Date/Time Seized", "Raid Site Code", "Raid Site", "Site Address",
         "Region", "City/Municipality", "Latitude", "Longitude", "Seized From", "Item", "Make",
         "Model", "Identifier", "MSISDN", "ID Type", "Remarks"), _EXHIBITS),
    "arrests": ((), _ARRESTS),
    "identifications": (
        ("suspect_ref", "full_name", "alias", "sex", "yob", "office_code", "accounts", "basis",
         "identified_on", "linked_ref", "link", "link_basis"), _IDENTIFICATIONS),
    "platform_records": ((), _PLATFORM),
    "remittances": (
        ("Ref No", "Service", "Date Sent", "Sender Ref", "Sender Name", "Sender Country",
         "Amount Sent", "Receiver Ref", "Receiver Name", "Payout To", "Payout City"),
        _REMITTANCES),
    "reports": (
        ("report_id", "source", "report_type", "received", "agency", "victim_ref",
         "victim_name", "victim_age", "victim_gender", "victim_country", "victim_phone",
         "victim_platform", "victim_handle", "reported_account", "summary"), _REPORTS),
    "contacts": (("Exhibit", "Device IMEI", "Contact Name", "Phone Numbers", "Email"),
                 _CONTACTS),
}


def raw_tables() -> tuple[TableSpec, ...]:
    """The tables of a raw case: the clean ones, each reshaped table with its raw layout and
    its v2 mapping."""
    out = []
    for spec in TABLES:
        layout = _RAW.get(spec.name)
        if layout is None:
            out.append(spec)
            continue
        columns, template = layout
        out.append(replace(spec, columns=columns or spec.columns,
                           mapping_template=template.replace("$nulls", _NULLS)))
    return tuple(out)


Record = Sequence[Any]
Shape = Callable[[Record], list[Any]]


class RawTable:
    """A table writer that reshapes each clean record, and merges consecutive records of one
    group (a suspect, a contact-book entry) into one row whose ``merge`` cells join the
    values with ``; ``."""

    def __init__(self, table: Table, shape: Shape,
                 group: Callable[[list[Any]], Any] | None = None, merge: int = -1) -> None:
        self._table = table
        self._shape = shape
        self._group = group
        self._merge = merge
        self._held: list[Any] | None = None
        self._held_key: Any = None

    def write_many(self, records: list[Any]) -> int:
        """Reshape and write; how many rows were written (a merged group waits for its end)."""
        if self._group is None:
            return self._table.write_many([self._shape(r) for r in records])
        out: list[Any] = []
        for record in records:
            row = self._shape(record)
            key = self._group(row)
            held = self._held
            if held is not None and key == self._held_key:
                values = [v for v in held[self._merge].split("; ") if v]
                if row[self._merge] and row[self._merge] not in values:
                    held[self._merge] = "; ".join([*values, row[self._merge]])
                continue
            if held is not None:
                out.append(held)
            self._held, self._held_key = row, key
        return self._table.write_many(out)

    def close(self) -> int:
        """Write the group held back and close; how many rows that was."""
        written = self._table.write_many([self._held]) if self._held is not None else 0
        self._held = None
        return written + self._table.close()


class _Reshaper:
    """Clean records to raw rows, one method per table; draws from its own stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def _chance(self, p: float) -> bool:
        return self.rng.random() < p

    def _missing(self) -> str:
        return self.rng.choice(_PLACEHOLDERS)

    def exhibits(self, r: Record) -> list[Any]:
        holder = r[9] or self.rng.choice(("office desk", "office desk", *_PLACEHOLDERS))
        identifier = next((v for v in (r[13], r[14], r[16], r[18]) if v), "")
        return [*r[:9], holder, *r[10:13], identifier, r[15], r[17], r[19]]

    def arrests(self, r: Record) -> list[Any]:
        row = list(r)
        if self._chance(0.1):
            row[7] = self.rng.choice(("N/A", "unknown", "no fixed address"))
        elif self._chance(0.3):
            row[7] = str(row[7]).upper()
        return row

    def identifications(self, r: Record) -> list[Any]:
        platform, profile = r[6], r[7]
        account = ("" if not profile else profile if "/" in profile
                   else f"{platform.lower()}:{profile}")
        return [*r[:6], account, *r[8:]]

    def platform_records(self, r: Record) -> list[Any]:
        return [v if v != "" else self.rng.choice(("", *_PLACEHOLDERS[:2])) for v in r]

    def remittances(self, r: Record) -> list[Any]:
        card, provider, wallet = r[10], r[11], r[12]
        if card:
            digits = card.replace(" ", "").replace("-", "")
            draw = self.rng.random()
            payout = ("*" * (len(digits) - 4) + digits[-4:] if draw < 0.25
                      else digits[:6] + "******" + digits[-4:] if draw < 0.35 else card)
        else:
            digits = wallet.replace(" ", "").replace("-", "")
            payout = (f"{provider.upper()}-{digits}" if self._chance(0.6)
                      else f"{provider} {wallet}")
        return [*r[:6], f"{r[7]} {r[6]}", r[8], r[9], payout, r[13]]

    def reports(self, r: Record) -> list[Any]:
        row = list(r)
        if row[10]:
            row[10] = phonenumbers.format_number(phonenumbers.parse(row[10]),
                                                 phonenumbers.PhoneNumberFormat.NATIONAL)
        if self._chance(0.05):
            row[7] = "unknown"
        if self._chance(0.05):
            row[8] = "-"
        if self._chance(0.12):
            row[12] = ""  # the platform kept, the handle lost: a blank partial key
        platform, account = row[13], row[14]
        row[13:15] = [account if "/" in account else f"{platform.lower()}:{account}"]
        return row

    def contacts(self, r: Record) -> list[Any]:
        return list(r)


def reshaper(spec: TableSpec, table: Table, rng: random.Random) -> Table | RawTable:
    """``table`` writing raw rows if ``spec`` has a raw layout, else ``table`` itself."""
    if spec.name not in _RAW:
        return table
    shape: Shape = getattr(_Reshaper(rng), spec.name)
    if spec.name == "identifications":
        return RawTable(table, shape, lambda row: row[0], merge=6)
    if spec.name == "contacts":
        return RawTable(table, shape, lambda row: (row[0], row[2], row[4]), merge=3)
    return RawTable(table, shape)
