"""The evidence tables of a synthetic case: layouts, mapping files, writers and noise.

Each table has its own layout, as exports from different agencies would: a raid exhibit log
(CSV), an arrest roster (XLSX with title rows), forensic extractions (nested JSON lines),
police identifications (CSV), platform subscriber/login records (CSV, US dates), a remittance
ledger (semicolon-delimited, dd/mm/yyyy), victim/NCMEC/police reports (CSV) and chat contact
logs (CSV). Each comes with a mapping in the format of ``docs/mappings.md``.

The writers are deterministic: XLSX files get fixed document dates and zip timestamps so that
the same seed gives byte-identical files.
"""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any, TextIO

from openpyxl import Workbook

from ringmap.tabular import CsvWriter

__all__ = [
    "TABLES",
    "CsvTable",
    "JsonlTable",
    "Noise",
    "TableSpec",
    "XlsxTable",
    "handle_spellings",
    "open_table",
    "phone_spellings",
]


@dataclass(frozen=True)
class TableSpec:
    """One evidence table: file, source grading, column layout and mapping (YAML text)."""

    name: str
    file: str
    grading: str
    description: str
    columns: tuple[str, ...]
    mapping_template: str
    delimiter: str = ","

    @property
    def mapping_file(self) -> str:
        """Path of the mapping, relative to the case folder."""
        return f"mappings/{self.name}.yaml"

    def mapping(self) -> str:
        """The mapping YAML, with this table's grading filled in."""
        return Template(self.mapping_template).substitute(
            grading=self.grading, linked=PERSON_LINKED, links=PERSON_LINKS,
            id_document=ID_DOCUMENT)


_EXHIBITS_MAPPING = """\
# Raid exhibit log: one row per item seized at a raid site.
name: exhibits
source:
  format: csv
  default_region: PH
  grading: $grading
  reference: {column: "Exhibit No."}
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
      person_id: {column: "Seized From (Suspect ID)"}
      role: {literal: suspect}
  device:
    type: Device
    optional: true
    properties:
      device_id: {column: "IMEI / Serial No."}
      kind: {column: "Item"}
      make: {column: "Make"}
      model: {column: "Model"}
  sim:
    type: SimCard
    optional: true
    properties:
      iccid: {column: "ICCID"}
  phone:
    type: Phone
    optional: true
    properties:
      number: {column: "MSISDN"}
  card:
    type: PaymentCard
    optional: true
    properties:
      number: {column: "Card No."}
      card_type: {column: "Item"}
$id_document
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

_ARRESTS_MAPPING = """\
# Arrest roster (XLSX): two title rows, the header on row 3.
name: arrests
source:
  format: xlsx
  sheet: Arrest Roster
  header_row: 3
  grading: $grading
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

_EXTRACTIONS_MAPPING = """\
# Forensic extractions of seized phones: one JSON object per artefact found on a device.
name: extractions
source:
  format: jsonl
  default_region: PH
  grading: $grading
  reference: {column: report}
entities:
  exhibit:
    type: Exhibit
    properties:
      reference: {column: exhibit}
  device:
    type: Device
    properties:
      device_id: {column: device.imei}
      kind: {literal: mobile phone}
      make: {column: device.make}
      model: {column: device.model}
  owner:
    type: Person
    optional: true
    properties:
      person_id: {column: seized_from.suspect_id}
      role: {literal: suspect}
  sim:
    type: SimCard
    optional: true
    properties:
      iccid: {column: sim.iccid}
      imsi: {column: sim.imsi}
  phone:
    type: Phone
    optional: true
    properties:
      number: {column: sim.msisdn}
  account:
    type: Account
    optional: true
    properties:
      platform: {column: account.app}
      handle: {column: account.user}
      display_name: {column: account.display_name}
  email:
    type: Email
    optional: true
    properties:
      address: {column: account.email}
relationships:
  - {type: EXHIBIT_OF, source: exhibit, target: device}
  - {type: SEIZED_FROM, source: exhibit, target: owner}
  - {type: USES, source: owner, target: device}
  - {type: SIM_IN, source: sim, target: device}
  - {type: HAS_NUMBER, source: sim, target: phone}
  - {type: LOGGED_IN_ON, source: account, target: device}
  - {type: LOGGED_IN_ON, source: email, target: device}
"""

_IDENTIFICATIONS_MAPPING = """\
# Police identifications: which suspect runs which account (interviews, subscriber returns).
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
  account:
    type: Account
    optional: true
    properties:
      platform: {column: platform}
      handle: {column: profile}
$linked
relationships:
  - {type: USES, source: suspect, target: account}
  - {type: WORKS_AT, source: suspect, target: office}
$links
"""

