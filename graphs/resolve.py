"""Turn what an analyst types into a node of the evidence graph.

Three spellings are understood:

- an exact node id, ``Phone:+639171234567`` or ``Account:facebook/juan.dc``;
- ``type:value`` with a raw value, ``phone:0917 123 4567``, ``imei:35-209900-176148-1``,
  ``card:4111 1111 1111 1111``, ``account:facebook/@Juan.DC``, ``person:AG-0001`` (any entity
  type name works too, its key values separated by ``/``);
- a bare value, read in turn as an email, IP address, profile URL, card number (12-19 digits,
  Luhn), IMEI (14-16 digits), ICCID (``89...``), phone number, ``SN:`` serial, and failing
  all of these as a person, location or exhibit reference or a handle on any platform of the
  case (``jack.taylor.74``, ``@jack.taylor.74``).

Every reading is looked up in the store; exactly one existing node is the answer. Card numbers
are hashed with the case key at once and never appear in a message, only their masked form.

>>> [r.node_id for r in readings("phone:0917 123 4567")]
['Phone:+639171234567']
>>> [r.node_id for r in readings("https://www.facebook.com/Juan.DC")]
['Account:facebook/juan.dc']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, replace

from ringmap.errors import NormalisationError, NotFound
from ringmap.graphs.model import Node
from ringmap.graphs.normalise import NORMALISERS, Context, card_fields, luhn_valid
from ringmap.graphs.schema import SCHEMA, node_id
from ringmap.graphs.secrets import load_key
from ringmap.graphs.store import Store
from ringmap.privacy import mask_field

__all__ = [
    "PlatformSource",
    "Reading",
    "describe",
    "lookup",
    "platforms_of",
    "readings",
    "resolve",
    "shown_input",
    "try_resolve",
]

KeySource = Callable[[], bytes]
#: The platforms a handle given without one may be on; asked only for such a handle.
PlatformSource = Callable[[], Iterable[str]]


def _no_platforms() -> Iterable[str]:
    return ()

#: ``type:`` prefixes (and watchlist ``type`` values) an analyst may use, by entity type.
TYPE_ALIASES: dict[str, str] = {
    "phone": "Phone", "tel": "Phone", "msisdn": "Phone", "number": "Phone",
    "imei": "Device", "device": "Device", "serial": "Device", "sn": "Device",
    "email": "Email", "mail": "Email",
    "card": "PaymentCard", "pan": "PaymentCard",
    "account": "Account", "handle": "Account",
    "ip": "IPAddress",
    "iccid": "SimCard", "sim": "SimCard",
    "person": "Person",
    **{name.lower(): name for name in SCHEMA.entities},
}

_REF_TYPES = ("Person", "Location", "Exhibit")
_SEPARATORS = re.compile(r"[\s\-./()]")
_PROFILE_URL = re.compile(
    r"^(?:https?://)?(?:www\.|m\.|mobile\.)?(?P<domain>facebook\.com|fb\.com|instagram\.com|"
    r"twitter\.com|x\.com|tiktok\.com|t\.me|snapchat\.com/add|kik\.me)/(?P<handle>\S+)$",
    re.IGNORECASE,
)
_URL_PLATFORMS = {
    "facebook.com": "facebook", "fb.com": "facebook", "instagram.com": "instagram",
    "twitter.com": "twitter", "x.com": "twitter", "tiktok.com": "tiktok", "t.me": "telegram",
    "snapchat.com/add": "snapchat", "kik.me": "kik",
}


@dataclass(frozen=True, slots=True)
class Reading:
    """One way to read the analyst's text: the node id it would have and how to show it.

    ``shown`` never holds a card number: cards are shown as ``PaymentCard:<masked>``.
    """

    type: str
    node_id: str
    shown: str


def _digits(text: str) -> str:
    return _SEPARATORS.sub("", text.strip())


def _pan_like(text: str) -> bool:
    digits = _digits(text)
    return digits.isdigit() and 12 <= len(digits) <= 19


def shown_input(text: str, type_name: str | None = None) -> str:
    """The analyst's text as it may be shown: card numbers masked by the one rule of
    :mod:`ringmap.privacy`; read as ``type_name``, an IMEI or ICCID stays what it is.

    >>> shown_input("card:4111 1111 1111 1111"), shown_input("0917 123 4567")
    ('card:411111******1111', '0917 123 4567')
    >>> shown_input("49-015420-323751-8", "Device")
    '49-015420-323751-8'
    """
    entity = SCHEMA.entities.get(type_name or "")
    return mask_field(text.strip(), entity.keys[0] if entity is not None else None)


def _reading(type_name: str, keys: list[str]) -> Reading:
    nid = node_id(type_name, keys)
    return Reading(type_name, nid, nid)


def _card(raw: str, key: KeySource) -> Reading:
    fields = card_fields(raw, key())
    return Reading("PaymentCard", node_id("PaymentCard", [fields.card_hash]),
                   f"PaymentCard:{fields.masked}")


def _on_platforms(raw: str, ctx: Context, platforms: PlatformSource) -> list[Reading]:
    """The handle ``raw`` on every platform of the case."""
    name = NORMALISERS["handle"](raw, ctx)
    return [_reading("Account", [p, name]) for p in sorted(set(platforms()))]


def _account(raw: str, ctx: Context, platforms: PlatformSource) -> list[Reading]:
    """``PLATFORM/HANDLE`` or a profile URL; a handle alone, on every platform of the case."""
    url = _PROFILE_URL.match(raw.strip())
    if url:
        platform = _URL_PLATFORMS[url["domain"].lower()]
        return [_reading("Account", [platform, NORMALISERS["handle"](raw, ctx)])]
    platform, sep, handle = raw.strip().partition("/")
    if sep:
        return [_reading("Account", [NORMALISERS["platform"](platform, ctx),
                                     NORMALISERS["handle"](handle, ctx)])]
    found = _on_platforms(raw, ctx, platforms)
    if not found:
        raise NormalisationError(
            f"handle {raw.strip()!r} needs a platform: write PLATFORM/HANDLE, "
            "e.g. facebook/juan.dc")
    return found


def _typed(type_name: str, raw: str, ctx: Context, key: KeySource,
           platforms: PlatformSource = _no_platforms) -> list[Reading]:
    """The readings of ``raw`` as an entity of ``type_name`` (one, except for a handle without
    its platform); the schema's key normalisers."""
    if type_name == "PaymentCard":
        return [_card(raw, key)]
    if type_name == "Account":
        return _account(raw, ctx, platforms)
    entity = SCHEMA.entity(type_name)
    parts = raw.split("/", len(entity.keys) - 1) if len(entity.keys) > 1 else [raw]
    if len(parts) != len(entity.keys):
        raise NormalisationError(
            f"{type_name} needs {len(entity.keys)} values separated by '/': "
            f"{'/'.join(entity.keys)}")
    keys: list[str] = []
    for name, part in zip(entity.keys, parts, strict=True):
        normaliser = entity.properties[name].normaliser
        value = NORMALISERS[normaliser](part, ctx) if normaliser else part.strip()
        if not value:
            raise NormalisationError(f"{type_name} {name} is empty")
        keys.append(value)
    return [_reading(type_name, keys)]


