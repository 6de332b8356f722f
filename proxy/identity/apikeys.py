"""API keys: long random secrets shown once, kept only as a peppered hash (see `hashing`).

The hash is the lookup index, so no separate constant-time compare is needed: finding a record by the
keyed hash of a 256-bit secret leaks nothing an attacker could build on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from proxy.caching import ExpiringMemo
from proxy.identity.credentials import CredentialError
from proxy.identity.hashing import Fingerprinter, KeyedHasher, check_pepper
from proxy.identity.lifetimes import check_ttl_hours, expires_at
from proxy.identity.scopes import check_scopes
from proxy.stores.base import Store
from proxy.stores.records import ApiKeyRecord

__all__ = ["API_KEY_PREFIX", "IssuedKey", "KeyService", "looks_like_api_key"]

API_KEY_PREFIX = "wpmcp_"
_SECRET_BYTES = 32  # 256 bits
# token_urlsafe(32): 43 characters of the URL-safe base64 alphabet, padding already stripped.
_API_KEY = re.compile(re.escape(API_KEY_PREFIX) + r"[A-Za-z0-9_-]{43}")


def looks_like_api_key(value: str) -> bool:
    """True when `value` has the shape of one of our keys (so a bearer token can be routed to us)."""
    return value.startswith(API_KEY_PREFIX)


def _check_shape(raw: str) -> None:
    if not _API_KEY.fullmatch(raw):
        raise CredentialError("malformed")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: `raw` is shown to the operator once and never stored."""

    raw: str
    record: ApiKeyRecord


class KeyService:
    """Issue, check, list and revoke API keys.

    Last-used times are kept in memory and written by `flush_last_used()` (call it from a background task
    every N seconds): `last_used_at` is therefore coarse, late by up to N seconds and lost for the last N
    seconds on a crash. That is the price of never writing to the store on the request path.
    """

    def __init__(
        self,
        store: Store,
        *,
        pepper: bytes,
        default_ttl_hours: int,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = 0.0,
        cache_size: int = 10_000,
    ) -> None:
        self._store = store
        # Bound methods: CPython reaches an instance's __call__ through a slower, generic path.
        self._hash = KeyedHasher(check_pepper(pepper)).hexdigest
        self._default_ttl = check_ttl_hours(default_ttl_hours, what="default_ttl_hours")
        self._clock = clock
        self._last_used: dict[str, float] = {}
        # Lookups (None: unknown) are remembered for `cache_seconds` by the key's fingerprint, so an
        # authenticated request costs no store round trip and no HMAC; a revocation made elsewhere
        # (another replica, the CLI) is therefore seen within that time. Revocations made through this
        # service clear the cache at once.
        self._lookups: ExpiringMemo[bytes, ApiKeyRecord | None] | None = (
            ExpiringMemo(maxsize=cache_size, ttl=cache_seconds, timer=time.monotonic)
            if cache_seconds > 0
            else None
        )
        self._fingerprint = Fingerprinter().digest
        self._flights: dict[bytes, asyncio.Task[ApiKeyRecord | None]] = {}
        self._generation = 0  # bumped by every revocation made here

    async def issue(
        self,
        site: str,
        wp_user: str,
        *,
        label: str,
        scopes: Iterable[str],
        profile: str | None = None,
        ttl_hours: int | None = None,
    ) -> IssuedKey:
        """Create a key; `ttl_hours` None takes the default, 0 means it never expires."""
        ttl = self._default_ttl if ttl_hours is None else check_ttl_hours(ttl_hours, what="ttl_hours")
        if not site or not wp_user:
            raise ValueError("an API key needs a site and a WordPress user")
        raw = API_KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
        now = self._clock()
        record = ApiKeyRecord(
            id="key_" + secrets.token_hex(8),
            site=site,
            key_hash=self._hash(raw),
            label=label,
            wp_user=wp_user,
            scopes=check_scopes(scopes),
            profile=profile,
            created_at=now,
            expires_at=expires_at(now, ttl),
        )
        await self._store.add_key(record)
        return IssuedKey(raw, record)

    async def authenticate(self, raw: str) -> ApiKeyRecord:
        """The live key `raw` stands for; CredentialError (reason malformed/unknown/revoked/expired) if none.

        A value without our key's shape is refused before any store read.
        """
        record = await self._lookup(raw)
        if record is None:
            raise CredentialError("unknown")
        if record.revoked_at is not None:
            raise CredentialError("revoked")
        now = self._clock()
        if record.expires_at is not None and now >= record.expires_at:
            raise CredentialError("expired")
        self._last_used[record.id] = now
        return record

    async def _lookup(self, raw: str) -> ApiKeyRecord | None:
        """The record of key `raw`: remembered, and read once however many requests ask at the same time
        (each expiry of a busy key's entry would otherwise send every request in flight to the store)."""
        if self._lookups is None:
            _check_shape(raw)
            return await self._store.key_by_hash(self._hash(raw))
        fingerprint = self._fingerprint(raw)
        try:
            return self._lookups[fingerprint]  # only values of a key's shape are remembered
        except KeyError:
            pass
        _check_shape(raw)  # refused before anything is remembered or read
        flight = self._flights.get(fingerprint)
        if flight is None:
            flight = asyncio.create_task(self._read(raw, fingerprint, self._generation))
            self._flights[fingerprint] = flight
            flight.add_done_callback(partial(self._landed, fingerprint))
        # shield: a caller that goes away must not cancel the read the others wait for
        return await asyncio.shield(flight)

    async def _read(self, raw: str, fingerprint: bytes, generation: int) -> ApiKeyRecord | None:
        record = await self._store.key_by_hash(self._hash(raw))
        if self._lookups is not None and generation == self._generation:
            # not when a revocation came in meanwhile: the record read may predate it
            self._lookups[fingerprint] = record
        return record

    def _landed(self, fingerprint: bytes, flight: asyncio.Task[ApiKeyRecord | None]) -> None:
        if self._flights.get(fingerprint) is flight:
            del self._flights[fingerprint]
        if not flight.cancelled():
            flight.exception()  # retrieved here too: no "never retrieved" warning when every caller left

    async def list(self, site: str) -> list[ApiKeyRecord]:
        """Every key of the site, with last-used times not yet flushed folded in."""
        return [self._fresh(record) for record in await self._store.list_keys(site)]

    async def revoke(self, key_id: str) -> bool:
        revoked = await self._store.revoke_key(key_id, self._clock())
        self._forget()
        return revoked

    async def revoke_all(self, site: str) -> int:
        count = await self._store.revoke_site_keys(site, self._clock())
        self._forget()
        return count

    def _forget(self) -> None:
        if self._lookups is not None:
            self._lookups.clear()
        self._generation += 1
        self._flights.clear()  # reads in flight may predate the revocation: later callers read again

    async def flush_last_used(self) -> int:
        """Write pending last-used times in one store call; returns how many keys it wrote.

        On a store failure the times are kept for the next flush and the error propagates.
        """
        pending, self._last_used = self._last_used, {}
        if not pending:
            return 0
        try:
            await self._store.touch_keys(pending)
        except BaseException:
            for key_id, at in pending.items():
                self._last_used[key_id] = max(at, self._last_used.get(key_id, at))
            raise
        return len(pending)

    def _fresh(self, record: ApiKeyRecord) -> ApiKeyRecord:
        pending = self._last_used.get(record.id)
        if pending is None or (record.last_used_at is not None and record.last_used_at >= pending):
            return record
        return dataclasses.replace(record, last_used_at=pending)