_PLATFORM_MAPPING = """\
# Platform subscriber and login records: one row per login, subscriber details repeated.
name: platform_records
source:
  format: csv
  default_region: PH
  grading: $grading
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

_REMITTANCES_MAPPING = """\
# Remittance ledger: semicolon-delimited, dd/mm/yyyy dates; payout to a card or an e-wallet.
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
      amount: {column: "Send Amount"}
      currency: {column: "Send Currency"}
      time: {column: "Date Sent", format: "%d/%m/%Y %H:%M"}
  mule:
    type: Person
    optional: true
    properties:
      person_id: {column: "Receiver Ref"}
      role: {literal: mule}
      name: {column: "Receiver Name"}
  card:
    type: PaymentCard
    optional: true
    properties:
      number: {column: "Payout Card"}
  wallet:
    type: FinancialAccount
    optional: true
    properties:
      provider: {column: "Wallet Provider"}
      account_id: {column: "Payout Wallet"}
      kind: {literal: e-wallet}
relationships:
  - {type: PAID, source: victim, target: payment}
  - {type: PAID_TO, source: payment, target: card}
  - {type: PAID_TO, source: payment, target: wallet}
  - {type: HOLDS, source: mule, target: card}
  - {type: HOLDS, source: mule, target: wallet}
  - {type: LOCATED_IN, source: victim, target: country}
  - {type: SENT_FROM, source: payment, target: country}
"""

_REPORTS_MAPPING = """\
# Victim reports: NCMEC CyberTipline, platform and police reports naming accounts and victims.
name: reports
source:
  format: csv
  grading: $grading
  reference: {column: report_id}
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
      number: {column: victim_phone}
  victim_account:
    type: Account
    optional: true
    properties:
      platform: {column: victim_platform}
      handle: {column: victim_handle}
  reported_account:
    type: Account
    properties:
      platform: {column: reported_platform}
      handle: {column: reported_account}
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

#: A Philippine ID document seized or listed with a person (``id_document`` in a template).
ID_DOCUMENT = """\
  id_document:
    type: IdDocument
    optional: true
    properties:
      doc_type: {column: "ID Type"}
      number: {column: "ID No."}
      issuer: {literal: PH}"""

#: Links between suspects (identifications): the linked suspect, and one relationship per kind
#: of link the ``link`` column may name (``linked`` and ``links`` in a mapping template).
PERSON_LINKED = """\
  linked:
    type: Person
    optional: true
    properties:
      person_id: {column: linked_ref}
      role: {literal: suspect}"""
PERSON_LINKS = """\
  - type: RECRUITED
    source: linked
    target: suspect
    when: {column: link, equals: recruited by}
    properties: {basis: {column: link_basis}}
  - type: FAMILY_OF
    source: suspect
    target: linked
    when: {column: link, in: [brother, sister, cousin]}
    properties: {relation: {column: link}, basis: {column: link_basis}}
  - type: ASSOCIATE_OF
    source: suspect
    target: linked
    when: {column: link, equals: associate}
    properties: {basis: {column: link_basis}}"""

_CONTACTS_MAPPING = """\
# Phone books of extracted phones: one row per number of a contact-book entry.
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
      number: {column: "Phone"}
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

_CHATS_MAPPING = """\
# Chat contact logs from platform returns: who messaged whom, first/last time, how often.
name: chats
source:
  format: csv
  grading: $grading
entities:
  sender:
    type: Account
    properties:
      platform: {column: platform}
      handle: {column: sender}
  recipient:
    type: Account
    properties:
      platform: {column: platform}
      handle: {column: recipient}
relationships:
  - type: CONTACTED
    source: sender
    target: recipient
    properties:
      first_seen: {column: first_message, format: "%Y/%m/%d %H:%M"}
      last_seen: {column: last_message, format: "%Y/%m/%d %H:%M"}
      count: {column: messages}
      channel: {column: channel}