def _bare(text: str, ctx: Context, key: KeySource,
          platforms: PlatformSource) -> list[Reading]:
    """Every reading a bare value admits, in the order they are preferred."""
    attempts: list[Callable[[], list[Reading]]] = []
    digits = _digits(text.removeprefix("+"))
    if "@" in text and not text.startswith("@"):
        attempts.append(lambda: _typed("Email", text, ctx, key))
    elif text.startswith("@"):
        attempts.append(lambda: _account(text, ctx, platforms))
    attempts.append(lambda: _typed("IPAddress", text, ctx, key))
    if _PROFILE_URL.match(text):
        attempts.append(lambda: _account(text, ctx, platforms))
    if digits.isdigit():
        if not text.startswith("+") and 12 <= len(digits) <= 19 and luhn_valid(digits):
            attempts.append(lambda: [_card(text, key)])
        if 14 <= len(digits) <= 16:
            attempts.append(lambda: _typed("Device", text, ctx, key))
        if digits.startswith("89"):
            attempts.append(lambda: _typed("SimCard", text, ctx, key))
        attempts.append(lambda: _typed("Phone", text, ctx, key))
    elif text.upper().startswith("SN:"):
        attempts.append(lambda: _typed("Device", text, ctx, key))
    elif text.count("/") == 1 and not re.search(r"\s", text):
        attempts.append(lambda: _account(text, ctx, platforms))
    found: list[Reading] = []
    first_error: NormalisationError | None = None
    for attempt in attempts:
        try:
            read = attempt()
        except NormalisationError as exc:
            first_error = first_error or exc
            continue
        found.extend(reading for reading in read if reading not in found)
    if not found and "@" not in text:  # no identifier shape: a reference, or a bare handle
        found = [r for t in _REF_TYPES for r in _typed(t, text, ctx, key)]
        with suppress(NormalisationError):  # a reference need not be a valid handle
            found += _on_platforms(text, ctx, platforms)
    if not found:
        if text.startswith("@") and first_error is not None:
            raise first_error
        raise NormalisationError(
            f"cannot read {shown_input(text)!r} as an identifier (email, IP, card, IMEI, "
            "ICCID, phone, PLATFORM/HANDLE, reference); write TYPE:VALUE, e.g. phone:0917...")
    return found


def readings(
    text: str,
    type_name: str | None = None,
    default_region: str = "PH",
    key: KeySource = load_key,
    platforms: PlatformSource = _no_platforms,
) -> list[Reading]:
    """Every node id ``text`` may stand for, the preferred reading first.

    Parameters
    ----------
    text
        What the analyst typed: a node id, ``type:value`` or a bare value.
    type_name
        A type alias or entity type (``phone``, ``handle``, ``Device``...) given separately,
        as in a watchlist's ``type`` column; then ``text`` is the raw value.
    default_region
        Region in which national phone numbers are read.
    key
        Where the card-hashing key comes from; called only for card numbers.
    platforms
        The platforms of the case (see :func:`platforms_of`); called only for a handle given
        without its platform, which is then read on each of them.

    Raises
    ------
    NormalisationError
        If the value cannot be read as the given type, or as any identifier at all.
    """
    try:
        return _readings(text.strip(), type_name, Context(default_region=default_region), key,
                         platforms)
    except NormalisationError as exc:  # a normaliser may echo its input: mask card-like runs
        raise NormalisationError(shown_input(str(exc))) from None


