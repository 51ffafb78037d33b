"""Normalisers that turn real-world spellings of identifiers into keys.

Each normaliser takes the raw text and a :class:`Context` and returns the canonical string, or
raises :class:`~ringmap.errors.NormalisationError` with the reason. They are pure and cached,
since evidence repeats the same identifiers many times.

>>> ctx = Context(default_region="PH")
>>> NORMALISERS["phone"]("0917 123 4567", ctx)
'+639171234567'
>>> NORMALISERS["email"](" Juan.DC@Gmail.COM ", ctx)
'juan.dc@gmail.com'
"""

from __future__ import annotations

import csv
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import phonenumbers

from ringmap.errors import NormalisationError
from ringmap.graphs.schema import Role

__all__ = [
    "NORMALISERS",
    "CardFields",
    "Context",
    "card_fields",
    "country_table",
    "luhn_valid",
    "mask_pan",
]


@dataclass(frozen=True, slots=True)
class Context:
    """What a normaliser may need beyond the raw value."""

    default_region: str = "PH"


Normaliser = Callable[[str, Context], str]
NORMALISERS: dict[str, Normaliser] = {}


def _register(name: str) -> Callable[[Normaliser], Normaliser]:
    def deco(func: Normaliser) -> Normaliser:
        NORMALISERS[name] = func
        return func

    return deco


def _fail(kind: str, raw: str, reason: str) -> NormalisationError:
    shown = raw if len(raw) <= 40 else raw[:37] + "..."
    return NormalisationError(f"{kind} {shown!r}: {reason}")


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn check.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _luhn_check_digit(body: str) -> str:
    for d in "0123456789":
        if luhn_valid(body + d):
            return d
    raise AssertionError("unreachable: one check digit always fits")


_NON_DIGITS = re.compile(r"[\s\-./()]")


def _digits(raw: str) -> str:
    return _NON_DIGITS.sub("", raw.strip())