"""

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "exhibits", "exhibits.csv", "A1", "raid exhibit log: items seized at each raid site",
        ("Exhibit No.", "Date/Time Seized", "Raid Site Code", "Raid Site", "Site Address",
         "Region",
         "City/Municipality", "Latitude", "Longitude", "Seized From (Suspect ID)", "Item",
         "Make", "Model", "IMEI / Serial No.", "ICCID", "MSISDN", "Card No.", "ID Type",
         "ID No.", "Remarks"),
        _EXHIBITS_MAPPING,
    ),
    TableSpec(
        "arrests", "arrests.xlsx", "A1", "arrest roster of the raids (XLSX, header on row 3)",
        ("No.", "Suspect ID", "Name (Surname, Given)", "Alias", "Sex", "Year of Birth",
         "Nationality", "Home Address", "Raid Site Code", "Date/Time of Arrest"),
        _ARRESTS_MAPPING,
    ),
    TableSpec(
        "extractions", "extractions.jsonl", "A2",
        "forensic extractions of seized phones: SIMs and app accounts found on each",
        (), _EXTRACTIONS_MAPPING,
    ),
    TableSpec(
        "identifications", "identifications.csv", "B2",
        "police identifications of suspects and the accounts they run",
        ("suspect_ref", "full_name", "alias", "sex", "yob", "office_code", "platform",
         "profile", "basis", "identified_on", "linked_ref", "link", "link_basis"),
        _IDENTIFICATIONS_MAPPING,
    ),
    TableSpec(
        "platform_records", "platform_records.csv", "B2",
        "platform subscriber and login records (one row per login)",
        ("Target", "Service", "Subscriber Name", "Registered Mobile", "Registered Email",
         "Account Created", "Login Time (UTC)", "IP Address", "Port", "Device ID"),
        _PLATFORM_MAPPING,
    ),
    TableSpec(
        "remittances", "remittances.csv", "B2",
        "remittance ledger: victims' payments to mules' cards and e-wallets",
        ("Ref No", "Service", "Date Sent", "Sender Ref", "Sender Name", "Sender Country",
         "Send Amount", "Send Currency", "Receiver Ref", "Receiver Name", "Payout Card",
         "Wallet Provider", "Payout Wallet", "Payout City"),
        _REMITTANCES_MAPPING, delimiter=";",
    ),
    TableSpec(
        "reports", "reports.csv", "C3",
        "NCMEC CyberTipline, platform and police reports naming accounts and victims",
        ("report_id", "source", "report_type", "received", "agency", "victim_ref",
         "victim_name", "victim_age", "victim_gender", "victim_country", "victim_phone",
         "victim_platform",
         "victim_handle", "reported_platform", "reported_account", "summary"),
        _REPORTS_MAPPING,
    ),
    TableSpec(
        "contacts", "contacts.csv", "A2",
        "phone books of extracted phones: contact-book entries and their numbers",
        ("Exhibit", "Device IMEI", "Contact Name", "Phone", "Email"), _CONTACTS_MAPPING,
    ),
    TableSpec(
        "chats", "chats.csv", "B2", "chat contact logs: who messaged whom",
        ("platform", "sender", "recipient", "first_message", "last_message", "messages",
         "channel"),
        _CHATS_MAPPING,
    ),
)

# writers ---------------------------------------------------------------------------------


class CsvTable:
    """A CSV evidence table written row by row."""

    def __init__(self, path: Path, spec: TableSpec) -> None:
        self._handle: TextIO = path.open("w", encoding="utf-8", newline="")
        # raw: evidence reads back as written; quoted like every CSV ringmap writes (a bare CR
        # in a cell is quoted, which csv.writer with "\n" line ends does not do)
        self._writer = CsvWriter(self._handle, delimiter=spec.delimiter, raw=True)
        self._writer.writerow(spec.columns)

    def write_many(self, records: list[Any]) -> int:
        """Append rows (sequences of cell values in column order); how many."""
        self._writer.writerows(records)
        return len(records)

    def close(self) -> int:
        """Flush and close the file; no row is held back."""
        self._handle.close()
        return 0


class JsonlTable:
    """A JSON lines evidence table: one object per line, keys in insertion order."""

    def __init__(self, path: Path, spec: TableSpec) -> None:
        self._handle: TextIO = path.open("w", encoding="utf-8", newline="\n")

    def write_many(self, records: list[Any]) -> int:
        """Append objects, one per line; how many."""
        for record in records:
            self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return len(records)

    def close(self) -> int:
        """Flush and close the file; no row is held back."""
        self._handle.close()
        return 0


# The date every generated workbook claims, so that output is byte-identical per seed.
_FIXED_ZIP_TIME = (2014, 5, 31, 0, 0, 0)
_CORE_DATES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


class XlsxTable:
    """An XLSX table (streamed by openpyxl), saved with fixed dates for reproducible bytes."""

    def __init__(self, path: Path, spec: TableSpec) -> None:
        self._path = path
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet("Arrest Roster")
        self._sheet.append(["OPERATION STRIKEBACK (SYNTHETIC) — ARREST ROSTER"])
        self._sheet.append(["Generated by ringmap synth; no real person."])
        self._sheet.append(list(spec.columns))

    def write_many(self, records: list[Any]) -> int:
        """Append rows; how many."""
        for record in records:
            self._sheet.append(list(record))
        return len(records)

    def close(self) -> int:
        """Save the workbook, then rewrite its zip with fixed timestamps; no row is held
        back."""
        buffer = io.BytesIO()
        self._book.save(buffer)
        with (zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src,
              zipfile.ZipFile(self._path, "w", zipfile.ZIP_DEFLATED) as dst):
            for info in src.infolist():
                body = src.read(info.filename)
                if info.filename == "docProps/core.xml":
                    body = _CORE_DATES.sub(rb"\g<1>2014-05-31T00:00:00Z\g<3>", body)
                entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
                entry.compress_type = zipfile.ZIP_DEFLATED
                dst.writestr(entry, body)
        return 0


Table = CsvTable | JsonlTable | XlsxTable


def open_table(folder: Path, spec: TableSpec) -> Table:
    """Open the writer that fits the table's file type."""
    path = folder / spec.file
    if spec.file.endswith(".jsonl"):
        return JsonlTable(path, spec)
    if spec.file.endswith(".xlsx"):
        return XlsxTable(path, spec)
    return CsvTable(path, spec)


