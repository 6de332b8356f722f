"""The token-signing keys: ES256 key pairs kept in the store, shared by every replica.

Every key in the store that is not retired is trusted for verification, and the newest one signs. So two
replicas that each create a first key at the same moment still accept each other's tokens: a token
whose `kid` we have not seen makes us re-read the store (at most once per `reload_cooldown`, so random
kids cannot hammer it). Retiring a key ends both its signing and its tokens.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from proxy.stores.base import Store
from proxy.stores.records import SigningKeyRecord

__all__ = ["ALGORITHM", "KeyRing", "SigningKey"]

ALGORITHM = "ES256"


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    created_at: float
    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()


def _load(record: SigningKeyRecord) -> SigningKey:
    key = serialization.load_pem_private_key(record.private_pem.encode(), password=None)
    if (
        record.algorithm != ALGORITHM
        or not isinstance(key, ec.EllipticCurvePrivateKey)
        or not isinstance(key.curve, ec.SECP256R1)
    ):
        raise ValueError(f"signing key {record.kid} is not an {ALGORITHM} key")
    return SigningKey(record.kid, record.created_at, key)


class KeyRing:
    """The live signing keys, loaded from the store and refreshed now and then.

    `refresh_seconds` bounds how long a replica keeps signing with a key another replica rotated away
    from or retired; `reload_cooldown` bounds store reads caused by unknown kids.
    """

    def __init__(
        self,
        store: Store,
        *,
        refresh_seconds: float = 300.0,
        reload_cooldown: float = 10.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._refresh = refresh_seconds
        self._cooldown = reload_cooldown
        self._clock = clock
        self._monotonic = monotonic
        self._keys: dict[str, SigningKey] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def signing_key(self) -> SigningKey:
        """The newest live key, creating the first one when the store has none."""
        async with self._lock:
            if self._stale(self._refresh):
                await self._read()
            if not self._keys:
                await self._add_key()
        return max(self._keys.values(), key=lambda key: (key.created_at, key.kid))

    async def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        """The verification key for `kid`, re-reading the store for an unknown kid unless read just now."""
        key = self._keys.get(kid)
        if key is None and await self._load_if_older(self._cooldown):
            key = self._keys.get(kid)
        return None if key is None else key.public_key

    async def load(self) -> None:
        """Re-read every live key from the store."""
        async with self._lock:
            await self._read()

    async def rotate(self) -> str:
        """Add a new key that signs from now on; older keys keep verifying until retired."""
        async with self._lock:
            return await self._add_key()

    async def retire(self, kid: str) -> bool:
        """Stop trusting a key at all: tokens it signed fail from the next reload on every replica."""
        async with self._lock:
            retired = await self._store.retire_signing_key(kid, self._clock())
            await self._read()
        return retired

    async def jwks(self) -> dict[str, Any]:
        """The public JWK Set of every live key (RFC 7517), for `/.well-known/jwks.json`."""
        await self._load_if_older(self._refresh)
        keys = []
        for key in sorted(self._keys.values(), key=lambda key: (key.created_at, key.kid)):
            jwk = ECAlgorithm.to_jwk(key.public_key, as_dict=True)
            keys.append({**jwk, "kid": key.kid, "alg": ALGORITHM, "use": "sig"})
        return {"keys": keys}

    async def _load_if_older(self, seconds: float) -> bool:
        """Reload unless loaded less than `seconds` ago; concurrent callers share one store read."""
        async with self._lock:
            if not self._stale(seconds):
                return False
            await self._read()
            return True

    def _stale(self, seconds: float) -> bool:
        return self._loaded_at is None or self._monotonic() - self._loaded_at >= seconds

    async def _read(self) -> None:
        records = await self._store.list_signing_keys()
        self._keys = {
            record.kid: self._keys.get(record.kid) or _load(record)
            for record in records
            if record.retired_at is None
        }
        self._loaded_at = self._monotonic()

    async def _add_key(self) -> str:
        private_key = ec.generate_private_key(ec.SECP256R1())
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        record = SigningKeyRecord(
            kid=secrets.token_urlsafe(12), algorithm=ALGORITHM, private_pem=pem, created_at=self._clock()
        )
        await self._store.add_signing_key(record)
        await self._read()
        return record.kid
