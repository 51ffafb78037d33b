"""Normalisers that turn real-world spellings of identifiers into keys.

Each normaliser takes the raw text and a :class:`Context` and returns the canonical string, or
raises :class:`~ringmap.errors.NormalisationError` with the reason. They are pure and cached,
since evidence repeats the same identifiers many times.

They are strict: a value that only looks like an identifier is refused rather than bent into
one (``abc 12345`` is no phone number, a number that is not valid for its region is refused
with the reason), because a wrong key merges unrelated evidence. No identifier normaliser
turns a payment card number into a key in clear: a value that is a card number by shape
(Luhn-valid, in an issuer's range) is refused without being quoted.

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
import traceback
import unicodedata
from collections.abc import Callable, Mapping
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
    "card_brand",
    "card_fields",
    "country_table",
    "is_card_number",
    "key_text",
    "luhn_valid",
    "mask_pan",
    "masked_card_fields",
    "parse_phone",
]


@dataclass(frozen=True, slots=True)
class Context:
    """What a normaliser may need beyond the raw value."""

    default_region: str = "PH"


Normaliser = Callable[[str, Context], str]
NORMALISERS: dict[str, Normaliser] = {}


def _register(name: str) -> Callable[[Normaliser], Normaliser]:
    """Register ``func`` as the normaliser ``name``, reading its raw text through
    :func:`key_text` first."""
    def deco(func: Normaliser) -> Normaliser:
        def normalise(raw: str, ctx: Context) -> str:
            return func(key_text(raw, name), ctx)

        normalise.__doc__, normalise.__name__ = func.__doc__, func.__name__
        NORMALISERS[name] = normalise
        return normalise

    return deco


#: Characters a reader does not see (Unicode format characters: zero-width space and joiners,
#: the byte-order mark, soft hyphen, bidi embeddings, overrides and isolates); in a key they
#: would make ``juan.dc`` and ``juan.dc`` with a zero-width space two accounts that look alike.
_INVISIBLE = "Cf"


def key_text(raw: str, kind: str = "identifier") -> str:
    """``raw`` as a key may be made from it: compatibility forms folded (NFKC: full-width
    ``ｊｕａｎ`` is ``juan``, ``①`` is ``1``) and invisible format characters (zero-width,
    byte-order mark, bidi controls) dropped. The evidence file keeps the raw spelling.

    >>> key_text("juan\u200b.dc\u202e"), key_text("\ufeff\uff4a\uff55\uff41\uff4e")
    ('juan.dc', 'juan')

    Raises
    ------
    NormalisationError
        ``raw`` holds a NUL byte or another control character (line breaks and tabs are
        whitespace, left to the normaliser).
    """
    if raw.isascii():
        if raw.isprintable() or not _CONTROL.search(raw):
            return raw
    else:
        raw = unicodedata.normalize(
            "NFKC", "".join(c for c in raw if unicodedata.category(c) != _INVISIBLE))
    if "\0" in raw:
        raise NormalisationError(f"{kind}: holds a NUL byte", f"{kind}: holds a NUL byte")
    if _CONTROL.search(raw):
        raise NormalisationError(f"{kind}: holds control characters",
                                 f"{kind}: holds control characters")
    return raw


#: control characters (C0, DEL, C1) other than the whitespace ones normalisers trim or refuse
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def _fail(kind: str, raw: str, reason: str) -> NormalisationError:
    shown = raw if len(raw) <= 40 else raw[:37] + "..."
    return NormalisationError(f"{kind} {shown!r}: {reason}", f"{kind}: {reason}")


def _card_like(kind: str, digits: str) -> None:
    """Refuse, without quoting it, a value that is a payment card number by shape."""
    if is_card_number(digits):
        reason = "looks like a payment card number (Luhn, issuer range); map it as a card"
        raise NormalisationError(f"{kind}: {reason}", f"{kind}: {reason}")


#: Words evidence writes where a value is missing; as a key they would merge unrelated rows.
_PLACEHOLDERS = frozenset({"unknown", "none", "null", "nil", "n/a", "na", "-", "--", "?", "tbd",
                           "tba", "missing", "unk", "not known", "not available"})


def _placeholder(text: str) -> bool:
    return text.strip().lower() in _PLACEHOLDERS


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


_PHONE_CHARS = re.compile(r"[\d\s\-./()+]+")
_POSSIBLE = phonenumbers.ValidationResult
_NOT_POSSIBLE = {
    _POSSIBLE.INVALID_COUNTRY_CODE: "unknown country code",
    _POSSIBLE.TOO_SHORT: "too short",
    _POSSIBLE.TOO_LONG: "too long",
    _POSSIBLE.INVALID_LENGTH: "wrong length",
    _POSSIBLE.IS_POSSIBLE_LOCAL_ONLY: "too short (a local number without its area code?)",
}
_NOT_PARSED = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}
#: Ranges reserved for drama and training (Ofcom) that libphonenumber counts as invalid; the
#: synthetic cases and exercises use them, so they are accepted.
_FICTIONAL = (("44", "7700900"), ("44", "1632960"))


@_register("phone")
@lru_cache(maxsize=1 << 18)
def phone(raw: str, ctx: Context) -> str:
    """E.164, reading national numbers in the context's default region.

    Only digits, spaces, ``+ - . ( ) /`` and a leading ``tel:`` or ``00`` are a phone number;
    the number must be valid for its region (libphonenumber's ranges), else the reason is
    given: ``07700 900456`` read in PH is no Philippine number and is refused, read in GB it
    is ``+447700900456``.
    """
    text = raw.strip()
    if text[:4].lower() == "tel:":
        text = text[4:].strip()
    if not _PHONE_CHARS.fullmatch(text):
        letters = any(ch.isalpha() for ch in text)
        raise _fail("phone", raw, "contains letters" if letters else "not digits")
    plus = text.find("+")
    if text.count("+") > 1 or any(ch.isdigit() for ch in text[:max(plus, 0)]):
        raise _fail("phone", raw, "misplaced +")
    if text.startswith("00"):
        text = "+" + text[2:]
    bare = _PHONE_PUNCTUATION.sub("", text)
    # (two digits apart are no number to libphonenumber, two together are one too short)
    e164, why = _read_number(bare if _PLAIN_NUMBER.fullmatch(bare) else text,
                             ctx.default_region)
    if e164 is None:
        raise _fail("phone", raw, why)
    return e164


#: What libphonenumber reads past between three digits or more: a number is read once
#: however it is spaced (``0917 123 4567``, ``0917-123-4567``, ``(0917) 1234567``).
_PHONE_PUNCTUATION = re.compile(r"[ \-./()]")
_PLAIN_NUMBER = re.compile(r"\+?\d{3,}")


def parse_phone(text: str, region: str | None) -> phonenumbers.PhoneNumber:
    """:func:`phonenumbers.parse`, whose failure leaves no reference cycle behind.

    For a number of no known country code phonenumbers keeps the exception it caught in a
    local of the frame that raises the one it gives: a cycle through that traceback, which
    holds every frame under it (the ingest engine's generator, with its file's signatures
    and memos) until the cyclic collector runs, and ingest pauses it (issue 14). The frames
    of the traceback are cleared before the failure goes on, so it is freed as it is handled.
    """
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        traceback.clear_frames(exc.__traceback__)
        raise


@lru_cache(maxsize=1 << 18)
def _read_number(text: str, region: str) -> tuple[str | None, str]:
    """``(E.164, "")`` of a number without punctuation read in ``region``, or ``(None,
    why not)``."""
    try:
        parsed = parse_phone(text, region)
    except phonenumbers.NumberParseException as exc:
        return None, _NOT_PARSED.get(exc.error_type, "not a number")
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible != _POSSIBLE.IS_POSSIBLE:
        return None, _NOT_POSSIBLE.get(possible, "not a possible number")
    national = str(parsed.national_number)
    if not phonenumbers.is_valid_number(parsed) and not any(
            str(parsed.country_code) == code and national.startswith(start)
            for code, start in _FICTIONAL):
        found = phonenumbers.region_code_for_number(parsed) or region
        read = "" if "+" in text else f" (national numbers are read in {region})"
        return None, f"not a valid number in {found}{read}"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), ""


@_register("imei")
@lru_cache(maxsize=1 << 16)
def imei(raw: str, ctx: Context) -> str:
    """15-digit IMEI, Luhn-checked; a 14-digit body gets its check digit, IMEISV its body."""
    digits = _digits(raw)
    if not digits.isdigit():
        raise _fail("IMEI", raw, "not all digits")
    _card_like("IMEI", digits)
    if len(digits) == 16:  # IMEISV: 14-digit body + 2-digit software version
        digits = digits[:14]
    if len(digits) == 14:
        digits += _luhn_check_digit(digits)
        _card_like("IMEI", digits)
    elif len(digits) != 15:
        raise _fail("IMEI", raw, f"{len(digits)} digits, expected 14-16")
    elif not luhn_valid(digits):
        raise _fail("IMEI", raw, "Luhn check digit is wrong")
    return digits


@_register("device_id")
def device_id(raw: str, ctx: Context) -> str:
    """An IMEI (when the value is 14-16 digits) or ``SN:<SERIAL>`` for other devices."""
    digits = _digits(raw)
    if digits.isdigit() and 14 <= len(digits) <= 16:
        return imei(raw, ctx)
    serial = raw.strip().upper()
    serial = re.sub(r"^S/?N\s*:", "", serial).strip()
    if digits.isdigit():
        _card_like("device", digits)
    if not re.fullmatch(r"[A-Z0-9\-_.:/]{3,64}", serial) or _placeholder(serial):
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
    """IMSI: 14 or 15 digits starting with a mobile country code (2-7)."""
    digits = _digits(raw)
    if not digits.isdigit() or not 14 <= len(digits) <= 15:
        raise _fail("IMSI", raw, "expected 14-15 digits")
    _card_like("IMSI", digits)
    if digits[0] not in "234567":
        raise _fail("IMSI", raw, "does not start with a mobile country code")
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


#: No platform's handles hold these; a cell holding them is several values or free text.
_NOT_IN_HANDLE = re.compile(r"[\s,;<>\"'\\/]")


def _token(raw: str) -> str:
    return re.sub(r"[\s_\-]+", "_", raw.strip().lower()).strip("_")


#: A token: a word character, then word characters and ``. & +`` (``coins.ph``, ``at&t``).
_TOKEN = re.compile(r"[^\W_][\w.&+]*")


def _checked_token(kind: str, raw: str, text: str) -> str:
    token = _token(text)
    if not _TOKEN.fullmatch(token) or token.isdigit():
        raise _fail(kind, raw, "empty" if not token else "not a name")
    return token


@_register("platform")
def platform(raw: str, ctx: Context) -> str:
    """Lower-case platform name with common aliases folded (fb → facebook)."""
    text = raw.strip().lower()
    return _checked_token("platform", raw, _PLATFORM_ALIASES.get(text, text))


@_register("handle")
def handle(raw: str, ctx: Context) -> str:
    """A handle: URL prefix, leading @ and query strings dropped, lower-cased.

    Platforms differ in details (Skype keeps its ``live:`` prefix, Facebook ignores dots in
    vanity names only for matching); lower-casing is right for every platform in the cases.
    """
    text = _URL_PREFIX.sub("", raw.strip())
    text = text.split("?", 1)[0].rstrip("/").lstrip("@").strip().lower()
    if not text or _NOT_IN_HANDLE.search(text):
        raise _fail("handle", raw, "empty, or holds whitespace or , ; < > \" ' \\ /")
    if _placeholder(text):
        raise _fail("handle", raw, "a placeholder, not a value")
    return text


_PROVIDER_ALIASES = {"g_cash": "gcash", "maya": "paymaya", "coins": "coins.ph",
                     "wu": "western_union"}


@_register("provider")
def provider(raw: str, ctx: Context) -> str:
    """A payment/report provider or channel as a lower-case token (``Western Union`` →
    ``western_union``; ``G-Cash`` → ``gcash``, ``Maya`` → ``paymaya``)."""
    token = _checked_token("provider", raw, raw)
    return _PROVIDER_ALIASES.get(token, token)


@_register("token")
def token(raw: str, ctx: Context) -> str:
    """A free-form category as a lower-case token."""
    return _checked_token("category", raw, raw)


@_register("ref")
def ref(raw: str, ctx: Context) -> str:
    """An evidence reference or id: trimmed, inner whitespace collapsed, case kept."""
    text = " ".join(raw.split())
    if not text:
        raise _fail("reference", raw, "empty")
    if not text.isprintable():
        raise _fail("reference", raw, "holds control characters")
    if _placeholder(text):
        raise _fail("reference", raw, "a placeholder, not a value")
    if "/" in text:
        text = text.replace("/", "-")
    return text


#: What evidence writes where a person has no address.
_NO_ADDRESS = frozenset({"no fixed address", "nfa", "no fixed abode", "homeless"})
#: Punctuation that does not tell two spellings of an address apart.
_ADDRESS_PUNCTUATION = re.compile(r"[,.;:#'\"()/]+")


@_register("address")
def address(raw: str, ctx: Context) -> str:
    """A postal address as a key: lower-case, punctuation and runs of spacing as one space.

    ``Blk 12 Lot 4, Mabini St.`` and ``BLK 12 LOT 4 MABINI ST`` are one address, written on
    one line or several; nothing else is guessed (``St``/``Street`` stay apart), since a wrong
    key merges two households.

    >>> address("Blk 12 Lot 4, Mabini St., Brgy. San Isidro", Context())
    'blk 12 lot 4 mabini st brgy san isidro'
    """
    if _placeholder(raw) or raw.strip().lower() in _NO_ADDRESS:
        raise _fail("address", raw, "a placeholder, not a value")
    text = " ".join(_ADDRESS_PUNCTUATION.sub(" ", raw).lower().split())
    if not any(ch.isalpha() for ch in text):
        raise _fail("address", raw, "empty" if not text else "no street or place name")
    return text


@_register("account_ref")
def account_ref(raw: str, ctx: Context) -> str:
    """A bank account, wallet or receiver number: separators dropped, upper-cased; or, for
    the e-wallets that name accounts by e-mail (PayPal, Wise), the address as :func:`email`
    keys it.

    >>> account_ref("Sam2005_91@Example.net", Context())
    'sam2005_91@example.net'
    """
    if "@" in raw:
        return email(raw, ctx)
    text = re.sub(r"[\s\-./]", "", raw.strip()).upper()
    if not re.fullmatch(r"\+?[A-Z0-9]+", text):
        raise _fail("account", raw, "empty" if not text else "not letters and digits")
    if _placeholder(raw):
        raise _fail("account", raw, "a placeholder, not a value")
    _card_like("account", text.lstrip("+"))
    return text


@_register("doc_number")
def doc_number(raw: str, ctx: Context) -> str:
    """An ID document number, separators dropped and upper-cased."""
    return account_ref(raw, ctx)


#: Active ISO 4217 codes (no XXX/XTS placeholders) and the crypto-assets victims are told to buy.
_CURRENCIES = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR
MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB
RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XCD XDR XOF XPD XPF XPT
YER ZAR ZMW ZWG ZWL BTC ETH USDT USDC
""".split())
_CURRENCY_SIGNS = {"$": "USD", "us$": "USD", "₱": "PHP", "£": "GBP", "€": "EUR", "a$": "AUD",
                   "s$": "SGD", "hk$": "HKD", "₩": "KRW", "rm": "MYR", "rp": "IDR"}


