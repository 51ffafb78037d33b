"""Ed25519 signatures on what ringmap hands over, and the signing key kept beside the hashing key.

The private key is a 32-byte Ed25519 seed: ``RINGMAP_SIGNING_KEY`` (64 hex characters) or,
failing that, a key file (``RINGMAP_SIGNING_KEY_FILE``, default ``signing.key`` in the folder of
the hashing key file, :func:`ringmap.graphs.secrets.key_file`) created on first use with mode
0600. Like the hashing key it is never printed, logged or written into a package; a package
carries the public key (PEM) and the signature. A public key is named by its
:func:`fingerprint`, which a recipient compares with the one the sender gave them by another
channel: anyone can sign a package with a key of their own, so a valid signature says who
signed only once the key is known to be the sender's.

>>> key = signing_key_from_hex("11" * 32)
>>> public = key.public_key()
>>> signature = key.sign(b"manifest")
>>> signature_valid(public, signature, b"manifest"), signature_valid(public, signature, b"x")
(True, False)
>>> fingerprint(read_public_key(public_key_pem(public))) == fingerprint(public)
True
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ringmap.errors import ConfigError
from ringmap.graphs.secrets import key_file, read_key_file

__all__ = ["expected_fingerprint", "fingerprint", "load_signing_key", "public_key_pem",
           "read_public_key", "signature_valid", "signing_key_file", "signing_key_from_hex"]

_SEED_HEX = re.compile(r"[0-9a-fA-F]{64}")
_FINGERPRINT_HEX = 32
_FINGERPRINT = re.compile(rf"[0-9a-f]{{{_FINGERPRINT_HEX}}}")


def signing_key_file() -> Path:
    """Where the signing key file is: ``RINGMAP_SIGNING_KEY_FILE``, else ``signing.key`` beside
    the hashing key file."""
    configured = os.environ.get("RINGMAP_SIGNING_KEY_FILE")
    if configured:
        return Path(configured).expanduser()
    return key_file().with_name("signing.key")


def signing_key_from_hex(seed: str, source: str = "a signing key") -> Ed25519PrivateKey:
    """The private key of a 32-byte seed written as 64 hex characters; the error names
    ``source``, never the text."""
    if not _SEED_HEX.fullmatch(seed.strip()):
        raise ConfigError(f"{source} must hold 64 hex characters (an Ed25519 seed)")
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed.strip()))


def load_signing_key() -> Ed25519PrivateKey:
    """The signing key: ``RINGMAP_SIGNING_KEY``, else the key file (created on first use)."""
    env = os.environ.get("RINGMAP_SIGNING_KEY")
    if env is not None:
        return signing_key_from_hex(env, "RINGMAP_SIGNING_KEY")
    path = signing_key_file()
    return signing_key_from_hex(read_key_file(path), f"the signing key file {path}")


def public_key_pem(public: Ed25519PublicKey) -> bytes:
    """The public key as PEM (SubjectPublicKeyInfo, as ``openssl pkey -pubin`` reads it)."""
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def read_public_key(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; :class:`ConfigError` if it is not one."""
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ConfigError("not a PEM public key") from None
    if not isinstance(public, Ed25519PublicKey):
        raise ConfigError("not an Ed25519 public key")
    return public


def fingerprint(public: Ed25519PublicKey) -> str:
    """The key's name to compare by another channel: the first 32 hex characters (128 bits)
    of the SHA-256 of its raw 32 bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:_FINGERPRINT_HEX]


def expected_fingerprint(key: str) -> str:
    """The fingerprint a user expects, given as a public key file (``.pub``, PEM) or as the
    fingerprint itself (case, spaces and colons ignored).

    >>> expected_fingerprint("9F86 D081:884C7D65 9A2FEAA0 C55AD015")
    '9f86d081884c7d659a2feaa0c55ad015'
    """
    path = Path(key).expanduser()
    if path.is_file():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the key file {key}: {exc.strerror}") from None
        try:
            return fingerprint(read_public_key(data))
        except ConfigError as exc:
            raise ConfigError(f"{key} is {exc}") from None
    shown = re.sub(r"[\s:]", "", key).lower()
    if not _FINGERPRINT.fullmatch(shown):
        raise ConfigError(f"--key must be a public key file or a fingerprint of "
                          f"{_FINGERPRINT_HEX} hex characters")
    return shown


def signature_valid(public: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is ``public``'s signature of ``data``."""
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True
