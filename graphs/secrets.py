"""The hashing key used for card numbers and victim pseudonyms, kept outside the store.

The key comes from ``RINGMAP_SECRET`` or, failing that, from a key file (``RINGMAP_KEY_FILE``,
default ``~/.config/ringmap/secret.key``) created with 32 random bytes on first use. It is never
printed or logged; only a short fingerprint of it may be shown.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from ringmap.errors import ConfigError

__all__ = ["fingerprint", "hmac_sha256", "key_file", "keyed_hash", "load_key", "read_key_file"]

_MIN_SECRET_CHARS = 16
_BLOCK = 64  # SHA-256's block size in bytes
_IPAD, _OPAD = bytes(x ^ 0x36 for x in range(256)), bytes(x ^ 0x5C for x in range(256))


def key_file() -> Path:
    """Where the key file is (``RINGMAP_KEY_FILE``, default ``~/.config/ringmap/secret.key``)."""
    configured = os.environ.get("RINGMAP_KEY_FILE")
    if configured:
        return Path(configured).expanduser()
    return Path("~/.config/ringmap/secret.key").expanduser()


def load_key() -> bytes:
    """The hashing key: ``RINGMAP_SECRET``, else the key file (created on first use)."""
    env = os.environ.get("RINGMAP_SECRET")
    if env is not None:
        if len(env) < _MIN_SECRET_CHARS:
            raise ConfigError(f"RINGMAP_SECRET must be at least {_MIN_SECRET_CHARS} characters")
        return env.encode()
    path = key_file()
    text = read_key_file(path)
    if len(text) < _MIN_SECRET_CHARS:
        raise ConfigError(f"key file {path} holds fewer than {_MIN_SECRET_CHARS} characters")
    return text.encode()


def read_key_file(path: Path) -> str:
    """The text of the key file ``path``, created with 32 random bytes (hex) and mode 0600
    on first use; the signing key (:mod:`ringmap.signing`) is kept the same way."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read or create the key file {path}: {exc.strerror}") from None


def hmac_sha256(key: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 under ``key`` (RFC 2104) as a function of the message, for a million
    messages under one key: the key's padded blocks are hashed once, where ``hmac.digest``
    sets the key up (and, under OpenSSL 3, looks the algorithm up) again for each message,
    about three times the work.

    >>> mac = hmac_sha256(b"k" * 32)
    >>> mac(b"message") == hmac.digest(b"k" * 32, b"message", "sha256")
    True
    """
    block = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
    block = block.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(block.translate(_IPAD))
    outer = hashlib.sha256(block.translate(_OPAD))

    def digest(message: bytes) -> bytes:
        first = inner.copy()
        first.update(message)
        second = outer.copy()
        second.update(first.digest())
        return second.digest()

    return digest


def keyed_hash(key: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under ``key``, separated per ``purpose``; 32 hex characters.

    >>> keyed_hash(b"k" * 16, "card", "4111111111111111") == keyed_hash(b"k" * 16, "card",
    ...     "4111111111111111")
    True
    """
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()[:32]


def fingerprint(key: bytes) -> str:
    """A short, non-reversible fingerprint of the key, safe to show to tell keys apart."""
    return hashlib.sha256(b"ringmap-fingerprint\x00" + key).hexdigest()[:8]