@_register("currency")
def currency(raw: str, ctx: Context) -> str:
    """ISO 4217 code, upper-cased (``$`` → USD, ``₱``/php → PHP, ``RM`` → MYR)."""
    text = raw.strip().lower()
    code = _CURRENCY_SIGNS.get(text, text.upper())
    if code not in _CURRENCIES:
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
    match_tokens: str = ""
    """The card's tokens under the operation keys given (:mod:`ringmap.graphs.tokens`)."""


#: Issuer ranges: brand, (first, last) prefix ranges and the lengths its numbers have.
_ISSUERS: tuple[tuple[str, tuple[tuple[str, str], ...], range], ...] = (
    ("amex", (("34", "34"), ("37", "37")), range(15, 16)),
    ("visa", (("4", "4"),), range(13, 20, 3)),
    ("mastercard", (("51", "55"), ("2221", "2720")), range(16, 17)),
    ("discover", (("6011", "6011"), ("644", "649"), ("65", "65")), range(16, 20)),
    ("jcb", (("3528", "3589"),), range(16, 20)),
    ("unionpay", (("62", "62"),), range(16, 20)),
    ("diners", (("300", "305"), ("36", "36"), ("38", "39")), range(14, 20)),
    ("mir", (("2200", "2204"),), range(16, 20)),
    ("maestro", (("5018", "5018"), ("5020", "5020"), ("5038", "5038"), ("5893", "5893"),
                 ("6304", "6304"), ("6759", "6759"), ("6761", "6763")), range(12, 20)),
)