def describe(found: list[Reading], hide_digits: bool | None = None) -> str:
    """The readings as text for a message.

    When the text could be a card number (``hide_digits``, by default: when one reading is a
    card) the other readings show their type only: their keys are made of the same digits.
    """
    if hide_digits is None:
        hide_digits = any(r.type == "PaymentCard" for r in found)
    if not hide_digits:
        return ", ".join(r.shown for r in found)
    return ", ".join(r.shown if r.type == "PaymentCard" else r.type for r in found)


def _readings(text: str, type_name: str | None, ctx: Context, key: KeySource,
              platforms: PlatformSource) -> list[Reading]:
    if not text:
        raise NormalisationError("empty identifier")
    if type_name is not None and type_name.strip():
        alias = type_name.strip().lower()
        if alias not in TYPE_ALIASES:
            raise NormalisationError(
                f"unknown identifier type {type_name.strip()!r} (use phone, handle, email, "
                "card, imei, iccid, ip, person or an entity type name)")
        return _typed(TYPE_ALIASES[alias], text, ctx, key, platforms)
    prefix, sep, value = text.partition(":")
    if sep and prefix in SCHEMA.entities and not _pan_like(value):
        exact = Reading(prefix, text, text)
        try:
            typed = _typed(prefix, value, ctx, key, platforms)
        except NormalisationError:
            return [exact]
        return [exact, *(reading for reading in typed if reading != exact)]
    if sep and prefix.lower() in TYPE_ALIASES:
        return _typed(TYPE_ALIASES[prefix.lower()], value, ctx, key, platforms)
    return _bare(text, ctx, key, platforms)


def platforms_of(store: Store) -> PlatformSource:
    """The platforms of the store's accounts, read when first asked for."""
    return lambda: {str(node.props["platform"]) for node in store.nodes(["Account"])}


def lookup(
    get: Callable[[str], Node | None],
    found: list[Reading],
    public_id: Callable[[str], str] | None = None,
) -> Node | None:
    """The one node among ``found`` that exists (``get`` fetches by id), or ``None``.

    ``public_id`` shows a candidate of an ambiguous text as an export may (a victim's account
    under its pseudonym, see :meth:`ringmap.privacy.Privacy.public_id`).

    Raises
    ------
    NotFound
        If more than one reading names an existing node: the text is ambiguous; the message
        lists every candidate.
    """
    hits: list[tuple[Reading, Node]] = []
    for reading in found:
        node = get(reading.node_id)
        if node is not None and all(node.id != hit.id for _, hit in hits):
            hits.append((reading, node))
    if len(hits) > 1:
        candidates = [r for r, _ in hits]
        if public_id is not None:
            candidates = [r if public_id(r.node_id) == r.node_id
                          else replace(r, shown=public_id(r.node_id)) for r in candidates]
        raise NotFound(
            "ambiguous: matches " + describe(candidates)
            + "; prefix a type (phone:, imei:, card:, ...) or give the node id")
    return hits[0][1] if hits else None


def try_resolve(
    store: Store,
    text: str,
    type_name: str | None = None,
    default_region: str = "PH",
    key: KeySource = load_key,
) -> Node | None:
    """The node ``text`` names, or ``None`` if it is a valid identifier the case lacks.

    Raises
    ------
    NormalisationError
        If ``text`` cannot be read as an identifier.
    NotFound
        If ``text`` is ambiguous (several existing nodes match).
    """
    return lookup(store.get, readings(text, type_name, default_region, key,
                                      platforms_of(store)))


def resolve(store: Store, text: str, default_region: str = "PH") -> Node:
    """The node ``text`` names.

    Parameters
    ----------
    store
        The case.
    text
        A node id (``Phone:+639171234567``), ``type:value`` (``phone:0917 123 4567``,
        ``card:4111 1111 1111 1111``) or a bare value (``juan.dc@gmail.com``, or a handle
        alone, ``juan.dc``, looked for on every platform of the case).
    default_region
        Region in which national phone numbers are read.

    Raises
    ------
    NotFound
        If no node matches (the message lists what was looked for, cards masked) or
        several do.
    NormalisationError
        If ``text`` cannot be read as an identifier.
    """
    found = readings(text, None, default_region, platforms=platforms_of(store))
    node = lookup(store.get, found)
    if node is None:
        cards = any(r.type == "PaymentCard" for r in found)
        shown = shown_input(text, None if cards else found[0].type)
        raise NotFound(f"no entity {shown!r} in this case (looked for {describe(found)})")
    return node