@_register("phone")
@lru_cache(maxsize=1 << 18)
def phone(raw: str, ctx: Context) -> str:
    """E.164, reading national numbers in the context's default region."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, ctx.default_region)
    except phonenumbers.NumberParseException as exc:
        raise _fail("phone", raw, str(exc.args[0]) if exc.args else "unparseable") from None
    if not phonenumbers.is_possible_number(parsed):
        raise _fail("phone", raw, "not a possible number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@_register("imei")
@lru_cache(maxsize=1 << 16)
def imei(raw: str, ctx: Context) -> str:
    """15-digit IMEI, Luhn-checked; a 14-digit body gets its check digit, IMEISV its body."""
    digits = _digits(raw)
    if not digits.isdigit():
        raise _fail("IMEI", raw, "not all digits")
    if len(digits) == 16:  # IMEISV: 14-digit body + 2-digit software version
        digits = digits[:14]
    if len(digits) == 14:
        return digits + _luhn_check_digit(digits)
    if len(digits) != 15:
        raise _fail("IMEI", raw, f"{len(digits)} digits, expected 14-16")
    if not luhn_valid(digits):
        raise _fail("IMEI", raw, "Luhn check digit is wrong")
    return digits


@_register("device_id")
def device_id(raw: str, ctx: Context) -> str:
    """An IMEI (when the value is 14-16 digits) or ``SN:<SERIAL>`` for other devices."""
    digits = _digits(raw)
    if digits.isdigit() and 14 <= len(digits) <= 16:
        return imei(raw, ctx)
    serial = re.sub(r"\s+", "", raw.strip()).upper()
    serial = serial.removeprefix("SN:").removeprefix("S/N:")
    if not serial or not re.fullmatch(r"[A-Z0-9\-_.:/]{3,64}", serial):
        raise _fail("device", raw, "neither an IMEI nor a serial number")
    return "SN:" + serial


@_register("iccid")
@lru_cache(maxsize=1 << 16)
def iccid(raw: str, ctx: Context) -> str:
    """ICCID: 19-20 digits starting 89, Luhn-checked (trailing F filler dropped)."""
    digits = _digits(raw).upper().rstrip("F")
    if not digits.isdigit():
        raise _fail("ICCID", raw, "not all digits")
    if not 18 <= len(digits) <= 20:
        raise _fail("ICCID", raw, f"{len(digits)} digits, expected 18-20")
    if not digits.startswith("89"):
        raise _fail("ICCID", raw, "does not start with the telecom prefix 89")
    if not luhn_valid(digits):
        raise _fail("ICCID", raw, "Luhn check digit is wrong")
    return digits


@_register("imsi")
def imsi(raw: str, ctx: Context) -> str:
    """IMSI: 14 or 15 digits."""
    digits = _digits(raw)
    if not digits.isdigit() or not 14 <= len(digits) <= 15:
        raise _fail("IMSI", raw, "expected 14-15 digits")
    return digits


_EMAIL = re.compile(r"^[^@\s<>\"]+@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9\-]+)+$")


@_register("email")
def email(raw: str, ctx: Context) -> str:
    """Lower-cased address, ``mailto:`` dropped."""
    text = raw.strip().lower().removeprefix("mailto:")
    if not _EMAIL.match(text):
        raise _fail("email", raw, "not an email address")
    return text


@_register("ip")
def ip(raw: str, ctx: Context) -> str:
    """Canonical IPv4/IPv6 text (IPv4-mapped IPv6 unwrapped, port and brackets dropped)."""
    text = raw.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1 and "." in text:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise _fail("IP", raw, "not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


_PLATFORM_ALIASES = {
    "fb": "facebook",
    "facebook messenger": "facebook",
    "messenger": "facebook",
    "ig": "instagram",
    "insta": "instagram",
    "x": "twitter",
    "x.com": "twitter",
    "wa": "whatsapp",
    "snap": "snapchat",
    "tg": "telegram",
    "yahoo messenger": "yahoo",
    "ms teams": "skype",
    "line app": "line",
}
_URL_PREFIX = re.compile(
    r"^(?:https?://)?(?:www\.|m\.|mobile\.)?"
    r"(?:facebook\.com|fb\.com|instagram\.com|twitter\.com|x\.com|tiktok\.com|t\.me|"
    r"snapchat\.com/add|kik\.me)/",
    re.IGNORECASE,
)


def _token(raw: str) -> str:
    return re.sub(r"[\s_\-]+", "_", raw.strip().lower()).strip("_")


@_register("platform")
def platform(raw: str, ctx: Context) -> str:
    """Lower-case platform name with common aliases folded (fb → facebook)."""
    text = raw.strip().lower()
    text = _PLATFORM_ALIASES.get(text, text)
    token = _token(text)
    if not token:
        raise _fail("platform", raw, "empty")
    return token


@_register("handle")
def handle(raw: str, ctx: Context) -> str:
    """A handle: URL prefix, leading @ and query strings dropped, lower-cased.

    Platforms differ in details (Skype keeps its ``live:`` prefix, Facebook ignores dots in
    vanity names only for matching); lower-casing is right for every platform in the cases.
    """
    text = _URL_PREFIX.sub("", raw.strip())
    text = text.split("?", 1)[0].rstrip("/").lstrip("@").strip().lower()
    if not text or re.search(r"\s", text):
        raise _fail("handle", raw, "empty or contains whitespace")
    return text


@_register("provider")
def provider(raw: str, ctx: Context) -> str:
    """A payment/report provider or channel as a lower-case token (``Western Union`` →
    ``western_union``)."""
    token = _token(raw)
    if not token:
        raise _fail("provider", raw, "empty")
    return token


@_register("token")
def token(raw: str, ctx: Context) -> str:
    """A free-form category as a lower-case token."""
    return provider(raw, ctx)


@_register("ref")
def ref(raw: str, ctx: Context) -> str:
    """An evidence reference or id: trimmed, inner whitespace collapsed, case kept."""
    text = " ".join(raw.split())
    if not text:
        raise _fail("reference", raw, "empty")
    if "/" in text:
        text = text.replace("/", "-")
    return text


@_register("account_ref")
def account_ref(raw: str, ctx: Context) -> str:
    """A bank account, wallet or receiver number: separators dropped, upper-cased."""
    text = re.sub(r"[\s\-./]", "", raw.strip()).upper()
    if not text:
        raise _fail("account", raw, "empty")
    return text


@_register("doc_number")
def doc_number(raw: str, ctx: Context) -> str:
    """An ID document number, separators dropped and upper-cased."""
    return account_ref(raw, ctx)


@_register("currency")
def currency(raw: str, ctx: Context) -> str:
    """ISO 4217 code, upper-cased (``$`` → USD, ``₱``/PHP → PHP)."""
    symbols = {"$": "USD", "us$": "USD", "₱": "PHP", "php": "PHP", "£": "GBP", "€": "EUR"}
    text = raw.strip().lower()
    code = symbols.get(text, text.upper())
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise _fail("currency", raw, "not an ISO 4217 code")
    return code


@_register("role")
def role(raw: str, ctx: Context) -> str:
    """One data-subject category: suspect, victim, mule or other."""
    text = raw.strip().lower()
    aliases = {"agent": "suspect", "offender": "suspect", "money mule": "mule",
               "recipient": "mule", "witness": "other"}
    text = aliases.get(text, text)
    try:
        return Role(text).value
    except ValueError:
        raise _fail("role", raw, "expected suspect, victim, mule or other") from None


@dataclass(frozen=True, slots=True)
class CountryRow:
    """One ISO 3166-1 country with a map position."""

    alpha2: str
    alpha3: str
    name: str
    lat: float
    lon: float


@cache
def country_table() -> tuple[dict[str, CountryRow], dict[str, str]]:
    """The shipped ISO 3166 table: rows by alpha-2, and every spelling → alpha-2."""
    rows: dict[str, CountryRow] = {}
    lookup: dict[str, str] = {}
    path = Path(__file__).with_name("countries.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        for rec in csv.DictReader(handle):
            row = CountryRow(rec["alpha2"], rec["alpha3"], rec["name"],
                             float(rec["lat"]), float(rec["lon"]))
            rows[row.alpha2] = row
            spellings = [row.alpha2, row.alpha3, row.name, *rec["aliases"].split("|")]
            for spelling in spellings:
                if spelling:
                    lookup.setdefault(spelling.strip().lower(), row.alpha2)
    return rows, lookup


@_register("country")
def country(raw: str, ctx: Context) -> str:
    """ISO 3166-1 alpha-2 from a code, alpha-3 or common name."""
    _, lookup = country_table()
    text = " ".join(raw.strip().lower().split())
    code = lookup.get(text) or lookup.get(text.removeprefix("the "))
    if code is None:
        raise _fail("country", raw, "not a known country name or ISO code")
    return code


@dataclass(frozen=True, slots=True)
class CardFields:
    """What ringmap keeps of a payment card number: never the number itself."""

    card_hash: str
    bin: str
    last4: str
    masked: str
    brand: str


_BRANDS = (("4", "visa"), ("51", "mastercard"), ("52", "mastercard"), ("53", "mastercard"),
           ("54", "mastercard"), ("55", "mastercard"), ("2", "mastercard"), ("34", "amex"),
           ("37", "amex"), ("35", "jcb"), ("62", "unionpay"), ("6", "discover"))


def mask_pan(digits: str) -> str:
    """A card number as it may be shown: BIN (first six) and last four digits.

    >>> mask_pan("4111111111111111")
    '411111******1111'
    """
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def card_fields(raw: str, key: bytes) -> CardFields:
    """Keyed hash, BIN, last four and brand of a card number (12-19 digits, Luhn-checked).

    >>> f = card_fields("4111 1111 1111 1111", b"k" * 16)
    >>> f.masked, f.brand, len(f.card_hash)
    ('411111******1111', 'visa', 32)
    """
    from ringmap.graphs.secrets import keyed_hash

    digits = _digits(raw)
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise NormalisationError("card number: expected 12-19 digits")
    if not luhn_valid(digits):
        # the number itself is never echoed, not even in an error message
        raise NormalisationError("card number: Luhn check digit is wrong")
    brand = next((name for prefix, name in _BRANDS if digits.startswith(prefix)), "other")
    return CardFields(
        card_hash=keyed_hash(key, "card", digits),
        bin=digits[:6],
        last4=digits[-4:],
        masked=mask_pan(digits),
        brand=brand,
    )
