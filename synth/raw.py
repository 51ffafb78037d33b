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

from ringmap.synth.tables import ID_DOCUMENT, TABLES, Table, TableSpec

__all__ = ["RawTable", "raw_tables", "reshaper"]

_PLACEHOLDERS = ("N/A", "-", "unknown")
#: Mapping-level placeholders of every raw mapping that has some.
_NULLS = 'null_values: ["N/A", "-", "unknown"]'


def _when(entity: str, type_name: str, condition: str) -> tuple[str, str]:
    """The swap that gives an optional entity of a clean mapping a condition."""
    head = f"  {entity}:\n    type: {type_name}\n    optional: true\n"
    return head, f"{head}    when: {condition}\n"


#: Raw layouts by table: the columns (empty: the clean ones), the first line of the mapping,
#: the mapping-level settings put before ``entities:``, and (clean, raw) text swaps that turn
#: the clean mapping into the raw one.
_RAW: dict[str, tuple[tuple[str, ...], str, str, tuple[tuple[str, str], ...]]] = {
    "exhibits": (
        ("Exhibit No.", "Date/Time Seized", "Raid Site Code", "Raid Site", "Site Address",
         "Region", "City/Municipality", "Latitude", "Longitude", "Seized From", "Item", "Make",
         "Model", "Identifier", "MSISDN", "ID Type", "Remarks"),
        "# Raid exhibit log as exported: one Identifier column read by the Item column.",
        f'{_NULLS}\ncolumns:\n  "Seized From": {{null_values: ["office desk"]}}',
        (('"Seized From (Suspect ID)"', '"Seized From"'),
         _when("device", "Device", '{column: "Item", in: [mobile phone, laptop]}'),
         _when("sim", "SimCard", '{column: "Item", equals: SIM card}'),
         _when("card", "PaymentCard", '{column: "Item", matches: "(?i)^(atm|credit|debit) '
                                      'card$$"}'),
         _when("id_document", "IdDocument", '{column: "Item", equals: ID card}'),
         *((f'{{column: "{c}"}}', '{column: "Identifier"}')
            for c in ("IMEI / Serial No.", "ICCID", "Card No.", "ID No.")))),
    "arrests": (
        (), "# Arrest roster (XLSX): two title rows, the header on row 3; placeholders for no "
            "address.",
        f'{_NULLS}\ncolumns:\n  "Home Address": {{null_values: ["no fixed address"]}}', ()),
    "identifications": (
        ("suspect_ref", "full_name", "alias", "sex", "yob", "office_code", "accounts", "basis",
         "identified_on", "linked_ref", "link", "link_basis"),
        "# Police identifications: one row per suspect, the accounts in one cell with their "
        "platform.", "",
        (("  account:\n    type: Account\n    optional: true\n    properties:\n"
          "      platform: {column: platform}\n      handle: {column: profile}\n",
          "  accounts:\n    type: auto\n    optional: true\n    kinds: [handle]\n"
          '    value: {column: accounts, split: ";"}\n'),
         ("target: account}", "target: accounts}"))),
    "platform_records": (
        (), "# Platform subscriber and login records: one row per login; N/A or - where nothing "
            "is held.", _NULLS, ()),
    "remittances": (
        ("Ref No", "Service", "Date Sent", "Sender Ref", "Sender Name", "Sender Country",
         "Amount Sent", "Receiver Ref", "Receiver Name", "Payout To", "Payout City"),
        "# Remittance ledger as exported: amount and currency in one cell; the payout a card, a\n"
        "# masked card or an e-wallet, in one column.", "",
        (('{column: "Send Amount"}', r"""{column: "Amount Sent", extract: '([\d.,]+)\s*$$'}"""),
         ('{column: "Send Currency"}', r"""{column: "Amount Sent", extract: '^([A-Za-z]{3})\b'}"""),
         ("  card:\n    type: PaymentCard\n    optional: true\n    properties:\n"
          '      number: {column: "Payout Card"}\n  wallet:\n    type: FinancialAccount\n'
          '    optional: true\n    properties:\n      provider: {column: "Wallet Provider"}\n'
          '      account_id: {column: "Payout Wallet"}\n      kind: {literal: e-wallet}\n',
          "  payout:\n    type: auto\n    optional: true\n    kinds: [card, masked_card, wallet]\n"
          '    value: {column: "Payout To"}\n'),
         ("  - {type: PAID_TO, source: payment, target: card}\n"
          "  - {type: PAID_TO, source: payment, target: wallet}\n"
          "  - {type: HOLDS, source: mule, target: card}\n"
          "  - {type: HOLDS, source: mule, target: wallet}\n",
          "  - {type: PAID_TO, source: payment, target: payout}\n"
          "  - {type: HOLDS, source: mule, target: payout}\n"))),
    "reports": (
        ("report_id", "source", "report_type", "received", "agency", "victim_ref",
         "victim_name", "victim_age", "victim_gender", "victim_country", "victim_phone",
         "victim_platform", "victim_handle", "reported_account", "summary"),
        "# Victim reports as received: the victim's phone in national format, read in the "
        "victim's\n# country; the reported account with its platform prefix.", _NULLS,
        (("{column: victim_phone}", "{column: victim_phone, region: {column: victim_country}}"),
         ("  reported_account:\n    type: Account\n    properties:\n"
          "      platform: {column: reported_platform}\n      handle: {column: reported_account}\n",
          "  reported_account:\n    type: auto\n    kinds: [handle]\n"
          "    value: {column: reported_account}\n"))),
    "contacts": (
        ("Exhibit", "Device IMEI", "Contact Name", "Phone Numbers", "Email"),
        "# Phone books of extracted phones: one row per contact-book entry, its numbers in one "
        "cell.", "",
        (('{column: "Phone"}', '{column: "Phone Numbers", split: ";"}'),)),
}


def _raw_mapping(clean: str, comment: str, settings: str,
                 swaps: tuple[tuple[str, str], ...]) -> str:
    """The clean mapping template turned into the raw one (shared blocks spelled out, so that
    the swaps can reach into them)."""
    lines = clean.replace("$id_document", ID_DOCUMENT).split("\n")
    text = "\n".join([comment, *lines[1:]])
    if settings:
        text = text.replace("\nentities:\n", f"\n{settings}\nentities:\n", 1)
    for old, new in swaps:
        if old not in text:
            raise AssertionError(f"raw mapping swap does not apply: {old!r}")
        text = text.replace(old, new)
    return text


def raw_tables() -> tuple[TableSpec, ...]:
    """The tables of a raw case: the clean ones, each reshaped table with its raw layout and
    its v2 mapping."""
    out = []
    for spec in TABLES:
        layout = _RAW.get(spec.name)
        if layout is None:
            out.append(spec)
            continue
        columns, comment, settings, swaps = layout
        out.append(replace(spec, columns=columns or spec.columns, mapping_template=_raw_mapping(
            spec.mapping_template, comment, settings, swaps)))
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
