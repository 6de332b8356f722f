"""The WordPress application password a principal acts with upstream.

Two sources. Operator-configured users (`sites.<site>.users`) serve API keys, client-credentials clients
and anonymous access. A WordPress user who authorized an OAuth client at /oauth/authorize got a new
application password of their own for that client, created by WordPress at consent; it is kept here,
encrypted, one per (site, client, login). For such a user (an `oauth_user` principal) that password comes
first: when they revoke it in their WordPress profile, that client is cut off, whatever the operator
configured. Keeping one per client rather than one per user gives each client its own entry, named after
it, in the user's list of application passwords.

Stored passwords are sealed with AES-GCM under `secrets.credential_keys` (the first seals, all open), with
the site, client and login as associated data, so a ciphertext copied to another entry does not open.
Entries live as long as an unused refresh token (`refresh_token_ttl_hours`), extended as they are used.
Reads are cached for `cache_seconds` (a replaced password reaches other replicas within that time).

Entries are stored under a hash, so a per-site index (client and login of each entry, no secret) lets
the operator's `tokens revoke-all` and `clients remove` find and forget them. The index is kept best
effort: two replicas adding to one site's index at the same instant may lose an entry. Such an entry is
only left unrevoked at WordPress; it is never used again once its tokens are dead, as a new approval
replaces it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from proxy.caching import ExpiringMemo, cached
from proxy.identity.hashing import handle_hash
from proxy.identity.principal import Principal
from proxy.stores.base import Store

if TYPE_CHECKING:
    from proxy.config import Config
    from proxy.runtime import SiteRuntime

__all__ = [
    "CREDENTIAL_KIND",
    "INDEX_KIND",
    "CredentialCipher",
    "StoredCredential",
    "UpstreamCredentials",
    "credential_keys",
]

CREDENTIAL_KIND = "upstream_credential"
INDEX_KIND = "upstream_credential_index"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_DERIVATION_INFO = b"wp-mcp-sidecar/upstream-credentials/v1"
_UNSET: Any = object()


def credential_keys(configured: Sequence[str], session_keys: Sequence[str]) -> list[bytes]:
    """The sealing keys: `secrets.credential_keys`, else one derived (HKDF-SHA-256) from each session key,
    so the two uses never share a key."""
    if configured:
        return [base64.b64decode(key) for key in configured]
    return [
        HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=None, info=_DERIVATION_INFO).derive(
            base64.b64decode(key)
        )
        for key in session_keys
    ]


class CredentialCipher:
    """AES-GCM with key rotation: seals with the first key, opens with any."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys or any(len(key) != _KEY_BYTES for key in keys):
            raise ValueError(f"credential keys must be one or more keys of {_KEY_BYTES} bytes")
        self._sealer = AESGCM(keys[0])
        self._openers = tuple(AESGCM(key) for key in keys)

    def seal(self, secret: str, associated: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._sealer.encrypt(nonce, secret.encode(), associated)
        return base64.urlsafe_b64encode(sealed).decode("ascii")

    def open(self, sealed: str, associated: bytes) -> str | None:
        """The secret, or None when no key opens it (rotated away, tampered with, moved)."""
        try:
            raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
        except (binascii.Error, ValueError):
            return None
        nonce, ciphertext = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        for opener in self._openers:
            try:
                return opener.decrypt(nonce, ciphertext, associated).decode()
            except (InvalidTag, ValueError):
                continue
        return None


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """An application password a WordPress user granted to one client; `uuid` is WordPress's id for it."""

    login: str
    password: str
    uuid: str | None


def _identity(site: str, client_id: str, login: str) -> str:
    # JSON keeps the fields apart whatever characters they hold.
    return json.dumps(["wpmcp-upstream-credential-v1", site, client_id, login])


def _index_handle(site: str) -> str:
    return handle_hash(json.dumps(["wpmcp-upstream-credential-index-v1", site]))


class UpstreamCredentials:
    def __init__(
        self,
        store: Store,
        *,
        keys: Sequence[bytes],
        lifetime_seconds: float,
        cache_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._cipher = CredentialCipher(keys)
        self._lifetime = lifetime_seconds
        self._clock = clock
        self._cache: ExpiringMemo[str, StoredCredential | None] = ExpiringMemo(
            maxsize=10000, ttl=cache_seconds, timer=clock
        )

    @classmethod
    def for_config(cls, store: Store, config: Config) -> UpstreamCredentials:
        """Built from the config, the same way for the server and the CLI."""
        return cls(
            store,
            keys=credential_keys(config.secrets.credential_keys, config.secrets.session_keys),
            lifetime_seconds=config.identity.refresh_token_ttl_hours * 3600,
            cache_seconds=config.identity.revocation_cache_seconds,
        )

    async def get(self, site: SiteRuntime, principal: Principal) -> str | None:
        """The password to send upstream as `principal.wp_user`, None when there is none."""
        login = principal.wp_user
        if login is None:
            return None
        if principal.kind == "oauth_user":
            stored = await self.stored(site.name, principal.id, login)
            if stored is not None:
                return stored.password
        user = site.settings.users.get(login)
        return None if user is None else user.app_password

    async def stored(self, site: str, client_id: str, login: str) -> StoredCredential | None:
        """The password `login` granted `client_id` on `site` (cached), None when none is kept."""
        identity = _identity(site, client_id, login)
        known = cached(self._cache, identity, _UNSET)
        if known is not _UNSET:
            return known
        data = await self._store.get_grant(CREDENTIAL_KIND, handle_hash(identity))
        credential = None
        if data is not None:
            password = self._cipher.open(data["sealed"], identity.encode())
            if password is not None:
                credential = StoredCredential(login, password, data.get("uuid"))
                if data["expires_at"] - self._clock() < self._lifetime / 2:
                    # in use: it lives on as a refresh token would
                    await self._put(site, client_id, login, data)
        self._cache[identity] = credential
        return credential

    async def remember(
        self, *, site: str, client_id: str, login: str, password: str, uuid: str | None
    ) -> StoredCredential | None:
        """Keep a newly granted password, replacing any earlier one of the same entry (returned, so the
        caller can revoke it at WordPress)."""
        identity = _identity(site, client_id, login)
        replaced = await self.stored(site, client_id, login)
        data = {"sealed": self._cipher.seal(password, identity.encode()), "uuid": uuid}
        await self._put(site, client_id, login, data)
        self._cache[identity] = StoredCredential(login, password, uuid)
        return replaced

    async def granted(self, site: str, client_id: str | None = None) -> list[tuple[str, str]]:
        """(client id, login) of the entries kept for `site` (of one client when given), per the index."""
        index = await self._store.get_grant(INDEX_KIND, _index_handle(site))
        now = self._clock()
        return [
            (entry_client, login)
            for entry_client, login, expires_at in (index or {}).get("entries", [])
            if expires_at > now and client_id in (None, entry_client)
        ]

    async def forget(self, site: str, client_id: str, login: str) -> StoredCredential | None:
        """Delete an entry; the password it held (to revoke at WordPress), None when none was kept.

        Other replicas may use a cached copy for up to `cache_seconds` more."""
        identity = _identity(site, client_id, login)
        data = await self._store.take_grant(CREDENTIAL_KIND, handle_hash(identity))
        self._cache.pop(identity, None)
        await self._update_index(site, client_id, login, None)
        if data is None:
            return None
        password = self._cipher.open(data["sealed"], identity.encode())
        return None if password is None else StoredCredential(login, password, data.get("uuid"))

    async def _put(self, site: str, client_id: str, login: str, data: dict[str, Any]) -> None:
        expires_at = self._clock() + self._lifetime
        identity = handle_hash(_identity(site, client_id, login))
        await self._store.put_grant(CREDENTIAL_KIND, identity, {**data, "expires_at": expires_at}, expires_at)
        await self._update_index(site, client_id, login, expires_at)

    async def _update_index(self, site: str, client_id: str, login: str, expires_at: float | None) -> None:
        """Record when an entry expires (None: it is gone), dropping entries expired since."""
        handle = _index_handle(site)
        index = await self._store.get_grant(INDEX_KIND, handle)
        now = self._clock()
        entries = [
            entry
            for entry in (index or {}).get("entries", [])
            if entry[2] > now and (entry[0], entry[1]) != (client_id, login)
        ]
        if expires_at is not None:
            entries.append([client_id, login, expires_at])
        if not entries:
            if index is not None:
                await self._store.take_grant(INDEX_KIND, handle)
            return
        await self._store.put_grant(
            INDEX_KIND, handle, {"entries": entries}, max(entry[2] for entry in entries)
        )
