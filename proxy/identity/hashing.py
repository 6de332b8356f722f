"""How secrets are stored: never in the clear, only as a hash that cannot be reversed.

Every secret we mint has at least 256 bits of randomness, so a fast hash suffices (no KDF): guessing is
hopeless either way. Long-lived secrets (API keys, client secrets) also mix in a server-side pepper, so a
copy of the store alone is useless for testing guesses; short-lived one-time handles (authorization codes,
refresh tokens) use a plain SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import os

__all__ = ["MIN_PEPPER_BYTES", "Fingerprinter", "KeyedHasher", "check_pepper", "handle_hash"]

MIN_PEPPER_BYTES = 16  # as the config requires of `secrets.key_pepper`


def check_pepper(pepper: bytes) -> bytes:
    """Return the pepper if it is long enough to be a real secret, else raise ValueError."""
    if not isinstance(pepper, bytes) or len(pepper) < MIN_PEPPER_BYTES:
        raise ValueError(f"the pepper must be at least {MIN_PEPPER_BYTES} random bytes")
    return pepper


class KeyedHasher:
    """HMAC-SHA-256 of secrets under one pepper, as hex. The HMAC keyed with the pepper is set up once
    and copied for each secret: a third cheaper than keying a new one each time."""

    __slots__ = ("_keyed",)

    def __init__(self, pepper: bytes) -> None:
        self._keyed = hmac.new(pepper, digestmod=hashlib.sha256)

    def hexdigest(self, secret: str) -> str:
        mac = self._keyed.copy()
        mac.update(secret.encode())
        return mac.hexdigest()


class Fingerprinter:
    """A keyed BLAKE2b of secrets under a random key of this process: how the secrets already looked up
    are remembered in memory (never stored, meaningless to any other process).

    Not the stored hash: stores index HMAC-SHA-256 under the pepper, which must stay stable. Where a
    secret is checked on every request, its fingerprint finds the remembered record at a third of the
    HMAC's cost (BLAKE2 is built into hashlib; every HMAC copy goes through OpenSSL), and the HMAC is
    only worked out on a miss.
    """

    __slots__ = ("_keyed",)

    def __init__(self) -> None:
        self._keyed = hashlib.blake2b(key=os.urandom(32), digest_size=32)

    def digest(self, secret: str) -> bytes:
        fingerprint = self._keyed.copy()
        fingerprint.update(secret.encode())
        return fingerprint.digest()


def handle_hash(handle: str) -> str:
    """SHA-256 of a one-time handle (authorization code, refresh token), as hex."""
    return hashlib.sha256(handle.encode()).hexdigest()
