"""Operation keys and the keyed tokens agencies exchange to match identifiers without sending them.

Agencies working one operation agree on an *operation key* out of band (a courier, a call, a
key ceremony: never the channel the packages travel on). A token is HMAC-SHA256 of an
identifier's type and normalised value under that key, truncated to 128 bits: equal identifiers
give equal tokens at every agency holding the key, and nobody without it can tell what a token
stands for. The key is never the case hashing key (:mod:`ringmap.graphs.secrets`), which stays
with one agency; it is never printed or logged, only its fingerprint
(:func:`~ringmap.graphs.secrets.fingerprint`).

An operation ``NAME``'s key is ``RINGMAP_OPERATION_KEY_<NAME>`` (at least 32 characters) or,
failing that, the file ``operations/<name>.key`` beside the hashing key file (or in
``RINGMAP_OPERATION_KEYS_DIR``), which must be private to its owner (mode 0600). Unlike the
hashing key it is never created on first use: a key of one's own matches nobody.

Card numbers are never stored, so a card's token is made at ingest, when its number is read:
for every operation key configured then (:func:`operation_keys`), the card's token goes into the
card's ``match_tokens`` property beside its case-keyed hash.

>>> key = b"k" * 32
>>> token(key, "phone", "+639171234567") == token(key, "phone", "+639171234567")
True
>>> token(key, "phone", "+639171234567") == token(key, "email", "+639171234567")
False
>>> len(token(key, "card", "4111111111111111"))
32
>>> card_tokens("4111111111111111", {"STRIKEBACK": key}).endswith(
...     ":" + token(key, "card", "4111111111111111"))
True
"""

from __future__ import annotations

import hmac
import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

from ringmap.errors import ConfigError
from ringmap.graphs.secrets import fingerprint, hmac_sha256, key_file, load_key

__all__ = ["ENV_PREFIX", "TOKEN_TYPES", "card_tokens", "operation_key", "operation_key_file",
           "operation_keys", "operation_name", "token", "tokenizer", "tokens_of_card"]

ENV_PREFIX = "RINGMAP_OPERATION_KEY_"
#: identifier types a match package may carry, and the entity type each comes from
TOKEN_TYPES: dict[str, str] = {"phone": "Phone", "handle": "Account", "email": "Email",
                               "imei": "Device", "iccid": "SimCard", "card": "PaymentCard",
                               "wallet": "FinancialAccount"}
_MIN_KEY_CHARS = 32
_NAME = re.compile(r"[A-Z0-9][A-Z0-9_]{0,63}")
_DOMAIN = b"ringmap-match/1\x00"
_TOKEN_BYTES = 16


def operation_name(name: str) -> str:
    """An operation's name as keys are filed under it: upper case, ``-`` and spaces as ``_``.

    >>> operation_name("strike-back 2")
    'STRIKE_BACK_2'
    """
    shown = re.sub(r"[\s-]+", "_", name.strip()).upper()
    if not _NAME.fullmatch(shown):
        raise ConfigError("an operation name is 1-64 letters, digits, '_' or '-'")
    return shown


def _key_dir() -> Path:
    configured = os.environ.get("RINGMAP_OPERATION_KEYS_DIR")
    return Path(configured).expanduser() if configured else key_file().parent / "operations"


def operation_key_file(name: str) -> Path:
    """Where the key file of operation ``name`` is looked for."""
    return _key_dir() / f"{operation_name(name).lower()}.key"


def _checked(text: str, source: str) -> bytes:
    key = text.strip().encode()
    if len(key) < _MIN_KEY_CHARS:
        raise ConfigError(f"{source} must hold at least {_MIN_KEY_CHARS} characters "
                          "(e.g. `openssl rand -hex 32`)")
    if hmac.compare_digest(key, load_key()):
        raise ConfigError(f"{source} is the case hashing key; an operation key is another "
                          "key, agreed with the partner agencies")
    return key


def operation_key(name: str) -> bytes:
    """The key of operation ``name``: ``RINGMAP_OPERATION_KEY_<NAME>``, else its key file
    (:func:`operation_key_file`, mode 0600); :class:`ConfigError` if neither is set up."""
    shown = operation_name(name)
    env = os.environ.get(ENV_PREFIX + shown)
    if env is not None:
        return _checked(env, ENV_PREFIX + shown)
    path = operation_key_file(shown)
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"the operation key file {path} is readable by others; "
                              f"chmod 600 it")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no key for operation {shown}: set {ENV_PREFIX}{shown} or write "
                          f"the key agreed with the partners into {path} (mode 0600)") from None
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"cannot read the operation key file {path}") from None
    return _checked(text, f"the operation key file {path}")


def operation_keys() -> dict[str, bytes]:
    """Every operation key configured (environment and key files), by operation name."""
    names = {k.removeprefix(ENV_PREFIX) for k in os.environ if k.startswith(ENV_PREFIX)}
    folder = _key_dir()
    if folder.is_dir():
        names |= {p.stem.upper() for p in folder.glob("*.key")}
    return {name: operation_key(name) for name in sorted(names) if _NAME.fullmatch(name)}


def token(key: bytes, kind: str, value: str) -> str:
    """The token of the identifier ``value`` of type ``kind`` under an operation key:
    HMAC-SHA256 of both, its first 128 bits as 32 hex characters."""
    return tokenizer(key)(kind, value)


def tokenizer(key: bytes) -> Callable[[str, str], str]:
    """:func:`token` under one operation key as a function of ``(kind, value)``: for the
    many identifiers of a package, the key set up once
    (:func:`~ringmap.graphs.secrets.hmac_sha256`).

    >>> tokenizer(b"k" * 32)("phone", "+639171234567") == token(b"k" * 32, "phone",
    ...                                                        "+639171234567")
    True
    """
    mac = hmac_sha256(key)

    def make(kind: str, value: str) -> str:
        return mac(_DOMAIN + kind.encode() + b"\x00" + value.encode())[:_TOKEN_BYTES].hex()

    return make


def card_tokens(digits: str, keys: Mapping[str, bytes]) -> str:
    """A card's ``match_tokens`` property: ``NAME=fingerprint:token`` per operation key,
    space apart (empty when no key is configured). The key's fingerprint tells, when the
    package is made, whether the token was made under the key configured then."""
    return " ".join(f"{name}={fingerprint(keys[name])}:{token(keys[name], 'card', digits)}"
                    for name in sorted(keys))


def tokens_of_card(match_tokens: object, operation: str, key: bytes) -> str | None:
    """The token a card's ``match_tokens`` property holds for ``operation``, if it was made
    under ``key`` (a card tokenised under another key must not match as if under this one).

    >>> stored = card_tokens("4111111111111111", {"OP": b"k" * 32})
    >>> tokens_of_card(stored, "OP", b"k" * 32) == token(b"k" * 32, "card", "4111111111111111")
    True
    >>> tokens_of_card(stored, "OP", b"x" * 32), tokens_of_card(None, "OP", b"k" * 32)
    (None, None)
    """
    if not isinstance(match_tokens, str):
        return None
    for part in match_tokens.split():
        name, _, stated = part.partition("=")
        made_under, _, found = stated.partition(":")
        if name == operation and made_under == fingerprint(key):
            return found
    return None