# noise -----------------------------------------------------------------------------------

_URL_FORMS = {
    "facebook": "https://www.facebook.com/{}",
    "instagram": "https://instagram.com/{}/",
    "snapchat": "snapchat.com/add/{}",
}


@lru_cache(maxsize=1 << 16)
def phone_spellings(e164: str) -> tuple[str, ...]:
    """Ways a Philippine mobile number is written, E.164 first.

    >>> phone_spellings("+639171234567")[1:3]
    ('+63 917 123 4567', '0917-123-4567')
    """
    national = "0" + e164[3:]
    prefix, mid, tail = national[1:4], national[4:7], national[7:]
    return (e164, f"+63 {prefix} {mid} {tail}", f"0{prefix}-{mid}-{tail}", e164[1:],
            f"(0{prefix}) {mid} {tail}", national)


@lru_cache(maxsize=1 << 16)
def handle_spellings(platform: str, handle: str) -> tuple[str, ...]:
    """Ways a handle is written, canonical first: ``@handle``, a profile URL, upper-case.

    >>> handle_spellings("Instagram", "kim.tan.38")
    ('kim.tan.38', '@kim.tan.38', 'https://instagram.com/kim.tan.38/', 'KIM.TAN.38')
    """
    if platform == "WhatsApp":  # a phone number as handle: always digits
        return (handle,)
    form = _URL_FORMS.get(platform.lower())
    url = form.format(handle) if form is not None else "@" + handle.upper()
    return handle, "@" + handle, url, handle.upper()


class Noise:
    """What a noise level in [0, 1] does to evidence rows; all draws from one stream.

    At level 0 nothing is dropped, duplicated or corrupted and every identifier is written
    in its table's house style.

    >>> noise = Noise(random.Random(1), 0.0)
    >>> noise.phone("+639171234567", 2), noise.handle("Facebook", "maria.santos.88")
    ('0917-123-4567', 'maria.santos.88')
    """

    def __init__(self, rng: random.Random, level: float) -> None:
        self.rng = rng
        self.level = level
        self.p_drop = 0.3 * level
        self.p_duplicate = 0.04 * level
        self.p_bad = 0.01 * level
        self.p_variant = 0.8 * level

    def bad(self) -> bool:
        """Whether this row carries a value that ingest must reject."""
        return self.p_bad > 0 and self.rng.random() < self.p_bad

    def pick(self, spellings: tuple[str, ...], house: int = 0) -> str:
        """The house spelling ``spellings[house]``, or with noise one of them at random."""
        if self.p_variant > 0 and self.rng.random() < self.p_variant:
            return spellings[int(self.rng.random() * len(spellings))]
        return spellings[house]

    def phone(self, e164: str, house: int) -> str:
        """A Philippine E.164 number in house style ``house`` (see :func:`phone_spellings`)."""
        return self.pick(phone_spellings(e164), house)

    def bad_phone(self, e164: str) -> str:
        """A number too long to be possible in the Philippines."""
        return f"+63 {e164[3:6]} {e164[6:9]} {e164[9:]} {self.rng.randrange(10**5, 10**6)}"

    def bad_imei(self, imei: str) -> str:
        """The IMEI with a wrong check digit."""
        return imei[:-1] + str((int(imei[-1]) + self.rng.randrange(1, 10)) % 10)

    def handle(self, platform: str, handle: str) -> str:
        """A handle as written: canonical, or ``@Handle``, a profile URL or upper-case."""
        return self.pick(handle_spellings(platform, handle))

    def separators(self, number: str) -> str:
        """A wallet or card number with spaces/dashes the way clerks type them, at random."""
        if not (self.p_variant > 0 and self.rng.random() < self.p_variant):
            return number
        sep = self.rng.choice((" ", "-"))
        return sep.join(number[i:i + 4] for i in range(0, len(number), 4))
