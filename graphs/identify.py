"""Identifiers recognised by their shape: one value, which entity it is.

Evidence often puts several kinds of identifier in one column (an exhibit log's identifier, a
payout column holding a card, a masked card or an e-wallet). :func:`identify` reads such a
value as exactly one kind, tried in this order (the first that fits wins):

1. e-mail: ``mailto:`` or ``local@domain.tld``
2. IP address: IPv4 or IPv6, with or without port
3. platform handle: a profile URL, or a known platform before ``:`` or ``/``
   (``snapchat:jack.t``, ``fb/juan.dc``); Skype's ``live:`` ids are kept whole
4. e-wallet: a known wallet provider before the number (``GCASH-09171234567``)
5. a type prefix: ``tel:``/``msisdn:`` (phone), ``imei:``, ``imsi:``, ``iccid:``,
   ``sn:``/``s/n:`` (a device serial number)
6. masked card: digits with ``*``, ``X``, ``•`` or ``#`` masking, 12-19 positions, at least
   four digits shown (``************0838``, ``4111 11XX XXXX 1111``)
7. digits (spaces, dashes, dots and brackets ignored):

   a. starting with ``+`` or ``00``: a phone number
   b. 18-20 digits starting ``89``, Luhn-valid: an ICCID
   c. Luhn-valid in a card issuer's range and length: a payment card
   d. 15 digits, Luhn-valid: an IMEI
   e. 14-15 digits starting with a mobile country code (2-7): an IMSI
   f. otherwise: a phone number, valid in the region given (the row's or the default)

Card before phone, IMEI and IMSI: a card number must never be kept in clear, so a value that is
a card number by shape is one, and is kept only as a keyed hash with BIN and last four. Write
international phone numbers with ``+`` to be sure they read as phones. An IMSI that happens to
pass the Luhn check (one in ten) reads as an IMEI; prefix it with ``imsi:`` or map such a column
typed. A masked card keeps its BIN and last four as a weak, partial identifier: its key is a
keyed hash of the masked form, so it never merges with a full card by itself.

No message here quotes the value: it may be a card number.

>>> from ringmap.graphs.normalise import Context
>>> key = lambda: b"k" * 16
>>> [identify(v, Context("PH"), key).kind for v in
...  ["GCASH-09171234567", "snapchat:jack.t", "************0838", "0917 123 4567"]]
['wallet', 'handle', 'masked_card', 'phone']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from ringmap.errors import NormalisationError
from ringmap.graphs.normalise import (
    NORMALISERS,
    Context,
    card_fields,
    is_card_number,
    luhn_valid,
    masked_card_fields,
)

__all__ = ["KINDS", "KIND_TYPES", "WALLET_PROVIDERS", "Identified", "Kind", "identify"]

Kind = Literal["email", "ip", "handle", "wallet", "phone", "imei", "imsi", "iccid", "serial",
               "card", "masked_card"]
#: Every kind, in the order of the documented precedence.
KINDS: tuple[Kind, ...] = get_args(Kind)
#: The entity type each kind becomes; an IMSI alone names no node (a SIM is keyed by ICCID).
KIND_TYPES: dict[Kind, str | None] = {
    "email": "Email", "ip": "IPAddress", "handle": "Account", "wallet": "FinancialAccount",
    "phone": "Phone", "imei": "Device", "imsi": None, "iccid": "SimCard", "serial": "Device",
    "card": "PaymentCard", "masked_card": "PaymentCard",
}
#: E-wallet providers recognised before a number, as the provider normaliser spells them.
WALLET_PROVIDERS = ("gcash", "paymaya", "coins.ph", "grabpay", "shopeepay", "palawanpay")
#: Their spellings in evidence (the provider normaliser folds each onto its provider).
_WALLET_SPELLINGS = ("g-cash", "g cash", "maya", "coins", *WALLET_PROVIDERS)
_PLATFORMS = frozenset({
    "facebook", "instagram", "twitter", "tiktok", "telegram", "snapchat", "kik", "skype",
    "whatsapp", "line", "viber", "wechat", "yahoo", "tagged", "badoo", "tinder", "grindr",
    "omegle", "discord", "reddit", "youtube", "signal", "hangouts", "imo", "bigo", "zalo",
})

KeySource = Callable[[], bytes]


@dataclass(frozen=True, slots=True)
class Identified:
    """What a value is: its kind, entity type and normalised properties (keys included)."""

    kind: Kind
    type: str | None
    props: dict[str, Any]


def _is(kind: Kind, /, **props: Any) -> Identified:
    return Identified(kind, KIND_TYPES[kind], props)


def _fail(reason: str) -> NormalisationError:
    return NormalisationError(f"identifier: {reason}", f"identifier: {reason}")


_URL = re.compile(
    r"^(?:https?://)?(?:www\.|m\.|mobile\.)?(?P<domain>facebook\.com|fb\.com|instagram\.com|"
    r"twitter\.com|x\.com|tiktok\.com|t\.me|snapchat\.com/add|kik\.me)/(?P<handle>[^/?#\s]+)",
    re.IGNORECASE)
_URL_PLATFORMS = {"facebook.com": "facebook", "fb.com": "facebook", "instagram.com": "instagram",
                  "twitter.com": "twitter", "x.com": "twitter", "tiktok.com": "tiktok",
                  "t.me": "telegram", "snapchat.com/add": "snapchat", "kik.me": "kik"}
_PREFIXED = re.compile(r"^(?P<prefix>[^\W\d_][\w .&-]*?)\s*[:/]\s*(?P<rest>\S.*)$")
_WALLET = re.compile(
    r"^(?P<provider>" + "|".join(re.escape(p) for p in _WALLET_SPELLINGS)
    + r")[\s:#_/-]*(?P<number>\+?\d[\d\s.-]{5,}\d)$", re.IGNORECASE)
_TYPED: dict[str, Kind] = {"tel": "phone", "msisdn": "phone", "imei": "imei", "imsi": "imsi",
                           "iccid": "iccid", "sn": "serial", "s/n": "serial"}
_TYPED_PREFIX = re.compile(r"^(?P<prefix>tel|msisdn|imei|imsi|iccid|s/?n)\s*:\s*(?P<rest>.+)$",
                           re.IGNORECASE)
_MASKED = re.compile(r"^(?P<bin>\d*)[*xX•#]{2,}(?P<last>\d*)$")
_SEPARATORS = re.compile(r"[\s\-./()]")
_EMAIL_SHAPE = re.compile(r"^[^\s/:@]+@[^\s@]+$")


def identify(raw: str, ctx: Context, key: KeySource) -> Identified:
    """The one kind of identifier ``raw`` is, by shape (precedence in the module docstring).

    Parameters
    ----------
    raw
        The value as found in evidence.
    ctx
        The region in which national phone numbers are read.
    key
        Where the card-hashing key comes from; called only for card numbers.

    Raises
    ------
    NormalisationError
        If the value is no identifier of any kind, or fails the checks of the kind its shape
        says (a phone number not valid in the region); the message never quotes the value.
    """
    text = raw.strip()
    if not text:
        raise _fail("empty")
    try:
        return _identify(text, ctx, key)
    except NormalisationError as exc:
        if exc.reason.startswith("identifier:"):
            raise
        raise _fail(exc.reason) from None


def _identify(text: str, ctx: Context, key: KeySource) -> Identified:
    lowered = text.lower()
    if lowered.startswith("mailto:") or _EMAIL_SHAPE.match(text):
        return _is("email", address=NORMALISERS["email"](text, ctx))
    address = _ip(text)
    if address is not None:
        return _is("ip", address=address)
    url = _URL.match(text)
    if url:
        return _is("handle", platform=_URL_PLATFORMS[url["domain"].lower()],
                   handle=NORMALISERS["handle"](url["handle"], ctx))
    typed = _TYPED_PREFIX.match(text)
    if typed:
        return _typed(_TYPED[typed["prefix"].lower()], typed["rest"], ctx, key)
    if lowered.startswith("live:"):
        return _is("handle", platform="skype", handle=NORMALISERS["handle"](text, ctx))
    wallet = _WALLET.match(text)
    if wallet:
        return _is("wallet", provider=NORMALISERS["provider"](wallet["provider"], ctx),
                   account_id=NORMALISERS["account_ref"](wallet["number"], ctx),
                   kind="e-wallet")
    prefixed = _PREFIXED.match(text)
    if prefixed:
        platform = _platform(prefixed["prefix"], ctx)
        if platform is not None:
            return _is("handle", platform=platform,
                       handle=NORMALISERS["handle"](prefixed["rest"], ctx))
    compact = _SEPARATORS.sub("", text)
    masked = _MASKED.match(compact)
    if masked:
        return _masked(compact, key)
    return _digits(text, compact, ctx, key)


def _ip(text: str) -> str | None:
    if not re.fullmatch(r"[\[\]0-9a-fA-F:.]+", text) or text.count(".") not in (0, 3):
        return None
    try:
        return NORMALISERS["ip"](text, Context())
    except NormalisationError:
        return None


def _platform(prefix: str, ctx: Context) -> str | None:
    try:
        name = NORMALISERS["platform"](prefix, ctx)
    except NormalisationError:
        return None
    return name if name in _PLATFORMS else None


def _typed(kind: Kind, rest: str, ctx: Context, key: KeySource) -> Identified:
    """A value whose prefix says its kind; a card number by shape is still a card."""
    digits = _SEPARATORS.sub("", rest)
    if kind != "phone" and is_card_number(digits):
        return _card(digits, key)
    if kind == "phone":
        return _is("phone", number=NORMALISERS["phone"](rest, ctx))
    if kind == "imsi":
        return _is("imsi", imsi=NORMALISERS["imsi"](rest, ctx))
    if kind == "iccid":
        return _is("iccid", iccid=NORMALISERS["iccid"](rest, ctx))
    if kind == "imei":
        return _is("imei", device_id=NORMALISERS["imei"](rest, ctx))
    return _is("serial", device_id=NORMALISERS["device_id"]("SN:" + rest.strip(), ctx))


def _card(digits: str, key: KeySource) -> Identified:
    fields = card_fields(digits, key())
    return _is("card", card_hash=fields.card_hash, bin=fields.bin, last4=fields.last4,
               masked=fields.masked, brand=fields.brand)


def _masked(compact: str, key: KeySource) -> Identified:
    fields = masked_card_fields(compact, key())
    props: dict[str, Any] = {"card_hash": fields.card_hash, "masked": fields.masked,
                             "brand": fields.brand, "partial": True}
    props.update({name: value for name in ("bin", "last4")
                  if (value := getattr(fields, name))})
    return Identified("masked_card", "PaymentCard", props)


def _digits(text: str, compact: str, ctx: Context, key: KeySource) -> Identified:
    number = compact.removeprefix("+")
    if not number.isdigit():
        raise _fail("not a recognisable identifier (e-mail, IP, PLATFORM:HANDLE, wallet, "
                    "card, IMEI, ICCID, IMSI or phone)")
    if compact.startswith("+") or number.startswith("00"):
        return _is("phone", number=NORMALISERS["phone"](text, ctx))
    if 18 <= len(number) <= 20 and number.startswith("89") and luhn_valid(number):
        return _is("iccid", iccid=NORMALISERS["iccid"](number, ctx))
    if is_card_number(number):
        return _card(number, key)
    if len(number) == 15 and luhn_valid(number):
        return _is("imei", device_id=number)
    if 14 <= len(number) <= 15 and number[0] in "234567":
        return _is("imsi", imsi=number)
    return _is("phone", number=NORMALISERS["phone"](text, ctx))
