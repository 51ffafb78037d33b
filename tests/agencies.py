"""One synthetic operation seen by two agencies, with planted overlaps (issue 15).

Agency A (the Philippine police) holds the agents of an operation: each uses a phone, an
account, an e-mail, a phone handset (IMEI) with its SIM (ICCID), and holds a card and an
e-wallet. Agency B (a UK force) holds its victims, with their phones and accounts, and what its
own inquiries found of the offenders: some of A's identifiers (the planted overlap), and
identifiers of its own that A never saw. Both agencies hash under their own case key and sign
with their own signing key; only the operation key is common.

>>> op = operation(seed=1)
>>> sum(len(v) for v in op.planted.values()) > 0, sorted(op.planted) == sorted(KINDS)
(True, True)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ringmap.testing import CaseBuilder

#: the identifier types planted, as ``ringmap share --types`` names them
KINDS = ("phone", "handle", "email", "imei", "iccid", "card", "wallet")


def _luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return body + str((10 - total % 10) % 10)


@dataclass(frozen=True, slots=True)
class Identifier:
    """One identifier as evidence writes it, and as ringmap normalises it."""

    kind: str
    raw: str
    normal: str


@dataclass
class Operation:
    """The two agencies' evidence, and what they share."""

    a: Callable[[], CaseBuilder]
    b: Callable[[], CaseBuilder]
    planted: dict[str, set[str]]
    """Per type, the normalised values both agencies hold."""
    raw: set[str] = field(default_factory=set)
    """Every identifier, name and card number of either agency, as written in the evidence."""


class _Maker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _fresh(self, make: Callable[[], str]) -> str:
        while (value := make()) in self.used:
            pass
        self.used.add(value)
        return value

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def make(self, kind: str) -> Identifier:
        if kind == "phone":
            local = self._fresh(lambda: "917" + self.digits(7))
            return Identifier(kind, "0" + local, "+63" + local)
        if kind == "handle":
            handle = self._fresh(lambda: "op.agent." + self.digits(6))
            return Identifier(kind, handle, "facebook/" + handle)
        if kind == "email":
            mail = self._fresh(lambda: f"persona{self.digits(6)}@mail.example")
            return Identifier(kind, mail, mail)
        if kind == "imei":
            imei = self._fresh(lambda: _luhn("35" + self.digits(12)))
            return Identifier(kind, imei, imei)
        if kind == "iccid":
            iccid = self._fresh(lambda: _luhn("8963" + self.digits(14)))
            return Identifier(kind, iccid, iccid)
        if kind == "card":
            pan = self._fresh(lambda: _luhn("4" + self.digits(14)))
            return Identifier(kind, pan, pan)
        wallet = self._fresh(lambda: "0917" + self.digits(7))
        return Identifier(kind, wallet, "gcash/" + wallet)


def _add(case: CaseBuilder, owner: str, ident: Identifier) -> None:
    """``owner`` uses or holds ``ident`` in ``case``."""
    if ident.kind == "phone":
        case.link("USES", owner, case.phone(ident.raw))
    elif ident.kind == "handle":
        case.link("USES", owner, case.account("facebook", ident.raw))
    elif ident.kind == "email":
        case.link("USES", owner, case.node("Email", address=ident.raw))
    elif ident.kind == "imei":
        case.link("USES", owner, case.device(ident.raw, kind="phone"))
    elif ident.kind == "iccid":
        case.link("USES", owner, case.node("SimCard", iccid=ident.raw))
    elif ident.kind == "card":
        case.link("HOLDS", owner, case.card(ident.raw))
    else:
        case.link("HOLDS", owner, case.node("FinancialAccount", provider="gcash",
                                            account_id=ident.raw, kind="e-wallet"))


def operation(seed: int = 15, agents: int = 12, victims: int = 10) -> Operation:
    """The operation: about a third of each agent's identifiers also in B's evidence, and
    two victims' phones known to both (a victim A found on a seized phone)."""
    rng = random.Random(seed)
    maker = _Maker(rng)
    held_a: list[tuple[str, Identifier]] = []
    held_b: list[tuple[str, Identifier]] = []
    planted: dict[str, set[str]] = {k: set() for k in KINDS}
    raw: set[str] = set()
    for i in range(agents):
        for kind in KINDS:
            ident = maker.make(kind)
            raw.add(ident.raw)
            held_a.append((f"AG-{i:03d}", ident))
            if rng.random() < 0.35 or i == 0:  # agent 0: every type shared
                held_b.append((f"UK-S-{i:03d}", ident))
                planted[kind].add(ident.normal)
    for j in range(6):  # B's own leads, unknown to A
        for kind in KINDS:
            ident = maker.make(kind)
            raw.add(ident.raw)
            held_b.append((f"UK-S-{100 + j:03d}", ident))
    victim_phones = []
    for v in range(victims):
        phone = maker.make("phone")
        raw.add(phone.raw)
        held_b.append((f"UK-V-{v:03d}", phone))
        victim_phones.append(phone)
    for phone in victim_phones[:2]:
        held_a.append(("PH-V-SEEN", phone))
        planted["phone"].add(phone.normal)
    names = {f"AG-{i:03d}": f"Agent Name{i:03d}" for i in range(agents)}
    names |= {f"UK-V-{v:03d}": f"Victim Surname{v:03d}" for v in range(victims)}
    names["PH-V-SEEN"] = "Victim Seenonphone"
    raw |= set(names.values())

    def build(held: list[tuple[str, Identifier]]) -> Callable[[], CaseBuilder]:
        def make() -> CaseBuilder:
            case = CaseBuilder()
            for owner, ident in held:
                role = "victim" if "-V-" in owner else "suspect"
                person = case.person(owner, role, **({"name": names[owner]}
                                                     if owner in names else {}))
                if role == "victim":
                    case.link("LOCATED_IN", person, case.node("Country", code="GB"))
                _add(case, person, ident)
            return case
        return make

    return Operation(build(held_a), build(held_b), planted, raw)