def card_brand(digits: str) -> str | None:
    """The card brand whose issuer range and lengths fit ``digits``, or ``None``.

    >>> card_brand("4111111111111111"), card_brand("378282246310005"), card_brand("639171234567")
    ('visa', 'amex', None)
    """
    for brand, ranges, lengths in _ISSUERS:
        if len(digits) in lengths and any(low <= digits[:len(low)] <= high
                                          for low, high in ranges):
            return brand
    return None


def is_card_number(digits: str) -> bool:
    """Whether a digit string is a payment card number by shape: Luhn-valid, in a range.

    >>> is_card_number("4111111111111111"), is_card_number("490154203237518")
    (True, False)
    """
    return digits.isdigit() and luhn_valid(digits) and card_brand(digits) is not None


def mask_pan(digits: str) -> str:
    """A card number as it may be shown: BIN (first six) and last four digits.

    >>> mask_pan("4111111111111111")
    '411111******1111'
    """
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def card_fields(raw: str, key: bytes, operations: Mapping[str, bytes] | None = None
                ) -> CardFields:
    """Keyed hash, BIN, last four and brand of a card number (12-19 digits, Luhn-checked),
    and its match tokens under the ``operations``' keys (the only moment the number is known).

    >>> f = card_fields("4111 1111 1111 1111", b"k" * 16)
    >>> f.masked, f.brand, len(f.card_hash)
    ('411111******1111', 'visa', 32)
    """
    from ringmap.graphs.secrets import keyed_hash
    from ringmap.graphs.tokens import card_tokens

    digits = _digits(key_text(raw, "card number"))
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise NormalisationError("card number: expected 12-19 digits")
    if not luhn_valid(digits):
        # the number itself is never echoed, not even in an error message
        raise NormalisationError("card number: Luhn check digit is wrong")
    brand = card_brand(digits) or "other"
    return CardFields(
        card_hash=keyed_hash(key, "card", digits),
        bin=digits[:6],
        last4=digits[-4:],
        masked=mask_pan(digits),
        brand=brand,
        match_tokens=card_tokens(digits, operations or {}),
    )


_MASKED_CARD = re.compile(r"(?P<bin>\d*)[*xX•#]+(?P<last>\d*)")


def masked_card_fields(raw: str, key: bytes) -> CardFields:
    """What a masked card number shows (BIN and/or last four), keyed apart from full cards.

    Mask characters are ``*``, ``X``, ``•`` and ``#``; 12-19 positions, at least the BIN (six
    digits) or the last four shown. More digits than BIN and last four are masked too. The
    key is a keyed hash of the canonical masked form: the same masked card merges with
    itself, never with a full card.

    >>> f = masked_card_fields("XXXX-XXXX-XXXX-0838", b"k" * 16)
    >>> f.masked, f.bin, f.last4
    ('************0838', '', '0838')
    """
    from ringmap.graphs.secrets import keyed_hash

    compact = _digits(key_text(raw, "masked card"))
    found = _MASKED_CARD.fullmatch(compact)
    if found is None or not 12 <= len(compact) <= 19:
        raise NormalisationError("masked card: expected 12-19 digits and mask characters")
    bin_ = found["bin"][:6] if len(found["bin"]) >= 6 else ""
    last4 = found["last"][-4:] if len(found["last"]) >= 4 else ""
    if not bin_ and not last4:
        raise NormalisationError("masked card: shows neither the BIN nor the last four")
    masked = bin_ + "*" * (len(compact) - len(bin_) - len(last4)) + last4
    brand = card_brand(bin_ + "0" * (len(compact) - len(bin_))) if bin_ else None
    return CardFields(card_hash=keyed_hash(key, "masked-card", masked), bin=bin_, last4=last4,
                      masked=masked, brand=brand or "other")
